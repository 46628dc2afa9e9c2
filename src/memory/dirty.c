#include "memory/dirty.h"

#include <errno.h>
#include <stdatomic.h>

static _Atomic unsigned fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) {
  atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, on_fork_child); }

void dirty_scanner_init(dirty_scanner_t *s) {
  pthread_once(&atfork_once, register_atfork);
  pthread_mutex_init(&s->lock, NULL);
  s->fd = -1;
  s->gen = 0;
}

void dirty_scanner_destroy(dirty_scanner_t *s) {
  if (s->fd >= 0) os_close(s->fd);
  pthread_mutex_destroy(&s->lock);
}

/* This process's pagemap descriptor, (re)opened after a fork. */
static int scanner_fd(dirty_scanner_t *s, int *fd) {
  unsigned gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
  int f = __atomic_load_n(&s->fd, __ATOMIC_ACQUIRE);
  if (f >= 0 && __atomic_load_n(&s->gen, __ATOMIC_RELAXED) == gen) {
    *fd = f;
    return 0;
  }
  int err = 0;
  pthread_mutex_lock(&s->lock);
  if (s->fd < 0 || s->gen != gen) {
    /* The parent's descriptor, if any, is closed in the child only: it is
     * the child's copy of it. */
    if (s->fd >= 0) os_close(s->fd);
    __atomic_store_n(&s->fd, -1, __ATOMIC_RELEASE);
    int nf;
    err = os_open_read("/proc/self/pagemap", &nf);
    if (!err) {
      __atomic_store_n(&s->gen, gen, __ATOMIC_RELAXED);
      __atomic_store_n(&s->fd, nf, __ATOMIC_RELEASE);
    }
  }
  *fd = s->fd;
  pthread_mutex_unlock(&s->lock);
  return err;
}

int dirty_scanner_probe(dirty_scanner_t *s, void *page) {
  int fd;
  int err = scanner_fd(s, &fd);
  if (err) return err;
  os_page_run_t run;
  uint64_t end;
  int n = os_pagemap_scan(fd, (uintptr_t)page, (uintptr_t)page + os_page_size(), &run, 1, &end);
  if (n == -ENOTTY || n == -EINVAL || n == -ENOSYS) return -ENOTSUP;
  return n < 0 ? n : 0;
}

int64_t dirty_scan(dirty_scanner_t *s, uint8_t *base, uint64_t len, dirty_run_fn fn, void *ctx) {
  int fd;
  int err = scanner_fd(s, &fd);
  if (err) return err;
  uint64_t start = (uintptr_t)base, end = start + len;
  int64_t total = 0;
  os_page_run_t runs[64];
  /* No cap on runs: the kernel stops when its vector is full and says
   * where; we go on from there until the whole range is walked. */
  while (start < end) {
    uint64_t walk_end = end;
    int n = os_pagemap_scan(fd, start, end, runs, 64, &walk_end);
    if (n < 0) return n;
    for (int i = 0; i < n; i++)
      fn(ctx, runs[i].start - (uintptr_t)base, runs[i].end - runs[i].start, runs[i].swapped != 0);
    total += n;
    if (walk_end <= start) break; /* no progress: should not happen */
    start = walk_end;
  }
  return total;
}
