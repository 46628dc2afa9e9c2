/* The request's descriptor table: the three streams (0, 1, 2), the
 * preopened directories (3, 4, ...) and what the guest opens, with their
 * rights; fdstat, prestat, close and renumber.
 *
 * A request that never changes its table has none: lookups read the
 * streams and the preopens from templates, so a guest that opens no file
 * costs no allocation and no system call. The first change (an open, a
 * close, a renumber, new flags or rights, a path) makes the table, and the
 * request's end (rt_wasi_end, on every way out: exit, trap, out of memory)
 * closes every host descriptor the request opened and frees it. Preopens
 * are the embedder's descriptors, borrowed: never closed here. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi_abi.h"

#define STREAM_RIGHTS (R_FD_FDSTAT_SET_FLAGS | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE)

static const wasi_fd_t streams[3] = {
    {.base = R_FD_READ | STREAM_RIGHTS, .host = -1, .reader = -1, .kind = WFD_STDIN},
    {.base = R_FD_WRITE | STREAM_RIGHTS, .host = -1, .reader = -1, .kind = WFD_STDOUT},
    {.base = R_FD_WRITE | STREAM_RIGHTS, .host = -1, .reader = -1, .kind = WFD_STDERR},
};

static void preopen(const wrt_request_t *r, u32 i, wasi_fd_t *e) {
  u64 drop = r->dirs[i].read_only ? R_MUTATE : 0;
  *e = (wasi_fd_t){.base = R_DIR & ~drop, .inh = (R_DIR | R_FILE) & ~drop,
                   .host = r->dirs[i].fd, .reader = -1, .preopen = i + 1, .kind = WFD_DIR,
                   .filetype = WASI_FILETYPE_DIRECTORY};
}

int rt_wasi_check(const wrt_request_t *r) {
  if (r->ndirs > WRT_MAX_DIRS)
    return rt_error(WRT_EINVAL, "wrt_run: %u dirs, more than WRT_MAX_DIRS (%d)", r->ndirs,
                    WRT_MAX_DIRS);
  if (r->ndirs && !r->dirs) return rt_error(WRT_EINVAL, "wrt_run: ndirs %u, dirs NULL", r->ndirs);
  if (r->max_fds && (r->max_fds < 3 + r->ndirs || r->max_fds > 65536))
    return rt_error(WRT_EINVAL, "wrt_run: max_fds %u is not within 3 + ndirs (%u) and 65536",
                    r->max_fds, 3 + r->ndirs);
  for (u32 i = 0; i < r->ndirs; i++) {
    const char *g = r->dirs[i].guest_path;
    size_t n = g ? strnlen(g, 1025) : 0;
    if (n == 0 || n > 1024)
      return rt_error(WRT_EINVAL, "wrt_run: dir %u: guest_path is %s", i,
                      n ? "longer than 1024 bytes" : "empty or NULL");
    if (r->dirs[i].fd < 0) return rt_error(WRT_EINVAL, "wrt_run: dir %u: fd %d", i, r->dirs[i].fd);
  }
  return 0;
}

u32 wasi_errno(int e) {
  switch (e) {
  case 0: return WASI_ESUCCESS;
  case E2BIG: return WASI_E2BIG;
  case EACCES: return WASI_EACCES;
  case EAGAIN: return WASI_EAGAIN;
  case EBADF: return WASI_EBADF;
  case EBUSY: return WASI_EBUSY;
  case EDQUOT: return WASI_EDQUOT;
  case EEXIST: return WASI_EEXIST;
  case EFAULT: return WASI_EFAULT;
  case EFBIG: return WASI_EFBIG;
  case EILSEQ: return WASI_EILSEQ;
  case EINTR: return WASI_EINTR;
  case EINVAL: return WASI_EINVAL;
  case EISDIR: return WASI_EISDIR;
  case ELOOP: return WASI_ELOOP;
  case EMFILE: return WASI_EMFILE;
  case EMLINK: return WASI_EMLINK;
  case ENAMETOOLONG: return WASI_ENAMETOOLONG;
  case ENFILE: return WASI_ENFILE;
  case ENODEV: return WASI_ENODEV;
  case ENOENT: return WASI_ENOENT;
  case ENOMEM: return WASI_ENOMEM;
  case ENOSPC: return WASI_ENOSPC;
  case ENOSYS: return WASI_ENOSYS;
  case ENOTDIR: return WASI_ENOTDIR;
  case ENOTEMPTY: return WASI_ENOTEMPTY;
  case ENOTSOCK: return WASI_ENOTSOCK;
  case EOPNOTSUPP: return WASI_ENOTSUP;
  case ENOTTY: return WASI_ENOTTY;
  case ENXIO: return WASI_ENXIO;
  case EOVERFLOW: return WASI_EOVERFLOW;
  case EPERM: return WASI_EPERM;
  case EPIPE: return WASI_EPIPE;
  case EROFS: return WASI_EROFS;
  case ESPIPE: return WASI_ESPIPE;
  case ESTALE: return WASI_ESTALE;
  case ETXTBSY: return WASI_ETXTBSY;
  case EXDEV: return WASI_EXDEV;
  default: return WASI_EIO;
  }
}

uint8_t wasi_filetype(unsigned mode) {
  switch (mode & S_IFMT) {
  case S_IFREG: return WASI_FILETYPE_REGULAR_FILE;
  case S_IFDIR: return WASI_FILETYPE_DIRECTORY;
  case S_IFLNK: return WASI_FILETYPE_SYMBOLIC_LINK;
  case S_IFCHR: return WASI_FILETYPE_CHARACTER_DEVICE;
  case S_IFBLK: return WASI_FILETYPE_BLOCK_DEVICE;
  case S_IFSOCK: return WASI_FILETYPE_SOCKET_STREAM;
  default: return WASI_FILETYPE_UNKNOWN;
  }
}

const wasi_fd_t *wasi_fd_peek(rt_ctx_t *c, u32 fd, wasi_fd_t *tmp) {
  wasi_fds_t *f = c->fds;
  if (f) return fd < f->n && f->v[fd].kind != WFD_FREE ? &f->v[fd] : NULL;
  if (fd < 3) return &streams[fd];
  if (fd - 3 < c->req->ndirs) {
    preopen(c->req, fd - 3, tmp);
    return tmp;
  }
  return NULL;
}

wasi_fds_t *wasi_fds(rt_ctx_t *c) {
  if (c->fds) return c->fds;
  const wrt_request_t *r = c->req;
  u32 n = 3 + r->ndirs, cap = n < 16 ? 16 : n;
  wasi_fds_t *f = malloc(sizeof(*f));
  wasi_fd_t *v = malloc(cap * sizeof(*v));
  if (!f || !v) {
    free(f), free(v);
    c->host_failures++; /* the guest sees ENOMEM: not a snapshot's to keep */
    return NULL;
  }
  for (u32 i = 0; i < n; i++) {
    if (i < 3) v[i] = streams[i];
    else preopen(r, i - 3, &v[i]);
  }
  *f = (wasi_fds_t){.v = v, .n = n, .cap = cap, .max = r->max_fds ? r->max_fds : WRT_MAX_FDS};
  c->fds = f;
  return f;
}

bool wasi_fds_is_valid(const rt_ctx_t *c) {
  const wasi_fds_t *f = c->fds;
  if (!f) return true;
  if (f->n > f->cap || f->n > f->max || f->ntmp > sizeof(f->tmp) / sizeof(f->tmp[0])) return false;
  for (u32 i = 0; i < f->n; i++) {
    const wasi_fd_t *e = &f->v[i];
    bool stream = e->kind >= WFD_STDIN && e->kind <= WFD_STDERR;
    if (e->kind > WFD_FILE || (e->reader >= 0 && e->kind != WFD_DIR)) return false;
    if (e->kind == WFD_FREE && (e->host != -1 || e->reader != -1 || e->own || e->preopen))
      return false;
    if (stream ? e->host != -1 || e->own : e->kind != WFD_FREE && e->host < 0) return false;
    if (e->preopen && (e->kind != WFD_DIR || e->own || e->preopen > c->req->ndirs ||
                       e->host != c->req->dirs[e->preopen - 1].fd))
      return false;
  }
  return true;
}

wasi_fd_t *wasi_fd_get(rt_ctx_t *c, u32 fd, u32 *err) {
  wasi_fds_t *f = wasi_fds(c);
  if (!f) return *err = WASI_ENOMEM, NULL;
  debug_assert(f->n <= f->cap && f->n <= f->max); /* so v[fd] below is allocated */
  if (fd >= f->n || f->v[fd].kind == WFD_FREE) return *err = WASI_EBADF, NULL;
  return &f->v[fd];
}

wasi_fd_t *wasi_fd_new(rt_ctx_t *c, u32 *fd, u32 *err) {
  wasi_fds_t *f = wasi_fds(c);
  if (!f) return *err = WASI_ENOMEM, NULL;
  debug_assert_expensive(wasi_fds_is_valid(c));
  u32 i = 0;
  while (i < f->n && f->v[i].kind != WFD_FREE) i++;
  if (i == f->n) {
    if (f->n >= f->max) return *err = WASI_EMFILE, NULL;
    if (f->n == f->cap) {
      u32 cap = f->cap * 2 < f->max ? f->cap * 2 : f->max;
      wasi_fd_t *v = realloc(f->v, cap * sizeof(*v));
      if (!v) {
        c->host_failures++;
        return *err = WASI_ENOMEM, NULL;
      }
      f->v = v;
      f->cap = cap;
    }
    f->n++;
  }
  f->v[i] = (wasi_fd_t){.host = -1, .reader = -1};
  *fd = i;
  return &f->v[i];
}

void wasi_fd_drop(wasi_fd_t *e) {
  if (e->own && e->host >= 0) close(e->host);
  if (e->reader >= 0) close(e->reader);
  *e = (wasi_fd_t){.host = -1, .reader = -1};
}

void wasi_tmp_hold(wasi_fds_t *f, int fd) {
  if (f->ntmp < sizeof(f->tmp) / sizeof(f->tmp[0])) f->tmp[f->ntmp++] = fd;
}

void wasi_tmp_close(wasi_fds_t *f, int fd) {
  for (u32 i = f->ntmp; i-- > 0;)
    if (f->tmp[i] == fd) {
      f->tmp[i] = f->tmp[--f->ntmp];
      break;
    }
  close(fd);
}

void rt_wasi_end(rt_ctx_t *c) {
  wasi_fds_t *f = c->fds;
  if (!f) return;
  debug_assert_expensive(wasi_fds_is_valid(c)); /* what is closed below is the request's own */
  for (u32 i = 0; i < f->n; i++) wasi_fd_drop(&f->v[i]);
  for (u32 i = 0; i < f->ntmp; i++) close(f->tmp[i]);
  free(f->v);
  free(f);
  c->fds = NULL;
}

u32 wasi_fd_close(rt_ctx_t *c, u32 fd) {
  u32 err;
  wasi_fd_t *e = wasi_fd_get(c, fd, &err);
  if (!e) return err;
  wasi_fd_drop(e);
  return WASI_ESUCCESS;
}

/* `to` must be open too; what it was is closed. */
u32 wasi_fd_renumber(rt_ctx_t *c, u32 from, u32 to) {
  u32 err;
  wasi_fd_t *a = wasi_fd_get(c, from, &err);
  if (!a) return err;
  wasi_fd_t *b = wasi_fd_get(c, to, &err);
  if (!b) return err;
  if (a == b) return WASI_ESUCCESS;
  wasi_fd_drop(b);
  *b = *a;
  *a = (wasi_fd_t){.host = -1, .reader = -1};
  debug_assert_expensive(wasi_fds_is_valid(c));
  return WASI_ESUCCESS;
}

/* Layout: u8 filetype, u16 flags at 2, u64 rights_base at 8, u64
 * rights_inheriting at 16 (24 bytes). */
u32 wasi_fd_fdstat_get(rt_ctx_t *c, u32 fd, u32 buf) {
  wasi_fd_t tmp;
  const wasi_fd_t *e = wasi_fd_peek(c, fd, &tmp);
  if (!e) return WASI_EBADF;
  uint8_t *p = wasi_mem(c, buf, 24);
  if (!p) return WASI_EFAULT;
  memset(p, 0, 24);
  p[0] = e->filetype;
  memcpy(p + 2, &e->flags, 2);
  memcpy(p + 8, &e->base, 8);
  memcpy(p + 16, &e->inh, 8);
  return WASI_ESUCCESS;
}

/* APPEND and NONBLOCK may change; the synchronous-write flags are fixed
 * at open (Linux ignores them in F_SETFL). Host descriptors stay
 * O_NONBLOCK whatever the guest asks (see wasi_fs.c). */
u32 wasi_fd_fdstat_set_flags(rt_ctx_t *c, u32 fd, u32 flags) {
  u32 err;
  wasi_fd_t *e = wasi_fd_get(c, fd, &err);
  if (!e) return err;
  if ((err = wasi_need(e, R_FD_FDSTAT_SET_FLAGS))) return err;
  if (flags & ~31u) return WASI_EINVAL;
  if ((flags ^ e->flags) & (FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC)) return WASI_ENOTSUP;
  if (e->kind == WFD_FILE && ((flags ^ e->flags) & FDFLAG_APPEND)) {
    int fl = fcntl(e->host, F_GETFL);
    if (fl < 0 || fcntl(e->host, F_SETFL, (flags & FDFLAG_APPEND) ? fl | O_APPEND
                                                                  : fl & ~O_APPEND) < 0)
      return wasi_errno(errno);
  }
  e->flags = (uint16_t)flags;
  return WASI_ESUCCESS;
}

/* Rights only ever shrink. */
u32 wasi_fd_fdstat_set_rights(rt_ctx_t *c, u32 fd, u64 base, u64 inh) {
  u32 err;
  wasi_fd_t *e = wasi_fd_get(c, fd, &err);
  if (!e) return err;
  if ((base & ~e->base) || (inh & ~e->inh)) return WASI_ENOTCAPABLE;
  e->base = base;
  e->inh = inh;
  return WASI_ESUCCESS;
}

/* Layout: u8 tag (0: a directory), u32 name length at 4. */
u32 wasi_fd_prestat_get(rt_ctx_t *c, u32 fd, u32 buf) {
  wasi_fd_t tmp;
  const wasi_fd_t *e = wasi_fd_peek(c, fd, &tmp);
  if (!e || !e->preopen) return WASI_EBADF;
  uint8_t *p = wasi_mem(c, buf, 8);
  if (!p) return WASI_EFAULT;
  u32 len = (u32)strlen(c->req->dirs[e->preopen - 1].guest_path);
  memset(p, 0, 8);
  memcpy(p + 4, &len, 4);
  return WASI_ESUCCESS;
}

u32 wasi_fd_prestat_dir_name(rt_ctx_t *c, u32 fd, u32 path, u32 len) {
  wasi_fd_t tmp;
  const wasi_fd_t *e = wasi_fd_peek(c, fd, &tmp);
  if (!e || !e->preopen) return WASI_EBADF;
  const char *name = c->req->dirs[e->preopen - 1].guest_path;
  size_t n = strlen(name);
  if (len < n) return WASI_ENAMETOOLONG;
  uint8_t *p = wasi_mem(c, path, n);
  if (!p) return WASI_EFAULT;
  memcpy(p, name, n);
  return WASI_ESUCCESS;
}
