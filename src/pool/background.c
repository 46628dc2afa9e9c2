/* The background reset worker: with background_reset, wpool_instance_free
 * only queues its slot here; one libuv thread resets queued slots in
 * rounds (one madvise batch per round), returns them to the pool, and
 * wakes allocations waiting for a slot. A forked child has no worker: a
 * pool with background_reset is not for use across fork. */
#include <string.h>

#include "pool/pool_internal.h"
#include "util/error.h"
#include "util/heap.h"

#if WPOOL_HAVE_UV
#include <uv.h>

typedef struct background {
  uv_thread_t thread;
  uv_mutex_t lock;
  uv_cond_t work;   /* signalled when a slot is queued or stop is set */
  uv_cond_t done;   /* broadcast when a round of resets is back in the pool */
  uint32_t *queue;  /* [instance_count] freed slots; lock */
  uint32_t n;       /* lock */
  uint64_t rounds;  /* lock */
  bool stop;        /* lock */
  bool paused;      /* lock; tests only (background_pause) */
} background_t;

enum { ROUND = 64 };

static void worker(void *arg) {
  wpool_t *p = arg;
  background_t *b = p->background;
  uint32_t take[ROUND];
  uv_mutex_lock(&b->lock);
  for (;;) {
    while ((!b->n || b->paused) && !b->stop) uv_cond_wait(&b->work, &b->lock);
    if (!b->n) break; /* stopping, and nothing left */
    uint32_t n = b->n < ROUND ? b->n : ROUND;
    b->n -= n;
    memcpy(take, b->queue + b->n, n * sizeof(take[0]));
    uv_mutex_unlock(&b->lock);

    decommit_batch_t batch = pool_decommit_batch(p);
    for (uint32_t i = 0; i < n; i++)
      instance_reset_slot(p, take[i], p->pending[take[i]].module, &batch);
    decommit_flush(&batch);
    instance_return_slots(p, take, n); /* pending[].n is 0: nothing more to issue */
    atomic_fetch_sub(&p->background_pending, n);

    uv_mutex_lock(&b->lock);
    b->rounds++;
    uv_cond_broadcast(&b->done);
  }
  uv_mutex_unlock(&b->lock);
}

int background_start(wpool_t *p) {
  background_t *b = heap_calloc(1, sizeof(*b));
  if (!b) return error_set(WPOOL_ENOMEM, "background_reset: out of memory");
  b->queue = heap_calloc(p->cfg.instance_count, sizeof(*b->queue));
  if (!b->queue) {
    heap_free(b);
    return error_set(WPOOL_ENOMEM, "background_reset: out of memory");
  }
  int err = uv_mutex_init(&b->lock);
  if (!err && (err = uv_cond_init(&b->work)) != 0) uv_mutex_destroy(&b->lock);
  if (!err && (err = uv_cond_init(&b->done)) != 0) {
    uv_cond_destroy(&b->work);
    uv_mutex_destroy(&b->lock);
  }
  if (err) {
    heap_free(b->queue);
    heap_free(b);
    return error_set(WPOOL_ESYS, "background_reset: %s", uv_strerror(err));
  }
  p->background = b;
  err = uv_thread_create(&b->thread, worker, p);
  if (err) {
    p->background = NULL;
    uv_cond_destroy(&b->done);
    uv_cond_destroy(&b->work);
    uv_mutex_destroy(&b->lock);
    heap_free(b->queue);
    heap_free(b);
    return error_set(WPOOL_ESYS, "background_reset: uv_thread_create: %s", uv_strerror(err));
  }
  return 0;
}

void background_queue(wpool_t *p, uint32_t slot, wpool_module_t *m) {
  background_t *b = p->background;
  p->pending[slot].module = m;
  p->pending[slot].n = 0;
  atomic_fetch_add(&p->background_pending, 1);
  uv_mutex_lock(&b->lock);
  b->queue[b->n++] = slot;
  uv_cond_signal(&b->work);
  uv_mutex_unlock(&b->lock);
}

bool background_wait(wpool_t *p, uint64_t deadline_ns) {
  background_t *b = p->background;
  if (!b || atomic_load(&p->background_pending) == 0) return false;
  bool progressed = false;
  uv_mutex_lock(&b->lock);
  uint64_t rounds = b->rounds;
  while (b->rounds == rounds && atomic_load(&p->background_pending) > 0) {
    uint64_t now = pool_now_ns();
    if (now >= deadline_ns) break;
    uv_cond_timedwait(&b->done, &b->lock, deadline_ns - now);
  }
  progressed = b->rounds != rounds;
  uv_mutex_unlock(&b->lock);
  return progressed;
}

void background_pause(wpool_t *p, bool paused) {
  background_t *b = p->background;
  if (!b) return;
  uv_mutex_lock(&b->lock);
  b->paused = paused;
  uv_cond_signal(&b->work);
  uv_mutex_unlock(&b->lock);
}

void background_stop(wpool_t *p) {
  background_t *b = p->background;
  if (!b) return;
  uv_mutex_lock(&b->lock);
  b->stop = true;
  uv_cond_signal(&b->work);
  uv_mutex_unlock(&b->lock);
  uv_thread_join(&b->thread); /* it finishes every queued reset first */
  uv_cond_destroy(&b->done);
  uv_cond_destroy(&b->work);
  uv_mutex_destroy(&b->lock);
  heap_free(b->queue);
  heap_free(b);
  p->background = NULL;
}

#else /* no libuv */

int background_start(wpool_t *p) {
  (void)p;
  return error_set(WPOOL_ENOTSUP, "background_reset: this build of wpool has no libuv");
}
void background_queue(wpool_t *p, uint32_t slot, wpool_module_t *m) {
  (void)p, (void)slot, (void)m;
}
bool background_wait(wpool_t *p, uint64_t deadline_ns) {
  (void)p, (void)deadline_ns;
  return false;
}
void background_stop(wpool_t *p) { (void)p; }
void background_pause(wpool_t *p, bool paused) { (void)p, (void)paused; }
#endif
