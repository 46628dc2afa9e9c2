#include "rss.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t rss_of_ranges(const rss_range_t *ranges, size_t n) {
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return UINT64_MAX;
  char line[512];
  uint64_t total = 0;
  int inside = 0, continued = 0;
  while (fgets(line, sizeof(line), f)) {
    /* The rest of a line longer than the buffer (a long path) is not a
     * line of its own: skip it. */
    int was_continued = continued;
    continued = !strchr(line, '\n');
    if (was_continued) continue;
    unsigned long long lo, hi;
    /* A mapping's header line: "lo-hi perms offset dev inode [path]". */
    if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      inside = 0;
      for (size_t i = 0; i < n; i++)
        if (lo >= ranges[i].lo && hi <= ranges[i].hi) inside = 1;
      continue;
    }
    unsigned long long kb;
    if (inside && sscanf(line, "Rss: %llu kB", &kb) == 1) total += kb * 1024;
  }
  fclose(f);
  return total;
}
