/* The copy wasm2c translates (wasm_rewrite.h). The module was read by
 * wasm_parse, so its section headers are known good; they are walked
 * again here, and the import and export sections are written anew from
 * the parsed records. */
#include "wasm_rewrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
  uint8_t *b;
  size_t n, cap;
  bool failed;
} out_t;

static void put(out_t *o, const void *p, size_t n) {
  if (o->failed || n == 0) return;
  if (o->n + n > o->cap) {
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->n + n) cap *= 2;
    uint8_t *b = realloc(o->b, cap);
    if (!b) {
      o->failed = true;
      return;
    }
    o->b = b;
    o->cap = cap;
  }
  memcpy(o->b + o->n, p, n);
  o->n += n;
}

static void put_uleb(out_t *o, uint64_t v) {
  uint8_t b[10];
  size_t n = 0;
  do {
    b[n] = v & 0x7f;
    v >>= 7;
    if (v) b[n] |= 0x80;
    n++;
  } while (v);
  put(o, b, n);
}

static void put_name(out_t *o, const char *s) {
  put_uleb(o, strlen(s));
  put(o, s, strlen(s));
}

/* A section: its id, its payload's size, the payload. */
static void put_section(out_t *o, uint8_t id, const out_t *payload) {
  put(o, &id, 1);
  put_uleb(o, payload->n);
  put(o, payload->b, payload->n);
}

static void imports(out_t *o, const wasm_module_t *w) {
  out_t s = {0};
  char name[16];
  put_uleb(&s, w->nimports);
  for (uint32_t i = 0; i < w->nimports; i++) {
    snprintf(name, sizeof(name), "f%u", i);
    put_name(&s, WASM_REWRITE_IMPORT_MODULE);
    put_name(&s, name);
    put(&s, w->imports[i].desc, w->imports[i].desc_len);
  }
  o->failed |= s.failed;
  put_section(o, 2, &s);
  free(s.b);
}

/* An export of an imported function: left out of the copy (the glue
 * calls the import's thunk for it). */
static bool exports_an_import(const wasm_module_t *w, const wasm_export_t *e) {
  return e->kind == WASM_EXTERN_FUNC && e->index < w->nfunc_imports;
}

static void exports(out_t *o, const wasm_module_t *w) {
  out_t s = {0};
  char name[16];
  uint32_t n = 0;
  for (uint32_t i = 0; i < w->nexports; i++) n += !exports_an_import(w, &w->exports[i]);
  put_uleb(&s, n);
  for (uint32_t i = 0; i < w->nexports; i++) {
    if (exports_an_import(w, &w->exports[i])) continue;
    snprintf(name, sizeof(name), "e%u", i);
    put_name(&s, name);
    put(&s, &w->exports[i].kind, 1);
    put_uleb(&s, w->exports[i].index);
  }
  o->failed |= s.failed;
  put_section(o, 7, &s);
  free(s.b);
}

/* The data section with every active segment's bytes left out (length
 * 0): they reach memory from the reader's parse (the pool's image, the
 * stock backend's copy at instantiation), not through the C, where wasm2c
 * wrote 6 bytes of C per byte of data and gcc needed about 140 MB per MB.
 * Passive segments (memory.init) keep theirs. After instantiation an
 * active segment is dropped either way: wasm2c's memory.init of one sees
 * 0 bytes whatever its length. */
static void data(out_t *o, const wasm_module_t *w) {
  out_t s = {0};
  put_uleb(&s, w->nsegments);
  for (uint32_t i = 0; i < w->nsegments; i++) {
    const wasm_segment_t *g = &w->segments[i];
    put(&s, g->head, g->head_len);
    put_uleb(&s, g->active ? 0 : g->len);
    if (!g->active) put(&s, g->bytes, g->len);
  }
  o->failed |= s.failed;
  put_section(o, 11, &s);
  free(s.b);
}

/* An unsigned LEB128 the reader accepted already. */
static uint64_t get_uleb(const uint8_t **p) {
  uint64_t v = 0;
  for (unsigned shift = 0;; shift += 7) {
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
}

bool wasm_rewrite(const wasm_module_t *w, uint8_t **out, size_t *out_len) {
  out_t o = {0};
  const uint8_t *p = w->buf + 8, *end = w->buf + w->len;
  put(&o, w->buf, 8);
  while (p < end) {
    const uint8_t *start = p;
    uint8_t id = *p++;
    uint64_t size = get_uleb(&p);
    const uint8_t *next = p + size;
    if (id == 2) imports(&o, w);
    else if (id == 7) exports(&o, w);
    else if (id == 11) data(&o, w);
    else if (id != 0) put(&o, start, (size_t)(next - start));
    p = next;
  }
  if (o.failed) {
    free(o.b);
    return false;
  }
  *out = o.b ? o.b : malloc(1);
  *out_len = o.n;
  return *out != NULL;
}
