/* A snapshot's state (rt_snapshot.c takes it, rt_snapshot.h applies it)
 * and its place in the compile cache (snap_cache.c): what an init
 * function left, stored so that the next load of the same module with
 * the same init need not run it. */
#ifndef WRT_SNAP_CACHE_H
#define WRT_SNAP_CACHE_H

#include "rt_internal.h"

/* A global the init changed: `size` bytes (4 or 8) at `offset` in the
 * generated instance struct, its value after the init. */
typedef struct rt_snap_global {
  uint32_t offset, size;
  uint64_t value;
} rt_snap_global_t;

typedef struct rt_snapshot {
  rt_snap_global_t *globals; /* those the init changed, in index order */
  uint32_t nglobals;
  uint64_t image_bytes; /* non-zero bytes the image holds (whole 4 KiB blocks) */
  uint64_t init_ns;     /* the init function's run (when it ran) */
  bool from_cache;      /* read from the compile cache (snap_cache.c), not run at this load */
} rt_snapshot_t;

/* A snapshot as loaded and stored: the state, the memory's size and its
 * non-zero runs (data segments whose bytes are in `bytes`). */
typedef struct rt_snap_data {
  rt_snapshot_t *s;
  uint64_t pages;
  wasm_segment_t *runs;
  uint32_t nruns;
  uint8_t *bytes; /* owned: the runs' bytes (and, from the cache, the file's) */
} rt_snap_data_t;

/* The snapshot of module `w` by init `name`, if the cache holds a valid
 * one for it: true and `d` filled (s->globals, runs and bytes allocated;
 * the caller frees them). Anything else (none, a manifest that does not
 * match, bounds that do not fit this module and pool) is false. */
bool rt_snap_cache_get(wrt_module_t *m, const wasm_module_t *w, const char *name,
                       rt_snap_data_t *d);

/* Store it (best effort: a cache that cannot be written keeps none). */
void rt_snap_cache_put(wrt_module_t *m, const wasm_module_t *w, const char *name,
                       const rt_snap_data_t *d);

#endif /* WRT_SNAP_CACHE_H */
