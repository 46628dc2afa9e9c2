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
 * else one madvise per range. */
#define DECOMMIT_BATCH 64
typedef struct decommit_batch {
  dirty_scanner_t *self;
  uint8_t *base[DECOMMIT_BATCH];
  uint64_t len[DECOMMIT_BATCH];
  unsigned n;
} decommit_batch_t;

/* Issue the batch. Ranges the kernel refused are given to `failed_fn`
 * (which resets them by hand); return the number of system calls made. */
unsigned decommit_flush(decommit_batch_t *b, void (*failed_fn)(void *ctx, uint8_t *p, uint64_t len),
                        void *ctx);

/* Report every dirty run of [base, base + len) to `fn`, walking the whole
 * range however many runs there are. Return the runs found, or -errno
 * (nothing was reported then... except runs before the failing call). */
int64_t dirty_scan(dirty_scanner_t *s, uint8_t *base, uint64_t len, dirty_run_fn fn, void *ctx);

#endif
