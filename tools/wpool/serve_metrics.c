/* `wpool serve`'s /metrics: Prometheus text exposition (version 0.0.4) of
 * the requests by status, a latency histogram, the connections, the
 * runtime's counters and the pool's statistics (docs/serve.md). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "serve.h"

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

typedef struct pool_field {
  const char *name;
  size_t off;
  bool counter;
  const char *help;
} pool_field_t;

#define G(f, h) \
  { #f, offsetof(wpool_stats_t, f), false, h }
#define C(f, h) \
  { #f, offsetof(wpool_stats_t, f), true, h }
static const pool_field_t pool_fields[] = {
    G(live_instances, "Instances allocated now."),
    G(live_stacks, "Async stacks allocated now."),
    G(live_modules, "Modules registered with the pool."),
    G(warm_slots, "Unused instance slots used before."),
    G(cold_slots, "Instance slots never used."),
    G(kept_resident_bytes, "Bytes reset in place in unused slots and stacks (resident)."),
    G(memory_kept_resident_bytes, "kept_resident_bytes of linear memories."),
    G(table_kept_resident_bytes, "kept_resident_bytes of tables."),
    G(state_kept_resident_bytes, "kept_resident_bytes of instance state."),
    G(stack_kept_resident_bytes, "kept_resident_bytes of async stacks."),
    G(images_live, "Copy-on-write images not yet closed."),
    G(heap_bytes, "The library's own heap."),
    G(reserved_bytes, "Address space reserved by the pool."),
    G(queued_slots, "Freed slots waiting for their batched decommit."),
    G(background_pending, "Freed slots the background worker has not returned yet."),
    G(memories_live, "Linear memories of live instances."),
    G(tables_live, "Tables of live instances."),
    G(stacks_warm, "Unused stacks used before."),
    G(keep_fault_ns, "Measured cost of faulting a page in, ns."),
    G(keep_check_ns, "Measured cost of checking a kept page, ns."),
    G(keep_memset_ns, "Measured cost of zeroing a page, ns."),
    G(keep_window, "Clean reads in a row (one free in 16 reads a kept page) before it is given back."),
    G(keep_shrink_ns, "Learnt cost of making a kept page inaccessible again, ns per page."),
    C(instances_created, "Instances allocated."),
    C(affine_hits, "Instance slots found affine to their module."),
    C(affine_misses, "Instance slots not affine to their module."),
    C(exhausted, "Allocations refused because every slot was in use."),
    C(image_maps, "Images mapped into a slot."),
    C(image_unmaps, "Images removed from a slot."),
    C(madvise_calls, "madvise calls."),
    C(madvise_bytes, "Bytes given back by madvise."),
    C(memset_bytes, "Bytes reset in place."),
    C(mprotect_calls, "mprotect calls."),
    C(slots_drained, "Free slots cleared by module release."),
    C(dirty_scans, "Memories and tables walked by PAGEMAP_SCAN on free."),
    C(dirty_bytes, "Private bytes those walks found."),
    C(slots_trimmed, "Slots whose pages wpool_trim gave back."),
    C(trimmed_bytes, "Kept-resident bytes wpool_trim released."),
    C(madvise_refused_bytes, "Bytes the kernel refused to give back."),
    C(keep_dropped_bytes, "Kept pages given back as no longer needed."),
    C(module_moves, "Slots that gave back another module's kept pages."),
};

static void family(sbuf_t *o, const char *name, const char *type, const char *help) {
  sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

bool metrics_expose(const server_t *s, sbuf_t *o) {
  o->len = 0;
  /* Requests by status, summed over the workers. */
  family(o, "wpool_serve_requests_total", "counter", "Requests answered, by status code.");
  for (int code = 0; code < METRIC_CODES; code++) {
    uint64_t n = 0;
    for (unsigned i = 0; i < s->nworkers; i++) n += get(&s->workers[i].metrics->by_code[code]);
    if (n)
      sbuf_printf(o, "wpool_serve_requests_total{code=\"%d\"} %llu\n", code, (unsigned long long)n);
  }
  family(o, "wpool_serve_request_duration_seconds", "histogram",
         "From a request's first byte to its answer handed to the kernel.");
  uint64_t cum = 0, sum_ns = 0;
  for (int b = 0; b <= METRIC_BUCKETS; b++) {
    for (unsigned i = 0; i < s->nworkers; i++) cum += get(&s->workers[i].metrics->bucket[b]);
    if (b < METRIC_BUCKETS)
      sbuf_printf(o, "wpool_serve_request_duration_seconds_bucket{le=\"%s\"} %llu\n", labels[b],
                  (unsigned long long)cum);
    else
      sbuf_printf(o, "wpool_serve_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                  (unsigned long long)cum);
  }
  for (unsigned i = 0; i < s->nworkers; i++) sum_ns += get(&s->workers[i].metrics->latency_ns_sum);
  sbuf_printf(o, "wpool_serve_request_duration_seconds_sum %.9f\n", (double)sum_ns / 1e9);
  sbuf_printf(o, "wpool_serve_request_duration_seconds_count %llu\n", (unsigned long long)cum);
  uint64_t open = 0, total = 0, receiving = 0;
  for (unsigned i = 0; i < s->nworkers; i++) {
    open += get(&s->workers[i].metrics->connections_open);
    total += get(&s->workers[i].metrics->connections_total);
    receiving += get(&s->workers[i].metrics->receiving);
  }
  family(o, "wpool_serve_requests_receiving", "gauge",
         "Requests begun whose bytes are still arriving.");
  sbuf_printf(o, "wpool_serve_requests_receiving %llu\n", (unsigned long long)receiving);
  family(o, "wpool_serve_connections_open", "gauge", "Client connections open now.");
  sbuf_printf(o, "wpool_serve_connections_open %llu\n", (unsigned long long)open);
  family(o, "wpool_serve_connections_total", "counter", "Client connections accepted.");
  sbuf_printf(o, "wpool_serve_connections_total %llu\n", (unsigned long long)total);
  family(o, "wpool_serve_info", "gauge", "The server's set-up.");
  sbuf_printf(o, "wpool_serve_info{runtime=\"%s\",threads=\"%u\",modules=\"%zu\"} 1\n",
              wrt_backend_name(wrt_backend(s->rt)), s->nworkers, s->nroutes);

  wrt_stats_t rs;
  wrt_stats_get(s->rt, &rs);
  family(o, "wpool_runtime_requests_total", "counter", "Guest runs (wrt_run calls that ran).");
  sbuf_printf(o, "wpool_runtime_requests_total %llu\n", (unsigned long long)rs.requests);
  family(o, "wpool_runtime_traps_total", "counter", "Guest runs ended by a trap.");
  sbuf_printf(o, "wpool_runtime_traps_total %llu\n", (unsigned long long)rs.traps);
  family(o, "wpool_runtime_nonzero_exits_total", "counter", "Guest runs with a non-zero exit.");
  sbuf_printf(o, "wpool_runtime_nonzero_exits_total %llu\n", (unsigned long long)rs.nonzero_exits);
  family(o, "wpool_runtime_exhausted_total", "counter", "Requests refused: every slot in use.");
  sbuf_printf(o, "wpool_runtime_exhausted_total %llu\n", (unsigned long long)rs.exhausted);

  wpool_t *pool = wrt_pool(s->rt);
  if (pool) {
    wpool_stats_t st;
    wpool_stats_get(pool, &st);
    for (size_t i = 0; i < sizeof(pool_fields) / sizeof(pool_fields[0]); i++) {
      const pool_field_t *f = &pool_fields[i];
      char name[96];
      snprintf(name, sizeof(name), "wpool_pool_%s%s", f->name, f->counter ? "_total" : "");
      family(o, name, f->counter ? "counter" : "gauge", f->help);
      uint64_t v;
      memcpy(&v, (const char *)&st + f->off, sizeof(v));
      sbuf_printf(o, "%s %llu\n", name, (unsigned long long)v);
    }
    family(o, "wpool_pool_reset_strategy", "gauge", "The reset strategy in effect.");
    sbuf_printf(o, "wpool_pool_reset_strategy{strategy=\"%s\"} 1\n",
                st.reset_strategy == WPOOL_RESET_DIRTY ? "dirty" : "prefix");
  }
  return o->p != NULL;
}
