/* The PoolingAllocationConfig: defaults as documented, and each invalid
 * value refused with WPOOL_EINVAL naming the field and the value. */
#include "fixture.h"

Test(config, defaults_match_the_contract) {
  wpool_config_t c;
  wpool_config_init(&c);
  cr_expect_eq(c.instance_count, 1000);
  cr_expect_eq(c.instance_size, 1 * MiB);
  cr_expect_eq(c.max_unused_warm_slots, 100);
  cr_expect_eq(c.instance_memories, 1);
  cr_expect_eq(c.instance_memory_pages, 160);
  cr_expect_eq(c.memory_reservation, 4096 * MiB);
  cr_expect_eq(c.memory_guard_size, 2048 * MiB);
  cr_expect(c.guard_before_linear_memory);
  /* Issue 14 changed these two defaults from 0 (Wasmtime's) to the
   * automatic keep set: defaults that lose to a hand-set value are a bug. */
  cr_expect_eq(c.linear_memory_keep_resident, WPOOL_KEEP_AUTO);
  cr_expect_eq(c.instance_tables, 1);
  cr_expect_eq(c.instance_table_elements, 10000);
  cr_expect_eq(c.table_keep_resident, WPOOL_KEEP_AUTO);
  cr_expect_eq(c.memory_unchecked_reach, 0);
  cr_expect_eq(c.table_element_size, sizeof(void *));
  cr_expect_eq(c.stack_count, 1000);
  cr_expect_eq(c.async_stack_size, 2 * MiB);
  cr_expect_not(c.async_stack_zeroing);
  cr_expect_eq(c.async_stack_keep_resident, 0);
}

Test(config, the_default_config_creates_and_destroys) {
  wpool_config_t c;
  wpool_config_init(&c);
  wpool_t *p = make_pool(&c);
  wpool_stats_t s;
  wpool_stats_get(p, &s);
  /* 1000 * (4 GiB + 2 GiB) + 2 GiB of memories, plus tables, state, stacks. */
  cr_expect_geq(s.reserved_bytes, 1000ull * 6144 * MiB + 2048 * MiB);
  cr_expect_eq(s.cold_slots, 1000);
  cr_assert_eq(wpool_destroy(p), 0);
}

static void expect_invalid(const wpool_config_t *c, const char *msg) {
  wpool_t *p = (wpool_t *)0x1;
  int err = wpool_create(c, &p);
  cr_assert_eq(err, WPOOL_EINVAL, "expected WPOOL_EINVAL, got %d (%s)", err, wpool_last_error());
  cr_assert_null(p, "out is cleared on failure");
  cr_assert_not_null(strstr(wpool_last_error(), msg), "message '%s' lacks '%s'",
                     wpool_last_error(), msg);
}

Test(config, zero_instances_is_invalid) {
  wpool_config_t c = small_config();
  c.instance_count = 0;
  expect_invalid(&c, "instance_count: must be at least 1 (got 0)");
}

Test(config, reservation_smaller_than_the_page_limit_is_invalid) {
  wpool_config_t c = small_config();
  c.instance_memory_pages = 17; /* 17 * 64 KiB > 1 MiB */
  expect_invalid(&c, "memory_reservation: 1048576 bytes is smaller than instance_memory_pages (17)");
}

Test(config, page_limit_that_overflows_is_invalid) {
  wpool_config_t c = small_config();
  c.instance_memory_pages = UINT64_MAX / 1000;
  expect_invalid(&c, "instance_memory_pages: 18446744073709551 is too large");
}

Test(config, reservation_that_overflows_when_rounded_is_invalid) {
  wpool_config_t c = small_config();
  c.memory_reservation = UINT64_MAX;
  expect_invalid(&c, "memory_reservation: 18446744073709551615 is too large");
}

Test(config, more_address_space_than_the_host_has_is_invalid) {
  wpool_config_t c;
  wpool_config_init(&c);
  c.instance_count = 100000; /* 100000 * 6 GiB = 586 TiB */
  expect_invalid(&c, "more than this host allows");
  cr_assert_not_null(strstr(wpool_last_error(), "instance_count: 100000 instances need"));
}

Test(config, stacks_without_a_size_are_invalid) {
  wpool_config_t c = small_config();
  c.async_stack_size = 0;
  expect_invalid(&c, "async_stack_size: must be at least 1 byte when stack_count (4) > 0");
}

Test(config, memory_slots_without_address_space_are_invalid) {
  wpool_config_t c = small_config();
  c.instance_memory_pages = 0;
  c.memory_reservation = 0;
  c.memory_guard_size = 0;
  expect_invalid(&c, "memory_reservation: 0 bytes with memory_guard_size 0");
}

Test(config, table_elements_and_state_that_overflow_are_invalid) {
  wpool_config_t c = small_config();
  c.instance_size = SIZE_MAX;
  expect_invalid(&c, "instance_size: 18446744073709551615 is too large");
}

Test(config, null_arguments_are_invalid) {
  wpool_t *p;
  cr_assert_eq(wpool_create(NULL, &p), WPOOL_EINVAL);
  wpool_config_t c = small_config();
  cr_assert_eq(wpool_create(&c, NULL), WPOOL_EINVAL);
}

Test(config, strerror_names_every_code) {
  int codes[] = {WPOOL_EINVAL, WPOOL_ELIMIT, WPOOL_EEXHAUSTED, WPOOL_ENOMEM,
                 WPOOL_EBUSY, WPOOL_ENOTSUP, WPOOL_ESYS};
  const char *names[] = {"WPOOL_EINVAL", "WPOOL_ELIMIT", "WPOOL_EEXHAUSTED", "WPOOL_ENOMEM",
                         "WPOOL_EBUSY", "WPOOL_ENOTSUP", "WPOOL_ESYS"};
  for (int i = 0; i < 7; i++) {
    cr_assert_lt(codes[i], 0);
    cr_assert_not_null(strstr(wpool_strerror(codes[i]), names[i]));
  }
  cr_assert_str_eq(wpool_strerror(-99), "unknown error");
}

/* ---- the options table (util/options.h) ------------------------------ */

#include "util/options.h"

/* Each test runs in a process of its own: the table is read once there. */
Test(config, an_option_is_read_from_its_environment_variable_once) {
  setenv("WPOOL_KEEP_WINDOW", "7", 1);
  setenv("WPOOL_KEEP_DROP_MIN", "1000", 1); /* above its range: its maximum */
  setenv("WPOOL_KEEP_SHRINK_NS", "12x", 1); /* not a number: unset */
  cr_assert_eq(option_get(OPTION_KEEP_WINDOW), 7);
  cr_assert_eq(option_get(OPTION_KEEP_DROP_MIN), option_desc(OPTION_KEEP_DROP_MIN)->max);
  cr_assert_eq(option_get(OPTION_KEEP_SHRINK_NS), 0);
  setenv("WPOOL_KEEP_WINDOW", "9", 1); /* too late: read once */
  cr_assert_eq(option_get(OPTION_KEEP_WINDOW), 7);
}

Test(config, options_that_are_empty_zero_or_negative_are_unset) {
  setenv("WPOOL_KEEP_WINDOW", "", 1);
  setenv("WPOOL_KEEP_DROP_MIN", "0", 1);
  setenv("WPOOL_KEEP_SHRINK_NS", "-5", 1);
  for (int o = 0; o < OPTION_COUNT; o++) cr_assert_eq(option_get((option_t)o), 0, "option %d", o);
}

/* Pinned options show in the statistics, as the library's own choices do. */
Test(config, pinned_options_show_in_the_statistics) {
  setenv("WPOOL_KEEP_WINDOW", "7", 1);
  setenv("WPOOL_KEEP_DROP_MIN", "3", 1);
  setenv("WPOOL_KEEP_SHRINK_NS", "12345", 1);
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  wpool_stats_t s = stats(p);
  if (s.reset_strategy != WPOOL_RESET_DIRTY) cr_skip_test("no PAGEMAP_SCAN: no keep statistics");
  cr_expect_eq(s.keep_window, 7);
  cr_expect_eq(s.keep_drop_min, 3);
  cr_expect_eq(s.keep_shrink_ns, 12345);
  cr_assert_eq(wpool_destroy(p), 0);
}

/* docs/config.md lists every option of the table, by its variable. */
Test(config, every_option_is_documented) {
  const char *root = getenv("WPOOL_SOURCE_ROOT");
  cr_assert_not_null(root, "WPOOL_SOURCE_ROOT is not set (run under meson test)");
  char path[4096];
  snprintf(path, sizeof(path), "%s/docs/config.md", root);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s", path);
  static char text[1 << 17];
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  text[n] = 0;
  fclose(f);
  for (int o = 0; o < OPTION_COUNT; o++) {
    char row[128];
    snprintf(row, sizeof(row), "| `%s` |", option_desc((option_t)o)->env);
    cr_expect_not_null(strstr(text, row), "docs/config.md has no row for %s",
                       option_desc((option_t)o)->env);
  }
}
