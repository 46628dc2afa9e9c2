/* WASI: a descriptor's file calls: filestat, size, times, advice,
 * allocation, sync, and reading a directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wasi_calls.h"

/* Layout: dev, ino, u8 filetype at 16, nlink at 24, size, atim, mtim, ctim
 * (64 bytes). */
u32 wasi_put_filestat(rt_ctx_t *c, u32 buf, const struct stat *st) {
  uint8_t *p = wasi_mem(c, buf, 64);
  if (!p) return WASI_EFAULT;
  u64 v[8] = {0};
  if (st) {
    v[0] = (u64)st->st_dev;
    v[1] = (u64)st->st_ino;
    v[2] = wasi_filetype(st->st_mode);
    v[3] = (u64)st->st_nlink;
    v[4] = (u64)st->st_size;
    v[5] = (u64)st->st_atim.tv_sec * 1000000000u + (u64)st->st_atim.tv_nsec;
    v[6] = (u64)st->st_mtim.tv_sec * 1000000000u + (u64)st->st_mtim.tv_nsec;
    v[7] = (u64)st->st_ctim.tv_sec * 1000000000u + (u64)st->st_ctim.tv_nsec;
  }
  memcpy(p, v, 64); /* the filetype's u8 at 16 is v[2]'s low byte, the rest padding */
  return WASI_ESUCCESS;
}

u32 wasi_times(u64 atim, u64 mtim, u32 fst, struct timespec ts[2]) {
  if ((fst & ~15u) || (fst & (FST_ATIM | FST_ATIM_NOW)) == (FST_ATIM | FST_ATIM_NOW) ||
      (fst & (FST_MTIM | FST_MTIM_NOW)) == (FST_MTIM | FST_MTIM_NOW))
    return WASI_EINVAL;
  u64 t[2] = {atim, mtim};
  for (int i = 0; i < 2; i++) {
    u32 set = i ? FST_MTIM : FST_ATIM, now = i ? FST_MTIM_NOW : FST_ATIM_NOW;
    if (fst & set) ts[i] = (struct timespec){(time_t)(t[i] / 1000000000u),
                                             (long)(t[i] % 1000000000u)};
    else ts[i] = (struct timespec){0, (fst & now) ? UTIME_NOW : UTIME_OMIT};
  }
  return WASI_ESUCCESS;
}

/* The entry of `fd` if it has `rights` and is a regular file (or, with
 * `dirs`, a directory); NULL with *err. */
static wasi_fd_t *file(rt_ctx_t *c, u32 fd, u64 rights, bool dirs, u32 *err) {
  wasi_fd_t *e = wasi_fd_get(c, fd, err);
  if (!e) return NULL;
  if ((*err = wasi_need(e, rights))) return NULL;
  if (e->kind == WFD_FILE || (dirs && e->kind == WFD_DIR)) return e;
  *err = e->kind == WFD_DIR ? WASI_EISDIR : WASI_EBADF;
  return NULL;
}

/* A directory's readable descriptor. A preopen is the embedder's O_PATH
 * descriptor, shared by every request (its offset is not ours): it gets
 * one of its own, opened once. */
static int reader(wasi_fd_t *e) {
  if (!e->preopen) return e->host; /* opened by path_open, O_RDONLY: the request's own */
  if (e->reader < 0) e->reader = openat(e->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return e->reader;
}

u32 wasi_fd_filestat_get(rt_ctx_t *c, u32 fd, u32 buf) {
  wasi_fd_t tmp;
  const wasi_fd_t *e = wasi_fd_peek(c, fd, &tmp);
  if (!e) return WASI_EBADF;
  u32 err = wasi_need(e, R_FD_FILESTAT_GET);
  if (err) return err;
  if (e->host < 0) return wasi_put_filestat(c, buf, NULL); /* a stream: all zero, unknown */
  struct stat st;
  if (fstat(e->host, &st) != 0) return wasi_errno(errno);
  return wasi_put_filestat(c, buf, &st);
}

u32 wasi_fd_filestat_set_size(rt_ctx_t *c, u32 fd, u64 size) {
  u32 err;
  wasi_fd_t *e = file(c, fd, R_FD_FILESTAT_SET_SIZE, false, &err);
  if (!e) return err;
  if (size > INT64_MAX) return WASI_EINVAL;
  return ftruncate(e->host, (off_t)size) ? wasi_errno(errno) : WASI_ESUCCESS;
}

u32 wasi_fd_filestat_set_times(rt_ctx_t *c, u32 fd, u64 atim, u64 mtim, u32 fst) {
  u32 err;
  wasi_fd_t *e = file(c, fd, R_FD_FILESTAT_SET_TIMES, true, &err);
  if (!e) return err;
  struct timespec ts[2];
  if ((err = wasi_times(atim, mtim, fst, ts))) return err;
  int r = e->preopen ? utimensat(e->host, "", ts, AT_EMPTY_PATH) : futimens(e->host, ts);
  return r ? wasi_errno(errno) : WASI_ESUCCESS;
}

u32 wasi_fd_advise(rt_ctx_t *c, u32 fd, u64 off, u64 len, u32 advice) {
  u32 err;
  wasi_fd_t *e = file(c, fd, R_FD_ADVISE, false, &err);
  if (!e) return err;
  static const int adv[] = {POSIX_FADV_NORMAL, POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                            POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE};
  if (advice > 5 || off > INT64_MAX || len > INT64_MAX) return WASI_EINVAL;
  return wasi_errno(posix_fadvise(e->host, (off_t)off, (off_t)len, adv[advice]));
}

u32 wasi_fd_allocate(rt_ctx_t *c, u32 fd, u64 off, u64 len) {
  u32 err;
  wasi_fd_t *e = file(c, fd, R_FD_ALLOCATE, false, &err);
  if (!e) return err;
  if (off > INT64_MAX || len > INT64_MAX - off) return WASI_EINVAL;
  return fallocate(e->host, 0, (off_t)off, (off_t)len) ? wasi_errno(errno) : WASI_ESUCCESS;
}

static u32 sync_fd(rt_ctx_t *c, u32 fd, u64 right, bool data) {
  u32 err;
  wasi_fd_t *e = file(c, fd, right, true, &err);
  if (!e) return err;
  int h = e->kind == WFD_DIR ? reader(e) : e->host;
  if (h < 0 || (data ? fdatasync(h) : fsync(h)) != 0) return wasi_errno(errno);
  return WASI_ESUCCESS;
}

u32 wasi_fd_sync(rt_ctx_t *c, u32 fd) { return sync_fd(c, fd, R_FD_SYNC, false); }
u32 wasi_fd_datasync(rt_ctx_t *c, u32 fd) { return sync_fd(c, fd, R_FD_DATASYNC, true); }

static uint8_t dtype(int dir, const char *name, unsigned char t) {
  switch (t) {
  case DT_REG: return WASI_FILETYPE_REGULAR_FILE;
  case DT_DIR: return WASI_FILETYPE_DIRECTORY;
  case DT_LNK: return WASI_FILETYPE_SYMBOLIC_LINK;
  case DT_CHR: return WASI_FILETYPE_CHARACTER_DEVICE;
  case DT_BLK: return WASI_FILETYPE_BLOCK_DEVICE;
  case DT_SOCK: return WASI_FILETYPE_SOCKET_STREAM;
  case DT_UNKNOWN: {
    struct stat st;
    return fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) ? WASI_FILETYPE_UNKNOWN
                                                          : wasi_filetype(st.st_mode);
  }
  default: return WASI_FILETYPE_UNKNOWN;
  }
}

/* Entries from `cookie` (0: the first; else an entry's d_next, the
 * kernel's offset after it), each a 24-byte header (d_next, d_ino, u32
 * d_namlen, u8 d_type) and the name without NUL, as many as fit; the last
 * one cut at the buffer's end, so *used == len means there may be more. */
u32 wasi_fd_readdir(rt_ctx_t *c, u32 fd, u32 buf, u32 len, u64 cookie, u32 used) {
  u32 err;
  wasi_fd_t *e = wasi_fd_get(c, fd, &err);
  if (!e) return err;
  if ((err = wasi_need(e, R_FD_READDIR))) return err;
  if (e->kind != WFD_DIR) return WASI_ENOTDIR;
  uint8_t *out = wasi_mem(c, buf, len);
  if (!out || !wasi_mem(c, used, 4)) return WASI_EFAULT;
  int d = reader(e);
  if (d < 0 || lseek(d, (off_t)cookie, SEEK_SET) < 0) return wasi_errno(errno);
  char *dents = c->fds->path[0]; /* no path in this call: its buffer is free */
  u32 pos = 0;
  while (pos < len) {
    if (rt_timeout_pending(c)) return WASI_EINTR; /* a large directory: the trap is taken */
    long n = syscall(SYS_getdents64, d, dents, sizeof(c->fds->path[0]));
    if (n < 0) return wasi_errno(errno);
    if (n == 0) break;
    for (long k = 0; k < n && pos < len;) {
      struct dirent64 *de = (struct dirent64 *)(void *)(dents + k);
      k += de->d_reclen;
      u32 nl = (u32)strlen(de->d_name);
      uint8_t h[24] = {0};
      u64 next = (u64)de->d_off, ino = de->d_ino;
      memcpy(h, &next, 8);
      memcpy(h + 8, &ino, 8);
      memcpy(h + 16, &nl, 4);
      h[20] = dtype(d, de->d_name, de->d_type);
      u32 m = len - pos < 24 ? len - pos : 24;
      memcpy(out + pos, h, m);
      pos += m;
      m = len - pos < nl ? len - pos : nl;
      memcpy(out + pos, de->d_name, m);
      pos += m;
    }
  }
  wasi_put32(c, used, pos);
  return WASI_ESUCCESS;
}
