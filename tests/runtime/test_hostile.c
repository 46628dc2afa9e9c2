/* Hostile and unusual modules against the runtime (issue 20): each test is
 * a class of input a tenant may send, on both backends where it matters.
 * The modules are .wat files in tests/runtime/hostile/, built by meson
 * with wat2wasm into WPOOL_TEST_MODULES; what the text format cannot say
 * (malformed sections, names that are not UTF-8) is written byte by byte.
 * WPOOL_CACHE_DIR is the build directory's compile cache.
 *
 * Tests that would hang before their fix have a timeout; all the same one
 * (60 s): Criterion 2.4 leaks its timer records when tests of different
 * timeouts run side by side (--jobs=2), which fails the ASan build. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "wasm_builder.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static const char *hostile(const char *name) {
  static _Thread_local char buf[4][1024];
  static _Thread_local int k;
  const char *d = getenv("WPOOL_TEST_MODULES");
  cr_assert(d && *d, "WPOOL_TEST_MODULES is not set (meson test sets it)");
  char *b = buf[k++ % 4];
  snprintf(b, 1024, "%s/%s.wasm", d, name);
  return b;
}

/* A small pool: 4 slots, 256 pages (16 MiB) per memory at most. */
static wpool_config_t small_cfg(void) {
  wpool_config_t c;
  wrt_config_init(&c);
  c.instance_count = 4;
  c.instance_memory_pages = 256;
  c.stack_count = 0;
  return c;
}

static wrt_runtime_t *make_rt(wrt_backend_t b, const wpool_config_t *cfg) {
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = b;
  o.pool_config = cfg;
  wrt_runtime_t *rt;
  cr_assert_eq(wrt_create(&o, &rt), 0, "wrt_create: %s", wrt_last_error());
  return rt;
}

static const wrt_backend_t backends[] = {WRT_BACKEND_POOL, WRT_BACKEND_STOCK};

/* Run `m`'s _start once; return the result (the caller frees it). */
static wrt_result_t run_once(wrt_module_t *m) {
  const char *argv[] = {"guest"};
  wrt_request_t req = {.argv = argv, .argc = 1};
  wrt_result_t res;
  wrt_result_init(&res);
  cr_assert_eq(wrt_run(m, &req, &res), 0, "wrt_run: %s", wrt_last_error());
  return res;
}

static char *write_temp(const void *bytes, size_t n) {
  char *path = strdup("/tmp/wrt-hostile-XXXXXX");
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, bytes, n), (ssize_t)n);
  close(fd);
  return path;
}

/* ------------------------------------------------------------------ */
/* Files that are not modules                                           */

/* A FIFO, a directory, a character device: refused at once (a FIFO with
 * no writer must not block the open, nor one with a writer be read until
 * the writer stops). */
Test(hostile, a_module_path_that_is_not_a_regular_file_is_refused_at_once, .timeout = 60) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  char dir[] = "/tmp/wrt-fifo-XXXXXX";
  cr_assert(mkdtemp(dir));
  char fifo[64];
  snprintf(fifo, sizeof(fifo), "%s/m.wasm", dir);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  const char *paths[] = {fifo, dir, "/dev/zero"};
  for (size_t i = 0; i < 3; i++) {
    wrt_module_t *m = NULL;
    cr_expect_eq(wrt_load(rt, paths[i], &m), WRT_EFORMAT, "%s: %s", paths[i], wrt_last_error());
    cr_expect(strstr(wrt_last_error(), "not a regular file"), "%s", wrt_last_error());
    cr_expect_null(m);
  }
  unlink(fifo);
  rmdir(dir);
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* The peak resident size of this process, KiB. */
static long peak_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  cr_assert(f);
  char line[256];
  long kib = -1;
  while (kib < 0 && fgets(line, sizeof(line), f))
    if (sscanf(line, "VmHWM: %ld", &kib) != 1) kib = -1;
  fclose(f);
  return kib;
}

/* A 1 GiB file (sparse) that is no module, or of another version, is
 * refused from its 8 bytes of header, not read whole first. */
Test(hostile, a_large_file_that_is_no_module_is_refused_from_its_header) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  static const struct {
    const char *head, *why;
  } cases[] = {{"not wasm", "no \\0asm magic"}, {"\0asm\2\0\0\0", "version 2 not supported"}};
  long before = peak_kib();
  for (size_t i = 0; i < 2; i++) {
    char *path = write_temp(cases[i].head, 8);
    cr_assert_eq(truncate(path, 1l << 30), 0);
    wrt_module_t *m = NULL;
    cr_expect_eq(wrt_load(rt, path, &m), WRT_EFORMAT, "%s", wrt_last_error());
    cr_expect(strstr(wrt_last_error(), cases[i].why), "%s", wrt_last_error());
    unlink(path);
    free(path);
  }
  long grew = peak_kib() - before;
  cr_expect_lt(grew, 256 << 10, "a 1 GiB file was read: peak RSS grew by %ld KiB", grew);
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* ------------------------------------------------------------------ */
/* Toolchain errors                                                     */

/* A failing tool's message keeps its cause (the runtime once formatted
 * its message buffer into itself). */
Test(hostile, a_failing_compiler_names_the_tool_and_its_status) {
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
  const char *path = hostile("memory_grow_far");
  cr_expect_eq(wrt_load(rt, path, &m), WRT_ETOOLCHAIN);
  const char *e = wrt_last_error();
  cr_expect(strstr(e, "compiling the generated C failed: false exited with status 1"), "%s", e);
  cr_expect_eq(strstr(e, path), e, "the message starts with the module, once: %s", e);
  cr_expect_null(strstr(e + 1, path), "the module is named once: %s", e);
  cr_expect_eq(wrt_destroy(rt), 0);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_expect_eq(system(cmd), 0);
}

/* ------------------------------------------------------------------ */
/* Sections                                                             */

/* A data count section says how many data segments follow; a module
 * whose data section (or its absence) disagrees is malformed. */
Test(hostile, a_data_count_that_disagrees_with_the_data_section_is_refused) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  for (int variant = 0; variant < 2; variant++) {
    wb_t m = {0}, t = {0};
    wb_header(&m);
    wb_uleb(&t, 1), wb_byte(&t, 0x60), wb_uleb(&t, 0), wb_uleb(&t, 0);
    wb_section(&m, 1, &t); /* type () -> () */
    t.n = 0;
    wb_uleb(&t, 1), wb_uleb(&t, 0);
    wb_section(&m, 3, &t); /* one function */
    t.n = 0;
    wb_uleb(&t, 1), wb_byte(&t, 0), wb_uleb(&t, 1);
    wb_section(&m, 5, &t); /* memory 1 */
    t.n = 0;
    wb_uleb(&t, 1), wb_name(&t, "_start"), wb_byte(&t, 0), wb_uleb(&t, 0);
    wb_section(&m, 7, &t);
    t.n = 0;
    wb_uleb(&t, variant == 0 ? 1 : 2);
    wb_section(&m, 12, &t); /* data count: 1 (no data section), or 2 (one segment) */
    t.n = 0;
    wb_uleb(&t, 1), wb_uleb(&t, 2), wb_uleb(&t, 0), wb_byte(&t, 0x0b);
    wb_section(&m, 10, &t);
    if (variant == 1) {
      t.n = 0;
      wb_uleb(&t, 1), wb_uleb(&t, 1), wb_name(&t, "passive");
      wb_section(&m, 11, &t);
    }
    char *path = write_temp(m.b, m.n);
    wrt_module_t *mod = NULL;
    cr_expect_eq(wrt_load(rt, path, &mod), WRT_EFORMAT, "variant %d: %s", variant,
                 wrt_last_error());
    cr_expect(strstr(wrt_last_error(), variant == 0 ? "data count section says 1 data segment"
                                                    : "data count section says 2 data segments"),
              "%s", wrt_last_error());
    unlink(path);
    free(path);
  }
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* A command (type () -> (), _start, one memory of one page) with
 * `custom`'s bytes as a custom section after the type section (none when
 * NULL), and the memory's limits written as `memlim` (n bytes). */
static char *module_with_custom(const void *custom, size_t n, const char *memlim, size_t mn) {
  wb_t m = {0}, t = {0};
  wb_header(&m);
  wb_uleb(&t, 1), wb_byte(&t, 0x60), wb_uleb(&t, 0), wb_uleb(&t, 0);
  wb_section(&m, 1, &t);
  if (custom) {
    t.n = 0;
    wb_put(&t, custom, n);
    wb_section(&m, 0, &t);
  }
  t.n = 0;
  wb_uleb(&t, 1), wb_uleb(&t, 0);
  wb_section(&m, 3, &t);
  t.n = 0;
  wb_uleb(&t, 1), wb_put(&t, memlim, mn);
  wb_section(&m, 5, &t);
  t.n = 0;
  wb_uleb(&t, 1), wb_name(&t, "_start"), wb_byte(&t, 0), wb_uleb(&t, 0);
  wb_section(&m, 7, &t);
  t.n = 0;
  wb_uleb(&t, 1), wb_uleb(&t, 2), wb_uleb(&t, 0), wb_byte(&t, 0x0b);
  wb_section(&m, 10, &t);
  return write_temp(m.b, m.n);
}

/* Custom sections are parsed as the specification says (the reader
 * skipped them whole): a name that runs past the section or is not UTF-8
 * is malformed (the official custom, binary-leb128 and
 * utf8-custom-section-id scripts' 180 assert_malformed failed); any
 * valid one, whatever its payload, loads. Memory limits flags 2 (shared,
 * without a maximum) are malformed, not a limit of the pool's
 * (binary.wast:1563). */
Test(hostile, custom_sections_and_limits_flags_are_read_as_the_specification_says) {
  static const struct {
    const char *custom;
    size_t n;
    const char *memlim;
    size_t mn;
    int code;
    const char *needle;
  } cases[] = {
      {"\x05" "abc", 4, "\x00\x01", 2, WRT_EFORMAT, "name of 5 bytes runs past the end"},
      {"\x02\xc0\x80xyz", 6, "\x00\x01", 2, WRT_EFORMAT, "name is not valid UTF-8"},
      {"\x03\xed\xa0\x80", 4, "\x00\x01", 2, WRT_EFORMAT, "name is not valid UTF-8"},
      {"\x80", 1, "\x00\x01", 2, WRT_EFORMAT, "unexpected end"},
      {NULL, 0, "\x02\x01", 2, WRT_EFORMAT, "memory limits flags 0x02: integer too large"},
      {NULL, 0, "\x03\x01\x02", 3, WRT_EFORMAT, "memory limits flags 0x03: integer too large"},
      {"", 0, "\x00\x01", 2, WRT_EFORMAT, "unexpected end"},
      {"\x00", 1, "\x00\x01", 2, 0, ""},
      {"\x04name\x00\xff\xfe", 8, "\x00\x01", 2, 0, ""},
      {"\x06\xe2\x9c\x93\x00\x01*/\n", 10, "\x00\x01", 2, 0, ""},
  };
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *path = module_with_custom(cases[i].custom, cases[i].n, cases[i].memlim, cases[i].mn);
    wrt_module_t *m = NULL;
    int err = wrt_load(rt, path, &m);
    cr_expect_eq(err, cases[i].code, "case %zu: %s", i, wrt_last_error());
    if (cases[i].code) {
      cr_expect(strstr(wrt_last_error(), cases[i].needle), "case %zu: %s", i, wrt_last_error());
    } else if (!err) {
      wrt_result_t r = run_once(m);
      cr_expect_eq(r.trap, WRT_TRAP_NONE);
      wrt_result_free(&r);
    }
    unlink(path);
    free(path);
  }
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* ------------------------------------------------------------------ */
/* Names                                                                */

/* A module whose one export is named by `name` (`len` bytes), with
 * _start; written byte by byte (the text format refuses what is not
 * UTF-8). */
static char *module_with_export(const void *name, size_t len, bool twice) {
  wb_t m = {0}, t = {0};
  wb_header(&m);
  wb_uleb(&t, 1), wb_byte(&t, 0x60), wb_uleb(&t, 0), wb_uleb(&t, 0);
  wb_section(&m, 1, &t);
  t.n = 0;
  wb_uleb(&t, 1), wb_uleb(&t, 0);
  wb_section(&m, 3, &t);
  t.n = 0;
  wb_uleb(&t, twice ? 3 : 2);
  wb_name(&t, "_start"), wb_byte(&t, 0), wb_uleb(&t, 0);
  wb_name_n(&t, name, len), wb_byte(&t, 0), wb_uleb(&t, 0);
  if (twice) wb_name_n(&t, name, len), wb_byte(&t, 0), wb_uleb(&t, 0);
  wb_section(&m, 7, &t);
  t.n = 0;
  wb_uleb(&t, 1), wb_uleb(&t, 2), wb_uleb(&t, 0), wb_byte(&t, 0x0b);
  wb_section(&m, 10, &t);
  return write_temp(m.b, m.n);
}

/* Nothing of a module's names reaches the C compiler: an export name that
 * ends wasm2c's comment and defines a constructor, the same in an import,
 * and a name section of such names; on both backends. The constructor
 * would set WRT_PWNED in this process at load. */
Test(hostile, a_name_that_breaks_out_of_a_c_comment_never_runs) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m;
    cr_assert_eq(wrt_load(rt, hostile("names_inject"), &m), 0, "%s", wrt_last_error());
    cr_expect_null(getenv("WRT_PWNED"), "%s: the export name's constructor ran at load",
                   wrt_backend_name(backends[b]));
    wrt_result_t r = run_once(m);
    cr_expect_eq(r.trap, WRT_TRAP_NONE);
    cr_expect_eq(r.exit_code, 0);
    wrt_result_free(&r);
    cr_assert_eq(wrt_load(rt, hostile("names_debug"), &m), 0, "%s", wrt_last_error());
    r = run_once(m);
    cr_expect_eq(r.trap, WRT_TRAP_NONE);
    wrt_result_free(&r);
    cr_expect_eq(wrt_load(rt, hostile("import_name_inject"), &m), WRT_EIMPORT, "%s",
                 wrt_last_error());
    cr_expect_null(getenv("WRT_PWNED"), "an import name's constructor ran");
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* Export names C or its preprocessor treat specially, NUL bytes and the
 * empty name among them: the module loads and runs on both backends. */
Test(hostile, exports_with_any_valid_name_load_and_run) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m;
    cr_assert_eq(wrt_load(rt, hostile("names_all"), &m), 0, "%s", wrt_last_error());
    wrt_result_t r = run_once(m);
    cr_expect_eq(r.trap, WRT_TRAP_NONE);
    cr_expect_eq(r.exit_code, 0);
    wrt_result_free(&r);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* Names are UTF-8 (the specification's rule): a stray continuation byte,
 * a truncated sequence, an overlong form, a surrogate and a code point
 * past U+10FFFF are malformed, found by the reader (not by wasm2c). */
Test(hostile, a_name_that_is_not_utf8_is_malformed) {
  static const struct { const char *bytes; size_t len; } bad[] = {
      {"x\xff", 2}, {"\x80", 1}, {"a\xe2\x82", 3}, {"\xc0\x80", 2},
      {"\xed\xa0\x80", 3}, {"\xf4\x90\x80\x80", 4},
  };
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *path = module_with_export(bad[i].bytes, bad[i].len, false);
    wrt_module_t *m = NULL;
    cr_expect_eq(wrt_load(rt, path, &m), WRT_EFORMAT, "name %zu: %s", i, wrt_last_error());
    cr_expect(strstr(wrt_last_error(), "not valid UTF-8"), "name %zu: %s", i, wrt_last_error());
    unlink(path);
    free(path);
  }
  cr_expect_eq(wrt_destroy(rt), 0);
}

Test(hostile, an_export_name_given_twice_is_invalid) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  char *path = module_with_export("twice\n", 6, true);
  wrt_module_t *m = NULL;
  cr_expect_eq(wrt_load(rt, path, &m), WRT_EFORMAT, "%s", wrt_last_error());
  cr_expect(strstr(wrt_last_error(), "export name 'twice\\x0a' is repeated"), "%s",
            wrt_last_error());
  unlink(path);
  free(path);
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* A message names a module's names escaped: no byte of them reaches a log
 * line, a terminal or an HTTP response as it is. */
Test(hostile, names_in_messages_are_escaped) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  wrt_module_t *m = NULL;
  cr_expect_eq(wrt_load(rt, hostile("import_name_escapes"), &m), WRT_EIMPORT, "%s",
               wrt_last_error());
  const char *e = wrt_last_error();
  cr_expect(strstr(e, "'env\\x0a\\x1b[31m\\x27'.'x\\x5c\\x00y'"), "%s", e);
  for (const char *p = e; *p; p++)
    cr_expect((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f, "byte 0x%02x at %zu in %s",
              (unsigned char)*p, (size_t)(p - e), e);
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* _start is called as void (*)(void *): any other type is refused at load,
 * named. */
Test(hostile, a_start_of_another_type_than_void_to_void_is_refused) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m = NULL;
    cr_expect_eq(wrt_load(rt, hostile("start_results"), &m), WRT_EFORMAT, "%s", wrt_last_error());
    cr_expect(strstr(wrt_last_error(), "_start has type () -> (i64 i64 i64)"), "%s",
              wrt_last_error());
    cr_expect_eq(wrt_load(rt, hostile("start_params"), &m), WRT_EFORMAT, "%s", wrt_last_error());
    cr_expect(strstr(wrt_last_error(), "_start has type (i32 i64) -> ()"), "%s",
              wrt_last_error());
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* An imported function called through a table reaches the runtime with
 * the context it needs, on both backends. */
Test(hostile, an_import_called_through_a_table_runs) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m;
    cr_assert_eq(wrt_load(rt, hostile("import_in_table"), &m), 0, "%s", wrt_last_error());
    wrt_result_t r = run_once(m);
    cr_expect_eq(r.trap, WRT_TRAP_NONE, "%s", wrt_trap_name(r.trap));
    cr_expect_eq(r.exit_code, 5);
    wrt_result_free(&r);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* ------------------------------------------------------------------ */
/* Memories                                                             */

Test(hostile, a_command_without_a_memory_loads_and_runs) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *plain, *exits;
    cr_assert_eq(wrt_load(rt, hostile("memoryless_plain"), &plain), 0, "%s", wrt_last_error());
    cr_assert_eq(wrt_load(rt, hostile("memoryless"), &exits), 0, "%s", wrt_last_error());
    wrt_module_info_t info;
    wrt_module_info(plain, &info);
    cr_expect_eq(info.min_pages, 0);
    for (int i = 0; i < 3; i++) {
      wrt_result_t r = run_once(plain);
      cr_expect_eq(r.trap, WRT_TRAP_NONE, "%s", wrt_trap_name(r.trap));
      cr_expect_eq(r.exit_code, 0);
      wrt_result_free(&r);
      r = run_once(exits);
      cr_expect_eq(r.trap, WRT_TRAP_NONE, "%s", wrt_trap_name(r.trap));
      cr_expect_eq(r.exit_code, 3);
      wrt_result_free(&r);
    }
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* wasm2c 1.0.32 holds a memory's size in 32 bits: 65,536 pages would be
 * size 0. The page limit is at most 65,535 on both backends, a memory
 * over it is refused at load, and growth past it fails. */
Test(hostile, a_page_limit_that_allows_4_gib_memories_is_refused) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    c.instance_memory_pages = 65536;
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = backends[b];
    o.pool_config = &c;
    wrt_runtime_t *rt = NULL;
    cr_expect_eq(wrt_create(&o, &rt), WRT_EINVAL, "%s", wrt_backend_name(backends[b]));
    cr_expect(strstr(wrt_last_error(), "instance_memory_pages (65536)"), "%s", wrt_last_error());
    cr_expect(strstr(wrt_last_error(), "65535"), "%s", wrt_last_error());
    cr_expect_null(rt);
  }
}

Test(hostile, a_4_gib_memory_is_refused_at_load_on_both_backends) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    c.instance_count = 1;
    c.instance_memory_pages = 65535;
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m = NULL;
    cr_expect_eq(wrt_load(rt, hostile("memory_4gib"), &m), WRT_ELIMIT, "%s: %s",
                 wrt_backend_name(backends[b]), wrt_last_error());
    cr_expect(strstr(wrt_last_error(), "65536 pages"), "%s", wrt_last_error());
    cr_expect(strstr(wrt_last_error(), "instance_memory_pages (65535)"), "%s", wrt_last_error());
    cr_expect_null(m);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

Test(hostile, memory_growth_stops_at_the_page_limit_on_both_backends) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m;
    cr_assert_eq(wrt_load(rt, hostile("memory_grow_far"), &m), 0, "%s", wrt_last_error());
    wrt_result_t r = run_once(m);
    cr_expect_eq(r.trap, WRT_TRAP_NONE);
    cr_expect_eq(r.exit_code, 0, "%s: memory.grow by 65535 pages did not fail",
                 wrt_backend_name(backends[b]));
    wrt_result_free(&r);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* ------------------------------------------------------------------ */
/* Function types                                                       */

/* Types that differ only in their results, or only in their last
 * parameter, past 250, 1,000 and 10,000 parameters: an indirect call
 * through the wrong type traps, the right one runs. */
static void wide_types_are_told_apart(const char *name) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m;
    cr_assert_eq(wrt_load(rt, hostile(name), &m), 0, "%s: %s", name, wrt_last_error());
    const char *argv[] = {"guest", "x", "y"};
    wrt_result_t res;
    wrt_result_init(&res);
    for (uint32_t argc = 1; argc <= 3; argc++) {
      wrt_request_t req = {.argv = argv, .argc = argc};
      cr_assert_eq(wrt_run(m, &req, &res), 0, "%s", wrt_last_error());
      if (argc == 1) {
        cr_expect_eq(res.trap, WRT_TRAP_NONE, "%s: the matching call trapped: %s", name,
                     wrt_trap_name(res.trap));
        cr_expect_eq(res.exit_code, 7, "%s: the matching call returned %d", name, res.exit_code);
      } else {
        cr_expect_eq(res.trap, WRT_TRAP_CALL_INDIRECT, "%s %s: element %u called as the wrong "
                     "type ended with trap %s, exit %d", name, wrt_backend_name(backends[b]),
                     argc - 1, wrt_trap_name(res.trap), res.exit_code);
      }
    }
    wrt_result_free(&res);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

Test(hostile, types_of_250_parameters_are_compared_whole) { wide_types_are_told_apart("wide250"); }
Test(hostile, types_of_1000_parameters_are_compared_whole) { wide_types_are_told_apart("wide1000"); }
/* A module with types of 10,000 parameters is over the reader's limit of
 * 1,000 (WRT_ELIMIT, before any compilation); the registry still tells
 * such types apart whole, by their last code or their results. */
uint32_t rt_types_register(const uint32_t *codes, uint32_t nparams, uint32_t nresults);

Test(hostile, types_of_10000_parameters_are_refused_and_compared_whole, .timeout = 60) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m = NULL;
    cr_expect_eq(wrt_load(rt, hostile("wide10000"), &m), WRT_ELIMIT, "%s", wrt_last_error());
    cr_expect(strstr(wrt_last_error(), "type 0 has 10000 parameters; the limit is 1000"), "%s",
              wrt_last_error());
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  static uint32_t codes[10003];
  for (size_t i = 0; i < 10003; i++) codes[i] = 1; /* i64 */
  uint32_t a = rt_types_register(codes, 10000, 1);
  cr_expect_eq(rt_types_register(codes, 10000, 1), a, "the same type, another index");
  cr_expect_neq(rt_types_register(codes, 10000, 3), a, "other results, the same index");
  codes[9999] = 0; /* the last parameter an i32 */
  cr_expect_neq(rt_types_register(codes, 10000, 1), a, "another last parameter, the same index");
}

/* ------------------------------------------------------------------ */
/* Runaway code                                                         */

/* Unbounded recursion ends with an exhaustion trap, whatever shape the C
 * compiler could give it: a call to itself in tail position (a jump to
 * itself at -O2), mutual tail calls, tail calls through the table, and
 * frames larger than a guard page; on the main thread and on another. */
static const char *const recursions[] = {"recurse_self", "recurse_mutual", "recurse_indirect",
                                         "recurse_big_frame"};

static void recursion_traps(wrt_backend_t b) {
  wpool_config_t c = small_cfg();
  wrt_runtime_t *rt = make_rt(b, &c);
  for (size_t i = 0; i < sizeof(recursions) / sizeof(recursions[0]); i++) {
    wrt_module_t *m;
    cr_assert_eq(wrt_load(rt, hostile(recursions[i]), &m), 0, "%s", wrt_last_error());
    wrt_result_t r = run_once(m);
    cr_expect_eq(r.trap, WRT_TRAP_EXHAUSTION, "%s on %s: trap %s", recursions[i],
                 wrt_backend_name(b), wrt_trap_name(r.trap));
    wrt_result_free(&r);
  }
  cr_expect_eq(wrt_destroy(rt), 0);
}

static void *recursion_thread(void *arg) {
  recursion_traps(*(const wrt_backend_t *)arg);
  return NULL;
}

Test(hostile, unbounded_recursion_is_an_exhaustion_trap, .timeout = 60) {
  for (size_t b = 0; b < 2; b++) recursion_traps(backends[b]);
}

Test(hostile, unbounded_recursion_is_an_exhaustion_trap_on_another_thread, .timeout = 60) {
  for (size_t b = 0; b < 2; b++) {
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, recursion_thread, (void *)&backends[b]), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
  }
}

/* A thread whose stack has one guard page and, below it, a mapping of the
 * host's (a canary): a guest frame larger than the guard must fault on the
 * guard, not step over it and write into the canary. The request starts at
 * 16 depths 512 bytes apart, so the frames meet the guard at every
 * alignment. */
#define CANARY_BYTES (1u << 20)
#define GUARD_BYTES 4096u
#define STACK_BYTES (512u << 10)

static void run_below(wrt_module_t *m, size_t pad, wrt_result_t *res) {
  char buf[pad + 1]; /* the request starts `pad` bytes deeper */
  __asm__ volatile("" : : "r"(buf) : "memory");
  const char *argv[] = {"guest"};
  wrt_request_t req = {.argv = argv, .argc = 1};
  cr_assert_eq(wrt_run(m, &req, res), 0, "%s", wrt_last_error());
}

static void *big_frames_thread(void *arg) {
  wrt_runtime_t *rt = arg;
  wrt_module_t *m;
  cr_assert_eq(wrt_load(rt, hostile("recurse_big_frame"), &m), 0, "%s", wrt_last_error());
  wrt_result_t res;
  wrt_result_init(&res);
  for (size_t pad = 0; pad < 8192; pad += 512) {
    run_below(m, pad, &res);
    cr_expect_eq(res.trap, WRT_TRAP_EXHAUSTION, "%zu bytes deeper: trap %s", pad,
                 wrt_trap_name(res.trap));
  }
  wrt_result_free(&res);
  return NULL;
}

Test(hostile, a_big_frame_faults_on_the_guard_and_never_writes_below_it, .timeout = 60) {
  uint8_t *area = mmap(NULL, CANARY_BYTES + GUARD_BYTES + STACK_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(area != MAP_FAILED);
  cr_assert_eq(mprotect(area + CANARY_BYTES, GUARD_BYTES, PROT_NONE), 0);
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    cr_assert_eq(pthread_attr_setstack(&attr, area + CANARY_BYTES + GUARD_BYTES, STACK_BYTES), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, &attr, big_frames_thread, rt), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
    for (size_t i = 0; i < CANARY_BYTES; i++)
      if (area[i]) cr_assert_fail("%s: the guest wrote %zu bytes below its stack's guard",
                                  wrt_backend_name(backends[b]), CANARY_BYTES - i);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  munmap(area, CANARY_BYTES + GUARD_BYTES + STACK_BYTES);
}

/* WASI's counts are u32: a transfer of more is short and says exactly
 * what it took (nwritten was the total modulo 2^32: 65,536 for 4 GiB +
 * 64 KiB). */
Test(hostile, a_write_of_more_than_4_gib_is_short_and_counted_exactly, .timeout = 60) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = small_cfg();
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m;
    cr_assert_eq(wrt_load(rt, hostile("fd_write_4gib"), &m), 0, "%s", wrt_last_error());
    wrt_result_t r = run_once(m);
    cr_expect_eq(r.trap, WRT_TRAP_NONE);
    cr_expect_eq(r.exit_code, 0, "%s: exit %d (1: a wrong count, 255: an errno)",
                 wrt_backend_name(backends[b]), r.exit_code);
    cr_expect(r.err_truncated);
    wrt_result_free(&r);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}
