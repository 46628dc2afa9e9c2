/* The HTTP/1.1 server of `wpool serve` (docs/serve.md), as a component: a
 * listener, one libuv loop per worker thread owning its connections,
 * requests parsed and routed to handlers (handler.h) on the worker that
 * read them. It knows nothing of WebAssembly: the WAGI adapter (wagi.h)
 * and /metrics (metrics.h) are handlers.
 *
 *   srv_create -> srv_route... -> srv_listen -> srv_run (until SIGINT or
 *   SIGTERM and every worker ended) -> srv_destroy
 *
 * Every function returns 0 or a negative errno; srv_error() then says why
 * in a line naming the value. */
#ifndef WPOOL_SERVER_SERVER_H
#define WPOOL_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "handler.h"

typedef struct srv srv_t;

/* At a stop: how long after it requests still being received are waited
 * for (ms); a running request ends at its handler's time limit. */
#define SRV_DRAIN_MS 10000

typedef struct srv_config {
  unsigned threads; /* worker loops, 1 or more */
  size_t max_body;  /* bytes; larger bodies are 413 */
  bool log;         /* one line per request on stdout */
  /* Client connections open at once; 0: no cap. At the cap the server
   * accepts SRV_RESERVE more, on which only handlers marked `reserve`
   * answer (503 otherwise), and then pauses accepting (the kernel's
   * backlog holds new connections) until one closes. */
  unsigned max_connections;
  /* Milliseconds: a request's head (request line and header fields) must
   * be complete this long after its first byte, and a chunked body's
   * trailer section this long after its last chunk (408 otherwise); a
   * write that makes no progress this long closes the connection; a
   * request whose body stops arriving this long, and a keep-alive
   * connection idle this long, are closed. */
  unsigned head_ms, write_ms, read_ms, idle_ms;
  /* Bytes per second, 0: none. A body must arrive, and a response be
   * taken by the kernel, at least this fast on average: a body is due
   * read_ms after its head plus its bytes at this rate (Apache's
   * mod_reqtimeout: body=20,MinRate=500), a write write_ms after its
   * start plus its bytes at this rate. */
  unsigned min_rate;
  /* Bytes the connections' buffers may hold in all (requests, parked
   * input, responses), split evenly among the workers; 0: no bound. Past
   * its share a worker reads nothing more and runs no request of a
   * connection with a response unsent (reserve connections aside) until
   * writes and deadlines bring it back under seven eighths of it; it
   * overshoots by at most one response and one read. */
  size_t max_buffered;
  /* Called by srv_run once the workers run and the signals are caught
   * (the moment to say that the server listens); may be NULL. */
  void (*ready)(void *arg, const srv_t *s);
  void *ready_arg;
} srv_config_t;

#define SRV_RESERVE 8            /* connections past max_connections */
#define SRV_MAX_HEAD (80u << 10) /* bytes of a request's head; more: 431 */
#define SRV_MAX_FIELDS 100       /* header fields of a request; more: 431 */
/* A chunked body's framing: a chunk-size line (the CRLF before it, the
 * size, its extensions, its CRLF) at most SRV_MAX_CHUNK_LINE bytes, and
 * all of a body's framing at most SRV_CHUNK_SLACK bytes plus 8 per byte
 * of data (1-byte chunks take 5); more: 400. */
#define SRV_MAX_CHUNK_LINE (4u << 10)
#define SRV_CHUNK_SLACK (64u << 10)
#define SRV_OUT_BOUND                                                      \
  (64u << 10)                /* unsent bytes past which a connection reads \
                                and runs nothing more */
#define SRV_KEEP (16u << 10) /* a buffer's capacity kept between requests */

/* The defaults: one thread, 1 MiB bodies, no log, no connection cap,
 * head 30 s, write 30 s, read 30 s, idle 60 s, 500 bytes/s, buffers up to
 * a quarter of the memory the process may use (the machine's, or its
 * cgroup's memory.max when lower). */
void srv_config_init(srv_config_t *cfg);

int srv_create(const srv_config_t *cfg, srv_t **out);
/* Route `prefix` to `h` with `data` (srv_request_t.route_data): "/" is
 * every path; "/NAME" is /NAME and every path below it, /NAME/...;
 * `exact`: /NAME only. A path matches its first segment's route, else the
 * "/" route, else 404. Before srv_listen. */
int srv_route(srv_t *s, const char *prefix, bool exact, srv_handler_t *h, void *data);
/* Bind and listen on `addr`; `host` is the address as text (SERVER_NAME
 * when a request names none). The port bound: srv_port. */
int srv_listen(srv_t *s, const struct sockaddr_storage *addr, const char *host);
unsigned srv_port(const srv_t *s);
unsigned srv_threads(const srv_t *s);
/* Start the workers and accept on this thread until SIGINT or SIGTERM
 * (the first stops accepting and lets requests in flight finish, a second
 * closes every connection) and every worker has ended. A new connection
 * goes to a worker running no request, else to one whose request has run
 * less than 5 ms, else to any; among those to the one with the fewest
 * connections (those handed over and not yet adopted counted), ties in
 * turn. 0: every worker ended with its loop
 * closed; -EIO otherwise; -ETIMEDOUT when, 500 ms after a second stop, a
 * worker still runs a request (srv_error names each one's route and how
 * long it has run): its thread runs on, so the caller must end the process
 * without srv_destroy. */
int srv_run(srv_t *s);
/* From any thread: as SIGTERM (a second call as a second SIGTERM). */
void srv_stop(srv_t *s);
/* Stops taken so far (stop signals and srv_stop's calls); *first_ns the
 * first one's time (CLOCK_MONOTONIC ns) when there was one. Any thread. */
unsigned srv_stops(const srv_t *s, uint64_t *first_ns);
/* Bytes the connections' buffers hold now (any thread). */
uint64_t srv_buffered_bytes(const srv_t *s);
/* Responses sent, every status counted. */
uint64_t srv_requests_answered(const srv_t *s);
void srv_destroy(srv_t *s);
/* This thread's message for the last failed call. */
const char *srv_error(void);

#endif
