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
 * costs.h), so such a page would cost more to keep than to fault in
 * again. Where resets are proved (proof.h), a fault costs the scans of
 * the resets whose records it voids besides: the caller counts them
 * (keep_pass_t.judge). (Telling takes window x KEEP_SAMPLE frees of its slot.) Such
 * pages are given back once enough of them share a call that its TLB
 * flush is paid for (drop_min), or with a call the free makes anyway.
 * Kept pages belong to their module: a slot taken by another module's
 * tenant gives them all back (memslot.c).
 *
 * The record: one byte per page per slot region (0: not kept; else 1 +
 * the reads in a row that found it clean), and a count of the region's
 * frees, owned by the slot's holder. Pages past KEEP_TRACK_BYTES are never
 * kept. A region without an image so small that zeroing all of it costs
 * less than one scan of it is zeroed whole and kept whole instead, priced
 * as the pool pays them (costs.h keep_zero_ns, keep_region_scan_ns); one
 * no longer worth it starts over (its pages given back, its marks
 * cleared).
 * docs/reset.md has the rule and its measurements.
 *
 * A free of a region reads as a plan and its application, like the other
 * resets (reset.h): keep_reset() starts a plan (zeroed whole or scanned;
 * which grown pages go back), takes the scan's runs (dirty.h) and, page by
 * page in one pass, plans the page's step (keep_plan_page: restore in
 * place, keep as it is, give back, or a candidate to drop, and the mark it
 * learns; it writes nothing, it only reads the page when its turn samples
 * it) and applies it (keep_apply: restores through region.h, gives back
 * through decommit.h, writes the marks); then it decides the candidates
 * (keep_plan_drops) and applies those steps. Each step is applied as it is
 * planned, not after the whole plan, so that the stores of a restore drain
 * while the next page is judged (17 isolated pages restored back to back
 * cost 1.7x as long here). Nothing calls back into this file. */
#ifndef WPOOL_KEEP_H
#define WPOOL_KEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/costs.h"
#include "memory/decommit.h"
#include "memory/dirty.h"
#include "memory/image.h"

/* Bytes from a region's base in which pages can be kept automatically. */
#define KEEP_TRACK_BYTES (16ull << 20)

/* A slot region's kept pages. */
typedef struct keep_marks {
  uint8_t *marks; /* [pages] 0: not kept; k > 0: kept, found clean at its last k - 1 reads */
  uint32_t pages; /* tracked pages */
  uint32_t frees; /* resets of the region: whose turn it is to be read */
  uint32_t since; /* resets since the marks were last cleared (saturating) */
  bool whole;     /* zeroed whole at its last reset (keep_plan_start) */
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
  uint64_t initial_bytes;  /* the tenant's first accessible size: pages past it, up to
                              writable_bytes, it grew into (writable_bytes: none) */
  const image_t *img;      /* the image mapped there, or NULL */
} keep_region_t;

typedef struct keep_result {
  uint64_t found_bytes;    /* private bytes the scan found */
  uint64_t kept_bytes;     /* resident after the reset, pristine */
  uint64_t resident_end;   /* end of the last kept page: nothing private past it */
  uint64_t restored_bytes; /* written back in place (memset or image copy) */
  uint64_t dropped_bytes;  /* kept before, given back now */
  uint64_t new_pages;      /* found private, not kept: faulted in during the tenancy,
                              where the marks were not cleared since the last reset */
  uint32_t scans;          /* PAGEMAP_SCAN walks made: 0 for a region zeroed whole */
} keep_result_t;

/* How the reset of a slot goes, for each of its regions: */
typedef struct keep_pass {
  bool proved;      /* its private pages are its kept pages (proof.h): no scan */
  bool timed;       /* time the scans (costs.h keep_scan_note) */
  bool warm;        /* walk each region once untimed first: a scan made seldom
                       (one proved reset in KEEP_SCAN_PROVED) finds the caches
                       cold, 2-3x dearer here than scans made at every free */
  uint64_t scan_ns; /* the scans' time so far, when timed */
  /* When timed, the restores of regions without an image so far: their
   * time and pages (costs.h keep_zero_note). */
  uint64_t zero_ns, zero_pages;
  /* The window and drop_min its pages are judged by, with what a fault
   * costs the pool's proofs (costs.h keep_judge); window 0: the costs'. */
  keep_judge_t judge;
  uint64_t faulted; /* pages its scans found faulted in during the tenancy, so far */
} keep_pass_t;

/* ---- the plan of one free ----------------------------------------------- */

typedef enum keep_op {
  KEEP_OP_KEEP = 0,      /* kept as it is: pristine */
  KEEP_OP_RESTORE = 1,   /* restored in place (zeros, or the image's bytes) and kept */
  KEEP_OP_GIVE_BACK = 2, /* given back (decommit.h) */
  KEEP_OP_LATER = 3,     /* a candidate to give back: keep_plan_drops decides */
} keep_op_t;

/* A step's marks after the free, for the tracked pages in it: a value
 * (0: not kept), or one of these. */
#define KEEP_MARK_SAME 0x100u /* as they are */
#define KEEP_MARK_HELD 0x101u /* at least 1: kept, whatever was learnt */

/* What a free does to a stretch of a region's pages. */
typedef struct keep_step {
  uint64_t off, len; /* bytes, whole pages */
  uint16_t mark;
  uint8_t op; /* keep_op_t */
} keep_step_t;

typedef struct keep_plan {
  /* What it decides by, fixed at its start. */
  const keep_region_t *r;
  const keep_marks_t *m;   /* read only: keep_apply writes the marks */
  uint64_t page;
  uint64_t give_back_from; /* grown pages at or past it go back (UINT64_MAX: none) */
  uint32_t reads;          /* the window: clean reads in a row that make a candidate */
  uint32_t drop_min;       /* candidates worth a call of their own */
  uint32_t frees, since;   /* the record's counts after this free */
  uint64_t zero_ns;        /* zeroing a page (keep_judge_t.zero_ns) */
  bool whole;              /* not scanned: zeroed whole (and kept), or started over */
  bool zeroed_whole;       /* zeroed whole and kept whole */
  bool timed;              /* time the restores where there is no image */
  uint64_t zeroed_ns, zeroed_pages; /* those restores' time and pages so far */
  bool dropped;            /* the candidates were given back */
  struct {
    uint32_t page;
    uint8_t mark;
    bool clean;
  } drops[KEEP_DROPS_MAX]; /* candidates: pages clean for a window */
  unsigned ndrops;
  uint64_t rs, re;   /* keep_apply: restores not made yet, [rs, re), made in one call */
  keep_result_t out; /* what the steps decided so far amount to */
} keep_plan_t;

/* Start the plan of a free of `r` by `m`, judged by `j` (NULL: the
 * costs' own keep_judge): whether the region is zeroed whole, starts over
 * (no longer worth zeroing whole: one step gives it back and clears its
 * marks) or is scanned, and which pages the tenant grew into go back
 * (costs.h). Not scanned (pl->whole), its steps are `whole` (at most 2):
 * return how many (0 for a region of no pages); scanned, 0. */
unsigned keep_plan_start(keep_plan_t *pl, const keep_region_t *r, const keep_marks_t *m,
                         const keep_costs_t *c, const keep_judge_t *j, keep_step_t whole[2]);
/* The step of the page at `p`, found holding private data (in swap:
 * `swapped`): restore in place, keep as it is, give back, or a candidate
 * to give back (LATER), and the mark it learns. Writes nothing; reads the
 * page when it is its turn to be read. */
keep_step_t keep_plan_page(keep_plan_t *pl, uint64_t p, bool swapped);
/* The candidates' steps, into steps[0, KEEP_DROPS_MAX): given back when
 * there are drop_min of them or when the free gives pages back anyway
 * (`giving_back`), else kept. Return how many. */
unsigned keep_plan_drops(keep_plan_t *pl, bool giving_back, keep_step_t *steps);
/* Carry a step out: restore (neighbouring ones in one call, made by the
 * next step that is not one or by keep_apply_end), give back into
 * `batch`, write its marks into `m` (the record the plan read). The
 * record's counts (frees, since) are keep_reset's to write, once. */
void keep_apply(keep_plan_t *pl, keep_marks_t *m, decommit_batch_t *batch, const keep_step_t *s);
void keep_apply_end(keep_plan_t *pl);

/* Reset `r` by the automatic keep set: start the plan; for each page of
 * the scan's runs (dirty.h), plan its step and apply it at once; then plan
 * and apply the candidates. One pass over the pages, each decided before
 * anything is done to it; nothing here is called back. With pass->proved
 * (proof.h: no page fault since the region's last reset), the region's
 * private pages are its kept pages: they are the runs, and nothing is
 * scanned; with pass->timed, the scan's calls are timed into
 * pass->scan_ns (costs.h). Return: 0, or the scan's -errno (with out->found_bytes 0,
 * nothing was done but counting the free: the caller falls back to the
 * prefix reset). */
int keep_reset(const keep_region_t *r, keep_marks_t *marks, dirty_scanner_t *scanner,
               keep_pass_t *pass, decommit_batch_t *batch, keep_result_t *out);

/* ---- the record ---------------------------------------------------------- */

/* Forget every kept page (they were given back). */
void keep_marks_clear(keep_marks_t *m);
/* Pages kept, by the marks: all, or those of pages [first, end). */
uint64_t keep_marks_count(const keep_marks_t *m);
uint64_t keep_marks_between(const keep_marks_t *m, uint64_t first, uint64_t end);

#endif
