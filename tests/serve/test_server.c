/* The server component driven in-process (server/server.h): its handler
 * seam and its deadlines with short settings, and the WAGI adapter's two
 * pure halves (the request's environment, the guest's output as a
 * response) called directly. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "setup.h"
#include "wagi.h"
#include "wagi_table.h"

TestSuite(server, .timeout = 300);

/* A handler: "/big" answers ?N bytes; anything else describes the call. */
typedef struct echo {
  srv_handler_t h;
  int inits, frees;
} echo_t;

static char big[8 << 20];

static void *echo_init(srv_handler_t *h, unsigned worker) {
  ((echo_t *)h)->inits++;
  sbuf_t *b = calloc(1, sizeof(sbuf_t));
  if (b) sbuf_printf(b, "worker %u", worker);
  return b;
}

static void echo_free(srv_handler_t *h, void *state) {
  ((echo_t *)h)->frees++;
  sbuf_free(state);
  free(state);
}

static char answer[2048];

static void echo_request(srv_handler_t *h, const srv_request_t *q, srv_response_t *r) {
  (void)h;
  *r = (srv_response_t){.status = 200, .head = "Content-Type: text/plain\r\n", .head_len = 26};
  if (q->route_data && !strcmp(q->route_data, "status")) {
    r->status = q->query ? atoi(q->query) : 200;
    r->body = "body";
    r->body_len = 4;
    return;
  }
  if (q->route_data && !strcmp(q->route_data, "big")) {
    r->body = big;
    r->body_len = q->query ? strtoul(q->query, NULL, 10) : 0;
    return;
  }
  snprintf(answer, sizeof(answer), "%s route=%s rest=%.*s host=%.*s state=%s nheaders=%zu body=%zu",
           q->method, q->route_data ? (const char *)q->route_data : "-", (int)q->rest_len, q->rest,
           (int)q->host_len, q->host ? q->host : "", ((sbuf_t *)q->state)->p, q->nheaders,
           q->body_len);
  /* Each field as the handler sees it: [name]=[value] */
  for (size_t i = 0; i < q->nheaders; i++) {
    size_t n = strlen(answer);
    snprintf(answer + n, sizeof(answer) - n, " [%.*s]=[%.*s]", (int)q->headers[i].name_len,
             q->headers[i].name, (int)q->headers[i].value_len, q->headers[i].value);
  }
  r->body = answer;
  r->body_len = strlen(answer);
}

static echo_t echo = {.h = {.name = "echo",
                            .on_request = echo_request,
                            .worker_init = echo_init,
                            .worker_free = echo_free}};
static metrics_handler_t mh;
static srv_t *s;
static pthread_t runner;
static int run_status = -1;

static void *run(void *arg) {
  (void)arg;
  run_status = srv_run(s);
  return NULL;
}

/* Set by a test before start(): its own settings over the defaults. */
static void (*tune)(srv_config_t *cfg);

static int start(unsigned head_ms, unsigned write_ms) {
  memset(big, 'b', sizeof(big));
  srv_config_t cfg;
  srv_config_init(&cfg);
  cfg.threads = 2;
  if (head_ms) cfg.head_ms = head_ms;
  if (write_ms) cfg.write_ms = write_ms;
  if (tune) tune(&cfg);
  cr_assert_eq(srv_create(&cfg, &s), 0, "%s", srv_error());
  metrics_handler_init(&mh, s, NULL, NULL);
  cr_assert_eq(srv_route(s, "/metrics", true, &mh.h, NULL), 0);
  cr_assert_eq(srv_route(s, "/a", false, &echo.h, "a"), 0);
  cr_assert_eq(srv_route(s, "/big", true, &echo.h, "big"), 0);
  cr_assert_eq(srv_route(s, "/status", true, &echo.h, "status"), 0);
  cr_assert_eq(srv_route(s, "/", false, &echo.h, "root"), 0);
  cr_assert_lt(srv_route(s, "/a", false, &echo.h, "again"), 0, "a route twice");
  cr_assert_lt(srv_route(s, "/a/b", false, &echo.h, NULL), 0, "a prefix of two segments");
  struct sockaddr_storage ss = {0};
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(srv_listen(s, &ss, "127.0.0.1"), 0, "%s", srv_error());
  cr_assert_eq(pthread_create(&runner, NULL, run, NULL), 0);
  return (int)srv_port(s);
}

static void stop(void) {
  srv_stop(s);
  pthread_join(runner, NULL);
  cr_expect_eq(run_status, 0, "%s", srv_error());
  srv_destroy(s);
  cr_expect_eq(echo.inits, 2, "per-worker state made for each worker");
  cr_expect_eq(echo.frees, 2, "and freed");
}

static double metric_now(int port, const char *series) {
  http_response_t r;
  cr_assert(http_request(port, "GET", "/metrics", NULL, NULL, 0, &r));
  double v = metric(r.body, series);
  http_response_free(&r);
  return v;
}

static void nap_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

Test(server, routes_match_a_handler_with_its_data_and_per_worker_state) {
  int port = start(0, 0);
  static const struct {
    const char *target, *want;
  } cases[] = {
      {"/a", "route=a rest= "},
      {"/a/x/y", "route=a rest=/x/y "},
      {"/ab", "route=root rest=/ab "},
      {"/big/x", "route=root rest=/big/x "},
      {"/", "route=root rest=/ "},
      {"/metrics/x", "route=root rest=/metrics/x "},
      {"http://h.test/a?q", "route=a rest= host=h.test "},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    http_response_t r;
    cr_assert(http_request(port, "GET", cases[i].target, NULL, NULL, 0, &r));
    cr_expect_eq(r.status, 200);
    cr_expect_not_null(strstr(r.body, cases[i].want), "%s: %s", cases[i].target, r.body);
    cr_expect_not_null(strstr(r.body, "state=worker "), "%s", r.body);
    http_response_free(&r);
  }
  stop();
}

Test(server, a_head_must_be_complete_within_its_deadline_from_its_first_byte) {
  int port = start(1000, 0);
  int fd = http_connect(port);
  cr_assert_geq(fd, 0);
  /* One byte every 250 ms: each read is recent, the head never ends. */
  const char *req = "GET /a HTTP/1.1\r\nHost: x\r\nX-Slow: 0123456789012345678901234567890\r\n";
  char all[2048] = "";
  size_t i = 0;
  for (; req[i]; i++) {
    if (!http_send(fd, req + i, 1)) break;
    nap_ms(250);
    if (i == 12) { /* by now (3 s) the deadline has passed */
      size_t got = 0;
      struct timeval tv = {5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      ssize_t n;
      while (got < sizeof(all) - 1 && (n = recv(fd, all + got, sizeof(all) - 1 - got, 0)) > 0)
        got += (size_t)n;
      all[got] = 0;
      break;
    }
  }
  http_close(fd);
  cr_expect_eq(strncmp(all, "HTTP/1.1 408 ", 13), 0, "%s", all);
  cr_expect_not_null(strstr(all, "Connection: close"), "%s", all);
  stop();
}

Test(server, a_write_that_makes_no_progress_closes_the_connection) {
  int port = start(0, 1000);
  int fd = http_connect(port);
  cr_assert_geq(fd, 0);
  const char req[] = "GET /big?8000000 HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert(http_send(fd, req, strlen(req)));
  /* The client never reads: after the deadline the connection is gone,
   * and its 8 MB with it. */
  bool closed = false;
  for (int i = 0; i < 100 && !closed; i++) {
    nap_ms(100);
    closed = metric_now(port, "wpool_serve_connections_open") == 1; /* the /metrics one */
  }
  cr_expect(closed, "the stuck connection is still open");
  cr_expect_lt(metric_now(port, "wpool_serve_buffered_bytes"), 1 << 20);
  http_close(fd);
  stop();
}

/* How a connection ended, seen from the client: what it read until the
 * server's end (EOF or a reset) or until `seconds` passed with the
 * connection still open. */
typedef struct ending {
  bool closed;
  size_t got;
  char first[1024]; /* the first bytes read */
} ending_t;

static ending_t drain(int fd, double seconds) {
  ending_t e = {0};
  static char buf[1 << 16];
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    double left =
        seconds - ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9);
    if (left <= 0) return e;
    long us = (long)(left * 1e6) + 1;
    struct timeval tv = {us / 1000000, us % 1000000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      if (e.got < sizeof(e.first) - 1) {
        size_t k =
            sizeof(e.first) - 1 - e.got < (size_t)n ? sizeof(e.first) - 1 - e.got : (size_t)n;
        memcpy(e.first + e.got, buf, k);
      }
      e.got += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return e; /* open, quiet */
    if (n < 0 && errno == EINTR) continue;
    e.closed = true; /* 0: the server's end; < 0: a reset */
    return e;
  }
}

static uint64_t open_connections(void) {
  uint64_t n = 0;
  for (unsigned i = 0; i < srv_threads(s); i++)
    n += atomic_load(&s->workers[i].metrics->connections_open);
  return n;
}

#define CHUNKED "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
#define CL10 "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"

/* Every state a connection can be in, reached by a client that then
 * stops: each is ended by a deadline (the head's and the trailer's with
 * a 408), whatever the parser was in the middle of. */
static const struct walk {
  const char *state;
  const char *bytes; /* sent, then nothing */
  int status;        /* the answer expected before the end (0: none) */
  enum { PLAIN, ANSWERED, CONTINUED, UNREAD, LINGERING } how;
} walks[] = {
    {"a new connection, no byte", "", 0, PLAIN},
    {"keep-alive, after a response", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 0, ANSWERED},
    {"empty lines before a request line", "\r\n\r\n", 408, PLAIN},
    {"in the method", "GE", 408, PLAIN},
    {"in the target", "GET /a", 408, PLAIN},
    {"in the version", "GET /a HTT", 408, PLAIN},
    {"at the request line's CR", "GET /a HTTP/1.1\r", 408, PLAIN},
    {"in a field name", "GET /a HTTP/1.1\r\nHo", 408, PLAIN},
    {"in a field value", "GET /a HTTP/1.1\r\nHost: x", 408, PLAIN},
    {"at the head's last CR", "GET /a HTTP/1.1\r\nHost: x\r\n\r", 408, PLAIN},
    {"in a Content-Length body", CL10 "abc", 0, PLAIN},
    {"before the body, 100 Continue sent",
     "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n", 0,
     CONTINUED},
    {"before a chunk size", CHUNKED, 0, PLAIN},
    {"in a chunk size", CHUNKED "5", 0, PLAIN},
    {"in a chunk extension", CHUNKED "5;a=", 0, PLAIN},
    {"at a chunk size's CR", CHUNKED "5\r", 0, PLAIN},
    {"in a chunk's data", CHUNKED "5\r\nab", 0, PLAIN},
    {"at a chunk's CR", CHUNKED "5\r\nabcde\r", 0, PLAIN},
    {"after the last chunk", CHUNKED "5\r\nabcde\r\n0\r\n", 408, PLAIN},
    {"after the last chunk, at once", CHUNKED "0\r\n", 408, PLAIN},
    {"in a trailer field", CHUNKED "0\r\nX-T: 1", 408, PLAIN},
    {"after a trailer field", CHUNKED "0\r\nX-T: 1\r\n", 408, PLAIN},
    {"at the trailer section's last CR", CHUNKED "0\r\n\r", 408, PLAIN},
    {"a response unread", "GET /big?8000000 HTTP/1.1\r\nHost: x\r\n\r\n", 0, UNREAD},
    {"pipelined requests, responses unread",
     "GET /big?8000000 HTTP/1.1\r\nHost: x\r\n\r\nGET /big?8000000 HTTP/1.1\r\nHost: "
     "x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
     0, UNREAD},
    {"lingering after Connection: close", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
     0, LINGERING},
};
#define NWALKS (sizeof(walks) / sizeof(walks[0]))

static void tune_walk(srv_config_t *cfg) {
  cfg->head_ms = cfg->read_ms = cfg->idle_ms = cfg->write_ms = 1000;
  cfg->max_connections = NWALKS; /* one more: a reserve connection */
}

Test(server, every_connection_state_is_ended_by_a_deadline) {
  tune = tune_walk;
  int port = start(0, 0);
  int fds[NWALKS + 1];
  for (size_t i = 0; i < NWALKS; i++) {
    const struct walk *k = &walks[i];
    if (k->how == UNREAD) {
      /* A small receive window: the kernel takes little of the response. */
      fds[i] = socket(AF_INET, SOCK_STREAM, 0);
      int small = 4096;
      setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
      struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
    } else {
      fds[i] = http_connect(port);
    }
    cr_assert_geq(fds[i], 0);
    cr_assert(http_send(fds[i], k->bytes, strlen(k->bytes)), "%s", k->state);
    if (k->how == ANSWERED || k->how == LINGERING) {
      http_response_t r;
      cr_assert(http_read(fds[i], &r, 10), "%s: no response", k->state);
      http_response_free(&r);
    }
    if (k->how == CONTINUED) {
      char got[64] = "";
      ssize_t n = recv(fds[i], got, sizeof(got) - 1, 0);
      cr_assert_gt(n, 0);
      cr_assert_eq(strncmp(got, "HTTP/1.1 100 ", 13), 0, "%s: %s", k->state, got);
    }
    if (k->how == LINGERING) cr_assert(drain(fds[i], 5).closed, "no shutdown after the answer");
  }
  /* Past the cap: a reserve connection, given the head deadline from its
   * accept. */
  fds[NWALKS] = http_connect(port);
  cr_assert_geq(fds[NWALKS], 0);
  /* The deadlines are 1 s (the linger's 2 s), swept every 500 ms. */
  nap_ms(4000);
  for (size_t i = 0; i < NWALKS; i++) {
    const struct walk *k = &walks[i];
    if (k->how == LINGERING) {
      /* Closed: a byte sent now is answered by a reset. */
      http_send(fds[i], "x", 1);
      nap_ms(100);
    }
    ending_t e = drain(fds[i], k->how == UNREAD ? 10 : 1);
    cr_expect(e.closed, "%s: still open after its deadline", k->state);
    if (k->status) {
      char want[32];
      snprintf(want, sizeof(want), "HTTP/1.1 %d ", k->status);
      cr_expect_eq(strncmp(e.first, want, strlen(want)), 0, "%s: not %d but '%s'", k->state,
                   k->status, e.first);
    } else if (k->how != UNREAD) {
      cr_expect_eq(e.got, 0, "%s: answered '%s'", k->state, e.first);
    }
  }
  ending_t e = drain(fds[NWALKS], 1);
  cr_expect(e.closed, "a reserve connection: still open after its deadline");
  cr_expect_eq(strncmp(e.first, "HTTP/1.1 408 ", 13), 0, "a reserve connection: '%s'", e.first);
  for (size_t i = 0; i <= NWALKS; i++) http_close(fds[i]);
  nap_ms(200);
  cr_expect_eq(open_connections(), 0, "connections left open");
  stop();
  tune = NULL;
}

/* The WAGI adapter's halves, in-process. */

static const char *env_of(wagi_call_t *call, const wrt_request_t *w, const char *key) {
  (void)call;
  size_t n = strlen(key);
  for (uint32_t i = 0; i < w->envc; i++)
    if (!strncmp(w->envp[i], key, n) && w->envp[i][n] == '=') return w->envp[i] + n + 1;
  return NULL;
}

Test(server, wagi_maps_a_request_to_arguments_and_environment) {
  wagi_call_t call;
  wagi_call_init(&call);
  wagi_module_t m = {.name = "mod"};
  srv_header_t hs[] = {
      {.name = "X-User", .name_len = 6, .value = "alice", .value_len = 5},
      {.name = "X_User", .name_len = 6, .value = "admin", .value_len = 5},
      {.name = "x-user", .name_len = 6, .value = "bob", .value_len = 3},
      {.name = "Content-Type", .name_len = 12, .value = "text/x", .value_len = 6},
      {.name = "Host", .name_len = 4, .value = "ignored", .value_len = 7},
  };
  const char *path = "/mod/a%2Fb";
  srv_request_t q = {.method = "POST",
                     .http_major = 1,
                     .http_minor = 1,
                     .path = path,
                     .path_len = strlen(path),
                     .query = "x=1&&y",
                     .query_len = 6,
                     .host = "h.test:81",
                     .host_len = 9,
                     .rest = path + 4,
                     .rest_len = 6,
                     .headers = hs,
                     .nheaders = 5,
                     .body = "abc",
                     .body_len = 3,
                     .remote_addr = "10.0.0.1",
                     .server_host = "127.0.0.1",
                     .server_port = 8080};
  wrt_request_t w;
  cr_assert_eq(wagi_env(&call, &m, false, &q, &w), 0);
  cr_expect_eq(w.argc, 3);
  cr_expect_str_eq(w.argv[0], "mod");
  cr_expect_str_eq(w.argv[1], "x=1");
  cr_expect_str_eq(w.argv[2], "y");
  cr_expect_str_eq(env_of(&call, &w, "HTTP_X_USER"), "alice, bob");
  cr_expect_str_eq(env_of(&call, &w, "HTTP_HOST"), "h.test:81");
  cr_expect_str_eq(env_of(&call, &w, "SERVER_NAME"), "h.test");
  cr_expect_str_eq(env_of(&call, &w, "PATH_INFO"), "/a/b");
  cr_expect_str_eq(env_of(&call, &w, "X_RAW_PATH_INFO"), "/a%2Fb");
  cr_expect_str_eq(env_of(&call, &w, "X_FULL_URL"), "http://h.test:81/mod/a%2Fb?x=1&&y");
  cr_expect_str_eq(env_of(&call, &w, "CONTENT_TYPE"), "text/x");
  cr_expect_null(env_of(&call, &w, "HTTP_CONTENT_TYPE"));
  const char *nul = "/mod/%00";
  q.path = nul;
  q.path_len = strlen(nul);
  q.rest = nul + 4; /* the server's contract: rest is a suffix of path */
  q.rest_len = 4;
  cr_expect_eq(wagi_env(&call, &m, false, &q, &w), 400, "%%00 in PATH_INFO");
  wagi_call_free(&call);
}

Test(server, wagi_turns_the_guests_output_into_a_response) {
  wagi_response_t rs = {0};
  const char *out = "Status: 201 Made\nX-A: 1\nContent-Length: 99\nConnection: close\n\nbody";
  wagi_response(out, strlen(out), &rs);
  cr_expect_eq(rs.status, 201);
  cr_expect_str_eq(rs.reason, "Made");
  cr_expect_str_eq(rs.head.p, "X-A: 1\r\n", "framing headers dropped");
  cr_expect_eq(rs.body_len, 4);
  out = "Location: /x\r\n\r\n";
  wagi_response(out, strlen(out), &rs);
  cr_expect_eq(rs.status, 302);
  out = "Status: 99\n\n";
  wagi_response(out, strlen(out), &rs);
  cr_expect_eq(rs.status, 500);
  out = "X-Only: 1\n\nno sufficient header: all body";
  wagi_response(out, strlen(out), &rs);
  cr_expect_eq(rs.status, 200);
  cr_expect_eq(rs.body_len, strlen(out));
  out = "Content-Type: a\r\nX-Bad: a\rb\n\n";
  wagi_response(out, strlen(out), &rs);
  cr_expect_eq(rs.body_len, strlen(out), "a control byte in a value: no header block");
  /* What the server frames the response with, what is one hop's only
   * (RFC 9110 7.6.1), and the server's own fields: never the guest's. */
  static const char *const servers[] = {"Content-Length",
                                        "Transfer-Encoding",
                                        "Connection",
                                        "Keep-Alive",
                                        "Proxy-Connection",
                                        "TE",
                                        "Trailer",
                                        "Upgrade",
                                        "Server",
                                        "Date",
                                        "content-length",
                                        "UPGRADE",
                                        "date",
                                        "Server",
                                        "te"};
  for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
    char text[256];
    snprintf(text, sizeof(text), "Content-Type: x\r\n%s: v\r\nX-Kept: 1\r\n\nbody", servers[i]);
    wagi_response(text, strlen(text), &rs);
    cr_expect_str_eq(rs.head.p, "Content-Type: x\r\nX-Kept: 1\r\n", "%s passed: %s", servers[i],
                     rs.head.p);
    cr_expect_eq(rs.body_len, 4);
  }
  sbuf_free(&rs.head);
}

/* A message that adds context to the one below it keeps that one whole. */
Test(server, an_error_message_may_quote_the_last_one) {
  srv_fail(-22, "inner: port %d", 7);
  cr_assert_eq(srv_fail(-12, "outer (%s)", srv_error()), -12);
  cr_expect_str_eq(srv_error(), "outer (inner: port 7)");
}

/* Sends the head, then `n` chunks made by `chunk` into buf (returns its
 * length), then the last chunk and the end; the response's first bytes. */
static ending_t chunked(int port, size_t n, size_t (*chunk)(char *buf, size_t i)) {
  int fd = http_connect(port);
  cr_assert_geq(fd, 0);
  const char head[] = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  cr_assert(http_send(fd, head, strlen(head)));
  static char buf[1 << 20];
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    len += chunk(buf + len, i);
    if (len > sizeof(buf) - (64 << 10) || i + 1 == n) {
      if (!http_send(fd, buf, len)) break; /* refused and closed */
      len = 0;
    }
  }
  http_send(fd, "0\r\n\r\n", 5);
  ending_t e = drain(fd, 10);
  http_close(fd);
  return e;
}

static size_t one_byte(char *buf, size_t i) {
  (void)i;
  memcpy(buf, "1\r\nx\r\n", 6);
  return 6;
}

static size_t long_extension(char *buf, size_t i) {
  /* One chunk: its size line carries 1 MiB of extension. */
  (void)i;
  size_t n = sprintf(buf, "3;x=");
  memset(buf + n, 'a', 900 << 10);
  n += 900 << 10;
  return n + (size_t)sprintf(buf + n, "\r\nabc\r\n");
}

static size_t extension_per_byte(char *buf, size_t i) {
  /* Chunks of one byte, each with a 4,000-byte extension: within the
   * line's bound, past the body's. */
  (void)i;
  size_t n = sprintf(buf, "1;x=");
  memset(buf + n, 'a', 4000);
  n += 4000;
  return n + (size_t)sprintf(buf + n, "\r\nx\r\n");
}

static size_t leading_zeros(char *buf, size_t i) {
  (void)i;
  memset(buf, '0', 900 << 10);
  return (900 << 10) + (size_t)sprintf(buf + (900 << 10), "3\r\nabc\r\n");
}

static size_t fair_extension(char *buf, size_t i) {
  (void)i;
  size_t n = sprintf(buf, "3;name=");
  memset(buf + n, 'v', 3000);
  n += 3000;
  return n + (size_t)sprintf(buf + n, "\r\nabc\r\n");
}

Test(server, a_chunked_bodys_framing_is_bounded) {
  int port = start(0, 0);
  /* 20,000 chunks of one byte and a few 3,000-byte extensions: served. */
  ending_t e = chunked(port, 20000, one_byte);
  cr_expect_eq(strncmp(e.first, "HTTP/1.1 200 ", 13), 0, "1-byte chunks: %s", e.first);
  cr_expect_not_null(strstr(e.first, " body=20000"), "1-byte chunks: %s", e.first);
  e = chunked(port, 10, fair_extension);
  cr_expect_eq(strncmp(e.first, "HTTP/1.1 200 ", 13), 0, "3,000-byte extensions: %s", e.first);
  cr_expect_not_null(strstr(e.first, " body=30"), "3,000-byte extensions: %s", e.first);
  /* An endless extension, endless leading zeros, extensions that dwarf
   * the data: 400 and closed, whatever follows. */
  static const struct {
    const char *what;
    size_t n;
    size_t (*chunk)(char *, size_t);
  } bad[] = {
      {"a 900 KiB extension", 1, long_extension},
      {"900 KiB of leading zeros", 1, leading_zeros},
      {"4,000-byte extensions on 1-byte chunks", 100, extension_per_byte},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    e = chunked(port, bad[i].n, bad[i].chunk);
    cr_expect_eq(strncmp(e.first, "HTTP/1.1 400 ", 13), 0, "%s: %s", bad[i].what, e.first);
    cr_expect(e.closed, "%s: not closed", bad[i].what);
  }
  stop();
}

static void tune_rate(srv_config_t *cfg) {
  cfg->read_ms = cfg->write_ms = 1000;
  cfg->min_rate = 200000; /* bytes a second */
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A connection asking for a response of `bytes`, with a receive buffer
 * of `window` bytes. */
static int big_reader(int port, int window, size_t bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, sizeof(window));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  char get[128];
  snprintf(get, sizeof(get), "GET /big?%zu HTTP/1.1\r\nHost: x\r\n\r\n", bytes);
  cr_assert(http_send(fd, get, strlen(get)));
  return fd;
}

/* Up to `cap` bytes now; false when the server has closed. */
static bool take(int fd, size_t cap, size_t *got) {
  static char buf[1 << 16];
  ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
  if (n > 0) *got += (size_t)n;
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

Test(server, a_body_or_a_reader_slower_than_the_minimum_rate_is_closed) {
  tune = tune_rate;
  int port = start(0, 0);
  /* A body dripped 100 bytes every 100 ms: never 1 s without a byte, but
   * at 1 KB/s, far below 200 KB/s: due 1 s after its head plus its bytes
   * at the rate. */
  int fd = http_connect(port);
  cr_assert_geq(fd, 0);
  const char head[] = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
  cr_assert(http_send(fd, head, strlen(head)));
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char drop[100];
  memset(drop, 'd', sizeof(drop));
  bool closed = false;
  while (!closed && seconds_since(&t0) < 8) {
    if (!http_send(fd, drop, sizeof(drop))) break;
    closed = drain(fd, 0.1).closed;
  }
  cr_expect(closed, "a body dripped below the rate is still open at 8 s");
  http_close(fd);
  nap_ms(600);
  cr_assert_eq(open_connections(), 0);
  /* Two readers, each taking a little every 20 or 80 ms, so never 1 s
   * without progress: one of 8 MB at several hundred KB/s, above the
   * rate, is served whole; one of 4 MB at about 50 KB/s, below it, is
   * closed 1 s + 4 MB at 200 KB/s after its write began. */
  const size_t mb8 = 8000000, mb4 = 4000000;
  int fast = big_reader(port, 16384, mb8), slow = big_reader(port, 4096, mb4);
  size_t got_fast = 0, got_slow = 0;
  bool fast_open = true, slow_gone = false;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int tick = 0; !(slow_gone && got_fast > mb8) && seconds_since(&t0) < 60; tick++) {
    if (fast_open && got_fast < mb8) fast_open = take(fast, 16384, &got_fast);
    if (tick % 4 == 0 && !slow_gone) take(slow, 4096, &got_slow);
    /* The server's own count: the slow one closed (the fast one stays). */
    slow_gone = got_fast > mb8 && open_connections() == 1;
    nap_ms(20);
  }
  cr_expect_gt(got_fast, mb8, "the reader above the rate: %s after %zu bytes",
               fast_open ? "open" : "closed", got_fast);
  cr_expect(slow_gone && got_slow < mb4, "the reader below the rate: %s after %zu bytes, %.1f s",
            slow_gone ? "closed" : "open", got_slow, seconds_since(&t0));
  http_close(fast);
  http_close(slow);
  stop();
  tune = NULL;
}

/* One exchange on a new connection: what the server sent until it closed
 * (or 3 s passed). */
static char *exchange(int port, const char *req) {
  static char all[1 << 16];
  http_exchange(port, req, strlen(req), all, sizeof(all), 3);
  return all;
}

#define SMUGGLED "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

Test(server, header_fields_are_trimmed_and_framing_the_server_cannot_read_is_refused) {
  int port = start(0, 0);
  /* Whitespace after a value is not part of it (RFC 9112 5): Host, the
   * handler's fields, Expect, Connection. */
  char *r = exchange(port,
                     "GET /a HTTP/1.1\r\nHost: x \r\nX-Role: admin \t\r\nX-Empty:  \r\n"
                     "Connection: close\r\n\r\n");
  cr_expect_eq(strncmp(r, "HTTP/1.1 200 ", 13), 0, "%s", r);
  cr_expect_not_null(strstr(r, " host=x "), "%s", r);
  cr_expect_not_null(strstr(r, "[Host]=[x] [X-Role]=[admin] [X-Empty]=[] "), "%s", r);
  r = exchange(port,
               "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue \t\r\nContent-Length: "
               "3\r\nConnection: close \r\n\r\n");
  cr_expect_eq(strncmp(r, "HTTP/1.1 100 Continue\r\n\r\n", 25), 0, "%s", r);
  /* Refused, the connection closed, nothing after them read. */
  static const struct {
    const char *what, *req;
    int status;
  } bad[] = {
      /* An empty field name (RFC 9110 5.1: a token), in a head or a
       * trailer section. */
      {"an empty field name", "GET /a HTTP/1.1\r\nHost: x\r\n: injected\r\n\r\n" SMUGGLED, 400},
      {"an empty field name after others",
       "GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n:\r\n\r\n" SMUGGLED, 400},
      {"an empty trailer field name",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n: "
       "v\r\n\r\n" SMUGGLED,
       400},
      /* HTTP/1.0 with Transfer-Encoding (RFC 9112 6.1: faulty framing). */
      {"HTTP/1.0 chunked",
       "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
       400},
      {"HTTP/1.0 chunked with Host",
       "POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 400},
      /* Codings the server does not decode (RFC 9112 6.1: 501). */
      {"gzip, chunked",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
       501},
      {"gzip and chunked in two fields",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
       501},
      {"identity, chunked",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, "
       "chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
       501},
      {"an empty Transfer-Encoding",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n" SMUGGLED, 400},
      {"gzip alone", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc" SMUGGLED,
       400},
      {"chunked, then gzip in a second field",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "gzip\r\n\r\n0\r\n\r\n" SMUGGLED,
       400},
      {"chunked in two fields",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
       400},
      {"two Content-Type fields",
       "GET /a HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\ncontent-type: b\r\n\r\n" SMUGGLED, 400},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    r = exchange(port, bad[i].req);
    char want[32];
    snprintf(want, sizeof(want), "HTTP/1.1 %d ", bad[i].status);
    cr_expect_eq(strncmp(r, want, strlen(want)), 0, "%s: not %d but:\n%.300s", bad[i].what,
                 bad[i].status, r);
    cr_expect_eq(count_of(r, "HTTP/1.1 "), 1, "%s: more than one response:\n%s", bad[i].what, r);
    cr_expect_null(strstr(r, "smuggled"), "%s: the next request ran:\n%s", bad[i].what, r);
  }
  /* What stays valid: empty list elements, the coding's case. */
  r = exchange(port,
               "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , CHUNKED\r\nConnection: "
               "close\r\n\r\n1\r\na\r\n0\r\n\r\n");
  cr_expect_eq(strncmp(r, "HTTP/1.1 200 ", 13), 0, "%s", r);
  cr_expect_not_null(strstr(r, " body=1 "), "%s", r);
  stop();
}

Test(server, responses_without_content_carry_none_and_every_response_a_date) {
  int port = start(0, 0);
  static const struct {
    int status;
    const char *length; /* the Content-Length expected, or NULL: none */
    const char *reason;
  } cases[] = {{200, "4", "OK"},
               {204, NULL, "No Content"},
               {205, "0", "Reset Content"},
               {304, NULL, "Not Modified"},
               {408, "4", "Request Timeout"},
               {418, "4", "(Unused)"},
               {299, "4", "Unknown"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char req[128];
    snprintf(req, sizeof(req), "GET /status?%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             cases[i].status);
    char *r = exchange(port, req);
    char line[64];
    snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", cases[i].status, cases[i].reason);
    cr_expect_eq(strncmp(r, line, strlen(line)), 0, "%d: %s", cases[i].status, r);
    char *end = strstr(r, "\r\n\r\n");
    cr_assert_not_null(end, "%s", r);
    cr_expect_str_eq(end + 4, cases[i].length && strcmp(cases[i].length, "0") ? "body" : "",
                     "%d: content %s", cases[i].status, end + 4);
    char cl[64];
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %s\r\n", cases[i].length ? cases[i].length : "");
    if (cases[i].length)
      cr_expect_not_null(strstr(r, cl), "%d: %s", cases[i].status, r);
    else
      cr_expect_null(strstr(r, "Content-Length"), "%d: %s", cases[i].status, r);
    cr_expect_eq(count_of(r, "\r\nDate: "), 1, "%d: %s", cases[i].status, r);
    cr_expect_eq(count_of(r, "\r\nServer: "), 1, "%d: %s", cases[i].status, r);
  }
  /* A Date as RFC 9110 5.6.7 has it (IMF-fixdate), now. */
  char *r = exchange(port, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const char *d = strstr(r, "\r\nDate: ");
  cr_assert_not_null(d, "%s", r);
  struct tm tm = {0};
  const char *rest = strptime(d + 8, "%a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
  cr_assert_not_null(rest, "%s", d);
  cr_expect_eq(rest - (d + 8), 31, "%s", d);
  time_t t = timegm(&tm), now = time(NULL);
  cr_expect(t <= now && now - t < 5, "Date %s is not now", d);
  stop();
}

/* The log's halves in-process: a guest's stderr as lines (wagi.c), and
 * the writes of whole lines (log.c). */

/* Lines made by wagi_log_lines back into the guest's bytes: the prefixes
 * off, continuations joined, escapes undone. */
static size_t unlog(const char *route, const char *lines, size_t n, char *out) {
  char prefix[64], cont[64];
  snprintf(prefix, sizeof(prefix), "/%s: ", route);
  snprintf(cont, sizeof(cont), "/%s:+ ", route);
  size_t o = 0;
  for (const char *l = lines, *end = lines + n; l < end;) {
    const char *e = memchr(l, '\n', (size_t)(end - l));
    cr_assert_not_null(e);
    if (!strncmp(l, cont, strlen(cont))) {
      cr_assert_gt(o, 0);
      o--; /* the line before goes on: its newline was not the guest's */
      l += strlen(cont);
    } else {
      cr_assert_eq(strncmp(l, prefix, strlen(prefix)), 0, "%.40s", l);
      l += strlen(prefix);
    }
    for (; l < e; l++) {
      if (*l != '\\') {
        out[o++] = *l;
      } else if (l[1] == '\\') {
        out[o++] = '\\';
        l++;
      } else {
        cr_assert_eq(l[1], 'x');
        unsigned v;
        cr_assert_eq(sscanf(l + 2, "%2x", &v), 1);
        out[o++] = (char)v;
        l += 3;
      }
    }
    out[o++] = '\n';
    l = e + 1;
  }
  return o;
}

static void check_lines(const char *route, const sbuf_t *out) {
  for (const char *l = out->p, *end = out->p + out->len; l < end;) {
    const char *e = memchr(l, '\n', (size_t)(end - l));
    cr_assert_not_null(e, "the log ends in the middle of a line");
    cr_expect_leq(e + 1 - l, LOG_LINE_MAX, "a line of %td bytes", e + 1 - l);
    cr_expect_eq(l[0], '/', "%.40s", l);
    cr_expect_eq(strncmp(l + 1, route, strlen(route)), 0, "%.40s", l);
    for (const char *c = l; c < e; c++)
      cr_assert(*c == '\t' || ((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f),
                "byte %02x in a line", (unsigned char)*c);
    l = e + 1;
  }
}

Test(server, a_guests_stderr_becomes_bounded_lines_each_carrying_its_route) {
  sbuf_t out = {0};
  static char in[300000], back[400000];
  /* Long lines, escapes, a missing last newline: every byte comes back. */
  size_t n = 0;
  memset(in, 'a', 10000);
  n = 10000;
  n += (size_t)sprintf(in + n, "\x01\\\n\nshort\n");
  for (int i = 0; i < 3000; i++) in[n++] = 0x1b;
  in[n++] = 'z';
  wagi_log_lines(&out, "route", in, n);
  check_lines("route", &out);
  cr_expect_null(strstr(out.p, "not logged"), "%s", out.p);
  size_t m = unlog("route", out.p, out.len, back);
  cr_expect_eq(m, n + 1);
  cr_expect_eq(memcmp(back, in, n), 0, "the guest's bytes changed");
  /* Anything at all, far more than the bound: at most WAGI_LOG_MAX bytes
   * of lines, then one saying how many bytes were left out; what was
   * logged is the guest's first bytes. Newlines alone (each a line of its
   * own) and control bytes alone (each 4 bytes) too. */
  for (int kind = 0; kind < 3; kind++) {
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof(in); i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      in[i] = kind == 0 ? (char)x : kind == 1 ? '\n' : (char)(x % 32 == 10 ? 11 : x % 32);
    }
    wagi_log_lines(&out, "r", in, sizeof(in));
    const char *last = out.p + out.len - 1;
    while (last > out.p && last[-1] != '\n') last--;
    size_t left = 0;
    cr_assert_eq(sscanf(last, "/r:! %zu bytes of stderr not logged\n", &left), 1, "%s", last);
    cr_expect_leq((size_t)(last - out.p), WAGI_LOG_MAX, "kind %d: %td bytes of lines", kind,
                  last - out.p);
    check_lines("r", &out);
    size_t logged = sizeof(in) - left;
    m = unlog("r", out.p, (size_t)(last - out.p), back);
    cr_expect(m == logged || m == logged + 1, "kind %d: %zu bytes back for %zu logged", kind, m,
              logged);
    cr_expect_eq(memcmp(back, in, logged), 0, "kind %d: the logged bytes differ", kind);
  }
  sbuf_free(&out);
}

/* Writers of whole lines into one pipe, read slowly. */
static bool memspn_a(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 'a') return false;
  return true;
}

typedef struct writer {
  int fd;
  const char *lines;
  size_t len;
} writer_t;

static void *write_lines(void *arg) {
  writer_t *wr = arg;
  for (int i = 0; i < 100; i++) log_write(wr->fd, wr->lines, wr->len);
  return NULL;
}

Test(server, log_writes_never_interleave_lines) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  /* A: lines of 4,000 and 4,095 bytes and one of 10,000 (cut to 4,095 and
   * its newline); B: short lines. */
  static char a[30000], b[4000];
  size_t na = 0;
  for (int i = 0; i < 3; i++) {
    memset(a + na, 'a', 3999);
    na += 3999;
    a[na++] = '\n';
  }
  memset(a + na, 'a', 4095);
  na += 4095;
  a[na++] = '\n';
  memset(a + na, 'a', 10000);
  na += 10000;
  a[na++] = '\n';
  size_t nb = 0;
  while (nb + 10 < sizeof(b)) nb += (size_t)sprintf(b + nb, "b-line\n");
  writer_t wa = {p[1], a, na}, wb = {p[1], b, nb};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, write_lines, &wa);
  pthread_create(&tb, NULL, write_lines, &wb);
  static char got[8 << 20];
  size_t len = 0;
  bool joined = false;
  for (;;) {
    ssize_t k = read(p[0], got + len, 4096);
    cr_assert_gt(k, 0);
    len += (size_t)k;
    struct timespec ts = {0, 100000}; /* a reader slower than the writers */
    nanosleep(&ts, NULL);
    if (!joined && len >= 100 * (3 * 4000 + 4096 + 4096 + nb)) {
      pthread_join(ta, NULL);
      pthread_join(tb, NULL);
      joined = true;
      break;
    }
  }
  close(p[0]);
  close(p[1]);
  int bad = 0, as = 0, bs = 0;
  for (char *l = got, *e; l < got + len; l = e + 1) {
    e = memchr(l, '\n', (size_t)(got + len - l));
    cr_assert_not_null(e);
    size_t k = (size_t)(e - l);
    bool all_a = k && memspn_a(l, k);
    if (all_a && (k == 3999 || k == 4095))
      as++;
    else if (k == 6 && !memcmp(l, "b-line", 6))
      bs++;
    else
      bad++;
  }
  cr_expect_eq(bad, 0, "%d lines mixed", bad);
  cr_expect_eq(as, 100 * 5);
  cr_expect_eq(bs, 100 * (int)(nb / 7));
}

/* A client reading its two responses of 8 MB. */
typedef struct budget_client {
  int fd, whole;
} budget_client_t;

static void *read_two(void *arg) {
  budget_client_t *b = arg;
  for (int k = 0; k < 2; k++) {
    http_response_t r;
    if (!http_read(b->fd, &r, 60)) break;
    b->whole += r.status == 200 && r.body_len == 8000000;
    http_response_free(&r);
  }
  return NULL;
}

static void tune_budget(srv_config_t *cfg) {
  cfg->max_buffered = 16 << 20; /* 8 MiB a worker */
  cfg->write_ms = cfg->idle_ms = 120000;
  cfg->min_rate = 0;
}

Test(server, the_connections_buffers_stay_within_the_budget) {
  tune = tune_budget;
  int port = start(0, 0);
  /* 16 clients each pipeline two requests for 8 MB and read nothing: 256
   * MB of responses. Past its 8 MiB a worker reads and runs nothing more
   * but the response it is making: at most the budget plus a response
   * and a read a worker. */
  enum { CLIENTS = 16, EACH = 2 };
  const size_t bytes = 8000000;
  int fds[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) {
    fds[i] = big_reader(port, 4096, bytes);
    char get[128];
    snprintf(get, sizeof(get), "GET /big?%zu HTTP/1.1\r\nHost: x\r\n\r\n", bytes);
    cr_assert(http_send(fds[i], get, strlen(get)));
  }
  uint64_t most = 0;
  for (int t = 0; t < 60; t++) {
    uint64_t now = srv_buffered_bytes(s);
    if (now > most) most = now;
    nap_ms(50);
  }
  const uint64_t bound = (16 << 20) + 2 * (bytes + (1 << 20));
  cr_expect_leq(most, bound, "%llu bytes buffered, over %llu", (unsigned long long)most,
                (unsigned long long)bound);
  cr_expect_gt(most, 8 << 20, "the responses never filled the budget: %llu",
               (unsigned long long)most);
  /* The clients read now: every response arrives whole, the paused
   * connections started again as the others' responses go. */
  budget_client_t b[CLIENTS];
  pthread_t t[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) {
    b[i] = (budget_client_t){.fd = fds[i]};
    pthread_create(&t[i], NULL, read_two, &b[i]);
  }
  for (int i = 0; i < CLIENTS; i++) {
    pthread_join(t[i], NULL);
    cr_expect_eq(b[i].whole, EACH, "client %d: %d responses whole", i, b[i].whole);
    http_close(fds[i]);
  }
  nap_ms(600);
  cr_expect_lt(srv_buffered_bytes(s), 1 << 20, "%llu bytes left",
               (unsigned long long)srv_buffered_bytes(s));
  stop();
  tune = NULL;
}

/* Why a guest could not run goes to the operator's log only: one line,
 * bounded, escaped; the client's body names the kind of error alone
 * (wagi.c: wrt_strerror, never wrt_last_error). */
Test(server, a_run_failures_detail_is_one_escaped_bounded_log_line) {
  sbuf_t out = {0};
  wagi_failure_line(&out, "r", "/srv/secret/volume: cannot open\n/r: forged\x1b[2J");
  cr_expect_str_eq(out.p,
                   "/r:! could not run: /srv/secret/volume: cannot open\\x0a/r: forged\\x1b[2J\n");
  static char why[20000];
  memset(why, '\x01', sizeof(why) - 1);
  wagi_failure_line(&out, "r", why);
  cr_expect_leq(out.len, LOG_LINE_MAX);
  cr_expect_eq(memchr(out.p, '\n', out.len), out.p + out.len - 1, "more than one line");
  sbuf_free(&out);
}

/* The reload's route table (wagi_table.h) without a runtime: versions
 * with no module. */
static wagi_table_t *table_of(wagi_version_t **vs, size_t n) {
  wagi_table_t *t = wagi_table_new(n);
  cr_assert_not_null(t);
  for (size_t i = 0; i < n; i++) t->v[i] = vs[i];
  return t;
}

static atomic_int wakes;
static void count_wake(void *arg) {
  (void)arg;
  atomic_fetch_add(&wakes, 1);
}

Test(server, a_replaced_version_lives_until_its_last_request_ends) {
  wagi_routes_t r;
  cr_assert_eq(wagi_routes_init(&r, false, 2), 0);
  r.wake = count_wake;
  wagi_version_t *a1 = wagi_version_new("a", "a.wasm", NULL);
  wagi_version_t *b = wagi_version_new("b", "b.wasm", NULL);
  wagi_routes_publish(&r, table_of((wagi_version_t *[]){a1, b}, 2));
  const char *rest;
  size_t rest_len;
  cr_assert_eq(wagi_routes_acquire(&r, 0, "/a/x?", 4, &rest, &rest_len), a1);
  cr_expect_eq(rest_len, 2);
  cr_expect_eq(strncmp(rest, "/x", 2), 0);
  cr_expect_null(wagi_routes_acquire(&r, 1, "/", 1, &rest, &rest_len));
  cr_expect_null(wagi_routes_acquire(&r, 1, "/ab", 3, &rest, &rest_len));
  cr_expect_null(wagi_routes_acquire(&r, 1, "/a\x1b", 3, &rest, &rest_len));
  /* A new version of /a while a request runs on the old one. */
  wagi_version_t *a2 = wagi_version_new("a", "a.wasm", NULL);
  atomic_fetch_add(&b->refs, 1); /* carried over: the new table's */
  wagi_routes_publish(&r, table_of((wagi_version_t *[]){a2, b}, 2));
  cr_expect_eq(atomic_load(&a1->refs), 1, "the running request's");
  cr_expect_eq(atomic_load(&r.retiring), 1);
  cr_expect_eq(wagi_routes_reap(&r), 0);
  wagi_version_t *now = wagi_routes_acquire(&r, 1, "/a", 2, &rest, &rest_len);
  cr_expect_eq(now, a2);
  wagi_routes_release(&r, now);
  cr_expect_eq(atomic_load(&wakes), 0);
  wagi_routes_release(&r, a1); /* the old request ends */
  cr_expect_eq(atomic_load(&wakes), 1);
  cr_expect_eq(wagi_routes_reap(&r), 1);
  cr_expect_eq(atomic_load(&r.retiring), 0);
  /* The route's count went on: 1 on a1, then 1 on a2. */
  cr_expect_eq(a2->base + atomic_load(&a2->requests), 2);
  sbuf_t o = {0};
  wagi_routes_metrics(&r, &o);
  cr_expect(strstr(o.p, "wpool_serve_route_requests_total{route=\"/a\"} 2\n"), "%s", o.p);
  cr_expect(strstr(o.p, "wpool_serve_route_version{route=\"/b\",version=\"\"} 1\n"), "%s", o.p);
  sbuf_free(&o);
  wagi_routes_free(&r);
}

Test(server, metric_label_values_are_escaped) {
  sbuf_t o = {0};
  metrics_label(&o, "a\\b\"c\nd\te");
  sbuf_put(&o, "", 1);
  cr_expect_str_eq(o.p, "a\\\\b\\\"c\\nd\te");
  sbuf_free(&o);
}

/* Workers take and drop references while a loader publishes new
 * versions: every version is freed once, after its last request (ASan
 * and TSan builds check the rest). */
typedef struct churn {
  wagi_routes_t *r;
  unsigned reader;
  atomic_bool *stop;
  _Atomic uint64_t served;
} churn_t;

static void *churn_worker(void *arg) {
  churn_t *c = arg;
  const char *rest;
  size_t n;
  while (!atomic_load(c->stop)) {
    wagi_version_t *v = wagi_routes_acquire(c->r, c->reader, "/a", 2, &rest, &n);
    if (!v) continue;
    cr_assert_str_eq(v->mod.name, "a");
    atomic_fetch_add(&c->served, 1);
    wagi_routes_release(c->r, v);
  }
  return NULL;
}

Test(server, versions_published_under_load_are_each_freed_once) {
  wagi_routes_t r;
  cr_assert_eq(wagi_routes_init(&r, false, 2), 0);
  atomic_bool stop = false;
  churn_t cs[2] = {{&r, 0, &stop, 0}, {&r, 1, &stop, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, churn_worker, &cs[i]);
  size_t freed = 0, published = 0;
  /* 2,000 versions at least, and on until both workers have served
   * (bounded: 10 s). */
  for (time_t end = time(NULL) + 10;
       published < 2000 ||
       ((!atomic_load(&cs[0].served) || !atomic_load(&cs[1].served)) && time(NULL) < end);
       published++) {
    wagi_version_t *v = wagi_version_new("a", "a.wasm", NULL);
    cr_assert_not_null(v);
    wagi_routes_publish(&r, table_of(&v, 1));
    freed += wagi_routes_reap(&r);
  }
  atomic_store(&stop, true);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  freed += wagi_routes_reap(&r);
  cr_expect_eq(freed, published - 1, "every replaced version freed, once");
  cr_expect_eq(atomic_load(&r.retiring), 0);
  cr_expect(atomic_load(&cs[0].served) && atomic_load(&cs[1].served));
  wagi_routes_free(&r);
}
