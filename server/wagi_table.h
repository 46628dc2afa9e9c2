/* The WAGI routes as an immutable snapshot swapped whole (live reload,
 * docs/serve.md "Reload"): a table of module versions sorted by route
 * name, published with one atomic store. A request takes a reference to
 * its route's version at dispatch and drops it at its end; the table holds
 * one reference to each of its versions. When the last reference to a
 * replaced version goes, the version is handed to the loader's thread,
 * which unloads its module (the pool drains its slots and closes its
 * image): a worker never unloads.
 *
 * Invariants, for every version v:
 *   v->refs == (tables holding v, the current or one being retired)
 *              + (requests running on v)
 *   v->refs == 0  <=>  v is on the graveyard or freed
 * A reader holds its own reader lock from loading `current` until its
 * reference is taken; publishing takes every reader lock once after the
 * store, so no reader still holds the old table without a reference
 * (an uncontended lock per request, on a line of the worker's own). */
#ifndef WPOOL_SERVER_WAGI_TABLE_H
#define WPOOL_SERVER_WAGI_TABLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "wagi_module.h"

/* A file as last seen: any field changed means its bytes may have. */
typedef struct wagi_identity {
  dev_t dev;
  ino_t ino;
  off_t size;
  int64_t mtime_ns, ctime_ns;
} wagi_identity_t;

typedef struct wagi_version {
  wagi_module_t mod;         /* name and path owned; dirs borrowed (the route's volumes) */
  uint8_t sha[32];           /* the SHA-256 of its module's bytes */
  char hex[17];              /* the version: the SHA-256 of its bytes, first 8 bytes in hex */
  _Atomic uint64_t refs;     /* see the invariants above */
  _Atomic uint64_t requests; /* requests dispatched on this version */
  uint64_t base;             /* the route's requests on its earlier versions (under lock) */
  wagi_identity_t id;        /* its file when loaded, or as last seen (the loader's only) */
  struct wagi_version *dead; /* the graveyard's link */
} wagi_version_t;

typedef struct wagi_table {
  size_t n;
  wagi_version_t *v[]; /* sorted by name, names distinct */
} wagi_table_t;

typedef struct wagi_reader {
  pthread_mutex_t lock;
  char pad[64 - sizeof(pthread_mutex_t) % 64];
} wagi_reader_t;

typedef struct wagi_routes {
  wagi_table_t *_Atomic current;
  bool single;       /* one route at "/" whatever the path */
  unsigned nreaders; /* workers: reader i is worker i's */
  wagi_reader_t *readers;
  pthread_mutex_t lock;      /* publication, the versions' bases, /metrics' reads */
  pthread_mutex_t dead_lock; /* guards dead */
  wagi_version_t *dead;      /* versions whose last reference went */
  void (*wake)(void *arg);   /* tells the loader there is a version to free; may be NULL */
  void *wake_arg;
  _Atomic uint64_t reloads, failures, retiring;
} wagi_routes_t;

/* 0 or -ENOMEM. The table starts empty. */
int wagi_routes_init(wagi_routes_t *r, bool single, unsigned nreaders);
/* Drop the table, free every version (no request may run), free r. */
void wagi_routes_free(wagi_routes_t *r);

/* A table of n versions (each with a reference taken by the caller for
 * it); NULL: out of memory. */
wagi_table_t *wagi_table_new(size_t n);
/* The version of route `name` in t (the loader's thread), or NULL. */
wagi_version_t *wagi_table_find(const wagi_table_t *t, const char *name, size_t len);

/* Worker `reader`: the version serving `path` with a reference taken (and
 * its request counted), *rest the path past the route; NULL: none (404). */
wagi_version_t *wagi_routes_acquire(wagi_routes_t *r, unsigned reader, const char *path, size_t len,
                                    const char **rest, size_t *rest_len);
/* Drop a reference (any thread); the last one hands v to the loader. */
void wagi_routes_release(wagi_routes_t *r, wagi_version_t *v);

/* Make t the table (the loader's thread): a route's version that t
 * replaces passes its request count on; the old table's references are
 * dropped. t may be NULL (no routes). */
void wagi_routes_publish(wagi_routes_t *r, wagi_table_t *t);
/* Free the versions whose last reference went (the loader's thread):
 * unload each module. Return how many. */
size_t wagi_routes_reap(wagi_routes_t *r);

/* A version with no module yet: name, path and dirs copied (dirs
 * borrowed); NULL: out of memory. refs starts at 1 (its table's). */
wagi_version_t *wagi_version_new(const char *name, const char *path, const wagi_module_t *vols);
/* Unload its module and free it. */
void wagi_version_free(wagi_version_t *v);

/* /metrics' part: each route's requests and version, reloads. */
void wagi_routes_metrics(wagi_routes_t *r, sbuf_t *o);
/* s as a Prometheus label value (escaped: backslash, quote, newline). */
void metrics_label(sbuf_t *o, const char *s);

#endif
