/* Slot index allocator: which slot an instance gets.
 *
 * The policy (Wasmtime's, seeds 000/002/003), with N = max_unused_warm:
 *   1. the most recently freed slot affine to the requesting module;
 *   2. else, while warm_count < N: the lowest never-used (cold) slot,
 *      falling back to the least recently freed warm slot;
 *   3. else: the least recently freed warm slot, falling back to a cold one.
 * Every operation is O(1): no scan over slots or modules. Module ids are
 * dense small integers handed out by the caller, so the affine lists are an
 * array indexed by module id, not a hash table.
 *
 * Memory: all per-slot metadata (INDEX_SLOT_BYTES a slot) is allocated by
 * index_init(), committed as slots are first taken (lowest first): a slot
 * never taken costs no memory. The per-module list heads grow only in
 * index_reserve_modules() (called when a module is created). index_alloc(),
 * index_free() and index_clear() never allocate.
 *
 * Thread safety: every function except init/destroy takes the index's lock,
 * a spin lock: no section is longer than a few list operations.
 * index_reserve_modules() allocates and initialises a new segment of list
 * heads outside the lock and takes it only to publish the segment.
 */
#ifndef WPOOL_INDEX_H
#define WPOOL_INDEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/lock.h"

/* "No slot" and "no module". Slot ids and module ids are < INDEX_NONE. */
#define INDEX_NONE UINT32_MAX

/* The per-module list heads live in segments that never move: segment k
 * holds INDEX_SEG0 << k heads, so 29 of them cover every module id. */
#define INDEX_SEG0 16u
#define INDEX_SEGS 29

/* The maximum slot count: ids must stay below INDEX_NONE. */
#define INDEX_MAX_SLOTS (INDEX_NONE - 1)

typedef enum index_slot_state {
  SLOT_COLD = 0, /* never allocated; exactly the ids >= next_cold */
  SLOT_USED = 1, /* allocated; affinity[] says for which module (or none) */
  SLOT_WARM = 2, /* freed; on the warm list, and on affine[affinity] if any */
} index_slot_state_t;

/* A doubly linked list of slot ids; links live in per-slot arrays. */
typedef struct index_list {
  uint32_t head; /* least recently freed, INDEX_NONE when empty */
  uint32_t tail; /* most recently freed */
} index_list_t;

typedef struct index_link {
  uint32_t prev;
  uint32_t next;
} index_link_t;

/* What index_alloc() did, for statistics and for the pool's bookkeeping. */
typedef enum index_pick {
  INDEX_PICK_NONE = 0,   /* every slot is in use */
  INDEX_PICK_AFFINE = 1, /* a warm slot affine to the module (rule 1) */
  INDEX_PICK_COLD = 2,   /* a never-used slot */
  INDEX_PICK_WARM = 3,   /* a warm slot evicted from another affinity */
} index_pick_t;

/* Cumulative counters, protected by the lock. */
typedef struct index_counters {
  uint64_t allocs;        /* successful index_alloc() calls */
  uint64_t affine_hits;   /* ... that took a slot affine to their module */
  uint64_t affine_misses; /* ... with a module that found no affine slot */
  uint64_t exhausted;     /* index_alloc() calls that found no slot */
  uint64_t frees;
  uint64_t clears; /* slots taken by index_clear() */
  uint32_t peak_warm;
} index_counters_t;

typedef struct index {
  spin_lock_t lock; /* short sections only: see util/lock.h */
  /* Fields below are protected by lock; sizes are slot counts. */
  uint32_t capacity;        /* number of slots; constant */
  uint32_t max_unused_warm; /* N of the policy; constant */
  uint32_t next_cold;       /* lowest cold slot id; capacity when none */
  uint32_t warm_count;      /* length of the warm list */
  uint32_t used_count;      /* slots in SLOT_USED */
  index_list_t warm;        /* every warm slot, in order of freeing */
  uint8_t *state;           /* [capacity] index_slot_state_t */
  uint32_t *affinity;       /* [capacity] module id or INDEX_NONE */
  index_link_t *warm_link;  /* [capacity] links on the warm list */
  index_link_t *affine_link; /* [capacity] links on affine[affinity] */
  /* Warm slots affine to each module: module m's list is in segment
   * floor(log2(m / INDEX_SEG0 + 1)) (index_affine()); segments [0, nsegs)
   * exist. Segments never move: growing adds one. */
  index_list_t *affine[INDEX_SEGS];
  _Atomic uint32_t nsegs;   /* written under the lock; growing reads it without */
  uint32_t module_cap;      /* module ids < module_cap are valid */
  index_counters_t counters;
} index_t;

/* Create an index of `capacity` slots, all cold, with policy N =
 * `max_unused_warm`. Return: 0, or -ENOMEM / -EINVAL (capacity too big). */
int index_init(index_t *ix, uint32_t capacity, uint32_t max_unused_warm);
void index_destroy(index_t *ix);

/* Make module ids [0, nmodules) valid. May allocate, outside the lock;
 * O(nmodules) when it grows (amortised: each new segment doubles the
 * capacity), never a copy. Return: 0 or -ENOMEM. */
int index_reserve_modules(index_t *ix, uint32_t nmodules);

/* Take a slot for `module` (INDEX_NONE for no module) by the policy.
 * Return: the slot id, or INDEX_NONE when every slot is in use. `pick`,
 * when not NULL, receives which rule chose the slot. */
uint32_t index_alloc(index_t *ix, uint32_t module, index_pick_t *pick);

/* Return a used slot: it becomes warm, most recently freed, and affine to
 * the module it was allocated for. */
void index_free(index_t *ix, uint32_t slot);

/* Like index_free(), but the slot keeps no affinity (its module is gone). */
void index_free_unaffine(index_t *ix, uint32_t slot);

/* Take the most recently freed warm slot affine to `module` and mark it used
 * with no affinity. Return: the slot id, or INDEX_NONE when there is none.
 * The module-drop hook calls this until INDEX_NONE to drain a module. */
uint32_t index_clear(index_t *ix, uint32_t module);

/* Bytes of metadata per slot: its state, affinity and two links. */
#define INDEX_SLOT_BYTES (sizeof(uint8_t) + sizeof(uint32_t) + 2 * sizeof(index_link_t))

/* Slots ever taken: exactly [0, index_touched()); the rest are cold and
 * their records untouched. O(1). */
uint32_t index_touched(index_t *ix);

/* Read consistent copies of the counters and gauges. */
void index_counters(index_t *ix, index_counters_t *out, uint32_t *warm,
                    uint32_t *cold, uint32_t *used);

/* The state of `slot` (< capacity); O(1). */
index_slot_state_t index_slot_state(index_t *ix, uint32_t slot);

/* Whether some warm slot is affine to `module`; O(1). */
bool index_has_affine(index_t *ix, uint32_t module);

/* Visit warm slots from the least recently freed on, under the lock, until
 * `fn` returns false or the list ends. `fn` must be short and must not call
 * back into the index. O(slots visited). */
void index_walk_warm(index_t *ix, bool (*fn)(void *ctx, uint32_t slot), void *ctx);

/* Check every invariant; O(capacity + module_cap). Takes the lock. */
bool index_is_valid(index_t *ix);

#endif /* WPOOL_INDEX_H */
