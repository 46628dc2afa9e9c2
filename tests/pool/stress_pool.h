/* Concurrent stress of the whole pool: threads create, check, dirty, grow
 * and free instances, take and free stacks, and replace (release and
 * re-create) modules. Shared by the Criterion test and the TSan runner. */
#ifndef WPOOL_TEST_STRESS_POOL_H
#define WPOOL_TEST_STRESS_POOL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct stress_pool_result {
  uint64_t instances, frees, grows, stacks, releases, exhausted, trims;
  uint64_t isolation_failures; /* a new instance saw a byte it should not */
  uint64_t errors;             /* unexpected error codes */
  int index_valid;
  uint64_t live_instances, live_stacks, warm_plus_cold, capacity, images_live_after;
  int destroy_result;
  uint64_t queued_at_end; /* slots still waiting for a batched decommit when threads ended */
} stress_pool_result_t;

void stress_pool_run(int threads, int ops, bool background, stress_pool_result_t *out);

#endif
