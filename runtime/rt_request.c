/* Requests: a fresh instance of a module, _start run on a stack of its
 * own (rt_stack.c) between a sigsetjmp and its end, within its time limit
 * (rt_watchdog.c), the outputs collected, the instance freed.
 *
 * A trap called by the generated code (unreachable, division by zero, an
 * indirect call mismatch, a checked table or bulk-memory bound) jumps back
 * to the sigsetjmp with its kind; so does the fault handler (rt_signal.c)
 * for an out-of-bounds access or an exhausted stack, and WASI's proc_exit
 * with the exit code, and a timeout (the signal handler, or a host call's
 * return) with RT_JUMP_TIMEOUT. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_snapshot.h"

/* The request's context is the thread's, not automatic: it survives a
 * siglongjmp intact. */
static _Thread_local rt_ctx_t t_ctx;

void wrt_result_init(wrt_result_t *r) { memset(r, 0, sizeof(*r)); }

void wrt_result_free(wrt_result_t *r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof(*r));
}

/* On the guest's stack (rt_stack.c): instantiate and run _start (or, for
 * wrt_inspect, look at the memory) between a sigsetjmp and the end; every
 * jump lands here. */
static void guest_main(rt_ctx_t *c) {
  /* No saved signal mask: see rt_signal.c. */
  int jump = sigsetjmp(c->jb, 0);
  if (jump == 0) {
    c->in_guest = true;
    c->m->fns.instantiate(c->guest, c);
    rt_snapshot_apply(c);
    if (c->req->timings) c->res->instantiate_ns = rt_now_ns() - c->t0;
    if (c->inspect)
      c->inspect(c->mem ? c->mem->data : NULL, c->mem ? c->mem->size : 0, c->inspect_arg);
    else
      c->m->fns.start(c->guest);
  } else {
    rt_stack_landed(c);
  }
  c->in_guest = false;
  atomic_store_explicit(&c->in_host, false, memory_order_relaxed);
  atomic_store_explicit(&c->timeout_pending, false, memory_order_relaxed);
  c->jump = jump;
}

/* Host calls (RT_HOST_CALL) that end the request. Out of stack: even the
 * jump needs some (a lazily bound siglongjmp runs the dynamic linker), so
 * on a stack of its own the trap is a write to the guard, which the fault
 * handler, on the alternate signal stack, turns into the exhaustion trap
 * (no host call is marked yet); on the thread's stack (no switch) the jump
 * has the margin kept above its end (rt_stack.c). */
void rt_host_exhausted(rt_ctx_t *c) {
  if (c->stack_guarded) *(volatile char *)(c->stack_lo - 1) = 0;
  siglongjmp(c->jb, WASM_RT_TRAP_EXHAUSTION);
}
void rt_host_timed_out(rt_ctx_t *c) { siglongjmp(c->jb, RT_JUMP_TIMEOUT); }

/* A request; with `inspect`, instead of _start, a look at the memory. */
static int run(wrt_module_t *m, const wrt_request_t *req, wrt_result_t *res, rt_inspect_fn inspect,
               void *arg) {
  if (rt_cur) return rt_error(WRT_EINVAL, "wrt_run: called from inside a request");
  int err = rt_thread_init();
  if (err) return err;
  wrt_runtime_t *rt = m->rt;
  res->out_len = res->err_len = 0;
  res->out_truncated = res->err_truncated = false;
  res->trap = WRT_TRAP_NONE;
  res->exit_code = 0;
  res->instantiate_ns = res->run_ns = res->free_ns = 0;

  rt_ctx_t *c = &t_ctx;
  memset(c, 0, sizeof(*c));
  c->self = c;
  c->m = m;
  c->req = req;
  c->res = res;
  c->inspect = inspect;
  c->inspect_arg = arg;
  atomic_fetch_add(&m->running, 1);
  atomic_fetch_add(&rt->running, 1);
  /* The clock is read for the timings asked for and for a deadline. */
  bool timed = req->timings;
  uint64_t t0 = c->t0 = timed || req->timeout_ns ? rt_now_ns() : 0;
  err = rt->ops->instance_new(c);
  if (err) {
    if (err == WRT_EEXHAUSTED) atomic_fetch_add(&rt->exhausted, 1);
    goto out;
  }
  if (rt_stack_switches && (err = rt->ops->stack_new(c)) != 0) {
    if (err == WRT_EEXHAUSTED) atomic_fetch_add(&rt->exhausted, 1);
    goto fail_stack;
  }
  rt_cur = c;
  if (req->timeout_ns && (err = rt_deadline_set(c, t0 + req->timeout_ns)) != 0) goto fail_deadline;
  rt_stack_run(c, guest_main);
  rt_deadline_clear(c);
  /* Every way out of the guest (return, exit, trap, timeout, a jump from
   * inside a host call) came back through guest_main, which unmarks it. */
  debug_assert(!c->in_guest && !atomic_load_explicit(&c->in_host, memory_order_relaxed) &&
               !atomic_load_explicit(&c->timeout_pending, memory_order_relaxed));
  debug_assert(c->deadline_ns == 0);
  rt_cur = NULL;
  rt_wasi_end(c);
  int jump = c->jump;
  uint64_t t1 = timed ? rt_now_ns() : 0;
  if (timed && !res->instantiate_ns) res->instantiate_ns = t1 - t0;
  if (timed) res->run_ns = t1 - t0 - res->instantiate_ns;
  if (jump == RT_JUMP_NOMEM) {
    err = rt_error(WRT_ENOMEM, "%s: host memory ran out during the request", m->path);
  } else if (jump == RT_JUMP_EXIT) {
    res->exit_code = c->exit_code;
  } else if (jump == RT_JUMP_TIMEOUT) {
    res->trap = WRT_TRAP_TIMEOUT;
    res->exit_code = -1;
  } else if (jump != 0) {
    res->trap = rt_trap_of(jump);
    res->exit_code = -1;
  }
  if (rt_stack_switches) rt->ops->stack_free(c);
  rt->ops->instance_free(c);
  if (timed) res->free_ns = rt_now_ns() - t1;
  if (!err && inspect && jump)
    err = rt_error(WRT_EFORMAT, "%s: instantiation trapped: %s", m->path, wrt_trap_name(res->trap));
  if (!err && !inspect) {
    atomic_fetch_add(&rt->requests, 1);
    if (res->trap) atomic_fetch_add(&rt->traps, 1);
    else if (res->exit_code) atomic_fetch_add(&rt->nonzero_exits, 1);
    if (res->trap == WRT_TRAP_TIMEOUT) atomic_fetch_add(&rt->timeouts, 1);
  }
  goto out;
fail_deadline:
  rt_cur = NULL;
  if (rt_stack_switches) rt->ops->stack_free(c);
fail_stack:
  rt->ops->instance_free(c);
out:;
  uint64_t rt_was = atomic_fetch_sub(&rt->running, 1), m_was = atomic_fetch_sub(&m->running, 1);
  debug_assert(rt_was > 0 && m_was > 0); /* each request counted once, in both */
  return err;
}

int wrt_run(wrt_module_t *m, const wrt_request_t *req, wrt_result_t *res) {
  if (!m || !req || !res || (req->argc && !req->argv) || (req->envc && !req->envp) ||
      (req->stdin_len && !req->stdin_bytes))
    return rt_error(WRT_EINVAL, "wrt_run: NULL argument");
  if (!m->fns.start)
    return rt_error(WRT_EINVAL, "wrt_run: %s was loaded as a library: call its functions with "
                    "wrt_call", m->path);
  if ((req->ndirs || req->max_fds) && rt_wasi_check(req)) return WRT_EINVAL;
  return run(m, req, res, NULL, NULL);
}

int wrt_inspect(wrt_module_t *m, rt_inspect_fn fn, void *arg) {
  if (!m || !fn) return rt_error(WRT_EINVAL, "wrt_inspect: NULL argument");
  wrt_request_t req = {0};
  wrt_result_t res;
  wrt_result_init(&res);
  int err = run(m, &req, &res, fn, arg);
  wrt_result_free(&res);
  return err;
}
