/* The WebAssembly binary reader (wasm_reader.h). A cursor over a byte range
 * with a sticky error: every read checks the bytes left, and the first
 * failure records its message and makes every later read fail, so a
 * section parser can read on and test the cursor once. */
#include "wasm_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cursor {
  const uint8_t *base; /* the whole module, for offsets in messages */
  const uint8_t *p, *end;
  const char *what; /* the section being read */
  char *err;
  size_t errlen;
  bool failed;
} cursor_t;

static bool fail(cursor_t *c, const char *fmt, ...) {
  if (c->failed) return false;
  c->failed = true;
  int n = snprintf(c->err, c->errlen, "%s at byte %zu: ", c->what, (size_t)(c->p - c->base));
  if (n < 0 || (size_t)n >= c->errlen) return false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

static uint8_t u8(cursor_t *c) {
  if (c->failed) return 0;
  if (c->p >= c->end) return fail(c, "unexpected end"), 0;
  return *c->p++;
}

/* Unsigned LEB128 of at most `bits` bits. */
static uint64_t uleb(cursor_t *c, unsigned bits) {
  uint64_t v = 0;
  for (unsigned shift = 0;; shift += 7) {
    if (c->failed) return 0;
    if (shift >= bits) return fail(c, "integer too long"), 0;
    uint8_t b = u8(c);
    if (c->failed) return 0; /* not the bits read so far: callers trust a value */
    uint64_t chunk = b & 0x7f;
    if (shift + 7 > bits && (chunk >> (bits - shift)) != 0) return fail(c, "integer too large"), 0;
    v |= chunk << shift;
    if (!(b & 0x80)) return v;
  }
}

static uint32_t u32v(cursor_t *c) { return (uint32_t)uleb(c, 32); }

/* Signed LEB128 of at most `bits` bits (32 or 64). */
static int64_t sleb(cursor_t *c, unsigned bits) {
  int64_t v = 0;
  unsigned shift = 0;
  uint8_t b;
  do {
    if (c->failed) return 0;
    if (shift >= bits) return fail(c, "integer too long"), 0;
    b = u8(c);
    if (c->failed) return 0;
    v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
    shift += 7;
  } while (b & 0x80);
  if (shift < 64 && (b & 0x40)) v |= (int64_t)(~(uint64_t)0 << shift);
  if (bits == 32 && (v < INT32_MIN || v > INT32_MAX)) return fail(c, "integer too large"), 0;
  return v;
}

/* A count of items each at least `min_item_bytes` long: refuse counts the
 * remaining bytes cannot hold before anything is allocated. */
static uint32_t count(cursor_t *c, size_t min_item_bytes) {
  uint32_t n = u32v(c);
  if (c->failed) return 0;
  if (min_item_bytes && n > (size_t)(c->end - c->p) / min_item_bytes)
    return fail(c, "count %u exceeds the bytes left", n), 0;
  return n;
}

static char *name(cursor_t *c) {
  uint32_t n = u32v(c);
  if (c->failed) return NULL;
  if (n > (size_t)(c->end - c->p)) return fail(c, "name of %u bytes runs past the end", n), NULL;
  if (memchr(c->p, 0, n)) return fail(c, "name contains a NUL byte"), NULL;
  char *s = malloc((size_t)n + 1);
  if (!s) return fail(c, "out of memory"), NULL;
  memcpy(s, c->p, n);
  s[n] = 0;
  c->p += n;
  return s;
}

static char valtype(cursor_t *c) {
  uint8_t t = u8(c);
  switch (t) {
  case 0x7f: return 'i';
  case 0x7e: return 'I';
  case 0x7d: return 'f';
  case 0x7c: return 'F';
  case 0x7b: return 'v';
  case 0x70: return 'r';
  case 0x6f: return 'e';
  default: return c->failed ? 0 : (fail(c, "unknown value type 0x%02x", t), 0);
  }
}

static wasm_limits_t limits(cursor_t *c, bool memory) {
  wasm_limits_t l = {.max = UINT64_MAX};
  uint8_t flags = u8(c);
  if (flags > (memory ? 3 : 1)) {
    fail(c, "%s limits flags 0x%02x not supported (memory64?)", memory ? "memory" : "table", flags);
    return l;
  }
  l.min = u32v(c);
  l.has_max = flags & 1;
  l.shared = flags & 2;
  if (l.has_max) l.max = u32v(c);
  if (!c->failed && l.has_max && l.max < l.min)
    fail(c, "maximum %llu below minimum %llu", (unsigned long long)l.max,
         (unsigned long long)l.min);
  if (!c->failed && memory && (l.min > 65536 || (l.has_max && l.max > 65536)))
    fail(c, "memory limit over 65536 pages");
  return l;
}

/* A constant expression. Sets *is_const and *value for `i32.const N end`
 * or `i64.const N end`; other expressions (global.get, ref.func, ref.null)
 * are skipped with *is_const false. */
static void const_expr(cursor_t *c, bool *is_const, uint64_t *value) {
  *is_const = false;
  *value = 0;
  uint8_t op = u8(c);
  switch (op) {
  case 0x41: *value = (uint32_t)sleb(c, 32), *is_const = true; break;
  case 0x42: *value = (uint64_t)sleb(c, 64), *is_const = true; break;
  case 0x23: u32v(c); break;  /* global.get */
  case 0xd2: u32v(c); break;  /* ref.func */
  case 0xd0: u8(c); break;    /* ref.null */
  case 0x43: for (int i = 0; i < 4; i++) u8(c); break; /* f32.const */
  case 0x44: for (int i = 0; i < 8; i++) u8(c); break; /* f64.const */
  default: if (!c->failed) fail(c, "constant expression opcode 0x%02x not supported", op); return;
  }
  if (u8(c) != 0x0b && !c->failed) fail(c, "constant expression without end");
}

static bool parse_types(cursor_t *c, wasm_module_t *m) {
  m->ntypes = count(c, 3);
  m->types = calloc(m->ntypes ? m->ntypes : 1, sizeof(char *));
  if (!m->types) return fail(c, "out of memory");
  for (uint32_t i = 0; i < m->ntypes && !c->failed; i++) {
    if (u8(c) != 0x60) return fail(c, "type %u is not a function type", i);
    uint32_t np = count(c, 1);
    if (c->failed) return false;
    char *s = malloc((size_t)np + 2);
    if (!s) return fail(c, "out of memory");
    m->types[i] = s;
    for (uint32_t k = 0; k < np; k++) s[k] = valtype(c);
    s[np] = ':';
    s[np + 1] = 0;
    uint32_t nr = count(c, 1);
    if (c->failed) return false;
    char *t = realloc(s, (size_t)np + 2 + nr);
    if (!t) return fail(c, "out of memory");
    m->types[i] = t;
    for (uint32_t k = 0; k < nr; k++) t[np + 1 + k] = valtype(c);
    t[np + 1 + nr] = 0;
  }
  return !c->failed;
}

static bool parse_imports(cursor_t *c, wasm_module_t *m) {
  m->nimports = count(c, 4);
  m->imports = calloc(m->nimports ? m->nimports : 1, sizeof(wasm_import_t));
  if (!m->imports) return fail(c, "out of memory");
  for (uint32_t i = 0; i < m->nimports && !c->failed; i++) {
    wasm_import_t *im = &m->imports[i];
    im->module = name(c);
    im->name = name(c);
    im->kind = u8(c);
    switch (im->kind) {
    case WASM_EXTERN_FUNC:
      im->type = u32v(c);
      if (!c->failed && im->type >= m->ntypes)
        return fail(c, "import %u: type index %u out of range", i, im->type);
      m->nfunc_imports++;
      break;
    case WASM_EXTERN_TABLE: valtype(c), im->limits = limits(c, false); break;
    case WASM_EXTERN_MEMORY: im->limits = limits(c, true); break;
    case WASM_EXTERN_GLOBAL: valtype(c), u8(c); break;
    default: if (!c->failed) return fail(c, "import %u: unknown kind %u", i, im->kind);
    }
  }
  return !c->failed;
}

static bool parse_limits_list(cursor_t *c, wasm_limits_t **out, uint32_t *n, bool memory) {
  *n = count(c, 2);
  *out = calloc(*n ? *n : 1, sizeof(wasm_limits_t));
  if (!*out) return fail(c, "out of memory");
  for (uint32_t i = 0; i < *n && !c->failed; i++) {
    char t = 0;
    if (!memory) {
      t = valtype(c);
      if (!c->failed && t != 'r' && t != 'e') return fail(c, "table %u: not a reference type", i);
    }
    (*out)[i] = limits(c, memory);
    (*out)[i].elem = t;
  }
  return !c->failed;
}

static bool parse_exports(cursor_t *c, wasm_module_t *m) {
  m->nexports = count(c, 3);
  m->exports = calloc(m->nexports ? m->nexports : 1, sizeof(wasm_export_t));
  if (!m->exports) return fail(c, "out of memory");
  for (uint32_t i = 0; i < m->nexports && !c->failed; i++) {
    m->exports[i].name = name(c);
    m->exports[i].kind = u8(c);
    m->exports[i].index = u32v(c);
    if (!c->failed && m->exports[i].kind > WASM_EXTERN_GLOBAL)
      return fail(c, "export %u: unknown kind %u", i, m->exports[i].kind);
  }
  return !c->failed;
}

static bool parse_data(cursor_t *c, wasm_module_t *m) {
  m->nsegments = count(c, 2);
  m->segments = calloc(m->nsegments ? m->nsegments : 1, sizeof(wasm_segment_t));
  if (!m->segments) return fail(c, "out of memory");
  for (uint32_t i = 0; i < m->nsegments && !c->failed; i++) {
    wasm_segment_t *s = &m->segments[i];
    uint32_t flags = u32v(c);
    if (flags > 2) return c->failed ? false : fail(c, "data segment %u: flags %u unknown", i, flags);
    s->active = flags != 1;
    if (flags == 2) s->memory = u32v(c);
    if (s->active) {
      bool is_const;
      const_expr(c, &is_const, &s->offset);
      if (!c->failed && !is_const)
        return fail(c, "data segment %u: the offset is not a constant (global.get): "
                       "the runtime needs constant offsets to build the memory image", i);
    }
    s->len = u32v(c);
    if (c->failed) return false;
    if (s->len > (size_t)(c->end - c->p))
      return fail(c, "data segment %u: %u bytes run past the end", i, s->len);
    s->bytes = c->p;
    c->p += s->len;
  }
  return !c->failed;
}

/* Sections whose contents the runtime does not need (function bodies,
 * globals, elements, custom sections): wasm2c validates them. */
static bool skip_section(cursor_t *c) {
  c->p = c->end;
  return true;
}

bool wasm_parse(const uint8_t *buf, size_t len, wasm_module_t *m, char *err, size_t errlen) {
  memset(m, 0, sizeof(*m));
  m->buf = buf;
  m->len = len;
  cursor_t c = {.base = buf, .p = buf, .end = buf + len, .what = "header", .err = err,
                .errlen = errlen};
  static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  if (len < 8 || memcmp(buf, magic, 4) != 0) {
    fail(&c, "not a WebAssembly binary (no \\0asm magic)");
    return false;
  }
  if (memcmp(buf + 4, magic + 4, 4) != 0) {
    fail(&c, "WebAssembly binary version %u not supported (only 1)",
         buf[4] | buf[5] << 8 | buf[6] << 16 | (unsigned)buf[7] << 24);
    return false;
  }
  c.p += 8;
  static const char *names[] = {"custom section", "type section", "import section",
                                "function section", "table section", "memory section",
                                "global section", "export section", "start section",
                                "element section", "code section", "data section",
                                "data count section"};
  /* Non-custom sections appear at most once, in this order (data count
   * sits between element and code). */
  static const int order[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
  int last = 0;
  bool ok = true;
  while (ok && c.p < buf + len) {
    c.what = "section header";
    c.end = buf + len;
    uint8_t id = u8(&c);
    uint32_t size = u32v(&c);
    if (c.failed) break;
    if (id > 12) {
      fail(&c, "unknown section id %u", id);
      break;
    }
    if (size > (size_t)(buf + len - c.p)) {
      fail(&c, "%s of %u bytes runs past the end of the file", names[id], size);
      break;
    }
    if (id != 0) {
      if (order[id] <= last) {
        fail(&c, "%s out of order or repeated", names[id]);
        break;
      }
      last = order[id];
    }
    c.what = names[id];
    c.end = c.p + size;
    switch (id) {
    case 1: ok = parse_types(&c, m); break;
    case 2: ok = parse_imports(&c, m); break;
    case 3: m->nfuncs = count(&c, 1), c.p = c.end; break;
    case 4: ok = parse_limits_list(&c, &m->tables, &m->ntables, false); break;
    case 5: ok = parse_limits_list(&c, &m->memories, &m->nmemories, true); break;
    case 7: ok = parse_exports(&c, m); break;
    case 8: m->has_start_section = true, c.p = c.end; break;
    case 11: ok = parse_data(&c, m); break;
    case 12: m->has_data_count = true, m->data_count = u32v(&c); break;
    default: ok = skip_section(&c); break;
    }
    if (ok && !c.failed && c.p != c.end) fail(&c, "%u bytes left over", (unsigned)(c.end - c.p));
    ok = ok && !c.failed;
  }
  if (!c.failed && m->has_data_count && m->data_count != m->nsegments) {
    c.what = names[12];
    fail(&c, "the data count section says %u data segment%s, the data section has %u",
         m->data_count, m->data_count == 1 ? "" : "s", m->nsegments);
  }
  if (!c.failed) {
    for (uint32_t i = 0; i < m->nexports; i++) {
      const wasm_export_t *e = &m->exports[i];
      uint32_t nfunc = m->nfunc_imports + m->nfuncs;
      if (e->kind == WASM_EXTERN_FUNC && e->index >= nfunc) {
        c.what = "export section";
        fail(&c, "export '%s': function index %u out of range (%u functions)", e->name, e->index,
             nfunc);
        break;
      }
    }
  }
  if (c.failed) {
    wasm_module_free(m);
    return false;
  }
  return true;
}

void wasm_module_free(wasm_module_t *m) {
  for (uint32_t i = 0; m->types && i < m->ntypes; i++) free(m->types[i]);
  free(m->types);
  for (uint32_t i = 0; m->imports && i < m->nimports; i++) {
    free(m->imports[i].module);
    free(m->imports[i].name);
  }
  free(m->imports);
  for (uint32_t i = 0; m->exports && i < m->nexports; i++) free(m->exports[i].name);
  free(m->exports);
  free(m->memories);
  free(m->tables);
  free(m->segments);
  const uint8_t *buf = m->buf;
  size_t len = m->len;
  memset(m, 0, sizeof(*m));
  m->buf = buf;
  m->len = len;
}

const wasm_export_t *wasm_find_export(const wasm_module_t *m, const char *name, uint8_t kind) {
  for (uint32_t i = 0; i < m->nexports; i++)
    if (m->exports[i].kind == kind && m->exports[i].name && strcmp(m->exports[i].name, name) == 0)
      return &m->exports[i];
  return NULL;
}
