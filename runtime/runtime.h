/* wrt: a WebAssembly runtime on wpool (issue 12). The embedding API that
 * `wpool wasm` and `wpool serve` are built on; docs/runtime.md is the guide.
 *
 * A runtime holds loaded modules and runs requests on them. A module is a
 * WebAssembly command (`_start`, WASI preview 1) translated by wasm2c,
 * compiled to a shared object (cached) and loaded with dlopen. A request
 * instantiates the module afresh, runs `_start` with its arguments,
 * environment and stdin bytes, collects stdout and stderr, and frees the
 * instance. Two backends: WRT_BACKEND_POOL takes each instance's memory,
 * table and state from a wpool pool; WRT_BACKEND_STOCK uses Debian's stock
 * wasm2c runtime (an 8 GiB mapping per memory, calloc'd tables) for
 * comparison. Both run the same compiled code and the same WASI host.
 *
 * Errors: every fallible call returns 0 or a negative WRT_E* code;
 * wrt_last_error() then holds this thread's message, naming the module, the
 * limit and the value. Loading checks everything a request needs (format,
 * imports, limits against the pool); a request fails only for reasons of
 * its own (pool exhausted, host memory).
 *
 * Threads: wrt_run may be called from any number of threads at once, on the
 * same or different modules. wrt_load and wrt_unload may run concurrently
 * with requests on other modules. wrt_destroy must run alone. */
#ifndef WRT_RUNTIME_H
#define WRT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: negative, disjoint from WPOOL_E* only in meaning. The one
 * table: XX(NAME, NUMBER, MEANING) gives WRT_NAME = -NUMBER, and
 * wrt_strerror gives "WRT_NAME: MEANING". */
#define WRT_ERRNO_MAP(XX)                                                                   \
  XX(EINVAL, 1, "bad argument")                                                             \
  XX(EFORMAT, 2, "not a valid WebAssembly module for this runtime")                         \
  XX(EIMPORT, 3, "the module imports something the runtime lacks")                          \
  XX(ELIMIT, 4, "the module exceeds a limit of the pool or the runtime")                   \
  XX(ETOOLCHAIN, 5, "wasm2c or the C compiler failed")                                      \
  XX(EEXHAUSTED, 6, "every instance slot is in use")                                        \
  XX(ENOMEM, 7, "host memory or address space ran out")                                     \
  XX(ESYS, 8, "operating-system failure")                                                   \
  XX(EBUSY, 9, "requests are running")                                                     \
  XX(EINIT, 10, "the module's initialisation could not be snapshotted")

/* The messages (wrt_last_error) say more: WRT_EFORMAT names the section
 * and byte or the construct the runtime does not handle, WRT_ELIMIT the
 * limit and the value (the pool's, the reader's, or a compile's bound),
 * WRT_ETOOLCHAIN the failing tool's output, WRT_ESYS the call (file,
 * dlopen, mmap), WRT_EINIT why the init function gave no snapshot (the
 * WASI call it made, its trap, exit or time limit; docs/snapshot.md). */
typedef enum wrt_errno {
#define WRT_ERRNO_ENUM_(name, number, meaning) WRT_##name = -(number),
  WRT_ERRNO_MAP(WRT_ERRNO_ENUM_)
#undef WRT_ERRNO_ENUM_
} wrt_errno_t;

/* "WRT_EIMPORT: the module imports ..." for a code, "success" for 0,
 * "unknown error" for a code not in the table. Static string. */
const char *wrt_strerror(int err);
/* This thread's message for its last failed call; "" when none. */
const char *wrt_last_error(void);

typedef enum wrt_backend {
  WRT_BACKEND_POOL = 0,  /* memories, tables and state from a wpool pool */
  WRT_BACKEND_STOCK = 1, /* Debian's wasm-rt memory and tables (mmap/calloc per instance) */
} wrt_backend_t;

/* "pool" or "stock". */
const char *wrt_backend_name(wrt_backend_t b);

/* How WASI resolves a guest's path under a preopened directory. Both keep
 * it inside the directory (docs/runtime.md). */
typedef enum wrt_resolve {
  WRT_RESOLVE_AUTO = 0,    /* openat2 where the kernel has it (and seccomp allows it), else WALK */
  WRT_RESOLVE_OPENAT2 = 1, /* openat2 with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (Linux 5.6) */
  WRT_RESOLVE_WALK = 2,    /* component by component, O_NOFOLLOW, each directory held open */
} wrt_resolve_t;

typedef struct wrt_options {
  wrt_backend_t backend;
  /* Pool backend: the pool's configuration, or NULL for wrt_config_init's.
   * The runtime checks that it is safe for wasm2c's unchecked accesses
   * (WRT_EINVAL otherwise, naming the field); it raises
   * memory_unchecked_reach to what wasm2c's code may reach and sets
   * table_element_size to wasm2c's funcref size. */
  const wpool_config_t *pool_config;
  /* Where compiled modules are cached; NULL: $WPOOL_CACHE_DIR, else
   * $XDG_CACHE_HOME/wpool, else $HOME/.cache/wpool, else
   * ${TMPDIR:-/tmp}/wpool-cache-<uid>. Directories the runtime makes are
   * 0700; a load refuses (WRT_EINVAL) a cache owned by another user than
   * this one or root, or writable by its group or others. An object is
   * used only when its manifest (key, size, SHA-256, toolchain) matches
   * it; otherwise it is rebuilt, or, in a cache that cannot be written,
   * the load fails with WRT_ESYS. A read-only cache of valid objects
   * works. docs/runtime.md, "The compile cache". */
  const char *cache_dir;
  /* The C compiler; NULL: $CC, else "cc". */
  const char *cc;
  /* WASI's path resolver; WRT_RESOLVE_OPENAT2 where the kernel refuses
   * openat2 is WRT_EINVAL at wrt_create. */
  wrt_resolve_t resolve;
  /* Bounds on compiling a module (wasm2c, then the C compiler and the
   * processes it starts), which a module's bytes drive: 0 takes the
   * default, WRT_NO_LIMIT sets none. A compile that runs into one fails
   * with WRT_ELIMIT naming the option and its value (the time limit kills
   * the tools' whole process group). docs/runtime.md, "Loading". */
  uint64_t compile_timeout_ms;   /* wall clock for a compile's tools together; 300,000 (5 min) */
  uint64_t compile_cpu_seconds;  /* CPU time of each tool process (RLIMIT_CPU); 300 s */
  uint64_t compile_memory_bytes; /* address space of each tool process (RLIMIT_AS); 4 GiB */
  uint64_t compile_file_bytes;   /* the largest file a tool writes (RLIMIT_FSIZE); 1 GiB */
} wrt_options_t;

/* A compile bound that is no bound (wrt_options_t.compile_*). */
#define WRT_NO_LIMIT UINT64_MAX
#define WRT_COMPILE_TIMEOUT_MS_DEFAULT 300000u
#define WRT_COMPILE_CPU_SECONDS_DEFAULT 300u
#define WRT_COMPILE_MEMORY_BYTES_DEFAULT (4ull << 30)
#define WRT_COMPILE_FILE_BYTES_DEFAULT (1ull << 30)

/* Fill `opts` with the defaults: the pool backend, NULL for the rest, 0
 * (the defaults above) for the compile's bounds. */
void wrt_options_init(wrt_options_t *opts);

/* The pool configuration the runtime uses by default: wpool_config_init's,
 * with what wasm2c's code needs to be safe (a 4 GiB reservation, a guard of
 * 4 GiB plus 64 KiB and memory_unchecked_reach 8 GiB + 64 KiB, since an
 * access may reach base + 8 GiB + 13 bytes) and wasm2c's 24-byte table
 * elements; the keep budgets are the library's automatic ones. */
void wrt_config_init(wpool_config_t *cfg);

typedef struct wrt_runtime wrt_runtime_t;
typedef struct wrt_module wrt_module_t;

/* Create a runtime (and, for the pool backend, its pool). Installs the
 * process-wide SIGSEGV/SIGBUS handler that turns a guest's faults into
 * traps (a fault anywhere else still crashes the process) and the SIGURG
 * handler of time limits (a SIGURG not sent by the runtime goes to the
 * handler installed before).
 * Return: 0, WRT_EINVAL (bad options or an unsafe pool layout), WRT_ENOMEM,
 * WRT_ESYS. */
int wrt_create(const wrt_options_t *opts, wrt_runtime_t **out);

/* Destroy the runtime and every module still loaded.
 * Return: 0, or WRT_EBUSY (nothing destroyed) while a request runs. */
int wrt_destroy(wrt_runtime_t *rt);
/* Kill (SIGKILL) the process group of every tool that a compile runs
 * now, in any runtime of the process (wasm2c, the C compiler and what it
 * started): for a process about to end without waiting for its loads
 * (`wpool serve` at a stop that does not wait for a compile). Those loads
 * fail. Context: any thread; async-signal-safe. */
void wrt_kill_compiles(void);

wrt_backend_t wrt_backend(const wrt_runtime_t *rt);
/* The pool of the pool backend (for wpool_stats_get and the like); NULL
 * for the stock backend. */
wpool_t *wrt_pool(wrt_runtime_t *rt);

/* Load the module at `wasm_path` (a regular file of at most 1 GiB): read
 * and check it, translate it with wasm2c and compile it (or find it in the
 * cache, keyed by the file's SHA-256 and the toolchain, and checked
 * against its manifest), dlopen it, and register it with the pool.
 * Return: 0; WRT_EFORMAT (not WebAssembly, not a regular file, or a
 * construct the runtime does not handle, e.g. v128 and SIMD, a data
 * segment at a non-constant offset or a _start that is not () -> ();
 * wasm2c's refusal of an invalid module too), WRT_EIMPORT (an import
 * other than a WASI preview-1 function, or one of the wrong type; the
 * message names it), WRT_ELIMIT (the pool's limits, the reader's, or a
 * compile's bounds: named with the value), WRT_EINVAL (an unsafe cache
 * directory), WRT_ETOOLCHAIN, WRT_ENOMEM, WRT_ESYS. docs/runtime.md,
 * "Limits", lists what is refused. Context: any thread. */
int wrt_load(wrt_runtime_t *rt, const char *wasm_path, wrt_module_t **out);

/* As wrt_load, from `len` bytes in memory (for modules embedded in a
 * program or received over a network); `name` stands for the path in
 * messages and in wrt_module_info. The bytes are not kept. */
int wrt_load_bytes(wrt_runtime_t *rt, const char *name, const void *bytes, size_t len,
                   wrt_module_t **out);

/* Unload a module. Return: 0, or WRT_EBUSY while a request runs on it.
 * The caller makes sure no new request starts on `m` meanwhile (as with
 * any handle being freed). */
int wrt_unload(wrt_module_t *m);

/* What the loader read from the .wasm. */
typedef struct wrt_module_info {
  const char *path;
  uint64_t min_pages, max_pages; /* memory 0; max_pages 65536 when none */
  uint32_t table_min, table_max; /* table 0; 0/0 when none */
  uint32_t nsegments;            /* active data segments: the memory's image */
  uint64_t segment_bytes;        /* their bytes */
  uint32_t nimports;
  bool from_cache;               /* the compiled object came from the cache */
  /* Pre-initialisation (wrt_load_options_t.init, docs/snapshot.md). */
  bool snapshot;                 /* instances start from the init function's state */
  uint64_t start_pages;          /* memory 0's pages at an instance's start (min_pages, or the
                                    snapshot's size) */
  uint64_t snapshot_bytes;       /* the snapshot's image: its non-zero 4 KiB blocks, bytes */
  uint32_t snapshot_globals;     /* globals the init changed */
  uint64_t snapshot_init_ns;     /* the init function's run, ns (at the load that ran it) */
  bool snapshot_from_cache;      /* read from the compile cache: the init did not run */
} wrt_module_info_t;

void wrt_module_info(const wrt_module_t *m, wrt_module_info_t *out);

/* The SHA-256 of `len` bytes (the digest the module cache keys a module's
 * bytes by): with the CPU's SHA extensions where it has them. A server
 * names a module's version by it. Context: any thread. */
void wrt_sha256(const void *data, size_t len, uint8_t out[32]);

/* A host directory a request's guest sees as a WASI preopened directory
 * (WAGI's volumes). */
typedef struct wrt_dir {
  /* Its name inside the guest: "/", "data", "/srv/www" (1 to 1,024 bytes,
   * no NUL). wasi-libc resolves a path against the preopen whose name is
   * its longest prefix, a relative one from "/": a preopen named "/" is
   * what `wasmtime run --dir HOST::/` gives. */
  const char *guest_path;
  /* An open host directory (wrt_dir_open), the embedder's: the runtime
   * never closes it, moves its offset or changes its flags, so one
   * descriptor serves every request on every thread. */
  int fd;
  /* Read-only: the guest gets no right to create, write, truncate,
   * rename, link, remove or touch anything in it or below it. */
  bool read_only;
} wrt_dir_t;

/* Open `host_path` as a directory for wrt_dir_t.fd (O_PATH | O_DIRECTORY |
 * O_CLOEXEC; close it with close(2) when no request uses it any more).
 * Return: 0, or WRT_ESYS with the message naming the path and the reason. */
int wrt_dir_open(const char *host_path, int *fd_out);

/* The descriptors a request may hold open at once (the three streams and
 * the preopens included) when wrt_request_t.max_fds is 0. */
#define WRT_MAX_FDS 256
/* The preopened directories a request may have. */
#define WRT_MAX_DIRS 64

/* One request. argv[0] is the program's name as the guest sees it. */
typedef struct wrt_request {
  const char *const *argv;
  uint32_t argc;
  const char *const *envp; /* "KEY=VALUE" strings */
  uint32_t envc;
  const void *stdin_bytes;
  size_t stdin_len;
  /* Bytes of stdout and of stderr kept; the rest is counted and dropped
   * (`*_truncated`). 0: 16 MiB. */
  size_t output_limit;
  /* Preopened directories: the guest's descriptors 3, 4, ... in order (at
   * most WRT_MAX_DIRS). Nothing the guest opens through them outlives the
   * request. */
  const wrt_dir_t *dirs;
  uint32_t ndirs;
  /* Descriptors open at once, streams and preopens included (3 + ndirs to
   * 65,536); more is EMFILE for the guest. 0: WRT_MAX_FDS. */
  uint32_t max_fds;
  /* Wall-clock limit on the request, in nanoseconds from wrt_run's start
   * (instantiation included); 0: none. Past it, the guest is interrupted
   * within about a millisecond while it runs its own code (a host call in
   * progress finishes first) and the request ends with the trap
   * WRT_TRAP_TIMEOUT. The first request with a limit starts the runtime's
   * watchdog thread; the interruption is the signal SIGURG sent to the
   * request's thread, which must not block it (docs/runtime.md). */
  uint64_t timeout_ns;
  /* Time the request's three parts into the result's instantiate_ns,
   * run_ns and free_ns: four clock reads (CLOCK_MONOTONIC, each 20 ns to
   * 1 us by the machine's clock source), which a request that does not
   * look at them does not pay for. false: the three are 0. */
  bool timings;
} wrt_request_t;

/* How a request ended besides its exit code. */
typedef enum wrt_trap {
  WRT_TRAP_NONE = 0,
  WRT_TRAP_OOB,               /* out-of-bounds memory or table access */
  WRT_TRAP_INT_OVERFLOW,      /* integer overflow on divide or truncation */
  WRT_TRAP_DIV_BY_ZERO,       /* integer divide by zero */
  WRT_TRAP_INVALID_CONVERSION, /* float to integer of NaN */
  WRT_TRAP_UNREACHABLE,       /* the unreachable instruction (C's abort()) */
  WRT_TRAP_CALL_INDIRECT,     /* indirect call to a null or mismatched function */
  WRT_TRAP_EXHAUSTION,        /* call stack exhausted */
  WRT_TRAP_OTHER,             /* another wasm-rt trap (an uncaught exception) */
  WRT_TRAP_EXIT,              /* wrt_instantiate, wrt_call: the guest called WASI's proc_exit
                                 (wrt_instance_exit_code); wrt_run reports exits as exit codes */
  WRT_TRAP_TIMEOUT,           /* the request's time limit passed (timeout_ns) */
} wrt_trap_t;

/* "oob", "int_overflow", "div_by_zero", "invalid_conversion",
 * "unreachable", "call_indirect", "exhaustion", "other", "exit", "timeout", or
 * "none". */
const char *wrt_trap_name(wrt_trap_t t);

/* A request's outcome. Initialise with wrt_result_init; wrt_run reuses the
 * buffers' capacity across requests; wrt_result_free releases them. */
typedef struct wrt_result {
  int32_t exit_code;   /* _start's return (0) or proc_exit's code; -1 after a trap */
  wrt_trap_t trap;
  char *out;           /* stdout bytes, out_len of them (not NUL-terminated) */
  size_t out_len, out_cap;
  char *err;           /* stderr bytes */
  size_t err_len, err_cap;
  bool out_truncated, err_truncated;
  /* With wrt_request_t.timings, in ns; else 0. */
  uint64_t instantiate_ns; /* time to instantiate (slot, memory, data, tables) */
  uint64_t run_ns;         /* time in _start */
  uint64_t free_ns;        /* time to free the instance */
} wrt_result_t;

void wrt_result_init(wrt_result_t *r);
void wrt_result_free(wrt_result_t *r);

/* Run one request on a fresh instance of `m`, the guest on a stack of its
 * own (the pool backend takes one of the pool's stacks for the request:
 * async_stack_size usable bytes, stack_count of them; the stock backend,
 * or a pool with stack_count 0, one per thread). A trap or a non-zero exit
 * is a successful call: see res->trap and res->exit_code.
 * Return: 0; WRT_EEXHAUSTED (every pool slot or stack in use: retry
 * later); WRT_ENOMEM; WRT_ESYS (req->timeout_ns set and the runtime's
 * watchdog thread could not start); WRT_EINVAL (a NULL argument, bad dirs
 * or max_fds, named in the message). Context: any thread, concurrently; a
 * thread running requests with a time limit must not block SIGURG. */
int wrt_run(wrt_module_t *m, const wrt_request_t *req, wrt_result_t *res);

/* Instantiate `m` as a request would (untimed), call `fn` with memory 0's
 * bytes (NULL and 0 without a memory) before any guest code runs, and free
 * the instance. For diagnostics and tests (e.g. that the pool's images
 * give the bytes the stock runtime's copies give). Return: as wrt_run; a trap
 * during instantiation is WRT_EFORMAT. */
int wrt_inspect(wrt_module_t *m, void (*fn)(const uint8_t *mem, uint64_t len, void *arg),
                void *arg);

/* Counters of this runtime, cumulative. */
typedef struct wrt_stats {
  uint64_t requests;   /* wrt_run calls that ran the guest */
  uint64_t traps;      /* of which ended by a trap (timeouts included) */
  uint64_t nonzero_exits;
  uint64_t exhausted;  /* wrt_run calls refused with WRT_EEXHAUSTED */
  uint64_t modules_loaded;
  uint64_t cache_hits, cache_misses;
  uint64_t timeouts;   /* requests ended by WRT_TRAP_TIMEOUT */
} wrt_stats_t;

void wrt_stats_get(wrt_runtime_t *rt, wrt_stats_t *out);

/* Modules with imports, instances and calls: the instance API. */
#include "runtime_instance.h"

#ifdef __cplusplus
}
#endif
#endif /* WRT_RUNTIME_H */
