/* Live reload (docs/serve.md "Reload"): the modules loaded away from the
 * request path, on a thread of the loader's own with a libuv loop of its
 * own: SIGHUP, and with --watch the directory's file events, start a
 * reload pass; a pass reads each changed, added or removed NAME.wasm once
 * into memory, names the version by the SHA-256 of those bytes, loads it
 * (translation and compilation, or the cache) and publishes a new route
 * table (wagi_table.h) when anything changed. A version that does not load
 * leaves the old one serving, is logged and counted, and is not tried
 * again until its file changes.
 *
 * wagi_pass.c    one pass: the directory read, each file's version
 * wagi_loader.c  the thread: signals, file events, coalescing, the graveyard
 *
 * Coalescing: a pass runs on the loader's loop, so the signals and events
 * that arrive meanwhile wait in it; they start one timer, which runs one
 * more pass after it: one pass in flight, at most one queued. */
#ifndef WPOOL_SERVER_WAGI_LOADER_H
#define WPOOL_SERVER_WAGI_LOADER_H

#include "wagi_pass.h"

/* After a file event, how long the loader waits for more before a pass. */
#define WAGI_WATCH_DELAY_MS 20

/* 0, or -1 with a message in err. Nothing runs yet. */
int wagi_loader_init(wagi_loader_t *l, wrt_runtime_t *rt, wagi_routes_t *routes, const char *target,
                     bool single, bool watch, const wagi_module_t *vols, size_t nvols, char *err,
                     size_t errlen);
/* Start the loader's thread (SIGHUP, --watch). 0, or -1 with err. */
int wagi_loader_start(wagi_loader_t *l, char *err, size_t errlen);
/* Stop it (no worker may run any more) and join it; then SIGHUP is
 * ignored. */
void wagi_loader_stop(wagi_loader_t *l);
void wagi_loader_free(wagi_loader_t *l);

#endif
