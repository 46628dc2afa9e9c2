/* The pool's metadata (see meta.h). */
#include "pool/meta.h"

#include "pool/types.h"
#include "util/error.h"

static uint64_t sat_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* Bytes of metadata per slot of each kind. */
typedef struct per_slot {
  uint64_t instance, memory, table, stack;
} per_slot_t;

static per_slot_t per_slot(const wpool_config_t *cfg, const layout_t *L) {
  /* Pages tracked per slot region by the automatic keep set. */
  uint64_t mp = L->keep_memory_auto ? keep_pages(L->mem_reservation, L->page) : 0;
  uint64_t tp = L->keep_table_auto ? keep_pages(L->table_slot_size, L->page) : 0;
  return (per_slot_t){
      .instance = sizeof(struct wpool_instance_s) + INDEX_SLOT_BYTES +
                  (cfg->decommit_batch_size > 1 ? sizeof(transit_t) : 0) +
                  (cfg->background_reset ? sizeof(recycle_pending_t) : 0),
      .memory = sizeof(memslot_t) + mp,
      .table = sizeof(uint32_t) + (tp ? sizeof(keep_marks_t) + tp : 0),
      .stack = sizeof(struct wpool_stack_s) + INDEX_SLOT_BYTES,
  };
}

void meta_compute(const wpool_config_t *cfg, const layout_t *L, meta_t *out) {
  per_slot_t u = per_slot(cfg, L);
  *out = (meta_t){
      .instance_bytes = sat_mul(u.instance, cfg->instance_count),
      .memory_bytes = sat_mul(u.memory, L->mem_slots),
      .table_bytes = sat_mul(u.table, L->table_slots),
      .stack_bytes = sat_mul(u.stack, cfg->stack_count),
  };
  out->total_bytes = sat_add(sat_add(out->instance_bytes, out->memory_bytes),
                             sat_add(out->table_bytes, out->stack_bytes));
}

int meta_check(const wpool_config_t *cfg, const meta_t *m, uint64_t limit_bytes) {
  if (m->total_bytes <= limit_bytes) return 0;
  const char *field = "instance_count";
  uint64_t value = cfg->instance_count, most = m->instance_bytes;
  if (m->memory_bytes > most) {
    most = m->memory_bytes;
    if (cfg->instance_memories > cfg->instance_count) {
      field = "instance_memories";
      value = cfg->instance_memories;
    }
  }
  if (m->table_bytes > most) {
    most = m->table_bytes;
    field = cfg->instance_tables > cfg->instance_count ? "instance_tables" : "instance_count";
    value = cfg->instance_tables > cfg->instance_count ? cfg->instance_tables : cfg->instance_count;
  }
  if (m->stack_bytes > most) {
    field = "stack_count";
    value = cfg->stack_count;
  }
  return error_set(WPOOL_EINVAL,
                   "%s: %llu makes the pool's metadata %llu bytes (instance slots %llu, memory "
                   "slots %llu for instance_count %u x instance_memories %u, table slots %llu, "
                   "stacks %llu), more than this host's physical memory (%llu bytes)",
                   field, (unsigned long long)value, (unsigned long long)m->total_bytes,
                   (unsigned long long)m->instance_bytes, (unsigned long long)m->memory_bytes,
                   cfg->instance_count, cfg->instance_memories,
                   (unsigned long long)m->table_bytes, (unsigned long long)m->stack_bytes,
                   (unsigned long long)limit_bytes);
}
