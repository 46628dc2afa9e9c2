#include "stress_index.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "index/index.h"

enum { SLOTS = 512, MODULES = 20, MAX_THREADS = 16 };

static index_t ix;
static _Atomic uint32_t owner[SLOTS]; /* 0 = free, else thread id + 1 */
static _Atomic uint64_t double_handouts;
static int ops_per_thread;

static void *worker(void *arg) {
  uint32_t me = (uint32_t)(uintptr_t)arg + 1;
  uint64_t x = 0x2545f4914f6cdd1dull * me;
  uint32_t held[SLOTS], nheld = 0;
  for (int op = 0; op < ops_per_thread; op++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint32_t r = (uint32_t)(x % 100), m = (uint32_t)((x >> 32) % MODULES);
    uint32_t s;
    if (nheld && r < 48) {
      uint32_t i = (uint32_t)((x >> 16) % nheld);
      s = held[i];
      held[i] = held[--nheld];
      atomic_store(&owner[s], 0);
      index_free(&ix, s);
      continue;
    }
    s = r < 90 ? index_alloc(&ix, r < 85 ? m : INDEX_NONE, NULL) : index_clear(&ix, m);
    if (s == INDEX_NONE) continue;
    if (atomic_exchange(&owner[s], me) != 0) atomic_fetch_add(&double_handouts, 1);
    held[nheld++] = s;
  }
  while (nheld) {
    uint32_t s = held[--nheld];
    atomic_store(&owner[s], 0);
    index_free(&ix, s);
  }
  return NULL;
}

void stress_index_run(int threads, int ops, stress_index_result_t *out) {
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  ops_per_thread = ops;
  atomic_store(&double_handouts, 0);
  if (index_init(&ix, SLOTS, 50) != 0 || index_reserve_modules(&ix, MODULES) != 0) abort();
  pthread_t t[MAX_THREADS];
  for (int i = 0; i < threads; i++)
    if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) != 0) abort();
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  index_counters_t c;
  out->double_handouts = atomic_load(&double_handouts);
  out->valid = index_is_valid(&ix);
  index_counters(&ix, &c, &out->warm, &out->cold, &out->used);
  out->ops = (uint64_t)threads * (uint64_t)ops;
  out->allocs = c.allocs;
  out->clears = c.clears;
  out->frees = c.frees;
  out->capacity = SLOTS;
  index_destroy(&ix);
}
