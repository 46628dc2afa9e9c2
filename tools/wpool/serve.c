/* `wpool serve`: the command (docs/serve.md, docs/cli.md): its options,
 * and the wiring of the server component (server/): the modules found and
 * loaded into the runtime, each routed to the WAGI handler, /metrics to
 * the metrics handler, then the server runs until SIGINT or SIGTERM and
 * the runtime is checked (no instance live) and destroyed. The loader
 * (wagi_loader.h) loads the modules and, on SIGHUP or --watch, reloads
 * them on a thread of its own. */
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "options.h"
#include "serve.h"
#include "server.h"
#include "status.h"
#include "wagi.h"
#include "wagi_loader.h"
#include "wasi_opts.h"

static const char usage[] =
    "usage: wpool serve [--listen ADDR:PORT] [--threads N] [--runtime pool|stock]\n"
    "                   [--config KEY=VALUE]... [--max-body SIZE] [--max-connections N]\n"
    "                   [--max-buffered SIZE] [--timeout DURATION] [--log] [--watch]\n"
    "                   [--volume ROUTE:HOST[::GUEST]]... [--volume-rw ROUTE:HOST[::GUEST]]...\n"
    "                   MODULE.wasm | DIRECTORY\n";

/* Each request's time limit unless --timeout says otherwise: far longer
 * than any request a WAGI guest answers (microseconds to milliseconds), and
 * shorter than the usual proxy read timeouts (60 s), so a stuck guest frees
 * its worker before a client behind a proxy gives up (docs/serve.md). */
#define DEFAULT_TIMEOUT_NS 10000000000ull
/* After a second stop signal: how long a reload pass in progress may still
 * run before the process ends without it (as srv's wait for a stuck
 * request: docs/serve.md "Stopping"). */
#define STOP_AGAIN_MS 500

#define MAX_THREADS 256

static int fail(int status, const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "wpool serve: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  return status;
}

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

typedef struct opts {
  const char *listen, *target;
  struct sockaddr_storage addr;
  char host[64];
  uint64_t threads, max_body, max_connections, timeout_ns, max_buffered;
  bool max_buffered_set;
  bool log, watch;
  wrt_backend_t backend;
  wpool_config_t cfg;
  const char **vol; /* --volume and --volume-rw values, in order */
  bool *vol_rw;
  size_t nvol;
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
    } else if (!strcmp(a, "--max-connections")) {
      if (!next || !parse_count(next, 1u << 30, &o->max_connections) || !o->max_connections)
        return fail(TOOL_BAD_INPUT, "--max-connections needs a number from 1, not %s%s",
                    next ? next : "nothing", "");
      i++;
    } else if (!strcmp(a, "--timeout")) {
      if (!next || !parse_duration(next, &o->timeout_ns))
        return fail(TOOL_BAD_INPUT, "--timeout needs a duration (10s, 500ms, 0 for none), not %s%s",
                    next ? next : "nothing", "");
      i++;
    } else if (!strcmp(a, "--max-buffered")) {
      if (!next || !parse_size(next, &o->max_buffered) || o->max_buffered < (1u << 20))
        return fail(TOOL_BAD_INPUT, "--max-buffered needs a size of 1MiB or more, not %s%s",
                    next ? next : "nothing", "");
      o->max_buffered_set = true;
      i++;
    } else if (!strcmp(a, "--log")) {
      o->log = true;
    } else if (!strcmp(a, "--watch")) {
      o->watch = true;
    } else if (!strcmp(a, "--volume") || !strcmp(a, "--volume-rw")) {
      if (!next) return fail(TOOL_BAD_INPUT, "%s needs ROUTE:HOST[::GUEST]%s", a, "");
      const char **v = realloc(o->vol, (o->nvol + 1) * sizeof(*v));
      if (v) o->vol = v;
      bool *rw = v ? realloc(o->vol_rw, (o->nvol + 1) * sizeof(*rw)) : NULL;
      if (rw) o->vol_rw = rw;
      if (!v || !rw) return fail(TOOL_FAILED, "out of memory%s%s", "", "");
      o->vol[o->nvol] = next;
      o->vol_rw[o->nvol++] = !strcmp(a, "--volume-rw");
      i++;
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

typedef struct app {
  opts_t o;
  wrt_runtime_t *rt;
  wagi_module_t *modules;
  size_t nmodules;
  bool single;
  unsigned threads;
  wagi_routes_t routes;
  wagi_loader_t loader;
  wagi_t wagi;
  metrics_handler_t metrics;
  srv_t *srv;
} app_t;

static void on_ready(void *arg, const srv_t *s) {
  app_t *a = arg;
  char limit[64] = "no time limit";
  if (a->o.timeout_ns)
    snprintf(limit, sizeof(limit), "a time limit of %.3g s", (double)a->o.timeout_ns / 1e9);
  fprintf(stderr, "wpool serve: listening on http://%s%s%s:%u/ (%u threads, %s runtime, %s)\n",
          a->o.addr.ss_family == AF_INET6 ? "[" : "", a->o.host,
          a->o.addr.ss_family == AF_INET6 ? "]" : "", srv_port(s), srv_threads(s),
          wrt_backend_name(a->o.backend), limit);
  fflush(stderr);
}

/* Descriptors kept for everything but client connections: the listener,
 * each loop's (epoll, eventfd, signal pipe), the runtime's files while it
 * loads, standard streams, and the connections past the cap; with
 * volumes, what a request running on each loop may hold (runtime.md). */
static uint64_t fd_reserve(const app_t *a, unsigned threads) {
  uint64_t per_request = 0;
  for (size_t i = 0; i < a->nmodules; i++) {
    uint64_t d = a->modules[i].ndirs;
    if (d && 3 + 2 * d + WAGI_MAX_OPEN + 258 > per_request)
      per_request = 3 + 2 * d + WAGI_MAX_OPEN + 258;
  }
  return 64 + (8 + per_request) * (uint64_t)threads + SRV_RESERVE;
}

/* The cap on client connections: --max-connections, or what the
 * descriptor limit allows once raised to its hard limit. 0: exit 2. */
static unsigned connection_cap(const app_t *a, unsigned threads) {
  const opts_t *o = &a->o;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = rl.rlim_max = 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit want = {rl.rlim_max > (1u << 20) ? (1u << 20) : rl.rlim_max, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl.rlim_cur = want.rlim_cur;
  }
  uint64_t reserve = fd_reserve(a, threads);
  uint64_t room = rl.rlim_cur > reserve ? rl.rlim_cur - reserve : 0;
  if (room > (1u << 30)) room = 1u << 30;
  if (!o->max_connections) return room ? (unsigned)room : 0;
  if (o->max_connections > room) {
    fprintf(stderr,
            "wpool serve: --max-connections %llu is over what the descriptor limit allows: "
            "%llu (RLIMIT_NOFILE %llu less %llu kept for the server)\n",
            (unsigned long long)o->max_connections, (unsigned long long)room,
            (unsigned long long)rl.rlim_cur, (unsigned long long)reserve);
    return 0;
  }
  return (unsigned)o->max_connections;
}

/* --threads, or one loop per core this process may run on. */
static unsigned threads_of(const opts_t *o) {
  cpu_set_t cpus;
  long cores = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus)
                                                              : sysconf(_SC_NPROCESSORS_ONLN);
  return o->threads ? (unsigned)o->threads
                    : (unsigned)(cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : cores);
}

/* The server over the loaded modules, until it has stopped. */
static int serve(app_t *a) {
  srv_config_t sc;
  srv_config_init(&sc);
  sc.threads = a->threads;
  sc.max_body = a->o.max_body;
  sc.max_connections = connection_cap(a, sc.threads);
  if (a->o.max_buffered_set) sc.max_buffered = (size_t)a->o.max_buffered;
  if (!sc.max_connections) return TOOL_BAD_INPUT;
  sc.log = a->o.log;
  sc.ready = on_ready;
  sc.ready_arg = a;
  if (srv_create(&sc, &a->srv) != 0) return fail(TOOL_FAILED, "%s%s", srv_error(), "");
  wagi_init(&a->wagi, a->rt, &a->routes, a->single, a->o.log);
  a->wagi.threads = sc.threads;
  a->wagi.timeout_ns = a->o.timeout_ns;
  metrics_handler_init(&a->metrics, a->srv, wagi_metrics, &a->wagi);
  /* The modules' routes are the loader's table, behind one route. */
  int err = srv_route(a->srv, "/metrics", true, &a->metrics.h, NULL);
  if (!err) err = srv_route(a->srv, "/", false, &a->wagi.h, NULL);
  if (err) return fail(TOOL_FAILED, "routes: %s%s", strerror(-err), "");
  if (srv_listen(a->srv, &a->o.addr, a->o.host) != 0)
    return fail(TOOL_FAILED, "cannot listen on %s: %s", a->o.listen, srv_error());
  signal(SIGPIPE, SIG_IGN);
  char why[512];
  if (wagi_loader_start(&a->loader, why, sizeof(why)) != 0)
    return fail(TOOL_BAD_INPUT, "%s%s", why, "");
  err = srv_run(a->srv);
  if (err == -ETIMEDOUT) {
    /* A second stop signal and a guest that does not end (no time limit,
     * or a longer one): its thread still runs in the runtime, so nothing
     * can be freed, the loader's thread and its handles (a worker may
     * still drop a version's last reference to them) included; the
     * process ends here. */
    fprintf(stderr, "wpool serve: %s; exiting\n", srv_error());
    fflush(NULL);
    wrt_kill_compiles(); /* a reload's, if one runs: nothing waits for it */
    _exit(TOOL_FAILED);
  }
  /* A reload pass in progress is waited for as requests are: until
   * SRV_DRAIN_MS after the first stop; after a second stop, as long as a
   * stuck request (STOP_AGAIN_MS); a stop signal meanwhile ends the wait.
   * An idle loader ends within microseconds: it has STOP_AGAIN_MS at least
   * (requests that ran to their time limit may have used the drain's). */
  uint64_t first_ns = 0;
  unsigned stops = srv_stops(a->srv, &first_ns);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  uint64_t deadline = stops == 0   ? UINT64_MAX
                      : stops == 1 ? first_ns + SRV_DRAIN_MS * 1000000ull
                                   : now + STOP_AGAIN_MS * 1000000ull;
  if (deadline < now + STOP_AGAIN_MS * 1000000ull) deadline = now + STOP_AGAIN_MS * 1000000ull;
  int ls = wagi_loader_stop(&a->loader, deadline, STOP_AGAIN_MS * 1000000ull);
  if (ls) {
    /* The loader's thread is in a load (a compile can take minutes) and
     * uses the runtime: nothing can be freed; the process ends here, and
     * the compiler it runs, with every process it started, first. */
    fprintf(stderr,
            "wpool serve: %s while a reload pass is still loading; exiting without it "
            "(%llu requests answered)\n",
            ls == -EINTR ? "another stop signal"
            : stops >= 2 ? "second stop signal"
                         : "the stop's time is up",
            (unsigned long long)srv_requests_answered(a->srv));
    fflush(NULL);
    wrt_kill_compiles();
    _exit(TOOL_FAILED);
  }
  if (err != 0) return fail(TOOL_FAILED, "%s%s", srv_error(), "");
  return TOOL_OK;
}

/* Each --volume ROUTE:HOST[::GUEST] given to its route's module, the
 * directory opened once. TOOL_OK, or TOOL_BAD_INPUT after a message. */
static int volumes(app_t *a, char *err, size_t errlen) {
  for (size_t v = 0; v < a->o.nvol; v++) {
    const char *spec = a->o.vol[v], *opt = a->o.vol_rw[v] ? "--volume-rw" : "--volume";
    const char *colon = spec[0] == '/' ? strchr(spec, ':') : NULL;
    char *host = NULL, *guest = NULL;
    if (!colon || !wasi_dir_spec(colon + 1, &host, &guest))
      return fail(TOOL_BAD_INPUT, "%s needs ROUTE:HOST[::GUEST] (ROUTE /NAME, or / for one "
                  "module), not '%s'", opt, spec);
    size_t rl = (size_t)(colon - spec);
    wagi_module_t *m = NULL;
    for (size_t i = 0; i < a->nmodules && !m; i++)
      if (a->single ? rl == 1 : (rl == strlen(a->modules[i].name) + 1 &&
                                 !strncmp(spec + 1, a->modules[i].name, rl - 1)))
        m = &a->modules[i];
    int st = TOOL_OK;
    if (!m)
      st = fail(TOOL_BAD_INPUT, "%s %s: no module is served at that route", opt, spec);
    else if (wagi_module_volume(m, host, guest, a->o.vol_rw[v], err, errlen))
      st = fail(TOOL_BAD_INPUT, "%s %s", opt, err);
    free(host);
    free(guest);
    if (st != TOOL_OK) return st;
  }
  return TOOL_OK;
}

/* After the stop: no instance may be live; the runtime is destroyed. */
static int finish(app_t *a, int st) {
  uint64_t answered = a->srv ? srv_requests_answered(a->srv) : 0;
  if (st == TOOL_OK && wrt_pool(a->rt)) {
    wpool_stats_t ps;
    wpool_stats_get(wrt_pool(a->rt), &ps);
    if (ps.live_instances) {
      fprintf(stderr, "wpool serve: stopped with %llu instances still live\n",
              (unsigned long long)ps.live_instances);
      st = TOOL_FAILED;
    }
  }
  wagi_loader_free(&a->loader);
  wagi_routes_free(&a->routes); /* each module unloaded */
  int derr = wrt_destroy(a->rt);
  a->rt = NULL;
  if (derr && st == TOOL_OK)
    st = fail(TOOL_FAILED, "destroying the runtime: %s%s", wrt_last_error(), "");
  if (st == TOOL_OK)
    fprintf(stderr, "wpool serve: stopped: %llu requests answered, 0 instances live\n",
            (unsigned long long)answered);
  return st;
}

int serve_main(int argc, char **argv) {
  app_t *a = calloc(1, sizeof(*a));
  if (!a) return fail(TOOL_FAILED, "out of memory%s%s", "", "");
  a->o = (opts_t){.backend = WRT_BACKEND_POOL, .max_body = 1 << 20,
                  .timeout_ns = DEFAULT_TIMEOUT_NS};
  /* The runtime's layout for wasm2c, with the library's own defaults for
   * what a reset keeps resident (WPOOL_KEEP_AUTO where the library has
   * it): --config may set them. */
  wpool_config_t lib;
  wpool_config_init(&lib);
  wrt_config_init(&a->o.cfg);
  a->o.cfg.linear_memory_keep_resident = lib.linear_memory_keep_resident;
  a->o.cfg.table_keep_resident = lib.table_keep_resident;
  /* A SIGHUP before the loader takes it (while the modules load) neither
   * ends the server nor is needed: the first load reads every file. */
  signal(SIGHUP, SIG_IGN);
  int st = parse_args(&a->o, argc, argv);
  char err[1024];
  if (st < 0) {
    st = TOOL_OK;
    if (wagi_modules_find(a->o.target, &a->modules, &a->nmodules, &a->single, err, sizeof(err)))
      st = fail(TOOL_BAD_INPUT, "%s%s", err, "");
  }
  if (st == TOOL_OK && a->o.target) {
    wrt_options_t wo;
    wrt_options_init(&wo);
    wo.backend = a->o.backend;
    wo.pool_config = &a->o.cfg;
    if (wrt_create(&wo, &a->rt) != 0)
      st = fail(TOOL_BAD_INPUT, "%s runtime: %s", wrt_backend_name(a->o.backend), wrt_last_error());
    if (st == TOOL_OK) st = volumes(a, err, sizeof(err));
    a->threads = threads_of(&a->o);
    if (st == TOOL_OK && wagi_routes_init(&a->routes, a->single, a->threads) != 0)
      st = fail(TOOL_FAILED, "out of memory%s%s", "", "");
    if (st == TOOL_OK &&
        (wagi_loader_init(&a->loader, a->rt, &a->routes, a->o.target, a->single, a->o.watch,
                          a->modules, a->nmodules, err, sizeof(err)) ||
         wagi_loader_first(&a->loader, err, sizeof(err))))
      st = fail(TOOL_BAD_INPUT, "%s%s", err, "");
    const wagi_table_t *t = st == TOOL_OK ? atomic_load(&a->routes.current) : NULL;
    for (size_t i = 0; st == TOOL_OK && i < a->nmodules; i++) {
      const wagi_module_t *m = &a->modules[i];
      fprintf(stderr, "wpool serve: /%s%s -> %s (version %s)\n", a->single ? "" : m->name,
              a->single ? "..." : "", m->path, t->v[i]->hex);
      for (uint32_t k = 0; k < m->ndirs; k++)
        fprintf(stderr, "wpool serve:   volume %s (%s)\n", m->dirs[k].guest_path,
                m->dirs[k].read_only ? "read-only" : "read-write");
    }
    if (st == TOOL_OK) st = finish(a, serve(a));
  }
  wagi_loader_free(&a->loader);
  wagi_routes_free(&a->routes);
  if (a->rt) wrt_destroy(a->rt);
  srv_destroy(a->srv);
  wagi_modules_free(a->modules, a->nmodules);
  free(a->o.vol);
  free(a->o.vol_rw);
  free(a);
  return st;
}
