/* The runtime's internals, shared by its files (never by its users).
 *
 * One request runs on one thread from instantiation to free; the thread's
 * current request (rt_cur) is how wasm-rt's functions, called by the
 * generated code without any context of ours, find the instance they act
 * on, and how the signal handler finds the jump buffer and the memory a
 * fault may be a trap in. */
#ifndef WRT_RT_INTERNAL_H
#define WRT_RT_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "../src/util/debug.h" /* debug_assert by level: the library's own */
#include "runtime.h"
#include "wasm-rt.h"
#include "wasm_reader.h"
#include "wpool.h"

/* Sanitizer builds: RT_ASAN (AddressSanitizer) and RT_TSAN
 * (ThreadSanitizer), for gcc and clang. */
#if defined(__SANITIZE_ADDRESS__)
#define RT_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define RT_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(RT_ASAN)
#define RT_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(RT_TSAN)
#define RT_TSAN 1
#endif
#endif
#ifndef RT_ASAN
#define RT_ASAN 0
#endif
#ifndef RT_TSAN
#define RT_TSAN 0
#endif

/* What the generated code may reach past a memory's base without a bounds
 * check: a 32-bit address plus a 32-bit static offset plus the widest
 * access (16 bytes, v128), so up to 8 GiB + 14 bytes. The stock backend
 * reserves this much; the pool's guard must cover it. Rounded to 64 KiB,
 * so that no byte an access names lies past this memory's own guard,
 * however the compiler splits the access (docs/runtime.md). */
#define RT_UNCHECKED_REACH ((8ull << 30) + (64u << 10))

/* The most pages a memory may have here: wasm2c 1.0.32 holds a memory's
 * byte size in a uint32_t (wasm_rt_memory_t.size), so 65,536 pages (4 GiB)
 * would be size 0 and every bounds check would fail. wrt_create refuses a
 * page limit (instance_memory_pages, both backends) above this. */
#define RT_MAX_PAGES 65535u

/* The most tables a module may define here (each a pool table; the pool's
 * instance_tables may allow fewer). */
#define RT_MAX_TABLES 16u

/* A table as the module declares it. */
typedef struct rt_table_decl {
  uint32_t min, max; /* elements; max UINT32_MAX when none */
  bool externref;    /* else funcref */
} rt_table_decl_t;

/* The compiled module's entry points, found with dlsym: the glue's
 * (glue.c), each of the C type written here. */
typedef struct rt_guest_fns {
  void (*init_module)(void);
  void (*instantiate)(void *instance, void *ctx);
  void (*start)(void *instance); /* commands only */
  int (*invoke)(void *instance, uint32_t export_index, const uint64_t *args, uint64_t *results);
  size_t (*instance_size)(void);
  void *(*global)(void *instance, uint32_t index); /* defined global `index`, or NULL */
} rt_guest_fns_t;

/* WASI: the preview-1 functions the runtime defines, with their wasm
 * types in the reader's notation. */
typedef struct rt_wasi_fn {
  const char *name;
  const char *type;
  void (*fn)(void);
} rt_wasi_fn_t;
extern const rt_wasi_fn_t rt_wasi_fns[];
extern const size_t rt_wasi_nfns;

/* An import of the module as linked at load (rt_link.c). */
typedef struct rt_link {
  const rt_wasi_fn_t *wasi; /* a WASI function (the glue calls it directly), or NULL: */
  wrt_import_t host;        /* the embedder's function, its types in `types` */
  wrt_valtype_t *types;
} rt_link_t;

/* An export of the module, copied (the module's bytes are not kept). */
typedef struct rt_export {
  char *name; /* len bytes (NUL bytes allowed), NUL-terminated */
  size_t len;
  uint8_t kind;
  wrt_valtype_t *types; /* functions: nparams parameters, then nresults results */
  uint32_t nparams, nresults;
  bool callable; /* no v128 value */
} rt_export_t;

struct wrt_module {
  wrt_runtime_t *rt;
  struct wrt_module *next, *prev; /* rt->modules, under rt->lock */
  char *path;
  void *dl;           /* dlopen handle */
  rt_guest_fns_t fns;
  size_t instance_size; /* sizeof the generated instance struct */
  /* What the .wasm declares (memory 0 and its tables). */
  bool has_memory;
  uint64_t min_pages, max_pages; /* max 65536 when the module has none */
  uint64_t start_pages; /* an instance's pages at start: min_pages, or its snapshot's */
  struct rt_snapshot *snap; /* the initialised state instances start from (rt_snapshot.c) */
  uint32_t ntables;
  rt_table_decl_t tables[RT_MAX_TABLES];
  uint32_t nsegments;
  uint64_t segment_bytes;
  uint32_t nimports;
  bool from_cache;
  bool library;          /* loaded as a library (wrt_load_options_t), not a command */
  rt_link_t *links;      /* nlinks == nimports */
  uint32_t nlinks;
  rt_export_t *exports;
  uint32_t nexports;
  /* Pool backend: the pool's module, its image built from the segments. */
  wpool_module_t *pm;
  /* Stock backend: the active data segments (offset, bytes), copied at
   * load and written into each new memory in order (the generated code
   * holds none of their bytes: wasm_rewrite.c). */
  struct rt_data *data;
  uint32_t ndata;
  atomic_uint_fast64_t running; /* requests in flight on this module */
  /* The compiled object's executable bytes (rt_code_range): a program
   * counter in [code_lo, code_hi) is the module's generated code. */
  uintptr_t code_lo, code_hi;
};

struct wrt_runtime {
  wrt_backend_t backend;
  const struct rt_backend *ops; /* the backend's table (rt_backend_pool or rt_backend_stock) */
  wpool_t *pool;
  wpool_config_t cfg;
  char *cache_dir;
  char *cc;
  /* A compile's bounds (wrt_options_t, defaults filled in; WRT_NO_LIMIT:
   * none). */
  uint64_t compile_timeout_ms, compile_cpu_seconds, compile_memory_bytes, compile_file_bytes;
  char *tool_tag; /* the toolchain's versions, part of the cache key (under lock) */
  bool temps_cleaned; /* the cache's dead temporaries were removed once (under lock) */
  wrt_resolve_t wasi_resolve; /* WASI's path resolver: WRT_RESOLVE_OPENAT2 or _WALK */
  pthread_mutex_t lock; /* modules, loading */
  struct wrt_module *modules;
  atomic_uint_fast64_t running;
  atomic_uint_fast64_t requests, traps, nonzero_exits, exhausted, modules_loaded, cache_hits,
      cache_misses, timeouts;
  /* rt_watchdog.c: started by the first request with a time limit. */
  struct rt_watchdog *_Atomic watchdog;
};

/* How a jump back to the request's sigsetjmp is coded: trap kinds as
 * wasm-rt numbers them, plus these. */
enum { RT_JUMP_EXIT = 1000, RT_JUMP_NOMEM = 1001, RT_JUMP_TIMEOUT = 1002, RT_JUMP_REFUSED = 1003 };

typedef void (*rt_inspect_fn)(const uint8_t *mem, uint64_t len, void *arg);

/* The request running on this thread. */
typedef struct rt_ctx {
  /* Itself, first: the glue's import thunks receive either this context
   * (a direct call) or the address of the generated instance's field that
   * holds it (a call through a table: wasm2c 1.0.32's funcref of an
   * imported function points there), and read the context at it. */
  struct rt_ctx *self;
  wrt_module_t *m;
  const wrt_request_t *req;
  wrt_result_t *res;
  rt_inspect_fn inspect; /* wrt_inspect: look at the memory instead of _start */
  void *inspect_arg;
  uint64_t t0;           /* the request's start (CLOCK_MONOTONIC, ns); 0 unless timed or limited */
  int jump;              /* how the guest's run ended: 0, or the jump's code */
  sigjmp_buf jb;         /* taken on the guest's stack (rt_stack.c) */
  bool in_guest;          /* between sigsetjmp and the end of the run */
  /* A host function the generated code called is running (RT_HOST_CALL):
   * a fault now is never the guest's trap, a timeout waits for its return.
   * Written by this thread, read by its signal handlers. */
  _Atomic bool in_host;
  _Atomic bool timeout_pending; /* the deadline passed during a host call */
  uint64_t deadline_ns;  /* CLOCK_MONOTONIC; 0: no time limit */
  /* The stack the guest runs on (rt_stack.c): usable bytes [stack_lo,
   * stack_top), its guard [guard_lo, stack_lo). */
  uintptr_t stack_lo, stack_top, guard_lo;
  bool stack_guarded;      /* [guard_lo, stack_lo) is a guard page (else a margin) */
  wpool_stack_t *pstack;   /* pool backend: the pool's stack */
  wpool_instance_t *pinst; /* pool backend */
  void *guest;             /* the generated instance struct */
  wasm_rt_memory_t *mem;   /* memory 0 once allocated */
  uint32_t ntables;        /* tables allocated so far, in index order */
  void *tables[RT_MAX_TABLES]; /* wasm_rt_funcref_table_t or wasm_rt_externref_table_t */
  uint8_t *fault_lo, *fault_hi; /* stock: faults in [lo, hi) are this instance's OOB traps */
  size_t stdin_pos;
  int32_t exit_code;
  struct wasi_fds *fds;    /* WASI's descriptor table, made at its first change */
  bool at_load;             /* running a snapshot's init: WASI refuses what varies */
  /* What the host refused the guest for its own reasons (out of memory,
   * mappings), not a limit: a memory.grow or table.grow, WASI's
   * descriptor table: an outcome a snapshot must not keep. */
  uint32_t host_failures;
  const char *refused_call; /* the WASI call that ended it, and why (RT_JUMP_REFUSED) */
} rt_ctx_t;

extern _Thread_local rt_ctx_t *rt_cur;

/* Errors (rt_error.c): set this thread's message and return the code.
 * Any argument may be wrt_last_error() itself. */
int rt_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The WRT_E* code for a WPOOL_E* code (0 for 0). */
int rt_error_from_wpool(int wpool_err);
/* The trap kind of a jump code (wasm-rt's trap numbers), and back. */
wrt_trap_t rt_trap_of(int code);
int rt_trap_code(wrt_trap_t t);

/* Signals and threads (rt_signal.c). The process-wide SIGSEGV/SIGBUS
 * handler, installed once (0 or a WRT_E* code); and per thread, before its
 * first request, the alternate signal stack and the stack's bounds. */
int rt_signals_install(void);
int rt_thread_init(void);
/* The executable bytes of m's object, for the handlers (at load). */
void rt_code_range(wrt_module_t *m);
/* The thread's own stack: its lowest usable byte (after rt_thread_init). */
uintptr_t rt_thread_stack_lo(void);

/* Function types (rt_types.c): the index of the type of `nparams`
 * parameters and `nresults` results (wasm_rt_type_t codes, parameters
 * first); equal lists, and only they, get equal indices (>= 1). */
uint32_t rt_types_register(const uint32_t *codes, uint32_t nparams, uint32_t nresults);

/* The request's end (every way out: return, exit, trap, out of memory):
 * close every host descriptor it opened, free its table. */
void rt_wasi_end(rt_ctx_t *c);
/* A request's dirs and max_fds: 0, or WRT_EINVAL with the message set. */
int rt_wasi_check(const wrt_request_t *req);
/* Whether openat2 with RESOLVE_BENEATH works here: 0 or -1 (errno). */
int rt_wasi_probe_openat2(void);

/* A backend: where instances, memories and tables live. One table each
 * (rt_pool.c, rt_stock.c); the runtime calls through rt->ops, never asks
 * which backend it has. Memory and table calls come from the generated
 * code during a request (on the request's thread); a false or UINT32_MAX
 * return is wasm-rt's failure (the request ends with WRT_ENOMEM, or
 * memory.grow and table.grow return -1). */
typedef struct rt_backend {
  const char *name; /* "pool" or "stock" */
  /* wrt_create: check the configuration and make the backend's state
   * (the pool). 0 or a WRT_E* code with the message set. */
  int (*create)(wrt_runtime_t *rt);
  /* wrt_destroy: 0, or WRT_EBUSY (the message set) while the pool still
   * has live instances. */
  int (*destroy)(wrt_runtime_t *rt);
  /* Loading: the module's instances' description (the pool's module and
   * image); module_release undoes it (and accepts a module without it). */
  int (*module_new)(wrt_module_t *m, const wasm_module_t *w);
  void (*module_release)(wrt_module_t *m);
  /* A request: c->guest, the generated instance struct, zeroed; 0 or
   * WRT_EEXHAUSTED, WRT_ENOMEM, WRT_ESYS with the message set.
   * instance_free gives back all the instance holds, even when a trap cut
   * the instantiation short. */
  int (*instance_new)(rt_ctx_t *c);
  void (*instance_free)(rt_ctx_t *c);
  /* wasm-rt's memory and table functions for memory 0 and table `i`
   * (c->m->tables[i] says its kind: `t` is a wasm_rt_funcref_table_t or a
   * wasm_rt_externref_table_t, `init` a wasm_rt_funcref_t or a
   * wasm_rt_externref_t). */
  bool (*memory_allocate)(rt_ctx_t *c, wasm_rt_memory_t *mem, uint32_t initial, uint32_t max);
  uint32_t (*memory_grow)(rt_ctx_t *c, wasm_rt_memory_t *mem, uint32_t delta);
  bool (*table_allocate)(rt_ctx_t *c, uint32_t i, void *t, uint32_t elements, uint32_t max);
  uint32_t (*table_grow)(rt_ctx_t *c, uint32_t i, void *t, uint32_t delta, const void *init);
  /* Whether a fault at `addr` is an out-of-bounds access of the current
   * instance's memory (async-signal-safe). */
  bool (*fault_is_oob)(const rt_ctx_t *c, const void *addr);
  /* The stack the request's guest runs on (c->stack_lo, stack_top,
   * guard_lo); 0 or WRT_EEXHAUSTED, WRT_ENOMEM with the message set.
   * stack_free gives it back. */
  int (*stack_new)(rt_ctx_t *c);
  void (*stack_free)(rt_ctx_t *c);
} rt_backend_t;

extern const rt_backend_t rt_backend_pool, rt_backend_stock;

/* Guest stacks (rt_stack.c). The stock backend's: one per thread, made at
 * its first request (cfg.async_stack_size usable bytes, a guard page
 * below), unmapped when the thread exits. */
int rt_stack_of_thread(rt_ctx_t *c);
/* Whether guests run on stacks of their own here (x86-64); elsewhere on
 * the thread's stack, and the backends' stacks are not taken. */
extern const bool rt_stack_switches;
/* Run fn(c) on c's stack (or, where the runtime has no stack switch, on
 * the thread's own: docs/runtime.md), back on the thread's stack after. */
void rt_stack_run(rt_ctx_t *c, void (*fn)(rt_ctx_t *c));
/* Give c the bounds of the stack this thread runs on now (for guest code
 * called in place, as wrt_call does): the guest's stack of `outer` when
 * running on it, else the thread's own. */
void rt_stack_here(rt_ctx_t *c, const rt_ctx_t *outer);
/* After a jump to c->jb landed (on the guest's stack): forget what the
 * jump skipped (the sanitizers' view of the stack). */
void rt_stack_landed(rt_ctx_t *c);

/* Time limits (rt_watchdog.c): a request's deadline set (0, or WRT_ESYS
 * or WRT_ENOMEM when the watchdog cannot start) and cleared; the watchdog
 * stopped (wrt_destroy). The watchdog sends RT_TIMEOUT_SIGNAL to a thread
 * whose request is past its deadline, every millisecond until it ends;
 * the handler (rt_signal.c) acts only while the thread runs generated
 * code. */
#define RT_TIMEOUT_SIGNAL SIGURG
int rt_deadline_set(rt_ctx_t *c, uint64_t deadline_ns);
void rt_deadline_clear(rt_ctx_t *c);
void rt_watchdog_stop(wrt_runtime_t *rt);

/* CLOCK_MONOTONIC in nanoseconds (async-signal-safe). */
static inline uint64_t rt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Loading (rt_load.c): free a module and what its backend holds. */
void rt_module_destroy(wrt_module_t *m);

/* Linking (rt_link.c): bind the module's imports (WASI's, or the
 * embedder's `host`), copy its exports; free both. Values to and from the
 * glue's 64-bit slots. */
int rt_link_imports(wrt_module_t *m, const wasm_module_t *w, const wrt_import_t *host,
                    uint32_t nhost);
int rt_link_exports(wrt_module_t *m, const wasm_module_t *w);
void rt_link_free(wrt_module_t *m);
uint64_t rt_slot_of(const wrt_value_t *v);
void rt_value_of(wrt_valtype_t t, uint64_t slot, wrt_value_t *v);

/* The compile cache (cache.c): the module's object, found in the cache
 * and checked against its manifest, or compiled and stored; dlopened from
 * the checked bytes. */
int rt_object_open(wrt_runtime_t *rt, const char *wasm_path, const uint8_t *bytes, size_t len,
                   const wasm_module_t *w, void **dl, bool *from_cache);
bool rt_write_all(int fd, const void *bytes, size_t len);

/* Compilation (compile.c): the rewritten copy translated, transformed and
 * compiled in directory `dfd` (the tools' working directory), into
 * RT_COMPILED_OBJECT there. And the toolchain's tag (versions and flags,
 * part of the cache key; computed once, rt->lock). And reading at most
 * `max` bytes of the regular file `name` in `dfd`, not through a link (0
 * and the bytes, NUL-terminated; or -1). */
#define RT_COMPILED_OBJECT "guest.so"
int rt_compile(wrt_runtime_t *rt, const char *wasm_path, const wasm_module_t *w, int dfd);
int rt_read_at(int dfd, const char *name, uint64_t max, uint8_t **out, size_t *len);
int rt_toolchain_tag(wrt_runtime_t *rt, const char **tag);

/* Running a tool (tool.c): argv[0] (searched in PATH) with the working
 * directory `cwd_fd` (-1: this process's; else TMPDIR is "." for it),
 * stdin /dev/null, stdout and stderr to `out_fd`, in a process group of
 * its own under these limits (WRT_NO_LIMIT: none), the group killed at
 * `deadline_ns` (CLOCK_MONOTONIC; 0: none) and when it exits. 0 with its
 * wait status in *status (*timed_out when the deadline killed it), or
 * WRT_ETOOLCHAIN (it cannot run) or WRT_ESYS with the message set. */
typedef struct rt_tool_limits {
  uint64_t memory_bytes; /* RLIMIT_AS of each process */
  uint64_t cpu_seconds;  /* RLIMIT_CPU of each process */
  uint64_t file_bytes;   /* RLIMIT_FSIZE: the largest file it may write */
  uint64_t deadline_ns;
} rt_tool_limits_t;
int rt_tool_run(char *const argv[], int cwd_fd, int out_fd, const rt_tool_limits_t *lim,
                int *status, bool *timed_out);

/* The WASI function import `im` names (its type unchecked), or NULL. */
const rt_wasi_fn_t *rt_wasi_find(const wasm_import_t *im);

/* SHA-256 (sha256.c): with the CPU's SHA extensions where it has them
 * (rt_sha256_accelerated), else portable code (rt_sha256_portable). */
void rt_sha256(const void *data, size_t len, uint8_t out[32]);
void rt_sha256_portable(const void *data, size_t len, uint8_t out[32]);
bool rt_sha256_accelerated(void);

/* Host calls (RT_HOST_CALL), which need the context above. */
#include "rt_host.h"

#endif /* WRT_RT_INTERNAL_H */
