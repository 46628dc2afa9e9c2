/* The pool's records: the pool, modules, instance slots, stacks, and the
 * slots in transit back to the index. Records and addresses only; the
 * functions live one floor up, each in its own file:
 *
 *   pool.c (create, destroy, stats)                        the roof
 *   instance.c  stack.c  trim.c  uv_trim.c                 public calls
 *   recycle.c   (a freed slot's way back: at once, batched, background)
 *   module.c    (limits, images, ids, the module-drop hook)
 *   slot.c      (one instance slot: prepare, reset, trim, unmap images)
 *   check.c     (pool_is_valid)   lookup.c (wpool_fault_lookup)
 *   config.c -> layout.c
 *   ----------------------------------------------------------------
 *   src/memory/ (mappings)   src/index/ (slot policy)   src/util/
 *
 * Each floor calls only floors below it.
 *
 * Locks, outermost first; none is held across a system call:
 *   module_lock           module ids and the module list (module.c)
 *   index.lock            each index allocator's spin lock (src/index/)
 *   recycle.queue_lock    the decommit queue (recycle.c)
 *   worker lock           the background worker's queue (recycle.c)
 * Slot contents (memslots, table sizes, instance records) have no lock:
 * the index allocator gives each slot one holder at a time, and a slot in
 * transit is held by whoever carries it back. */
#ifndef WPOOL_POOL_TYPES_H
#define WPOOL_POOL_TYPES_H

#include <pthread.h>
#include <stdatomic.h>

#include "index/index.h"
#include "memory/counters.h"
#include "memory/decommit.h"
#include "memory/dirty.h"
#include "memory/image.h"
#include "memory/keep.h"
#include "memory/memslot.h"
#include "memory/proof.h"
#include "pool/layout.h"
#include "util/debug.h"
#include "wpool.h"

typedef struct mod_memory {
  uint64_t min_bytes; /* min_pages * 64 KiB */
  uint64_t max_pages; /* effective: min(module max, instance_memory_pages) */
  image_t *image;     /* NULL: no data */
} mod_memory_t;

typedef struct mod_table {
  uint32_t min_elements;
  uint32_t max_elements; /* effective: min(module max, instance_table_elements) */
} mod_table_t;

struct wpool_module_s {
  wpool_t *pool;
  uint32_t id;     /* dense id in the pool's index allocator (recycled) */
  uint64_t serial; /* never reused: whose pages a slot keeps */
  /* One reference for the module handle (dropped by release) and one per
   * live or in-transit instance; the last drop destroys the module. */
  _Atomic uint32_t refs;
  _Atomic bool released;
  size_t state_size;
  uint32_t nmemories, ntables;
  mod_memory_t *memories; /* [nmemories] */
  mod_table_t *tables;    /* [ntables] */
  struct wpool_module_s *prev, *next; /* the pool's module list; module_lock */
};

/* Bytes a reset left resident in place, by kind. */
typedef struct kept {
  uint64_t memory, table, state;
} kept_t;

static inline uint64_t kept_total(kept_t k) { return k.memory + k.table + k.state; }

/* One instance slot's record; the handle a runtime holds is its address. */
struct wpool_instance_s {
  wpool_t *pool;
  /* The tenant's module; NULL while the slot is unused. Written by the
   * holder with release order (instance.c), read by wpool_fault_lookup
   * with acquire from any thread. */
  _Atomic(wpool_module_t *) module;
  uint64_t owner;         /* serial of the module whose pages the slot keeps; 0: none */
  uint32_t slot;
  /* Memories and tables [0, n) some tenant of the slot had: the records
   * past them were never written (pool/meta.h), nor are they visited. */
  uint32_t memories_used, tables_used;
  kept_t kept;       /* bytes left resident by the last reset; 0 once trimmed */
  proof_mark_t proof; /* the process's counts when the slot's last reset began */
  uint64_t freed_ns; /* CLOCK_MONOTONIC time of the last free */
  bool trimmed;      /* trimmed since the last free */
  /* Set (under the index lock) while wpool_trim works on this unused slot;
   * whoever takes the slot next waits for it to clear (slot_wait_trim). */
  _Atomic bool trimming;
};

/* Ranges one freed slot can carry to a batched decommit; a reset needing
 * more gives its pages back at once instead. */
#define TRANSIT_RANGES_MAX 16

/* A freed slot waiting for its batched decommit (recycle.c): the ranges
 * still to give back, and the module whose reference it holds. One per
 * slot; owned by whoever carries the slot (the queue's flusher). */
typedef struct transit {
  decommit_range_t r[TRANSIT_RANGES_MAX];
  uint32_t n;
  wpool_module_t *module;
} transit_t;

/* A freed slot queued for the background worker, with its module's
 * reference and the time of its free. */
typedef struct recycle_pending {
  uint32_t slot;
  wpool_module_t *module;
  uint64_t freed_ns;
} recycle_pending_t;

/* How freed slots get back (recycle.c). */
typedef struct recycle {
  pthread_mutex_t queue_lock;
  uint32_t queue[WPOOL_DECOMMIT_BATCH_MAX]; /* slots waiting; queue_lock */
  uint32_t queued;             /* queue_lock */
  _Atomic uint64_t queued_slots; /* `queued`, readable without the lock */
  transit_t *transit;          /* [instance_count] when decommit_batch_size > 1, else NULL */
  void *worker;                /* the background worker; NULL: none */
  _Atomic uint64_t background_pending; /* slots the worker has not returned yet */
} recycle_t;

struct wpool_stack_s {
  wpool_t *pool;
  uint32_t slot;
  bool live;
  uint64_t kept; /* bytes its zeroing left resident while it is free */
};

struct wpool_s {
  wpool_config_t cfg;
  layout_t layout;
  wpool_reset_strategy_t reset_strategy; /* in effect: PREFIX or DIRTY */
  bool stack_guard_markers; /* stack guards are MADV_GUARD_INSTALL markers, not mappings */

  index_t index;       /* instance slots */
  index_t stack_index; /* stacks: no affinity, N = 0 */

  uint8_t *mem_map, *table_map, *state_map, *stack_map; /* each pool's mapping */
  /* Records per slot (pool/meta.h): zero pages until a slot is first used
   * (slot.c writes its records then), so only [0, index_touched()) of each
   * is ever read. */
  memslot_t *memslots;                /* [layout.mem_slots] */
  uint32_t *table_sizes;              /* [layout.table_slots] elements in use */
  keep_marks_t *table_kept;           /* [layout.table_slots] kept pages (auto), or NULL */
  uint8_t *keep_bytes;                /* the kept-page marks of memslots and tables */
  uint32_t keep_memory_pages;         /* marks per memory slot (0: none) */
  uint32_t keep_table_pages;          /* marks per table slot (0: none) */
  _Atomic uint64_t next_serial;       /* module serials */
  struct wpool_instance_s *instances; /* [instance_count] */
  struct wpool_stack_s *stacks;       /* [stack_count] */

  mem_counters_t mem_counters;
  memslot_ctx_t mem_ctx;   /* reservation, keep budget, scanner (DIRTY) */
  dirty_scanner_t scanner; /* PAGEMAP_SCAN */
  decommit_ctx_t decommit; /* our pidfd for batched madvise */
  proof_rate_t proof_rate; /* how often resets needed no scan (proof.h) */
  keep_estimate_t zeros;   /* what zeroing a page costs its resets (costs.h) */
  recycle_t recycle;

  pthread_mutex_t module_lock;
  uint32_t *free_ids; /* recycled module ids (a stack); module_lock */
  uint32_t nfree_ids, next_id;
  wpool_module_t *modules; /* not yet destroyed; module_lock */

  _Atomic uint64_t live_instances, live_stacks, live_modules;
  _Atomic uint64_t memories_live, tables_live; /* of live instances */
  /* Bytes kept resident in unused slots and stacks, by kind; their sum is
   * the kept_resident_bytes statistic. */
  _Atomic uint64_t kept_memory, kept_table, kept_state, kept_stack;
  _Atomic uint64_t instances_created, slots_drained;
  _Atomic uint64_t exhausted; /* WPOOL_EEXHAUSTED returns, instances and stacks */
  _Atomic uint64_t slots_trimmed, trimmed_bytes;
#if WPOOL_DEBUG >= 3
  /* Public calls that change the pool hold it shared; pool_is_valid runs
   * after them only when it can take it exclusively (check.c). */
  pthread_rwlock_t check_lock;
#endif
};

/* Slot addresses. */
static inline uint8_t *pool_memory_base(const wpool_t *p, uint32_t slot, uint32_t m) {
  uint64_t i = (uint64_t)slot * p->cfg.instance_memories + m;
  return p->mem_map + p->layout.mem_pre_guard + i * p->layout.mem_slot_size;
}
static inline memslot_t *pool_memslot(const wpool_t *p, uint32_t slot, uint32_t m) {
  return &p->memslots[(uint64_t)slot * p->cfg.instance_memories + m];
}
static inline uint8_t *pool_table_base(const wpool_t *p, uint32_t slot, uint32_t t) {
  uint64_t i = (uint64_t)slot * p->cfg.instance_tables + t;
  return p->table_map + i * p->layout.table_slot_size;
}
static inline uint32_t *pool_table_size(const wpool_t *p, uint32_t slot, uint32_t t) {
  return &p->table_sizes[(uint64_t)slot * p->cfg.instance_tables + t];
}
static inline uint8_t *pool_state_base(const wpool_t *p, uint32_t slot) {
  return p->state_map + (uint64_t)slot * p->layout.state_slot_size;
}
static inline uint8_t *pool_stack_bottom(const wpool_t *p, uint32_t slot) {
  return p->stack_map + (uint64_t)slot * p->layout.stack_slot_size + p->layout.page;
}

#endif
