/* The runtime's executed invariants (src/util/debug.h's macros, by debug
 * level: WPOOL_DEBUG, the meson option debug_level): each is shown to
 * fire on the violation it names, by calling the runtime's internal
 * functions on a state broken on purpose; and the walks (wasi_fds_is_valid)
 * to tell a broken record from a good one at any level. The default build
 * (level 1) runs the API-misuse test and the walks' tests; the sanitizer
 * build in CI (level 3) runs every one. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modules.h"
#include "rt_internal.h"
#include "wasi_abi.h"

__attribute__((unused)) static void shape(wpool_config_t *c) {
  c->instance_count = 2;
  c->instance_memory_pages = 16;
  c->instance_tables = 1;
  c->instance_table_elements = 16;
  c->stack_count = 2;
}

__attribute__((unused)) static wrt_runtime_t *make_rt(wrt_backend_t b) {
  return test_runtime(b, shape);
}

/* calls.wat's host imports: "add" frees the instance in `victim` (when
 * set) before it adds. */
static wrt_instance_t *victim;

static wrt_trap_t host_add(void *env, const wrt_value_t *a, wrt_value_t *r) {
  (void)env;
  if (victim) wrt_instance_free(victim);
  r[0].of.i64 = a[0].of.i32 + a[1].of.i64;
  return WRT_TRAP_NONE;
}

static wrt_trap_t host_again(void *env, const wrt_value_t *a, wrt_value_t *r) {
  (void)env;
  r[0].of.i32 = a[0].of.i32;
  return WRT_TRAP_NONE;
}

static const wrt_valtype_t t_i32_i64[] = {WRT_I32, WRT_I64}, t_i64[] = {WRT_I64},
                           t_i32[] = {WRT_I32};

__attribute__((unused)) static wrt_module_t *load_calls(wrt_runtime_t *rt) {
  wrt_import_t imports[] = {
      {.module = "host", .name = "add", .params = t_i32_i64, .nparams = 2, .results = t_i64,
       .nresults = 1, .fn = host_add},
      {.module = "host", .name = "again", .params = t_i32, .nparams = 1, .results = t_i32,
       .nresults = 1, .fn = host_again},
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

__attribute__((unused)) static wrt_instance_t *instantiate(wrt_module_t *m) {
  wrt_instance_t *inst;
  wrt_trap_t trap;
  cr_assert_eq(wrt_instantiate(m, &inst, &trap), 0, "%s", wrt_last_error());
  cr_assert_eq(trap, WRT_TRAP_NONE);
  return inst;
}

/* A request's context as run() makes it, without running anything. */
static rt_ctx_t fake_ctx(wrt_module_t *m, const wrt_request_t *req, wrt_result_t *res) {
  return (rt_ctx_t){.m = m, .req = req, .res = res};
}

/* A request with two preopened directories. */
static wrt_dir_t dirs[2];
static wrt_request_t with_dirs(void) {
  for (int i = 0; i < 2; i++) {
    dirs[i].fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dirs[i].fd, 0);
    dirs[i].guest_path = i ? "/b" : "/a";
  }
  return (wrt_request_t){.dirs = dirs, .ndirs = 2};
}

Test(checks, a_descriptor_table_broken_is_caught) {
  wrt_request_t req = with_dirs();
  wrt_result_t res = {0};
  rt_ctx_t c = fake_ctx(NULL, &req, &res);
  cr_assert(wasi_fds_is_valid(&c), "no table yet");
  wasi_fds_t *f = wasi_fds(&c);
  cr_assert(f);
  cr_assert(wasi_fds_is_valid(&c), "the streams and the preopens, as made");
  u32 err, fd;
  wasi_fd_t *e = wasi_fd_new(&c, &fd, &err);
  cr_assert(e);
  cr_assert_eq(fd, 5);
  cr_assert(wasi_fds_is_valid(&c), "a new entry is free until it is filled");
  wasi_fd_t saved;
  /* Each field broken in turn, then put back. */
#define BROKEN(entry, field, value, why)                       \
  do {                                                         \
    saved = f->v[entry];                                       \
    f->v[entry].field = value;                                 \
    cr_expect_not(wasi_fds_is_valid(&c), why);                 \
    f->v[entry] = saved;                                       \
    cr_assert(wasi_fds_is_valid(&c), "restored: " why);        \
  } while (0)
  BROKEN(5, host, 7, "a free entry holding a host descriptor");
  BROKEN(5, own, true, "a free entry owning something");
  BROKEN(1, host, 1, "stdout with a host descriptor");
  BROKEN(3, preopen, 3, "a preopen index past the request's dirs");
  BROKEN(4, preopen, 1, "a preopen naming another directory's descriptor");
  BROKEN(3, own, true, "a preopen owned (its descriptor would be closed)");
  BROKEN(0, reader, 9, "a reader on a stream");
  BROKEN(2, kind, 9, "an unknown kind");
#undef BROKEN
  f->n = f->cap + 1;
  cr_expect_not(wasi_fds_is_valid(&c), "more entries than allocated");
  f->n = 6;
  rt_wasi_end(&c);
  cr_assert_null(c.fds);
  close(dirs[0].fd);
  close(dirs[1].fd);
}

#if WPOOL_DEBUG >= 1
/* API misuse: a host import that frees the instance calling it. */
Test(checks, an_instance_freed_by_its_own_import_aborts, .signal = SIGABRT) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL);
  wrt_module_t *m = load_calls(rt);
  wrt_instance_t *inst = instantiate(m);
  wrt_func_t add;
  cr_assert_eq(wrt_func_find(m, "add", 3, &add), 0);
  wrt_value_t a[2] = {{.type = WRT_I32, .of.i32 = 1}, {.type = WRT_I64, .of.i64 = 2}}, r[1];
  wrt_trap_t trap;
  victim = inst;
  wrt_call(inst, &add, a, r, &trap);
}
#endif

#if WPOOL_DEBUG >= 2
/* The backends' instance_free: an instance given back twice. */
static void freed_twice(wrt_backend_t b) {
  wrt_runtime_t *rt = make_rt(b);
  wrt_module_t *m = load_calls(rt);
  wrt_instance_t *inst = instantiate(m);
  rt_ctx_t *c = (rt_ctx_t *)inst; /* its first member */
  rt->ops->instance_free(c);
  wrt_instance_free(inst); /* frees it again */
}
Test(checks, a_pool_instance_given_back_twice_aborts, .signal = SIGABRT) {
  freed_twice(WRT_BACKEND_POOL);
}
Test(checks, a_stock_instance_given_back_twice_aborts, .signal = SIGABRT) {
  freed_twice(WRT_BACKEND_STOCK);
}

/* A guest stack returned twice (the pool's; the thread's, stock). */
static void stack_twice(wrt_backend_t b) {
  wrt_runtime_t *rt = make_rt(b);
  wrt_module_t *m = load_calls(rt);
  wrt_result_t res = {0};
  wrt_request_t req = {0};
  rt_ctx_t c = fake_ctx(m, &req, &res);
  cr_assert_eq(rt->ops->stack_new(&c), 0, "%s", wrt_last_error());
  cr_assert_neq(c.stack_top, 0);
  rt->ops->stack_free(&c);
  rt->ops->stack_free(&c);
}
Test(checks, a_pool_stack_returned_twice_aborts, .signal = SIGABRT) {
  stack_twice(WRT_BACKEND_POOL);
}
Test(checks, a_thread_stack_returned_twice_aborts, .signal = SIGABRT) {
  stack_twice(WRT_BACKEND_STOCK);
}

/* The host-call marker: a leave whose enter did not mark the thread. */
Test(checks, a_balanced_host_call_leaves_the_thread_unmarked) {
  rt_ctx_t c = {.in_guest = true};
  atomic_store(&c.in_host, true);
  rt_host_call_t h = {&c};
  rt_host_leave(&h);
  cr_assert_not(atomic_load(&c.in_host));
}
Test(checks, a_host_call_left_twice_aborts, .signal = SIGABRT) {
  rt_ctx_t c = {.in_guest = true};
  atomic_store(&c.in_host, true);
  rt_host_call_t h = {&c};
  rt_host_leave(&h);
  rt_host_leave(&h);
}

/* The watchdog's registration: a deadline set twice without a clear. */
Test(checks, a_deadline_set_twice_aborts, .signal = SIGABRT) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK);
  wrt_module_t *m = load_calls(rt);
  wrt_request_t req = {0};
  wrt_result_t res = {0};
  rt_ctx_t c = fake_ctx(m, &req, &res);
  cr_assert_eq(rt_deadline_set(&c, rt_now_ns() + 60000000000ull), 0, "%s", wrt_last_error());
  rt_deadline_clear(&c);
  cr_assert_eq(rt_deadline_set(&c, rt_now_ns() + 60000000000ull), 0, "set again after a clear");
  rt_deadline_set(&c, rt_now_ns() + 60000000000ull);
}

/* Module references: destroyed while an instance holds it; a hold
 * released once more than taken. */
Test(checks, a_module_destroyed_while_an_instance_holds_it_aborts, .signal = SIGABRT) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL);
  wrt_module_t *m = load_calls(rt);
  instantiate(m);
  rt_module_destroy(m);
}
Test(checks, a_module_hold_released_twice_aborts, .signal = SIGABRT) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL);
  wrt_module_t *m = load_calls(rt);
  wrt_instance_t *inst = instantiate(m);
  atomic_store(&m->running, 0); /* as if released already */
  wrt_instance_free(inst);
}

/* A captured stream already past the request's output limit. */
Test(checks, a_capture_past_its_bound_aborts, .signal = SIGABRT) {
  wrt_request_t req = {.output_limit = 8};
  wrt_result_t res = {.out = malloc(16), .out_len = 9, .out_cap = 16};
  rt_ctx_t c = fake_ctx(NULL, &req, &res);
  wasi_capture(&c, 1, (const uint8_t *)"x", 1);
}

/* The descriptor table longer than what it allocated. */
Test(checks, a_descriptor_table_past_its_allocation_aborts, .signal = SIGABRT) {
  wrt_request_t req = {0};
  wrt_result_t res = {0};
  rt_ctx_t c = fake_ctx(NULL, &req, &res);
  wasi_fds_t *f = wasi_fds(&c);
  cr_assert(f);
  f->n = f->cap + 1;
  u32 err;
  wasi_fd_get(&c, 0, &err);
}
#endif

#if WPOOL_DEBUG >= 3
/* The walks: a broken table at the request's end, a deadline left set
 * when the watchdog stops. */
Test(checks, a_broken_descriptor_table_aborts_at_the_requests_end, .signal = SIGABRT) {
  wrt_request_t req = with_dirs();
  wrt_result_t res = {0};
  rt_ctx_t c = fake_ctx(NULL, &req, &res);
  wasi_fds_t *f = wasi_fds(&c);
  cr_assert(f);
  f->v[3].own = true; /* the embedder's directory would be closed */
  rt_wasi_end(&c);
}

Test(checks, a_deadline_left_set_aborts_when_the_watchdog_stops, .signal = SIGABRT) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK);
  wrt_module_t *m = load_calls(rt);
  wrt_request_t req = {0};
  wrt_result_t res = {0};
  rt_ctx_t c = fake_ctx(m, &req, &res);
  cr_assert_eq(rt_deadline_set(&c, rt_now_ns() + 60000000000ull), 0, "%s", wrt_last_error());
  rt_watchdog_stop(rt);
}
#endif
