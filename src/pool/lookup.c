/* wpool_fault_lookup: which region of the pool holds an address. Pure
 * arithmetic over the layout plus two atomic loads (the slot's tenant and
 * a memory's accessible size): O(1), no lock, no allocation, so a signal
 * handler may call it. */
#include "pool/types.h"

/* Whether `a` lies in [base, base + len); the offset in *off. */
static bool within(uintptr_t a, const uint8_t *base, uint64_t len, uint64_t *off) {
  if (!base || a < (uintptr_t)base || a - (uintptr_t)base >= len) return false;
  *off = a - (uintptr_t)base;
  return true;
}

static wpool_instance_t *tenant(const wpool_t *p, uint32_t slot) {
  struct wpool_instance_s *inst = &p->instances[slot];
  return atomic_load_explicit(&inst->module, memory_order_acquire) ? inst : NULL;
}

WPOOL_EXPORT int wpool_fault_lookup(const wpool_t *p, const void *addr, wpool_fault_info_t *out) {
  if (!out) return WPOOL_EINVAL;
  *out = (wpool_fault_info_t){.kind = WPOOL_REGION_NONE};
  if (!p) return WPOOL_EINVAL;
  const layout_t *L = &p->layout;
  uintptr_t a = (uintptr_t)addr;
  uint64_t off;
  if (within(a, p->mem_map, L->mem_pool_bytes, &off)) {
    uint64_t i = 0, in = 0;
    if (off < L->mem_pre_guard) {
      in = off - L->mem_pre_guard; /* below memory 0's base: wraps */
    } else {
      i = (off - L->mem_pre_guard) / L->mem_slot_size;
      in = (off - L->mem_pre_guard) % L->mem_slot_size;
    }
    uint32_t slot = (uint32_t)(i / p->cfg.instance_memories);
    uint32_t m = (uint32_t)(i % p->cfg.instance_memories);
    uint64_t accessible = atomic_load_explicit(&p->memslots[i].accessible, memory_order_relaxed);
    *out = (wpool_fault_info_t){.kind = WPOOL_REGION_MEMORY,
                                .slot = slot,
                                .index = m,
                                .offset = in,
                                .accessible = off >= L->mem_pre_guard && in < accessible,
                                .instance = tenant(p, slot)};
    return 0;
  }
  if (within(a, p->table_map, L->table_pool_bytes, &off)) {
    uint64_t i = off / L->table_slot_size;
    uint32_t slot = (uint32_t)(i / p->cfg.instance_tables);
    *out = (wpool_fault_info_t){.kind = WPOOL_REGION_TABLE,
                                .slot = slot,
                                .index = (uint32_t)(i % p->cfg.instance_tables),
                                .offset = off % L->table_slot_size,
                                .accessible = true,
                                .instance = tenant(p, slot)};
    return 0;
  }
  if (within(a, p->state_map, L->state_pool_bytes, &off)) {
    uint32_t slot = (uint32_t)(off / L->state_slot_size);
    *out = (wpool_fault_info_t){.kind = WPOOL_REGION_STATE,
                                .slot = slot,
                                .offset = off % L->state_slot_size,
                                .accessible = true,
                                .instance = tenant(p, slot)};
    return 0;
  }
  if (within(a, p->stack_map, L->stack_pool_bytes, &off)) {
    uint64_t in = off % L->stack_slot_size;
    *out = (wpool_fault_info_t){.kind = WPOOL_REGION_STACK,
                                .slot = (uint32_t)(off / L->stack_slot_size),
                                .offset = in,
                                .accessible = in >= L->page};
    return 0;
  }
  return WPOOL_EINVAL;
}
