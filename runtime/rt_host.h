/* Host calls: the marker every function the generated code calls begins
 * with. Part of rt_internal.h (included at its end, after rt_ctx_t and
 * rt_cur); include that, not this. */
#ifndef WRT_RT_HOST_H
#define WRT_RT_HOST_H

/* Host calls. Every function the generated code calls (WASI's, wasm-rt's)
 * begins with RT_HOST_CALL(): while it runs, the thread is in host code.
 * At entry, with less than RT_HOST_RESERVE bytes of the guest's stack left
 * below the call, the request ends with the exhaustion trap before any
 * host code runs (host code never runs out of stack, so a fault in the
 * guard during a host call is a host bug, never a guest's trap); at exit,
 * a timeout that came during the call is taken. Outside a request (at
 * load) it does nothing. The one exception: the bulk memory operations
 * (rt_bulk.c), which hold nothing and take a pending timeout themselves
 * between pieces of their work. RT_HOST_RESERVE: the host functions' deepest use
 * (libc and the allocator included) with a wide margin (docs/runtime.md). */
#define RT_HOST_RESERVE (64u << 10)

typedef struct rt_host_call {
  rt_ctx_t *c; /* NULL: not the outermost host call of a request */
} rt_host_call_t;

/* The exhaustion trap, taken with no host call marked and perhaps only a
 * few bytes of stack: by a fault on the guard, whose handler jumps from
 * the alternate signal stack (rt_request.c). */
_Noreturn void rt_host_exhausted(rt_ctx_t *c);
_Noreturn void rt_host_timed_out(rt_ctx_t *c);

static inline rt_host_call_t rt_host_enter(const void *sp) {
  rt_ctx_t *c = rt_cur;
  rt_host_call_t h = {NULL};
  if (!c || !c->in_guest || atomic_load_explicit(&c->in_host, memory_order_relaxed)) return h;
  /* Checked before the marker is set: the way out needs stack too, and a
   * fault on it is then still the guest's exhaustion. */
  if ((uintptr_t)sp < c->stack_lo + RT_HOST_RESERVE) rt_host_exhausted(c); /* sp may be below */
  atomic_store_explicit(&c->in_host, true, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  h.c = c;
  return h;
}

static inline void rt_host_leave(rt_host_call_t *h) {
  rt_ctx_t *c = h->c;
  if (!c) return;
  /* Balanced: the call this leaves marked the thread, in the guest, and
   * nothing between cleared the mark (a nested call restores it). */
  debug_assert(c->in_guest && atomic_load_explicit(&c->in_host, memory_order_relaxed));
  atomic_signal_fence(memory_order_seq_cst);
  atomic_store_explicit(&c->in_host, false, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&c->timeout_pending, memory_order_relaxed)) rt_host_timed_out(c);
}

/* Work whose size the guest chooses (a bulk memory operation, a WASI
 * call's buffers, iovecs or subscriptions) is done in pieces of at most
 * RT_CHUNK_BYTES bytes (or RT_CHUNK_ITEMS entries), and a pending timeout
 * is looked at between them: a request passes its limit by one piece at
 * most, not by the whole of what it asked for (docs/runtime.md, "Time
 * limits"). A piece is a granularity, not a speed: 256 KiB is tens of
 * microseconds of memset or memcpy, and a look at the flag beside it costs
 * nothing measurable. */
#define RT_CHUNK_BYTES ((size_t)256 << 10)
#define RT_CHUNK_ITEMS 4096u

/* The deadline passed while this request ran outside the generated code
 * (the watchdog's signal found it in a host call or in libc). A host call
 * that sees it returns early: its RT_HOST_CALL marker takes the trap. */
static inline bool rt_timeout_pending(rt_ctx_t *c) {
  return atomic_load_explicit(&c->timeout_pending, memory_order_relaxed);
}

#define RT_HOST_CALL()                                                                       \
  rt_host_call_t rt_host_call_ __attribute__((cleanup(rt_host_leave))) =                     \
      rt_host_enter(&rt_host_call_)

#endif /* WRT_RT_HOST_H */
