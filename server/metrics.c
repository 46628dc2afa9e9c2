/* The server's counters and /metrics (metrics.h). */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the latency buckets, seconds; the last bucket is +Inf. */
static const double bounds[METRIC_BUCKETS] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                              0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                              0.5,     1,      2.5,     5,      10};
static const char *const labels[METRIC_BUCKETS] = {
    "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",    "0.1",    "0.25",    "0.5",    "1",     "2.5",    "5",     "10"};

/* Only the owning worker writes its counters: a relaxed load and store
 * (no locked instruction), which readers on other threads see whole. */
void metrics_add(_Atomic uint64_t *c, int64_t d) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d,
                        memory_order_relaxed);
}

void metrics_count(metrics_t *m, int code, uint64_t ns) {
  if (code < 0 || code >= METRIC_CODES) code = 0;
  metrics_add(&m->by_code[code], 1);
  double s = (double)ns / 1e9;
  int b = 0;
  while (b < METRIC_BUCKETS && s > bounds[b]) b++;
  metrics_add(&m->bucket[b], 1);
  metrics_add(&m->latency_ns_sum, (int64_t)ns);
}

static uint64_t get(const _Atomic uint64_t *c) {
  return atomic_load_explicit(c, memory_order_relaxed);
}

void metrics_family(sbuf_t *o, const char *name, const char *type, const char *help) {
  sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

bool metrics_expose(const metrics_handler_t *mh, sbuf_t *o) {
  const srv_t *s = mh->srv;
  o->len = 0;
  /* Requests by status, summed over the workers. */
  metrics_family(o, "wpool_serve_requests_total", "counter", "Requests answered, by status code.");
  for (int code = 0; code < METRIC_CODES; code++) {
    uint64_t n = 0;
    for (unsigned i = 0; i < s->nworkers; i++) n += get(&s->workers[i].metrics->by_code[code]);
    if (n)
      sbuf_printf(o, "wpool_serve_requests_total{code=\"%d\"} %llu\n", code, (unsigned long long)n);
  }
  metrics_family(o, "wpool_serve_request_duration_seconds", "histogram",
                 "From a request's first byte to its answer handed to the kernel.");
  uint64_t cum = 0, sum_ns = 0;
  for (int b = 0; b <= METRIC_BUCKETS; b++) {
    for (unsigned i = 0; i < s->nworkers; i++) cum += get(&s->workers[i].metrics->bucket[b]);
    sbuf_printf(o, "wpool_serve_request_duration_seconds_bucket{le=\"%s\"} %llu\n",
                b < METRIC_BUCKETS ? labels[b] : "+Inf", (unsigned long long)cum);
  }
  for (unsigned i = 0; i < s->nworkers; i++) sum_ns += get(&s->workers[i].metrics->latency_ns_sum);
  sbuf_printf(o, "wpool_serve_request_duration_seconds_sum %.9f\n", (double)sum_ns / 1e9);
  sbuf_printf(o, "wpool_serve_request_duration_seconds_count %llu\n", (unsigned long long)cum);
  uint64_t open = 0, total = 0, receiving = 0, buffered = 0, refused = 0;
  for (unsigned i = 0; i < s->nworkers; i++) {
    open += get(&s->workers[i].metrics->connections_open);
    total += get(&s->workers[i].metrics->connections_total);
    receiving += get(&s->workers[i].metrics->receiving);
    buffered += get(&s->workers[i].metrics->buffered);
    refused += get(&s->workers[i].metrics->refused_at_cap);
  }
  metrics_family(o, "wpool_serve_requests_receiving", "gauge",
                 "Requests begun whose bytes are still arriving.");
  sbuf_printf(o, "wpool_serve_requests_receiving %llu\n", (unsigned long long)receiving);
  metrics_family(o, "wpool_serve_connections_open", "gauge", "Client connections open now.");
  sbuf_printf(o, "wpool_serve_connections_open %llu\n", (unsigned long long)open);
  metrics_family(o, "wpool_serve_connections_total", "counter", "Client connections accepted.");
  sbuf_printf(o, "wpool_serve_connections_total %llu\n", (unsigned long long)total);
  metrics_family(o, "wpool_serve_connections_max", "gauge",
                 "The cap on client connections (--max-connections; 0: none).");
  sbuf_printf(o, "wpool_serve_connections_max %u\n", s->cfg.max_connections);
  metrics_family(o, "wpool_serve_refused_at_cap_total", "counter",
                 "Requests answered 503 on connections accepted past the cap.");
  sbuf_printf(o, "wpool_serve_refused_at_cap_total %llu\n", (unsigned long long)refused);
  metrics_family(o, "wpool_serve_buffered_bytes", "gauge",
                 "Bytes allocated by the connections' buffers (requests, parked input, "
                 "responses).");
  sbuf_printf(o, "wpool_serve_buffered_bytes %llu\n", (unsigned long long)buffered);
  /* Per worker: how the listener spreads connections, and what runs. */
  metrics_family(o, "wpool_serve_worker_connections_open", "gauge",
                 "Client connections open now on each worker.");
  for (unsigned i = 0; i < s->nworkers; i++)
    sbuf_printf(o, "wpool_serve_worker_connections_open{worker=\"%u\"} %llu\n", i,
                (unsigned long long)get(&s->workers[i].metrics->connections_open));
  metrics_family(o, "wpool_serve_worker_request_seconds", "gauge",
                 "How long each worker's running request has run (0: none; the answering "
                 "worker's own is this one).");
  uint64_t now = uv_hrtime() / 1000000u;
  for (unsigned i = 0; i < s->nworkers; i++) {
    uint64_t since = atomic_load_explicit(&s->workers[i].busy_since, memory_order_relaxed);
    sbuf_printf(o, "wpool_serve_worker_request_seconds{worker=\"%u\"} %.3f\n", i,
                since && now + 1 > since ? (double)(now + 1 - since) / 1000 : 0.0);
  }
  if (mh->hook) mh->hook(mh->hook_arg, o);
  return o->p != NULL;
}

/* Per worker: the exposition's buffer, reused. */
/* The reserve connections past max_connections answer /metrics too. */
static void *metrics_worker_init(srv_handler_t *h, unsigned worker) {
  (void)h;
  (void)worker;
  return calloc(1, sizeof(sbuf_t));
}

static void metrics_worker_free(srv_handler_t *h, void *state) {
  (void)h;
  sbuf_free(state);
  free(state);
}

static void metrics_on_request(srv_handler_t *h, const srv_request_t *q, srv_response_t *r) {
  metrics_handler_t *mh = (metrics_handler_t *)h;
  if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
    *r = (srv_response_t){.status = 405,
                          .head = "Allow: GET, HEAD\r\nContent-Type: text/plain\r\n",
                          .body = "/metrics answers GET and HEAD\n"};
  } else if (!metrics_expose(mh, q->state)) {
    *r = (srv_response_t){
        .status = 500, .head = "Content-Type: text/plain\r\n", .body = "out of memory\n"};
  } else {
    sbuf_t *o = q->state;
    *r = (srv_response_t){.status = 200,
                          .head = "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n",
                          .body = o->p,
                          .body_len = o->len};
  }
  r->head_len = strlen(r->head);
  if (r->status != 200) r->body_len = strlen(r->body);
}

void metrics_handler_init(metrics_handler_t *mh, const srv_t *srv,
                          void (*hook)(void *arg, sbuf_t *out), void *hook_arg) {
  *mh = (metrics_handler_t){.h = {.name = "metrics",
                                  .reserve = true,
                                  .on_request = metrics_on_request,
                                  .worker_init = metrics_worker_init,
                                  .worker_free = metrics_worker_free},
                            .srv = srv,
                            .hook = hook,
                            .hook_arg = hook_arg};
}
