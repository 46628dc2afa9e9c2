/* srv_run (server.h): the workers' threads, and this thread's loop: the
 * listening socket, each accepted connection handed to a worker (below),
 * SIGINT and SIGTERM (or srv_stop) to stop, and the end once every worker
 * has ended, or, after a second stop, once a worker has stayed stuck in a
 * request for STUCK_MS. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "setup.h"
#include "worker.h"

#define BUSY_MS 5    /* a request running this long: its worker is the last choice */
#define STUCK_MS 500 /* after a second stop: how long a request may still run */

typedef struct listener {
  srv_t *srv;
  uv_loop_t loop;
  uv_poll_t poll;
  uv_timer_t retry; /* accept paused after EMFILE and the like */
  uv_timer_t stuck; /* after a second stop: the workers' last chance */
  uv_signal_t sigint, sigterm;
  uv_async_t finished; /* a worker's loop has ended */
  uv_async_t stop;     /* srv_stop */
  uv_async_t resume;   /* a connection closed while accepting was paused */
  unsigned next;       /* round-robin among equally loaded workers */
  int signals;         /* how many stop signals arrived */
  int stops_seen;      /* srv_stop's calls handled */
  bool closing_fd;
  bool gave_up; /* a worker stayed stuck after a second stop */
} listener_t;

static void on_retry(uv_timer_t *t);

/* How long (ms) w's request has run at the loop time `now`; 0: none. */
static uint64_t busy_ms(const worker_t *w, uint64_t now) {
  uint64_t since = atomic_load_explicit(&w->busy_since, memory_order_relaxed);
  return since && now + 1 > since ? now + 1 - since : 0;
}

/* The worker that takes the next connection: one running no request,
 * else one whose request has run less than BUSY_MS, else any (a new
 * connection does not wait behind a running request, a stuck guest's say,
 * while another worker could answer it); among those, the fewest
 * connections, counting those handed over and not yet adopted (a burst of
 * accepts would otherwise all go to the worker slowest to adopt them);
 * ties in turn. */
static worker_t *pick_worker(listener_t *l) {
  srv_t *s = l->srv;
  uint64_t now = uv_now(&l->loop);
  unsigned best = l->next % s->nworkers;
  uint64_t least = UINT64_MAX;
  for (unsigned k = 0; k < s->nworkers; k++) {
    unsigned j = (l->next + k) % s->nworkers;
    const worker_t *w = &s->workers[j];
    uint64_t load = atomic_load_explicit(&w->metrics->connections_open, memory_order_relaxed) +
                    atomic_load_explicit(&w->queued, memory_order_relaxed);
    uint64_t ran = busy_ms(w, now);
    bool running = atomic_load_explicit(&w->busy_since, memory_order_relaxed) != 0;
    uint64_t tier = ran >= BUSY_MS ? 2 : running ? 1 : 0;
    uint64_t key = tier << 48 | (load < (1ull << 48) ? load : (1ull << 48) - 1);
    if (key < least) {
      least = key;
      best = j;
    }
  }
  l->next = best + 1;
  return &s->workers[best];
}

/* Connections open past which accepting pauses: the cap and its reserve. */
static unsigned limit(const srv_t *s) {
  return s->cfg.max_connections ? s->cfg.max_connections + SRV_RESERVE : UINT32_MAX;
}

static void on_accept(uv_poll_t *p, int status, int events);

static void pause_accepting(listener_t *l) {
  srv_t *s = l->srv;
  uv_poll_stop(&l->poll);
  atomic_store(&s->paused, true);
  /* A connection that closed before `paused` was seen sent no wake. */
  if (atomic_load(&s->open) < limit(s)) uv_async_send(&l->resume);
}

static void on_resume(uv_async_t *a) {
  listener_t *l = a->data;
  srv_t *s = l->srv;
  if (l->signals || !atomic_load(&s->paused) || atomic_load(&s->open) >= limit(s)) return;
  atomic_store(&s->paused, false);
  uv_poll_start(&l->poll, UV_READABLE, on_accept);
}

static void on_accept(uv_poll_t *p, int status, int events) {
  (void)events;
  listener_t *l = p->data;
  srv_t *s = l->srv;
  if (status < 0) return;
  for (int i = 0; i < 64; i++) {
    if (atomic_load(&s->open) >= limit(s)) {
      pause_accepting(l); /* the kernel's backlog holds the next ones */
      return;
    }
    int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Out of descriptors: wait a little rather than spin on a
         * listener that stays readable. */
        uv_poll_stop(&l->poll);
        uv_timer_start(&l->retry, on_retry, 100, 0);
      }
      return;
    }
    unsigned open = atomic_fetch_add(&s->open, 1);
    bool reserve = s->cfg.max_connections && open >= s->cfg.max_connections;
    if (!worker_adopt(pick_worker(l), fd, reserve)) {
      close(fd);
      atomic_fetch_sub(&s->open, 1);
    }
  }
}

static void on_retry(uv_timer_t *t) {
  listener_t *l = t->data;
  if (!l->signals) uv_poll_start(&l->poll, UV_READABLE, on_accept);
}

static void on_poll_closed(uv_handle_t *h) {
  listener_t *l = h->data;
  close(l->srv->fd);
  l->srv->fd = -1;
}

/* STUCK_MS after a second stop: a worker still in a request will not end
 * (a guest with no time limit, say). srv_run returns -ETIMEDOUT naming
 * each one's route and how long it has run; its thread runs on. */
static void on_stuck(uv_timer_t *t) {
  listener_t *l = t->data;
  srv_t *s = l->srv;
  if (atomic_load(&s->nfinished) == s->nworkers) return;
  uint64_t now = uv_now(&l->loop);
  char msg[1024] = "", *p = msg;
  for (unsigned i = 0; i < s->nworkers; i++) {
    const worker_t *w = &s->workers[i];
    uint64_t ms = busy_ms(w, now);
    const route_t *r = atomic_load_explicit(&w->busy_route, memory_order_relaxed);
    if (!ms || !r || p >= msg + sizeof(msg) - 160) continue;
    char name[BUSY_NAME_WORDS * 8];
    for (int k = 0; k < BUSY_NAME_WORDS; k++) {
      uint64_t word = atomic_load_explicit(&w->busy_name[k], memory_order_relaxed);
      memcpy(name + 8 * k, &word, 8);
    }
    name[sizeof(name) - 1] = 0;
    /* The "/" route's request: the path names its module (hostile bytes
     * written '?'). */
    for (char *c = name; *c; c++)
      if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
    p += snprintf(p, (size_t)(msg + sizeof(msg) - p), "%sworker %u on /%.100s for %.1f s",
                  p == msg ? "" : ", ", w->id, r->len ? r->segment : name, (double)ms / 1000);
  }
  srv_fail(-ETIMEDOUT, "requests still running %u ms after the second stop signal: %s", STUCK_MS,
           msg[0] ? msg : "a worker has not ended");
  l->gave_up = true;
  uv_stop(&l->loop);
}

static void stop_once(listener_t *l, const char *why) {
  srv_t *s = l->srv;
  if (l->signals == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    atomic_store(&s->stop_ns, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
  }
  atomic_store(&s->stops, l->signals + 1); /* after stop_ns: srv_stops reads them so */
  if (l->signals++ == 0) {
    fprintf(stderr, "wpool serve: %s: no new connections; finishing the requests in flight\n", why);
    uv_close((uv_handle_t *)&l->poll, on_poll_closed);
    uv_close((uv_handle_t *)&l->retry, NULL);
    /* The signal handles stay until the workers end, for a second signal. */
  } else {
    fprintf(stderr, "wpool serve: second signal: closing every connection\n");
    if (l->signals == 2) {
      uv_timer_start(&l->stuck, on_stuck, STUCK_MS, 0);
      uv_unref((uv_handle_t *)&l->stuck);
    }
  }
  for (unsigned i = 0; i < s->nworkers; i++) worker_stop(&s->workers[i]);
}

static void on_signal(uv_signal_t *sig, int signum) {
  stop_once(sig->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_stop(uv_async_t *a) {
  listener_t *l = a->data;
  int n = atomic_load(&l->srv->stop_requests);
  while (l->stops_seen < n) {
    l->stops_seen++;
    stop_once(l, "stop");
  }
}

/* Every worker has ended: the last handles close and the loop ends. */
static void on_finished(uv_async_t *a) {
  listener_t *l = a->data;
  if (atomic_load(&l->srv->nfinished) < l->srv->nworkers) return;
  /* Closing the signal handles gives the signals their default action
   * back: a late SIGTERM would turn this clean exit into a kill. Blocked
   * in this thread (the workers block them from the start), it stays
   * pending until the exit. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  uv_close((uv_handle_t *)&l->sigint, NULL);
  uv_close((uv_handle_t *)&l->sigterm, NULL);
  uv_close((uv_handle_t *)&l->finished, NULL);
  pthread_mutex_lock(&l->srv->lock);
  l->srv->listener = NULL;
  l->srv->resume = NULL;
  pthread_mutex_unlock(&l->srv->lock);
  uv_close((uv_handle_t *)&l->stop, NULL);
  uv_close((uv_handle_t *)&l->resume, NULL);
  uv_close((uv_handle_t *)&l->stuck, NULL);
}

void srv_stop(srv_t *s) {
  atomic_fetch_add(&s->stop_requests, 1);
  pthread_mutex_lock(&s->lock);
  if (s->listener) uv_async_send(&s->listener->stop);
  pthread_mutex_unlock(&s->lock);
}

/* Start the workers with SIGINT, SIGTERM and SIGHUP blocked: no signal
 * interrupts a guest's system calls; this thread takes them. */
static int start_workers(srv_t *s) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP); /* the loader's (wagi_loader.h), taken here */
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int status = 0;
  for (unsigned i = 0; i < s->nworkers; i++) {
    worker_t *w = &s->workers[i];
    int e = pthread_create(&w->thread, NULL, worker_main, w);
    if (e != 0) {
      status = srv_fail(-e, "cannot start worker thread: %s", strerror(e));
      /* The ones started stop at once; the others' loops close here. */
      for (unsigned k = 0; k < i; k++) worker_stop(&s->workers[k]);
      for (unsigned k = 0; k < i; k++) pthread_join(s->workers[k].thread, NULL);
      for (unsigned k = i; k < s->nworkers; k++) worker_discard(&s->workers[k]);
      break;
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return status;
}

static void close_all(listener_t *l) {
  uv_close((uv_handle_t *)&l->finished, NULL);
  uv_close((uv_handle_t *)&l->stop, NULL);
  uv_close((uv_handle_t *)&l->resume, NULL);
  uv_close((uv_handle_t *)&l->poll, on_poll_closed);
  uv_close((uv_handle_t *)&l->retry, NULL);
  uv_close((uv_handle_t *)&l->stuck, NULL);
  uv_close((uv_handle_t *)&l->sigint, NULL);
  uv_close((uv_handle_t *)&l->sigterm, NULL);
  uv_run(&l->loop, UV_RUN_DEFAULT);
  uv_loop_close(&l->loop);
}

int srv_run(srv_t *s) {
  if (s->fd < 0) return srv_fail(-EINVAL, "srv_run before srv_listen");
  unsigned started = 0;
  int status = 0;
  for (; started < s->nworkers; started++) {
    int err = worker_init(&s->workers[started], s, started);
    if (err) {
      status = srv_fail(err, "cannot start an event loop: %s", uv_strerror(err));
      break;
    }
  }
  listener_t *l = status ? NULL : calloc(1, sizeof(*l));
  if (!status && !l) status = srv_fail(-ENOMEM, "out of memory");
  if (status) {
    for (unsigned i = 0; i < started; i++) {
      worker_discard(&s->workers[i]);
      worker_free(&s->workers[i]);
    }
    return status;
  }
  l->srv = s;
  uv_loop_init(&l->loop);
  uv_async_init(&l->loop, &l->finished, on_finished);
  uv_async_init(&l->loop, &l->stop, on_stop);
  uv_async_init(&l->loop, &l->resume, on_resume);
  l->finished.data = l->stop.data = l->resume.data = l;
  s->finished = &l->finished;
  uv_poll_init(&l->loop, &l->poll, s->fd);
  l->poll.data = l;
  uv_timer_init(&l->loop, &l->retry);
  l->retry.data = l;
  uv_timer_init(&l->loop, &l->stuck);
  l->stuck.data = l;
  uv_signal_init(&l->loop, &l->sigint);
  uv_signal_init(&l->loop, &l->sigterm);
  l->sigint.data = l->sigterm.data = l;
  uv_signal_start(&l->sigint, on_signal, SIGINT);
  uv_signal_start(&l->sigterm, on_signal, SIGTERM);
  status = start_workers(s);
  if (status) {
    close_all(l);
    for (unsigned i = 0; i < s->nworkers; i++) worker_free(&s->workers[i]);
    free(l);
    return status;
  }
  pthread_mutex_lock(&s->lock);
  s->listener = l;
  s->resume = &l->resume;
  pthread_mutex_unlock(&s->lock);
  if (atomic_load(&s->stop_requests)) uv_async_send(&l->stop);
  uv_poll_start(&l->poll, UV_READABLE, on_accept);
  if (s->cfg.ready) s->cfg.ready(s->cfg.ready_arg, s);
  /* Until a signal has stopped the workers and every one has ended. */
  uv_run(&l->loop, UV_RUN_DEFAULT);
  if (l->gave_up) return -ETIMEDOUT; /* stuck threads still use all of it */
  bool clean = true;
  for (unsigned i = 0; i < s->nworkers; i++) {
    pthread_join(s->workers[i].thread, NULL);
    clean = clean && s->workers[i].loop_closed;
  }
  if (uv_loop_close(&l->loop) != 0) clean = false;
  for (unsigned i = 0; i < s->nworkers; i++) worker_free(&s->workers[i]);
  free(l);
  return clean ? 0 : srv_fail(-EIO, "a worker's loop ended with handles open");
}
