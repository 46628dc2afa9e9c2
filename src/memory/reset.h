/* The prefix reset of a slot region: which byte ranges are zeroed in
 * place with memset (they stay resident) and which are given back with
 * madvise(MADV_DONTNEED) (the next touch faults in a zero page, or the
 * image's page for a private file mapping). The plan is pure arithmetic,
 * so the region math is tested apart from the mappings; reset_apply()
 * carries it out. docs/reset.md explains it. */
#ifndef WPOOL_RESET_H
#define WPOOL_RESET_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/decommit.h"
#include "memory/image.h"

/* Ranges of each kind in a plan: the four regions of the widest plan (an
 * image with budget on both sides) give two of each. */
#define RESET_PLAN_RANGES_MAX 2

typedef struct reset_range {
  uint64_t off; /* bytes from the region's start */
  uint64_t len; /* bytes; > 0 */
} reset_range_t;

typedef struct reset_plan {
  reset_range_t memset[RESET_PLAN_RANGES_MAX];
  unsigned nmemset;
  reset_range_t madvise[RESET_PLAN_RANGES_MAX];
  unsigned nmadvise;
} reset_plan_t;

/* Plan the reset of `accessible` bytes of a linear memory whose image (if
 * img_len > 0) occupies [img_off, img_off + img_len) <= accessible, with a
 * memset budget of `keep` bytes. All arguments are page multiples.
 * - No image: memset [0, min(keep, accessible)), madvise the rest.
 * - keep <= img_off: memset [0, keep), madvise [keep, accessible).
 * - Otherwise (Wasmtime's four regions): memset [0, img_off); madvise the
 *   image; memset the next min(keep - img_off, accessible - img_end) bytes
 *   after it; madvise the rest. Image bytes are never memset (the budget
 *   counts memset bytes only): dropping the private copies restores them.
 * Adjacent madvise ranges are merged into one call. */
void reset_plan_memory(uint64_t accessible, uint64_t img_off, uint64_t img_len, uint64_t keep,
                       reset_plan_t *plan);

/* Plan the zeroing of a stack of `size` bytes whose top `keep` bytes are
 * memset (the top is where a stack is most likely to be touched again). */
void reset_plan_stack(uint64_t size, uint64_t keep, reset_plan_t *plan);

/* The dirty-aware reset with a budget (memslot.c), run by run: of a run of
 * `len` private bytes found by the scan, the bytes reset in place (while
 * `budget` lasts, never a run in swap: resetting it in place would read
 * it back in); the rest are given back. */
static inline uint64_t reset_plan_run(uint64_t len, bool swapped, uint64_t budget) {
  return swapped ? 0 : len < budget ? len : budget;
}

/* Carry out `plan` on the region at `base`, whose image (NULL: none) the
 * plan kept out of its memset ranges: memset now (bytes past `writable`
 * are pristine and PROT_NONE: kept as they are), the madvise ranges into
 * `batch`. Counts the bytes written. Return the bytes kept in place. */
uint64_t reset_apply(uint8_t *base, const reset_plan_t *plan, const image_t *img,
                     uint64_t writable, decommit_batch_t *batch);

#endif
