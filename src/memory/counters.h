/* Counters the memory layer bumps, owned by the pool (wpool_stats_t).
 * Relaxed atomics: they are statistics, not synchronisation. */
#ifndef WPOOL_COUNTERS_H
#define WPOOL_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct mem_counters {
  _Atomic uint64_t madvise_calls;
  _Atomic uint64_t madvise_bytes;
  _Atomic uint64_t memset_bytes;
  _Atomic uint64_t mprotect_calls;
  _Atomic uint64_t image_maps;
  _Atomic uint64_t image_unmaps;
  _Atomic uint64_t images_live; /* gauge */
  _Atomic uint64_t dirty_scans; /* PAGEMAP_SCAN walks of a memory */
  _Atomic uint64_t dirty_bytes; /* private bytes those walks found */
  _Atomic uint64_t madvise_refused_bytes; /* the kernel refused to give them back */
  _Atomic uint64_t keep_dropped_bytes; /* kept pages given back: not needed for a window */
  _Atomic uint64_t module_moves;  /* slots that gave back another module's pages */
} mem_counters_t;

#define COUNTER_ADD(c, field, v) atomic_fetch_add_explicit(&(c)->field, (v), memory_order_relaxed)
#define COUNTER_SUB(c, field, v) atomic_fetch_sub_explicit(&(c)->field, (v), memory_order_relaxed)
#define COUNTER_GET(c, field) atomic_load_explicit(&(c)->field, memory_order_relaxed)

#endif
