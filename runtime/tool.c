/* Running the toolchain (wasm2c, the C compiler and its children) on
 * input a tenant chose: bounded in time, memory and disk, isolated from
 * the host process's descriptors and signals.
 *
 * Each tool runs in a process group of its own, started as posix_spawn
 * starts a process (clone with CLONE_VM | CLONE_VFORK: nothing of the
 * host's memory copied or charged) and set up before exec, which
 * posix_spawn cannot do for resource limits:
 *   - RLIMIT_AS, RLIMIT_CPU and RLIMIT_FSIZE as the runtime's options say
 *     (each process of the group has its own; they are inherited by the
 *     compiler's cc1, as and ld), RLIMIT_CORE 0 (a crash leaves no core
 *     file in the cache);
 *   - every descriptor but 0-2 closed at exec, stdin /dev/null, stdout and
 *     stderr to the caller's descriptor; the signal mask empty and
 *     SIGPIPE, SIGXCPU, SIGXFSZ at their defaults (an embedder's blocked
 *     or ignored signals would survive exec and defeat the limits);
 *   - its working directory the caller's (the compile's temporary
 *     directory: tools see relative names only, so the object does not
 *     depend on where it was built), TMPDIR "." (the compiler's own
 *     temporaries go there, bounded and removed with it), LC_ALL=C;
 *   - killed with the parent thread (PR_SET_PDEATHSIG).
 * The parent waits on a pidfd until the deadline, then kills the whole
 * group; it kills the group once the tool exits too (nothing it started
 * outlives it). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt_internal.h"

extern char **environ;

/* `name` as a path the child can exec after changing directory: searched
 * in PATH unless it holds a '/', made absolute. 0, or an errno. */
static int resolve(const char *name, char *out, size_t cap) {
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof(cwd))) snprintf(cwd, sizeof(cwd), ".");
  if (strchr(name, '/')) {
    if ((size_t)snprintf(out, cap, "%s%s%s", name[0] == '/' ? "" : cwd,
                         name[0] == '/' ? "" : "/", name) >= cap)
      return ENAMETOOLONG;
    return access(out, X_OK) == 0 ? 0 : errno;
  }
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  int err = ENOENT;
  for (const char *p = path;; ) {
    size_t n = strcspn(p, ":");
    const char *dir = n ? p : ".";
    int dn = n ? (int)n : 1;
    struct stat st;
    int w = dir[0] == '/' ? snprintf(out, cap, "%.*s/%s", dn, dir, name)
                          : snprintf(out, cap, "%s/%.*s/%s", cwd, dn, dir, name);
    if (w > 0 && (size_t)w < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(out, X_OK) == 0) return 0;
      err = EACCES;
    }
    if (!p[n]) break;
    p += n + 1;
  }
  return err;
}

/* The environment the tools get: this process's, TMPDIR and LC_ALL
 * replaced. NULL when memory runs out. */
static char **tool_env(bool tmpdir_here) {
  size_t n = 0;
  while (environ && environ[n]) n++;
  char **env = malloc((n + 3) * sizeof(char *));
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "TMPDIR=", 7) && strncmp(environ[i], "LC_ALL=", 7))
      env[k++] = environ[i];
  env[k++] = "LC_ALL=C";
  if (tmpdir_here) env[k++] = "TMPDIR=.";
  env[k] = NULL;
  return env;
}

/* What the child needs, all computed before it starts: it shares this
 * process's memory (CLONE_VM) and makes raw system calls only. */
typedef struct spawn {
  const char *path;
  char *const *argv;
  char **env;
  int cwd_fd, in_fd, out_fd, err_pipe;
  pid_t parent;
  struct rlimit limits[4]; /* RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_CORE */
  bool set[4];
} spawn_t;

static const int limit_resources[4] = {RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_CORE};

/* The limit `v` (WRT_NO_LIMIT: leave it) as this process may set it: not
 * above the hard limit, unless privileged. CPU: the soft limit sends
 * SIGXCPU (named in the message); the hard one, 5 s later, SIGKILL. */
static bool limit_of(int resource, uint64_t v, struct rlimit *out) {
  if (v == WRT_NO_LIMIT || getrlimit(resource, out) != 0) return false;
  rlim_t want = (rlim_t)v;
  if (out->rlim_max != RLIM_INFINITY && want > out->rlim_max) want = out->rlim_max;
  out->rlim_cur = want;
  rlim_t hard = resource == RLIMIT_CPU ? want + 5 : want;
  if (out->rlim_max == RLIM_INFINITY || hard < out->rlim_max) out->rlim_max = hard;
  return true;
}

/* The kernel's struct sigaction, as far as the child reads and writes it
 * (the handler first; zeros elsewhere are SIG_DFL's flags and mask on
 * every layout). */
typedef struct ksigaction {
  void *handler;
  unsigned long rest[3];
} ksigaction_t;

#if defined(__clang__)
#define NO_SANITIZE __attribute__((no_sanitize("address", "thread", "undefined")))
#else
#define NO_SANITIZE __attribute__((no_sanitize_address, no_sanitize_thread, no_sanitize_undefined))
#endif

/* The child, between clone and exec: it runs on its own stack in this
 * process's memory while the parent thread waits (CLONE_VFORK), so it
 * makes raw system calls only (no libc state, no sanitizer's
 * interceptor), resets every handled signal to its default before it
 * unblocks signals (a handler of this process must never run in it), and
 * reports a failure through the pipe. */
NO_SANITIZE static int child(void *arg) {
  const spawn_t *s = arg;
  int e = 0;
  syscall(SYS_setpgid, 0, 0);
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (syscall(SYS_getppid) != s->parent) syscall(SYS_exit, 127);
  for (int i = 0; i < 4; i++)
    if (s->set[i]) syscall(SYS_prlimit64, 0, limit_resources[i], &s->limits[i], NULL);
  ksigaction_t dfl = {0}, old;
  for (int sig = 1; sig < 65; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (syscall(SYS_rt_sigaction, sig, NULL, &old, 8) != 0) continue;
    if ((old.handler != (void *)SIG_IGN && old.handler != (void *)SIG_DFL) || sig == SIGPIPE ||
        sig == SIGXCPU || sig == SIGXFSZ)
      syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
  }
  if (syscall(SYS_dup3, s->in_fd, 0, 0) < 0 || syscall(SYS_dup3, s->out_fd, 1, 0) < 0 ||
      syscall(SYS_dup3, s->out_fd, 2, 0) < 0 ||
      (s->cwd_fd >= 0 && syscall(SYS_fchdir, s->cwd_fd) != 0)) {
    e = errno;
  } else {
    syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
    syscall(SYS_execve, s->path, s->argv, s->env);
    e = errno;
  }
  syscall(SYS_write, s->err_pipe, &e, sizeof(e));
  syscall(SYS_exit, 127);
  return 127;
}

/* Start the child: clone(CLONE_VM | CLONE_VFORK), as posix_spawn does, so
 * that neither the host's address space is copied nor its memory charged
 * again (fork failed with ENOMEM in a large host); under
 * ThreadSanitizer, whose clone interceptor treats every clone as a fork,
 * a fork. All signals blocked meanwhile. */
static pid_t start(spawn_t *s, int *err) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t pid;
#if defined(__SANITIZE_THREAD__)
  pid = fork();
  if (pid == 0) child(s);
#else
  size_t size = 64u << 10;
  void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                     -1, 0);
  if (stack == MAP_FAILED) {
    pid = -1;
  } else {
    pid = clone(child, (uint8_t *)stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, s);
    int e = errno;
    munmap(stack, size); /* the child has exec'd or exited */
    errno = e;
  }
#endif
  *err = pid < 0 ? errno : 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return pid;
}

/* The process groups of the tools running now (0: a free entry), for
 * wrt_kill_compiles; a tool started when all are taken is killed only
 * with its thread (PR_SET_PDEATHSIG). An entry is cleared before its
 * leader is reaped, so the id it holds is never another process's. */
#define MAX_NOTED 64
static _Atomic pid_t running[MAX_NOTED];

static void note(pid_t pid) {
  for (int i = 0; i < MAX_NOTED; i++) {
    pid_t free_id = 0;
    if (atomic_compare_exchange_strong(&running[i], &free_id, pid)) return;
  }
}

static void forget(pid_t pid) {
  for (int i = 0; i < MAX_NOTED; i++) {
    pid_t p = pid;
    if (atomic_compare_exchange_strong(&running[i], &p, 0)) return;
  }
}

void wrt_kill_compiles(void) {
  for (int i = 0; i < MAX_NOTED; i++) {
    pid_t p = atomic_load(&running[i]);
    if (p > 0) kill(-p, SIGKILL);
  }
}

/* Wait for `pid` until `deadline` (CLOCK_MONOTONIC ns; 0: none); kill its
 * group at the deadline (*timed_out) and once it exits. */
static int wait_child(pid_t pid, uint64_t deadline, int *status, bool *timed_out) {
  *timed_out = false;
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  for (;;) {
    int timeout = -1;
    if (deadline) {
      uint64_t now = rt_now_ns();
      if (now >= deadline) {
        *timed_out = true;
        break;
      }
      uint64_t ms = (deadline - now + 999999) / 1000000;
      timeout = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    if (pfd >= 0) {
      struct pollfd p = {.fd = pfd, .events = POLLIN};
      int r = poll(&p, 1, timeout);
      if (r > 0) break;
      if (r < 0 && errno != EINTR) {
        close(pfd);
        pfd = -1;
      }
    } else { /* no pidfd (a kernel before 5.3): look every 10 ms */
      siginfo_t si = {0};
      if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
        break;
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  if (pfd >= 0) close(pfd);
  /* The leader is a zombie or running: its group id is not reused. */
  kill(-pid, SIGKILL);
  if (*timed_out) kill(pid, SIGKILL);
  forget(pid); /* still a zombie at least: its id is not reused yet */
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR) return rt_error(WRT_ESYS, "waitpid: %s", strerror(errno));
  return 0;
}

int rt_tool_run(char *const argv[], int cwd_fd, int out_fd, const rt_tool_limits_t *lim,
                int *status, bool *timed_out) {
  char path[PATH_MAX + 256];
  *timed_out = false;
  int err = resolve(argv[0], path, sizeof(path));
  if (err) return rt_error(WRT_ETOOLCHAIN, "cannot run %s: %s", argv[0], strerror(err));
  spawn_t s = {.path = path, .argv = argv, .env = tool_env(cwd_fd >= 0), .cwd_fd = cwd_fd,
               .in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC), .out_fd = out_fd,
               .parent = getpid()};
  const uint64_t want[4] = {lim->memory_bytes, lim->cpu_seconds, lim->file_bytes, 0};
  for (int i = 0; i < 4; i++) s.set[i] = limit_of(limit_resources[i], want[i], &s.limits[i]);
  int p[2] = {-1, -1};
  if (!s.env || s.in_fd < 0 || pipe2(p, O_CLOEXEC) != 0) {
    int e = s.env ? errno : ENOMEM;
    free(s.env);
    if (s.in_fd >= 0) close(s.in_fd);
    return rt_error(WRT_ESYS, "cannot run %s: %s", argv[0], strerror(e));
  }
  s.err_pipe = p[1];
  int start_errno;
  pid_t pid = start(&s, &start_errno);
  free(s.env);
  close(s.in_fd);
  close(p[1]);
  if (pid < 0) {
    close(p[0]);
    return rt_error(WRT_ESYS, "cannot run %s: %s", argv[0], strerror(start_errno));
  }
  setpgid(pid, pid); /* as the child does: whichever runs first */
  note(pid);
  int child_errno = 0;
  ssize_t r;
  while ((r = read(p[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR) {
  }
  close(p[0]);
  err = wait_child(pid, r > 0 ? 0 : lim->deadline_ns, status, timed_out);
  if (err) return err;
  if (r > 0)
    return rt_error(WRT_ETOOLCHAIN, "cannot run %s: %s", argv[0], strerror(child_errno));
  return 0;
}
