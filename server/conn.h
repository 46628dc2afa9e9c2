/* A client connection of a worker: its bytes in and out (conn.c), its
 * requests parsed and dispatched (http.c). Owned by one worker's loop.
 *
 * Memory: its record (this struct, about 4 KiB), the request's text (at
 * most SRV_MAX_HEAD), its body (at most max_body), input read past a
 * request and parked while responses are unsent (at most one read, 64
 * KiB), and its responses: those unsent past SRV_OUT_BOUND stop it from
 * reading and running anything more, so at most SRV_OUT_BOUND plus the
 * last response. Each buffer falls back to SRV_KEEP after use. */
#ifndef WPOOL_SERVER_CONN_H
#define WPOOL_SERVER_CONN_H

#include <arpa/inet.h>
#include <llhttp.h>

#include "head.h"
#include "internal.h"
#include "target.h"

typedef struct header {
  size_t name, name_len, value, value_len; /* offsets into the request's text */
} header_t;

struct conn {
  uv_tcp_t tcp;
  worker_t *w;
  conn_t *prev, *next;
  uv_read_cb on_read;          /* the parser's (http.c) */
  void (*on_resume)(conn_t *); /* parked input to go on with (http.c) */
  llhttp_t parser;
  /* The request being received. */
  sbuf_t text; /* its target, then its header names and values */
  size_t url_len;
  header_t headers[SRV_MAX_HEADERS];
  size_t nheaders;
  bool in_field;        /* within a header name (more of it may come) */
  size_t field_len;     /* its bytes so far (a trailer field's too) */
  bool in_head;         /* in a head or a trailer section: its bytes are checked */
  bool past_head;       /* the head is complete: fields now are trailers (dropped) */
  head_scan_t scan;     /* the check of the head's bytes */
  int event;            /* what paused the parser (http.c) */
  target_t target;      /* the head's target, checked (pointers into text) */
  const header_t *host; /* its Host field, or NULL */
  sbuf_t body;
  bool in_message;      /* a request has begun and is not complete */
  uint64_t body_ms;     /* its head's end (uv_now): the body's deadline counts from it */
  bool in_chunks;       /* in a chunked body, before its last chunk */
  size_t chunk_line;    /* bytes of the chunk-size line being read */
  size_t framing;       /* bytes of the body's chunk framing so far */
  const char *data_end; /* the end of the last data llhttp gave (within one llhttp_execute) */
  bool continued;       /* 100 Continue sent for it */
  int error_status;     /* a callback's refusal: 400, 413, 431 */
  const char *error_why;
  uint64_t t0;      /* the request's first byte, ns */
  uint64_t head_ms; /* the head's first byte, or the last chunk (uv_now), for its deadline */
  sbuf_t in;        /* input parked while responses are unsent */
  size_t in_off;
  /* Responses. */
  sbuf_t out;  /* not yet handed to the kernel */
  sbuf_t wbuf; /* the write in flight */
  uv_write_t wreq;
  uv_shutdown_t sreq;
  bool reading, writing, close_after_write, lingering, closing;
  bool reserve;      /* accepted past max_connections: reserve handlers only */
  bool starved;      /* waiting for its worker to be back under its budget */
  uint64_t last_ms;  /* the last read, or the linger's start */
  uint64_t write_ms; /* the write's last progress */
  size_t write_left; /* bytes not yet acknowledged by the client then (conn_unacked) */
  uint64_t write_t0; /* the write's start (uv_now) */
  size_t write_len;  /* its bytes then */
  size_t accounted;  /* buffer bytes counted in metrics->buffered */
  uint8_t swept;     /* the conn_state_t the last sweep found (its transitions checked) */
  char peer[INET6_ADDRSTRLEN];
};

/* What a connection waits for, and so which deadline applies to it
 * (worker.c's sweep handles every one: -Wswitch checks that none is
 * missing). Each is a function of the connection's fields: conn_state. */
typedef enum conn_state {
  CONN_IDLE,    /* no request begun: idle_ms since the last read */
  CONN_HEAD,    /* a head begun (or a reserve connection's first): head_ms from its first byte */
  CONN_BODY,    /* a body arriving: read_ms without a byte, and a minimum rate */
  CONN_TRAILER, /* after the last chunk: its trailer section, head_ms from the last chunk */
  CONN_PARKED,  /* input read and parked, nothing being written: idle_ms since the last read */
  CONN_WRITING, /* a write queued: write_ms without progress, and a minimum rate */
  CONN_ENDING,  /* to close once written (a moment only): write_ms since the last read */
  CONN_LINGER,  /* shut down, draining the client's bytes: LINGER_MS */
  CONN_CLOSING, /* uv_close called: nothing left to wait for */
} conn_state_t;

conn_state_t conn_state(const conn_t *c);
/* Whether a connection may go from state `from` to `to`: the end is one
 * way (a connection to close once written never reads a request again, a
 * lingering one only closes, a closing one stays so); the others follow
 * its requests in any order. */
bool conn_step_legal(conn_state_t from, conn_state_t to);

/* A new connection on `fd` in w's list (its parser not yet set up); NULL
 * when out of memory or libuv refuses it (fd closed). */
conn_t *conn_new(worker_t *w, int fd, bool reserve);
/* Between a request's first byte and its last: counted for /metrics. */
void conn_set_receiving(conn_t *c, bool on);
/* Hand c->out to the kernel: true when it took all of it; else the rest
 * goes by a queued write, and the connection reads nothing meanwhile. */
bool conn_push(conn_t *c);
/* conn_push, then the connection's next step: parked input, reading, or
 * the close. */
void conn_flush(conn_t *c);
void conn_close(conn_t *c);
/* Nothing in flight: no request begun, nothing to write, not closing. */
bool conn_idle(const conn_t *c);
/* Bytes written by the connection and not yet taken by the kernel. */
size_t conn_unsent(const conn_t *c);
/* Bytes written and not yet acknowledged by the client: queued in libuv
 * and in the kernel's send queue (SIOCOUTQ). They fall while the client
 * reads, however the kernel batches its wake-ups. */
size_t conn_unacked(const conn_t *c);
/* Bring metrics->buffered up to date with c's buffers. */
void conn_account(conn_t *c);
/* w's connections, walked (O(connections)): the bytes counted in
 * metrics->buffered are the sum of what each accounted, connections_open
 * is the list's length, and the list's links agree. */
bool conn_list_is_valid(const worker_t *w);
/* Stop reading (while a write is queued, or for good). */
void conn_pause(conn_t *c);
/* The worker is past its share of max_buffered: read nothing more, run
 * no request of a connection with a response unsent (http.c). */
bool conn_over_budget(const conn_t *c);

#endif
