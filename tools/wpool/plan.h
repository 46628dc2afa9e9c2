#ifndef WPOOL_TOOL_PLAN_H
#define WPOOL_TOOL_PLAN_H
#include <stdio.h>

#include "wpool.h"
/* Print what `cfg` reserves and needs, without reserving anything.
 * Return the exit status: 0 fits this host, 1 does not, 2 invalid. */
int plan_run(const wpool_config_t *cfg, FILE *out);
#endif
