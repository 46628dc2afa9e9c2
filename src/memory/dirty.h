/* Which pages of a region hold private data: PAGEMAP_SCAN walks of
 * /proc/self/pagemap (Linux 6.7+), for resets that touch only what a
 * tenant left behind (docs/reset.md). Nothing else: what to do with the
 * pages is the caller's. A walk hands its runs back to the caller, call by
 * call (dirty_walk_next), and never calls anything of the caller's: a
 * reset reads from the top down. */
#ifndef WPOOL_DIRTY_H
#define WPOOL_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/os.h"

/* Runs asked of the kernel per call; a walk goes on until its range
 * ends, however many runs there are. */
#define DIRTY_RUNS_MAX 64
_Static_assert(DIRTY_RUNS_MAX <= OS_SCAN_RUNS_MAX, "one scan call reports at most OS_SCAN_RUNS_MAX");

typedef struct dirty_scanner {
  os_self_fd_t pagemap; /* /proc/self/pagemap of whichever process we are */
} dirty_scanner_t;

/* A run of pages holding private data: `off` in bytes from the start of
 * the walked region, `len` bytes, `swapped` (in swap, not in memory). The
 * os layer's record, its address made an offset in place. */
typedef os_page_run_t dirty_run_t;

/* A walk over [base, base + len), in address order. */
typedef struct dirty_walk {
  int fd;       /* the pagemap; -1 after a failure */
  int err;      /* opening it failed: -errno */
  uint8_t *base;
  uint64_t next, end; /* addresses: where the walk goes on, where it ends */
} dirty_walk_t;

void dirty_scanner_init(dirty_scanner_t *s);
void dirty_scanner_destroy(dirty_scanner_t *s);

/* Whether the kernel supports the scan, tried on `page`: 0, -ENOTSUP, or
 * another -errno (opening the pagemap failed). */
int dirty_scanner_probe(dirty_scanner_t *s, void *page);

void dirty_walk_start(dirty_walk_t *w, dirty_scanner_t *s, uint8_t *base, uint64_t len);
/* The next runs of the walk into runs[0, cap), cap <= DIRTY_RUNS_MAX (one
 * PAGEMAP_SCAN call). Return: how many, 0 when the walk is done, or -errno
 * (runs of earlier calls stand; the rest of the range is unknown). */
int dirty_walk_next(dirty_walk_t *w, dirty_run_t *runs, unsigned cap);

/* Bytes of private data in [base, base + len), or -errno. */
int64_t dirty_count(dirty_scanner_t *s, uint8_t *base, uint64_t len);

#endif
