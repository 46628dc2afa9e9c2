/* A freed slot's way back (see recycle.h). */
#include "pool/recycle.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "memory/os.h"
#include "pool/check.h"
#include "pool/module.h"
#include "pool/slot.h"
#include "util/error.h"
#include "util/heap.h"

_Static_assert(WPOOL_DECOMMIT_BATCH_MAX >= 1, "a batch holds at least the slot just freed");
_Static_assert(TRANSIT_RANGES_MAX <= DECOMMIT_RANGES_MAX,
               "a slot's ranges are copied from one decommit batch");

/* Give a reset slot back to the index allocator: warm and affine to its
 * module, or affine to nothing (and without the module's images) if the
 * module was released meanwhile, so its memfd can go. Drops the slot's
 * module reference. */
static void return_slot(wpool_t *p, uint32_t slot, wpool_module_t *m) {
  debug_assert(index_slot_state(&p->index, slot) == SLOT_USED);
  debug_assert(!atomic_load_explicit(&p->instances[slot].module, memory_order_relaxed));
  if (atomic_load(&m->released)) {
    slot_release(p, slot);
    index_free_unaffine(&p->index, slot);
  } else {
    index_free(&p->index, slot);
  }
  module_unref(m);
}

/* Issue the ranges `n` queued slots carry, together, then return the
 * slots. */
static void return_slots(wpool_t *p, const uint32_t *slots, uint32_t n) {
  decommit_batch_t batch = decommit_batch(&p->decommit);
  for (uint32_t i = 0; i < n; i++) {
    const transit_t *t = &p->recycle.transit[slots[i]];
    for (uint32_t k = 0; k < t->n; k++)
      decommit_add(&batch, t->r[k].p, t->r[k].len, t->r[k].base, t->r[k].img, t->r[k].writable);
  }
  decommit_flush(&batch);
  for (uint32_t i = 0; i < n; i++) return_slot(p, slots[i], p->recycle.transit[slots[i]].module);
}

/* queued_slots counts a slot from its queuing until it is back in the
 * index, so an allocation that sees 0 knows none is on its way. */
void recycle_flush(wpool_t *p) {
  recycle_t *r = &p->recycle;
  for (;;) {
    uint32_t take[WPOOL_DECOMMIT_BATCH_MAX], ntake;
    pthread_mutex_lock(&r->queue_lock);
    ntake = r->queued < WPOOL_DECOMMIT_BATCH_MAX ? r->queued : WPOOL_DECOMMIT_BATCH_MAX;
    r->queued -= ntake;
    memcpy(take, r->queue + r->queued, ntake * sizeof(take[0]));
    pthread_mutex_unlock(&r->queue_lock);
    if (!ntake) return;
    return_slots(p, take, ntake);
    atomic_fetch_sub(&r->queued_slots, ntake);
  }
}

/* ---- the background worker ------------------------------------------ */

/* Slots the worker resets per round: one decommit batch per round. */
#define WORKER_ROUND_MAX 64

/* The library's one thread family: POSIX threads, mutexes and condition
 * variables (the module lock, the queue lock, the self descriptors' locks
 * are pthread's too). The condition the allocations wait on uses the
 * monotonic clock, the library's clock. */
typedef struct worker {
  uint64_t owner; /* os_self_id() of the process the thread runs in */
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t work; /* signalled when a slot is queued or stop is set */
  pthread_cond_t done; /* broadcast when a round of resets is back in the pool */
  recycle_pending_t *queue; /* [instance_count] freed slots; lock */
  uint32_t n;      /* lock */
  uint64_t rounds; /* lock */
  bool stop;       /* lock */
  bool paused;     /* lock; tests only (recycle_pause) */
} worker_t;

static void *worker_main(void *arg) {
  wpool_t *p = arg;
  worker_t *w = p->recycle.worker;
  recycle_pending_t take[WORKER_ROUND_MAX];
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while ((!w->n || w->paused) && !w->stop) pthread_cond_wait(&w->work, &w->lock);
    if (!w->n) break; /* stopping, and nothing left */
    uint32_t n = w->n < WORKER_ROUND_MAX ? w->n : WORKER_ROUND_MAX;
    w->n -= n;
    memcpy(take, w->queue + w->n, n * sizeof(take[0]));
    pthread_mutex_unlock(&w->lock);

    check_enter(p);
    decommit_batch_t batch = decommit_batch(&p->decommit);
    for (uint32_t i = 0; i < n; i++)
      slot_reset(p, take[i].slot, take[i].module, &batch, take[i].freed_ns);
    decommit_flush(&batch);
    /* Pending drops only once the slots are back: an allocation that sees
     * nothing pending then finds them in the index. */
    for (uint32_t i = 0; i < n; i++) return_slot(p, take[i].slot, take[i].module);
    atomic_fetch_sub(&p->recycle.background_pending, n);
    check_leave(p);

    pthread_mutex_lock(&w->lock);
    w->rounds++;
    pthread_cond_broadcast(&w->done);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

static void worker_free(worker_t *w, uint32_t capacity) {
  heap_array_free(w->queue, capacity, sizeof(*w->queue));
  heap_free(w);
}

/* The lock and conditions; `done` on the monotonic clock. Return: 0 or
 * the pthread error, with nothing left initialised. */
static int worker_sync_init(worker_t *w) {
  pthread_condattr_t attr;
  int err = pthread_condattr_init(&attr);
  if (err) return err;
  err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (!err && (err = pthread_mutex_init(&w->lock, NULL)) == 0) {
    if ((err = pthread_cond_init(&w->work, NULL)) != 0) {
      pthread_mutex_destroy(&w->lock);
    } else if ((err = pthread_cond_init(&w->done, &attr)) != 0) {
      pthread_cond_destroy(&w->work);
      pthread_mutex_destroy(&w->lock);
    }
  }
  pthread_condattr_destroy(&attr);
  return err;
}

static void worker_sync_destroy(worker_t *w) {
  pthread_cond_destroy(&w->done);
  pthread_cond_destroy(&w->work);
  pthread_mutex_destroy(&w->lock);
}

static int worker_start(wpool_t *p) {
  worker_t *w = heap_calloc(1, sizeof(*w));
  if (!w) return error_set(WPOOL_ENOMEM, "background_reset: out of memory");
  w->queue = heap_array(p->cfg.instance_count, sizeof(*w->queue));
  if (!w->queue) {
    worker_free(w, p->cfg.instance_count);
    return error_set(WPOOL_ENOMEM, "background_reset: out of memory");
  }
  int err = worker_sync_init(w);
  if (err) {
    worker_free(w, p->cfg.instance_count);
    return error_set(error_from_errno(err), "background_reset: initialising its lock: %s",
                     strerror(err));
  }
  w->owner = os_self_id();
  p->recycle.worker = w;
  err = pthread_create(&w->thread, NULL, worker_main, p);
  if (err) {
    p->recycle.worker = NULL;
    worker_sync_destroy(w);
    worker_free(w, p->cfg.instance_count);
    return error_set(error_from_errno(err), "background_reset: pthread_create: %s",
                     strerror(err));
  }
  return 0;
}

static void worker_queue(wpool_t *p, uint32_t slot, wpool_module_t *m, uint64_t now_ns) {
  worker_t *w = p->recycle.worker;
  atomic_fetch_add(&p->recycle.background_pending, 1);
  pthread_mutex_lock(&w->lock);
  w->queue[w->n++] = (recycle_pending_t){slot, m, now_ns};
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->lock);
}

/* Block until the worker finishes a round or `deadline_ns` passes; false
 * when nothing is pending or the time is up. */
static bool worker_wait(wpool_t *p, uint64_t deadline_ns) {
  worker_t *w = p->recycle.worker;
  if (!w || atomic_load(&p->recycle.background_pending) == 0) return false;
  struct timespec deadline = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                              .tv_nsec = (long)(deadline_ns % 1000000000u)};
  pthread_mutex_lock(&w->lock);
  uint64_t rounds = w->rounds;
  while (w->rounds == rounds && atomic_load(&p->recycle.background_pending) > 0)
    if (pthread_cond_timedwait(&w->done, &w->lock, &deadline) == ETIMEDOUT) break;
  bool progressed = w->rounds != rounds;
  pthread_mutex_unlock(&w->lock);
  return progressed;
}

void recycle_pause(wpool_t *p, bool paused) {
  worker_t *w = p->recycle.worker;
  if (!w) return;
  pthread_mutex_lock(&w->lock);
  w->paused = paused;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->lock);
}

/* Whether the worker runs in this process: threads do not survive a fork,
 * so a child resets its frees itself. */
static bool worker_here(const wpool_t *p) {
  const worker_t *w = p->recycle.worker;
  return w && w->owner == os_self_id();
}

static void worker_stop(wpool_t *p) {
  worker_t *w = p->recycle.worker;
  if (!w) return;
  if (w->owner != os_self_id()) {
    /* A child's copy: no thread to join, and its locks may have been
     * held at the fork. Slots the parent's worker held then stay in
     * transit here. */
    worker_free(w, p->cfg.instance_count);
    p->recycle.worker = NULL;
    return;
  }
  pthread_mutex_lock(&w->lock);
  w->stop = true;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL); /* it finishes every queued reset first */
  worker_sync_destroy(w);
  worker_free(w, p->cfg.instance_count);
  p->recycle.worker = NULL;
}

/* ---- the pool's side ------------------------------------------------- */

/* Slots carry ranges to a batched decommit only with decommit_batch_size
 * > 1: only then is there a record per slot for them. */
static void transit_free(wpool_t *p) {
  heap_array_free(p->recycle.transit, p->cfg.instance_count, sizeof(transit_t));
  p->recycle.transit = NULL;
}

int recycle_init(wpool_t *p) {
  recycle_t *r = &p->recycle;
  if (p->cfg.decommit_batch_size > 1 &&
      !(r->transit = heap_array(p->cfg.instance_count, sizeof(*r->transit))))
    return error_set(WPOOL_ENOMEM, "wpool_create: out of memory for slot metadata");
  if (pthread_mutex_init(&r->queue_lock, NULL) != 0) {
    transit_free(p);
    return error_set(WPOOL_ESYS, "wpool_create: pthread_mutex_init failed");
  }
  int err = p->cfg.background_reset ? worker_start(p) : 0;
  if (err) {
    pthread_mutex_destroy(&r->queue_lock);
    transit_free(p);
  }
  return err;
}

void recycle_fini(wpool_t *p) {
  worker_stop(p);
  recycle_flush(p);
  pthread_mutex_destroy(&p->recycle.queue_lock);
  transit_free(p);
}

void recycle_free(wpool_t *p, uint32_t slot, wpool_module_t *m, uint64_t now_ns) {
  /* Its instance is gone; the slot stays used until it is back. */
  debug_assert(index_slot_state(&p->index, slot) == SLOT_USED);
  debug_assert(!atomic_load_explicit(&p->instances[slot].module, memory_order_relaxed));
  recycle_t *r = &p->recycle;
  if (worker_here(p)) {
    /* The worker resets the slot; this thread only queues it. */
    worker_queue(p, slot, m, now_ns);
    return;
  }
  /* Every range to give back, of every memory and table, in one batch:
   * one process_madvise, one TLB flush. */
  decommit_batch_t batch = decommit_batch(&p->decommit);
  slot_reset(p, slot, m, &batch, now_ns);
  if (p->cfg.decommit_batch_size <= 1 || batch.n == 0 || batch.n > TRANSIT_RANGES_MAX) {
    decommit_flush(&batch);
    return_slot(p, slot, m);
    return;
  }
  /* Batched decommit: the slot waits, with its ranges, until enough slots
   * wait to make one call for all of them worth it. */
  transit_t *t = &r->transit[slot];
  memcpy(t->r, batch.r, batch.n * sizeof(batch.r[0]));
  t->n = batch.n;
  t->module = m;
  uint32_t take[WPOOL_DECOMMIT_BATCH_MAX], ntake = 0;
  pthread_mutex_lock(&r->queue_lock);
  r->queue[r->queued++] = slot;
  atomic_fetch_add(&r->queued_slots, 1);
  debug_assert(r->queued <= WPOOL_DECOMMIT_BATCH_MAX);
  if (r->queued >= p->cfg.decommit_batch_size) {
    ntake = r->queued;
    memcpy(take, r->queue, ntake * sizeof(take[0]));
    r->queued = 0;
  }
  pthread_mutex_unlock(&r->queue_lock);
  if (ntake) {
    return_slots(p, take, ntake);
    atomic_fetch_sub(&r->queued_slots, ntake);
  }
}

uint32_t recycle_alloc(wpool_t *p, uint32_t module, uint64_t now_ns) {
  uint32_t slot = INDEX_NONE;
  /* Freed slots wait for their batched decommit, or another thread is
   * returning the ones it took from the queue: issue what waits and retry
   * until none is on its way. The count is read before each try, and a
   * slot is back in the index before it leaves the count, so a try after
   * reading 0 sees every slot that was on its way. */
  for (;;) {
    bool in_transit = atomic_load(&p->recycle.queued_slots) != 0;
    if (in_transit) recycle_flush(p);
    slot = index_alloc(&p->index, module, NULL);
    if (slot != INDEX_NONE || !in_transit) break;
    sched_yield();
  }
  if (slot == INDEX_NONE && worker_here(p)) {
    /* Freed slots may be on their way back from the worker: wait for its
     * rounds, up to background_wait_ms in all, and look again after every
     * wait, the last included: a slot returned just before the pending
     * count dropped is in the index by then. */
    uint64_t deadline = now_ns + (uint64_t)p->cfg.background_wait_ms * 1000000;
    for (;;) {
      bool progressed = worker_wait(p, deadline);
      slot = index_alloc(&p->index, module, NULL);
      if (slot != INDEX_NONE || !progressed) break;
    }
  }
  return slot;
}
