/* Instances: taking a slot, preparing its memories and tables, resetting
 * them on free. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "pool/pool_internal.h"
#include "util/error.h"

static int os_error(int err, uint32_t slot, uint32_t mem) {
  if (err == -ENOMEM)
    return error_set(WPOOL_ENOMEM,
                     "instance slot %u, memory %u: out of memory, address space or kernel "
                     "mappings (vm.max_map_count)",
                     slot, mem);
  return error_set(WPOOL_ESYS, "instance slot %u, memory %u: %s", slot, mem, strerror(-err));
}

void instance_slot_unmap_images(wpool_t *p, uint32_t slot) {
  for (uint32_t i = 0; i < p->cfg.instance_memories; i++)
    memslot_drop_image(pool_memslot(p, slot, i), pool_memory_base(p, slot, i), &p->mem_ctx);
}

WPOOL_EXPORT int wpool_instance_new(wpool_t *p, wpool_module_t *m, wpool_instance_t **out) {
  if (!p || !m || !out) return error_set(WPOOL_EINVAL, "instance_new: NULL argument");
  *out = NULL;
  if (m->pool != p) return error_set(WPOOL_EINVAL, "instance_new: the module belongs to another pool");
  if (atomic_load(&m->released))
    return error_set(WPOOL_EINVAL, "instance_new: the module was released");

  uint32_t slot = index_alloc(&p->index, m->id, NULL);
  if (slot == INDEX_NONE && atomic_load(&p->queued_slots)) {
    /* Freed slots wait for their batched decommit: issue it, then retry. */
    pool_flush_queue(p);
    slot = index_alloc(&p->index, m->id, NULL);
  }
  if (slot == INDEX_NONE && p->cfg.background_reset) {
    /* Freed slots may be on their way back from the worker: wait for its
     * rounds, up to background_wait_ms in all. */
    uint64_t deadline = pool_now_ns() + (uint64_t)p->cfg.background_wait_ms * 1000000;
    while (slot == INDEX_NONE && background_wait(p, deadline))
      slot = index_alloc(&p->index, m->id, NULL);
  }
  if (slot == INDEX_NONE)
    return error_set(WPOOL_EEXHAUSTED, "all %u instance slots are in use (instance_count)",
                     p->cfg.instance_count);
  struct wpool_instance_s *inst = &p->instances[slot];
  /* A trim may be releasing this slot's pages right now; it holds the slot
   * for a few system calls. */
  slot_wait_trim(inst);

  /* Memories past the module's count are made empty too, so no image of
   * an earlier module lingers in this slot once its module is released. */
  for (uint32_t i = 0; i < p->cfg.instance_memories; i++) {
    image_t *img = i < m->nmemories ? m->memories[i].image : NULL;
    uint64_t bytes = i < m->nmemories ? m->memories[i].min_bytes : 0;
    int err = memslot_prepare(pool_memslot(p, slot, i), pool_memory_base(p, slot, i), &p->mem_ctx,
                              img, bytes);
    if (err) {
      /* Roll back: nothing of this module stays mapped, and the slot goes
       * back to the pool (warm, affine to nothing). */
      err = os_error(err, slot, i);
      instance_slot_unmap_images(p, slot);
      index_free_unaffine(&p->index, slot);
      return err;
    }
  }
  /* Tables are all NULL since the last reset; only their sizes change. */
  for (uint32_t t = 0; t < p->cfg.instance_tables; t++)
    *pool_table_size(p, slot, t) = t < m->ntables ? m->tables[t].min_elements : 0;

  atomic_fetch_sub(&p->kept_resident_bytes, inst->kept);
  inst->kept = 0;
  inst->trimmed = false;
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  inst->module = m;
  atomic_fetch_add(&p->live_instances, 1);
  atomic_fetch_add(&p->instances_created, 1);
  *out = inst;
  return 0;
}

/* Give a reset slot back to the index allocator: warm and affine to its
 * module, or affine to nothing (and without the module's images) if the
 * module was released meanwhile. Drops the instance's module reference. */
static void return_slot(wpool_t *p, uint32_t slot, wpool_module_t *m) {
  if (atomic_load(&m->released)) {
    /* The module is gone: unmap its images now rather than when the slot
     * is reused, so its memfd can be released. */
    instance_slot_unmap_images(p, slot);
    index_free_unaffine(&p->index, slot);
  } else {
    index_free(&p->index, slot);
  }
  module_unref(m);
}

/* Issue the ranges of `n` queued slots together, then return the slots. */
void instance_return_slots(wpool_t *p, const uint32_t *slots, uint32_t n) {
  decommit_batch_t batch = pool_decommit_batch(p);
  for (uint32_t i = 0; i < n; i++) {
    const pending_t *pd = &p->pending[slots[i]];
    for (uint32_t k = 0; k < pd->n; k++)
      decommit_add(&batch, pd->r[k].p, pd->r[k].len, pd->r[k].base, pd->r[k].img);
  }
  decommit_flush(&batch);
  for (uint32_t i = 0; i < n; i++) return_slot(p, slots[i], p->pending[slots[i]].module);
}

void pool_flush_queue(wpool_t *p) {
  for (;;) {
    uint32_t take[64], ntake;
    pthread_mutex_lock(&p->queue_lock);
    ntake = p->queued < 64 ? p->queued : 64;
    p->queued -= ntake;
    memcpy(take, p->queue + p->queued, ntake * sizeof(take[0]));
    atomic_store(&p->queued_slots, p->queued);
    pthread_mutex_unlock(&p->queue_lock);
    if (!ntake) return;
    instance_return_slots(p, take, ntake);
  }
}

WPOOL_EXPORT void wpool_decommit_flush(wpool_t *p) {
  if (p) pool_flush_queue(p);
}

void instance_reset_slot(wpool_t *p, uint32_t slot, wpool_module_t *m, decommit_batch_t *batch) {
  struct wpool_instance_s *inst = &p->instances[slot];
  uint64_t kept = 0;
  for (uint32_t i = 0; i < m->nmemories; i++)
    kept += memslot_reset(pool_memslot(p, slot, i), pool_memory_base(p, slot, i), &p->mem_ctx,
                          batch);
  for (uint32_t t = 0; t < m->ntables; t++) {
    uint32_t *size = pool_table_size(p, slot, t);
    uint64_t bytes = ((uint64_t)*size * sizeof(void *) + p->layout.page - 1) & ~(p->layout.page - 1);
    reset_plan_t plan;
    reset_plan_memory(bytes, 0, 0, p->layout.keep_table, &plan);
    kept += region_reset((uint8_t *)pool_table_base(p, slot, t), &plan, batch);
    *size = 0;
  }
  if (m->state_size) {
    memset(p->state_map + (uint64_t)slot * p->layout.state_slot_size, 0, m->state_size);
    COUNTER_ADD(&p->mem_counters, memset_bytes, m->state_size);
    kept += m->state_size;
  }
  inst->kept = kept;
  inst->trimmed = false;
  inst->freed_ns = pool_now_ns();
  atomic_fetch_add(&p->kept_resident_bytes, kept);
}

WPOOL_EXPORT void wpool_instance_free(wpool_instance_t *inst) {
  if (!inst || !inst->module) return;
  wpool_t *p = inst->pool;
  wpool_module_t *m = inst->module;
  uint32_t slot = inst->slot;
  inst->module = NULL;
  atomic_fetch_sub(&p->live_instances, 1);
  if (p->cfg.background_reset) {
    /* The worker resets the slot; this thread only queues it. */
    background_queue(p, slot, m);
    return;
  }

  /* Every range to madvise, of every memory and table, in one batch: one
   * process_madvise, one TLB flush. */
  decommit_batch_t batch = pool_decommit_batch(p);
  instance_reset_slot(p, slot, m, &batch);
  if (p->cfg.decommit_batch_size <= 1 || batch.n == 0 || batch.n > PENDING_RANGES) {
    decommit_flush(&batch);
    return_slot(p, slot, m);
    return;
  }
  /* Batched decommit: the slot waits, with its ranges, until enough slots
   * wait to make one call for all of them worth it. */
  pending_t *pd = &p->pending[slot];
  memcpy(pd->r, batch.r, batch.n * sizeof(batch.r[0]));
  pd->n = batch.n;
  pd->module = m;
  uint32_t take[64], ntake = 0;
  pthread_mutex_lock(&p->queue_lock);
  p->queue[p->queued++] = slot;
  if (p->queued >= p->cfg.decommit_batch_size) {
    ntake = p->queued;
    memcpy(take, p->queue, ntake * sizeof(take[0]));
    p->queued = 0;
  }
  atomic_store(&p->queued_slots, p->queued);
  pthread_mutex_unlock(&p->queue_lock);
  if (ntake) instance_return_slots(p, take, ntake);
}

WPOOL_EXPORT uint32_t wpool_instance_slot(const wpool_instance_t *inst) { return inst->slot; }

WPOOL_EXPORT void *wpool_instance_state(wpool_instance_t *inst) {
  return inst->pool->state_map + (uint64_t)inst->slot * inst->pool->layout.state_slot_size;
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
  memslot_t *s = pool_memslot(p, inst->slot, i);
  uint64_t old = s->accessible / WPOOL_PAGE_SIZE, max = inst->module->memories[i].max_pages;
  if (delta > max || old > max - delta)
    return error_set(WPOOL_ELIMIT,
                     "memory %u: growing %llu pages by %llu exceeds its maximum of %llu pages "
                     "(the module's max, capped by instance_memory_pages)",
                     i, (unsigned long long)old, (unsigned long long)delta,
                     (unsigned long long)max);
  int err = memslot_grow(s, pool_memory_base(p, inst->slot, i), &p->mem_ctx,
                         (old + delta) * WPOOL_PAGE_SIZE);
  if (err) return os_error(err, inst->slot, i);
  return (int64_t)old;
}

WPOOL_EXPORT void **wpool_table_base(wpool_instance_t *inst, uint32_t i) {
  if (!inst->module || i >= inst->module->ntables) return NULL;
  return pool_table_base(inst->pool, inst->slot, i);
}

WPOOL_EXPORT uint32_t wpool_table_size(const wpool_instance_t *inst, uint32_t i) {
  if (!inst->module || i >= inst->module->ntables) return 0;
  return *pool_table_size(inst->pool, inst->slot, i);
}

WPOOL_EXPORT int64_t wpool_table_grow(wpool_instance_t *inst, uint32_t i, uint32_t delta,
                                      void *init) {
  if (!inst || !inst->module || i >= inst->module->ntables)
    return error_set(WPOOL_EINVAL, "table_grow: no table %u in this instance", i);
  uint32_t *size = pool_table_size(inst->pool, inst->slot, i);
  uint32_t old = *size, max = inst->module->tables[i].max_elements;
  if (delta > max || old > max - delta)
    return error_set(WPOOL_ELIMIT,
                     "table %u: growing %u elements by %u exceeds its maximum of %u elements "
                     "(the module's max, capped by instance_table_elements)",
                     i, old, delta, max);
  void **base = pool_table_base(inst->pool, inst->slot, i);
  if (init)
    for (uint32_t e = old; e < old + delta; e++) base[e] = init;
  *size = old + delta;
  return old;
}
