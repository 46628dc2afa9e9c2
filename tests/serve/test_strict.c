/* `wpool serve` refuses what RFC 9112 says a server MUST reject, and the
 * guest's environment follows the server's rules (docs/serve.md): each
 * case is a request sent raw to the binary. Every hostile input is a
 * class: each class has several instances here. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void stop_clean(void) {
  cr_assert(server_stop(&srv, SIGTERM, 60), "the server did not stop");
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_assert_eq(srv.status, 0, "exit status %d:\n%s", srv.status, err);
}

static void fini(void) {
  server_cleanup(&srv);
  char cmd[160];
  if (dir[0]) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) cr_log_warn("cannot remove %s", dir);
  }
}

TestSuite(strict, .fini = fini, .timeout = 600);

static char all[1 << 16];

/* `req` (len bytes) gets exactly one response, `status`, and the
 * connection closes after it: nothing after the refused bytes is read. */
static void refused_with(const char *what, const char *req, size_t len, int status) {
  http_exchange(srv.port, req, len, all, sizeof(all), 30);
  char want[32];
  snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
  cr_expect_eq(strncmp(all, want, strlen(want)), 0, "%s: not %d but:\n%.300s", what, status, all);
  cr_expect_eq(count_of(all, "HTTP/1.1 "), 1, "%s: more than one response:\n%s", what, all);
  cr_expect_not_null(strstr(all, "Connection: close\r\n"), "%s: not closed:\n%.300s", what, all);
  cr_expect_null(strstr(all, "wagi\n"), "%s: the guest ran:\n%s", what, all);
}

#define SMUGGLED "GET /wagi HTTP/1.1\r\nHost: x\r\n\r\n"

Test(strict, every_must_reject_case_of_rfc_9112_is_400) {
  start(NULL);
  static const struct {
    const char *what, *req;
  } cases[] = {
      /* chunked framing (RFC 9112 7.1): the CRLF after a chunk's data */
      {"two bytes not CRLF after a chunk",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n" SMUGGLED},
      {"a bare LF after a chunk",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\n0\r\n\r\n" SMUGGLED},
      {"a bare LF after a chunk size",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\nhello\r\n0\r\n\r\n" SMUGGLED},
      {"a chunk size over 64 bits",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "10000000000000005\r\nhello\r\n0\r\n\r\n"},
      /* obsolete line folding (RFC 9112 5.2) */
      {"a folded header line", "GET /wagi HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"},
      {"a folded header line (tab)", "GET /wagi HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n"},
      {"a folded Transfer-Encoding",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n "
       "chunked\r\n\r\n0\r\n\r\n" SMUGGLED},
      {"a folded Content-Length",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 3\r\n\r\nabc"},
      {"a fold before the first header", "GET /wagi HTTP/1.1\r\n Host: x\r\n\r\n"},
      /* whitespace between a field name and its colon (RFC 9112 5.1) */
      {"a space before the colon", "GET /wagi HTTP/1.1\r\nHost: x\r\nProxy : x\r\n\r\n"},
      {"a tab before the colon", "GET /wagi HTTP/1.1\r\nHost: x\r\nX-A\t: x\r\n\r\n"},
      {"a space before Host's colon", "GET /wagi HTTP/1.1\r\nHost : x\r\n\r\n"},
      /* line ends (RFC 9112 2.2): CRLF, not a bare LF or CR */
      {"a bare LF after the request line", "GET /wagi HTTP/1.1\nHost: x\r\n\r\n"},
      {"a bare LF after a header", "GET /wagi HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n"},
      {"a bare LF before the body", "GET /wagi HTTP/1.1\r\nHost: x\r\n\n"},
      {"bare LFs only", "GET /wagi HTTP/1.1\nHost: x\n\n"},
      {"a bare CR in a value", "GET /wagi HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"},
      /* Host (RFC 9112 3.2) */
      {"HTTP/1.1 without Host", "GET /wagi HTTP/1.1\r\nX-A: b\r\n\r\n"},
      {"two Host fields", "GET /wagi HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
      {"two Host fields, same value", "GET /wagi HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"},
      {"a Host with a space", "GET /wagi HTTP/1.1\r\nHost: a b\r\n\r\n"},
      {"a Host with userinfo", "GET /wagi HTTP/1.1\r\nHost: u@a\r\n\r\n"},
      {"a Host with a path", "GET /wagi HTTP/1.1\r\nHost: a/b\r\n\r\n"},
      {"a Host with a bad port", "GET /wagi HTTP/1.1\r\nHost: a:8x\r\n\r\n"},
      /* message body length (RFC 9112 6.1, 6.3) */
      {"Content-Length and Transfer-Encoding",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n"},
      {"two different Content-Lengths",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
      {"a signed Content-Length",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc"},
      {"a Content-Length list",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc"},
      {"chunked not the last coding",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"},
      {"a coding other than chunked",
       "POST /wagi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc"},
      /* the request line and field names */
      {"a space in the target", "GET /wa gi HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"two spaces after the method", "GET  /wagi HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a space after the version", "GET /wagi HTTP/1.1 \r\nHost: x\r\n\r\n"},
      {"a field name that is not a token", "GET /wagi HTTP/1.1\r\nHost: x\r\nX@A: b\r\n\r\n"},
      {"a fragment in the target", "GET /wagi#frag HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a target of another form", "GET wagi HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"asterisk-form other than OPTIONS", "GET * HTTP/1.1\r\nHost: x\r\n\r\n"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    refused_with(cases[i].what, cases[i].req, strlen(cases[i].req), 400);
  /* A NUL in a header value. */
  const char nul[] = "GET /wagi HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n";
  refused_with("a NUL in a value", nul, sizeof(nul) - 1, 400);
  /* The server goes on. */
  http_response_t r;
  cr_assert(http_request(srv.port, "GET", "/hello", NULL, NULL, 0, &r));
  cr_expect_eq(r.status, 200);
  http_response_free(&r);
  stop_clean();
}
