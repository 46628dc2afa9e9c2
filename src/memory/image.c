#include "memory/image.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "memory/os.h"
#include "memory/pages.h"
#include "util/heap.h"

static uint64_t round_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

int image_build(const wpool_memory_desc_t *desc, mem_counters_t *counters, image_t **out) {
  *out = NULL;
  uint64_t page = os_page_size(), lo = UINT64_MAX, hi = 0;
  for (size_t i = 0; i < desc->nsegments; i++) {
    const wpool_data_segment_t *s = &desc->segments[i];
    if (s->len == 0) continue;
    if (s->offset < lo) lo = s->offset;
    if (s->offset + s->len > hi) hi = s->offset + s->len;
  }
  if (hi == 0) return 0; /* no bytes: no image */

  image_t *img = heap_calloc(1, sizeof(*img));
  if (!img) return -ENOMEM;
  img->offset = round_down(lo, page);
  img->len = round_up(hi, page) - img->offset;
  img->fd = -1;
  img->counters = counters;
  atomic_init(&img->refs, 1);

  int err = os_memfd_create("wpool-image", MFD_CLOEXEC | MFD_ALLOW_SEALING, &img->fd);
  if (err == -ENOSYS || err == -EINVAL) {
    /* No memfd (or no sealing) on this host: keep a heap copy. */
    img->fd = -1;
    img->data = heap_calloc(1, img->len);
    if (!img->data) {
      heap_free(img);
      return -ENOMEM;
    }
    for (size_t i = 0; i < desc->nsegments; i++) {
      const wpool_data_segment_t *s = &desc->segments[i];
      if (s->len) memcpy(img->data + (s->offset - img->offset), s->bytes, s->len);
    }
  } else if (err) {
    goto fail;
  } else {
    err = os_ftruncate(img->fd, (off_t)img->len);
    /* Segments are written in order, so a later one overwrites an earlier
     * one where they overlap, as instantiation would. */
    for (size_t i = 0; !err && i < desc->nsegments; i++) {
      const wpool_data_segment_t *s = &desc->segments[i];
      if (s->len) err = os_pwrite_all(img->fd, s->bytes, s->len, (off_t)(s->offset - img->offset));
    }
    /* Sealed: nobody can change the bytes under the mappings. */
    if (!err) err = os_add_seals(img->fd, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_WRITE | F_SEAL_SEAL);
    if (!err) err = pages_view(img->fd, img->len, &img->view);
    if (err) goto fail;
  }
  if (!img->view) img->view = img->data;
  COUNTER_ADD(counters, images_live, 1);
  *out = img;
  return 0;
fail:
  if (img->fd >= 0) os_close(img->fd);
  heap_free(img);
  return err;
}

void image_unref(image_t *img) {
  if (atomic_fetch_sub_explicit(&img->refs, 1, memory_order_acq_rel) != 1) return;
  if (img->fd >= 0) {
    pages_unreserve((uint8_t *)img->view, img->len);
    os_close(img->fd);
  }
  heap_free(img->data);
  COUNTER_SUB(img->counters, images_live, 1);
  heap_free(img);
}
