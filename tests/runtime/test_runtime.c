/* The WebAssembly runtime (runtime/runtime.h) on real guests: the .wasm
 * reader on hand-made and real modules, load errors, outputs against the
 * guests' native builds on the pool and on stock, isolation, traps, the
 * neighbours of a trapping instance, pooled against stock memory after
 * instantiation, and the compile cache.
 *
 * The guests (examples/) are built by meson; WPOOL_EXAMPLES names their
 * directory, WPOOL_CACHE_DIR the build directory's compile cache (each
 * guest is compiled once per build directory). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"
#include "wasm_builder.h"
#include "wasm_reader.h"
#include "wpool.h"

extern char **environ;

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static const char *examples(void) {
  const char *d = getenv("WPOOL_EXAMPLES");
  cr_assert(d && *d, "WPOOL_EXAMPLES is not set (meson test sets it)");
  return d;
}

static char *guest(const char *name, const char *suffix) {
  static _Thread_local char buf[8][1024];
  static _Thread_local int k;
  char *b = buf[k++ % 8];
  snprintf(b, 1024, "%s/%s%s", examples(), name, suffix);
  return b;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static wrt_runtime_t *make_rt(wrt_backend_t b, const wpool_config_t *cfg) {
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = b;
  o.pool_config = cfg;
  wrt_runtime_t *rt;
  int err = wrt_create(&o, &rt);
  cr_assert_eq(err, 0, "wrt_create: %s", wrt_last_error());
  return rt;
}

/* A small pool for tests: 8 slots, 16 MiB memories at most. */
static wpool_config_t small_cfg(void) {
  wpool_config_t c;
  wrt_config_init(&c);
  c.instance_count = 8;
  c.instance_memory_pages = 256;
  c.stack_count = 0;
  return c;
}

static wrt_module_t *load(wrt_runtime_t *rt, const char *name) {
  wrt_module_t *m;
  int err = wrt_load(rt, guest(name, ".wasm"), &m);
  cr_assert_eq(err, 0, "load %s: %s", name, wrt_last_error());
  return m;
}

typedef struct native_out {
  char *out;
  size_t len;
  int status;
} native_out_t;

/* Run the guest's native build with `argv` (argv[0] included), `envp`
 * and `in` on standard input. */
static native_out_t run_native(const char *name, const char *const *argv, const char *const *envp,
                               const char *in, size_t in_len) {
  char tin[] = "/tmp/wrt-in-XXXXXX", tout[] = "/tmp/wrt-out-XXXXXX";
  int fi = mkstemp(tin), fo = mkstemp(tout);
  cr_assert(fi >= 0 && fo >= 0);
  cr_assert_eq(write(fi, in, in_len), (ssize_t)in_len);
  lseek(fi, 0, SEEK_SET);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fi, 0);
  posix_spawn_file_actions_adddup2(&fa, fo, 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  static const char *const noenv[] = {NULL};
  cr_assert_eq(posix_spawn(&pid, guest(name, "_native"), &fa, NULL, (char *const *)argv,
                           (char *const *)(envp ? envp : noenv)),
               0);
  posix_spawn_file_actions_destroy(&fa);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  native_out_t r = {0};
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  close(fi);
  close(fo);
  r.out = (char *)slurp(tout, &r.len);
  unlink(tin);
  unlink(tout);
  return r;
}

/* Deterministic inputs. */
static char *lines_input(size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  uint32_t x = 12345;
  for (int i = 0; i < 1500; i++) {
    x = x * 1103515245u + 12345u;
    n += (size_t)snprintf(b + n, cap - n, "line %d %s-%u.%s\n", i, (x >> 16) % 3 ? "item" : "node",
                          (x >> 8) % 1000, (x >> 20) % 2 ? "txt" : "json");
  }
  *len = n;
  return b;
}

static char *json_input(size_t *len) {
  size_t cap = 1 << 17, n = 0;
  char *b = malloc(cap);
  n += (size_t)snprintf(b + n, cap - n, "{\"users\":[");
  for (int i = 0; i < 300; i++)
    n += (size_t)snprintf(b + n, cap - n,
                          "%s{\"id\":%d,\"name\":\"user \\\"%d\\\"\",\"score\":%d.%d,"
                          "\"tags\":[\"a\",\"b%d\",null,true,false],\"nested\":{\"z\":%d,\"a\":[]}}",
                          i ? "," : "", i, i, i * 7 % 101, i % 10, i % 5, -i);
  n += (size_t)snprintf(b + n, cap - n, "],\"version\":1e3,\"ok\":true}");
  *len = n;
  return b;
}

typedef struct gcase {
  const char *name;
  const char *args[4];
  char *(*input)(size_t *);
  const char *text_input;
} gcase_t;

static char *vars_input(size_t *len) {
  static const char v[] = "user=ann\ntitle=Quarterly report\nplan=pro\nperiod=monthly\n"
                          "renewal=2027-01-01\nref=R-77\nrequests=10432\nquota=50000\n"
                          "region=eu-west\nstorage=3 GiB\nstorage_quota=10 GiB\n";
  *len = sizeof(v) - 1;
  return strdup(v);
}

static const gcase_t cases[] = {
    {"hello", {NULL}, NULL, ""},
    {"sha256sum", {NULL}, lines_input, NULL},
    {"json", {NULL}, json_input, NULL},
    {"template", {NULL}, vars_input, NULL},
    {"compress", {"-x", NULL}, lines_input, NULL},
    {"glob", {"*item-1??.*", "line [0-4]?? node*", "*.j[a-s]on", NULL}, lines_input, NULL},
    {"printenv", {"one", "two words", NULL}, NULL, "some stdin bytes\n"},
};

static const char *const test_env[] = {"HOME=/nonexistent", "LANG=C", "WPOOL_TEST=1", NULL};

/* Every guest's output and exit status equal its native build's, over
 * `n` requests on `rt`. */
static void outputs_match_native(wrt_runtime_t *rt, int n) {
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    const gcase_t *g = &cases[c];
    size_t in_len = 0;
    char *in = g->input ? g->input(&in_len) : strdup(g->text_input);
    if (!g->input) in_len = strlen(in);
    const char *argv[6] = {g->name};
    uint32_t argc = 1;
    while (g->args[argc - 1]) argv[argc] = g->args[argc - 1], argc++;
    native_out_t want = run_native(g->name, argv, test_env, in, in_len);
    cr_assert_gt(want.len, 0, "%s: the native build printed nothing", g->name);
    wrt_module_t *m = load(rt, g->name);
    wrt_request_t req = {.argv = argv, .argc = argc, .envp = test_env, .envc = 3,
                         .stdin_bytes = in, .stdin_len = in_len};
    wrt_result_t res;
    wrt_result_init(&res);
    for (int i = 0; i < n; i++) {
      cr_assert_eq(wrt_run(m, &req, &res), 0, "%s: %s", g->name, wrt_last_error());
      cr_assert_eq(res.trap, WRT_TRAP_NONE, "%s request %d trapped: %s", g->name, i,
                   wrt_trap_name(res.trap));
      cr_assert_eq(res.exit_code, want.status, "%s request %d: exit %d, native %d", g->name, i,
                   res.exit_code, want.status);
      cr_assert_eq(res.out_len, want.len, "%s request %d: %zu bytes out, native %zu", g->name, i,
                   res.out_len, want.len);
      cr_assert(memcmp(res.out, want.out, want.len) == 0, "%s request %d: output differs",
                g->name, i);
    }
    wrt_result_free(&res);
    cr_assert_eq(wrt_unload(m), 0);
    free(want.out);
    free(in);
  }
}

/* ------------------------------------------------------------------ */
/* The reader                                                           */

/* A command module: types [() -> (), the import's type], one import of
 * a function (if imp_mod), one memory, one active data segment at
 * `data_offset` (global.get 0 when data_offset < 0), and _start. */
typedef struct modspec {
  const char *imp_mod, *imp_name;
  const char *imp_params; /* letters i/I */
  bool imp_result;
  uint8_t imp_kind; /* 0 func, 2 memory */
  uint32_t mem_min, mem_max;
  bool has_max;
  int64_t data_offset;
  bool no_start;
} modspec_t;

static void build_module(wb_t *m, const modspec_t *s) {
  wb_t t = {0};
  m->n = 0;
  wb_header(m);
  wb_uleb(&t, 2);
  wb_byte(&t, 0x60), wb_uleb(&t, 0), wb_uleb(&t, 0);
  wb_byte(&t, 0x60);
  const char *p = s->imp_params ? s->imp_params : "";
  wb_uleb(&t, strlen(p));
  for (; *p; p++) wb_byte(&t, *p == 'I' ? 0x7e : 0x7f);
  wb_uleb(&t, s->imp_result ? 1 : 0);
  if (s->imp_result) wb_byte(&t, 0x7f);
  wb_section(m, 1, &t);
  uint32_t nfimports = 0;
  if (s->imp_mod) {
    t.n = 0;
    wb_uleb(&t, 1);
    wb_name(&t, s->imp_mod);
    wb_name(&t, s->imp_name);
    wb_byte(&t, s->imp_kind);
    if (s->imp_kind == 0) wb_uleb(&t, 1), nfimports = 1;
    else wb_byte(&t, 0), wb_uleb(&t, 1);
    wb_section(m, 2, &t);
  }
  t.n = 0;
  wb_uleb(&t, 1), wb_uleb(&t, 0);
  wb_section(m, 3, &t);
  t.n = 0;
  wb_uleb(&t, 1);
  wb_byte(&t, s->has_max ? 1 : 0);
  wb_uleb(&t, s->mem_min);
  if (s->has_max) wb_uleb(&t, s->mem_max);
  wb_section(m, 5, &t);
  if (s->data_offset < 0) { /* the offset's global: an i32 */
    t.n = 0;
    wb_uleb(&t, 1), wb_byte(&t, 0x7f), wb_byte(&t, 0), wb_byte(&t, 0x41), wb_sleb(&t, 0);
    wb_byte(&t, 0x0b);
    wb_section(m, 6, &t);
  }
  if (!s->no_start) {
    t.n = 0;
    wb_uleb(&t, 1), wb_name(&t, "_start"), wb_byte(&t, 0), wb_uleb(&t, nfimports);
    wb_section(m, 7, &t);
  }
  t.n = 0;
  wb_uleb(&t, 1), wb_uleb(&t, 2), wb_uleb(&t, 0), wb_byte(&t, 0x0b);
  wb_section(m, 10, &t);
  t.n = 0;
  wb_uleb(&t, 1), wb_uleb(&t, 0);
  if (s->data_offset < 0) wb_byte(&t, 0x23), wb_uleb(&t, 0);
  else wb_byte(&t, 0x41), wb_sleb(&t, s->data_offset);
  wb_byte(&t, 0x0b);
  wb_name(&t, "hello data");
  wb_section(m, 11, &t);
}

static char *write_temp(const wb_t *m) {
  char *path = strdup("/tmp/wrt-mod-XXXXXX");
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, m->b, m->n), (ssize_t)m->n);
  close(fd);
  return path;
}

Test(runtime, reader_reads_a_real_guest) {
  size_t len;
  uint8_t *b = slurp(guest("template", ".wasm"), &len);
  wasm_module_t w;
  char err[256];
  cr_assert(wasm_parse(b, len, &w, err, sizeof(err)), "%s", err);
  cr_expect_eq(w.nmemories, 1);
  cr_expect_eq(w.ntables, 1);
  cr_expect_eq(w.tables[0].elem, 'r');
  cr_expect_gt(w.nfunc_imports, 0);
  for (uint32_t i = 0; i < w.nimports; i++)
    cr_expect(wasm_name_is(w.imports[i].module, "wasi_snapshot_preview1"));
  cr_expect_not_null(wasm_find_export(&w, "_start", 6, WASM_EXTERN_FUNC));
  uint64_t biggest = 0;
  for (uint32_t i = 0; i < w.nsegments; i++)
    if (w.segments[i].active && w.segments[i].len > biggest) biggest = w.segments[i].len;
  cr_expect_geq(biggest, 100 * 1024, "the template's data segment is at least 100 KiB");
  wasm_module_free(&w);
  free(b);
}

Test(runtime, reader_reads_a_hand_made_module) {
  wb_t m;
  modspec_t s = {.imp_mod = "wasi_snapshot_preview1", .imp_name = "proc_exit", .imp_params = "i",
                 .mem_min = 2, .mem_max = 5, .has_max = true, .data_offset = 100};
  build_module(&m, &s);
  wasm_module_t w;
  char err[256];
  cr_assert(wasm_parse(m.b, m.n, &w, err, sizeof(err)), "%s", err);
  cr_expect_eq(w.nimports, 1);
  cr_expect(wasm_name_is(w.imports[0].name, "proc_exit"));
  cr_expect_str_eq(w.types[w.imports[0].type], "i:");
  cr_expect_eq(w.memories[0].min, 2);
  cr_expect_eq(w.memories[0].max, 5);
  cr_expect_eq(w.nsegments, 1);
  cr_expect_eq(w.segments[0].offset, 100);
  cr_expect_eq(w.segments[0].len, 10);
  cr_expect(memcmp(w.segments[0].bytes, "hello data", 10) == 0);
  wasm_module_free(&w);
}

Test(runtime, reader_names_what_is_wrong) {
  wasm_module_t w;
  char err[256];
  cr_expect_not(wasm_parse((const uint8_t *)"\0asx\1\0\0\0", 8, &w, err, sizeof(err)));
  cr_expect(strstr(err, "magic"), "%s", err);
  cr_expect_not(wasm_parse((const uint8_t *)"\0asm\2\0\0\0", 8, &w, err, sizeof(err)));
  cr_expect(strstr(err, "version 2"), "%s", err);
  /* A section longer than the file. */
  cr_expect_not(wasm_parse((const uint8_t *)"\0asm\1\0\0\0\1\x7f", 10, &w, err, sizeof(err)));
  cr_expect(strstr(err, "runs past the end"), "%s", err);
  /* A LEB128 with too many bytes. */
  cr_expect_not(wasm_parse((const uint8_t *)"\0asm\1\0\0\0\1\x80\x80\x80\x80\x80\x01", 15, &w, err,
                           sizeof(err)));
  cr_expect(strstr(err, "integer too"), "%s", err);
  /* A LEB128 cut by the section's end (found by fuzz_wasm: the bits read
   * so far once became a count of 268 million types; fuzz/corpus/wasm keeps
   * the input, on which fuzz_wasm then ran out of memory). */
  static const uint8_t cut[] = "\0asm\1\0\0\0\1\4\xff\xff\xff\xff\x01\x60";
  cr_expect_not(wasm_parse(cut, sizeof(cut) - 1, &w, err, sizeof(err)));
  cr_expect(strstr(err, "unexpected end"), "%s", err);
  /* A count no section could hold. */
  cr_expect_not(wasm_parse((const uint8_t *)"\0asm\1\0\0\0\1\5\xff\xff\xff\xff\x0f", 15, &w, err,
                           sizeof(err)));
  cr_expect(strstr(err, "exceeds the bytes left"), "%s", err);
  /* A data segment at a global's value: read, marked (the loader refuses
   * it, once it knows whether the module's imports link). */
  wb_t m;
  modspec_t s = {.mem_min = 1, .data_offset = -1};
  build_module(&m, &s);
  cr_expect(wasm_parse(m.b, m.n, &w, err, sizeof(err)), "%s", err);
  cr_expect(w.segments[0].offset_global);
  wasm_module_free(&w);
  /* Sections out of order: memory (5) after code (10). */
  cr_expect_not(wasm_parse((const uint8_t *)"\0asm\1\0\0\0\x0a\1\0\5\3\1\0\1", 16, &w, err,
                           sizeof(err)));
  cr_expect(strstr(err, "out of order"), "%s", err);
  cr_expect(wasm_parse((const uint8_t *)"\0asm\1\0\0\0", 8, &w, err, sizeof(err)),
            "the empty module is valid");
  wasm_module_free(&w);
}

/* Every prefix of a real module and thousands of corrupted copies: each
 * parses or fails with a message; none reads out of bounds (the ASan
 * build checks). */
Test(runtime, reader_survives_truncation_and_corruption) {
  size_t len;
  uint8_t *b = slurp(guest("hello", ".wasm"), &len);
  wasm_module_t w;
  char err[256];
  int ok = 0;
  for (size_t n = 0; n < len; n += (n < 4096 ? 1 : 97)) {
    uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
    memcpy(copy, b, n);
    err[0] = 0;
    if (wasm_parse(copy, n, &w, err, sizeof(err))) ok++, wasm_module_free(&w);
    else cr_assert(err[0], "a failure without a message at %zu bytes", n);
    free(copy);
  }
  cr_expect_lt(ok, 20, "truncated modules parse only at section boundaries");
  uint32_t x = 99;
  for (int i = 0; i < 3000; i++) {
    uint8_t *copy = malloc(len);
    memcpy(copy, b, len);
    for (int k = 0; k < 4; k++) {
      x = x * 1664525u + 1013904223u;
      copy[(x >> 8) % (len < 2048 ? len : 2048)] ^= (uint8_t)(1u << (x % 8));
    }
    if (wasm_parse(copy, len, &w, err, sizeof(err))) wasm_module_free(&w);
    free(copy);
  }
  free(b);
}

/* ------------------------------------------------------------------ */
/* Load errors                                                          */

static void expect_load_error(wrt_runtime_t *rt, const wb_t *m, int code, const char *needle) {
  char *path = write_temp(m);
  wrt_module_t *mod = NULL;
  int err = wrt_load(rt, path, &mod);
  cr_expect_eq(err, code, "%s: got %d (%s)", needle, err, wrt_last_error());
  cr_expect(strstr(wrt_last_error(), needle), "message '%s' lacks '%s'", wrt_last_error(), needle);
  cr_expect(strstr(wrt_last_error(), path), "message '%s' names the module", wrt_last_error());
  cr_expect_null(mod);
  unlink(path);
  free(path);
}

Test(runtime, load_refuses_what_requests_could_not_run) {
  wpool_config_t c = small_cfg();
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  wb_t m;
  modspec_t s = {.imp_mod = "env", .imp_name = "host_call", .mem_min = 1};
  build_module(&m, &s);
  expect_load_error(rt, &m, WRT_EIMPORT, "'env'.'host_call'");
  s = (modspec_t){.imp_mod = "wasi_snapshot_preview1", .imp_name = "fd_write", .imp_params = "ii",
                  .imp_result = true, .mem_min = 1};
  build_module(&m, &s);
  expect_load_error(rt, &m, WRT_EIMPORT, "has type (i32 i32) -> (i32), WASI's is (i32 i32 i32 i32) -> (i32)");
  s = (modspec_t){.imp_mod = "wasi_snapshot_preview1", .imp_name = "no_such_call", .mem_min = 1};
  build_module(&m, &s);
  expect_load_error(rt, &m, WRT_EIMPORT, "'no_such_call' is not a WASI preview-1 function");
  s = (modspec_t){.imp_mod = "env", .imp_name = "memory", .imp_kind = 2, .mem_min = 1};
  build_module(&m, &s);
  expect_load_error(rt, &m, WRT_EIMPORT, "(memory) is not provided");
  s = (modspec_t){.mem_min = 1, .no_start = true};
  build_module(&m, &s);
  expect_load_error(rt, &m, WRT_EFORMAT, "no exported function _start");
  s = (modspec_t){.mem_min = 1, .data_offset = 65530};
  build_module(&m, &s);
  expect_load_error(rt, &m, WRT_EFORMAT, "data segment 0 (offset 65530, 10 bytes) ends past");
  s = (modspec_t){.mem_min = 1, .data_offset = -1};
  build_module(&m, &s);
  expect_load_error(rt, &m, WRT_EFORMAT, "not a constant");
  s = (modspec_t){.mem_min = 300};
  build_module(&m, &s);
  expect_load_error(rt, &m, WRT_ELIMIT, "instance_memory_pages");
  m.n = 0;
  wb_put(&m, "not wasm at all", 15);
  expect_load_error(rt, &m, WRT_EFORMAT, "magic");
  wrt_module_t *mod;
  cr_expect_eq(wrt_load(rt, "/nonexistent/x.wasm", &mod), WRT_ESYS);
  cr_expect(strstr(wrt_last_error(), "/nonexistent/x.wasm"));
  wrt_stats_t st;
  wrt_stats_get(rt, &st);
  cr_expect_eq(st.modules_loaded, 0);
  cr_expect_eq(wrt_destroy(rt), 0);
}

Test(runtime, unsafe_pool_layouts_are_refused) {
  wpool_config_t c = small_cfg();
  c.memory_guard_size = 2ull << 30;
  wrt_options_t o;
  wrt_options_init(&o);
  o.pool_config = &c;
  wrt_runtime_t *rt;
  cr_expect_eq(wrt_create(&o, &rt), WRT_EINVAL);
  cr_expect(strstr(wrt_last_error(), "memory_guard_size"), "%s", wrt_last_error());
  c = small_cfg();
  c.memory_reservation = 1ull << 30;
  c.memory_guard_size = 8ull << 30;
  c.instance_memory_pages = 16;
  cr_expect_eq(wrt_create(&o, &rt), WRT_EINVAL);
  cr_expect(strstr(wrt_last_error(), "memory_reservation"), "%s", wrt_last_error());
}

Test(runtime, a_failing_compiler_is_a_toolchain_error_and_leaves_nothing) {
  char dir[] = "/tmp/wrt-cache-XXXXXX";
  cr_assert(mkdtemp(dir));
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = WRT_BACKEND_STOCK;
  o.cache_dir = dir;
  o.cc = "false";
  wrt_runtime_t *rt;
  cr_assert_eq(wrt_create(&o, &rt), 0);
  wrt_module_t *m;
  cr_expect_eq(wrt_load(rt, guest("hello", ".wasm"), &m), WRT_ETOOLCHAIN);
  cr_expect(strstr(wrt_last_error(), "compiling the generated C failed"), "%s", wrt_last_error());
  DIR *d = opendir(dir);
  struct dirent *e;
  int entries = 0;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') entries++;
  closedir(d);
  cr_expect_eq(entries, 0, "no temporary files or objects left in the cache");
  cr_expect_eq(wrt_destroy(rt), 0);
  rmdir(dir);
}

Test(runtime, a_second_load_comes_from_the_cache) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  wrt_module_t *a = load(rt, "hello"), *b = load(rt, "hello");
  wrt_module_info_t ia, ib;
  wrt_module_info(a, &ia);
  wrt_module_info(b, &ib);
  cr_expect(ib.from_cache);
  cr_expect_eq(ia.min_pages, ib.min_pages);
  cr_expect_eq(wrt_destroy(rt), 0, "destroy unloads both");
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */

Test(runtime, outputs_equal_native_builds_on_the_pool, .timeout = 240) {
  wpool_config_t c = small_cfg();
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  outputs_match_native(rt, 12);
  cr_expect_eq(wrt_destroy(rt), 0);
}

Test(runtime, outputs_equal_native_builds_on_stock, .timeout = 240) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  outputs_match_native(rt, 6);
  cr_expect_eq(wrt_destroy(rt), 0);
}

Test(runtime, outputs_equal_native_builds_with_memset_resets_and_prefix_reset, .timeout = 240) {
  wpool_config_t c = small_cfg();
  c.linear_memory_keep_resident = 1 << 20;
  c.reset_strategy = WPOOL_RESET_PREFIX;
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  outputs_match_native(rt, 6);
  cr_expect_eq(wrt_destroy(rt), 0);
}

static void secrets_never_found(const wpool_config_t *c, wrt_backend_t b) {
  wrt_runtime_t *rt = make_rt(b, c);
  wrt_module_t *m = load(rt, "secret");
  const char *argv[] = {"secret"};
  wrt_request_t req = {.argv = argv, .argc = 1};
  wrt_result_t res;
  wrt_result_init(&res);
  for (int i = 0; i < 30; i++) {
    cr_assert_eq(wrt_run(m, &req, &res), 0, "%s", wrt_last_error());
    cr_assert_eq(res.exit_code, 0);
    cr_assert_eq(res.out_len, strlen("secrets found: 0\n"), "request %d: %.*s", i,
                 (int)res.out_len, res.out);
    cr_assert(memcmp(res.out, "secrets found: 0\n", res.out_len) == 0, "request %d: %.*s", i,
              (int)res.out_len, res.out);
  }
  wrt_result_free(&res);
  if (b == WRT_BACKEND_POOL) {
    wpool_stats_t st;
    wpool_stats_get(wrt_pool(rt), &st);
    cr_expect_geq(st.affine_hits, 29, "the requests reused one warm slot");
  }
  cr_expect_eq(wrt_destroy(rt), 0);
}

Test(runtime, no_request_finds_an_earlier_requests_secret) {
  wpool_config_t c = small_cfg();
  secrets_never_found(&c, WRT_BACKEND_POOL);
  c.linear_memory_keep_resident = 4 << 20;
  secrets_never_found(&c, WRT_BACKEND_POOL);
  c.reset_strategy = WPOOL_RESET_PREFIX;
  secrets_never_found(&c, WRT_BACKEND_POOL);
  secrets_never_found(NULL, WRT_BACKEND_STOCK);
}

/* The three timings are measured when asked for, and are 0 when not, even
 * in a result that held a timed request's. */
static void timings_only_when_asked(wrt_backend_t b) {
  wpool_config_t c = small_cfg();
  wrt_runtime_t *rt = make_rt(b, b == WRT_BACKEND_POOL ? &c : NULL);
  wrt_module_t *m = load(rt, "hello");
  const char *argv[] = {"hello"};
  wrt_request_t req = {.argv = argv, .argc = 1};
  wrt_result_t res;
  wrt_result_init(&res);
  for (int i = 0; i < 4; i++) {
    req.timings = i % 2 == 0;
    cr_assert_eq(wrt_run(m, &req, &res), 0, "%s", wrt_last_error());
    cr_assert_eq(res.exit_code, 0);
    if (req.timings) {
      cr_expect_gt(res.instantiate_ns, 0, "%s: request %d", wrt_backend_name(b), i);
      cr_expect_gt(res.run_ns, 0, "%s: request %d", wrt_backend_name(b), i);
      cr_expect_gt(res.free_ns, 0, "%s: request %d", wrt_backend_name(b), i);
    } else {
      cr_expect_eq(res.instantiate_ns + res.run_ns + res.free_ns, 0, "%s: request %d",
                   wrt_backend_name(b), i);
    }
  }
  wrt_result_free(&res);
  cr_expect_eq(wrt_destroy(rt), 0);
}

Test(runtime, a_request_is_timed_only_when_it_asks) {
  timings_only_when_asked(WRT_BACKEND_POOL);
  timings_only_when_asked(WRT_BACKEND_STOCK);
}

typedef struct trap_case {
  const char *mode;
  wrt_trap_t trap;
} trap_case_t;

static const trap_case_t trap_cases[] = {
    {"oob-low", WRT_TRAP_OOB},          {"oob-edge", WRT_TRAP_OOB},
    {"oob-offset", WRT_TRAP_OOB},       {"oob-straddle", WRT_TRAP_OOB},
    {"oob-max", WRT_TRAP_OOB},          {"oob-store", WRT_TRAP_OOB},
    {"stack-shadow", WRT_TRAP_OOB},     {"unreachable", WRT_TRAP_UNREACHABLE},
    {"div0", WRT_TRAP_DIV_BY_ZERO},     {"overflow", WRT_TRAP_INT_OVERFLOW},
    {"stack", WRT_TRAP_EXHAUSTION},     {"indirect", WRT_TRAP_CALL_INDIRECT},
};

static void traps_end_requests(wrt_backend_t b) {
  wpool_config_t c = small_cfg();
  wrt_runtime_t *rt = make_rt(b, b == WRT_BACKEND_POOL ? &c : NULL);
  wrt_module_t *m = load(rt, "trap"), *hello = load(rt, "hello");
  wrt_result_t res;
  wrt_result_init(&res);
  const char *hargv[] = {"hello"};
  wrt_request_t hreq = {.argv = hargv, .argc = 1};
  for (size_t i = 0; i < sizeof(trap_cases) / sizeof(trap_cases[0]); i++) {
    const char *argv[] = {"trap", trap_cases[i].mode};
    wrt_request_t req = {.argv = argv, .argc = 2};
    cr_assert_eq(wrt_run(m, &req, &res), 0, "%s", wrt_last_error());
    cr_expect_eq(res.trap, trap_cases[i].trap, "%s: trap %s, want %s", trap_cases[i].mode,
                 wrt_trap_name(res.trap), wrt_trap_name(trap_cases[i].trap));
    cr_expect_eq(res.exit_code, -1);
    cr_expect_eq(res.out_len, 0, "%s printed: %.*s", trap_cases[i].mode, (int)res.out_len,
                 res.out);
    /* The process and the next request go on. */
    cr_assert_eq(wrt_run(hello, &hreq, &res), 0);
    cr_expect_eq(res.exit_code, 0);
    cr_expect_eq(res.out_len, 13);
  }
  const char *argv[] = {"trap", "exit7"};
  wrt_request_t req = {.argv = argv, .argc = 2};
  cr_assert_eq(wrt_run(m, &req, &res), 0);
  cr_expect_eq(res.trap, WRT_TRAP_NONE);
  cr_expect_eq(res.exit_code, 7);
  wrt_stats_t st;
  wrt_stats_get(rt, &st);
  cr_expect_eq(st.traps, sizeof(trap_cases) / sizeof(trap_cases[0]));
  cr_expect_eq(st.nonzero_exits, 1);
  wrt_result_free(&res);
  cr_expect_eq(wrt_destroy(rt), 0);
}

Test(runtime, traps_end_the_request_with_their_kind_on_the_pool) { traps_end_requests(WRT_BACKEND_POOL); }
Test(runtime, traps_end_the_request_with_their_kind_on_stock) { traps_end_requests(WRT_BACKEND_STOCK); }

/* Out-of-bounds guests run in the slot between two live instances whose
 * memories hold a pattern: every access traps, and the neighbours' bytes
 * are untouched. */
Test(runtime, out_of_bounds_guests_leave_their_neighbours_intact) {
  wpool_config_t c = small_cfg();
  c.instance_count = 3;
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  wrt_module_t *m = load(rt, "trap");
  wpool_t *pool = wrt_pool(rt);
  wpool_memory_desc_t md = {.min_pages = 256, .max_pages = 256};
  wpool_module_desc_t d = {.state_size = 64, .memories = &md, .nmemories = 1};
  wpool_module_t *raw;
  cr_assert_eq(wpool_module_new(pool, &d, &raw), 0, "%s", wpool_last_error());
  wpool_instance_t *in[3];
  for (int i = 0; i < 3; i++) cr_assert_eq(wpool_instance_new(pool, raw, &in[i]), 0);
  cr_assert_eq(wpool_instance_slot(in[1]), 1);
  wpool_instance_free(in[1]);
  for (int i = 0; i < 3; i += 2) memset(wpool_memory_base(in[i], 0), 0xA5, 256u * 65536);
  wrt_result_t res;
  wrt_result_init(&res);
  for (size_t k = 0; k < sizeof(trap_cases) / sizeof(trap_cases[0]); k++) {
    if (strncmp(trap_cases[k].mode, "oob", 3) != 0) continue;
    const char *argv[] = {"trap", trap_cases[k].mode};
    wrt_request_t req = {.argv = argv, .argc = 2};
    cr_assert_eq(wrt_run(m, &req, &res), 0, "%s", wrt_last_error());
    cr_expect_eq(res.trap, WRT_TRAP_OOB, "%s", trap_cases[k].mode);
  }
  for (int i = 0; i < 3; i += 2) {
    const uint8_t *p = wpool_memory_base(in[i], 0);
    for (size_t b = 0; b < 256u * 65536; b++)
      if (p[b] != 0xA5) cr_assert_fail("neighbour slot %d byte %zu changed to %02x", i, b, p[b]);
  }
  wpool_instance_free(in[0]);
  wpool_instance_free(in[2]);
  wrt_result_free(&res);
  cr_expect_eq(wrt_destroy(rt), 0);
}

Test(runtime, a_full_pool_refuses_the_request_not_the_process) {
  wpool_config_t c = small_cfg();
  c.instance_count = 1;
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  wrt_module_t *m = load(rt, "hello");
  wpool_memory_desc_t md = {.min_pages = 1, .max_pages = 1};
  wpool_module_desc_t d = {.state_size = 64, .memories = &md, .nmemories = 1};
  wpool_module_t *raw;
  wpool_instance_t *held;
  cr_assert_eq(wpool_module_new(wrt_pool(rt), &d, &raw), 0);
  cr_assert_eq(wpool_instance_new(wrt_pool(rt), raw, &held), 0);
  const char *argv[] = {"hello"};
  wrt_request_t req = {.argv = argv, .argc = 1};
  wrt_result_t res;
  wrt_result_init(&res);
  cr_expect_eq(wrt_run(m, &req, &res), WRT_EEXHAUSTED);
  cr_expect(strstr(wrt_last_error(), "instance_count"), "%s", wrt_last_error());
  wpool_instance_free(held);
  cr_expect_eq(wrt_run(m, &req, &res), 0);
  wrt_stats_t st;
  wrt_stats_get(rt, &st);
  cr_expect_eq(st.exhausted, 1);
  cr_expect_eq(st.requests, 1);
  wrt_result_free(&res);
  cr_expect_eq(wrt_destroy(rt), 0);
}

Test(runtime, output_beyond_the_limit_is_counted_as_truncated) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  wrt_module_t *m = load(rt, "template");
  const char *argv[] = {"template"};
  wrt_request_t req = {.argv = argv, .argc = 1, .output_limit = 100};
  wrt_result_t res;
  wrt_result_init(&res);
  cr_assert_eq(wrt_run(m, &req, &res), 0);
  cr_expect_eq(res.out_len, 100);
  cr_expect(res.out_truncated);
  cr_expect_eq(res.exit_code, 0);
  wrt_result_free(&res);
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* After instantiation, before any guest code: the pool's memory (the
 * module's copy-on-write image) equals stock's (the generated copies),
 * also in a slot an earlier request dirtied. */
typedef struct snap {
  uint8_t *bytes;
  uint64_t len;
} snap_t;

static void take(const uint8_t *mem, uint64_t len, void *arg) {
  snap_t *s = arg;
  s->bytes = malloc(len ? len : 1);
  memcpy(s->bytes, mem, len);
  s->len = len;
}

Test(runtime, pooled_memory_after_instantiation_equals_stocks) {
  wpool_config_t c = small_cfg();
  wrt_runtime_t *pool = make_rt(WRT_BACKEND_POOL, &c), *stock = make_rt(WRT_BACKEND_STOCK, NULL);
  const char *names[] = {"template", "json", "secret"};
  for (int i = 0; i < 3; i++) {
    wrt_module_t *pm = load(pool, names[i]), *sm = load(stock, names[i]);
    snap_t a = {0}, b = {0};
    cr_assert_eq(wrt_inspect(sm, take, &b), 0, "%s", wrt_last_error());
    for (int round = 0; round < 2; round++) {
      cr_assert_eq(wrt_inspect(pm, take, &a), 0, "%s", wrt_last_error());
      cr_assert_eq(a.len, b.len, "%s: %llu bytes pooled, %llu stock", names[i],
                   (unsigned long long)a.len, (unsigned long long)b.len);
      cr_assert(memcmp(a.bytes, b.bytes, a.len) == 0, "%s: pooled memory differs (round %d)",
                names[i], round);
      free(a.bytes);
      /* Dirty the slot, then look again. */
      const char *argv[] = {names[i]};
      wrt_request_t req = {.argv = argv, .argc = 1, .stdin_bytes = "{}", .stdin_len = 2};
      wrt_result_t res;
      wrt_result_init(&res);
      cr_assert_eq(wrt_run(pm, &req, &res), 0);
      wrt_result_free(&res);
    }
    free(b.bytes);
  }
  cr_expect_eq(wrt_destroy(pool), 0);
  cr_expect_eq(wrt_destroy(stock), 0);
}

/* A fault outside any guest stays a crash: the handler does not turn host
 * bugs into traps. (Under ASan, the handler before ours is ASan's, which
 * reports the fault and exits with 1.) */
#if defined(__SANITIZE_ADDRESS__)
#define HOST_FAULT_ENDS .exit_code = 1
#else
#define HOST_FAULT_ENDS .signal = SIGSEGV
#endif
Test(runtime, a_host_fault_outside_a_guest_still_crashes, HOST_FAULT_ENDS) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  (void)rt;
  /* An address no mapping holds, hidden from the compiler's bounds checks. */
  uintptr_t a = 16;
  __asm__ volatile("" : "+r"(a));
  *(volatile int *)a = 1;
}

/* ------------------------------------------------------------------ */
/* wpool wasm                                                           */

typedef struct tool_out {
  int status;
  char out[8192], err[8192];
} tool_out_t;

static void read_into(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
  buf[n] = 0;
  if (f) fclose(f);
}

/* Run the tool with `args` (NULL-terminated, after "wpool"). */
static void tool(tool_out_t *r, const char *const *args) {
  const char *exe = getenv("WPOOL_TOOL");
  cr_assert(exe, "WPOOL_TOOL is not set");
  const char *argv[16] = {"wpool"};
  int n = 1;
  while (*args && n < 15) argv[n++] = *args++;
  char o[] = "/tmp/wrt-tool-out-XXXXXX", e[] = "/tmp/wrt-tool-err-XXXXXX";
  int fo = mkstemp(o), fe = mkstemp(e);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fo, 1);
  posix_spawn_file_actions_adddup2(&fa, fe, 2);
  pid_t pid;
  cr_assert_eq(posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  int st;
  waitpid(pid, &st, 0);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  close(fo), close(fe);
  read_into(o, r->out, sizeof(r->out));
  read_into(e, r->err, sizeof(r->err));
  unlink(o), unlink(e);
}

Test(runtime, wpool_wasm_prints_the_guests_output_and_exits_0) {
  tool_out_t r;
  const char *args[] = {"wasm", "--requests", "5", guest("hello", ".wasm"), NULL};
  tool(&r, args);
  cr_expect_eq(r.status, 0, "%s", r.err);
  cr_expect_str_eq(r.out, "hello, world\n");
  cr_expect(strstr(r.err, "requests per second"), "%s", r.err);
}

Test(runtime, wpool_wasm_names_the_first_trap_and_exits_1_or_the_guests_code) {
  tool_out_t r;
  const char *args[] = {"wasm", "--runtime", "stock", guest("trap", ".wasm"), "div0", NULL};
  tool(&r, args);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "request 1 (stock) trapped: div_by_zero"), "%s", r.err);
  const char *args2[] = {"wasm", guest("trap", ".wasm"), "exit7", NULL};
  tool(&r, args2);
  cr_expect_eq(r.status, 7); /* the guest's own code, as wasmtime run gives it */
  cr_expect(strstr(r.err, "request 1 (pool) exited with 7"), "%s", r.err);
}

Test(runtime, wpool_wasm_refuses_bad_input_with_2) {
  tool_out_t r;
  const char *a1[] = {"wasm", "/nonexistent.wasm", NULL};
  tool(&r, a1);
  cr_expect_eq(r.status, 2);
  cr_expect(strstr(r.err, "/nonexistent.wasm"), "%s", r.err);
  const char *a2[] = {"wasm", "--config", "memory_guard_size=2GiB", guest("hello", ".wasm"), NULL};
  tool(&r, a2);
  cr_expect_eq(r.status, 2);
  cr_expect(strstr(r.err, "memory_guard_size"), "%s", r.err);
  const char *a3[] = {"wasm", "--config", "instance_memory_pages=1", guest("template", ".wasm"),
                      NULL};
  tool(&r, a3);
  cr_expect_eq(r.status, 2);
  cr_expect(strstr(r.err, "instance_memory_pages"), "%s", r.err);
  const char *a4[] = {"wasm", "--requests", "0", guest("hello", ".wasm"), NULL};
  tool(&r, a4);
  cr_expect_eq(r.status, 2);
}

Test(runtime, wpool_wasm_compare_json_has_both_runtimes_and_their_ratio) {
  tool_out_t r;
  const char *args[] = {"wasm", "--compare", "--json", "--requests", "4", guest("hello", ".wasm"),
                        NULL};
  tool(&r, args);
  cr_expect_eq(r.status, 0, "%s", r.err);
  cr_expect(r.out[0] == '{' && strstr(r.out, "}\n"), "%s", r.out);
  cr_expect(strstr(r.out, "\"pool\":{\"requests_per_s\":"), "%s", r.out);
  cr_expect(strstr(r.out, "\"stock\":{\"requests_per_s\":"), "%s", r.out);
  cr_expect(strstr(r.out, "\"pool_over_stock\":"), "%s", r.out);
}

Test(runtime, wpool_wasm_without_a_module_runs_the_embedded_guests_on_both) {
  tool_out_t r;
  const char *args[] = {"wasm", "--requests", "10", NULL};
  tool(&r, args);
  cr_expect_eq(r.status, 0, "%s", r.err);
  for (const char *g = "hello\0sha256sum\0json\0template\0compress\0glob\0secret\0"; *g;
       g += strlen(g) + 1)
    cr_expect(strstr(r.out, g), "no line for %s in %s", g, r.out);
  cr_expect(strstr(r.out, "geometric mean, pool / stock: "), "%s", r.out);
  cr_expect(strstr(r.out, "outputs: identical on pool and stock; the secret scanner found no"),
            "%s", r.out);
  const char *json[] = {"wasm", "--requests", "5", "--json", NULL};
  tool(&r, json);
  cr_expect_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "\"output_mismatches\":0}"), "%s", r.out);
}

/* The stock backend unmaps each instance's whole reservation (Debian's
 * 1.0.32 unmaps only the accessible bytes and leaks the rest of 8 GiB at
 * every instance): the address space after requests is what it was. */
static uint64_t vm_size_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  uint64_t v = 0;
  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "VmSize: %lu kB", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

Test(runtime, stock_requests_give_back_their_whole_reservation) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  wrt_module_t *m = load(rt, "hello");
  const char *argv[] = {"hello"};
  wrt_request_t req = {.argv = argv, .argc = 1};
  wrt_result_t res;
  wrt_result_init(&res);
  cr_assert_eq(wrt_run(m, &req, &res), 0); /* first-use allocations */
  uint64_t before = vm_size_kib();
  for (int i = 0; i < 20; i++) cr_assert_eq(wrt_run(m, &req, &res), 0);
  uint64_t after = vm_size_kib();
  cr_expect_lt(after, before + (1u << 20), "VmSize grew from %lu to %lu KiB over 20 requests",
               (unsigned long)before, (unsigned long)after);
  wrt_result_free(&res);
  cr_expect_eq(wrt_destroy(rt), 0);
}
