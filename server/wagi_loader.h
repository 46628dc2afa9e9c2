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

/* --watch: a pass runs once no file event came for WAGI_WATCH_SETTLE_MS
 * (a writer's burst is over: a file copied in pieces is an event each
 * piece, a pause between pieces far shorter), and at the latest
 * WAGI_WATCH_MAX_WAIT_MS after the first event (a file written without
 * pause is still loaded). It narrows, never closes, the window in which a
 * file written in place is read half-written: deploy by rename. */
#define WAGI_WATCH_SETTLE_MS 200
#define WAGI_WATCH_MAX_WAIT_MS 2000

/* 0, or -1 with a message in err. Nothing runs yet. */
int wagi_loader_init(wagi_loader_t *l, wrt_runtime_t *rt, wagi_routes_t *routes, const char *target,
                     bool single, bool watch, const wagi_module_t *vols, size_t nvols, char *err,
                     size_t errlen);
/* Start the loader's thread (SIGHUP, --watch). 0, or -1 with err. */
int wagi_loader_start(wagi_loader_t *l, char *err, size_t errlen);
/* Stop it (no worker may run any more): a pass in progress publishes
 * nothing and loads no further file; then SIGHUP is ignored. Waits for the
 * thread until `deadline_ns` (CLOCK_MONOTONIC; UINT64_MAX: no limit); a
 * SIGINT or SIGTERM pending for the process meanwhile (the caller blocks
 * them in every thread; each one is consumed) brings the deadline to
 * `again_ns` after it at the latest: an idle loader still ends cleanly.
 * 0: joined. -ETIMEDOUT (-EINTR: after a signal): the thread is still in
 * a load (a compile can take its limit, minutes) and still uses the
 * runtime and the routes, so the caller must end the process (_exit)
 * without freeing them; the compile's tool is killed with its thread
 * (runtime/tool.c). */
int wagi_loader_stop(wagi_loader_t *l, uint64_t deadline_ns, uint64_t again_ns);
/* After wagi_loader_stop returned 0, or if it was never started. */
void wagi_loader_free(wagi_loader_t *l);

#endif
