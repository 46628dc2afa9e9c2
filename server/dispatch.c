/* Heads checked and requests dispatched (dispatch.h). */
#include "dispatch.h"

#include <string.h>
#include <strings.h>

#include "metrics.h"
#include "respond.h"
#include "route.h"
#include "target.h"

/* The path's first segment in w->busy_name (listener.c's message). */
static void busy_name(worker_t *w, const char *path, size_t len) {
  char name[BUSY_NAME_WORDS * 8] = {0};
  const char *seg = len && path[0] == '/' ? path + 1 : path;
  size_t n = len - (size_t)(seg - path);
  const char *slash = memchr(seg, '/', n);
  if (slash) n = (size_t)(slash - seg);
  memcpy(name, seg, n < sizeof(name) - 1 ? n : sizeof(name) - 1);
  for (int i = 0; i < BUSY_NAME_WORDS; i++) {
    uint64_t word;
    memcpy(&word, name + 8 * i, 8);
    atomic_store_explicit(&w->busy_name[i], word, memory_order_relaxed);
  }
}

static bool named(const conn_t *c, const header_t *h, const char *name, size_t len) {
  return h->name_len == len && !strncasecmp(c->text.p + h->name, name, len);
}

static bool value_is(const conn_t *c, const header_t *h, const char *v, size_t len) {
  return h->value_len == len && !strncasecmp(c->text.p + h->value, v, len);
}

/* What the head's checks need of its fields, in one pass: the Host field
 * (RFC 9112 3.2: at most one, a valid value, and one in every HTTP/1.1
 * request; host_ok false: 400), whether there is a Transfer-Encoding
 * field, how many Content-Type fields. */
typedef struct fields {
  const header_t *host;
  bool host_ok, te;
  unsigned content_types;
} fields_t;

static void fields_of(const conn_t *c, fields_t *f) {
  *f = (fields_t){.host_ok = true};
  for (size_t i = 0; i < c->nheaders; i++) {
    const header_t *h = &c->headers[i];
    switch (h->name_len) {
      case 4:
        if (!named(c, h, "host", 4)) break;
        if (f->host || !host_valid(c->text.p + h->value, h->value_len)) f->host_ok = false;
        f->host = h;
        break;
      case 12:
        f->content_types += named(c, h, "content-type", 12);
        break;
      case 17:
        f->te = f->te || named(c, h, "transfer-encoding", 17);
        break;
    }
  }
  if (!f->host && c->parser.http_minor >= 1) f->host_ok = false;
}

/* The transfer codings, all Transfer-Encoding fields' lists joined
 * (empty list elements skipped, RFC 9110 5.6.1), for a request with
 * such a field: 0 when they are chunked alone; 400 when chunked is not the
 * last or comes twice (RFC 9112 6.3, 7: the body's length cannot be
 * known), or there is no coding at all (llhttp takes an empty field as
 * none: a proxy might not); 501 for another coding before chunked, which
 * the server does not decode (RFC 9112 6.1). */
static int codings(const conn_t *c) {
  size_t chunked = 0;
  bool other = false, last_chunked = false;
  for (size_t i = 0; i < c->nheaders; i++) {
    const header_t *h = &c->headers[i];
    if (!named(c, h, "transfer-encoding", 17)) continue;
    const char *v = c->text.p + h->value, *end = v + h->value_len;
    while (v < end) {
      const char *comma = memchr(v, ',', (size_t)(end - v));
      const char *e = comma ? comma : end;
      while (v < e && (*v == ' ' || *v == '\t')) v++;
      const char *z = e;
      while (z > v && (z[-1] == ' ' || z[-1] == '\t')) z--;
      if (z > v) {
        last_chunked = z - v == 7 && strncasecmp(v, "chunked", 7) == 0;
        chunked += last_chunked;
        other = other || !last_chunked;
      }
      v = comma ? comma + 1 : end;
    }
  }
  if (!last_chunked || chunked > 1) return 400;
  return other ? 501 : 0;
}

bool head_complete(conn_t *c) {
  llhttp_t *p = &c->parser;
  target_t t;
  fields_t f;
  int st = 0;
  if (p->http_major != 1) {
    refuse(c, 505, "HTTP/1.0 and HTTP/1.1 only");
  } else if (p->method == HTTP_CONNECT || !target_parse(c->text.p, c->url_len, &t) ||
             (t.form == TARGET_ASTERISK && p->method != HTTP_OPTIONS)) {
    refuse(c, 400, "malformed request target");
  } else if (c->target = t, fields_of(c, &f), c->host = f.host_ok ? f.host : NULL, !f.host_ok) {
    refuse(c, 400, "a request has exactly one valid Host field (RFC 9112 3.2)");
  } else if (f.te && (st = codings(c)) == 0 && p->http_minor == 0) {
    /* RFC 9112 6.1: the framing is faulty; the connection closes. */
    refuse(c, 400, "an HTTP/1.0 request with Transfer-Encoding (RFC 9112 6.1)");
  } else if (st) {
    refuse(c, st,
           st == 501 ? "a transfer coding other than chunked (RFC 9112 6.1)"
                     : "Transfer-Encoding does not end with chunked, once (RFC 9112 6.3)");
  } else if (f.content_types > 1) {
    refuse(c, 400, "two Content-Type fields");
  } else if (!(p->flags & F_CHUNKED) && (p->flags & F_CONTENT_LENGTH) &&
             p->content_length > c->w->srv->cfg.max_body) {
    refuse(c, 413, "the request's body is over the server's limit (--max-body)");
  } else {
    /* A client that waits for 100 Continue before the body (curl does,
     * for bodies over 1 KiB) gets it now: once, however many Expect
     * fields ask for it. */
    bool body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    for (size_t i = 0; body && !c->continued && i < c->nheaders; i++) {
      const header_t *h = &c->headers[i];
      if (named(c, h, "expect", 6) && value_is(c, h, "100-continue", 12) && p->http_minor >= 1) {
        c->continued = true;
        sbuf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        conn_push(c);
      }
    }
    return true;
  }
  return false;
}

static const char options_head[] = "Allow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\n";

void dispatch(conn_t *c) {
  worker_t *w = c->w;
  srv_t *s = w->srv;
  /* An upgrade is answered as a plain request and the connection closes
   * (the bytes after it are not HTTP/1.1); so does any reserve one. */
  bool keep = llhttp_should_keep_alive(&c->parser) && !c->parser.upgrade && !c->reserve;
  /* The text does not move after the head: head_complete's pointers hold. */
  const target_t t = c->target;
  const header_t *host = c->host;
  srv_request_t q = {.method = llhttp_method_name((llhttp_method_t)c->parser.method),
                     .http_major = c->parser.http_major,
                     .http_minor = c->parser.http_minor,
                     .target = c->text.p,
                     .target_len = c->url_len,
                     .path = t.path,
                     .path_len = t.path_len,
                     .query = t.query,
                     .query_len = t.query_len,
                     .headers = w->hdrs,
                     .nheaders = c->nheaders,
                     .body = c->body.p ? c->body.p : "",
                     .body_len = c->body.len,
                     .remote_addr = c->peer,
                     .server_host = s->host,
                     .server_port = s->port};
  if (t.authority) {
    q.host = t.authority; /* RFC 9112 3.2.2: the target's, not Host's */
    q.host_len = t.authority_len;
  } else if (host) {
    q.host = c->text.p + host->value;
    q.host_len = host->value_len;
  }
  if (t.form == TARGET_ASTERISK) {
    srv_response_t a = {.status = 200, .head = options_head, .head_len = sizeof(options_head) - 1};
    respond(c, &a, keep);
    return;
  }
  const route_t *r = route_match(s, q.path, q.path_len, &q.rest, &q.rest_len);
  if (r && c->reserve && !r->h->reserve) {
    metrics_add(&w->metrics->refused_at_cap, 1);
    srv_response_t a = {.status = 503,
                        .head = "Retry-After: 1\r\nContent-Type: text/plain\r\n",
                        .body = "the server is at its connection limit (--max-connections)\n"};
    a.head_len = strlen(a.head);
    a.body_len = strlen(a.body);
    respond(c, &a, false);
    return;
  }
  if (!r) {
    respond_text(c, 404, "no module at this path\n", keep);
    return;
  }
  for (size_t i = 0; i < c->nheaders; i++) {
    const header_t *h = &c->headers[i];
    w->hdrs[i] = (srv_header_t){.name = c->text.p + h->name,
                                .name_len = h->name_len,
                                .value = c->text.p + h->value,
                                .value_len = h->value_len};
  }
  q.route_data = r->data;
  q.state = w->state[r->h->slot];
  srv_response_t a = {0};
  /* The listener routes new connections around a worker whose request
   * runs long, and names it when a second stop signal finds it stuck. */
  uv_update_time(&w->loop); /* the loop's clock, past the requests before this one */
  atomic_store_explicit(&w->busy_route, r, memory_order_relaxed);
  if (!r->len) busy_name(w, q.path, q.path_len);
  atomic_store_explicit(&w->busy_since, uv_now(&w->loop) + 1, memory_order_relaxed);
  r->h->on_request(r->h, &q, &a);
  atomic_store_explicit(&w->busy_since, 0, memory_order_relaxed);
  respond(c, &a, keep);
  /* The request's buffers fall back after a large one. */
  sbuf_reset(&c->body, SRV_KEEP);
  sbuf_reset(&c->text, SRV_KEEP);
  c->url_len = c->nheaders = 0;
}
