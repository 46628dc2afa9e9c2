/* Linear-memory slots (see memslot.h). */
#include "memory/memslot.h"

#include <errno.h>
#include <string.h>

#include "memory/os.h"
#include "memory/pages.h"
#include "memory/region.h"
#include "memory/reset.h"
#include "util/debug.h"

static int protect(const memslot_ctx_t *ctx, uint8_t *addr, uint64_t len, bool accessible) {
  COUNTER_ADD(ctx->counters, mprotect_calls, 1);
  return pages_protect(addr, len, accessible);
}

int memslot_full_reset(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx) {
  int err = pages_fresh(base, ctx->reservation, false);
  if (err) {
    s->unknown = true;
    return err;
  }
  if (s->image) {
    COUNTER_ADD(ctx->counters, image_unmaps, 1);
    image_unref(s->image);
    s->image = NULL;
  }
  atomic_store_explicit(&s->accessible, 0, memory_order_relaxed);
  s->resident_end = 0;
  keep_marks_clear(&s->kept);
  s->unknown = false;
  return 0;
}

/* Fresh anonymous memory over everything that may hold a private page or
 * the image, with `bytes` of it read-write: one mmap when `bytes` covers
 * it all, else an mmap and an mprotect. */
static int replace(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, uint64_t bytes) {
  uint64_t hi = memslot_resident_span(s);
  int err;
  if (hi <= bytes) {
    err = pages_fresh(base, bytes, true);
  } else {
    err = pages_fresh(base, hi, false);
    if (!err && bytes) err = protect(ctx, base, bytes, true);
  }
  if (err) {
    s->unknown = true;
    return err;
  }
  if (s->image) {
    COUNTER_ADD(ctx->counters, image_unmaps, 1);
    image_unref(s->image);
    s->image = NULL;
  }
  atomic_store_explicit(&s->accessible, bytes, memory_order_relaxed);
  s->resident_end = 0;
  keep_marks_clear(&s->kept);
  return 0;
}

int memslot_release(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx) {
  debug_assert(memslot_is_valid(s, ctx));
  if (s->unknown) return memslot_full_reset(s, base, ctx);
  if (!memslot_resident_span(s) && !s->image) return 0;
  return replace(s, base, ctx, 0);
}

void memslot_trimmed(memslot_t *s) {
  s->resident_end = 0;
  keep_marks_clear(&s->kept);
}

/* Set the accessible size to `bytes`. Bytes given up keep their pages:
 * the reset on free made them pristine, and the tenant's module may grow
 * into them again; they stay counted as kept, and trimming gives them
 * back (so may the automatic keep set: keep.h). */
static int set_accessible(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, uint64_t bytes) {
  debug_assert(!s->unknown && bytes <= ctx->reservation && bytes % os_page_size() == 0);
  int err = 0;
  if (bytes > s->accessible) {
    err = protect(ctx, base + s->accessible, bytes - s->accessible, true);
  } else if (bytes < s->accessible) {
    /* Kept pages in the bytes given up: their TLB entries are shot down,
     * a cost the automatic keep set learns (keep_give_back_grown). */
    uint64_t page = os_page_size();
    uint64_t kept = ctx->keep_auto ? keep_marks_between(&s->kept, bytes / page, s->accessible / page) : 0;
    keep_shrink_timer_t timer = keep_shrink_start(kept);
    err = protect(ctx, base + bytes, s->accessible - bytes, false);
    if (!err) keep_shrink_done(timer);
    if (!err && s->accessible > s->resident_end) s->resident_end = s->accessible;
  }
  /* Stored atomically: wpool_fault_lookup reads it from signal handlers. */
  if (!err) atomic_store_explicit(&s->accessible, bytes, memory_order_relaxed);
  return err;
}

int memslot_prepare(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, image_t *img,
                    uint64_t bytes, bool moved) {
  debug_assert(memslot_is_valid(s, ctx));
  debug_assert(bytes <= ctx->reservation && bytes % os_page_size() == 0);
  debug_assert(!img || img->offset + img->len <= bytes);
  int err = 0;
  if (s->unknown) {
    err = memslot_full_reset(s, base, ctx);
  } else if ((moved || (s->image && s->image != img)) &&
             (memslot_resident_span(s) || s->image)) {
    /* Kept pages belong to their module: another module's tenants neither
     * see nor pay for them. They go with the old image, in one call. */
    err = replace(s, base, ctx, bytes);
    COUNTER_ADD(ctx->counters, module_moves, 1);
  }
  if (!err) err = set_accessible(s, base, ctx, bytes);
  if (!err) s->initial = bytes;
  if (!err && img && s->image != img) {
    if (img->fd >= 0) {
      err = pages_map_image(base + img->offset, img->len, img->fd);
      if (!err) {
        image_ref(img);
        s->image = img;
        COUNTER_ADD(ctx->counters, image_maps, 1);
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
  /* A tenant's memory: its prepare succeeded, so it is known. */
  debug_assert(!s->unknown && memslot_is_valid(s, ctx));
  if (bytes <= s->accessible) return 0;
  return set_accessible(s, base, ctx, bytes);
}

/* The dirty-aware reset of one memory slot with a budget: the scan's runs
 * in address order, each planned by reset_plan_run (reset.h: in place
 * while the budget lasts, given back beyond it or in swap) and applied at
 * once. Return false when the scan failed before finding anything (the
 * caller falls back to the prefix reset). */
static bool memslot_reset_dirty(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx,
                                decommit_batch_t *batch, uint64_t *in_place) {
  uint64_t writable = s->accessible, budget = ctx->keep, kept = 0, restored = 0, found = 0;
  uint64_t end = 0; /* of the last run kept in place */
  dirty_walk_t walk;
  dirty_run_t runs[DIRTY_RUNS_MAX];
  int n;
  dirty_walk_start(&walk, ctx->scanner, base, memslot_resident_span(s));
  while ((n = dirty_walk_next(&walk, runs, DIRTY_RUNS_MAX)) > 0)
    for (int i = 0; i < n; i++) {
      const dirty_run_t *r = &runs[i];
      found += r->len;
      uint64_t take = reset_plan_run(r->len, r->swapped, budget);
      if (take) {
        /* Pages past the writable bytes are pristine already. */
        uint64_t w = region_writable_len(r->off, take, writable);
        if (w) region_restore(base, s->image, r->off, w);
        restored += w;
        kept += take;
        budget -= take;
        end = r->off + take;
      }
      /* Neighbouring runs as one range, all in one batch. */
      if (take < r->len)
        decommit_add(batch, base + r->off + take, r->len - take, base, s->image, writable);
    }
  if (n < 0 && found == 0) return false; /* nothing done */
  COUNTER_ADD(ctx->counters, dirty_scans, 1);
  COUNTER_ADD(ctx->counters, dirty_bytes, found);
  COUNTER_ADD(ctx->counters, memset_bytes, restored);
  if (n < 0) s->unknown = true; /* the walk broke off part-way: the rest is unknown */
  s->resident_end = end;
  *in_place = kept;
  return true;
}

/* The automatic keep set (keep.h): one call plans, scans and applies. */
static bool memslot_reset_auto(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx,
                               decommit_batch_t *batch, keep_pass_t *pass, uint64_t *kept) {
  keep_region_t r = {.base = base, .scan_bytes = memslot_resident_span(s),
                     .writable_bytes = s->accessible, .initial_bytes = s->initial,
                     .img = s->image};
  keep_result_t out;
  int err = keep_reset(&r, &s->kept, ctx->scanner, pass, batch, &out);
  COUNTER_ADD(ctx->counters, dirty_scans, out.scans);
  COUNTER_ADD(ctx->counters, dirty_bytes, out.found_bytes);
  COUNTER_ADD(ctx->counters, memset_bytes, out.restored_bytes);
  COUNTER_ADD(ctx->counters, keep_dropped_bytes, out.dropped_bytes);
  if (err) {
    if (out.found_bytes == 0) return false; /* nothing done: the caller falls back */
    s->unknown = true; /* the walk broke off part-way */
  }
  s->resident_end = out.resident_end;
  *kept = out.kept_bytes;
  return true;
}

uint64_t memslot_reset(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx,
                       decommit_batch_t *batch, keep_pass_t *pass, bool *exact) {
  /* A tenant's memory (known since its prepare), holding its image inside
   * the accessible bytes. */
  debug_assert(!s->unknown && memslot_is_valid(s, ctx));
  uint64_t in_place;
  if (ctx->scanner && ctx->keep_auto && s->kept.marks &&
      memslot_reset_auto(s, base, ctx, batch, pass, &in_place)) {
    if (s->unknown) *exact = false; /* the walk broke off part-way */
    return in_place;
  }
  *exact = false;
  if (ctx->scanner && !ctx->keep_auto && memslot_reset_dirty(s, base, ctx, batch, &in_place))
    return in_place;
  /* The prefix plan over every byte that may hold a private page; the
   * automatic budget without a scan keeps nothing. */
  reset_plan_t plan;
  uint64_t span = memslot_resident_span(s), keep = ctx->keep_auto ? 0 : ctx->keep;
  uint64_t img_off = s->image ? s->image->offset : 0, img_len = s->image ? s->image->len : 0;
  reset_plan_memory(span, img_off, img_len, keep, &plan);
  uint64_t kept = reset_apply(base, &plan, s->image, s->accessible, batch);
  s->resident_end = 0;
  for (unsigned i = 0; i < plan.nmemset; i++)
    s->resident_end = plan.memset[i].off + plan.memset[i].len;
  keep_marks_clear(&s->kept);
  return kept;
}

bool memslot_is_valid(const memslot_t *s, const memslot_ctx_t *ctx) {
  uint64_t page = os_page_size();
  if (s->accessible > ctx->reservation || s->resident_end > ctx->reservation) return false;
  if (s->unknown) return true;
  if (s->accessible % page) return false;
  if (s->image) {
    if (s->image->offset + s->image->len > s->accessible || s->image->offset % page) return false;
    if (atomic_load_explicit(&s->image->refs, memory_order_relaxed) == 0) return false;
  }
  return true;
}
