/* Layout arithmetic (see layout.h). */
#include "pool/layout.h"

#include <stdbool.h>

#include "util/error.h"

/* Round `v` up to a multiple of `page`, failing on overflow. */
static bool round_page(uint64_t v, uint64_t page, uint64_t *out) {
  if (v > UINT64_MAX - (page - 1)) return false;
  *out = (v + page - 1) & ~(page - 1);
  return true;
}

static int too_big(const char *field, uint64_t value) {
  return error_set(WPOOL_EINVAL, "%s: %llu is too large (its pool size overflows 64 bits)", field,
                   (unsigned long long)value);
}

/* a * b + c, or false on overflow. */
static bool mul_add(uint64_t a, uint64_t b, uint64_t c, uint64_t *out) {
  uint64_t m;
  return !__builtin_mul_overflow(a, b, &m) && !__builtin_add_overflow(m, c, out);
}

int layout_compute(const wpool_config_t *cfg, uint64_t page, uint64_t address_limit,
                   layout_t *L) {
  *L = (layout_t){.page = page};

  /* Linear memories. */
  uint64_t pages_bytes;
  if (__builtin_mul_overflow(cfg->instance_memory_pages, (uint64_t)WPOOL_PAGE_SIZE, &pages_bytes))
    return too_big("instance_memory_pages", cfg->instance_memory_pages);
  if (!round_page(cfg->memory_reservation, page, &L->mem_reservation))
    return too_big("memory_reservation", cfg->memory_reservation);
  if (L->mem_reservation < pages_bytes)
    return error_set(WPOOL_EINVAL,
                     "memory_reservation: %llu bytes is smaller than instance_memory_pages (%llu) "
                     "* 64 KiB = %llu bytes",
                     (unsigned long long)cfg->memory_reservation,
                     (unsigned long long)cfg->instance_memory_pages,
                     (unsigned long long)pages_bytes);
  if (!round_page(cfg->memory_guard_size, page, &L->mem_guard))
    return too_big("memory_guard_size", cfg->memory_guard_size);
  if (__builtin_add_overflow(L->mem_reservation, L->mem_guard, &L->mem_slot_size))
    return too_big("memory_guard_size", cfg->memory_guard_size);
  if (cfg->instance_memories > 0 && L->mem_slot_size == 0)
    return error_set(WPOOL_EINVAL,
                     "memory_reservation: 0 bytes with memory_guard_size 0 leaves memory slots "
                     "without address space");
  L->mem_slots = (uint64_t)cfg->instance_count * cfg->instance_memories;
  L->mem_pre_guard = cfg->guard_before_linear_memory && L->mem_slots ? L->mem_guard : 0;
  if (!mul_add(L->mem_slots, L->mem_slot_size, L->mem_pre_guard, &L->mem_pool_bytes))
    return too_big("instance_memories", cfg->instance_memories);
  if (L->mem_slots && cfg->memory_unchecked_reach > L->mem_slot_size)
    return error_set(WPOOL_EINVAL,
                     "memory_unchecked_reach: %llu bytes past a memory's base reach beyond its "
                     "memory_reservation (%llu) + memory_guard_size (%llu) = %llu bytes, into the "
                     "next slot; raise memory_guard_size to at least %llu bytes, or bounds-check",
                     (unsigned long long)cfg->memory_unchecked_reach,
                     (unsigned long long)cfg->memory_reservation,
                     (unsigned long long)cfg->memory_guard_size,
                     (unsigned long long)L->mem_slot_size,
                     (unsigned long long)(cfg->memory_unchecked_reach - L->mem_reservation));
  L->keep_memory_auto = cfg->linear_memory_keep_resident == WPOOL_KEEP_AUTO;
  if (!L->keep_memory_auto && !round_page(cfg->linear_memory_keep_resident, page, &L->keep_memory))
    return too_big("linear_memory_keep_resident", cfg->linear_memory_keep_resident);

  /* Tables: elements of table_element_size bytes (at most 256: the
   * product of two such numbers fits 64 bits). */
  if (!round_page((uint64_t)cfg->instance_table_elements * cfg->table_element_size, page,
                  &L->table_slot_size))
    return too_big("instance_table_elements", cfg->instance_table_elements);
  L->table_slots = (uint64_t)cfg->instance_count * cfg->instance_tables;
  if (!mul_add(L->table_slots, L->table_slot_size, 0, &L->table_pool_bytes))
    return too_big("instance_tables", cfg->instance_tables);
  L->keep_table_auto = cfg->table_keep_resident == WPOOL_KEEP_AUTO;
  if (!L->keep_table_auto && !round_page(cfg->table_keep_resident, page, &L->keep_table))
    return too_big("table_keep_resident", cfg->table_keep_resident);

  /* Instance state. */
  if (!round_page(cfg->instance_size, page, &L->state_slot_size) ||
      !mul_add(cfg->instance_count, L->state_slot_size, 0, &L->state_pool_bytes))
    return too_big("instance_size", cfg->instance_size);

  /* Stacks: a guard page below each. */
  if (cfg->stack_count > 0) {
    if (!round_page(cfg->async_stack_size, page, &L->stack_usable) ||
        __builtin_add_overflow(L->stack_usable, page, &L->stack_slot_size) ||
        !mul_add(cfg->stack_count, L->stack_slot_size, 0, &L->stack_pool_bytes))
      return too_big("async_stack_size", cfg->async_stack_size);
  }
  if (!round_page(cfg->async_stack_keep_resident, page, &L->keep_stack))
    return too_big("async_stack_keep_resident", cfg->async_stack_keep_resident);
  if (L->keep_stack > L->stack_usable) L->keep_stack = L->stack_usable;

  /* All of it must fit the host's address space. */
  uint64_t total = 0;
  if (__builtin_add_overflow(L->mem_pool_bytes, L->table_pool_bytes, &total) ||
      __builtin_add_overflow(total, L->state_pool_bytes, &total) ||
      __builtin_add_overflow(total, L->stack_pool_bytes, &total))
    return too_big("instance_count", cfg->instance_count);
  L->total_bytes = total;
  if (total > address_limit)
    return error_set(WPOOL_EINVAL,
                     "instance_count: %u instances need %llu bytes of address space (memories "
                     "%llu, tables %llu, state %llu, stacks %llu), more than this host allows "
                     "(%llu bytes)",
                     cfg->instance_count, (unsigned long long)total,
                     (unsigned long long)L->mem_pool_bytes, (unsigned long long)L->table_pool_bytes,
                     (unsigned long long)L->state_pool_bytes,
                     (unsigned long long)L->stack_pool_bytes, (unsigned long long)address_limit);
  return 0;
}

void layout_mappings(const layout_t *L, uint32_t stack_count, bool guard_markers,
                     layout_mappings_t *out) {
  /* mem_slots < 2^64 / slot size, so 4 * mem_slots + 1 cannot wrap. */
  *out = (layout_mappings_t){
      .memory = L->mem_slots ? 4 * L->mem_slots + 1 : 0,
      .table = L->table_pool_bytes ? 1 : 0,
      .state = L->state_pool_bytes ? 1 : 0,
      .stack = stack_count == 0 ? 0 : guard_markers ? 1 : 2ull * stack_count,
  };
  out->total = out->memory + out->table + out->state + out->stack;
}
