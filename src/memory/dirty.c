#include "memory/dirty.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/uio.h>

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
  s->pidfd = -1;
  s->pidfd_gen = 0;
  s->no_pmadv = false;
}

void dirty_scanner_destroy(dirty_scanner_t *s) {
  if (s->fd >= 0) os_close(s->fd);
  if (s->pidfd >= 0) os_close(s->pidfd);
  pthread_mutex_destroy(&s->lock);
}

/* A descriptor that names this process (its pagemap, its pidfd), opened on
 * first use and reopened after a fork: a child inherits descriptors that
 * name its parent. `fd` and `gen` are read without the lock on the fast
 * path, so they are accessed atomically. */
static int fork_safe_fd(dirty_scanner_t *s, int *fd, unsigned *gen, int (*open_fn)(int *),
                        int *out) {
  unsigned now = atomic_load_explicit(&fork_gen, memory_order_relaxed);
  int f = __atomic_load_n(fd, __ATOMIC_ACQUIRE);
  if (f >= 0 && __atomic_load_n(gen, __ATOMIC_RELAXED) == now) {
    *out = f;
    return 0;
  }
  int err = 0;
  pthread_mutex_lock(&s->lock);
  if (*fd < 0 || *gen != now) {
    /* In a child, the inherited descriptor is the child's own copy. */
    if (*fd >= 0) os_close(*fd);
    __atomic_store_n(fd, -1, __ATOMIC_RELEASE);
    int nf;
    err = open_fn(&nf);
    if (!err) {
      __atomic_store_n(gen, now, __ATOMIC_RELAXED);
      __atomic_store_n(fd, nf, __ATOMIC_RELEASE);
    }
  }
  *out = *fd;
  pthread_mutex_unlock(&s->lock);
  return err;
}

static int open_pagemap(int *fd) { return os_open_read("/proc/self/pagemap", fd); }

static int scanner_fd(dirty_scanner_t *s, int *fd) {
  return fork_safe_fd(s, &s->fd, &s->gen, open_pagemap, fd);
}

static int self_pidfd(dirty_scanner_t *s, int *fd) {
  return fork_safe_fd(s, &s->pidfd, &s->pidfd_gen, os_pidfd_open_self, fd);
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

void decommit_flush(decommit_batch_t *b) {
  unsigned calls = 0, done = 0;
  if (!b->n) return;
  for (unsigned i = 0; i < b->n; i++) COUNTER_ADD(b->counters, madvise_bytes, b->r[i].len);
  int pidfd;
  if (b->self && !__atomic_load_n(&b->self->no_pmadv, __ATOMIC_RELAXED) && b->n > 1 &&
      self_pidfd(b->self, &pidfd) == 0) {
    struct iovec iov[DECOMMIT_BATCH];
    for (unsigned i = 0; i < b->n; i++) iov[i] = (struct iovec){b->r[i].p, b->r[i].len};
    int64_t r = os_process_madvise(pidfd, iov, b->n, MADV_DONTNEED);
    calls++;
    if (r == -EINVAL || r == -ENOSYS || r == -EPERM)
      __atomic_store_n(&b->self->no_pmadv, true, __ATOMIC_RELAXED); /* kernel before 6.13 */
    /* It advises the ranges in order and reports the bytes done; whatever
     * is left goes one range at a time. */
    uint64_t advised = r > 0 ? (uint64_t)r : 0;
    while (done < b->n && advised >= b->r[done].len) advised -= b->r[done++].len;
  }
  for (unsigned i = done; i < b->n; i++) {
    calls++;
    if (os_madvise(b->r[i].p, b->r[i].len, MADV_DONTNEED) != 0 && b->on_fail)
      b->on_fail(b, &b->r[i]);
  }
  COUNTER_ADD(b->counters, madvise_calls, calls);
  b->n = 0;
}

void decommit_add(decommit_batch_t *b, uint8_t *p, uint64_t len, uint8_t *base,
                  const struct image *img) {
  if (!len) return;
  decommit_range_t *last = b->n ? &b->r[b->n - 1] : NULL;
  if (last && last->p + last->len == p && last->base == base && last->img == img) {
    last->len += len;
    return;
  }
  if (b->n == DECOMMIT_BATCH) decommit_flush(b);
  b->r[b->n++] = (decommit_range_t){p, len, base, img};
}
