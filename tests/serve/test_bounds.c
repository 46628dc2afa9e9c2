/* `wpool serve`'s bounds (docs/serve.md): memory per connection whatever
 * a client sends or fails to read, the connection cap with its reserve
 * for /metrics. Through the binary; the deadlines, which take seconds,
 * are driven in-process (test_server.c). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static server_t srv;
static char dir[128];

static void start(const char *const *extra) {
  static const char *const names[] = {"hello", "wagi", NULL};
  const char *args[16];
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

static void fini(void) {
  server_cleanup(&srv);
  char cmd[160];
  if (dir[0]) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) cr_log_warn("cannot remove %s", dir);
  }
}

TestSuite(bounds, .fini = fini, .timeout = 600);

static void nap_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The server's resident memory, KiB; 0 under AddressSanitizer, whose
 * quarantine keeps freed blocks resident (the buffered-bytes gauge is
 * checked there instead). */
static long rss_kib(void) {
#ifdef __SANITIZE_ADDRESS__
  return 0;
#endif
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)srv.pid);
  FILE *f = fopen(path, "r");
  long kib = -1;
  while (f && fgets(line, sizeof(line), f))
    if (!strncmp(line, "VmRSS:", 6)) kib = atol(line + 6);
  if (f) fclose(f);
  return kib;
}

/* /metrics on a new connection; the value of `series`. */
static double metric_now(const char *series) {
  http_response_t r;
  cr_assert(http_request(srv.port, "GET", "/metrics", NULL, NULL, 0, &r));
  double v = metric(r.body, series);
  http_response_free(&r);
  return v;
}

#define BOUND (64u << 10)

Test(bounds, pipelined_requests_wait_while_a_response_is_unsent) {
  start(NULL);
  /* Warm: the guest's code and the pool's slot. */
  http_response_t r;
  cr_assert(http_request(srv.port, "GET", "/wagi?big=4000000", NULL, NULL, 0, &r));
  http_response_free(&r);
  long before = rss_kib();
  /* 40 requests for 4 MB each in one send; the client reads nothing. */
  static char reqs[4096];
  size_t n = 0;
  for (int i = 0; i < 40; i++)
    n += (size_t)snprintf(reqs + n, sizeof(reqs) - n,
                          "GET /wagi?big=4000000 HTTP/1.1\r\nHost: x\r\n\r\n");
  int fd = http_connect(srv.port);
  cr_assert_geq(fd, 0);
  cr_assert(http_send(fd, reqs, n));
  nap_ms(1500);
  /* A request runs only while the kernel's socket buffers (a few MB on
   * loopback) take the responses before it: a few, never the 40. */
  double ran = metric_now("wpool_runtime_requests_total") - 1;
  cr_expect_leq(ran, 5, "%g of the 40 requests ran while nothing was read", ran);
  double buffered = metric_now("wpool_serve_buffered_bytes");
  cr_expect_leq(buffered, 2 * 4000000 + 4 * BOUND, "buffered %g bytes", buffered);
  long grown = rss_kib() - before;
  cr_expect_lt(grown, 48 * 1024, "the server grew by %ld KiB", grown);
  /* Reading, the client gets all 40, in order. */
  for (int i = 0; i < 40; i++) {
    cr_assert(http_read(fd, &r, 60), "response %d", i);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.body_len, 4000000);
    http_response_free(&r);
  }
  http_close(fd);
  cr_assert(server_stop(&srv, SIGTERM, 60));
  cr_expect_eq(srv.status, 0);
}

Test(bounds, buffers_fall_back_after_a_large_response) {
  start(NULL);
  enum { CONNS = 20 };
  int fds[CONNS];
  long before = rss_kib();
  for (int i = 0; i < CONNS; i++) {
    fds[i] = http_connect(srv.port);
    cr_assert_geq(fds[i], 0);
    const char req[] = "GET /wagi?big=8000000 HTTP/1.1\r\nHost: x\r\n\r\n";
    http_response_t r;
    cr_assert(http_send(fds[i], req, strlen(req)) && http_read(fds[i], &r, 60));
    cr_expect_eq(r.body_len, 8000000);
    cr_expect_not(r.closed);
    http_response_free(&r);
  }
  /* 20 idle keep-alive connections: each holds a few KiB, not 8 MB. The
   * last response's buffer goes when its write completes on the server's
   * side, which may come after the client has read every byte: wait for
   * it (up to 10 s). */
  double buffered = metric_now("wpool_serve_buffered_bytes");
  for (int t = 0; t < 100 && buffered > CONNS * 5 * (16u << 10); t++) {
    usleep(100 * 1000);
    buffered = metric_now("wpool_serve_buffered_bytes");
  }
  cr_expect_leq(buffered, CONNS * 5 * (16u << 10), "buffered %g bytes", buffered);
  long grown = rss_kib() - before;
  cr_expect_lt(grown, 64 * 1024, "the server grew by %ld KiB", grown);
  for (int i = 0; i < CONNS; i++) http_close(fds[i]);
  cr_assert(server_stop(&srv, SIGTERM, 60));
  cr_expect_eq(srv.status, 0);
}

Test(bounds, at_the_connection_cap_accepting_pauses_and_metrics_still_answers) {
  const char *const extra[] = {"--max-connections", "4", NULL};
  start(extra);
  enum { CAP = 4, RESERVE = 8 };
  int held[CAP + RESERVE];
  const char hello[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  http_response_t r;
  for (int i = 0; i < CAP; i++) {
    held[i] = http_connect(srv.port);
    cr_assert(held[i] >= 0 && http_send(held[i], hello, strlen(hello)) &&
              http_read(held[i], &r, 60));
    cr_expect_eq(r.status, 200);
    http_response_free(&r);
  }
  /* At the cap: /metrics is answered on a reserve connection... */
  cr_assert(http_request(srv.port, "GET", "/metrics", NULL, NULL, 0, &r));
  cr_expect_eq(r.status, 200);
  cr_expect_eq(metric(r.body, "wpool_serve_connections_max"), CAP);
  cr_expect_geq(metric(r.body, "wpool_serve_connections_open"), CAP + 1);
  cr_expect(r.closed, "a reserve connection closes after its answer");
  http_response_free(&r);
  /* ...and nothing else is. */
  cr_assert(http_request(srv.port, "GET", "/hello", NULL, NULL, 0, &r));
  cr_expect_eq(r.status, 503, "%d", r.status);
  cr_expect(r.closed);
  http_response_free(&r);
  /* The reserve full too: the next connection waits in the backlog. */
  nap_ms(300); /* the two reserve connections above are closed */
  for (int i = CAP; i < CAP + RESERVE; i++) {
    held[i] = http_connect(srv.port);
    cr_assert_geq(held[i], 0);
  }
  nap_ms(300);
  int late = http_connect(srv.port);
  cr_assert_geq(late, 0, "connect fails: accepting should pause, not fail");
  cr_assert(http_send(late, hello, strlen(hello)));
  cr_expect_not(http_read(late, &r, 2), "answered while the server is full");
  /* Room again: it is accepted and answered: 200 if the connections
   * closed before it was accepted brought the count under the cap, else
   * as a reserve connection, 503 with Retry-After. */
  for (int i = CAP; i < CAP + RESERVE; i++) http_close(held[i]);
  cr_assert(http_read(late, &r, 60), "not answered once there was room");
  cr_expect(r.status == 200 || r.status == 503, "%d", r.status);
  http_response_free(&r);
  http_close(late);
  for (int i = 0; i < CAP; i++) http_close(held[i]);
  nap_ms(300);
  cr_assert(http_request(srv.port, "GET", "/hello", NULL, NULL, 0, &r));
  cr_expect_eq(r.status, 200, "under the cap again: %d", r.status);
  http_response_free(&r);
  cr_assert(server_stop(&srv, SIGTERM, 60));
  cr_expect_eq(srv.status, 0);
}

Test(bounds, max_connections_over_the_descriptor_limit_is_refused) {
  static const char *const names[] = {"hello", NULL};
  cr_assert_not_null(guest_dir(dir, sizeof(dir), names));
  const char *args[] = {"--max-connections", "1000000000", dir, NULL};
  cr_assert_not(server_start(&srv, args, 300));
  char err[4096];
  server_output(&srv, true, err, sizeof(err));
  cr_expect_eq(srv.status, 2, "%s", err);
  cr_expect_not_null(strstr(err, "RLIMIT_NOFILE"), "%s", err);
}

/* --max-buffered: the bound on all connections' buffers; by default a
 * quarter of the memory the server may use. */
Test(bounds, max_buffered_is_an_option_with_a_default_from_memory) {
  start(NULL);
  double dflt = metric_now("wpool_serve_buffered_bytes_max");
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  cr_expect_gt(dflt, 0);
  cr_expect_leq(dflt, (double)pages * (double)page / 4, "%.0f", dflt);
  cr_assert(server_stop(&srv, SIGTERM, 60));
  const char *const set[] = {"--max-buffered", "64MiB", dir, NULL};
  cr_assert(server_start(&srv, set, 300));
  cr_expect_eq(metric_now("wpool_serve_buffered_bytes_max"), 64 << 20);
  cr_expect_eq(metric_now("wpool_serve_over_budget_total"), 0);
  cr_assert(server_stop(&srv, SIGTERM, 60));
  const char *args[] = {"--max-buffered", "1000", dir, NULL};
  cr_assert_not(server_start(&srv, args, 300));
  char err[4096];
  server_output(&srv, true, err, sizeof(err));
  cr_expect_eq(srv.status, 2, "%s", err);
  cr_expect_not_null(strstr(err, "--max-buffered needs a size of 1MiB or more, not 1000"), "%s",
                     err);
}
