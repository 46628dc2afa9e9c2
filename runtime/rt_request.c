/* Requests: a fresh instance of a module, _start run between a sigsetjmp
 * and its end, the outputs collected, the instance freed.
 *
 * A trap called by the generated code (unreachable, division by zero, an
 * indirect call mismatch, a checked table or bulk-memory bound) jumps back
 * to the sigsetjmp with its kind; so does the fault handler (rt_signal.c)
 * for an out-of-bounds access or an exhausted stack, and WASI's proc_exit
 * with the exit code. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_internal.h"

/* The request's context is the thread's, not automatic: it survives a
 * siglongjmp intact. */
static _Thread_local rt_ctx_t t_ctx;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wrt_result_init(wrt_result_t *r) { memset(r, 0, sizeof(*r)); }

void wrt_result_free(wrt_result_t *r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof(*r));
}

typedef void (*inspect_fn)(const uint8_t *mem, uint64_t len, void *arg);

/* A request; with `inspect`, instead of _start, a look at the memory. */
static int run(wrt_module_t *m, const wrt_request_t *req, wrt_result_t *res, inspect_fn inspect,
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
  atomic_fetch_add(&m->running, 1);
  atomic_fetch_add(&rt->running, 1);
  uint64_t t0 = now_ns();
  err = rt->ops->instance_new(c);
  if (err) {
    if (err == WRT_EEXHAUSTED) atomic_fetch_add(&rt->exhausted, 1);
    goto out;
  }
  uint64_t t1 = 0;
  rt_cur = c;
  /* No saved signal mask: see rt_signal.c. */
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
  rt_wasi_end(c);
  t1 = now_ns();
  if (!res->instantiate_ns) res->instantiate_ns = t1 - t0;
  res->run_ns = t1 - t0 - res->instantiate_ns;
  if (jump == RT_JUMP_NOMEM) {
    err = rt_error(WRT_ENOMEM, "%s: host memory ran out during the request", m->path);
  } else if (jump == RT_JUMP_EXIT) {
    res->exit_code = c->exit_code;
  } else if (jump != 0) {
    res->trap = rt_trap_of(jump);
    res->exit_code = -1;
  }
  rt->ops->instance_free(c);
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
  if (!m->fns.start)
    return rt_error(WRT_EINVAL, "wrt_run: %s was loaded as a library: call its functions with "
                    "wrt_call", m->path);
  if ((req->ndirs || req->max_fds) && rt_wasi_check(req)) return WRT_EINVAL;
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
