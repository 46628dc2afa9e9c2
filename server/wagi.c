/* The WAGI handler (wagi.h): a request's guest run on this worker's
 * thread, start to end, and its outcome as the response. */
#include "wagi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "wagi_table.h"

static void text(srv_response_t *r, int status, const char *body) {
  *r = (srv_response_t){.status = status,
                        .head = "Content-Type: text/plain\r\n",
                        .head_len = strlen("Content-Type: text/plain\r\n"),
                        .body = body,
                        .body_len = strlen(body)};
}

/* The escaped form of byte ch (log.h), tab as is and '\\' doubled: no
 * byte of a guest's can start a forged escape. */
static size_t escaped(unsigned char ch, char *e) {
  if (ch == '\t' || ch == '\\') {
    e[0] = e[1] = (char)ch;
    return ch == '\t' ? 1 : 2;
  }
  return log_escape(ch, e);
}

void wagi_log_lines(sbuf_t *out, const char *route, const char *err, size_t n) {
  char prefix[300], cont[300], e[4];
  int plen = snprintf(prefix, sizeof(prefix), "/%s: ", route);
  int clen = snprintf(cont, sizeof(cont), "/%s:+ ", route);
  out->len = 0;
  size_t i = 0, start = 0; /* where the line being written starts in out */
  bool bol = true;
  for (; i < n; i++) {
    unsigned char ch = (unsigned char)err[i];
    if (bol) {
      /* Room for the prefix, one byte escaped and the line's end. */
      if (out->len + (size_t)plen + 5 > WAGI_LOG_MAX) break;
      start = out->len;
      sbuf_put(out, prefix, (size_t)plen);
      bol = false;
    }
    if (ch == '\n') {
      sbuf_put(out, "\n", 1);
      bol = true;
      continue;
    }
    size_t k = escaped(ch, e);
    if (out->len - start + k + 1 > LOG_LINE_MAX) {
      /* The line goes on in a line of its own, marked as a continuation. */
      sbuf_put(out, "\n", 1);
      if (out->len + (size_t)clen + 5 > WAGI_LOG_MAX) {
        bol = true;
        break;
      }
      start = out->len;
      sbuf_put(out, cont, (size_t)clen);
    }
    if (out->len + k + 1 > WAGI_LOG_MAX) break;
    sbuf_put(out, e, k);
  }
  if (!bol) sbuf_put(out, "\n", 1);
  /* The server's line: "/ROUTE:! ", which no line of the guest's starts with. */
  if (i < n) sbuf_printf(out, "/%s:! %zu bytes of stderr not logged\n", route, n - i);
}

/* The guest's standard error on the server's, as log lines. */
static void guest_stderr(wagi_t *wg, const wagi_module_t *m, wagi_call_t *call) {
  const wrt_result_t *res = &call->res;
  if (!res->err_len) return;
  sbuf_t *l = &call->log;
  wagi_log_lines(l, wg->single ? "" : m->name, res->err, res->err_len);
  if (l->p) log_write(STDERR_FILENO, l->p, l->len);
  sbuf_reset(l, 2 * WAGI_LOG_MAX);
}

void wagi_failure_line(sbuf_t *out, const char *route, const char *why) {
  out->len = 0;
  sbuf_printf(out, "/%.200s:! could not run: ", route);
  char e[4];
  for (const char *p = why; *p; p++) {
    size_t k = escaped((unsigned char)*p, e);
    if (out->len + k + 1 > LOG_LINE_MAX) break;
    sbuf_put(out, e, k);
  }
  sbuf_put(out, "\n", 1);
}

static void run(wagi_t *wg, const wagi_module_t *m, const srv_request_t *q, srv_response_t *r) {
  wagi_call_t *call = q->state;
  /* A large output before does not stay allocated for good. */
  if (call->res.out_cap > (1u << 20) || call->res.err_cap > (1u << 20)) {
    wrt_result_free(&call->res);
    wrt_result_init(&call->res);
  }
  wrt_request_t req;
  int st = wagi_env(call, m, wg->single, q, &req);
  if (st == 400) {
    text(r, 400, "malformed percent-escape in the path\n");
    r->close = true;
    return;
  }
  if (st) {
    text(r, 500, "out of memory\n");
    return;
  }
  req.timeout_ns = wg->timeout_ns;
  int err = wrt_run(m->m, &req, &call->res);
  wrt_result_t *res = &call->res;
  if (err == WRT_EEXHAUSTED) {
    text(r, 503, "every instance slot is in use: retry\n");
    r->head = "Retry-After: 1\r\nContent-Type: text/plain\r\n";
    r->head_len = strlen(r->head);
    return;
  }
  if (err) {
    /* The client learns the kind only: the runtime's message may name host
     * paths (a volume's directory) and the server's set-up. */
    snprintf(call->text, sizeof(call->text), "module %s could not run: %s\n", m->name,
             wrt_strerror(err));
    text(r, 500, call->text);
    if (wg->log_stderr) {
      wagi_failure_line(&call->log, wg->single ? "" : m->name, wrt_last_error());
      if (call->log.p) log_write(STDERR_FILENO, call->log.p, call->log.len);
    }
    return;
  }
  if (wg->log_stderr) guest_stderr(wg, m, call);
  if (res->trap == WRT_TRAP_TIMEOUT) {
    snprintf(call->text, sizeof(call->text), "module %s trapped: timeout (its limit is %.3g s)\n",
             m->name, (double)wg->timeout_ns / 1e9);
    text(r, 504, call->text);
  } else if (res->trap) {
    snprintf(call->text, sizeof(call->text), "module %s trapped: %s\n", m->name,
             wrt_trap_name(res->trap));
    text(r, 500, call->text);
  } else if (res->exit_code) {
    snprintf(call->text, sizeof(call->text), "module %s exited with code %d\n", m->name,
             res->exit_code);
    text(r, 500, call->text);
  } else if (res->out_truncated) {
    snprintf(call->text, sizeof(call->text), "module %s wrote more than %zu bytes\n", m->name,
             res->out_len);
    text(r, 500, call->text);
  } else {
    wagi_response_t *rs = &call->rs;
    wagi_response(res->out ? res->out : "", res->out_len, rs);
    *r = (srv_response_t){.status = rs->status,
                          .reason = rs->reason,
                          .head = rs->head.p,
                          .head_len = rs->head.len,
                          .body = rs->body,
                          .body_len = rs->body_len};
  }
}

/* The request on the version its route serves now: the reference taken
 * keeps that version loaded until the answer is made, whatever a reload
 * publishes meanwhile. */
static void wagi_on_request(srv_handler_t *h, const srv_request_t *q, srv_response_t *r) {
  wagi_t *wg = (wagi_t *)h;
  wagi_call_t *call = q->state;
  srv_request_t at = *q;
  wagi_version_t *v =
      wagi_routes_acquire(wg->routes, call->worker, q->path, q->path_len, &at.rest, &at.rest_len);
  if (!v) {
    text(r, 404, "no module at this path\n");
    return;
  }
  run(wg, &v->mod, &at, r);
  wagi_routes_release(wg->routes, v);
}

static void *wagi_worker_init(srv_handler_t *h, unsigned worker) {
  (void)h;
  wagi_call_t *call = malloc(sizeof(*call));
  if (call) {
    wagi_call_init(call);
    call->worker = worker;
  }
  return call;
}

static void wagi_worker_free(srv_handler_t *h, void *state) {
  (void)h;
  if (!state) return;
  wagi_call_free(state);
  free(state);
}

void wagi_init(wagi_t *w, wrt_runtime_t *rt, struct wagi_routes *routes, bool single,
               bool log_stderr) {
  *w = (wagi_t){.h = {.name = "wagi",
                      .on_request = wagi_on_request,
                      .worker_init = wagi_worker_init,
                      .worker_free = wagi_worker_free},
                .rt = rt,
                .routes = routes,
                .single = single,
                .log_stderr = log_stderr};
}
