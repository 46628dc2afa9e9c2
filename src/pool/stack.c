/* Async stacks: fixed slots with a guard page below each, handed out by
 * their own index allocator (no affinity, N = 0: the lowest free first). */
#include <string.h>

#include "pool/pool_internal.h"
#include "util/error.h"

static uint8_t *stack_bottom(const wpool_t *p, uint32_t slot) {
  return p->stack_map + (uint64_t)slot * p->layout.stack_slot_size + p->layout.page;
}

WPOOL_EXPORT int wpool_stack_new(wpool_t *p, wpool_stack_t **out) {
  if (!p || !out) return error_set(WPOOL_EINVAL, "stack_new: NULL argument");
  *out = NULL;
  if (p->cfg.stack_count == 0)
    return error_set(WPOOL_EEXHAUSTED, "the pool has no stacks (stack_count is 0)");
  uint32_t slot = index_alloc(&p->stack_index, INDEX_NONE, NULL);
  if (slot == INDEX_NONE)
    return error_set(WPOOL_EEXHAUSTED, "all %u stacks are in use (stack_count)",
                     p->cfg.stack_count);
  struct wpool_stack_s *s = &p->stacks[slot];
  s->live = true;
  atomic_fetch_add(&p->live_stacks, 1);
  *out = s;
  return 0;
}

WPOOL_EXPORT void *wpool_stack_top(wpool_stack_t *s) {
  return stack_bottom(s->pool, s->slot) + s->pool->layout.stack_usable;
}

WPOOL_EXPORT size_t wpool_stack_size(const wpool_stack_t *s) {
  return (size_t)s->pool->layout.stack_usable;
}

WPOOL_EXPORT void wpool_stack_free(wpool_stack_t *s) {
  if (!s || !s->live) return;
  wpool_t *p = s->pool;
  if (p->cfg.async_stack_zeroing) {
    /* The top is where the next fiber writes first: keep it resident. */
    reset_plan_t plan;
    reset_plan_stack(p->layout.stack_usable, p->layout.keep_stack, &plan);
    decommit_batch_t batch = pool_decommit_batch(p);
    region_reset(stack_bottom(p, s->slot), &plan, &batch);
    decommit_flush(&batch);
  }
  s->live = false;
  atomic_fetch_sub(&p->live_stacks, 1);
  index_free(&p->stack_index, s->slot);
}
