#ifndef WPOOL_TOOL_TUNE_H
#define WPOOL_TOOL_TUNE_H
#include <stdio.h>

#include "run.h"

typedef struct tune_opts {
  uint64_t instances;  /* per setting; 0: a tenth of the workload's */
  bool has_budget;     /* --rss-budget given (0 is a budget) */
  uint64_t rss_budget; /* bytes */
  const char *plot;
  bool progress;
} tune_opts_t;

/* Return the exit status. */
int tune_run(const wpool_config_t *base, const workload_t *w, const tune_opts_t *o, FILE *out);
#endif
