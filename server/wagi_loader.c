/* The loader's thread (wagi_loader.h): its loop waits for SIGHUP, the
 * directory's file events (--watch) and the workers' word that a version
 * lost its last reference; reload passes and unloading run here, never on
 * a worker. */
#include "wagi_loader.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

int wagi_loader_init(wagi_loader_t *l, wrt_runtime_t *rt, wagi_routes_t *routes, const char *target,
                     bool single, bool watch, const wagi_module_t *vols, size_t nvols, char *err,
                     size_t errlen) {
  *l = (wagi_loader_t){
      .rt = rt, .routes = routes, .single = single, .watch = watch, .vols = vols, .nvols = nvols};
  atomic_init(&l->stop, false);
  l->ended_fd = -1;
  size_t tl = strlen(target);
  while (tl > 1 && target[tl - 1] == '/') tl--; /* "dir/" is "dir" */
  if (tl >= sizeof(l->target)) {
    snprintf(err, errlen, "%.100s...: path too long", target);
    return -1;
  }
  memcpy(l->target, target, tl);
  l->target[tl] = 0;
  if (!single) {
    memcpy(l->dir, l->target, tl + 1);
    return 0;
  }
  const char *slash = strrchr(l->target, '/');
  const char *base = slash ? slash + 1 : l->target;
  if (strlen(base) >= sizeof(l->base)) {
    snprintf(err, errlen, "%s: file name too long", target);
    return -1;
  }
  snprintf(l->base, sizeof(l->base), "%s", base);
  if (!slash)
    snprintf(l->dir, sizeof(l->dir), ".");
  else if (slash == l->target)
    snprintf(l->dir, sizeof(l->dir), "/");
  else
    snprintf(l->dir, sizeof(l->dir), "%.*s", (int)(slash - l->target), l->target);
  return 0;
}

static void on_timer(uv_timer_t *t) {
  wagi_loader_t *l = t->data;
  l->hup_pending = false;
  if (!atomic_load(&l->stop)) wagi_loader_pass(l);
}

/* SIGHUP: a pass now (one queued stands: the requests coalesce). */
static void on_hup(uv_signal_t *s, int signum) {
  (void)signum;
  wagi_loader_t *l = s->data;
  l->hup_pending = true;
  uv_timer_start(&l->timer, on_timer, 0, 0);
}

/* A file event: the pass waits until the events settle (wagi_loader.h). */
static void on_fs(uv_fs_event_t *h, const char *file, int events, int status) {
  (void)events;
  wagi_loader_t *l = h->data;
  if (status < 0 || l->hup_pending) return;
  if (file) {
    size_t n = strlen(file);
    if (l->single ? strcmp(file, l->base) != 0 : n <= 5 || strcmp(file + n - 5, ".wasm") != 0)
      return;
  }
  uint64_t now = uv_now(&l->loop);
  if (!uv_is_active((uv_handle_t *)&l->timer)) l->first_event = now;
  uint64_t at = now + WAGI_WATCH_SETTLE_MS, latest = l->first_event + WAGI_WATCH_MAX_WAIT_MS;
  if (at > latest) at = latest;
  uv_timer_start(&l->timer, on_timer, at > now ? at - now : 0, 0);
}

static void on_wake(uv_async_t *a) {
  wagi_loader_t *l = a->data;
  wagi_routes_reap(l->routes);
  if (!atomic_load(&l->stop)) return;
  uv_close((uv_handle_t *)&l->hup, NULL);
  /* libuv gave SIGHUP its default action (the end of the process) back: a
   * late one must not end a server that is finishing. */
  signal(SIGHUP, SIG_IGN);
  uv_close((uv_handle_t *)&l->timer, NULL);
  uv_close((uv_handle_t *)&l->wake, NULL);
  if (l->watch) uv_close((uv_handle_t *)&l->fs, NULL);
}

static void wake(void *arg) { uv_async_send(arg); }

static void *loader_main(void *arg) {
  wagi_loader_t *l = arg;
  uv_run(&l->loop, UV_RUN_DEFAULT);
  uint64_t one = 1;
  while (write(l->ended_fd, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  return NULL;
}

int wagi_loader_start(wagi_loader_t *l, char *err, size_t errlen) {
  l->ended_fd = eventfd(0, EFD_CLOEXEC);
  if (l->ended_fd < 0) {
    snprintf(err, errlen, "the loader's eventfd: %s", strerror(errno));
    return -1;
  }
  int e = uv_loop_init(&l->loop);
  if (e) {
    snprintf(err, errlen, "the loader's loop: %s", uv_strerror(e));
    close(l->ended_fd);
    l->ended_fd = -1;
    return -1;
  }
  uv_timer_init(&l->loop, &l->timer);
  uv_async_init(&l->loop, &l->wake, on_wake);
  uv_signal_init(&l->loop, &l->hup);
  l->timer.data = l->wake.data = l->hup.data = l;
  uv_signal_start(&l->hup, on_hup, SIGHUP);
  if (l->watch) {
    uv_fs_event_init(&l->loop, &l->fs);
    l->fs.data = l;
    e = uv_fs_event_start(&l->fs, on_fs, l->dir, 0);
    if (e) {
      snprintf(err, errlen, "--watch %s: %s", l->dir, uv_strerror(e));
      uv_close((uv_handle_t *)&l->fs, NULL);
    }
  }
  /* SIGINT, SIGTERM and SIGHUP are the listener's thread's to take (its
   * handlers pass them on): none interrupts the loader's system calls. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  /* Set before the thread runs: its passes drop references too. */
  l->routes->wake_arg = &l->wake;
  l->routes->wake = wake;
  if (!e) e = pthread_create(&l->thread, NULL, loader_main, l);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e) {
    l->routes->wake = NULL;
    if (e > 0) snprintf(err, errlen, "cannot start the loader's thread: %s", strerror(e));
    uv_close((uv_handle_t *)&l->hup, NULL);
    signal(SIGHUP, SIG_IGN); /* as after a stop (on_wake) */
    uv_close((uv_handle_t *)&l->timer, NULL);
    uv_close((uv_handle_t *)&l->wake, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
    close(l->ended_fd);
    l->ended_fd = -1;
    return -1;
  }
  l->started = true;
  return 0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The thread's end or the deadline: 0, or -ETIMEDOUT (-EINTR when a stop
 * signal, consumed, brought the deadline to `again_ns` after it). */
static int wait_end(wagi_loader_t *l, uint64_t deadline_ns, uint64_t again_ns) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  int sfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
  bool signalled = false;
  int st = 1;
  while (st == 1) {
    uint64_t now = now_ns();
    if (deadline_ns != UINT64_MAX && now >= deadline_ns) {
      st = signalled ? -EINTR : -ETIMEDOUT;
      break;
    }
    int ms = -1;
    if (deadline_ns != UINT64_MAX) {
      uint64_t left = (deadline_ns - now + 999999) / 1000000;
      ms = left > 60000 ? 60000 : (int)left;
    }
    struct pollfd p[2] = {{.fd = l->ended_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    int r = poll(p, sfd >= 0 ? 2 : 1, ms);
    if (r < 0 && errno != EINTR) { /* cannot wait here: join, or give up */
      st = deadline_ns == UINT64_MAX ? 0 : -ETIMEDOUT;
    } else if (r > 0 && (p[0].revents & POLLIN)) {
      st = 0;
    } else if (r > 0 && (p[1].revents & POLLIN)) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof(si)) > 0) {
      }
      signalled = true;
      uint64_t t = now_ns();
      if (again_ns != UINT64_MAX && t < deadline_ns && deadline_ns - t > again_ns)
        deadline_ns = t + again_ns;
    }
  }
  if (sfd >= 0) close(sfd);
  return st;
}

int wagi_loader_stop(wagi_loader_t *l, uint64_t deadline_ns, uint64_t again_ns) {
  if (!l->started) return 0;
  if (!atomic_exchange(&l->stop, true)) uv_async_send(&l->wake);
  int st = wait_end(l, deadline_ns, again_ns);
  if (st) return st; /* the thread runs on: the process ends */
  pthread_join(l->thread, NULL);
  l->routes->wake = NULL;
  uv_loop_close(&l->loop);
  close(l->ended_fd);
  l->ended_fd = -1;
  l->started = false;
  return 0;
}

void wagi_loader_free(wagi_loader_t *l) {
  wagi_loader_stop(l, UINT64_MAX, UINT64_MAX);
  for (size_t i = 0; i < l->nrefused; i++) free(l->refused[i].name);
  free(l->refused);
  l->refused = NULL;
  l->nrefused = 0;
}
