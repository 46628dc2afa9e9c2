/* The library's options: settings a process takes from its environment,
 * for experiments and tests, in one table (as mimalloc's options.c). Each
 * has a name, an environment variable WPOOL_<NAME>, a range and a meaning;
 * the table is read once per process, at the first option_get(), and never
 * again. A variable that is unset, empty, not a decimal number or below
 * its range leaves its option unset (0): the library decides by itself;
 * one above its range counts as its maximum. What
 * an option pinned shows in the statistics, as what the library decided
 * would (docs/config.md lists them). */
#ifndef WPOOL_OPTIONS_H
#define WPOOL_OPTIONS_H

#include <stdint.h>

typedef enum option {
  /* ns per page that making a kept page inaccessible costs (the shrink
   * estimate, statistic keep_shrink_ns): pinned instead of learnt. */
  OPTION_KEEP_SHRINK_NS,
  /* clean reads in a row before a kept page is given back (keep_window):
   * pinned instead of drawn from this machine's costs. */
  OPTION_KEEP_WINDOW,
  /* pages that make one call to give them back worth it (keep_drop_min):
   * pinned likewise. */
  OPTION_KEEP_DROP_MIN,
  /* 1: every reset of the automatic keep set scans; none is proved to
   * need no scan (memory/proof.h; statistic resets_proved stays 0). */
  OPTION_SCAN_ALWAYS,
  /* involuntary switches of the process within 100 ms that make the pool
   * count the machine as oversubscribed and read the fault count for
   * tries only (memory/proof.h: PROOF_PREEMPTED_MIN when unset). */
  OPTION_PREEMPTED_MIN,
  /* ns a read of the fault count costs (statistic keep_count_ns): pinned
   * instead of learnt (memory/costs.h). */
  OPTION_KEEP_COUNT_NS,
  /* ns the scans of a reset cost, what a proof saves (statistic
   * keep_reset_scan_ns): pinned instead of learnt (memory/costs.h). */
  OPTION_KEEP_SCAN_NS,
  /* ns zeroing a page costs a pool's resets (statistic
   * keep_reset_zero_ns): pinned instead of learnt (memory/costs.h). */
  OPTION_KEEP_ZERO_NS,
  OPTION_COUNT
} option_t;

/* The most a cost in ns may be set to (1,000 s): the proofs' rule
 * multiplies it by a share out of 1,024 without overflow. */
#define OPTION_NS_MAX 1000000000000ull

typedef struct option_desc {
  const char *env;      /* the environment variable */
  uint64_t min, max;    /* the values it takes */
  const char *meaning;  /* one line, with its unit */
} option_desc_t;

/* The option's value, or 0 when unset. */
uint64_t option_get(option_t o);
/* Its row of the table. */
const option_desc_t *option_desc(option_t o);

#endif
