#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

const char *guest_path(char *buf, size_t len, const char *name) {
  const char *ex = getenv("WPOOL_EXAMPLES");
  snprintf(buf, len, "%s/%s.wasm", ex ? ex : "examples", name);
  return buf;
}

const char *guest_dir(char *dir, size_t len, const char *const *names) {
  snprintf(dir, len, "/tmp/wpool-serve-%d-XXXXXX", (int)getpid());
  if (!mkdtemp(dir)) return NULL;
  for (size_t i = 0; names[i]; i++) {
    char src[512], dst[512];
    char abs[PATH_MAX];
    guest_path(src, sizeof(src), names[i]);
    if (!realpath(src, abs)) return NULL;
    snprintf(dst, sizeof(dst), "%s/%s.wasm", dir, names[i]);
    if (symlink(abs, dst) != 0) return NULL;
  }
  return dir;
}

void server_output(const server_t *s, bool err, char *buf, size_t len) {
  buf[0] = 0;
  FILE *f = fopen(err ? s->err_path : s->out_path, "r");
  if (!f) return;
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = 0;
  fclose(f);
}

static bool reap(server_t *s, unsigned seconds) {
  double end = now_s() + seconds;
  for (;;) {
    int st;
    pid_t p = waitpid(s->pid, &st, WNOHANG);
    if (p == s->pid) {
      s->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      s->pid = 0;
      return true;
    }
    if (now_s() >= end) return false;
    nap_ms(10);
  }
}

bool server_start(server_t *s, const char *const *args, unsigned seconds) {
  memset(s, 0, sizeof(*s));
  s->status = -1;
  const char *tool = getenv("WPOOL_TOOL");
  if (!tool) return false;
  snprintf(s->out_path, sizeof(s->out_path), "/tmp/wpool-serve-out-XXXXXX");
  snprintf(s->err_path, sizeof(s->err_path), "/tmp/wpool-serve-err-XXXXXX");
  int out = mkstemp(s->out_path), err = mkstemp(s->err_path);
  if (out < 0 || err < 0) return false;
  const char *argv[40] = {tool, "serve", "--listen", "127.0.0.1:0"};
  size_t n = 4;
  for (size_t i = 0; args[i] && n < 39; i++) argv[n++] = args[i];
  argv[n] = NULL;
  s->pid = fork();
  if (s->pid < 0) return false;
  if (s->pid == 0) {
    dup2(out, 1);
    dup2(err, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    alarm(600); /* a server left behind ends by itself */
    execv(tool, (char *const *)argv);
    _exit(127);
  }
  close(out);
  close(err);
  double end = now_s() + seconds;
  char text[8192];
  while (now_s() < end) {
    server_output(s, true, text, sizeof(text));
    const char *l = strstr(text, "listening on http://127.0.0.1:");
    if (l && strchr(l, '\n')) {
      s->port = atoi(l + strlen("listening on http://127.0.0.1:"));
      return s->port > 0;
    }
    if (reap(s, 0)) return false;
    nap_ms(20);
  }
  kill(s->pid, SIGKILL);
  reap(s, 10);
  return false;
}

bool server_stop(server_t *s, int sig, unsigned seconds) {
  if (!s->pid) return true;
  kill(s->pid, sig);
  if (reap(s, seconds)) return true;
  kill(s->pid, SIGKILL);
  reap(s, 10);
  return false;
}

bool server_stop_insistently(server_t *s, int sig, unsigned seconds) {
  if (!s->pid) return true;
  double end = now_s() + seconds;
  while (now_s() < end) {
    kill(s->pid, sig);
    if (reap(s, 0)) return true; /* no wait: one look */
    usleep(100);
  }
  kill(s->pid, SIGKILL);
  reap(s, 10);
  return false;
}

void server_cleanup(server_t *s) {
  if (s->pid) {
    kill(s->pid, SIGKILL);
    reap(s, 10);
  }
  unlink(s->out_path);
  unlink(s->err_path);
}

int http_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool http_send(int fd, const void *bytes, size_t len) {
  const char *p = bytes;
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= (size_t)n;
  }
  return true;
}

/* Per connection: bytes read past the last response (pipelined answers). */
#define MAXFD 1024
static __thread char *spill[MAXFD];
static __thread size_t spill_len[MAXFD];

static ssize_t recv_some(int fd, char *buf, size_t cap, double end) {
  if (fd < MAXFD && spill_len[fd]) {
    size_t n = spill_len[fd] < cap ? spill_len[fd] : cap;
    memcpy(buf, spill[fd], n);
    memmove(spill[fd], spill[fd] + n, spill_len[fd] - n);
    spill_len[fd] -= n;
    return (ssize_t)n;
  }
  for (;;) {
    double left = end - now_s();
    if (left <= 0) return -1;
    struct timeval tv = {(time_t)left, (suseconds_t)((left - (double)(time_t)left) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recv(fd, buf, cap, 0);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

static void unread(int fd, const char *p, size_t n) {
  if (fd >= MAXFD || !n) return;
  char *b = realloc(spill[fd], spill_len[fd] + n);
  if (!b) return;
  memmove(b + n, b, spill_len[fd]);
  memcpy(b, p, n);
  spill[fd] = b;
  spill_len[fd] += n;
}

bool http_read(int fd, http_response_t *r, unsigned seconds) {
  memset(r, 0, sizeof(*r));
  double end = now_s() + seconds;
  size_t hl = 0;
  char *eoh = NULL;
  /* The head, up to the empty line (100 Continue heads are skipped). */
  for (;;) {
    while (!(eoh = strstr(r->head, "\r\n\r\n"))) {
      if (hl + 1 >= sizeof(r->head)) return false;
      ssize_t n = recv_some(fd, r->head + hl, sizeof(r->head) - 1 - hl, end);
      if (n <= 0) return false;
      hl += (size_t)n;
      r->head[hl] = 0;
    }
    if (strncmp(r->head, "HTTP/1.1 100 ", 13) != 0) break;
    size_t skip = (size_t)(eoh + 4 - r->head);
    memmove(r->head, r->head + skip, hl - skip + 1);
    hl -= skip;
  }
  size_t head_len = (size_t)(eoh + 4 - r->head);
  if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) return false;
  char v[64];
  size_t want = 0;
  if (http_header(r, "content-length", v, sizeof(v))) want = strtoull(v, NULL, 10);
  r->closed = http_header(r, "connection", v, sizeof(v)) && !strcasecmp(v, "close");
  r->body = malloc(want + 1);
  if (!r->body) return false;
  size_t have = hl - head_len < want ? hl - head_len : want;
  memcpy(r->body, r->head + head_len, have);
  unread(fd, r->head + head_len + have, hl - head_len - have);
  r->head[head_len] = 0;
  while (have < want) {
    ssize_t n = recv_some(fd, r->body + have, want - have, end);
    if (n <= 0) return false;
    have += (size_t)n;
  }
  r->body[want] = 0;
  r->body_len = want;
  return true;
}

void http_response_free(http_response_t *r) {
  free(r->body);
  r->body = NULL;
}

const char *http_header(const http_response_t *r, const char *name, char *buf, size_t len) {
  size_t n = strlen(name);
  for (const char *l = strstr(r->head, "\r\n"); l && l[2] != '\r' && l[2];
       l = strstr(l + 2, "\r\n")) {
    const char *h = l + 2;
    if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
      h += n + 1;
      while (*h == ' ') h++;
      const char *e = strstr(h, "\r\n");
      size_t k = e ? (size_t)(e - h) : strlen(h);
      if (k >= len) k = len - 1;
      memcpy(buf, h, k);
      buf[k] = 0;
      return buf;
    }
  }
  return NULL;
}

bool http_request(int port, const char *method, const char *target, const char *headers,
                  const void *body, size_t body_len, http_response_t *r) {
  int fd = http_connect(port);
  if (fd < 0) return false;
  char head[4096];
  int n = snprintf(head, sizeof(head),
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sContent-Length: %zu\r\n\r\n", method,
                   target, port, headers ? headers : "", body_len);
  bool ok = n > 0 && (size_t)n < sizeof(head) && http_send(fd, head, (size_t)n) &&
            (!body_len || http_send(fd, body, body_len)) && http_read(fd, r, 60);
  http_close(fd);
  return ok;
}

void http_close(int fd) {
  if (fd >= 0 && fd < MAXFD) {
    free(spill[fd]);
    spill[fd] = NULL;
    spill_len[fd] = 0;
  }
  close(fd);
}

double metric(const char *text, const char *series) {
  size_t n = strlen(series);
  for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
    if (strncmp(l, series, n) == 0 && l[n] == ' ') return strtod(l + n + 1, NULL);
  }
  return -1;
}

size_t http_exchange(int port, const void *bytes, size_t len, char *buf, size_t cap,
                     unsigned seconds) {
  buf[0] = 0;
  int fd = http_connect(port);
  if (fd < 0) return 0;
  size_t got = 0;
  if (http_send(fd, bytes, len)) {
    double end = now_s() + seconds;
    while (got + 1 < cap) {
      ssize_t n = recv_some(fd, buf + got, cap - 1 - got, end);
      if (n <= 0) break;
      got += (size_t)n;
    }
  }
  buf[got] = 0;
  http_close(fd);
  return got;
}

int count_of(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}
