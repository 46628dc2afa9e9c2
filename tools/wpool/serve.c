/* `wpool serve`: the command (docs/serve.md, docs/cli.md). The main thread
 * loads the modules, listens, accepts and hands each connection to the
 * worker with the fewest open; each worker runs its own libuv loop
 * (serve_http.c). SIGINT or SIGTERM: stop accepting, let the workers
 * finish what they have in flight, join them, destroy the runtime and its
 * pool, exit 0. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"
#include "serve.h"
#include "status.h"

static const char usage[] =
    "usage: wpool serve [--listen ADDR:PORT] [--threads N] [--runtime pool|stock]\n"
    "                   [--config KEY=VALUE]... [--max-body SIZE] [--log]\n"
    "                   MODULE.wasm | DIRECTORY\n";

#define MAX_THREADS 256

typedef struct listener {
  server_t *srv;
  uv_loop_t loop;
  uv_poll_t poll;
  uv_timer_t retry; /* accept paused after EMFILE and the like */
  uv_signal_t sigint, sigterm;
  uv_async_t finished; /* a worker's loop has ended */
  int fd;
  unsigned next; /* round-robin among equally loaded workers */
  int signals;   /* how many stop signals arrived */
} listener_t;

static int fail(int status, const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "wpool serve: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  return status;
}

/* ------------------------------------------------------------------ */
/* Modules */

static bool route_name_ok(const char *n) {
  if (!*n) return false;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_' || *p == '.'))
      return false;
  return true;
}

static int add_route(server_t *s, const char *path, const char *base) {
  size_t n = strlen(base);
  route_t *r = realloc(s->routes, (s->nroutes + 1) * sizeof(route_t));
  if (!r) return fail(TOOL_FAILED, "out of memory%s%s", "", "");
  s->routes = r;
  r = &s->routes[s->nroutes];
  *r = (route_t){0};
  r->path = strdup(path);
  r->name = strndup(base, n > 5 && !strcmp(base + n - 5, ".wasm") ? n - 5 : n);
  if (!r->path || !r->name) {
    free(r->path);
    free(r->name);
    return fail(TOOL_FAILED, "out of memory%s%s", "", "");
  }
  s->nroutes++;
  return TOOL_OK;
}

static int cmp_route(const void *a, const void *b) {
  return strcmp(((const route_t *)a)->name, ((const route_t *)b)->name);
}

/* The routes: one module at /, or each DIRECTORY/NAME.wasm at /NAME. */
static int find_modules(server_t *s, const char *arg) {
  struct stat st;
  if (stat(arg, &st) != 0) return fail(TOOL_BAD_INPUT, "%s: %s", arg, strerror(errno));
  if (!S_ISDIR(st.st_mode)) {
    s->single = true;
    const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
    return add_route(s, arg, base);
  }
  DIR *d = opendir(arg);
  if (!d) return fail(TOOL_BAD_INPUT, "%s: %s", arg, strerror(errno));
  int status = TOOL_OK;
  struct dirent *e;
  while (status == TOOL_OK && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n <= 5 || strcmp(e->d_name + n - 5, ".wasm") != 0) continue;
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", arg, e->d_name) >= (int)sizeof(path)) {
      status = fail(TOOL_BAD_INPUT, "%s/%s: path too long", arg, e->d_name);
      break;
    }
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    status = add_route(s, path, e->d_name);
    if (status == TOOL_OK && !route_name_ok(s->routes[s->nroutes - 1].name))
      status = fail(TOOL_BAD_INPUT,
                    "%s: a route name takes letters, digits, '-', '_' and '.' only%s", path, "");
    if (status == TOOL_OK && !strcmp(s->routes[s->nroutes - 1].name, "metrics"))
      status = fail(TOOL_BAD_INPUT, "%s: the path /metrics is the server's own%s", path, "");
  }
  closedir(d);
  if (status == TOOL_OK && !s->nroutes)
    status = fail(TOOL_BAD_INPUT, "%s: no .wasm modules in this directory%s", arg, "");
  if (status == TOOL_OK) qsort(s->routes, s->nroutes, sizeof(route_t), cmp_route);
  return status;
}

/* ------------------------------------------------------------------ */
/* Listening */

static int parse_listen(const char *a, struct sockaddr_storage *ss, char *host, size_t hostlen) {
  const char *colon = strrchr(a, ':');
  if (!colon || !colon[1]) return -1;
  uint64_t port;
  if (!parse_count(colon + 1, 65535, &port)) return -1;
  size_t hl = (size_t)(colon - a);
  char h[64];
  if (hl >= sizeof(h)) return -1;
  memcpy(h, a, hl);
  h[hl] = 0;
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
    h[hl - 1] = 0;
    memmove(h, h + 1, hl - 1);
    if (uv_ip6_addr(h, (int)port, (struct sockaddr_in6 *)ss) != 0) return -1;
  } else {
    if (!strcmp(h, "localhost")) snprintf(h, sizeof(h), "127.0.0.1");
    if (!h[0]) snprintf(h, sizeof(h), "0.0.0.0");
    if (uv_ip4_addr(h, (int)port, (struct sockaddr_in *)ss) != 0) return -1;
  }
  snprintf(host, hostlen, "%s", h);
  return 0;
}

static int open_listener(const struct sockaddr_storage *ss, const char *what, unsigned *port) {
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  socklen_t len =
      ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 1024) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  struct sockaddr_storage got;
  len = sizeof(got);
  getsockname(fd, (struct sockaddr *)&got, &len);
  *port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                         : ((struct sockaddr_in6 *)&got)->sin6_port);
  (void)what;
  return fd;
}

static void on_retry(uv_timer_t *t);

static void on_accept(uv_poll_t *p, int status, int events) {
  (void)events;
  listener_t *l = p->data;
  if (status < 0) return;
  server_t *s = l->srv;
  for (int i = 0; i < 64; i++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    /* The worker with the fewest open connections; ties in turn. */
    unsigned best = l->next % s->nworkers;
    uint64_t least = UINT64_MAX;
    for (unsigned k = 0; k < s->nworkers; k++) {
      unsigned j = (l->next + k) % s->nworkers;
      uint64_t open =
          atomic_load_explicit(&s->workers[j].metrics->connections_open, memory_order_relaxed);
      if (open < least) {
        least = open;
        best = j;
      }
    }
    l->next = best + 1;
    if (!worker_adopt(&s->workers[best], fd)) close(fd);
  }
}

static void on_retry(uv_timer_t *t) {
  listener_t *l = t->data;
  if (!l->signals) uv_poll_start(&l->poll, UV_READABLE, on_accept);
}

static void on_poll_closed(uv_handle_t *h) {
  listener_t *l = h->data;
  close(l->fd);
  l->fd = -1;
}

static void on_signal(uv_signal_t *sig, int signum) {
  listener_t *l = sig->data;
  server_t *s = l->srv;
  if (l->signals++ == 0) {
    fprintf(stderr, "wpool serve: %s: no new connections; finishing the requests in flight\n",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_close((uv_handle_t *)&l->poll, on_poll_closed);
    uv_close((uv_handle_t *)&l->retry, NULL);
    /* The signal handles stay until the workers end, for a second signal. */
  } else {
    fprintf(stderr, "wpool serve: second signal: closing every connection\n");
  }
  for (unsigned i = 0; i < s->nworkers; i++) worker_stop(&s->workers[i]);
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
}

/* ------------------------------------------------------------------ */
/* The command */

typedef struct opts {
  const char *listen, *target;
  struct sockaddr_storage addr;
  char host[64];
  uint64_t threads, max_body;
  bool log;
  wrt_backend_t backend;
  wpool_config_t cfg;
} opts_t;

static int parse_args(opts_t *o, int argc, char **argv) {
  char err[256];
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage, stdout);
      return TOOL_OK;
    } else if (!strcmp(a, "--listen")) {
      if (!next) return fail(TOOL_BAD_INPUT, "--listen needs ADDR:PORT%s%s", "", "");
      o->listen = next;
      i++;
    } else if (!strcmp(a, "--threads")) {
      if (!next || !parse_count(next, MAX_THREADS, &o->threads) || !o->threads)
        return fail(TOOL_BAD_INPUT, "--threads needs a number from 1 to 256, not %s%s",
                    next ? next : "nothing", "");
      i++;
    } else if (!strcmp(a, "--runtime")) {
      if (next && !strcmp(next, "pool"))
        o->backend = WRT_BACKEND_POOL;
      else if (next && !strcmp(next, "stock"))
        o->backend = WRT_BACKEND_STOCK;
      else
        return fail(TOOL_BAD_INPUT, "--runtime is pool or stock, not %s%s", next ? next : "nothing",
                    "");
      i++;
    } else if (!strcmp(a, "--config")) {
      if (!next) return fail(TOOL_BAD_INPUT, "--config needs KEY=VALUE%s%s", "", "");
      if (!config_set_pair(&o->cfg, next, err, sizeof(err)))
        return fail(TOOL_BAD_INPUT, "%s%s", err, "");
      i++;
    } else if (!strcmp(a, "--max-body")) {
      if (!next || !parse_size(next, &o->max_body) || o->max_body > (1ull << 30))
        return fail(TOOL_BAD_INPUT, "--max-body needs a size up to 1GiB, not %s%s",
                    next ? next : "nothing", "");
      i++;
    } else if (!strcmp(a, "--log")) {
      o->log = true;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "wpool serve: unknown option '%s'\n%s", a, usage);
      return TOOL_BAD_INPUT;
    } else if (o->target) {
      return fail(TOOL_BAD_INPUT, "one MODULE.wasm or DIRECTORY, not also %s%s", a, "");
    } else {
      o->target = a;
    }
  }
  if (!o->target) {
    fprintf(stderr, "wpool serve: a MODULE.wasm or a DIRECTORY of them is needed\n%s", usage);
    return TOOL_BAD_INPUT;
  }
  if (!o->listen) o->listen = "127.0.0.1:8080";
  if (parse_listen(o->listen, &o->addr, o->host, sizeof(o->host)) != 0)
    return fail(TOOL_BAD_INPUT, "--listen takes ADDR:PORT (127.0.0.1:8080, [::1]:0), not %s%s",
                o->listen, "");
  return -1;
}

static int load_modules(server_t *s) {
  for (size_t i = 0; i < s->nroutes; i++) {
    route_t *r = &s->routes[i];
    if (wrt_load(s->rt, r->path, &r->m) != 0) {
      const char *e = wrt_last_error();
      /* The runtime's message names the file already, as a rule. */
      return strstr(e, r->path) ? fail(TOOL_BAD_INPUT, "%s%s", e, "")
                                : fail(TOOL_BAD_INPUT, "%s: %s", r->path, e);
    }
    fprintf(stderr, "wpool serve: /%s%s -> %s\n", s->single ? "" : r->name, s->single ? "..." : "",
            r->path);
  }
  return TOOL_OK;
}

/* A worker whose thread never ran: close its loop. */
static void worker_discard(worker_t *w) {
  uv_close((uv_handle_t *)&w->wake, NULL);
  uv_close((uv_handle_t *)&w->sweep, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
}

/* Start the workers with SIGINT and SIGTERM blocked: only the main
 * thread's loop sees them. */
static int start_workers(server_t *s) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int status = TOOL_OK;
  for (unsigned i = 0; i < s->nworkers; i++) {
    worker_t *w = &s->workers[i];
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
      status = fail(TOOL_FAILED, "cannot start worker thread: %s%s", strerror(errno), "");
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

static int run(server_t *s, const opts_t *o) {
  const struct sockaddr_storage ss = o->addr;
  const char *where = o->listen;
  snprintf(s->host, sizeof(s->host), "%s", o->host);
  listener_t *l = calloc(1, sizeof(*l));
  if (!l) return fail(TOOL_FAILED, "out of memory%s%s", "", "");
  l->srv = s;
  l->fd = open_listener(&ss, where, &s->port);
  if (l->fd < 0) {
    int st = fail(TOOL_FAILED, "cannot listen on %s: %s", where, strerror(-l->fd));
    free(l);
    return st;
  }
  unsigned started = 0;
  int status = TOOL_OK;
  for (; started < s->nworkers; started++) {
    worker_t *w = &s->workers[started];
    w->srv = s;
    w->id = started;
    int err = worker_init(w);
    if (err) {
      status = fail(TOOL_FAILED, "cannot start an event loop: %s%s", uv_strerror(err), "");
      break;
    }
  }
  if (status != TOOL_OK) {
    for (unsigned i = 0; i < started; i++) {
      worker_discard(&s->workers[i]);
      worker_free(&s->workers[i]);
    }
    close(l->fd);
    free(l);
    return status;
  }
  uv_loop_init(&l->loop);
  uv_async_init(&l->loop, &l->finished, on_finished);
  l->finished.data = l;
  s->finished = &l->finished;
  uv_poll_init(&l->loop, &l->poll, l->fd);
  l->poll.data = l;
  uv_timer_init(&l->loop, &l->retry);
  l->retry.data = l;
  uv_signal_init(&l->loop, &l->sigint);
  uv_signal_init(&l->loop, &l->sigterm);
  l->sigint.data = l->sigterm.data = l;
  uv_signal_start(&l->sigint, on_signal, SIGINT);
  uv_signal_start(&l->sigterm, on_signal, SIGTERM);
  status = start_workers(s);
  if (status != TOOL_OK) {
    uv_close((uv_handle_t *)&l->finished, NULL);
    uv_close((uv_handle_t *)&l->poll, on_poll_closed);
    uv_close((uv_handle_t *)&l->retry, NULL);
    uv_close((uv_handle_t *)&l->sigint, NULL);
    uv_close((uv_handle_t *)&l->sigterm, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
    for (unsigned i = 0; i < s->nworkers; i++) worker_free(&s->workers[i]);
    free(l);
    return status;
  }
  uv_poll_start(&l->poll, UV_READABLE, on_accept);
  fprintf(stderr, "wpool serve: listening on http://%s%s%s:%u/ (%u threads, %s runtime)\n",
          ss.ss_family == AF_INET6 ? "[" : "", s->host, ss.ss_family == AF_INET6 ? "]" : "",
          s->port, s->nworkers, wrt_backend_name(o->backend));
  fflush(stderr);
  /* Until a signal has stopped the workers and every one has ended. */
  uv_run(&l->loop, UV_RUN_DEFAULT);
  bool clean = true;
  for (unsigned i = 0; i < s->nworkers; i++) {
    pthread_join(s->workers[i].thread, NULL);
    clean = clean && s->workers[i].loop_closed;
  }
  if (uv_loop_close(&l->loop) != 0) clean = false;
  free(l);
  return clean ? TOOL_OK : TOOL_FAILED;
}

int serve_main(int argc, char **argv) {
  opts_t o = {.backend = WRT_BACKEND_POOL, .max_body = 1 << 20};
  /* The runtime's layout for wasm2c, with the library's own defaults for
   * what a reset keeps resident (WPOOL_KEEP_AUTO where the library has
   * it): --config may set them. */
  wpool_config_t lib;
  wpool_config_init(&lib);
  wrt_config_init(&o.cfg);
  o.cfg.linear_memory_keep_resident = lib.linear_memory_keep_resident;
  o.cfg.table_keep_resident = lib.table_keep_resident;
  int st = parse_args(&o, argc, argv);
  if (st >= 0) return st;
  /* One loop per core this process may run on. */
  cpu_set_t cpus;
  long cores = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus)
                                                              : sysconf(_SC_NPROCESSORS_ONLN);
  server_t *s = calloc(1, sizeof(*s));
  if (!s) return fail(TOOL_FAILED, "out of memory%s%s", "", "");
  s->max_body = o.max_body;
  s->log = o.log;
  s->nworkers = o.threads ? (unsigned)o.threads
                          : (unsigned)(cores < 1             ? 1
                                       : cores > MAX_THREADS ? MAX_THREADS
                                                             : cores);
  st = find_modules(s, o.target);
  wrt_options_t wo;
  wrt_options_init(&wo);
  wo.backend = o.backend;
  wo.pool_config = &o.cfg;
  if (st == TOOL_OK && wrt_create(&wo, &s->rt) != 0)
    st = fail(TOOL_BAD_INPUT, "%s runtime: %s", wrt_backend_name(o.backend), wrt_last_error());
  if (st == TOOL_OK) st = load_modules(s);
  if (st == TOOL_OK) {
    s->workers = calloc(s->nworkers, sizeof(worker_t));
    metrics_t *m = aligned_alloc(64, ((sizeof(metrics_t) + 63) / 64 * 64) * s->nworkers);
    if (!s->workers || !m) {
      free(m);
      st = fail(TOOL_FAILED, "out of memory%s%s", "", "");
    } else {
      memset(m, 0, ((sizeof(metrics_t) + 63) / 64 * 64) * s->nworkers);
      for (unsigned i = 0; i < s->nworkers; i++)
        s->workers[i].metrics = (metrics_t *)((char *)m + (sizeof(metrics_t) + 63) / 64 * 64 * i);
      signal(SIGPIPE, SIG_IGN);
      st = run(s, &o);
      for (unsigned i = 0; st == TOOL_OK && i < s->nworkers; i++) worker_free(&s->workers[i]);
      uint64_t answered = 0;
      for (unsigned i = 0; i < s->nworkers; i++)
        for (int c = 0; c < METRIC_CODES; c++) answered += s->workers[i].metrics->by_code[c];
      free(m);
      if (st == TOOL_OK) {
        uint64_t live = 0;
        if (wrt_pool(s->rt)) {
          wpool_stats_t ps;
          wpool_stats_get(wrt_pool(s->rt), &ps);
          live = ps.live_instances;
        }
        if (live) {
          fprintf(stderr, "wpool serve: stopped with %llu instances still live\n",
                  (unsigned long long)live);
          st = TOOL_FAILED;
        }
        int derr = wrt_destroy(s->rt);
        s->rt = NULL;
        if (derr) st = fail(TOOL_FAILED, "destroying the runtime: %s%s", wrt_last_error(), "");
        if (st == TOOL_OK)
          fprintf(stderr, "wpool serve: stopped: %llu requests answered, 0 instances live\n",
                  (unsigned long long)answered);
      }
    }
  }
  if (s->rt) wrt_destroy(s->rt);
  for (size_t i = 0; i < s->nroutes; i++) {
    free(s->routes[i].name);
    free(s->routes[i].path);
  }
  free(s->routes);
  free(s->workers);
  free(s);
  return st;
}
