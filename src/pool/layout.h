/* The pool's address space, computed from a configuration alone: pure
 * arithmetic over the config, the host page size and the address-space
 * limit (no system call inside), so `wpool plan`, the config fuzzer and
 * tests compute exactly what wpool_create maps.
 *
 * Four reservations, each one mapping made once (MAP_NORESERVE):
 *
 *  memories  | pre | mem 0.0 | guard | mem 0.1 | guard | ... | mem S-1.M-1 | guard |
 *            | guard (opt.)  <- mem_slot_size ->                              |
 *            memory slot i*M+m = memory m of instance slot i (M = instance_memories)
 *            each: mem_reservation bytes (accessible prefix + PROT_NONE rest),
 *            then mem_guard bytes PROT_NONE; memory_unchecked_reach must stay
 *            within the two, so an unchecked access never leaves the slot
 *
 *  tables    | table 0.0 | table 0.1 | ... |   table_slot_size each, read-write
 *  state     | state 0 | state 1 | ... |       state_slot_size each, read-write
 *  stacks    | g | stack 0 | g | stack 1 | ... | stack_slot_size each:
 *            one guard page g (PROT_NONE) below stack_usable bytes
 *
 * Every size is a multiple of `page`; every sum and product is checked for
 * overflow. */
#ifndef WPOOL_LAYOUT_H
#define WPOOL_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "wpool.h"

typedef struct layout {
  uint64_t page;            /* host page size */
  uint64_t mem_reservation; /* per memory slot, before its guard */
  uint64_t mem_guard;       /* after each memory slot */
  uint64_t mem_slot_size;   /* reservation + guard */
  uint64_t mem_pre_guard;   /* before the first memory slot */
  uint64_t mem_slots;       /* instance_count * instance_memories */
  uint64_t mem_pool_bytes;
  uint64_t table_slot_size; /* instance_table_elements * table_element_size, page-rounded */
  uint64_t table_slots;     /* instance_count * instance_tables */
  uint64_t table_pool_bytes;
  uint64_t state_slot_size; /* instance_size, page-rounded */
  uint64_t state_pool_bytes;
  uint64_t stack_usable;    /* async_stack_size, page-rounded */
  uint64_t stack_slot_size; /* guard page + usable */
  uint64_t stack_pool_bytes;
  uint64_t total_bytes;     /* all four pools */
  uint64_t keep_memory;     /* linear_memory_keep_resident, page-rounded; 0 when auto */
  uint64_t keep_table;      /* table_keep_resident, page-rounded; 0 when auto */
  bool keep_memory_auto;    /* WPOOL_KEEP_AUTO */
  bool keep_table_auto;
  uint64_t keep_stack;      /* async_stack_keep_resident, page-rounded, <= stack_usable */
} layout_t;

/* Kernel mappings (VMAs) the pools can take at most, by kind
 * (docs/architecture.md): a memory slot in use or warm splits into at most
 * 4 (read-write before its image, the image, read-write after, the
 * PROT_NONE rest with its guard), plus one for the untouched rest of the
 * pool; tables and state 1 each; stacks 1 with MADV_GUARD_INSTALL guard
 * markers, else 2 each (guard, stack). Images add one read-only view per
 * module memory with data, counted apart. */
typedef struct layout_mappings {
  uint64_t memory, table, state, stack, total;
} layout_mappings_t;

void layout_mappings(const layout_t *L, uint32_t stack_count, bool guard_markers,
                     layout_mappings_t *out);

/* Compute the layout of `cfg` (whose counts and enums config_validate()
 * has checked) for a host with pages of `page` bytes (a power of two) and
 * `address_limit` bytes of address space.
 * Return: 0, or WPOOL_EINVAL naming the field whose size overflows 64 bits
 * or does not fit the address space (wpool_last_error()). */
int layout_compute(const wpool_config_t *cfg, uint64_t page, uint64_t address_limit,
                   layout_t *out);

#endif
