/* Async stacks: fixed slots with a guard page below each, handed out by
 * their own index allocator (no affinity, N = 0: the lowest free first). */
#include "pool/stack.h"

#include <string.h>

#include "memory/pages.h"
#include "memory/reset.h"
#include "pool/check.h"
#include "util/error.h"

/* Guard pages: where the kernel has guard markers (MADV_GUARD_INSTALL,
 * Linux 6.13+) a page faults on access inside the one read-write mapping,
 * so the stack pool stays one kernel mapping; elsewhere each guard is a
 * mapping of its own, two mappings per stack (memory/pages.h decides). */
int stack_guard_all(wpool_t *p) {
  pages_guard_kind_t kind = PAGES_GUARD_UNKNOWN;
  for (uint32_t s = 0; s < p->cfg.stack_count; s++) {
    int err = pages_guard(pool_stack_bottom(p, s) - p->layout.page, p->layout.page, &kind);
    if (err)
      return error_set(error_from_errno(err),
                       "guard page of stack %u: %s: %s (vm.max_map_count may be too low for "
                       "stack_count %u: without MADV_GUARD_INSTALL each stack takes 2 kernel "
                       "mappings)",
                       s, kind == PAGES_GUARD_MAPPING ? "mprotect" : "madvise(MADV_GUARD_INSTALL)",
                       strerror(-err), p->cfg.stack_count);
  }
  p->stack_guard_markers = kind == PAGES_GUARD_MARKER;
  return 0;
}

WPOOL_EXPORT int wpool_stack_new(wpool_t *p, wpool_stack_t **out) {
  if (!p || !out) return error_set(WPOOL_EINVAL, "stack_new: NULL argument");
  *out = NULL;
  if (p->cfg.stack_count == 0) {
    atomic_fetch_add(&p->exhausted, 1);
    return error_set(WPOOL_EEXHAUSTED, "the pool has no stacks (stack_count is 0)");
  }
  check_enter(p);
  uint32_t slot = index_alloc(&p->stack_index, INDEX_NONE, NULL);
  if (slot != INDEX_NONE) {
    struct wpool_stack_s *s = &p->stacks[slot];
    s->pool = p; /* a record is zero until its stack's first use */
    s->slot = slot;
    s->live = true;
    atomic_fetch_sub(&p->kept_stack, s->kept);
    s->kept = 0;
    atomic_fetch_add(&p->live_stacks, 1);
    *out = s;
  }
  check_leave(p);
  if (slot == INDEX_NONE) {
    atomic_fetch_add(&p->exhausted, 1);
    return error_set(WPOOL_EEXHAUSTED, "all %u stacks are in use (stack_count)",
                     p->cfg.stack_count);
  }
  return 0;
}

WPOOL_EXPORT void *wpool_stack_top(wpool_stack_t *s) {
  return pool_stack_bottom(s->pool, s->slot) + s->pool->layout.stack_usable;
}

WPOOL_EXPORT size_t wpool_stack_size(const wpool_stack_t *s) {
  return (size_t)s->pool->layout.stack_usable;
}

WPOOL_EXPORT void wpool_stack_free(wpool_stack_t *s) {
  if (!s) return;
  if (!s->live) {
    api_misuse("wpool_stack_free: stack %u freed twice", s->slot);
    return;
  }
  wpool_t *p = s->pool;
  debug_assert(index_slot_state(&p->stack_index, s->slot) == SLOT_USED && s->kept == 0);
  check_enter(p);
  if (p->cfg.async_stack_zeroing) {
    /* The top is where the next fiber writes first: keep it resident. */
    reset_plan_t plan;
    reset_plan_stack(p->layout.stack_usable, p->layout.keep_stack, &plan);
    decommit_batch_t batch = decommit_batch(&p->decommit);
    s->kept = reset_apply(pool_stack_bottom(p, s->slot), &plan, NULL, p->layout.stack_usable, &batch);
    decommit_flush(&batch);
    atomic_fetch_add(&p->kept_stack, s->kept);
  }
  s->live = false;
  atomic_fetch_sub(&p->live_stacks, 1);
  index_free(&p->stack_index, s->slot);
  check_leave(p);
}
