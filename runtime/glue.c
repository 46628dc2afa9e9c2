/* The C appended to wasm2c's output (glue version 4): the runtime's only
 * ways into and out of the generated code, each of a C type fixed here and
 * compiled against the prototypes wasm2c wrote for the rewritten module
 * (wasm_rewrite.h), so a mismatch is a compile error, never a call with
 * the wrong signature.
 *
 * Into the module (the runtime finds them with dlsym):
 *   void wrt_guest_init_module(void)             the module's types, once per load
 *   size_t wrt_guest_instance_size(void)
 *   void wrt_guest_instantiate(void *instance, void *ctx)
 *   void wrt_guest_start(void *instance)           an export _start of () -> ()
 *   int  wrt_guest_invoke(void *instance, uint32_t export_index,
 *                         const uint64_t *args, uint64_t *results)
 *   void *wrt_guest_global(void *instance, uint32_t index)
 * wrt_guest_global points at defined global `index` in the instance (its
 * C type: u32, u64, f32, f64 or wasm-rt's reference), or is NULL when
 * the transform did not find the globals' fields (transform.c); the
 * snapshot of an initialised instance reads and writes them.
 * wrt_guest_invoke calls exported function `export_index` (an export of
 * an imported function, which the rewritten copy leaves out, through the
 * import's thunk) with its
 * arguments and results in 64-bit slots (i32 and f32 in the low 32 bits,
 * f32 and f64 as their bits, externref as the pointer, funcref arguments
 * null, funcref results as the function's address or 0); it returns 0 for
 * an export that is not a function or has v128 values.
 *
 * Out of the module: import i is the thunk Z_wrtZ_f<i>, called with the
 * request's context or, through a table, the address of the instance's
 * field that holds it (rt_ctx_t.self makes both read the same). A WASI
 * preview-1
 * import (module "wasi_snapshot_preview1", a name and type the loader
 * checked against the table of wasi_calls.h) calls the runtime's function
 * directly; any other function import calls wrt_import_call(ctx, i, args, results)
 * with the same slots. Every name written here is the runtime's own (WASI
 * names from that table) or made of numbers: nothing of the module's. */
#include <stdio.h>
#include <string.h>

#include "rt_internal.h"
#include "rt_codegen.h"
#include "wasm_rewrite.h"

#define PREFIX "Z_guest"

static const char *ctype(char t) {
  switch (t) {
  case 'i': return "u32";
  case 'I': return "u64";
  case 'f': return "f32";
  case 'F': return "f64";
  case 'r': return "wasm_rt_funcref_t";
  case 'e': return "wasm_rt_externref_t";
  default: return NULL; /* v128 */
  }
}

/* wasm2c's letter for a value type in a multi-value struct's name. */
static char multi_letter(char t) {
  switch (t) {
  case 'i': return 'i';
  case 'I': return 'j';
  case 'f': return 'f';
  case 'F': return 'd';
  case 'r': return 'r';
  default: return 'e';
  }
}

static bool plain_types(const char *type) { return !strchr(type, 'v'); }

/* The C return type of a function of `results` (the part after ':'). */
static void ret_type(FILE *f, const char *results) {
  size_t n = strlen(results);
  if (n == 0) fputs("void", f);
  else if (n == 1) fputs(ctype(results[0]), f);
  else {
    fputs("struct wasm_multi_", f);
    for (size_t i = 0; i < n; i++) fputc(multi_letter(results[i]), f);
  }
}

/* From a 64-bit slot to a C value of type t, and back. */
static void from_slot(FILE *f, char t, const char *slot) {
  switch (t) {
  case 'i': fprintf(f, "(u32)%s", slot); break;
  case 'I': fprintf(f, "(u64)%s", slot); break;
  case 'f': fprintf(f, "wrt_f32(%s)", slot); break;
  case 'F': fprintf(f, "wrt_f64(%s)", slot); break;
  case 'e': fprintf(f, "(wasm_rt_externref_t)(uintptr_t)%s", slot); break;
  default: fputs("wasm_rt_funcref_null_value", f); break;
  }
}

static void to_slot(FILE *f, char t, const char *value) {
  switch (t) {
  case 'i':
  case 'I': fprintf(f, "(uint64_t)%s", value); break;
  case 'f': fprintf(f, "wrt_bits32(%s)", value); break;
  case 'F': fprintf(f, "wrt_bits64(%s)", value); break;
  case 'e': fprintf(f, "(uint64_t)(uintptr_t)%s", value); break;
  default: fprintf(f, "(uint64_t)(uintptr_t)%s.func", value); break;
  }
}

/* The call of export `k` on `instance` up to its first argument: the
 * generated export's function, or for an export of imported function
 * `index` (which the rewritten copy leaves out) that import's thunk, with
 * the instance's import context as wasm2c's own wrapper would pass it. */
static void export_callee(FILE *f, const wasm_module_t *w, uint32_t k, uint32_t index) {
  if (index < w->nfunc_imports)
    fprintf(f, "Z_" WASM_REWRITE_IMPORT_MODULE "Z_f%u(((" PREFIX "_instance_t *)instance)->Z_"
               WASM_REWRITE_IMPORT_MODULE "_instance", w->func_imports[index]);
  else
    fprintf(f, PREFIX "Z_e%u((" PREFIX "_instance_t *)instance", k);
}

static void invoke_case(FILE *f, const wasm_module_t *w, uint32_t k, const char *type) {
  const char *colon = strchr(type, ':');
  size_t np = (size_t)(colon - type), nr = strlen(colon + 1);
  fprintf(f, "  case %u: {\n    ", k);
  if (nr) {
    ret_type(f, colon + 1);
    fputs(" v = ", f);
  }
  export_callee(f, w, k, w->exports[k].index);
  for (size_t i = 0; i < np; i++) {
    char slot[24];
    snprintf(slot, sizeof(slot), "a[%zu]", i);
    fputs(", ", f);
    from_slot(f, type[i], slot);
  }
  fputs(");\n", f);
  for (size_t i = 0; i < nr; i++) {
    char value[24];
    if (nr == 1) snprintf(value, sizeof(value), "v");
    else snprintf(value, sizeof(value), "v.%c%zu", multi_letter(colon[1 + i]), i);
    fprintf(f, "    r[%zu] = ", i);
    to_slot(f, colon[1 + i], value);
    fputs(";\n", f);
  }
  fputs("    return 1;\n  }\n", f);
}

/* The thunk of function import `i` of type `type`: WASI's function `wasi`
 * called directly, or wrt_import_call. */
static void thunk(FILE *f, uint32_t i, const char *type, const rt_wasi_fn_t *wasi) {
  const char *colon = strchr(type, ':');
  size_t np = (size_t)(colon - type), nr = strlen(colon + 1);
  if (wasi) {
    ret_type(f, colon + 1);
    fprintf(f, " Z_wasi_snapshot_preview1Z_%s(struct Z_wasi_snapshot_preview1_instance_t *",
            wasi->name);
    for (size_t k = 0; k < np; k++) fprintf(f, ", %s", ctype(type[k]));
    fputs(");\n", f);
  }
  ret_type(f, colon + 1);
  fprintf(f, " Z_" WASM_REWRITE_IMPORT_MODULE "Z_f%u(struct Z_" WASM_REWRITE_IMPORT_MODULE
             "_instance_t *ctx",
          i);
  for (size_t k = 0; k < np; k++) fprintf(f, ", %s p%zu", ctype(type[k]), k);
  fputs(") {\n", f);
  /* The context is at `ctx` (see rt_ctx_t.self). */
  if (wasi) {
    fprintf(f, "  %sZ_wasi_snapshot_preview1Z_%s(*(struct Z_wasi_snapshot_preview1_instance_t **)"
               "(void *)ctx",
            nr ? "return " : "", wasi->name);
    for (size_t k = 0; k < np; k++) fprintf(f, ", p%zu", k);
    fputs(");\n}\n", f);
    return;
  }
  fprintf(f, "  uint64_t a[%zu], r[%zu];\n", np ? np : 1, nr ? nr : 1);
  for (size_t k = 0; k < np; k++) {
    char value[24];
    snprintf(value, sizeof(value), "p%zu", k);
    fprintf(f, "  a[%zu] = ", k);
    to_slot(f, type[k], value);
    fputs(";\n", f);
  }
  fprintf(f, "  wrt_import_call(*(void **)(void *)ctx, %u, a, r);\n", i);
  if (nr == 1) {
    fputs("  return ", f);
    from_slot(f, colon[1], "r[0]");
    fputs(";\n", f);
  } else if (nr > 1) {
    ret_type(f, colon + 1);
    fputs(" v;\n", f);
    for (size_t k = 0; k < nr; k++) {
      char slot[24];
      snprintf(slot, sizeof(slot), "r[%zu]", k);
      fprintf(f, "  v.%c%zu = ", multi_letter(colon[1 + k]), k);
      from_slot(f, colon[1 + k], slot);
      fputs(";\n", f);
    }
    fputs("  return v;\n", f);
  }
  fputs("}\n", f);
}

const rt_wasi_fn_t *rt_wasi_find(const wasm_import_t *im) {
  if (im->kind != WASM_EXTERN_FUNC || !wasm_name_is(im->module, "wasi_snapshot_preview1"))
    return NULL;
  for (size_t k = 0; k < rt_wasi_nfns; k++)
    if (wasm_name_is(im->name, rt_wasi_fns[k].name)) return &rt_wasi_fns[k];
  return NULL;
}

int rt_glue_write(FILE *f, const char *wasm_path, const wasm_module_t *w, const rt_globals_t *g) {
  fputs("\n/* " RT_GLUE_VERSION " (wpool runtime): entry points of fixed C types and the\n"
        " * import thunks; see runtime/glue.c. */\n"
        "#include <string.h>\n"
        "static inline f32 wrt_f32(uint64_t b) { uint32_t u = (uint32_t)b; f32 x; "
        "memcpy(&x, &u, 4); return x; }\n"
        "static inline f64 wrt_f64(uint64_t b) { f64 x; memcpy(&x, &b, 8); return x; }\n"
        "static inline uint64_t wrt_bits32(f32 x) { uint32_t u; memcpy(&u, &x, 4); return u; }\n"
        "static inline uint64_t wrt_bits64(f64 x) { uint64_t u; memcpy(&u, &x, 8); return u; }\n"
        "extern void wrt_import_call(void *ctx, uint32_t import, const uint64_t *args, "
        "uint64_t *results);\n"
        /* One struct for every WASI prototype below: declared first in a
         * parameter list, each would be a type of its own, and a module
         * importing one WASI function twice would not compile. */
        "struct Z_wasi_snapshot_preview1_instance_t;\n\n"
        "void wrt_guest_init_module(void) { " PREFIX "_init_module(); }\n"
        "size_t wrt_guest_instance_size(void) { return sizeof(" PREFIX "_instance_t); }\n\n",
        f);
  for (uint32_t i = 0; i < w->nimports; i++) {
    const wasm_import_t *im = &w->imports[i];
    if (im->kind != WASM_EXTERN_FUNC)
      return rt_error(WRT_EIMPORT, "%s: import %u is not a function: the runtime links functions "
                      "only", wasm_path, i);
    const char *type = w->types[im->type];
    if (!plain_types(type) || strchr(type, 'r'))
      return rt_error(WRT_EIMPORT, "%s: import %u has a v128 or funcref value: the runtime "
                      "cannot pass it", wasm_path, i);
    thunk(f, i, type, rt_wasi_find(im));
  }
  fprintf(f, "\nvoid wrt_guest_instantiate(void *instance, void *ctx) {\n"
             "  %s" PREFIX "_instantiate((" PREFIX "_instance_t *)instance%s);\n}\n",
          w->nimports ? "" : "(void)ctx;\n  ",
          w->nimports ? ", (struct Z_" WASM_REWRITE_IMPORT_MODULE "_instance_t *)ctx" : "");
  /* A command's _start, whatever the load asks (so the object depends on
   * the module's bytes alone): the loader refuses a command whose _start
   * is missing or of another type. */
  const wasm_export_t *start = wasm_find_export(w, "_start", 6, WASM_EXTERN_FUNC);
  const char *st = start ? wasm_func_type(w, start->index) : NULL;
  if (st && !strcmp(st, ":")) {
    fputs("\nvoid wrt_guest_start(void *instance) { ", f);
    export_callee(f, w, (uint32_t)(start - w->exports), start->index);
    fputs("); }\n", f);
  }
  fputs("\nint wrt_guest_invoke(void *instance, uint32_t export_index, const uint64_t *a, "
        "uint64_t *r) {\n  (void)a, (void)r;\n  switch (export_index) {\n",
        f);
  for (uint32_t k = 0; k < w->nexports; k++) {
    const wasm_export_t *e = &w->exports[k];
    if (e->kind != WASM_EXTERN_FUNC) continue;
    const char *type = wasm_func_type(w, e->index);
    if (type && plain_types(type)) invoke_case(f, w, k, type);
  }
  fputs("  default: return 0;\n  }\n}\n", f);
  fputs("\nvoid *wrt_guest_global(void *instance, uint32_t index) {\n  (void)instance;\n"
        "  switch (index) {\n", f);
  for (uint32_t i = 0; !g->bad && i < g->n; i++)
    fprintf(f, "  case %u: return &((" PREFIX "_instance_t *)instance)->%s;\n", i, g->names[i]);
  fputs("  default: return 0;\n  }\n}\n", f);
  return 0;
}
