/* `wpool serve` under load from several threads at once, without
 * Criterion so that the thread sanitizer's build runs it too (suite
 * 'threads'): keep-alive clients on both workers, /metrics read while
 * they run, then SIGTERM with requests in flight. The server must answer
 * every request it took, exit 0 and leave no instance live; under TSan any
 * race in it makes it exit non-zero. Bounded: a fixed number of requests,
 * every wait with a deadline. */
#include <pthread.h>
#include <signal.h>
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
    const char *what = i % 3 == 0 ? "/metrics" : i % 3 == 1 ? "/hello" : "/wagi?echo";
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", what, bl, body);
    if (i % 3 == 0) n = snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    http_response_t r;
    if (!http_send(fd, req, (size_t)n) || !http_read(fd, &r, 120)) {
      snprintf(c->why, sizeof(c->why), "%s: no response", what);
      break;
    }
    bool good = r.status == 200 && (i % 3 != 1 || !strcmp(r.body, "hello, world\n")) &&
                (i % 3 != 2 || !strcmp(r.body, body));
    if (good)
      c->ok++;
    else
      snprintf(c->why, sizeof(c->why), "%s: %d %.100s", what, r.status, r.body);
    http_response_free(&r);
  }
  http_close(fd);
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
  server_t s;
  /* Few slots: the thread sanitizer cannot reserve the default 8 TiB. */
  const char *args[] = {"--threads", "2", "--config", "instance_count=8", dir, NULL};
  if (!server_start(&s, args, 600)) return failed(&s, "the server did not start");
  client_t cs[CLIENTS];
  pthread_t t[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) {
    cs[i] = (client_t){.port = s.port, .id = i};
    if (pthread_create(&t[i], NULL, client, &cs[i]) != 0) return failed(&s, "pthread_create");
  }
  for (int i = 0; i < CLIENTS; i++) pthread_join(t[i], NULL);
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
  printf("serve_threads: %d clients x %d requests, then SIGTERM with 2 in flight: %s\n", CLIENTS,
         EACH, bad ? "FAILED" : "ok");
  return bad ? 1 : 0;
}
