/* Which pages of a region hold private data: PAGEMAP_SCAN walks of
 * /proc/self/pagemap (Linux 6.7+), for resets that touch only what a
 * tenant left behind (docs/reset.md). Nothing else: what to do with the
 * pages is the caller's (memslot.c). */
#ifndef WPOOL_DIRTY_H
#define WPOOL_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/os.h"

/* Runs asked of the kernel per call; the walk goes on until the range
 * ends, however many runs there are. */
#define DIRTY_RUNS_MAX 64
_Static_assert(DIRTY_RUNS_MAX <= OS_SCAN_RUNS_MAX, "one scan call reports at most OS_SCAN_RUNS_MAX");

typedef struct dirty_scanner {
  os_self_fd_t pagemap; /* /proc/self/pagemap of whichever process we are */
} dirty_scanner_t;

/* Called for each run of dirty pages, in address order; offsets are bytes
 * from the start of the scanned region. */
typedef void (*dirty_run_fn)(void *ctx, uint64_t off, uint64_t len, bool swapped);

void dirty_scanner_init(dirty_scanner_t *s);
void dirty_scanner_destroy(dirty_scanner_t *s);

/* Whether the kernel supports the scan, tried on `page`: 0, -ENOTSUP, or
 * another -errno (opening the pagemap failed). */
int dirty_scanner_probe(dirty_scanner_t *s, void *page);

/* Report every dirty run of [base, base + len) to `fn`, walking the whole
 * range. Return the runs found, or -errno; on failure runs before the
 * failing call have been reported. */
int64_t dirty_scan(dirty_scanner_t *s, uint8_t *base, uint64_t len, dirty_run_fn fn, void *ctx);

#endif
