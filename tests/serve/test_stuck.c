/* `wpool serve` with a guest that misbehaves (issue 19): time limits (504),
 * new connections and /metrics routed around a worker stuck in a request,
 * connections spread evenly under a burst, stopping with a stuck guest,
 * and a recursion sweep over the stack's end beside another worker.
 * Through the binary, with the guests hello and misbehave. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static server_t srv;
static char dir[128];

static void start(const char *const *extra) {
  static const char *const names[] = {"hello", "misbehave", NULL};
  const char *args[24] = {"--threads", "2"};
  size_t n = 2;
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
  if (srv.pid > 0) server_stop(&srv, SIGKILL, 5);
  server_cleanup(&srv);
  char cmd[160];
  if (dir[0]) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) cr_log_warn("cannot remove %s", dir);
  }
}

TestSuite(stuck, .fini = fini, .timeout = 600);

static void nap_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* /metrics on a new connection (answered within 2 s); `series`' value. */
static double metric_now(const char *series) {
  http_response_t r;
  int fd = http_connect(srv.port);
  cr_assert(fd >= 0);
  const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  cr_assert(http_send(fd, req, sizeof(req) - 1));
  cr_assert(http_read(fd, &r, 2), "/metrics was not answered within 2 s");
  http_close(fd);
  double v = metric(r.body, series);
  http_response_free(&r);
  return v;
}

/* GET target on the keep-alive connection fd; its status (body in r). */
static int get_on(int fd, const char *target, http_response_t *r, unsigned seconds) {
  char req[512];
  int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
  cr_assert(http_send(fd, req, (size_t)len));
  cr_assert(http_read(fd, r, seconds), "%s: no answer within %u s", target, seconds);
  return r->status;
}

static void hello_on(int fd) {
  http_response_t r;
  cr_assert_eq(get_on(fd, "/hello", &r, 2), 200);
  cr_assert_str_eq(r.body, "hello, world\n");
  http_response_free(&r);
}

/* Two keep-alive connections on worker 1 and the worker 0 with none: four
 * opened (0, 1, 0, 1 in turn), the ones on worker 0 closed. */
static void keep_two_on_worker_1(int keep[2]) {
  int c[4];
  for (int i = 0; i < 4; i++) {
    c[i] = http_connect(srv.port);
    cr_assert(c[i] >= 0);
    hello_on(c[i]); /* adopted before the next one comes */
  }
  http_close(c[0]);
  http_close(c[2]);
  /* Three open: the two, and the /metrics connection asking. */
  for (int i = 0; i < 200 && metric_now("wpool_serve_connections_open") > 3; i++) nap_ms(10);
  cr_assert_eq(metric_now("wpool_serve_worker_connections_open{worker=\"1\"}"), 2);
  keep[0] = c[1];
  keep[1] = c[3];
}

/* A guest that never ends (in its own code, or reading stdin past its end)
 * runs on worker 0, which has the fewest connections, while two
 * keep-alive clients stay on worker 1: they, new connections and /metrics
 * are answered meanwhile; the guest's request is 504 at its limit. */
static void stuck_guest_beside_keep_alive_clients(const char *mode) {
  const char *const extra[] = {"--timeout", "3s", NULL};
  start(extra);
  int keep[2];
  keep_two_on_worker_1(keep);
  int stuck = http_connect(srv.port);
  cr_assert(stuck >= 0);
  char req[256];
  int len = snprintf(req, sizeof(req),
                     "POST /misbehave?%s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", mode);
  double t0 = now_s();
  cr_assert(http_send(stuck, req, (size_t)len));
  nap_ms(100); /* running: a connection handed over before it starts waits behind it */
  cr_assert_gt(metric_now("wpool_serve_worker_request_seconds{worker=\"0\"}"), 0.05);
  for (int round = 0; round < 5; round++) {
    hello_on(keep[0]);
    hello_on(keep[1]);
    int fresh = http_connect(srv.port);
    cr_assert(fresh >= 0);
    hello_on(fresh); /* a new connection: never behind the stuck request */
    http_close(fresh);
    cr_assert_eq(metric_now("wpool_runtime_timeouts_total"), 0);
  }
  http_response_t r;
  cr_assert(http_read(stuck, &r, 30), "the stuck request got no answer");
  cr_expect_eq(r.status, 504, "%s: status %d", mode, r.status);
  cr_expect(strstr(r.body, "module misbehave trapped: timeout"), "%s", r.body);
  cr_expect_geq(now_s() - t0, 3.0);
  http_response_free(&r);
  cr_expect_eq(metric_now("wpool_runtime_timeouts_total"), 1);
  cr_expect_eq(metric_now("wpool_serve_requests_total{code=\"504\"}"), 1);
  hello_on(stuck); /* the connection and its worker serve on */
  http_close(stuck);
  http_close(keep[0]);
  http_close(keep[1]);
  cr_assert(server_stop(&srv, SIGTERM, 10));
  cr_expect_eq(srv.status, 0);
}

Test(stuck, a_looping_guest_is_504_at_its_limit_and_no_one_waits_behind_it) {
  stuck_guest_beside_keep_alive_clients("loop");
}

Test(stuck, a_guest_reading_stdin_for_ever_is_504_at_its_limit) {
  stuck_guest_beside_keep_alive_clients("stdin");
}

/* 64 connections opened at once land within 25% of even on 2 workers
 * (five bursts). Counted when handed over, not when a worker adopts them,
 * so a burst does not all go to the worker slowest to adopt. */
Test(stuck, a_burst_of_connections_is_spread_evenly) {
  start(NULL);
  for (int burst = 0; burst < 5; burst++) {
    int fd[64];
    for (int i = 0; i < 64; i++) {
      fd[i] = http_connect(srv.port);
      cr_assert(fd[i] >= 0);
    }
    /* The /metrics connection itself is the 65th. */
    for (int i = 0; i < 500 && metric_now("wpool_serve_connections_open") < 65; i++) nap_ms(10);
    double w0 = metric_now("wpool_serve_worker_connections_open{worker=\"0\"}");
    double w1 = metric_now("wpool_serve_worker_connections_open{worker=\"1\"}");
    cr_expect(w0 >= 24 && w0 <= 41 && w1 >= 24 && w1 <= 41,
              "burst %d: %.0f and %.0f connections on the two workers", burst, w0, w1);
    for (int i = 0; i < 64; i++) http_close(fd[i]);
    for (int i = 0; i < 500 && metric_now("wpool_serve_connections_open") > 1; i++) nap_ms(10);
  }
  cr_assert(server_stop(&srv, SIGTERM, 10));
}

/* No time limit and a guest that never ends: the first SIGTERM waits for
 * it, the second ends the process within a second, exit 1, naming the
 * route that is stuck. */
Test(stuck, a_second_sigterm_ends_the_server_with_a_stuck_guest) {
  const char *const extra[] = {"--timeout", "0", NULL};
  start(extra);
  int stuck = http_connect(srv.port);
  cr_assert(stuck >= 0);
  const char req[] = "GET /misbehave?loop HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert(http_send(stuck, req, sizeof(req) - 1));
  nap_ms(100);
  cr_assert_gt(metric_now("wpool_serve_worker_request_seconds{worker=\"0\"}") +
                   metric_now("wpool_serve_worker_request_seconds{worker=\"1\"}"),
               0.05);
  cr_assert_eq(kill(srv.pid, SIGTERM), 0);
  nap_ms(300);
  cr_assert_eq(kill(srv.pid, 0), 0, "the first SIGTERM ended the server");
  double t0 = now_s();
  cr_assert(server_stop(&srv, SIGTERM, 5), "no exit 5 s after the second SIGTERM");
  double took = now_s() - t0;
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_expect_eq(srv.status, 1, "exit status %d", srv.status);
  cr_expect_lt(took, 1.0, "exited %.2f s after the second SIGTERM", took);
  cr_expect(strstr(err, "on /misbehave for "), "%s", err);
  http_close(stuck);
}

/* With a time limit, one SIGTERM: the stuck request ends at its limit
 * (504) and the server exits 0. */
Test(stuck, sigterm_waits_for_a_stuck_guest_until_its_limit) {
  const char *const extra[] = {"--timeout", "1s", NULL};
  start(extra);
  int stuck = http_connect(srv.port);
  cr_assert(stuck >= 0);
  const char req[] = "GET /misbehave?loop HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert(http_send(stuck, req, sizeof(req) - 1));
  nap_ms(200);
  cr_assert(server_stop(&srv, SIGTERM, 10));
  cr_expect_eq(srv.status, 0);
  http_response_t r;
  cr_assert(http_read(stuck, &r, 2));
  cr_expect_eq(r.status, 504);
  http_response_free(&r);
  http_close(stuck);
}

/* Recursion past the end of the guests' 256 KiB stacks (800 frames of 12
 * KiB: past a worker thread's 8 MiB stack too) starting at every 64 bytes
 * of a frame's span, shallow ones and small frames, on one worker; after
 * each request the other worker answers hello. Every sweep request is 200
 * or 500 naming exhaustion. */
Test(stuck, a_recursion_sweep_on_one_worker_hurts_not_the_other) {
  const char *const extra[] = {"--config", "async_stack_size=256KiB", NULL};
  start(extra);
  int a = http_connect(srv.port), b = http_connect(srv.port);
  cr_assert(a >= 0 && b >= 0);
  hello_on(a);
  hello_on(b);
  cr_assert_eq(metric_now("wpool_serve_worker_connections_open{worker=\"1\"}"), 1);
  int ok = 0, exhausted = 0;
  for (int k = 0; k < 200; k++) {
    char target[128];
    for (int i = 0; i < 3; i++) {
      if (i == 0) snprintf(target, sizeof(target), "/misbehave?frames&800&%d", 2 * k);
      if (i == 1) snprintf(target, sizeof(target), "/misbehave?frames&%d&%d", 1 + k % 20, 2 * k);
      if (i == 2) snprintf(target, sizeof(target), "/misbehave?small&%d", 50 * (k + 1));
      http_response_t r;
      int st = get_on(a, target, &r, 10);
      if (st == 200) {
        ok++;
      } else {
        cr_assert_eq(st, 500, "%s: status %d", target, st);
        cr_assert(strstr(r.body, "trapped: exhaustion"), "%s: %s", target, r.body);
        exhausted++;
      }
      http_response_free(&r);
      hello_on(b);
    }
  }
  cr_log_info("recursion sweep: %d answered 200, %d exhaustion traps", ok, exhausted);
  cr_expect_gt(ok, 0);
  cr_expect_gt(exhausted, 0);
  http_close(a);
  http_close(b);
  cr_assert(server_stop(&srv, SIGTERM, 10));
  cr_expect_eq(srv.status, 0);
}
