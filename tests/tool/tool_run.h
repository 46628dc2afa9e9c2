/* Running the `wpool` tool from tests: input from a string, output and
 * errors captured, exit status returned. The tool's path comes from the
 * WPOOL_TOOL environment variable that meson sets. */
#ifndef WPOOL_TEST_TOOL_RUN_H
#define WPOOL_TEST_TOOL_RUN_H

#include <stddef.h>

typedef struct tool_result {
  int status; /* exit status, or 128 + signal */
  char out[1 << 16];
  char err[4096];
} tool_result_t;

/* A run of the tool is killed (SIGALRM: status 142) after this many
 * seconds, so that a hang fails its test instead of outliving it. */
extern unsigned tool_run_seconds;
/* RLIMIT_NOFILE of the tool when nonzero, to make a run fail. */
extern unsigned tool_run_max_fds;
/* When set, the tool's standard output goes to this file (r->out stays
 * empty), e.g. /dev/full. */
extern const char *tool_run_stdout;

/* Run `wpool ARGS...` (NULL-terminated) with `input` on standard input. */
void tool_run(tool_result_t *r, const char *input, const char *const *args);
/* The same with `len` bytes of input, which may hold NUL bytes. */
void tool_run_bytes(tool_result_t *r, const char *input, size_t len, const char *const *args);

#endif
