/* Instances that outlive a call (runtime.h: wrt_load_ex, wrt_instantiate,
 * wrt_call): typed values in and out, traps that leave the instance
 * usable, host imports checked by type at load, nested calls from a host
 * function, exports found by names of any bytes, several tables of both
 * reference types; on both backends. The modules are .wat files in
 * tests/runtime/wat/ and tests/runtime/hostile/, built into
 * WPOOL_TEST_MODULES. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules.h"
#include "runtime.h"

static void shape(wpool_config_t *c) {
  c->instance_count = 4;
  c->instance_memory_pages = 64;
  c->instance_tables = 2;
  c->instance_table_elements = 100;
  c->stack_count = 0;
}

static wrt_runtime_t *make_rt(wrt_backend_t b) {
  return test_runtime(b, shape);
}

/* Host functions of calls.wat: "add" adds; "again" calls the export
 * `env` names on the instance in `inst_of_again` (nested), or traps for
 * an argument of 0. */
static wrt_instance_t *inst_of_again;

static wrt_trap_t host_add(void *env, const wrt_value_t *a, wrt_value_t *r) {
  (void)env;
  r[0].of.i64 = a[0].of.i32 + a[1].of.i64;
  return WRT_TRAP_NONE;
}

static wrt_trap_t host_again(void *env, const wrt_value_t *a, wrt_value_t *r) {
  if (a[0].of.i32 == 0) return WRT_TRAP_UNREACHABLE;
  wrt_func_t *f = env;
  wrt_value_t args[2] = {{.type = WRT_I32, .of.i32 = 100}, {.type = WRT_I32, .of.i32 = a[0].of.i32}};
  wrt_trap_t trap;
  cr_assert_eq(wrt_call(inst_of_again, f, args, r, &trap), 0, "%s", wrt_last_error());
  return trap; /* a trap of the nested call traps the caller too */
}

static const wrt_valtype_t t_i32_i64[] = {WRT_I32, WRT_I64}, t_i64[] = {WRT_I64},
                           t_i32[] = {WRT_I32};

static wrt_module_t *load_calls(wrt_runtime_t *rt, wrt_func_t *div) {
  wrt_import_t imports[] = {
      {.module = "host", .name = "add", .params = t_i32_i64, .nparams = 2, .results = t_i64,
       .nresults = 1, .fn = host_add},
      {.module = "host", .name = "again", .params = t_i32, .nparams = 1, .results = t_i32,
       .nresults = 1, .fn = host_again, .env = div},
  };
  wrt_load_options_t o;
  wrt_load_options_init(&o);
  o.name = test_module_path("calls");
  o.library = true;
  o.imports = imports;
  o.nimports = 2;
  wrt_module_t *m;
  cr_assert_eq(wrt_load_ex(rt, &o, &m), 0, "%s", wrt_last_error());
  return m;
}

static wrt_func_t find(wrt_module_t *m, const char *name) {
  wrt_func_t f;
  cr_assert_eq(wrt_func_find(m, name, strlen(name), &f), 0, "%s: %s", name, wrt_last_error());
  return f;
}

static wrt_trap_t call(wrt_instance_t *inst, const wrt_func_t *f, const wrt_value_t *args,
                       wrt_value_t *results) {
  wrt_trap_t trap;
  cr_assert_eq(wrt_call(inst, f, args, results, &trap), 0, "%s", wrt_last_error());
  return trap;
}

/* Every value type goes in and comes back bit for bit (a NaN's payload
 * too), five results at once. */
Test(instance, values_of_every_type_go_in_and_come_back_exactly) {
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt(test_backends[b]);
    wrt_func_t div;
    wrt_module_t *m = load_calls(rt, &div);
    div = find(m, "div");
    wrt_instance_t *inst;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(m, &inst, &trap), 0, "%s", wrt_last_error());
    cr_assert_eq(trap, WRT_TRAP_NONE);
    wrt_func_t echo = find(m, "echo");
    cr_assert_eq(echo.nparams, 5);
    cr_assert_eq(echo.nresults, 5);
    int ref;
    wrt_value_t a[5] = {{.type = WRT_I32, .of.i32 = 0xdeadbeef},
                        {.type = WRT_I64, .of.i64 = 0x0123456789abcdefull},
                        {.type = WRT_F32, .of.i32 = 0x7fa00001},  /* a signalling NaN */
                        {.type = WRT_F64, .of.i64 = 0xfff8000000000123ull},
                        {.type = WRT_EXTERNREF, .of.externref = &ref}};
    wrt_value_t r[5];
    cr_expect_eq(call(inst, &echo, a, r), WRT_TRAP_NONE);
    cr_expect(r[0].type == WRT_EXTERNREF && r[0].of.externref == &ref);
    cr_expect(r[1].type == WRT_F64 && r[1].of.i64 == 0xfff8000000000123ull, "%llx",
              (unsigned long long)r[1].of.i64);
    cr_expect(r[2].type == WRT_F32 && r[2].of.i32 == 0x7fa00001, "%x", r[2].of.i32);
    cr_expect(r[3].type == WRT_I64 && r[3].of.i64 == 0x0123456789abcdefull);
    cr_expect(r[4].type == WRT_I32 && r[4].of.i32 == 0xdeadbeef);
    wrt_func_t nf = find(m, "null_func"), sf = find(m, "some_func"), isn = find(m, "is_null");
    cr_expect_eq(call(inst, &nf, NULL, r), WRT_TRAP_NONE);
    cr_expect(r[0].type == WRT_FUNCREF && r[0].of.funcref == NULL);
    cr_expect_eq(call(inst, &sf, NULL, r), WRT_TRAP_NONE);
    cr_expect(r[0].type == WRT_FUNCREF && r[0].of.funcref != NULL);
    wrt_value_t fa = {.type = WRT_FUNCREF, .of.funcref = NULL};
    cr_expect_eq(call(inst, &isn, &fa, r), WRT_TRAP_NONE);
    cr_expect_eq(r[0].of.i32, 1);
    /* Arguments of other types, or a funcref the host made, are refused. */
    fa.of.funcref = r;
    cr_expect_eq(wrt_call(inst, &isn, &fa, r, &trap), WRT_EINVAL);
    cr_expect(strstr(wrt_last_error(), "must be null"), "%s", wrt_last_error());
    a[0].type = WRT_I64;
    cr_expect_eq(wrt_call(inst, &echo, a, r, &trap), WRT_EINVAL);
    cr_expect(strstr(wrt_last_error(), "argument 0"), "%s", wrt_last_error());
    wrt_instance_free(inst);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* A trap ends the call, not the instance: its memory is as the trap left
 * it, the next call runs. Host imports run, and a host function's trap
 * (its own, or a nested call's) traps the guest that called it. */
Test(instance, traps_end_the_call_and_the_instance_lives_on) {
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt(test_backends[b]);
    wrt_func_t div;
    wrt_module_t *m = load_calls(rt, &div);
    div = find(m, "div");
    wrt_instance_t *inst;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(m, &inst, &trap), 0, "%s", wrt_last_error());
    inst_of_again = inst;
    wrt_func_t st = find(m, "store"), ld = find(m, "load"), add = find(m, "add"),
               again = find(m, "again");
    wrt_value_t a[2] = {{.type = WRT_I32, .of.i32 = 64}, {.type = WRT_I32, .of.i32 = 77}}, r[1];
    cr_expect_eq(call(inst, &st, a, r), WRT_TRAP_NONE);
    a[1].of.i32 = 0;
    cr_expect_eq(call(inst, &div, a, r), WRT_TRAP_DIV_BY_ZERO);
    a[0].of.i32 = 65536 - 2;
    cr_expect_eq(call(inst, &ld, a, r), WRT_TRAP_OOB);
    a[0].of.i32 = 64;
    cr_expect_eq(call(inst, &ld, a, r), WRT_TRAP_NONE);
    cr_expect_eq(r[0].of.i32, 77, "memory kept across traps");
    wrt_value_t aa[2] = {{.type = WRT_I32, .of.i32 = 5}, {.type = WRT_I64, .of.i64 = 1ull << 40}};
    cr_expect_eq(call(inst, &add, aa, r), WRT_TRAP_NONE);
    cr_expect_eq(r[0].of.i64, (1ull << 40) + 5);
    /* again(x) calls div(100, x) in this very instance, from the host. */
    a[0].of.i32 = 7;
    cr_expect_eq(call(inst, &again, a, r), WRT_TRAP_NONE);
    cr_expect_eq(r[0].of.i32, 14);
    a[0].of.i32 = 0; /* the host traps (unreachable) */
    cr_expect_eq(call(inst, &again, a, r), WRT_TRAP_UNREACHABLE);
    a[0].of.i32 = 7;
    cr_expect_eq(call(inst, &again, a, r), WRT_TRAP_NONE, "the instance still runs");
    cr_expect_eq(wrt_unload(m), WRT_EBUSY, "an instance holds its module");
    cr_expect_eq(wrt_destroy(rt), WRT_EBUSY);
    wrt_instance_free(inst);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* A host function imported with another type, or not given, is refused
 * at load, named. */
Test(instance, imports_are_bound_by_name_and_type_at_load) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL);
  static const wrt_valtype_t t_i64_i32[] = {WRT_I64, WRT_I32};
  wrt_import_t imports[] = {
      {.module = "host", .name = "add", .params = t_i64_i32, .nparams = 2, .results = t_i64,
       .nresults = 1, .fn = host_add},
  };
  wrt_load_options_t o;
  wrt_load_options_init(&o);
  o.name = test_module_path("calls");
  o.library = true;
  o.imports = imports;
  o.nimports = 1;
  wrt_module_t *m = NULL;
  cr_expect_eq(wrt_load_ex(rt, &o, &m), WRT_EIMPORT);
  cr_expect(strstr(wrt_last_error(), "'host'.'add' has type (i32 i64) -> (i64), the host's is "
                   "(i64 i32) -> (i64)"), "%s", wrt_last_error());
  imports[0].params = t_i32_i64;
  cr_expect_eq(wrt_load_ex(rt, &o, &m), WRT_EIMPORT);
  cr_expect(strstr(wrt_last_error(), "'host'.'again' (function) is not provided"), "%s",
            wrt_last_error());
  cr_expect_null(m);
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* Exports named by any bytes (NUL, newlines, the end of a C comment, the
 * runtime's own rewritten names) are found by those bytes, and each runs
 * its own function (each returns its number). */
Test(instance, exports_are_found_by_their_exact_names) {
  static const struct {
    const char *name;
    size_t len;
  } names[] = {{"*/", 2}, {"// x", 4}, {"a\nb\r\n", 5}, {"?\?/", 3}, {"\\", 1}, {"'\"", 2},
               {"a\0b", 3}, {"\0", 1}, {"", 0}, {"e0", 2}, {"f1", 2}, {"Z_guestZ_e2", 11},
               {"wrt_guest_start", 15}, {"#define x y", 11}, {"\u202e\U0001F4A9", 7}};
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt(test_backends[b]);
    wrt_load_options_t o;
    wrt_load_options_init(&o);
    o.name = test_module_path("names_all");
    o.library = true;
    wrt_module_t *m;
    cr_assert_eq(wrt_load_ex(rt, &o, &m), 0, "%s", wrt_last_error());
    wrt_instance_t *inst;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(m, &inst, &trap), 0, "%s", wrt_last_error());
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
      wrt_func_t f;
      cr_assert_eq(wrt_func_find(m, names[i].name, names[i].len, &f), 0, "name %zu: %s", i,
                   wrt_last_error());
      wrt_value_t r;
      cr_expect_eq(call(inst, &f, NULL, &r), WRT_TRAP_NONE);
      cr_expect_eq(r.of.i32, i + 1, "name %zu ran function %u", i, r.of.i32);
    }
    wrt_func_t f;
    cr_expect_eq(wrt_func_find(m, "a", 1, &f), WRT_EINVAL, "a prefix of \"a\\0b\" is no name");
    wrt_instance_free(inst);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* Two tables, funcref and externref: each is its own (the pool's tables 0
 * and 1), grown within the pool's element limit, reset for the next
 * instance. */
Test(instance, several_tables_of_both_kinds_live_side_by_side) {
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt(test_backends[b]);
    wrt_load_options_t o;
    wrt_load_options_init(&o);
    o.name = test_module_path("two_tables");
    o.library = true;
    wrt_module_t *m;
    cr_assert_eq(wrt_load_ex(rt, &o, &m), 0, "%s", wrt_last_error());
    wrt_func_t fcall = find(m, "call"), growf = find(m, "grow_f"), sizef = find(m, "size_f"),
               growe = find(m, "grow_e"), gete = find(m, "get_e"), sizee = find(m, "size_e");
    for (int round = 0; round < 2; round++) {
      wrt_instance_t *inst;
      wrt_trap_t trap;
      cr_assert_eq(wrt_instantiate(m, &inst, &trap), 0, "%s", wrt_last_error());
      wrt_value_t a[2] = {{.type = WRT_I32, .of.i32 = 1}}, r;
      cr_expect_eq(call(inst, &fcall, a, &r), WRT_TRAP_NONE);
      cr_expect_eq(r.of.i32, 2);
      cr_expect_eq(call(inst, &sizee, NULL, &r), WRT_TRAP_NONE);
      cr_expect_eq(r.of.i32, 1, "round %d: the externref table starts at its minimum", round);
      int x;
      a[0] = (wrt_value_t){.type = WRT_EXTERNREF, .of.externref = &x};
      a[1] = (wrt_value_t){.type = WRT_I32, .of.i32 = 3};
      cr_expect_eq(call(inst, &growe, a, &r), WRT_TRAP_NONE);
      cr_expect_eq(r.of.i32, 1);
      a[0] = (wrt_value_t){.type = WRT_I32, .of.i32 = 3};
      cr_expect_eq(call(inst, &gete, a, &r), WRT_TRAP_NONE);
      cr_expect_eq(r.of.externref, &x);
      a[0].of.i32 = 0;
      cr_expect_eq(call(inst, &gete, a, &r), WRT_TRAP_NONE);
      cr_expect_null(r.of.externref);
      a[0].of.i32 = 8; /* 2 + 8 = 10: the table's maximum */
      cr_expect_eq(call(inst, &growf, a, &r), WRT_TRAP_NONE);
      cr_expect_eq(r.of.i32, 2);
      cr_expect_eq(call(inst, &growf, a, &r), WRT_TRAP_NONE);
      cr_expect_eq((int32_t)r.of.i32, -1, "past the maximum");
      cr_expect_eq(call(inst, &sizef, NULL, &r), WRT_TRAP_NONE);
      cr_expect_eq(r.of.i32, 10);
      a[0].of.i32 = 5; /* a null element */
      cr_expect_eq(call(inst, &fcall, a, &r), WRT_TRAP_CALL_INDIRECT);
      a[0] = (wrt_value_t){.type = WRT_EXTERNREF, .of.externref = &x};
      a[1] = (wrt_value_t){.type = WRT_I32, .of.i32 = 200}; /* over instance_table_elements */
      cr_expect_eq(call(inst, &growe, a, &r), WRT_TRAP_NONE);
      cr_expect_eq((int32_t)r.of.i32, -1, "%s: grown past the pool's element limit",
                   wrt_backend_name(test_backends[b]));
      wrt_instance_free(inst);
    }
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}
