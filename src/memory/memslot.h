/* One linear-memory slot: `reservation` bytes of address space (then its
 * guard) inside the memory pool's single mapping. Its state is owned by
 * whoever holds the instance slot (the index allocator hands out exclusive
 * ownership), so no lock is needed here.
 *
 * Mapping states of the bytes of a slot:
 *   [0, accessible)            read-write: anonymous memory, except
 *   [image->offset, +len)      the image's memfd, mapped MAP_PRIVATE;
 *   [accessible, reservation)  PROT_NONE, as is the guard after it.
 * Private pages may be resident in [0, max(accessible, resident_end)):
 * a reset keeps some in place (pristine), and giving up accessible bytes
 * (a smaller tenant) only changes their protection, so pristine pages past
 * `accessible` stay resident for the module's next tenant that grows.
 * Kernel mappings (VMAs) per slot: at most 4 (read-write bytes before the
 * image, the image, read-write bytes after it, PROT_NONE rest and guard).
 *
 * When an operation fails half-way and the slot cannot be put back into a
 * known state, `unknown` is set: the next memslot_prepare() first replaces
 * the whole reservation with fresh PROT_NONE memory, so no byte of the old
 * tenant can survive into the next one. */
#ifndef WPOOL_MEMSLOT_H
#define WPOOL_MEMSLOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/counters.h"
#include "memory/decommit.h"
#include "memory/dirty.h"
#include "memory/image.h"
#include "memory/keep.h"

typedef struct memslot {
  /* Bytes read-write from the base, a page multiple. Written by the slot's
   * holder only; atomic because wpool_fault_lookup reads it from signal
   * handlers on any thread. */
  _Atomic uint64_t accessible;
  uint64_t resident_end; /* no private page is resident at or past max(accessible, this) */
  uint64_t initial;      /* bytes accessible when the tenant started (its module's minimum) */
  image_t *image;        /* the memfd image mapped in, with a reference; or NULL */
  keep_marks_t kept;     /* pages the automatic keep set keeps (WPOOL_KEEP_AUTO) */
  bool unknown;          /* contents and mappings unknown: full reset before use */
} memslot_t;

typedef struct memslot_ctx {
  uint64_t reservation; /* bytes per slot before its guard */
  uint64_t keep;        /* memset budget of a reset, page multiple (unless keep_auto) */
  bool keep_auto;       /* the automatic keep set (keep.h) instead of a budget */
  mem_counters_t *counters;
  dirty_scanner_t *scanner; /* non-NULL: dirty-aware resets */
} memslot_ctx_t;

/* Make the slot ready for a tenant: `bytes` accessible (a page multiple)
 * and `img` (may be NULL) in place. With `moved` (the tenant's module is
 * not the last one's), every private page of the slot is given back first
 * (kept pages belong to their module), with the old image, in one call
 * where the new size allows. Affine reuse (same image) maps nothing.
 * On failure the slot is left with nothing of `img` mapped, and marked
 * unknown if it could not be restored. Return: 0 or -errno. */
int memslot_prepare(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, image_t *img,
                    uint64_t bytes, bool moved);

/* Reset the accessible bytes (and pristine pages kept past them). With a
 * scanner: only the runs of pages holding private data are touched; with
 * ctx->keep_auto, by the automatic keep set (keep.h), which takes the kept
 * pages for those runs when pass->proved (proof.h) and times its scan when
 * pass->timed;
 * otherwise restored in place (region.c) while the keep budget lasts and
 * madvised beyond it; swapped runs are always madvised. Without a scanner,
 * or if the scan fails: the prefix plan of reset.h. The ranges to madvise
 * go to `batch` (the caller issues it; a refused range is restored by hand
 * there). Never fails. Return the bytes left resident in place; *exact
 * becomes false unless the automatic keep set reset it, so that its
 * private pages are its kept pages once `batch` is issued. */
uint64_t memslot_reset(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx,
                       decommit_batch_t *batch, keep_pass_t *pass, bool *exact);

/* The bytes in which private pages may be resident (trimming gives them
 * back). */
static inline uint64_t memslot_resident_span(const memslot_t *s) {
  return s->accessible > s->resident_end ? s->accessible : s->resident_end;
}

/* Forget the pages a trim gave back: the slot keeps its image and size. */
void memslot_trimmed(memslot_t *s);

/* Give back every private page and the image: the slot is as a cold one
 * (nothing accessible). Return: 0 or -errno (then the slot is unknown). */
int memslot_release(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx);

/* Make `bytes` (>= accessible) accessible: grow. Return: 0 or -errno with
 * nothing changed. */
int memslot_grow(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, uint64_t bytes);

/* Release everything: the whole reservation becomes fresh PROT_NONE
 * memory, the image reference is dropped. Return: 0 or -errno (then the
 * slot stays marked unknown). */
int memslot_full_reset(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx);

/* The record's invariants, O(1):
 *   accessible <= reservation, a multiple of the host page
 *   resident_end <= reservation
 *   image != NULL  =>  image inside [0, accessible), image->refs >= 1
 * (an unknown slot promises nothing but the reservation bound). */
bool memslot_is_valid(const memslot_t *s, const memslot_ctx_t *ctx);

#endif
