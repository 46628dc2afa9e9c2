/* The server's set-up and tear-down (server.h): configuration, the
 * listening socket, the workers' records, errors. srv_run is listener.c. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "route.h"
#include "setup.h"

static _Thread_local char last_error[256];

const char *srv_error(void) { return last_error; }

/* Formatted aside, then copied: an argument may be srv_error() itself. */
int srv_fail(int err, const char *fmt, ...) {
  char msg[sizeof(last_error)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  memcpy(last_error, msg, sizeof(msg));
  return err;
}

/* A quarter of the memory this process may use: the machine's, or its
 * cgroup's (v2) memory.max when that is lower. */
static size_t default_buffered(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  uint64_t mem = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 4ull << 30;
  char line[512], path[600];
  FILE *f = fopen("/proc/self/cgroup", "r");
  path[0] = 0;
  while (f && fgets(line, sizeof(line), f)) {
    if (strncmp(line, "0::", 3) != 0) continue;
    line[strcspn(line, "\n")] = 0;
    snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max", line + 3);
  }
  if (f) fclose(f);
  unsigned long long max;
  f = path[0] ? fopen(path, "r") : NULL;
  if (f && fscanf(f, "%llu", &max) == 1 && max < mem) mem = max; /* "max": no limit */
  if (f) fclose(f);
  return (size_t)(mem / 4);
}

void srv_config_init(srv_config_t *cfg) {
  *cfg = (srv_config_t){.threads = 1,
                        .max_body = 1 << 20,
                        .head_ms = 30000,
                        .write_ms = 30000,
                        .read_ms = 30000,
                        .idle_ms = 60000,
                        .min_rate = 500,
                        .max_buffered = default_buffered()};
}

int srv_create(const srv_config_t *cfg, srv_t **out) {
  if (!cfg->threads) return srv_fail(-EINVAL, "threads: 0 (at least 1)");
  srv_t *s = calloc(1, sizeof(*s));
  if (!s) return srv_fail(-ENOMEM, "out of memory");
  s->cfg = *cfg;
  s->fd = -1;
  s->nworkers = cfg->threads;
  s->workers = calloc(s->nworkers, sizeof(worker_t));
  /* Each worker's counters on cache lines of their own. */
  size_t one = (sizeof(metrics_t) + 63) / 64 * 64;
  s->metrics_mem = aligned_alloc(64, one * s->nworkers);
  if (!s->workers || !s->metrics_mem) {
    free(s->workers);
    free(s->metrics_mem);
    free(s);
    return srv_fail(-ENOMEM, "out of memory");
  }
  memset(s->metrics_mem, 0, one * s->nworkers);
  pthread_mutex_init(&s->lock, NULL);
  s->budget = cfg->max_buffered / s->nworkers;
  if (cfg->max_buffered && !s->budget) s->budget = 1;
  for (unsigned i = 0; i < s->nworkers; i++)
    s->workers[i].metrics = (metrics_t *)((char *)s->metrics_mem + one * i);
  *out = s;
  return 0;
}

int srv_listen(srv_t *s, const struct sockaddr_storage *ss, const char *host) {
  snprintf(s->host, sizeof(s->host), "%s", host);
  route_seal(s);
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return srv_fail(-errno, "socket: %s", strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  socklen_t len =
      ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 1024) != 0) {
    int e = errno;
    close(fd);
    return srv_fail(-e, "%s", strerror(e));
  }
  struct sockaddr_storage got;
  len = sizeof(got);
  getsockname(fd, (struct sockaddr *)&got, &len);
  s->port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                           : ((struct sockaddr_in6 *)&got)->sin6_port);
  s->fd = fd;
  return 0;
}

unsigned srv_port(const srv_t *s) { return s->port; }
unsigned srv_threads(const srv_t *s) { return s->nworkers; }

uint64_t srv_buffered_bytes(const srv_t *s) {
  uint64_t n = 0;
  for (unsigned i = 0; i < s->nworkers; i++)
    n += atomic_load_explicit(&s->workers[i].metrics->buffered, memory_order_relaxed);
  return n;
}

unsigned srv_stops(const srv_t *s, uint64_t *first_ns) {
  unsigned n = atomic_load(&s->stops);
  if (n) *first_ns = atomic_load(&s->stop_ns);
  return n;
}

uint64_t srv_requests_answered(const srv_t *s) {
  uint64_t n = 0;
  for (unsigned i = 0; i < s->nworkers; i++)
    for (int c = 0; c < METRIC_CODES; c++)
      n += atomic_load_explicit(&s->workers[i].metrics->by_code[c], memory_order_relaxed);
  return n;
}

void srv_destroy(srv_t *s) {
  if (!s) return;
  if (s->fd >= 0) close(s->fd);
  route_free(s);
  pthread_mutex_destroy(&s->lock);
  free(s->workers);
  free(s->metrics_mem);
  free(s);
}
