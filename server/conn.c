/* A connection's bytes: reading into the worker's buffer, writing its
 * responses (a write the kernel does not take at once pauses reading),
 * the lingering close, and the end of it (conn.h). */
#include "conn.h"

#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "metrics.h"

void conn_set_receiving(conn_t *c, bool on) {
  if (c->in_message != on) metrics_add(&c->w->metrics->receiving, on ? 1 : -1);
  c->in_message = on;
}

static size_t held(const conn_t *c) {
  return c->text.cap + c->body.cap + c->in.cap + c->out.cap + c->wbuf.cap;
}

/* Past its share of max_buffered a worker stops reading on every
 * connection (reserve ones aside: /metrics); the sweep (worker.c) starts
 * them again once it is back under seven eighths of its share. */
static void budget_check(worker_t *w) {
  size_t budget = w->srv->budget;
  uint64_t now = atomic_load_explicit(&w->metrics->buffered, memory_order_relaxed);
  if (!budget) return;
  if (w->over) {
    if (now <= budget - budget / 8) w->over = false;
    return;
  }
  if (now <= budget) return;
  w->over = true;
  metrics_add(&w->metrics->over_budget, 1);
  for (conn_t *k = w->conns; k; k = k->next) {
    if (!k->reading || k->reserve || k->lingering) continue;
    conn_pause(k);
    k->starved = true;
  }
}

bool conn_over_budget(const conn_t *c) { return c->w->over && !c->reserve; }

/* A connection's flags agree (O(1)): parked input within its buffer; no
 * read while a write is queued (conn_push pauses first) or while it
 * lingers (on_discard reads then, unflagged), and no write either. */
static bool conn_is_valid(const conn_t *c) {
  return c->in_off <= c->in.len && !(c->writing && c->reading) &&
         !(c->lingering && (c->writing || c->reading));
}

bool conn_list_is_valid(const worker_t *w) {
  uint64_t bytes = 0, n = 0;
  for (const conn_t *k = w->conns; k; k = k->next, n++) {
    if ((k->next && k->next->prev != k) || (!k->prev && w->conns != k)) return false;
    bytes += k->accounted;
  }
  return bytes == atomic_load_explicit(&w->metrics->buffered, memory_order_relaxed) &&
         n == atomic_load_explicit(&w->metrics->connections_open, memory_order_relaxed);
}

void conn_account(conn_t *c) {
  debug_assert(conn_is_valid(c));
  size_t now = held(c);
  if (now != c->accounted)
    metrics_add(&c->w->metrics->buffered, (int64_t)now - (int64_t)c->accounted);
  c->accounted = now;
  budget_check(c->w);
}

size_t conn_unsent(const conn_t *c) {
  return c->out.len + (c->writing ? c->tcp.write_queue_size : 0);
}

size_t conn_unacked(const conn_t *c) {
  int fd, n = 0;
  if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0 || ioctl(fd, SIOCOUTQ, &n) != 0 || n < 0)
    n = 0;
  return c->tcp.write_queue_size + (size_t)n;
}

void conn_pause(conn_t *c) {
  if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
}

/* A connection gone: the listener may accept again. */
static void release_slot(srv_t *s) {
  atomic_fetch_sub(&s->open, 1);
  if (atomic_load_explicit(&s->paused, memory_order_relaxed)) {
    pthread_mutex_lock(&s->lock);
    if (s->resume) uv_async_send(s->resume);
    pthread_mutex_unlock(&s->lock);
  }
}

static void on_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  worker_t *w = c->w;
  if (c->prev)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  sbuf_free(&c->text);
  sbuf_free(&c->body);
  sbuf_free(&c->out);
  sbuf_free(&c->wbuf);
  sbuf_free(&c->in);
  conn_account(c);
  metrics_add(&w->metrics->connections_open, -1);
  conn_set_receiving(c, false);
  release_slot(w->srv);
  free(c);
  debug_assert_expensive(conn_list_is_valid(w)); /* its bytes and its count gone with it */
}

#if defined(__SANITIZE_THREAD__)
/* The thread sanitizer's hook for a close it cannot intercept: libuv
 * closes a socket by a raw system call, so without it the sanitizer takes
 * the next file given the same number on another thread (the reload's
 * loader, the runtime's cache) for the socket, shared without a lock. */
void __sanitizer_syscall_pre_impl_close(long fd);
#endif

void conn_close(conn_t *c) {
  if (c->closing) return; /* closing is the last state: nothing leaves it */
  c->closing = true;
#if defined(__SANITIZE_THREAD__)
  uv_os_fd_t fd = -1;
  uv_fileno((uv_handle_t *)&c->tcp, &fd);
#endif
  uv_close((uv_handle_t *)&c->tcp, on_closed);
#if defined(__SANITIZE_THREAD__)
  /* After: libuv's last epoll_ctl on it comes before its close. */
  if (fd >= 0) __sanitizer_syscall_pre_impl_close(fd);
#endif
}

static void on_discard(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread < 0) conn_close(s->data);
}

static void alloc_read(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  conn_t *c = h->data;
  *buf = uv_buf_init(c->w->rbuf, sizeof(c->w->rbuf));
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  conn_t *c = req->data;
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  /* Read and drop what the client still sends until it closes (or the
   * sweep gives up), so that unread bytes do not turn our close into a
   * reset that could destroy the response before the client reads it. */
  c->lingering = true;
  c->last_ms = uv_now(&c->w->loop);
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_read, on_discard) != 0) conn_close(c);
}

static void linger(conn_t *c) {
  conn_pause(c);
  sbuf_free(&c->in);
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) conn_close(c);
}

static void on_written(uv_write_t *req, int status) {
  conn_t *c = req->data;
  c->writing = false;
  sbuf_reset(&c->wbuf, SRV_KEEP); /* a large response does not stay */
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  conn_flush(c);
}

bool conn_push(conn_t *c) {
  if (c->closing || c->lingering) return false;
  if (c->writing) return !c->out.len;
  if (!c->out.len) return true;
  uv_stream_t *s = (uv_stream_t *)&c->tcp;
  uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.len);
  int n = uv_try_write(s, &b, 1);
  if (n == UV_EAGAIN) n = 0;
  if (n < 0) {
    conn_close(c);
    return false;
  }
  if ((size_t)n == c->out.len) {
    sbuf_reset(&c->out, SRV_KEEP);
    return true;
  }
  sbuf_t t = c->wbuf;
  c->wbuf = c->out;
  c->out = t;
  c->out.len = 0;
  b = uv_buf_init(c->wbuf.p + n, (unsigned)(c->wbuf.len - (size_t)n));
  conn_pause(c);
  c->writing = true;
  c->wreq.data = c;
  if (uv_write(&c->wreq, s, &b, 1, on_written) != 0) {
    c->writing = false;
    conn_close(c);
    return false;
  }
  c->write_ms = c->write_t0 = uv_now(&c->w->loop);
  c->write_len = c->tcp.write_queue_size;
  c->write_left = conn_unacked(c);
  return false;
}

void conn_flush(conn_t *c) {
  if (c->closing || c->writing || c->lingering) return;
  if (!conn_push(c)) {
    conn_account(c);
    return;
  }
  if (c->close_after_write) {
    linger(c);
  } else if (conn_over_budget(c) && (c->in.len > c->in_off || !c->reading)) {
    c->starved = true; /* the sweep starts it again */
  } else if (c->in.len > c->in_off) {
    c->starved = false;
    c->on_resume(c); /* requests read before and parked: on with them */
  } else if (c->w->stopping && !c->in_message) {
    conn_close(c);
  } else if (!c->reading) {
    c->starved = false;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_read, c->on_read) != 0)
      conn_close(c);
    else
      c->reading = true;
  }
  if (!c->closing) conn_account(c);
}

conn_t *conn_new(worker_t *w, int fd, bool reserve) {
  conn_t *c = calloc(1, sizeof(*c));
  if (!c || uv_tcp_init(&w->loop, &c->tcp) != 0) {
    free(c);
    close(fd);
    release_slot(w->srv);
    return NULL;
  }
  c->w = w;
  c->reserve = reserve;
  c->tcp.data = c;
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  metrics_add(&w->metrics->connections_open, 1);
  metrics_add(&w->metrics->connections_total, 1);
  if (uv_tcp_open(&c->tcp, fd) != 0) {
    close(fd);
    conn_close(c);
    return NULL;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  snprintf(c->peer, sizeof(c->peer), "-");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET)
      uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
    else if (ss.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
  }
  c->last_ms = uv_now(&w->loop);
  debug_assert_expensive(conn_list_is_valid(w));
  return c;
}

conn_state_t conn_state(const conn_t *c) {
  if (c->closing) return CONN_CLOSING;
  if (c->lingering) return CONN_LINGER;
  if (c->writing) return CONN_WRITING;
  if (c->close_after_write) return CONN_ENDING;
  if (c->in_head && c->past_head) return CONN_TRAILER;
  if (c->in_message && !c->in_head) return CONN_BODY;
  if (c->in_head && (c->in_message || c->scan.bytes || c->reserve)) return CONN_HEAD;
  if (c->in.len > c->in_off || c->out.len) return CONN_PARKED;
  return CONN_IDLE;
}

bool conn_step_legal(conn_state_t from, conn_state_t to) {
  switch (from) {
    case CONN_CLOSING: return to == CONN_CLOSING;
    case CONN_LINGER: return to == CONN_LINGER || to == CONN_CLOSING;
    case CONN_ENDING:
      return to == CONN_ENDING || to == CONN_WRITING || to == CONN_LINGER || to == CONN_CLOSING;
    default: return true;
  }
}

bool conn_idle(const conn_t *c) {
  return !c->in_message && !c->writing && !c->out.len && !c->lingering && !c->close_after_write &&
         c->in.len <= c->in_off;
}
