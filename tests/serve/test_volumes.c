/* `wpool serve`'s volumes (docs/serve.md): a route's guest sees the host
 * directories given to its route, read-only unless --volume-rw, and no
 * other route's; every path stays inside; the server's descriptors are
 * what they were after hundreds of requests that open files, trap or
 * exit; a volume naming no route or no directory stops the start.
 *
 * The guest is examples/fsprobe.c (WASI called directly), twice: /fsprobe
 * with volumes, /bare (the same module) with none. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static server_t srv;
static char dir[128], data[160], cmd[512];

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert(f, "cannot create %s", path);
  fputs(text, f);
  fclose(f);
}

/* dir: fsprobe.wasm and bare.wasm (links to it); data: a directory
 * holding index.txt, next to secret.txt outside it. */
static void setup(void) {
  static const char *const names[] = {"fsprobe", NULL};
  cr_assert_not_null(guest_dir(dir, sizeof(dir), names), "cannot make the module directory");
  char src[512], dst[512];
  snprintf(src, sizeof(src), "%s/fsprobe.wasm", dir);
  snprintf(dst, sizeof(dst), "%s/bare.wasm", dir);
  cr_assert_eq(symlink(src, dst), 0);
  snprintf(data, sizeof(data), "%s/data", dir);
  cr_assert_eq(mkdir(data, 0755), 0);
  snprintf(src, sizeof(src), "%s/index.txt", data);
  put(src, "hello from a volume");
  snprintf(src, sizeof(src), "%s/secret.txt", dir);
  put(src, "SECRET");
}

static void fini(void) {
  server_cleanup(&srv);
  if (dir[0]) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) cr_log_warn("cannot remove %s", dir);
  }
}

TestSuite(volumes, .init = setup, .fini = fini, .timeout = 600);

static bool start(const char *const *extra) {
  const char *args[16];
  size_t n = 0;
  for (size_t i = 0; extra && extra[i]; i++) args[n++] = extra[i];
  args[n++] = dir;
  args[n] = NULL;
  return server_start(&srv, args, 300);
}

static void stop_clean(void) {
  cr_assert(server_stop(&srv, SIGTERM, 60), "the server did not stop");
  cr_assert_eq(srv.status, 0, "exit status %d", srv.status);
}

/* GET target; the body. */
static const char *get(const char *target) {
  static char body[8192];
  http_response_t r;
  cr_assert(http_request(srv.port, "GET", target, NULL, NULL, 0, &r), "GET %s failed", target);
  snprintf(body, sizeof(body), "%d %s", r.status, r.body ? r.body : "");
  http_response_free(&r);
  return body;
}

static void expect(const char *target, const char *want) {
  const char *got = get(target);
  cr_expect(strstr(got, want), "GET %s: no '%s' in:\n%s", target, want, got);
}

Test(volumes, a_route_sees_its_volumes_read_only_unless_asked) {
  char ro[256], rw[256];
  snprintf(ro, sizeof(ro), "/fsprobe:%s::/", data);
  snprintf(rw, sizeof(rw), "/fsprobe:%s::/scratch", data);
  const char *args[] = {"--volume", ro, "--volume-rw", rw, NULL};
  char err[4096];
  bool ok = start(args);
  server_output(&srv, true, err, sizeof(err));
  cr_assert(ok, "the server did not start (status %d):\n%s", srv.status, err);
  cr_expect(strstr(err, "volume / (read-only)") && strstr(err, "volume /scratch (read-write)"),
            "%s", err);
  expect("/fsprobe?open+index.txt", "200 open index.txt: ok hello from a volume\n");
  expect("/fsprobe?write@3+new.txt+x", "write new.txt: ENOTCAPABLE\n");
  expect("/fsprobe?write@4+new.txt+x&open@4+new.txt", "write new.txt: ok\nopen new.txt: ok x\n");
  expect("/fsprobe?unlink@4+new.txt", "unlink new.txt: ok\n");
  expect("/fsprobe?open+../secret.txt&open@4+../secret.txt",
         "open ../secret.txt: ENOTCAPABLE\nopen ../secret.txt: ENOTCAPABLE\n");
  /* Another route of the same module has no volume. */
  expect("/bare?open+index.txt", "open index.txt: EBADF\n");
  stop_clean();
}

static int fds_of(pid_t pid) {
  char p[64];
  snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
  DIR *d = opendir(p);
  cr_assert(d, "cannot read %s", p);
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

/* The server's count once the connections the client closed are closed
 * on its side too (that is asynchronous): `want`, or after 5 s what it
 * is; want -1: once it has not changed for 100 ms. */
static int settled_fds(pid_t pid, int want) {
  int last = fds_of(pid);
  for (int i = 0; i < 50; i++) {
    usleep(100 * 1000);
    int n = fds_of(pid);
    if (n == want || (want < 0 && n == last)) return n;
    last = n;
  }
  return last;
}

Test(volumes, requests_leave_no_descriptor_behind) {
  char rw[256];
  snprintf(rw, sizeof(rw), "/fsprobe:%s::/", data);
  /* One loop: a loop opens descriptors of its own at its first
   * connection, which a second one might have after the first count. */
  const char *args[] = {"--threads", "1", "--volume-rw", rw, NULL};
  cr_assert(start(args), "the server did not start");
  const char *const kinds[] = {"/fsprobe?hold+30&readdir+-&open+index.txt",
                               "/fsprobe?hold+30&readdir+-&trap",
                               "/fsprobe?hold+30&exit+3", "/fsprobe?fdmax"};
  get(kinds[0]); /* first-use allocations */
  int before = settled_fds(srv.pid, -1);
  for (int i = 0; i < 100; i++) get(kinds[i % 4]);
  expect("/fsprobe?fdmax", "fdmax: n=64 EMFILE"); /* WAGI_MAX_OPEN, the volume and streams apart */
  int after = settled_fds(srv.pid, before);
  cr_expect_eq(after, before, "%d descriptors after 100 requests, %d before", after, before);
  stop_clean();
}

Test(volumes, a_bad_volume_stops_the_start) {
  char nodir[256], noroute[256];
  snprintf(nodir, sizeof(nodir), "/fsprobe:%s/nonexistent::/", dir);
  snprintf(noroute, sizeof(noroute), "/nosuch:%s::/", data);
  const char *cases[][3] = {{"--volume", nodir, "nonexistent"},
                            {"--volume", noroute, "/nosuch"},
                            {"--volume", "fsprobe:/tmp", "ROUTE:HOST"},
                            {"--volume-rw", "/fsprobe:", "ROUTE:HOST"},
                            {"--volume", "/fsprobe:/tmp::", "ROUTE:HOST"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *args[] = {cases[i][0], cases[i][1], NULL};
    cr_expect(!start(args), "case %zu started", i);
    char err[4096];
    server_output(&srv, true, err, sizeof(err));
    cr_expect_eq(srv.status, 2, "case %zu: status %d", i, srv.status);
    cr_expect(strstr(err, cases[i][2]), "case %zu: no '%s' in: %s", i, cases[i][2], err);
    server_cleanup(&srv);
  }
}
