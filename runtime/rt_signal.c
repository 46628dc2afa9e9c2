/* Signals: the SIGSEGV/SIGBUS handler that turns a guest's faults into
 * traps, the handler of the watchdog's timeout signal, and each thread's
 * alternate signal stack.
 *
 * A fault is a trap of the request running on this thread (rt_cur) only
 * while no host function the generated code called is running (in_host,
 * RT_HOST_CALL), and then only:
 *  - in the guard below the guest's stack (rt_stack.c): the exhaustion
 *    trap. With no host call in progress the code running is the
 *    generated code, a libc routine it calls directly (memcpy, libm), or
 *    the prologue of a host function before its RT_HOST_CALL: none holds
 *    a lock or has changed anything yet, so jumping out is safe;
 *  - in the current instance's own memory reservation or guard (the
 *    backend says, fault_is_oob) with the program counter in the module's
 *    generated code or in libc (the memcpy/memmove/memset it calls): the
 *    oob trap.
 * Any other fault is a bug of the host, never a trap: the handler says on
 * stderr where (the address, the program counter and whose code it is),
 * during what (a host call, the guest, no request) and in which module,
 * restores the handler that was there before it and returns; the faulting
 * instruction kills the process as it would have without the runtime. It
 * never jumps out of host code, which may hold a lock (a jump out of the
 * allocator would leave its mutex held and the thread's next allocation
 * blocked for ever). */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#include "rt_internal.h"

_Thread_local rt_ctx_t *rt_cur;

#define ALTSTACK_BYTES (64u << 10)

static pthread_once_t signals_once = PTHREAD_ONCE_INIT;
static int signals_err;
static pthread_key_t altstack_key;
static struct sigaction old_segv, old_bus, old_timeout;
static uintptr_t libc_lo, libc_hi; /* libc's executable bytes */

static _Thread_local bool t_ready;
static _Thread_local uintptr_t t_stack_lo;

uintptr_t rt_context_pc(const void *uctx) {
#if defined(__x86_64__)
  return (uintptr_t)((const ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uintptr_t)((const ucontext_t *)uctx)->uc_mcontext.pc;
#else
  (void)uctx;
  return 0;
#endif
}

typedef struct code_search {
  uintptr_t addr, lo, hi;
} code_search_t;

/* The executable segments of the object holding s->addr. */
static int find_code(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  code_search_t *s = arg;
  bool mine = false;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t a = info->dlpi_addr + ph->p_vaddr, b = a + ph->p_memsz;
    if (s->addr >= a && s->addr < b) mine = true;
    if (ph->p_flags & PF_X) {
      if (a < lo) lo = a;
      if (b > hi) hi = b;
    }
  }
  if (!mine || hi == 0) return 0;
  s->lo = lo;
  s->hi = hi;
  return 1;
}

static void code_of(const void *addr, uintptr_t *lo, uintptr_t *hi) {
  code_search_t s = {.addr = (uintptr_t)addr};
  dl_iterate_phdr(find_code, &s);
  *lo = s.lo;
  *hi = s.hi;
}

void rt_code_range(wrt_module_t *m) {
  code_of((const void *)m->fns.instantiate, &m->code_lo, &m->code_hi); /* libraries: no _start */
}

static bool in_guest_code(const rt_ctx_t *c, uintptr_t pc) {
  if (pc == 0) return true; /* no program counter on this architecture: trust in_host */
  return (pc >= c->m->code_lo && pc < c->m->code_hi) || (pc >= libc_lo && pc < libc_hi);
}

static void say(const char *s) {
  ssize_t r = write(2, s, strlen(s));
  (void)r;
}

static void say_hex(uintptr_t v) {
  char b[19] = "0x";
  for (int i = 0; i < 16; i++) b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
  b[18] = 0;
  say(b);
}

static void on_fault(int sig, siginfo_t *si, void *uctx) {
  rt_ctx_t *c = rt_cur;
  uintptr_t a = (uintptr_t)si->si_addr, pc = rt_context_pc(uctx);
  bool host = false;
  if (c && c->in_guest) {
    host = atomic_load_explicit(&c->in_host, memory_order_relaxed);
    if (!host && a >= c->guard_lo && a < c->stack_lo) siglongjmp(c->jb, WASM_RT_TRAP_EXHAUSTION);
    if (!host && in_guest_code(c, pc) && c->m->rt->ops->fault_is_oob(c, si->si_addr))
      siglongjmp(c->jb, WASM_RT_TRAP_OOB);
  }
  say("wpool runtime: fatal: ");
  say(sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
  say(" at ");
  say_hex(a);
  say(", pc ");
  say_hex(pc);
  if (c && c->in_guest) {
    bool own = pc >= c->m->code_lo && pc < c->m->code_hi;
    say(own ? " (the module's code)" : " (host code)");
    say(host ? " during a host call of " : " while running ");
    say(c->m->path);
    if (!host && a >= c->guard_lo && a < c->stack_top) say(": the guest's stack");
    say(": a host bug\n");
  } else {
    say(" outside any guest: a host bug\n");
  }
  /* Back to the handler that was there before us (normally the default),
   * and let the instruction fault again. */
  sigaction(sig, sig == SIGBUS ? &old_bus : &old_segv, NULL);
}

/* The watchdog's signal: the request on this thread is past its deadline
 * (the watchdog sends it again every millisecond until the request ends).
 * In the generated code with no host call running, the request ends here
 * with the timeout trap; anywhere else (a host call, libc, the runtime's
 * own code) the trap is left pending, taken when the host call returns
 * (RT_HOST_CALL), between two pieces of a bulk memory operation
 * (rt_bulk.c) or by the next signal. Under ThreadSanitizer, which runs
 * asynchronous signals' handlers late, inside its own interceptors, it is
 * always left pending. A SIGURG that is not the watchdog's (the kernel's,
 * for a socket's urgent data) goes to the handler there was before. */
static void on_timeout(int sig, siginfo_t *si, void *uctx) {
  if (si->si_code != SI_TKILL || si->si_pid != getpid()) {
    if (old_timeout.sa_flags & SA_SIGINFO) {
      if (old_timeout.sa_sigaction) old_timeout.sa_sigaction(sig, si, uctx);
    } else if (old_timeout.sa_handler != SIG_DFL && old_timeout.sa_handler != SIG_IGN) {
      old_timeout.sa_handler(sig);
    }
    return;
  }
  int saved = errno;
  rt_ctx_t *c = rt_cur;
  if (c && c->in_guest && c->deadline_ns && rt_now_ns() >= c->deadline_ns) {
#if !RT_TSAN
    uintptr_t pc = rt_context_pc(uctx);
    if (!atomic_load_explicit(&c->in_host, memory_order_relaxed) && pc >= c->m->code_lo &&
        pc < c->m->code_hi)
      siglongjmp(c->jb, RT_JUMP_TIMEOUT);
#endif
    atomic_store_explicit(&c->timeout_pending, true, memory_order_relaxed);
  }
  errno = saved;
}

static void altstack_free(void *p) {
  stack_t ss = {.ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  munmap(p, ALTSTACK_BYTES);
}

static void install_signals(void) {
  if (pthread_key_create(&altstack_key, altstack_free) != 0) {
    signals_err = rt_error(WRT_ESYS, "pthread_key_create failed");
    return;
  }
#ifdef __GLIBC__
  code_of((const void *)gnu_get_libc_version, &libc_lo, &libc_hi);
#endif
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  /* SA_NODEFER: the handler leaves by siglongjmp, and the jump buffer does
   * not save the signal mask (that would cost a system call per request),
   * so the signal must not stay blocked. */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &old_segv) != 0 || sigaction(SIGBUS, &sa, &old_bus) != 0) {
    signals_err = rt_error(WRT_ESYS, "sigaction: %s", strerror(errno));
    return;
  }
  /* SA_RESTART: a late signal interrupts no system call of the thread's
   * (an event loop's epoll_wait, say). */
  sa.sa_sigaction = on_timeout;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
  if (sigaction(RT_TIMEOUT_SIGNAL, &sa, &old_timeout) != 0)
    signals_err = rt_error(WRT_ESYS, "sigaction: %s", strerror(errno));
}

int rt_signals_install(void) {
  pthread_once(&signals_once, install_signals);
  return signals_err ? rt_error(signals_err, "signal handler not installed") : 0;
}

/* Per thread, once: an alternate signal stack (a stack overflow's fault
 * cannot be handled on the exhausted stack) and the stack's bounds. */
int rt_thread_init(void) {
  if (t_ready) return 0;
  pthread_attr_t attr;
  void *lo;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &attr) != 0)
    return rt_error(WRT_ESYS, "pthread_getattr_np failed");
  int err = pthread_attr_getstack(&attr, &lo, &size);
  pthread_attr_destroy(&attr);
  if (err) return rt_error(WRT_ESYS, "pthread_attr_getstack failed");
  void *alt = mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                   0);
  if (alt == MAP_FAILED) return rt_error(WRT_ENOMEM, "signal stack: mmap: %s", strerror(errno));
  stack_t ss = {.ss_sp = alt, .ss_size = ALTSTACK_BYTES};
  if (sigaltstack(&ss, NULL) != 0) {
    int e = errno;
    munmap(alt, ALTSTACK_BYTES);
    return rt_error(WRT_ESYS, "sigaltstack: %s", strerror(e));
  }
  if (pthread_setspecific(altstack_key, alt) != 0) {
    altstack_free(alt);
    return rt_error(WRT_ENOMEM, "pthread_setspecific failed");
  }
  t_stack_lo = (uintptr_t)lo;
  t_ready = true;
  return 0;
}

uintptr_t rt_thread_stack_lo(void) { return t_stack_lo; }
