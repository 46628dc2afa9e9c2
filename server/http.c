/* A connection's requests (http.h): llhttp, strict, collects the request
 * line, the header fields and the body; the parser pauses at the end of
 * each head (checked: line ends, Host, the target, the body's length) and
 * of each message, which is then routed to its handler and answered
 * outside the parser's callbacks (dispatch.c). Responses unsent past
 * SRV_OUT_BOUND park the rest of the input until they are written. */
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "dispatch.h"
#include "head.h"
#include "metrics.h"
#include "respond.h"

enum { EV_HEAD = 1, EV_MESSAGE = 2, EV_LAST_CHUNK = 3 };

static int fail_with(conn_t *c, int status, const char *why) {
  c->error_status = status;
  c->error_why = why;
  return -1;
}

static int on_message_begin(llhttp_t *p) {
  conn_t *c = p->data;
  conn_set_receiving(c, true);
  c->t0 = uv_hrtime();
  c->text.len = 0;
  c->url_len = 0;
  c->nheaders = 0;
  c->in_field = false;
  c->field_len = 0;
  c->continued = false;
  c->error_status = 0;
  c->in_chunks = false;
  c->chunk_line = c->framing = 0;
  sbuf_reset(&c->body, SRV_KEEP);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (!sbuf_put(&c->text, at, len)) return fail_with(c, 500, "out of memory");
  c->url_len += len;
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  conn_t *c = p->data;
  c->field_len += len;
  if (c->past_head) return 0; /* a trailer field: dropped, never in the request */
  if (!c->in_field) {
    if (c->nheaders == SRV_MAX_HEADERS) return fail_with(c, 431, "too many header fields");
    c->headers[c->nheaders++] = (header_t){.name = c->text.len, .value = c->text.len};
    c->in_field = true;
  }
  header_t *h = &c->headers[c->nheaders - 1];
  if (!sbuf_put(&c->text, at, len)) return fail_with(c, 500, "out of memory");
  h->name_len += len;
  h->value = c->text.len;
  return 0;
}

/* A field name is a token, one character at least (RFC 9110 5.1): llhttp
 * checks the characters, not that there is one. */
static int on_header_field_complete(llhttp_t *p) {
  conn_t *c = p->data;
  c->in_field = false;
  bool empty = c->field_len == 0;
  c->field_len = 0;
  return empty ? fail_with(c, 400, "a header field with an empty name") : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->past_head) return 0;
  header_t *h = &c->headers[c->nheaders - 1];
  if (!sbuf_put(&c->text, at, len)) return fail_with(c, 500, "out of memory");
  h->value_len += len;
  return 0;
}

/* Whitespace around a value is not part of it (RFC 9112 5): llhttp skips
 * what precedes it, not what follows. */
static int on_header_value_complete(llhttp_t *p) {
  conn_t *c = p->data;
  if (c->past_head) return 0;
  header_t *h = &c->headers[c->nheaders - 1];
  while (h->value_len && (c->text.p[h->value + h->value_len - 1] == ' ' ||
                          c->text.p[h->value + h->value_len - 1] == '\t'))
    h->value_len--;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  ((conn_t *)p->data)->event = EV_HEAD;
  return HPE_PAUSED;
}

/* The last chunk: its trailer section's bytes are checked as a head's. */
static int on_chunk_header(llhttp_t *p) {
  if (p->content_length) return 0;
  ((conn_t *)p->data)->event = EV_LAST_CHUNK;
  return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->body.len + len > c->w->srv->cfg.max_body)
    return fail_with(c, 413, "the request's body is over the server's limit (--max-body)");
  if (!sbuf_put(&c->body, at, len)) return fail_with(c, 500, "out of memory");
  c->data_end = at + len;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  conn_t *c = p->data;
  conn_set_receiving(c, false);
  c->event = EV_MESSAGE;
  return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_chunk_header = on_chunk_header,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* The head's bytes (and a trailer section's): where llhttp 8 is lenient,
 * head.c is not. */
static bool check_head(conn_t *c, const char *p, const char *end) {
  /* A head's deadline runs from its first byte; a trailer section's from
   * the last chunk (set then). */
  if (p < end && !c->scan.bytes && !c->past_head) c->head_ms = uv_now(&c->w->loop);
  head_verdict_t v = head_scan(&c->scan, p, (size_t)(end - p));
  if (v == HEAD_OK) return true;
  fail_with(c, v == HEAD_TOO_LARGE ? 431 : 400, head_verdict_text(v));
  return false;
}

/* A chunked body's framing, [p, stop) having been parsed: bounded per
 * chunk-size line (so that an extension or leading zeros cannot go on
 * for ever: RFC 9112 7.1.1) and in all (server.h). */
static bool check_framing(conn_t *c, const char *p, const char *stop, size_t data) {
  c->framing += (size_t)(stop - p) - data;
  c->chunk_line = c->data_end ? (size_t)(stop - c->data_end) : c->chunk_line + (size_t)(stop - p);
  if (c->chunk_line > SRV_MAX_CHUNK_LINE) {
    fail_with(c, 400, "a chunk-size line (with its extensions) is over 4 KiB");
    return false;
  }
  if (c->framing > SRV_CHUNK_SLACK + 8 * (uint64_t)c->body.len) {
    fail_with(c, 400, "a chunked body's framing is over 64 KiB plus 8 bytes a byte of data");
    return false;
  }
  return true;
}

/* A refusal: answer and close, nothing after it read. */
static void refuse_now(conn_t *c, llhttp_errno_t e) {
  if (!c->in_message) c->t0 = uv_hrtime();
  conn_set_receiving(c, false);
  char why[160];
  if (c->error_status) {
    refuse(c, c->error_status, c->error_why);
    return;
  }
  snprintf(why, sizeof(why), "malformed HTTP request: %s", llhttp_get_error_reason(&c->parser));
  refuse(c, e == HPE_INVALID_VERSION && c->parser.http_major != 1 ? 505 : 400, why);
}

/* Parse bytes [p, end): run each complete request; park the rest when
 * responses are unsent past the bound. */
static void feed(conn_t *c, const char *p, const char *end) {
  for (;;) {
    size_t body0 = c->body.len;
    if (c->in_chunks) c->data_end = NULL;
    llhttp_errno_t e = llhttp_execute(&c->parser, p, (size_t)(end - p));
    const char *stop = e == HPE_OK ? end : llhttp_get_error_pos(&c->parser);
    if (!stop || stop < p || stop > end) stop = end;
    if (c->in_head && !check_head(c, p, stop)) e = HPE_USER;
    if (c->in_chunks && (e == HPE_OK || e == HPE_PAUSED) &&
        !check_framing(c, p, stop, c->body.len - body0))
      e = HPE_USER;
    p = stop;
    if (e == HPE_OK) return;
    if (e != HPE_PAUSED) {
      refuse_now(c, e);
      return;
    }
    llhttp_resume(&c->parser);
    int ev = c->event;
    c->event = 0;
    if (ev == EV_HEAD) {
      c->in_head = false;
      c->past_head = true;
      c->body_ms = uv_now(&c->w->loop);
      if (!head_complete(c)) return; /* refused */
      c->in_chunks = (c->parser.flags & F_CHUNKED) != 0;
    } else if (ev == EV_LAST_CHUNK) {
      /* The trailer section: its deadline runs from here (head_scan
       * starts it again only at its first byte). */
      c->in_chunks = false;
      c->in_head = true;
      head_begin(&c->scan, true);
      c->head_ms = uv_now(&c->w->loop);
    } else if (ev == EV_MESSAGE) {
      c->in_head = true;
      c->past_head = false;
      head_begin(&c->scan, false);
      dispatch(c);
      if (c->close_after_write || c->closing) return;
      /* Past the budget, nothing more runs while a response of some size
       * is unsent (within one read, small ones add up to SRV_OUT_BOUND at
       * most). */
      size_t unsent = conn_unsent(c);
      bool over = unsent > SRV_KEEP && (conn_account(c), conn_over_budget(c));
      if ((unsent > SRV_OUT_BOUND || over) && !conn_push(c)) {
        /* Park what follows until the responses are written. */
        if (p < end && !sbuf_put(&c->in, p, (size_t)(end - p))) conn_close(c);
        return;
      }
    }
  }
}

static void on_resume(conn_t *c) {
  /* The parked bytes move to a local copy: feed may park again. */
  sbuf_t in = c->in;
  c->in = (sbuf_t){0};
  size_t off = c->in_off;
  c->in_off = 0;
  feed(c, in.p + off, in.p + in.len);
  if (!c->in.len && in.cap <= SRV_KEEP) {
    in.len = 0;
    c->in = in;
  } else {
    sbuf_free(&in);
  }
  conn_flush(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (nread == 0 || c->closing) return;
  if (nread < 0) {
    /* The client's end (or an error). A request cut short is dropped;
     * answers already queued are still written. */
    if (nread == UV_EOF && (c->writing || c->out.len) && !c->in_message) {
      conn_pause(c);
      c->close_after_write = true;
    } else {
      conn_close(c);
    }
    return;
  }
  c->last_ms = uv_now(&c->w->loop);
  feed(c, buf->base, buf->base + nread);
  if (c->closing) return;
  if (c->close_after_write || c->in.len) conn_pause(c);
  conn_flush(c);
}

void http_open(worker_t *w, int fd, bool reserve) {
  conn_t *c = conn_new(w, fd, reserve);
  if (!c) return;
  c->on_read = on_read;
  c->on_resume = on_resume;
  c->in_head = true;
  head_begin(&c->scan, false);
  c->head_ms = uv_now(&w->loop);
  llhttp_init(&c->parser, HTTP_REQUEST, &settings);
  c->parser.data = c;
  conn_flush(c); /* starts reading */
}
