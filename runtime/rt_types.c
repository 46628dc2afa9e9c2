/* wasm-rt's function type registry: one per process, as wasm-rt's, under a
 * lock. The generated code registers its types once per module (at load)
 * and compares the indices at every indirect call, so two types must get
 * the same index exactly when their parameter and result lists are equal,
 * whatever their length: a type is kept whole (its counts and every value
 * type), found by a hash of all of it and compared in full. (The registry
 * this replaces kept a signature string of 512 bytes: types of about 250
 * parameters collided, and a call through the wrong type overwrote the
 * instance's memory base.)
 *
 * Indices start at 1: a null funcref has type 0 and never matches.
 * Cost: O(params + results) per registration; nothing at calls. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

typedef struct rt_type {
  uint32_t nparams, nresults;
  uint64_t hash;
  uint32_t codes[]; /* nparams parameters, then nresults results */
} rt_type_t;

static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static rt_type_t **types;       /* index - 1 -> type */
static uint32_t ntypes, types_cap;
static uint32_t *slots;         /* open addressing: 0 empty, else an index */
static uint32_t nslots;         /* a power of two, at least twice ntypes */

static WASM_RT_NO_RETURN void out_of_memory(void) {
  fprintf(stderr, "wpool runtime: fatal: out of memory registering a function type\n");
  abort();
}

static uint64_t hash_of(const uint32_t *codes, uint32_t nparams, uint32_t nresults) {
  uint64_t h = 1469598103934665603ull ^ ((uint64_t)nparams << 32 | nresults);
  for (uint64_t i = 0; i < (uint64_t)nparams + nresults; i++) {
    h ^= codes[i];
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

static bool same(const rt_type_t *t, uint64_t h, const uint32_t *codes, uint32_t np,
                 uint32_t nr) {
  return t->hash == h && t->nparams == np && t->nresults == nr &&
         memcmp(t->codes, codes, ((size_t)np + nr) * sizeof(uint32_t)) == 0;
}

static void slots_grow_locked(void) {
  uint32_t n = nslots ? nslots * 2 : 128;
  uint32_t *s = calloc(n, sizeof(*s));
  if (!s) out_of_memory();
  for (uint32_t i = 0; i < ntypes; i++) {
    uint32_t k = (uint32_t)types[i]->hash & (n - 1);
    while (s[k]) k = (k + 1) & (n - 1);
    s[k] = i + 1;
  }
  free(slots);
  slots = s;
  nslots = n;
}

uint32_t rt_types_register(const uint32_t *codes, uint32_t nparams, uint32_t nresults) {
  uint64_t h = hash_of(codes, nparams, nresults);
  pthread_mutex_lock(&types_lock);
  if (2 * (ntypes + 1) > nslots) slots_grow_locked();
  uint32_t k = (uint32_t)h & (nslots - 1);
  for (; slots[k]; k = (k + 1) & (nslots - 1)) {
    if (same(types[slots[k] - 1], h, codes, nparams, nresults)) {
      uint32_t idx = slots[k];
      pthread_mutex_unlock(&types_lock);
      return idx;
    }
  }
  if (ntypes == types_cap) {
    uint32_t cap = types_cap ? types_cap * 2 : 64;
    rt_type_t **t = realloc(types, cap * sizeof(*t));
    if (!t) out_of_memory();
    types = t;
    types_cap = cap;
  }
  size_t n = (size_t)nparams + nresults;
  rt_type_t *t = malloc(sizeof(*t) + n * sizeof(uint32_t));
  if (!t) out_of_memory();
  t->nparams = nparams;
  t->nresults = nresults;
  t->hash = h;
  if (n) memcpy(t->codes, codes, n * sizeof(uint32_t));
  types[ntypes++] = t;
  slots[k] = ntypes;
  uint32_t idx = ntypes;
  pthread_mutex_unlock(&types_lock);
  return idx;
}

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  uint64_t n = (uint64_t)params + results;
  uint32_t small[64];
  uint32_t *codes = n <= 64 ? small : malloc(n * sizeof(uint32_t));
  if (!codes) out_of_memory();
  va_list ap;
  va_start(ap, results);
  for (uint64_t i = 0; i < n; i++) codes[i] = (uint32_t)va_arg(ap, int); /* wasm_rt_type_t */
  va_end(ap);
  uint32_t idx = rt_types_register(codes, params, results);
  if (codes != small) free(codes);
  return idx;
}
