/* Giving pages back: a batch of ranges to madvise(MADV_DONTNEED), issued
 * with one process_madvise call on our own pidfd where the kernel takes it
 * (Linux 6.13+: one TLB flush for all of them), else one madvise per
 * range. A range the kernel refuses (mlock'ed pages) is counted and, when
 * the batch asks for it, restored in place by region.c instead, so a reset
 * never fails. */
#ifndef WPOOL_DECOMMIT_H
#define WPOOL_DECOMMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/counters.h"
#include "memory/image.h"
#include "memory/os.h"

/* Ranges in one kernel call; a full batch is issued before it grows. The
 * iovec array on the stack is this long, within the kernel's IOV_MAX. */
#define DECOMMIT_RANGES_MAX 64
_Static_assert(DECOMMIT_RANGES_MAX <= 1024, "process_madvise takes at most IOV_MAX ranges");

/* Owned by a pool: its pidfd, whether process_madvise works here, and the
 * counters to bump. */
typedef struct decommit_ctx {
  os_self_fd_t pidfd;
  /* Whether this kernel takes MADV_DONTNEED through process_madvise on
   * ourselves (6.13+), asked once with an empty call (decommit_probe):
   * after a yes, an EINVAL means a range was refused (mlock'ed pages),
   * not that the call is unknown. */
  _Atomic bool probed;
  _Atomic bool no_pmadv; /* the kernel refused the call itself: madvise per range */
  mem_counters_t *counters;
} decommit_ctx_t;

typedef struct decommit_range {
  uint8_t *p;
  uint64_t len;
  uint8_t *base;       /* start of the memory (or table, stack) the range is in */
  const image_t *img;  /* the image mapped in that memory, or NULL */
  uint64_t writable;   /* bytes from base that are read-write: past them a
                          refused range is PROT_NONE and pristine, not restored */
} decommit_range_t;

typedef struct decommit_batch {
  decommit_ctx_t *ctx;
  /* A refused range is restored by hand (zeros, or the image's bytes):
   * true for resets, false where a refusal is harmless (trimming). */
  bool restore_refused;
  unsigned n;
  decommit_range_t r[DECOMMIT_RANGES_MAX];
} decommit_batch_t;

void decommit_ctx_init(decommit_ctx_t *c, mem_counters_t *counters);
void decommit_ctx_destroy(decommit_ctx_t *c);
/* Ask the kernel whether process_madvise works here (an empty call); done
 * by the first flush if not before. A failure to ask leaves it unknown. */
void decommit_probe(decommit_ctx_t *c);

/* An empty batch on `c` that restores refused ranges. */
static inline decommit_batch_t decommit_batch(decommit_ctx_t *c) {
  decommit_batch_t b;
  b.ctx = c;
  b.restore_refused = true;
  b.n = 0;
  return b;
}

/* Add a range (merged with the previous one when they touch and share a
 * base and image); a full batch is issued first. */
void decommit_add(decommit_batch_t *b, uint8_t *p, uint64_t len, uint8_t *base,
                  const image_t *img, uint64_t writable);
/* Issue the batch and empty it. */
void decommit_flush(decommit_batch_t *b);

#endif
