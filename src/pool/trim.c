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
#include <time.h>

#include "pool/pool_internal.h"

uint64_t pool_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum { TRIM_BATCH = 64 };

typedef struct trim_walk {
  wpool_t *p;
  uint64_t cutoff;
  uint32_t slots[TRIM_BATCH];
  uint32_t n;
  bool more; /* stopped because the batch is full */
} trim_walk_t;

static bool visit(void *ctx, uint32_t slot) {
  trim_walk_t *w = ctx;
  struct wpool_instance_s *inst = &w->p->instances[slot];
  if (inst->freed_ns > w->cutoff) return false; /* the rest are younger */
  /* Another trim has it, or trimmed it since its last free. */
  if (atomic_load_explicit(&inst->trimming, memory_order_acquire) || inst->trimmed) return true;
  atomic_store_explicit(&inst->trimming, true, memory_order_relaxed);
  w->slots[w->n++] = slot;
  if (w->n == TRIM_BATCH) {
    w->more = true;
    return false;
  }
  return true;
}

/* Add the slot's pages to `batch`: its memories (private pages only: the
 * image stays mapped, so its bytes read back from the page cache), tables
 * and state. */
static void trim_slot(wpool_t *p, uint32_t slot, decommit_batch_t *batch) {
  struct wpool_instance_s *inst = &p->instances[slot];
  for (uint32_t i = 0; i < p->cfg.instance_memories; i++) {
    uint8_t *base = pool_memory_base(p, slot, i);
    decommit_add(batch, base, pool_memslot(p, slot, i)->accessible, base, NULL);
  }
  for (uint32_t t = 0; t < p->cfg.instance_tables; t++) {
    uint8_t *base = (uint8_t *)pool_table_base(p, slot, t);
    decommit_add(batch, base, p->layout.table_slot_size, base, NULL);
  }
  uint8_t *state = p->state_map + (uint64_t)slot * p->layout.state_slot_size;
  decommit_add(batch, state, p->layout.state_slot_size, state, NULL);
  atomic_fetch_sub(&p->kept_resident_bytes, inst->kept);
  atomic_fetch_add(&p->trimmed_bytes, inst->kept);
  atomic_fetch_add(&p->slots_trimmed, 1);
  inst->kept = 0;
  inst->trimmed = true;
}

uint64_t pool_trim_at(wpool_t *p, uint64_t now_ns, uint64_t idle_ns) {
  pool_flush_queue(p); /* an idle moment: nothing should wait for its decommit */
  trim_walk_t w = {.p = p, .cutoff = now_ns > idle_ns ? now_ns - idle_ns : 0};
  uint64_t total = 0;
  do {
    w.n = 0;
    w.more = false;
    index_walk_warm(&p->index, visit, &w);
    /* The flagged slots' pages in as few calls as the batch allows; a
     * refused range stays resident, which is harmless. The flags stay set
     * until the pages are gone. */
    decommit_batch_t batch = pool_decommit_batch(p);
    batch.on_fail = NULL;
    for (uint32_t i = 0; i < w.n; i++) trim_slot(p, w.slots[i], &batch);
    decommit_flush(&batch);
    for (uint32_t i = 0; i < w.n; i++)
      atomic_store_explicit(&p->instances[w.slots[i]].trimming, false, memory_order_release);
    total += w.n;
  } while (w.more);
  return total;
}

WPOOL_EXPORT int64_t wpool_trim(wpool_t *p, uint64_t idle_ns) {
  if (!p) return WPOOL_EINVAL;
  return (int64_t)pool_trim_at(p, pool_now_ns(), idle_ns);
}
