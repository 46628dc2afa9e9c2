/* Signals and thread stacks: the SIGSEGV/SIGBUS handler that turns a
 * guest's faults into traps, and each thread's alternate signal stack.
 *
 * A fault is a trap of the request running on this thread (rt_cur) when
 * it lies in the current instance's own memory reservation or guard (an
 * unchecked out-of-bounds access: the backend says, fault_is_oob) or just
 * below the thread's stack (the call stack ran out). Any other fault, or a
 * fault on a thread not running a guest, is a bug of the host: the handler
 * says so on stderr, restores the handler that was there before it and
 * returns, and the faulting instruction kills the process as it would have
 * without the runtime. It never becomes a trap. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt_internal.h"

_Thread_local rt_ctx_t *rt_cur;

#define ALTSTACK_BYTES (64u << 10)
/* A fault this far below the thread's stack, or this far into its lowest
 * bytes, is the call stack running out. */
#define STACK_SLACK_BELOW (1u << 20)
#define STACK_SLACK_ABOVE (64u << 10)

static pthread_once_t signals_once = PTHREAD_ONCE_INIT;
static int signals_err;
static pthread_key_t altstack_key;
static struct sigaction old_segv, old_bus;

static _Thread_local bool t_ready;
static _Thread_local uintptr_t t_stack_lo;

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
  (void)uctx;
  rt_ctx_t *c = rt_cur;
  const uint8_t *a = si->si_addr;
  if (c && c->in_guest) {
    if (c->m->rt->ops->fault_is_oob(c, a)) siglongjmp(c->jb, WASM_RT_TRAP_OOB);
    uintptr_t u = (uintptr_t)a;
    if (u >= t_stack_lo - STACK_SLACK_BELOW && u < t_stack_lo + STACK_SLACK_ABOVE)
      siglongjmp(c->jb, WASM_RT_TRAP_EXHAUSTION);
  }
  say("wpool runtime: fatal: ");
  say(sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
  say(" at ");
  say_hex((uintptr_t)a);
  say(c && c->in_guest ? " outside the running instance's memory, guard and stack: a host bug\n"
                       : " outside any guest: a host bug\n");
  /* Back to the handler that was there before us (normally the default),
   * and let the instruction fault again. */
  sigaction(sig, sig == SIGBUS ? &old_bus : &old_segv, NULL);
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
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  /* SA_NODEFER: the handler leaves by siglongjmp, and the jump buffer does
   * not save the signal mask (that would cost a system call per request),
   * so the signal must not stay blocked. */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &old_segv) != 0 || sigaction(SIGBUS, &sa, &old_bus) != 0)
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
