/* Validators (see check.h). */
#include "pool/check.h"

#include <stdio.h>

/* The first broken invariant, for the abort message. */
static _Thread_local const char *broken;

static bool fail(const char *what) {
  broken = what;
  return false;
}

static bool slot_is_valid(wpool_t *p, uint32_t slot, index_slot_state_t st, uint64_t *kept) {
  const struct wpool_instance_s *inst = &p->instances[slot];
  if (inst->slot != slot || inst->pool != p) return fail("instance record names its slot");
  if (st != SLOT_USED && inst->module) return fail("an unused slot holds no module");
  if (inst->module && inst->kept) return fail("a live instance's slot keeps nothing for later");
  *kept += inst->kept;
  for (uint32_t i = 0; i < p->cfg.instance_memories; i++) {
    const memslot_t *s = pool_memslot(p, slot, i);
    if (!memslot_is_valid(s, &p->mem_ctx)) return fail("memslot_is_valid");
    if (st == SLOT_COLD && (s->accessible || s->image)) return fail("a cold slot is empty");
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
  uint64_t kept = 0, with_module = 0;
  for (uint32_t s = 0; s < p->cfg.instance_count; s++) {
    index_slot_state_t st = index_slot_state(&p->index, s);
    if (!slot_is_valid(p, s, st, &kept)) return false;
    if (p->instances[s].module) with_module++;
  }
  if (with_module != live) return fail("slots holding a module == live instances");
  if (kept != atomic_load(&p->kept_resident_bytes))
    return fail("kept_resident_bytes == sum of kept over all slots");
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
