/* WASI: the path_* calls, every path resolved under its directory
 * descriptor by wasi_path.c (nothing outside the directory is ever named
 * to the kernel) and every call checked against the descriptor's rights.
 *
 * Trailing slashes never reach the kernel: a path's last component is
 * always used with no-follow semantics, and Linux follows a link named with
 * a trailing slash whatever flag it is given. Their meaning is kept: the
 * last component must be a directory (followed, inside, where Linux
 * follows it: open, filestat, set_times), or the call fails as Linux's
 * does (unlink: EISDIR or ENOTDIR; symlink and link: EEXIST or ENOENT;
 * rename: ENOTDIR unless the source is a directory).
 *
 * Files are opened close-on-exec, without a controlling terminal, and
 * O_NONBLOCK whatever the guest asks (a FIFO in a directory must not
 * block the host's thread; regular files ignore the flag). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi_calls.h"

/* The directory entry of `fd` with `rights`; NULL with *err. */
static wasi_fd_t *dir_of(rt_ctx_t *c, u32 fd, u64 rights, u32 *err) {
  wasi_fd_t *e = wasi_fd_get(c, fd, err);
  if (!e) return NULL;
  if (e->kind != WFD_DIR) return *err = WASI_ENOTDIR, NULL;
  if ((*err = wasi_need(e, rights))) return NULL;
  return e;
}

/* The directory of `fd` (with `rights`), the guest's path in `slot`,
 * resolved to the directory holding its last component. */
static u32 at_of(rt_ctx_t *c, u32 fd, u64 rights, u32 path, u32 len, int slot, wasi_at_t *at) {
  u32 err;
  wasi_fd_t *e = dir_of(c, fd, rights, &err);
  if (!e) return err;
  if ((err = wasi_path_copy(c, path, len, slot))) return err;
  return wasi_resolve(c, e->host, slot, at);
}

static bool trailing_slash(const char *p) {
  size_t n = strlen(p);
  return n > 0 && p[n - 1] == '/';
}

/* The open flags of path_open's arguments, or -1 (EINVAL, EISDIR). */
static int open_flags(u32 oflags, u32 fdflags, bool write, bool read, u32 *err) {
  int fl = (write ? (read ? O_RDWR : O_WRONLY) : O_RDONLY) | O_NONBLOCK | O_NOCTTY;
  if (oflags & OFLAG_DIRECTORY) {
    if (oflags & (OFLAG_CREAT | OFLAG_EXCL | OFLAG_TRUNC)) return *err = WASI_EINVAL, -1;
    if (write) return *err = WASI_EISDIR, -1;
    fl |= O_DIRECTORY;
  }
  if (oflags & OFLAG_CREAT) fl |= O_CREAT;
  if (oflags & OFLAG_EXCL) fl |= O_EXCL;
  if (oflags & OFLAG_TRUNC) fl |= O_TRUNC;
  if (fdflags & FDFLAG_APPEND) fl |= O_APPEND;
  if (fdflags & FDFLAG_DSYNC) fl |= O_DSYNC;
  if (fdflags & (FDFLAG_SYNC | FDFLAG_RSYNC)) fl |= O_SYNC;
  return fl;
}

/* The new descriptor's rights: what was asked within what the directory
 * passes on, and only those its kind has. It opens for writing when they
 * include a right to change the file. */
u32 wasi_path_open(rt_ctx_t *c, u32 fd, u32 dirflags, u32 path, u32 len, u32 oflags, u64 base,
                   u64 inh, u32 fdflags, u32 out) {
  if ((oflags & ~15u) || (fdflags & ~31u) || (dirflags & ~1u)) return WASI_EINVAL;
  u32 err;
  u64 need = R_PATH_OPEN | ((oflags & OFLAG_CREAT) ? R_PATH_CREATE_FILE : 0) |
             ((oflags & OFLAG_TRUNC) ? R_PATH_FILESTAT_SET_SIZE : 0);
  wasi_fd_t *d = dir_of(c, fd, need, &err);
  if (!d) return err;
  int dir = d->host;
  u64 want = base & d->inh, pass = inh & d->inh;
  int fl = open_flags(oflags, fdflags, (want & R_WRITE_MODE) != 0,
                      (want & (R_FD_READ | R_FD_READDIR)) != 0, &err);
  if (fl < 0) return err;
  if (!wasi_mem(c, out, 4)) return WASI_EFAULT;
  if ((err = wasi_path_copy(c, path, len, 0))) return err;
  u32 nfd;
  wasi_fd_t *e = wasi_fd_new(c, &nfd, &err); /* d may move: only dir, want, pass from here */
  if (!e) return err;
  e->own = true; /* from the open on, the request's end closes it whatever happens */
  e->host = wasi_open_beneath(c, dir, 0, fl, (dirflags & LOOKUP_SYMLINK_FOLLOW) != 0, &err);
  struct stat st;
  if (e->host >= 0 && fstat(e->host, &st) != 0) err = wasi_errno(errno);
  if (e->host < 0 || err) {
    wasi_fd_drop(e);
    return err;
  }
  bool is_dir = S_ISDIR(st.st_mode);
  e->kind = is_dir ? WFD_DIR : WFD_FILE;
  e->filetype = wasi_filetype(st.st_mode);
  e->base = want & (is_dir ? R_DIR : R_FILE);
  e->inh = pass;
  e->flags = (uint16_t)fdflags;
  wasi_put32(c, out, nfd);
  return WASI_ESUCCESS;
}

u32 wasi_path_create_directory(rt_ctx_t *c, u32 fd, u32 path, u32 len) {
  wasi_at_t at;
  u32 err = at_of(c, fd, R_PATH_CREATE_DIRECTORY, path, len, 0, &at);
  if (err) return err;
  if (mkdirat(at.dir, at.name, 0777) != 0) err = wasi_errno(errno);
  wasi_at_done(c, &at);
  return err;
}

u32 wasi_path_remove_directory(rt_ctx_t *c, u32 fd, u32 path, u32 len) {
  wasi_at_t at;
  u32 err = at_of(c, fd, R_PATH_REMOVE_DIRECTORY, path, len, 0, &at);
  if (err) return err;
  if (unlinkat(at.dir, at.name, AT_REMOVEDIR) != 0) err = wasi_errno(errno);
  wasi_at_done(c, &at);
  return err;
}

/* What Linux answers for a name with a trailing slash where a new name or
 * a file is wanted: EEXIST or ENOENT (exists), EISDIR or ENOTDIR (dir). */
static u32 slashed(wasi_at_t *at, bool exists) {
  struct stat st;
  if (fstatat(at->dir, at->name, &st, AT_SYMLINK_NOFOLLOW) != 0) return wasi_errno(errno);
  if (exists) return WASI_EEXIST;
  return S_ISDIR(st.st_mode) ? WASI_EISDIR : WASI_ENOTDIR;
}

u32 wasi_path_unlink_file(rt_ctx_t *c, u32 fd, u32 path, u32 len) {
  wasi_at_t at;
  u32 err = at_of(c, fd, R_PATH_UNLINK_FILE, path, len, 0, &at);
  if (err) return err;
  if (at.slash) err = slashed(&at, false);
  else if (unlinkat(at.dir, at.name, 0) != 0) err = wasi_errno(errno);
  wasi_at_done(c, &at);
  return err;
}

/* The link's text is stored as given; an absolute one is refused (it
 * could never be followed here). Where it points is checked when it is
 * followed. */
u32 wasi_path_symlink(rt_ctx_t *c, u32 opath, u32 olen, u32 fd, u32 npath, u32 nlen) {
  u32 err;
  wasi_fd_t *d = dir_of(c, fd, R_PATH_SYMLINK, &err);
  if (!d) return err;
  if ((err = wasi_path_copy(c, opath, olen, 1))) return err;
  wasi_at_t at;
  if ((err = at_of(c, fd, R_PATH_SYMLINK, npath, nlen, 0, &at))) return err;
  if (at.slash) err = slashed(&at, true);
  else if (symlinkat(c->fds->path[1], at.dir, at.name) != 0) err = wasi_errno(errno);
  wasi_at_done(c, &at);
  return err;
}

/* The first `cap` bytes of the link's text (cut short silently, as
 * readlink does). */
u32 wasi_path_readlink(rt_ctx_t *c, u32 fd, u32 path, u32 len, u32 buf, u32 cap, u32 used) {
  uint8_t *out = wasi_mem(c, buf, cap);
  if (!out || !wasi_mem(c, used, 4)) return WASI_EFAULT;
  wasi_at_t at;
  u32 err = at_of(c, fd, R_PATH_READLINK, path, len, 0, &at);
  if (err) return err;
  ssize_t n = -1;
  if (at.slash) err = WASI_EINVAL; /* "x/" names a directory: not a link */
  else if ((n = readlinkat(at.dir, at.name, c->fds->link, sizeof(c->fds->link))) < 0)
    err = wasi_errno(errno);
  wasi_at_done(c, &at);
  if (err) return err;
  u32 k = (size_t)n < cap ? (u32)n : cap;
  memcpy(out, c->fds->link, k);
  wasi_put32(c, used, k);
  return WASI_ESUCCESS;
}

/* With SYMLINK_FOLLOW (or a trailing slash) the object is opened O_PATH,
 * following links inside the directory, and used through its descriptor;
 * without, the last component is used itself, AT_SYMLINK_NOFOLLOW. */
static u32 stat_or_touch(rt_ctx_t *c, u32 fd, u32 flags, u32 path, u32 len, u64 right,
                         struct stat *st, const struct timespec *ts) {
  if (flags & ~1u) return WASI_EINVAL;
  u32 err;
  wasi_fd_t *d = dir_of(c, fd, right, &err);
  if (!d) return err;
  if ((err = wasi_path_copy(c, path, len, 0))) return err;
  if ((flags & LOOKUP_SYMLINK_FOLLOW) || trailing_slash(c->fds->path[0])) {
    int h = wasi_open_beneath(c, d->host, 0, O_PATH, true, &err);
    if (h < 0) return err;
    wasi_tmp_hold(c->fds, h);
    int r = ts ? utimensat(h, "", ts, AT_EMPTY_PATH) : fstat(h, st);
    if (r != 0) err = wasi_errno(errno);
    wasi_tmp_close(c->fds, h);
    return err;
  }
  wasi_at_t at;
  if ((err = wasi_resolve(c, d->host, 0, &at))) return err;
  int r = ts ? utimensat(at.dir, at.name, ts, AT_SYMLINK_NOFOLLOW)
             : fstatat(at.dir, at.name, st, AT_SYMLINK_NOFOLLOW);
  if (r != 0) err = wasi_errno(errno);
  wasi_at_done(c, &at);
  return err;
}

u32 wasi_path_filestat_get(rt_ctx_t *c, u32 fd, u32 flags, u32 path, u32 len, u32 buf) {
  if (!wasi_mem(c, buf, 64)) return WASI_EFAULT;
  struct stat st;
  u32 err = stat_or_touch(c, fd, flags, path, len, R_PATH_FILESTAT_GET, &st, NULL);
  return err ? err : wasi_put_filestat(c, buf, &st);
}

u32 wasi_path_filestat_set_times(rt_ctx_t *c, u32 fd, u32 flags, u32 path, u32 len, u64 atim,
                                 u64 mtim, u32 fst) {
  struct timespec ts[2];
  u32 err = wasi_times(atim, mtim, fst, ts);
  return err ? err : stat_or_touch(c, fd, flags, path, len, R_PATH_FILESTAT_SET_TIMES, NULL, ts);
}

/* Hard links never follow a link (SYMLINK_FOLLOW is EINVAL). */
u32 wasi_path_link(rt_ctx_t *c, u32 ofd, u32 oflags, u32 opath, u32 olen, u32 nfd, u32 npath,
                   u32 nlen) {
  if (oflags) return WASI_EINVAL;
  wasi_at_t a, b;
  u32 err = at_of(c, ofd, R_PATH_LINK_SOURCE, opath, olen, 0, &a);
  if (err) return err;
  if (!(err = at_of(c, nfd, R_PATH_LINK_TARGET, npath, nlen, 1, &b))) {
    if (a.slash) err = slashed(&a, false) == WASI_EISDIR ? WASI_EPERM : slashed(&a, false);
    else if (b.slash) err = slashed(&b, true);
    else if (linkat(a.dir, a.name, b.dir, b.name, 0) != 0) err = wasi_errno(errno);
    wasi_at_done(c, &b);
  }
  wasi_at_done(c, &a);
  return err;
}

u32 wasi_path_rename(rt_ctx_t *c, u32 ofd, u32 opath, u32 olen, u32 nfd, u32 npath, u32 nlen) {
  wasi_at_t a, b;
  u32 err = at_of(c, ofd, R_PATH_RENAME_SOURCE, opath, olen, 0, &a);
  if (err) return err;
  if (!(err = at_of(c, nfd, R_PATH_RENAME_TARGET, npath, nlen, 1, &b))) {
    struct stat st;
    if ((a.slash || b.slash) && fstatat(a.dir, a.name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      err = wasi_errno(errno);
    else if ((a.slash || b.slash) && !S_ISDIR(st.st_mode))
      err = WASI_ENOTDIR;
    else if (renameat(a.dir, a.name, b.dir, b.name) != 0)
      err = wasi_errno(errno);
    wasi_at_done(c, &b);
  }
  wasi_at_done(c, &a);
  return err;
}
