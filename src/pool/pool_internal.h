/* The pool: four reservations (memories, tables, instance state, stacks)
 * cut into fixed slots, the index allocators that hand the slots out, and
 * the module registry. docs/architecture.md draws the layout.
 *
 * Locks, from outer to inner: module_lock (module ids and the module
 * list; never held on the instance paths), then each index's spin lock.
 * Slot contents (memslots, table sizes, instance records) have no lock:
 * the index allocator gives one holder at a time. */
#ifndef WPOOL_POOL_INTERNAL_H
#define WPOOL_POOL_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "index/index.h"
#include "memory/counters.h"
#include "memory/image.h"
#include "memory/memslot.h"
#include "wpool.h"

/* Sizes derived from a validated config; bytes, page multiples. */
typedef struct layout {
  uint64_t page;
  uint64_t mem_reservation; /* per memory slot, before its guard */
  uint64_t mem_guard;       /* after each memory slot */
  uint64_t mem_slot_size;   /* reservation + guard */
  uint64_t mem_pre_guard;   /* before the first memory slot */
  uint64_t mem_slots;       /* instance_count * instance_memories */
  uint64_t mem_pool_bytes;
  uint64_t table_slot_size; /* instance_table_elements pointers */
  uint64_t table_slots;
  uint64_t table_pool_bytes;
  uint64_t state_slot_size; /* instance_size */
  uint64_t state_pool_bytes;
  uint64_t stack_usable;    /* async_stack_size */
  uint64_t stack_slot_size; /* guard page + usable */
  uint64_t stack_pool_bytes;
  uint64_t total_bytes;     /* all four pools */
  uint64_t keep_memory;     /* linear_memory_keep_resident */
  uint64_t keep_table;      /* table_keep_resident */
  uint64_t keep_stack;      /* async_stack_keep_resident, <= stack_usable */
} layout_t;

/* Validate `cfg` and derive the layout. Return: 0 or WPOOL_EINVAL with the
 * field and value in wpool_last_error(). */
int config_validate(const wpool_config_t *cfg, layout_t *out);

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
  uint32_t id; /* dense id in the pool's index allocator */
  /* One reference for the module handle (dropped by release) and one per
   * live instance; the last drop destroys the module. */
  _Atomic uint32_t refs;
  _Atomic bool released;
  size_t state_size;
  uint32_t nmemories, ntables;
  mod_memory_t *memories;
  mod_table_t *tables;
  struct wpool_module_s *prev, *next; /* the pool's module list; module_lock */
};

struct wpool_instance_s {
  wpool_t *pool;
  wpool_module_t *module; /* NULL while the slot is unused */
  uint32_t slot;
  uint64_t kept;     /* bytes left resident by the last reset; 0 once trimmed */
  uint64_t freed_ns; /* CLOCK_MONOTONIC time of the last free */
  bool trimmed;      /* trimmed since the last free */
  /* Set (under the index lock) while wpool_trim works on this unused slot;
   * whoever takes the slot next waits for it to clear (slot_wait_trim). */
  _Atomic bool trimming;
};

/* A freed slot waiting in the decommit queue: its ranges to madvise and the
 * module whose reference it still holds. */
#define PENDING_RANGES 16
typedef struct pending {
  decommit_range_t r[PENDING_RANGES];
  uint32_t n;
  wpool_module_t *module;
} pending_t;

/* Wait until no trim works on `inst`'s slot; acquire what it wrote. */
static inline void slot_wait_trim(struct wpool_instance_s *inst) {
  while (atomic_load_explicit(&inst->trimming, memory_order_acquire)) sched_yield();
}

struct wpool_stack_s {
  wpool_t *pool;
  uint32_t slot;
  bool live;
};

struct wpool_s {
  wpool_config_t cfg;
  layout_t layout;
  memslot_ctx_t mem_ctx;

  index_t index;       /* instance slots */
  index_t stack_index; /* stacks: no affinity, N = 0 */

  uint8_t *mem_map, *table_map, *state_map, *stack_map; /* each pool's mapping */
  memslot_t *memslots;                /* [mem_slots] */
  uint32_t *table_sizes;              /* [table_slots] elements in use */
  struct wpool_instance_s *instances; /* [instance_count] */
  struct wpool_stack_s *stacks;       /* [stack_count] */

  pthread_mutex_t module_lock;
  uint32_t *free_ids; /* recycled module ids (a stack); module_lock */
  uint32_t nfree_ids, next_id;
  wpool_module_t *modules; /* not yet destroyed; module_lock */

  mem_counters_t mem_counters;
  dirty_scanner_t scanner;

  pthread_mutex_t queue_lock; /* the decommit queue */
  uint32_t *queue;            /* [instance_count] slots waiting; queue_lock */
  uint32_t queued;            /* queue_lock */
  pending_t *pending;         /* [instance_count], owned by the slot's queuer/flusher */
  _Atomic uint64_t queued_slots;

  void *background;                  /* the worker's state (background.c); NULL: none */
  _Atomic uint64_t background_pending; /* freed slots the worker has not returned yet */
  wpool_reset_strategy_t reset_strategy; /* in effect: PREFIX or DIRTY */
  _Atomic uint64_t live_instances, live_stacks, live_modules;
  _Atomic uint64_t kept_resident_bytes;
  _Atomic uint64_t instances_created, slots_drained;
  _Atomic uint64_t slots_trimmed, trimmed_bytes;
};

/* An empty batch of ranges to give back, for this pool: issued on the
 * pool's own pidfd, counted in its counters, a refused range reset by
 * hand. */
static inline decommit_batch_t pool_decommit_batch(wpool_t *p) {
  return (decommit_batch_t){
      .self = &p->scanner, .counters = &p->mem_counters, .on_fail = memslot_restore_range};
}

/* Slot addresses. */
static inline uint8_t *pool_memory_base(const wpool_t *p, uint32_t slot, uint32_t m) {
  uint64_t i = (uint64_t)slot * p->cfg.instance_memories + m;
  return p->mem_map + p->layout.mem_pre_guard + i * p->layout.mem_slot_size;
}
static inline memslot_t *pool_memslot(const wpool_t *p, uint32_t slot, uint32_t m) {
  return &p->memslots[(uint64_t)slot * p->cfg.instance_memories + m];
}
static inline void **pool_table_base(const wpool_t *p, uint32_t slot, uint32_t t) {
  uint64_t i = (uint64_t)slot * p->cfg.instance_tables + t;
  return (void **)(p->table_map + i * p->layout.table_slot_size);
}
static inline uint32_t *pool_table_size(const wpool_t *p, uint32_t slot, uint32_t t) {
  return &p->table_sizes[(uint64_t)slot * p->cfg.instance_tables + t];
}

/* The decommit queue (instance.c): issue every queued slot's ranges and
 * return the slots. */
void pool_flush_queue(wpool_t *p);

/* Reset a freed slot's memories, tables and state (ranges to madvise go to
 * `batch`), and return slots whose pending[] ranges and module are set
 * (instance.c). */
void instance_reset_slot(wpool_t *p, uint32_t slot, wpool_module_t *m, decommit_batch_t *batch);
void instance_return_slots(wpool_t *p, const uint32_t *slots, uint32_t n);

/* The background reset worker (background.c; libuv threads). start: 0,
 * or WPOOL_ENOTSUP without libuv, WPOOL_ESYS. queue: hand a freed slot to
 * the worker. wait: block until the worker finishes a round or `deadline`
 * (CLOCK_MONOTONIC ns) passes; false when nothing is pending or the time is
 * up. stop: finish every queued reset and end the worker. */
int background_start(wpool_t *p);
void background_queue(wpool_t *p, uint32_t slot, wpool_module_t *m);
bool background_wait(wpool_t *p, uint64_t deadline_ns);
void background_stop(wpool_t *p);
/* Tests only: hold the worker (it finishes its round first) or let it go.
 * A stop ends a pause. */
void background_pause(wpool_t *p, bool paused);

/* Module lifetime (module.c). */
void module_unref(wpool_module_t *m);
/* Drain free slots affine to `m`: their images unmapped, affinity cleared. */
void module_drain(wpool_module_t *m);

/* Trim unused slots freed at or before now_ns - idle_ns (trim.c). Time is a
 * parameter so that tests own the clock. Return the slots trimmed. */
uint64_t pool_trim_at(wpool_t *p, uint64_t now_ns, uint64_t idle_ns);
uint64_t pool_now_ns(void);

/* Return an instance slot's memories to their cold state (instance.c). */
void instance_slot_unmap_images(wpool_t *p, uint32_t slot);

#endif
