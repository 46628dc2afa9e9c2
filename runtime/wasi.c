/* WASI preview 1: the subset wasi-libc's command programs use, per request.
 *
 * The generated code calls Z_wasi_snapshot_preview1Z_<name>(wasi, ...) for
 * each import, `wasi` being the pointer the runtime passed to instantiate:
 * here the request's rt_ctx_t. Arguments, environment and stdin come from
 * the request; stdout and stderr go to the result's buffers. There is no
 * file system (no preopened directories) and no sockets: every other call
 * returns ENOSYS. Every guest pointer is checked against the memory's
 * current size (EFAULT), so a guest cannot make the host fault.
 *
 * Every function the generated code calls begins with RT_HOST_CALL()
 * (rt_internal.h): its stack budget, and a timeout taken at its return. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "rt_internal.h"

typedef uint32_t u32;
typedef uint64_t u64;
typedef struct Z_wasi_snapshot_preview1_instance_t wasi_t;

/* WASI errno values. */
enum {
  WASI_ESUCCESS = 0,
  WASI_EBADF = 8,
  WASI_EFAULT = 21,
  WASI_EINVAL = 28,
  WASI_EIO = 29,
  WASI_ENOSYS = 52,
  WASI_ESPIPE = 70,
};

static rt_ctx_t *ctx(wasi_t *w) { return (rt_ctx_t *)(void *)w; }

/* `len` bytes of guest memory at `addr`, or NULL when any is out of bounds. */
static uint8_t *gptr(rt_ctx_t *c, u32 addr, u64 len) {
  if (!c->mem || (u64)addr + len > c->mem->size) return NULL;
  return c->mem->data + addr;
}

static bool put32(rt_ctx_t *c, u32 addr, u32 v) {
  uint8_t *p = gptr(c, addr, 4);
  if (!p) return false;
  memcpy(p, &v, 4); /* wasm is little-endian, like the hosts we build for */
  return true;
}

static bool put64(rt_ctx_t *c, u32 addr, u64 v) {
  uint8_t *p = gptr(c, addr, 8);
  if (!p) return false;
  memcpy(p, &v, 8);
  return true;
}

static bool get32(rt_ctx_t *c, u32 addr, u32 *v) {
  uint8_t *p = gptr(c, addr, 4);
  if (!p) return false;
  memcpy(v, p, 4);
  return true;
}

/* argv / environ: sizes, then the pointer array and the strings. */
static u32 strings_sizes(rt_ctx_t *c, const char *const *v, u32 n, u32 count_ptr, u32 size_ptr) {
  u64 bytes = 0;
  for (u32 i = 0; i < n; i++) bytes += strlen(v[i]) + 1;
  if (bytes > UINT32_MAX) return WASI_EINVAL;
  if (!put32(c, count_ptr, n) || !put32(c, size_ptr, (u32)bytes)) return WASI_EFAULT;
  return WASI_ESUCCESS;
}

static u32 strings_get(rt_ctx_t *c, const char *const *v, u32 n, u32 ptrs, u32 buf) {
  u32 at = buf;
  for (u32 i = 0; i < n; i++) {
    size_t len = strlen(v[i]) + 1;
    uint8_t *dst = gptr(c, at, len);
    if (!dst || !put32(c, ptrs + 4 * i, at)) return WASI_EFAULT;
    memcpy(dst, v[i], len);
    at += (u32)len;
  }
  return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_args_sizes_get(wasi_t *w, u32 argc_ptr, u32 size_ptr) {
  RT_HOST_CALL();
  rt_ctx_t *c = ctx(w);
  return strings_sizes(c, c->req->argv, c->req->argc, argc_ptr, size_ptr);
}

u32 Z_wasi_snapshot_preview1Z_args_get(wasi_t *w, u32 argv_ptr, u32 buf) {
  RT_HOST_CALL();
  rt_ctx_t *c = ctx(w);
  return strings_get(c, c->req->argv, c->req->argc, argv_ptr, buf);
}

u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(wasi_t *w, u32 count_ptr, u32 size_ptr) {
  RT_HOST_CALL();
  rt_ctx_t *c = ctx(w);
  return strings_sizes(c, c->req->envp, c->req->envc, count_ptr, size_ptr);
}

u32 Z_wasi_snapshot_preview1Z_environ_get(wasi_t *w, u32 env_ptr, u32 buf) {
  RT_HOST_CALL();
  rt_ctx_t *c = ctx(w);
  return strings_get(c, c->req->envp, c->req->envc, env_ptr, buf);
}

static clockid_t clock_of(u32 id, bool *ok) {
  *ok = true;
  switch (id) {
  case 0: return CLOCK_REALTIME;
  case 1: return CLOCK_MONOTONIC;
  case 2: return CLOCK_PROCESS_CPUTIME_ID;
  case 3: return CLOCK_THREAD_CPUTIME_ID;
  default: *ok = false; return CLOCK_MONOTONIC;
  }
}

u32 Z_wasi_snapshot_preview1Z_clock_res_get(wasi_t *w, u32 id, u32 res_ptr) {
  RT_HOST_CALL();
  bool ok;
  struct timespec ts;
  clockid_t clk = clock_of(id, &ok);
  if (!ok) return WASI_EINVAL;
  if (clock_getres(clk, &ts) != 0) return WASI_EIO;
  return put64(ctx(w), res_ptr, (u64)ts.tv_sec * 1000000000u + (u64)ts.tv_nsec) ? WASI_ESUCCESS
                                                                               : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_clock_time_get(wasi_t *w, u32 id, u64 precision, u32 time_ptr) {
  RT_HOST_CALL();
  (void)precision;
  bool ok;
  struct timespec ts;
  clockid_t clk = clock_of(id, &ok);
  if (!ok) return WASI_EINVAL;
  if (clock_gettime(clk, &ts) != 0) return WASI_EIO;
  return put64(ctx(w), time_ptr, (u64)ts.tv_sec * 1000000000u + (u64)ts.tv_nsec) ? WASI_ESUCCESS
                                                                                : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_random_get(wasi_t *w, u32 buf, u32 len) {
  RT_HOST_CALL();
  uint8_t *p = gptr(ctx(w), buf, len);
  if (!p) return WASI_EFAULT;
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return WASI_EIO;
    }
    p += n;
    len -= (u32)n;
  }
  return WASI_ESUCCESS;
}

/* Append to a captured stream, keeping at most the request's limit. */
static void capture(rt_ctx_t *c, int fd, const uint8_t *bytes, size_t n) {
  wrt_result_t *r = c->res;
  char **buf = fd == 1 ? &r->out : &r->err;
  size_t *len = fd == 1 ? &r->out_len : &r->err_len;
  size_t *cap = fd == 1 ? &r->out_cap : &r->err_cap;
  bool *trunc = fd == 1 ? &r->out_truncated : &r->err_truncated;
  size_t limit = c->req->output_limit ? c->req->output_limit : (16u << 20);
  if (*len + n > limit) {
    *trunc = true;
    n = limit - *len;
  }
  if (n == 0) return;
  if (*len + n > *cap) {
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < *len + n) ncap *= 2;
    char *nb = realloc(*buf, ncap);
    if (!nb) {
      /* Host memory ran out: end the request with WRT_ENOMEM. */
      siglongjmp(c->jb, RT_JUMP_NOMEM);
    }
    *buf = nb;
    *cap = ncap;
  }
  memcpy(*buf + *len, bytes, n);
  *len += n;
}

/* Walk an iovec array: each entry is {u32 buf, u32 len}. */
u32 Z_wasi_snapshot_preview1Z_fd_write(wasi_t *w, u32 fd, u32 iovs, u32 niovs, u32 nwritten) {
  RT_HOST_CALL();
  rt_ctx_t *c = ctx(w);
  if (fd != 1 && fd != 2) return WASI_EBADF;
  u64 total = 0;
  for (u32 i = 0; i < niovs; i++) {
    u32 base, len;
    if (!get32(c, iovs + 8 * i, &base) || !get32(c, iovs + 8 * i + 4, &len)) return WASI_EFAULT;
    const uint8_t *p = gptr(c, base, len);
    if (!p) return WASI_EFAULT;
    capture(c, (int)fd, p, len);
    total += len;
  }
  return put32(c, nwritten, (u32)total) ? WASI_ESUCCESS : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_fd_read(wasi_t *w, u32 fd, u32 iovs, u32 niovs, u32 nread) {
  RT_HOST_CALL();
  rt_ctx_t *c = ctx(w);
  if (fd != 0) return WASI_EBADF;
  const uint8_t *in = c->req->stdin_bytes;
  size_t left = c->req->stdin_len - c->stdin_pos;
  u64 total = 0;
  for (u32 i = 0; i < niovs && left > 0; i++) {
    u32 base, len;
    if (!get32(c, iovs + 8 * i, &base) || !get32(c, iovs + 8 * i + 4, &len)) return WASI_EFAULT;
    uint8_t *p = gptr(c, base, len);
    if (!p) return WASI_EFAULT;
    size_t n = len < left ? len : left;
    memcpy(p, in + c->stdin_pos, n);
    c->stdin_pos += n;
    left -= n;
    total += n;
  }
  return put32(c, nread, (u32)total) ? WASI_ESUCCESS : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_fd_close(wasi_t *w, u32 fd) {
  RT_HOST_CALL();
  (void)w;
  return fd <= 2 ? WASI_ESUCCESS : WASI_EBADF;
}

/* stdin, stdout and stderr are pipes: not seekable. */
u32 Z_wasi_snapshot_preview1Z_fd_seek(wasi_t *w, u32 fd, u64 offset, u32 whence, u32 newoff) {
  RT_HOST_CALL();
  (void)w, (void)offset, (void)whence, (void)newoff;
  return fd <= 2 ? WASI_ESPIPE : WASI_EBADF;
}

/* The three streams are reported as filetype "unknown" (like a pipe), so
 * wasi-libc buffers stdout fully, as a native program writing to a pipe
 * does. Layout: u8 filetype, u16 flags at 2, u64 rights_base at 8, u64
 * rights_inheriting at 16 (24 bytes). */
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(wasi_t *w, u32 fd, u32 buf) {
  RT_HOST_CALL();
  rt_ctx_t *c = ctx(w);
  if (fd > 2) return WASI_EBADF;
  uint8_t *p = gptr(c, buf, 24);
  if (!p) return WASI_EFAULT;
  memset(p, 0, 24);
  u64 rights = fd == 0 ? (1u << 1) /* FD_READ */ : (1u << 6) /* FD_WRITE */;
  memcpy(p + 8, &rights, 8);
  return WASI_ESUCCESS;
}

/* No preopened directories: wasi-libc asks from fd 3 until EBADF. */
u32 Z_wasi_snapshot_preview1Z_fd_prestat_get(wasi_t *w, u32 fd, u32 buf) {
  RT_HOST_CALL();
  (void)w, (void)fd, (void)buf;
  return WASI_EBADF;
}

u32 Z_wasi_snapshot_preview1Z_fd_prestat_dir_name(wasi_t *w, u32 fd, u32 path, u32 len) {
  RT_HOST_CALL();
  (void)w, (void)fd, (void)path, (void)len;
  return WASI_EBADF;
}

void Z_wasi_snapshot_preview1Z_proc_exit(wasi_t *w, u32 code) {
  RT_HOST_CALL();
  rt_ctx_t *c = ctx(w);
  c->exit_code = (int32_t)code;
  siglongjmp(c->jb, RT_JUMP_EXIT);
}

u32 Z_wasi_snapshot_preview1Z_sched_yield(wasi_t *w) {
  RT_HOST_CALL();
  (void)w;
  return WASI_ESUCCESS;
}

/* The rest of preview 1: ENOSYS. */
#define NOSYS(name, params, ...)                                          \
  u32 Z_wasi_snapshot_preview1Z_##name params {                           \
    RT_HOST_CALL();                                                       \
    (void)w;                                                              \
    __VA_ARGS__;                                                          \
    return WASI_ENOSYS;                                                   \
  }
NOSYS(fd_advise, (wasi_t *w, u32 a, u64 b, u64 d, u32 e), (void)a, (void)b, (void)d, (void)e)
NOSYS(fd_allocate, (wasi_t *w, u32 a, u64 b, u64 d), (void)a, (void)b, (void)d)
NOSYS(fd_datasync, (wasi_t *w, u32 a), (void)a)
NOSYS(fd_fdstat_set_flags, (wasi_t *w, u32 a, u32 b), (void)a, (void)b)
NOSYS(fd_fdstat_set_rights, (wasi_t *w, u32 a, u64 b, u64 d), (void)a, (void)b, (void)d)
NOSYS(fd_filestat_get, (wasi_t *w, u32 a, u32 b), (void)a, (void)b)
NOSYS(fd_filestat_set_size, (wasi_t *w, u32 a, u64 b), (void)a, (void)b)
NOSYS(fd_filestat_set_times, (wasi_t *w, u32 a, u64 b, u64 d, u32 e), (void)a, (void)b, (void)d,
      (void)e)
NOSYS(fd_pread, (wasi_t *w, u32 a, u32 b, u32 d, u64 e, u32 f), (void)a, (void)b, (void)d, (void)e,
      (void)f)
NOSYS(fd_pwrite, (wasi_t *w, u32 a, u32 b, u32 d, u64 e, u32 f), (void)a, (void)b, (void)d,
      (void)e, (void)f)
NOSYS(fd_readdir, (wasi_t *w, u32 a, u32 b, u32 d, u64 e, u32 f), (void)a, (void)b, (void)d,
      (void)e, (void)f)
NOSYS(fd_renumber, (wasi_t *w, u32 a, u32 b), (void)a, (void)b)
NOSYS(fd_sync, (wasi_t *w, u32 a), (void)a)
NOSYS(fd_tell, (wasi_t *w, u32 a, u32 b), (void)a, (void)b)
NOSYS(path_create_directory, (wasi_t *w, u32 a, u32 b, u32 d), (void)a, (void)b, (void)d)
NOSYS(path_filestat_get, (wasi_t *w, u32 a, u32 b, u32 d, u32 e, u32 f), (void)a, (void)b, (void)d,
      (void)e, (void)f)
NOSYS(path_filestat_set_times, (wasi_t *w, u32 a, u32 b, u32 d, u32 e, u64 f, u64 g, u32 h),
      (void)a, (void)b, (void)d, (void)e, (void)f, (void)g, (void)h)
NOSYS(path_link, (wasi_t *w, u32 a, u32 b, u32 d, u32 e, u32 f, u32 g, u32 h), (void)a, (void)b,
      (void)d, (void)e, (void)f, (void)g, (void)h)
NOSYS(path_open, (wasi_t *w, u32 a, u32 b, u32 d, u32 e, u32 f, u64 g, u64 h, u32 i, u32 j),
      (void)a, (void)b, (void)d, (void)e, (void)f, (void)g, (void)h, (void)i, (void)j)
NOSYS(path_readlink, (wasi_t *w, u32 a, u32 b, u32 d, u32 e, u32 f, u32 g), (void)a, (void)b,
      (void)d, (void)e, (void)f, (void)g)
NOSYS(path_remove_directory, (wasi_t *w, u32 a, u32 b, u32 d), (void)a, (void)b, (void)d)
NOSYS(path_rename, (wasi_t *w, u32 a, u32 b, u32 d, u32 e, u32 f, u32 g), (void)a, (void)b,
      (void)d, (void)e, (void)f, (void)g)
NOSYS(path_symlink, (wasi_t *w, u32 a, u32 b, u32 d, u32 e, u32 f), (void)a, (void)b, (void)d,
      (void)e, (void)f)
NOSYS(path_unlink_file, (wasi_t *w, u32 a, u32 b, u32 d), (void)a, (void)b, (void)d)
NOSYS(poll_oneoff, (wasi_t *w, u32 a, u32 b, u32 d, u32 e), (void)a, (void)b, (void)d, (void)e)
NOSYS(proc_raise, (wasi_t *w, u32 a), (void)a)
NOSYS(sock_accept, (wasi_t *w, u32 a, u32 b, u32 d), (void)a, (void)b, (void)d)
NOSYS(sock_recv, (wasi_t *w, u32 a, u32 b, u32 d, u32 e, u32 f, u32 g), (void)a, (void)b, (void)d,
      (void)e, (void)f, (void)g)
NOSYS(sock_send, (wasi_t *w, u32 a, u32 b, u32 d, u32 e, u32 f), (void)a, (void)b, (void)d, (void)e,
      (void)f)
NOSYS(sock_shutdown, (wasi_t *w, u32 a, u32 b), (void)a, (void)b)

/* Every function above with its wasm type; the loader refuses an import
 * whose name is not here or whose type differs (the generated code would
 * call it with the wrong C signature). */
#define F(name, type) {#name, type, (void (*)(void))Z_wasi_snapshot_preview1Z_##name}
const rt_wasi_fn_t rt_wasi_fns[] = {
    F(args_get, "ii:i"),
    F(args_sizes_get, "ii:i"),
    F(environ_get, "ii:i"),
    F(environ_sizes_get, "ii:i"),
    F(clock_res_get, "ii:i"),
    F(clock_time_get, "iIi:i"),
    F(fd_advise, "iIIi:i"),
    F(fd_allocate, "iII:i"),
    F(fd_close, "i:i"),
    F(fd_datasync, "i:i"),
    F(fd_fdstat_get, "ii:i"),
    F(fd_fdstat_set_flags, "ii:i"),
    F(fd_fdstat_set_rights, "iII:i"),
    F(fd_filestat_get, "ii:i"),
    F(fd_filestat_set_size, "iI:i"),
    F(fd_filestat_set_times, "iIIi:i"),
    F(fd_pread, "iiiIi:i"),
    F(fd_prestat_get, "ii:i"),
    F(fd_prestat_dir_name, "iii:i"),
    F(fd_pwrite, "iiiIi:i"),
    F(fd_read, "iiii:i"),
    F(fd_readdir, "iiiIi:i"),
    F(fd_renumber, "ii:i"),
    F(fd_seek, "iIii:i"),
    F(fd_sync, "i:i"),
    F(fd_tell, "ii:i"),
    F(fd_write, "iiii:i"),
    F(path_create_directory, "iii:i"),
    F(path_filestat_get, "iiiii:i"),
    F(path_filestat_set_times, "iiiiIIi:i"),
    F(path_link, "iiiiiii:i"),
    F(path_open, "iiiiiIIii:i"),
    F(path_readlink, "iiiiii:i"),
    F(path_remove_directory, "iii:i"),
    F(path_rename, "iiiiii:i"),
    F(path_symlink, "iiiii:i"),
    F(path_unlink_file, "iii:i"),
    F(poll_oneoff, "iiii:i"),
    F(proc_exit, "i:"),
    F(proc_raise, "i:i"),
    F(random_get, "ii:i"),
    F(sched_yield, ":i"),
    F(sock_accept, "iii:i"),
    F(sock_recv, "iiiiii:i"),
    F(sock_send, "iiiii:i"),
    F(sock_shutdown, "ii:i"),
};
const size_t rt_wasi_nfns = sizeof(rt_wasi_fns) / sizeof(rt_wasi_fns[0]);
