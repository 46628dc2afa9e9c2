/* Workers (worker.h): a loop per thread, the hand-over of accepted
 * sockets, the sweep of idle and slow connections, the stop. */
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "http.h"
#include "respond.h"

#define LINGER_MS 2000 /* a closing connection's wait for the client's end */
#define DRAIN_MS SRV_DRAIN_MS /* at shutdown: requests still being received */
#define SWEEP_MS 500

static void begin_stop(worker_t *w) {
  w->stopping = true;
  w->stop_ms = uv_now(&w->loop);
  /* The wake (for a second signal) and the sweep (it bounds the drain)
   * stay but no longer keep the loop alive: the loop ends when the last
   * connection closes. */
  uv_unref((uv_handle_t *)&w->wake);
  uv_unref((uv_handle_t *)&w->sweep);
  for (conn_t *c = w->conns, *next; c; c = next) {
    next = c->next;
    if (conn_idle(c)) conn_close(c);
  }
}

static void on_wake(uv_async_t *a) {
  worker_t *w = a->data;
  pthread_mutex_lock(&w->lock);
  size_t n = w->npending;
  int fds[64];
  bool more = n > 64;
  if (more) n = 64;
  if (n) {
    memcpy(fds, w->pending, n * sizeof(int));
    memmove(w->pending, w->pending + n, (w->npending - n) * sizeof(int));
    w->npending -= n;
  }
  pthread_mutex_unlock(&w->lock);
  for (size_t i = 0; i < n; i++) http_open(w, fds[i] < 0 ? ~fds[i] : fds[i], fds[i] < 0);
  /* After they count as open: the listener never sees them in neither. */
  atomic_fetch_sub_explicit(&w->queued, (unsigned)n, memory_order_relaxed);
  if (more) {
    uv_async_send(&w->wake);
    return;
  }
  int stop = atomic_load(&w->stop);
  if (stop && !w->stopping) begin_stop(w);
  if (stop > 1) {
    for (conn_t *c = w->conns; c; c = c->next) conn_close(c);
  }
}

/* Past `start + grace` plus the time `bytes` take at the minimum rate? */
static bool past(uint64_t now, uint64_t start, unsigned grace, size_t bytes, unsigned rate) {
  uint64_t allowed = grace + (rate ? (uint64_t)bytes * 1000 / rate : 0);
  return now - start > allowed;
}

/* A connection's deadlines (server.h): one for every state it can be in
 * (conn.h), so that no client holds a connection for ever. */
static void sweep_one(worker_t *w, conn_t *c, uint64_t now) {
  const srv_config_t *cfg = &w->srv->cfg;
  uint64_t quiet = now - c->last_ms;
  /* Each state's deadline counts from a moment set on the way into it, in
   * the loop's past (a zero or future start would never expire). */
  debug_assert(c->last_ms && c->last_ms <= now);
  conn_state_t state = conn_state(c);
  debug_assert(conn_step_legal((conn_state_t)c->swept, state)); /* since the last sweep */
  c->swept = (uint8_t)state;
  switch (state) {
    case CONN_CLOSING:
      break;
    case CONN_LINGER:
      if (quiet > LINGER_MS) conn_close(c);
      break;
    case CONN_WRITING: {
      debug_assert(c->write_t0 && c->write_t0 <= c->write_ms && c->write_ms <= now);
      size_t left = conn_unacked(c);
      if (left != c->write_left) {
        c->write_left = left;
        c->write_ms = now;
      } else if (now - c->write_ms > cfg->write_ms) {
        conn_close(c);
        break;
      }
      if (past(now, c->write_t0, cfg->write_ms, c->write_len, cfg->min_rate)) conn_close(c);
      break;
    }
    case CONN_ENDING:
      if (quiet > cfg->write_ms) conn_close(c);
      break;
    case CONN_PARKED:
    case CONN_IDLE:
      if (quiet > cfg->idle_ms) conn_close(c);
      break;
    case CONN_HEAD:
    case CONN_TRAILER:
      debug_assert(c->head_ms && c->head_ms <= now);
      if (now - c->head_ms > cfg->head_ms) {
        refuse(c, 408,
               c->past_head ? "the request's trailer section did not arrive in time"
                            : "the request's head did not arrive in time");
        conn_flush(c);
      }
      break;
    case CONN_BODY:
      debug_assert(c->body_ms && c->body_ms <= now);
      if (quiet > cfg->read_ms || past(now, c->body_ms, cfg->read_ms, c->body.len, cfg->min_rate))
        conn_close(c);
      break;
  }
}

static void on_sweep(uv_timer_t *t) {
  worker_t *w = t->data;
  uint64_t now = uv_now(&w->loop);
  debug_assert_expensive(conn_list_is_valid(w));
  for (conn_t *c = w->conns, *next; c; c = next) {
    next = c->next;
    if (w->stopping && now - w->stop_ms > DRAIN_MS)
      conn_close(c);
    else if (c->starved && !w->over)
      conn_flush(c); /* back under the budget (conn.c) */
    else
      sweep_one(w, c, now);
  }
}

bool worker_adopt(worker_t *w, int fd, bool reserve) {
  pthread_mutex_lock(&w->lock);
  if (w->finished) {
    pthread_mutex_unlock(&w->lock);
    return false;
  }
  if (w->npending == w->cap_pending) {
    size_t cap = w->cap_pending ? w->cap_pending * 2 : 16;
    int *p = realloc(w->pending, cap * sizeof(int));
    if (!p) {
      pthread_mutex_unlock(&w->lock);
      return false;
    }
    w->pending = p;
    w->cap_pending = cap;
  }
  w->pending[w->npending++] = reserve ? ~fd : fd;
  atomic_fetch_add_explicit(&w->queued, 1, memory_order_relaxed);
  uv_async_send(&w->wake);
  pthread_mutex_unlock(&w->lock);
  return true;
}

/* The wake handle is closed only once `finished` is set, under the lock:
 * a send under the lock never meets a closed handle. */
void worker_stop(worker_t *w) {
  atomic_fetch_add(&w->stop, 1);
  pthread_mutex_lock(&w->lock);
  if (!w->finished) uv_async_send(&w->wake);
  pthread_mutex_unlock(&w->lock);
}

int worker_init(worker_t *w, srv_t *s, unsigned id) {
  w->srv = s;
  w->id = id;
  w->state = calloc(s->nhandlers ? s->nhandlers : 1, sizeof(void *));
  if (!w->state) return -ENOMEM;
  for (size_t i = 0; i < s->nhandlers; i++) {
    srv_handler_t *h = s->handlers[i];
    if (h->worker_init && !(w->state[i] = h->worker_init(h, id))) {
      for (size_t k = 0; k < i; k++)
        if (s->handlers[k]->worker_free) s->handlers[k]->worker_free(s->handlers[k], w->state[k]);
      free(w->state);
      w->state = NULL;
      return -ENOMEM;
    }
  }
  int err = uv_loop_init(&w->loop);
  if (!err && (err = uv_async_init(&w->loop, &w->wake, on_wake)) != 0) uv_loop_close(&w->loop);
  if (err) {
    for (size_t i = 0; i < s->nhandlers; i++)
      if (s->handlers[i]->worker_free) s->handlers[i]->worker_free(s->handlers[i], w->state[i]);
    free(w->state);
    w->state = NULL;
    return err;
  }
  w->wake.data = w;
  uv_timer_init(&w->loop, &w->sweep);
  w->sweep.data = w;
  uv_timer_start(&w->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
  pthread_mutex_init(&w->lock, NULL);
  return 0;
}

void *worker_main(void *arg) {
  worker_t *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
  pthread_mutex_lock(&w->lock);
  w->finished = true;
  pthread_mutex_unlock(&w->lock);
  uv_close((uv_handle_t *)&w->wake, NULL);
  uv_close((uv_handle_t *)&w->sweep, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  int err = uv_loop_close(&w->loop);
  if (err)
    fprintf(stderr, "wpool serve: worker %u: handles left open: %s\n", w->id, uv_strerror(err));
  w->loop_closed = err == 0;
  atomic_fetch_add(&w->srv->nfinished, 1);
  uv_async_send(w->srv->finished);
  return NULL;
}

void worker_discard(worker_t *w) {
  uv_close((uv_handle_t *)&w->wake, NULL);
  uv_close((uv_handle_t *)&w->sweep, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
}

void worker_free(worker_t *w) {
  pthread_mutex_lock(&w->lock);
  for (size_t i = 0; i < w->npending; i++) {
    close(w->pending[i] < 0 ? ~w->pending[i] : w->pending[i]);
    atomic_fetch_sub(&w->srv->open, 1);
  }
  pthread_mutex_unlock(&w->lock);
  free(w->pending);
  pthread_mutex_destroy(&w->lock);
  srv_t *s = w->srv;
  for (size_t i = 0; w->state && i < s->nhandlers; i++)
    if (s->handlers[i]->worker_free) s->handlers[i]->worker_free(s->handlers[i], w->state[i]);
  free(w->state);
  sbuf_free(&w->scratch);
}
