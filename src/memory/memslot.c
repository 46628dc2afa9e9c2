/* Linear-memory slots (see memslot.h). */
#include "memory/memslot.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "memory/os.h"
#include "memory/region.h"
#include "memory/reset.h"

#define ANON_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED)

static int protect(const memslot_ctx_t *ctx, uint8_t *addr, uint64_t len, int prot) {
  COUNTER_ADD(ctx->counters, mprotect_calls, 1);
  return os_mprotect(addr, len, prot);
}

static int decommit(const memslot_ctx_t *ctx, uint8_t *addr, uint64_t len) {
  COUNTER_ADD(ctx->counters, madvise_calls, 1);
  COUNTER_ADD(ctx->counters, madvise_bytes, len);
  return os_madvise(addr, len, MADV_DONTNEED);
}

int memslot_full_reset(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx) {
  void *p;
  int err = os_mmap(base, ctx->reservation, PROT_NONE, ANON_FLAGS, -1, 0, &p);
  if (err) {
    s->unknown = true;
    return err;
  }
  if (s->image) {
    COUNTER_ADD(ctx->counters, image_unmaps, 1);
    image_unref(s->image);
    s->image = NULL;
  }
  __atomic_store_n(&s->accessible, 0, __ATOMIC_RELAXED);
  s->unknown = false;
  return 0;
}

void memslot_drop_image(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx) {
  if (!s->image) return;
  void *p;
  /* The image lies inside the accessible bytes, so its replacement is
   * read-write zero memory. */
  if (os_mmap(base + s->image->offset, s->image->len, PROT_READ | PROT_WRITE, ANON_FLAGS, -1, 0,
              &p) != 0) {
    s->unknown = true;
    return;
  }
  COUNTER_ADD(ctx->counters, image_unmaps, 1);
  image_unref(s->image);
  s->image = NULL;
}

/* Set the accessible size to `bytes`. Bytes given up are also decommitted:
 * they are zero already (the reset on free made them so), but may be
 * resident from a memset reset. So a refusal (mlock'ed pages) is counted,
 * not an error: the bytes are pristine and out of reach. */
static int set_accessible(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, uint64_t bytes) {
  int err = 0;
  if (bytes > s->accessible) {
    err = protect(ctx, base + s->accessible, bytes - s->accessible, PROT_READ | PROT_WRITE);
  } else if (bytes < s->accessible) {
    err = protect(ctx, base + bytes, s->accessible - bytes, PROT_NONE);
    if (!err && decommit(ctx, base + bytes, s->accessible - bytes) != 0)
      COUNTER_ADD(ctx->counters, madvise_refused_bytes, s->accessible - bytes);
  }
  /* Stored atomically: wpool_fault_lookup reads it from signal handlers. */
  if (!err) __atomic_store_n(&s->accessible, bytes, __ATOMIC_RELAXED);
  return err;
}

int memslot_prepare(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, image_t *img,
                    uint64_t bytes) {
  int err = 0;
  if (s->unknown) err = memslot_full_reset(s, base, ctx);
  /* A memfd image that covers the old one's whole span replaces it in one
   * mmap below; otherwise the old one is replaced by zero memory first.
   * (Each mmap over a mapping flushes the TLB of every CPU running us.) */
  image_t *replaced = NULL;
  if (!err && s->image && s->image != img) {
    if (img && img->fd >= 0 && img->offset <= s->image->offset &&
        img->offset + img->len >= s->image->offset + s->image->len) {
      replaced = s->image;
    } else {
      memslot_drop_image(s, base, ctx);
      if (s->unknown) err = -ENOMEM;
    }
  }
  if (!err) err = set_accessible(s, base, ctx, bytes);
  if (!err && img && s->image != img) {
    if (img->fd >= 0) {
      void *p;
      err = os_mmap(base + img->offset, img->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                    img->fd, 0, &p);
      if (!err) {
        image_ref(img);
        s->image = img;
        COUNTER_ADD(ctx->counters, image_maps, 1);
        if (replaced) {
          COUNTER_ADD(ctx->counters, image_unmaps, 1);
          image_unref(replaced);
          replaced = NULL;
        }
      }
    } else {
      /* Heap-copy image (no memfd): the bytes are copied in every time, and
       * the slot keeps no image, so its reset treats them as anonymous. */
      memcpy(base + img->offset, img->data, img->len);
    }
  }
  if (err) {
    /* Leave nothing half-way: start the slot over. Should that fail too,
     * `unknown` makes the next prepare try again before any use. */
    memslot_full_reset(s, base, ctx);
  }
  return err;
}

int memslot_grow(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, uint64_t bytes) {
  if (bytes <= s->accessible) return 0;
  return set_accessible(s, base, ctx, bytes);
}

/* The dirty-aware reset of one memory slot, run by run. */
typedef struct dirty_reset {
  uint8_t *base;
  const image_t *img;  /* NULL: no image */
  uint64_t budget;     /* bytes still to be reset in place */
  uint64_t in_place;   /* bytes reset in place so far */
  uint64_t found;      /* dirty bytes found */
  decommit_batch_t *batch; /* runs beyond the budget go here */
} dirty_reset_t;

static void on_dirty_run(void *ctx, uint64_t off, uint64_t len, bool swapped) {
  dirty_reset_t *d = ctx;
  d->found += len;
  uint64_t take = swapped ? 0 : (len < d->budget ? len : d->budget);
  if (take) {
    region_restore(d->base, d->img, off, take);
    d->in_place += take;
    d->budget -= take;
  }
  /* Beyond the budget, or in swap (resetting in place would read it back
   * in): madvise, neighbouring runs as one range, all in one batch. */
  if (take < len) decommit_add(d->batch, d->base + off + take, len - take, d->base, d->img);
}

static bool memslot_reset_dirty(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx,
                                decommit_batch_t *batch, uint64_t *in_place) {
  dirty_reset_t d = {.base = base, .img = s->image, .budget = ctx->keep, .batch = batch};
  int64_t runs = dirty_scan(ctx->scanner, base, s->accessible, on_dirty_run, &d);
  if (runs < 0 && d.found == 0) return false; /* nothing done: the caller falls back */
  COUNTER_ADD(ctx->counters, dirty_scans, 1);
  COUNTER_ADD(ctx->counters, dirty_bytes, d.found);
  COUNTER_ADD(ctx->counters, memset_bytes, d.in_place);
  if (runs < 0) {
    /* The walk broke off part-way: the rest of the range is unknown. */
    s->unknown = true;
  }
  *in_place = d.in_place;
  return true;
}

uint64_t memslot_reset(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx,
                       decommit_batch_t *batch) {
  uint64_t in_place;
  if (ctx->scanner && memslot_reset_dirty(s, base, ctx, batch, &in_place)) return in_place;
  reset_plan_t plan;
  uint64_t img_off = s->image ? s->image->offset : 0, img_len = s->image ? s->image->len : 0;
  reset_plan_memory(s->accessible, img_off, img_len, ctx->keep, &plan);
  return reset_apply(base, &plan, s->image, batch);
}

bool memslot_is_valid(const memslot_t *s, const memslot_ctx_t *ctx) {
  uint64_t page = os_page_size();
  if (s->accessible > ctx->reservation) return false;
  if (s->unknown) return true;
  if (s->accessible % page) return false;
  if (s->image) {
    if (s->image->offset + s->image->len > s->accessible || s->image->offset % page) return false;
    if (atomic_load_explicit(&s->image->refs, memory_order_relaxed) == 0) return false;
  }
  return true;
}
