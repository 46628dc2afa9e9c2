/* One linear-memory slot: `reservation` bytes of address space (then its
 * guard) inside the memory pool's single mapping. Its state is owned by
 * whoever holds the instance slot (the index allocator hands out exclusive
 * ownership), so no lock is needed here.
 *
 * Mapping states of the bytes of a slot:
 *   [0, accessible)            read-write: anonymous memory, except
 *   [image->offset, +len)      the image's memfd, mapped MAP_PRIVATE;
 *   [accessible, reservation)  PROT_NONE, as is the guard after it.
 * Kernel mappings (VMAs) per slot: at most 4 (read-write bytes before the
 * image, the image, read-write bytes after it, PROT_NONE rest and guard).
 *
 * When an operation fails half-way and the slot cannot be put back into a
 * known state, `unknown` is set: the next memslot_prepare() first replaces
 * the whole reservation with fresh PROT_NONE memory, so no byte of the old
 * tenant can survive into the next one. */
#ifndef WPOOL_MEMSLOT_H
#define WPOOL_MEMSLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/counters.h"
#include "memory/dirty.h"
#include "memory/image.h"
#include "memory/reset.h"

typedef struct memslot {
  uint64_t accessible; /* bytes read-write from the base; page multiple */
  image_t *image;      /* the memfd image mapped in, with a reference; or NULL */
  bool unknown;        /* contents and mappings unknown: full reset before use */
} memslot_t;

typedef struct memslot_ctx {
  uint64_t reservation; /* bytes per slot before its guard */
  uint64_t keep;        /* memset budget of a reset, page multiple */
  mem_counters_t *counters;
  dirty_scanner_t *scanner; /* non-NULL: dirty-aware resets */
} memslot_ctx_t;

/* Make the slot ready for a tenant: `bytes` accessible (a page multiple)
 * and `img` (may be NULL) in place. Affine reuse (same image) maps nothing.
 * On failure the slot is left with nothing of `img` mapped, and marked
 * unknown if it could not be restored. Return: 0 or -errno. */
int memslot_prepare(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, image_t *img,
                    uint64_t bytes);

/* Reset the accessible bytes. With a scanner (dirty-aware): only the runs
 * of pages holding private data are touched, in address order: reset in
 * place (memset, or a copy of the image's bytes inside the image) while the
 * keep budget lasts, madvised beyond it; swapped runs are always madvised.
 * Without one, or if the scan fails: the prefix plan of reset.h. The ranges
 * to madvise go to `batch` (the caller issues it, with memslot_restore_range
 * as its on_fail: a refused range is reset by hand). Never fails. Return
 * the bytes reset in place. */
uint64_t memslot_reset(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx,
                       decommit_batch_t *batch);

/* decommit_batch_t's on_fail for memories, tables and stacks: reset the
 * range in place (zeros, or the image's bytes from its view). */
void memslot_restore_range(decommit_batch_t *b, const decommit_range_t *r);

/* Replace the image mapping with anonymous zero memory and drop the
 * image's reference; accessibility is unchanged. On failure the slot is
 * marked unknown (and keeps the reference until its full reset). */
void memslot_drop_image(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx);

/* Make `bytes` (>= accessible) accessible: grow. Return: 0 or -errno with
 * nothing changed. */
int memslot_grow(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx, uint64_t bytes);

/* Carry out `plan` (reset.h) on the region at `base`: memset now, the
 * madvise ranges into `batch`. Used for tables and stacks. Return the bytes
 * set by memset. */
uint64_t region_reset(uint8_t *base, const reset_plan_t *plan, decommit_batch_t *batch);

/* Release everything: the whole reservation becomes fresh PROT_NONE
 * memory, the image reference is dropped. Return: 0 or -errno (then the
 * slot stays marked unknown). */
int memslot_full_reset(memslot_t *s, uint8_t *base, const memslot_ctx_t *ctx);

#endif
