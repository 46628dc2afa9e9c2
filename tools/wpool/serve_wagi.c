/* WAGI: an HTTP request as a WebAssembly command sees it (arguments,
 * environment, stdin), and the command's stdout as the HTTP response
 * (docs/serve.md). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve.h"

/* ------------------------------------------------------------------ */
/* Buffers */

bool sbuf_reserve(sbuf_t *b, size_t extra) {
  if (b->cap - b->len >= extra) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < extra) {
    if (cap > SIZE_MAX / 2) return false;
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) return false;
  b->p = p;
  b->cap = cap;
  return true;
}

bool sbuf_put(sbuf_t *b, const void *s, size_t n) {
  if (!sbuf_reserve(b, n + 1)) return false;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0; /* always terminated, not counted */
  return true;
}

bool sbuf_puts(sbuf_t *b, const char *s) { return sbuf_put(b, s, strlen(s)); }

bool sbuf_printf(sbuf_t *b, const char *fmt, ...) {
  for (int pass = 0; pass < 2; pass++) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return true;
    }
    if (pass || !sbuf_reserve(b, (size_t)n + 1)) return false;
  }
  return false;
}

void sbuf_free(sbuf_t *b) {
  free(b->p);
  *b = (sbuf_t){0};
}

/* ------------------------------------------------------------------ */
/* Routes */

const route_t *wagi_route(const server_t *s, const char *path, size_t len, const char **rest,
                          size_t *rest_len) {
  if (s->single) {
    /* The one module answers every path ("/..."): PATH_INFO is the path. */
    *rest = path;
    *rest_len = len;
    return &s->routes[0];
  }
  /* /NAME or /NAME/...: PATH_INFO is what follows NAME. */
  if (len < 2 || path[0] != '/') return NULL;
  const char *name = path + 1;
  const char *slash = memchr(name, '/', len - 1);
  size_t nlen = slash ? (size_t)(slash - name) : len - 1;
  for (size_t i = 0; i < s->nroutes; i++) {
    const route_t *r = &s->routes[i];
    if (strlen(r->name) == nlen && memcmp(r->name, name, nlen) == 0) {
      *rest = name + nlen;
      *rest_len = len - 1 - nlen;
      return r;
    }
  }
  return NULL;
}

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

/* ------------------------------------------------------------------ */
/* The request as the guest sees it */

typedef struct builder {
  worker_t *w;
  size_t *off; /* start of each string in w->args (w->offs, grown here) */
  size_t n, cap;
  bool failed;
} builder_t;

static void b_begin(builder_t *b) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    size_t *o = realloc(b->off, cap * sizeof(size_t));
    if (!o) {
      b->failed = true;
      return;
    }
    b->off = o;
    b->cap = cap;
  }
  b->off[b->n++] = b->w->args.len;
}

static void b_put(builder_t *b, const char *s, size_t n) {
  if (!sbuf_put(&b->w->args, s, n)) b->failed = true;
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

static const char *hname(const request_t *q, size_t i, size_t *n) {
  *n = q->headers[i].name_len;
  return q->text + q->headers[i].name;
}

static const char *hvalue(const request_t *q, size_t i, size_t *n) {
  *n = q->headers[i].value_len;
  return q->text + q->headers[i].value;
}

/* The first header named `name`, or NULL. */
static const char *header_get(const request_t *q, const char *name, size_t *n) {
  size_t len = strlen(name);
  for (size_t i = 0; i < q->nheaders; i++) {
    size_t nl;
    const char *h = hname(q, i, &nl);
    if (nl == len && strncasecmp(h, name, len) == 0) return hvalue(q, i, n);
  }
  return NULL;
}

static bool same_name(const request_t *q, size_t i, size_t j) {
  size_t a, b;
  const char *x = hname(q, i, &a), *y = hname(q, j, &b);
  return a == b && strncasecmp(x, y, a) == 0;
}

/* HTTP_NAME=value for each header (repeated headers joined with ", ", as
 * CGI does), but Content-Type and Content-Length, which have their own
 * variables, and Proxy (httpoxy). */
static void b_headers(builder_t *b, const request_t *q) {
  for (size_t i = 0; i < q->nheaders; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = same_name(q, i, j);
    size_t nl, vl;
    const char *name = hname(q, i, &nl);
    if (seen || (nl == 12 && !strncasecmp(name, "content-type", 12)) ||
        (nl == 14 && !strncasecmp(name, "content-length", 14)) ||
        (nl == 5 && !strncasecmp(name, "proxy", 5)))
      continue;
    b_begin(b);
    b_put(b, "HTTP_", 5);
    for (size_t k = 0; k < nl; k++) {
      char c = name[k] == '-' ? '_' : (char)toupper((unsigned char)name[k]);
      b_put(b, &c, 1);
    }
    b_put(b, "=", 1);
    const char *v = hvalue(q, i, &vl);
    b_put(b, v, vl);
    for (size_t j = i + 1; j < q->nheaders; j++) {
      if (!same_name(q, i, j)) continue;
      v = hvalue(q, j, &vl);
      b_put(b, ", ", 2);
      b_put(b, v, vl);
    }
    b_end(b);
  }
}

static int build(builder_t *b, const route_t *r, const request_t *q, const char *path,
                 size_t path_len, const char *rest, size_t rest_len, const char *query,
                 size_t query_len, wrt_request_t *out) {
  worker_t *w = b->w;
  server_t *s = w->srv;
  w->args.len = 0;
  /* argv: the module's name, then each parameter of the query (split at
   * '&', not decoded: the guest sees what the client sent, as in WAGI). */
  b_str(b, r->name, strlen(r->name));
  for (size_t i = 0; i < query_len;) {
    const char *amp = memchr(query + i, '&', query_len - i);
    size_t n = amp ? (size_t)(amp - (query + i)) : query_len - i;
    if (n) b_str(b, query + i, n);
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
  size_t script_len = (size_t)(rest - path);
  b_env(b, "SCRIPT_NAME", path, script_len);
  w->decoded.len = 0;
  if (!percent_decode(rest, rest_len, &w->decoded)) return 400;
  b_env(b, "PATH_INFO", w->decoded.p, w->decoded.len);
  b_env(b, "PATH_TRANSLATED", w->decoded.p, w->decoded.len);
  b_env(b, "X_RAW_PATH_INFO", rest, rest_len);
  b_begin(b);
  b_put(b, "X_MATCHED_ROUTE=", 16);
  if (s->single) {
    b_put(b, "/...", 4);
  } else {
    b_put(b, "/", 1);
    b_put(b, r->name, strlen(r->name));
    b_put(b, "/...", 4);
  }
  b_end(b);
  b_env(b, "QUERY_STRING", query, query_len);
  size_t ctl = 0;
  const char *ct = header_get(q, "content-type", &ctl);
  b_env(b, "CONTENT_TYPE", ct ? ct : "", ct ? ctl : 0);
  snprintf(num, sizeof(num), "%zu", q->body_len);
  b_envs(b, "CONTENT_LENGTH", num);
  b_envs(b, "REMOTE_ADDR", q->remote_addr);
  b_envs(b, "REMOTE_HOST", q->remote_addr);
  size_t hl = 0;
  const char *host = header_get(q, "host", &hl);
  if (!host) {
    host = s->host;
    hl = strlen(host);
  }
  const char *colon = hl && host[0] != '[' ? memchr(host, ':', hl) : NULL;
  if (hl && host[0] == '[') {
    const char *rb = memchr(host, ']', hl);
    colon = rb && rb + 1 < host + hl && rb[1] == ':' ? rb + 1 : NULL;
  }
  b_env(b, "SERVER_NAME", host, colon ? (size_t)(colon - host) : hl);
  snprintf(num, sizeof(num), "%u", s->port);
  b_envs(b, "SERVER_PORT", num);
  b_begin(b);
  b_put(b, "X_FULL_URL=http://", 18);
  b_put(b, host, hl);
  if (!colon && !header_get(q, "host", &ctl)) {
    b_put(b, ":", 1);
    b_put(b, num, strlen(num));
  }
  b_put(b, path, path_len);
  if (query) {
    b_put(b, "?", 1);
    b_put(b, query, query_len);
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
  for (size_t i = 0; i < argc; i++) w->argv[i] = w->args.p + b->off[i];
  for (size_t i = 0; i < envc; i++) w->envp[i] = w->args.p + b->off[argc + i];
  *out = (wrt_request_t){.argv = w->argv,
                         .argc = (uint32_t)argc,
                         .envp = w->envp,
                         .envc = (uint32_t)envc,
                         .stdin_bytes = q->body,
                         .stdin_len = q->body_len};
  return 0;
}

int wagi_request(worker_t *w, const route_t *r, const request_t *q, const char *path,
                 size_t path_len, const char *rest, size_t rest_len, const char *query,
                 size_t query_len, wrt_request_t *out) {
  builder_t b = {.w = w, .off = w->offs, .cap = w->offs_cap};
  int st = build(&b, r, q, path, path_len, rest, rest_len, query, query_len, out);
  w->offs = b.off;
  w->offs_cap = b.cap;
  return st;
}

/* ------------------------------------------------------------------ */
/* The guest's stdout as a response */

const char *http_reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

static bool is_tchar(int c) { return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)); }

/* Is out[a, e) a header line "Name: value"? Sets the name's length and
 * the value's start and length (spaces around the value trimmed). */
static bool header_line(const char *out, size_t a, size_t e, size_t *nl, size_t *v, size_t *vl) {
  size_t i = a;
  while (i < e && is_tchar((unsigned char)out[i])) i++;
  if (i == a || i == e || out[i] != ':') return false;
  *nl = i - a;
  i++;
  while (i < e && (out[i] == ' ' || out[i] == '\t')) i++;
  size_t end = e;
  while (end > i && (out[end - 1] == ' ' || out[end - 1] == '\t')) end--;
  for (size_t k = i; k < end; k++) {
    unsigned char c = (unsigned char)out[k];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  *v = i;
  *vl = end - i;
  return true;
}

static bool name_is(const char *p, size_t n, const char *name) {
  return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

void wagi_response(const char *out, size_t len, response_t *rs) {
  rs->status = 200;
  rs->reason = NULL;
  rs->body = out;
  rs->body_len = len;
  rs->head.len = 0;
  /* A header block: lines "Name: value" up to an empty line, with at
   * least one of Content-Type, Status or Location. Anything else is a
   * plain body. */
  size_t pos = 0, lines = 0, body = 0;
  bool sufficient = false, ended = false;
  while (pos < len && !ended) {
    const char *nlp = memchr(out + pos, '\n', len - pos);
    if (!nlp) break;
    size_t e = (size_t)(nlp - out), le = e;
    if (le > pos && out[le - 1] == '\r') le--;
    if (le == pos) {
      ended = true;
      body = e + 1;
      break;
    }
    size_t nl, v, vl;
    if (!header_line(out, pos, le, &nl, &v, &vl)) break;
    if (name_is(out + pos, nl, "content-type") || name_is(out + pos, nl, "status") ||
        name_is(out + pos, nl, "location"))
      sufficient = true;
    lines++;
    pos = e + 1;
  }
  if (!ended || !lines || !sufficient) {
    sbuf_puts(&rs->head, "Content-Type: text/plain\r\n");
    return;
  }
  bool status_set = false, location = false;
  for (pos = 0; pos < body;) {
    const char *nlp = memchr(out + pos, '\n', len - pos);
    size_t e = (size_t)(nlp - out), le = e;
    if (le > pos && out[le - 1] == '\r') le--;
    if (le == pos) break;
    size_t nl, v, vl;
    header_line(out, pos, le, &nl, &v, &vl);
    const char *name = out + pos, *val = out + v;
    if (name_is(name, nl, "status")) {
      int code = 0;
      size_t k = 0;
      while (k < vl && k < 4 && isdigit((unsigned char)val[k])) code = code * 10 + (val[k++] - '0');
      if (k != 3 || code < 200 || code > 599 || (k < vl && val[k] != ' ')) {
        rs->status = 500;
        rs->body = "the module's Status header is not a status code from 200 to 599\n";
        rs->body_len = strlen(rs->body);
        rs->head.len = 0;
        sbuf_puts(&rs->head, "Content-Type: text/plain\r\n");
        return;
      }
      rs->status = code;
      status_set = true;
      while (k < vl && val[k] == ' ') k++;
      if (k < vl && vl - k < sizeof(rs->reason_buf)) {
        memcpy(rs->reason_buf, val + k, vl - k);
        rs->reason_buf[vl - k] = 0;
        rs->reason = rs->reason_buf;
      }
    } else if (name_is(name, nl, "content-length") || name_is(name, nl, "transfer-encoding") ||
               name_is(name, nl, "connection") || name_is(name, nl, "keep-alive")) {
      /* The server frames the response itself. */
    } else {
      if (name_is(name, nl, "location")) location = true;
      sbuf_put(&rs->head, name, nl);
      sbuf_put(&rs->head, ": ", 2);
      sbuf_put(&rs->head, val, vl);
      sbuf_put(&rs->head, "\r\n", 2);
    }
    pos = e + 1;
  }
  if (location && !status_set) rs->status = 302;
  rs->body = out + body;
  rs->body_len = len - body;
}
