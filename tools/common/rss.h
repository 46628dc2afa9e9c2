/* Resident bytes of address ranges, from /proc/self/smaps: the sum of the
 * Rss of every mapping that lies inside one of the ranges. O(mappings). */
#ifndef WPOOL_RSS_H
#define WPOOL_RSS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rss_range {
  uintptr_t lo, hi;
} rss_range_t;

/* Return the resident bytes, or UINT64_MAX when smaps cannot be read. */
uint64_t rss_of_ranges(const rss_range_t *ranges, size_t n);

#endif
