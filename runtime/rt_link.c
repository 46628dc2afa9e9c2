/* Linking: a module's imports bound at load (a WASI function, or one of the
 * embedder's host functions of the same type), its exports copied (their
 * names and types, for wrt_func_find), and the dispatcher the glue's
 * thunks call for host imports (wrt_import_call), with the conversions
 * between wrt_value_t and the glue's 64-bit slots. */
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

#define MAX_HOST_VALUES 64u

static const char *kind_name(uint8_t k) {
  switch (k) {
  case WASM_EXTERN_FUNC: return "function";
  case WASM_EXTERN_TABLE: return "table";
  case WASM_EXTERN_MEMORY: return "memory";
  default: return "global";
  }
}

static wrt_valtype_t valtype_of(char letter) {
  switch (letter) {
  case 'i': return WRT_I32;
  case 'I': return WRT_I64;
  case 'f': return WRT_F32;
  case 'F': return WRT_F64;
  case 'v': return WRT_V128;
  case 'r': return WRT_FUNCREF;
  default: return WRT_EXTERNREF;
  }
}

static char letter_of(wrt_valtype_t t) { return "iIfFvre"[t <= WRT_EXTERNREF ? t : WRT_V128]; }

/* A type in the reader's notation as an array: params then results. */
static wrt_valtype_t *types_of(const char *type, uint32_t *np, uint32_t *nr) {
  const char *colon = strchr(type, ':');
  *np = (uint32_t)(colon - type);
  *nr = (uint32_t)strlen(colon + 1);
  wrt_valtype_t *v = malloc(((size_t)*np + *nr + 1) * sizeof(*v));
  if (!v) return NULL;
  for (uint32_t i = 0; i < *np; i++) v[i] = valtype_of(type[i]);
  for (uint32_t i = 0; i < *nr; i++) v[*np + i] = valtype_of(colon[1 + i]);
  return v;
}

/* The embedder's import `module`.`name` in `o`, or NULL. */
static const wrt_import_t *host_find(const wrt_import_t *v, uint32_t n, const wasm_import_t *im) {
  for (uint32_t i = 0; i < n; i++)
    if (wasm_name_is(im->module, v[i].module) && wasm_name_is(im->name, v[i].name)) return &v[i];
  return NULL;
}

static int link_host(const char *path, uint32_t i, const wasm_import_t *im, const char *type,
                     const wrt_import_t *h, rt_link_t *l) {
  char mod[96], name[96], t1[160], t2[160], want[2 * MAX_HOST_VALUES + 2];
  wasm_name_escape(im->module, mod, sizeof(mod));
  wasm_name_escape(im->name, name, sizeof(name));
  if (!h->fn || h->nparams > MAX_HOST_VALUES || h->nresults > MAX_HOST_VALUES ||
      (h->nparams && !h->params) || (h->nresults && !h->results))
    return rt_error(WRT_EINVAL, "%s: import %u '%s'.'%s': the host function is NULL or has more "
                    "than %u parameters or results", path, i, mod, name, MAX_HOST_VALUES);
  size_t k = 0;
  for (uint32_t p = 0; p < h->nparams; p++) want[k++] = letter_of(h->params[p]);
  want[k++] = ':';
  for (uint32_t r = 0; r < h->nresults; r++) want[k++] = letter_of(h->results[r]);
  want[k] = 0;
  if (strpbrk(want, "vr"))
    return rt_error(WRT_EINVAL, "%s: import %u '%s'.'%s': host functions take no v128 or "
                    "funcref values", path, i, mod, name);
  if (strcmp(want, type) != 0)
    return rt_error(WRT_EIMPORT, "%s: import %u '%s'.'%s' has type %s, the host's is %s", path, i,
                    mod, name, wasm_type_format(type, t1, sizeof(t1)),
                    wasm_type_format(want, t2, sizeof(t2)));
  l->host = *h;
  l->types = types_of(type, &l->host.nparams, &l->host.nresults);
  if (!l->types) return rt_error(WRT_ENOMEM, "%s: out of memory", path);
  l->host.params = l->types;
  l->host.results = l->types + l->host.nparams;
  return 0;
}

int rt_link_imports(wrt_module_t *m, const wasm_module_t *w, const wrt_import_t *host,
                    uint32_t nhost) {
  const char *path = m->path;
  char mod[96], name[96], t1[160], t2[160];
  m->links = calloc(w->nimports ? w->nimports : 1, sizeof(rt_link_t));
  if (!m->links) return rt_error(WRT_ENOMEM, "%s: out of memory", path);
  m->nlinks = w->nimports;
  for (uint32_t i = 0; i < w->nimports; i++) {
    const wasm_import_t *im = &w->imports[i];
    wasm_name_escape(im->module, mod, sizeof(mod));
    wasm_name_escape(im->name, name, sizeof(name));
    if (im->kind != WASM_EXTERN_FUNC)
      return rt_error(WRT_EIMPORT, "%s: import %u '%s'.'%s' (%s) is not provided: the runtime "
                      "links functions only", path, i, mod, name, kind_name(im->kind));
    const char *type = w->types[im->type];
    if (wasm_name_is(im->module, "wasi_snapshot_preview1")) {
      const rt_wasi_fn_t *f = rt_wasi_find(im);
      if (!f)
        return rt_error(WRT_EIMPORT, "%s: import %u 'wasi_snapshot_preview1'.'%s' is not a WASI "
                        "preview-1 function", path, i, name);
      if (strcmp(f->type, type) != 0)
        return rt_error(WRT_EIMPORT, "%s: import %u 'wasi_snapshot_preview1'.'%s' has type %s, "
                        "WASI's is %s", path, i, f->name, wasm_type_format(type, t1, sizeof(t1)),
                        wasm_type_format(f->type, t2, sizeof(t2)));
      m->links[i].wasi = f;
      continue;
    }
    const wrt_import_t *h = host_find(host, nhost, im);
    if (!h)
      return rt_error(WRT_EIMPORT, "%s: import %u '%s'.'%s' (%s) is not provided: the runtime "
                      "provides functions of wasi_snapshot_preview1%s", path, i, mod, name,
                      kind_name(im->kind), nhost ? " and the embedder's imports" : " only");
    int err = link_host(path, i, im, type, h, &m->links[i]);
    if (err) return err;
  }
  return 0;
}

int rt_link_exports(wrt_module_t *m, const wasm_module_t *w) {
  m->exports = calloc(w->nexports ? w->nexports : 1, sizeof(rt_export_t));
  if (!m->exports) return rt_error(WRT_ENOMEM, "%s: out of memory", m->path);
  m->nexports = w->nexports;
  for (uint32_t i = 0; i < w->nexports; i++) {
    const wasm_export_t *e = &w->exports[i];
    rt_export_t *x = &m->exports[i];
    x->len = e->name.len;
    x->name = malloc(x->len + 1);
    if (!x->name) return rt_error(WRT_ENOMEM, "%s: out of memory", m->path);
    if (x->len) memcpy(x->name, e->name.bytes, x->len);
    x->name[x->len] = 0;
    x->kind = e->kind;
    if (e->kind != WASM_EXTERN_FUNC) continue;
    const char *type = wasm_func_type(w, e->index);
    x->types = types_of(type, &x->nparams, &x->nresults);
    if (!x->types) return rt_error(WRT_ENOMEM, "%s: out of memory", m->path);
    x->callable = !strchr(type, 'v');
  }
  return 0;
}

void rt_link_free(wrt_module_t *m) {
  for (uint32_t i = 0; m->links && i < m->nlinks; i++) free(m->links[i].types);
  free(m->links);
  for (uint32_t i = 0; m->exports && i < m->nexports; i++) {
    free(m->exports[i].name);
    free(m->exports[i].types);
  }
  free(m->exports);
}

static void func_of(const wrt_module_t *m, uint32_t i, wrt_func_t *f) {
  const rt_export_t *x = &m->exports[i];
  *f = (wrt_func_t){.export_index = i, .nparams = x->nparams, .nresults = x->nresults,
                    .params = x->types, .results = x->types + x->nparams};
}

int wrt_func_find(const wrt_module_t *m, const void *name, size_t len, wrt_func_t *out) {
  if (!m || (!name && len) || !out) return rt_error(WRT_EINVAL, "wrt_func_find: NULL argument");
  for (uint32_t i = 0; i < m->nexports; i++) {
    const rt_export_t *x = &m->exports[i];
    if (x->kind == WASM_EXTERN_FUNC && x->len == len && (!len || !memcmp(x->name, name, len))) {
      func_of(m, i, out);
      return 0;
    }
  }
  return rt_error(WRT_EINVAL, "%s exports no function of that name (%zu bytes)", m->path, len);
}

uint32_t wrt_module_nexports(const wrt_module_t *m) { return m->nexports; }

int wrt_module_export(const wrt_module_t *m, uint32_t i, const char **name, size_t *name_len,
                      bool *is_func, wrt_func_t *f) {
  if (i >= m->nexports)
    return rt_error(WRT_EINVAL, "%s: export %u of %u", m->path, i, m->nexports);
  *name = m->exports[i].name;
  *name_len = m->exports[i].len;
  *is_func = m->exports[i].kind == WASM_EXTERN_FUNC;
  if (*is_func) func_of(m, i, f);
  return 0;
}

uint64_t rt_slot_of(const wrt_value_t *v) {
  uint64_t s = 0;
  switch (v->type) {
  case WRT_I32: return v->of.i32;
  case WRT_I64: return v->of.i64;
  case WRT_F32: memcpy(&s, &v->of.f32, 4); return s;
  case WRT_F64: memcpy(&s, &v->of.f64, 8); return s;
  case WRT_EXTERNREF: return (uint64_t)(uintptr_t)v->of.externref;
  default: return 0; /* funcref arguments are null */
  }
}

void rt_value_of(wrt_valtype_t t, uint64_t s, wrt_value_t *v) {
  memset(v, 0, sizeof(*v));
  v->type = t;
  switch (t) {
  case WRT_I32: v->of.i32 = (uint32_t)s; break;
  case WRT_I64: v->of.i64 = s; break;
  case WRT_F32: memcpy(&v->of.f32, &s, 4); break;
  case WRT_F64: memcpy(&v->of.f64, &s, 8); break;
  case WRT_EXTERNREF: v->of.externref = (void *)(uintptr_t)s; break;
  default: v->of.funcref = (const void *)(uintptr_t)s; break;
  }
}

/* The glue's thunk of host import `i` (glue.c): the guest's arguments in
 * slots, the host function called, its results back in slots, or its
 * trap raised in the guest. */
void wrt_import_call(void *ctx, uint32_t i, const uint64_t *a, uint64_t *r);
void wrt_import_call(void *ctx, uint32_t i, const uint64_t *a, uint64_t *r) {
  RT_HOST_CALL(); /* a host function: its stack budget, a timeout at its return */
  rt_ctx_t *c = ctx;
  if (c->at_load) {
    /* A snapshot's init (rt_snapshot.c): the embedder's function answers
     * what this embedder likes, and the snapshot, cached by the module's
     * bytes, would hand that answer to a load with other host functions. */
    c->refused_call = "a host function of the embedder's (an import other than WASI), whose "
                      "answers the snapshot cannot fix: a cached snapshot would carry them "
                      "into loads with other host functions";
    siglongjmp(c->jb, RT_JUMP_REFUSED);
  }
  const wrt_import_t *h = &c->m->links[i].host;
  wrt_value_t args[MAX_HOST_VALUES], results[MAX_HOST_VALUES];
  for (uint32_t k = 0; k < h->nparams; k++) rt_value_of(h->params[k], a[k], &args[k]);
  for (uint32_t k = 0; k < h->nresults; k++) rt_value_of(h->results[k], 0, &results[k]);
  wrt_trap_t trap = h->fn(h->env, args, results);
  if (trap != WRT_TRAP_NONE) siglongjmp(c->jb, rt_trap_code(trap)); /* the landing unmarks */
  for (uint32_t k = 0; k < h->nresults; k++) {
    results[k].type = h->results[k]; /* the host's word on types is not taken */
    r[k] = rt_slot_of(&results[k]);
  }
}
