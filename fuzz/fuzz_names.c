/* Fuzz what stands between a module's names and the C compiler: the copy
 * wasm2c translates (wasm_rewrite) and the escaping of names in messages
 * (wasm_name_escape).
 *
 * Input: either a module (it starts with "\0asm"), or names separated by
 * 0xfe bytes, from which a module is built: the first two name an import
 * (module, field), the rest name exports of one function, the last also
 * names a custom section. When the reader accepts the module, the oracle:
 *   - the copy parses, has no custom section, and its sections other than
 *     the import, export and data sections are byte for byte the
 *     original's, in the same order; its data segments are the original's
 *     but for active segments' bytes, left out (length 0);
 *   - import i is "wrt"."f<i>" with the original's kind and description
 *     bytes; export i is "e<i>" with the original's kind and index, but
 *     for exports of imported functions, which are left out: every name
 *     wasm2c sees is made of [a-z0-9];
 *   - every name escaped is printable ASCII without quote or backslash
 *     but its \xNN escapes, and unescapes to the name (unless cut). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_reader.h"
#include "wasm_rewrite.h"

typedef struct buf {
  uint8_t b[1 << 16];
  size_t n;
} buf_t;

static void put(buf_t *o, const void *p, size_t n) {
  if (o->n + n > sizeof(o->b)) abort(); /* inputs are far smaller */
  memcpy(o->b + o->n, p, n);
  o->n += n;
}
static void uleb(buf_t *o, uint64_t v) {
  do {
    uint8_t b = (uint8_t)((v & 0x7f) | (v >> 7 ? 0x80 : 0));
    put(o, &b, 1);
    v >>= 7;
  } while (v);
}
static void name(buf_t *o, const uint8_t *p, size_t n) {
  uleb(o, n);
  put(o, p, n);
}
static void section(buf_t *m, uint8_t id, const buf_t *s) {
  put(m, &id, 1);
  uleb(m, s->n);
  put(m, s->b, s->n);
}

static buf_t mod, sec;

/* A module from names split at 0xfe (see the top). */
static void build(const uint8_t *data, size_t size) {
  const uint8_t *names[256];
  size_t lens[256], n = 0;
  const uint8_t *p = data, *end = data + size;
  while (n < 256) {
    const uint8_t *q = memchr(p, 0xfe, (size_t)(end - p));
    names[n] = p;
    lens[n++] = (size_t)((q ? q : end) - p);
    if (!q) break;
    p = q + 1;
  }
  mod.n = 0;
  put(&mod, "\0asm\1\0\0\0", 8);
  sec.n = 0;
  uleb(&sec, 1), put(&sec, "\x60\0\0", 3);
  section(&mod, 1, &sec);
  size_t first_export = 0;
  if (n >= 3) {
    sec.n = 0;
    uleb(&sec, 1);
    name(&sec, names[0], lens[0]);
    name(&sec, names[1], lens[1]);
    put(&sec, "\0\0", 2); /* a function of type 0 */
    section(&mod, 2, &sec);
    first_export = 2;
  }
  sec.n = 0;
  uleb(&sec, 1), uleb(&sec, 0);
  section(&mod, 3, &sec);
  sec.n = 0;
  uleb(&sec, n - first_export);
  for (size_t i = first_export; i < n; i++) {
    name(&sec, names[i], lens[i]);
    put(&sec, "\0", 1);
    uleb(&sec, first_export ? 1 : 0);
  }
  section(&mod, 7, &sec);
  sec.n = 0;
  uleb(&sec, 1), put(&sec, "\x02\x00\x0b", 3);
  section(&mod, 10, &sec);
  sec.n = 0;
  name(&sec, names[n - 1], lens[n - 1]);
  put(&sec, "payload", 7);
  section(&mod, 0, &sec);
}

static uint64_t get_uleb(const uint8_t **p) {
  uint64_t v = 0;
  for (unsigned shift = 0;; shift += 7) {
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
}

/* The next non-custom section other than imports and exports at or after
 * *p (NULL at the end); *len its bytes with header. */
static const uint8_t *next_kept(const uint8_t **p, const uint8_t *end, size_t *len) {
  while (*p < end) {
    const uint8_t *start = *p;
    uint8_t id = *(*p)++;
    uint64_t size = get_uleb(p);
    *p += size;
    if (id != 0 && id != 2 && id != 7 && id != 11) {
      *len = (size_t)(*p - start);
      return start;
    }
  }
  return NULL;
}

static void check_escape(wasm_name_t n) {
  char out[4096];
  wasm_name_escape(n, out, sizeof(out));
  size_t i = 0, k = 0;
  for (; out[k]; i++) {
    char c = out[k];
    if (c < 0x20 || c > 0x7e || c == '\'') abort();
    if (c == '.' && !strcmp(out + k, "...") && i <= n.len) return; /* cut */
    uint8_t want = i < n.len ? n.bytes[i] : 0;
    if (c == '\\') {
      unsigned v;
      if (sscanf(out + k, "\\x%2x", &v) != 1 || v != want) abort();
      k += 4;
    } else {
      if ((uint8_t)c != want) abort();
      k++;
    }
  }
  if (i != n.len) abort();
}

static void oracle(const wasm_module_t *w) {
  uint8_t *copy;
  size_t len;
  if (!wasm_rewrite(w, &copy, &len)) abort();
  wasm_module_t c;
  char err[256];
  if (!wasm_parse(copy, len, &c, err, sizeof(err))) {
    fprintf(stderr, "the rewritten copy does not parse: %s\n", err);
    abort();
  }
  char want[16];
  uint32_t kept = 0; /* exports of imported functions are left out */
  for (uint32_t i = 0; i < w->nexports; i++)
    kept += !(w->exports[i].kind == 0 && w->exports[i].index < w->nfunc_imports);
  if (c.nimports != w->nimports || c.nexports != kept) abort();
  for (uint32_t i = 0; i < c.nimports; i++) {
    snprintf(want, sizeof(want), "f%u", i);
    const wasm_import_t *a = &w->imports[i], *b = &c.imports[i];
    if (!wasm_name_is(b->module, WASM_REWRITE_IMPORT_MODULE) || !wasm_name_is(b->name, want))
      abort();
    if (a->desc_len != b->desc_len || memcmp(a->desc, b->desc, a->desc_len)) abort();
    check_escape(a->module);
    check_escape(a->name);
  }
  for (uint32_t i = 0, k = 0; i < w->nexports; i++) {
    const wasm_export_t *a = &w->exports[i];
    check_escape(a->name);
    if (a->kind == 0 && a->index < w->nfunc_imports) continue;
    snprintf(want, sizeof(want), "e%u", i);
    const wasm_export_t *b = &c.exports[k++];
    if (!wasm_name_is(b->name, want) || a->kind != b->kind || a->index != b->index) abort();
  }
  if (c.nsegments != w->nsegments) abort();
  for (uint32_t i = 0; i < c.nsegments; i++) { /* active segments' bytes left out */
    const wasm_segment_t *a = &w->segments[i], *b = &c.segments[i];
    if (a->active != b->active || a->head_len != b->head_len ||
        memcmp(a->head, b->head, a->head_len) || b->len != (a->active ? 0 : a->len) ||
        (!a->active && a->len && memcmp(a->bytes, b->bytes, a->len)))
      abort();
  }
  const uint8_t *p = w->buf + 8, *q = copy + 8, *pe = w->buf + w->len, *qe = copy + len;
  for (;;) {
    size_t la = 0, lb = 0;
    const uint8_t *sa = next_kept(&p, pe, &la), *sb = next_kept(&q, qe, &lb);
    if (!sa || !sb) {
      if (sa || sb) abort();
      break;
    }
    if (la != lb || memcmp(sa, sb, la)) abort();
  }
  for (q = copy + 8; q < qe;) { /* no custom section */
    if (*q++ == 0) abort();
    q += get_uleb(&q);
  }
  wasm_module_free(&c);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *bytes = data;
  size_t n = size;
  if (size < 4 || memcmp(data, "\0asm", 4) != 0) {
    build(data, size);
    bytes = mod.b;
    n = mod.n;
  }
  uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
  memcpy(copy, bytes, n);
  wasm_module_t w;
  char err[256];
  if (wasm_parse(copy, n, &w, err, sizeof(err))) {
    oracle(&w);
    wasm_module_free(&w);
  }
  free(copy);
  return 0;
}
