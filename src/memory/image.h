/* A linear memory's initial contents as a copy-on-write image: the page-
 * aligned span of its data segments in a sealed memfd, mapped MAP_PRIVATE
 * over a slot so that reading it costs no copy and a reset is a madvise.
 * Where memfd is unavailable (ENOSYS), the image is a heap copy that
 * instantiation memcpys in instead (image->fd == -1).
 *
 * Lifetime: reference counted. The module holds one reference and every
 * slot that maps the image holds one; the memfd is closed and the image
 * freed when the last is dropped, so the kernel memory goes once no slot
 * maps it (an open memfd or any mapping of it keeps its pages). Besides
 * the slots' private mappings, the image has one read-only shared mapping
 * of its own (`view`): one kernel mapping per module memory with data. */
#ifndef WPOOL_IMAGE_H
#define WPOOL_IMAGE_H

#include <stdatomic.h>
#include <stdint.h>

#include "memory/counters.h"
#include "wpool.h"

typedef struct image {
  _Atomic uint32_t refs;
  int fd;             /* sealed memfd, or -1 for a heap copy */
  uint64_t offset;    /* page-aligned offset of the image in the memory */
  uint64_t len;       /* page-aligned length; > 0 */
  uint8_t *data;      /* the heap copy when fd == -1, else NULL */
  /* The image's bytes, read-only: a shared mapping of the memfd (page
   * cache, no copy) or `data`. The dirty-aware reset copies from it. */
  const uint8_t *view;
  mem_counters_t *counters; /* images_live */
} image_t;

/* Build the image of `desc`'s segments, which the caller has checked lie
 * within the memory. *out is NULL when the segments hold no bytes.
 * Return: 0 or -errno; nothing is left open on failure. */
int image_build(const wpool_memory_desc_t *desc, mem_counters_t *counters, image_t **out);

static inline void image_ref(image_t *img) {
  atomic_fetch_add_explicit(&img->refs, 1, memory_order_relaxed);
}

/* Drop a reference; the last one closes the memfd and frees the image. */
void image_unref(image_t *img);

#endif
