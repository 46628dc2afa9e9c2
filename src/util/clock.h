/* The library's clock: CLOCK_MONOTONIC in nanoseconds. Code that decides
 * by time takes the time as a parameter (trim_at(p, now_ns, ...)), so
 * tests own the clock; only the public entry points read it. */
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
