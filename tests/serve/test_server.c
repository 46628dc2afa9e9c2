/* The server component driven in-process (server/server.h): its handler
 * seam and its deadlines with short settings, and the WAGI adapter's two
 * pure halves (the request's environment, the guest's output as a
 * response) called directly. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "metrics.h"
#include "server.h"
#include "wagi.h"

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

static char answer[512];

static void echo_request(srv_handler_t *h, const srv_request_t *q, srv_response_t *r) {
  (void)h;
  *r = (srv_response_t){.status = 200, .head = "Content-Type: text/plain\r\n", .head_len = 26};
  if (q->route_data && !strcmp(q->route_data, "big")) {
    r->body = big;
    r->body_len = q->query ? strtoul(q->query, NULL, 10) : 0;
    return;
  }
  snprintf(answer, sizeof(answer), "%s route=%s rest=%.*s host=%.*s state=%s nheaders=%zu",
           q->method, q->route_data ? (const char *)q->route_data : "-", (int)q->rest_len, q->rest,
           (int)q->host_len, q->host ? q->host : "", ((sbuf_t *)q->state)->p, q->nheaders);
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

static int start(unsigned head_ms, unsigned write_ms) {
  memset(big, 'b', sizeof(big));
  srv_config_t cfg;
  srv_config_init(&cfg);
  cfg.threads = 2;
  if (head_ms) cfg.head_ms = head_ms;
  if (write_ms) cfg.write_ms = write_ms;
  cr_assert_eq(srv_create(&cfg, &s), 0, "%s", srv_error());
  metrics_handler_init(&mh, s, NULL, NULL);
  cr_assert_eq(srv_route(s, "/metrics", true, &mh.h, NULL), 0);
  cr_assert_eq(srv_route(s, "/a", false, &echo.h, "a"), 0);
  cr_assert_eq(srv_route(s, "/big", true, &echo.h, "big"), 0);
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
  sbuf_free(&rs.head);
}
