/* The automatic keep set (issue 14), through the public API: pages a
 * module's tenants keep writing stay resident and take no fault; pages they
 * stopped writing are given back after the window; another module's tenant
 * gives the slot's pages back; trimming releases kept pages, those past a
 * shrink included. The window and the pages worth a call are pinned
 * (WPOOL_KEEP_WINDOW, WPOOL_KEEP_DROP_MIN) so the test does not depend on
 * this machine's costs, and so is the cost of a shrink
 * (WPOOL_KEEP_SHRINK_NS) but where the test is about learning it. A window of 1: a page is given back at its first
 * read (one free in KEEP_SAMPLE = 16) that finds it clean. */
#include <stdlib.h>
#include <sys/resource.h>

#include "fixture.h"
#include "memory/keep.h"

#define HP 4096u

static uint64_t resident(wpool_t *p) {
  uint64_t n;
  cr_assert_eq(wpool_resident_bytes(p, &n), 0, "%s", wpool_last_error());
  return n;
}

static long minor_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

/* One slot of a 16 MiB memory: a region far too large to be zeroed whole
 * instead of scanned (keep.h), whatever this machine's costs. */
/* One slot, a memory of up to 256 pages in 16 MiB, dirty-aware resets. */
static wpool_config_t one_slot_config(void) {
  wpool_config_t c = small_config();
  c.instance_count = 1;
  c.instance_memory_pages = 256;
  c.memory_reservation = 16 * MiB;
  c.reset_strategy = WPOOL_RESET_DIRTY;
  return c;
}

static wpool_t *auto_pool_batched(const char *window, const char *drop_min) {
  setenv("WPOOL_KEEP_WINDOW", window, 1);
  setenv("WPOOL_KEEP_DROP_MIN", drop_min, 1);
  /* A shrink as cheap as can be, so grown pages are kept, unless the test
   * set its own. */
  setenv("WPOOL_KEEP_SHRINK_NS", "1", 0);
  wpool_config_t c = one_slot_config();
  wpool_t *p;
  int err = wpool_create(&c, &p);
  if (err == WPOOL_ENOTSUP) cr_skip_test("no PAGEMAP_SCAN here");
  cr_assert_eq(err, 0, "%s", wpool_last_error());
  cr_assert_eq(stats(p).keep_window, (uint64_t)atoi(window));
  cr_assert_eq(stats(p).keep_drop_min, (uint64_t)atoi(drop_min));
  return p;
}

static wpool_t *auto_pool(const char *window) {
  return auto_pool_batched(window, "1"); /* a page is worth a call */
}

/* One tenant: write one byte in each page of `pages` (host pages). */
static void tenant(wpool_t *p, wpool_module_t *m, const int *pages, int n) {
  wpool_instance_t *in = make_instance(p, m);
  uint8_t *b = wpool_memory_base(in, 0);
  for (int i = 0; i < n; i++) {
    cr_assert_eq(b[pages[i] * HP + 7], 0, "page %d pristine", pages[i]);
    b[pages[i] * HP + 7] = 0x5a;
  }
  wpool_instance_free(in);
}

Test(keep, written_pages_stay_resident_and_fault_no_more) {
  wpool_t *p = auto_pool("1");
  test_module_t t;
  tm_init(&t, 256, 256, 0);
  wpool_module_t *m = make_module(p, &t);
  const int pages[] = {0, 5, 9, 33, 60};
  tenant(p, m, pages, 5); /* faults them in */
  uint64_t kept = stats(p).memory_kept_resident_bytes;
  cr_assert_geq(kept, 5 * HP, "the written pages are kept");
  long f0 = minor_faults();
  for (int i = 0; i < 20; i++) tenant(p, m, pages, 5);
  cr_assert_lt(minor_faults() - f0, 20, "kept pages take no fault (%ld faults)",
               minor_faults() - f0);
  cr_assert_eq(stats(p).keep_dropped_bytes, 0);
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(keep, pages_not_needed_for_the_window_are_given_back) {
  wpool_t *p = auto_pool("1");
  test_module_t t;
  tm_init(&t, 256, 256, 0);
  wpool_module_t *m = make_module(p, &t);
  const int many[] = {1, 2, 3, 4, 5, 6, 7, 8}, one[] = {1};
  /* Enough tenants that the table's page, which no tenant touches, is
   * resident too where it is zeroed whole (once scanning it has cost a
   * fault: a scan of a small region is priced below keep_scan_ns, the
   * call over 64 pages; the bound allows scans of 50 ns). */
  wpool_stats_t s = stats(p);
  uint64_t n = s.keep_fault_ns / 50 + 2;
  for (uint64_t i = 0; i < n; i++) tenant(p, m, many, 8);
  uint64_t r0 = resident(p);
  cr_assert_eq(stats(p).keep_dropped_bytes, 0, "all written: all kept");
  for (int i = 0; i < 16; i++) tenant(p, m, one, 1); /* pages 2..8 stay clean */
  cr_assert_eq(stats(p).keep_dropped_bytes, 7 * HP, "pages 2..8 given back, page 1 kept");
  cr_assert_eq(resident(p), r0 - 7 * HP);
  for (int i = 0; i < 32; i++) tenant(p, m, one, 1);
  cr_assert_eq(stats(p).keep_dropped_bytes, 7 * HP, "page 1, written every time, stays");
  tenant(p, m, many, 8); /* a tenant that needs them again faults them back */
  cr_assert_eq(resident(p), r0);
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(keep, another_modules_tenant_gives_the_slot_pages_back) {
  wpool_t *p = auto_pool("64");
  test_module_t ta, tb;
  tm_init(&ta, 256, 256, 0);
  tm_init(&tb, 256, 256, 0);
  wpool_module_t *a = make_module(p, &ta), *b = make_module(p, &tb);
  const int pages[] = {3, 20, 40, 50};
  tenant(p, a, pages, 4);
  uint64_t with_a = resident(p);
  cr_assert_geq(stats(p).memory_kept_resident_bytes, 4 * HP);
  const int first[] = {0};
  tenant(p, b, first, 1); /* the one slot, now b's */
  cr_assert_eq(stats(p).module_moves, 1);
  cr_assert_lt(resident(p), with_a, "a's pages went with the move");
  cr_assert_leq(stats(p).memory_kept_resident_bytes, 1 * HP, "b's page only");
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(keep, trimming_releases_kept_pages_those_past_a_shrink_too) {
  wpool_t *p = auto_pool("64");
  test_module_t t;
  tm_init(&t, 250, 256, 0);
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in = make_instance(p, m);
  cr_assert_eq(wpool_memory_grow(in, 0, 5), 250);
  memset(wpool_memory_base(in, 0) + 250 * PAGE, 0x33, 5 * PAGE); /* the grown pages */
  wpool_instance_free(in);
  in = make_instance(p, m); /* back to 250 pages: the rest is out of reach, kept */
  cr_assert_eq(wpool_memory_pages(in, 0), 250);
  wpool_instance_free(in);
  uint64_t before = resident(p);
  cr_assert_geq(before, 5 * PAGE, "the pages past the shrink stay resident");
  cr_assert_geq(stats(p).memory_kept_resident_bytes, 5 * PAGE);
  cr_assert_eq(wpool_trim(p, 0), 1);
  cr_assert_eq(stats(p).memory_kept_resident_bytes, 0);
  cr_assert_lt(resident(p), 2 * HP, "given back (%llu bytes left)",
               (unsigned long long)resident(p));
  in = make_instance(p, m);
  cr_assert_eq(wpool_memory_grow(in, 0, 5), 250);
  cr_assert(all_bytes(wpool_memory_base(in, 0), 255 * PAGE, 0));
  wpool_instance_free(in);
  cr_assert_eq(wpool_destroy(p), 0);
}

/* A call that gives pages back pays a TLB flush: clean pages wait until
 * keep_drop_min of them (or pages the free gives back anyway) share it. */
Test(keep, clean_pages_wait_for_a_call_worth_its_flush) {
  wpool_t *p = auto_pool_batched("1", "8");
  test_module_t t;
  tm_init(&t, 256, 256, 0);
  wpool_module_t *m = make_module(p, &t);
  const int seven[] = {1, 2, 3, 4, 5, 6, 7}, one[] = {1};
  tenant(p, m, seven, 7);
  for (int i = 0; i < 32; i++) tenant(p, m, one, 1);
  cr_assert_eq(stats(p).keep_dropped_bytes, 0, "6 candidates do not pay for a call");
  const int twelve[] = {1, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
  tenant(p, m, twelve, 12);
  for (int i = 0; i < 32; i++) tenant(p, m, one, 1);
  /* Pages 20..30 are read one a free: the 6 waiting and 2 more make a
   * call of 8, the next 8 another; the last one waits. */
  cr_assert_eq(stats(p).keep_dropped_bytes, 16 * HP, "two calls of 8 (%llu pages)",
               (unsigned long long)stats(p).keep_dropped_bytes / HP);
  cr_assert_eq(wpool_destroy(p), 0);
}

/* A tenant of `m` (initial size 250 pages) that grows by 5 and writes the
 * grown pages; they read zero first. */
static void grower(wpool_t *p, wpool_module_t *m) {
  wpool_instance_t *in = make_instance(p, m);
  cr_assert_eq(wpool_memory_pages(in, 0), 250);
  cr_assert_eq(wpool_memory_grow(in, 0, 5), 250);
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert(all_bytes(b + 250 * PAGE, 5 * PAGE, 0), "grown pages pristine");
  memset(b + 250 * PAGE, 0x44, 5 * PAGE);
  wpool_instance_free(in);
}

/* Pages a tenant grew into are made inaccessible at the next tenant's
 * start, an mprotect whose TLB flush may cost more than faulting them in
 * again: then they are given back at the free instead, but at one free in
 * 16 of the slot, which keeps them so that shrinks go on being measured. */
Test(keep, grown_pages_are_given_back_when_a_shrink_costs_more_than_their_faults) {
  setenv("WPOOL_KEEP_SHRINK_NS", "1000000000", 1); /* 1 s a page */
  wpool_t *p = auto_pool("64");
  cr_assert_eq(stats(p).keep_shrink_ns, 1000000000);
  test_module_t t;
  tm_init(&t, 250, 256, 0);
  wpool_module_t *m = make_module(p, &t);
  for (int i = 1; i <= 15; i++) {
    grower(p, m);
    cr_assert_lt(stats(p).memory_kept_resident_bytes, PAGE, "free %d: the grown pages given back", i);
  }
  uint64_t given_back = resident(p);
  grower(p, m); /* the 16th free: kept, for the next shrink to be timed */
  cr_assert_geq(stats(p).memory_kept_resident_bytes, 5 * PAGE);
  uint64_t kept = resident(p);
  cr_assert_geq(kept, given_back + 5 * PAGE, "kept: resident (%llu against %llu bytes)",
                (unsigned long long)kept, (unsigned long long)given_back);
  long f0 = minor_faults();
  grower(p, m); /* starts with the shrink over them, then faults nothing in */
  cr_assert_lt(minor_faults() - f0, 5 * PAGE / HP, "kept pages took no fault");
  cr_assert_lt(stats(p).memory_kept_resident_bytes, PAGE);
  cr_assert_eq(resident(p), given_back, "given back: not resident");
  cr_assert_eq(stats(p).keep_shrink_ns, 1000000000, "pinned: no shrink moves it");
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(keep, grown_pages_stay_kept_when_a_shrink_costs_less) {
  wpool_t *p = auto_pool("64"); /* WPOOL_KEEP_SHRINK_NS=1 */
  test_module_t t;
  tm_init(&t, 250, 256, 0);
  wpool_module_t *m = make_module(p, &t);
  for (int i = 1; i <= 5; i++) {
    grower(p, m);
    cr_assert_geq(stats(p).memory_kept_resident_bytes, 5 * PAGE, "free %d: kept", i);
  }
  cr_assert_eq(wpool_destroy(p), 0);
}

/* Unpinned, the estimate follows the shrinks' times: a machine or a load
 * that makes them dear turns kept grown pages into given-back ones. */
Test(keep, the_shrink_cost_is_learnt_from_shrinks) {
  setenv("WPOOL_KEEP_SHRINK_NS", "", 1); /* empty: not pinned */
  wpool_t *p = auto_pool("64");
  wpool_stats_t s = stats(p);
  uint64_t dear = 100 * (s.keep_fault_ns + s.keep_madvise_ns) + 1000000;
  for (int i = 0; i < 200; i++) keep_shrink_note(dear * 32, 32);
  s = stats(p);
  /* A sample counts for 4 faults at most. */
  cr_assert_gt(s.keep_shrink_ns, 3 * s.keep_fault_ns, "learnt %llu ns (a fault: %llu ns)",
               (unsigned long long)s.keep_shrink_ns, (unsigned long long)s.keep_fault_ns);
  cr_assert_leq(s.keep_shrink_ns, 4 * s.keep_fault_ns);
  test_module_t t;
  tm_init(&t, 250, 256, 0);
  wpool_module_t *m = make_module(p, &t);
  grower(p, m);
  cr_assert_lt(stats(p).memory_kept_resident_bytes, PAGE, "dear shrinks: grown pages given back");
  for (int i = 0; i < 200; i++) keep_shrink_note(0, 32);
  cr_assert_eq(stats(p).keep_shrink_ns, 0, "cheap shrinks: learnt back down");
  grower(p, m);
  cr_assert_geq(stats(p).memory_kept_resident_bytes, 5 * PAGE, "cheap shrinks: kept");
  cr_assert_eq(wpool_destroy(p), 0);
}

/* A reset never faults in a page no tenant touched: a small table region
 * is zeroed whole only once all its pages are resident; after a module
 * move gave them back, it is scanned (found: the pages in use). */
Test(keep, a_free_faults_in_no_page_the_tenant_left_alone) {
  wpool_config_t c = small_config();
  c.instance_count = 1;
  c.instance_table_elements = 2048; /* 16 KiB: 4 pages, cheaper to zero than to scan */
  wpool_t *p;
  int err = wpool_create(&c, &p);
  if (err == WPOOL_ENOTSUP) cr_skip_test("no PAGEMAP_SCAN here");
  cr_assert_eq(err, 0, "%s", wpool_last_error());
  if (stats(p).keep_window == 0) cr_skip_test("no automatic keep set here");
  test_module_t ta, tb;
  tm_init(&ta, 1, 1, 0);
  tm_init(&tb, 1, 1, 0);
  ta.table.min_elements = tb.table.min_elements = 2048;
  ta.table.max_elements = tb.table.max_elements = 2048;
  wpool_module_t *m[2] = {make_module(p, &ta), make_module(p, &tb)};
  static int anchor;
  for (int i = 0; i < 8; i++) {
    wpool_instance_t *in = make_instance(p, m[i % 2]); /* a move every time */
    void **table = wpool_table_base(in, 0);
    cr_assert_null(table[0]);
    table[0] = &anchor; /* the table's first page only */
    /* The pools' own pages (process-wide faults would count a sanitizer's). */
    uint64_t before = resident(p);
    wpool_instance_free(in);
    cr_assert_leq(resident(p), before, "tenant %d: the free made %lld bytes resident", i,
                  (long long)(resident(p) - before));
  }
  cr_assert_eq(wpool_destroy(p), 0);
}

/* Every shrink over kept pages is timed: the estimate moves from the
 * measured one. */
Test(keep, a_shrink_over_kept_pages_is_timed) {
  setenv("WPOOL_KEEP_SHRINK_NS", "", 1); /* empty: not pinned */
  wpool_t *p = auto_pool("64");
  uint64_t first = stats(p).keep_shrink_ns;
  if (first == 0) cr_skip_test("a shrink measured as free here: nothing to move from");
  test_module_t t;
  tm_init(&t, 250, 256, 0);
  wpool_module_t *m = make_module(p, &t);
  bool moved = false;
  for (int i = 0; i < 40 && !moved; i++) {
    grower(p, m);
    moved = stats(p).keep_shrink_ns != first;
  }
  cr_assert(moved, "the estimate stayed at %llu ns", (unsigned long long)first);
  cr_assert_eq(wpool_destroy(p), 0);
}

/* A module whose table is 4 pages, of which its tenants touch one. */
static wpool_module_t *table_module(wpool_t *p) {
  test_module_t t;
  tm_init(&t, 256, 256, 0);
  t.table.min_elements = t.table.max_elements = 2048; /* 4 pages, one touched */
  return make_module(p, &t);
}

/* Tenant `i` of `m`: finds its table's first element null, sets it, is
 * freed. Return the scans its free made. */
static uint64_t table_tenant(wpool_t *p, wpool_module_t *m, uint64_t i) {
  static int anchor;
  uint64_t before = stats(p).dirty_scans;
  wpool_instance_t *in = make_instance(p, m);
  void **table = wpool_table_base(in, 0);
  cr_assert_null(table[0], "tenant %llu", (unsigned long long)i);
  table[0] = &anchor;
  wpool_instance_free(in);
  return stats(p).dirty_scans - before;
}

/* The other side: a slot that keeps its module stops scanning a small
 * region once the scans have cost what faulting its untouched pages in
 * once does; from then on it is zeroed whole. (A scan of the 4-page table
 * costs less than keep_scan_ns, the call over 64 pages: the bound below
 * allows scans of 50 ns.) */
Test(keep, a_small_region_is_zeroed_whole_once_scanning_it_cost_a_fault) {
  setenv("WPOOL_SCAN_ALWAYS", "1", 1); /* no free proved: the scans tell */
  setenv("WPOOL_KEEP_ZERO_NS", "1", 1); /* zeroing the table costs less than its scan */
  wpool_t *p = auto_pool("64"); /* a 16 MiB memory: always scanned */
  wpool_module_t *m = table_module(p);
  wpool_stats_t s = stats(p);
  uint64_t n = 3 * s.keep_fault_ns / 50 + 2;
  uint64_t first = 0, whole_at = 0, after = 0;
  for (uint64_t i = 0; i <= n + 3 && (!whole_at || i <= whole_at + 3); i++) {
    uint64_t scans = table_tenant(p, m, i);
    if (i == 0) first = scans;
    if (scans == 1 && !whole_at) whole_at = i;
    if (whole_at && i > whole_at) after += scans;
  }
  cr_assert_eq(first, 2, "at first the memory and the table are scanned");
  cr_assert(whole_at && whole_at <= n, "the table still scanned after %llu frees",
            (unsigned long long)n);
  cr_assert_eq(after, 3, "then the memory only");
  cr_assert_eq(wpool_destroy(p), 0);
}

/* A pool whose tables alone have the automatic budget (the memory's is
 * set) judges them as one whose budgets are all automatic does: by what
 * zeroing costs its resets (here pinned). It judged by the measured
 * memset, whatever the pin or the pool learnt. Return the scans of the
 * last free of `frees` (the memory's, and the table's unless zeroed
 * whole). */
static uint64_t table_only_auto_scans(uint64_t frees) {
  setenv("WPOOL_KEEP_WINDOW", "64", 1);
  wpool_config_t c = one_slot_config();
  c.linear_memory_keep_resident = 1 * MiB;
  wpool_t *p;
  int err = wpool_create(&c, &p);
  if (err == WPOOL_ENOTSUP) cr_skip_test("no PAGEMAP_SCAN here");
  cr_assert_eq(err, 0, "%s", wpool_last_error());
  wpool_module_t *m = table_module(p);
  uint64_t scans = 0;
  for (uint64_t i = 0; i < frees; i++) scans = table_tenant(p, m, i);
  cr_assert_eq(stats(p).keep_reset_zero_ns, (uint64_t)atoll(getenv("WPOOL_KEEP_ZERO_NS")));
  cr_assert_eq(wpool_destroy(p), 0);
  return scans;
}

Test(keep, tables_alone_automatic_are_judged_by_what_zeroing_costs_dear) {
  setenv("WPOOL_KEEP_ZERO_NS", "1000000000", 1); /* 1 s a page: never zeroed whole */
  cr_assert_eq(table_only_auto_scans(3 * 100000 / 50 + 20), 2, "the table is still scanned");
}

Test(keep, tables_alone_automatic_are_judged_by_what_zeroing_costs_cheap) {
  setenv("WPOOL_KEEP_ZERO_NS", "1", 1);
  cr_assert_eq(table_only_auto_scans(3 * 100000 / 50 + 20), 1, "the table is zeroed whole");
}
