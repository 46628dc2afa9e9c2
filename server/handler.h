/* The seam between the HTTP server and what answers a request: a route
 * (a path prefix) is matched to a handler, whose on_request turns a
 * complete request into a response, on the worker thread that read it
 * (as h2o's h2o_handler_t). WAGI (wagi.h) and /metrics (metrics.h) are two
 * handlers. A handler may keep per-worker state (worker_init/worker_free):
 * the buffers it reuses request after request, touched by one thread. */
#ifndef WPOOL_SERVER_HANDLER_H
#define WPOOL_SERVER_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_header {
  const char *name, *value;
  size_t name_len, value_len;
} srv_header_t;

/* A complete request, as parsed and routed. Every pointer is valid during
 * on_request only; strings are not NUL-terminated unless said. */
typedef struct srv_request {
  const char *method; /* "GET", ... (NUL-terminated) */
  int http_major, http_minor;
  const char *target; /* the request target as sent */
  size_t target_len;
  const char *path; /* its path (origin-form, or the path of absolute-form) */
  size_t path_len;
  const char *query; /* after '?', or NULL when none */
  size_t query_len;
  const char *host; /* the absolute-form target's authority, else the Host
                       field's value (RFC 9112 3.2.2), or NULL (HTTP/1.0) */
  size_t host_len;
  const char *rest; /* the path past the route's prefix (a suffix of path) */
  size_t rest_len;
  const srv_header_t *headers; /* in order; trailers never among them */
  size_t nheaders;
  const char *body; /* the whole body (chunks joined) */
  size_t body_len;
  const char *remote_addr; /* the client's address (NUL-terminated) */
  const char *server_host; /* the listening address (NUL-terminated) */
  unsigned server_port;    /* the listening port */
  void *route_data;        /* what the route was registered with */
  void *state;             /* the handler's per-worker state */
} srv_request_t;

/* The handler's answer. The server frames it (status line, Server,
 * Content-Length, Connection) and copies it before on_request's next call
 * on this worker: pointers may be into the handler's per-worker state. */
typedef struct srv_response {
  int status;         /* 100..599 */
  const char *reason; /* NULL: the standard phrase */
  const char *head;   /* extra header lines, "Name: value\r\n" each */
  size_t head_len;
  const char *body;
  size_t body_len;
  bool close; /* close the connection after it (the request is not trusted) */
} srv_response_t;

typedef struct srv_handler srv_handler_t;
struct srv_handler {
  const char *name;
  void (*on_request)(srv_handler_t *h, const srv_request_t *req, srv_response_t *res);
  /* Optional: per-worker state, made before the worker's thread starts and
   * freed after it ended. NULL from worker_init: out of memory. */
  void *(*worker_init)(srv_handler_t *h, unsigned worker);
  void (*worker_free)(srv_handler_t *h, void *state);
  /* Also answered on the connections the server accepts past
   * max_connections (its reserve, for monitoring: /metrics). */
  bool reserve;
  unsigned slot; /* set by srv_route: its index among the server's handlers */
};

#endif
