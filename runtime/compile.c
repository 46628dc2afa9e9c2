/* From .wasm to a loadable shared object: wasm2c, the transform, the C
 * compiler, and the cache.
 *
 * Cache: <cache_dir>/<sha256 of the .wasm>-<tag>.so, where the tag is a
 * hash of the transform's version, wasm2c's and the compiler's version
 * lines and the flags, so a new toolchain never loads an old object. An
 * object is built in a private temporary directory and renamed into place,
 * so concurrent loaders (threads or processes) never see half a file; the
 * temporary directory and all its files are removed on every path.
 *
 * Translated is not the module but its rewritten copy (wasm_rewrite.h),
 * so no name of the module reaches the C; the output is transformed
 * (transform.c) and the glue appended (glue.c). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static int mkdirs(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
    return rt_error(WRT_EINVAL, "cache directory path too long: %s", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char c = *p;
      *p = 0;
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return rt_error(WRT_ESYS, "cannot create cache directory %s: %s", buf, strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  return 0;
}

static char *cache_dir_of(wrt_runtime_t *rt) {
  char buf[4096];
  const char *e;
  if (rt->cache_dir) return strdup(rt->cache_dir);
  if ((e = getenv("WPOOL_CACHE_DIR")) && *e) return strdup(e);
  if ((e = getenv("XDG_CACHE_HOME")) && *e) {
    snprintf(buf, sizeof(buf), "%s/wpool", e);
    return strdup(buf);
  }
  if ((e = getenv("HOME")) && *e) {
    snprintf(buf, sizeof(buf), "%s/.cache/wpool", e);
    return strdup(buf);
  }
  return strdup("/tmp/wpool-cache");
}

static const char *cc_of(wrt_runtime_t *rt) {
  const char *e;
  if (rt->cc) return rt->cc;
  if ((e = getenv("CC")) && *e) return e;
  return "cc";
}

/* Run argv with stdin from /dev/null and stdout+stderr to `log`. Return 0
 * when it exited 0; else WRT_ETOOLCHAIN with the command and the log's
 * last bytes. */
static int run(char *const argv[], const char *log) {
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) return rt_error(WRT_ENOMEM, "posix_spawn: no memory");
  int err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!err) err = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (!err) err = posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  if (!err) err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err) return rt_error(WRT_ETOOLCHAIN, "cannot run %s: %s", argv[0], strerror(err));
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return rt_error(WRT_ESYS, "waitpid %s: %s", argv[0], strerror(errno));
  }
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
    return rt_error(WRT_ETOOLCHAIN, "%s exited with status %d: %s", argv[0], WEXITSTATUS(st), tail);
  return rt_error(WRT_ETOOLCHAIN, "%s killed by signal %d: %s", argv[0],
                  WIFSIGNALED(st) ? WTERMSIG(st) : 0, tail);
}

/* The first line a command prints, or "?" if it cannot run. */
static void first_line(char *const argv[], const char *log, char *out, size_t n) {
  snprintf(out, n, "?");
  unlink(log);
  if (run(argv, log) != 0) return;
  FILE *f = fopen(log, "r");
  if (!f) return;
  if (!fgets(out, (int)n, f)) snprintf(out, n, "?");
  fclose(f);
  out[strcspn(out, "\n")] = 0;
  unlink(log);
}

static int tool_tag(wrt_runtime_t *rt, const char *dir, char **tag) {
  pthread_mutex_lock(&rt->lock);
  if (!rt->tool_tag) {
    char log[4200], w2c[256], ccv[256], all[1024];
    snprintf(log, sizeof(log), "%s/.version-%ld.log", dir, (long)getpid());
    char *a1[] = {"wasm2c", "--version", NULL};
    char *a2[] = {(char *)cc_of(rt), "--version", NULL};
    first_line(a1, log, w2c, sizeof(w2c));
    first_line(a2, log, ccv, sizeof(ccv));
    snprintf(all, sizeof(all), "%s|%s|wasm2c %s|%s: %s|%s", RT_TRANSFORM_VERSION, RT_GLUE_VERSION, w2c, cc_of(rt), ccv,
             CC_FLAGS_STR);
    rt->tool_tag = strdup(all);
  }
  *tag = rt->tool_tag;
  pthread_mutex_unlock(&rt->lock);
  return *tag ? 0 : rt_error(WRT_ENOMEM, "out of memory");
}

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static int write_file(const char *path, const void *bytes, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return rt_error(WRT_ESYS, "cannot create %s: %s", path, strerror(errno));
  const uint8_t *p = bytes;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = errno;
      close(fd);
      return rt_error(WRT_ESYS, "write %s: %s", path, strerror(e));
    }
    p += w;
    len -= (size_t)w;
  }
  if (close(fd) != 0) return rt_error(WRT_ESYS, "close %s: %s", path, strerror(errno));
  return 0;
}

static void remove_dir(const char *dir) {
  static const char *files[] = {"m.wasm", "guest.c", "guest.h", "guest_t.c", "guest.so", "log"};
  char p[4200];
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
}

int rt_compile(wrt_runtime_t *rt, const char *wasm_path, const uint8_t *bytes, size_t len,
               const wasm_module_t *w, int64_t start_export, char **so_out, bool *from_cache) {
  *so_out = NULL;
  *from_cache = false;
  char *dir = cache_dir_of(rt);
  if (!dir) return rt_error(WRT_ENOMEM, "out of memory");
  int err = mkdirs(dir);
  char *tag = NULL;
  if (!err) err = tool_tag(rt, dir, &tag);
  if (err) {
    free(dir);
    return err;
  }
  uint8_t h[32], th[32];
  char hx[65], thx[65];
  rt_sha256(bytes, len, h);
  rt_sha256(tag, strlen(tag), th);
  hex(h, 32, hx);
  hex(th, 8, thx);
  size_t plen = strlen(dir) + 100;
  char *so = malloc(plen);
  char *tmp = malloc(plen);
  if (!so || !tmp) {
    free(so), free(tmp), free(dir);
    return rt_error(WRT_ENOMEM, "out of memory");
  }
  snprintf(so, plen, "%s/%s-%s.so", dir, hx, thx);
  if (access(so, R_OK) == 0) {
    *from_cache = true;
    *so_out = so;
    free(tmp);
    free(dir);
    return 0;
  }
  snprintf(tmp, plen, "%s/tmp-XXXXXX", dir);
  if (!mkdtemp(tmp)) {
    err = rt_error(WRT_ESYS, "mkdtemp in %s: %s", dir, strerror(errno));
    free(so), free(tmp), free(dir);
    return err;
  }
  char p_wasm[4200], p_c[4200], p_t[4200], p_so[4200], p_log[4200];
  snprintf(p_wasm, sizeof(p_wasm), "%s/m.wasm", tmp);
  snprintf(p_c, sizeof(p_c), "%s/guest.c", tmp);
  snprintf(p_t, sizeof(p_t), "%s/guest_t.c", tmp);
  snprintf(p_so, sizeof(p_so), "%s/guest.so", tmp);
  snprintf(p_log, sizeof(p_log), "%s/log", tmp);
  /* Translate the rewritten copy of the bytes that were read and checked
   * (not the file again). */
  uint8_t *copy;
  size_t copy_len;
  if (!wasm_rewrite(w, &copy, &copy_len)) err = rt_error(WRT_ENOMEM, "out of memory");
  else {
    err = write_file(p_wasm, copy, copy_len);
    free(copy);
  }
  if (!err) {
    char *argv[] = {"wasm2c", "--module-name=guest", "-o", p_c, p_wasm, NULL};
    err = run(argv, p_log);
    if (err) rt_error(err, "%s: wasm2c failed: %s", wasm_path, wrt_last_error());
  }
  if (!err) err = rt_transform(wasm_path, w, start_export, p_c, p_t);
  if (!err) {
    char *argv[] = {(char *)cc_of(rt), CC_FLAGS, "-o", p_so, p_t, NULL};
    err = run(argv, p_log);
    if (err) rt_error(err, "%s: compiling the generated C failed: %s", wasm_path, wrt_last_error());
  }
  if (!err && rename(p_so, so) != 0)
    err = rt_error(WRT_ESYS, "rename %s to %s: %s", p_so, so, strerror(errno));
  remove_dir(tmp);
  free(tmp);
  free(dir);
  if (err) {
    free(so);
    return err;
  }
  *so_out = so;
  return 0;
}
