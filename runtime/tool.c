/* Running the toolchain (wasm2c, the C compiler and its children) on
 * input a tenant chose: bounded in time, memory and disk, isolated from
 * the host process's descriptors and signals.
 *
 * Each tool runs in a process group of its own, forked and set up before
 * exec (posix_spawn cannot set resource limits):
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt_internal.h"

extern char **environ;

uint64_t rt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

static void set_limit(int resource, uint64_t v) {
  if (v == WRT_NO_LIMIT) return;
  struct rlimit r;
  if (getrlimit(resource, &r) != 0) return;
  rlim_t want = (rlim_t)v;
  if (r.rlim_max != RLIM_INFINITY && want > r.rlim_max) want = r.rlim_max;
  r.rlim_cur = want;
  /* CPU: the soft limit sends SIGXCPU (named in the message); the hard
   * one, 5 s later, SIGKILL. */
  rlim_t hard = resource == RLIMIT_CPU ? want + 5 : want;
  if (r.rlim_max == RLIM_INFINITY || hard < r.rlim_max) r.rlim_max = hard;
  setrlimit(resource, &r);
}

/* The child, between fork and exec: async-signal-safe calls only. */
static _Noreturn void child(const char *path, char *const argv[], char **env, int cwd_fd,
                            int in_fd, int out_fd, int err_pipe, pid_t parent,
                            const rt_tool_limits_t *lim) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  set_limit(RLIMIT_AS, lim->memory_bytes);
  set_limit(RLIMIT_CPU, lim->cpu_seconds);
  set_limit(RLIMIT_FSIZE, lim->file_bytes);
  set_limit(RLIMIT_CORE, 0);
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  sigaction(SIGPIPE, &dfl, NULL);
  sigaction(SIGXCPU, &dfl, NULL);
  sigaction(SIGXFSZ, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int e = 0;
  if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) e = errno;
  if (!e && cwd_fd >= 0 && fchdir(cwd_fd) != 0) e = errno;
  if (!e) {
#ifdef CLOSE_RANGE_CLOEXEC
    syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
#else
    syscall(SYS_close_range, 3u, ~0u, 4u); /* CLOSE_RANGE_CLOEXEC */
#endif
    execve(path, argv, env);
    e = errno;
  }
  while (write(err_pipe, &e, sizeof(e)) < 0 && errno == EINTR) {
  }
  _exit(127);
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
  char **env = tool_env(cwd_fd >= 0);
  int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC), p[2] = {-1, -1};
  if (!env || in_fd < 0 || pipe2(p, O_CLOEXEC) != 0) {
    int e = env ? errno : ENOMEM;
    free(env);
    if (in_fd >= 0) close(in_fd);
    return rt_error(WRT_ESYS, "cannot run %s: %s", argv[0], strerror(e));
  }
  pid_t parent = getpid(), pid = fork();
  if (pid == 0) child(path, argv, env, cwd_fd, in_fd, out_fd, p[1], parent, lim);
  int fork_errno = errno;
  free(env);
  close(in_fd);
  close(p[1]);
  if (pid < 0) {
    close(p[0]);
    return rt_error(WRT_ESYS, "cannot run %s: fork: %s", argv[0], strerror(fork_errno));
  }
  setpgid(pid, pid); /* as the child does: whichever runs first */
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
