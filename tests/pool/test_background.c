/* The background reset worker (background_reset): free returns after
 * queuing, slots come back pristine, a full pool waits for the worker,
 * release and destroy see nothing left behind. */
#include <sched.h>

#include "fixture.h"
#include "pool/recycle.h"

#if WPOOL_HAVE_UV
static wpool_stats_t stats(wpool_t *p) {
  wpool_stats_t s;
  wpool_stats_get(p, &s);
  return s;
}

static const char img[] = "background image";

static wpool_t *bg_pool(uint32_t slots, test_module_t *t, wpool_module_t **m) {
  wpool_config_t c = small_config();
  c.instance_count = slots;
  c.background_reset = true;
  c.background_wait_ms = 5000;
  wpool_t *p = make_pool(&c);
  tm_init(t, 2, 2, 256);
  tm_segment(t, 100, img, sizeof(img));
  *m = make_module(p, t);
  return p;
}

static wpool_instance_t *checked_instance(wpool_t *p, wpool_module_t *m) {
  wpool_instance_t *in = make_instance(p, m);
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert(all_bytes(b, 100, 0));
  cr_assert_str_eq((char *)b + 100, img);
  cr_assert(all_bytes(b + 100 + sizeof(img), 2 * PAGE - 100 - sizeof(img), 0));
  cr_assert(all_bytes(wpool_instance_state(in), 256, 0));
  memset(b, 0xcd, 2 * PAGE);
  memset(wpool_instance_state(in), 0xcd, 256);
  return in;
}

Test(background, freed_slots_come_back_pristine_from_the_worker) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = bg_pool(3, &t, &m);
  for (int round = 0; round < 50; round++) {
    wpool_instance_t *in[3];
    for (int i = 0; i < 3; i++) in[i] = checked_instance(p, m); /* waits if need be */
    for (int i = 0; i < 3; i++) wpool_instance_free(in[i]);
  }
  for (int spin = 0; stats(p).background_pending && spin < 1000000; spin++) sched_yield();
  wpool_stats_t s = stats(p);
  cr_assert_eq(s.background_pending, 0);
  cr_assert_eq(s.live_instances, 0);
  cr_assert_eq(s.instances_created, 150);
  cr_assert_eq(s.warm_slots, 3);
}

Test(background, a_full_pool_waits_for_the_worker) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = bg_pool(1, &t, &m);
  for (int i = 0; i < 100; i++) wpool_instance_free(checked_instance(p, m));
  wpool_instance_t *a = checked_instance(p, m), *x;
  cr_assert_eq(wpool_instance_new(p, m, &x), WPOOL_EEXHAUSTED, "nothing pending: no wait");
  wpool_instance_free(a);
}

Test(background, a_full_pool_times_out_with_eexhausted_while_resets_are_pending) {
  wpool_config_t c = small_config();
  c.background_reset = true;
  c.background_wait_ms = 1000;
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  wpool_module_t *m = make_module(p, &t);
  recycle_pause(p, true); /* the worker holds every reset */
  wpool_instance_t *in[4], *x;
  for (int i = 0; i < 4; i++) in[i] = make_instance(p, m);
  for (int i = 0; i < 4; i++) wpool_instance_free(in[i]);
  cr_assert_eq(stats(p).background_pending, 4);
  cr_assert_eq(wpool_instance_new(p, m, &x), WPOOL_EEXHAUSTED, "waited 1 s, then gave up");
  cr_assert_str_eq(wpool_last_error(), "all 4 instance slots are in use (instance_count)");
  recycle_pause(p, false);
  x = make_instance(p, m); /* waits for the worker's round */
  wpool_instance_free(x);
  cr_assert_eq(wpool_destroy(p), 0, "%s", wpool_last_error());
}

Test(background, release_and_destroy_leave_nothing_behind) {
  test_module_t t;
  wpool_module_t *m;
  int maps0 = count_maps("memfd:wpool-image"), fds0 = count_fds(NULL);
  wpool_t *p = bg_pool(4, &t, &m);
  wpool_instance_t *in[4];
  for (int i = 0; i < 4; i++) in[i] = checked_instance(p, m);
  for (int i = 0; i < 4; i++) wpool_instance_free(in[i]);
  wpool_module_release(m);
  cr_assert_eq(wpool_destroy(p), 0, "%s", wpool_last_error());
  cr_assert_eq(count_maps("memfd:wpool-image"), maps0);
  cr_assert_eq(count_fds(NULL), fds0);
}
#else
Test(background, is_refused_without_libuv) {
  wpool_config_t c = small_config();
  c.background_reset = true;
  wpool_t *p;
  cr_assert_eq(wpool_create(&c, &p), WPOOL_ENOTSUP);
}
#endif
