/* `wpool serve`'s live reload (docs/serve.md, "Reload"): on SIGHUP, and
 * with --watch on the directory's file events, a changed, added or
 * removed NAME.wasm changes its route; a version that does not load (not
 * WebAssembly, cut short while written, a name that cannot be a route)
 * leaves the old one serving, is logged once and counted; a request
 * running on the old version finishes on it, and the old module is
 * released when it ends; a storm of SIGHUPs coalesces; volumes stay with
 * the route; one module (`wpool serve FILE`) reloads its file.
 *
 * Guests: hello ("hello, world") and wagi ("wagi"; spin=MS runs MS
 * milliseconds), copied (a link would change with its target) and
 * replaced by rename as a deployment does; a custom section appended to a
 * module makes a new version that behaves as the old one. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static server_t srv;
static char dir[64], cmd[256];

static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/wpool-reload-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void fini(void) {
  server_cleanup(&srv);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0) cr_log_warn("cannot remove %s", dir);
}

TestSuite(reload, .init = setup, .fini = fini, .timeout = 600);

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* dir/FILE becomes `len` bytes of guest `guest` (all of it: len 0), then
 * `tag` as a custom section when not NULL; by rename, whole at once. */
static void install_cut(const char *file, const char *guest, size_t len, const char *tag) {
  char src[512], tmp[256], dst[256];
  guest_path(src, sizeof(src), guest);
  FILE *in = fopen(src, "rb");
  cr_assert(in, "cannot read %s", src);
  static char bytes[4 << 20];
  size_t n = fread(bytes, 1, sizeof(bytes), in);
  fclose(in);
  if (len && len < n) n = len;
  snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, file);
  snprintf(dst, sizeof(dst), "%s/%s", dir, file);
  FILE *out = fopen(tmp, "wb");
  cr_assert(out);
  fwrite(bytes, 1, n, out);
  if (tag) {
    size_t tl = strlen(tag);
    unsigned char head[3] = {0, (unsigned char)(tl + 1), (unsigned char)tl};
    fwrite(head, 1, 3, out);
    fwrite(tag, 1, tl, out);
  }
  fclose(out);
  cr_assert_eq(rename(tmp, dst), 0);
}

static void install(const char *file, const char *guest, const char *tag) {
  install_cut(file, guest, 0, tag);
}

static void put(const char *file, const char *text) {
  char tmp[256], dst[256];
  snprintf(tmp, sizeof(tmp), "%s/.put.tmp", dir);
  snprintf(dst, sizeof(dst), "%s/%s", dir, file);
  FILE *f = fopen(tmp, "wb");
  cr_assert(f);
  fputs(text, f);
  fclose(f);
  cr_assert_eq(rename(tmp, dst), 0);
}

static void start(const char *const *extra, const char *target) {
  const char *args[16];
  size_t n = 0;
  for (size_t i = 0; extra && extra[i]; i++) args[n++] = extra[i];
  args[n++] = target ? target : dir;
  args[n] = NULL;
  char err[4096];
  bool ok = server_start(&srv, args, 300);
  server_output(&srv, true, err, sizeof(err));
  cr_assert(ok, "the server did not start (status %d):\n%s", srv.status, err);
}

static void stop_clean(void) {
  cr_assert(server_stop(&srv, SIGTERM, 60), "the server did not stop");
  cr_assert_eq(srv.status, 0, "exit status %d", srv.status);
}

/* "STATUS BODY" of GET target. */
static const char *get(const char *target) {
  static char out[8192];
  http_response_t r;
  cr_assert(http_request(srv.port, "GET", target, NULL, NULL, 0, &r), "GET %s failed", target);
  snprintf(out, sizeof(out), "%d %s", r.status, r.body ? r.body : "");
  http_response_free(&r);
  return out;
}

static const char *metrics_text(void) {
  static char text[64 << 10];
  http_response_t r;
  cr_assert(http_request(srv.port, "GET", "/metrics", NULL, NULL, 0, &r), "GET /metrics failed");
  snprintf(text, sizeof(text), "%s", r.body ? r.body : "");
  http_response_free(&r);
  return text;
}

static double m(const char *series) { return metric(metrics_text(), series); }

/* The version route /NAME serves ("" for none), in out. */
static const char *version_of(const char *route, char *out) {
  char key[128];
  snprintf(key, sizeof(key), "wpool_serve_route_version{route=\"%s\",version=\"", route);
  const char *p = strstr(metrics_text(), key);
  snprintf(out, 17, "%s", p ? p + strlen(key) : "");
  return out;
}

/* Wait (up to 120 s: a new version may be compiled) until GET target
 * answers `want`. */
static bool answers(const char *target, const char *want) {
  for (double end = now_s() + 120; now_s() < end; usleep(20 * 1000))
    if (!strcmp(get(target), want)) return true;
  return false;
}

/* SIGHUP, then wait until a pass has ended (passes are counted when
 * done; no other pass runs in these tests but after a signal). */
static void reload(void) {
  double before = m("wpool_serve_reloads_total");
  cr_assert_eq(kill(srv.pid, SIGHUP), 0);
  for (double end = now_s() + 120; now_s() < end; usleep(10 * 1000))
    if (m("wpool_serve_reloads_total") > before) return;
  cr_assert_fail("no reload pass within 120 s");
}

/* Until no replaced version waits for its requests (10 s). */
static void settled(void) {
  for (double end = now_s() + 10; now_s() < end; usleep(10 * 1000))
    if (m("wpool_serve_versions_retiring") == 0) return;
  cr_assert_fail("versions still retiring after 10 s");
}

#define HELLO "200 hello, world\n"
#define WAGI "200 wagi\n"

Test(reload, a_changed_added_and_removed_module_change_their_routes) {
  install("a.wasm", "hello", NULL);
  install("b.wasm", "wagi", NULL);
  start(NULL, NULL);
  char va[17], vb[17], now[17];
  version_of("/a", va);
  version_of("/b", vb);
  cr_assert(va[0] && vb[0] && strcmp(va, vb), "%s %s", va, vb);
  cr_expect_str_eq(get("/a"), HELLO);
  double images = m("wpool_pool_images_live");
  cr_expect_eq(images, 2, "one image a route: %g", images);

  install("a.wasm", "wagi", NULL);  /* changed: a now runs b's module */
  install("c.wasm", "hello", NULL); /* added */
  snprintf(cmd, sizeof(cmd), "%s/b.wasm", dir);
  cr_assert_eq(unlink(cmd), 0); /* removed */
  reload();
  cr_expect_str_eq(get("/a"), WAGI);
  cr_expect_str_eq(get("/c"), HELLO);
  cr_expect_str_eq(get("/b"), "404 no module at this path\n");
  cr_expect_str_eq(version_of("/a", now), vb, "a serves wagi's bytes: %s", now);
  cr_expect_str_eq(version_of("/c", now), va);
  cr_expect_str_eq(version_of("/b", now), "");
  settled();
  /* The old versions' modules were released: their slots drained, their
   * images closed; one image a route again. */
  cr_expect_eq(m("wpool_pool_images_live"), 2);
  cr_expect_eq(m("wpool_pool_live_modules"), 2);
  cr_expect_gt(m("wpool_pool_slots_drained_total"), 0);
  cr_expect_eq(m("wpool_serve_reload_failures_total"), 0);
  /* A route's count goes on across its versions. */
  cr_expect_eq(m("wpool_serve_route_requests_total{route=\"/a\"}"), 2);
  cr_expect(strstr(metrics_text(), ",modules=\"2\"} 1\n"), "%s", metrics_text());
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_expect(strstr(err, "reload: /a -> version ") && strstr(err, "reload: /b removed"), "%s", err);
  stop_clean();
}

Test(reload, a_version_that_does_not_load_leaves_the_old_one_serving) {
  install("a.wasm", "hello", NULL);
  start(NULL, NULL);
  char va[17], now[17];
  version_of("/a", va);
  put("a.wasm", "not a module\n");
  reload();
  cr_expect_str_eq(get("/a"), HELLO);
  cr_expect_str_eq(version_of("/a", now), va);
  cr_expect_eq(m("wpool_serve_reload_failures_total"), 1);
  /* Unchanged, it is not tried (nor counted) again. */
  reload();
  cr_expect_eq(m("wpool_serve_reload_failures_total"), 1);
  /* A file cut short (caught while being written) does not load either;
   * once whole, it does. */
  install_cut("a.wasm", "wagi", 300, NULL);
  reload();
  cr_expect_str_eq(get("/a"), HELLO);
  cr_expect_eq(m("wpool_serve_reload_failures_total"), 2);
  install("a.wasm", "wagi", NULL);
  reload();
  cr_expect_str_eq(get("/a"), WAGI);
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_expect_eq(count_of(err, "keeps serving version "), 2, "%s", err);
  settled();
  cr_expect_eq(m("wpool_pool_images_live"), 1);
  stop_clean();
}

Test(reload, a_running_request_finishes_on_the_old_version) {
  install("a.wasm", "wagi", NULL);
  install("h.wasm", "hello", NULL); /* hello compiled (or cached) before */
  start((const char *const[]){"--threads", "2", NULL}, NULL);
  double drained = m("wpool_pool_slots_drained_total");
  int fd = http_connect(srv.port);
  cr_assert(fd >= 0);
  const char req[] = "GET /a?spin=5000 HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert(http_send(fd, req, sizeof(req) - 1));
  /* Until it runs (the other worker answers meanwhile). */
  bool running = false;
  for (double end = now_s() + 30; !running && now_s() < end; usleep(10 * 1000))
    running = m("wpool_serve_route_requests_total{route=\"/a\"}") == 1;
  cr_assert(running, "the long request was not dispatched");
  install("a.wasm", "hello", NULL);
  cr_assert_eq(kill(srv.pid, SIGHUP), 0);
  cr_assert(answers("/a", HELLO), "the new version never answered");
  cr_expect_eq(m("wpool_serve_versions_retiring"), 1, "the old version waits for its request");
  http_response_t r;
  cr_assert(http_read(fd, &r, 60));
  cr_expect_eq(r.status, 200);
  cr_expect_str_eq(r.body, "wagi\n");
  http_response_free(&r);
  http_close(fd);
  settled();
  cr_expect_gt(m("wpool_pool_slots_drained_total"), drained);
  cr_expect_eq(m("wpool_pool_images_live"), 2);
  cr_expect_eq(m("wpool_pool_live_modules"), 2);
  stop_clean();
}

Test(reload, a_storm_of_sighups_coalesces_and_serves_on) {
  install("a.wasm", "hello", NULL);
  install("b.wasm", "wagi", NULL);
  start((const char *const[]){"--threads", "2", NULL}, NULL);
  char vb[17], now[17];
  version_of("/b", vb);
  int sent = 0;
  for (int i = 0; i < 400; i++) {
    cr_assert_eq(kill(srv.pid, SIGHUP), 0);
    sent++;
    if (i == 200) install("b.wasm", "wagi", "storm");
    if (i % 20 == 0) cr_expect_str_eq(get("/a"), HELLO);
    usleep(200);
  }
  /* After the storm, the change is in (the pass queued last saw it). */
  for (double end = now_s() + 120; now_s() < end && !strcmp(version_of("/b", now), vb);)
    usleep(10 * 1000);
  cr_expect_str_neq(version_of("/b", now), vb);
  cr_expect_str_eq(get("/b"), WAGI);
  double passes = m("wpool_serve_reloads_total");
  cr_expect(passes >= 1 && passes <= sent + 1, "%g passes for %d signals", passes, sent);
  cr_expect_eq(m("wpool_serve_reload_failures_total"), 0);
  settled();
  cr_expect_eq(m("wpool_pool_images_live"), 2);
  stop_clean();
}

Test(reload, watch_reloads_on_file_events_without_a_signal) {
  install("a.wasm", "hello", NULL);
  start((const char *const[]){"--watch", NULL}, NULL);
  install("a.wasm", "wagi", NULL);
  cr_expect(answers("/a", WAGI), "no reload after the file changed");
  install("n.wasm", "hello", NULL);
  cr_expect(answers("/n", HELLO), "no route for an added file");
  stop_clean();
}

Test(reload, one_module_reloads_its_file_and_keeps_serving_when_it_goes) {
  install("one.wasm", "hello", NULL);
  char file[128];
  snprintf(file, sizeof(file), "%s/one.wasm", dir);
  start(NULL, file);
  install("one.wasm", "wagi", NULL);
  install("other.wasm", "hello", NULL); /* not served: another file */
  reload();
  cr_expect_str_eq(get("/anything"), WAGI);
  cr_expect_str_eq(get("/other"), WAGI);
  cr_assert_eq(unlink(file), 0);
  reload();
  cr_expect_str_eq(get("/"), WAGI);
  cr_expect_eq(m("wpool_serve_reload_failures_total"), 1);
  stop_clean();
}

Test(reload, hostile_file_names_are_refused_logged_escaped_and_counted_once) {
  install("a.wasm", "hello", NULL);
  start(NULL, NULL);
  install("bad\x1b[2Jname.wasm", "hello", NULL);
  install("metrics.wasm", "hello", NULL);
  install("sp ace.wasm", "hello", NULL);
  /* A dangling link is a failure, not a file removed meanwhile. */
  snprintf(cmd, sizeof(cmd), "%s/dangling.wasm", dir);
  cr_assert_eq(symlink("nowhere.wasm", cmd), 0);
  reload();
  reload();
  cr_expect_eq(m("wpool_serve_reload_failures_total"), 4);
  cr_expect_str_eq(get("/a"), HELLO);
  cr_expect(strstr(metrics_text(), ",modules=\"1\"} 1\n"), "%s", metrics_text());
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_expect(!strchr(err, '\x1b'), "a raw escape reached the log:\n%s", err);
  cr_expect(strstr(err, "bad\\x1b[2Jname.wasm"), "%s", err);
  cr_expect(strstr(err, "the path /metrics is the server's own; not served"), "%s", err);
  stop_clean();
}

Test(reload, volumes_stay_with_their_route_across_versions) {
  install("fsprobe.wasm", "fsprobe", NULL);
  char data[128], vol[256], index[192];
  snprintf(data, sizeof(data), "%s/data", dir);
  cr_assert_eq(mkdir(data, 0755), 0);
  snprintf(index, sizeof(index), "%s/index.txt", data);
  FILE *f = fopen(index, "w");
  cr_assert(f);
  fputs("kept", f);
  fclose(f);
  snprintf(vol, sizeof(vol), "/fsprobe:%s::/", data);
  start((const char *const[]){"--volume", vol, NULL}, NULL);
  cr_expect_str_eq(get("/fsprobe?open+index.txt"), "200 open index.txt: ok kept\n");
  char v1[17], v2[17];
  version_of("/fsprobe", v1);
  install("fsprobe.wasm", "fsprobe", "v2");
  reload();
  cr_expect_str_neq(version_of("/fsprobe", v2), v1);
  cr_expect_str_eq(get("/fsprobe?open+index.txt"), "200 open index.txt: ok kept\n");
  stop_clean();
}

/* A C compiler that hangs (CC, in a fresh cache so nothing is cached):
 * the real one until `mark` exists, then a shell waiting for a process it
 * started that sleeps (as cc waits for cc1), its pid written to `pidf`. Returns that pid once a reload of b.wasm reached it. */
static pid_t hung_compile(void) {
  char cache[128], script[128], mark[128], pidf[128];
  snprintf(cache, sizeof(cache), "%s/cache", dir);
  snprintf(script, sizeof(script), "%s/cc.sh", dir);
  snprintf(mark, sizeof(mark), "%s/hang", dir);
  snprintf(pidf, sizeof(pidf), "%s/cc.pid", dir);
  cr_assert_eq(mkdir(cache, 0755), 0);
  FILE *f = fopen(script, "w");
  cr_assert(f);
  fprintf(f,
          "#!/bin/sh\nif [ \"$1\" != --version ] && [ -e '%s' ]; then\n"
          "  sleep 300 & echo $! > '%s.tmp' && mv '%s.tmp' '%s'; wait\nfi\nexec cc \"$@\"\n",
          mark, pidf, pidf, pidf);
  fclose(f);
  cr_assert_eq(chmod(script, 0755), 0);
  setenv("WPOOL_CACHE_DIR", cache, 1);
  setenv("CC", script, 1);
  install("a.wasm", "hello", NULL);
  start(NULL, NULL); /* hello compiled by the real compiler */
  put("hang", "");
  install("b.wasm", "wagi", NULL);
  cr_assert_eq(kill(srv.pid, SIGHUP), 0);
  pid_t pid = 0;
  for (double end = now_s() + 120; !pid && now_s() < end; usleep(10 * 1000)) {
    FILE *p = fopen(pidf, "r");
    if (p && fscanf(p, "%d", &pid) != 1) pid = 0;
    if (p) fclose(p);
  }
  cr_assert(pid > 0, "the reload never reached the compiler");
  cr_expect_str_eq(get("/a"), HELLO); /* the workers are not held */
  return pid;
}

/* After the exit: the hung compiler's processes were killed with the
 * process, the one the compiler started too, and the module it compiled
 * was never published. */
static void abandoned(pid_t cc) {
  bool gone = false;
  for (double end = now_s() + 30; !gone && now_s() < end; usleep(10 * 1000))
    gone = kill(cc, 0) != 0;
  cr_expect(gone, "the compiler (pid %d) outlived the server", (int)cc);
  if (!gone) kill(cc, SIGKILL);
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_expect(strstr(err, "while a reload pass is still loading; exiting without it"), "%s", err);
  cr_expect(!strstr(err, "reload: /b -> version"), "published after the stop:\n%s", err);
  cr_expect_eq(srv.status, 1);
}

/* A stop waits for a load in progress as for requests (10 s after the
 * signal), not for the compile's limit (5 min). */
Test(reload, a_stop_does_not_wait_for_a_compile_in_progress) {
  pid_t cc = hung_compile();
  cr_assert(server_stop(&srv, SIGTERM, 120), "the server did not stop");
  abandoned(cc);
}

/* A second stop signal ends the process at once, whatever the loader does
 * (the first would wait 10 s: this one has 5). */
Test(reload, a_second_stop_signal_ends_a_stop_waiting_for_a_compile) {
  pid_t cc = hung_compile();
  cr_assert_eq(kill(srv.pid, SIGTERM), 0);
  usleep(300 * 1000);
  cr_assert(server_stop(&srv, SIGTERM, 5), "the second signal did not end the server");
  abandoned(cc);
}

/* A module file's 8 bytes of header are checked before the rest is read:
 * a 1 GiB file (sparse: no disk) that is no module costs nothing. */
static long peak_kib(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  cr_assert(f);
  long kib = -1;
  while (kib < 0 && fgets(line, sizeof(line), f))
    if (sscanf(line, "VmHWM: %ld", &kib) != 1) kib = -1;
  fclose(f);
  return kib;
}

Test(reload, a_large_file_that_is_no_module_is_refused_from_its_header) {
  install("a.wasm", "hello", NULL);
  start(NULL, NULL);
  long before = peak_kib(srv.pid);
  snprintf(cmd, sizeof(cmd), "%s/big.wasm", dir);
  FILE *f = fopen(cmd, "w");
  cr_assert(f);
  fputs("not a module", f);
  fclose(f);
  cr_assert_eq(truncate(cmd, 1l << 30), 0);
  snprintf(cmd, sizeof(cmd), "%s/v2.wasm", dir);
  f = fopen(cmd, "wb");
  cr_assert(f);
  fwrite("\0asm\2\0\0\0 and more", 1, 17, f);
  fclose(f);
  reload();
  cr_expect_eq(m("wpool_serve_reload_failures_total"), 2);
  long grew = peak_kib(srv.pid) - before;
  cr_expect_lt(grew, 256 << 10, "the 1 GiB file was read: peak RSS grew by %ld KiB", grew);
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_expect(strstr(err, "big.wasm: not a WebAssembly binary (no \\0asm magic); not served"), "%s",
            err);
  cr_expect(strstr(err, "v2.wasm: WebAssembly binary version 2 not supported"), "%s", err);
  stop_clean();
}

/* Reload's log lines: a file name's bytes >= 0x80 and its backslashes
 * written \xHH; the runtime's own escapes (its names, `\0asm`) as the
 * runtime wrote them, not escaped twice. */
Test(reload, log_lines_escape_every_byte_of_a_name_once) {
  install("a.wasm", "hello", NULL);
  start(NULL, NULL);
  install("\xff\xfe\x9b.wasm", "hello", NULL);
  install("back\\slash.wasm", "hello", NULL);
  /* A module importing env.a\b, which the runtime lacks. */
  static const char imp[] =
      "\0asm\1\0\0\0"
      "\x01\x04\x01\x60\0\0"
      "\x02\x0b\x01\x03"
      "env"
      "\x03"
      "a\\b"
      "\0\0";
  snprintf(cmd, sizeof(cmd), "%s/imp.wasm", dir);
  FILE *f = fopen(cmd, "wb");
  cr_assert(f);
  fwrite(imp, 1, sizeof(imp) - 1, f);
  fclose(f);
  put("junk.wasm", "junk");
  reload();
  cr_expect_eq(m("wpool_serve_reload_failures_total"), 4);
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  const char *raw = err;
  while (*raw && (unsigned char)*raw < 0x80) raw++;
  cr_expect_eq(*raw, 0, "a raw byte 0x%02x in the log: %s", (unsigned char)*raw, err);
  cr_expect(strstr(err, "/\\xff\\xfe\\x9b.wasm: a route name takes"), "%s", err);
  cr_expect(strstr(err, "/back\\x5cslash.wasm: a route name takes"), "%s", err);
  cr_expect(strstr(err, "a\\x5cb"), "the import's name as the runtime wrote it: %s", err);
  cr_expect(!strstr(err, "\\\\"), "an escape escaped twice: %s", err);
  cr_expect(strstr(err, "junk.wasm: not a WebAssembly binary (no \\0asm magic)"), "%s", err);
  stop_clean();
}

/* Where guest `guest`'s code section ends: a cut there is still valid
 * WebAssembly (its data and custom sections missing). */
static size_t end_of_code(const char *guest, char *bytes, size_t cap, size_t *len) {
  char src[512];
  FILE *in = fopen(guest_path(src, sizeof(src), guest), "rb");
  cr_assert(in);
  *len = fread(bytes, 1, cap, in);
  fclose(in);
  size_t p = 8;
  while (p < *len) {
    unsigned id = (unsigned char)bytes[p++];
    size_t size = 0;
    for (int shift = 0;; shift += 7) {
      unsigned char b = (unsigned char)bytes[p++];
      size |= (size_t)(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    p += size;
    if (id == 10) return p;
  }
  cr_assert_fail("no code section in %s", guest);
  return 0;
}

/* --watch: a file written in place in two pieces, 100 ms apart, the first
 * ending where a valid module ends, is loaded once, whole: the pass waits
 * for the writes to settle (200 ms without an event). */
Test(reload, watch_waits_for_a_file_written_in_pieces_to_settle) {
  install("h.wasm", "hello", NULL);
  start((const char *const[]){"--watch", NULL}, NULL);
  static char bytes[4 << 20];
  size_t len, cut = end_of_code("wagi", bytes, sizeof(bytes), &len);
  cr_assert(cut < len, "wagi has sections after its code");
  snprintf(cmd, sizeof(cmd), "%s/h.wasm", dir);
  FILE *f = fopen(cmd, "wb"); /* in place: truncated, then written */
  cr_assert(f);
  cr_assert_eq(fwrite(bytes, 1, cut, f), cut);
  fflush(f);
  usleep(100 * 1000);
  cr_assert_eq(fwrite(bytes + cut, 1, len - cut, f), len - cut);
  fclose(f);
  cr_assert(answers("/h", WAGI), "the finished file never loaded");
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_expect_eq(count_of(err, "reload: /h -> version "), 1, "a cut version was published:\n%s", err);
  stop_clean();
}

/* A load that fails for the host's reason (here WRT_EEXHAUSTED: the one
 * slot of the pool is busy and the new module's init needs one) is tried
 * again at the next pass though its file did not change; a module's own
 * fault is not (a_version_that_does_not_load_leaves_the_old_one_serving). */
Test(reload, a_load_that_failed_for_the_hosts_reason_is_tried_again) {
  char cache[128];
  snprintf(cache, sizeof(cache), "%s/cache", dir); /* no snapshot cached */
  cr_assert_eq(mkdir(cache, 0755), 0);
  setenv("WPOOL_CACHE_DIR", cache, 1);
  install("a.wasm", "wagi", NULL);
  start((const char *const[]){"--threads", "2", "--config", "instance_count=1", NULL}, NULL);
  int fd = http_connect(srv.port);
  cr_assert(fd >= 0);
  const char req[] = "GET /a?spin=20000 HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert(http_send(fd, req, sizeof(req) - 1));
  bool running = false;
  for (double end = now_s() + 30; !running && now_s() < end; usleep(10 * 1000))
    running = m("wpool_serve_route_requests_total{route=\"/a\"}") == 1;
  cr_assert(running, "the long request was not dispatched");
  install("l.wasm", "lookup", NULL);
  reload();
  char log[8192];
  server_output(&srv, true, log, sizeof(log));
  cr_assert_eq(m("wpool_serve_reload_failures_total"), 1, "the init found a free slot:\n%s", log);
  http_response_t r;
  cr_assert(http_read(fd, &r, 60));
  http_response_free(&r);
  http_close(fd);
  reload(); /* the file unchanged */
  cr_expect_eq(strncmp(get("/l"), "200 ", 4), 0, "%s", get("/l"));
  char err[8192];
  server_output(&srv, true, err, sizeof(err));
  cr_expect(strstr(err, "; not served; tried again at the next pass"), "%s", err);
  stop_clean();
}
