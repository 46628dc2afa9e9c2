/* The pool's metadata: every array whose length comes from the
 * configuration (a record per instance slot, stack, memory slot or table
 * slot, a byte per tracked page, the background worker's queue), its
 * bytes, and their bound. Pure arithmetic over a validated configuration
 * and its layout, like layout.c, so wpool_create refuses before it
 * allocates anything, and `wpool plan` and tests compute the same figures.
 *
 * The bound: all of it together must fit in this host's physical memory
 * (a pool whose every slot is used holds all of it). The arrays are
 * allocated whole at wpool_create, as mappings whose pages are committed
 * only when a slot on them is first used (heap_array), so a pool of many
 * slots costs the memory of the slots it uses, and wpool_destroy what was
 * touched. */
#ifndef WPOOL_META_H
#define WPOOL_META_H

#include <stdint.h>

#include "pool/layout.h"
#include "wpool.h"

/* Bytes, by what multiplies them; a sum that would overflow saturates. */
typedef struct meta {
  uint64_t instance_bytes; /* per instance slot: its record, index entries, transit record */
  uint64_t memory_bytes;   /* per memory slot: its record, a mark per tracked page (auto) */
  uint64_t table_bytes;    /* per table slot: its size; its keep record and marks (auto) */
  uint64_t stack_bytes;    /* per stack: its record and index entries */
  uint64_t total_bytes;
} meta_t;

/* What `cfg` (validated by config_validate, laid out as `L`) needs. */
void meta_compute(const wpool_config_t *cfg, const layout_t *L, meta_t *out);

/* Return: 0 when the metadata fits `limit_bytes`, else WPOOL_EINVAL
 * naming the field whose records weigh most (of instance_count x
 * instance_memories or x instance_tables, the larger), its value, the
 * bytes and the limit (wpool_last_error()). */
int meta_check(const wpool_config_t *cfg, const meta_t *m, uint64_t limit_bytes);

#endif
