/* Fuzz configuration validation: any wpool_config_t is either refused
 * with WPOOL_EINVAL and a message naming a field, or describes pools whose
 * sizes add up; small valid ones are created and destroyed for real. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool/config.h"

static uint64_t take(const uint8_t **d, size_t *n, unsigned bytes) {
  uint64_t v = 0;
  for (unsigned i = 0; i < bytes && *n; i++, (*d)++, (*n)--) v = v << 8 | **d;
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wpool_config_t c;
  wpool_config_init(&c);
  /* Each field from a few input bytes, so that small and huge values and
   * their combinations are all reachable. */
  c.instance_count = (uint32_t)take(&data, &size, 2);
  c.instance_size = take(&data, &size, 4);
  c.max_unused_warm_slots = (uint32_t)take(&data, &size, 2);
  c.instance_memories = (uint32_t)take(&data, &size, 1);
  c.instance_memory_pages = take(&data, &size, 8);
  c.memory_reservation = take(&data, &size, 8);
  c.memory_guard_size = take(&data, &size, 8);
  c.guard_before_linear_memory = take(&data, &size, 1) & 1;
  c.linear_memory_keep_resident = take(&data, &size, 8);
  c.instance_tables = (uint32_t)take(&data, &size, 1);
  c.instance_table_elements = (uint32_t)take(&data, &size, 4);
  c.table_keep_resident = take(&data, &size, 8);
  c.stack_count = (uint32_t)take(&data, &size, 2);
  c.async_stack_size = take(&data, &size, 4);
  c.async_stack_zeroing = take(&data, &size, 1) & 1;
  c.async_stack_keep_resident = take(&data, &size, 4);
  c.reset_strategy = (wpool_reset_strategy_t)take(&data, &size, 1);
  c.memory_unchecked_reach = take(&data, &size, 8);
  c.table_element_size = take(&data, &size, 2);
  layout_t L;
  wpool_config_t checked;
  int err = config_validate(&c, &checked, &L);
  if (err) {
    if (err != WPOOL_EINVAL || !strchr(wpool_last_error(), ':')) abort();
    return 0;
  }
  if (L.mem_pool_bytes < L.mem_slots * L.mem_slot_size ||
      L.total_bytes < L.mem_pool_bytes + L.table_pool_bytes + L.state_pool_bytes ||
      L.mem_reservation < c.instance_memory_pages * WPOOL_PAGE_SIZE ||
      L.keep_stack > L.stack_usable ||
      (L.mem_slots && checked.memory_unchecked_reach > L.mem_slot_size) ||
      L.table_slot_size < (uint64_t)c.instance_table_elements * c.table_element_size)
    abort();
  if (L.total_bytes <= (64ull << 30) && c.instance_count <= 64 && c.stack_count <= 64) {
    wpool_t *p;
    err = wpool_create(&c, &p);
    if (err == 0) {
      if (wpool_destroy(p) != 0) abort();
    } else if (err != WPOOL_ENOMEM && err != WPOOL_ENOTSUP && err != WPOOL_ESYS) {
      abort();
    }
  }
  return 0;
}
