/* A request as a WAGI guest sees it: the arguments and the environment
 * (wagi.h, docs/serve.md), built in the call's own buffers. Every byte of
 * the request is the client's: it goes in as sent, bounded by the
 * server's limits on a request. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wagi.h"

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool percent_decode(const char *s, size_t n, sbuf_t *out) {
  if (!sbuf_reserve(out, n + 1)) return false;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= n) return false;
      int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = hi * 16 + lo;
      i += 2;
    }
    if (c == 0) return false;
    out->p[out->len++] = (char)c;
  }
  out->p[out->len] = 0;
  return true;
}

/* Strings appended to call->args, their offsets in call->offs. */
typedef struct builder {
  wagi_call_t *call;
  size_t n;
  bool failed;
} builder_t;

static void b_begin(builder_t *b) {
  wagi_call_t *w = b->call;
  if (b->n == w->offs_cap) {
    size_t cap = w->offs_cap ? w->offs_cap * 2 : 64;
    size_t *o = realloc(w->offs, cap * sizeof(size_t));
    if (!o) {
      b->failed = true;
      return;
    }
    w->offs = o;
    w->offs_cap = cap;
  }
  w->offs[b->n++] = w->args.len;
}

static void b_put(builder_t *b, const char *s, size_t n) {
  if (!sbuf_put(&b->call->args, s, n)) b->failed = true;
}

static void b_end(builder_t *b) { b_put(b, "", 1); /* the terminator, counted */ }

static void b_str(builder_t *b, const char *s, size_t n) {
  b_begin(b);
  b_put(b, s, n);
  b_end(b);
}

static void b_env(builder_t *b, const char *key, const char *v, size_t n) {
  b_begin(b);
  b_put(b, key, strlen(key));
  b_put(b, "=", 1);
  b_put(b, v, n);
  b_end(b);
}

static void b_envs(builder_t *b, const char *key, const char *v) { b_env(b, key, v, strlen(v)); }

static bool name_is(const srv_header_t *h, const char *name, size_t len) {
  return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}

/* The first header named `name`, or NULL. */
static const char *header_get(const srv_request_t *q, const char *name, size_t *n) {
  size_t len = strlen(name);
  for (size_t i = 0; i < q->nheaders; i++) {
    if (name_is(&q->headers[i], name, len)) {
      *n = q->headers[i].value_len;
      return q->headers[i].value;
    }
  }
  return NULL;
}

static bool same_name(const srv_header_t *a, const srv_header_t *b) {
  return a->name_len == b->name_len && strncasecmp(a->name, b->name, a->name_len) == 0;
}

/* A field name that may become a variable: letters, digits and '-' only.
 * X_User and X-User would both be HTTP_X_USER, so a client could override
 * what a proxy set (nginx drops names with '_' by default, Apache 2.4 any
 * name but letters, digits and '-'); '%', '.', '!' and the other token
 * characters would make names no shell or CGI library expects. */
static bool name_ok(const srv_header_t *h) {
  for (size_t i = 0; i < h->name_len; i++) {
    char c = h->name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
      return false;
  }
  return true;
}

/* HTTP_NAME=value for each header (repeated headers joined with ", ", as
 * CGI does), but Content-Type and Content-Length, which have their own
 * variables, Proxy (httpoxy), Host (the request's host instead: the
 * absolute-form target's), and names name_ok refuses. */
static void b_headers(builder_t *b, const srv_request_t *q) {
  if (q->host) b_env(b, "HTTP_HOST", q->host, q->host_len);
  for (size_t i = 0; i < q->nheaders; i++) {
    const srv_header_t *h = &q->headers[i];
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = same_name(h, &q->headers[j]);
    if (seen || !name_ok(h) || name_is(h, "content-type", 12) || name_is(h, "content-length", 14) ||
        name_is(h, "proxy", 5) || name_is(h, "host", 4))
      continue;
    b_begin(b);
    b_put(b, "HTTP_", 5);
    for (size_t k = 0; k < h->name_len; k++) {
      char c = h->name[k] == '-' ? '_' : (char)toupper((unsigned char)h->name[k]);
      b_put(b, &c, 1);
    }
    b_put(b, "=", 1);
    b_put(b, h->value, h->value_len);
    for (size_t j = i + 1; j < q->nheaders; j++) {
      if (!same_name(h, &q->headers[j])) continue;
      b_put(b, ", ", 2);
      b_put(b, q->headers[j].value, q->headers[j].value_len);
    }
    b_end(b);
  }
}

static int build(builder_t *b, const wagi_module_t *m, bool single, const srv_request_t *q,
                 wrt_request_t *out) {
  wagi_call_t *w = b->call;
  w->args.len = 0;
  /* argv: the module's name, then each parameter of the query (split at
   * '&', not decoded: the guest sees what the client sent, as in WAGI). */
  b_str(b, m->name, strlen(m->name));
  for (size_t i = 0; i < q->query_len;) {
    const char *amp = memchr(q->query + i, '&', q->query_len - i);
    size_t n = amp ? (size_t)(amp - (q->query + i)) : q->query_len - i;
    if (n) b_str(b, q->query + i, n);
    i += n + 1;
  }
  size_t argc = b->n;
  char num[32];
  b_envs(b, "REQUEST_METHOD", q->method);
  b_envs(b, "SERVER_PROTOCOL", q->http_major == 1 && q->http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
  b_envs(b, "GATEWAY_INTERFACE", "CGI/1.1");
  b_envs(b, "SERVER_SOFTWARE", "wpool");
  /* SCRIPT_NAME: the route; PATH_INFO: the path past it, decoded;
   * X_RAW_PATH_INFO: the same as sent. */
  b_env(b, "SCRIPT_NAME", q->path, (size_t)(q->rest - q->path));
  w->decoded.len = 0;
  if (!percent_decode(q->rest, q->rest_len, &w->decoded)) return 400;
  b_env(b, "PATH_INFO", w->decoded.p, w->decoded.len);
  b_env(b, "PATH_TRANSLATED", w->decoded.p, w->decoded.len);
  b_env(b, "X_RAW_PATH_INFO", q->rest, q->rest_len);
  b_begin(b);
  b_put(b, "X_MATCHED_ROUTE=", 16);
  if (!single) {
    b_put(b, "/", 1);
    b_put(b, m->name, strlen(m->name));
  }
  b_put(b, "/...", 4);
  b_end(b);
  b_env(b, "QUERY_STRING", q->query ? q->query : "", q->query_len);
  size_t ctl = 0;
  const char *ct = header_get(q, "content-type", &ctl);
  b_env(b, "CONTENT_TYPE", ct ? ct : "", ct ? ctl : 0);
  snprintf(num, sizeof(num), "%zu", q->body_len);
  b_envs(b, "CONTENT_LENGTH", num);
  b_envs(b, "REMOTE_ADDR", q->remote_addr);
  b_envs(b, "REMOTE_HOST", q->remote_addr);
  /* The request's host (the absolute-form target's, else Host's), else
   * the listening address with the port. */
  size_t hl = q->host_len;
  const char *host = q->host;
  bool named = host != NULL;
  if (!host) {
    host = q->server_host;
    hl = strlen(host);
  }
  const char *colon = hl && host[0] != '[' ? memchr(host, ':', hl) : NULL;
  if (hl && host[0] == '[') {
    const char *rb = memchr(host, ']', hl);
    colon = rb && rb + 1 < host + hl && rb[1] == ':' ? rb + 1 : NULL;
  }
  b_env(b, "SERVER_NAME", host, colon ? (size_t)(colon - host) : hl);
  snprintf(num, sizeof(num), "%u", q->server_port);
  b_envs(b, "SERVER_PORT", num);
  b_begin(b);
  b_put(b, "X_FULL_URL=http://", 18);
  b_put(b, host, hl);
  if (!colon && !named) {
    b_put(b, ":", 1);
    b_put(b, num, strlen(num));
  }
  b_put(b, q->path, q->path_len);
  if (q->query) {
    b_put(b, "?", 1);
    b_put(b, q->query, q->query_len);
  }
  b_end(b);
  b_headers(b, q);
  if (b->failed) return 500;
  size_t envc = b->n - argc;
  if (w->argv_cap < argc) {
    const char **a = realloc(w->argv, argc * sizeof(char *));
    if (!a) return 500;
    w->argv = a;
    w->argv_cap = argc;
  }
  if (w->envp_cap < envc) {
    const char **e = realloc(w->envp, envc * sizeof(char *));
    if (!e) return 500;
    w->envp = e;
    w->envp_cap = envc;
  }
  for (size_t i = 0; i < argc; i++) w->argv[i] = w->args.p + w->offs[i];
  for (size_t i = 0; i < envc; i++) w->envp[i] = w->args.p + w->offs[argc + i];
  *out = (wrt_request_t){.argv = w->argv,
                         .argc = (uint32_t)argc,
                         .envp = w->envp,
                         .envc = (uint32_t)envc,
                         .stdin_bytes = q->body,
                         .stdin_len = q->body_len,
                         .dirs = m->dirs,
                         .ndirs = m->ndirs,
                         .max_fds = 3 + m->ndirs + WAGI_MAX_OPEN};
  return 0;
}

int wagi_env(wagi_call_t *call, const wagi_module_t *m, bool single, const srv_request_t *q,
             wrt_request_t *out) {
  builder_t b = {.call = call};
  return build(&b, m, single, q, out);
}

void wagi_call_init(wagi_call_t *call) {
  *call = (wagi_call_t){0};
  wrt_result_init(&call->res);
}

void wagi_call_free(wagi_call_t *call) {
  wrt_result_free(&call->res);
  sbuf_free(&call->args);
  sbuf_free(&call->decoded);
  sbuf_free(&call->rs.head);
  sbuf_free(&call->log);
  free(call->argv);
  free(call->envp);
  free(call->offs);
}
