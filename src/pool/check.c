/* Validators (see check.h). */
#include "pool/check.h"

#include <stdio.h>

/* The first broken invariant, for the abort message. */
static _Thread_local const char *broken;

static bool fail(const char *what) {
  broken = what;
  return false;
}

static bool slot_is_valid(wpool_t *p, uint32_t slot, index_slot_state_t st, kept_t *kept) {
  const struct wpool_instance_s *inst = &p->instances[slot];
  if (inst->slot != slot || inst->pool != p) return fail("instance record names its slot");
  if (st != SLOT_USED && inst->module) return fail("an unused slot holds no module");
  if (inst->module && kept_total(inst->kept))
    return fail("a live instance's slot keeps nothing for later");
  kept->memory += inst->kept.memory;
  kept->table += inst->kept.table;
  kept->state += inst->kept.state;
  if (inst->memories_used > p->cfg.instance_memories || inst->tables_used > p->cfg.instance_tables)
    return fail("memories and tables used <= instance_memories and instance_tables");
  if (inst->module && (inst->module->nmemories > inst->memories_used ||
                       inst->module->ntables > inst->tables_used))
    return fail("a tenant's memories and tables are among those used");
  for (uint32_t i = 0; i < inst->memories_used; i++) {
    const memslot_t *s = pool_memslot(p, slot, i);
    if (!memslot_is_valid(s, &p->mem_ctx)) return fail("memslot_is_valid");
  }
  return true;
}

bool pool_is_valid(wpool_t *p) {
  broken = NULL;
  if (!index_is_valid(&p->index)) return fail("index_is_valid(index)");
  if (!index_is_valid(&p->stack_index)) return fail("index_is_valid(stack_index)");
  uint32_t used, stacks_used;
  index_counters(&p->index, NULL, NULL, NULL, &used);
  index_counters(&p->stack_index, NULL, NULL, NULL, &stacks_used);
  uint64_t live = atomic_load(&p->live_instances), queued = atomic_load(&p->recycle.queued_slots),
           pending = atomic_load(&p->recycle.background_pending);
  if (used != live + queued + pending)
    return fail("used slots == live instances + queued + background_pending");
  if (stacks_used != atomic_load(&p->live_stacks)) return fail("used stacks == live stacks");
  kept_t kept = {0};
  uint64_t with_module = 0, memories = 0, tables = 0;
  /* Slots never used have untouched records: nothing to check, nothing
   * to fault in. */
  uint32_t touched = index_touched(&p->index), stacks_touched = index_touched(&p->stack_index);
  for (uint32_t s = 0; s < touched; s++) {
    index_slot_state_t st = index_slot_state(&p->index, s);
    if (!slot_is_valid(p, s, st, &kept)) return false;
    const wpool_module_t *m = p->instances[s].module;
    if (m) {
      with_module++;
      memories += m->nmemories;
      tables += m->ntables;
    }
  }
  if (with_module != live) return fail("slots holding a module == live instances");
  if (memories != atomic_load(&p->memories_live)) return fail("memories_live");
  if (tables != atomic_load(&p->tables_live)) return fail("tables_live");
  if (kept.memory != atomic_load(&p->kept_memory) || kept.table != atomic_load(&p->kept_table) ||
      kept.state != atomic_load(&p->kept_state))
    return fail("kept bytes of each kind == their sum over all slots");
  uint64_t stack_kept = 0;
  for (uint32_t s = 0; s < stacks_touched; s++) {
    if (p->stacks[s].pool != p || p->stacks[s].slot != s) return fail("stack record names its slot");
    if (p->stacks[s].live && p->stacks[s].kept) return fail("a live stack keeps nothing for later");
    stack_kept += p->stacks[s].kept;
  }
  if (stack_kept != atomic_load(&p->kept_stack)) return fail("kept stack bytes == their sum");
  uint64_t unreleased = 0;
  pthread_mutex_lock(&p->module_lock);
  for (const wpool_module_t *m = p->modules; m; m = m->next)
    if (!atomic_load(&m->released)) unreleased++;
  pthread_mutex_unlock(&p->module_lock);
  if (unreleased != atomic_load(&p->live_modules)) return fail("unreleased modules == live_modules");
  return true;
}

#if WPOOL_DEBUG >= 3
void check_enter(wpool_t *p) { pthread_rwlock_rdlock(&p->check_lock); }

void check_leave(wpool_t *p) {
  pthread_rwlock_unlock(&p->check_lock);
  if (pthread_rwlock_trywrlock(&p->check_lock) != 0) return; /* another call is in the pool */
  bool ok = pool_is_valid(p);
  pthread_rwlock_unlock(&p->check_lock);
  if (!ok) debug_abort("pool invariant broken: %s", broken ? broken : "?");
}
#endif
