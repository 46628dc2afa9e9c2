/* Starting `wpool serve` from a test on an ephemeral loopback port, and
 * talking HTTP/1.1 to it over plain sockets. Every wait is bounded. No
 * Criterion here: the TSan program (serve_threads.c) uses it too. */
#ifndef WPOOL_TEST_SERVER_H
#define WPOOL_TEST_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct server {
  pid_t pid;
  int port;
  char out_path[64], err_path[64];
  int status; /* exit status once stopped, or 128 + signal */
} server_t;

/* A directory holding links to the named guests of WPOOL_EXAMPLES
 * (NULL-terminated names); returns its path (static per call site). */
const char *guest_dir(char *dir, size_t len, const char *const *names);
/* The path of one guest: WPOOL_EXAMPLES/NAME.wasm. */
const char *guest_path(char *buf, size_t len, const char *name);

/* Start `wpool serve --listen 127.0.0.1:0 ARGS...` (NULL-terminated) and
 * wait (up to `seconds`) until it listens. Returns true with s->port set;
 * false when it exited first (s->status holds its exit status) or did not
 * listen in time (it is killed). */
bool server_start(server_t *s, const char *const *args, unsigned seconds);
/* Send `sig` and wait (up to `seconds`) for the exit; s->status. false:
 * it did not exit in time (it is killed). */
bool server_stop(server_t *s, int sig, unsigned seconds);
/* Send `sig` again and again (every 100 us) until the server exits. */
bool server_stop_insistently(server_t *s, int sig, unsigned seconds);
/* The server's stdout or stderr so far, NUL-terminated, in buf. */
void server_output(const server_t *s, bool err, char *buf, size_t len);
/* Remove its files (after server_stop). */
void server_cleanup(server_t *s);

/* A connection to the server (blocking, with a receive timeout). */
int http_connect(int port);
bool http_send(int fd, const void *bytes, size_t len);
/* Close it (and forget what was read ahead on it). */
void http_close(int fd);

typedef struct http_response {
  int status;
  char head[4096]; /* the status line and headers, NUL-terminated */
  char *body;      /* malloc'd, NUL-terminated */
  size_t body_len;
  bool closed; /* the server sent "Connection: close" */
} http_response_t;

/* Read one response (Content-Length framing) from fd, within `seconds`.
 * false: timeout, a closed connection or a malformed response. */
bool http_read(int fd, http_response_t *r, unsigned seconds);
void http_response_free(http_response_t *r);
/* The value of header `name` in r->head (case-insensitive), copied into
 * buf; NULL when absent. */
const char *http_header(const http_response_t *r, const char *name, char *buf, size_t len);
/* One request on a new connection: method, target, extra header lines
 * ("Name: value\r\n" each, or NULL) and body. */
bool http_request(int port, const char *method, const char *target, const char *headers,
                  const void *body, size_t body_len, http_response_t *r);

/* Send `len` raw bytes on a new connection and read everything the
 * server sends until it closes (or `seconds` pass), NUL-terminated, in
 * buf; returns the bytes read. */
size_t http_exchange(int port, const void *bytes, size_t len, char *buf, size_t cap,
                     unsigned seconds);
/* How many times `needle` occurs in `hay`. */
int count_of(const char *hay, const char *needle);

/* A metric's value from a /metrics text: the line that starts with
 * `series` (name and labels, exactly) followed by a space; -1 if none. */
double metric(const char *text, const char *series);

#endif
