/* This machine's costs and what shrinks cost since (see costs.h). */
#include "memory/costs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "memory/os.h"
#include "memory/pages.h"
#include "memory/region.h"
#include "util/clock.h"
#include "util/options.h"

/* ---- this machine's costs --------------------------------------------------- */

enum { MEASURE_PAGES = 64, MEASURE_ROUNDS = 3, SHRINK_PAGES = 16 };

static keep_costs_t costs;
static pthread_once_t costs_once = PTHREAD_ONCE_INIT;
static _Atomic(dirty_scanner_t *) costs_scanner; /* the first caller's, for the measurement */
static _Atomic uint64_t shrink_estimate; /* ns per page: keep_shrink_ns() */
static uint64_t shrink_pinned;           /* WPOOL_KEEP_SHRINK_NS, or 0 */
static uint64_t shrink_call_ns;          /* an mprotect over no resident page */

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void measure(void) {
  /* Used when the scratch mapping cannot be had: a bare-metal guess. */
  costs = (keep_costs_t){.fault_ns = 1000, .check_ns = 100, .memset_ns = 100};
  uint64_t page = os_page_size(), len = MEASURE_PAGES * page;
  uint8_t *b;
  if (pages_reserve(len, true, &b) == 0) {
    uint64_t fault = UINT64_MAX, check = UINT64_MAX, zero = UINT64_MAX, scan = UINT64_MAX,
             advise = UINT64_MAX, shrink = UINT64_MAX, shrink_call = UINT64_MAX,
             count = UINT64_MAX, scan_base = UINT64_MAX;
    volatile bool sink = false;
    for (int round = 0; round < MEASURE_ROUNDS; round++) {
      if (os_madvise(b, len, MADV_DONTNEED) != 0) break;
      uint64_t t0 = clock_now_ns();
      for (uint64_t i = 0; i < len; i += page) ((volatile uint8_t *)b)[i] = 1;
      uint64_t t1 = clock_now_ns();
      for (uint64_t i = 0; i < len; i += page) memset(b + i, 0, page);
      uint64_t t2 = clock_now_ns();
      for (uint64_t i = 0; i < len; i += page) sink |= region_pristine(b, NULL, i, page);
      uint64_t t3 = clock_now_ns();
      dirty_scanner_t *scanner = atomic_load_explicit(&costs_scanner, memory_order_relaxed);
      if (scanner && dirty_count(scanner, b, len) >= 0)
        scan = min_u64(scan, clock_now_ns() - t3);
      uint64_t t3b = clock_now_ns();
      if (scanner && dirty_count(scanner, b + len - page, page) >= 0)
        scan_base = min_u64(scan_base, clock_now_ns() - t3b);
      uint64_t t4 = clock_now_ns(), faults;
      if (os_fault_count(&faults, NULL) == 0) count = min_u64(count, clock_now_ns() - t4);
      t4 = clock_now_ns();
      if (os_madvise(b, page, MADV_DONTNEED) == 0) advise = min_u64(advise, clock_now_ns() - t4);
      /* A shrink of the size of a wasm page (16 host pages of 4 KiB), over
       * resident pages and over pages not resident: the difference is
       * what a resident page adds (its TLB flush), the rest the call's
       * own cost, paid whether the pages were kept or given back. */
      uint8_t *full = b + page, *empty = b + (1 + SHRINK_PAGES) * page;
      if (os_madvise(empty, SHRINK_PAGES * page, MADV_DONTNEED) != 0) break;
      uint64_t t5 = clock_now_ns();
      if (pages_protect(full, SHRINK_PAGES * page, false) != 0) break;
      uint64_t t6 = clock_now_ns();
      if (pages_protect(empty, SHRINK_PAGES * page, false) != 0) break;
      uint64_t t7 = clock_now_ns();
      if (pages_protect(full, 2 * SHRINK_PAGES * page, true) != 0) break;
      shrink_call = min_u64(shrink_call, t7 - t6);
      shrink = min_u64(shrink, (t6 - t5) > (t7 - t6) ? (t6 - t5 - (t7 - t6)) / SHRINK_PAGES : 0);
      fault = min_u64(fault, (t1 - t0) / MEASURE_PAGES);
      zero = min_u64(zero, (t2 - t1) / MEASURE_PAGES);
      check = min_u64(check, (t3 - t2) / MEASURE_PAGES);
    }
    (void)sink;
    pages_unreserve(b, len);
    if (fault != UINT64_MAX)
      costs = (keep_costs_t){.fault_ns = fault, .check_ns = check ? check : 1,
                             .memset_ns = zero ? zero : 1,
                             .scan_ns = scan != UINT64_MAX ? scan : 0,
                             .scan_base_ns = scan != UINT64_MAX && scan_base != UINT64_MAX
                                                 ? min_u64(scan_base, scan)
                                                 : 0,
                             .madvise_ns = advise != UINT64_MAX ? advise : 0,
                             .shrink_ns = shrink != UINT64_MAX ? shrink : 0,
                             .count_ns = count != UINT64_MAX ? (count ? count : 1) : 0};
    shrink_call_ns = shrink_call != UINT64_MAX ? shrink_call : 0;
  }
  shrink_pinned = option_get(OPTION_KEEP_SHRINK_NS);
  costs.shrink_ns = shrink_pinned ? shrink_pinned : costs.shrink_ns;
  atomic_store_explicit(&shrink_estimate, costs.shrink_ns, memory_order_relaxed);
  keep_judge_t j = keep_judge(&costs, 0);
  costs.window = j.window;
  costs.drop_min = j.drop_min;
}

uint64_t keep_region_scan_ns(const keep_costs_t *c, uint64_t pages) {
  if (pages >= MEASURE_PAGES) return c->scan_ns * min_u64(pages, 1u << 20) / MEASURE_PAGES;
  if (!c->scan_base_ns) return c->scan_ns;
  return c->scan_base_ns + (c->scan_ns - c->scan_base_ns) * pages / MEASURE_PAGES;
}

keep_judge_t keep_judge(const keep_costs_t *c, uint64_t extra_ns) {
  /* Keeping a page costs a zeroing at most frees of its slot and a read
   * at one in KEEP_SAMPLE; giving it back costs a fault when a tenant
   * needs it again, and what that fault costs besides. */
  uint64_t keep = c->memset_ns + c->check_ns / KEEP_SAMPLE;
  uint64_t fault = c->fault_ns + min_u64(extra_ns, UINT64_MAX - c->fault_ns);
  uint64_t w = fault / (keep ? keep : 1);
  /* For experiments and tests: the window chosen by hand, whatever the
   * costs (util/options.h). */
  if (option_get(OPTION_KEEP_WINDOW)) w = option_get(OPTION_KEEP_WINDOW);
  keep_judge_t j = {.window = (uint32_t)(w < 1 ? 1 : w > KEEP_WINDOW_MAX ? KEEP_WINDOW_MAX : w),
                    .zero_ns = c->memset_ns};
  /* A call that gives pages back pays a TLB flush: worth it once the
   * checks it saves over a window pay for it. */
  uint64_t d = option_get(OPTION_KEEP_DROP_MIN);
  if (!d) d = c->madvise_ns / ((keep ? keep : 1) * j.window);
  j.drop_min = (uint32_t)(d < 1 ? 1 : d > KEEP_DROPS_MAX ? KEEP_DROPS_MAX : d);
  return j;
}

const keep_costs_t *keep_costs(dirty_scanner_t *scanner) {
  /* The first scanner offered times the scan (any would do). */
  dirty_scanner_t *none = NULL;
  if (scanner && !atomic_load_explicit(&costs_scanner, memory_order_relaxed)) /* every free asks */
    atomic_compare_exchange_strong_explicit(&costs_scanner, &none, scanner, memory_order_relaxed,
                                            memory_order_relaxed);
  pthread_once(&costs_once, measure);
  return &costs;
}

/* ---- reading the fault count ------------------------------------------------ */

static _Atomic uint64_t count_estimate;           /* 0: none yet */
static _Atomic uint64_t count_least = UINT64_MAX; /* of the current window */
static _Atomic uint32_t count_window;             /* timed reads in it */
static _Atomic uint64_t count_timed;              /* timed reads, in all */

int keep_count_read(uint64_t *faults, uint64_t *preempted, bool timed, bool warm) {
  if (!timed) return os_fault_count(faults, preempted);
  if (warm) {
    int err = os_fault_count(faults, preempted);
    if (err) return err;
  }
  uint64_t t0 = clock_now_ns();
  int err = os_fault_count(faults, preempted);
  if (!err) keep_count_note(clock_now_ns() - t0);
  return err;
}

void keep_count_note(uint64_t ns) {
  /* Relaxed: racing notes lose a sample, no more; the one that completes
   * a window publishes its least and starts the next. */
  atomic_fetch_add_explicit(&count_timed, 1, memory_order_relaxed);
  uint64_t pinned = option_get(OPTION_KEEP_COUNT_NS);
  if (pinned) {
    atomic_store_explicit(&count_estimate, pinned, memory_order_relaxed);
    return;
  }
  uint64_t least = atomic_load_explicit(&count_least, memory_order_relaxed);
  if (ns < least) atomic_store_explicit(&count_least, least = ns, memory_order_relaxed);
  if (atomic_fetch_add_explicit(&count_window, 1, memory_order_relaxed) + 1 != KEEP_COUNT_WINDOW)
    return;
  atomic_store_explicit(&count_estimate, least ? least : 1, memory_order_relaxed);
  atomic_store_explicit(&count_least, UINT64_MAX, memory_order_relaxed);
  atomic_store_explicit(&count_window, 0, memory_order_relaxed);
}

uint64_t keep_count_ns(const keep_costs_t *c) {
  uint64_t ns = atomic_load_explicit(&count_estimate, memory_order_relaxed);
  return ns && c->count_ns ? ns : c->count_ns;
}

uint64_t keep_count_timed(void) { return atomic_load_explicit(&count_timed, memory_order_relaxed); }

/* ---- what a reset's scans cost ----------------------------------------------- */

/* The estimate is kept plus one, so that 0 (no estimate yet) is apart
 * from a learnt 0 (regions all zeroed whole). */
void keep_estimate_init(keep_estimate_t *k) {
  atomic_init(&k->estimate, 0);
  for (unsigned i = 0; i < KEEP_SCAN_WINDOW; i++) atomic_init(&k->samples[i], 0);
  atomic_init(&k->next, 0);
}

uint64_t keep_time_start(bool timed) { return timed ? clock_now_ns() : 0; }

uint64_t keep_time_stop(uint64_t start) { return start ? clock_now_ns() - start : 0; }

/* A sample of `k`, or `pinned` (0: none) as the estimate. */
static void estimate_note(keep_estimate_t *k, uint64_t ns, uint64_t pinned) {
  /* Relaxed: racing notes may mix two windows or lose a sample, no more;
   * the one that completes a window publishes its median. */
  if (pinned) {
    atomic_store_explicit(&k->estimate, pinned + 1, memory_order_relaxed);
    return;
  }
  uint32_t i = atomic_fetch_add_explicit(&k->next, 1, memory_order_relaxed);
  atomic_store_explicit(&k->samples[i % KEEP_SCAN_WINDOW], ns, memory_order_relaxed);
  if ((i + 1) % KEEP_SCAN_WINDOW) return;
  uint64_t v[KEEP_SCAN_WINDOW];
  for (unsigned n = 0; n < KEEP_SCAN_WINDOW; n++) {
    uint64_t x = atomic_load_explicit(&k->samples[n], memory_order_relaxed);
    unsigned j = n;
    for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
    v[j] = x;
  }
  uint64_t median = (v[KEEP_SCAN_WINDOW / 2 - 1] + v[KEEP_SCAN_WINDOW / 2]) / 2;
  atomic_store_explicit(&k->estimate, median + 1, memory_order_relaxed);
}

/* The estimate; before a window completed, `option`'s pin or `measured`.
 * One load at every free once one has (a pin is applied then). */
static uint64_t estimate_get(const keep_estimate_t *k, option_t option, uint64_t measured) {
  uint64_t ns = atomic_load_explicit(&k->estimate, memory_order_relaxed);
  if (ns) return ns - 1;
  uint64_t pinned = option_get(option);
  return pinned ? pinned : measured;
}

bool keep_scan_sample(bool proved, bool *scan) {
  static _Thread_local uint32_t scanned, proofs; /* this thread's resets of each kind */
  *scan = !proved;
  if (!proved) return scanned++ % KEEP_SCAN_SAMPLE == 0;
  if (++proofs % KEEP_SCAN_PROVED || option_get(OPTION_KEEP_SCAN_NS)) return false;
  return *scan = true;
}

void keep_scan_note(keep_estimate_t *k, uint64_t ns) {
  estimate_note(k, ns, option_get(OPTION_KEEP_SCAN_NS));
}

uint64_t keep_reset_scan_ns(const keep_estimate_t *k, const keep_costs_t *c) {
  return estimate_get(k, OPTION_KEEP_SCAN_NS, c->scan_ns);
}

void keep_zero_note(keep_estimate_t *k, uint64_t ns, uint64_t pages) {
  if (pages >= KEEP_ZERO_PAGES_MIN)
    estimate_note(k, ns / pages ? ns / pages : 1, option_get(OPTION_KEEP_ZERO_NS));
}

uint64_t keep_zero_ns(const keep_estimate_t *k, const keep_costs_t *c) {
  return estimate_get(k, OPTION_KEEP_ZERO_NS, c->memset_ns);
}

/* ---- shrinks ------------------------------------------------------------------ */

keep_shrink_timer_t keep_shrink_start(uint64_t pages) {
  return (keep_shrink_timer_t){.start_ns = pages ? clock_now_ns() : 0, .pages = pages};
}

void keep_shrink_done(keep_shrink_timer_t t) {
  if (t.pages) keep_shrink_note(clock_now_ns() - t.start_ns, t.pages);
}

void keep_shrink_note(uint64_t ns, uint64_t pages) {
  if (!pages || shrink_pinned) return;
  /* Per resident page: the call's own cost is paid anyway. A sample is
   * worth at most 4 faults, so that one preemption between the clock
   * reads does not decide for the next hundred shrinks. A running average
   * over about the last 8 shrinks, so that load that comes and goes moves
   * it; racing updates lose a sample, no more. */
  uint64_t s = (ns > shrink_call_ns ? ns - shrink_call_ns : 0) / pages;
  uint64_t cap = 4 * costs.fault_ns;
  if (s > cap) s = cap;
  uint64_t e = atomic_load_explicit(&shrink_estimate, memory_order_relaxed);
  atomic_store_explicit(&shrink_estimate, (7 * e + s) / 8, memory_order_relaxed);
}

uint64_t keep_shrink_ns(void) { return atomic_load_explicit(&shrink_estimate, memory_order_relaxed); }

bool keep_give_back_grown(uint64_t pages, uint32_t frees) {
  if (!pages || frees % KEEP_SAMPLE == 0) return false;
  const keep_costs_t *c = keep_costs(NULL);
  return pages * keep_shrink_ns() > pages * c->fault_ns + c->madvise_ns;
}
