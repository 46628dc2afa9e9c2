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

/* The precondition of every change of a slot but a trim: its holder has
 * it (SLOT_USED) and no live instance is in it. One index lock round; the
 * caller wraps it in debug_assert, so level 2 pays it, not below. */
static bool held_empty(wpool_t *p, uint32_t slot) {
  return index_slot_state(&p->index, slot) == SLOT_USED &&
         !atomic_load_explicit(&p->instances[slot].module, memory_order_relaxed);
}

/* Account the slot's kept bytes as `k` from now on. */
static void slot_set_kept(wpool_t *p, struct wpool_instance_s *inst, kept_t k) {
  atomic_fetch_add(&p->kept_memory, k.memory - inst->kept.memory);
  atomic_fetch_add(&p->kept_table, k.table - inst->kept.table);
  atomic_fetch_add(&p->kept_state, k.state - inst->kept.state);
  inst->kept = k;
}

/* Give back every page the slot's tables keep (they belong to the module
 * whose tenants used them). */
static void drop_tables(wpool_t *p, uint32_t slot, decommit_batch_t *batch) {
  for (uint32_t t = 0; t < p->instances[slot].tables_used; t++) {
    uint8_t *base = pool_table_base(p, slot, t);
    decommit_add(batch, base, p->layout.table_slot_size, base, NULL, p->layout.table_slot_size);
    if (p->table_kept) keep_marks_clear(&p->table_kept[(uint64_t)slot * p->cfg.instance_tables + t]);
  }
}

void slot_release(wpool_t *p, uint32_t slot) {
  debug_assert(held_empty(p, slot));
  struct wpool_instance_s *inst = &p->instances[slot];
  for (uint32_t i = 0; i < inst->memories_used; i++)
    memslot_release(pool_memslot(p, slot, i), pool_memory_base(p, slot, i), &p->mem_ctx);
  if (inst->kept.table) {
    decommit_batch_t batch = decommit_batch(&p->decommit);
    drop_tables(p, slot, &batch);
    decommit_flush(&batch);
  }
  slot_set_kept(p, inst, (kept_t){.state = inst->kept.state});
  inst->owner = 0;
}

/* The records a tenant of `m` needs that no tenant of the slot had: until
 * now they were zero pages of the pool's metadata, never written
 * (pool/meta.h), so a pool of many slots, memories or tables costs what
 * its tenants use. */
static void slot_records(wpool_t *p, uint32_t slot, const wpool_module_t *m) {
  struct wpool_instance_s *inst = &p->instances[slot];
  inst->pool = p;
  inst->slot = slot;
  uint64_t mp = p->keep_memory_pages, tp = p->keep_table_pages;
  for (uint32_t i = inst->memories_used; i < m->nmemories; i++) {
    uint64_t k = (uint64_t)slot * p->cfg.instance_memories + i;
    if (mp) p->memslots[k].kept = (keep_marks_t){.marks = p->keep_bytes + k * mp,
                                                 .pages = (uint32_t)mp};
  }
  uint8_t *table_marks = p->keep_bytes + mp * p->layout.mem_slots;
  for (uint32_t t = inst->tables_used; t < m->ntables; t++) {
    uint64_t k = (uint64_t)slot * p->cfg.instance_tables + t;
    if (tp) p->table_kept[k] = (keep_marks_t){.marks = table_marks + k * tp, .pages = (uint32_t)tp};
  }
  if (m->nmemories > inst->memories_used) inst->memories_used = m->nmemories;
  if (m->ntables > inst->tables_used) inst->tables_used = m->ntables;
}

int slot_prepare(wpool_t *p, uint32_t slot, const wpool_module_t *m) {
  debug_assert(held_empty(p, slot));
  debug_assert(!atomic_load(&p->instances[slot].trimming));
  struct wpool_instance_s *inst = &p->instances[slot];
  slot_records(p, slot, m);
  /* Kept pages belong to their module: a tenant of another one takes the
   * slot without them. */
  bool moved = inst->owner != m->serial;
  for (uint32_t i = 0; i < inst->memories_used; i++) {
    image_t *img = i < m->nmemories ? m->memories[i].image : NULL;
    uint64_t bytes = i < m->nmemories ? m->memories[i].min_bytes : 0;
    int err = memslot_prepare(pool_memslot(p, slot, i), pool_memory_base(p, slot, i), &p->mem_ctx,
                              img, bytes, moved);
    if (err) {
      err = os_error(err, slot, i);
      slot_release(p, slot);
      return err;
    }
  }
  if (moved && inst->kept.table) {
    decommit_batch_t batch = decommit_batch(&p->decommit);
    drop_tables(p, slot, &batch);
    decommit_flush(&batch);
  } else if (moved && p->table_kept) {
    /* Nothing counted kept (no element was in use), but a table may have
     * been zeroed whole for the old module: another's judges afresh. (Its
     * marks stay: a page past the elements in use may still be resident,
     * and a proof counts on every resident page being marked.) */
    for (uint32_t t = 0; t < inst->tables_used; t++)
      p->table_kept[(uint64_t)slot * p->cfg.instance_tables + t].whole = false;
  }
  inst->owner = m->serial;
  /* Tables are all zero since the last reset; only their sizes change. */
  for (uint32_t t = 0; t < inst->tables_used; t++)
    *pool_table_size(p, slot, t) = t < m->ntables ? m->tables[t].min_elements : 0;
  /* The kept bytes are the tenant's now. */
  slot_set_kept(p, inst, (kept_t){0});
  inst->trimmed = false;
  return 0;
}

int slot_memory_grow(wpool_t *p, uint32_t slot, uint32_t i, uint64_t bytes) {
  /* The live tenant's own memory. */
  debug_assert(atomic_load_explicit(&p->instances[slot].module, memory_order_relaxed) &&
               i < p->instances[slot].memories_used);
  int err = memslot_grow(pool_memslot(p, slot, i), pool_memory_base(p, slot, i), &p->mem_ctx, bytes);
  return err ? os_error(err, slot, i) : 0;
}

/* Reset table `t` of `slot`: by the automatic keep set where it is on
 * (its kept pages taken for its private ones when pass->proved), else the
 * prefix plan over the elements in use (then *exact becomes false). */
static uint64_t reset_table(wpool_t *p, uint32_t slot, uint32_t t, decommit_batch_t *batch,
                            keep_pass_t *pass, bool *exact) {
  uint64_t idx = (uint64_t)slot * p->cfg.instance_tables + t;
  uint8_t *base = pool_table_base(p, slot, t);
  uint32_t *size = pool_table_size(p, slot, t);
  /* Only the elements in use can have been written: past them the table
   * is as the last reset left it. */
  uint64_t used = (uint64_t)*size * p->cfg.table_element_size;
  used = (used + p->layout.page - 1) & ~(p->layout.page - 1);
  if (p->table_kept && p->mem_ctx.scanner) {
    keep_region_t r = {.base = base, .scan_bytes = used, .writable_bytes = used,
                       .initial_bytes = used};
    keep_result_t out;
    if (keep_reset(&r, &p->table_kept[idx], p->mem_ctx.scanner, pass, batch, &out) == 0) {
      COUNTER_ADD(&p->mem_counters, memset_bytes, out.restored_bytes);
      COUNTER_ADD(&p->mem_counters, keep_dropped_bytes, out.dropped_bytes);
      COUNTER_ADD(&p->mem_counters, dirty_scans, out.scans);
      *size = 0;
      return out.kept_bytes;
    }
  }
  *exact = false;
  reset_plan_t plan;
  reset_plan_memory(used, 0, 0, p->layout.keep_table, &plan);
  if (p->table_kept) keep_marks_clear(&p->table_kept[idx]);
  *size = 0;
  return reset_apply(base, &plan, NULL, used, batch);
}

keep_judge_t slot_keep_judge(wpool_t *p, const keep_costs_t *kc) {
  /* A kept page given back costs, when a tenant writes it again, a fault,
   * and that fault makes the live instances' slots scan at their next
   * resets (proof.h): the window counts both. */
  uint64_t live = atomic_load_explicit(&p->live_instances, memory_order_relaxed);
  keep_judge_t j =
      keep_judge(kc, p->mem_ctx.keep_auto ? proof_fault_ns(&p->proof_rate, kc, live) : 0);
  j.zero_ns = keep_zero_ns(&p->zeros, kc);
  return j;
}

void slot_reset(wpool_t *p, uint32_t slot, wpool_module_t *m, decommit_batch_t *batch,
                uint64_t now_ns) {
  debug_assert(held_empty(p, slot));
  debug_assert(atomic_load_explicit(&m->refs, memory_order_relaxed) >= 1);
  struct wpool_instance_s *inst = &p->instances[slot];
  debug_assert(m->nmemories <= inst->memories_used && m->ntables <= inst->tables_used);
  debug_assert(kept_total(inst->kept) == 0); /* the tenant's since its prepare */
  kept_t kept = {0};
  /* Whether any tenant since the slot's last reset could have written
   * more than its kept pages (proof.h): if not, nothing is scanned. */
  proof_t pr = {0};
  keep_pass_t pass = {0};
  if (p->mem_ctx.scanner && (p->mem_ctx.keep_auto || p->table_kept)) {
    const keep_costs_t *kc = keep_costs(p->mem_ctx.scanner);
    bool scan;
    if (p->mem_ctx.keep_auto)
      pr = proof_begin(&inst->proof, &p->proof_rate,
                       COUNTER_GET(&p->mem_counters, madvise_refused_bytes), kc, now_ns);
    else /* the tables' budget alone is automatic: no proofs, timed all the same */
      pr.timed = keep_scan_sample(false, &scan);
    pass = (keep_pass_t){.proved = pr.proved, .timed = pr.timed, .warm = pr.sample,
                         .judge = slot_keep_judge(p, kc)};
  }
  bool exact = true;
  for (uint32_t i = 0; i < m->nmemories; i++)
    kept.memory += memslot_reset(pool_memslot(p, slot, i), pool_memory_base(p, slot, i),
                                 &p->mem_ctx, batch, &pass, &exact);
  /* Memories past the module's count hold pristine pages from an earlier
   * module's tenant at most, given up by a shrink to 0: still kept. */
  for (uint32_t i = m->nmemories; i < inst->memories_used; i++)
    kept.memory += keep_marks_count(&pool_memslot(p, slot, i)->kept) * p->layout.page;
  for (uint32_t t = 0; t < m->ntables; t++)
    kept.table += reset_table(p, slot, t, batch, &pass, &exact);
  proof_end(&inst->proof, &pr, exact);
  proof_group_note(&p->proof_rate, pass.faulted);
  /* What a proof would have saved here (0 where every region was zeroed
   * whole). */
  if (pass.timed) {
    keep_scan_note(&p->proof_rate.scans, pass.scan_ns);
    keep_zero_note(&p->zeros, pass.zero_ns, pass.zero_pages);
  }
  if (m->state_size) {
    memset(pool_state_base(p, slot), 0, m->state_size);
    COUNTER_ADD(&p->mem_counters, memset_bytes, m->state_size);
    kept.state = m->state_size;
  }
  slot_set_kept(p, inst, kept);
  inst->trimmed = false;
  inst->freed_ns = now_ns;
}

void slot_trim(wpool_t *p, uint32_t slot, decommit_batch_t *batch) {
  /* A slot the trim flagged while it was unused: whoever takes it since
   * (it may be SLOT_USED already) waits for the flag before a tenant. */
  struct wpool_instance_s *inst = &p->instances[slot];
  debug_assert(atomic_load(&inst->trimming) && !inst->trimmed &&
               !atomic_load_explicit(&inst->module, memory_order_relaxed));
  /* Memories: private pages only; the image stays mapped, so its bytes
   * read back from the page cache. */
  for (uint32_t i = 0; i < inst->memories_used; i++) {
    uint8_t *base = pool_memory_base(p, slot, i);
    memslot_t *s = pool_memslot(p, slot, i);
    decommit_add(batch, base, memslot_resident_span(s), base, NULL, s->accessible);
    memslot_trimmed(s);
  }
  drop_tables(p, slot, batch);
  uint8_t *state = pool_state_base(p, slot);
  decommit_add(batch, state, p->layout.state_slot_size, state, NULL, p->layout.state_slot_size);
  atomic_fetch_add(&p->trimmed_bytes, kept_total(inst->kept));
  atomic_fetch_add(&p->slots_trimmed, 1);
  slot_set_kept(p, inst, (kept_t){0});
  inst->trimmed = true;
}
