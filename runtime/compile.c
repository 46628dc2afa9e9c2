/* From a checked module to a shared object, in a directory the cache made
 * for it (cache.c): the module's rewritten copy (wasm_rewrite.h, so no name
 * of the module reaches the C) is written out, wasm2c translates it, the
 * output is transformed and the glue appended (transform.c, glue.c), and
 * the C compiler builds guest.so. Also the toolchain's versions, which are
 * part of the cache key.
 *
 * Tools run bounded (tool.c: a time limit for the whole compile, limits on
 * each process's memory, CPU time and file size), with stdin from
 * /dev/null and their output in a log in the same directory; a failure's
 * message names the limit it ran into, or ends with the log's last
 * bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_internal.h"
#include "rt_codegen.h"
#include "wasm_rewrite.h"

/* -fno-optimize-sibling-calls: every wasm call stays a C call that pushes
 * a frame, so unbounded recursion runs into the stack's guard and traps
 * (exhaustion) instead of becoming a jump to itself that never ends (a
 * function that only calls itself is `jmp .` at -O2, and wasm2c counts no
 * call depth when it has a signal handler). -fstack-clash-protection: a
 * frame larger than a page touches each of its pages in order, so it
 * faults on the guard rather than stepping over it into another mapping.
 * -O3: with the memory's base in a local (transform_base.c), 0.95x the
 * CPU per request of -O2 on the example guests (geometric mean; template
 * 0.86x); docs/performance.md has the levers measured and left out
 * (-fstrict-aliasing, -march=native, -fno-plt, visibility). The flags are
 * part of the cache key (rt_toolchain_tag), so objects built with others
 * are rebuilt. */
#define CC_FLAGS                                                                       \
  "-O3", "-fPIC", "-shared", "-w", "-fno-strict-aliasing", "-fno-optimize-sibling-calls", \
      "-fstack-clash-protection"
#define CC_FLAGS_STR                                                                   \
  "-O3 -fPIC -shared -w -fno-strict-aliasing -fno-optimize-sibling-calls "             \
  "-fstack-clash-protection"

static const char *cc_of(wrt_runtime_t *rt) {
  const char *e;
  if (rt->cc) return rt->cc;
  if ((e = getenv("CC")) && *e) return e;
  return "cc";
}

/* The resource limits of one tool run that must end by `deadline`. */
static rt_tool_limits_t limits(const wrt_runtime_t *rt, uint64_t deadline) {
  return (rt_tool_limits_t){.memory_bytes = rt->compile_memory_bytes,
                            .cpu_seconds = rt->compile_cpu_seconds,
                            .file_bytes = rt->compile_file_bytes,
                            .deadline_ns = deadline};
}

/* When a compile that starts now must end (0: no limit). */
static uint64_t deadline_of(const wrt_runtime_t *rt) {
  if (rt->compile_timeout_ms == WRT_NO_LIMIT) return 0;
  return rt_now_ns() + rt->compile_timeout_ms * 1000000u;
}

/* Whether a tool's output says it ran out of memory (gcc's cc1, as, ld,
 * wasm2c's std::bad_alloc). */
static bool out_of_memory(const char *log) {
  return strstr(log, "out of memory") || strstr(log, "memory exhausted") ||
         strstr(log, "bad_alloc") || strstr(log, "Cannot allocate memory");
}

/* The error for a tool that did not exit 0: a limit it ran into
 * (WRT_ELIMIT, naming the option and its value), its refusal (`code` for
 * exit status 1: wasm2c's refusal is the module's fault), or
 * WRT_ETOOLCHAIN; with the end of its output. */
static int tool_failed(const wrt_runtime_t *rt, const char *tool, int st, bool timed_out,
                       const char *tail, int code) {
  if (timed_out)
    return rt_error(WRT_ELIMIT, "%s ran past the compile's time limit of %llu ms "
                    "(compile_timeout_ms) and was killed: %s", tool,
                    (unsigned long long)rt->compile_timeout_ms, tail);
  int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  if (sig == SIGXCPU)
    return rt_error(WRT_ELIMIT, "%s used up its CPU time limit of %llu s (compile_cpu_seconds): "
                    "%s", tool, (unsigned long long)rt->compile_cpu_seconds, tail);
  if (sig == SIGXFSZ)
    return rt_error(WRT_ELIMIT, "%s wrote a file past the size limit of %llu bytes "
                    "(compile_file_bytes): %s", tool, (unsigned long long)rt->compile_file_bytes,
                    tail);
  if (rt->compile_memory_bytes != WRT_NO_LIMIT && out_of_memory(tail))
    return rt_error(WRT_ELIMIT, "%s ran out of memory under its address-space limit of %llu "
                    "bytes (compile_memory_bytes): %s", tool,
                    (unsigned long long)rt->compile_memory_bytes, tail);
  if (sig)
    return rt_error(WRT_ETOOLCHAIN, "%s killed by signal %d (%s): %s", tool, sig, strsignal(sig),
                    tail);
  return rt_error(WEXITSTATUS(st) == 1 ? code : WRT_ETOOLCHAIN, "%s exited with status %d: %s",
                  tool, WEXITSTATUS(st), tail);
}

/* Run argv in directory `dfd`, its output appended to the file "log"
 * there, by `deadline`. Return 0 when it exited 0; else as tool_failed,
 * with the log's last bytes. */
static int run(const wrt_runtime_t *rt, char *const argv[], int dfd, int code,
               uint64_t deadline) {
  int fd = openat(dfd, "log", O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return rt_error(WRT_ESYS, "cannot create the tools' log: %s", strerror(errno));
  int st;
  bool timed_out;
  rt_tool_limits_t lim = limits(rt, deadline);
  int err = rt_tool_run(argv, dfd, fd, &lim, &st, &timed_out);
  if (err) {
    close(fd);
    return err;
  }
  if (!timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    close(fd);
    return 0;
  }
  char tail[1024] = "";
  off_t size = lseek(fd, 0, SEEK_END);
  if (size > 0) {
    off_t from = size > (off_t)sizeof(tail) - 1 ? size - (off_t)sizeof(tail) + 1 : 0;
    ssize_t n = pread(fd, tail, sizeof(tail) - 1, from);
    tail[n > 0 ? n : 0] = 0;
  }
  close(fd);
  return tool_failed(rt, argv[0], st, timed_out, tail, code);
}

/* The first line a command prints, through a pipe (nothing is written to
 * any directory, so a read-only cache works); "?" if it cannot run, fails
 * or runs past the compile's time limit. */
static void first_line(const wrt_runtime_t *rt, char *const argv[], char *out, size_t n) {
  snprintf(out, n, "?");
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return;
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  int st;
  bool timed_out;
  rt_tool_limits_t lim = limits(rt, deadline_of(rt));
  int err = rt_tool_run(argv, -1, p[1], &lim, &st, &timed_out);
  close(p[1]);
  char buf[512];
  ssize_t got = err ? -1 : read(p[0], buf, sizeof(buf) - 1); /* a version line fits the pipe */
  close(p[0]);
  if (got <= 0 || timed_out || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return;
  buf[got] = 0;
  size_t k = strcspn(buf, "\n");
  if (k >= n) k = n - 1;
  memcpy(out, buf, k);
  out[k] = 0;
}

int rt_toolchain_tag(wrt_runtime_t *rt, const char **tag) {
  pthread_mutex_lock(&rt->lock);
  if (!rt->tool_tag) {
    char w2c[256], ccv[256], all[1024];
    char *a1[] = {"wasm2c", "--version", NULL};
    char *a2[] = {(char *)cc_of(rt), "--version", NULL};
    first_line(rt, a1, w2c, sizeof(w2c));
    first_line(rt, a2, ccv, sizeof(ccv));
    snprintf(all, sizeof(all), "%s|%s|%s|wasm2c %s|%s: %s|%s", RT_TRANSFORM_VERSION,
             RT_GLUE_VERSION, RT_BULK_VERSION, w2c, cc_of(rt), ccv, CC_FLAGS_STR);
    rt->tool_tag = strdup(all);
  }
  *tag = rt->tool_tag;
  pthread_mutex_unlock(&rt->lock);
  return *tag ? 0 : rt_error(WRT_ENOMEM, "out of memory");
}

bool rt_write_all(int fd, const void *bytes, size_t len) {
  const uint8_t *p = bytes;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    len -= (size_t)w;
  }
  return true;
}

/* Read at most `max` bytes of the regular file `name` in directory `dfd`
 * (not a link): 0 and the bytes (NUL-terminated), or -1. */
int rt_read_at(int dfd, const char *name, uint64_t max, uint8_t **out, size_t *len) {
  int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
    close(fd);
    return -1;
  }
  size_t n = (size_t)st.st_size, got = 0;
  uint8_t *b = malloc(n + 1);
  while (b && got < n) {
    ssize_t r = read(fd, b + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (!b || got != n) {
    free(b);
    return -1;
  }
  b[n] = 0;
  *out = b;
  *len = n;
  return 0;
}

/* Create `name` in directory `dfd` (the compile's own) with `len` bytes. */
static int write_file(int dfd, const char *name, const void *bytes, size_t len) {
  int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return rt_error(WRT_ESYS, "cannot create %s: %s", name, strerror(errno));
  int err = rt_write_all(fd, bytes, len) ? 0 : rt_error(WRT_ESYS, "write %s: %s", name, strerror(errno));
  if (close(fd) != 0 && !err) err = rt_error(WRT_ESYS, "close %s: %s", name, strerror(errno));
  return err;
}

/* The tools see only these names, relative to the compile's directory
 * (their working directory): nothing of where it lies reaches the object,
 * so every compile of a module gives the same bytes. */
int rt_compile(wrt_runtime_t *rt, const char *wasm_path, const wasm_module_t *w, int dfd) {
  /* Translate the rewritten copy of the bytes that were read and checked
   * (not the file again). */
  uint8_t *copy;
  size_t copy_len;
  int err = 0;
  uint64_t deadline = deadline_of(rt);
  if (!wasm_rewrite(w, &copy, &copy_len)) return rt_error(WRT_ENOMEM, "out of memory");
  err = write_file(dfd, "m.wasm", copy, copy_len);
  free(copy);
  if (!err) {
    char *argv[] = {"wasm2c", "--module-name=guest", "-o", "guest.c", "m.wasm", NULL};
    err = run(rt, argv, dfd, WRT_EFORMAT, deadline);
    if (err) rt_error(err, "%s: wasm2c %s: %s", wasm_path,
                      err == WRT_EFORMAT ? "refused the module" : "failed", wrt_last_error());
  }
  if (!err) err = rt_transform(wasm_path, w, dfd, "guest.c", "guest_t.c");
  if (!err) {
    char *argv[] = {(char *)cc_of(rt), CC_FLAGS, "-o", RT_COMPILED_OBJECT, "guest_t.c", NULL};
    err = run(rt, argv, dfd, WRT_ETOOLCHAIN, deadline);
    if (err) rt_error(err, "%s: compiling the generated C failed: %s", wasm_path, wrt_last_error());
  }
  return err;
}
