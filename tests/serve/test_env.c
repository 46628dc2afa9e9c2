/* `wpool serve`: what reaches the guest's environment and the log
 * (docs/serve.md), the small protocol cases (Upgrade, Expect, OPTIONS *)
 * and the modules refused at start. Each case is raw bytes to the binary. */
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
  cr_assert_eq(srv.status, 0, "exit status %d", srv.status);
}

static void fini(void) {
  server_cleanup(&srv);
  char cmd[160];
  if (dir[0]) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) cr_log_warn("cannot remove %s", dir);
  }
}

TestSuite(env, .fini = fini, .timeout = 600);

static char all[1 << 16];

static void exchange(const char *req) {
  http_exchange(srv.port, req, strlen(req), all, sizeof(all), 30);
}

static void has(const char *line) {
  cr_expect_not_null(strstr(all, line), "no '%s' in:\n%s", line, all);
}

static void lacks(const char *text) {
  cr_expect_null(strstr(all, text), "'%s' in:\n%s", text, all);
}

Test(env, header_names_with_underscores_or_other_symbols_never_reach_the_guest) {
  start(NULL);
  /* X_User would become HTTP_X_USER like X-User: a client could override
   * an identity a proxy set. Every name with '_' is dropped (nginx's
   * default), wherever it is among the fields. */
  exchange(
      "GET /wagi?env HTTP/1.1\r\nHost: x\r\nX_User: admin\r\nX-User: alice\r\n"
      "X-Other: 1\r\n_: 2\r\nX__Y: 3\r\nConnection: close\r\n\r\n");
  has("env HTTP_X_USER=alice\n");
  lacks("admin");
  has("env HTTP_X_OTHER=1\n");
  lacks("HTTP__");
  lacks("HTTP_X__Y");
  lacks("HTTP_X.DOT"); /* other token characters: no such variable either */
  lacks("HTTP_X%PCT");
  lacks("HTTP_X!");
  exchange(
      "GET /wagi?env HTTP/1.1\r\nHost: x\r\nX-User: alice\r\nX_User: admin\r\n"
      "Connection: close\r\n\r\n");
  has("env HTTP_X_USER=alice\n");
  lacks("admin");
  stop_clean();
}

Test(env, trailer_fields_never_reach_the_guest) {
  start(NULL);
  exchange(
      "POST /wagi?env&echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Content-Type: text/x-real\r\nConnection: close\r\n\r\n"
      "5\r\nhello\r\n0\r\nContent-Type: evil/x\r\nX-Trailer: t\r\nHost: evil\r\n"
      "Content-Length: 99\r\n\r\n");
  cr_assert_not_null(strstr(all, "HTTP/1.1 200 "), "%s", all);
  has("env CONTENT_TYPE=text/x-real\n");
  has("env CONTENT_LENGTH=5\n");
  has("env HTTP_HOST=x\n");
  lacks("evil");
  lacks("X_TRAILER");
  cr_expect(strlen(all) > 5 && !strcmp(all + strlen(all) - 5, "hello"), "%s", all);
  stop_clean();
}

Test(env, an_absolute_form_target_names_the_host) {
  start(NULL);
  /* RFC 9112 3.2.2: the target's authority, not Host, is the host. */
  exchange(
      "GET http://example.test:8080/wagi/p%20q?env HTTP/1.1\r\nHost: other.test\r\n"
      "Connection: close\r\n\r\n");
  has("env X_FULL_URL=http://example.test:8080/wagi/p%20q?env\n");
  has("env SERVER_NAME=example.test\n");
  has("env HTTP_HOST=example.test:8080\n");
  has("env PATH_INFO=/p q\n");
  has("env SCRIPT_NAME=/wagi\n");
  lacks("other.test");
  exchange("GET HTTPS://[::1]?env HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n");
  cr_expect_not_null(strstr(all, "HTTP/1.1 404 "), "no path: /, no module: %s", all);
  exchange("GET http://a.test/wagi?env HTTP/1.0\r\n\r\n"); /* 1.0 without Host */
  has("env X_FULL_URL=http://a.test/wagi?env\n");
  has("env SERVER_PROTOCOL=HTTP/1.0\n");
  stop_clean();
}

Test(env, every_line_of_a_guests_stderr_carries_its_route_and_escapes_controls) {
  const char *const extra[] = {"--log", NULL};
  start(extra);
  /* A tenant writing "wpool serve: ..." or another tenant's name on a line
   * of its own, or terminal escapes, forges nothing. */
  exchange(
      "GET /wagi?stderr=one%0awpool%20serve:%20forged%0ahello:%20x%0a%1b[31mred%0a"
      "%9b2J%ff%0ano-newline HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  cr_assert_not_null(strstr(all, "HTTP/1.1 200 "), "%s", all);
  stop_clean();
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_expect_not_null(strstr(err, "\n/wagi: one\n"), "%s", err);
  cr_expect_not_null(strstr(err, "\n/wagi: wpool serve: forged\n"), "%s", err);
  cr_expect_not_null(strstr(err, "\n/wagi: hello: x\n"), "%s", err);
  cr_expect_not_null(strstr(err, "\n/wagi: \\x1b[31mred\n"), "%s", err);
  cr_expect_not_null(strstr(err, "\n/wagi: no-newline\n"), "%s", err);
  /* A C1 control (CSI in 8-bit terminals) and a byte that is no UTF-8. */
  cr_expect_not_null(strstr(err, "\n/wagi: \\x9b2J\\xff\n"), "%s", err);
  const char *raw = err;
  while (*raw && (unsigned char)*raw < 0x80) raw++;
  cr_expect_eq(*raw, 0, "a raw byte 0x%02x in the log: %s", (unsigned char)*raw, err);
  cr_expect_null(strstr(err, "\nwpool serve: forged"), "%s", err);
  cr_expect_null(strstr(err, "\nhello: x"), "%s", err);
  cr_expect_null(strchr(err, 0x1b), "an escape byte in the log: %s", err);
}

Test(env, an_upgrade_request_is_answered_with_connection_close) {
  start(NULL);
  exchange(
      "GET /hello HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
      "\x81\x05hello");
  cr_expect_not_null(strstr(all, "HTTP/1.1 200 "), "%s", all);
  has("Connection: close\r\n");
  cr_expect_eq(count_of(all, "HTTP/1.1 "), 1, "%s", all);
  stop_clean();
}

Test(env, two_expect_fields_give_one_100_continue) {
  start(NULL);
  exchange(
      "POST /wagi?echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Expect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
  cr_expect_eq(count_of(all, "HTTP/1.1 100 Continue\r\n"), 1, "%s", all);
  has("HTTP/1.1 200 OK\r\n");
  stop_clean();
}

Test(env, options_asterisk_is_answered) {
  start(NULL);
  exchange(
      "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n"
      "Connection: close\r\n\r\n");
  cr_expect_eq(strncmp(all, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", all);
  has("Allow: ");
  has("hello, world\n"); /* the connection went on */
  stop_clean();
}

/* The server must refuse to start: exit 2, one line naming `needle`. */
static void refused(const char *const *args, const char *needle) {
  cr_assert_not(server_start(&srv, args, 300), "the server started");
  char err[4096];
  server_output(&srv, true, err, sizeof(err));
  cr_expect_eq(srv.status, 2, "exit %d: %s", srv.status, err);
  cr_expect_not_null(strstr(err, needle), "'%s' not in: %s", needle, err);
  server_cleanup(&srv);
}

Test(env, a_dangling_link_or_a_directory_named_wasm_stops_the_start) {
  static const char *const names[] = {"hello", NULL};
  cr_assert_not_null(guest_dir(dir, sizeof(dir), names));
  char bad[256];
  snprintf(bad, sizeof(bad), "%s/gone.wasm", dir);
  cr_assert_eq(symlink("/nonexistent/gone.wasm", bad), 0);
  const char *args[] = {dir, NULL};
  refused(args, "gone.wasm");
  unlink(bad);
  snprintf(bad, sizeof(bad), "%s/folder.wasm", dir);
  cr_assert_eq(mkdir(bad, 0700), 0);
  refused(args, "folder.wasm");
  rmdir(bad);
  cr_assert(server_start(&srv, args, 300), "the directory is fine again");
  stop_clean();
}
