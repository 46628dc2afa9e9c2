/* `wpool serve`: a server started on an ephemeral loopback port in each
 * test, spoken to over HTTP/1.1 (plain sockets, and libcurl where a real
 * client's habits matter: Expect: 100-continue, repeated headers). Every
 * loop is bounded in count and time. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static server_t srv;
static char dir[128];

static void start(const char *const *names, const char *const *extra) {
  const char *args[32];
  size_t n = 0;
  for (size_t i = 0; extra && extra[i]; i++) args[n++] = extra[i];
  cr_assert_not_null(guest_dir(dir, sizeof(dir), names), "cannot make the module directory");
  args[n++] = dir;
  args[n] = NULL;
  bool ok = server_start(&srv, args, 300);
  char err[4096];
  server_output(&srv, true, err, sizeof(err));
  cr_assert(ok, "the server did not start (status %d):\n%s", srv.status, err);
}

static const char *const basic[] = {"hello", "wagi", "trap", NULL};

/* SIGTERM, exit 0, and the pool had no instance left. */
static void stop_clean(int sig) {
  cr_assert(server_stop(&srv, sig, 60), "the server did not stop");
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_assert_eq(srv.status, 0, "exit status %d:\n%s", srv.status, err);
  cr_assert_not_null(strstr(err, " 0 instances live"), "%s", err);
}

static void fini(void) {
  server_cleanup(&srv);
  char cmd[160];
  if (dir[0]) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) cr_log_warn("cannot remove %s", dir);
  }
}

TestSuite(serve, .fini = fini, .timeout = 600);

static void get(const char *target, http_response_t *r) {
  cr_assert(http_request(srv.port, "GET", target, NULL, NULL, 0, r), "GET %s: no response", target);
}

static void expect_body(const http_response_t *r, int status, const char *body) {
  cr_expect_eq(r->status, status, "status %d, not %d: %s", r->status, status, r->body);
  if (body) cr_expect_str_eq(r->body, body);
}

/* ------------------------------------------------------------------ */

Test(serve, routes_each_module_of_a_directory_at_its_name) {
  start(basic, NULL);
  http_response_t r;
  get("/hello", &r);
  expect_body(&r, 200, "hello, world\n");
  char v[64];
  cr_expect_str_eq(http_header(&r, "content-type", v, sizeof(v)), "text/plain");
  http_response_free(&r);
  get("/wagi/deeper/path?x", &r); /* /NAME/... routes to NAME too */
  expect_body(&r, 200, "wagi\n");
  http_response_free(&r);
  const char *missing[] = {"/nope", "/", "/hellox", "/hello.wasm", "//hello"};
  for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
    get(missing[i], &r);
    cr_expect_eq(r.status, 404, "%s: %d", missing[i], r.status);
    http_response_free(&r);
  }
  stop_clean(SIGTERM);
}

Test(serve, a_single_module_answers_every_path) {
  char path[512];
  const char *args[] = {"--listen", "127.0.0.1:0", guest_path(path, sizeof(path), "wagi"), NULL};
  cr_assert(server_start(&srv, args, 300));
  http_response_t r;
  get("/?env", &r);
  expect_body(&r, 200, NULL);
  cr_expect_not_null(strstr(r.body, "arg 0: wagi\n"), "%s", r.body);
  cr_expect_not_null(strstr(r.body, "env PATH_INFO=/\n"), "%s", r.body);
  cr_expect_not_null(strstr(r.body, "env SCRIPT_NAME=\n"), "%s", r.body);
  http_response_free(&r);
  get("/any/where?env", &r);
  cr_expect_not_null(strstr(r.body, "env PATH_INFO=/any/where\n"), "%s", r.body);
  http_response_free(&r);
  get("/metrics", &r); /* the server's own path stays its own */
  cr_expect_not_null(strstr(r.body, "wpool_serve_requests_total{code=\"200\"} 2\n"), "%s", r.body);
  http_response_free(&r);
  stop_clean(SIGTERM);
}

/* libcurl: a real client's request, repeated headers joined as CGI does. */
typedef struct sink {
  char buf[1 << 16];
  size_t len;
} sink_t;

static size_t sink_write(char *p, size_t size, size_t n, void *arg) {
  sink_t *s = arg;
  size_t k = size * n;
  if (s->len + k >= sizeof(s->buf)) return 0;
  memcpy(s->buf + s->len, p, k);
  s->len += k;
  s->buf[s->len] = 0;
  return k;
}

static long curl_post(const char *target, const char *const *headers, const char *body, size_t len,
                      sink_t *out, long timeout_s) {
  CURL *c = curl_easy_init();
  cr_assert_not_null(c);
  char url[512];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv.port, target);
  struct curl_slist *h = NULL;
  for (size_t i = 0; headers && headers[i]; i++) h = curl_slist_append(h, headers[i]);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
  /* Without the server's 100 Continue, curl would wait this long before
   * sending the body: longer than the whole request may take. */
  curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 2 * 1000 * timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  out->len = 0;
  out->buf[0] = 0;
  CURLcode rc = curl_easy_perform(c);
  cr_assert_eq(rc, CURLE_OK, "%s", curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

static void expect_line(const char *text, const char *line) {
  char want[512];
  snprintf(want, sizeof(want), "%s\n", line);
  cr_expect_not_null(strstr(text, want), "no line '%s' in:\n%s", line, text);
}

Test(serve, wagi_arguments_environment_and_stdin) {
  start(basic, NULL);
  static sink_t out;
  const char *headers[] = {"X-Test: one", "X-Test: two", "Content-Type: text/x-test",
                           "Proxy: http://evil.invalid", NULL};
  long st = curl_post("/wagi/a%20b/c?env&echo&x=1", headers, "ping", 4, &out, 60);
  cr_assert_eq(st, 200, "%ld: %s", st, out.buf);
  char line[128];
  expect_line(out.buf, "arg 0: wagi");
  expect_line(out.buf, "arg 1: env");
  expect_line(out.buf, "arg 2: echo");
  expect_line(out.buf, "arg 3: x=1");
  cr_expect_null(strstr(out.buf, "arg 4:"), "%s", out.buf);
  expect_line(out.buf, "env REQUEST_METHOD=POST");
  expect_line(out.buf, "env PATH_INFO=/a b/c");
  expect_line(out.buf, "env X_RAW_PATH_INFO=/a%20b/c");
  expect_line(out.buf, "env SCRIPT_NAME=/wagi");
  expect_line(out.buf, "env X_MATCHED_ROUTE=/wagi/...");
  expect_line(out.buf, "env QUERY_STRING=env&echo&x=1");
  expect_line(out.buf, "env CONTENT_TYPE=text/x-test");
  expect_line(out.buf, "env CONTENT_LENGTH=4");
  expect_line(out.buf, "env HTTP_X_TEST=one, two");
  expect_line(out.buf, "env GATEWAY_INTERFACE=CGI/1.1");
  expect_line(out.buf, "env REMOTE_ADDR=127.0.0.1");
  snprintf(line, sizeof(line), "env HTTP_HOST=127.0.0.1:%d", srv.port);
  expect_line(out.buf, line);
  snprintf(line, sizeof(line), "env SERVER_PORT=%d", srv.port);
  expect_line(out.buf, line);
  cr_expect_null(strstr(out.buf, "HTTP_CONTENT_TYPE"), "%s", out.buf);
  cr_expect_null(strstr(out.buf, "HTTP_PROXY"), "%s", out.buf);
  /* echo: stdin, after the listing */
  cr_expect(out.len >= 4 && !memcmp(out.buf + out.len - 4, "ping", 4), "%s", out.buf);
  stop_clean(SIGTERM);
}

Test(serve, the_body_is_stdin_byte_for_byte_and_curl_may_expect_100_continue) {
  start(basic, NULL);
  size_t n = 300000;
  char *body = malloc(n);
  cr_assert_not_null(body);
  for (size_t i = 0; i < n; i++) body[i] = (char)(i * 7 + (i >> 8)); /* every byte value */
  http_response_t r;
  cr_assert(
      http_request(srv.port, "PUT", "/wagi?echo&type=application/octet-stream", NULL, body, n, &r));
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.body_len, n, "%zu bytes", r.body_len);
  cr_expect(memcmp(r.body, body, n) == 0, "the echoed body differs");
  http_response_free(&r);
  /* libcurl sends "Expect: 100-continue" for a body over 1 KiB and waits
   * for the server's 100 before sending it (here: longer than the
   * request's time limit, so a server without it fails the request). */
  static sink_t out;
  const char *expect[] = {"Expect: 100-continue", NULL};
  long st = curl_post("/wagi?echo", expect, body, 4096, &out, 20);
  cr_expect_eq(st, 200);
  cr_expect_eq(out.len, 4096);
  cr_expect(memcmp(out.buf, body, 4096) == 0);
  free(body);
  stop_clean(SIGTERM);
}

Test(serve, the_guests_header_lines_make_the_response) {
  start(basic, NULL);
  http_response_t r;
  char v[128];
  get("/wagi?status=201&type=application/json&header=X-Extra:yes", &r);
  expect_body(&r, 201, "wagi\n");
  cr_expect_str_eq(http_header(&r, "content-type", v, sizeof(v)), "application/json");
  cr_expect_str_eq(http_header(&r, "x-extra", v, sizeof(v)), "yes");
  http_response_free(&r);
  get("/wagi?location=/there", &r); /* Location alone: a redirect */
  expect_body(&r, 302, "wagi\n");
  cr_expect_str_eq(http_header(&r, "location", v, sizeof(v)), "/there");
  http_response_free(&r);
  get("/wagi?status=404", &r);
  expect_body(&r, 404, "wagi\n");
  http_response_free(&r);
  get("/wagi?plain", &r); /* no header block: the whole output, 200 text/plain */
  expect_body(&r, 200, "wagi\n");
  cr_expect_str_eq(http_header(&r, "content-type", v, sizeof(v)), "text/plain");
  http_response_free(&r);
  get("/wagi?status=99", &r); /* a Status that is no status: the guest's fault */
  cr_expect_eq(r.status, 500);
  cr_expect_not_null(strstr(r.body, "Status"), "%s", r.body);
  http_response_free(&r);
  /* HEAD: the same head, no body */
  int fd = http_connect(srv.port);
  cr_assert_geq(fd, 0);
  const char head[] = "HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  cr_assert(http_send(fd, head, strlen(head)));
  char all[1024];
  size_t got = 0;
  ssize_t k;
  struct timeval tv = {30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (got < sizeof(all) - 1 && (k = recv(fd, all + got, sizeof(all) - 1 - got, 0)) > 0)
    got += (size_t)k;
  all[got] = 0;
  http_close(fd);
  cr_expect_not_null(strstr(all, "HTTP/1.1 200 OK\r\n"), "%s", all);
  cr_expect_not_null(strstr(all, "Content-Length: 13\r\n"), "%s", all);
  cr_expect(got > 4 && !strcmp(all + got - 4, "\r\n\r\n"), "a body after HEAD's head: %s", all);
  stop_clean(SIGTERM);
}

Test(serve, a_trap_or_a_non_zero_exit_is_500_and_the_server_goes_on) {
  start(basic, NULL);
  http_response_t r;
  const struct {
    const char *target, *text;
  } cases[] = {
      {"/trap?div0", "trapped: div_by_zero"},        {"/trap?oob-low", "trapped: oob"},
      {"/trap?unreachable", "trapped: unreachable"}, {"/trap?stack", "trapped: exhaustion"},
      {"/wagi?exit=3", "exited with code 3"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    get(cases[i].target, &r);
    cr_expect_eq(r.status, 500, "%s: %d", cases[i].target, r.status);
    cr_expect_not_null(strstr(r.body, cases[i].text), "%s: %s", cases[i].target, r.body);
    http_response_free(&r);
  }
  get("/hello", &r);
  expect_body(&r, 200, "hello, world\n");
  http_response_free(&r);
  stop_clean(SIGTERM);
}

/* Send raw bytes on a new connection; read one response. */
static void raw(const char *bytes, size_t len, http_response_t *r) {
  int fd = http_connect(srv.port);
  cr_assert_geq(fd, 0);
  cr_assert(http_send(fd, bytes, len));
  cr_assert(http_read(fd, r, 60), "no response to: %.60s", bytes);
  http_close(fd);
}

Test(serve, a_body_over_the_limit_is_413) {
  const char *const extra[] = {"--max-body", "1KiB", NULL};
  start(basic, extra);
  char body[2000];
  memset(body, 'b', sizeof(body));
  http_response_t r;
  cr_assert(http_request(srv.port, "POST", "/wagi?echo", NULL, body, 1024, &r));
  expect_body(&r, 200, NULL);
  cr_expect_eq(r.body_len, 1024);
  http_response_free(&r);
  cr_assert(http_request(srv.port, "POST", "/wagi?echo", NULL, body, 1025, &r));
  cr_expect_eq(r.status, 413);
  cr_expect(r.closed, "413 should close the connection");
  http_response_free(&r);
  /* A chunked body found too large as it comes. */
  char req[4096];
  int n = snprintf(req, sizeof(req),
                   "POST /wagi?echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "300\r\n%.*s\r\n300\r\n%.*s\r\n0\r\n\r\n",
                   0x300, body, 0x300, body);
  raw(req, (size_t)n, &r);
  cr_expect_eq(r.status, 413);
  http_response_free(&r);
  stop_clean(SIGTERM);
}

Test(serve, malformed_http_is_400) {
  start(basic, NULL);
  const char *bad[] = {
      "GARBAGE\r\n\r\n", "GET /hello HTTP/1.1\r\nHost x\r\n\r\n", /* a header without a colon */
      "GET /wagi/%zz HTTP/1.1\r\nHost: x\r\n\r\n",                /* a broken escape in PATH_INFO */
      "POST /wagi HTTP/1.1\r\nContent-Length: x\r\n\r\n",         /* a length that is no number */
  };
  http_response_t r;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    raw(bad[i], strlen(bad[i]), &r);
    cr_expect_eq(r.status, 400, "%d for: %s", r.status, bad[i]);
    cr_expect(r.closed);
    http_response_free(&r);
  }
  char many[4096] = "GET /hello HTTP/1.1\r\n";
  for (int i = 0; i < 101; i++) strcat(many, "X-A: b\r\n");
  strcat(many, "\r\n");
  raw(many, strlen(many), &r);
  cr_expect_eq(r.status, 431, "%d for 101 header fields", r.status);
  http_response_free(&r);
  const char v9[] = "GET /hello HTTP/9.9\r\nHost: x\r\n\r\n";
  raw(v9, strlen(v9), &r);
  cr_expect_eq(r.status, 505, "%d", r.status);
  http_response_free(&r);
  get("/hello", &r);
  expect_body(&r, 200, "hello, world\n");
  http_response_free(&r);
  stop_clean(SIGTERM);
}

/* Poll /metrics on `fd` (keep-alive) until `series` reads `value`; false
 * after 30 s. */
static bool wait_metric(int fd, const char *series, double value) {
  for (int i = 0; i < 3000; i++) {
    const char get_m[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    http_response_t r;
    if (!http_send(fd, get_m, strlen(get_m)) || !http_read(fd, &r, 30)) return false;
    double v = metric(r.body, series);
    http_response_free(&r);
    if (v == value) return true;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  return false;
}

Test(serve, an_exhausted_pool_is_503_with_retry_after) {
  const char *const extra[] = {"--threads", "2", "--config", "instance_count=1", NULL};
  start(basic, extra);
  bool seen = false;
  for (int attempt = 0; attempt < 3 && !seen; attempt++) {
    /* A request holds the only slot on one worker; the second connection
     * goes to the other worker (the one with fewer connections). */
    int a = http_connect(srv.port), b = http_connect(srv.port);
    cr_assert(a >= 0 && b >= 0);
    const char slow[] = "GET /wagi?spin=3000 HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert(http_send(a, slow, strlen(slow)));
    cr_assert(wait_metric(b, "wpool_pool_live_instances", 1), "the slow request never ran");
    const char hello[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    http_response_t r;
    cr_assert(http_send(b, hello, strlen(hello)) && http_read(b, &r, 60));
    if (r.status == 503) {
      seen = true;
      char v[32];
      cr_expect_str_eq(http_header(&r, "retry-after", v, sizeof(v)), "1");
    } else {
      cr_expect_eq(r.status, 200, "%d", r.status); /* the slow one had ended: try again */
    }
    http_response_free(&r);
    cr_assert(http_read(a, &r, 60));
    expect_body(&r, 200, "wagi\n");
    http_response_free(&r);
    http_close(a);
    http_close(b);
  }
  cr_expect(seen, "no 503 in three attempts");
  http_response_t r;
  get("/metrics", &r);
  cr_expect_geq(metric(r.body, "wpool_runtime_exhausted_total"), 1);
  cr_expect_geq(metric(r.body, "wpool_serve_requests_total{code=\"503\"}"), 1);
  http_response_free(&r);
  stop_clean(SIGTERM);
}

/* Clients, each on one keep-alive connection, in threads. */
typedef struct client {
  int port, id, requests, ok, reconnects;
  char why[160];
} client_t;

static void *client_main(void *arg) {
  client_t *c = arg;
  int fd = http_connect(c->port);
  if (fd < 0) {
    snprintf(c->why, sizeof(c->why), "cannot connect");
    return NULL;
  }
  for (int i = 0; i < c->requests; i++) {
    char req[256], body[64];
    int bl = snprintf(body, sizeof(body), "client %d request %d", c->id, i);
    int n = i % 2 ? snprintf(req, sizeof(req), "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                  : snprintf(req, sizeof(req),
                             "POST /wagi?echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s",
                             bl, body);
    http_response_t r;
    if (!http_send(fd, req, (size_t)n) || !http_read(fd, &r, 60)) {
      snprintf(c->why, sizeof(c->why), "request %d: no response", i);
      break;
    }
    const char *want = i % 2 ? "hello, world\n" : body;
    if (r.status == 200 && !strcmp(r.body, want) && !r.closed)
      c->ok++;
    else
      snprintf(c->why, sizeof(c->why), "request %d: %d %s", i, r.status, r.body);
    http_response_free(&r);
  }
  http_close(fd);
  return NULL;
}

Test(serve, concurrent_keep_alive_clients) {
  const char *const extra[] = {"--threads", "2", NULL};
  start(basic, extra);
  enum { CLIENTS = 8, EACH = 40 };
  client_t cs[CLIENTS];
  pthread_t t[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) {
    cs[i] = (client_t){.port = srv.port, .id = i, .requests = EACH};
    cr_assert_eq(pthread_create(&t[i], NULL, client_main, &cs[i]), 0);
  }
  for (int i = 0; i < CLIENTS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < CLIENTS; i++) cr_expect_eq(cs[i].ok, EACH, "client %d: %s", i, cs[i].why);
  http_response_t r;
  get("/metrics", &r);
  /* One connection per client (keep-alive), and this one. */
  cr_expect_eq(metric(r.body, "wpool_serve_connections_total"), CLIENTS + 1, "%s", r.body);
  cr_expect_eq(metric(r.body, "wpool_serve_requests_total{code=\"200\"}"), CLIENTS * EACH);
  http_response_free(&r);
  stop_clean(SIGTERM);
}

Test(serve, pipelined_requests_are_answered_in_order) {
  start(basic, NULL);
  int fd = http_connect(srv.port);
  cr_assert_geq(fd, 0);
  const char reqs[] =
      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /wagi?echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /wagi?plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"; /* after a close: never answered */
  cr_assert(http_send(fd, reqs, strlen(reqs)));
  http_response_t r;
  cr_assert(http_read(fd, &r, 60));
  expect_body(&r, 200, "hello, world\n");
  http_response_free(&r);
  cr_assert(http_read(fd, &r, 60));
  expect_body(&r, 200, "abc");
  http_response_free(&r);
  cr_assert(http_read(fd, &r, 60));
  cr_expect_eq(r.status, 404);
  http_response_free(&r);
  cr_assert(http_read(fd, &r, 60));
  expect_body(&r, 200, "wagi\n");
  cr_expect(r.closed);
  http_response_free(&r);
  /* Nothing more: the connection ends after Connection: close. */
  cr_expect_not(http_read(fd, &r, 10), "an answer after Connection: close: %d", r.status);
  http_close(fd);
  stop_clean(SIGTERM);
}

/* Every line of a Prometheus text exposition: "# HELP name text",
 * "# TYPE name kind", or "name{labels} value"; each sample's family has
 * had its TYPE. */
static void check_exposition(const char *text) {
  regex_t sample, help, type;
  cr_assert_eq(
      regcomp(&sample,
              "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[a-zA-Z_]+=\"[^\"]*\"(,[a-zA-Z_]+=\"[^\"]*\")*\\})?"
              " [-+]?[0-9.]+(e[-+]?[0-9]+)?$",
              REG_EXTENDED),
      0);
  cr_assert_eq(regcomp(&help, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$", REG_EXTENDED), 0);
  cr_assert_eq(
      regcomp(&type, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$", REG_EXTENDED),
      0);
  char family[128] = "";
  size_t lines = 0;
  for (const char *l = text; *l; lines++) {
    const char *e = strchr(l, '\n');
    cr_assert_not_null(e, "the exposition does not end with a newline");
    char line[512];
    size_t n = (size_t)(e - l) < sizeof(line) - 1 ? (size_t)(e - l) : sizeof(line) - 1;
    memcpy(line, l, n);
    line[n] = 0;
    regmatch_t m[2];
    if (!strncmp(line, "# HELP", 6)) {
      cr_expect_eq(regexec(&help, line, 0, NULL, 0), 0, "bad line: %s", line);
    } else if (!strncmp(line, "# TYPE", 6)) {
      cr_expect_eq(regexec(&type, line, 2, m, 0), 0, "bad line: %s", line);
      snprintf(family, sizeof(family), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
    } else {
      cr_expect_eq(regexec(&sample, line, 2, m, 0), 0, "bad line: %s", line);
      cr_expect(family[0] && !strncmp(line, family, strlen(family)),
                "sample outside its family %s: %s", family, line);
    }
    l = e + 1;
  }
  cr_expect_gt(lines, 50);
  regfree(&sample);
  regfree(&help);
  regfree(&type);
}

Test(serve, metrics_count_requests_by_status_with_a_histogram_and_the_pools_statistics) {
  start(basic, NULL);
  http_response_t r;
  const char *targets[] = {"/hello", "/wagi", "/nope", "/trap?div0"};
  for (size_t i = 0; i < 4; i++) {
    get(targets[i], &r);
    http_response_free(&r);
  }
  get("/metrics", &r);
  cr_assert_eq(r.status, 200);
  char v[128];
  cr_expect_not_null(strstr(http_header(&r, "content-type", v, sizeof(v)), "version=0.0.4"));
  check_exposition(r.body);
  cr_expect_eq(metric(r.body, "wpool_serve_requests_total{code=\"200\"}"), 2, "%s", r.body);
  cr_expect_eq(metric(r.body, "wpool_serve_requests_total{code=\"404\"}"), 1);
  cr_expect_eq(metric(r.body, "wpool_serve_requests_total{code=\"500\"}"), 1);
  /* The histogram: cumulative buckets, +Inf equal to the count. */
  const char *le[] = {"0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                      "0.005",   "0.01",   "0.025",   "0.05",   "0.1",   "0.25",
                      "0.5",     "1",      "2.5",     "5",      "10",    "+Inf"};
  double prev = 0;
  for (size_t i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
    char series[128];
    snprintf(series, sizeof(series), "wpool_serve_request_duration_seconds_bucket{le=\"%s\"}",
             le[i]);
    double b = metric(r.body, series);
    cr_expect_geq(b, prev, "%s: %g after %g", series, b, prev);
    prev = b;
  }
  cr_expect_eq(prev, 4);
  cr_expect_eq(metric(r.body, "wpool_serve_request_duration_seconds_count"), 4);
  cr_expect_gt(metric(r.body, "wpool_serve_request_duration_seconds_sum"), 0);
  /* The runtime's and the pool's own figures. */
  cr_expect_eq(metric(r.body, "wpool_runtime_requests_total"), 3);
  cr_expect_eq(metric(r.body, "wpool_runtime_traps_total"), 1);
  cr_expect_eq(metric(r.body, "wpool_pool_live_instances"), 0);
  cr_expect_eq(metric(r.body, "wpool_pool_live_modules"), 3);
  cr_expect_eq(metric(r.body, "wpool_pool_instances_created_total"), 3);
  cr_expect_geq(metric(r.body, "wpool_serve_connections_open"), 1); /* this one, and any the
                                                                       server has not seen end */
  http_response_free(&r);
  stop_clean(SIGTERM);
}

Test(serve, sigterm_finishes_the_requests_in_flight_then_exits_0) {
  const char *const extra[] = {"--threads", "2", NULL};
  start(basic, extra);
  /* c: a request half received; a: a request running; b: idle after
   * watching /metrics. */
  int c = http_connect(srv.port), b = http_connect(srv.port);
  cr_assert(c >= 0 && b >= 0);
  const char half[] = "POST /wagi?echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345";
  cr_assert(http_send(c, half, strlen(half)));
  cr_assert(wait_metric(b, "wpool_serve_requests_receiving", 1), "the half request never came");
  int a = http_connect(srv.port);
  cr_assert_geq(a, 0);
  const char slow[] = "GET /wagi?spin=1500 HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert(http_send(a, slow, strlen(slow)));
  cr_assert(wait_metric(b, "wpool_pool_live_instances", 1), "the slow request never ran");
  kill(srv.pid, SIGTERM);
  http_response_t r;
  cr_assert(http_read(a, &r, 60), "the running request got no answer");
  expect_body(&r, 200, "wagi\n");
  cr_expect(r.closed, "the last answer says Connection: close");
  http_response_free(&r);
  /* The half-received request is still taken after the signal. */
  cr_assert(http_send(c, "67890", 5));
  cr_assert(http_read(c, &r, 60), "the half-received request got no answer");
  expect_body(&r, 200, "1234567890");
  cr_expect(r.closed);
  http_response_free(&r);
  char ch;
  cr_expect_eq(recv(b, &ch, 1, 0), 0, "the idle connection is closed");
  http_close(a);
  http_close(b);
  http_close(c);
  stop_clean(SIGTERM); /* already signalled: waits for the exit */
  char err[4096];
  server_output(&srv, true, err, sizeof(err));
  cr_expect_not_null(strstr(err, "SIGTERM: no new connections"), "%s", err);
}

/* Signals that keep coming while the server stops, up to its last
 * moment, never turn its clean exit into a kill. */
Test(serve, stop_signals_during_the_shutdown_still_exit_0) {
  for (int round = 0; round < 5; round++) {
    start(basic, NULL);
    http_response_t r;
    get("/hello", &r);
    http_response_free(&r);
    cr_assert(server_stop_insistently(&srv, SIGTERM, 60), "the server did not stop");
    char err[8192];
    server_output(&srv, true, err, sizeof(err));
    cr_assert_eq(srv.status, 0, "round %d: exit status %d:\n%s", round, srv.status, err);
    if (round < 4) fini(); /* the next round makes its own */
  }
}

Test(serve, sigint_stops_an_idle_server_with_open_connections) {
  start(basic, NULL);
  int fd = http_connect(srv.port);
  cr_assert_geq(fd, 0);
  const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  http_response_t r;
  cr_assert(http_send(fd, req, strlen(req)) && http_read(fd, &r, 60));
  http_response_free(&r);
  stop_clean(SIGINT);
  char c;
  cr_expect_eq(recv(fd, &c, 1, 0), 0);
  http_close(fd);
  /* The listener is gone too. */
  cr_expect_lt(http_connect(srv.port), 0);
}

/* The server must refuse to start: exit 2, naming `needle`. */
static void refused(const char *const *args, const char *needle) {
  cr_assert_not(server_start(&srv, args, 300), "the server started");
  char err[4096];
  server_output(&srv, true, err, sizeof(err));
  cr_expect_eq(srv.status, 2, "exit %d: %s", srv.status, err);
  cr_expect_not_null(strstr(err, needle), "'%s' not in: %s", needle, err);
  cr_expect_null(strchr(strchr(err, '\n') ? strchr(err, '\n') + 1 : "", '\n'),
                 "more than one line: %s", err);
  server_cleanup(&srv);
}

Test(serve, a_bad_module_stops_the_start_with_exit_2_naming_it) {
  const char *const ok[] = {"hello", NULL};
  cr_assert_not_null(guest_dir(dir, sizeof(dir), ok));
  char bad[256];
  snprintf(bad, sizeof(bad), "%s/broken.wasm", dir);
  FILE *f = fopen(bad, "w");
  cr_assert_not_null(f);
  fputs("this is not WebAssembly", f);
  fclose(f);
  const char *args[] = {dir, NULL};
  refused(args, "broken.wasm");
  unlink(bad);
  /* /metrics is the server's own path */
  snprintf(bad, sizeof(bad), "%s/metrics.wasm", dir);
  cr_assert_eq(symlink("hello.wasm", bad), 0);
  refused(args, "metrics.wasm");
  unlink(bad);
  char empty[160];
  snprintf(empty, sizeof(empty), "%s/empty", dir);
  cr_assert_eq(mkdir(empty, 0700), 0);
  const char *args2[] = {empty, NULL};
  refused(args2, "no .wasm modules");
  rmdir(empty);
  const char *args3[] = {"/nonexistent/x.wasm", NULL};
  refused(args3, "/nonexistent/x.wasm");
  const char *args4[] = {"--listen", "nowhere", dir, NULL};
  refused(args4, "--listen");
}

Test(serve, the_log_has_a_line_per_request_only_when_asked) {
  const char *const extra[] = {"--log", NULL};
  start(basic, extra);
  http_response_t r;
  get("/hello?x=1", &r);
  http_response_free(&r);
  get("/nope", &r);
  http_response_free(&r);
  stop_clean(SIGTERM);
  char out[4096];
  server_output(&srv, false, out, sizeof(out));
  unsigned long us;
  const char *l1 = strstr(out, "GET /hello 200 "), *l2 = strstr(out, "GET /nope 404 ");
  cr_expect(l1 && sscanf(l1, "GET /hello 200 %lu\n", &us) == 1, "%s", out);
  cr_expect(l2 && sscanf(l2, "GET /nope 404 %lu\n", &us) == 1, "%s", out);
  server_cleanup(&srv);
  start(basic, NULL);
  get("/hello", &r);
  http_response_free(&r);
  stop_clean(SIGTERM);
  server_output(&srv, false, out, sizeof(out));
  cr_expect_str_eq(out, "");
}

Test(serve, the_stock_runtime_serves_the_same_answers) {
  const char *const extra[] = {"--runtime", "stock", NULL};
  start(basic, extra);
  http_response_t r;
  get("/hello", &r);
  expect_body(&r, 200, "hello, world\n");
  http_response_free(&r);
  get("/trap?div0", &r);
  cr_expect_eq(r.status, 500);
  http_response_free(&r);
  get("/metrics", &r);
  cr_expect_null(strstr(r.body, "wpool_pool_"), "the stock runtime has no pool");
  cr_expect_eq(metric(r.body, "wpool_runtime_requests_total"), 2);
  cr_expect_not_null(strstr(r.body, "runtime=\"stock\""));
  http_response_free(&r);
  cr_assert(server_stop(&srv, SIGTERM, 60));
  cr_expect_eq(srv.status, 0);
}
