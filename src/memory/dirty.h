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
  int fd;               /* -1 until opened */
  unsigned gen;         /* the fork generation fd belongs to */
} dirty_scanner_t;

/* Called for each run of dirty pages, in address order; offsets are bytes
 * from the start of the scanned region. */
typedef void (*dirty_run_fn)(void *ctx, uint64_t off, uint64_t len, bool swapped);

void dirty_scanner_init(dirty_scanner_t *s);
void dirty_scanner_destroy(dirty_scanner_t *s);

/* Whether the kernel supports the scan: 0, -ENOTSUP, or another -errno. */
int dirty_scanner_probe(dirty_scanner_t *s, void *page);

/* Report every dirty run of [base, base + len) to `fn`, walking the whole
 * range however many runs there are. Return the runs found, or -errno
 * (nothing was reported then... except runs before the failing call). */
int64_t dirty_scan(dirty_scanner_t *s, uint8_t *base, uint64_t len, dirty_run_fn fn, void *ctx);

#endif
