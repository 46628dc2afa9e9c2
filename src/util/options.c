/* The options table (see options.h). */
#include "util/options.h"

#include <pthread.h>
#include <stdlib.h>

static const option_desc_t table[OPTION_COUNT] = {
    [OPTION_KEEP_SHRINK_NS] = {"WPOOL_KEEP_SHRINK_NS", 1, UINT64_MAX,
                               "ns per page a shrink over kept pages costs (keep_shrink_ns)"},
    [OPTION_KEEP_WINDOW] = {"WPOOL_KEEP_WINDOW", 1, 254,
                            "clean reads before a kept page is given back (keep_window)"},
    [OPTION_KEEP_DROP_MIN] = {"WPOOL_KEEP_DROP_MIN", 1, 64,
                              "pages worth one call to give them back (keep_drop_min)"},
    [OPTION_SCAN_ALWAYS] = {"WPOOL_SCAN_ALWAYS", 1, 1,
                            "1: every reset scans, none is proved to need no scan (resets_proved)"},
    [OPTION_PREEMPTED_MIN] = {"WPOOL_PREEMPTED_MIN", 1, UINT64_MAX,
                              "involuntary switches within 100 ms that count as oversubscribed"},
    [OPTION_KEEP_COUNT_NS] = {"WPOOL_KEEP_COUNT_NS", 1, OPTION_NS_MAX,
                              "ns a read of the fault count costs (keep_count_ns)"},
    [OPTION_KEEP_SCAN_NS] = {"WPOOL_KEEP_SCAN_NS", 1, OPTION_NS_MAX,
                             "ns the scans of one reset cost (keep_reset_scan_ns)"},
    [OPTION_KEEP_ZERO_NS] = {"WPOOL_KEEP_ZERO_NS", 1, OPTION_NS_MAX,
                             "ns zeroing a page costs a pool's resets (keep_reset_zero_ns)"},
};

static uint64_t values[OPTION_COUNT];
static pthread_once_t read_once = PTHREAD_ONCE_INIT;

/* The decimal number in `text`, at least `min` and at most `max` (a
 * larger one counts as `max`), or 0. */
static uint64_t parse(const char *text, uint64_t min, uint64_t max) {
  if (!text || *text < '0' || *text > '9') return 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (*end || v < min) return 0;
  return v > max ? max : v;
}

static void read_all(void) {
  for (int o = 0; o < OPTION_COUNT; o++)
    values[o] = parse(getenv(table[o].env), table[o].min, table[o].max);
}

uint64_t option_get(option_t o) {
  pthread_once(&read_once, read_all);
  return o < OPTION_COUNT ? values[o] : 0;
}

const option_desc_t *option_desc(option_t o) { return o < OPTION_COUNT ? &table[o] : NULL; }
