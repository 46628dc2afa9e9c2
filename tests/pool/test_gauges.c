/* Per-kind gauges (issue 13): live memories and tables, warm stacks, and
 * the bytes kept resident in unused slots by kind, summing to
 * kept_resident_bytes; plus the stack pool's kernel mappings. */
#include <stdio.h>

#include "fixture.h"

static void expect_sum(wpool_stats_t s) {
  cr_assert_eq(s.kept_resident_bytes, s.memory_kept_resident_bytes + s.table_kept_resident_bytes +
                                          s.state_kept_resident_bytes + s.stack_kept_resident_bytes);
}

Test(gauges, live_memories_and_tables_follow_the_modules) {
  wpool_config_t c = small_config();
  c.instance_memories = 2;
  c.instance_tables = 3;
  wpool_t *p = make_pool(&c);
  wpool_memory_desc_t mems[2] = {{.min_pages = 1, .max_pages = 2}, {.min_pages = 1, .max_pages = 2}};
  wpool_table_desc_t tabs[3] = {{4, 8}, {4, 8}, {4, 8}};
  wpool_module_desc_t two = {.memories = mems, .nmemories = 2, .tables = tabs, .ntables = 3};
  wpool_module_desc_t one = {.memories = mems, .nmemories = 1, .tables = tabs, .ntables = 1};
  wpool_module_t *m2, *m1;
  cr_assert_eq(wpool_module_new(p, &two, &m2), 0);
  cr_assert_eq(wpool_module_new(p, &one, &m1), 0);
  wpool_instance_t *a = make_instance(p, m2), *b = make_instance(p, m1), *d = make_instance(p, m2);
  cr_assert_eq(stats(p).memories_live, 5);
  cr_assert_eq(stats(p).tables_live, 7);
  wpool_instance_free(a);
  cr_assert_eq(stats(p).memories_live, 3);
  cr_assert_eq(stats(p).tables_live, 4);
  wpool_instance_free(b);
  wpool_instance_free(d);
  cr_assert_eq(stats(p).memories_live, 0);
  cr_assert_eq(stats(p).tables_live, 0);
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(gauges, kept_bytes_by_kind_sum_to_the_total) {
  wpool_config_t c = small_config();
  c.linear_memory_keep_resident = 64 * KiB;
  c.table_keep_resident = 8 * KiB;
  c.async_stack_zeroing = true;
  c.async_stack_keep_resident = 16 * KiB;
  c.reset_strategy = WPOOL_RESET_PREFIX; /* kept bytes are the budgets, whatever was touched */
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 2, 2, 300); /* table: 16 elements = 128 bytes -> one page */
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in = make_instance(p, m);
  wpool_stack_t *s;
  cr_assert_eq(wpool_stack_new(p, &s), 0);
  expect_sum(stats(p));
  cr_assert_eq(stats(p).kept_resident_bytes, 0);
  wpool_instance_free(in);
  wpool_stack_free(s);
  wpool_stats_t st = stats(p);
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  cr_assert_eq(st.memory_kept_resident_bytes, 64 * KiB);
  cr_assert_eq(st.table_kept_resident_bytes, page);
  cr_assert_eq(st.state_kept_resident_bytes, 300);
  cr_assert_eq(st.stack_kept_resident_bytes, 16 * KiB);
  cr_assert_eq(st.stacks_warm, 1);
  expect_sum(st);
  in = make_instance(p, m); /* takes the slot and its kept bytes */
  cr_assert_eq(wpool_stack_new(p, &s), 0);
  st = stats(p);
  cr_assert_eq(st.kept_resident_bytes, 0);
  cr_assert_eq(st.stacks_warm, 0);
  expect_sum(st);
  wpool_instance_free(in);
  wpool_stack_free(s);
  cr_assert_eq(wpool_trim(p, 0), 1);
  st = stats(p);
  cr_assert_eq(st.memory_kept_resident_bytes + st.table_kept_resident_bytes +
                   st.state_kept_resident_bytes, 0, "trimmed");
  expect_sum(st);
  cr_assert_eq(wpool_destroy(p), 0);
}

/* Kernel mappings overlapping [lo, hi). */
static int mappings_in(uintptr_t lo, uintptr_t hi) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int n = 0;
  while (f && fgets(line, sizeof(line), f)) {
    unsigned long a, b;
    if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo) n++;
  }
  if (f) fclose(f);
  return n;
}

Test(gauges, stack_guards_take_no_mappings_where_the_kernel_has_guard_markers) {
  wpool_config_t c = small_config();
  c.stack_count = 200;
  wpool_t *p = make_pool(&c);
  wpool_stack_t *lo, *s;
  cr_assert_eq(wpool_stack_new(p, &lo), 0); /* stack 0: the lowest */
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = (uintptr_t)wpool_stack_top(lo) - wpool_stack_size(lo) - page;
  uintptr_t end = start + 200 * (wpool_stack_size(lo) + page);
  int n = mappings_in(start, end);
  if (n <= 3) {
    cr_log_info("stack pool: %d mappings for 200 stacks (MADV_GUARD_INSTALL)", n);
  } else {
    cr_assert_eq(n, 400, "without guard markers: a guard and a stack each");
  }
  /* The guards fault all the same. */
  for (int i = 1; i < 200; i += 66) {
    wpool_stack_t *x[66];
    int k = 0;
    while (k < 66 && wpool_stack_new(p, &x[k]) == 0) k++;
    s = x[k - 1];
    cr_assert_eq(write_at((uint8_t *)wpool_stack_top(s) - wpool_stack_size(s) - 1), WRITE_FAULTS);
    cr_assert_eq(write_at((uint8_t *)wpool_stack_top(s) - wpool_stack_size(s)), WRITE_OK);
    for (int j = 0; j < k; j++) wpool_stack_free(x[j]);
  }
  wpool_stack_free(lo);
  cr_assert_eq(wpool_destroy(p), 0);
}
