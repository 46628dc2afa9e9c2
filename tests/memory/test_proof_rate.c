/* When resets read the process's page-fault count (memory/proof.h): at
 * every free while proofs pay; else only for tries, each two reads, the
 * gap between their starts doubling while they fail, from
 * PROOF_GAP_MIN_NS to PROOF_GAP_MAX_NS; a try that proves brings the reads
 * at every free back. The reads are the library's getrusage calls
 * (os_calls); a fault is made by touching a page not yet touched; the
 * clock is the test's. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "memory/costs.h"
#include "memory/os.h"
#include "memory/proof.h"

/* A read costs a tenth of a scan: reading at every free pays while more
 * than a tenth of the tries prove. */
static const keep_costs_t costs = {.fault_ns = 1000, .check_ns = 50, .memset_ns = 40,
                                   .scan_ns = 1000, .count_ns = 100, .window = 3,
                                   .drop_min = 1};

enum { SLOTS = 64 };
static proof_mark_t marks[SLOTS];
static proof_rate_t rate;

static void setup(void) {
  memset(marks, 0, sizeof(marks));
  proof_rate_init(&rate);
  /* The machine running the tests switching this process out does not
   * change the cadence, except where a test says otherwise (the options
   * are read at the first read, after this). */
  setenv("WPOOL_PREEMPTED_MIN", "18446744073709551615", 1);
  /* Nor what this machine's reads cost: the costs' own, except where a
   * test is about learning it. */
  setenv("WPOOL_KEEP_COUNT_NS", "100", 1);
  /* Nor what its resets' scans cost (and no proved reset scans to learn
   * it), likewise. */
  setenv("WPOOL_KEEP_SCAN_NS", "1000", 1);
}

TestSuite(proof_rate, .init = setup);

/* One page fault of this process: the next page of an area given back
 * whole when all of it has been touched. */
enum { AREA_PAGES = 4096 };
static void fault(void) {
  static volatile char *area;
  static int next = AREA_PAGES;
  if (!area) {
    area = mmap(NULL, AREA_PAGES * 4096ul, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                -1, 0);
    cr_assert_neq((void *)area, MAP_FAILED);
    /* One fault per page, also where transparent huge pages are "always". */
    cr_assert_eq(madvise((void *)area, AREA_PAGES * 4096ul, MADV_NOHUGEPAGE), 0);
  }
  if (next == AREA_PAGES) {
    cr_assert_eq(madvise((void *)area, AREA_PAGES * 4096ul, MADV_DONTNEED), 0);
    next = 0;
  }
  area[(size_t)next++ * 4096] = 1;
}

/* A reset of slot `s` at `now`, leaving exactly the kept pages. */
static bool reset(int s, uint64_t now) {
  proof_t pr = proof_begin(&marks[s], &rate, 0, &costs, now);
  proof_end(&marks[s], &pr, true);
  return pr.proved;
}

static uint64_t reads(void) { return os_calls(OS_GETRUSAGE); }

/* Frees of slot 0 at `now` with a fault before each, until one does not
 * read: the share has fallen under a tenth (18 failures), the record left
 * while every free read has been checked once (no try), and one try,
 * started and failed at `now`, has doubled the gap to 2 x the least; the
 * next try may start at now + the least. */
static void fail_tries(uint64_t now) {
  for (int i = 0;; i++) {
    cr_assert_lt(i, 100, "every free still reads after 100 failures");
    uint64_t r = reads();
    fault();
    cr_assert(!reset(0, now), "a free after a fault was proved");
    if (reads() == r) return;
  }
}

Test(proof_rate, every_free_reads_while_proofs_pay) {
  uint64_t r0 = reads();
  cr_assert(!reset(1, 0)); /* no record yet: one is left */
  int proved = 0;
  for (int i = 0; i < 100; i++) proved += reset(1, 0);
  cr_assert_eq(reads() - r0, 101);
  /* Nothing between two frees here can fault, but the count is the whole
   * process's: allow a stray one. */
  cr_assert_geq(proved, 98, "%d of 100 frees proved", proved);
}

enum { STEP_NS = 10000 };

/* The times of the reads of slot 0 freed every STEP_NS for `ns`, a fault
 * before each free, from `t0`; their number in *n (at most `max`). */
static void read_times(uint64_t t0, uint64_t ns, uint64_t *at, int max, int *n) {
  *n = 0;
  for (uint64_t t = t0; t < t0 + ns; t += STEP_NS) {
    uint64_t r = reads();
    fault();
    cr_assert(!reset(0, t), "a free after a fault was proved");
    if (reads() != r && *n < max) at[(*n)++] = t;
  }
}

Test(proof_rate, failing_tries_back_off_to_one_per_most_gap) {
  fail_tries(0);
  /* One slot, one free per 10 us for a second, a fault before each: tries
   * are a free that reads and the next, each gap about twice the last
   * until the most. */
  static uint64_t at[1000];
  int n;
  read_times(1, 1000000000, at, 1000, &n);
  cr_assert_gt(n, 2 * 90, "%d reads in a second: tries stopped", n);
  cr_assert_leq(n, 2 * (1000000000 / PROOF_GAP_MAX_NS + 10), "%d reads in a second", n);
  /* The first gap is twice the least (after fail_tries' one try): the
   * record left while every free read, checked once, was no try. */
  cr_assert_leq(at[2] - at[0], 2 * PROOF_GAP_MIN_NS + STEP_NS, "the first gap: %llu ns",
                (unsigned long long)(at[2] - at[0]));
  uint64_t last_gap = 0;
  for (int i = 0; i + 2 < n; i += 2) {
    cr_assert_eq(at[i + 1], at[i] + STEP_NS, "a try's second read is not the slot's next free");
    uint64_t gap = at[i + 2] - at[i];
    cr_assert_geq(gap, PROOF_GAP_MIN_NS, "try %d: %llu ns after the last", i / 2,
                  (unsigned long long)gap);
    cr_assert_leq(gap, PROOF_GAP_MAX_NS + STEP_NS);
    if (last_gap)
      cr_assert(gap + STEP_NS >= last_gap && gap <= 2 * last_gap + STEP_NS,
                "try %d: a gap of %llu ns after one of %llu", i / 2, (unsigned long long)gap,
                (unsigned long long)last_gap);
    last_gap = gap;
  }
  cr_assert_geq(last_gap, PROOF_GAP_MAX_NS, "the gap stopped growing at %llu ns",
                (unsigned long long)last_gap);
}

Test(proof_rate, a_try_that_proves_brings_back_reads_at_every_free) {
  fail_tries(0);
  static uint64_t at[200];
  int n;
  read_times(1, 200000000, at, 200, &n); /* backed off to the most */
  uint64_t t = at[n - 1] + PROOF_GAP_MAX_NS / 2; /* within the gap: nothing reads */
  uint64_t r0 = reads();
  for (int i = 0; i < 10; i++) reset(2, t);
  cr_assert_eq(reads() - r0, 0, "frees read between tries");
  /* At the next try's time, with no fault between its two frees. */
  bool proved = false;
  for (int i = 0; i < 4 && !proved; i++) { /* a stray fault of the process: another try */
    t += PROOF_GAP_MAX_NS + STEP_NS;
    cr_assert(!reset(3, t));
    proved = reset(3, t);
  }
  cr_assert(proved, "no try proved");
  /* The share is back over a tenth: every free reads again. */
  uint64_t r1 = reads();
  for (int i = 0; i < 10; i++) reset(4, t);
  cr_assert_eq(reads() - r1, 10);
  /* And should tries fail again, the gap starts from the least. */
  fail_tries(t);
  read_times(t + 1, 1000000, at, 200, &n);
  cr_assert_geq(n, 4);
  cr_assert_leq(at[2] - at[0], 2 * PROOF_GAP_MIN_NS + STEP_NS, "the gap after a proof: %llu ns",
                (unsigned long long)(at[2] - at[0]));
}

Test(proof_rate, a_try_is_two_reads_and_leaves_no_record) {
  fail_tries(0);
  static uint64_t at[200];
  int n;
  read_times(1, 100000000, at, 200, &n);
  /* Reads come in pairs: a record is left only by a try not yet ended. */
  cr_assert_eq(marks[0].self != 0, n % 2 == 1, "%d reads, a record: %d", n, marks[0].self != 0);
  uint64_t t = at[n - 1] + PROOF_GAP_MAX_NS + STEP_NS, r0 = reads(), timed = keep_count_timed();
  fault();
  cr_assert(!reset(5, t)); /* starts the try */
  fault();
  cr_assert(!reset(5, t)); /* ends it */
  /* (A timed read of a try's is warmed by one more: below.) */
  cr_assert_eq(reads() - r0, 2 + (keep_count_timed() - timed));
  cr_assert_eq(marks[5].self, 0, "the try's second read left a record");
  for (int i = 0; i < 10; i++) reset(5, t + 1);
  cr_assert_eq(reads() - r0, 2, "frees after a try read before the next");
}

Test(proof_rate, a_reset_that_is_not_exact_leaves_no_record) {
  reset(6, 0);
  cr_assert_neq(marks[6].self, 0, "no record to clear");
  proof_t pr = proof_begin(&marks[6], &rate, 0, &costs, 0);
  cr_assert(pr.record);
  proof_end(&marks[6], &pr, false);
  cr_assert_eq(marks[6].self, 0, "a reset that was not exact kept a record");
  /* Nor can a count of refused bytes that moved prove. */
  reset(6, 0);
  pr = proof_begin(&marks[6], &rate, 4096, &costs, 0);
  cr_assert(!pr.proved);
}

/* A try's read comes seldom, and finds the caches cold: timed, it is
 * made twice and the second is timed (one at every free is made once). */
Test(proof_rate, a_tries_timed_read_is_warmed_by_one_before) {
  fail_tries(0);
  static uint64_t at[1000];
  int n;
  uint64_t r0 = reads(), timed = keep_count_timed();
  read_times(1, 2000000000, at, 1000, &n); /* about 2 x 200 tries' reads */
  cr_assert_lt(n, 1000);
  uint64_t calls = reads() - r0, t = keep_count_timed() - timed;
  cr_assert_geq(t, (uint64_t)n / KEEP_COUNT_SAMPLE, "%llu of %d reads timed", (unsigned long long)t, n);
  cr_assert_eq(calls, (uint64_t)n + t, "%llu calls for %d reads, %llu timed",
               (unsigned long long)calls, n, (unsigned long long)t);
}

/* Involuntary switches of the process, PROOF_PREEMPTED_MIN or more within
 * 100 ms (fed here; proof_begin feeds what its reads see): a pool whose
 * proofs pay stops reading at every free and tries only, PROOF_GAP_MAX_NS
 * apart, for PROOF_CONTENDED_NS; after that every free reads again. */
Test(proof_rate, a_machine_that_switches_the_process_out_reads_for_tries_only) {
  setenv("WPOOL_PREEMPTED_MIN", "16", 1);
  struct rusage u;
  cr_assert_eq(getrusage(RUSAGE_SELF, &u), 0);
  uint64_t t = 1000000000, base = (uint64_t)u.ru_nivcsw;
  for (int i = 0; i < 5; i++) reset(1, t);
  cr_assert_eq(marks[1].self != 0, true);
  proof_preempted(&rate, base + 1000, t);
  proof_preempted(&rate, base + 1000 + PROOF_PREEMPTED_MIN, t + 1000);
  /* 50 ms of frees of another slot, 10 us apart, no fault between: tries
   * only, two reads each, 10 ms apart; slot 1's record checked once. */
  uint64_t r0 = reads();
  int proved = 0;
  for (uint64_t ns = 0; ns < 50000000; ns += STEP_NS) {
    proved += reset(2, t + 2000 + ns);
    if (ns == 0) reset(1, t + 2000);
  }
  uint64_t n = reads() - r0;
  cr_assert_leq(n, 2 * (50000000 / PROOF_GAP_MAX_NS + 1) + 1, "%llu reads in 50 ms contended",
                (unsigned long long)n);
  cr_assert_geq(n, 2 * (50000000 / PROOF_GAP_MAX_NS) - 2, "tries stopped: %llu reads",
                (unsigned long long)n);
  cr_assert_geq(proved, 2, "the tries proved %d frees", proved);
  /* Past the window, with no switch since: every free reads again. */
  uint64_t r1 = reads();
  for (int i = 0; i < 10; i++) reset(4, t + 2 * PROOF_CONTENDED_NS);
  cr_assert_eq(reads() - r1, 10);
}

/* 10 ms of frees of slot 2 from `t`, 10 us apart, every one provable,
 * where a proof does not pay for its read: reads for tries only, and as
 * they fail, the gap doubles from the least (100 us, 200, ... 6.4 ms: 7
 * tries). Return how many frees proved. */
static int tries_only_for_10ms(uint64_t t) {
  uint64_t r0 = reads();
  int proved = 0;
  for (uint64_t ns = 0; ns < 10000000; ns += STEP_NS) proved += reset(2, t + ns);
  uint64_t n = reads() - r0;
  cr_assert_leq(n, 2 * 7 + 1, "%llu reads in 10 ms", (unsigned long long)n);
  cr_assert_geq(n, 2 * 6, "tries stopped: %llu reads", (unsigned long long)n);
  return proved;
}

/* What a read costs is learnt (costs.h): the least of each
 * KEEP_COUNT_WINDOW timed reads. Reads dearer than a scan (a process with
 * hundreds of threads) end the reads at every free, though every free
 * proves; one preempted read among cheap ones does not; cheap reads again
 * bring them back. */
Test(proof_rate, reads_dearer_than_a_scan_are_made_only_for_tries) {
  unsetenv("WPOOL_KEEP_COUNT_NS");
  uint64_t t = 1000000000;
  cr_assert_eq(keep_count_ns(&costs), costs.count_ns, "the measured cost first");
  for (unsigned i = 0; i < KEEP_COUNT_WINDOW; i++) {
    cr_assert_eq(keep_count_ns(&costs), costs.count_ns, "published before the window");
    keep_count_note(2 * costs.scan_ns + i);
  }
  cr_assert_eq(keep_count_ns(&costs), 2 * costs.scan_ns, "the window's least");
  /* (One read in KEEP_COUNT_SAMPLE of the tries' is timed too, too few
   * for a window.) */
  int proved = tries_only_for_10ms(t);
  cr_assert_geq(proved, 6, "the tries proved %d frees", proved);
  cr_assert_eq(keep_count_ns(&costs), 2 * costs.scan_ns,
               "the tries' few timed reads completed a window");
  /* Cheap reads, one of them preempted for 5 ms: the estimate is the
   * cheap one (the timed tries' reads, real ones, in the window cost more
   * than 40 ns), and every free reads again. */
  for (unsigned i = 0; i < KEEP_COUNT_WINDOW; i++) keep_count_note(i == 3 ? 5000000 : 40 + i);
  cr_assert_eq(keep_count_ns(&costs), 40);
  uint64_t r1 = reads();
  for (int i = 0; i < 10; i++) reset(3, t + 20000000);
  cr_assert_eq(reads() - r1, 10, "reads at every free did not come back");
}

/* One read in KEEP_COUNT_SAMPLE is timed: any KEEP_COUNT_SAMPLE reads in
 * a row time exactly one; a window of them publishes what reading costs
 * on this machine now (more than 0, less than a second). */
Test(proof_rate, one_read_in_a_sample_is_timed) {
  unsetenv("WPOOL_KEEP_COUNT_NS");
  for (int k = 0; k < 3; k++) {
    uint64_t timed = keep_count_timed(), r = reads();
    for (unsigned i = 0; i < KEEP_COUNT_SAMPLE; i++) reset(0, 0);
    cr_assert_eq(reads() - r, KEEP_COUNT_SAMPLE, "every free reads");
    cr_assert_eq(keep_count_timed() - timed, 1, "%llu reads timed in %u",
                 (unsigned long long)(keep_count_timed() - timed), KEEP_COUNT_SAMPLE);
  }
  for (unsigned i = 0; i < KEEP_COUNT_SAMPLE * KEEP_COUNT_WINDOW; i++) reset(0, 0);
  uint64_t ns = keep_count_ns(&costs);
  cr_assert(ns != costs.count_ns && ns > 0 && ns < 1000000000, "learnt %llu ns",
            (unsigned long long)ns);
}

/* What a proof saves, the scans of a reset, is learnt too (costs.h): the
 * median of each KEEP_SCAN_WINDOW timed resets, so that one preempted
 * reset and one that scanned nothing (its regions zeroed whole) do not
 * decide. Scans cheaper than a read end the reads at every free, though
 * every free proves; dearer scans bring them back. */
Test(proof_rate, scans_cheaper_than_a_read_end_the_reads_at_every_free) {
  unsetenv("WPOOL_KEEP_SCAN_NS");
  uint64_t t = 1000000000;
  cr_assert_eq(keep_reset_scan_ns(&rate.scans, &costs), costs.scan_ns, "the measured cost first");
  const uint64_t window[KEEP_SCAN_WINDOW] = {40, 50, 60, 45, 5000000, 0, 55, 50};
  for (unsigned i = 0; i < KEEP_SCAN_WINDOW; i++) {
    cr_assert_eq(keep_reset_scan_ns(&rate.scans, &costs), costs.scan_ns,
                 "published before the window");
    keep_scan_note(&rate.scans, window[i]);
  }
  cr_assert_eq(keep_reset_scan_ns(&rate.scans, &costs), 50, "the window's median: %llu",
               (unsigned long long)keep_reset_scan_ns(&rate.scans, &costs));
  /* A read (100 ns) costs more than the scans it saves. */
  tries_only_for_10ms(t);
  /* Dearer scans: every free reads again. */
  for (unsigned i = 0; i < KEEP_SCAN_WINDOW; i++) keep_scan_note(&rate.scans, 1000 + i);
  cr_assert_eq(keep_reset_scan_ns(&rate.scans, &costs), 1003);
  uint64_t r1 = reads();
  for (int i = 0; i < 10; i++) reset(3, t + 20000000);
  cr_assert_eq(reads() - r1, 10, "reads at every free did not come back");
  /* Regions all zeroed whole: the scans cost nothing, a learnt 0. */
  for (unsigned i = 0; i < KEEP_SCAN_WINDOW; i++) keep_scan_note(&rate.scans, 0);
  cr_assert_eq(keep_reset_scan_ns(&rate.scans, &costs), 0);
}

/* What zeroing a page costs the pool's resets: the measured memset_ns
 * until a window of timed restores completes, then its median per page;
 * a restore of fewer than KEEP_ZERO_PAGES_MIN pages is mostly the clock
 * reads and is not a sample. */
Test(proof_rate, zeroing_is_learnt_from_restores_of_enough_pages) {
  keep_estimate_t zeros;
  keep_estimate_init(&zeros);
  cr_assert_eq(keep_zero_ns(&zeros, &costs), costs.memset_ns);
  for (unsigned i = 0; i < 2 * KEEP_SCAN_WINDOW; i++) keep_zero_note(&zeros, 9000, 1);
  cr_assert_eq(keep_zero_ns(&zeros, &costs), costs.memset_ns, "one-page restores teach nothing");
  for (unsigned i = 0; i < KEEP_SCAN_WINDOW; i++)
    keep_zero_note(&zeros, (140 + i % 3) * KEEP_ZERO_PAGES_MIN, KEEP_ZERO_PAGES_MIN);
  cr_assert_eq(keep_zero_ns(&zeros, &costs), 141, "%llu",
               (unsigned long long)keep_zero_ns(&zeros, &costs));
}

/* Frees of one slot: `n` of them, a fault before each when `faults`;
 * how many were proved, and timed. */
static void frees(int n, bool faults, int *proved, int *timed) {
  *proved = *timed = 0;
  for (int i = 0; i < n; i++) {
    if (faults) fault();
    proof_t pr = proof_begin(&marks[7], &rate, 0, &costs, 0);
    proof_end(&marks[7], &pr, true);
    *proved += pr.proved;
    *timed += pr.timed;
  }
}

/* One scanned reset in KEEP_SCAN_SAMPLE is timed; where every reset
 * proves, one in KEEP_SCAN_PROVED scans anyway (not proved) and is timed,
 * so that what a proof saves stays learnt; none while a pin says it. */
Test(proof_rate, one_reset_in_a_sample_is_timed_and_a_proved_one_scans_for_it) {
  int proved, timed;
  /* Pinned: every free but the first proves (allow a stray fault of the
   * process), none is timed but a stray's. */
  frees(2 * KEEP_SCAN_PROVED + 1, false, &proved, &timed);
  cr_assert_geq(proved, 2 * KEEP_SCAN_PROVED - 2, "%d of %u proved", proved, 2 * KEEP_SCAN_PROVED);
  cr_assert_leq(timed, 2, "%d timed", timed);
  /* Scanned resets: any KEEP_SCAN_SAMPLE in a row time one. */
  frees(3 * KEEP_SCAN_SAMPLE, true, &proved, &timed);
  cr_assert_eq(proved, 0);
  cr_assert_eq(timed, 3, "%d of %u scanned resets timed", timed, 3 * KEEP_SCAN_SAMPLE);
}

Test(proof_rate, a_proved_reset_in_a_sample_scans_to_time_its_scans) {
  unsetenv("WPOOL_KEEP_SCAN_NS");
  uint64_t p0 = atomic_load(&rate.proved);
  int proved, timed;
  frees(4 * KEEP_SCAN_PROVED + 1, false, &proved, &timed);
  /* The first free leaves the record; a stray fault makes a free scan,
   * timed one in KEEP_SCAN_SAMPLE. */
  int scanned = 4 * KEEP_SCAN_PROVED + 1 - proved;
  cr_assert(scanned >= 1 + 4 && scanned <= 1 + 4 + 2, "%d frees scanned", scanned);
  cr_assert(timed >= 4 && timed <= 4 + 2, "%d timed", timed);
  cr_assert_eq(atomic_load(&rate.proved) - p0, (uint64_t)proved,
               "a free that scanned counted as proved");
}

/* A fault voids the record of the slot being reset and of each live
 * instance's: each of those resets scans instead of reading (here 1,000 -
 * 100 ns more). Nothing where nothing is proved or a read costs more than
 * the scans it saves. */
Test(proof_rate, a_fault_costs_each_live_instances_slot_a_scan_less_a_read) {
  cr_assert_eq(proof_fault_ns(&rate, &costs, 0), 900);
  cr_assert_eq(proof_fault_ns(&rate, &costs, 7), 8 * 900);
  cr_assert_eq(proof_fault_ns(&rate, &costs, UINT64_MAX), (1u << 16) * 900ull, "bounded");
  keep_costs_t dear = costs, none = costs;
  dear.count_ns = 1000, none.count_ns = 0;
  cr_assert_eq(proof_fault_ns(&rate, &dear, 7), 0, "a read costs what a scan saves");
  cr_assert_eq(proof_fault_ns(&rate, &none, 7), 0, "the count cannot be read");
}

/* Only where those resets would have proved otherwise: times the share
 * of resets that proved, at least an eighth. And once per fault: the
 * pages a tenant faults in together share it. */
Test(proof_rate, a_faults_cost_is_weighted_by_the_proofs_and_shared_by_its_pages) {
  atomic_store(&rate.share, PROOF_ONE / 2);
  cr_assert_eq(proof_fault_ns(&rate, &costs, 7), 8 * 900 / 2);
  atomic_store(&rate.share, 0);
  cr_assert_eq(proof_fault_ns(&rate, &costs, 7), 8 * 900 / 8, "at least an eighth");
  atomic_store(&rate.share, PROOF_ONE);
  for (int i = 0; i < 64; i++) proof_group_note(&rate, 10);
  uint32_t g = atomic_load(&rate.group); /* PROOF_GROUP_ONE-ths of a page */
  cr_assert(g >= 10 * PROOF_GROUP_ONE - 4 && g <= 10 * PROOF_GROUP_ONE + 3,
            "10 pages a faulting reset: %u", g);
  cr_assert_eq(proof_fault_ns(&rate, &costs, 7), 8 * 900 * PROOF_GROUP_ONE / g);
  proof_group_note(&rate, 0);
  cr_assert_eq(atomic_load(&rate.group), g, "a reset that faulted nothing in says nothing");
  for (int i = 0; i < 64; i++) proof_group_note(&rate, 1);
  g = atomic_load(&rate.group);
  cr_assert(g >= PROOF_GROUP_ONE - 4 && g <= PROOF_GROUP_ONE + 3, "a page a faulting reset: %u", g);
  cr_assert_geq(proof_fault_ns(&rate, &costs, 7), 8 * 900 * PROOF_GROUP_ONE / (PROOF_GROUP_ONE + 3),
                "a page at a time: all but a thirty-second");
}

Test(proof_rate, nothing_is_proved_when_scans_are_asked_for_always) {
  setenv("WPOOL_SCAN_ALWAYS", "1", 1);
  cr_assert_eq(proof_fault_ns(&rate, &costs, 7), 0);
}

/* The window counts what a fault costs besides itself: keeping a page
 * costs 40 + 50 / 16 = 43 ns a free here, faulting it in 1,000 ns. */
Test(proof_rate, the_window_counts_what_a_fault_costs_the_proofs) {
  cr_assert_eq(keep_judge(&costs, 0).window, 1000 / 43);
  cr_assert_eq(keep_judge(&costs, 8 * 900).window, (1000 + 8 * 900) / 43);
  cr_assert_eq(keep_judge(&costs, UINT64_MAX).window, KEEP_WINDOW_MAX, "saturates, no wrap");
  /* drop_min: one madvise (here none measured) over keeping for a window. */
  cr_assert_eq(keep_judge(&costs, 8 * 900).drop_min, 1);
  keep_costs_t flush = costs;
  flush.madvise_ns = 43 * 23 * 5;
  cr_assert_eq(keep_judge(&flush, 0).drop_min, 5);
}

Test(proof_rate, a_pinned_window_is_the_window_whatever_a_fault_costs) {
  setenv("WPOOL_KEEP_WINDOW", "5", 1);
  cr_assert_eq(keep_judge(&costs, 0).window, 5);
  cr_assert_eq(keep_judge(&costs, 8 * 900).window, 5);
}
