/* Path resolution confined to a directory (a preopen or a directory opened
 * below one): no absolute path, no `..` past the directory, links followed
 * inside it only.
 *
 * Two resolvers give the same answers. Where the kernel has openat2 (Linux
 * 5.6), it resolves with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: one
 * system call, and the kernel refuses any step out (EXDEV) even while
 * another process renames directories. Elsewhere (or with
 * WRT_RESOLVE_WALK) the path is walked one component at a time: each
 * directory opened with O_PATH | O_NOFOLLOW | O_DIRECTORY relative to the
 * one before and held open, a link read with readlinkat and its text
 * spliced into the path still to walk, `..` going back to the directory
 * held one level up (never opened by name, so a directory moved elsewhere
 * meanwhile cannot lead out), the depth never below 0. What the walk
 * decides, it decides on the object it holds open, so a directory swapped
 * for a link between two steps is seen as the link it now is. The last
 * component is then used with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, so a link
 * put there after the check fails (ELOOP) rather than being followed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wasi_abi.h"

static bool use_walk(rt_ctx_t *c) { return c->m->rt->wasi_resolve == WRT_RESOLVE_WALK; }

static int openat2_beneath(int dir, const char *path, int flags) {
  struct open_how how = {.flags = (u64)(flags | O_CLOEXEC),
                         .mode = (flags & O_CREAT) ? 0666 : 0,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  for (int tries = 0;; tries++) {
    long fd = syscall(SYS_openat2, dir, path, &how, sizeof(how));
    /* EAGAIN: a concurrent rename kept the kernel from proving that a
     * `..` stayed inside; try again a few times. */
    if (fd >= 0 || errno != EAGAIN || tries == 16) return (int)fd;
  }
}

int rt_wasi_probe_openat2(void) {
  int fd = openat2_beneath(AT_FDCWD, ".", O_PATH | O_DIRECTORY);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

int wrt_dir_open(const char *host_path, int *fd_out) {
  if (!host_path || !fd_out) return rt_error(WRT_EINVAL, "wrt_dir_open: NULL argument");
  int fd = open(host_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return rt_error(WRT_ESYS, "%s: cannot open as a directory: %s", host_path,
                              strerror(errno));
  *fd_out = fd;
  return 0;
}

static u32 host_err(void) { return errno == EXDEV ? WASI_ENOTCAPABLE : wasi_errno(errno); }

u32 wasi_path_copy(rt_ctx_t *c, u32 addr, u32 len, int slot) {
  const uint8_t *p = wasi_mem(c, addr, len);
  if (!p) return WASI_EFAULT;
  if (len > WASI_PATH_MAX) return WASI_ENAMETOOLONG;
  if (len == 0) return WASI_ENOENT;
  if (memchr(p, 0, len)) return WASI_EINVAL;
  if (p[0] == '/') return WASI_ENOTCAPABLE;
  wasi_fds_t *f = wasi_fds(c);
  if (!f) return WASI_ENOMEM;
  memcpy(f->path[slot], p, len);
  f->path[slot][len] = 0;
  return WASI_ESUCCESS;
}

/* Strip trailing slashes (the path is not empty and not absolute). */
static bool strip_slashes(char *path) {
  size_t n = strlen(path);
  bool slash = false;
  while (n > 1 && path[n - 1] == '/') path[--n] = 0, slash = true;
  return slash;
}

static bool dot_or_dotdot(const char *s, size_t n) {
  return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

/* The walk: resolve `w` (modified in place: links are spliced into it)
 * under `dir`. On success at->dir is the directory holding the last
 * component (held in the table's temporaries when not `dir`) and at->name
 * the component, "." when the path ends in `.` or `..`. With `follow`, a
 * link in the last place is followed too. */
static u32 walk(rt_ctx_t *c, int dir, char *w, size_t cap, bool follow, wasi_at_t *at) {
  wasi_fds_t *f = c->fds;
  int stack[WASI_WALK_DEPTH];
  int depth = 0, links = 0;
  u32 err = WASI_ESUCCESS;
  for (;;) {
    int cur = depth ? stack[depth - 1] : dir;
    size_t q = strcspn(w, "/");
    char *rest = w + q;
    while (*rest == '/') rest++;
    bool last = *rest == 0;
    bool dots = dot_or_dotdot(w, q);
    if (q == 2 && dots) {
      if (depth == 0) {
        err = WASI_ENOTCAPABLE; /* `..` past the directory */
        break;
      }
      wasi_tmp_close(f, stack[--depth]);
    }
    if (last && (dots || q == 0)) {
      at->dir = depth ? stack[depth - 1] : dir;
      at->name = w;
      strcpy(w, ".");
      break;
    }
    if (dots || q == 0) {
      memmove(w, rest, strlen(rest) + 1);
      continue;
    }
    if (last && !follow) { /* the last component, used as it is */
      at->dir = cur;
      at->name = w;
      w[q] = 0;
      break;
    }
    if (q > 255) {
      err = WASI_ENAMETOOLONG;
      break;
    }
    char name[256];
    memcpy(name, w, q);
    name[q] = 0;
    if (!last) {
      int fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0) {
        if (depth == WASI_WALK_DEPTH) {
          close(fd);
          err = WASI_ENAMETOOLONG;
          break;
        }
        wasi_tmp_hold(f, fd);
        stack[depth++] = fd;
        memmove(w, rest, strlen(rest) + 1);
        continue;
      }
      if (errno != ENOTDIR && errno != ELOOP) {
        err = wasi_errno(errno);
        break;
      }
    }
    /* A link (or, last, perhaps not one, or nothing yet). */
    ssize_t n = readlinkat(cur, name, f->link, sizeof(f->link));
    if (n < 0) {
      if (last && (errno == EINVAL || errno == ENOENT)) { /* not a link: the last component */
        at->dir = cur;
        at->name = w;
        w[q] = 0;
        break;
      }
      err = errno == EINVAL ? WASI_ENOTDIR : wasi_errno(errno);
      break;
    }
    if (++links > WASI_SYMLINK_MAX) {
      err = WASI_ELOOP;
      break;
    }
    if (n == 0 || (size_t)n == sizeof(f->link)) {
      err = n ? WASI_ENAMETOOLONG : WASI_ENOENT;
      break;
    }
    if (f->link[0] == '/') {
      err = WASI_ENOTCAPABLE; /* an absolute link leads out */
      break;
    }
    size_t rn = strlen(rest);
    if ((size_t)n + 1 + rn + 1 > cap) {
      err = WASI_ENAMETOOLONG;
      break;
    }
    memmove(w + n + 1, rest, rn + 1);
    memcpy(w, f->link, (size_t)n);
    w[n] = rn ? '/' : 0;
  }
  /* Keep the directory holding the last component; close the rest. */
  int keep = err ? -1 : at->dir;
  at->own = !err && depth && keep == stack[depth - 1];
  for (int i = depth - 1; i >= 0; i--)
    if (stack[i] != keep) wasi_tmp_close(f, stack[i]);
  return err;
}

u32 wasi_resolve(rt_ctx_t *c, int dir, int slot, wasi_at_t *at) {
  char *path = c->fds->path[slot];
  at->own = false;
  at->slash = strip_slashes(path);
  if (use_walk(c)) return walk(c, dir, path, sizeof(c->fds->path[slot]), false, at);
  char *name = strrchr(path, '/');
  name = name ? name + 1 : path;
  size_t n = strlen(name);
  if (dot_or_dotdot(name, n)) { /* the directory itself */
    int fd = openat2_beneath(dir, path, O_PATH | O_DIRECTORY);
    if (fd < 0) return host_err();
    wasi_tmp_hold(c->fds, fd);
    *at = (wasi_at_t){.dir = fd, .name = strcpy(name, "."), .own = true, .slash = at->slash};
    return WASI_ESUCCESS;
  }
  at->name = name;
  if (name == path) {
    at->dir = dir;
    return WASI_ESUCCESS;
  }
  name[-1] = 0;
  int fd = openat2_beneath(dir, path, O_PATH | O_DIRECTORY);
  name[-1] = '/';
  if (fd < 0) return host_err();
  wasi_tmp_hold(c->fds, fd);
  at->dir = fd;
  at->own = true;
  return WASI_ESUCCESS;
}

void wasi_at_done(rt_ctx_t *c, wasi_at_t *at) {
  if (at->own) wasi_tmp_close(c->fds, at->dir);
  at->own = false;
}

int wasi_open_beneath(rt_ctx_t *c, int dir, int slot, int flags, bool follow, u32 *err) {
  char *path = c->fds->path[slot];
  if (strip_slashes(path)) {
    flags |= O_DIRECTORY;
    follow = true;
  }
  if ((flags & O_CREAT) && (flags & O_EXCL)) follow = false; /* never through a link */
  int fd;
  if (!use_walk(c)) {
    fd = openat2_beneath(dir, path, flags | (follow ? 0 : O_NOFOLLOW));
    if (fd < 0) *err = host_err();
    return fd;
  }
  wasi_at_t at = {0};
  *err = walk(c, dir, path, sizeof(c->fds->path[slot]), follow, &at);
  if (*err) return -1;
  fd = openat(at.dir, at.name, flags | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) *err = wasi_errno(errno);
  wasi_at_done(c, &at);
  return fd;
}
