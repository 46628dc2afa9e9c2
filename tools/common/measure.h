/* Small measuring helpers shared by the tool and the benchmarks: a
 * monotonic clock in nanoseconds, qsort comparators, a median. */
#ifndef WPOOL_MEASURE_H
#define WPOOL_MEASURE_H

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

#endif
