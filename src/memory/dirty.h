/* Finding the dirty pages of a region with PAGEMAP_SCAN, for resets that
 * touch only what a tenant left behind (docs/reset.md).
 *
 * A scanner holds a descriptor of /proc/self/pagemap. That file is per
 * process and a forked child inherits the descriptor of its parent's, so a
 * fork handler bumps a generation and the child's first scan reopens it. */
#ifndef WPOOL_DIRTY_H
#define WPOOL_DIRTY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/counters.h"
#include "memory/os.h"

typedef struct dirty_scanner {
  pthread_mutex_t lock; /* reopening */
  int fd;               /* /proc/self/pagemap; -1 until opened */
  unsigned gen;         /* the fork generation fd belongs to */
  int pidfd;            /* our own pidfd for process_madvise; -1 until opened */
  unsigned pidfd_gen;
  bool no_pmadv;        /* process_madvise refused MADV_DONTNEED: madvise per range */
} dirty_scanner_t;

/* Called for each run of dirty pages, in address order; offsets are bytes
 * from the start of the scanned region. */
typedef void (*dirty_run_fn)(void *ctx, uint64_t off, uint64_t len, bool swapped);

void dirty_scanner_init(dirty_scanner_t *s);
void dirty_scanner_destroy(dirty_scanner_t *s);

/* Whether the kernel supports the scan: 0, -ENOTSUP, or another -errno. */
int dirty_scanner_probe(dirty_scanner_t *s, void *page);

/* A batch of ranges to madvise(MADV_DONTNEED), issued with one
 * process_madvise call where the kernel takes it (one TLB flush for all),
 * else one madvise per range. A range the kernel refuses is given to
 * `on_fail`, which resets its bytes by hand; each range carries what that
 * needs: the base of its memory and the image mapped there (or NULL). */
#define DECOMMIT_BATCH 64
struct image;
typedef struct decommit_range {
  uint8_t *p;
  uint64_t len;
  uint8_t *base;           /* start of the memory (or table) the range is in */
  const struct image *img; /* the image mapped in that memory, or NULL */
} decommit_range_t;

typedef struct decommit_batch decommit_batch_t;
struct decommit_batch {
  dirty_scanner_t *self; /* its pidfd; NULL: madvise per range */
  struct mem_counters *counters;
  void (*on_fail)(decommit_batch_t *b, const decommit_range_t *r);
  decommit_range_t r[DECOMMIT_BATCH];
  unsigned n;
};

/* Add a range (merged with the previous one when they touch); a full batch
 * is issued first. */
void decommit_add(decommit_batch_t *b, uint8_t *p, uint64_t len, uint8_t *base,
                  const struct image *img);
/* Issue the batch and empty it. */
void decommit_flush(decommit_batch_t *b);

/* Report every dirty run of [base, base + len) to `fn`, walking the whole
 * range however many runs there are. Return the runs found, or -errno
 * (nothing was reported then... except runs before the failing call). */
int64_t dirty_scan(dirty_scanner_t *s, uint8_t *base, uint64_t len, dirty_run_fn fn, void *ctx);

#endif
