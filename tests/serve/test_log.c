/* `wpool serve --log`: what one request adds to the logs is bounded, and
 * the lines of several workers never interleave, whatever a tenant
 * writes, even into a pipe read slowly (a log collector). Through the
 * binary. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static server_t srv;
static char dir[128];

static void fini(void) {
  server_cleanup(&srv);
  char cmd[160];
  if (dir[0]) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) cr_log_warn("cannot remove %s", dir);
  }
}

TestSuite(log, .fini = fini, .timeout = 600);

static const char *modules(void) {
  static const char *const names[] = {"hello", "wagi", NULL};
  cr_assert_not_null(guest_dir(dir, sizeof(dir), names), "cannot make the module directory");
  return dir;
}

static void nap_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The server's standard output and error, both into one pipe, read by a
 * collector a little slower than the server writes (it sleeps 0.5 ms
 * after each 4 KiB), as a log shipper under load is. */
typedef struct collector {
  int fd;
  pthread_t thread;
  pthread_mutex_t lock;
  char *buf;
  size_t len, cap;
} collector_t;

static void *collect(void *arg) {
  collector_t *k = arg;
  char b[4096];
  for (;;) {
    ssize_t n = read(k->fd, b, sizeof(b));
    if (n <= 0) break;
    pthread_mutex_lock(&k->lock);
    if (k->len + (size_t)n + 1 > k->cap) {
      k->cap = (k->len + (size_t)n + 1) * 2;
      k->buf = realloc(k->buf, k->cap);
    }
    memcpy(k->buf + k->len, b, (size_t)n);
    k->len += (size_t)n;
    k->buf[k->len] = 0;
    pthread_mutex_unlock(&k->lock);
    struct timespec ts = {0, 500000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static pid_t start_piped(collector_t *k, const char *const *args, int *port) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  const char *tool = getenv("WPOOL_TOOL");
  cr_assert_not_null(tool);
  const char *argv[16] = {tool, "serve", "--listen", "127.0.0.1:0"};
  size_t n = 4;
  for (size_t i = 0; args[i]; i++) argv[n++] = args[i];
  argv[n] = NULL;
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    dup2(p[1], 1);
    dup2(p[1], 2);
    close(p[0]);
    close(p[1]);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    alarm(600);
    execv(tool, (char *const *)argv);
    _exit(127);
  }
  close(p[1]);
  *k = (collector_t){.fd = p[0]};
  pthread_mutex_init(&k->lock, NULL);
  cr_assert_eq(pthread_create(&k->thread, NULL, collect, k), 0);
  *port = 0;
  for (int i = 0; i < 30000 && !*port; i++) {
    pthread_mutex_lock(&k->lock);
    const char *l = k->buf ? strstr(k->buf, "listening on http://127.0.0.1:") : NULL;
    if (l && strchr(l, '\n')) *port = atoi(l + strlen("listening on http://127.0.0.1:"));
    pthread_mutex_unlock(&k->lock);
    if (!*port) nap_ms(10);
  }
  cr_assert_gt(*port, 0, "the server did not start");
  return pid;
}

/* Requests on one keep-alive connection, each answered. */
typedef struct client {
  int port, n;
  const char *target;
  int answered;
} client_t;

static void *client(void *arg) {
  client_t *c = arg;
  int fd = http_connect(c->port);
  if (fd < 0) return NULL;
  char req[1 << 17];
  int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", c->target);
  for (int i = 0; i < c->n; i++) {
    http_response_t r;
    if (!http_send(fd, req, (size_t)len) || !http_read(fd, &r, 60)) break;
    c->answered += r.status == 200;
    http_response_free(&r);
  }
  http_close(fd);
  return NULL;
}

Test(log, the_lines_of_two_workers_never_interleave_in_a_pipe) {
  /* Tenant A writes lines of 20,000 control bytes (80 KB escaped), with a
   * forged request line inside; tenant B short lines, on the other
   * worker, at the same time. */
  static char flood[1 << 17];
  size_t n = (size_t)sprintf(flood, "/wagi?stderr=");
  for (int i = 0; i < 20000; i++) n += (size_t)sprintf(flood + n, "%%01");
  n += (size_t)sprintf(flood + n, "%%0aGET%%20/admin%%20200%%201%%0a");
  const char *const args[] = {"--threads", "2", "--log", modules(), NULL};
  collector_t k;
  int port;
  pid_t pid = start_piped(&k, args, &port);
  client_t a = {.port = port, .n = 60, .target = flood},
           b = {.port = port, .n = 600, .target = "/wagi?stderr=tenant-b-line"};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, client, &a);
  pthread_create(&tb, NULL, client, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  cr_expect_eq(a.answered, 60);
  cr_expect_eq(b.answered, 600);
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  pthread_join(k.thread, NULL);
  close(k.fd);
  cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
  /* Every line is the server's or carries its route. */
  int bad = 0, b_lines = 0, lines = 0;
  for (char *l = k.buf, *e; l && *l; l = e + 1) {
    e = strchr(l, '\n');
    cr_assert_not_null(e, "a line without its end: %.100s", l);
    *e = 0;
    lines++;
    b_lines += !strcmp(l, "/wagi: tenant-b-line");
    bool ok = !strncmp(l, "/wagi: ", 7) || !strncmp(l, "/wagi:+ ", 8) ||
              !strncmp(l, "/wagi:! ", 8) || !strncmp(l, "GET /wagi ", 10) ||
              !strncmp(l, "wpool serve: ", 13);
    if (!ok && bad++ < 5) cr_log_error("a line without a known prefix: %.120s", l);
    cr_expect_leq(strlen(l) + 1, 4096, "a line over PIPE_BUF: %.60s", l);
  }
  cr_expect_eq(bad, 0, "%d of %d lines without a known prefix", bad, lines);
  cr_expect_eq(b_lines, 600, "tenant B's lines: %d whole of 600", b_lines);
  free(k.buf);
}

/* The size of the server's standard error (or output) file now. */
static long size_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

Test(log, one_request_adds_at_most_64_kib_to_the_log) {
  const char *const args[] = {"--log", modules(), NULL};
  cr_assert(server_start(&srv, args, 300));
  static const struct {
    const char *what, *escape;
    int count;
  } cases[] = {
      {"26,000 newlines", "%0a", 26000},
      {"20,000 control bytes", "%01", 20000},
      {"40,000 backslashes", "\\", 40000},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    static char req[1 << 17];
    size_t n = (size_t)sprintf(req, "GET /wagi?stderr=");
    for (int j = 0; j < cases[i].count; j++) n += (size_t)sprintf(req + n, "%s", cases[i].escape);
    n += (size_t)sprintf(req + n, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    long before = size_of(srv.err_path);
    static char all[4096];
    http_exchange(srv.port, req, n, all, sizeof(all), 30);
    cr_expect_eq(strncmp(all, "HTTP/1.1 200 ", 13), 0, "%s: %s", cases[i].what, all);
    nap_ms(200);
    long grew = size_of(srv.err_path) - before;
    cr_expect_leq(grew, (64 << 10) + 100, "%s: the log grew by %ld bytes", cases[i].what, grew);
    cr_expect_gt(grew, 60 << 10, "%s: the log grew by %ld bytes only", cases[i].what, grew);
    /* Past the bound: a line says how much was left out. */
  }
  /* A request line's path is cut within PIPE_BUF, the cut marked. */
  static char req[16384], path[12000];
  memset(path, 'p', sizeof(path) - 1);
  memcpy(path, "/wagi/", 6);
  int len =
      snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
  static char all[4096];
  http_exchange(srv.port, req, (size_t)len, all, sizeof(all), 30);
  cr_expect_eq(strncmp(all, "HTTP/1.1 200 ", 13), 0, "%s", all);
  cr_assert(server_stop(&srv, SIGTERM, 60));
  static char out[1 << 16], err[1 << 20];
  server_output(&srv, false, out, sizeof(out));
  const char *l = strstr(out, "GET /wagi/ppp");
  cr_assert_not_null(l, "%s", out);
  const char *e = strchr(l, '\n');
  cr_assert_not_null(e);
  cr_expect_leq(e + 1 - l, 4096, "the request line is %td bytes", e + 1 - l);
  cr_expect_not_null(strstr(l, "#+7999 200 "), "%.100s", e - 60);
  server_output(&srv, true, err, sizeof(err));
  cr_expect_eq(count_of(err, "\n/wagi:! "), 3, "a line saying what was left out");
}
