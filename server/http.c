/* A connection's requests: http-parser's callbacks collect the request
 * line, header fields and body; a complete request is routed to its
 * handler, run on this thread, and its answer queued (http.h). */
#include "http.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "metrics.h"
#include "respond.h"
#include "route.h"

/* A complete request: route it, run its handler, queue the answer. */
static void dispatch(conn_t *c) {
  worker_t *w = c->w;
  srv_t *s = w->srv;
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
  srv_request_t q = {.method = http_method_str((enum http_method)c->parser.method),
                     .http_major = c->parser.http_major,
                     .http_minor = c->parser.http_minor,
                     .target = c->text.p,
                     .target_len = c->url_len,
                     .path = "/",
                     .path_len = 1,
                     .headers = w->hdrs,
                     .nheaders = c->nheaders,
                     .body = c->body.p ? c->body.p : "",
                     .body_len = c->body.len,
                     .remote_addr = c->peer,
                     .server_host = s->host,
                     .server_port = s->port};
  if (u.field_set & (1 << UF_PATH)) {
    q.path = c->text.p + u.field_data[UF_PATH].off;
    q.path_len = u.field_data[UF_PATH].len;
  }
  if (u.field_set & (1 << UF_QUERY)) {
    q.query = c->text.p + u.field_data[UF_QUERY].off;
    q.query_len = u.field_data[UF_QUERY].len;
  }
  if (u.field_set & (1 << UF_HOST)) {
    q.authority = c->text.p + u.field_data[UF_HOST].off;
    q.authority_len = u.field_data[UF_HOST].len;
  }
  const route_t *r = route_match(s, q.path, q.path_len, &q.rest, &q.rest_len);
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
  r->h->on_request(r->h, &q, &a);
  respond(c, &a, keep);
}

/* ------------------------------------------------------------------ */
/* http-parser's callbacks */

static int on_message_begin(http_parser *p) {
  conn_t *c = p->data;
  conn_set_receiving(c, true);
  c->t0 = uv_hrtime();
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
    if (c->nheaders == SRV_MAX_HEADERS) {
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
  size_t max = c->w->srv->cfg.max_body;
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
  if (c->body.len + len > c->w->srv->cfg.max_body) {
    c->error_status = 413;
    return -1;
  }
  if (!sbuf_put(&c->body, at, len)) return -1;
  return 0;
}

static int on_message_complete(http_parser *p) {
  conn_t *c = p->data;
  conn_set_receiving(c, false);
  dispatch(c);
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
    if (!c->in_message) c->t0 = uv_hrtime();
    conn_set_receiving(c, false);
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

void http_open(worker_t *w, int fd) {
  conn_t *c = conn_new(w, fd);
  if (!c) return;
  c->on_read = on_read;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  conn_flush(c); /* starts reading */
}
