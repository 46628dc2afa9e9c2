/* Restoring a range of a slot region in place, by hand: the bytes of the
 * image mapped there copied back from the image's read-only view, every
 * other byte zeroed. The pages stay resident. Used by the dirty-aware
 * reset within its budget, the keep set, and for ranges the kernel refused
 * to give back (decommit.c). And its reading counterpart: whether a range
 * holds its pristine bytes. */
#ifndef WPOOL_REGION_H
#define WPOOL_REGION_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "memory/image.h"

/* Restore [off, off + len) of the region at `base`, whose image (NULL:
 * none) lies at [img->offset, img->offset + img->len). */
void region_restore(uint8_t *base, const image_t *img, uint64_t off, uint64_t len);

/* Zero? In chunks of 512 bytes, so that a written page (the common case
 * of a check) is told after its first written chunk, not its last byte;
 * eight words at a time within a chunk. `len` is a multiple of 512. */
static inline bool region_all_zero(const uint8_t *p, uint64_t len) {
  const uint64_t *w = (const uint64_t *)p;
  for (uint64_t i = 0; i < len / 8; i += 64) {
    uint64_t acc = 0;
    for (uint64_t k = i; k < i + 64; k += 8)
      acc |= w[k] | w[k + 1] | w[k + 2] | w[k + 3] | w[k + 4] | w[k + 5] | w[k + 6] | w[k + 7];
    if (acc) return false;
  }
  return true;
}

/* Whether [off, off + len), inside or outside the image (not across its
 * edge), holds its pristine bytes: the image's, or zeros. Reads it. */
static inline bool region_pristine(const uint8_t *base, const image_t *img, uint64_t off,
                                   uint64_t len) {
  if (img && off >= img->offset && off < img->offset + img->len)
    return memcmp(base + off, img->view + (off - img->offset), len) == 0;
  return region_all_zero(base + off, len);
}

/* The bytes of [off, off + len) before `writable`: past it a region is
 * PROT_NONE (given up by a shrink) and pristine, never written by hand. */
static inline uint64_t region_writable_len(uint64_t off, uint64_t len, uint64_t writable) {
  return off >= writable ? 0 : off + len <= writable ? len : writable - off;
}

#endif
