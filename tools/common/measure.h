/* Small measuring helpers shared by the tool and the benchmarks: a
 * monotonic clock in nanoseconds, qsort comparators, a median, how long a
 * round of requests lasts. */
#ifndef WPOOL_MEASURE_H
#define WPOOL_MEASURE_H

#include <stdbool.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/* qsort comparators, ascending. */
int cmp_u64(const void *a, const void *b);
int cmp_double(const void *a, const void *b);

/* The median of v[0..n), n > 0; sorts v in place. */
double median(double *v, int n);
/* The same of a copy, v left in its order (NAN when out of memory). */
double median_of(const double *v, int n);

/* A round of `requests` requests goes on until it has lasted ROUND_MIN_NS,
 * up to round_max(requests) requests: 100 hello requests take 0.1 ms on
 * the pool, where one preemption or tick moved a round's rate 2-3x. */
#define ROUND_MIN_NS 10000000ull
#define ROUND_MAX_REQUESTS 10000u
static inline uint64_t round_max(uint64_t requests) {
  return requests > ROUND_MAX_REQUESTS ? requests : ROUND_MAX_REQUESTS;
}
/* Whether a round that has made `done` requests in `elapsed_ns` goes on
 * (`min_ns`: ROUND_MIN_NS, or 0 for a round of exactly `requests`). */
static inline bool round_goes_on(uint64_t done, uint64_t requests, uint64_t elapsed_ns,
                                 uint64_t min_ns) {
  return done < round_max(requests) && (done < requests || elapsed_ns < min_ns);
}

#endif
