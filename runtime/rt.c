/* The runtime: modules, requests, traps, and wasm-rt's functions.
 *
 * The generated code calls wasm-rt's functions (wasm-rt.h) without any
 * context: memory and table allocation, traps, type registration. They are
 * defined here, thread-safe, and find the request they belong to through
 * the thread's current request (rt_cur), which knows its backend. Debian's
 * libwasm-rt-impl.a is not linked: its trap jump buffer, exception state
 * and signal stack are process globals, so two threads running guests at
 * once would jump into each other's stacks.
 *
 * Traps. A request runs between a sigsetjmp and the end of _start. A trap
 * called by the generated code (unreachable, division by zero, an indirect
 * call mismatch, a checked table or bulk-memory bound) jumps back with its
 * kind. So does the SIGSEGV/SIGBUS handler, for a fault in the current
 * instance's own memory reservation or guard (an unchecked out-of-bounds
 * access) or just below the thread's stack (call stack exhausted). Any
 * other fault, or a fault on a thread not running a guest, is a bug of the
 * host: the handler says so on stderr, restores the default action and
 * returns, and the faulting instruction kills the process with SIGSEGV. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt_internal.h"

_Thread_local rt_ctx_t *rt_cur;

/* ------------------------------------------------------------------ */
/* Errors                                                               */

static _Thread_local char last_error[2048];

int rt_error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof(last_error), fmt, ap);
  va_end(ap);
  return code;
}

const char *wrt_last_error(void) { return last_error; }

const char *wrt_strerror(int err) {
  switch (err) {
  case 0: return "success";
  case WRT_EINVAL: return "WRT_EINVAL: bad argument";
  case WRT_EFORMAT: return "WRT_EFORMAT: not a valid WebAssembly module for this runtime";
  case WRT_EIMPORT: return "WRT_EIMPORT: the module imports something the runtime lacks";
  case WRT_ELIMIT: return "WRT_ELIMIT: the module does not fit the pool";
  case WRT_ETOOLCHAIN: return "WRT_ETOOLCHAIN: wasm2c or the C compiler failed";
  case WRT_EEXHAUSTED: return "WRT_EEXHAUSTED: every instance slot is in use";
  case WRT_ENOMEM: return "WRT_ENOMEM: host memory or address space ran out";
  case WRT_ESYS: return "WRT_ESYS: operating-system failure";
  case WRT_EBUSY: return "WRT_EBUSY: requests are running";
  default: return "unknown error";
  }
}

const char *wrt_backend_name(wrt_backend_t b) { return b == WRT_BACKEND_STOCK ? "stock" : "pool"; }

const char *wrt_trap_name(wrt_trap_t t) {
  switch (t) {
  case WRT_TRAP_NONE: return "none";
  case WRT_TRAP_OOB: return "oob";
  case WRT_TRAP_INT_OVERFLOW: return "int_overflow";
  case WRT_TRAP_DIV_BY_ZERO: return "div_by_zero";
  case WRT_TRAP_INVALID_CONVERSION: return "invalid_conversion";
  case WRT_TRAP_UNREACHABLE: return "unreachable";
  case WRT_TRAP_CALL_INDIRECT: return "call_indirect";
  case WRT_TRAP_EXHAUSTION: return "exhaustion";
  case WRT_TRAP_OTHER: return "other";
  }
  return "other";
}

static wrt_trap_t trap_of(int code) {
  switch (code) {
  case WASM_RT_TRAP_OOB: return WRT_TRAP_OOB;
  case WASM_RT_TRAP_INT_OVERFLOW: return WRT_TRAP_INT_OVERFLOW;
  case WASM_RT_TRAP_DIV_BY_ZERO: return WRT_TRAP_DIV_BY_ZERO;
  case WASM_RT_TRAP_INVALID_CONVERSION: return WRT_TRAP_INVALID_CONVERSION;
  case WASM_RT_TRAP_UNREACHABLE: return WRT_TRAP_UNREACHABLE;
  case WASM_RT_TRAP_CALL_INDIRECT: return WRT_TRAP_CALL_INDIRECT;
  case WASM_RT_TRAP_EXHAUSTION: return WRT_TRAP_EXHAUSTION;
  default: return WRT_TRAP_OTHER;
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Signals and threads                                                  */

#define ALTSTACK_BYTES (64u << 10)
/* A fault this far below the thread's stack, or this far into its lowest
 * bytes, is the call stack running out. */
#define STACK_SLACK_BELOW (1u << 20)
#define STACK_SLACK_ABOVE (64u << 10)

static pthread_once_t signals_once = PTHREAD_ONCE_INIT;
static int signals_err;
static pthread_key_t altstack_key;
static struct sigaction old_segv, old_bus;

static _Thread_local bool t_ready;
static _Thread_local uintptr_t t_stack_lo;
static _Thread_local rt_ctx_t t_ctx; /* not automatic: survives siglongjmp intact */

static void say(const char *s) {
  ssize_t r = write(2, s, strlen(s));
  (void)r;
}

static void say_hex(uintptr_t v) {
  char b[19] = "0x";
  for (int i = 0; i < 16; i++) b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
  b[18] = 0;
  say(b);
}

static void on_fault(int sig, siginfo_t *si, void *uctx) {
  (void)uctx;
  rt_ctx_t *c = rt_cur;
  const uint8_t *a = si->si_addr;
  if (c && c->in_guest) {
    bool oob = c->m->rt->backend == WRT_BACKEND_POOL
                   ? pool_fault_is_oob(c, a)
                   : (c->mem && a >= c->fault_lo && a < c->fault_hi);
    if (oob) siglongjmp(c->jb, WASM_RT_TRAP_OOB);
    uintptr_t u = (uintptr_t)a;
    if (u >= t_stack_lo - STACK_SLACK_BELOW && u < t_stack_lo + STACK_SLACK_ABOVE)
      siglongjmp(c->jb, WASM_RT_TRAP_EXHAUSTION);
  }
  say("wpool runtime: fatal: ");
  say(sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
  say(" at ");
  say_hex((uintptr_t)a);
  say(c && c->in_guest ? " outside the running instance's memory, guard and stack: a host bug\n"
                       : " outside any guest: a host bug\n");
  /* Back to the handler that was there before us (normally the default),
   * and let the instruction fault again. */
  sigaction(sig, sig == SIGBUS ? &old_bus : &old_segv, NULL);
}

static void altstack_free(void *p) {
  stack_t ss = {.ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  munmap(p, ALTSTACK_BYTES);
}

static void install_signals(void) {
  if (pthread_key_create(&altstack_key, altstack_free) != 0) {
    signals_err = rt_error(WRT_ESYS, "pthread_key_create failed");
    return;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  /* SA_NODEFER: the handler leaves by siglongjmp, and the jump buffer does
   * not save the signal mask (that would cost a system call per request),
   * so the signal must not stay blocked. */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &old_segv) != 0 || sigaction(SIGBUS, &sa, &old_bus) != 0)
    signals_err = rt_error(WRT_ESYS, "sigaction: %s", strerror(errno));
}

/* Per thread, once: an alternate signal stack (a stack overflow's fault
 * cannot be handled on the exhausted stack) and the stack's bounds. */
static int thread_init(void) {
  if (t_ready) return 0;
  pthread_attr_t attr;
  void *lo;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &attr) != 0)
    return rt_error(WRT_ESYS, "pthread_getattr_np failed");
  int err = pthread_attr_getstack(&attr, &lo, &size);
  pthread_attr_destroy(&attr);
  if (err) return rt_error(WRT_ESYS, "pthread_attr_getstack failed");
  void *alt = mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                   0);
  if (alt == MAP_FAILED) return rt_error(WRT_ENOMEM, "signal stack: mmap: %s", strerror(errno));
  stack_t ss = {.ss_sp = alt, .ss_size = ALTSTACK_BYTES};
  if (sigaltstack(&ss, NULL) != 0) {
    int e = errno;
    munmap(alt, ALTSTACK_BYTES);
    return rt_error(WRT_ESYS, "sigaltstack: %s", strerror(e));
  }
  if (pthread_setspecific(altstack_key, alt) != 0) {
    altstack_free(alt);
    return rt_error(WRT_ENOMEM, "pthread_setspecific failed");
  }
  t_stack_lo = (uintptr_t)lo;
  t_ready = true;
  return 0;
}

/* ------------------------------------------------------------------ */
/* wasm-rt, as the generated code calls it                              */

static void no_request(const char *fn) {
  fprintf(stderr, "wpool runtime: fatal: %s called outside a request\n", fn);
  abort();
}

void wasm_rt_init(void) {}
bool wasm_rt_is_initialized(void) { return true; }
void wasm_rt_free(void) {}

WASM_RT_NO_RETURN void wasm_rt_trap(wasm_rt_trap_t code) {
  rt_ctx_t *c = rt_cur;
  if (!c || !c->in_guest) no_request("wasm_rt_trap");
  siglongjmp(c->jb, code == WASM_RT_TRAP_NONE ? WASM_RT_TRAP_UNCAUGHT_EXCEPTION : (int)code);
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap) { return wrt_trap_name(trap_of(trap)); }

/* Function types: one process-wide registry, as wasm-rt's, under a lock.
 * The generated code registers its types once per module (at load) and
 * compares the indices at every indirect call. */
static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static char **types;
static uint32_t ntypes, types_cap;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  char sig[512];
  size_t n = 0;
  va_list ap;
  va_start(ap, results);
  for (uint32_t i = 0; i < params + results; i++) {
    if (i == params && n < sizeof(sig) - 1) sig[n++] = ':';
    int t = va_arg(ap, int);
    if (n < sizeof(sig) - 16) n += (size_t)snprintf(sig + n, sizeof(sig) - n, "%d,", t);
  }
  va_end(ap);
  if (params + results == 0 || results == 0) sig[n++] = ':';
  sig[n] = 0;
  pthread_mutex_lock(&types_lock);
  for (uint32_t i = 0; i < ntypes; i++) {
    if (strcmp(types[i], sig) == 0) {
      pthread_mutex_unlock(&types_lock);
      return i + 1;
    }
  }
  if (ntypes == types_cap) {
    uint32_t cap = types_cap ? types_cap * 2 : 64;
    char **t = realloc(types, cap * sizeof(char *));
    if (!t) {
      pthread_mutex_unlock(&types_lock);
      fprintf(stderr, "wpool runtime: fatal: out of memory registering a function type\n");
      abort();
    }
    types = t;
    types_cap = cap;
  }
  char *s = strdup(sig);
  if (!s) {
    pthread_mutex_unlock(&types_lock);
    fprintf(stderr, "wpool runtime: fatal: out of memory registering a function type\n");
    abort();
  }
  types[ntypes++] = s;
  uint32_t idx = ntypes;
  pthread_mutex_unlock(&types_lock);
  return idx;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial, uint32_t max) {
  rt_ctx_t *c = rt_cur;
  if (!c || !c->in_guest) no_request("wasm_rt_allocate_memory");
  if (c->mem) {
    fprintf(stderr, "wpool runtime: fatal: %s allocates a second memory\n", c->m->path);
    abort(); /* the loader refuses modules with more than one */
  }
  if (c->m->rt->backend == WRT_BACKEND_POOL) {
    pool_allocate_memory(c, mem, initial, max);
  } else {
    if (!stock_allocate_memory(mem, initial, max)) siglongjmp(c->jb, RT_JUMP_NOMEM);
    c->fault_lo = mem->data;
    c->fault_hi = mem->data + RT_UNCHECKED_REACH;
  }
  c->mem = mem;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *mem, uint32_t delta) {
  rt_ctx_t *c = rt_cur;
  if (!c || !c->in_guest) no_request("wasm_rt_grow_memory");
  if (c->mem_from_pool) return pool_grow_memory(c, mem, delta);
  return stock_grow_memory(mem, delta);
}

/* Memories and tables are freed by the request's end, which knows what
 * was allocated even when a trap cut the instantiation short. */
void wasm_rt_free_memory(wasm_rt_memory_t *mem) { (void)mem; }

/* The transform of the generated code (compile.c) skips a memory's data
 * segment copies when this says the pool's image holds them already. */
bool wrt_memory_has_image(const wasm_rt_memory_t *mem);
bool wrt_memory_has_image(const wasm_rt_memory_t *mem) {
  rt_ctx_t *c = rt_cur;
  return c && c->mem == mem && c->mem_has_image;
}

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t elements,
                                    uint32_t max) {
  rt_ctx_t *c = rt_cur;
  if (!c || !c->in_guest) no_request("wasm_rt_allocate_funcref_table");
  if (c->table) {
    fprintf(stderr, "wpool runtime: fatal: %s allocates a second table\n", c->m->path);
    abort();
  }
  if (c->m->rt->backend == WRT_BACKEND_POOL) {
    pool_allocate_table(c, t, elements, max);
  } else if (!stock_allocate_table(t, elements, max)) {
    siglongjmp(c->jb, RT_JUMP_NOMEM);
  }
  c->table = t;
}

uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t delta,
                                    wasm_rt_funcref_t init) {
  rt_ctx_t *c = rt_cur;
  if (!c || !c->in_guest) no_request("wasm_rt_grow_funcref_table");
  if (c->m->rt->backend == WRT_BACKEND_POOL) return pool_grow_table(c, t, delta, init);
  return stock_grow_table(t, delta, init);
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t) { (void)t; }

/* Exceptions (wasm2c --enable-exceptions), per thread. The loader does not
 * enable them, so only a hand-made object would call these. */
static _Thread_local uint32_t exc_tag, exc_size;
static _Thread_local uint8_t exc_bytes[256];
static _Thread_local WASM_RT_UNWIND_TARGET *unwind_target;
static atomic_uint tag_count;

uint32_t wasm_rt_register_tag(uint32_t size) {
  if (size > sizeof(exc_bytes)) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  return atomic_fetch_add(&tag_count, 1);
}
void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void *values) {
  if (size > sizeof(exc_bytes)) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  exc_tag = tag;
  exc_size = size;
  if (size) memcpy(exc_bytes, values, size);
}
WASM_RT_NO_RETURN void wasm_rt_throw(void) {
  if (!unwind_target) wasm_rt_trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
  siglongjmp(*unwind_target, WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
}
WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void) { return unwind_target; }
void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target) { unwind_target = target; }
uint32_t wasm_rt_exception_tag(void) { return exc_tag; }
uint32_t wasm_rt_exception_size(void) { return exc_size; }
void *wasm_rt_exception(void) { return exc_bytes; }

/* ------------------------------------------------------------------ */
/* Runtime                                                              */

void wrt_options_init(wrt_options_t *o) { memset(o, 0, sizeof(*o)); }

void wrt_config_init(wpool_config_t *cfg) {
  wpool_config_init(cfg);
  cfg->memory_reservation = 4ull << 30;
  cfg->memory_guard_size = RT_UNCHECKED_REACH - (4ull << 30);
  cfg->memory_unchecked_reach = RT_UNCHECKED_REACH;
  cfg->table_element_size = sizeof(wasm_rt_funcref_t);
  /* The keep budgets stay the library's: WPOOL_KEEP_AUTO keeps the table
   * pages wasm2c's code fills at every instantiation, and the memory pages
   * a guest's stack and heap use, resident (docs/reset.md). */
}

static char *dup_or_null(const char *s, bool *fail) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *fail = true;
  return d;
}

int wrt_create(const wrt_options_t *opts, wrt_runtime_t **out) {
  if (!opts || !out) return rt_error(WRT_EINVAL, "wrt_create: NULL argument");
  *out = NULL;
  if (opts->backend != WRT_BACKEND_POOL && opts->backend != WRT_BACKEND_STOCK)
    return rt_error(WRT_EINVAL, "wrt_create: unknown backend %d", (int)opts->backend);
  pthread_once(&signals_once, install_signals);
  if (signals_err) return rt_error(signals_err, "signal handler not installed");
  wrt_runtime_t *rt = calloc(1, sizeof(*rt));
  if (!rt) return rt_error(WRT_ENOMEM, "wrt_create: out of memory");
  rt->backend = opts->backend;
  bool fail = false;
  rt->cache_dir = dup_or_null(opts->cache_dir, &fail);
  rt->cc = dup_or_null(opts->cc, &fail);
  int err = WRT_ENOMEM;
  if (fail) {
    rt_error(WRT_ENOMEM, "wrt_create: out of memory");
    goto fail_strings;
  }
  if (opts->pool_config)
    rt->cfg = *opts->pool_config;
  else
    wrt_config_init(&rt->cfg);
  if (rt->backend == WRT_BACKEND_POOL) {
    /* What wasm2c's code needs is not the caller's choice: the pool must
     * guarantee the whole unchecked reach (and refuses a layout that
     * cannot), and table elements are wasm2c's funcrefs. */
    if (rt->cfg.memory_unchecked_reach < RT_UNCHECKED_REACH)
      rt->cfg.memory_unchecked_reach = RT_UNCHECKED_REACH;
    rt->cfg.table_element_size = sizeof(wasm_rt_funcref_t);
    err = pool_check_config(&rt->cfg);
    if (err) goto fail_strings;
    int perr = wpool_create(&rt->cfg, &rt->pool);
    if (perr) {
      err = perr == WPOOL_EINVAL ? WRT_EINVAL : perr == WPOOL_ENOMEM ? WRT_ENOMEM : WRT_ESYS;
      rt_error(err, "wpool_create: %s", wpool_last_error());
      goto fail_strings;
    }
  }
  if (pthread_mutex_init(&rt->lock, NULL) != 0) {
    err = rt_error(WRT_ESYS, "pthread_mutex_init failed");
    goto fail_mutex;
  }
  *out = rt;
  return 0;
fail_mutex:
  if (rt->pool) wpool_destroy(rt->pool);
fail_strings:
  free(rt->cache_dir);
  free(rt->cc);
  free(rt);
  return err;
}

static void module_destroy(wrt_module_t *m) {
  if (m->pm) wpool_module_release(m->pm);
  if (m->dl) dlclose(m->dl);
  free(m->path);
  free(m);
}

int wrt_destroy(wrt_runtime_t *rt) {
  if (!rt) return 0;
  if (atomic_load(&rt->running)) return rt_error(WRT_EBUSY, "wrt_destroy: requests are running");
  while (rt->modules) {
    wrt_module_t *m = rt->modules;
    rt->modules = m->next;
    module_destroy(m);
  }
  if (rt->pool && wpool_destroy(rt->pool) != 0)
    return rt_error(WRT_EBUSY, "wrt_destroy: wpool_destroy: %s", wpool_last_error());
  pthread_mutex_destroy(&rt->lock);
  free(rt->tool_tag);
  free(rt->cache_dir);
  free(rt->cc);
  free(rt);
  /* This thread's signal stack goes too (other threads' go at their exit). */
  return 0;
}

wrt_backend_t wrt_backend(const wrt_runtime_t *rt) { return rt->backend; }
wpool_t *wrt_pool(wrt_runtime_t *rt) { return rt->pool; }

void wrt_stats_get(wrt_runtime_t *rt, wrt_stats_t *o) {
  o->requests = atomic_load(&rt->requests);
  o->traps = atomic_load(&rt->traps);
  o->nonzero_exits = atomic_load(&rt->nonzero_exits);
  o->exhausted = atomic_load(&rt->exhausted);
  o->modules_loaded = atomic_load(&rt->modules_loaded);
  o->cache_hits = atomic_load(&rt->cache_hits);
  o->cache_misses = atomic_load(&rt->cache_misses);
}

/* ------------------------------------------------------------------ */
/* Loading                                                              */

#define MAX_WASM_BYTES (1ull << 30)

static int read_file(const char *path, uint8_t **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return rt_error(WRT_ESYS, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return rt_error(WRT_ESYS, "%s: fstat: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return rt_error(WRT_EFORMAT, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size > MAX_WASM_BYTES) {
    close(fd);
    return rt_error(WRT_EFORMAT, "%s: %lld bytes, over the runtime's limit of %llu", path,
                    (long long)st.st_size, MAX_WASM_BYTES);
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) {
    close(fd);
    return rt_error(WRT_ENOMEM, "%s: out of memory for %zu bytes", path, n);
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = r < 0 ? errno : EIO;
      free(buf);
      close(fd);
      return rt_error(WRT_ESYS, "%s: read: %s", path, r < 0 ? strerror(e) : "file shrank");
    }
    got += (size_t)r;
  }
  close(fd);
  *out = buf;
  *len = n;
  return 0;
}

static const char *kind_name(uint8_t k) {
  switch (k) {
  case WASM_EXTERN_FUNC: return "function";
  case WASM_EXTERN_TABLE: return "table";
  case WASM_EXTERN_MEMORY: return "memory";
  default: return "global";
  }
}

/* Everything a request will need, checked before any compilation. */
static int check_module(wrt_module_t *m, const wasm_module_t *w) {
  const char *path = m->path;
  for (uint32_t i = 0; i < w->nimports; i++) {
    const wasm_import_t *im = &w->imports[i];
    if (im->kind != WASM_EXTERN_FUNC || strcmp(im->module, "wasi_snapshot_preview1") != 0)
      return rt_error(WRT_EIMPORT,
                      "%s: import %u '%s'.'%s' (%s) is not provided: the runtime provides "
                      "functions of wasi_snapshot_preview1 only",
                      path, i, im->module, im->name, kind_name(im->kind));
    const rt_wasi_fn_t *f = NULL;
    for (size_t k = 0; k < rt_wasi_nfns; k++)
      if (strcmp(rt_wasi_fns[k].name, im->name) == 0) f = &rt_wasi_fns[k];
    if (!f)
      return rt_error(WRT_EIMPORT,
                      "%s: import %u 'wasi_snapshot_preview1'.'%s' is not a WASI preview-1 "
                      "function",
                      path, i, im->name);
    if (strcmp(f->type, w->types[im->type]) != 0)
      return rt_error(WRT_EIMPORT,
                      "%s: import %u 'wasi_snapshot_preview1'.'%s' has type (%s), WASI's is (%s)",
                      path, i, im->name, w->types[im->type], f->type);
  }
  if (w->nmemories > 1)
    return rt_error(WRT_EFORMAT, "%s: %u memories; the runtime supports one", path, w->nmemories);
  if (w->ntables > 1)
    return rt_error(WRT_EFORMAT, "%s: %u tables; the runtime supports one", path, w->ntables);
  if (w->ntables == 1 && w->tables[0].elem != 'r')
    return rt_error(WRT_EFORMAT, "%s: table 0 holds externref; the runtime supports funcref",
                    path);
  if (!wasm_find_export(w, "_start", WASM_EXTERN_FUNC))
    return rt_error(WRT_EFORMAT, "%s: no exported function _start: not a WASI command", path);
  m->has_memory = w->nmemories == 1;
  if (m->has_memory) {
    const wasm_limits_t *l = &w->memories[0];
    if (l->shared)
      return rt_error(WRT_ELIMIT, "%s: memory 0 is shared; the pool refuses shared memories",
                      path);
    m->min_pages = l->min;
    m->max_pages = l->has_max ? l->max : 65536;
  }
  m->has_table = w->ntables == 1;
  if (m->has_table) {
    m->table_min = (uint32_t)w->tables[0].min;
    m->table_max = w->tables[0].has_max ? (uint32_t)w->tables[0].max : UINT32_MAX;
  }
  for (uint32_t i = 0; i < w->nsegments; i++) {
    const wasm_segment_t *s = &w->segments[i];
    if (!s->active) continue;
    if (!m->has_memory || s->memory != 0)
      return rt_error(WRT_EFORMAT, "%s: data segment %u targets memory %u, which does not exist",
                      path, i, s->memory);
    if (s->offset + s->len > m->min_pages * 65536)
      return rt_error(WRT_EFORMAT,
                      "%s: data segment %u (offset %llu, %u bytes) ends past the memory's "
                      "minimum of %llu pages: instantiation would trap",
                      path, i, (unsigned long long)s->offset, s->len,
                      (unsigned long long)m->min_pages);
    m->nsegments++;
    m->segment_bytes += s->len;
  }
  m->nimports = w->nimports;
  return 0;
}

static int open_object(wrt_module_t *m, const char *so) {
  m->dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!m->dl)
    return rt_error(WRT_ESYS,
                    "%s: dlopen %s: %s (the program must export the runtime's symbols: link it "
                    "with -rdynamic)",
                    m->path, so, dlerror());
  struct {
    const char *name;
    void **slot;
  } syms[] = {
      {"Z_guest_init_module", (void **)&m->fns.init_module},
      {"Z_guest_instantiate", (void **)&m->fns.instantiate},
      {"Z_guestZ__start", (void **)&m->fns.start},
      {"wrt_guest_instance_size", (void **)&m->fns.instance_size},
  };
  for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
    *syms[i].slot = dlsym(m->dl, syms[i].name);
    if (!*syms[i].slot)
      return rt_error(WRT_ETOOLCHAIN, "%s: compiled object %s lacks %s", m->path, so,
                      syms[i].name);
  }
  m->instance_size = m->fns.instance_size();
  return 0;
}

/* Load from `bytes` (owned by the caller); `path` names the module. */
static int load(wrt_runtime_t *rt, const char *path, const uint8_t *bytes, size_t len,
                wrt_module_t **out) {
  *out = NULL;
  wrt_module_t *m = calloc(1, sizeof(*m));
  if (!m) return rt_error(WRT_ENOMEM, "%s: out of memory", path);
  m->rt = rt;
  m->path = strdup(path);
  char *so = NULL;
  wasm_module_t w;
  char perr[512];
  int err;
  if (!m->path) {
    err = rt_error(WRT_ENOMEM, "%s: out of memory", path);
    goto fail;
  }
  if (!wasm_parse(bytes, len, &w, perr, sizeof(perr))) {
    err = rt_error(WRT_EFORMAT, "%s: %s", path, perr);
    goto fail;
  }
  err = check_module(m, &w);
  if (!err) err = rt_compile(rt, path, bytes, len, &w, &so, &m->from_cache);
  if (!err) err = open_object(m, so);
  if (!err) {
    /* The generated module registers its function types into its statics.
     * Two loads of one object (two runtimes, or one module loaded twice)
     * share those statics: one at a time. */
    static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&init_lock);
    m->fns.init_module();
    pthread_mutex_unlock(&init_lock);
    if (rt->backend == WRT_BACKEND_POOL) err = pool_module_new(m, &w);
  }
  wasm_module_free(&w);
  if (err) goto fail;
  free(so);
  atomic_fetch_add(&rt->modules_loaded, 1);
  atomic_fetch_add(m->from_cache ? &rt->cache_hits : &rt->cache_misses, 1);
  pthread_mutex_lock(&rt->lock);
  m->next = rt->modules;
  if (rt->modules) rt->modules->prev = m;
  rt->modules = m;
  pthread_mutex_unlock(&rt->lock);
  *out = m;
  return 0;
fail:
  free(so);
  module_destroy(m);
  return err;
}

int wrt_load(wrt_runtime_t *rt, const char *path, wrt_module_t **out) {
  if (!rt || !path || !out) return rt_error(WRT_EINVAL, "wrt_load: NULL argument");
  *out = NULL;
  uint8_t *bytes = NULL;
  size_t len = 0;
  int err = read_file(path, &bytes, &len);
  if (err) return err;
  err = load(rt, path, bytes, len, out);
  free(bytes);
  return err;
}

int wrt_load_bytes(wrt_runtime_t *rt, const char *name, const void *bytes, size_t len,
                   wrt_module_t **out) {
  if (!rt || !name || (!bytes && len) || !out)
    return rt_error(WRT_EINVAL, "wrt_load_bytes: NULL argument");
  *out = NULL;
  if (len > MAX_WASM_BYTES)
    return rt_error(WRT_EFORMAT, "%s: %zu bytes, over the runtime's limit of %llu", name, len,
                    MAX_WASM_BYTES);
  return load(rt, name, bytes ? bytes : (const uint8_t *)"", len, out);
}

int wrt_unload(wrt_module_t *m) {
  if (!m) return 0;
  if (atomic_load(&m->running))
    return rt_error(WRT_EBUSY, "%s: requests are running on it", m->path);
  wrt_runtime_t *rt = m->rt;
  pthread_mutex_lock(&rt->lock);
  if (m->prev) m->prev->next = m->next;
  else rt->modules = m->next;
  if (m->next) m->next->prev = m->prev;
  pthread_mutex_unlock(&rt->lock);
  module_destroy(m);
  return 0;
}

void wrt_module_info(const wrt_module_t *m, wrt_module_info_t *o) {
  memset(o, 0, sizeof(*o));
  o->path = m->path;
  o->min_pages = m->min_pages;
  o->max_pages = m->max_pages;
  o->table_min = m->has_table ? m->table_min : 0;
  o->table_max = m->has_table ? m->table_max : 0;
  o->nsegments = m->nsegments;
  o->segment_bytes = m->segment_bytes;
  o->nimports = m->nimports;
  o->from_cache = m->from_cache;
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */

void wrt_result_init(wrt_result_t *r) { memset(r, 0, sizeof(*r)); }

void wrt_result_free(wrt_result_t *r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof(*r));
}

/* Give back what the instance holds: the backend's memory and table, and
 * the instance. */
static void instance_end(rt_ctx_t *c) {
  wrt_module_t *m = c->m;
  if (m->rt->backend == WRT_BACKEND_POOL) {
    wpool_instance_free(c->pinst);
  } else {
    if (c->mem) stock_free_memory(c->mem);
    if (c->table) stock_free_table(c->table);
    free(c->guest);
  }
}

typedef void (*inspect_fn)(const uint8_t *mem, uint64_t len, void *arg);

/* A request; with `inspect`, instead of _start, a look at the memory. */
static int run(wrt_module_t *m, const wrt_request_t *req, wrt_result_t *res, inspect_fn inspect,
               void *arg) {
  if (rt_cur) return rt_error(WRT_EINVAL, "wrt_run: called from inside a request");
  int err = thread_init();
  if (err) return err;
  wrt_runtime_t *rt = m->rt;
  res->out_len = res->err_len = 0;
  res->out_truncated = res->err_truncated = false;
  res->trap = WRT_TRAP_NONE;
  res->exit_code = 0;
  res->instantiate_ns = res->run_ns = res->free_ns = 0;

  rt_ctx_t *c = &t_ctx;
  memset(c, 0, sizeof(*c));
  c->m = m;
  c->req = req;
  c->res = res;
  atomic_fetch_add(&m->running, 1);
  atomic_fetch_add(&rt->running, 1);
  uint64_t t0 = now_ns();
  if (rt->backend == WRT_BACKEND_POOL) {
    int perr = wpool_instance_new(rt->pool, m->pm, &c->pinst);
    if (perr) {
      if (perr == WPOOL_EEXHAUSTED) {
        atomic_fetch_add(&rt->exhausted, 1);
        err = rt_error(WRT_EEXHAUSTED, "%s: %s", m->path, wpool_last_error());
      } else {
        err = rt_error(perr == WPOOL_ENOMEM ? WRT_ENOMEM : WRT_ESYS, "%s: wpool_instance_new: %s",
                       m->path, wpool_last_error());
      }
      goto out;
    }
    c->guest = wpool_instance_state(c->pinst);
  } else {
    c->guest = calloc(1, m->instance_size);
    if (!c->guest) {
      err = rt_error(WRT_ENOMEM, "%s: out of memory for the instance", m->path);
      goto out;
    }
  }
  uint64_t t1 = 0;
  rt_cur = c;
  /* No saved signal mask: see install_signals. */
  int jump = sigsetjmp(c->jb, 0);
  if (jump == 0) {
    c->in_guest = true;
    m->fns.instantiate(c->guest, c);
    res->instantiate_ns = now_ns() - t0;
    if (inspect)
      inspect(c->mem ? c->mem->data : NULL, c->mem ? c->mem->size : 0, arg);
    else
      m->fns.start(c->guest);
  }
  c->in_guest = false;
  rt_cur = NULL;
  t1 = now_ns();
  if (!res->instantiate_ns) res->instantiate_ns = t1 - t0;
  res->run_ns = t1 - t0 - res->instantiate_ns;
  if (jump == RT_JUMP_NOMEM) {
    err = rt_error(WRT_ENOMEM, "%s: host memory ran out during the request", m->path);
  } else if (jump == RT_JUMP_EXIT) {
    res->exit_code = c->exit_code;
  } else if (jump != 0) {
    res->trap = trap_of(jump);
    res->exit_code = -1;
  }
  instance_end(c);
  res->free_ns = now_ns() - t1;
  if (!err && inspect && jump)
    err = rt_error(WRT_EFORMAT, "%s: instantiation trapped: %s", m->path, wrt_trap_name(res->trap));
  if (!err && !inspect) {
    atomic_fetch_add(&rt->requests, 1);
    if (res->trap) atomic_fetch_add(&rt->traps, 1);
    else if (res->exit_code) atomic_fetch_add(&rt->nonzero_exits, 1);
  }
out:
  atomic_fetch_sub(&rt->running, 1);
  atomic_fetch_sub(&m->running, 1);
  return err;
}

int wrt_run(wrt_module_t *m, const wrt_request_t *req, wrt_result_t *res) {
  if (!m || !req || !res || (req->argc && !req->argv) || (req->envc && !req->envp) ||
      (req->stdin_len && !req->stdin_bytes))
    return rt_error(WRT_EINVAL, "wrt_run: NULL argument");
  return run(m, req, res, NULL, NULL);
}

int wrt_inspect(wrt_module_t *m, inspect_fn fn, void *arg) {
  if (!m || !fn) return rt_error(WRT_EINVAL, "wrt_inspect: NULL argument");
  wrt_request_t req = {0};
  wrt_result_t res;
  wrt_result_init(&res);
  int err = run(m, &req, &res, fn, arg);
  wrt_result_free(&res);
  return err;
}
