/* WASI: reading, writing and seeking. The streams: stdin is the request's
 * bytes, stdout and stderr go to the result's buffers (up to the request's
 * output limit). Files opened by the request: readv, writev, preadv,
 * pwritev and lseek on their host descriptors. Every iovec is checked
 * against the guest's memory before the first byte moves. The loops over
 * iovecs look at a pending timeout every RT_CHUNK_ITEMS entries and every
 * RT_CHUNK_BYTES bytes, and return early when there is one: the call's
 * RT_HOST_CALL then ends the request (the result is never seen). */
#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wasi_calls.h"

/* Append to a captured stream, keeping at most the request's limit. */
void wasi_capture(rt_ctx_t *c, int fd, const uint8_t *bytes, size_t n) {
  wrt_result_t *r = c->res;
  char **buf = fd == 1 ? &r->out : &r->err;
  size_t *len = fd == 1 ? &r->out_len : &r->err_len;
  size_t *cap = fd == 1 ? &r->out_cap : &r->err_cap;
  bool *trunc = fd == 1 ? &r->out_truncated : &r->err_truncated;
  size_t limit = c->req->output_limit ? c->req->output_limit : (16u << 20);
  debug_assert(*len <= limit && *len <= *cap); /* bounded; `limit - *len` below cannot wrap */
  if (*len + n > limit) {
    *trunc = true;
    n = limit - *len;
  }
  if (n == 0) return;
  if (*len + n > *cap) {
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < *len + n) ncap *= 2;
    char *nb = realloc(*buf, ncap);
    if (!nb) siglongjmp(c->jb, RT_JUMP_NOMEM); /* host memory ran out: WRT_ENOMEM */
    *buf = nb;
    *cap = ncap;
  }
  memcpy(*buf + *len, bytes, n);
  *len += n;
}

/* The guest's iovec array ({u32 buf, u32 len} each): every entry and every
 * buffer inside memory, or EFAULT. */
static u32 iovs_check(rt_ctx_t *c, u32 iovs, u32 n) {
  const uint8_t *a = wasi_mem(c, iovs, 8 * (u64)n);
  if (!a) return WASI_EFAULT;
  for (u32 i = 0; i < n; i++) {
    if (i % RT_CHUNK_ITEMS == 0 && rt_timeout_pending(c)) return WASI_EINTR;
    u32 b[2];
    memcpy(b, a + 8 * i, 8);
    if (!wasi_mem(c, b[0], b[1])) return WASI_EFAULT;
  }
  return WASI_ESUCCESS;
}

/* Entry i of an array iovs_check passed. */
static uint8_t *iov_at(rt_ctx_t *c, u32 iovs, u32 i, u32 *len) {
  u32 b[2] = {0, 0};
  const uint8_t *a = wasi_mem(c, iovs + 8 * i, 8);
  if (a) memcpy(b, a, 8);
  *len = b[1];
  return wasi_mem(c, b[0], b[1]);
}

/* A file's I/O over the iovecs, up to 32 and RT_CHUNK_BYTES a system
 * call; stops at a short transfer, at UINT32_MAX bytes (what the call's
 * u32 count can say), and at a pending timeout. `off` < 0: at the file's
 * position. */
static u32 file_io(rt_ctx_t *c, int host, u32 iovs, u32 n, bool write, int64_t off, u64 *done) {
  *done = 0;
  u32 i = 0;
  u64 skip = 0; /* bytes of iovec i already moved */
  while (i < n) {
    if (rt_timeout_pending(c)) return WASI_EINTR;
    struct iovec v[32];
    u32 k = 0;
    size_t want = 0;
    u64 room = UINT32_MAX - *done;
    if (room > RT_CHUNK_BYTES) room = RT_CHUNK_BYTES;
    u32 last = 0; /* the length of entry i + k - 1, as it was taken */
    for (; k < 32 && i + k < n && want < room; k++) {
      u32 len;
      uint8_t *p = iov_at(c, iovs, i + k, &len);
      u64 from = k == 0 ? skip : 0, take = len - from;
      /* A read may have rewritten the iovecs (they may lie in a buffer):
       * an entry no longer in memory, or now shorter than what was
       * moved of it, ends the transfer there. */
      if (!p || from > len) break;
      if (take > room - want) take = room - want;
      v[k].iov_base = p + from;
      v[k].iov_len = (size_t)take;
      want += (size_t)take;
      last = len;
    }
    if (k == 0) return *done || room == 0 ? WASI_ESUCCESS : WASI_EFAULT; /* a short transfer */
    ssize_t r;
    do {
      int64_t at = off + (int64_t)*done;
      r = off < 0 ? (write ? writev(host, v, (int)k) : readv(host, v, (int)k))
                  : (write ? pwritev(host, v, (int)k, at) : preadv(host, v, (int)k, at));
    } while (r < 0 && errno == EINTR && !rt_timeout_pending(c));
    if (r < 0) return *done ? WASI_ESUCCESS : wasi_errno(errno);
    *done += (u64)r;
    if ((size_t)r < want) break;
    /* Only the last entry may have been cut by `room`: go on from there. */
    u64 from = k == 1 ? skip : 0;
    if (from + v[k - 1].iov_len < last) {
      i += k - 1;
      skip = from + v[k - 1].iov_len;
    } else {
      i += k;
      skip = 0;
    }
  }
  return WASI_ESUCCESS;
}

static u32 rw(rt_ctx_t *c, u32 fd, u32 iovs, u32 n, bool write, int64_t off, u32 out) {
  wasi_fd_t tmp;
  const wasi_fd_t *e = wasi_fd_peek(c, fd, &tmp);
  if (!e) return WASI_EBADF;
  u32 err = wasi_need(e, (write ? R_FD_WRITE : R_FD_READ) | (off >= 0 ? R_FD_SEEK : 0));
  if (err) return err;
  if (e->kind == WFD_DIR) return WASI_EISDIR;
  if (off >= 0 && e->kind != WFD_FILE) return WASI_ESPIPE;
  if ((err = iovs_check(c, iovs, n))) return err;
  if (!wasi_mem(c, out, 4)) return WASI_EFAULT;
  u64 done = 0;
  if (e->kind == WFD_FILE) {
    err = file_io(c, e->host, iovs, n, write, off, &done);
  } else if (write && (e->kind == WFD_STDOUT || e->kind == WFD_STDERR)) {
    for (u32 i = 0; i < n && done < UINT32_MAX; i++) {
      if (i % RT_CHUNK_ITEMS == 0 && rt_timeout_pending(c)) return WASI_EINTR;
      u32 len;
      const uint8_t *p = iov_at(c, iovs, i, &len);
      if (len > UINT32_MAX - done) len = (u32)(UINT32_MAX - done); /* a short write */
      for (u32 at = 0; at < len;) {
        u32 k = len - at < RT_CHUNK_BYTES ? len - at : (u32)RT_CHUNK_BYTES;
        wasi_capture(c, e->kind == WFD_STDOUT ? 1 : 2, p + at, k);
        at += k;
        if (at < len && rt_timeout_pending(c)) return WASI_EINTR;
      }
      done += len;
    }
  } else if (!write && e->kind == WFD_STDIN) {
    const uint8_t *in = c->req->stdin_bytes;
    for (u32 i = 0; i < n && c->stdin_pos < c->req->stdin_len && done < UINT32_MAX; i++) {
      if (i % RT_CHUNK_ITEMS == 0 && rt_timeout_pending(c)) return WASI_EINTR;
      u32 len;
      uint8_t *p = iov_at(c, iovs, i, &len);
      if (!p) break; /* an entry this read rewrote out of the memory: a short read */
      if (len > UINT32_MAX - done) len = (u32)(UINT32_MAX - done); /* a short read */
      size_t left = c->req->stdin_len - c->stdin_pos, k = len < left ? len : left;
      memcpy(p, in + c->stdin_pos, k);
      c->stdin_pos += k;
      done += k;
    }
  } else {
    return WASI_EBADF;
  }
  if (err) return err;
  wasi_put32(c, out, (u32)done); /* at most UINT32_MAX: every loop above stops there */
  return WASI_ESUCCESS;
}

u32 wasi_fd_write(rt_ctx_t *c, u32 fd, u32 iovs, u32 n, u32 nwritten) {
  return rw(c, fd, iovs, n, true, -1, nwritten);
}

u32 wasi_fd_read(rt_ctx_t *c, u32 fd, u32 iovs, u32 n, u32 nread) {
  return rw(c, fd, iovs, n, false, -1, nread);
}

u32 wasi_fd_pwrite(rt_ctx_t *c, u32 fd, u32 iovs, u32 n, u64 off, u32 nwritten) {
  if (off > INT64_MAX) return WASI_EINVAL;
  return rw(c, fd, iovs, n, true, (int64_t)off, nwritten);
}

u32 wasi_fd_pread(rt_ctx_t *c, u32 fd, u32 iovs, u32 n, u64 off, u32 nread) {
  if (off > INT64_MAX) return WASI_EINVAL;
  return rw(c, fd, iovs, n, false, (int64_t)off, nread);
}

/* The streams are pipes: not seekable. A directory has no position.
 * Telling where one is (offset 0 from the current position) needs FD_SEEK
 * or FD_TELL. */
static u32 seek(rt_ctx_t *c, u32 fd, int64_t off, u32 whence, u32 out) {
  wasi_fd_t tmp;
  const wasi_fd_t *e = wasi_fd_peek(c, fd, &tmp);
  if (!e) return WASI_EBADF;
  if (e->kind != WFD_FILE && e->kind != WFD_DIR) return WASI_ESPIPE;
  bool tell = off == 0 && whence == 1;
  if (!(e->base & R_FD_SEEK) && !(tell && (e->base & R_FD_TELL))) return WASI_ENOTCAPABLE;
  if (e->kind == WFD_DIR) return WASI_EISDIR;
  if (whence > 2) return WASI_EINVAL;
  if (!wasi_mem(c, out, 8)) return WASI_EFAULT;
  static const int how[] = {SEEK_SET, SEEK_CUR, SEEK_END};
  off_t r = lseek(e->host, off, how[whence]);
  if (r < 0) return wasi_errno(errno);
  wasi_put64(c, out, (u64)r);
  return WASI_ESUCCESS;
}

u32 wasi_fd_seek(rt_ctx_t *c, u32 fd, u64 off, u32 whence, u32 newoff) {
  return seek(c, fd, (int64_t)off, whence, newoff);
}

u32 wasi_fd_tell(rt_ctx_t *c, u32 fd, u32 off) { return seek(c, fd, 0, 1, off); }
