/* The WASI options `wpool wasm` takes (docs/cli.md): --env KEY=VALUE,
 * --dir HOST[::GUEST] (read-write) and --dir-ro HOST[::GUEST], the shapes
 * of `wasmtime run`'s. */
#ifndef WPOOL_TOOL_WASI_OPTS_H
#define WPOOL_TOOL_WASI_OPTS_H

#include <stdint.h>

#include "runtime.h"

typedef struct wasi_opts {
  const char **envp; /* "KEY=VALUE" strings */
  uint32_t envc;
  wrt_dir_t *dirs; /* each directory opened once (wrt_dir_open), for every request */
  uint32_t ndirs;
  char **owned; /* strings made here */
  uint32_t nowned;
} wasi_opts_t;

/* If argv[*i] is one of the options, take it and its value (advancing *i
 * past the value) and return 1; 0 if it is not one of them; -1 after a
 * one-line message on stderr naming `cmd`, the option and the reason (a
 * missing or malformed value, a directory that cannot be opened, too
 * many). */
int wasi_opts_take(wasi_opts_t *o, const char *cmd, int argc, char **argv, int *i);

/* Close the directories and free everything. */
void wasi_opts_free(wasi_opts_t *o);

/* Split "HOST[::GUEST]" into a malloc'd host and guest path (GUEST
 * defaults to HOST, as wasmtime's does); false if either is empty, the
 * guest longer than 1,024 bytes, or out of memory. */
bool wasi_dir_spec(const char *spec, char **host, char **guest);

#endif
