/* The compile cache: an object is used only if it is what this module
 * compiles to.
 *
 * Entries: <dir>/<key>.so and <dir>/<key>.manifest, the key the SHA-256
 * of the module's bytes and a hash of the toolchain's tag (compile.c:
 * transform and glue versions, wasm2c's and the compiler's version lines,
 * the flags). The manifest, written after the object, holds the key, the
 * object's size and SHA-256 and the tag. A load reads the manifest, reads
 * the object into memory once, checks its size and hash, and dlopens those
 * very bytes (a sealed memfd, /proc/self/fd/N), so nothing can change the
 * object between the check and its use. A missing or mismatched entry is
 * rebuilt; in a cache that cannot be written the load is refused.
 *
 * The directory (the caller's, $WPOOL_CACHE_DIR, $XDG_CACHE_HOME/wpool,
 * $HOME/.cache/wpool, else ${TMPDIR:-/tmp}/wpool-cache-<uid>) is created
 * 0700 and refused unless this user (or root) owns it and neither group
 * nor others can write it: another user could otherwise plant objects
 * that run in this process.
 *
 * Compiles happen in temporary directories tmp-XXXXXX inside the cache,
 * each locked (flock) by its compile and marked `locked` once it is. A
 * directory whose lock is free and that carries the mark (its compile was
 * killed), or that is an hour old, is removed by the next load (the first
 * of each runtime, and every compile). Objects are renamed into place, so
 * concurrent loaders never see half a file. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt_internal.h"

#define MANIFEST_MAGIC "wpool-cache-manifest 1"
#define MAX_OBJECT_BYTES (1ull << 30)
#define STALE_TEMP_SECONDS 3600

typedef struct entry {
  char key[96];          /* <64 hex>-<16 hex> */
  const char *tag;
  char so[4200], manifest[4200];
} entry_t;

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

/* ------------------------------------------------------------------ */
/* The directory                                                        */

static char *cache_dir_of(wrt_runtime_t *rt) {
  char buf[4096];
  const char *e;
  if (rt->cache_dir) return strdup(rt->cache_dir);
  if ((e = getenv("WPOOL_CACHE_DIR")) && *e) return strdup(e);
  if ((e = getenv("XDG_CACHE_HOME")) && *e) snprintf(buf, sizeof(buf), "%s/wpool", e);
  else if ((e = getenv("HOME")) && *e) snprintf(buf, sizeof(buf), "%s/.cache/wpool", e);
  else {
    e = getenv("TMPDIR");
    snprintf(buf, sizeof(buf), "%s/wpool-cache-%lu", e && *e ? e : "/tmp",
             (unsigned long)geteuid());
  }
  return strdup(buf);
}

/* mkdir -p, each directory it makes 0700; then the checks above. */
static int dir_ready(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
    return rt_error(WRT_EINVAL, "cache directory path too long: %s", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char c = *p;
      *p = 0;
      if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return rt_error(WRT_ESYS, "cannot create cache directory %s: %s", buf, strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  struct stat st;
  if (stat(path, &st) != 0)
    return rt_error(WRT_ESYS, "cache directory %s: %s", path, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return rt_error(WRT_EINVAL, "cache directory %s is not a directory", path);
  if (st.st_uid != geteuid() && st.st_uid != 0)
    return rt_error(WRT_EINVAL,
                    "cache directory %s is owned by uid %lu, not by this user (uid %lu) or root: "
                    "refused (its owner could plant objects that run in this process)",
                    path, (unsigned long)st.st_uid, (unsigned long)geteuid());
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return rt_error(WRT_EINVAL,
                    "cache directory %s is writable by %s (mode %04o): refused (they could plant "
                    "objects that run in this process)",
                    path, st.st_mode & S_IWOTH ? "others" : "its group", st.st_mode & 07777);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Temporary directories                                                */

static void remove_entries(int dfd) {
  int d2 = dup(dfd);
  DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
  if (!d) {
    if (d2 >= 0) close(d2);
    return;
  }
  rewinddir(d);
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dfd, e->d_name, 0);
  closedir(d);
}

/* A locked, marked temporary directory in `dir`: *path and its *fd. */
static int temp_make(const char *dir, char *path, size_t cap, int *fd) {
  snprintf(path, cap, "%s/tmp-XXXXXX", dir);
  if (!mkdtemp(path)) return rt_error(WRT_ESYS, "mkdtemp in %s: %s", dir, strerror(errno));
  *fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int m = -1;
  if (*fd < 0 || flock(*fd, LOCK_EX) != 0 ||
      (m = openat(*fd, "locked", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0) {
    int e = errno;
    if (*fd >= 0) close(*fd);
    rmdir(path);
    return rt_error(WRT_ESYS, "temporary directory %s: %s", path, strerror(e));
  }
  close(m);
  return 0;
}

static void temp_remove(const char *path, int fd) {
  remove_entries(fd);
  rmdir(path);
  close(fd); /* the lock goes with it */
}

/* Remove the temporaries of compiles that died (see the top). */
static void clean_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  time_t now = time(NULL);
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "tmp-", 4) != 0) continue;
    int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 &&
        (faccessat(fd, "locked", F_OK, 0) == 0 || now - st.st_mtime > STALE_TEMP_SECONDS)) {
      remove_entries(fd);
      unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    }
    close(fd);
  }
  closedir(d);
}

/* ------------------------------------------------------------------ */
/* Entries                                                              */

/* Read at most `max` bytes of the regular file `path` (not a link). */
static int read_bounded(const char *path, uint64_t max, uint8_t **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
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

static void manifest_text(const entry_t *e, const uint8_t *obj, size_t len, char *out, size_t cap) {
  uint8_t h[32];
  char hx[65];
  rt_sha256(obj, len, h);
  hex(h, 32, hx);
  snprintf(out, cap, MANIFEST_MAGIC "\nkey %s\nsize %zu\nsha256 %s\ntool %s\n", e->key, len, hx,
           e->tag);
}

/* The entry's object, if its manifest says exactly what it is: 0 and the
 * bytes, or -1 and why not in `why`. */
static int entry_read(const entry_t *e, uint8_t **obj, size_t *len, char *why, size_t cap) {
  uint8_t *man;
  size_t man_len;
  if (read_bounded(e->manifest, 8192, &man, &man_len) != 0) {
    snprintf(why, cap, "no manifest %s", e->manifest);
    return -1;
  }
  if (read_bounded(e->so, MAX_OBJECT_BYTES, obj, len) != 0) {
    snprintf(why, cap, "object %s unreadable", e->so);
    free(man);
    return -1;
  }
  char want[8192];
  manifest_text(e, *obj, *len, want, sizeof(want));
  bool same = strlen(want) == man_len && memcmp(want, man, man_len) == 0;
  free(man);
  if (same) return 0;
  snprintf(why, cap, "object %s (%zu bytes) does not match its manifest", e->so, *len);
  free(*obj);
  *obj = NULL;
  return -1;
}

/* Compile into a temporary directory and rename the object, then the
 * manifest, into place; the object's bytes in *obj. */
static int entry_build(wrt_runtime_t *rt, const entry_t *e, const char *dir, const char *wasm_path,
                       const wasm_module_t *w, uint8_t **obj, size_t *len) {
  char tmp[4200], so[4300], man[4300], text[8192];
  int fd = -1, err = temp_make(dir, tmp, sizeof(tmp), &fd);
  if (err) return err;
  err = rt_compile(rt, wasm_path, w, tmp);
  snprintf(so, sizeof(so), "%s/" RT_COMPILED_OBJECT, tmp);
  snprintf(man, sizeof(man), "%s/manifest", tmp);
  if (!err && read_bounded(so, MAX_OBJECT_BYTES, obj, len) != 0)
    err = rt_error(WRT_ETOOLCHAIN, "%s: the compiler's object %s is unreadable", wasm_path, so);
  if (!err) {
    manifest_text(e, *obj, *len, text, sizeof(text));
    int mfd = open(man, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = mfd >= 0 && rt_write_all(mfd, text, strlen(text));
    if (mfd >= 0 && close(mfd) != 0) ok = false;
    if (!ok || rename(so, e->so) != 0 || rename(man, e->manifest) != 0)
      err = rt_error(WRT_ESYS, "%s: storing %s in the cache: %s", wasm_path, e->so, strerror(errno));
  }
  if (err) {
    free(*obj);
    *obj = NULL;
  }
  temp_remove(tmp, fd);
  return err;
}

/* A path to descriptor `fd` no loaded object was opened by. glibc's dlopen
 * takes an object whose name equals the path as already loaded, without
 * opening the path: a later module whose memfd got the number of an
 * earlier one's (closed after its dlopen) would run the earlier module's
 * code. So the path spells, between /proc/self and /fd, a load counter's
 * 32 bits as "/." (1) or "//" (0): equivalent for the kernel, distinct for
 * glibc. */
static void unique_fd_path(int fd, char *out, size_t cap) {
  static atomic_uint loads;
  uint32_t n = atomic_fetch_add(&loads, 1);
  size_t o = (size_t)snprintf(out, cap, "/proc/self");
  for (int i = 0; i < 32 && o + 3 < cap; i++, o += 2) memcpy(out + o, n >> i & 1 ? "/." : "//", 2);
  snprintf(out + o, cap - o, "/fd/%d", fd);
}

/* dlopen exactly `len` bytes: a sealed memfd, opened by a /proc path. */
static int open_bytes(const char *wasm_path, const char *key, const uint8_t *obj, size_t len,
                      void **dl) {
  int fd = memfd_create(key, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return rt_error(WRT_ESYS, "%s: memfd_create: %s", wasm_path, strerror(errno));
  if (!rt_write_all(fd, obj, len) ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    int e = errno;
    close(fd);
    return rt_error(WRT_ESYS, "%s: the object's memfd: %s", wasm_path, strerror(e));
  }
  char p[128];
  unique_fd_path(fd, p, sizeof(p));
  *dl = dlopen(p, RTLD_NOW | RTLD_LOCAL);
  close(fd);
  if (!*dl)
    return rt_error(WRT_ESYS,
                    "%s: dlopen: %s (the program must export the runtime's symbols: link it "
                    "with -rdynamic)",
                    wasm_path, dlerror());
  return 0;
}

int rt_object_open(wrt_runtime_t *rt, const char *wasm_path, const uint8_t *bytes, size_t len,
                   const wasm_module_t *w, void **dl, bool *from_cache) {
  *dl = NULL;
  *from_cache = false;
  char *dir = cache_dir_of(rt);
  if (!dir) return rt_error(WRT_ENOMEM, "out of memory");
  entry_t e;
  int err = dir_ready(dir);
  if (!err) err = rt_toolchain_tag(rt, &e.tag);
  if (err) {
    free(dir);
    return err;
  }
  pthread_mutex_lock(&rt->lock);
  bool first = !rt->temps_cleaned;
  rt->temps_cleaned = true;
  pthread_mutex_unlock(&rt->lock);
  if (first) clean_temporaries(dir);
  uint8_t h[32], th[32];
  char hx[65], thx[17];
  rt_sha256(bytes, len, h);
  rt_sha256(e.tag, strlen(e.tag), th);
  hex(h, 32, hx);
  hex(th, 8, thx);
  snprintf(e.key, sizeof(e.key), "%s-%s", hx, thx);
  snprintf(e.so, sizeof(e.so), "%s/%s.so", dir, e.key);
  snprintf(e.manifest, sizeof(e.manifest), "%s/%s.manifest", dir, e.key);
  uint8_t *obj = NULL;
  size_t obj_len = 0;
  char why[4400];
  if (entry_read(&e, &obj, &obj_len, why, sizeof(why)) == 0) {
    *from_cache = true;
  } else {
    if (!first) clean_temporaries(dir);
    err = entry_build(rt, &e, dir, wasm_path, w, &obj, &obj_len);
    if (err == WRT_ESYS && access(dir, W_OK) != 0)
      err = rt_error(WRT_ESYS, "%s: the cache %s cannot be written and holds no valid object "
                     "for this module (%s): %s", wasm_path, dir, why, wrt_last_error());
  }
  free(dir);
  if (!err) err = open_bytes(wasm_path, e.key, obj, obj_len, dl);
  free(obj);
  return err;
}
