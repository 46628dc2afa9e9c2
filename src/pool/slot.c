/* One instance slot (see slot.h). */
#include "pool/slot.h"

#include <string.h>

#include "memory/reset.h"
#include "util/error.h"

static int os_error(int err, uint32_t slot, uint32_t mem) {
  int code = error_from_errno(err);
  if (code == WPOOL_ENOMEM)
    return error_set(code,
                     "instance slot %u, memory %u: out of memory, address space or kernel "
                     "mappings (vm.max_map_count)",
                     slot, mem);
  return error_set(code, "instance slot %u, memory %u: %s", slot, mem, strerror(-err));
}

/* The bytes `inst`'s last reset kept are no longer kept for later: a
 * tenant took them, or a trim gave them back. */
static void slot_forget_kept(wpool_t *p, struct wpool_instance_s *inst) {
  atomic_fetch_sub(&p->kept_memory, inst->kept.memory);
  atomic_fetch_sub(&p->kept_table, inst->kept.table);
  atomic_fetch_sub(&p->kept_state, inst->kept.state);
  inst->kept = (kept_t){0};
}

void slot_unmap_images(wpool_t *p, uint32_t slot) {
  for (uint32_t i = 0; i < p->cfg.instance_memories; i++)
    memslot_drop_image(pool_memslot(p, slot, i), pool_memory_base(p, slot, i), &p->mem_ctx);
}

int slot_prepare(wpool_t *p, uint32_t slot, const wpool_module_t *m) {
  struct wpool_instance_s *inst = &p->instances[slot];
  for (uint32_t i = 0; i < p->cfg.instance_memories; i++) {
    image_t *img = i < m->nmemories ? m->memories[i].image : NULL;
    uint64_t bytes = i < m->nmemories ? m->memories[i].min_bytes : 0;
    int err = memslot_prepare(pool_memslot(p, slot, i), pool_memory_base(p, slot, i), &p->mem_ctx,
                              img, bytes);
    if (err) {
      err = os_error(err, slot, i);
      slot_unmap_images(p, slot);
      return err;
    }
  }
  /* Tables are all NULL since the last reset; only their sizes change. */
  for (uint32_t t = 0; t < p->cfg.instance_tables; t++)
    *pool_table_size(p, slot, t) = t < m->ntables ? m->tables[t].min_elements : 0;
  slot_forget_kept(p, inst);
  inst->trimmed = false;
  return 0;
}

int slot_memory_grow(wpool_t *p, uint32_t slot, uint32_t i, uint64_t bytes) {
  int err = memslot_grow(pool_memslot(p, slot, i), pool_memory_base(p, slot, i), &p->mem_ctx, bytes);
  return err ? os_error(err, slot, i) : 0;
}

void slot_reset(wpool_t *p, uint32_t slot, const wpool_module_t *m, decommit_batch_t *batch,
                uint64_t now_ns) {
  struct wpool_instance_s *inst = &p->instances[slot];
  kept_t kept = {0};
  for (uint32_t i = 0; i < m->nmemories; i++)
    kept.memory += memslot_reset(pool_memslot(p, slot, i), pool_memory_base(p, slot, i),
                                 &p->mem_ctx, batch);
  for (uint32_t t = 0; t < m->ntables; t++) {
    uint32_t *size = pool_table_size(p, slot, t);
    uint64_t bytes = (uint64_t)*size * p->cfg.table_element_size;
    bytes = (bytes + p->layout.page - 1) & ~(p->layout.page - 1);
    reset_plan_t plan;
    reset_plan_memory(bytes, 0, 0, p->layout.keep_table, &plan);
    kept.table += reset_apply(pool_table_base(p, slot, t), &plan, NULL, batch);
    *size = 0;
  }
  if (m->state_size) {
    memset(pool_state_base(p, slot), 0, m->state_size);
    COUNTER_ADD(&p->mem_counters, memset_bytes, m->state_size);
    kept.state = m->state_size;
  }
  /* A slot reset again (a child adopting a reset its parent began) counts
   * only its latest kept bytes. */
  slot_forget_kept(p, inst);
  inst->kept = kept;
  inst->trimmed = false;
  inst->freed_ns = now_ns;
  atomic_fetch_add(&p->kept_memory, kept.memory);
  atomic_fetch_add(&p->kept_table, kept.table);
  atomic_fetch_add(&p->kept_state, kept.state);
}

void slot_trim(wpool_t *p, uint32_t slot, decommit_batch_t *batch) {
  struct wpool_instance_s *inst = &p->instances[slot];
  /* Memories: private pages only; the image stays mapped, so its bytes
   * read back from the page cache. */
  for (uint32_t i = 0; i < p->cfg.instance_memories; i++) {
    uint8_t *base = pool_memory_base(p, slot, i);
    decommit_add(batch, base, pool_memslot(p, slot, i)->accessible, base, NULL);
  }
  for (uint32_t t = 0; t < p->cfg.instance_tables; t++) {
    uint8_t *base = pool_table_base(p, slot, t);
    decommit_add(batch, base, p->layout.table_slot_size, base, NULL);
  }
  uint8_t *state = pool_state_base(p, slot);
  decommit_add(batch, state, p->layout.state_slot_size, state, NULL);
  atomic_fetch_add(&p->trimmed_bytes, kept_total(inst->kept));
  atomic_fetch_add(&p->slots_trimmed, 1);
  slot_forget_kept(p, inst);
  inst->trimmed = true;
}
