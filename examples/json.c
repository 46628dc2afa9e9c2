/* json: parse a JSON document from standard input into a tree (malloc and
 * free for every node), then print statistics and the document again in a
 * canonical compact form with object keys sorted. Exit 1 on a syntax error,
 * naming the byte. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } kind_t;

typedef struct node {
  kind_t kind;
  int b;
  double num;
  char *str;           /* J_STR value, or the key of an object member */
  char *key;
  struct node **kids;
  size_t n, cap;
} node_t;

static const char *src, *p;
static long nodes, depth_max, strings_bytes;

static void fail(const char *what) {
  fprintf(stderr, "json: %s at byte %ld\n", what, (long)(p - src));
  exit(1);
}

static void ws(void) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
}

static node_t *mk(kind_t k) {
  node_t *n = calloc(1, sizeof(*n));
  if (!n) fail("out of memory");
  n->kind = k;
  nodes++;
  return n;
}

static void push(node_t *parent, node_t *kid) {
  if (parent->n == parent->cap) {
    parent->cap = parent->cap ? parent->cap * 2 : 4;
    parent->kids = realloc(parent->kids, parent->cap * sizeof(node_t *));
    if (!parent->kids) fail("out of memory");
  }
  parent->kids[parent->n++] = kid;
}

static char *string(void) {
  if (*p != '"') fail("expected a string");
  p++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  while (*p != '"') {
    if (!*p) fail("unterminated string");
    char c = *p++;
    if (c == '\\') {
      c = *p++;
      switch (c) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': {
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
          if (!isxdigit((unsigned char)*p)) fail("bad \\u escape");
          v = v * 16 + (unsigned)(isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10));
          p++;
        }
        c = v < 128 ? (char)v : '?';
        break;
      }
      case '"': case '\\': case '/': break;
      default: fail("bad escape");
      }
    }
    if (n + 2 > cap) s = realloc(s, cap *= 2);
    s[n++] = c;
  }
  p++;
  s[n] = 0;
  strings_bytes += (long)n;
  return s;
}

static node_t *value(int depth) {
  if (depth > depth_max) depth_max = depth;
  if (depth > 500) fail("nested too deeply");
  ws();
  node_t *n;
  if (*p == '{') {
    p++;
    n = mk(J_OBJ);
    ws();
    if (*p == '}') return p++, n;
    for (;;) {
      ws();
      char *k = string();
      ws();
      if (*p++ != ':') fail("expected ':'");
      node_t *v = value(depth + 1);
      v->key = k;
      push(n, v);
      ws();
      if (*p == ',') { p++; continue; }
      if (*p == '}') { p++; return n; }
      fail("expected ',' or '}'");
    }
  }
  if (*p == '[') {
    p++;
    n = mk(J_ARR);
    ws();
    if (*p == ']') return p++, n;
    for (;;) {
      push(n, value(depth + 1));
      ws();
      if (*p == ',') { p++; continue; }
      if (*p == ']') { p++; return n; }
      fail("expected ',' or ']'");
    }
  }
  if (*p == '"') {
    n = mk(J_STR);
    n->str = string();
    return n;
  }
  if (!strncmp(p, "true", 4)) return p += 4, n = mk(J_BOOL), n->b = 1, n;
  if (!strncmp(p, "false", 5)) return p += 5, mk(J_BOOL);
  if (!strncmp(p, "null", 4)) return p += 4, mk(J_NULL);
  char *end;
  double d = strtod(p, &end);
  if (end == p) fail("unexpected character");
  p = end;
  n = mk(J_NUM);
  n->num = d;
  return n;
}

static int cmp(const void *a, const void *b) {
  return strcmp((*(node_t *const *)a)->key, (*(node_t *const *)b)->key);
}

static void put_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if (*s == '\n') fputs("\\n", stdout);
    else if ((unsigned char)*s < 32) printf("\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

static void print(node_t *n) {
  switch (n->kind) {
  case J_NULL: fputs("null", stdout); break;
  case J_BOOL: fputs(n->b ? "true" : "false", stdout); break;
  case J_NUM: printf("%.17g", n->num); break;
  case J_STR: put_str(n->str); break;
  case J_ARR:
  case J_OBJ:
    putchar(n->kind == J_ARR ? '[' : '{');
    if (n->kind == J_OBJ) qsort(n->kids, n->n, sizeof(node_t *), cmp);
    for (size_t i = 0; i < n->n; i++) {
      if (i) putchar(',');
      if (n->kind == J_OBJ) put_str(n->kids[i]->key), putchar(':');
      print(n->kids[i]);
    }
    putchar(n->kind == J_ARR ? ']' : '}');
  }
}

static double sum(node_t *n) {
  double s = n->kind == J_NUM ? n->num : 0;
  for (size_t i = 0; i < n->n; i++) s += sum(n->kids[i]);
  return s;
}

static void drop(node_t *n) {
  for (size_t i = 0; i < n->n; i++) drop(n->kids[i]);
  free(n->kids);
  free(n->str);
  free(n->key);
  free(n);
}

int main(void) {
  size_t cap = 1 << 16, len = 0, r;
  char *buf = malloc(cap);
  while ((r = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
    len += r;
    if (cap - len < 2) buf = realloc(buf, cap *= 2);
  }
  buf[len] = 0;
  src = p = buf;
  node_t *root = value(0);
  ws();
  if (*p) fail("trailing characters");
  printf("nodes %ld, depth %ld, string bytes %ld, sum of numbers %.6f\n", nodes, depth_max,
         strings_bytes, sum(root));
  print(root);
  putchar('\n');
  drop(root);
  free(buf);
  return 0;
}
