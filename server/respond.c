/* Framing responses (respond.h). */
#include "respond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "status.h"

static const char *method_of(const conn_t *c) {
  return llhttp_method_name((llhttp_method_t)c->parser.method);
}

/* A path longer than this is cut in the log, its end written "#+N" (N
 * the bytes cut; '#' is never in a path): the line stays within
 * LOG_LINE_MAX whatever the client sent. */
#define LOG_PATH_MAX 4000

/* "METHOD PATH STATUS MICROSECONDS\n": the path without its query, as
 * sent (target.c lets no space or control byte into it). */
static void log_line(conn_t *c, int status, uint64_t us) {
  worker_t *w = c->w;
  sbuf_t *l = &w->scratch;
  l->len = 0;
  size_t path_len = c->url_len;
  const char *q = c->url_len && c->text.p ? memchr(c->text.p, '?', c->url_len) : NULL;
  if (q) path_len = (size_t)(q - c->text.p);
  sbuf_printf(l, "%s ", c->url_len && c->text.p ? method_of(c) : "-");
  if (path_len && c->text.p) {
    sbuf_put(l, c->text.p, path_len < LOG_PATH_MAX ? path_len : LOG_PATH_MAX);
    if (path_len > LOG_PATH_MAX) sbuf_printf(l, "#+%zu", path_len - LOG_PATH_MAX);
  } else {
    sbuf_puts(l, "-");
  }
  sbuf_printf(l, " %d %llu\n", status, (unsigned long long)us);
  if (l->p) log_write(STDOUT_FILENO, l->p, l->len);
}

/* "Server: wpool\r\nDate: <IMF-fixdate>\r\n" (RFC 9110 6.6.1: an
 * origin server with a clock sends a Date), made once a second per
 * worker, in the C locale's names whatever the process's locale. */
static const char *server_date(worker_t *w, size_t *len) {
  time_t now = time(NULL);
  if (now != w->date_s || !w->date_len) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&now, &tm);
    int n = snprintf(w->date, sizeof(w->date),
                     "Server: wpool\r\nDate: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                     days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    w->date_len = n > 0 && (size_t)n < sizeof(w->date) ? (size_t)n : 0;
    w->date_s = now;
  }
  *len = w->date_len;
  return w->date;
}

/* The framing as sent (O(head)): the head's Content-Length fields, in
 * any case, are one (none for a response without content) and name the
 * body's length; the body that follows the head is that long (nothing
 * for a HEAD request's). */
static bool framed(const char *head, size_t head_len, size_t sent, bool no_length,
                   bool head_only, size_t body_len) {
  size_t fields = 0, value = 0;
  for (const char *p = head, *end = head + head_len; p < end;) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) {
      fields++;
      value = strtoull(p + 15, NULL, 10);
    }
    p = eol + 1;
  }
  return fields == (no_length ? 0u : 1u) && (no_length || value == body_len) &&
         sent == (head_only ? 0 : body_len);
}

void respond(conn_t *c, const srv_response_t *a, bool keep) {
  worker_t *w = c->w;
  bool head_only = c->url_len && c->parser.method == HTTP_HEAD;
  /* No content (RFC 9110 15.3.5, 15.3.6, 15.4.5): 1xx, 204 and 304 say
   * nothing of a length (304's would be the 200's), 205 says 0. */
  bool no_length = a->status < 200 || a->status == 204 || a->status == 304;
  size_t body_len = no_length || a->status == 205 ? 0 : a->body_len;
  /* Stopping, or about to (the signal came while this request ran). */
  if (a->close || w->stopping || atomic_load_explicit(&w->stop, memory_order_relaxed)) keep = false;
  sbuf_t *o = &c->out;
  size_t start = o->len;
  bool whole = sbuf_printf(o, "HTTP/1.1 %d %s\r\n", a->status,
                           a->reason ? a->reason : http_reason(a->status));
  size_t sdl;
  const char *sd = server_date(w, &sdl);
  whole &= sbuf_put(o, sd, sdl);
  whole &= sbuf_put(o, a->head, a->head_len);
  if (!no_length) whole &= sbuf_printf(o, "Content-Length: %zu\r\n", body_len);
  if (!keep)
    whole &= sbuf_puts(o, "Connection: close\r\n");
  else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
    whole &= sbuf_puts(o, "Connection: keep-alive\r\n");
  whole &= sbuf_put(o, "\r\n", 2);
  size_t head_end = o->len;
  if (!head_only && body_len) whole &= sbuf_put(o, a->body, body_len);
  if (!whole) {
    /* Out of memory part of the way: no response is better than one with
     * a field or a body's byte missing (the client would take what
     * follows for the rest of it). */
    o->len = start;
    if (o->p) o->p[start] = '\0';
    keep = false;
  }
  debug_assert_expensive(!whole || framed(o->p + start, head_end - start, o->len - head_end,
                                          no_length, head_only, body_len));
  if (!keep) c->close_after_write = true;
  uint64_t ns = uv_hrtime() - c->t0;
  metrics_count(w->metrics, a->status, ns);
  if (w->srv->cfg.log) log_line(c, a->status, ns / 1000);
}

void respond_text(conn_t *c, int status, const char *text, bool keep) {
  srv_response_t a = {.status = status,
                      .head = "Content-Type: text/plain\r\n",
                      .body = text,
                      .body_len = strlen(text)};
  a.head_len = strlen(a.head);
  respond(c, &a, keep);
}

void refuse(conn_t *c, int status, const char *why) {
  char text[160];
  snprintf(text, sizeof(text), "%s\n", why);
  respond_text(c, status, text, false);
}
