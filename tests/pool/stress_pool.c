#include "stress_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pool/types.h"
#include "wpool.h"

enum { SLOTS = 12, MODULES = 5, MAX_THREADS = 8, HELD = 8 };

/* Module k's image: byte `k + 1` over [k * 4096, k * 4096 + 3000). */
typedef struct entry {
  pthread_rwlock_t lock; /* write: replacing the module; read: instantiating */
  wpool_module_t *m;
  uint8_t data[3000];
} entry_t;

static wpool_t *pool;
static entry_t entries[MODULES];
static _Atomic uint64_t n_inst, n_free, n_grow, n_stack, n_rel, n_exh, n_iso, n_err, n_trim;

static wpool_module_t *module_for(int k) {
  wpool_data_segment_t seg = {.offset = (uint64_t)k * 4096, .bytes = entries[k].data, .len = 3000};
  wpool_memory_desc_t mem = {
      .min_pages = 1 + (uint64_t)(k % 2), .max_pages = 4, .segments = &seg, .nsegments = 1};
  wpool_table_desc_t table = {.min_elements = 8, .max_elements = 32};
  wpool_module_desc_t d = {
      .state_size = 512, .memories = &mem, .nmemories = 1, .tables = &table, .ntables = 1};
  wpool_module_t *m = NULL;
  if (wpool_module_new(pool, &d, &m) != 0) abort();
  return m;
}

/* Pristine: the image bytes of module k, zero elsewhere (sampled), zero
 * state and NULL table. */
static bool pristine(wpool_instance_t *in, int k) {
  const uint8_t *b = wpool_memory_base(in, 0);
  uint64_t bytes = wpool_memory_pages(in, 0) * WPOOL_PAGE_SIZE, lo = (uint64_t)k * 4096;
  for (uint64_t i = 0; i < bytes; i += 61) {
    uint8_t want = (i >= lo && i < lo + 3000) ? (uint8_t)(k + 1) : 0;
    if (b[i] != want) return false;
  }
  const uint8_t *st = wpool_instance_state(in);
  for (int i = 0; i < 512; i += 7)
    if (st[i]) return false;
  void **t = wpool_table_base(in, 0);
  for (uint32_t i = 0; i < wpool_table_size(in, 0); i++)
    if (t[i]) return false;
  return true;
}

static int ops_per_thread;

static void *worker(void *arg) {
  uint64_t x = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
  wpool_instance_t *held[HELD];
  int kind[HELD], nheld = 0;
  wpool_stack_t *stack = NULL;
  for (int op = 0; op < ops_per_thread; op++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    unsigned r = (unsigned)(x % 100);
    int k = (int)((x >> 20) % MODULES);
    if (r < 40 && nheld < HELD) {
      pthread_rwlock_rdlock(&entries[k].lock);
      wpool_instance_t *in;
      int err = wpool_instance_new(pool, entries[k].m, &in);
      pthread_rwlock_unlock(&entries[k].lock);
      if (err == WPOOL_EEXHAUSTED) {
        atomic_fetch_add(&n_exh, 1);
        continue;
      }
      if (err) {
        atomic_fetch_add(&n_err, 1);
        continue;
      }
      atomic_fetch_add(&n_inst, 1);
      if (!pristine(in, k)) atomic_fetch_add(&n_iso, 1);
      memset(wpool_memory_base(in, 0), 0xcc, wpool_memory_pages(in, 0) * WPOOL_PAGE_SIZE);
      memset(wpool_instance_state(in), 0xcc, 512);
      wpool_table_base(in, 0)[1] = in;
      held[nheld] = in;
      kind[nheld++] = k;
    } else if (r < 80 && nheld) {
      int i = (int)((x >> 8) % (uint64_t)nheld);
      wpool_instance_free(held[i]);
      held[i] = held[--nheld];
      kind[i] = kind[nheld];
      atomic_fetch_add(&n_free, 1);
    } else if (r < 88 && nheld) {
      int64_t old = wpool_memory_grow(held[0], 0, 1);
      if (old >= 0) {
        atomic_fetch_add(&n_grow, 1);
        wpool_memory_base(held[0], 0)[(uint64_t)old * WPOOL_PAGE_SIZE] = 0xcc;
      } else if (old != WPOOL_ELIMIT) {
        atomic_fetch_add(&n_err, 1);
      }
    } else if (r < 91) {
      /* Trim every idle slot while the other threads allocate. */
      if (wpool_trim(pool, 0) < 0) atomic_fetch_add(&n_err, 1);
      atomic_fetch_add(&n_trim, 1);
    } else if (r < 95) {
      if (stack) {
        wpool_stack_free(stack);
        stack = NULL;
      } else if (wpool_stack_new(pool, &stack) == 0) {
        atomic_fetch_add(&n_stack, 1);
        ((uint8_t *)wpool_stack_top(stack))[-1] = 1;
      }
    } else {
      /* Replace module k: release it (live instances keep working) and
       * create its successor with the same contents. */
      pthread_rwlock_wrlock(&entries[k].lock);
      wpool_module_release(entries[k].m);
      entries[k].m = module_for(k);
      pthread_rwlock_unlock(&entries[k].lock);
      atomic_fetch_add(&n_rel, 1);
    }
  }
  for (int i = 0; i < nheld; i++) wpool_instance_free(held[i]);
  atomic_fetch_add(&n_free, (uint64_t)nheld);
  if (stack) wpool_stack_free(stack);
  return NULL;
}

void stress_pool_run(int threads, int ops, bool background, stress_pool_result_t *out) {
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  ops_per_thread = ops;
  _Atomic uint64_t *counters[] = {&n_inst, &n_free, &n_grow, &n_stack, &n_rel,
                                  &n_exh, &n_iso, &n_err, &n_trim};
  for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) atomic_store(counters[i], 0);
  wpool_config_t c;
  wpool_config_init(&c);
  c.instance_count = SLOTS;
  c.max_unused_warm_slots = 4;
  c.instance_size = 4096;
  c.instance_memory_pages = 4;
  c.memory_reservation = 256 * 1024;
  c.memory_guard_size = 64 * 1024;
  c.linear_memory_keep_resident = 8192;
  c.instance_table_elements = 32;
  c.stack_count = 4;
  c.async_stack_size = 16 * 1024;
  c.async_stack_zeroing = true;
  c.decommit_batch_size = 3; /* slots queue and are flushed by whichever thread fills the batch */
  c.background_reset = background; /* or a worker resets them */
  c.background_wait_ms = 1000;
  if (wpool_create(&c, &pool) != 0) abort();
  for (int k = 0; k < MODULES; k++) {
    pthread_rwlock_init(&entries[k].lock, NULL);
    memset(entries[k].data, k + 1, sizeof(entries[k].data));
    entries[k].m = module_for(k);
  }
  pthread_t t[MAX_THREADS];
  for (int i = 0; i < threads; i++)
    if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) != 0) abort();
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);

  memset(out, 0, sizeof(*out));
  out->instances = n_inst;
  out->frees = n_free;
  out->grows = n_grow;
  out->stacks = n_stack;
  out->releases = n_rel;
  out->exhausted = n_exh;
  out->isolation_failures = n_iso;
  out->errors = n_err;
  out->trims = n_trim;
  wpool_stats_t s;
  wpool_stats_get(pool, &s);
  out->queued_at_end = s.queued_slots;
  wpool_decommit_flush(pool); /* the last, partial batch */
  for (int spin = 0; spin < 10000000; spin++) { /* the worker's last round */
    wpool_stats_get(pool, &s);
    if (!s.background_pending) break;
    sched_yield();
  }
  out->index_valid = index_is_valid(&pool->index) && index_is_valid(&pool->stack_index);
  for (int k = 0; k < MODULES; k++) {
    wpool_module_release(entries[k].m);
    pthread_rwlock_destroy(&entries[k].lock);
  }
  wpool_stats_get(pool, &s);
  out->live_instances = s.live_instances;
  out->live_stacks = s.live_stacks;
  out->warm_plus_cold = s.warm_slots + s.cold_slots;
  out->capacity = SLOTS;
  out->images_live_after = s.images_live;
  out->destroy_result = wpool_destroy(pool);
}
