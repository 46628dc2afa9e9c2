/* From a checked module to a shared object, in a directory the cache made
 * for it (cache.c): the module's rewritten copy (wasm_rewrite.h, so no name
 * of the module reaches the C) is written out, wasm2c translates it, the
 * output is transformed and the glue appended (transform.c, glue.c), and
 * the C compiler builds guest.so. Also the toolchain's versions, which are
 * part of the cache key.
 *
 * Tools run with stdin from /dev/null and their output in a log in the
 * same directory; a failure's message ends with the log's last bytes. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_internal.h"
#include "wasm_rewrite.h"

extern char **environ;

/* -fno-optimize-sibling-calls: every wasm call stays a C call that pushes
 * a frame, so unbounded recursion runs into the stack's guard and traps
 * (exhaustion) instead of becoming a jump to itself that never ends (a
 * function that only calls itself is `jmp .` at -O2, and wasm2c counts no
 * call depth when it has a signal handler). -fstack-clash-protection: a
 * frame larger than a page touches each of its pages in order, so it
 * faults on the guard rather than stepping over it into another mapping. */
#define CC_FLAGS                                                                       \
  "-O2", "-fPIC", "-shared", "-w", "-fno-strict-aliasing", "-fno-optimize-sibling-calls", \
      "-fstack-clash-protection"
#define CC_FLAGS_STR                                                                   \
  "-O2 -fPIC -shared -w -fno-strict-aliasing -fno-optimize-sibling-calls "             \
  "-fstack-clash-protection"

static const char *cc_of(wrt_runtime_t *rt) {
  const char *e;
  if (rt->cc) return rt->cc;
  if ((e = getenv("CC")) && *e) return e;
  return "cc";
}

/* Start argv with stdin from /dev/null and stdout and stderr to `out_fd`
 * (a log file or a pipe). 0 and *pid, or WRT_ETOOLCHAIN. */
static int spawn(char *const argv[], int out_fd, pid_t *pid) {
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) return rt_error(WRT_ENOMEM, "posix_spawn: no memory");
  int err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!err) err = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (!err) err = posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
  if (!err) err = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  return err ? rt_error(WRT_ETOOLCHAIN, "cannot run %s: %s", argv[0], strerror(err)) : 0;
}

static int wait_for(pid_t pid, const char *name, int *status) {
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR) return rt_error(WRT_ESYS, "waitpid %s: %s", name, strerror(errno));
  return 0;
}

/* Run argv, its output appended to `log`. Return 0 when it exited 0;
 * else `code` (wasm2c's refusal is the module's fault) or WRT_ETOOLCHAIN,
 * with the command and the log's last bytes. */
static int run(char *const argv[], const char *log, int code) {
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return rt_error(WRT_ESYS, "cannot create %s: %s", log, strerror(errno));
  pid_t pid;
  int st, err = spawn(argv, fd, &pid);
  close(fd);
  if (!err) err = wait_for(pid, argv[0], &st);
  if (err) return err;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  char tail[1024] = "";
  FILE *f = fopen(log, "r");
  if (f) {
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > (long)sizeof(tail) - 1 ? sz - (long)sizeof(tail) + 1 : 0, SEEK_SET);
    size_t n = fread(tail, 1, sizeof(tail) - 1, f);
    tail[n] = 0;
    fclose(f);
  }
  if (WIFEXITED(st))
    return rt_error(WEXITSTATUS(st) == 1 ? code : WRT_ETOOLCHAIN, "%s exited with status %d: %s",
                    argv[0], WEXITSTATUS(st), tail);
  return rt_error(WRT_ETOOLCHAIN, "%s killed by signal %d: %s", argv[0],
                  WIFSIGNALED(st) ? WTERMSIG(st) : 0, tail);
}

/* The first line a command prints, through a pipe (nothing is written to
 * any directory, so a read-only cache works); "?" if it cannot run. */
static void first_line(char *const argv[], char *out, size_t n) {
  snprintf(out, n, "?");
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return;
  pid_t pid;
  int st, err = spawn(argv, p[1], &pid);
  close(p[1]);
  size_t got = 0;
  char buf[512], rest[512];
  ssize_t r;
  while (!err) { /* keep the first bytes, read the rest to the end */
    bool full = got == sizeof(buf) - 1;
    r = full ? read(p[0], rest, sizeof(rest)) : read(p[0], buf + got, sizeof(buf) - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (!full) got += (size_t)r;
  }
  close(p[0]);
  if (err || wait_for(pid, argv[0], &st) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return;
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
    first_line(a1, w2c, sizeof(w2c));
    first_line(a2, ccv, sizeof(ccv));
    snprintf(all, sizeof(all), "%s|%s|wasm2c %s|%s: %s|%s", RT_TRANSFORM_VERSION, RT_GLUE_VERSION,
             w2c, cc_of(rt), ccv, CC_FLAGS_STR);
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

static int write_file(const char *path, const void *bytes, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return rt_error(WRT_ESYS, "cannot create %s: %s", path, strerror(errno));
  int err = rt_write_all(fd, bytes, len) ? 0 : rt_error(WRT_ESYS, "write %s: %s", path, strerror(errno));
  if (close(fd) != 0 && !err) err = rt_error(WRT_ESYS, "close %s: %s", path, strerror(errno));
  return err;
}

int rt_compile(wrt_runtime_t *rt, const char *wasm_path, const wasm_module_t *w,
               const char *dir) {
  char p_wasm[4200], p_c[4200], p_t[4200], p_so[4200], p_log[4200];
  snprintf(p_wasm, sizeof(p_wasm), "%s/m.wasm", dir);
  snprintf(p_c, sizeof(p_c), "%s/guest.c", dir);
  snprintf(p_t, sizeof(p_t), "%s/guest_t.c", dir);
  snprintf(p_so, sizeof(p_so), "%s/" RT_COMPILED_OBJECT, dir);
  snprintf(p_log, sizeof(p_log), "%s/log", dir);
  /* Translate the rewritten copy of the bytes that were read and checked
   * (not the file again). */
  uint8_t *copy;
  size_t copy_len;
  int err = 0;
  if (!wasm_rewrite(w, &copy, &copy_len)) return rt_error(WRT_ENOMEM, "out of memory");
  err = write_file(p_wasm, copy, copy_len);
  free(copy);
  if (!err) {
    char *argv[] = {"wasm2c", "--module-name=guest", "-o", p_c, p_wasm, NULL};
    err = run(argv, p_log, WRT_EFORMAT);
    if (err) rt_error(err, "%s: wasm2c %s: %s", wasm_path,
                      err == WRT_EFORMAT ? "refused the module" : "failed", wrt_last_error());
  }
  if (!err) err = rt_transform(wasm_path, w, p_c, p_t);
  if (!err) {
    char *argv[] = {(char *)cc_of(rt), CC_FLAGS, "-o", p_so, p_t, NULL};
    err = run(argv, p_log, WRT_ETOOLCHAIN);
    if (err) rt_error(err, "%s: compiling the generated C failed: %s", wasm_path, wrt_last_error());
  }
  return err;
}
