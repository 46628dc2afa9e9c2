/* In-place restores (see region.h). */
#include "memory/region.h"

#include <string.h>

void region_restore(uint8_t *base, const image_t *img, uint64_t off, uint64_t len) {
  uint64_t end = off + len;
  if (img && off < img->offset + img->len && img->offset < end) {
    uint64_t ilo = off > img->offset ? off : img->offset;
    uint64_t ihi = end < img->offset + img->len ? end : img->offset + img->len;
    if (off < ilo) memset(base + off, 0, ilo - off);
    memcpy(base + ilo, img->view + (ilo - img->offset), ihi - ilo);
    if (ihi < end) memset(base + ihi, 0, end - ihi);
  } else {
    memset(base + off, 0, len);
  }
}

