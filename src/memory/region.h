/* Restoring a range of a slot region in place, by hand: the bytes of the
 * image mapped there copied back from the image's read-only view, every
 * other byte zeroed. The pages stay resident. Used by the dirty-aware
 * reset within its budget, and for ranges the kernel refused to give back
 * (decommit.c). */
#ifndef WPOOL_REGION_H
#define WPOOL_REGION_H

#include <stdint.h>

#include "memory/image.h"

/* Restore [off, off + len) of the region at `base`, whose image (NULL:
 * none) lies at [img->offset, img->offset + img->len). */
void region_restore(uint8_t *base, const image_t *img, uint64_t off, uint64_t len);

/* The bytes of [off, off + len) before `writable`: past it a region is
 * PROT_NONE (given up by a shrink) and pristine, never written by hand. */
static inline uint64_t region_writable_len(uint64_t off, uint64_t len, uint64_t writable) {
  return off >= writable ? 0 : off + len <= writable ? len : writable - off;
}

#endif
