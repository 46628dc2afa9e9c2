/* The ABI promise of wpool.h: the config and stats structs grow only at
 * their end; the caller's size travels with them. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

#include "fixture.h"

Test(abi, config_init_records_the_callers_size) {
  wpool_config_t c;
  memset(&c, 0xff, sizeof(c));
  wpool_config_init(&c);
  cr_assert_eq(c.size, sizeof(wpool_config_t));
  cr_assert_eq(c.instance_count, 1000);
  wpool_config_t d;
  (wpool_config_init)(&d); /* the function, as other languages call it */
  cr_assert_eq(memcmp(&c, &d, sizeof(c)), 0);
}

/* A caller built against a newer header: its struct is longer. */
typedef struct newer_config {
  wpool_config_t known;
  uint64_t future[4];
} newer_config_t;

Test(abi, a_longer_config_is_accepted_while_its_unknown_fields_are_zero) {
  newer_config_t n;
  memset(&n, 0xff, sizeof(n));
  wpool_config_init_sized(&n.known, sizeof(n));
  cr_assert_eq(n.known.size, sizeof(n));
  for (int i = 0; i < 4; i++) cr_assert_eq(n.future[i], 0, "unknown fields are zeroed");
  wpool_config_t small = small_config();
  memcpy(&n.known, &small, sizeof(small));
  n.known.size = sizeof(n);
  wpool_t *p;
  cr_assert_eq(wpool_create(&n.known, &p), 0, "%s", wpool_last_error());
  cr_assert_eq(wpool_destroy(p), 0);
  n.future[2] = 1;
  cr_assert_eq(wpool_create(&n.known, &p), WPOOL_EINVAL);
  cr_assert(strstr(wpool_last_error(), "size:"), "%s", wpool_last_error());
}

Test(abi, a_config_shorter_than_any_version_is_refused) {
  wpool_config_t c = small_config();
  c.size = 8;
  wpool_t *p;
  cr_assert_eq(wpool_create(&c, &p), WPOOL_EINVAL);
  cr_assert(strstr(wpool_last_error(), "size: 8 bytes"), "%s", wpool_last_error());
}

Test(abi, a_config_filled_by_hand_without_a_size_means_this_header) {
  wpool_config_t c = small_config();
  c.size = 0;
  wpool_t *p;
  cr_assert_eq(wpool_create(&c, &p), 0, "%s", wpool_last_error());
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(abi, a_shorter_config_gets_the_defaults_for_what_it_lacks) {
  /* A caller whose struct ends right after background_wait_ms (the first
   * published struct): every later field takes its default. */
  size_t first = offsetof(wpool_config_t, background_wait_ms) + sizeof(uint32_t);
  wpool_config_t c;
  memset(&c, 0xee, sizeof(c)); /* what lies past the caller's struct */
  wpool_config_t small = small_config();
  memcpy(&c, &small, first);
  c.size = (uint32_t)first;
  wpool_t *p;
  cr_assert_eq(wpool_create(&c, &p), 0, "%s", wpool_last_error());
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(abi, stats_fill_only_the_callers_bytes) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  struct {
    wpool_stats_t s;
    uint8_t canary[64];
  } out;
  memset(&out, 0xcd, sizeof(out));
  size_t half = offsetof(wpool_stats_t, cold_slots);
  wpool_stats_get_sized(p, &out.s, half);
  cr_assert_eq(out.s.live_instances, 0);
  cr_assert_eq(out.s.warm_slots, 0);
  const uint8_t *rest = (const uint8_t *)&out.s + half;
  for (size_t i = 0; i < sizeof(out) - half; i++) cr_assert_eq(rest[i], 0xcd, "byte %zu", i);
  wpool_stats_get_sized(p, &out.s, sizeof(out));
  cr_assert_eq(out.s.cold_slots, 4);
  for (size_t i = 0; i < sizeof(out.canary); i++) cr_assert_eq(out.canary[i], 0, "past ours: zero");
  wpool_stats_t a, b;
  wpool_stats_get(p, &a);
  (wpool_stats_get)(p, &b);
  cr_assert_eq(a.cold_slots, b.cold_slots);
  cr_assert_eq(a.reserved_bytes, b.reserved_bytes);
  cr_assert_eq(wpool_destroy(p), 0);
}
