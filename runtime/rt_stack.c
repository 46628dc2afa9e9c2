/* Guest stacks: every request's guest runs on a stack of its own, with a
 * guard below it that no other thread uses for anything else.
 *
 * Why not the thread's own stack: threads' stacks lie next to each other,
 * each below a single guard page, and a guest chooses its frames' sizes.
 * On its own stack a guest that runs out faults in its own guard (the
 * generated code is compiled with -fstack-clash-protection, compile.c, so
 * no frame steps over a page it has not touched), and what lies below the
 * guard is another request's stack only in the pool, never a thread's
 * control block or a lock's waiters.
 *
 * Where the stacks come from: the pool backend takes one from the pool per
 * request (wpool_stack_new: the lowest free one, so the same few stay
 * resident; async_stack_size usable bytes over a guard page; stack_count
 * bounds the requests that run at once, as instance_count does; the
 * pool's async_stack_zeroing applies). Not zeroed by default: the
 * native stack is never visible to a guest (WebAssembly code reads only its
 * linear memory, and the generated code initialises every local before
 * use), and the host functions write to a guest only bytes they computed,
 * so a stack reused by another tenant shows it nothing (docs/runtime.md).
 * The stock backend, which stands for Debian's runtime, keeps one per
 * thread (mmap'd at its first request, unmapped at its exit).
 *
 * The switch (x86-64): rt_stack_call saves the frame pointer, moves the
 * stack pointer to the top of the guest's stack and calls fn(arg); it
 * returns there when fn returns. The request's sigsetjmp is taken on the
 * guest's stack (in fn), so every jump to it (a trap the generated code
 * raises, proc_exit, a fault or a timeout from the alternate signal stack)
 * moves up the same stack or leaves the signal stack, which
 * _FORTIFY_SOURCE's longjmp check and ThreadSanitizer's longjmp accept;
 * the way back to the thread's stack is always the trampoline's return.
 * Elsewhere the guest runs on the thread's own stack (docs/runtime.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt_internal.h"

#if RT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__x86_64__)
#define RT_STACK_SWITCH 1
/* void rt_stack_call(void *arg, void (*fn)(void *), uintptr_t top):
 * fn(arg) with the stack pointer at `top` (16-byte aligned). The CFI says
 * the caller's frame is found through rbp, so debuggers and unwinders walk
 * from the guest's stack back to the thread's. */
void rt_stack_call(void *arg, void (*fn)(void *), uintptr_t top);
__asm__(".text\n"
        ".globl rt_stack_call\n"
        ".hidden rt_stack_call\n"
        ".type rt_stack_call,@function\n"
        "rt_stack_call:\n"
        ".cfi_startproc\n"
        "  push %rbp\n"
        "  .cfi_def_cfa_offset 16\n"
        "  .cfi_offset %rbp, -16\n"
        "  mov %rsp, %rbp\n"
        "  .cfi_def_cfa_register %rbp\n"
        "  mov %rdx, %rsp\n"
        "  call *%rsi\n"
        "  mov %rbp, %rsp\n"
        "  pop %rbp\n"
        "  .cfi_def_cfa %rsp, 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size rt_stack_call, .-rt_stack_call\n");
#else
#define RT_STACK_SWITCH 0
#endif

const bool rt_stack_switches = RT_STACK_SWITCH;

/* The stock backend's stack of this thread. */
typedef struct thread_stack {
  uint8_t *map; /* the guard page, then `usable` bytes */
  size_t usable;
} thread_stack_t;

static _Thread_local thread_stack_t t_stack;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t stack_key;

static void thread_stack_free(void *p) {
  thread_stack_t *s = p;
  if (s->map) munmap(s->map, s->usable + (size_t)sysconf(_SC_PAGESIZE));
  s->map = NULL;
}

static void make_key(void) {
  if (pthread_key_create(&stack_key, thread_stack_free) != 0) abort();
}

int rt_stack_of_thread(rt_ctx_t *c) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t want = c->m->rt->cfg.async_stack_size ? c->m->rt->cfg.async_stack_size : (2u << 20);
  want = (want + page - 1) / page * page;
  thread_stack_t *s = &t_stack;
  if (s->map && s->usable != want) thread_stack_free(s);
  if (!s->map) {
    pthread_once(&key_once, make_key);
    void *p = mmap(NULL, want + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
      return rt_error(WRT_ENOMEM, "%s: the guest's stack: mmap of %zu bytes: %s", c->m->path,
                      want + page, strerror(errno));
    if (mprotect(p, page, PROT_NONE) != 0 || pthread_setspecific(stack_key, s) != 0) {
      int e = errno;
      munmap(p, want + page);
      return rt_error(WRT_ENOMEM, "%s: the guest's stack's guard: %s", c->m->path, strerror(e));
    }
    s->map = p;
    s->usable = want;
  }
  c->guard_lo = (uintptr_t)s->map;
  c->stack_lo = c->guard_lo + page;
  c->stack_top = c->stack_lo + s->usable;
  c->stack_guarded = true;
  return 0;
}

/* The thread's own stack: its guard's size is unknown (the main thread's
 * grows into a gap), so a fault within 1 MiB below it is taken as
 * exhaustion, and the lowest 64 KiB are kept as a margin. */
static void thread_bounds(rt_ctx_t *c) {
  c->stack_lo = rt_thread_stack_lo() + (64u << 10);
  c->guard_lo = rt_thread_stack_lo() - (1u << 20);
  c->stack_top = (uintptr_t)__builtin_frame_address(0);
  c->stack_guarded = false;
}

void rt_stack_here(rt_ctx_t *c, const rt_ctx_t *outer) {
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  if (outer && sp >= outer->stack_lo && sp < outer->stack_top) {
    c->stack_lo = outer->stack_lo;
    c->guard_lo = outer->guard_lo;
    c->stack_top = outer->stack_top;
    c->stack_guarded = outer->stack_guarded;
  } else {
    thread_bounds(c);
  }
}

typedef struct stack_run {
  rt_ctx_t *c;
  void (*fn)(rt_ctx_t *c);
  const void *thread_bottom; /* AddressSanitizer: the thread's stack, to switch back to */
  size_t thread_size;
} stack_run_t;

/* On the guest's stack. */
static void on_guest_stack(void *arg) {
  stack_run_t *r = arg;
#if RT_ASAN
  __sanitizer_finish_switch_fiber(NULL, &r->thread_bottom, &r->thread_size);
#endif
  r->fn(r->c);
#if RT_ASAN
  __sanitizer_start_switch_fiber(NULL, r->thread_bottom, r->thread_size);
#endif
}

void rt_stack_run(rt_ctx_t *c, void (*fn)(rt_ctx_t *c)) {
#if RT_STACK_SWITCH
  stack_run_t r = {.c = c, .fn = fn};
#if RT_ASAN
  void *fake = NULL;
  __sanitizer_start_switch_fiber(&fake, (const void *)c->stack_lo, c->stack_top - c->stack_lo);
#endif
  rt_stack_call(&r, on_guest_stack, c->stack_top);
#if RT_ASAN
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
#else
  thread_bounds(c); /* no switch: the thread's own stack */
  fn(c);
#endif
}

void rt_stack_landed(rt_ctx_t *c) {
#if RT_ASAN && RT_STACK_SWITCH
  if (!c->stack_guarded) return; /* the thread's stack: ASan's own longjmp handling */
  /* A jump from a signal handler leaves the sanitizer's shadow of the
   * frames it skipped as they were (redzones of host functions' frames
   * still poisoned): clear it below this frame. */
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (here > c->stack_lo + 256)
    __asan_unpoison_memory_region((void *)c->stack_lo, here - 256 - c->stack_lo);
#else
  (void)c;
#endif
}
