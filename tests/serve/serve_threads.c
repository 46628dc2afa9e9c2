/* `wpool serve` under load from several threads at once, without
 * Criterion so that the thread sanitizer's build runs it too (suite
 * 'threads'): keep-alive clients on both workers, /metrics read while
 * they run, a route's module replaced and reloaded (SIGHUP) every 2 ms
 * meanwhile, then SIGTERM with requests in flight. The server must answer
 * every request it took, exit 0 and leave no instance live; under TSan any
 * race in it makes it exit non-zero. Bounded: a fixed number of requests,
 * every wait with a deadline. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

enum { CLIENTS = 6, EACH = 30 };

typedef struct client {
  int port, id, ok;
  char why[200];
} client_t;

static void *client(void *arg) {
  client_t *c = arg;
  int fd = http_connect(c->port);
  if (fd < 0) {
    snprintf(c->why, sizeof(c->why), "cannot connect");
    return NULL;
  }
  for (int i = 0; i < EACH; i++) {
    char req[256], body[64];
    int bl = snprintf(body, sizeof(body), "%d/%d", c->id, i);
    const char *what = i % 4 == 0   ? "/metrics"
                       : i % 4 == 1 ? "/hello"
                       : i % 4 == 2 ? "/wagi?echo"
                                    : "/r";
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", what, bl, body);
    if (i % 4 == 0) n = snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    http_response_t r;
    if (!http_send(fd, req, (size_t)n) || !http_read(fd, &r, 120)) {
      snprintf(c->why, sizeof(c->why), "%s: no response", what);
      break;
    }
    /* /r: whichever version its route had, whole. */
    bool good = r.status == 200 && (i % 4 != 1 || !strcmp(r.body, "hello, world\n")) &&
                (i % 4 != 2 || !strcmp(r.body, body)) &&
                (i % 4 != 3 || !strcmp(r.body, "hello, world\n") || !strcmp(r.body, "wagi\n"));
    if (good)
      c->ok++;
    else
      snprintf(c->why, sizeof(c->why), "%s: %d %.100s", what, r.status, r.body);
    http_response_free(&r);
  }
  http_close(fd);
  return NULL;
}

typedef struct reloader {
  pid_t pid;
  const char *dir;
  atomic_bool done;
  int passes;
} reloader_t;

/* r.wasm: a link to hello, then wagi, then hello... replaced by rename,
 * and SIGHUP, every 2 ms. */
static void *reloader(void *arg) {
  reloader_t *r = arg;
  char tmp[256], dst[256], src[2][512];
  snprintf(tmp, sizeof(tmp), "%s/.r", r->dir);
  snprintf(dst, sizeof(dst), "%s/r.wasm", r->dir);
  guest_path(src[0], sizeof(src[0]), "wagi");
  guest_path(src[1], sizeof(src[1]), "hello");
  while (!atomic_load(&r->done)) {
    unlink(tmp);
    if (symlink(src[r->passes % 2], tmp) != 0 || rename(tmp, dst) != 0) break;
    kill(r->pid, SIGHUP);
    r->passes++;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static int failed(server_t *s, const char *what) {
  char err[8192];
  server_output(s, true, err, sizeof(err));
  fprintf(stderr, "serve_threads: %s\n%s", what, err);
  server_cleanup(s);
  return 1;
}

int main(void) {
  char dir[128];
  const char *names[] = {"hello", "wagi", NULL};
  if (!guest_dir(dir, sizeof(dir), names)) return fprintf(stderr, "cannot make a directory\n"), 1;
  char r0[512], r1[256];
  snprintf(r1, sizeof(r1), "%s/r.wasm", dir);
  if (symlink(guest_path(r0, sizeof(r0), "hello"), r1) != 0)
    return fprintf(stderr, "cannot link %s\n", r1), 1;
  server_t s;
  /* Few slots: the thread sanitizer cannot reserve the default 8 TiB. */
  const char *args[] = {"--threads", "2", "--config", "instance_count=8", dir, NULL};
  if (!server_start(&s, args, 600)) return failed(&s, "the server did not start");
  reloader_t rl = {.pid = s.pid, .dir = dir};
  pthread_t rt;
  if (pthread_create(&rt, NULL, reloader, &rl) != 0) return failed(&s, "pthread_create");
  client_t cs[CLIENTS];
  pthread_t t[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) {
    cs[i] = (client_t){.port = s.port, .id = i};
    if (pthread_create(&t[i], NULL, client, &cs[i]) != 0) return failed(&s, "pthread_create");
  }
  for (int i = 0; i < CLIENTS; i++) pthread_join(t[i], NULL);
  atomic_store(&rl.done, true);
  pthread_join(rt, NULL);
  int bad = 0;
  for (int i = 0; i < CLIENTS; i++)
    if (cs[i].ok != EACH) {
      fprintf(stderr, "serve_threads: client %d: %d of %d: %s\n", i, cs[i].ok, EACH, cs[i].why);
      bad++;
    }
  /* A request in flight on each worker when SIGTERM comes. */
  int a = http_connect(s.port), b = http_connect(s.port);
  const char slow[] = "GET /wagi?spin=300 HTTP/1.1\r\nHost: x\r\n\r\n";
  if (a < 0 || b < 0 || !http_send(a, slow, strlen(slow)) || !http_send(b, slow, strlen(slow)))
    return failed(&s, "cannot send the last requests");
  struct timespec ts = {0, 100000000};
  nanosleep(&ts, NULL);
  kill(s.pid, SIGTERM);
  http_response_t r;
  for (int k = 0; k < 2; k++) {
    if (!http_read(k ? b : a, &r, 120)) return failed(&s, "a request in flight got no answer");
    if (r.status != 200 || strcmp(r.body, "wagi\n")) bad++;
    http_response_free(&r);
  }
  http_close(a);
  http_close(b);
  if (!server_stop(&s, SIGTERM, 120)) return failed(&s, "the server did not stop");
  char err[8192];
  server_output(&s, true, err, sizeof(err));
  if (s.status != 0 || !strstr(err, " 0 instances live")) {
    fprintf(stderr, "serve_threads: exit %d\n%s", s.status, err);
    bad++;
  }
  server_cleanup(&s);
  char cmd[200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "serve_threads: cannot remove %s\n", dir);
  printf(
      "serve_threads: %d clients x %d requests, %d reloads meanwhile, then SIGTERM with 2 in "
      "flight: %s\n",
      CLIENTS, EACH, rl.passes, bad ? "FAILED" : "ok");
  return bad ? 1 : 0;
}
