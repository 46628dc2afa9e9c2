/* The slot index allocator: the seeds' scenarios with their exact slot ids,
 * a model-based comparison over random operations, and edge cases. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "index/index.h"
#include "util/heap.h"

static index_t ix;

static void make(uint32_t slots, uint32_t n, uint32_t modules) {
  cr_assert_eq(index_init(&ix, slots, n), 0);
  cr_assert_eq(index_reserve_modules(&ix, modules), 0);
}

static void teardown(void) { index_destroy(&ix); }

static uint32_t alloc(uint32_t module) {
  uint32_t s = index_alloc(&ix, module, NULL);
  cr_assert(index_is_valid(&ix));
  return s;
}

static void release(uint32_t slot) {
  index_free(&ix, slot);
  cr_assert(index_is_valid(&ix));
}

TestSuite(index, .fini = teardown);

Test(index, next_available_with_no_warm_budget_hands_out_slots_in_order) {
  for (uint32_t size = 0; size < 20; size++) {
    make(size, 0, 1);
    for (uint32_t i = 0; i < size; i++) cr_assert_eq(alloc(INDEX_NONE), i);
    cr_assert_eq(alloc(INDEX_NONE), INDEX_NONE);
    index_destroy(&ix);
  }
  make(0, 0, 0); /* for teardown */
}

Test(index, affinity_prefers_the_module_previous_slot) {
  enum { M1 = 0, M2 = 1 };
  make(100, 100, 2);
  uint32_t s1 = alloc(M1), s2 = alloc(M2);
  cr_assert_eq(s1, 0);
  cr_assert_eq(s2, 1);
  release(s1);
  cr_assert_eq(alloc(M1), s1);
  release(s1);
  release(s2);
  cr_assert(index_has_affine(&ix, M1));
  cr_assert(index_has_affine(&ix, M2));

  /* 1 warm slot each and 98 cold: 100 allocations for M2 start with its own
   * slot, then the whole pool is in use. */
  uint32_t got[100];
  for (int i = 0; i < 100; i++) got[i] = alloc(M2);
  cr_assert_eq(alloc(INDEX_NONE), INDEX_NONE);
  cr_assert_eq(got[0], s2);
  for (int i = 0; i < 100; i++) release(got[i]);
  cr_assert_not(index_has_affine(&ix, M1), "M1's slot was taken by M2");
  cr_assert(index_has_affine(&ix, M2));
  uint32_t s = alloc(M1);
  cr_assert_neq(s, INDEX_NONE);
  release(s);
}

Test(index, clear_drains_every_affine_slot_then_reports_none) {
  for (uint32_t n = 0; n <= 2; n++) {
    make(100, n, 1);
    uint32_t a = alloc(0), b = alloc(0);
    release(b);
    release(a);
    /* MRU first: a was freed last. */
    cr_assert_eq(index_clear(&ix, 0), a);
    cr_assert_eq(index_clear(&ix, 0), b);
    cr_assert_eq(index_clear(&ix, 0), INDEX_NONE);
    cr_assert(index_is_valid(&ix));
    /* Cleared slots are used and affine to nothing: freed, they are warm
     * but no module finds them by affinity. */
    release(a);
    cr_assert_not(index_has_affine(&ix, 0));
    index_destroy(&ix);
  }
  make(0, 0, 0);
}

Test(index, warm_threshold_evicts_lru_and_keeps_affinity_below_it) {
  make(10, 2, 8);
  cr_assert_eq(alloc(1), 0);
  release(0);
  cr_assert_eq(alloc(2), 1);
  release(1);
  /* At the threshold of 2 warm slots: one is evicted, LRU first. */
  cr_assert_eq(alloc(3), 0);
  release(0);
  cr_assert_eq(alloc(2), 1);
  /* Only one warm slot: module 1 takes a fresh slot. */
  cr_assert_eq(alloc(1), 2);
  release(1);
  release(2);
  cr_assert_eq(alloc(1), 2);
  cr_assert_eq(alloc(2), 1);
  cr_assert_eq(alloc(3), 0);
  release(1);
  release(2);
  release(0);
  cr_assert_eq(alloc(4), 1); /* LRU */
  cr_assert_eq(alloc(5), 2); /* next LRU */
  cr_assert_eq(alloc(6), 3); /* below N again: slot 0 stays affine */
  release(1);
  release(2);
  release(3);
  cr_assert_eq(alloc(3), 0);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

Test(index, random_workload_reuses_affine_slots_well_above_chance) {
  enum { SLOTS = 1000, MODULES = 10, OPS = 100000 };
  make(SLOTS, SLOTS, MODULES);
  uint32_t allocated[SLOTS], nalloc = 0;
  uint32_t last[SLOTS];
  for (int i = 0; i < SLOTS; i++) last[i] = INDEX_NONE;
  uint64_t hits = 0;
  for (int op = 0; op < OPS; op++) {
    for (;;) {
      if (nalloc && (rnd() & 1)) {
        uint32_t i = (uint32_t)(rnd() % nalloc);
        index_free(&ix, allocated[i]);
        allocated[i] = allocated[--nalloc];
      } else {
        uint32_t m = (uint32_t)(rnd() % MODULES);
        uint32_t s = index_alloc(&ix, m, NULL);
        if (s == INDEX_NONE) continue;
        if (last[s] == m) hits++;
        last[s] = m;
        allocated[nalloc++] = s;
      }
      break;
    }
  }
  cr_assert(index_is_valid(&ix));
  /* 10% would be chance with 10 modules; the policy must do twice that. */
  cr_assert_gt(hits, OPS / 5, "only %llu affine reuses in %d ops", (unsigned long long)hits, OPS);
}

/* An independent, deliberately simple model of the policy: arrays and
 * linear scans, a logical clock for "most/least recently freed". */
typedef struct model {
  uint32_t slots, n;
  uint8_t state[64];     /* index_slot_state_t */
  uint32_t affinity[64]; /* INDEX_NONE for none */
  uint64_t freed_at[64];
  uint64_t clock;
} model_t;

static uint32_t model_warm(const model_t *m) {
  uint32_t w = 0;
  for (uint32_t s = 0; s < m->slots; s++) w += m->state[s] == SLOT_WARM;
  return w;
}

/* The warm slot with the oldest (lru) or newest free time among those that
 * `module` selects (INDEX_NONE: any). */
static uint32_t model_find(const model_t *m, uint32_t module, bool lru) {
  uint32_t best = INDEX_NONE;
  for (uint32_t s = 0; s < m->slots; s++) {
    if (m->state[s] != SLOT_WARM) continue;
    if (module != INDEX_NONE && m->affinity[s] != module) continue;
    if (best == INDEX_NONE || (lru ? m->freed_at[s] < m->freed_at[best]
                                   : m->freed_at[s] > m->freed_at[best]))
      best = s;
  }
  return best;
}

static uint32_t model_cold(const model_t *m) {
  for (uint32_t s = 0; s < m->slots; s++)
    if (m->state[s] == SLOT_COLD) return s;
  return INDEX_NONE;
}

static uint32_t model_alloc(model_t *m, uint32_t module) {
  uint32_t s = module == INDEX_NONE ? INDEX_NONE : model_find(m, module, false);
  if (s == INDEX_NONE) {
    if (model_warm(m) < m->n) {
      s = model_cold(m);
      if (s == INDEX_NONE) s = model_find(m, INDEX_NONE, true);
    } else {
      s = model_find(m, INDEX_NONE, true);
      if (s == INDEX_NONE) s = model_cold(m);
    }
  }
  if (s != INDEX_NONE) {
    m->state[s] = SLOT_USED;
    m->affinity[s] = module;
  }
  return s;
}

static uint32_t model_clear(model_t *m, uint32_t module) {
  uint32_t s = model_find(m, module, false);
  if (s != INDEX_NONE) {
    m->state[s] = SLOT_USED;
    m->affinity[s] = INDEX_NONE;
  }
  return s;
}

static void model_free(model_t *m, uint32_t s) {
  m->state[s] = SLOT_WARM;
  m->freed_at[s] = ++m->clock;
}

Test(index, matches_a_simple_model_over_a_million_random_operations) {
  uint64_t ops = 0, configs = 0;
  make(0, 0, 0);
  while (ops < 1000000) {
    model_t m = {0};
    m.slots = (uint32_t)(rnd() % 65);
    m.n = (uint32_t)(rnd() % (m.slots + 2));
    uint32_t modules = 1 + (uint32_t)(rnd() % 20);
    for (uint32_t s = 0; s < 64; s++) m.affinity[s] = INDEX_NONE;
    index_destroy(&ix);
    make(m.slots, m.n, modules);
    configs++;
    for (int i = 0; i < 2000; i++, ops++) {
      uint64_t r = rnd() % 100;
      uint32_t module = (uint32_t)(rnd() % modules);
      if (r < 45) {
        if (r < 5) module = INDEX_NONE;
        uint32_t want = model_alloc(&m, module);
        uint32_t got = index_alloc(&ix, module, NULL);
        cr_assert_eq(got, want, "op %llu: alloc(%u) gave %u, model %u (slots %u, N %u)",
                     (unsigned long long)ops, module, got, want, m.slots, m.n);
      } else if (r < 88) {
        /* Free a random used slot, if any. */
        uint32_t start = m.slots ? (uint32_t)(rnd() % m.slots) : 0, s = INDEX_NONE;
        for (uint32_t k = 0; k < m.slots; k++) {
          uint32_t c = (start + k) % m.slots;
          if (m.state[c] == SLOT_USED) {
            s = c;
            break;
          }
        }
        if (s == INDEX_NONE) continue;
        model_free(&m, s);
        index_free(&ix, s);
      } else {
        uint32_t want = model_clear(&m, module);
        uint32_t got = index_clear(&ix, module);
        cr_assert_eq(got, want, "op %llu: clear(%u) gave %u, model %u", (unsigned long long)ops,
                     module, got, want);
      }
      uint32_t warm;
      index_counters(&ix, NULL, &warm, NULL, NULL);
      cr_assert_eq(warm, model_warm(&m));
      if ((ops & 15) == 0) cr_assert(index_is_valid(&ix), "op %llu", (unsigned long long)ops);
    }
    cr_assert(index_is_valid(&ix));
  }
  cr_log_info("%llu operations over %llu configurations", (unsigned long long)ops,
              (unsigned long long)configs);
}

Test(index, zero_slots_never_allocate) {
  make(0, 5, 1);
  cr_assert_eq(alloc(0), INDEX_NONE);
  cr_assert_eq(alloc(INDEX_NONE), INDEX_NONE);
  cr_assert_eq(index_clear(&ix, 0), INDEX_NONE);
  index_counters_t c;
  index_counters(&ix, &c, NULL, NULL, NULL);
  cr_assert_eq(c.exhausted, 2);
}

Test(index, module_table_grows_and_keeps_existing_affinity) {
  make(8, 8, 1);
  uint32_t s = alloc(0);
  release(s);
  cr_assert_eq(index_reserve_modules(&ix, 5000), 0);
  cr_assert_geq(ix.module_cap, 5000);
  cr_assert(index_is_valid(&ix));
  cr_assert_eq(alloc(0), s);
  cr_assert_neq(alloc(4999), INDEX_NONE);
}

/* The per-module lists grow outside the spin lock (lock.h: no section that
 * can block): with the lock held by another thread, a growing reserve
 * still allocates, then waits only to publish. */
static void *reserve_many(void *arg) {
  (void)arg;
  return (void *)(intptr_t)index_reserve_modules(&ix, 1u << 16);
}

Test(index, module_lists_grow_outside_the_lock) {
  make(8, 8, 1);
  size_t before = heap_allocated_bytes();
  spin_lock(&ix.lock);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, reserve_many, NULL), 0);
  /* 2^16 lists of 8 bytes: at least 256 KiB more, allocated while we hold
   * the lock (up to 10 s for the other thread to run). */
  bool grew = false;
  for (int i = 0; i < 10000 && !grew; i++) {
    grew = heap_allocated_bytes() >= before + (256u << 10);
    if (!grew) usleep(1000);
  }
  spin_unlock(&ix.lock);
  void *r;
  pthread_join(t, &r);
  cr_assert(grew, "nothing allocated while the lock was held");
  cr_assert_eq((intptr_t)r, 0);
  cr_assert_geq(ix.module_cap, 1u << 16);
  cr_assert(index_is_valid(&ix));
}

Test(index, counters_report_hits_misses_and_peak_warm) {
  make(4, 4, 2);
  uint32_t a = alloc(0), b = alloc(1);
  release(a);
  release(b);
  cr_assert_eq(alloc(0), a);
  index_counters_t c;
  uint32_t warm, cold, used;
  index_counters(&ix, &c, &warm, &cold, &used);
  cr_assert_eq(c.affine_hits, 1);
  cr_assert_eq(c.affine_misses, 2);
  cr_assert_eq(c.peak_warm, 2);
  cr_assert_eq(warm, 1);
  cr_assert_eq(cold, 2);
  cr_assert_eq(used, 1);
}

Test(index, millions_of_slots_work_and_free_allocates_nothing) {
  make(4000000, 100, 1000);
  uint32_t last = INDEX_NONE;
  for (uint32_t i = 0; i < 4000000; i++) last = index_alloc(&ix, i % 1000, NULL);
  cr_assert_eq(last, 3999999);
  size_t before = heap_allocated_bytes();
  for (uint32_t i = 0; i < 4000000; i += 3) index_free(&ix, i);
  for (uint32_t m = 0; m < 1000; m++)
    while (index_clear(&ix, m) != INDEX_NONE) {
    }
  cr_assert_eq(heap_allocated_bytes(), before, "free or clear allocated");
  cr_assert(index_is_valid(&ix));
}

Test(index, slot_count_above_the_id_space_is_refused) {
  index_t big;
  cr_assert_lt(index_init(&big, INDEX_NONE, 0), 0);
  make(0, 0, 0);
}
