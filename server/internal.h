/* The server's records, shared by its files (server.h is the API). */
#ifndef WPOOL_SERVER_INTERNAL_H
#define WPOOL_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "../src/util/debug.h" /* debug_assert by level: the library's own */
#include "buf.h"
#include "handler.h"
#include "server.h"

#define SRV_MAX_HEADERS SRV_MAX_FIELDS

/* Counters of one worker: written by it alone (relaxed atomics, no locked
 * instruction), read by whichever worker answers /metrics. */
#define METRIC_BUCKETS 17 /* latency histogram bounds, plus +Inf */
#define METRIC_CODES 600  /* status codes 0..599 */

typedef struct metrics {
  _Atomic uint64_t by_code[METRIC_CODES];
  _Atomic uint64_t bucket[METRIC_BUCKETS + 1];
  _Atomic uint64_t latency_ns_sum;
  _Atomic uint64_t connections_open, connections_total;
  _Atomic uint64_t receiving;      /* requests begun whose bytes are still arriving */
  _Atomic uint64_t buffered;       /* bytes allocated by its connections' buffers */
  _Atomic uint64_t refused_at_cap; /* requests answered 503 on reserve connections */
  _Atomic uint64_t over_budget;    /* times its buffers went past its share of max_buffered */
} metrics_t;

typedef struct route {
  char *segment; /* the prefix without its '/': "" for "/" */
  size_t len;
  bool exact;
  srv_handler_t *h;
  void *data;
} route_t;

#define BUSY_NAME_WORDS 13 /* 104 bytes: 103 of a name and a NUL */

typedef struct worker worker_t;
typedef struct conn conn_t;

struct srv {
  srv_config_t cfg;
  route_t *routes; /* sorted by segment; the "/" route apart */
  size_t nroutes;
  route_t *root;
  srv_handler_t **handlers; /* distinct, handlers[h->slot] == h */
  size_t nhandlers;
  int fd; /* the listening socket */
  char host[64];
  unsigned port;
  worker_t *workers;
  unsigned nworkers;
  void *metrics_mem;
  pthread_mutex_t lock;      /* guards listener for srv_stop */
  struct listener *listener; /* while srv_run runs */
  uv_async_t *finished;      /* the listener's: a worker has ended */
  uv_async_t *resume;        /* the listener's: accept again (under lock) */
  size_t budget;             /* each worker's share of max_buffered (0: none) */
  atomic_uint nfinished;
  atomic_int stop_requests; /* srv_stop's calls, seen by the listener */
  atomic_uint stops;        /* stops taken (signals and srv_stop's calls) */
  _Atomic uint64_t stop_ns; /* the first one's time, CLOCK_MONOTONIC ns */
  atomic_uint open;         /* client connections accepted and not closed */
  atomic_bool paused;       /* accepting paused at max_connections + reserve */
};

/* One event loop and its thread. */
struct worker {
  srv_t *srv;
  unsigned id;
  pthread_t thread;
  uv_loop_t loop;
  uv_async_t wake;  /* new connections, or stop */
  uv_timer_t sweep; /* idle and lingering connections */
  pthread_mutex_t lock;
  int *pending; /* accepted fds handed over by the listener (~fd: reserve) */
  size_t npending, cap_pending;
  atomic_int stop; /* 1: stop (drain); 2: close every connection now */
  bool stopping;
  uint64_t stop_ms;
  bool loop_closed; /* the loop ended with every handle closed */
  bool finished;    /* the loop has ended (under lock): no more wakes */
  bool over;        /* its buffers past its share of max_buffered (conn.c) */
  time_t date_s;    /* the second date[] names (respond.c) */
  char date[64];    /* "Server: wpool\r\nDate: ...\r\n" (respond.c) */
  size_t date_len;
  conn_t *conns;                      /* every open connection (a list) */
  char rbuf[64 << 10];                /* reads: consumed before the next one */
  void **state;                       /* each handler's per-worker state, by slot */
  srv_header_t hdrs[SRV_MAX_HEADERS]; /* the request being dispatched */
  sbuf_t scratch;                     /* the log line */
  metrics_t *metrics;                 /* its own, cache-line aligned */
  /* Read by the listener (relaxed): connections handed over and not yet
   * adopted; the request its handler runs (dispatch.c): since when (the
   * loop's time in ms, plus 1; 0: none) and on which route. */
  atomic_uint queued;
  _Atomic uint64_t busy_since;
  const route_t *_Atomic busy_route;
  /* For a request of the "/" route: its path's first segment (the WAGI
   * route it names), NUL-padded, in words the listener may read while the
   * worker writes them (a torn name only in a message). */
  _Atomic uint64_t busy_name[BUSY_NAME_WORDS];
};

#endif
