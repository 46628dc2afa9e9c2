/* /metrics' WAGI part (wagi.h's wagi_metrics): the set-up, the
 * runtime's counters (wrt_stats_get) and each figure of the pool's
 * statistics (wpool_stats_get). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "wagi.h"
#include "wagi_table.h"

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
    G(keep_window,
      "Clean reads in a row (one free in 16 reads a kept page) before it is given back."),
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

void wagi_metrics(void *arg, sbuf_t *o) {
  wagi_t *s = arg;
  metrics_family(o, "wpool_serve_info", "gauge", "The server's set-up.");
  pthread_mutex_lock(&s->routes->lock);
  const wagi_table_t *t = atomic_load(&s->routes->current);
  size_t nmodules = t ? t->n : 0;
  pthread_mutex_unlock(&s->routes->lock);
  sbuf_printf(o, "wpool_serve_info{runtime=\"%s\",threads=\"%u\",modules=\"%zu\"} 1\n",
              wrt_backend_name(wrt_backend(s->rt)), s->threads, nmodules);
  wagi_routes_metrics(s->routes, o);

  wrt_stats_t rs;
  wrt_stats_get(s->rt, &rs);
  metrics_family(o, "wpool_runtime_requests_total", "counter",
                 "Guest runs (wrt_run calls that ran).");
  sbuf_printf(o, "wpool_runtime_requests_total %llu\n", (unsigned long long)rs.requests);
  metrics_family(o, "wpool_runtime_traps_total", "counter", "Guest runs ended by a trap (timeouts included).");
  sbuf_printf(o, "wpool_runtime_traps_total %llu\n", (unsigned long long)rs.traps);
  metrics_family(o, "wpool_runtime_nonzero_exits_total", "counter",
                 "Guest runs with a non-zero exit.");
  sbuf_printf(o, "wpool_runtime_nonzero_exits_total %llu\n", (unsigned long long)rs.nonzero_exits);
  metrics_family(o, "wpool_runtime_exhausted_total", "counter",
                 "Requests refused: every slot in use.");
  sbuf_printf(o, "wpool_runtime_exhausted_total %llu\n", (unsigned long long)rs.exhausted);
  metrics_family(o, "wpool_runtime_timeouts_total", "counter",
                 "Guest runs stopped at their time limit (504).");
  sbuf_printf(o, "wpool_runtime_timeouts_total %llu\n", (unsigned long long)rs.timeouts);

  wpool_t *pool = wrt_pool(s->rt);
  if (pool) {
    wpool_stats_t st;
    wpool_stats_get(pool, &st);
    for (size_t i = 0; i < sizeof(pool_fields) / sizeof(pool_fields[0]); i++) {
      const pool_field_t *f = &pool_fields[i];
      char name[96];
      snprintf(name, sizeof(name), "wpool_pool_%s%s", f->name, f->counter ? "_total" : "");
      metrics_family(o, name, f->counter ? "counter" : "gauge", f->help);
      uint64_t v;
      memcpy(&v, (const char *)&st + f->off, sizeof(v));
      sbuf_printf(o, "%s %llu\n", name, (unsigned long long)v);
    }
    metrics_family(o, "wpool_pool_reset_strategy", "gauge", "The reset strategy in effect.");
    sbuf_printf(o, "wpool_pool_reset_strategy{strategy=\"%s\"} 1\n",
                st.reset_strategy == WPOOL_RESET_DIRTY ? "dirty" : "prefix");
  }
}
