/* PAGEMAP_SCAN walks (see dirty.h). */
#include "memory/dirty.h"

#include <errno.h>

void dirty_scanner_init(dirty_scanner_t *s) { os_self_fd_init(&s->pagemap, os_pagemap_open_self); }

void dirty_scanner_destroy(dirty_scanner_t *s) { os_self_fd_destroy(&s->pagemap); }

int dirty_scanner_probe(dirty_scanner_t *s, void *page) {
  int fd;
  int err = os_self_fd_get(&s->pagemap, &fd);
  if (err) return err;
  os_page_run_t run;
  uint64_t end;
  int n = os_pagemap_scan(fd, (uintptr_t)page, (uintptr_t)page + os_page_size(), &run, 1, &end);
  if (n == -ENOTTY || n == -EINVAL || n == -ENOSYS) return -ENOTSUP;
  return n < 0 ? n : 0;
}

int64_t dirty_scan(dirty_scanner_t *s, uint8_t *base, uint64_t len, dirty_run_fn fn, void *ctx) {
  int fd;
  int err = os_self_fd_get(&s->pagemap, &fd);
  if (err) return err;
  uint64_t start = (uintptr_t)base, end = start + len;
  int64_t total = 0;
  os_page_run_t runs[DIRTY_RUNS_MAX];
  /* No cap on runs: the kernel stops when its vector is full and says
   * where; we go on from there until the whole range is walked. */
  while (start < end) {
    uint64_t walk_end = end;
    int n = os_pagemap_scan(fd, start, end, runs, DIRTY_RUNS_MAX, &walk_end);
    if (n < 0) return n;
    for (int i = 0; i < n; i++)
      fn(ctx, runs[i].start - (uintptr_t)base, runs[i].end - runs[i].start, runs[i].swapped != 0);
    total += n;
    if (walk_end <= start) break; /* no progress: should not happen */
    start = walk_end;
  }
  return total;
}
