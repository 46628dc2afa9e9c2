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
 * The transform (version 1) of wasm2c 1.0.32's output, checked line by
 * line so that any other shape of generated code is refused rather than
 * miscompiled:
 *   1. In init_memories, `wasm_rt_allocate_memory(&instance->M, MIN, MAX)`
 *      must ask for the limits the .wasm declares (max 65536 when none).
 *   2. In init_memories, each `LOAD_DATA(instance->M, OFFSET, DATA, LEN)`
 *      must match the next active data segment the reader found, and
 *      becomes WRT_LOAD_DATA: the copy happens only when
 *      wrt_memory_has_image() says the memory has no image (the stock
 *      backend); the pool's copy-on-write image already holds the bytes.
 *      Passive segments (memory.init) are untouched.
 *   3. A function wrt_guest_instance_size() is appended: the size of the
 *      generated instance struct, which the pool keeps in instance state. */
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

extern char **environ;

#define TRANSFORM_VERSION "wrt-transform-1"
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
    snprintf(all, sizeof(all), "%s|wasm2c %s|%s: %s|%s", TRANSFORM_VERSION, w2c, cc_of(rt), ccv,
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

/* Parse "NAME, A, B" arguments of a generated call (without the call's
 * name and parentheses): up to 4 comma-separated fields. */
static int split_args(char *s, char **f, int max) {
  int n = 0;
  while (n < max) {
    while (*s == ' ') s++;
    f[n++] = s;
    char *comma = strchr(s, ',');
    if (!comma) break;
    *comma = 0;
    s = comma + 1;
  }
  return n;
}

/* Apply the transform (see the top of this file) from `in` to `out`. */
static int transform(const char *wasm_path, const wasm_module_t *w, const char *in,
                     const char *out) {
  FILE *fi = fopen(in, "r");
  if (!fi) return rt_error(WRT_ESYS, "cannot read %s: %s", in, strerror(errno));
  FILE *fo = fopen(out, "w");
  if (!fo) {
    fclose(fi);
    return rt_error(WRT_ESYS, "cannot create %s: %s", out, strerror(errno));
  }
  static const char head[] = "static void init_memories(Z_guest_instance_t* instance) {";
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int err = 0;
  bool in_init = false, seen_init = false, seen_alloc = false;
  uint32_t seg = 0; /* the next active segment to match */
  uint32_t lineno = 0;
  uint64_t want_max = w->nmemories && w->memories[0].has_max ? w->memories[0].max : 65536;
  while (!err && (n = getline(&line, &cap, fi)) > 0) {
    lineno++;
    if (!in_init && strncmp(line, head, sizeof(head) - 1) == 0) {
      fputs("/* " TRANSFORM_VERSION " (wpool runtime): data segments come from the pool's image\n"
            " * when the memory has one; see runtime/compile.c. */\n"
            "extern bool wrt_memory_has_image(const wasm_rt_memory_t *mem);\n"
            "#define WRT_LOAD_DATA(m, o, i, s) \\\n"
            "  do { if (!wrt_memory_has_image(&(m))) LOAD_DATA(m, o, i, s); } while (0)\n\n",
            fo);
      in_init = seen_init = true;
      fputs(line, fo);
      continue;
    }
    if (!in_init) {
      fputs(line, fo);
      continue;
    }
    if (strcmp(line, "}\n") == 0) {
      in_init = false;
      fputs(line, fo);
      continue;
    }
    char *f[5];
    if (strncmp(line, "  wasm_rt_allocate_memory(", 26) == 0) {
      char *args = line + 26;
      char *close = strstr(args, ");");
      if (!close || seen_alloc) goto unexpected;
      *close = 0;
      if (split_args(args, f, 4) != 3) goto unexpected;
      uint64_t mn = strtoull(f[1], NULL, 10), mx = strtoull(f[2], NULL, 10);
      if (w->nmemories != 1 || mn != w->memories[0].min || mx != want_max) {
        err = rt_error(WRT_ETOOLCHAIN,
                       "%s: wasm2c's code allocates memory of %llu..%llu pages, the module "
                       "declares %llu..%llu",
                       wasm_path, (unsigned long long)mn, (unsigned long long)mx,
                       w->nmemories ? (unsigned long long)w->memories[0].min : 0ull,
                       (unsigned long long)want_max);
        break;
      }
      seen_alloc = true;
      fprintf(fo, "  wasm_rt_allocate_memory(%s, %s, %s);\n", f[0], f[1], f[2]);
      continue;
    }
    if (strncmp(line, "  LOAD_DATA(", 12) == 0) {
      char *args = line + 12;
      char *close = strstr(args, ");");
      if (!close) goto unexpected;
      *close = 0;
      if (split_args(args, f, 5) != 4) goto unexpected;
      while (seg < w->nsegments && !w->segments[seg].active) seg++;
      uint64_t off = strtoull(f[1], NULL, 10), len = strtoull(f[3], NULL, 10);
      if (seg >= w->nsegments || w->segments[seg].offset != off || w->segments[seg].len != len) {
        err = rt_error(WRT_ETOOLCHAIN,
                       "%s: wasm2c's code loads %llu bytes at %llu, which is not active data "
                       "segment %u as the reader found it",
                       wasm_path, (unsigned long long)len, (unsigned long long)off, seg);
        break;
      }
      seg++;
      fprintf(fo, "  WRT_LOAD_DATA(%s, %s, %s, %s);\n", f[0], f[1], f[2], f[3]);
      continue;
    }
    if (strcmp(line, "\n") == 0) {
      fputs(line, fo);
      continue;
    }
  unexpected:
    err = rt_error(WRT_ETOOLCHAIN,
                   "%s: generated code line %u in init_memories has a shape the transform does "
                   "not know (wasm2c is not 1.0.32?)",
                   wasm_path, lineno);
  }
  free(line);
  if (!err) {
    while (seg < w->nsegments && !w->segments[seg].active) seg++;
    if (!seen_init || in_init)
      err = rt_error(WRT_ETOOLCHAIN, "%s: generated code has no init_memories function",
                     wasm_path);
    else if (seg != w->nsegments)
      err = rt_error(WRT_ETOOLCHAIN,
                     "%s: generated code loads fewer data segments than the module's active ones",
                     wasm_path);
    else if (w->nmemories && !seen_alloc)
      err = rt_error(WRT_ETOOLCHAIN, "%s: generated code allocates no memory", wasm_path);
  }
  if (!err)
    fputs("\n/* " TRANSFORM_VERSION ": the instance's size, for the pool's instance state. */\n"
          "size_t wrt_guest_instance_size(void) { return sizeof(Z_guest_instance_t); }\n",
          fo);
  if (ferror(fi) && !err) err = rt_error(WRT_ESYS, "read %s failed", in);
  fclose(fi);
  bool werr = ferror(fo) != 0;
  if ((fclose(fo) != 0 || werr) && !err)
    err = rt_error(WRT_ESYS, "write %s: %s", out, strerror(errno));
  return err;
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
               const wasm_module_t *w, char **so_out, bool *from_cache) {
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
  /* Translate the bytes that were read and checked, not the file again. */
  err = write_file(p_wasm, bytes, len);
  if (!err) {
    char *argv[] = {"wasm2c", "--module-name=guest", "-o", p_c, p_wasm, NULL};
    err = run(argv, p_log);
    if (err) rt_error(err, "%s: wasm2c failed: %s", wasm_path, wrt_last_error());
  }
  if (!err) err = transform(wasm_path, w, p_c, p_t);
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
