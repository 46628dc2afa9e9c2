/* WASI: the request's arguments and environment, clocks, random bytes,
 * yield, exit. */
#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "wasi_calls.h"

/* argv / environ: sizes, then the pointer array and the strings. */
static u32 strings_sizes(rt_ctx_t *c, const char *const *v, u32 n, u32 count_ptr, u32 size_ptr) {
  u64 bytes = 0;
  for (u32 i = 0; i < n; i++) bytes += strlen(v[i]) + 1;
  if (bytes > UINT32_MAX) return WASI_E2BIG;
  if (!wasi_put32(c, count_ptr, n) || !wasi_put32(c, size_ptr, (u32)bytes)) return WASI_EFAULT;
  return WASI_ESUCCESS;
}

static u32 strings_get(rt_ctx_t *c, const char *const *v, u32 n, u32 ptrs, u32 buf) {
  u32 at = buf;
  for (u32 i = 0; i < n; i++) {
    size_t len = strlen(v[i]) + 1;
    uint8_t *dst = wasi_mem(c, at, len);
    if (!dst || !wasi_put32(c, ptrs + 4 * i, at)) return WASI_EFAULT;
    memcpy(dst, v[i], len);
    at += (u32)len;
  }
  return WASI_ESUCCESS;
}

u32 wasi_args_sizes_get(rt_ctx_t *c, u32 argc, u32 size) {
  return strings_sizes(c, c->req->argv, c->req->argc, argc, size);
}

u32 wasi_args_get(rt_ctx_t *c, u32 argv, u32 buf) {
  return strings_get(c, c->req->argv, c->req->argc, argv, buf);
}

u32 wasi_environ_sizes_get(rt_ctx_t *c, u32 count, u32 size) {
  return strings_sizes(c, c->req->envp, c->req->envc, count, size);
}

u32 wasi_environ_get(rt_ctx_t *c, u32 env, u32 buf) {
  return strings_get(c, c->req->envp, c->req->envc, env, buf);
}

static bool clock_of(u32 id, clockid_t *clk) {
  static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                  CLOCK_THREAD_CPUTIME_ID};
  if (id >= 4) return false;
  *clk = ids[id];
  return true;
}

static u64 ns_of(const struct timespec *ts) {
  return (u64)ts->tv_sec * 1000000000u + (u64)ts->tv_nsec;
}

u32 wasi_clock_res_get(rt_ctx_t *c, u32 id, u32 res) {
  clockid_t clk;
  struct timespec ts;
  if (!clock_of(id, &clk)) return WASI_EINVAL;
  if (clock_getres(clk, &ts) != 0) return WASI_EIO;
  return wasi_put64(c, res, ns_of(&ts)) ? WASI_ESUCCESS : WASI_EFAULT;
}

u32 wasi_clock_time_get(rt_ctx_t *c, u32 id, u64 precision, u32 time) {
  (void)precision;
  clockid_t clk;
  struct timespec ts;
  if (!clock_of(id, &clk)) return WASI_EINVAL;
  if (clock_gettime(clk, &ts) != 0) return WASI_EIO;
  return wasi_put64(c, time, ns_of(&ts)) ? WASI_ESUCCESS : WASI_EFAULT;
}

/* In pieces of RT_CHUNK_BYTES: a pending timeout ends the call between
 * two (its RT_HOST_CALL takes the trap), so a guest asking for its whole
 * memory of random bytes in a loop still stops at its limit. */
u32 wasi_random_get(rt_ctx_t *c, u32 buf, u32 len) {
  uint8_t *p = wasi_mem(c, buf, len);
  if (!p) return WASI_EFAULT;
  while (len > 0) {
    if (rt_timeout_pending(c)) return WASI_EINTR; /* never seen: the trap is taken */
    ssize_t n = getrandom(p, len < RT_CHUNK_BYTES ? len : RT_CHUNK_BYTES, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return WASI_EIO;
    }
    p += n;
    len -= (u32)n;
  }
  return WASI_ESUCCESS;
}

u32 wasi_sched_yield(rt_ctx_t *c) {
  (void)c;
  return WASI_ESUCCESS;
}

void wasi_proc_exit(rt_ctx_t *c, u32 code) {
  c->exit_code = (int32_t)code;
  siglongjmp(c->jb, RT_JUMP_EXIT);
}

/* Signals are not part of this runtime (preview 1 deprecates proc_raise). */
u32 wasi_proc_raise(rt_ctx_t *c, u32 sig) {
  (void)c, (void)sig;
  return WASI_ENOSYS;
}
