/* `wpool serve`: an HTTP/1.1 server that runs a WebAssembly command per
 * request on the runtime's pool, WAGI conventions (docs/serve.md).
 *
 * serve.c        the command: options, modules, the listener, the worker
 *                threads, signals and shutdown
 * serve_http.c   a worker's event loop: connections, http-parser, responses
 * serve_wagi.c   a request as a WAGI guest sees it (args, environ) and the
 *                guest's stdout as an HTTP response
 * serve_metrics.c counters per worker and the /metrics exposition */
#ifndef WPOOL_TOOL_SERVE_H
#define WPOOL_TOOL_SERVE_H

#include <http_parser.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "runtime.h"

int serve_main(int argc, char **argv);

/* A growable byte buffer. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf_t;

bool sbuf_reserve(sbuf_t *b, size_t extra);
bool sbuf_put(sbuf_t *b, const void *s, size_t n);
bool sbuf_puts(sbuf_t *b, const char *s);
bool sbuf_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_free(sbuf_t *b);

/* ------------------------------------------------------------------ */
/* Routes */

typedef struct route {
  char *name; /* the file's name without .wasm: the route /NAME, argv[0] */
  char *path; /* the .wasm file */
  wrt_module_t *m;
} route_t;

/* ------------------------------------------------------------------ */
/* Metrics: written by one worker (relaxed atomics, no lock prefix),
 * read by whichever worker answers /metrics. */

#define METRIC_BUCKETS 17 /* latency histogram bounds, plus +Inf */
#define METRIC_CODES 600  /* status codes 0..599 */

typedef struct metrics {
  _Atomic uint64_t by_code[METRIC_CODES];
  _Atomic uint64_t bucket[METRIC_BUCKETS + 1];
  _Atomic uint64_t latency_ns_sum;
  _Atomic uint64_t connections_open, connections_total;
  _Atomic uint64_t receiving; /* requests begun whose bytes are still arriving */
} metrics_t;

void metrics_count(metrics_t *m, int code, uint64_t ns);
void metrics_add(_Atomic uint64_t *c, int64_t d);

typedef struct header {
  size_t name, name_len, value, value_len; /* offsets into the request's text */
} header_t;

/* What a request says, as parsed. */
typedef struct request {
  const char *method;
  int http_major, http_minor;
  const char *text; /* url and header bytes */
  size_t url, url_len;
  const header_t *headers;
  size_t nheaders;
  const char *body;
  size_t body_len;
  const char *remote_addr;
} request_t;

/* A response being built. */
typedef struct response {
  int status;
  const char *reason; /* NULL: the standard one */
  char reason_buf[64];
  sbuf_t head; /* extra header lines, each "Name: value\r\n" */
  const char *body;
  size_t body_len;
  bool retry_after;
} response_t;

/* ------------------------------------------------------------------ */
/* The server, shared read-only by the workers once they run. */

typedef struct server server_t;
typedef struct worker worker_t;

struct server {
  wrt_runtime_t *rt;
  route_t *routes;
  size_t nroutes;
  bool single;     /* MODULE.wasm at /, else DIRECTORY's modules at /NAME */
  size_t max_body; /* 413 past this */
  bool log;        /* one line per request on stdout */
  char host[64];   /* SERVER_NAME when the request has no Host */
  unsigned port;   /* the bound port (SERVER_PORT) */
  worker_t *workers;
  unsigned nworkers;
  uv_async_t *finished; /* the main loop's: a worker has ended */
  atomic_uint nfinished;
  uint64_t started_ns;
};

/* One event loop and its thread. */
struct worker {
  server_t *srv;
  unsigned id;
  pthread_t thread;
  uv_loop_t loop;
  uv_async_t wake;  /* new connections, or stop */
  uv_timer_t sweep; /* idle and lingering connections */
  pthread_mutex_t lock;
  int *pending; /* accepted fds handed over by the listener */
  size_t npending, cap_pending;
  atomic_int stop; /* 1: stop (drain); 2: close every connection now */
  bool stopping;
  uint64_t stop_ms;
  bool loop_closed;    /* the loop ended with every handle closed */
  bool finished;       /* the loop has ended (under lock): no more wakes */
  struct conn *conns;  /* every open connection (a list) */
  char rbuf[64 << 10]; /* reads: consumed before the next one */
  /* Per request, reused: the guest's argv and environ, and its result. */
  sbuf_t args; /* strings */
  const char **argv, **envp;
  size_t argv_cap, envp_cap;
  size_t *offs, offs_cap;
  wrt_result_t res;
  response_t rs;
  sbuf_t decoded;     /* PATH_INFO, percent-decoded */
  sbuf_t scratch;     /* a response's head, /metrics, the log line */
  metrics_t *metrics; /* its own, cache-line aligned */
};

/* serve_http.c. worker_init: the loop and its handles (before the thread
 * starts; returns a libuv error); worker_main: run the loop until it has
 * stopped and every connection is closed; worker_free: after the join. */
int worker_init(worker_t *w);
void *worker_main(void *arg);
void worker_free(worker_t *w);
/* Hand an accepted connection to `w` (any thread). */
bool worker_adopt(worker_t *w, int fd);
void worker_stop(worker_t *w);

/* ------------------------------------------------------------------ */
/* serve_wagi.c */

/* Route the request's path: the route, with PATH_INFO's raw bytes in
 * *rest (a pointer into the path), or NULL for 404. */
const route_t *wagi_route(const server_t *s, const char *path, size_t len, const char **rest,
                          size_t *rest_len);
/* Build the guest's argv and environ in w's buffers. Return 0, 400 (a
 * malformed escape in the path) or 500 (out of memory). */
int wagi_request(worker_t *w, const route_t *r, const request_t *q, const char *path,
                 size_t path_len, const char *rest, size_t rest_len, const char *query,
                 size_t query_len, wrt_request_t *out);
/* Turn the guest's stdout into a response (headers parsed into rs->head). */
void wagi_response(const char *out, size_t len, response_t *rs);
const char *http_reason(int status);
/* Decode %XX; false for a malformed escape or a NUL byte. */
bool percent_decode(const char *s, size_t n, sbuf_t *out);

/* ------------------------------------------------------------------ */
/* serve_metrics.c: the Prometheus text exposition into `out`. */
bool metrics_expose(const server_t *s, sbuf_t *out);

#endif
