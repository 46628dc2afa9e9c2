/* wrt: modules with imports, instances, calls (the instance API).
 * Part of runtime.h, which includes it after the types it uses: include
 * runtime.h, not this file. */
#ifndef WRT_RUNTIME_INSTANCE_H
#define WRT_RUNTIME_INSTANCE_H

#ifndef WRT_RUNTIME_H
#error "include runtime.h, not runtime_instance.h"
#endif

/* ------------------------------------------------------------------ */
/* Modules with imports, instances, calls                               */
/* A module instantiated once and its exported functions called with
 * typed arguments, under trap protection: the spec tests' harness
 * (tests/spec/), and what pre-initialisation needs (instantiate, run an
 * init function). */

typedef enum wrt_valtype {
  WRT_I32 = 0,
  WRT_I64,
  WRT_F32,
  WRT_F64,
  WRT_V128,      /* in types only: calls cannot pass it */
  WRT_FUNCREF,
  WRT_EXTERNREF,
} wrt_valtype_t;

/* A value. Floats are carried as their bits (no arithmetic touches them,
 * NaN payloads included). A funcref argument must be NULL (the host
 * cannot make a function reference); a funcref result is NULL or the
 * function's code address, for comparison only. */
typedef struct wrt_value {
  wrt_valtype_t type;
  union {
    uint32_t i32;
    uint64_t i64;
    float f32;
    double f64;
    void *externref;     /* NULL is ref.null extern */
    const void *funcref; /* NULL is ref.null func */
  } of;
} wrt_value_t;

/* A host function a module may import. Called on the calling thread, in
 * the middle of the guest's code, with the arguments of the import's
 * type; it writes its results and returns WRT_TRAP_NONE, or a trap kind,
 * which traps the guest (a nested wrt_call's trap passed on, say). It may
 * call wrt_call (on this or another instance), not wrt_run. */
typedef wrt_trap_t (*wrt_host_fn)(void *env, const wrt_value_t *args, wrt_value_t *results);

/* An import the embedder provides: module and name as the module spells
 * them (NUL-terminated), the function's type (at most 64 parameters and
 * 64 results; no v128 or funcref), the function and its `env`. */
typedef struct wrt_import {
  const char *module, *name;
  const wrt_valtype_t *params, *results;
  uint32_t nparams, nresults;
  wrt_host_fn fn;
  void *env;
} wrt_import_t;

typedef struct wrt_load_options {
  /* The module's name in messages and wrt_module_info; with bytes NULL,
   * the file to read. */
  const char *name;
  const void *bytes; /* the module's bytes (not kept), or NULL */
  size_t len;        /* bytes at `bytes`; at most 1 GiB */
  /* Host functions the module may import besides WASI's (copied). An
   * import neither WASI's nor here, or here with another type, is
   * refused with WRT_EIMPORT. Imports of memories, tables and globals
   * are refused. */
  const wrt_import_t *imports;
  uint32_t nimports;
  /* false: a WASI command, _start of () -> () required, run by wrt_run.
   * true: any module; its functions are called by wrt_call (wrt_run
   * runs its _start only if it has one of () -> (); WRT_EINVAL else). */
  bool library;
  /* Pre-initialisation (docs/snapshot.md): the exported function of type
   * () -> () run once at load, whose memory and globals become the
   * state every instance starts from (tables it may not change). NULL: "wizer.initialize" when
   * the module exports it, else none; "": none; a name: that function,
   * WRT_EINVAL when the module exports no such function. It runs with no
   * arguments, environment, stdin or preopens; a WASI call whose result
   * varies per request or per moment (clocks, random, args, environ,
   * reading, polling) or changes the descriptor table (close, renumber,
   * set flags or rights) ends it. Then, or when it traps, exits or runs
   * past init_timeout_ms, the load fails with WRT_EINIT naming why. It
   * takes a pool slot while it runs (WRT_EEXHAUSTED when none is free). The
   * snapshot is kept in the compile cache (keyed by the module, the
   * toolchain, the name and the pool's page limit) and read from there by
   * later loads instead of running the init again. */
  const char *init;
  /* Wall-clock limit on the init function, in milliseconds; 0: 10,000. */
  uint64_t init_timeout_ms;
} wrt_load_options_t;

/* The init function's default time limit (wrt_load_options_t). */
#define WRT_INIT_TIMEOUT_MS_DEFAULT 10000u

/* Zero: no name, no bytes, no imports, a command, "wizer.initialize" run
 * at load when exported. */
void wrt_load_options_init(wrt_load_options_t *o);

/* As wrt_load / wrt_load_bytes, with options. Return: as wrt_load;
 * WRT_EINVAL for bad options (an import of a v128 or funcref value, or
 * more than 64 parameters). Context: any thread. */
int wrt_load_ex(wrt_runtime_t *rt, const wrt_load_options_t *o, wrt_module_t **out);

/* An exported function: its export index and type (the arrays are the
 * module's, valid while it is loaded). */
typedef struct wrt_func {
  uint32_t export_index;
  uint32_t nparams, nresults;
  const wrt_valtype_t *params, *results;
} wrt_func_t;

/* The exported function named by the `len` bytes at `name` (any bytes:
 * names may hold NUL). Return: 0, or WRT_EINVAL when the module exports
 * no function of that name. */
int wrt_func_find(const wrt_module_t *m, const void *name, size_t len, wrt_func_t *out);

/* Export `i` (0 <= i < wrt_module_nexports): its name (`name_len` bytes,
 * the module's copy) and, for a function, *is_func and *f. Return: 0, or
 * WRT_EINVAL for i out of range. */
uint32_t wrt_module_nexports(const wrt_module_t *m);
int wrt_module_export(const wrt_module_t *m, uint32_t i, const char **name, size_t *name_len,
                      bool *is_func, wrt_func_t *f);

typedef struct wrt_instance wrt_instance_t;

/* Instantiate `m` (a pool slot or, stock, fresh mappings) and run its
 * start function if it has one; the instance lives until
 * wrt_instance_free (wrt_unload and wrt_destroy answer WRT_EBUSY
 * meanwhile). A trap during instantiation is a successful call: *trap
 * says which, *out is NULL and nothing is held. WASI imports see no
 * arguments, no environment, no stdin; their output is kept up to 16 MiB
 * (wrt_instance_output). Return: 0, WRT_EEXHAUSTED, WRT_ENOMEM, WRT_EINVAL.
 * Context: any thread. */
int wrt_instantiate(wrt_module_t *m, wrt_instance_t **out, wrt_trap_t *trap);

/* Call `f` of `inst` with `f->nparams` arguments of its types, writing
 * `f->nresults` results. A trap is a successful call (*trap; the
 * instance stays usable, its memory as the trap left it). Return: 0;
 * WRT_EINVAL (an argument of another type, naming it; a non-null
 * funcref; v128 values); WRT_ENOMEM. Context: one thread at a time per
 * instance; inside a host function too (nested calls, any instance). */
int wrt_call(wrt_instance_t *inst, const wrt_func_t *f, const wrt_value_t *args,
             wrt_value_t *results, wrt_trap_t *trap);

/* The exit code of a call that ended in WASI's proc_exit (WRT_TRAP_EXIT),
 * and what WASI's fd_write wrote (res->out, res->err; not to be freed). */
int32_t wrt_instance_exit_code(const wrt_instance_t *inst);
const wrt_result_t *wrt_instance_output(const wrt_instance_t *inst);

/* Free the instance (its pool slot goes back to the pool). */
void wrt_instance_free(wrt_instance_t *inst);

#endif /* WRT_RUNTIME_INSTANCE_H */
