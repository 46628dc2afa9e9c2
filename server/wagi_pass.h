/* The loader's state and its reload pass (wagi_pass.c; the thread that
 * runs it is wagi_loader.h's). */
#ifndef WPOOL_SERVER_WAGI_PASS_H
#define WPOOL_SERVER_WAGI_PASS_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "wagi_table.h"

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
  int ended_fd; /* an eventfd the thread writes once its loop has ended */
  uv_loop_t loop;
  uv_signal_t hup;
  uv_fs_event_t fs;
  uv_async_t wake;      /* a version to free, or stop */
  uv_timer_t timer;     /* the next pass */
  bool hup_pending;     /* timer due now, for SIGHUP: events leave it be */
  uint64_t first_event; /* the loop's ms: the first file event the timer waits on */
  atomic_bool stop;
} wagi_loader_t;

/* The first load (wagi_pass.c): every module of vols, all or nothing;
 * 0, or -1 with the message naming the file in err. */
int wagi_loader_first(wagi_loader_t *l, char *err, size_t errlen);
/* One reload pass now, on the calling thread (wagi_pass.c). */
void wagi_loader_pass(wagi_loader_t *l);

#endif
