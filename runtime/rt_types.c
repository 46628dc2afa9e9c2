/* wasm-rt's function type registry: one per process, as wasm-rt's, under a
 * lock. The generated code registers its types once per module (at load)
 * and compares the indices at every indirect call. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static char **types;
static uint32_t ntypes, types_cap;

static void out_of_memory(void) {
  pthread_mutex_unlock(&types_lock);
  fprintf(stderr, "wpool runtime: fatal: out of memory registering a function type\n");
  abort();
}

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  char sig[512];
  size_t n = 0;
  va_list ap;
  va_start(ap, results);
  for (uint32_t i = 0; i < params + results; i++) {
    if (i == params && n < sizeof(sig) - 1) sig[n++] = ':';
    int t = va_arg(ap, int);
    if (n < sizeof(sig) - 16) n += (size_t)snprintf(sig + n, sizeof(sig) - n, "%d,", t);
  }
  va_end(ap);
  if (params + results == 0 || results == 0) sig[n++] = ':';
  sig[n] = 0;
  pthread_mutex_lock(&types_lock);
  for (uint32_t i = 0; i < ntypes; i++) {
    if (strcmp(types[i], sig) == 0) {
      pthread_mutex_unlock(&types_lock);
      return i + 1;
    }
  }
  if (ntypes == types_cap) {
    uint32_t cap = types_cap ? types_cap * 2 : 64;
    char **t = realloc(types, cap * sizeof(char *));
    if (!t) out_of_memory();
    types = t;
    types_cap = cap;
  }
  char *s = strdup(sig);
  if (!s) out_of_memory();
  types[ntypes++] = s;
  uint32_t idx = ntypes;
  pthread_mutex_unlock(&types_lock);
  return idx;
}
