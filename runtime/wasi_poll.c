/* WASI: poll_oneoff and the socket calls.
 *
 * poll_oneoff: a descriptor subscription is ready at once (stdin is the
 * request's bytes in memory, stdout and stderr are buffers, files never
 * block), or ends at once with its error; clock subscriptions (realtime or
 * monotonic, relative or absolute) wait, only when nothing else is ready,
 * until the earliest of them is due, or the request's time limit. The
 * subscriptions are read twice
 * (what is ready, then the events), never copied to the host: their
 * number is bounded by the guest's memory alone, so both passes look at
 * a pending timeout every RT_CHUNK_ITEMS of them and return early (the
 * call's RT_HOST_CALL takes the trap).
 *
 * There are no sockets: sock_* answer EBADF for a descriptor that is not
 * open and ENOTSOCK for any other. */
#include <errno.h>
#include <time.h>

#include "wasi_calls.h"

enum { EV_CLOCK = 0, EV_FD_READ = 1, EV_FD_WRITE = 2 };
enum { SUB_SIZE = 48, EVENT_SIZE = 32 };

static u64 now_ns(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return (u64)ts.tv_sec * 1000000000u + (u64)ts.tv_nsec;
}

/* Sleep `ns` nanoseconds (monotonic), but not past the request's time
 * limit: there the timeout is left pending, and this host call's return
 * takes it (RT_HOST_CALL), so a guest cannot sleep past its limit. */
static void sleep_ns(rt_ctx_t *c, u64 ns) {
  u64 until = now_ns(CLOCK_MONOTONIC);
  until = ns > UINT64_MAX - until ? UINT64_MAX : until + ns;
  bool limited = c->deadline_ns && until >= c->deadline_ns;
  if (limited) until = c->deadline_ns;
  struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    if (atomic_load(&c->timeout_pending)) return; /* the watchdog's signal */
  if (limited) atomic_store(&c->timeout_pending, true);
}

/* One subscription: for a clock, *wait is the nanoseconds until it is due
 * (0: due) and the result 0; for anything else the event's error (0: ready
 * now), *nbytes and *flags its fd_readwrite. */
static u32 look(rt_ctx_t *c, const uint8_t *s, const u64 now[2], bool *clock, u64 *wait,
                u64 *nbytes, uint16_t *flags) {
  uint8_t tag = s[8];
  u32 fd, id;
  memcpy(&fd, s + 16, 4);
  id = fd;
  *clock = tag == EV_CLOCK;
  *nbytes = 0;
  *flags = 0;
  if (tag == EV_CLOCK) {
    u64 timeout;
    uint16_t cf;
    memcpy(&timeout, s + 24, 8);
    memcpy(&cf, s + 40, 2);
    if (id > 3) return WASI_EINVAL;
    if (id > 1) return WASI_ENOTSUP; /* CPU-time clocks cannot be slept on */
    if (cf & 1) /* ABSTIME */
      *wait = timeout > now[id] ? timeout - now[id] : 0;
    else
      *wait = timeout;
    return WASI_ESUCCESS;
  }
  if (tag != EV_FD_READ && tag != EV_FD_WRITE) return WASI_EINVAL;
  wasi_fd_t tmp;
  const wasi_fd_t *e = wasi_fd_peek(c, fd, &tmp);
  if (!e) return WASI_EBADF;
  u32 err = wasi_need(e, tag == EV_FD_READ ? R_FD_READ : R_FD_WRITE);
  if (err) return err;
  if (tag == EV_FD_READ && e->kind == WFD_STDIN) {
    *nbytes = c->req->stdin_len - c->stdin_pos;
    if (!*nbytes) *flags = 1; /* HANGUP: the input is all read */
  }
  return WASI_ESUCCESS;
}

u32 wasi_poll_oneoff(rt_ctx_t *c, u32 in, u32 out, u32 n, u32 nevents) {
  if (n == 0) return WASI_EINVAL;
  const uint8_t *subs = wasi_mem(c, in, (u64)n * SUB_SIZE);
  uint8_t *evs = wasi_mem(c, out, (u64)n * EVENT_SIZE);
  if (!subs || !evs || !wasi_mem(c, nevents, 4)) return WASI_EFAULT;
  u64 now[2] = {now_ns(CLOCK_REALTIME), now_ns(CLOCK_MONOTONIC)};
  /* What is ready now; else the nearest clock. */
  bool ready = false, any_clock = false;
  u64 nearest = UINT64_MAX;
  for (u32 i = 0; i < n; i++) {
    if (i % RT_CHUNK_ITEMS == 0 && rt_timeout_pending(c)) return WASI_EINTR;
    bool clock;
    u64 wait = 0, nb;
    uint16_t fl;
    u32 err = look(c, subs + (u64)i * SUB_SIZE, now, &clock, &wait, &nb, &fl);
    if (!clock || err) ready = true;
    else {
      any_clock = true;
      if (wait < nearest) nearest = wait;
    }
  }
  u64 slept = 0;
  if (!ready && any_clock && nearest > 0) {
    sleep_ns(c, nearest);
    slept = nearest;
  }
  u32 k = 0;
  for (u32 i = 0; i < n; i++) {
    if (i % RT_CHUNK_ITEMS == 0 && rt_timeout_pending(c)) return WASI_EINTR;
    const uint8_t *s = subs + (u64)i * SUB_SIZE;
    bool clock;
    u64 wait = 0, nb;
    uint16_t fl;
    u32 err = look(c, s, now, &clock, &wait, &nb, &fl);
    if (clock && !err && wait > slept) continue; /* not due */
    if (!clock && !err && !ready) continue;
    uint8_t ev[EVENT_SIZE] = {0};
    memcpy(ev, s, 8); /* userdata */
    uint16_t e16 = (uint16_t)err;
    memcpy(ev + 8, &e16, 2);
    ev[10] = s[8];
    memcpy(ev + 16, &nb, 8);
    memcpy(ev + 24, &fl, 2);
    memcpy(evs + (u64)k * EVENT_SIZE, ev, EVENT_SIZE);
    k++;
  }
  wasi_put32(c, nevents, k);
  return WASI_ESUCCESS;
}

static u32 not_a_socket(rt_ctx_t *c, u32 fd) {
  wasi_fd_t tmp;
  return wasi_fd_peek(c, fd, &tmp) ? WASI_ENOTSOCK : WASI_EBADF;
}

u32 wasi_sock_accept(rt_ctx_t *c, u32 fd, u32 flags, u32 out) {
  (void)flags, (void)out;
  return not_a_socket(c, fd);
}

u32 wasi_sock_recv(rt_ctx_t *c, u32 fd, u32 iovs, u32 n, u32 flags, u32 len, u32 oflags) {
  (void)iovs, (void)n, (void)flags, (void)len, (void)oflags;
  return not_a_socket(c, fd);
}

u32 wasi_sock_send(rt_ctx_t *c, u32 fd, u32 iovs, u32 n, u32 flags, u32 len) {
  (void)iovs, (void)n, (void)flags, (void)len;
  return not_a_socket(c, fd);
}

u32 wasi_sock_shutdown(rt_ctx_t *c, u32 fd, u32 how) {
  (void)how;
  return not_a_socket(c, fd);
}
