/* The automatic keep set (WPOOL_KEEP_AUTO, the default budget): which pages
 * of a slot region a reset keeps resident, restored in place, and which it
 * gives back.
 *
 * A page a tenant needed (wrote, or faulted in) stays resident and is
 * restored in place at every free of its slot. Whether a kept page is
 * still being written is learnt by reading it, but reading a page costs
 * more than zeroing it (a zeroing stores whole cache lines without
 * reading them), so each kept page is read at one free in KEEP_SAMPLE of
 * its slot, in turn, and restored blind at the others. Each read is one
 * draw of "did this tenant write it": a page found clean at `window`
 * reads in a row is written by fewer than about one tenant in `window`,
 * and is no longer worth its keeping: window = the cost of a page fault
 * over the cost of keeping the page (both measured on this machine:
 * keep_costs), so such a page would cost more to keep than to fault in
 * again. (Telling takes window x KEEP_SAMPLE frees of its slot.) Such pages are given back once enough of them
 * share a call that its TLB flush is paid for (drop_min), or with a call
 * the free makes anyway. Kept pages belong to their module: a slot taken
 * by another module's tenant gives them all back (memslot.c).
 *
 * The record: one byte per page per slot region (0: not kept; else 1 +
 * the reads in a row that found it clean), and a count of the region's
 * frees, owned by the slot's holder. Pages past
 * KEEP_TRACK_BYTES are never kept. A region without an image so small that
 * zeroing all of it costs less than one scan is zeroed whole and kept whole
 * instead. docs/reset.md has the rule and its measurements. */
#ifndef WPOOL_KEEP_H
#define WPOOL_KEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/counters.h"
#include "memory/decommit.h"
#include "memory/dirty.h"
#include "memory/image.h"

/* Bytes from a region's base in which pages can be kept automatically. */
#define KEEP_TRACK_BYTES (16ull << 20)
/* The longest window, in tenants: a page's mark counts reads up to it. */
#define KEEP_WINDOW_MAX 254u
/* A kept page is read at one free in this many of its slot's. */
#define KEEP_SAMPLE 16u

/* This machine's costs, measured once per process (keep_costs()). */
typedef struct keep_costs {
  uint64_t fault_ns;   /* faulting in a zero page, per page */
  uint64_t check_ns;   /* reading a resident page to see whether it is pristine */
  uint64_t memset_ns;  /* zeroing a resident page */
  uint64_t scan_ns;    /* one PAGEMAP_SCAN call over a small region (its system call) */
  uint64_t madvise_ns; /* one madvise(MADV_DONTNEED) of a resident page (its TLB flush) */
  uint64_t shrink_ns;  /* making a resident page inaccessible, per page: the first
                          estimate (keep_shrink_ns() follows what shrinks cost since) */
  uint32_t window;     /* fault / keep, in [1, KEEP_WINDOW_MAX]: tenants, where
                          keep = memset + check / KEEP_SAMPLE per free */
  uint32_t drop_min;   /* madvise / (keep x window), at least 1: pages worth one call */
} keep_costs_t;

/* Measure (the first call, a few milliseconds; `scanner` times the scan)
 * or return the costs. */
const keep_costs_t *keep_costs(dirty_scanner_t *scanner);

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

/* A slot region's kept pages. */
typedef struct keep_marks {
  uint8_t *marks; /* [pages] 0: not kept; k > 0: kept, found clean at its last k - 1 reads */
  uint32_t pages; /* tracked pages */
  uint32_t frees; /* resets of the region: whose turn it is to be read */
  uint32_t since; /* resets since the marks were last cleared (saturating) */
} keep_marks_t;

/* Pages tracked in a region of `bytes`. */
static inline uint32_t keep_pages(uint64_t bytes, uint64_t page) {
  return (uint32_t)((bytes < KEEP_TRACK_BYTES ? bytes : KEEP_TRACK_BYTES) / page);
}

typedef struct keep_region {
  uint8_t *base;
  uint64_t scan_bytes;     /* where private pages may be resident: [0, scan_bytes) */
  uint64_t writable_bytes; /* [0, writable_bytes) may be read and written; the rest is
                              PROT_NONE and pristine (given up by a shrink) */
  const image_t *img;      /* the image mapped there, or NULL */
  uint64_t give_back_from; /* pages at or past it are given back, not kept (UINT64_MAX: none) */
} keep_region_t;

typedef struct keep_result {
  uint64_t found_bytes;    /* private bytes the scan found */
  uint64_t kept_bytes;     /* resident after the reset, pristine */
  uint64_t resident_end;   /* end of the last kept page: nothing private past it */
  uint64_t restored_bytes; /* written back in place (memset or image copy) */
  uint64_t dropped_bytes;  /* kept before, given back now (clean for a window) */
  uint32_t scans;          /* PAGEMAP_SCAN walks made: 0 for a region zeroed whole */
} keep_result_t;

/* Reset `r` by the automatic keep set: scan its private pages; each kept
 * page that is still pristine stays as it is, each written page is
 * restored in place and kept, and every other page goes to `batch` to be
 * given back. Updates `marks`. Return: 0, or the scan's -errno (nothing
 * done then: the caller falls back). */
int keep_reset(const keep_region_t *r, keep_marks_t *marks, dirty_scanner_t *scanner,
               decommit_batch_t *batch, keep_result_t *out);

/* Forget every kept page (they were given back). */
void keep_marks_clear(keep_marks_t *m);
/* Pages kept, by the marks: all, or those of pages [first, end). */
uint64_t keep_marks_count(const keep_marks_t *m);
uint64_t keep_marks_between(const keep_marks_t *m, uint64_t first, uint64_t end);

#endif
