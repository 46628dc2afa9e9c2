/* The public instance calls: allocation, free, and the accessors of a
 * live instance. The work is a floor down: slot.c prepares and resets a
 * slot, recycle.c takes a freed slot back to the index. */
#include "pool/check.h"
#include "pool/module.h"
#include "pool/recycle.h"
#include "pool/slot.h"
#include "util/clock.h"
#include "util/error.h"

#include <string.h>

static int instance_new(wpool_t *p, wpool_module_t *m, wpool_instance_t **out) {
  uint32_t slot = index_alloc(&p->index, m->id, NULL);
  /* A full pool: the clock is read only then, for the deadline of a wait
   * for the background worker. */
  if (slot == INDEX_NONE) slot = recycle_alloc(p, m->id, clock_now_ns());
  if (slot == INDEX_NONE) {
    atomic_fetch_add(&p->exhausted, 1);
    return error_set(WPOOL_EEXHAUSTED, "all %u instance slots are in use (instance_count)",
                     p->cfg.instance_count);
  }
  struct wpool_instance_s *inst = &p->instances[slot];
  /* A trim may be releasing this slot's pages right now; it holds the slot
   * for a few system calls. */
  slot_wait_trim(inst);
  int err = slot_prepare(p, slot, m);
  if (err) {
    /* Nothing of the module stays mapped; the slot goes back warm and
     * affine to nothing. */
    index_free_unaffine(&p->index, slot);
    return err;
  }
  module_ref(m);
  /* Released to a signal handler's wpool_fault_lookup. */
  atomic_store_explicit(&inst->module, m, memory_order_release);
  atomic_fetch_add(&p->live_instances, 1);
  atomic_fetch_add(&p->memories_live, m->nmemories);
  atomic_fetch_add(&p->tables_live, m->ntables);
  atomic_fetch_add(&p->instances_created, 1);
  *out = inst;
  return 0;
}

WPOOL_EXPORT int wpool_instance_new(wpool_t *p, wpool_module_t *m, wpool_instance_t **out) {
  if (!p || !m || !out) return error_set(WPOOL_EINVAL, "instance_new: NULL argument");
  *out = NULL;
  if (m->pool != p) return error_set(WPOOL_EINVAL, "instance_new: the module belongs to another pool");
  if (atomic_load(&m->released))
    return error_set(WPOOL_EINVAL, "instance_new: the module was released");
  check_enter(p);
  int err = instance_new(p, m, out);
  check_leave(p);
  return err;
}

WPOOL_EXPORT void wpool_instance_free(wpool_instance_t *inst) {
  if (!inst) return;
  if (!inst->module) {
    api_misuse("wpool_instance_free: the instance of slot %u is not live (freed twice?)",
               inst->slot);
    return;
  }
  wpool_t *p = inst->pool;
  wpool_module_t *m = inst->module;
  check_enter(p);
  atomic_store_explicit(&inst->module, NULL, memory_order_release);
  atomic_fetch_sub(&p->live_instances, 1);
  atomic_fetch_sub(&p->memories_live, m->nmemories);
  atomic_fetch_sub(&p->tables_live, m->ntables);
  recycle_free(p, inst->slot, m, clock_now_ns());
  check_leave(p);
}

WPOOL_EXPORT void wpool_decommit_flush(wpool_t *p) {
  if (!p) return;
  check_enter(p);
  recycle_flush(p);
  check_leave(p);
}

WPOOL_EXPORT uint32_t wpool_instance_slot(const wpool_instance_t *inst) { return inst->slot; }

WPOOL_EXPORT void *wpool_instance_state(wpool_instance_t *inst) {
  return pool_state_base(inst->pool, inst->slot);
}

WPOOL_EXPORT uint8_t *wpool_memory_base(wpool_instance_t *inst, uint32_t i) {
  if (!inst->module || i >= inst->module->nmemories) return NULL;
  return pool_memory_base(inst->pool, inst->slot, i);
}

WPOOL_EXPORT uint64_t wpool_memory_pages(const wpool_instance_t *inst, uint32_t i) {
  if (!inst->module || i >= inst->module->nmemories) return 0;
  return pool_memslot(inst->pool, inst->slot, i)->accessible / WPOOL_PAGE_SIZE;
}

WPOOL_EXPORT int64_t wpool_memory_grow(wpool_instance_t *inst, uint32_t i, uint64_t delta) {
  if (!inst || !inst->module || i >= inst->module->nmemories)
    return error_set(WPOOL_EINVAL, "memory_grow: no memory %u in this instance", i);
  wpool_t *p = inst->pool;
  uint64_t old = wpool_memory_pages(inst, i), max = inst->module->memories[i].max_pages;
  if (delta > max || old > max - delta)
    return error_set(WPOOL_ELIMIT,
                     "memory %u: growing %llu pages by %llu exceeds its maximum of %llu pages "
                     "(the module's max, capped by instance_memory_pages)",
                     i, (unsigned long long)old, (unsigned long long)delta,
                     (unsigned long long)max);
  check_enter(p);
  int err = slot_memory_grow(p, inst->slot, i, (old + delta) * WPOOL_PAGE_SIZE);
  check_leave(p);
  return err ? err : (int64_t)old;
}

WPOOL_EXPORT void *wpool_table_data(wpool_instance_t *inst, uint32_t i) {
  if (!inst->module || i >= inst->module->ntables) return NULL;
  return pool_table_base(inst->pool, inst->slot, i);
}

WPOOL_EXPORT void **wpool_table_base(wpool_instance_t *inst, uint32_t i) {
  return (void **)wpool_table_data(inst, i);
}

WPOOL_EXPORT uint32_t wpool_table_size(const wpool_instance_t *inst, uint32_t i) {
  if (!inst->module || i >= inst->module->ntables) return 0;
  return *pool_table_size(inst->pool, inst->slot, i);
}

WPOOL_EXPORT int64_t wpool_table_grow_with(wpool_instance_t *inst, uint32_t i, uint32_t delta,
                                           const void *init) {
  if (!inst || !inst->module || i >= inst->module->ntables)
    return error_set(WPOOL_EINVAL, "table_grow: no table %u in this instance", i);
  wpool_t *p = inst->pool;
  uint32_t *size = pool_table_size(p, inst->slot, i);
  uint32_t old = *size, max = inst->module->tables[i].max_elements;
  if (delta > max || old > max - delta)
    return error_set(WPOOL_ELIMIT,
                     "table %u: growing %u elements by %u exceeds its maximum of %u elements "
                     "(the module's max, capped by instance_table_elements)",
                     i, old, delta, max);
  /* Elements past the size are zero (the empty element) since the last
   * reset: only a non-empty init is written. */
  if (init) {
    size_t esz = p->cfg.table_element_size;
    uint8_t *e = pool_table_base(p, inst->slot, i) + (uint64_t)old * esz;
    for (uint32_t k = 0; k < delta; k++, e += esz) memcpy(e, init, esz);
  }
  *size = old + delta;
  return old;
}

WPOOL_EXPORT int64_t wpool_table_grow(wpool_instance_t *inst, uint32_t i, uint32_t delta,
                                      void *init) {
  if (init && inst && inst->pool->cfg.table_element_size != sizeof(void *))
    return error_set(WPOOL_EINVAL,
                     "table_grow: elements are %zu bytes, not a pointer; use wpool_table_grow_with",
                     inst->pool->cfg.table_element_size);
  return wpool_table_grow_with(inst, i, delta, init ? (const void *)&init : NULL);
}
