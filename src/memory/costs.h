/* What the automatic keep set (keep.h) decides by: this machine's costs,
 * measured once per process, and what making kept pages inaccessible
 * costs, learnt from every shrink since. The only place besides public
 * entry points that reads the clock (util/clock.h): it times system calls
 * to learn what they cost here. */
#ifndef WPOOL_COSTS_H
#define WPOOL_COSTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/dirty.h"

/* The longest window, in tenants: a page's mark counts reads up to it. */
#define KEEP_WINDOW_MAX 254u
/* A kept page is read at one free in this many of its slot's. */
#define KEEP_SAMPLE 16u
/* Pages that stayed clean for a window wait for their call in an array of
 * this many; drop_min is at most this. */
#define KEEP_DROPS_MAX 64

/* This machine's costs, measured once per process (keep_costs()). */
typedef struct keep_costs {
  uint64_t fault_ns;   /* faulting in a zero page, per page */
  uint64_t check_ns;   /* reading a resident page to see whether it is pristine */
  uint64_t memset_ns;  /* zeroing a resident page */
  uint64_t scan_ns;    /* one PAGEMAP_SCAN call over 64 present pages (its system call) */
  uint64_t scan_base_ns; /* one PAGEMAP_SCAN call over one present page */
  uint64_t madvise_ns; /* one madvise(MADV_DONTNEED) of a resident page (its TLB flush) */
  uint64_t shrink_ns;  /* making a resident page inaccessible, per page: the first
                          estimate (keep_shrink_ns() follows what shrinks cost since) */
  uint64_t count_ns;   /* reading the process's page-fault count (proof.h); 0: it failed;
                          the first estimate (keep_count_ns() follows reads since) */
  uint32_t window;     /* fault / keep, in [1, KEEP_WINDOW_MAX]: tenants, where
                          keep = memset + check / KEEP_SAMPLE per free; a pool's
                          resets add what a fault costs its proofs (keep_judge) */
  uint32_t drop_min;   /* madvise / (keep x window), at least 1: pages worth one call */
} keep_costs_t;

/* What one PAGEMAP_SCAN call over a region of `pages` present pages
 * costs, ns: between the measured calls over one page and over 64, in
 * proportion (a walk's cost grows with the page-table entries it reads). */
uint64_t keep_region_scan_ns(const keep_costs_t *c, uint64_t pages);

/* The window and drop_min a reset judges by (keep.h), where a fault costs
 * `extra_ns` besides faulting the page in: what it costs the pool's
 * proofs (proof.h proof_fault_ns). WPOOL_KEEP_WINDOW and
 * WPOOL_KEEP_DROP_MIN pin them. */
typedef struct keep_judge {
  uint32_t window, drop_min;
  uint64_t zero_ns; /* zeroing a page (keep_zero_ns): what a region zeroed whole costs */
} keep_judge_t;
keep_judge_t keep_judge(const keep_costs_t *c, uint64_t extra_ns);

/* Measure (the first call, a few milliseconds; `scanner` times the scan)
 * or return the costs. The options table (util/options.h) may pin the
 * window and drop_min. */
const keep_costs_t *keep_costs(dirty_scanner_t *scanner);

/* Reading the process's fault count costs more with each of its threads
 * (getrusage sums over them: here 0.23 us with one, 1.2 us with 64, 17 us
 * with 1,000), and the first measurement may come before a server starts
 * its workers. So it is learnt, for the whole process (the threads are
 * the process's, not a pool's): callers time one read in
 * KEEP_COUNT_SAMPLE, and what a read costs is the least of each
 * KEEP_COUNT_WINDOW timed reads in turn (a read preempted on its way out
 * is not what reading costs: the least leaves it out). */
#define KEEP_COUNT_SAMPLE 16u
#define KEEP_COUNT_WINDOW 8u
/* Read the count (os_fault_count, the same arguments); with `timed`, time
 * the read and note it (keep_count_note). A read made seldom (a try's, not
 * one at every free) finds the caches cold: after a burst of faults, tries'
 * reads learnt 1.8-3 us against 0.27-0.30 us read at every free, and the
 * pool kept scanning once the faults had stopped. So with `warm`, a timed
 * read is made twice and the second is timed. */
int keep_count_read(uint64_t *faults, uint64_t *preempted, bool timed, bool warm);
/* A read that took `ns` (tests feed their own). */
void keep_count_note(uint64_t ns);
/* What a read costs now, ns: the last window's least, or c->count_ns
 * before a window is complete (0 where the count cannot be read:
 * c->count_ns 0). WPOOL_KEEP_COUNT_NS=N pins it from the first timed read
 * on. */
uint64_t keep_count_ns(const keep_costs_t *c);
/* Reads timed so far (tests). */
uint64_t keep_count_timed(void);

/* A cost a pool learns from its own resets: the median of each
 * KEEP_SCAN_WINDOW timed samples in turn (keep_scan_note, keep_zero_note). */
#define KEEP_SCAN_WINDOW 8u
typedef struct keep_estimate {
  _Atomic uint64_t estimate; /* ns, plus one; 0: none yet (keep_estimate_init) */
  _Atomic uint64_t samples[KEEP_SCAN_WINDOW];
  _Atomic uint32_t next; /* samples noted, modulo the window */
} keep_estimate_t;
void keep_estimate_init(keep_estimate_t *k);
/* A clock reading to time a scan or a restore from, when `timed`; else 0. */
uint64_t keep_time_start(bool timed);
/* The ns since `start` (0: nothing timed). */
uint64_t keep_time_stop(uint64_t start);

/* What a proof saves (proof.h) is the scans of one reset: of each of the
 * slot's memories and tables that is not zeroed whole. That depends on the
 * modules (their regions, how many runs their tenants leave) more than on
 * the one call over 64 touched pages measured at start (scan_ns: hello's
 * scans cost about a third of it here). So each pool learns it from its
 * resets' own scans (a pool of modules that scan nothing must not turn
 * another's proofs off): one scanned reset in KEEP_SCAN_SAMPLE of each
 * thread's is timed (keep_time_start/keep_time_stop around each
 * PAGEMAP_SCAN call, not the work on the pages found), and one proved
 * reset in KEEP_SCAN_PROVED of each thread's scans anyway to be timed
 * (keep_scan_sample), so that the estimate follows where every reset
 * proves. The estimate is the median of each KEEP_SCAN_WINDOW timed resets
 * in turn (preempted ones are left out; a reset whose regions were all
 * zeroed whole scanned nothing, and counts as 0). */
#define KEEP_SCAN_SAMPLE 16u
#define KEEP_SCAN_PROVED 128u
/* Whether this thread's reset, which `proved` or not, is timed, and
 * whether it scans (*scan): a proved one does at one in KEEP_SCAN_PROVED
 * of this thread's proved resets (none while WPOOL_KEEP_SCAN_NS pins the
 * estimate); one scanned reset in KEEP_SCAN_SAMPLE is timed. */
bool keep_scan_sample(bool proved, bool *scan);
/* A timed reset whose scans took `ns` (tests feed their own). */
void keep_scan_note(keep_estimate_t *k, uint64_t ns);
/* What the scans of one of the pool's resets cost now, ns: the last
 * window's median, or c->scan_ns before a window is complete;
 * WPOOL_KEEP_SCAN_NS=N pins it. */
uint64_t keep_reset_scan_ns(const keep_estimate_t *k, const keep_costs_t *c);

/* What zeroing a page costs a pool's resets decides whether a region
 * without an image is zeroed whole rather than scanned (keep.h). The
 * measured memset_ns zeroes 64 pages the measurement has just faulted in,
 * from the cache; a pool's resets zero pages its tenants left, often not
 * in the cache: 150 ns a page against 74 measured here, so a table of 20
 * pages was zeroed whole (1.5 us by the measurement, 3 us in fact) rather
 * than scanned (0.5 us and its 10 used pages). So each pool learns it
 * from the restores of its timed resets (the ones keep_scan_sample times)
 * in regions without an image: ns per page, from the calls that restored
 * KEEP_ZERO_PAGES_MIN or more pages (a page's is mostly the clock reads). */
#define KEEP_ZERO_PAGES_MIN 4u
/* A timed reset that restored `pages` pages without an image in `ns`
 * (tests feed their own). */
void keep_zero_note(keep_estimate_t *k, uint64_t ns, uint64_t pages);
/* What zeroing a page costs the pool's resets now, ns: the last window's
 * median, or c->memset_ns before a window is complete;
 * WPOOL_KEEP_ZERO_NS=N pins it. */
uint64_t keep_zero_ns(const keep_estimate_t *k, const keep_costs_t *c);

/* A smaller tenant makes the bytes it does not have inaccessible: an
 * mprotect of pages kept resident, whose TLB shoot-down costs whatever
 * this machine and its load make it (per page in a VM that flushes page by
 * page; more when other CPUs run the process). So it is learnt: every
 * shrink over kept pages reports its time (keep_shrink_done), and
 * keep_shrink_ns() is the running estimate per page, starting from the
 * measured one. WPOOL_KEEP_SHRINK_NS=N pins it. */
typedef struct keep_shrink_timer {
  uint64_t start_ns, pages;
} keep_shrink_timer_t;
/* Time a shrink over `pages` kept pages (0: none, nothing timed): start
 * just before its mprotect, done after it succeeded; done reports the
 * time to keep_shrink_note. */
keep_shrink_timer_t keep_shrink_start(uint64_t pages);
void keep_shrink_done(keep_shrink_timer_t t);
/* Learn from a shrink of `pages` kept pages that took `ns` (tests feed it
 * their own times). */
void keep_shrink_note(uint64_t ns, uint64_t pages);
uint64_t keep_shrink_ns(void);

/* Whether `pages` kept past a tenant's initial size (its module's minimum:
 * pages it grew into) cost more to make inaccessible again at the next
 * instantiation than to give back at this free and fault in when a tenant
 * grows again: pages x shrink > pages x fault + one madvise. At one free
 * in KEEP_SAMPLE of the slot (`frees`) the answer is no, so that shrinks
 * keep being measured. */
bool keep_give_back_grown(uint64_t pages, uint32_t frees);

#endif
