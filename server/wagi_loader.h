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

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "wagi_table.h"

/* After a file event, how long the loader waits for more before a pass. */
#define WAGI_WATCH_DELAY_MS 20

/* A file that did not load, as it was: not tried again while unchanged. */
typedef struct wagi_refused {
  char *name;
  wagi_identity_t id;
} wagi_refused_t;

typedef struct wagi_loader {
  wrt_runtime_t *rt;
  wagi_routes_t *routes;
  bool single, watch;
  char target[4096]; /* the file (single) or the directory */
  char dir[4096];    /* the directory watched */
  char base[256];    /* single: the file's name in dir */
  /* The routes' volumes: the start's modules, sorted by name (borrowed). */
  const wagi_module_t *vols;
  size_t nvols;
  wagi_refused_t *refused; /* sorted by name (the loader's thread only) */
  size_t nrefused;
  pthread_t thread;
  bool started;
  uv_loop_t loop;
  uv_signal_t hup;
  uv_fs_event_t fs;
  uv_async_t wake; /* a version to free, or stop */
  uv_timer_t timer;
  atomic_bool stop;
} wagi_loader_t;

/* 0, or -1 with a message in err. Nothing runs yet. */
int wagi_loader_init(wagi_loader_t *l, wrt_runtime_t *rt, wagi_routes_t *routes, const char *target,
                     bool single, bool watch, const wagi_module_t *vols, size_t nvols, char *err,
                     size_t errlen);
/* The first load (wagi_pass.c): every module of vols, all or nothing;
 * 0, or -1 with the message naming the file in err. */
int wagi_loader_first(wagi_loader_t *l, char *err, size_t errlen);
/* One reload pass now, on the calling thread (wagi_pass.c). */
void wagi_loader_pass(wagi_loader_t *l);
/* Start the loader's thread (SIGHUP, --watch). 0, or -1 with err. */
int wagi_loader_start(wagi_loader_t *l, char *err, size_t errlen);
/* Stop it (no worker may run any more) and join it; then SIGHUP is
 * ignored. */
void wagi_loader_stop(wagi_loader_t *l);
void wagi_loader_free(wagi_loader_t *l);

#endif
