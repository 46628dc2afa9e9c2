/* Idle trimming: give back the resident memory of unused slots that have
 * been idle for a while (bytes kept by resets, private copies of image
 * pages, table and state pages), keeping their affinity and their image
 * mapping, so that a module coming back still finds its slot.
 *
 * The slots are not taken out of the index allocator: that would change
 * their place in the LRU order the slot policy depends on. The warm list
 * is walked oldest-first under the index lock, the slots to trim are
 * flagged there (an allocation of a flagged slot waits for the flag to
 * clear), and their pages are released outside the lock. */
#include "pool/trim.h"

#include "pool/check.h"
#include "pool/recycle.h"
#include "pool/slot.h"
#include "util/clock.h"
#include "util/error.h"

/* Slots flagged per walk of the warm list; the walk resumes until done. */
#define TRIM_WALK_MAX 64

typedef struct trim_walk {
  wpool_t *p;
  uint64_t cutoff;
  uint32_t slots[TRIM_WALK_MAX];
  uint32_t n;
  bool more; /* stopped because the walk is full */
} trim_walk_t;

static bool visit(void *ctx, uint32_t slot) {
  trim_walk_t *w = ctx;
  struct wpool_instance_s *inst = &w->p->instances[slot];
  if (inst->freed_ns > w->cutoff) return false; /* the rest are younger */
  /* Another trim has it, or trimmed it since its last free. */
  if (atomic_load_explicit(&inst->trimming, memory_order_acquire) || inst->trimmed) return true;
  atomic_store_explicit(&inst->trimming, true, memory_order_relaxed);
  w->slots[w->n++] = slot;
  if (w->n == TRIM_WALK_MAX) {
    w->more = true;
    return false;
  }
  return true;
}

uint64_t trim_at(wpool_t *p, uint64_t now_ns, uint64_t idle_ns) {
  recycle_flush(p); /* an idle moment: nothing should wait for its decommit */
  trim_walk_t w = {.p = p, .cutoff = now_ns > idle_ns ? now_ns - idle_ns : 0};
  uint64_t total = 0;
  do {
    w.n = 0;
    w.more = false;
    index_walk_warm(&p->index, visit, &w);
    /* The flagged slots' pages in as few calls as the batch allows; a
     * refused range stays resident, which is harmless. The flags stay set
     * until the pages are gone. */
    decommit_batch_t batch = decommit_batch(&p->decommit);
    batch.restore_refused = false;
    for (uint32_t i = 0; i < w.n; i++) slot_trim(p, w.slots[i], &batch);
    decommit_flush(&batch);
    for (uint32_t i = 0; i < w.n; i++)
      atomic_store_explicit(&p->instances[w.slots[i]].trimming, false, memory_order_release);
    total += w.n;
  } while (w.more);
  return total;
}

WPOOL_EXPORT int64_t wpool_trim(wpool_t *p, uint64_t idle_ns) {
  if (!p) return error_set(WPOOL_EINVAL, "wpool_trim: pool is NULL");
  check_enter(p);
  uint64_t n = trim_at(p, clock_now_ns(), idle_ns);
  check_leave(p);
  return (int64_t)n;
}
