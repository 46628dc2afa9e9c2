/* Idle trimming: resident memory of idle slots goes back to the kernel,
 * affinity, images and contents stay right. The clock is a parameter
 * (pool_trim_at), so the tests own it. */
#include <time.h>

#include "fixture.h"
#include "pool/trim.h"
#include "util/clock.h"

#define HP 4096u

/* Private bytes of an instance slot: its memory, table and state, counted
 * page by page (smaps counts per kernel mapping, and neighbouring pools'
 * mappings may merge). */
static uint64_t slot_rss(wpool_t *p, uint32_t slot) {
  int64_t m = dirty_count(&p->scanner, pool_memory_base(p, slot, 0), p->layout.mem_reservation);
  int64_t t = dirty_count(&p->scanner, (uint8_t *)pool_table_base(p, slot, 0),
                          p->layout.table_slot_size);
  int64_t s = dirty_count(&p->scanner, p->state_map + (uint64_t)slot * p->layout.state_slot_size,
                          p->layout.state_slot_size);
  cr_assert(m >= 0 && t >= 0 && s >= 0);
  return (uint64_t)(m + t + s);
}

static uint64_t pools_rss(wpool_t *p) {
  uint64_t n = 0;
  cr_assert_eq(wpool_resident_bytes(p, &n), 0, "%s", wpool_last_error());
  return n;
}

static uint8_t data[2 * HP + 10];

static wpool_t *setup(wpool_reset_strategy_t strategy, test_module_t *t, wpool_module_t **m) {
  wpool_config_t c = small_config();
  c.linear_memory_keep_resident = 1 * MiB;
  c.table_keep_resident = 64 * KiB;
  c.reset_strategy = strategy;
  wpool_t *p = make_pool(&c);
  memset(data, 0x3c, sizeof(data));
  tm_init(t, 16, 16, 1024);
  tm_segment(t, HP, data, sizeof(data));
  *m = make_module(p, t);
  return p;
}

static void use_and_free(wpool_t *p, wpool_module_t *m, uint32_t *slot) {
  wpool_instance_t *in = make_instance(p, m);
  memset(wpool_memory_base(in, 0), 0x77, 12 * HP); /* image pages too */
  memset(wpool_instance_state(in), 0x77, 1024);
  wpool_table_base(in, 0)[5] = in;
  *slot = wpool_instance_slot(in);
  wpool_instance_free(in);
}

Test(trim, an_idle_slot_gives_back_its_pages_and_keeps_its_affinity_and_image) {
  const wpool_reset_strategy_t strategies[] = {WPOOL_RESET_PREFIX, WPOOL_RESET_DIRTY};
  for (int k = 0; k < 2; k++) {
    test_module_t t;
    wpool_module_t *m;
    wpool_t *p = setup(strategies[k], &t, &m);
    uint32_t slot;
    use_and_free(p, m, &slot);
    uint64_t before = slot_rss(p, slot);
    cr_assert_gt(before, 0);
    cr_assert_gt(stats(p).kept_resident_bytes, 0);
    uint64_t now = clock_now_ns();
    cr_assert_eq(trim_at(p, now, 3600ull * 1000000000), 0, "not idle for an hour");
    cr_assert_eq(trim_at(p, now + 10000000000ull, 1000000000ull), 1);
    cr_assert_eq(slot_rss(p, slot), 0, "strategy %d: %llu bytes still resident",
                 (int)strategies[k], (unsigned long long)slot_rss(p, slot));
    wpool_stats_t s = stats(p);
    cr_assert_eq(s.kept_resident_bytes, 0);
    cr_assert_eq(s.slots_trimmed, 1);
    cr_assert_gt(s.trimmed_bytes, 0);
    cr_assert_eq(trim_at(p, now + 20000000000ull, 0), 0, "trimmed once per idle period");
    uint64_t maps = s.image_maps;
    wpool_instance_t *in = make_instance(p, m);
    cr_assert_eq(wpool_instance_slot(in), slot, "affinity kept");
    cr_assert_eq(stats(p).image_maps, maps, "image still mapped");
    uint8_t *b = wpool_memory_base(in, 0);
    cr_assert(all_bytes(b, HP, 0));
    cr_assert_eq(memcmp(b + HP, data, sizeof(data)), 0);
    cr_assert(all_bytes(b + HP + sizeof(data), 16 * PAGE - HP - sizeof(data), 0));
    cr_assert(all_bytes(wpool_instance_state(in), 1024, 0));
    cr_assert_null(wpool_table_base(in, 0)[5]);
    wpool_instance_free(in);
    cr_assert_eq(trim_at(p, clock_now_ns() + 10000000000ull, 1000000000ull), 1,
                 "idle again after its next use");
    wpool_module_release(m);
    cr_assert_eq(wpool_destroy(p), 0);
  }
}

Test(trim, only_slots_idle_longer_than_the_threshold_are_trimmed) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = setup(WPOOL_RESET_DIRTY, &t, &m);
  wpool_instance_t *a = make_instance(p, m), *b = make_instance(p, m);
  memset(wpool_memory_base(a, 0), 1, 4 * HP);
  memset(wpool_memory_base(b, 0), 1, 4 * HP);
  uint32_t sa = wpool_instance_slot(a), sb = wpool_instance_slot(b);
  wpool_instance_free(a);
  struct timespec ms = {0, 2000000};
  nanosleep(&ms, NULL);
  wpool_instance_free(b);
  uint64_t ta = p->instances[sa].freed_ns, tb = p->instances[sb].freed_ns;
  cr_assert_lt(ta, tb);
  /* Idle threshold between the two: only a is old enough. */
  cr_assert_eq(trim_at(p, tb, tb - ta - 1), 1);
  cr_assert_eq(slot_rss(p, sa), 0);
  cr_assert_gt(slot_rss(p, sb), 0);
}

Test(trim, after_trimming_the_pools_hold_within_5_percent_of_what_live_instances_need) {
  wpool_config_t c = small_config();
  c.instance_count = 12;
  c.linear_memory_keep_resident = 1 * MiB;
  c.table_keep_resident = 64 * KiB;
  wpool_t *p = make_pool(&c);
  test_module_t t[3];
  wpool_module_t *m[3];
  for (int i = 0; i < 3; i++) {
    tm_init(&t[i], 16, 16, 4096);
    tm_segment(&t[i], (uint64_t)i * HP, data, sizeof(data));
    m[i] = make_module(p, &t[i]);
  }
  wpool_instance_t *in[12];
  for (int i = 0; i < 12; i++) {
    in[i] = make_instance(p, m[i % 3]);
    memset(wpool_memory_base(in[i], 0), 0x11, (size_t)(i + 1) * 8 * HP);
    memset(wpool_instance_state(in[i]), 0x11, 4096);
  }
  for (int i = 2; i < 12; i++) wpool_instance_free(in[i]);
  uint64_t idle_before = pools_rss(p);
  cr_assert_eq(trim_at(p, clock_now_ns() + 1, 0), 10);
  uint64_t live = slot_rss(p, wpool_instance_slot(in[0])) + slot_rss(p, wpool_instance_slot(in[1]));
  uint64_t after = pools_rss(p);
  cr_log_info("pools resident: %llu before trim, %llu after, live instances %llu",
              (unsigned long long)idle_before, (unsigned long long)after,
              (unsigned long long)live);
  fprintf(stderr, "trim: pools resident %llu bytes before, %llu after; live instances %llu\n",
          (unsigned long long)idle_before, (unsigned long long)after, (unsigned long long)live);
  cr_assert_leq(after, live + live / 20, "pools %llu > live %llu + 5%%", (unsigned long long)after,
                (unsigned long long)live);
  cr_assert_gt(idle_before, 2 * after);
}

Test(trim, null_pool_is_einval) { cr_assert_eq(wpool_trim(NULL, 0), WPOOL_EINVAL); }

#if WPOOL_HAVE_UV
#include "wpool_uv.h"

static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }

Test(trim, a_libuv_timer_trims_idle_slots) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = setup(WPOOL_RESET_DIRTY, &t, &m);
  uint32_t slot;
  use_and_free(p, m, &slot);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  wpool_uv_trimmer_t *tr;
  cr_assert_eq(wpool_uv_trim_start(&loop, p, 5, 0, &tr), 0);
  uv_timer_t stop;
  uv_timer_init(&loop, &stop);
  uv_timer_start(&stop, stop_loop, 40, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(wpool_uv_trimmed(tr), 1, "the one idle slot, once");
  cr_assert_eq(slot_rss(p, slot), 0);
  wpool_uv_trim_stop(tr);
  uv_close((uv_handle_t *)&stop, NULL);
  uv_run(&loop, UV_RUN_DEFAULT); /* runs the close callbacks */
  cr_assert_eq(uv_loop_close(&loop), 0);
  wpool_uv_trimmer_t *bad;
  cr_assert_eq(wpool_uv_trim_start(&loop, p, 0, 0, &bad), WPOOL_EINVAL);
}
#endif
