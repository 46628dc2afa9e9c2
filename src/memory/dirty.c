/* PAGEMAP_SCAN walks (see dirty.h). */
#include "memory/dirty.h"

#include <errno.h>

#include "util/debug.h"

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

void dirty_walk_start(dirty_walk_t *w, dirty_scanner_t *s, uint8_t *base, uint64_t len) {
  *w = (dirty_walk_t){.base = base, .next = (uintptr_t)base, .end = (uintptr_t)base + len};
  w->err = os_self_fd_get(&s->pagemap, &w->fd);
  if (w->err) w->fd = -1;
}

int dirty_walk_next(dirty_walk_t *w, dirty_run_t *runs, unsigned cap) {
  debug_assert(cap > 0 && cap <= DIRTY_RUNS_MAX);
  if (w->err) return w->err;
  /* No cap on runs in all: the kernel stops when its vector is full and
   * says where; the next call goes on from there until the range ends. A
   * call may find nothing in a stretch and stop short: ask again. */
  while (w->next < w->end) {
    uint64_t walk_end = w->end;
    int n = os_pagemap_scan(w->fd, w->next, w->end, runs, cap, &walk_end);
    if (n < 0) return w->err = n;
    /* No progress should not happen: end the walk rather than spin. */
    w->next = walk_end > w->next ? walk_end : w->end;
    for (int i = 0; i < n; i++) runs[i].off -= (uintptr_t)w->base;
    if (n) return n;
  }
  return 0;
}

int64_t dirty_count(dirty_scanner_t *s, uint8_t *base, uint64_t len) {
  dirty_walk_t w;
  dirty_run_t runs[DIRTY_RUNS_MAX];
  int64_t bytes = 0;
  int n;
  dirty_walk_start(&w, s, base, len);
  while ((n = dirty_walk_next(&w, runs, DIRTY_RUNS_MAX)) > 0)
    for (int i = 0; i < n; i++) bytes += (int64_t)runs[i].len;
  return n < 0 ? n : bytes;
}
