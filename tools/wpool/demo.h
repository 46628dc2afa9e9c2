#ifndef WPOOL_TOOL_DEMO_H
#define WPOOL_TOOL_DEMO_H
#include <stdint.h>
#include <stdio.h>
/* The most iterations `wpool demo` takes (days of work). */
#define DEMO_MAX_ITERATIONS 1000000000000ull

/* Run the demo loop; return the exit status (1 if anything went wrong). */
int demo_run(FILE *out, uint64_t iterations);
#endif
