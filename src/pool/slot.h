/* One instance slot: its memories, tables and state, made ready for a
 * tenant and reset after one. The caller holds the slot (the index
 * allocator gave it, or it is in transit): every function here but
 * slot_trim needs the slot SLOT_USED in the index and without a live
 * tenant (debug_assert at level 2). */
#ifndef WPOOL_SLOT_H
#define WPOOL_SLOT_H

#include <sched.h>

#include "pool/types.h"

/* Wait until no trim works on `inst`'s slot; acquire what it wrote. */
static inline void slot_wait_trim(struct wpool_instance_s *inst) {
  while (atomic_load_explicit(&inst->trimming, memory_order_acquire)) sched_yield();
}

/* Make `slot` ready for a tenant of `m`: each memory holding the module's
 * image with min_pages accessible (memories past the module's count
 * emptied, so no image of an earlier module lingers), each table sized to
 * min_elements; the bytes the last reset kept now belong to the tenant.
 * Return: 0, or WPOOL_ENOMEM / WPOOL_ESYS naming the slot and memory, with
 * nothing of `m` left mapped (the caller returns the slot unaffine). */
int slot_prepare(wpool_t *p, uint32_t slot, const wpool_module_t *m);

/* Grow memory `i` of `slot` to `bytes` accessible.
 * Return: 0, or WPOOL_ENOMEM / WPOOL_ESYS with the memory unchanged. */
int slot_memory_grow(wpool_t *p, uint32_t slot, uint32_t i, uint64_t bytes);

/* Reset `slot` after a tenant of `m`: memories, tables and state; ranges
 * to give back go to `batch` (the caller issues it). Updates the module's
 * keep histories; records the bytes kept resident and `now_ns` as the time
 * of the free. */
void slot_reset(wpool_t *p, uint32_t slot, wpool_module_t *m, decommit_batch_t *batch,
                uint64_t now_ns);

/* The window and drop_min a reset of the pool's regions judges kept pages
 * by now (keep.h), counting what a fault costs the pool's proofs where the
 * memories' keep set is automatic (else the costs' own), and what zeroing
 * a page costs its resets (keep_zero_ns: whether a region is zeroed
 * whole). The statistics report the same. */
keep_judge_t slot_keep_judge(wpool_t *p, const keep_costs_t *kc);

/* Add the resident pages of unused `slot` to `batch` (private pages of
 * its memories, its tables and state) and account them as trimmed. Its
 * images stay mapped. */
void slot_trim(wpool_t *p, uint32_t slot, decommit_batch_t *batch);

/* Give back everything of unused `slot` that belongs to its last module:
 * images, kept pages of memories and tables (the module-drop hook, or a
 * failed prepare). */
void slot_release(wpool_t *p, uint32_t slot);

#endif
