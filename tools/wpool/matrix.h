#ifndef WPOOL_TOOL_MATRIX_H
#define WPOOL_TOOL_MATRIX_H
#include <stdio.h>

#include "run.h"

#define MATRIX_ROUNDS_MAX 64

typedef struct matrix_opts {
  uint64_t instances; /* per run; 0: 20000 */
  double min_s;       /* a run goes on past `instances` until it has lasted this long */
  uint64_t rounds;    /* 0: 3; at most MATRIX_ROUNDS_MAX */
  uint32_t modules;   /* only the cells of this many modules; 0: every cell */
  bool progress;
} matrix_opts_t;

/* The reset matrix (matrix.c). Return the exit status. */
int matrix_run(const wpool_config_t *base, const matrix_opts_t *o, FILE *out);
#endif
