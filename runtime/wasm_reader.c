/* The WebAssembly binary reader (wasm_reader.h): the sections the runtime
 * needs, read with the cursor of wasm_cursor.c. */
#include "wasm_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_code.h"
#include "wasm_cursor.h"

static bool parse_types(cursor_t *c, wasm_module_t *m) {
  m->ntypes = cur_count(c, 3);
  if (m->ntypes > WASM_MAX_TYPES_WEIGHT)
    return cur_limit(c, "%u function types; the limit is %u (each type counts 1 plus its "
                     "parameters and results)", m->ntypes, WASM_MAX_TYPES_WEIGHT);
  m->types = calloc(m->ntypes ? m->ntypes : 1, sizeof(char *));
  if (!m->types) return cur_fail(c, "out of memory");
  uint64_t weight = 0;
  for (uint32_t i = 0; i < m->ntypes && !c->failed; i++) {
    if (cur_u8(c) != 0x60) return cur_fail(c, "type %u is not a function type", i);
    uint32_t np = cur_count(c, 1);
    if (c->failed) return false;
    if (np > WASM_MAX_TYPE_PARAMS)
      return cur_limit(c, "type %u has %u parameters; the limit is %u", i, np,
                       WASM_MAX_TYPE_PARAMS);
    char *s = malloc((size_t)np + 2);
    if (!s) return cur_fail(c, "out of memory");
    m->types[i] = s;
    for (uint32_t k = 0; k < np; k++) s[k] = cur_valtype(c);
    s[np] = ':';
    s[np + 1] = 0;
    uint32_t nr = cur_count(c, 1);
    if (c->failed) return false;
    if (nr > WASM_MAX_TYPE_RESULTS)
      return cur_limit(c, "type %u has %u results; the limit is %u", i, nr,
                       WASM_MAX_TYPE_RESULTS);
    weight += 1 + (uint64_t)np + nr;
    if (weight > WASM_MAX_TYPES_WEIGHT)
      return cur_limit(c, "function types of more than %u parameters and results in all "
                       "(each type counting 1 more); gcc's time grows faster than that",
                       WASM_MAX_TYPES_WEIGHT);
    char *t = realloc(s, (size_t)np + 2 + nr);
    if (!t) return cur_fail(c, "out of memory");
    m->types[i] = t;
    for (uint32_t k = 0; k < nr; k++) t[np + 1 + k] = cur_valtype(c);
    t[np + 1 + nr] = 0;
  }
  return !c->failed;
}

static bool parse_imports(cursor_t *c, wasm_module_t *m) {
  m->nimports = cur_count(c, 4);
  if (m->nimports > WASM_MAX_IMPORTS)
    return cur_limit(c, "%u imports; the limit is %u", m->nimports, WASM_MAX_IMPORTS);
  m->imports = calloc(m->nimports ? m->nimports : 1, sizeof(wasm_import_t));
  m->func_imports = calloc(m->nimports ? m->nimports : 1, sizeof(uint32_t));
  m->global_types = malloc((size_t)m->nimports + 1);
  if (!m->imports || !m->func_imports || !m->global_types) return cur_fail(c, "out of memory");
  for (uint32_t i = 0; i < m->nimports && !c->failed; i++) {
    wasm_import_t *im = &m->imports[i];
    im->module = cur_name(c);
    im->name = cur_name(c);
    im->desc = c->p;
    im->kind = cur_u8(c);
    switch (im->kind) {
    case WASM_EXTERN_FUNC:
      im->type = cur_u32(c);
      if (!c->failed && im->type >= m->ntypes)
        return cur_fail(c, "import %u: type index %u out of range", i, im->type);
      m->func_imports[m->nfunc_imports++] = i;
      break;
    case WASM_EXTERN_TABLE:
      cur_valtype(c), im->limits = cur_limits(c, false);
      m->nimported_tables++;
      break;
    case WASM_EXTERN_MEMORY: im->limits = cur_limits(c, true); break;
    case WASM_EXTERN_GLOBAL: {
      char t = cur_valtype(c);
      uint8_t mut = cur_u8(c);
      if (!c->failed && mut > 1) return cur_fail(c, "import %u: malformed mutability %u", i, mut);
      m->global_types[m->nglobals++] = t;
      break;
    }
    default: if (!c->failed) return cur_fail(c, "import %u: unknown kind %u", i, im->kind);
    }
    im->desc_len = (uint32_t)(c->p - im->desc);
  }
  return !c->failed;
}

static bool parse_limits_list(cursor_t *c, wasm_limits_t **out, uint32_t *n, bool memory) {
  *n = cur_count(c, 2);
  *out = calloc(*n ? *n : 1, sizeof(wasm_limits_t));
  if (!*out) return cur_fail(c, "out of memory");
  for (uint32_t i = 0; i < *n && !c->failed; i++) {
    char t = 0;
    if (!memory) {
      t = cur_valtype(c);
      if (!c->failed && t != 'r' && t != 'e') return cur_fail(c, "table %u: not a reference type", i);
    }
    (*out)[i] = cur_limits(c, memory);
    (*out)[i].elem = t;
  }
  return !c->failed;
}

static bool parse_exports(cursor_t *c, wasm_module_t *m) {
  m->nexports = cur_count(c, 3);
  if (m->nexports > WASM_MAX_EXPORTS)
    return cur_limit(c, "%u exports; the limit is %u", m->nexports, WASM_MAX_EXPORTS);
  m->exports = calloc(m->nexports ? m->nexports : 1, sizeof(wasm_export_t));
  if (!m->exports) return cur_fail(c, "out of memory");
  for (uint32_t i = 0; i < m->nexports && !c->failed; i++) {
    m->exports[i].name = cur_name(c);
    m->exports[i].kind = cur_u8(c);
    m->exports[i].index = cur_u32(c);
    if (!c->failed && m->exports[i].kind > WASM_EXTERN_GLOBAL)
      return cur_fail(c, "export %u: unknown kind %u", i, m->exports[i].kind);
  }
  return !c->failed;
}

static bool parse_functions(cursor_t *c, wasm_module_t *m) {
  m->nfuncs = cur_count(c, 1);
  if ((uint64_t)m->nfunc_imports + m->nfuncs > WASM_MAX_FUNCTIONS)
    return cur_limit(c, "%llu functions (imported and defined); the limit is %u",
                     (unsigned long long)m->nfunc_imports + m->nfuncs, WASM_MAX_FUNCTIONS);
  m->func_types = calloc(m->nfuncs ? m->nfuncs : 1, sizeof(uint32_t));
  if (!m->func_types) return cur_fail(c, "out of memory");
  for (uint32_t i = 0; i < m->nfuncs && !c->failed; i++) {
    m->func_types[i] = cur_u32(c);
    if (!c->failed && m->func_types[i] >= m->ntypes)
      return cur_fail(c, "function %u: type index %u out of range", i, m->func_types[i]);
  }
  return !c->failed;
}

static int name_order(const void *a, const void *b) {
  const wasm_name_t *x = a, *y = b;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  return x->len ? memcmp(x->bytes, y->bytes, x->len) : 0;
}

/* Export names are unique (a module that repeats one is invalid). */
static bool exports_unique(cursor_t *c, const wasm_module_t *m) {
  if (m->nexports < 2) return true;
  wasm_name_t *v = malloc(m->nexports * sizeof(*v));
  if (!v) return cur_fail(c, "out of memory");
  for (uint32_t i = 0; i < m->nexports; i++) v[i] = m->exports[i].name;
  qsort(v, m->nexports, sizeof(*v), name_order);
  for (uint32_t i = 1; i < m->nexports && !c->failed; i++) {
    if (name_order(&v[i - 1], &v[i]) == 0) {
      char esc[96];
      cur_fail(c, "export name '%s' is repeated", wasm_name_escape(v[i], esc, sizeof(esc)));
    }
  }
  free(v);
  return !c->failed;
}

static bool parse_data(cursor_t *c, wasm_module_t *m) {
  m->nsegments = cur_count(c, 2);
  if (m->nsegments > WASM_MAX_DATA_SEGMENTS)
    return cur_limit(c, "%u data segments; the limit is %u", m->nsegments,
                     WASM_MAX_DATA_SEGMENTS);
  m->segments = calloc(m->nsegments ? m->nsegments : 1, sizeof(wasm_segment_t));
  if (!m->segments) return cur_fail(c, "out of memory");
  for (uint32_t i = 0; i < m->nsegments && !c->failed; i++) {
    wasm_segment_t *s = &m->segments[i];
    s->head = c->p;
    uint32_t flags = cur_u32(c);
    if (flags > 2) return c->failed ? false : cur_fail(c, "data segment %u: flags %u unknown", i, flags);
    s->active = flags != 1;
    if (flags == 2) s->memory = cur_u32(c);
    if (s->active) {
      bool is_const;
      wasm_const_expr(c, m, 'i', &is_const, &s->offset); /* 32-bit memories only */
      s->offset_global = !is_const; /* global.get: the loader refuses it */
    }
    s->head_len = (uint32_t)(c->p - s->head);
    s->len = cur_u32(c);
    if (c->failed) return false;
    if (s->len > (size_t)(c->end - c->p))
      return cur_fail(c, "data segment %u: %u bytes run past the end", i, s->len);
    s->bytes = c->p;
    c->p += s->len;
    if (!s->active && (m->passive_bytes += s->len) > WASM_MAX_PASSIVE_DATA)
      return cur_limit(c, "passive data segments of %llu bytes in all; the limit is %u (their "
                       "bytes reach the C compiler, about 140 MB of its memory per MB)",
                       (unsigned long long)m->passive_bytes, WASM_MAX_PASSIVE_DATA);
  }
  return !c->failed;
}

/* A custom section: its name (valid UTF-8, within the section), then
 * bytes the runtime does not read (the rewritten copy drops it). */
static bool parse_custom(cursor_t *c) {
  cur_name(c);
  if (c->failed) return false;
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
    cur_fail(&c, "not a WebAssembly binary (no \\0asm magic)");
    return false;
  }
  if (memcmp(buf + 4, magic + 4, 4) != 0) {
    cur_fail(&c, "WebAssembly binary version %u not supported (only 1)",
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
    uint8_t id = cur_u8(&c);
    uint32_t size = cur_u32(&c);
    if (c.failed) break;
    if (id > 12) {
      cur_fail(&c, "unknown section id %u", id);
      break;
    }
    if (size > (size_t)(buf + len - c.p)) {
      cur_fail(&c, "%s of %u bytes runs past the end of the file", names[id], size);
      break;
    }
    if (id != 0) {
      if (order[id] <= last) {
        cur_fail(&c, "%s out of order or repeated", names[id]);
        break;
      }
      last = order[id];
    }
    c.what = names[id];
    c.end = c.p + size;
    switch (id) {
    case 1: ok = parse_types(&c, m); break;
    case 2: ok = parse_imports(&c, m); break;
    case 3: ok = parse_functions(&c, m); break;
    case 4: ok = parse_limits_list(&c, &m->tables, &m->ntables, false); break;
    case 5: ok = parse_limits_list(&c, &m->memories, &m->nmemories, true); break;
    case 7: ok = parse_exports(&c, m) && exports_unique(&c, m); break;
    case 6: ok = wasm_parse_globals(&c, m); break;
    case 8: m->has_start_section = true, cur_u32(&c); break;
    case 9: ok = wasm_parse_elements(&c, m); break;
    case 10: ok = wasm_parse_code(&c, m); break;
    case 11: ok = parse_data(&c, m); break;
    case 12: m->has_data_count = true, m->data_count = cur_u32(&c); break;
    default: ok = parse_custom(&c); break;
    }
    if (ok && !c.failed && c.p != c.end) cur_fail(&c, "%u bytes left over", (unsigned)(c.end - c.p));
    ok = ok && !c.failed;
  }
  if (!c.failed && m->nfuncs && !m->has_code) {
    c.what = "module";
    cur_fail(&c, "function and code section have inconsistent lengths (%u functions, no code "
             "section)", m->nfuncs);
  }
  if (!c.failed && m->has_data_count && m->data_count != m->nsegments) {
    c.what = names[12];
    cur_fail(&c, "the data count section says %u data segment%s, the data section has %u",
         m->data_count, m->data_count == 1 ? "" : "s", m->nsegments);
  }
  if (!c.failed) {
    for (uint32_t i = 0; i < m->nexports; i++) {
      const wasm_export_t *e = &m->exports[i];
      uint32_t nfunc = m->nfunc_imports + m->nfuncs;
      if (e->kind == WASM_EXTERN_FUNC && e->index >= nfunc) {
        char esc[96];
        c.what = "export section";
        cur_fail(&c, "export '%s': function index %u out of range (%u functions)",
                 wasm_name_escape(e->name, esc, sizeof(esc)), e->index, nfunc);
        break;
      }
    }
  }
  if (c.failed) {
    wasm_module_free(m);
    m->over_limit = c.limit;
    return false;
  }
  return true;
}

void wasm_module_free(wasm_module_t *m) {
  for (uint32_t i = 0; m->types && i < m->ntypes; i++) free(m->types[i]);
  free(m->types);
  free(m->imports);
  free(m->func_imports);
  free(m->exports);
  free(m->func_types);
  free(m->memories);
  free(m->tables);
  free(m->segments);
  free(m->global_types);
  const uint8_t *buf = m->buf;
  size_t len = m->len;
  memset(m, 0, sizeof(*m));
  m->buf = buf;
  m->len = len;
}

bool wasm_name_is(wasm_name_t n, const char *s) {
  size_t len = strlen(s);
  return n.len == len && (len == 0 || memcmp(n.bytes, s, len) == 0);
}

const wasm_export_t *wasm_find_export(const wasm_module_t *m, const char *name, size_t len,
                                      uint8_t kind) {
  for (uint32_t i = 0; i < m->nexports; i++) {
    const wasm_export_t *e = &m->exports[i];
    if (e->kind == kind && e->name.len == len && (len == 0 || !memcmp(e->name.bytes, name, len)))
      return e;
  }
  return NULL;
}

/* By the index of function imports, not a walk of the imports: the
 * loader asks once per export (a walk made 40,000 imports and 200,000
 * exports cost 54 s). */
const char *wasm_func_type(const wasm_module_t *m, uint32_t index) {
  if (index < m->nfunc_imports) return m->types[m->imports[m->func_imports[index]].type];
  index -= m->nfunc_imports;
  return index < m->nfuncs && m->func_types ? m->types[m->func_types[index]] : NULL;
}

char *wasm_name_escape(wasm_name_t n, char *out, size_t cap) {
  size_t o = 0;
  if (cap == 0) return out;
  for (uint32_t i = 0; i < n.len; i++) {
    uint8_t b = n.bytes[i];
    bool plain = b >= 0x20 && b < 0x7f && b != '\\' && b != '\'';
    size_t need = plain ? 1 : 4;
    if (o + need + 4 > cap) { /* room for "..." and the NUL */
      snprintf(out + o, cap - o, "...");
      return out;
    }
    if (plain) out[o++] = (char)b;
    else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", b);
  }
  out[o] = 0;
  return out;
}

char *wasm_type_format(const char *type, char *out, size_t cap) {
  size_t o = 0;
  bool first = true;
  if (cap < 8) return cap ? (out[0] = 0, out) : out;
  out[o++] = '(';
  for (const char *p = type; *p; p++) {
    const char *name;
    switch (*p) {
    case ':': name = ") -> ("; break;
    case 'i': name = "i32"; break;
    case 'I': name = "i64"; break;
    case 'f': name = "f32"; break;
    case 'F': name = "f64"; break;
    case 'v': name = "v128"; break;
    case 'r': name = "funcref"; break;
    case 'e': name = "externref"; break;
    default: name = "?"; break;
    }
    const char *sep = *p == ':' || first ? "" : " ";
    first = *p == ':';
    size_t need = strlen(sep) + strlen(name);
    if (o + need + 5 > cap) { /* room for "...)" and the NUL */
      snprintf(out + o, cap - o, "...)");
      return out;
    }
    o += (size_t)snprintf(out + o, cap - o, "%s%s", sep, name);
  }
  snprintf(out + o, cap - o, ")");
  return out;
}
