/* What a load costs and what it refuses before compiling (the red team's
 * findings 2-5 on issue 20's runtime): the host's work is linear in the
 * module, the pool's limits and the reader's are checked before wasm2c
 * runs, the toolchain runs bounded in time, memory and disk, and what
 * wasm2c 1.0.32 cannot translate is a format error with the reason.
 *
 * A "loud" compiler (a script given as wrt_options_t.cc) fails every
 * compile with a message and leaves a mark: a load it stops has done all
 * the host's work and wasm2c's; a refusal without the mark and with an
 * empty cache directory came before any tool ran.
 *
 * Every test has the same timeout (Criterion 2.4 leaks timer records when
 * tests of different timeouts run side by side under --jobs=2). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

/* ------------------------------------------------------------------ */
/* Modules of any size, byte by byte                                    */

typedef struct mod {
  uint8_t *b;
  size_t n, cap;
} mod_t;

static void put(mod_t *m, const void *p, size_t n) {
  if (m->n + n > m->cap) {
    m->cap = (m->n + n) * 2 + 256;
    m->b = realloc(m->b, m->cap);
    cr_assert(m->b);
  }
  memcpy(m->b + m->n, p, n);
  m->n += n;
}
static void byte(mod_t *m, uint8_t v) { put(m, &v, 1); }
static void uleb(mod_t *m, uint64_t v) {
  do {
    byte(m, (uint8_t)((v & 0x7f) | (v >> 7 ? 0x80 : 0)));
    v >>= 7;
  } while (v);
}
static void sleb(mod_t *m, int64_t v) {
  for (;;) {
    uint8_t b = v & 0x7f;
    v >>= 7;
    bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
    byte(m, (uint8_t)(b | (done ? 0 : 0x80)));
    if (done) return;
  }
}
static void name(mod_t *m, const char *s) {
  uleb(m, strlen(s));
  put(m, s, strlen(s));
}
/* Section `id` of body `s`, which is emptied for the next one. */
static void section(mod_t *m, uint8_t id, mod_t *s) {
  byte(m, id);
  uleb(m, s->n);
  put(m, s->b, s->n);
  s->n = 0;
}
static void header(mod_t *m) { put(m, "\0asm\1\0\0\0", 8); }

static char *write_temp(const mod_t *m) {
  char *path = strdup("/tmp/wrt-load-XXXXXX");
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  size_t off = 0;
  while (off < m->n) {
    ssize_t w = write(fd, m->b + off, m->n - off);
    cr_assert_gt(w, 0);
    off += (size_t)w;
  }
  close(fd);
  return path;
}

/* ------------------------------------------------------------------ */
/* The loud compiler and a private cache                                */

typedef struct env {
  char dir[64];      /* the test's directory: the compiler, its mark */
  char cache[96];    /* the cache, inside it */
  char cc[96], mark[96];
} env_t;

static void env_make(env_t *e) {
  snprintf(e->dir, sizeof(e->dir), "/tmp/wrt-load-XXXXXX");
  cr_assert(mkdtemp(e->dir));
  snprintf(e->cache, sizeof(e->cache), "%s/cache", e->dir);
  snprintf(e->cc, sizeof(e->cc), "%s/loud-cc", e->dir);
  snprintf(e->mark, sizeof(e->mark), "%s/cc-ran", e->dir);
  FILE *f = fopen(e->cc, "w");
  cr_assert(f);
  fprintf(f, "#!/bin/sh\ncase \"$1\" in --version) echo loud-cc 1; exit 0 ;; esac\n"
             "touch %s\necho loud-cc: compiling is not allowed here >&2\nexit 1\n", e->mark);
  fclose(f);
  cr_assert_eq(chmod(e->cc, 0700), 0);
}

static void env_remove(env_t *e) {
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
  cr_expect_eq(system(cmd), 0);
}

static bool cc_ran(const env_t *e) { return access(e->mark, F_OK) == 0; }

static uint64_t rt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Entries of the cache directory (0 when it does not exist). */
static int cache_entries(const env_t *e) {
  DIR *d = opendir(e->cache);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
  closedir(d);
  return n;
}

static wrt_runtime_t *make_rt(const env_t *e, wrt_backend_t b, const wpool_config_t *cfg) {
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = b;
  o.pool_config = cfg;
  o.cache_dir = e->cache;
  o.cc = e->cc;
  wrt_runtime_t *rt;
  cr_assert_eq(wrt_create(&o, &rt), 0, "wrt_create: %s", wrt_last_error());
  return rt;
}

/* ------------------------------------------------------------------ */
/* Linear work                                                          */

/* `nimports` imports of WASI's sched_yield (() -> i32), `nexports`
 * exports of the last of them, and _start. */
static mod_t imports_and_exports(uint32_t nimports, uint32_t nexports) {
  mod_t m = {0}, s = {0};
  header(&m);
  uleb(&s, 2);
  put(&s, "\x60\x00\x01\x7f", 4); /* 0: () -> i32 */
  put(&s, "\x60\x00\x00", 3);     /* 1: () -> () */
  section(&m, 1, &s);
  uleb(&s, nimports);
  for (uint32_t i = 0; i < nimports; i++) {
    name(&s, "wasi_snapshot_preview1");
    name(&s, "sched_yield");
    byte(&s, 0), uleb(&s, 0);
  }
  section(&m, 2, &s);
  uleb(&s, 1), uleb(&s, 1);
  section(&m, 3, &s);
  uleb(&s, nexports + 1);
  name(&s, "_start"), byte(&s, 0), uleb(&s, nimports);
  for (uint32_t i = 0; i < nexports; i++) {
    char n[16];
    snprintf(n, sizeof(n), "x%u", i);
    name(&s, n), byte(&s, 0), uleb(&s, nimports - 1);
  }
  section(&m, 7, &s);
  uleb(&s, 1), uleb(&s, 2), uleb(&s, 0), byte(&s, 0x0b);
  section(&m, 10, &s);
  free(s.b);
  return m;
}

/* 50,000 imports and 99,999 exports of an imported function: the
 * loader's work is linear. It walked the imports for each export's type,
 * twice (40,000 x 200,000 cost 54 s in the host), and wasm2c 1.0.32
 * spends O(imports) on each export of an import (20,000 x 20,000: 50 s),
 * which the rewritten copy now leaves out. Reaching the compiler means
 * both are done; the timeout is the guard. */
Test(load, many_imports_and_exports_of_imports_cost_linear_work, .timeout = 60) {
  env_t e;
  env_make(&e);
  wrt_runtime_t *rt = make_rt(&e, WRT_BACKEND_STOCK, NULL);
  mod_t m = imports_and_exports(50000, 99999); /* and _start: the limit of 100,000 exports */
  char *path = write_temp(&m);
  wrt_module_t *mod = NULL;
  cr_expect_eq(wrt_load(rt, path, &mod), WRT_ETOOLCHAIN, "%s", wrt_last_error());
  cr_expect(strstr(wrt_last_error(), "compiling is not allowed here"), "%s", wrt_last_error());
  cr_expect(cc_ran(&e));
  cr_expect_eq(wrt_destroy(rt), 0);
  unlink(path);
  free(path);
  free(m.b);
  env_remove(&e);
}

/* Exports of imported functions, left out of what wasm2c sees, are still
 * called (the glue calls the import's thunk): a command whose _start is
 * an import of () -> () of the embedder's, and an export of WASI's
 * sched_yield. */
static int start_calls;
static wrt_trap_t host_start(void *env, const wrt_value_t *a, wrt_value_t *r) {
  (void)env, (void)a, (void)r;
  start_calls++;
  return WRT_TRAP_NONE;
}

Test(load, exports_of_imported_functions_are_called_through_the_import, .timeout = 60) {
  mod_t m = {0}, s = {0};
  header(&m);
  uleb(&s, 2);
  put(&s, "\x60\x00\x01\x7f", 4);
  put(&s, "\x60\x00\x00", 3);
  section(&m, 1, &s);
  uleb(&s, 2);
  name(&s, "host"), name(&s, "start"), byte(&s, 0), uleb(&s, 1);
  name(&s, "wasi_snapshot_preview1"), name(&s, "sched_yield"), byte(&s, 0), uleb(&s, 0);
  section(&m, 2, &s);
  uleb(&s, 2);
  name(&s, "_start"), byte(&s, 0), uleb(&s, 0);
  name(&s, "yield"), byte(&s, 0), uleb(&s, 1);
  section(&m, 7, &s);
  char *path = write_temp(&m);
  for (int b = 0; b < 2; b++) {
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = b ? WRT_BACKEND_STOCK : WRT_BACKEND_POOL;
    wrt_runtime_t *rt;
    cr_assert_eq(wrt_create(&o, &rt), 0, "%s", wrt_last_error());
    wrt_import_t imp = {.module = "host", .name = "start", .fn = host_start};
    wrt_load_options_t lo;
    wrt_load_options_init(&lo);
    lo.name = path;
    lo.library = true;
    lo.imports = &imp, lo.nimports = 1;
    wrt_module_t *mod;
    cr_assert_eq(wrt_load_ex(rt, &lo, &mod), 0, "%s", wrt_last_error());
    start_calls = 0;
    const char *argv[] = {"g"};
    wrt_request_t req = {.argv = argv, .argc = 1};
    wrt_result_t res;
    wrt_result_init(&res);
    cr_expect_eq(wrt_run(mod, &req, &res), 0, "%s", wrt_last_error());
    cr_expect_eq(res.trap, WRT_TRAP_NONE);
    cr_expect_eq(start_calls, 1, "_start (the host's import) ran %d times", start_calls);
    wrt_result_free(&res);
    wrt_instance_t *inst;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(mod, &inst, &trap), 0, "%s", wrt_last_error());
    wrt_func_t f;
    cr_assert_eq(wrt_func_find(mod, "yield", 5, &f), 0);
    wrt_value_t r[1] = {{.type = WRT_I32, .of.i32 = 77}};
    cr_expect_eq(wrt_call(inst, &f, NULL, r, &trap), 0, "%s", wrt_last_error());
    cr_expect_eq(trap, WRT_TRAP_NONE);
    cr_expect_eq(r[0].of.i32, 0, "sched_yield returned %u", r[0].of.i32);
    wrt_instance_free(inst);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  unlink(path);
  free(path);
  free(m.b);
  free(s.b);
}

/* ------------------------------------------------------------------ */
/* The pool's limits, before compiling                                  */

/* A command with `pages` pages of memory (none when 0), tables of
 * `table_min` elements (`ntables` of them) and a data segment of
 * `data_len` bytes at 0. */
static mod_t command(uint32_t pages, uint32_t ntables, uint32_t table_min, uint32_t data_len) {
  mod_t m = {0}, s = {0};
  header(&m);
  uleb(&s, 1), put(&s, "\x60\x00\x00", 3);
  section(&m, 1, &s);
  uleb(&s, 1), uleb(&s, 0);
  section(&m, 3, &s);
  if (ntables) {
    uleb(&s, ntables);
    for (uint32_t i = 0; i < ntables; i++) byte(&s, 0x70), byte(&s, 0), uleb(&s, table_min);
    section(&m, 4, &s);
  }
  if (pages) {
    uleb(&s, 1), byte(&s, 0), uleb(&s, pages);
    section(&m, 5, &s);
  }
  uleb(&s, 1), name(&s, "_start"), byte(&s, 0), uleb(&s, 0);
  section(&m, 7, &s);
  uleb(&s, 1), uleb(&s, 2), uleb(&s, 0), byte(&s, 0x0b);
  section(&m, 10, &s);
  if (data_len) {
    uleb(&s, 1), byte(&s, 0), byte(&s, 0x41), sleb(&s, 0), byte(&s, 0x0b), uleb(&s, data_len);
    for (uint32_t i = 0; i < data_len; i++) byte(&s, (uint8_t)(i * 7 + 3));
    section(&m, 11, &s);
  }
  free(s.b);
  return m;
}

/* Each limit of the pool a module's declarations can miss (pages,
 * tables, table elements), on both backends: refused with WRT_ELIMIT
 * naming the limit and the value before any tool runs (no compiler, an
 * empty cache). A module over the page limit was compiled and cached
 * first (a 12 MB data segment: 40 s, 1.6 GB), then refused. */
Test(load, a_module_over_the_pools_limits_is_refused_before_compiling, .timeout = 60) {
  static const struct {
    uint32_t pages, ntables, table_min, data_len;
    const char *needle;
  } cases[] = {
      {161, 0, 0, 70000, "memory 0: minimum of 161 pages exceeds instance_memory_pages (160)"},
      {1, 2, 1, 0, "module defines 2 tables, more than instance_tables (1)"},
      {1, 1, 10001, 0, "table 0: minimum of 10001 elements exceeds instance_table_elements "
                       "(10000)"},
  };
  for (int b = 0; b < 2; b++) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      env_t e;
      env_make(&e);
      wpool_config_t c;
      wrt_config_init(&c);
      c.instance_count = 2;
      c.stack_count = 0;
      c.instance_memory_pages = 160;
      c.instance_tables = 1;
      c.instance_table_elements = 10000;
      wrt_runtime_t *rt = make_rt(&e, b ? WRT_BACKEND_STOCK : WRT_BACKEND_POOL, &c);
      mod_t m = command(cases[i].pages, cases[i].ntables, cases[i].table_min, cases[i].data_len);
      char *path = write_temp(&m);
      wrt_module_t *mod = NULL;
      cr_expect_eq(wrt_load(rt, path, &mod), WRT_ELIMIT, "case %zu, backend %d: %s", i, b,
                   wrt_last_error());
      cr_expect(strstr(wrt_last_error(), cases[i].needle), "%s", wrt_last_error());
      cr_expect_not(cc_ran(&e), "case %zu: the compiler ran", i);
      cr_expect_eq(cache_entries(&e), 0, "case %zu: the cache holds something", i);
      cr_expect_null(mod);
      cr_expect_eq(wrt_destroy(rt), 0);
      unlink(path);
      free(path);
      free(m.b);
      env_remove(&e);
    }
  }
}

/* ------------------------------------------------------------------ */
/* The toolchain's bounds                                               */

/* A compiler of this shell script body ($1 is --version for the probe,
 * answered before the body runs). */
static void cc_script(env_t *e, const char *body) {
  FILE *f = fopen(e->cc, "w");
  cr_assert(f);
  fprintf(f, "#!/bin/sh\ncase \"$1\" in --version) echo script-cc 1; exit 0 ;; esac\n%s\n", body);
  fclose(f);
  cr_assert_eq(chmod(e->cc, 0700), 0);
}

static wrt_runtime_t *make_bounded_rt(const env_t *e, uint64_t timeout_ms, uint64_t cpu_s,
                                      uint64_t memory, uint64_t file) {
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = WRT_BACKEND_STOCK;
  o.cache_dir = e->cache;
  o.cc = e->cc;
  o.compile_timeout_ms = timeout_ms;
  o.compile_cpu_seconds = cpu_s;
  o.compile_memory_bytes = memory;
  o.compile_file_bytes = file;
  wrt_runtime_t *rt;
  cr_assert_eq(wrt_create(&o, &rt), 0, "wrt_create: %s", wrt_last_error());
  return rt;
}

/* Load a small command through `rt`: the error code (the message in
 * wrt_last_error). */
static int load_small(wrt_runtime_t *rt) {
  mod_t m = command(1, 0, 0, 16);
  char *path = write_temp(&m);
  wrt_module_t *mod = NULL;
  int err = wrt_load(rt, path, &mod);
  unlink(path);
  free(path);
  free(m.b);
  return err;
}

/* Whether process `pid` is gone (or a zombie about to be). */
static bool gone(pid_t pid) {
  for (int i = 0; i < 200; i++) {
    char p[64], st[256] = "";
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return true;
    size_t n = fread(st, 1, sizeof(st) - 1, f);
    fclose(f);
    st[n] = 0;
    const char *rp = strrchr(st, ')');
    if (rp && rp[1] == ' ' && rp[2] == 'Z') return true;
    usleep(10000);
  }
  return false;
}

/* A compiler that never ends is killed at the compile's time limit, with
 * everything it started (its process group): WRT_ELIMIT naming
 * compile_timeout_ms. It once held the load for ever. */
Test(load, a_compile_past_its_time_limit_is_killed_with_its_children, .timeout = 60) {
  env_t e;
  env_make(&e);
  char body[256];
  snprintf(body, sizeof(body), "sleep 1000 &\necho $! > %s/child\nwait", e.dir);
  cc_script(&e, body);
  wrt_runtime_t *rt = make_bounded_rt(&e, 1000, 0, 0, 0);
  uint64_t t0 = rt_now();
  cr_expect_eq(load_small(rt), WRT_ELIMIT, "%s", wrt_last_error());
  uint64_t ms = (rt_now() - t0) / 1000000;
  cr_expect(strstr(wrt_last_error(), "time limit of 1000 ms (compile_timeout_ms)"), "%s",
            wrt_last_error());
  cr_expect_lt(ms, 30000, "the load took %llu ms", (unsigned long long)ms);
  char p[128];
  snprintf(p, sizeof(p), "%s/child", e.dir);
  FILE *f = fopen(p, "r");
  cr_assert(f, "the compiler did not start its child");
  int child = 0;
  cr_assert_eq(fscanf(f, "%d", &child), 1);
  fclose(f);
  cr_expect(gone(child), "the compiler's child %d outlived the compile", child);
  cr_expect_eq(wrt_destroy(rt), 0);
  env_remove(&e);
}

/* A compiler that spins is stopped by its CPU time limit (SIGXCPU):
 * WRT_ELIMIT naming compile_cpu_seconds. */
Test(load, a_compile_past_its_cpu_limit_is_stopped, .timeout = 60) {
  env_t e;
  env_make(&e);
  cc_script(&e, "while :; do :; done");
  wrt_runtime_t *rt = make_bounded_rt(&e, 0, 1, 0, 0);
  cr_expect_eq(load_small(rt), WRT_ELIMIT, "%s", wrt_last_error());
  cr_expect(strstr(wrt_last_error(), "CPU time limit of 1 s (compile_cpu_seconds)"), "%s",
            wrt_last_error());
  cr_expect_eq(wrt_destroy(rt), 0);
  env_remove(&e);
}

/* Each tool process runs with the address-space, CPU and file-size limits
 * set, no core file, and none of the host's descriptors: the compiler
 * reports what it got. */
Test(load, the_tools_run_with_their_limits_and_none_of_the_hosts_descriptors, .timeout = 60) {
  env_t e;
  env_make(&e);
  int leaked = dup(1); /* not close-on-exec */
  cr_assert_geq(leaked, 3);
  char body[512];
  snprintf(body, sizeof(body),
           "echo \"as=$(ulimit -v) cpu=$(ulimit -t) core=$(ulimit -c) tmp=$TMPDIR\" >&2\n"
           "test -e /proc/$$/fd/%d && echo \"fd %d inherited\" >&2\nexit 3", leaked, leaked);
  cc_script(&e, body);
  wrt_runtime_t *rt = make_bounded_rt(&e, 0, 77, 3ull << 30, 0);
  cr_expect_eq(load_small(rt), WRT_ETOOLCHAIN, "%s", wrt_last_error());
  const char *m = wrt_last_error();
  cr_expect(strstr(m, "exited with status 3"), "%s", m);
  cr_expect(strstr(m, "as=3145728 cpu=77 core=0 tmp=."), "%s", m);
  cr_expect_null(strstr(m, "inherited"), "%s", m);
  close(leaked);
  cr_expect_eq(wrt_destroy(rt), 0);
  env_remove(&e);
}

/* A tool killed by a signal says which. */
Test(load, a_tool_killed_by_a_signal_says_so, .timeout = 60) {
  env_t e;
  env_make(&e);
  cc_script(&e, "echo about to crash >&2\nkill -SEGV $$");
  wrt_runtime_t *rt = make_bounded_rt(&e, 0, 0, 0, 0);
  cr_expect_eq(load_small(rt), WRT_ETOOLCHAIN, "%s", wrt_last_error());
  cr_expect(strstr(wrt_last_error(), "killed by signal 11 (Segmentation fault): about to crash"),
            "%s", wrt_last_error());
  cr_expect_eq(wrt_destroy(rt), 0);
  env_remove(&e);
}

/* A function body of 200,000 additions (1 MB; gcc needs about 270 MB
 * for it): with the real compiler under a 160 MiB address space, the
 * compile fails for memory and says which bound; under a 64 KiB file size
 * limit, wasm2c's output stops it. */
static mod_t long_body(uint32_t adds) {
  mod_t m = {0}, s = {0}, b = {0};
  header(&m);
  uleb(&s, 1), put(&s, "\x60\x00\x00", 3);
  section(&m, 1, &s);
  uleb(&s, 1), uleb(&s, 0);
  section(&m, 3, &s);
  uleb(&s, 1), name(&s, "_start"), byte(&s, 0), uleb(&s, 0);
  section(&m, 7, &s);
  uleb(&b, 0);
  byte(&b, 0x41), sleb(&b, 0);
  for (uint32_t i = 0; i < adds; i++) byte(&b, 0x41), sleb(&b, 12345), byte(&b, 0x6a);
  byte(&b, 0x1a), byte(&b, 0x0b);
  uleb(&s, 1), uleb(&s, b.n), put(&s, b.b, b.n);
  section(&m, 10, &s);
  free(s.b);
  free(b.b);
  return m;
}

Test(load, a_compile_over_its_memory_or_file_size_limit_says_which, .timeout = 60) {
  env_t e;
  env_make(&e);
  mod_t m = long_body(200000);
  char *path = write_temp(&m);
  for (int which = 0; which < 2; which++) {
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = WRT_BACKEND_STOCK;
    o.cache_dir = e.cache;
    if (which == 0) o.compile_memory_bytes = 160u << 20;
    else o.compile_file_bytes = 64u << 10;
    wrt_runtime_t *rt;
    cr_assert_eq(wrt_create(&o, &rt), 0, "%s", wrt_last_error());
    wrt_module_t *mod = NULL;
    cr_expect_eq(wrt_load(rt, path, &mod), WRT_ELIMIT, "%s", wrt_last_error());
    cr_expect(strstr(wrt_last_error(), which == 0 ? "address-space limit of 167772160 bytes "
                                                    "(compile_memory_bytes)"
                                                  : "size limit of 65536 bytes "
                                                    "(compile_file_bytes)"),
              "%s", wrt_last_error());
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  unlink(path);
  free(path);
  free(m.b);
  env_remove(&e);
}

/* ------------------------------------------------------------------ */
/* Data segments                                                        */

/* A command with one active data segment of `n` bytes ((i * 7 + 3) &
 * 0xff at byte i) whose _start checks every byte: exit 0, or 1 at the
 * first wrong one. */
static mod_t data_checker(uint32_t n) {
  mod_t m = {0}, s = {0}, b = {0};
  header(&m);
  uleb(&s, 2), put(&s, "\x60\x00\x00", 3), put(&s, "\x60\x01\x7f\x00", 4);
  section(&m, 1, &s);
  uleb(&s, 1), name(&s, "wasi_snapshot_preview1"), name(&s, "proc_exit"), byte(&s, 0), uleb(&s, 1);
  section(&m, 2, &s);
  uleb(&s, 1), uleb(&s, 0);
  section(&m, 3, &s);
  uleb(&s, 1), byte(&s, 0), uleb(&s, (n + 65535) / 65536);
  section(&m, 5, &s);
  uleb(&s, 1), name(&s, "_start"), byte(&s, 0), uleb(&s, 1);
  section(&m, 7, &s);
  uleb(&b, 1), uleb(&b, 1), byte(&b, 0x7f); /* one i32 local: i */
  put(&b, "\x02\x40\x03\x40", 4);           /* block loop */
  put(&b, "\x20\x00\x41", 3), sleb(&b, n), put(&b, "\x4f\x0d\x01", 3); /* i >= n: br_if 1 */
  put(&b, "\x20\x00\x2d\x00\x00", 5);       /* i32.load8_u (i) */
  put(&b, "\x20\x00\x41\x07\x6c\x41\x03\x6a\x41", 9), sleb(&b, 255), byte(&b, 0x71);
  put(&b, "\x47\x04\x40\x41\x01\x10\x00\x0b", 8); /* ne: proc_exit(1) */
  put(&b, "\x20\x00\x41\x01\x6a\x21\x00\x0c\x00", 9); /* i++, br 0 */
  put(&b, "\x0b\x0b\x0b", 3);
  uleb(&s, 1), uleb(&s, b.n), put(&s, b.b, b.n);
  section(&m, 10, &s);
  uleb(&s, 1), byte(&s, 0), byte(&s, 0x41), sleb(&s, 0), byte(&s, 0x0b), uleb(&s, n);
  for (uint32_t i = 0; i < n; i++) byte(&s, (uint8_t)(i * 7 + 3));
  section(&m, 11, &s);
  free(s.b);
  free(b.b);
  return m;
}

/* Active data segments never reach the C: an 8 MB segment (wasm2c wrote
 * 50 MB of C for it and gcc needed 1.1 GB and 24 s) compiles under a
 * 256 MiB address space and a 1 MiB file size limit, and every byte is
 * in memory on both backends (the pool's image; the stock backend's copy
 * at instantiation). */
Test(load, a_big_data_segment_costs_the_compiler_nothing, .timeout = 60) {
  env_t e;
  env_make(&e);
  mod_t m = data_checker(8000000);
  char *path = write_temp(&m);
  for (int b = 0; b < 2; b++) {
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = b ? WRT_BACKEND_STOCK : WRT_BACKEND_POOL;
    o.cache_dir = e.cache;
    o.compile_memory_bytes = 256u << 20;
    o.compile_file_bytes = 1u << 20;
    wrt_runtime_t *rt;
    cr_assert_eq(wrt_create(&o, &rt), 0, "%s", wrt_last_error());
    wrt_module_t *mod;
    cr_assert_eq(wrt_load(rt, path, &mod), 0, "%s", wrt_last_error());
    for (int round = 0; round < 2; round++) {
      const char *argv[] = {"g"};
      wrt_request_t req = {.argv = argv, .argc = 1};
      wrt_result_t res;
      wrt_result_init(&res);
      cr_expect_eq(wrt_run(mod, &req, &res), 0, "%s", wrt_last_error());
      cr_expect_eq(res.trap, WRT_TRAP_NONE, "%s", wrt_trap_name(res.trap));
      cr_expect_eq(res.exit_code, 0, "backend %d: a byte of the segment is wrong", b);
      wrt_result_free(&res);
    }
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  unlink(path);
  free(path);
  free(m.b);
  env_remove(&e);
}

/* ------------------------------------------------------------------ */
/* What the reader refuses before any tool runs                         */

/* A module of type section `types` (its entries, `ntypes` of them), and
 * one function of type 0 with body `code` (locals declared in it), plus
 * whatever sections `extra` adds between memory (5) and export (7): a
 * memory of one page, an export of the function as _start when its type
 * is () -> (). */
typedef struct spec_mod {
  const void *types;
  size_t types_len;
  uint32_t ntypes;
  const void *code; /* locals and instructions, to the function's end */
  size_t code_len;
  const void *globals, *elems, *data; /* section bodies, or NULL */
  size_t globals_len, elems_len, data_len;
  bool table;
} spec_mod_t;

static mod_t build(const spec_mod_t *p) {
  mod_t m = {0}, s = {0};
  header(&m);
  uleb(&s, p->ntypes), put(&s, p->types, p->types_len);
  section(&m, 1, &s);
  uleb(&s, 1), uleb(&s, 0);
  section(&m, 3, &s);
  if (p->table) {
    uleb(&s, 1), byte(&s, 0x70), byte(&s, 0), uleb(&s, 1);
    section(&m, 4, &s);
  }
  uleb(&s, 1), byte(&s, 0), uleb(&s, 1);
  section(&m, 5, &s);
  if (p->globals) put(&s, p->globals, p->globals_len), section(&m, 6, &s);
  uleb(&s, 1), name(&s, "_start"), byte(&s, 0), uleb(&s, 0);
  section(&m, 7, &s);
  if (p->elems) put(&s, p->elems, p->elems_len), section(&m, 9, &s);
  uleb(&s, 1), uleb(&s, p->code_len), put(&s, p->code, p->code_len);
  section(&m, 10, &s);
  if (p->data) put(&s, p->data, p->data_len), section(&m, 11, &s);
  free(s.b);
  return m;
}

/* Load `m` with the loud compiler: expect `code` and `needle`; with
 * `tools_ran` false, no tool may have run (the cache holds nothing),
 * with it true the load must have reached the compiler. */
static void expect_load(const mod_t *m, int code, const char *needle, bool tools_ran) {
  env_t e;
  env_make(&e);
  wrt_runtime_t *rt = make_rt(&e, WRT_BACKEND_STOCK, NULL);
  char *path = write_temp(m);
  wrt_module_t *mod = NULL;
  cr_expect_eq(wrt_load(rt, path, &mod), code, "%s: %s", needle, wrt_last_error());
  cr_expect(strstr(wrt_last_error(), needle), "'%s' lacks '%s'", wrt_last_error(), needle);
  if (tools_ran) {
    cr_expect(cc_ran(&e), "%s: the load did not reach the compiler", needle);
  } else {
    cr_expect_not(cc_ran(&e), "%s: the compiler ran", needle);
    cr_expect_eq(cache_entries(&e), 0, "%s: a tool ran (the cache holds something)", needle);
  }
  cr_expect_eq(wrt_destroy(rt), 0);
  unlink(path);
  free(path);
  env_remove(&e);
}

#define T_VOID "\x60\x00\x00"

/* What wasm2c 1.0.32 would abort or crash on, or accept and leave to gcc,
 * is a format error with the reason, before any tool runs: v128 anywhere
 * (wasm2c aborted on any SIMD module: the official simd_* scripts failed
 * to load), SIMD, threads, exceptions and tail-call instructions, an
 * element segment with an empty offset (elem.wast:372: wasm2c wrote C
 * that only gcc refused), a data offset that is not an i32, a memory
 * instruction's reserved byte. Each reached wasm2c as WRT_ETOOLCHAIN. */
Test(load, what_wasm2c_cannot_translate_is_a_format_error_before_any_tool_runs, .timeout = 60) {
  static const struct {
    const char *types;
    size_t types_len;
    const char *code;
    size_t code_len;
    const char *elems, *data;
    size_t elems_len, data_len;
    const char *needle;
  } cases[] = {
      {T_VOID "\x60\x01\x7b\x00", 7, "\x00\x0b", 2, NULL, NULL, 0, 0, "v128 (SIMD)"},
      {T_VOID, 3, "\x01\x01\x7b\x0b", 4, NULL, NULL, 0, 0, "v128 (SIMD)"},
      {T_VOID, 3, "\x00\xfd\x0c", 3, NULL, NULL, 0, 0, "SIMD is not supported"},
      {T_VOID, 3, "\x00\x02\x7b\x0b\x0b", 5, NULL, NULL, 0, 0, "v128 (SIMD)"},
      {T_VOID, 3, "\x00\x12\x00\x0b", 4, NULL, NULL, 0, 0, "tail calls are not supported"},
      {T_VOID, 3, "\x00\x06\x40\x0b\x0b", 5, NULL, NULL, 0, 0, "exceptions are not supported"},
      {T_VOID, 3, "\x00\x41\x00\xfe\x10\x02\x00\x1a\x0b", 9, NULL, NULL, 0, 0,
       "threads (atomics) are not supported"},
      {T_VOID, 3, "\x00\x41\x00\x40\x01\x1a\x0b", 7, NULL, NULL, 0, 0, "zero byte expected"},
      {T_VOID, 3, "\x00\x0b", 2, "\x01\x00\x0b\x01\x00", NULL, 5, 0, "empty constant expression"},
      {T_VOID, 3, "\x00\x0b", 2, NULL, "\x01\x00\x42\x00\x0b\x00", 0, 6,
       "constant expression of type i64 where a i32 is expected"},
      {T_VOID, 3, "\x00\x0b", 2, NULL, "\x01\x00\x41\x00\x41\x00\x6a\x0b\x00", 0, 9,
       "more than one instruction"},
      {T_VOID, 3, "\x00\xc5\x0b", 3, NULL, NULL, 0, 0, "illegal opcode 0xc5"},
      {T_VOID, 3, "\x00\x01", 2, NULL, NULL, 0, 0, "unexpected end"},
      {T_VOID, 3, "\x00\x0b\x01", 3, NULL, NULL, 0, 0, "1 bytes after its end"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    spec_mod_t p = {.types = cases[i].types, .types_len = cases[i].types_len,
                    .ntypes = (uint32_t)(cases[i].types_len > 3 ? 2 : 1),
                    .code = cases[i].code, .code_len = cases[i].code_len,
                    .elems = cases[i].elems, .elems_len = cases[i].elems_len,
                    .data = cases[i].data, .data_len = cases[i].data_len,
                    .table = cases[i].elems != NULL};
    mod_t m = build(&p);
    expect_load(&m, WRT_EFORMAT, cases[i].needle, false);
    free(m.b);
  }
}

/* Every construct the walk knows (tests/runtime/wat/walk.wat: globals of
 * each type, element segments of each encoding, passive data, bulk memory
 * and table instructions, br_table, select with a type) gets through it
 * and runs, on both backends. */
Test(load, every_construct_the_walk_knows_loads_and_runs, .timeout = 60) {
  char path[1024];
  const char *d = getenv("WPOOL_TEST_MODULES");
  cr_assert(d && *d, "WPOOL_TEST_MODULES is not set (meson test sets it)");
  snprintf(path, sizeof(path), "%s/walk.wasm", d);
  for (int b = 0; b < 2; b++) {
    wpool_config_t c;
    wrt_config_init(&c);
    c.instance_count = 2;
    c.stack_count = 0;
    c.instance_tables = 2; /* a funcref and an externref table */
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = b ? WRT_BACKEND_STOCK : WRT_BACKEND_POOL;
    o.pool_config = &c;
    wrt_runtime_t *rt;
    cr_assert_eq(wrt_create(&o, &rt), 0, "%s", wrt_last_error());
    wrt_module_t *mod;
    cr_assert_eq(wrt_load(rt, path, &mod), 0, "%s", wrt_last_error());
    const char *argv[] = {"g"};
    wrt_request_t req = {.argv = argv, .argc = 1};
    wrt_result_t res;
    wrt_result_init(&res);
    cr_expect_eq(wrt_run(mod, &req, &res), 0, "%s", wrt_last_error());
    cr_expect_eq(res.trap, WRT_TRAP_NONE, "%s", wrt_trap_name(res.trap));
    cr_expect_eq(res.exit_code, 0);
    wrt_result_free(&res);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* Blocks nested 100,000 deep (a valid module of 300 KB): wasm2c died of
 * SIGSEGV on them. Over the reader's limit of 10,000: WRT_ELIMIT before
 * any tool runs; at it, wasm2c translates it. */
static mod_t nested(uint32_t depth) {
  mod_t code = {0};
  byte(&code, 0);
  for (uint32_t i = 0; i < depth; i++) byte(&code, 0x02), byte(&code, 0x40);
  for (uint32_t i = 0; i <= depth; i++) byte(&code, 0x0b);
  spec_mod_t p = {.types = T_VOID, .types_len = 3, .ntypes = 1, .code = code.b,
                  .code_len = code.n};
  mod_t m = build(&p);
  free(code.b);
  return m;
}

/* Each limit of the reader's (wasm_reader.h), one past it: WRT_ELIMIT
 * naming it and the value, before any tool runs; at it (where that is
 * cheap to build and translate): accepted, up to the (loud) compiler. */
Test(load, modules_over_the_readers_limits_are_refused_before_any_tool_runs, .timeout = 60) {
  mod_t m = nested(100000);
  expect_load(&m, WRT_ELIMIT, "blocks nested 10001 deep; the limit is 10000", false);
  free(m.b);
  m = nested(10000);
  expect_load(&m, WRT_ETOOLCHAIN, "compiling is not allowed here", true);
  free(m.b);
  for (int at = 0; at < 2; at++) {
    /* Parameters and results of a type. */
    for (int results = 0; results < 2; results++) {
      mod_t t = {0};
      put(&t, T_VOID, 3);
      byte(&t, 0x60);
      uleb(&t, results ? 0 : 1001 - at);
      for (int k = 0; k < (results ? 0 : 1001 - at); k++) byte(&t, 0x7f);
      uleb(&t, results ? 1001 - at : 0);
      for (int k = 0; k < (results ? 1001 - at : 0); k++) byte(&t, 0x7e);
      spec_mod_t p = {.types = t.b, .types_len = t.n, .ntypes = 2, .code = "\x00\x0b",
                      .code_len = 2};
      m = build(&p);
      char needle[96];
      snprintf(needle, sizeof(needle), "type 1 has 1001 %s; the limit is 1000",
               results ? "results" : "parameters");
      expect_load(&m, at ? WRT_ETOOLCHAIN : WRT_ELIMIT,
                  at ? "compiling is not allowed here" : needle, at);
      free(m.b), free(t.b);
    }
    /* The types' total: () -> (), 48 types of 1,000 parameters and one of
     * 975 parameters and 975 results weigh 50,000 (one more result: 50,001). */
    mod_t t = {0};
    put(&t, T_VOID, 3);
    for (int k = 0; k < 48; k++) {
      byte(&t, 0x60), uleb(&t, 1000);
      for (int j = 0; j < 1000; j++) byte(&t, 0x7f);
      uleb(&t, 0);
    }
    byte(&t, 0x60), uleb(&t, 975);
    for (int j = 0; j < 975; j++) byte(&t, 0x7f);
    uleb(&t, 975 + !at);
    for (int j = 0; j < 975 + !at; j++) byte(&t, 0x7e);
    spec_mod_t p = {.types = t.b, .types_len = t.n, .ntypes = 50, .code = "\x00\x0b",
                    .code_len = 2};
    m = build(&p);
    expect_load(&m, at ? WRT_ETOOLCHAIN : WRT_ELIMIT,
                at ? "compiling is not allowed here" : "more than 50000 parameters and results",
                at);
    free(m.b), free(t.b);
    /* Locals, parameters included. */
    mod_t code = {0};
    uleb(&code, 1), uleb(&code, 50001 - at), byte(&code, 0x7e), byte(&code, 0x0b);
    p = (spec_mod_t){.types = T_VOID, .types_len = 3, .ntypes = 1, .code = code.b,
                     .code_len = code.n};
    m = build(&p);
    expect_load(&m, at ? WRT_ETOOLCHAIN : WRT_ELIMIT,
                at ? "compiling is not allowed here" : "50001 locals (parameters included); "
                                                       "the limit is 50000", at);
    free(m.b), free(code.b);
    /* A br_table's targets. */
    code = (mod_t){0};
    byte(&code, 0), put(&code, "\x02\x40\x41\x00\x0e", 5), uleb(&code, 65521 - at);
    for (int k = 0; k <= 65521 - at; k++) byte(&code, 0);
    put(&code, "\x0b\x0b", 2);
    p.code = code.b, p.code_len = code.n;
    m = build(&p);
    expect_load(&m, at ? WRT_ETOOLCHAIN : WRT_ELIMIT,
                at ? "compiling is not allowed here" : "br_table of 65521 targets; the limit "
                                                       "is 65520", at);
    free(m.b), free(code.b);
    /* Passive data's bytes (they reach the C). */
    mod_t d = {0};
    uint32_t n = (4u << 20) + 1 - (uint32_t)at;
    uleb(&d, 1), byte(&d, 1), uleb(&d, n);
    for (uint32_t k = 0; k < n; k++) byte(&d, (uint8_t)k);
    p = (spec_mod_t){.types = T_VOID, .types_len = 3, .ntypes = 1, .code = "\x00\x0b",
                     .code_len = 2, .data = d.b, .data_len = d.n};
    m = build(&p);
    expect_load(&m, at ? WRT_ETOOLCHAIN : WRT_ELIMIT,
                at ? "compiling is not allowed here" : "passive data segments of 4194305 bytes",
                at);
    free(m.b), free(d.b);
  }
}

/* Counts one past the limit (the module need not be whole: the reader
 * stops at the count): imports, exports, functions, globals, data
 * segments, element items, a body's size. */
Test(load, counts_over_the_readers_limits_are_refused_before_any_tool_runs, .timeout = 60) {
  static const struct {
    uint8_t id;
    uint32_t count;
    const char *entry;
    size_t entry_len;
    const char *needle;
  } cases[] = {
      {2, 100001, "\x01m\x01n\x00\x00", 6, "100001 imports; the limit is 100000"},
      {7, 100001, "\x01x\x00\x00", 4, "100001 exports; the limit is 100000"},
      {3, 1000001, "\x00", 1, "1000001 functions (imported and defined); the limit is 1000000"},
      {6, 1000001, "\x7f\x00\x41\x00\x0b", 5, "1000001 globals; the limit is 1000000"},
      {11, 100001, "\x01\x00", 2, "100001 data segments; the limit is 100000"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    mod_t m = {0}, s = {0};
    header(&m);
    uleb(&s, 1), put(&s, T_VOID, 3);
    section(&m, 1, &s);
    uleb(&s, cases[i].count);
    for (uint32_t k = 0; k < cases[i].count; k++) put(&s, cases[i].entry, cases[i].entry_len);
    section(&m, cases[i].id, &s);
    expect_load(&m, WRT_ELIMIT, cases[i].needle, false);
    free(m.b), free(s.b);
  }
  /* Element items: one passive segment of 1,000,001 references to
   * function 0. */
  mod_t el = {0};
  uleb(&el, 1), byte(&el, 1), byte(&el, 0), uleb(&el, 1000001);
  for (uint32_t k = 0; k < 1000001; k++) byte(&el, 0);
  spec_mod_t p = {.types = T_VOID, .types_len = 3, .ntypes = 1, .code = "\x00\x0b",
                  .code_len = 2, .elems = el.b, .elems_len = el.n, .table = true};
  mod_t m = build(&p);
  expect_load(&m, WRT_ELIMIT, "element segments of 1000001 items in all; the limit is 1000000",
              false);
  free(m.b), free(el.b);
  /* A body of 7,654,322 bytes. */
  mod_t code = {0};
  byte(&code, 0);
  for (uint32_t k = 0; k < 7654320; k++) byte(&code, 0x01);
  byte(&code, 0x0b);
  p = (spec_mod_t){.types = T_VOID, .types_len = 3, .ntypes = 1, .code = code.b,
                   .code_len = code.n};
  m = build(&p);
  expect_load(&m, WRT_ELIMIT, "body of 7654322 bytes; the limit is 7654321", false);
  free(m.b), free(code.b);
  /* More locals than 32 bits count is malformed, not a limit. */
  code = (mod_t){0};
  uleb(&code, 2), uleb(&code, 0xffffffffu), byte(&code, 0x7f), uleb(&code, 0xffffffffu);
  byte(&code, 0x7e), byte(&code, 0x0b);
  p.code = code.b, p.code_len = code.n;
  m = build(&p);
  expect_load(&m, WRT_EFORMAT, "too many locals", false);
  free(m.b), free(code.b);
}
