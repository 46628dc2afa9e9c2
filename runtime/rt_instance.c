/* Instances that outlive a call: wrt_instantiate makes one (a pool slot
 * or, stock, fresh mappings), wrt_call calls its exported functions with
 * typed arguments through the glue's wrt_guest_invoke, wrt_instance_free
 * gives it back.
 *
 * A call runs between a sigsetjmp and its end, like a request
 * (rt_request.c), on the instance's own context, which is the thread's
 * current one (rt_cur) for the call's duration. Calls nest: a host
 * function the guest imported may call wrt_call on any instance, this one
 * included; each call saves the context's jump buffer, rt_cur and
 * in_guest, and puts them back when it ends, trap or not, so the outer
 * call's traps still land in the outer call. */
#include <stdlib.h>
#include <string.h>

#include "rt_snapshot.h"

struct wrt_instance {
  rt_ctx_t ctx; /* the generated instance, its memory and tables */
  wrt_request_t req; /* empty: WASI sees no arguments, environment or stdin */
  wrt_result_t out;  /* what WASI's fd_write wrote */
};

/* A live instance counts as a request in flight: wrt_unload and
 * wrt_destroy wait for it (WRT_EBUSY). */
static void hold(wrt_module_t *m) {
  atomic_fetch_add(&m->running, 1);
  atomic_fetch_add(&m->rt->running, 1);
}

static void release(wrt_module_t *m) {
  uint64_t m_was = atomic_fetch_sub(&m->running, 1);
  uint64_t rt_was = atomic_fetch_sub(&m->rt->running, 1);
  debug_assert(m_was > 0 && rt_was > 0); /* each hold released once */
}

/* What a call changes in its context, put back when it ends. */
typedef struct saved {
  sigjmp_buf jb;
  rt_ctx_t *cur;
  bool in_guest, in_host, pending, stack_guarded;
  uintptr_t stack_lo, stack_top, guard_lo;
} saved_t;

/* Run `fn(c, arg)` as guest code of context `c`: 0 when it returned, or
 * the jump code of the trap (or exit) that ended it. In place, on the
 * stack this thread runs on (a host import's nested call: the outer
 * guest's stack), whose bounds the fault handler and the host calls'
 * budget use (issue 19); a nested call's guest code is not in the outer
 * host call (in_host cleared for its duration). */
static int guarded(rt_ctx_t *c, void (*fn)(rt_ctx_t *c, void *arg), void *arg) {
  saved_t sv = {.cur = rt_cur,
                .in_guest = c->in_guest,
                .in_host = atomic_load(&c->in_host),
                .pending = atomic_load(&c->timeout_pending),
                .stack_guarded = c->stack_guarded,
                .stack_lo = c->stack_lo,
                .stack_top = c->stack_top,
                .guard_lo = c->guard_lo};
  memcpy(sv.jb, c->jb, sizeof(sv.jb));
  rt_stack_here(c, sv.cur);
  atomic_store(&c->in_host, false);
  rt_cur = c;
  /* No saved signal mask: see rt_signal.c. */
  int jump = sigsetjmp(c->jb, 0);
  if (jump == 0) {
    c->in_guest = true;
    fn(c, arg);
  }
  c->in_guest = sv.in_guest;
  atomic_store(&c->in_host, sv.in_host);
  atomic_store(&c->timeout_pending, sv.pending);
  c->stack_guarded = sv.stack_guarded;
  c->stack_lo = sv.stack_lo;
  c->stack_top = sv.stack_top;
  c->guard_lo = sv.guard_lo;
  rt_cur = sv.cur;
  memcpy(c->jb, sv.jb, sizeof(sv.jb));
  return jump;
}

static void instantiate(rt_ctx_t *c, void *arg) {
  (void)arg;
  c->m->fns.instantiate(c->guest, c);
  rt_snapshot_apply(c);
}

rt_ctx_t *rt_instance_ctx(wrt_instance_t *inst) { return &inst->ctx; }

/* A jump code as a call's outcome: 0 with *trap, or WRT_ENOMEM. */
static int outcome(rt_ctx_t *c, int jump, wrt_trap_t *trap) {
  *trap = WRT_TRAP_NONE;
  if (jump == 0) return 0;
  if (jump == RT_JUMP_NOMEM)
    return rt_error(WRT_ENOMEM, "%s: host memory ran out during the call", c->m->path);
  *trap = jump == RT_JUMP_EXIT      ? WRT_TRAP_EXIT
          : jump == RT_JUMP_TIMEOUT ? WRT_TRAP_TIMEOUT
                                    : rt_trap_of(jump);
  return 0;
}

int wrt_instantiate(wrt_module_t *m, wrt_instance_t **out, wrt_trap_t *trap) {
  if (!m || !out || !trap) return rt_error(WRT_EINVAL, "wrt_instantiate: NULL argument");
  *out = NULL;
  *trap = WRT_TRAP_NONE;
  int err = rt_thread_init();
  if (err) return err;
  wrt_instance_t *inst = calloc(1, sizeof(*inst));
  if (!inst) return rt_error(WRT_ENOMEM, "%s: out of memory for an instance", m->path);
  rt_ctx_t *c = &inst->ctx;
  c->self = c;
  c->m = m;
  c->req = &inst->req;
  c->res = &inst->out;
  hold(m);
  err = m->rt->ops->instance_new(c);
  if (err) {
    if (err == WRT_EEXHAUSTED) atomic_fetch_add(&m->rt->exhausted, 1);
    goto fail;
  }
  err = outcome(c, guarded(c, instantiate, NULL), trap);
  if (err || *trap) {
    rt_wasi_end(c);
    m->rt->ops->instance_free(c);
    goto fail;
  }
  *out = inst;
  return 0;
fail:
  wrt_result_free(&inst->out);
  free(inst);
  release(m);
  return err;
}

typedef struct call {
  const wrt_func_t *f;
  const uint64_t *args;
  uint64_t *results;
  int found; /* the glue's answer: 0 for no callable function there */
} call_t;

static void invoke(rt_ctx_t *c, void *arg) {
  call_t *k = arg;
  k->found = c->m->fns.invoke(c->guest, k->f->export_index, k->args, k->results);
}

int wrt_call(wrt_instance_t *inst, const wrt_func_t *f, const wrt_value_t *args,
             wrt_value_t *results, wrt_trap_t *trap) {
  if (!inst || !f || (f->nparams && !args) || (f->nresults && !results) || !trap)
    return rt_error(WRT_EINVAL, "wrt_call: NULL argument");
  *trap = WRT_TRAP_NONE;
  rt_ctx_t *c = &inst->ctx;
  wrt_module_t *m = c->m;
  if (f->export_index >= m->nexports || m->exports[f->export_index].kind != WASM_EXTERN_FUNC ||
      m->exports[f->export_index].nparams != f->nparams ||
      m->exports[f->export_index].nresults != f->nresults)
    return rt_error(WRT_EINVAL, "wrt_call: %s has no such function (export %u)", m->path,
                    f->export_index);
  const rt_export_t *x = &m->exports[f->export_index];
  if (!x->callable)
    return rt_error(WRT_EINVAL, "wrt_call: %s export %u takes or returns v128", m->path,
                    f->export_index);
  uint64_t small[2 * 16], *slots = small;
  if (f->nparams + f->nresults > 2 * 16) {
    slots = calloc((size_t)f->nparams + f->nresults, sizeof(uint64_t));
    if (!slots) return rt_error(WRT_ENOMEM, "wrt_call: out of memory");
  }
  int err = 0;
  for (uint32_t i = 0; i < f->nparams && !err; i++) {
    if (args[i].type != x->types[i])
      err = rt_error(WRT_EINVAL, "wrt_call: %s export %u: argument %u has type %d, the function "
                     "takes %d", m->path, f->export_index, i, (int)args[i].type, (int)x->types[i]);
    else if (args[i].type == WRT_FUNCREF && args[i].of.funcref)
      err = rt_error(WRT_EINVAL, "wrt_call: %s export %u: argument %u: a funcref argument must "
                     "be null", m->path, f->export_index, i);
    slots[i] = rt_slot_of(&args[i]);
  }
  if (!err) err = rt_thread_init();
  if (!err) {
    call_t k = {.f = f, .args = slots, .results = slots + f->nparams, .found = 1};
    err = outcome(c, guarded(c, invoke, &k), trap);
    if (!err && !k.found)
      err = rt_error(WRT_ETOOLCHAIN, "wrt_call: %s: the compiled object has no entry for export "
                     "%u", m->path, f->export_index);
    if (!err && *trap == WRT_TRAP_NONE)
      for (uint32_t i = 0; i < f->nresults; i++)
        rt_value_of(x->types[f->nparams + i], k.results[i], &results[i]);
  }
  if (slots != small) free(slots);
  return err;
}

int32_t wrt_instance_exit_code(const wrt_instance_t *inst) { return inst->ctx.exit_code; }
const wrt_result_t *wrt_instance_output(const wrt_instance_t *inst) { return &inst->out; }

void wrt_instance_free(wrt_instance_t *inst) {
  if (!inst) return;
  if (inst->ctx.in_guest)
    api_misuse("wrt_instance_free: the instance is running a call (freed from its own import)");
  wrt_module_t *m = inst->ctx.m;
  rt_wasi_end(&inst->ctx); /* descriptors WASI opened for it (e.g. a stdio fd renumbered) */
  m->rt->ops->instance_free(&inst->ctx);
  wrt_result_free(&inst->out);
  free(inst);
  release(m);
}
