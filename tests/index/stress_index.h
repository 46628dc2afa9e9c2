/* The concurrent stress scenario for the index allocator. It is its own
 * unit so that the TSan build can run it outside Criterion: Criterion's
 * sandbox maps its shared arena at an address ThreadSanitizer refuses. */
#ifndef WPOOL_TEST_STRESS_INDEX_H
#define WPOOL_TEST_STRESS_INDEX_H

#include <stdint.h>

typedef struct stress_index_result {
  uint64_t double_handouts; /* slots handed to two holders at once */
  uint64_t ops, allocs, clears, frees;
  int valid;                /* index_is_valid() at the end */
  uint32_t used, warm, cold, capacity;
} stress_index_result_t;

/* Run `threads` threads of `ops` random alloc/free/clear each. */
void stress_index_run(int threads, int ops, stress_index_result_t *out);

#endif
