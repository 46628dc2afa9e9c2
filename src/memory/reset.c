/* The prefix reset: its plan (pure) and applying it (see reset.h). */
#include "memory/reset.h"

#include <string.h>

#include "memory/region.h"
#include "util/debug.h"

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void add_memset(reset_plan_t *p, uint64_t off, uint64_t len) {
  if (!len) return;
  debug_assert(p->nmemset < RESET_PLAN_RANGES_MAX);
  p->memset[p->nmemset++] = (reset_range_t){off, len};
}

static void add_madvise(reset_plan_t *p, uint64_t off, uint64_t len) {
  if (!len) return;
  reset_range_t *last = p->nmadvise ? &p->madvise[p->nmadvise - 1] : NULL;
  if (last && last->off + last->len == off) {
    last->len += len; /* one call instead of two */
    return;
  }
  debug_assert(p->nmadvise < RESET_PLAN_RANGES_MAX);
  p->madvise[p->nmadvise++] = (reset_range_t){off, len};
}

void reset_plan_memory(uint64_t accessible, uint64_t img_off, uint64_t img_len, uint64_t keep,
                       reset_plan_t *plan) {
  memset(plan, 0, sizeof(*plan));
  if (img_len == 0 || keep <= img_off) {
    /* The budget ends before any image: one memset prefix, and everything
     * after it (image included) in one madvise. */
    uint64_t k = min_u64(keep, accessible);
    add_memset(plan, 0, k);
    add_madvise(plan, k, accessible - k);
    return;
  }
  uint64_t img_end = img_off + img_len;
  debug_assert(img_end <= accessible);
  add_memset(plan, 0, img_off);
  add_madvise(plan, img_off, img_len);
  uint64_t after = min_u64(keep - img_off, accessible - img_end);
  add_memset(plan, img_end, after);
  add_madvise(plan, img_end + after, accessible - img_end - after);
}

void reset_plan_stack(uint64_t size, uint64_t keep, reset_plan_t *plan) {
  memset(plan, 0, sizeof(*plan));
  uint64_t k = min_u64(keep, size);
  add_madvise(plan, 0, size - k);
  add_memset(plan, size - k, k);
}

uint64_t reset_apply(uint8_t *base, const reset_plan_t *plan, const image_t *img,
                     uint64_t writable, decommit_batch_t *batch) {
  uint64_t kept = 0, written = 0;
  for (unsigned i = 0; i < plan->nmemset; i++) {
    uint64_t off = plan->memset[i].off, len = plan->memset[i].len;
    uint64_t w = region_writable_len(off, len, writable);
    if (w) memset(base + off, 0, w);
    written += w;
    kept += len;
  }
  for (unsigned i = 0; i < plan->nmadvise; i++)
    decommit_add(batch, base + plan->madvise[i].off, plan->madvise[i].len, base, img, writable);
  COUNTER_ADD(batch->ctx->counters, memset_bytes, written);
  return kept;
}
