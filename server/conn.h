/* A client connection of a worker: its bytes in and out (conn.c), its
 * requests parsed and dispatched (http.c). Owned by one worker's loop. */
#ifndef WPOOL_SERVER_CONN_H
#define WPOOL_SERVER_CONN_H

#include <arpa/inet.h>
#include <http_parser.h>

#include "internal.h"

typedef struct header {
  size_t name, name_len, value, value_len; /* offsets into the request's text */
} header_t;

struct conn {
  uv_tcp_t tcp;
  worker_t *w;
  conn_t *prev, *next;
  uv_read_cb on_read; /* the parser's (http.c) */
  http_parser parser;
  sbuf_t text; /* the request's url, then its header names and values */
  size_t url_len;
  header_t headers[SRV_MAX_HEADERS];
  size_t nheaders;
  bool in_value; /* the last header callback was a value's */
  sbuf_t body;
  bool in_message;  /* a request has begun and is not complete */
  int error_status; /* a callback's refusal: 413, 431 */
  uint64_t t0;      /* the request's first byte, ns */
  sbuf_t out;       /* responses not yet handed to the kernel */
  sbuf_t wbuf;      /* the write in flight */
  uv_write_t wreq;
  uv_shutdown_t sreq;
  bool reading, writing, close_after_write, lingering, closing;
  uint64_t last_ms; /* the last read, or the linger's start */
  char peer[INET6_ADDRSTRLEN];
};

/* A new connection on `fd` in w's list (its parser not yet set up); NULL
 * when out of memory or libuv refuses it (fd closed). */
conn_t *conn_new(worker_t *w, int fd);
/* Between a request's first byte and its last: counted for /metrics. */
void conn_set_receiving(conn_t *c, bool on);
/* Hand c->out to the kernel (at once, or by a queued write that pauses
 * reading); then the connection's next step: read on, or close. */
void conn_flush(conn_t *c);
void conn_close(conn_t *c);
/* Nothing in flight: no request begun, nothing to write, not closing. */
bool conn_idle(const conn_t *c);

#endif
