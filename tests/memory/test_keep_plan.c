/* The keep set's plan (memory/keep.h): each page's step (what to restore,
 * keep, give back or decide later, and the mark it learns), planned
 * without writing anything, then applied. A region of 160 pages in
 * ordinary memory stands for a slot region; the scan's runs are given by
 * hand. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "memory/keep.h"
#include "memory/os.h"

#define NPAGES 160

static uint64_t page;
static uint8_t *base;
static uint8_t marks[NPAGES];
static keep_marks_t m;
static keep_region_t r;
static mem_counters_t counters;
static decommit_ctx_t dctx;
static decommit_batch_t batch;
/* A window of 3 clean reads, candidates worth a call from 2; no scan cost:
 * never zeroed whole. */
static const keep_costs_t costs = {.fault_ns = 1000, .check_ns = 50, .memset_ns = 40,
                                   .window = 3, .drop_min = 2};

static void setup(void) {
  page = os_page_size();
  base = aligned_alloc(page, NPAGES * page);
  cr_assert_not_null(base);
  memset(base, 0, NPAGES * page);
  memset(marks, 0, sizeof(marks));
  m = (keep_marks_t){.marks = marks, .pages = NPAGES};
  r = (keep_region_t){.base = base, .scan_bytes = NPAGES * page, .writable_bytes = NPAGES * page,
                      .initial_bytes = NPAGES * page};
  decommit_ctx_init(&dctx, &counters);
  batch = decommit_batch(&dctx);
}

static void teardown(void) {
  decommit_ctx_destroy(&dctx);
  free(base);
}

TestSuite(keep_plan, .init = setup, .fini = teardown);

static void start(keep_plan_t *pl) {
  keep_step_t whole[2];
  cr_assert_eq(keep_plan_start(pl, &r, &m, &costs, NULL, whole), 0);
  cr_assert_not(pl->whole);
}

static void expect_step(keep_step_t s, uint64_t first, uint64_t n, keep_op_t op, unsigned mark) {
  cr_expect_eq(s.off, first * page, "off: page %llu", (unsigned long long)(s.off / page));
  cr_expect_eq(s.len, n * page, "%llu pages", (unsigned long long)(s.len / page));
  cr_expect_eq(s.op, op, "page %llu: op %u, not %u", (unsigned long long)first, s.op, op);
  cr_expect_eq(s.mark, mark, "page %llu: mark %u, not %u", (unsigned long long)first, s.mark, mark);
}

Test(keep_plan, pages_faulted_in_are_restored_and_learn_they_are_needed) {
  base[5 * page] = 1;
  keep_plan_t pl;
  start(&pl);
  keep_step_t s[3];
  for (int k = 0; k < 3; k++) s[k] = keep_plan_page(&pl, (4 + k) * page, false);
  for (int k = 0; k < 3; k++) expect_step(s[k], 4 + k, 1, KEEP_OP_RESTORE, 1);
  cr_expect_eq(pl.out.kept_bytes, 3 * page);
  cr_expect_eq(pl.out.restored_bytes, 3 * page);
  cr_expect_eq(pl.out.resident_end, 7 * page);
  cr_expect_eq(marks[4], 0, "planning writes no mark");
  cr_expect_eq(base[5 * page], 1, "nor any page");
  for (int k = 0; k < 3; k++) keep_apply(&pl, &m, &batch, &s[k]);
  cr_expect_eq(base[5 * page], 1, "neighbouring restores wait to be one call");
  keep_apply_end(&pl);
  cr_expect_eq(marks[4] + marks[5] + marks[6], 3);
  cr_expect_eq(base[5 * page], 0, "restored");
  cr_expect_eq(batch.n, 0, "nothing given back");
}

Test(keep_plan, a_kept_page_is_restored_blind_unless_it_is_its_turn_to_be_read) {
  /* Page i is read at the free where (i + frees) % KEEP_SAMPLE == 0: at
   * the first free (frees 1), page 15. */
  marks[14] = marks[15] = 2;
  base[15 * page + 7] = 9; /* written: read, restored, learns it is needed */
  keep_plan_t pl;
  start(&pl);
  expect_step(keep_plan_page(&pl, 14 * page, false), 14, 1, KEEP_OP_RESTORE, KEEP_MARK_SAME);
  keep_step_t s = keep_plan_page(&pl, 15 * page, false);
  expect_step(s, 15, 1, KEEP_OP_RESTORE, 1);
  keep_apply(&pl, &m, &batch, &s);
  keep_apply_end(&pl);
  cr_expect_eq(marks[14], 2);
  cr_expect_eq(marks[15], 1);
  cr_expect_eq(base[15 * page + 7], 0);
}

Test(keep_plan, a_page_read_clean_is_kept_as_it_is_and_counts_the_read) {
  marks[15] = 2; /* clean once before */
  keep_plan_t pl;
  start(&pl);
  expect_step(keep_plan_page(&pl, 15 * page, false), 15, 1, KEEP_OP_KEEP, 3);
  cr_expect_eq(pl.out.restored_bytes, 0);
  cr_expect_eq(pl.out.kept_bytes, page);
}

Test(keep_plan, clean_for_a_window_pages_are_given_back_when_enough_share_the_call) {
  /* Marks 3 = two clean reads; read clean once more, the window (3) is
   * reached: candidates. Two candidates = drop_min: given back. */
  m.frees = 16; /* this free is the 17th: pages 15 and 31 are read */
  marks[15] = marks[31] = 3;
  keep_plan_t pl;
  start(&pl);
  expect_step(keep_plan_page(&pl, 15 * page, false), 15, 1, KEEP_OP_LATER, KEEP_MARK_SAME);
  expect_step(keep_plan_page(&pl, 31 * page, false), 31, 1, KEEP_OP_LATER, KEEP_MARK_SAME);
  cr_assert_eq(pl.ndrops, 2);
  keep_step_t s[KEEP_DROPS_MAX];
  cr_assert_eq(keep_plan_drops(&pl, false, s), 2);
  cr_assert(pl.dropped);
  expect_step(s[0], 15, 1, KEEP_OP_GIVE_BACK, 0);
  expect_step(s[1], 31, 1, KEEP_OP_GIVE_BACK, 0);
  cr_expect_eq(pl.out.dropped_bytes, 2 * page);
  for (int k = 0; k < 2; k++) keep_apply(&pl, &m, &batch, &s[k]);
  cr_expect_eq(marks[15] + marks[31], 0);
  cr_expect_eq(batch.n, 2);
}

Test(keep_plan, a_lone_candidate_is_kept_unless_the_free_gives_pages_back_anyway) {
  m.frees = 16;
  marks[15] = 4;
  keep_plan_t pl;
  keep_step_t s[KEEP_DROPS_MAX];
  start(&pl);
  keep_plan_page(&pl, 15 * page, false);
  cr_assert_eq(pl.ndrops, 1);
  cr_assert_eq(keep_plan_drops(&pl, false, s), 1);
  cr_assert_not(pl.dropped);
  expect_step(s[0], 15, 1, KEEP_OP_KEEP, 4);
  keep_apply(&pl, &m, &batch, &s[0]);
  cr_expect_eq(marks[15], 4);

  m.frees = 17; /* not its turn: still a candidate */
  start(&pl);
  keep_plan_page(&pl, 15 * page, false);
  cr_assert_eq(keep_plan_drops(&pl, true, s), 1);
  cr_assert(pl.dropped);
  expect_step(s[0], 15, 1, KEEP_OP_GIVE_BACK, 0);
}

Test(keep_plan, swapped_and_untracked_pages_are_given_back) {
  marks[2] = 1;
  keep_plan_t pl;
  start(&pl);
  expect_step(keep_plan_page(&pl, 1 * page, true), 1, 1, KEEP_OP_GIVE_BACK, 0);
  expect_step(keep_plan_page(&pl, 2 * page, true), 2, 1, KEEP_OP_GIVE_BACK, 0);
  cr_expect_eq(pl.out.dropped_bytes, page, "page 2 was kept");
  m.pages = 8; /* pages past 8 are not tracked */
  start(&pl);
  expect_step(keep_plan_page(&pl, 7 * page, false), 7, 1, KEEP_OP_RESTORE, 1);
  keep_step_t s = keep_plan_page(&pl, 8 * page, false);
  expect_step(s, 8, 1, KEEP_OP_GIVE_BACK, 0);
  marks[8] = 5;
  keep_apply(&pl, &m, &batch, &s);
  cr_expect_eq(marks[8], 5, "no mark written past the tracked pages");
}

Test(keep_plan, pages_past_the_writable_bytes_are_pristine_and_kept_unread) {
  r.writable_bytes = r.initial_bytes = 10 * page;
  r.scan_bytes = NPAGES * page;
  marks[12] = 2;
  base[12 * page] = 0x55; /* would be a written page if it were read */
  keep_plan_t pl;
  start(&pl);
  expect_step(keep_plan_page(&pl, 11 * page, false), 11, 1, KEEP_OP_KEEP, 1);
  keep_step_t s = keep_plan_page(&pl, 12 * page, false);
  expect_step(s, 12, 1, KEEP_OP_KEEP, 3);
  keep_apply(&pl, &m, &batch, &s);
  keep_apply_end(&pl);
  cr_expect_eq(base[12 * page], 0x55, "never written by hand");
}

/* The pages a tenant grew into (past its initial size) go back when a
 * shrink over them is dear (WPOOL_KEEP_SHRINK_NS pins it at 1 s a page),
 * except at one free in KEEP_SAMPLE, when they are kept to time it. */
Test(keep_plan, grown_pages_go_back_when_a_shrink_is_dearer_than_faults) {
  setenv("WPOOL_KEEP_SHRINK_NS", "1000000000", 1);
  r.initial_bytes = 8 * page;
  keep_plan_t pl;
  start(&pl);
  cr_assert_eq(pl.give_back_from, 8 * page);
  expect_step(keep_plan_page(&pl, 7 * page, false), 7, 1, KEEP_OP_RESTORE, 1);
  expect_step(keep_plan_page(&pl, 9 * page, false), 9, 1, KEEP_OP_GIVE_BACK, 0);
  m.frees = KEEP_SAMPLE - 1;
  start(&pl);
  cr_assert_eq(pl.give_back_from, UINT64_MAX, "the sampled free keeps them");
}

/* A small region all of whose pages are kept, cheaper to zero whole than
 * to scan: one step restores the writable bytes, the rest is kept as it
 * is, and every page is held (marks kept, at least 1). */
Test(keep_plan, a_small_region_all_resident_is_zeroed_whole) {
  keep_costs_t cheap = costs;
  /* Zeroing all costs what one scan of 64 pages does, less than a scan of
   * the 160 (2.5 of them). */
  cheap.scan_ns = NPAGES * cheap.memset_ns;
  memset(marks, 1, sizeof(marks));
  marks[3] = 3;
  r.writable_bytes = r.initial_bytes = 100 * page;
  base[7] = 1;
  keep_plan_t pl;
  keep_step_t whole[2];
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &cheap, NULL, whole), 2);
  cr_assert(pl.whole);
  expect_step(whole[0], 0, 100, KEEP_OP_RESTORE, KEEP_MARK_HELD);
  expect_step(whole[1], 100, NPAGES - 100, KEEP_OP_KEEP, KEEP_MARK_HELD);
  cr_expect_eq(pl.out.restored_bytes, 100 * page);
  cr_expect_eq(pl.out.kept_bytes, NPAGES * page);
  for (int k = 0; k < 2; k++) keep_apply(&pl, &m, &batch, &whole[k]);
  keep_apply_end(&pl);
  cr_expect_eq(base[7], 0);
  cr_expect_eq(marks[3], 3, "what was learnt stays");
  /* Pages missing (not kept): scanned until the scans have cost what
   * faulting them in once would. */
  marks[5] = 0;
  m.since = 0;
  cheap.fault_ns = 2 * keep_region_scan_ns(&cheap, NPAGES);
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &cheap, NULL, whole), 0, "one missing page, one free since");
  m.since = 1;
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &cheap, NULL, whole), 2, "two scans paid for the fault");
}

/* Costs where a scan of 20 pages costs 400 + 640 x 20 / 64 = 600 ns. */
static keep_costs_t twenty_pages(void) {
  keep_costs_t c = costs;
  c.scan_base_ns = 400;
  c.scan_ns = 1040;
  r.scan_bytes = r.writable_bytes = r.initial_bytes = 20 * page;
  memset(marks, 1, 20);
  return c;
}

/* Whether a region is zeroed whole is judged by what zeroing a page
 * costs the pool's resets (keep_judge_t.zero_ns, learnt) against a scan
 * of the region's pages: a table of 20 pages was zeroed whole at 74 ns a
 * page measured, 150 in fact, rather than scanned. */
Test(keep_plan, a_region_is_zeroed_whole_by_what_zeroing_costs_the_pools_resets) {
  keep_costs_t c = twenty_pages();
  cr_assert_eq(keep_region_scan_ns(&c, 20), 600);
  cr_assert_eq(keep_region_scan_ns(&c, 1), 410);
  cr_assert_eq(keep_region_scan_ns(&c, 128), 2080, "past 64 pages, in proportion");
  keep_plan_t pl;
  keep_step_t whole[2];
  keep_judge_t j = {.window = 3, .drop_min = 2, .zero_ns = 30}; /* 600 ns for 20 pages */
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &c, &j, whole), 1);
  cr_assert(pl.whole && pl.zeroed_whole);
  j.zero_ns = 31; /* 620 */
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &c, &j, whole), 0);
  cr_assert_not(pl.whole);
  /* Without a judge, the measured memset_ns (40: 800 ns). */
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &c, NULL, whole), 0);
}

/* A region zeroed whole stays so until zeroing it costs a quarter more
 * than its scan; then it starts over: its pages given back in one step,
 * its marks cleared, so that its next tenants keep only what they use. */
Test(keep_plan, a_region_no_longer_worth_zeroing_whole_starts_over) {
  keep_costs_t c = twenty_pages();
  m.whole = true;
  m.since = 9;
  marks[4] = 3;
  base[5 * page] = 7;
  keep_plan_t pl;
  keep_step_t whole[2];
  keep_judge_t j = {.window = 3, .drop_min = 2, .zero_ns = 37}; /* 740 <= 750 */
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &c, &j, whole), 1);
  cr_assert(pl.zeroed_whole, "within a quarter more: still zeroed whole");
  j.zero_ns = 38; /* 760 > 750 */
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &c, &j, whole), 1);
  cr_assert(pl.whole, "not scanned");
  cr_assert_not(pl.zeroed_whole);
  expect_step(whole[0], 0, 20, KEEP_OP_GIVE_BACK, 0);
  cr_expect_eq(pl.out.dropped_bytes, 20 * page);
  cr_expect_eq(pl.out.kept_bytes, 0);
  cr_expect_eq(pl.since, 0);
  keep_apply(&pl, &m, &batch, &whole[0]);
  keep_apply_end(&pl);
  cr_expect_eq(batch.n, 1, "one range given back");
  for (int i = 0; i < 20; i++) cr_expect_eq(marks[i], 0, "page %d still marked", i);
  decommit_flush(&batch);
  cr_expect_eq(base[5 * page], 0, "given back: zero");
}

/* A region zeroed whole whose pages are not all kept now (a table whose
 * elements in use grew) is scanned until faulting the new ones in pays,
 * as a new one is: not zeroed whole over pages never faulted in, and not
 * started over (its cost still says whole). */
Test(keep_plan, a_whole_region_that_grew_is_scanned_not_started_over) {
  keep_costs_t c = twenty_pages();
  m.whole = true;
  m.since = 0;
  marks[19] = 0; /* grown into: not kept */
  keep_plan_t pl;
  keep_step_t whole[2];
  keep_judge_t j = {.window = 3, .drop_min = 2, .zero_ns = 20};
  c.fault_ns = 10 * keep_region_scan_ns(&c, 20);
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &c, &j, whole), 0);
  cr_assert_not(pl.whole);
  m.since = 9;
  cr_assert_eq(keep_plan_start(&pl, &r, &m, &c, &j, whole), 1, "ten scans paid for the fault");
  cr_assert(pl.zeroed_whole);
}

/* keep_reset carries the start over through: nothing scanned, the record
 * no longer whole, the region's pages zero. */
Test(keep_plan, a_reset_that_starts_over_leaves_zeros_and_no_whole_record) {
  (void)twenty_pages();
  m.whole = true;
  base[3 * page + 9] = 1;
  dirty_scanner_t scanner;
  dirty_scanner_init(&scanner);
  keep_pass_t pass = {.judge = {.window = 3, .drop_min = 2, .zero_ns = 1000000}};
  keep_result_t out;
  cr_assert_eq(keep_reset(&r, &m, &scanner, &pass, &batch, &out), 0);
  decommit_flush(&batch);
  cr_expect_eq(out.scans, 0);
  cr_expect_eq(out.kept_bytes, 0);
  cr_expect_not(m.whole);
  cr_expect_eq(base[3 * page + 9], 0);
  dirty_scanner_destroy(&scanner);
}
