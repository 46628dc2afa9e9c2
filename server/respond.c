/* Framing responses (respond.h). */
#include "respond.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "status.h"

static const char *method_of(const conn_t *c) {
  return llhttp_method_name((llhttp_method_t)c->parser.method);
}

static void log_line(conn_t *c, int status, uint64_t us) {
  worker_t *w = c->w;
  sbuf_t *l = &w->scratch;
  l->len = 0;
  size_t path_len = c->url_len;
  const char *q = c->url_len && c->text.p ? memchr(c->text.p, '?', c->url_len) : NULL;
  if (q) path_len = (size_t)(q - c->text.p);
  sbuf_printf(l, "%s ", c->url_len && c->text.p ? method_of(c) : "-");
  if (path_len && c->text.p)
    sbuf_put(l, c->text.p, path_len);
  else
    sbuf_puts(l, "-");
  sbuf_printf(l, " %d %llu\n", status, (unsigned long long)us);
  if (l->p && write(STDOUT_FILENO, l->p, l->len) < 0) {
    /* A log that cannot be written does not stop the server. */
  }
}

void respond(conn_t *c, const srv_response_t *a, bool keep) {
  worker_t *w = c->w;
  bool head_only = c->url_len && c->parser.method == HTTP_HEAD;
  bool no_body = a->status == 204 || a->status == 304;
  /* Stopping, or about to (the signal came while this request ran). */
  if (a->close || w->stopping || atomic_load_explicit(&w->stop, memory_order_relaxed)) keep = false;
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
