/* A WAGI module and its route (wagi.h, wagi_table.h). */
#ifndef WPOOL_SERVER_WAGI_MODULE_H
#define WPOOL_SERVER_WAGI_MODULE_H

#include <stdint.h>

#include "runtime.h"

/* A module and its route: the route's data. */
typedef struct wagi_module {
  char *name; /* the file's name without .wasm: the route /NAME, argv[0] */
  char *path; /* the .wasm file */
  wrt_module_t *m;
  /* Its volumes: host directories its guests see as WASI preopens (fds 3,
   * 4, ...), each opened once (wagi_module_volume); owned. */
  wrt_dir_t *dirs;
  uint32_t ndirs;
} wagi_module_t;

#endif
