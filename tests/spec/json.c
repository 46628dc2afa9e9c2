/* The spec harness's JSON reader (json.h): recursive descent, depth
 * bounded. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct parser {
  const char *p, *end;
  char *err;
  size_t errlen;
  int failed;
} parser_t;

static json_t *fail(parser_t *ps, const char *fmt, ...) {
  if (!ps->failed) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    ps->failed = 1;
  }
  return NULL;
}

static void ws(parser_t *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
    ps->p++;
}

static json_t *node(json_type_t t) {
  json_t *j = calloc(1, sizeof(*j));
  if (j) j->type = t;
  return j;
}

static int push(json_t *j, json_t *item, char *key) {
  json_t **items = realloc(j->items, (j->n + 1) * sizeof(*items));
  if (!items) return 0;
  j->items = items;
  if (j->type == JSON_OBJECT) {
    char **keys = realloc(j->keys, (j->n + 1) * sizeof(*keys));
    if (!keys) return 0;
    j->keys = keys;
    keys[j->n] = key;
  }
  items[j->n++] = item;
  return 1;
}

static int hex4(parser_t *ps, unsigned *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    if (ps->p >= ps->end) return 0;
    char c = *ps->p++;
    *v <<= 4;
    if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  return 1;
}

static size_t utf8(unsigned cp, char *o) {
  if (cp < 0x80) return o[0] = (char)cp, 1;
  if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
  if (cp < 0x10000)
    return o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 0x3f)),
           o[2] = (char)(0x80 | (cp & 0x3f)), 3;
  return o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 0x3f)),
         o[2] = (char)(0x80 | (cp >> 6 & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f)), 4;
}

/* A string at ps->p (after its quote): decoded into a new buffer. */
static char *string(parser_t *ps, size_t *len) {
  char *out = malloc((size_t)(ps->end - ps->p) + 1);
  size_t n = 0;
  if (!out) return fail(ps, "out of memory"), NULL;
  while (ps->p < ps->end && *ps->p != '"') {
    char c = *ps->p++;
    if (c != '\\') {
      out[n++] = c;
      continue;
    }
    if (ps->p >= ps->end) break;
    c = *ps->p++;
    unsigned cp;
    switch (c) {
    case '"': case '\\': case '/': out[n++] = c; break;
    case 'b': out[n++] = '\b'; break;
    case 'f': out[n++] = '\f'; break;
    case 'n': out[n++] = '\n'; break;
    case 'r': out[n++] = '\r'; break;
    case 't': out[n++] = '\t'; break;
    case 'u':
      if (!hex4(ps, &cp)) return free(out), fail(ps, "bad \\u escape"), NULL;
      if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
          ps->p[1] == 'u') {
        unsigned lo;
        ps->p += 2;
        if (!hex4(ps, &lo)) return free(out), fail(ps, "bad \\u escape"), NULL;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      }
      n += utf8(cp, out + n);
      break;
    default: return free(out), fail(ps, "bad escape \\%c", c), NULL;
    }
  }
  if (ps->p >= ps->end) return free(out), fail(ps, "unterminated string"), NULL;
  ps->p++;
  out[n] = 0;
  *len = n;
  return out;
}

static json_t *value(parser_t *ps, int depth) {
  ws(ps);
  if (ps->p >= ps->end) return fail(ps, "unexpected end");
  if (depth > MAX_DEPTH) return fail(ps, "nested too deeply");
  char c = *ps->p;
  json_t *j = NULL;
  if (c == '{' || c == '[') {
    ps->p++;
    j = node(c == '{' ? JSON_OBJECT : JSON_ARRAY);
    if (!j) return fail(ps, "out of memory");
    char close = c == '{' ? '}' : ']';
    ws(ps);
    if (ps->p < ps->end && *ps->p == close) return ps->p++, j;
    for (;;) {
      char *key = NULL;
      size_t klen;
      if (j->type == JSON_OBJECT) {
        ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') return json_free(j), fail(ps, "expected a key");
        ps->p++;
        if (!(key = string(ps, &klen))) return json_free(j), NULL;
        ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') return free(key), json_free(j), fail(ps, "no ':'");
        ps->p++;
      }
      json_t *v = value(ps, depth + 1);
      if (!v || !push(j, v, key)) return free(key), json_free(v), json_free(j), fail(ps, "bad value");
      ws(ps);
      if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        continue;
      }
      if (ps->p < ps->end && *ps->p == close) return ps->p++, j;
      return json_free(j), fail(ps, "expected ',' or '%c'", close);
    }
  }
  if (c == '"') {
    ps->p++;
    j = node(JSON_STRING);
    if (!j || !(j->str = string(ps, &j->len))) return json_free(j), NULL;
    return j;
  }
  const char *start = ps->p;
  while (ps->p < ps->end && !strchr(" \t\r\n,]}", *ps->p)) ps->p++;
  size_t n = (size_t)(ps->p - start);
  if (n == 4 && !memcmp(start, "null", 4)) return node(JSON_NULL);
  if ((n == 4 && !memcmp(start, "true", 4)) || (n == 5 && !memcmp(start, "false", 5))) {
    j = node(JSON_BOOL);
    if (j) j->boolean = n == 4;
    return j;
  }
  if (n == 0 || !strchr("-0123456789", start[0])) return fail(ps, "unexpected '%c'", c);
  j = node(JSON_NUMBER);
  if (!j || !(j->str = strndup(start, n))) return json_free(j), fail(ps, "out of memory");
  j->len = n;
  return j;
}

json_t *json_parse(const char *text, size_t len, char *err, size_t errlen) {
  parser_t ps = {.p = text, .end = text + len, .err = err, .errlen = errlen};
  json_t *j = value(&ps, 0);
  ws(&ps);
  if (j && ps.p != ps.end) {
    json_free(j);
    return fail(&ps, "text after the value");
  }
  return j;
}

void json_free(json_t *j) {
  if (!j) return;
  for (size_t i = 0; i < j->n; i++) {
    json_free(j->items[i]);
    if (j->keys) free(j->keys[i]);
  }
  free(j->items);
  free(j->keys);
  free(j->str);
  free(j);
}

const json_t *json_get(const json_t *j, const char *key) {
  if (!j || j->type != JSON_OBJECT) return NULL;
  for (size_t i = 0; i < j->n; i++)
    if (!strcmp(j->keys[i], key)) return j->items[i];
  return NULL;
}

const char *json_str(const json_t *j, const char *key) {
  const json_t *v = json_get(j, key);
  return v && v->type == JSON_STRING ? v->str : NULL;
}
