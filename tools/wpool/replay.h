#ifndef WPOOL_TOOL_REPLAY_H
#define WPOOL_TOOL_REPLAY_H
#include <stdbool.h>
#include <stdio.h>

typedef struct replay_opts {
  const char *name; /* input name for messages */
  bool summary;     /* print the summary line after the run */
  bool echo;        /* print each input line beside its answer */
} replay_opts_t;

/* Run a trace from `in`; answers go to `out`, errors to stderr.
 * Return the exit status (status.h): TOOL_OK, TOOL_BAD_INPUT on a bad line
 * or an unreadable input, TOOL_FAILED when out of memory. */
int replay_run(FILE *in, FILE *out, const replay_opts_t *opts);

/* The embedded default trace (default_trace.c). */
extern const char replay_default_trace[];
#endif
