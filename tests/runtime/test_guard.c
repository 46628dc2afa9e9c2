/* A guest that misbehaves hurts no one else (issue 19): stacks no guest
 * can jump, host calls that always have stack and whose faults are never a
 * guest's trap, and time limits. The guests are examples/misbehave.c (and
 * hello); WPOOL_EXAMPLES names their directory.
 *
 * Some tests reach into the runtime's internals (rt_internal.h: the
 * thread's request, the host-call marker) to check a class of functions
 * at once: every WASI function and every wasm-rt function the generated
 * code calls. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard.h"
#include "rt_internal.h"

/* Ran to its end (printing "MODE N") or trapped with exhaustion; true
 * for the trap. */
static bool ends_or_exhausts(const wrt_result_t *r, const char *mode, long n) {
  if (r->trap == WRT_TRAP_EXHAUSTION) return true;
  char want[64];
  int len = snprintf(want, sizeof(want), "%s %ld\n", mode, n);
  cr_assert_eq(r->trap, WRT_TRAP_NONE, "%s %ld: trap %s", mode, n, wrt_trap_name(r->trap));
  cr_assert_eq(r->exit_code, 0, "%s %ld: exit %d", mode, n, r->exit_code);
  cr_assert(r->out_len >= (size_t)len &&
                !memcmp(r->out + r->out_len - (size_t)len, want, (size_t)len),
            "%s %ld: wrong output", mode, n);
  return false;
}

/* Deeper and deeper until 8 depths in a row trap; returns the first depth
 * that trapped. Every depth ends or traps with exhaustion, and once one
 * traps every deeper one does. */
static long sweep(wrt_module_t *m, const char *mode, long step) {
  wrt_result_t r;
  wrt_result_init(&r);
  long first = -1, in_row = 0;
  for (long n = 1; in_row < 8; n += step) {
    cr_assert(n < 100000, "%s: no exhaustion by depth %ld", mode, n);
    run(m, mode, n, 0, &r);
    bool trapped = ends_or_exhausts(&r, mode, n);
    if (trapped && first < 0) first = n;
    cr_assert(trapped || first < 0, "%s: depth %ld ran after depth %ld trapped", mode, n, first);
    in_row = trapped ? in_row + 1 : 0;
  }
  wrt_result_free(&r);
  return first;
}

/* ------------------------------------------------------------------ */
/* Stacks                                                               */

Test(guard, frames_of_12k_never_write_below_the_guests_stack_guard, .timeout = 120) {
  /* Two stacks: the test holds the lower one (index 0, directly below the
   * other's guard) filled with a pattern; every request runs on the other. */
  wpool_config_t c = cfg(2);
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  wrt_module_t *m = load(rt, "misbehave");
  wpool_stack_t *below, *above;
  cr_assert_eq(wpool_stack_new(wrt_pool(rt), &below), 0);
  cr_assert_eq(wpool_stack_new(wrt_pool(rt), &above), 0);
  uint8_t *lo = (uint8_t *)wpool_stack_top(below) - wpool_stack_size(below);
  cr_assert_eq((uintptr_t)wpool_stack_top(below) + (uintptr_t)sysconf(_SC_PAGESIZE),
               (uintptr_t)wpool_stack_top(above) - wpool_stack_size(above),
               "stack 0 lies directly below stack 1's guard");
  wpool_stack_free(above);
  memset(lo, 0x5a, wpool_stack_size(below));
  long first = sweep(m, "frames", 1);
  long small = sweep(m, "small", 97);
  for (size_t i = 0; i < wpool_stack_size(below); i++)
    if (lo[i] != 0x5a)
      cr_assert_fail("byte %zu of the stack below was written (frames first trapped at %ld)", i,
                     first);
  cr_expect(first > 1 && small > first, "frames trap at %ld, small ones at %ld", first, small);
  wpool_stack_free(below);
  cr_expect_eq(wrt_destroy(rt), 0);
}

typedef struct neighbour {
  wrt_module_t *m;
  atomic_bool stop;
  atomic_uint_fast64_t answered;
  bool bad;
} neighbour_t;

/* The other worker: hello, again and again, each answer checked. */
static void *neighbour_main(void *arg) {
  neighbour_t *nb = arg;
  wrt_result_t r;
  wrt_result_init(&r);
  const char *argv[] = {"hello"};
  wrt_request_t req = {.argv = argv, .argc = 1};
  while (!atomic_load(&nb->stop)) {
    if (wrt_run(nb->m, &req, &r) != 0 || r.trap || r.exit_code ||
        r.out_len != strlen("hello, world\n") || memcmp(r.out, "hello, world\n", r.out_len)) {
      nb->bad = true;
      break;
    }
    atomic_fetch_add(&nb->answered, 1);
  }
  wrt_result_free(&r);
  return NULL;
}

typedef struct sweeper {
  wrt_module_t *m;
  neighbour_t *nb;
  long depths;
  const char *failed; /* NULL, or what went wrong */
  long at;
} sweeper_t;

/* One request of misbehave; NULL when it ended as it should or trapped
 * with exhaustion, else what went wrong. */
static const char *one(wrt_module_t *m, wrt_result_t *r, const char *mode, long n, long k) {
  char num[32], kk[32];
  snprintf(num, sizeof(num), "%ld", n);
  snprintf(kk, sizeof(kk), "%ld", k);
  const char *argv[] = {"misbehave", mode, num, kk};
  wrt_request_t req = {.argv = argv, .argc = 4};
  char want[64];
  int len = snprintf(want, sizeof(want), "%s %ld\n", mode, n);
  if (wrt_run(m, &req, r) != 0) return "wrt_run failed";
  if (r->trap == WRT_TRAP_EXHAUSTION) return NULL;
  if (r->trap || r->exit_code || r->out_len != (size_t)len || memcmp(r->out, want, r->out_len))
    return "neither the answer nor exhaustion";
  return NULL;
}

/* 12 KiB frames past the stack's end, starting at every 64 bytes of a
 * frame's span (K small frames first), small frames past it too, and
 * shallow ones; after each the neighbour must have answered twice more. */
static void *sweeper_main(void *arg) {
  sweeper_t *sw = arg;
  wrt_result_t r;
  wrt_result_init(&r);
  for (long k = 0; k < sw->depths && !sw->failed; k++) {
    uint64_t before = atomic_load(&sw->nb->answered);
    sw->failed = one(sw->m, &r, "frames", 40, 2 * k);
    if (!sw->failed) sw->failed = one(sw->m, &r, "frames", 2, 2 * k);
    if (!sw->failed) sw->failed = one(sw->m, &r, "small", 50 * (k + 1), 0);
    while (!sw->failed && atomic_load(&sw->nb->answered) < before + 2 && !sw->nb->bad)
      sched_yield();
    if (sw->nb->bad && !sw->failed) sw->failed = "the other thread's request failed";
    sw->at = k;
  }
  wrt_result_free(&r);
  return NULL;
}

/* Two threads on 256 KiB stacks of the test's own, one directly below the
 * other's guard page, as glibc places threads' stacks: one sweeps
 * recursions past its stack's end, the other runs hello meanwhile. Every
 * sweep request ends or traps with exhaustion; the other thread answers
 * after each. (A guest on its thread's own stack, with 12 KiB frames
 * compiled without stack-clash protection, stepped over the guard into the
 * other thread's stack and control block.) */
Test(guard, a_stack_sweep_beside_another_thread_hurts_it_not, .timeout = 240) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), size = 256u << 10;
  uint8_t *area = mmap(NULL, 2 * (page + size), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  cr_assert(area != MAP_FAILED);
  cr_assert_eq(mprotect(area, page, PROT_NONE), 0);
  cr_assert_eq(mprotect(area + page + size, page, PROT_NONE), 0);
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = cfg(8);
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    neighbour_t nb = {.m = load(rt, "hello")};
    sweeper_t sw = {.m = load(rt, "misbehave"), .nb = &nb, .depths = 200};
    pthread_attr_t below, above;
    pthread_attr_init(&below);
    pthread_attr_init(&above);
    cr_assert_eq(pthread_attr_setstack(&below, area + page, size), 0);
    cr_assert_eq(pthread_attr_setstack(&above, area + 2 * page + size, size), 0);
    pthread_t ts, tn;
    cr_assert_eq(pthread_create(&tn, &below, neighbour_main, &nb), 0);
    cr_assert_eq(pthread_create(&ts, &above, sweeper_main, &sw), 0);
    pthread_join(ts, NULL);
    atomic_store(&nb.stop, true);
    pthread_join(tn, NULL);
    pthread_attr_destroy(&below);
    pthread_attr_destroy(&above);
    cr_assert(!sw.failed, "%s: %s at step %ld", wrt_backend_name(backends[b]), sw.failed, sw.at);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  munmap(area, 2 * (page + size));
}

/* The pool lends each request a stack and takes it back. */
Test(guard, a_request_takes_a_pool_stack_and_gives_it_back) {
  wpool_config_t c = cfg(1);
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  wrt_module_t *m = load(rt, "misbehave");
  wrt_result_t r;
  wrt_result_init(&r);
  run(m, "small", 10, 0, &r);
  ends_or_exhausts(&r, "small", 10);
  wpool_stats_t st;
  wpool_stats_get(wrt_pool(rt), &st);
  cr_expect_eq(st.live_stacks, 0);
  /* The only stack held elsewhere: the request is refused, not run on the
   * thread's stack. */
  wpool_stack_t *s;
  cr_assert_eq(wpool_stack_new(wrt_pool(rt), &s), 0);
  const char *argv[] = {"misbehave", "small", "10"};
  wrt_request_t req = {.argv = argv, .argc = 3};
  cr_expect_eq(wrt_run(m, &req, &r), WRT_EEXHAUSTED);
  cr_expect(strstr(wrt_last_error(), "stack"), "%s", wrt_last_error());
  wpool_stack_free(s);
  run(m, "small", 10, 0, &r);
  wpool_stats_get(wrt_pool(rt), &st);
  cr_expect_eq(st.live_stacks, 0);
  cr_expect_eq(st.live_instances, 0);
  wrt_result_free(&r);
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* ------------------------------------------------------------------ */
/* Host calls                                                           */

bool wrt_memory_has_image(const wasm_rt_memory_t *mem);

typedef uint32_t (*any_fn)(void *, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                           uint64_t, uint64_t, uint64_t);

static wasm_rt_memory_t a_memory;
static wasm_rt_funcref_table_t a_table;
static void call_trap(void) { wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE); }
static void call_allocate_memory(void) { wasm_rt_allocate_memory(&a_memory, 1, 1); }
static void call_grow_memory(void) { wasm_rt_grow_memory(&a_memory, 1); }
static void call_free_memory(void) { wasm_rt_free_memory(&a_memory); }
static void call_allocate_table(void) { wasm_rt_allocate_funcref_table(&a_table, 1, 1); }
static void call_grow_table(void) { wasm_rt_grow_funcref_table(&a_table, 1, wasm_rt_funcref_null_value); }
static void call_free_table(void) { wasm_rt_free_funcref_table(&a_table); }
static wasm_rt_externref_table_t an_xtable;
static void call_allocate_xtable(void) { wasm_rt_allocate_externref_table(&an_xtable, 1, 1); }
static void call_grow_xtable(void) {
  wasm_rt_grow_externref_table(&an_xtable, 1, wasm_rt_externref_null_value);
}
static void call_free_xtable(void) { wasm_rt_free_externref_table(&an_xtable); }
void wrt_import_call(void *ctx, uint32_t i, const uint64_t *a, uint64_t *r);
static void call_import(void) {
  uint64_t v[2] = {0, 0};
  wrt_import_call(rt_cur, 0, v, v);
}
static void call_has_image(void) { wrt_memory_has_image(&a_memory); }
static void call_is_initialized(void) { wasm_rt_is_initialized(); }
static void call_register_tag(void) { wasm_rt_register_tag(4); }
static void call_load_exception(void) { wasm_rt_load_exception(0, 4, "abcd"); }
static void call_throw(void) { wasm_rt_throw(); }
static void call_get_unwind_target(void) { wasm_rt_get_unwind_target(); }
static void call_set_unwind_target(void) { wasm_rt_set_unwind_target(NULL); }
static void call_exception_tag(void) { wasm_rt_exception_tag(); }
static void call_exception_size(void) { wasm_rt_exception_size(); }
static void call_exception(void) { wasm_rt_exception(); }

/* Every wasm-rt function the generated code may call (wasm-rt.h), each
 * with harmless arguments. */
static const struct {
  const char *name;
  void (*call)(void);
} wasmrt_fns[] = {
    {"wasm_rt_trap", call_trap},
    {"wasm_rt_allocate_memory", call_allocate_memory},
    {"wasm_rt_grow_memory", call_grow_memory},
    {"wasm_rt_free_memory", call_free_memory},
    {"wasm_rt_allocate_funcref_table", call_allocate_table},
    {"wasm_rt_grow_funcref_table", call_grow_table},
    {"wasm_rt_free_funcref_table", call_free_table},
    {"wasm_rt_allocate_externref_table", call_allocate_xtable},
    {"wasm_rt_grow_externref_table", call_grow_xtable},
    {"wasm_rt_free_externref_table", call_free_xtable},
    {"wrt_import_call (a host import)", call_import},
    {"wrt_memory_has_image", call_has_image},
    {"wasm_rt_is_initialized", call_is_initialized},
    {"wasm_rt_register_tag", call_register_tag},
    {"wasm_rt_load_exception", call_load_exception},
    {"wasm_rt_throw", call_throw},
    {"wasm_rt_get_unwind_target", call_get_unwind_target},
    {"wasm_rt_set_unwind_target", call_set_unwind_target},
    {"wasm_rt_exception_tag", call_exception_tag},
    {"wasm_rt_exception_size", call_exception_size},
    {"wasm_rt_exception", call_exception},
};

/* A request on this thread as the host functions see it, with `left`
 * bytes of stack below this frame (negative: the frame is already past the
 * stack's end, in its guard, as a host function's frame may be when it is
 * called with almost no stack left). */
static void fake_request(rt_ctx_t *c, long left) {
  memset(c, 0, sizeof(*c));
  c->in_guest = true;
  c->stack_lo = (uintptr_t)__builtin_frame_address(0) - (uintptr_t)left;
  rt_cur = c;
}

static const long lefts[] = {RT_HOST_RESERVE / 2, 64, -64, -4096};

/* Called with less than the reserve left, every host function the
 * generated code may call ends the request with the exhaustion trap before
 * it runs: none can run out of stack in host code. */
Test(guard, every_host_function_refuses_to_run_without_its_stack_budget) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL); /* the handlers */
  static rt_ctx_t c;
  for (volatile size_t l = 0; l < sizeof(lefts) / sizeof(lefts[0]); l++) {
    for (volatile size_t i = 0; i < rt_wasi_nfns; i++) {
      fake_request(&c, lefts[l]);
      int jump = sigsetjmp(c.jb, 0);
      if (jump == 0) {
        ((any_fn)rt_wasi_fns[i].fn)(&c, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        cr_assert_fail("%s ran with %ld bytes of stack left", rt_wasi_fns[i].name, lefts[l]);
      }
      cr_expect_eq(jump, WASM_RT_TRAP_EXHAUSTION, "%s, %ld bytes left: jump %d",
                   rt_wasi_fns[i].name, lefts[l], jump);
    }
    for (volatile size_t i = 0; i < sizeof(wasmrt_fns) / sizeof(wasmrt_fns[0]); i++) {
      fake_request(&c, lefts[l]);
      int jump = sigsetjmp(c.jb, 0);
      if (jump == 0) {
        wasmrt_fns[i].call();
        cr_assert_fail("%s ran with %ld bytes of stack left", wasmrt_fns[i].name, lefts[l]);
      }
      cr_expect_eq(jump, WASM_RT_TRAP_EXHAUSTION, "%s, %ld bytes left: jump %d",
                   wasmrt_fns[i].name, lefts[l], jump);
    }
  }
  rt_cur = NULL;
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* With its budget, a host function runs and leaves the thread out of host
 * code; a timeout that came meanwhile is taken at its return. */
Test(guard, a_host_call_runs_with_its_budget_and_takes_a_pending_timeout_at_its_return) {
  static rt_ctx_t c;
  uint32_t (*yield)(void *) = NULL;
  for (size_t i = 0; i < rt_wasi_nfns; i++)
    if (!strcmp(rt_wasi_fns[i].name, "sched_yield")) yield = (uint32_t(*)(void *))rt_wasi_fns[i].fn;
  cr_assert(yield);
  fake_request(&c, 4u << 20);
  cr_expect_eq(yield(&c), 0);
  cr_expect(!atomic_load(&c.in_host));
  atomic_store(&c.timeout_pending, true);
  int jump = sigsetjmp(c.jb, 0);
  if (jump == 0) {
    yield(&c);
    cr_assert_fail("the pending timeout was not taken");
  }
  cr_expect_eq(jump, RT_JUMP_TIMEOUT);
  rt_cur = NULL;
}

typedef struct write_sweep {
  wrt_backend_t backend;
  long from, end, trapped;
} write_sweep_t;

static void *write_sweep_main(void *arg) {
  write_sweep_t *ws = arg;
  wpool_config_t c = cfg(8);
  wrt_runtime_t *rt = make_rt(ws->backend, &c);
  wrt_module_t *m = load(rt, "misbehave");
  ws->end = sweep(m, "small", 64);
  long frame = (long)(256u << 10) / ws->end + 1; /* bytes per level, about */
  ws->from = ws->end - 2 * (long)RT_HOST_RESERVE / frame - 64;
  if (ws->from < 1) ws->from = 1;
  for (long n = ws->from; n <= ws->end; n++) {
    wrt_result_t r;
    wrt_result_init(&r);
    run(m, "write", n, 0, &r);
    ws->trapped += ends_or_exhausts(&r, "write", n);
    wrt_result_free(&r);
    void *p = malloc(1 << 20); /* the allocator still answers */
    cr_assert(p);
    free(p);
  }
  cr_expect_eq(wrt_destroy(rt), 0);
  return NULL;
}

/* The stack runs out inside fd_write while the output buffer grows (30 KiB
 * pending, 4 KiB more at the bottom of the recursion, each request with a
 * fresh result so the allocator runs): at every depth around the end of the
 * stack, the request ends or traps, and the next one runs (a jump out of
 * the allocator with its lock held would hang this thread's next
 * allocation for ever: the test's timeout). On a thread of 256 KiB, the
 * size of the guests' stacks here. */
Test(guard, the_stack_running_out_in_fd_write_is_a_trap_never_a_hang, .timeout = 240) {
  for (size_t b = 0; b < 2; b++) {
    write_sweep_t ws = {.backend = backends[b]};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256u << 10);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, &attr, write_sweep_main, &ws), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    cr_expect(ws.trapped > 0, "%s: no depth from %ld to %ld trapped",
              wrt_backend_name(backends[b]), ws.from, ws.end);
  }
}

/* ------------------------------------------------------------------ */
/* Host faults                                                          */

#if RT_ASAN
#define HOST_FAULT_ENDS .exit_code = 1 /* ASan's handler, before ours, reports it */
#else
#define HOST_FAULT_ENDS .signal = SIGSEGV
#endif

static void read_past_the_memory(const uint8_t *mem, uint64_t len, void *arg) {
  (void)arg;
  volatile uint8_t x = mem[len + 4096]; /* the memory's guard */
  (void)x;
}

/* A fault in the instance's own memory guard, but from host code (here a
 * wrt_inspect callback, which runs where a guest would): a host bug, a
 * crash, never a trap. */
Test(guard, an_oob_fault_from_host_code_crashes_and_is_never_a_trap, HOST_FAULT_ENDS) {
  wpool_config_t c = cfg(8);
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  wrt_module_t *m = load(rt, "hello");
  wrt_inspect(m, read_past_the_memory, NULL);
}

/* A fault in the guest stack's guard while a host call runs: a host bug
 * (the host's budget should have prevented it), a crash naming it. */
Test(guard, a_fault_in_the_stack_guard_during_a_host_call_crashes, HOST_FAULT_ENDS) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL);
  (void)rt;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uint8_t *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(p != MAP_FAILED);
  cr_assert_eq(mprotect(p, page, PROT_NONE), 0);
  static wrt_module_t mod = {.path = "fake.wasm"};
  static rt_ctx_t c;
  c.m = &mod;
  c.in_guest = true;
  c.guard_lo = (uintptr_t)p;
  c.stack_lo = (uintptr_t)p + page;
  c.stack_top = (uintptr_t)p + 2 * page;
  rt_cur = &c;
  /* Outside a host call the same fault is the guest's exhaustion... */
  int jump = sigsetjmp(c.jb, 0);
  if (jump == 0) *(volatile uint8_t *)(p + 100) = 1;
  cr_assert_eq(jump, WASM_RT_TRAP_EXHAUSTION);
  /* ... inside one, a crash. */
  atomic_store(&c.in_host, true);
  *(volatile uint8_t *)(p + 100) = 1;
}
