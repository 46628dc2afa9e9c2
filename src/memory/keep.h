/* The automatic keep set (WPOOL_KEEP_AUTO, the default budget): which pages
 * of a slot region a reset keeps resident, restored in place, and which it
 * gives back. A page is kept while its module's tenants need it: it was
 * needed (written, or faulted in) at one of the module's last `window`
 * frees, where window = the cost of a page fault over the cost of keeping
 * a page (checking it, and restoring it when written), both measured on
 * this machine (keep_costs). So pages a module's tenants write stay
 * resident and fault no more; pages they stopped writing are given back
 * after `window` frees; and a page kept but left clean costs a read, not a
 * write.
 *
 * Two records: the module's history (one epoch per page: when a tenant of
 * the module last needed it; shared by the module's slots, updated with
 * relaxed atomics) and the slot's kept bits (which pages its last reset
 * kept; owned by the slot's holder). Pages past KEEP_TRACK_BYTES are never
 * kept. docs/reset.md has the rule and its measurements. */
#ifndef WPOOL_KEEP_H
#define WPOOL_KEEP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/counters.h"
#include "memory/decommit.h"
#include "memory/dirty.h"
#include "memory/image.h"

/* Bytes from a region's base in which pages can be kept automatically. */
#define KEEP_TRACK_BYTES (64ull << 20)
/* The longest window, in frees: a page needed less often than once in this
 * many frees is never worth its keeping, whatever faults cost. */
#define KEEP_WINDOW_MAX 64u

/* This machine's costs, measured once per process (keep_costs()). */
typedef struct keep_costs {
  uint64_t fault_ns; /* faulting in a zero page, per page */
  uint64_t check_ns; /* reading a resident page to see whether it is pristine */
  uint64_t memset_ns; /* zeroing a resident page */
  uint32_t window;   /* fault / (check + memset / 2), in [1, KEEP_WINDOW_MAX] */
} keep_costs_t;

/* Measure (the first call, about a millisecond) or return the costs. */
const keep_costs_t *keep_costs(void);

/* A module's history of one region. */
typedef struct keep_history {
  _Atomic uint32_t epoch; /* frees of the module's tenants, counted from 1 */
  uint32_t pages;         /* tracked pages */
  _Atomic uint16_t *last; /* [pages] the epoch (mod 2^16) a tenant last needed the page */
} keep_history_t;

/* Allocate the history of a region of `bytes` (pages past the tracked
 * bytes are not tracked). Return: 0 or -ENOMEM. */
int keep_history_init(keep_history_t *h, uint64_t bytes, uint64_t page);
void keep_history_destroy(keep_history_t *h);

/* A slot region's kept pages. */
typedef struct keep_bits {
  uint64_t *bits; /* [words] page p kept <=> bit p */
  uint32_t pages; /* tracked pages */
} keep_bits_t;

/* Words of bits for a region of `bytes`. */
static inline uint64_t keep_words(uint64_t bytes, uint64_t page) {
  uint64_t b = bytes < KEEP_TRACK_BYTES ? bytes : KEEP_TRACK_BYTES;
  return (b / page + 63) / 64;
}

typedef struct keep_region {
  uint8_t *base;
  uint64_t scan_bytes;     /* where private pages may be resident: [0, scan_bytes) */
  uint64_t writable_bytes; /* [0, writable_bytes) may be read and written; the rest is
                              PROT_NONE and pristine (given up by a shrink) */
  const image_t *img;      /* the image mapped there, or NULL */
} keep_region_t;

typedef struct keep_result {
  uint64_t found_bytes;    /* private bytes the scan found */
  uint64_t kept_bytes;     /* resident after the reset, pristine */
  uint64_t resident_end;   /* end of the last kept page: nothing private past it */
  uint64_t restored_bytes; /* written back in place (memset or image copy) */
  uint64_t dropped_bytes;  /* kept before, given back now (not needed for `window` frees) */
} keep_result_t;

/* Reset `r` by the automatic keep set: scan its private pages; each kept
 * page that is still pristine stays as it is, each written page is
 * restored in place while its module needs it, and every other page goes
 * to `batch` to be given back. Updates `h` and `bits`. Return: 0, or the
 * scan's -errno (nothing done then: the caller falls back). */
int keep_reset(const keep_region_t *r, keep_history_t *h, keep_bits_t *bits,
               dirty_scanner_t *scanner, decommit_batch_t *batch, keep_result_t *out);

/* Forget every kept page (they were given back). */
void keep_bits_clear(keep_bits_t *bits);
/* Pages kept, by the bits. */
uint64_t keep_bits_count(const keep_bits_t *bits);

#endif
