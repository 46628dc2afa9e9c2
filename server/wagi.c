/* The WAGI handler (wagi.h): a request's guest run on this worker's
 * thread, start to end, and its outcome as the response. */
#include "wagi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void text(srv_response_t *r, int status, const char *body) {
  *r = (srv_response_t){.status = status,
                        .head = "Content-Type: text/plain\r\n",
                        .head_len = strlen("Content-Type: text/plain\r\n"),
                        .body = body,
                        .body_len = strlen(body)};
}

/* The guest's standard error on the server's: every line prefixed by its
 * route, every control byte but tab (and '\\') escaped as \xHH (\\), so
 * that a tenant can neither forge a line of the server's or another
 * tenant's nor send a terminal escapes; at most LOG_MAX bytes a request. */
#define LOG_MAX (64u << 10)

static void guest_stderr(wagi_t *wg, const wagi_module_t *m, wagi_call_t *call) {
  const wrt_result_t *res = &call->res;
  if (!res->err_len) return;
  sbuf_t *l = &call->log;
  l->len = 0;
  size_t n = res->err_len < LOG_MAX ? res->err_len : LOG_MAX;
  bool bol = true;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)res->err[i];
    if (bol) sbuf_printf(l, "/%s: ", wg->single ? "" : m->name);
    bol = ch == '\n';
    if (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch != 0x7f && ch != '\\'))
      sbuf_put(l, &ch, 1);
    else if (ch == '\\')
      sbuf_puts(l, "\\\\");
    else
      sbuf_printf(l, "\\x%02x", ch);
  }
  if (n < res->err_len)
    sbuf_printf(l, "%s[%zu bytes more]\n", bol ? "" : " ", res->err_len - n);
  else if (!bol)
    sbuf_put(l, "\n", 1);
  if (l->p && write(STDERR_FILENO, l->p, l->len) < 0) {
    /* A log that cannot be written does not stop the server. */
  }
  sbuf_reset(l, 4 * LOG_MAX);
}

static void wagi_on_request(srv_handler_t *h, const srv_request_t *q, srv_response_t *r) {
  wagi_t *wg = (wagi_t *)h;
  const wagi_module_t *m = q->route_data;
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
    snprintf(call->text, sizeof(call->text), "module %s could not run: %s\n", m->name,
             wrt_last_error());
    text(r, 500, call->text);
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

static void *wagi_worker_init(srv_handler_t *h, unsigned worker) {
  (void)h;
  (void)worker;
  wagi_call_t *call = malloc(sizeof(*call));
  if (call) wagi_call_init(call);
  return call;
}

static void wagi_worker_free(srv_handler_t *h, void *state) {
  (void)h;
  if (!state) return;
  wagi_call_free(state);
  free(state);
}

void wagi_init(wagi_t *w, wrt_runtime_t *rt, bool single, bool log_stderr) {
  *w = (wagi_t){.h = {.name = "wagi",
                      .on_request = wagi_on_request,
                      .worker_init = wagi_worker_init,
                      .worker_free = wagi_worker_free},
                .rt = rt,
                .single = single,
                .log_stderr = log_stderr};
}
