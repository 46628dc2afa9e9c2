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
 * 0700, opened once per load without following a link in its last
 * component, and refused unless this user (or root) owns that very
 * directory and neither group nor others can write it: another user could
 * otherwise plant objects that run in this process. Everything after goes
 * through that descriptor (openat, mkdirat, renameat, unlinkat): a
 * directory checked by its path and used by its path again was another
 * directory once a link in the path changed in between (a link flipped
 * between /usr/bin and another user's directory ran that user's object).
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
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"

#define MANIFEST_MAGIC "wpool-cache-manifest 1"
#define MAX_OBJECT_BYTES (1ull << 30)
#define STALE_TEMP_SECONDS 3600

typedef struct entry {
  char key[96];          /* <64 hex>-<16 hex> */
  const char *tag;
  const char *dir;       /* the directory's path, for messages */
  int dfd;               /* the directory, checked */
  char so[128], manifest[128]; /* names in it */
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

/* mkdir -p, each directory it makes 0700; then the directory opened (a
 * link in its last component refused) and checked on the descriptor. 0
 * and *dfd, or the error. */
static int dir_open(const char *path, int *dfd) {
  char buf[4096];
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--; /* "dir/" would follow a link */
  if (n >= sizeof(buf)) return rt_error(WRT_EINVAL, "cache directory path too long: %s", path);
  memcpy(buf, path, n);
  buf[n] = 0;
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
  int fd = open(buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    struct stat l;
    if ((e == ELOOP || e == ENOTDIR) && lstat(buf, &l) == 0 && S_ISLNK(l.st_mode))
      return rt_error(WRT_EINVAL, "cache directory %s is a symbolic link: refused (whoever can "
                      "replace it could point it elsewhere between two uses; name the "
                      "directory itself)", buf);
    if (e == ENOTDIR) return rt_error(WRT_EINVAL, "cache directory %s is not a directory", buf);
    return rt_error(WRT_ESYS, "cache directory %s: %s", buf, strerror(e));
  }
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0)
    err = rt_error(WRT_ESYS, "cache directory %s: %s", buf, strerror(errno));
  else if (st.st_uid != geteuid() && st.st_uid != 0)
    err = rt_error(WRT_EINVAL,
                   "cache directory %s is owned by uid %lu, not by this user (uid %lu) or root: "
                   "refused (its owner could plant objects that run in this process)",
                   buf, (unsigned long)st.st_uid, (unsigned long)geteuid());
  else if (st.st_mode & (S_IWGRP | S_IWOTH))
    err = rt_error(WRT_EINVAL,
                   "cache directory %s is writable by %s (mode %04o): refused (they could plant "
                   "objects that run in this process)",
                   buf, st.st_mode & S_IWOTH ? "others" : "its group", st.st_mode & 07777);
  if (err) {
    close(fd);
    return err;
  }
  *dfd = fd;
  return 0;
}

int rt_cache_dir_open(wrt_runtime_t *rt, int *dfd) {
  char *dir = cache_dir_of(rt);
  if (!dir) return rt_error(WRT_ENOMEM, "out of memory");
  int err = dir_open(dir, dfd);
  free(dir);
  return err;
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

/* A locked, marked temporary directory in the cache: its name in `name`
 * (tmp-XXXXXX) and its descriptor in *fd. */
static int temp_make(const entry_t *e, char name[16], int *fd) {
  static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static atomic_uint counter;
  int err = EEXIST;
  for (int attempt = 0; attempt < 100 && err == EEXIST; attempt++) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
      r = rt_now_ns() ^ ((uint64_t)getpid() << 32) ^ atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull;
    memcpy(name, "tmp-", 4);
    for (int i = 0; i < 6; i++, r /= 62) name[4 + i] = set[r % 62];
    name[10] = 0;
    err = mkdirat(e->dfd, name, 0700) == 0 ? 0 : errno;
  }
  if (err) return rt_error(WRT_ESYS, "a temporary directory in %s: %s", e->dir, strerror(err));
  *fd = openat(e->dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int m = -1;
  if (*fd < 0 || flock(*fd, LOCK_EX) != 0 ||
      (m = openat(*fd, "locked", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
    int en = errno;
    if (*fd >= 0) close(*fd);
    unlinkat(e->dfd, name, AT_REMOVEDIR);
    return rt_error(WRT_ESYS, "temporary directory %s/%s: %s", e->dir, name, strerror(en));
  }
  close(m);
  return 0;
}

static void temp_remove(const entry_t *e, const char *name, int fd) {
  remove_entries(fd);
  unlinkat(e->dfd, name, AT_REMOVEDIR);
  close(fd); /* the lock goes with it */
}

/* Remove the temporaries of compiles that died (see the top), and
 * snapshots' temporary files an hour old. */
static void clean_temporaries(int dfd) {
  int d2 = dup(dfd);
  DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
  if (!d) {
    if (d2 >= 0) close(d2);
    return;
  }
  struct dirent *e;
  time_t now = time(NULL);
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "tmp-", 4) != 0) continue;
    struct stat fst; /* a snapshot's temporary file (snap_cache.c) whose writer died */
    if (!strncmp(e->d_name, "tmp-snap-", 9) && !fstatat(dfd, e->d_name, &fst, AT_SYMLINK_NOFOLLOW) &&
        S_ISREG(fst.st_mode) && now - fst.st_mtime > STALE_TEMP_SECONDS) {
      unlinkat(dfd, e->d_name, 0);
      continue;
    }
    int fd = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 &&
        (faccessat(fd, "locked", F_OK, 0) == 0 || now - st.st_mtime > STALE_TEMP_SECONDS)) {
      remove_entries(fd);
      unlinkat(dfd, e->d_name, AT_REMOVEDIR);
    }
    close(fd);
  }
  closedir(d);
}

/* ------------------------------------------------------------------ */
/* Entries                                                              */

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
  if (rt_read_at(e->dfd, e->manifest, 8192, &man, &man_len) != 0) {
    snprintf(why, cap, "no manifest %s/%s", e->dir, e->manifest);
    return -1;
  }
  if (rt_read_at(e->dfd, e->so, MAX_OBJECT_BYTES, obj, len) != 0) {
    snprintf(why, cap, "object %s/%s unreadable", e->dir, e->so);
    free(man);
    return -1;
  }
  char want[8192];
  manifest_text(e, *obj, *len, want, sizeof(want));
  bool same = strlen(want) == man_len && memcmp(want, man, man_len) == 0;
  free(man);
  if (same) return 0;
  snprintf(why, cap, "object %s/%s (%zu bytes) does not match its manifest", e->dir, e->so, *len);
  free(*obj);
  *obj = NULL;
  return -1;
}

/* Compile into a temporary directory and rename the object, then the
 * manifest, into place; the object's bytes in *obj. */
static int entry_build(wrt_runtime_t *rt, const entry_t *e, const char *wasm_path,
                       const wasm_module_t *w, uint8_t **obj, size_t *len) {
  char tmp[16], text[8192];
  int fd = -1, err = temp_make(e, tmp, &fd);
  if (err) return err;
  err = rt_compile(rt, wasm_path, w, fd);
  if (!err && rt_read_at(fd, RT_COMPILED_OBJECT, MAX_OBJECT_BYTES, obj, len) != 0)
    err = rt_error(WRT_ETOOLCHAIN, "%s: the compiler's object %s/%s/" RT_COMPILED_OBJECT
                   " is unreadable", wasm_path, e->dir, tmp);
  if (!err) {
    manifest_text(e, *obj, *len, text, sizeof(text));
    int mfd = openat(fd, "manifest", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = mfd >= 0 && rt_write_all(mfd, text, strlen(text));
    if (mfd >= 0 && close(mfd) != 0) ok = false;
    if (!ok || renameat(fd, RT_COMPILED_OBJECT, e->dfd, e->so) != 0 ||
        renameat(fd, "manifest", e->dfd, e->manifest) != 0)
      err = rt_error(WRT_ESYS, "%s: storing %s/%s in the cache: %s", wasm_path, e->dir, e->so,
                     strerror(errno));
  }
  if (err) {
    free(*obj);
    *obj = NULL;
  }
  temp_remove(e, tmp, fd);
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
  if (*dl) return 0;
  /* The hint where it applies: an unresolved symbol is the program's link;
   * a segment that cannot be mapped is address space or the process's
   * count of mappings (vm.max_map_count: each module maps a few). */
  const char *e = dlerror();
  if (e && strstr(e, "undefined symbol"))
    return rt_error(WRT_ESYS,
                    "%s: dlopen: %s (the program must export the runtime's symbols: link it "
                    "with -rdynamic)",
                    wasm_path, e);
  if (e && (strstr(e, "map segment") || strstr(e, "Cannot allocate memory")))
    return rt_error(WRT_ENOMEM,
                    "%s: dlopen: %s (address space or mappings ran out: see vm.max_map_count)",
                    wasm_path, e);
  return rt_error(WRT_ESYS, "%s: dlopen: %s", wasm_path, e ? e : "failed");
}

int rt_object_open(wrt_runtime_t *rt, const char *wasm_path, const uint8_t *bytes, size_t len,
                   const wasm_module_t *w, void **dl, bool *from_cache) {
  *dl = NULL;
  *from_cache = false;
  char *dir = cache_dir_of(rt);
  if (!dir) return rt_error(WRT_ENOMEM, "out of memory");
  entry_t e = {.dir = dir, .dfd = -1};
  int err = dir_open(dir, &e.dfd);
  if (!err) err = rt_toolchain_tag(rt, &e.tag);
  if (err) {
    if (e.dfd >= 0) close(e.dfd);
    free(dir);
    return err;
  }
  pthread_mutex_lock(&rt->lock);
  bool first = !rt->temps_cleaned;
  rt->temps_cleaned = true;
  pthread_mutex_unlock(&rt->lock);
  if (first) clean_temporaries(e.dfd);
  uint8_t h[32], th[32];
  char hx[65], thx[17];
  rt_sha256(bytes, len, h);
  rt_sha256(e.tag, strlen(e.tag), th);
  hex(h, 32, hx);
  hex(th, 8, thx);
  snprintf(e.key, sizeof(e.key), "%s-%s", hx, thx);
  snprintf(e.so, sizeof(e.so), "%s.so", e.key);
  snprintf(e.manifest, sizeof(e.manifest), "%s.manifest", e.key);
  uint8_t *obj = NULL;
  size_t obj_len = 0;
  char why[4400];
  if (entry_read(&e, &obj, &obj_len, why, sizeof(why)) == 0) {
    *from_cache = true;
  } else {
    if (!first) clean_temporaries(e.dfd);
    err = entry_build(rt, &e, wasm_path, w, &obj, &obj_len);
    if (err == WRT_ESYS && faccessat(e.dfd, ".", W_OK, 0) != 0)
      err = rt_error(WRT_ESYS, "%s: the cache %s cannot be written and holds no valid object "
                     "for this module (%s): %s", wasm_path, dir, why, wrt_last_error());
  }
  close(e.dfd);
  free(dir);
  if (!err) err = open_bytes(wasm_path, e.key, obj, obj_len, dl);
  free(obj);
  return err;
}
