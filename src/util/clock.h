/* The library's clock: CLOCK_MONOTONIC in nanoseconds. Code that decides
 * by time takes the time as a parameter (trim_at(p, now_ns, ...),
 * slot_reset(..., now_ns)), so tests own the clock. It is read in two
 * kinds of places only, and tests/layers.py checks that no other file
 * calls clock_now_ns():
 *   - public entry points, once per call, passing `now` down: the time of
 *     a free (wpool_instance_free), a full pool's deadline to wait for the
 *     background worker (wpool_instance_new), an idle cutoff (wpool_trim);
 *   - the keep set's cost model (memory/costs.c), which times system
 *     calls to learn what they cost on this machine (its measurement, and
 *     each shrink over kept pages: keep_shrink_start / keep_shrink_done).
 * Readers: pool/instance.c pool/trim.c memory/costs.c
 * The worker's timed wait hands its deadline to pthread_cond_timedwait on
 * the same clock. */
#ifndef WPOOL_CLOCK_H
#define WPOOL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
