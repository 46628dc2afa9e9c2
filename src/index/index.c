/* Slot index allocator: slot states plus the warm and affine lists.
 * Never touches slot memory (that is src/memory/ and src/pool/).
 * Invariants, checked by index_is_valid():
 *   used_count + warm_count + (capacity - next_cold) == capacity
 *   state[s] == SLOT_COLD                 <=>  s >= next_cold
 *   (entries of slots >= next_cold are never written: zero pages)
 *   s on the warm list                    <=>  state[s] == SLOT_WARM
 *   s on affine[m]                        <=>  state[s] == SLOT_WARM && affinity[s] == m
 *   s on no list                          =>   both links of s are INDEX_NONE
 */
#include "index/index.h"

#include <errno.h>
#include <string.h>

#include "util/debug.h"
#include "util/heap.h"

static const index_link_t LINK_NONE = {INDEX_NONE, INDEX_NONE};

static void list_init(index_list_t *l) {
  l->head = INDEX_NONE;
  l->tail = INDEX_NONE;
}

/* Append `id`, on no list of this kind, as the most recently freed. */
static void list_append(index_list_t *l, index_link_t *links, uint32_t id) {
  debug_assert(links[id].prev == INDEX_NONE && links[id].next == INDEX_NONE && l->head != id);
  links[id].prev = l->tail;
  links[id].next = INDEX_NONE;
  if (l->tail != INDEX_NONE)
    links[l->tail].next = id;
  else
    l->head = id;
  l->tail = id;
}

/* Unlink `id`; leaves links[id] == LINK_NONE. */
static void list_remove(index_list_t *l, index_link_t *links, uint32_t id) {
  index_link_t k = links[id];
  debug_assert(k.prev != INDEX_NONE ? links[k.prev].next == id : l->head == id);
  debug_assert(k.next != INDEX_NONE ? links[k.next].prev == id : l->tail == id);
  if (k.next != INDEX_NONE)
    links[k.next].prev = k.prev;
  else
    l->tail = k.prev;
  if (k.prev != INDEX_NONE)
    links[k.prev].next = k.next;
  else
    l->head = k.next;
  links[id] = LINK_NONE;
}

/* Module m's list of warm affine slots: in segment k, whose INDEX_SEG0 << k
 * heads are ids [INDEX_SEG0 * (2^k - 1), INDEX_SEG0 * (2^(k+1) - 1)). */
static index_list_t *affine_list(const index_t *ix, uint32_t m) {
  uint64_t k = (uint64_t)m + INDEX_SEG0;
  unsigned seg = 63 - (unsigned)__builtin_clzll(k) - (unsigned)__builtin_ctz(INDEX_SEG0);
  return &ix->affine[seg][k - ((uint64_t)INDEX_SEG0 << seg)];
}

/* Module ids that `nsegs` segments hold. */
static uint32_t segs_cap(uint32_t nsegs) {
  uint64_t cap = (uint64_t)INDEX_SEG0 * ((1ull << nsegs) - 1);
  return cap < INDEX_NONE ? (uint32_t)cap : INDEX_NONE;
}

int index_init(index_t *ix, uint32_t capacity, uint32_t max_unused_warm) {
  memset(ix, 0, sizeof(*ix));
  if (capacity > INDEX_MAX_SLOTS) return -EINVAL;
  ix->capacity = capacity;
  ix->max_unused_warm = max_unused_warm;
  list_init(&ix->warm);
  /* Zero pages until a slot is first taken (take_cold_locked writes its
   * entries): SLOT_COLD is 0, and nothing reads a cold slot's other
   * entries. */
  ix->state = heap_array(capacity, sizeof(*ix->state));
  ix->affinity = heap_array(capacity, sizeof(*ix->affinity));
  ix->warm_link = heap_array(capacity, sizeof(*ix->warm_link));
  ix->affine_link = heap_array(capacity, sizeof(*ix->affine_link));
  spin_lock_init(&ix->lock);
  if (!ix->state || !ix->affinity || !ix->warm_link || !ix->affine_link) {
    index_destroy(ix);
    return -ENOMEM;
  }
  return 0;
}

void index_destroy(index_t *ix) {
  heap_array_free(ix->state, ix->capacity, sizeof(*ix->state));
  heap_array_free(ix->affinity, ix->capacity, sizeof(*ix->affinity));
  heap_array_free(ix->warm_link, ix->capacity, sizeof(*ix->warm_link));
  heap_array_free(ix->affine_link, ix->capacity, sizeof(*ix->affine_link));
  for (uint32_t k = 0; k < ix->nsegs; k++) heap_free(ix->affine[k]);
  memset(ix, 0, sizeof(*ix));
}

int index_reserve_modules(index_t *ix, uint32_t nmodules) {
  for (;;) {
    /* Segments only ever get added: a stale count costs segments made for
     * nothing, found out under the lock. */
    uint32_t have = atomic_load_explicit(&ix->nsegs, memory_order_acquire), want = have;
    while (want < INDEX_SEGS && segs_cap(want) < nmodules) want++;
    if (want == have) return nmodules <= segs_cap(have) ? 0 : -ENOMEM;
    /* The new segments, made outside the lock: alloc and free read the
     * segments under it, and new ones only add ids. */
    index_list_t *made[INDEX_SEGS] = {0};
    for (uint32_t k = have; k < want; k++) {
      size_t n = (size_t)INDEX_SEG0 << k;
      made[k] = heap_calloc(n, sizeof(*made[k]));
      if (!made[k]) {
        for (uint32_t j = have; j < k; j++) heap_free(made[j]);
        return -ENOMEM;
      }
      for (size_t m = 0; m < n; m++) list_init(&made[k][m]);
    }
    spin_lock(&ix->lock);
    bool published = atomic_load_explicit(&ix->nsegs, memory_order_relaxed) == have;
    if (published) { /* else another thread added segments meanwhile: again */
      for (uint32_t k = have; k < want; k++) ix->affine[k] = made[k];
      ix->module_cap = segs_cap(want);
      atomic_store_explicit(&ix->nsegs, want, memory_order_release);
    }
    spin_unlock(&ix->lock);
    if (published) return 0;
    for (uint32_t k = have; k < want; k++) heap_free(made[k]);
  }
}

/* Take the lowest cold slot, or INDEX_NONE. Its entries are written here
 * first: a cold slot's are zero pages nobody reads. */
static uint32_t take_cold_locked(index_t *ix) {
  debug_assert(spin_is_locked(&ix->lock));
  if (ix->next_cold == ix->capacity) return INDEX_NONE;
  uint32_t slot = ix->next_cold++;
  debug_assert(ix->state[slot] == SLOT_COLD);
  ix->warm_link[slot] = LINK_NONE;
  ix->affine_link[slot] = LINK_NONE;
  return slot;
}

/* Take a warm slot off the warm list and its affine list. */
static void unlink_warm_locked(index_t *ix, uint32_t slot) {
  debug_assert(spin_is_locked(&ix->lock));
  debug_assert(slot < ix->next_cold && ix->state[slot] == SLOT_WARM && ix->warm_count > 0);
  list_remove(&ix->warm, ix->warm_link, slot);
  ix->warm_count--;
  uint32_t m = ix->affinity[slot];
  if (m != INDEX_NONE) list_remove(affine_list(ix, m), ix->affine_link, slot);
}

uint32_t index_alloc(index_t *ix, uint32_t module, index_pick_t *pick) {
  index_pick_t how = INDEX_PICK_NONE;
  uint32_t slot = INDEX_NONE;

  spin_lock(&ix->lock);
  debug_assert(module == INDEX_NONE || module < ix->module_cap);
  if (module != INDEX_NONE && affine_list(ix, module)->tail != INDEX_NONE) {
    /* Rule 1, MRU: its pages and mappings are the most likely still warm. */
    slot = affine_list(ix, module)->tail;
    how = INDEX_PICK_AFFINE;
  } else if (ix->warm_count < ix->max_unused_warm) {
    /* Rule 2: below N, keep every warm slot's affinity and take a cold slot;
     * only when none is left evict the LRU warm slot. */
    slot = take_cold_locked(ix);
    how = INDEX_PICK_COLD;
    if (slot == INDEX_NONE) {
      slot = ix->warm.head;
      how = INDEX_PICK_WARM;
    }
  } else {
    /* Rule 3: at or above N, evict the LRU warm slot. The warm list can be
     * empty here only when N == 0; then a cold slot is taken. */
    slot = ix->warm.head;
    how = INDEX_PICK_WARM;
    if (slot == INDEX_NONE) {
      debug_assert(ix->max_unused_warm == 0);
      slot = take_cold_locked(ix);
      how = INDEX_PICK_COLD;
    }
  }

  if (slot == INDEX_NONE) {
    how = INDEX_PICK_NONE;
    ix->counters.exhausted++;
  } else {
    if (how != INDEX_PICK_COLD) unlink_warm_locked(ix, slot);
    ix->state[slot] = SLOT_USED;
    ix->affinity[slot] = module;
    ix->used_count++;
    ix->counters.allocs++;
    if (module != INDEX_NONE) {
      if (how == INDEX_PICK_AFFINE)
        ix->counters.affine_hits++;
      else
        ix->counters.affine_misses++;
    }
  }
  spin_unlock(&ix->lock);
  if (pick) *pick = how;
  return slot;
}

static void free_locked(index_t *ix, uint32_t slot) {
  debug_assert(spin_is_locked(&ix->lock));
  debug_assert(slot < ix->next_cold && ix->state[slot] == SLOT_USED && ix->used_count > 0);
  debug_assert(ix->affinity[slot] == INDEX_NONE || ix->affinity[slot] < ix->module_cap);
  ix->state[slot] = SLOT_WARM;
  ix->used_count--;
  list_append(&ix->warm, ix->warm_link, slot);
  ix->warm_count++;
  if (ix->warm_count > ix->counters.peak_warm) ix->counters.peak_warm = ix->warm_count;
  uint32_t m = ix->affinity[slot];
  if (m != INDEX_NONE) list_append(affine_list(ix, m), ix->affine_link, slot);
  ix->counters.frees++;
}

void index_free(index_t *ix, uint32_t slot) {
  spin_lock(&ix->lock);
  free_locked(ix, slot);
  spin_unlock(&ix->lock);
}

void index_free_unaffine(index_t *ix, uint32_t slot) {
  spin_lock(&ix->lock);
  debug_assert(slot < ix->next_cold && ix->state[slot] == SLOT_USED);
  ix->affinity[slot] = INDEX_NONE;
  free_locked(ix, slot);
  spin_unlock(&ix->lock);
}

uint32_t index_clear(index_t *ix, uint32_t module) {
  spin_lock(&ix->lock);
  debug_assert(module < ix->module_cap);
  /* MRU first, as rule 1 would; the order does not matter to a drain. */
  uint32_t slot = affine_list(ix, module)->tail;
  if (slot != INDEX_NONE) {
    unlink_warm_locked(ix, slot);
    ix->state[slot] = SLOT_USED;
    ix->affinity[slot] = INDEX_NONE;
    ix->used_count++;
    ix->counters.clears++;
  }
  spin_unlock(&ix->lock);
  return slot;
}

uint32_t index_touched(index_t *ix) {
  spin_lock(&ix->lock);
  uint32_t n = ix->next_cold;
  spin_unlock(&ix->lock);
  return n;
}

index_slot_state_t index_slot_state(index_t *ix, uint32_t slot) {
  spin_lock(&ix->lock);
  debug_assert(slot < ix->capacity);
  index_slot_state_t st = (index_slot_state_t)ix->state[slot];
  spin_unlock(&ix->lock);
  return st;
}

bool index_has_affine(index_t *ix, uint32_t module) {
  spin_lock(&ix->lock);
  bool any = module < ix->module_cap && affine_list(ix, module)->tail != INDEX_NONE;
  spin_unlock(&ix->lock);
  return any;
}

void index_walk_warm(index_t *ix, bool (*fn)(void *ctx, uint32_t slot), void *ctx) {
  spin_lock(&ix->lock);
  for (uint32_t s = ix->warm.head; s != INDEX_NONE; s = ix->warm_link[s].next)
    if (!fn(ctx, s)) break;
  spin_unlock(&ix->lock);
}

void index_counters(index_t *ix, index_counters_t *out, uint32_t *warm,
                    uint32_t *cold, uint32_t *used) {
  spin_lock(&ix->lock);
  if (out) *out = ix->counters;
  if (warm) *warm = ix->warm_count;
  if (cold) *cold = ix->capacity - ix->next_cold;
  if (used) *used = ix->used_count;
  spin_unlock(&ix->lock);
}

/* Walk `l` checking back links; return its length, or UINT64_MAX when it is
 * broken (bad id, cycle, a member not warm, or, when `module` is not
 * INDEX_NONE, a member affine to another module). */
static uint64_t list_check(const index_t *ix, const index_list_t *l,
                           const index_link_t *links, uint32_t module) {
  uint64_t n = 0;
  uint32_t prev = INDEX_NONE;
  for (uint32_t s = l->head; s != INDEX_NONE; s = links[s].next) {
    if (s >= ix->capacity || n >= ix->capacity) return UINT64_MAX;
    if (links[s].prev != prev || ix->state[s] != SLOT_WARM) return UINT64_MAX;
    if (module != INDEX_NONE && ix->affinity[s] != module) return UINT64_MAX;
    prev = s;
    n++;
  }
  return prev == l->tail ? n : UINT64_MAX;
}

bool index_is_valid(index_t *ix) {
  bool ok = true;
  spin_lock(&ix->lock);
  uint64_t used = 0, warm = 0, affine = 0;
  if (ix->next_cold > ix->capacity) ok = false;
  /* Slots past next_cold were never taken: their entries are untouched
   * zero pages, so only the slots taken so far are walked. */
  for (uint32_t s = 0; ok && s < ix->next_cold; s++) {
    uint8_t st = ix->state[s];
    if (st != SLOT_USED && st != SLOT_WARM) ok = false; /* taken once, never cold again */
    if (st == SLOT_USED) used++;
    if (st == SLOT_WARM) {
      warm++;
      if (ix->affinity[s] != INDEX_NONE) {
        if (ix->affinity[s] >= ix->module_cap) ok = false;
        affine++;
      }
    } else {
      if (memcmp(&ix->warm_link[s], &LINK_NONE, sizeof(LINK_NONE)) != 0 ||
          memcmp(&ix->affine_link[s], &LINK_NONE, sizeof(LINK_NONE)) != 0)
        ok = false;
    }
  }
  if (ok && (used != ix->used_count || warm != ix->warm_count ||
             used + warm + (ix->capacity - ix->next_cold) != ix->capacity))
    ok = false;
  if (ok && list_check(ix, &ix->warm, ix->warm_link, INDEX_NONE) != warm) ok = false;
  uint64_t on_affine = 0;
  for (uint32_t m = 0; ok && m < ix->module_cap; m++) {
    uint64_t n = list_check(ix, affine_list(ix, m), ix->affine_link, m);
    if (n == UINT64_MAX) ok = false;
    else on_affine += n;
  }
  if (ok && on_affine != affine) ok = false;
  if (ok && ix->counters.peak_warm < ix->warm_count) ok = false;
  spin_unlock(&ix->lock);
  return ok;
}
