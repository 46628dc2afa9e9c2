/* The shape of the compiled guest code (runtime/transform_base.c): the
 * memory's base held in a local. What must hold, on both backends: the C
 * the compiler sees accesses the memory through the local only; accesses
 * after memory.grow (in the function that grew, and in a caller that read
 * the base before its callee grew) reach the grown pages; accesses of
 * several widths over the same bytes read what was written; and every
 * access past the accessible bytes still traps, the memory unchanged. The
 * module is tests/runtime/wat/membase.wat, built into WPOOL_TEST_MODULES. */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

static const wrt_backend_t backends[] = {WRT_BACKEND_POOL, WRT_BACKEND_STOCK};

typedef struct env {
  char dir[64];   /* the test's directory */
  char cache[96]; /* its own cache: every load compiles */
  char cc[96];    /* a cc that keeps a copy of the C it compiles */
  char seen[96];  /* that copy */
} env_t;

static void env_make(env_t *e) {
  snprintf(e->dir, sizeof(e->dir), "/tmp/wpool-codegen-XXXXXX");
  cr_assert(mkdtemp(e->dir));
  snprintf(e->cache, sizeof(e->cache), "%s/cache", e->dir);
  snprintf(e->cc, sizeof(e->cc), "%s/cc", e->dir);
  snprintf(e->seen, sizeof(e->seen), "%s/seen.c", e->dir);
  FILE *f = fopen(e->cc, "w");
  cr_assert(f);
  fprintf(f, "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in *.c) cp \"$a\" '%s';; esac; done\n"
             "exec \"${REAL_CC:-cc}\" \"$@\"\n", e->seen);
  fclose(f);
  cr_assert_eq(chmod(e->cc, 0700), 0);
}

static void env_remove(env_t *e) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
  cr_expect_eq(system(cmd), 0);
}

static wrt_module_t *load(env_t *e, wrt_backend_t b, wrt_runtime_t **rt) {
  wpool_config_t c;
  wrt_config_init(&c);
  c.instance_count = 2;
  c.instance_memory_pages = 4;
  c.stack_count = 0;
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = b;
  o.pool_config = &c;
  o.cache_dir = e->cache;
  o.cc = e->cc;
  cr_assert_eq(wrt_create(&o, rt), 0, "wrt_create: %s", wrt_last_error());
  char path[1024];
  const char *d = getenv("WPOOL_TEST_MODULES");
  cr_assert(d && *d, "WPOOL_TEST_MODULES is not set (meson test sets it)");
  snprintf(path, sizeof(path), "%s/membase.wasm", d);
  wrt_load_options_t lo;
  wrt_load_options_init(&lo);
  lo.name = path;
  lo.library = true;
  wrt_module_t *m;
  cr_assert_eq(wrt_load_ex(*rt, &lo, &m), 0, "%s", wrt_last_error());
  return m;
}

static wrt_value_t i32(uint32_t v) { return (wrt_value_t){.type = WRT_I32, .of.i32 = v}; }
static wrt_value_t i64(uint64_t v) { return (wrt_value_t){.type = WRT_I64, .of.i64 = v}; }

/* Call export `name` of `m`'s instance: the trap, results in res. */
static wrt_trap_t run(wrt_module_t *m, wrt_instance_t *in, const char *name,
                      const wrt_value_t *args, wrt_value_t *res) {
  wrt_func_t f;
  cr_assert_eq(wrt_func_find(m, name, strlen(name), &f), 0, "%s", name);
  wrt_trap_t trap;
  cr_assert_eq(wrt_call(in, &f, args, res, &trap), 0, "%s: %s", name, wrt_last_error());
  return trap;
}

Test(codegen, the_compiled_c_reaches_the_memory_through_a_local_base) {
  env_t e;
  env_make(&e);
  wrt_runtime_t *rt;
  load(&e, WRT_BACKEND_POOL, &rt);
  FILE *f = fopen(e.seen, "r");
  cr_assert(f, "the compiler was not run on a .c file");
  regex_t on_instance;
  cr_assert_eq(regcomp(&on_instance, "(i32|i64|f32|f64)_(load|store)[0-9a-z_]*\\(&instance->",
                       REG_EXTENDED | REG_NOSUB), 0);
  char line[4096];
  int through_base = 0, locals = 0;
  while (fgets(line, sizeof(line), f)) {
    cr_expect_neq(regexec(&on_instance, line, 0, NULL, 0), 0, "an access not rewritten: %s", line);
    if (strstr(line, "(wrt_mb, ")) through_base++;
    if (strstr(line, "u8* const wrt_mb = wrt_mem_base(instance);")) locals++;
  }
  regfree(&on_instance);
  fclose(f);
  cr_expect_geq(through_base, 13, "membase.wat has 13 loads and stores; %d rewritten", through_base);
  cr_expect_geq(locals, 7, "one base per function of membase.wat; %d", locals);
  cr_expect_eq(wrt_destroy(rt), 0);
  env_remove(&e);
}

Test(codegen, accesses_after_memory_grow_reach_the_grown_pages) {
  env_t e;
  env_make(&e);
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt;
    wrt_module_t *m = load(&e, backends[b], &rt);
    wrt_instance_t *in;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(m, &in, &trap), 0, "%s", wrt_last_error());
    wrt_value_t a = i32(7), r[1];
    cr_expect_eq(run(m, in, "grow_then_access", &a, r), WRT_TRAP_NONE);
    cr_expect_eq(r[0].of.i32, 7u + 8u + 9u, "%s: %u", wrt_backend_name(backends[b]), r[0].of.i32);
    cr_expect_eq(run(m, in, "size", NULL, r), WRT_TRAP_NONE);
    cr_expect_eq(r[0].of.i32, 3u);
    wrt_instance_free(in);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  env_remove(&e);
}

/* What membase.wat's "mixed" returns, computed on little-endian bytes. */
static uint64_t mixed_expected(uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  b[1] = 0x80;
  int64_t l16 = (int16_t)(b[0] | b[1] << 8);
  uint64_t l32 = (uint64_t)b[2] | (uint64_t)b[3] << 8 | (uint64_t)b[4] << 16 |
                 (uint64_t)b[5] << 24;
  int64_t l8 = (int8_t)b[1];
  return (uint64_t)l16 + l32 + (uint64_t)l8;
}

Test(codegen, accesses_of_several_widths_over_the_same_bytes_read_what_was_written) {
  env_t e;
  env_make(&e);
  static const uint64_t values[] = {0, 0x0123456789abcdefull, ~0ull, 0x8000000000000001ull};
  static const uint32_t addrs[] = {0, 1, 4093, 65528};
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt;
    wrt_module_t *m = load(&e, backends[b], &rt);
    wrt_instance_t *in;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(m, &in, &trap), 0, "%s", wrt_last_error());
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
      for (size_t k = 0; k < sizeof(addrs) / sizeof(addrs[0]); k++) {
        wrt_value_t a[2] = {i32(addrs[k]), i64(values[i])}, r[1];
        cr_expect_eq(run(m, in, "mixed", a, r), WRT_TRAP_NONE);
        cr_expect_eq(r[0].of.i64, mixed_expected(values[i]), "%s: at %u of %llx",
                     wrt_backend_name(backends[b]), addrs[k], (unsigned long long)values[i]);
      }
    wrt_instance_free(in);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  env_remove(&e);
}

Test(codegen, every_access_past_the_accessible_bytes_still_traps) {
  env_t e;
  env_make(&e);
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt;
    wrt_module_t *m = load(&e, backends[b], &rt);
    wrt_instance_t *in;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(m, &in, &trap), 0, "%s", wrt_last_error());
    const char *bn = wrt_backend_name(backends[b]);
    wrt_value_t a = i32(1), r[1];
    cr_expect_eq(run(m, in, "grow_then_access", &a, r), WRT_TRAP_NONE); /* 3 pages */
    uint32_t end = 3 * 65536;
    a = i32(end - 4);
    cr_expect_eq(run(m, in, "load", &a, r), WRT_TRAP_NONE, "%s: the last word", bn);
    static const uint32_t past[] = {3 * 65536 - 3, 3 * 65536, 4 * 65536, 0x7fffffffu, 0xfffffffcu,
                                    0xffffffffu};
    for (size_t k = 0; k < sizeof(past) / sizeof(past[0]); k++) {
      a = i32(past[k]);
      cr_expect_eq(run(m, in, "load", &a, r), WRT_TRAP_OOB, "%s: load at %u", bn, past[k]);
      wrt_value_t s[2] = {i32(past[k]), i32(0x5a5a5a5a)};
      cr_expect_eq(run(m, in, "store", s, r), WRT_TRAP_OOB, "%s: store at %u", bn, past[k]);
      cr_expect_eq(run(m, in, "load_far", &a, r), WRT_TRAP_OOB, "%s: load at %u + 65536", bn,
                   past[k]);
    }
    /* A store that straddles the end wrote nothing. */
    a = i32(end - 4);
    cr_expect_eq(run(m, in, "load", &a, r), WRT_TRAP_NONE);
    cr_expect_eq(r[0].of.i32, 0u, "%s: the last word changed to %x", bn, r[0].of.i32);
    wrt_instance_free(in);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  env_remove(&e);
}
