/* A worker of `wpool serve`: one libuv loop on its own thread, the
 * connections the listener handed it, HTTP/1.1 parsed by http-parser, and
 * each request run on the runtime on this thread, start to end, before
 * the loop goes on (docs/serve.md). */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve.h"

#define MAX_HEADERS 100
#define LINGER_MS 2000 /* a closing connection's wait for the client's end */
#define IDLE_MS 60000  /* keep-alive connections idle this long are closed */
#define READ_MS 30000  /* a request whose bytes stop coming this long */
#define DRAIN_MS 10000 /* at shutdown: requests still being received */
#define SWEEP_MS 500

typedef struct conn {
  uv_tcp_t tcp;
  worker_t *w;
  struct conn *prev, *next;
  http_parser parser;
  sbuf_t text; /* the request's url, then its header names and values */
  size_t url_len;
  header_t headers[MAX_HEADERS];
  size_t nheaders;
  bool in_value; /* the last header callback was a value's */
  sbuf_t body;
  bool in_message;  /* a request has begun and is not complete */
  int error_status; /* a callback's refusal: 413, 431 */
  uint64_t t0;      /* the request's first byte, ns */
  sbuf_t out;       /* responses not yet handed to the kernel */
  sbuf_t wbuf;      /* the write in flight */
  uv_write_t wreq;
  uv_shutdown_t sreq;
  bool reading, writing, close_after_write, lingering, closing;
  uint64_t last_ms; /* the last read, or the linger's start */
  char peer[INET6_ADDRSTRLEN];
} conn_t;

static uint64_t now_ns(void) { return uv_hrtime(); }

/* Between a request's first byte and its last: counted for /metrics. */
static void set_receiving(conn_t *c, bool on) {
  if (c->in_message != on) metrics_add(&c->w->metrics->receiving, on ? 1 : -1);
  c->in_message = on;
}

/* ------------------------------------------------------------------ */
/* Closing */

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
  metrics_add(&w->metrics->connections_open, -1);
  set_receiving(c, false);
  free(c);
}

static void conn_close(conn_t *c) {
  if (c->closing) return;
  c->closing = true;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
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
  if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) conn_close(c);
}

/* ------------------------------------------------------------------ */
/* Writing */

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_flush(conn_t *c);

static void on_written(uv_write_t *req, int status) {
  conn_t *c = req->data;
  c->writing = false;
  c->wbuf.len = 0;
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  conn_flush(c);
}

/* Hand c->out to the kernel: at once if it takes it all, else by a queued
 * write, reading nothing more meanwhile. Then the connection's next step:
 * read the next request, or close. */
static void conn_flush(conn_t *c) {
  if (c->closing || c->writing || c->lingering) return;
  uv_stream_t *s = (uv_stream_t *)&c->tcp;
  if (c->out.len) {
    uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.len);
    int n = uv_try_write(s, &b, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      conn_close(c);
      return;
    }
    if ((size_t)n < c->out.len) {
      sbuf_t t = c->wbuf;
      c->wbuf = c->out;
      c->out = t;
      c->out.len = 0;
      b = uv_buf_init(c->wbuf.p + n, (unsigned)(c->wbuf.len - (size_t)n));
      if (c->reading) uv_read_stop(s);
      c->reading = false;
      c->writing = true;
      c->wreq.data = c;
      if (uv_write(&c->wreq, s, &b, 1, on_written) != 0) {
        c->writing = false;
        conn_close(c);
      }
      return;
    }
    c->out.len = 0;
  }
  if (c->close_after_write) {
    linger(c);
  } else if (c->w->stopping && !c->in_message) {
    conn_close(c);
  } else if (!c->reading) {
    if (uv_read_start(s, alloc_read, on_read) != 0)
      conn_close(c);
    else
      c->reading = true;
  }
}

/* ------------------------------------------------------------------ */
/* Responses */

typedef struct answer {
  int status;
  const char *reason; /* NULL: the standard phrase */
  const char *head;   /* extra header lines, "Name: value\r\n" each */
  size_t head_len;
  const char *body;
  size_t body_len;
} answer_t;

static const char *method_of(const conn_t *c) {
  return http_method_str((enum http_method)c->parser.method);
}

static void log_line(conn_t *c, int status, uint64_t us) {
  worker_t *w = c->w;
  sbuf_t *l = &w->scratch;
  l->len = 0;
  size_t path_len = c->url_len;
  const char *q = c->url_len ? memchr(c->text.p, '?', c->url_len) : NULL;
  if (q) path_len = (size_t)(q - c->text.p);
  sbuf_printf(l, "%s ", c->url_len ? method_of(c) : "-");
  if (path_len)
    sbuf_put(l, c->text.p, path_len);
  else
    sbuf_puts(l, "-");
  sbuf_printf(l, " %d %llu\n", status, (unsigned long long)us);
  if (l->p && write(STDOUT_FILENO, l->p, l->len) < 0) {
    /* A log that cannot be written does not stop the server. */
  }
}

/* Queue a response; `keep`: the connection stays open after it. */
static void respond(conn_t *c, const answer_t *a, bool keep) {
  worker_t *w = c->w;
  bool head_only = c->url_len && c->parser.method == HTTP_HEAD;
  bool no_body = a->status == 204 || a->status == 304;
  /* Stopping, or about to (the signal came while this request ran). */
  if (w->stopping || atomic_load_explicit(&w->stop, memory_order_relaxed)) keep = false;
  sbuf_t *o = &c->out;
  sbuf_printf(o, "HTTP/1.1 %d %s\r\nServer: wpool\r\n", a->status,
              a->reason ? a->reason : http_reason(a->status));
  sbuf_put(o, a->head, a->head_len);
  if (!no_body) sbuf_printf(o, "Content-Length: %zu\r\n", a->body_len);
  if (!keep)
    sbuf_puts(o, "Connection: close\r\n");
  else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
    sbuf_puts(o, "Connection: keep-alive\r\n");
  sbuf_put(o, "\r\n", 2);
  if (!head_only && !no_body) sbuf_put(o, a->body, a->body_len);
  if (!keep) c->close_after_write = true;
  uint64_t ns = now_ns() - c->t0;
  metrics_count(w->metrics, a->status, ns);
  if (w->srv->log) log_line(c, a->status, ns / 1000);
}

static void respond_text(conn_t *c, int status, const char *text, bool keep) {
  answer_t a = {.status = status,
                .head = "Content-Type: text/plain\r\n",
                .body = text,
                .body_len = strlen(text)};
  a.head_len = strlen(a.head);
  respond(c, &a, keep);
}

/* A request the server refuses before any guest runs: the connection
 * closes after the answer (its bytes are not to be trusted further). */
static void refuse(conn_t *c, int status, const char *why) {
  char text[160];
  snprintf(text, sizeof(text), "%s\n", why);
  respond_text(c, status, text, false);
}

/* /metrics */
static void serve_metrics(conn_t *c, bool keep) {
  worker_t *w = c->w;
  sbuf_t *m = &w->scratch;
  m->len = 0;
  if (!metrics_expose(w->srv, m)) {
    respond_text(c, 500, "out of memory\n", keep);
    return;
  }
  const char *head = "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n";
  answer_t a = {
      .status = 200, .head = head, .head_len = strlen(head), .body = m->p, .body_len = m->len};
  respond(c, &a, keep);
}

static void guest_stderr(const route_t *r, const wrt_result_t *res) {
  if (!res->err_len) return;
  sbuf_t l = {0};
  sbuf_printf(&l, "%s: ", r->name);
  sbuf_put(&l, res->err, res->err_len);
  if (l.p && l.p[l.len - 1] != '\n') sbuf_put(&l, "\n", 1);
  if (l.p && write(STDERR_FILENO, l.p, l.len) < 0) {
    /* as for the log */
  }
  sbuf_free(&l);
}

/* A complete request: route it, run its guest, queue the answer. */
static void serve_request(conn_t *c) {
  worker_t *w = c->w;
  server_t *s = w->srv;
  bool keep = http_should_keep_alive(&c->parser) != 0;
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(c->text.p, c->url_len, c->parser.method == HTTP_CONNECT, &u) != 0 ||
      c->parser.method == HTTP_CONNECT) {
    refuse(c, 400, "malformed request target");
    return;
  }
  if (c->parser.http_major != 1) {
    refuse(c, 505, "HTTP/1.0 and HTTP/1.1 only");
    return;
  }
  const char *path = "/", *query = NULL;
  size_t path_len = 1, query_len = 0;
  if (u.field_set & (1 << UF_PATH)) {
    path = c->text.p + u.field_data[UF_PATH].off;
    path_len = u.field_data[UF_PATH].len;
  }
  if (u.field_set & (1 << UF_QUERY)) {
    query = c->text.p + u.field_data[UF_QUERY].off;
    query_len = u.field_data[UF_QUERY].len;
  }
  if (path_len == 8 && memcmp(path, "/metrics", 8) == 0) {
    if (c->parser.method == HTTP_GET || c->parser.method == HTTP_HEAD) {
      serve_metrics(c, keep);
    } else {
      answer_t a = {.status = 405,
                    .head = "Allow: GET, HEAD\r\nContent-Type: text/plain\r\n",
                    .body = "/metrics answers GET and HEAD\n"};
      a.head_len = strlen(a.head);
      a.body_len = strlen(a.body);
      respond(c, &a, keep);
    }
    return;
  }
  const char *rest;
  size_t rest_len;
  const route_t *r = wagi_route(s, path, path_len, &rest, &rest_len);
  if (!r) {
    respond_text(c, 404, "no module at this path\n", keep);
    return;
  }
  request_t q = {.method = method_of(c),
                 .http_major = c->parser.http_major,
                 .http_minor = c->parser.http_minor,
                 .text = c->text.p,
                 .url = 0,
                 .url_len = c->url_len,
                 .headers = c->headers,
                 .nheaders = c->nheaders,
                 .body = c->body.p,
                 .body_len = c->body.len,
                 .remote_addr = c->peer};
  wrt_request_t req;
  int st = wagi_request(w, r, &q, path, path_len, rest, rest_len, query, query_len, &req);
  if (st == 400) {
    refuse(c, 400, "malformed percent-escape in the path");
    return;
  }
  if (st) {
    respond_text(c, 500, "out of memory\n", keep);
    return;
  }
  int err = wrt_run(r->m, &req, &w->res);
  wrt_result_t *res = &w->res;
  char text[256];
  if (err == WRT_EEXHAUSTED) {
    answer_t a = {.status = 503,
                  .head = "Retry-After: 1\r\nContent-Type: text/plain\r\n",
                  .body = "every instance slot is in use: retry\n"};
    a.head_len = strlen(a.head);
    a.body_len = strlen(a.body);
    respond(c, &a, keep);
    return;
  }
  if (err) {
    snprintf(text, sizeof(text), "module %s could not run: %s\n", r->name, wrt_last_error());
    respond_text(c, 500, text, keep);
    return;
  }
  if (s->log) guest_stderr(r, res);
  if (res->trap) {
    snprintf(text, sizeof(text), "module %s trapped: %s\n", r->name, wrt_trap_name(res->trap));
    respond_text(c, 500, text, keep);
  } else if (res->exit_code) {
    snprintf(text, sizeof(text), "module %s exited with code %d\n", r->name, res->exit_code);
    respond_text(c, 500, text, keep);
  } else if (res->out_truncated) {
    snprintf(text, sizeof(text), "module %s wrote more than %zu bytes\n", r->name, res->out_len);
    respond_text(c, 500, text, keep);
  } else {
    response_t *rs = &w->rs;
    wagi_response(res->out ? res->out : "", res->out_len, rs);
    answer_t a = {.status = rs->status,
                  .reason = rs->reason,
                  .head = rs->head.p,
                  .head_len = rs->head.len,
                  .body = rs->body,
                  .body_len = rs->body_len};
    respond(c, &a, keep);
  }
}

/* ------------------------------------------------------------------ */
/* http-parser's callbacks */

static int on_message_begin(http_parser *p) {
  conn_t *c = p->data;
  set_receiving(c, true);
  c->t0 = now_ns();
  c->text.len = 0;
  c->url_len = 0;
  c->nheaders = 0;
  c->in_value = false;
  c->body.len = 0;
  c->error_status = 0;
  if (c->body.cap > (1 << 20)) sbuf_free(&c->body); /* one large body: not kept for good */
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (!sbuf_put(&c->text, at, len)) return -1;
  c->url_len += len;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->in_value || !c->nheaders) {
    if (c->nheaders == MAX_HEADERS) {
      c->error_status = 431;
      return -1;
    }
    c->headers[c->nheaders++] = (header_t){.name = c->text.len, .value = c->text.len};
    c->in_value = false;
  }
  header_t *h = &c->headers[c->nheaders - 1];
  if (!sbuf_put(&c->text, at, len)) return -1;
  h->name_len += len;
  h->value = c->text.len;
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  header_t *h = &c->headers[c->nheaders - 1];
  if (!c->in_value) h->value = c->text.len;
  c->in_value = true;
  if (!sbuf_put(&c->text, at, len)) return -1;
  h->value_len += len;
  return 0;
}

static int on_headers_complete(http_parser *p) {
  conn_t *c = p->data;
  size_t max = c->w->srv->max_body;
  if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX && p->content_length > max) {
    c->error_status = 413;
    return -1;
  }
  /* A client that waits for 100 Continue before the body (curl does, for
   * bodies over 1 KiB) gets it now. */
  for (size_t i = 0; i < c->nheaders; i++) {
    header_t *h = &c->headers[i];
    bool body = (p->flags & F_CHUNKED) || (p->content_length && p->content_length != ULLONG_MAX);
    if (body && h->name_len == 6 && !strncasecmp(c->text.p + h->name, "expect", 6) &&
        h->value_len == 12 && !strncasecmp(c->text.p + h->value, "100-continue", 12) &&
        p->http_major == 1 && p->http_minor >= 1) {
      sbuf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
      conn_flush(c);
    }
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->body.len + len > c->w->srv->max_body) {
    c->error_status = 413;
    return -1;
  }
  if (!sbuf_put(&c->body, at, len)) return -1;
  return 0;
}

static int on_message_complete(http_parser *p) {
  conn_t *c = p->data;
  set_receiving(c, false);
  serve_request(c);
  /* After a response that closes the connection, nothing more is read. */
  if (c->close_after_write) http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ------------------------------------------------------------------ */
/* Reading */

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (nread == 0 || c->closing) return;
  if (nread < 0) {
    /* The client's end (or an error). A request cut short is dropped;
     * answers already queued are still written. */
    if (nread == UV_EOF && (c->writing || c->out.len) && !c->in_message) {
      uv_read_stop(s);
      c->reading = false;
      c->close_after_write = true;
    } else {
      conn_close(c);
    }
    return;
  }
  c->last_ms = uv_now(&c->w->loop);
  size_t n = http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
  (void)n;
  if (c->closing) return;
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (e != HPE_OK && e != HPE_PAUSED) {
    /* Malformed, or refused by a callback: answer and close. */
    if (!c->in_message) c->t0 = now_ns();
    set_receiving(c, false);
    if (c->error_status == 413)
      refuse(c, 413, "the request's body is over the server's limit (--max-body)");
    else if (c->error_status == 431)
      refuse(c, 431, "too many header fields");
    else if (e == HPE_HEADER_OVERFLOW)
      refuse(c, 431, "the request's header is over 80 KiB");
    else {
      char why[128];
      snprintf(why, sizeof(why), "malformed HTTP request: %s", http_errno_description(e));
      refuse(c, 400, why);
    }
  } else if (c->parser.upgrade) {
    /* An upgrade (or CONNECT) was answered as a plain request: the bytes
     * that follow are not HTTP/1.1. */
    c->close_after_write = true;
  }
  if (c->close_after_write && c->reading) {
    uv_read_stop(s);
    c->reading = false;
  }
  conn_flush(c);
}

/* ------------------------------------------------------------------ */
/* Connections and the loop */

static void conn_open(worker_t *w, int fd) {
  conn_t *c = calloc(1, sizeof(*c));
  if (!c) {
    close(fd);
    return;
  }
  c->w = w;
  if (uv_tcp_init(&w->loop, &c->tcp) != 0) {
    free(c);
    close(fd);
    return;
  }
  c->tcp.data = c;
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  metrics_add(&w->metrics->connections_open, 1);
  metrics_add(&w->metrics->connections_total, 1);
  if (uv_tcp_open(&c->tcp, fd) != 0) {
    close(fd);
    conn_close(c);
    return;
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
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->last_ms = uv_now(&w->loop);
  conn_flush(c); /* starts reading */
}

static bool conn_idle(const conn_t *c) {
  return !c->in_message && !c->writing && !c->out.len && !c->lingering && !c->close_after_write;
}

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
  for (size_t i = 0; i < n; i++) conn_open(w, fds[i]);
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

static void on_sweep(uv_timer_t *t) {
  worker_t *w = t->data;
  uint64_t now = uv_now(&w->loop);
  for (conn_t *c = w->conns, *next; c; c = next) {
    next = c->next;
    uint64_t quiet = now - c->last_ms;
    if ((c->lingering && quiet > LINGER_MS) || (conn_idle(c) && quiet > IDLE_MS) ||
        (c->in_message && !c->writing && quiet > READ_MS) ||
        (w->stopping && now - w->stop_ms > DRAIN_MS))
      conn_close(c);
  }
}

bool worker_adopt(worker_t *w, int fd) {
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
  w->pending[w->npending++] = fd;
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

int worker_init(worker_t *w) {
  int err = uv_loop_init(&w->loop);
  if (err) return err;
  if ((err = uv_async_init(&w->loop, &w->wake, on_wake)) != 0) {
    uv_loop_close(&w->loop);
    return err;
  }
  w->wake.data = w;
  uv_timer_init(&w->loop, &w->sweep);
  w->sweep.data = w;
  uv_timer_start(&w->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
  pthread_mutex_init(&w->lock, NULL);
  wrt_result_init(&w->res);
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

void worker_free(worker_t *w) {
  pthread_mutex_lock(&w->lock);
  for (size_t i = 0; i < w->npending; i++) close(w->pending[i]);
  pthread_mutex_unlock(&w->lock);
  free(w->pending);
  pthread_mutex_destroy(&w->lock);
  wrt_result_free(&w->res);
  sbuf_free(&w->args);
  sbuf_free(&w->decoded);
  sbuf_free(&w->scratch);
  sbuf_free(&w->rs.head);
  free(w->argv);
  free(w->envp);
  free(w->offs);
}
