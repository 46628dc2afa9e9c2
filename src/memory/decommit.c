/* Batched decommit (see decommit.h). */
#include "memory/decommit.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "memory/region.h"
#include "util/debug.h"

void decommit_ctx_init(decommit_ctx_t *c, mem_counters_t *counters) {
  os_self_fd_init(&c->pidfd, os_pidfd_open_self);
  atomic_init(&c->probed, false);
  atomic_init(&c->no_pmadv, false);
  c->counters = counters;
}

void decommit_ctx_destroy(decommit_ctx_t *c) { os_self_fd_destroy(&c->pidfd); }

void decommit_probe(decommit_ctx_t *c) {
  int pidfd;
  if (atomic_load_explicit(&c->probed, memory_order_acquire) ||
      os_self_fd_get(&c->pidfd, &pidfd) != 0)
    return;
  int64_t r = os_process_madvise(pidfd, NULL, 0, MADV_DONTNEED);
  if (r == -EINVAL || r == -ENOSYS || r == -EPERM)
    atomic_store_explicit(&c->no_pmadv, true, memory_order_relaxed); /* kernel before 6.13 */
  else if (r != 0)
    return; /* could not tell: ask again next time */
  atomic_store_explicit(&c->probed, true, memory_order_release);
}

void decommit_flush(decommit_batch_t *b) {
  unsigned calls = 0, done = 0;
  if (!b->n) return;
  decommit_ctx_t *c = b->ctx;
  for (unsigned i = 0; i < b->n; i++) COUNTER_ADD(c->counters, madvise_bytes, b->r[i].len);
  int pidfd;
  if (b->n > 1) decommit_probe(c);
  if (b->n > 1 && atomic_load_explicit(&c->probed, memory_order_acquire) &&
      !atomic_load_explicit(&c->no_pmadv, memory_order_relaxed) &&
      os_self_fd_get(&c->pidfd, &pidfd) == 0) {
    struct iovec iov[DECOMMIT_RANGES_MAX];
    for (unsigned i = 0; i < b->n; i++) iov[i] = (struct iovec){b->r[i].p, b->r[i].len};
    int64_t r = os_process_madvise(pidfd, iov, b->n, MADV_DONTNEED);
    calls++;
    /* It advises the ranges in order and reports the bytes done, or fails
     * at a first range it refuses; whatever is left goes one range at a
     * time, where a refused one is found and restored. */
    uint64_t advised = r > 0 ? (uint64_t)r : 0;
    while (done < b->n && advised >= b->r[done].len) advised -= b->r[done++].len;
  }
  for (unsigned i = done; i < b->n; i++) {
    calls++;
    const decommit_range_t *r = &b->r[i];
    if (os_madvise(r->p, r->len, MADV_DONTNEED) == 0) continue;
    COUNTER_ADD(c->counters, madvise_refused_bytes, r->len);
    /* Restored by hand where it can be written: past the writable bytes
     * the pages are pristine already (and writing them would fault). */
    uint64_t off = (uint64_t)(r->p - r->base);
    uint64_t w = region_writable_len(off, r->len, r->writable);
    if (b->restore_refused && w) {
      region_restore(r->base, r->img, off, w);
      COUNTER_ADD(c->counters, memset_bytes, w);
    }
  }
  COUNTER_ADD(c->counters, madvise_calls, calls);
  b->n = 0;
}

void decommit_add(decommit_batch_t *b, uint8_t *p, uint64_t len, uint8_t *base,
                  const image_t *img, uint64_t writable) {
  /* Whole pages of one region. */
  debug_assert(((uintptr_t)p | len) % os_page_size() == 0 && p >= base);
  if (!len) return;
  decommit_range_t *last = b->n ? &b->r[b->n - 1] : NULL;
  if (last && last->p + last->len == p && last->base == base && last->img == img &&
      last->writable == writable) {
    last->len += len;
    return;
  }
  if (b->n == DECOMMIT_RANGES_MAX) decommit_flush(b);
  b->r[b->n++] = (decommit_range_t){p, len, base, img, writable};
}
