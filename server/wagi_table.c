/* The WAGI routes' snapshot, its references and its graveyard
 * (wagi_table.h). */
#include "wagi_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int wagi_routes_init(wagi_routes_t *r, bool single, unsigned nreaders) {
  *r = (wagi_routes_t){.single = single, .nreaders = nreaders};
  r->readers = aligned_alloc(64, sizeof(wagi_reader_t) * (nreaders ? nreaders : 1));
  if (!r->readers) return -ENOMEM;
  for (unsigned i = 0; i < nreaders; i++) pthread_mutex_init(&r->readers[i].lock, NULL);
  pthread_mutex_init(&r->lock, NULL);
  pthread_mutex_init(&r->dead_lock, NULL);
  atomic_init(&r->current, NULL);
  return 0;
}

void wagi_routes_free(wagi_routes_t *r) {
  if (!r->readers) return;
  wagi_routes_publish(r, NULL);
  wagi_routes_reap(r);
  for (unsigned i = 0; i < r->nreaders; i++) pthread_mutex_destroy(&r->readers[i].lock);
  pthread_mutex_destroy(&r->lock);
  pthread_mutex_destroy(&r->dead_lock);
  free(r->readers);
  r->readers = NULL;
}

wagi_table_t *wagi_table_new(size_t n) {
  wagi_table_t *t = malloc(sizeof(*t) + n * sizeof(t->v[0]));
  if (t) t->n = n;
  return t;
}

static int cmp_name(const char *a, size_t an, const char *b) {
  size_t bn = strlen(b);
  int c = memcmp(a, b, an < bn ? an : bn);
  return c ? c : (an > bn) - (an < bn);
}

wagi_version_t *wagi_table_find(const wagi_table_t *t, const char *name, size_t len) {
  size_t lo = 0, hi = t ? t->n : 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_name(name, len, t->v[mid]->mod.name);
    if (c == 0) return t->v[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

wagi_version_t *wagi_routes_acquire(wagi_routes_t *r, unsigned reader, const char *path, size_t len,
                                    const char **rest, size_t *rest_len) {
  const char *seg = len && path[0] == '/' ? path + 1 : path;
  size_t n = len - (size_t)(seg - path);
  const char *slash = memchr(seg, '/', n);
  if (slash) n = (size_t)(slash - seg);
  pthread_mutex_t *lock = &r->readers[reader % r->nreaders].lock;
  pthread_mutex_lock(lock);
  const wagi_table_t *t = atomic_load_explicit(&r->current, memory_order_acquire);
  wagi_version_t *v = NULL;
  if (r->single)
    v = t && t->n ? t->v[0] : NULL;
  else if (n)
    v = wagi_table_find(t, seg, n);
  /* Counted under the reader's lock too: wagi_routes_publish reads a
   * replaced version's count once past every reader's lock, so no request
   * is counted after its count was carried to the new version. */
  if (v) {
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&v->requests, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(lock);
  if (!v) return NULL;
  /* One module at "/" sees the whole path; a route /NAME the rest. */
  *rest = r->single ? path : seg + n;
  *rest_len = len - (size_t)(*rest - path);
  return v;
}

void wagi_routes_release(wagi_routes_t *r, wagi_version_t *v) {
  if (atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1) return;
  /* The last reference: unloading drains slots and closes an image, which
   * is the loader's work, not a worker's. */
  pthread_mutex_lock(&r->dead_lock);
  v->dead = r->dead;
  r->dead = v;
  pthread_mutex_unlock(&r->dead_lock);
  if (r->wake) r->wake(r->wake_arg);
}

void wagi_routes_publish(wagi_routes_t *r, wagi_table_t *t) {
  pthread_mutex_lock(&r->lock);
  wagi_table_t *old = atomic_exchange_explicit(&r->current, t, memory_order_acq_rel);
  /* Past this, no reader holds `old` without a reference of its own. */
  for (unsigned i = 0; i < r->nreaders; i++) {
    pthread_mutex_lock(&r->readers[i].lock);
    pthread_mutex_unlock(&r->readers[i].lock);
  }
  /* A route's count goes on from its last version's, final now. */
  for (size_t i = 0; t && i < t->n; i++) {
    wagi_version_t *was = wagi_table_find(old, t->v[i]->mod.name, strlen(t->v[i]->mod.name));
    if (was && was != t->v[i])
      t->v[i]->base = was->base + atomic_load_explicit(&was->requests, memory_order_relaxed);
  }
  for (size_t i = 0; old && i < old->n; i++)
    if (wagi_table_find(t, old->v[i]->mod.name, strlen(old->v[i]->mod.name)) != old->v[i])
      atomic_fetch_add(&r->retiring, 1);
  pthread_mutex_unlock(&r->lock);
  for (size_t i = 0; old && i < old->n; i++) wagi_routes_release(r, old->v[i]);
  free(old);
}

size_t wagi_routes_reap(wagi_routes_t *r) {
  pthread_mutex_lock(&r->dead_lock);
  wagi_version_t *v = r->dead;
  r->dead = NULL;
  pthread_mutex_unlock(&r->dead_lock);
  size_t n = 0;
  while (v) {
    wagi_version_t *next = v->dead;
    wagi_version_free(v);
    atomic_fetch_sub(&r->retiring, 1);
    v = next;
    n++;
  }
  return n;
}

wagi_version_t *wagi_version_new(const char *name, const char *path, const wagi_module_t *vols) {
  wagi_version_t *v = calloc(1, sizeof(*v));
  if (!v) return NULL;
  v->mod.name = strdup(name);
  v->mod.path = strdup(path);
  if (!v->mod.name || !v->mod.path) {
    wagi_version_free(v);
    return NULL;
  }
  if (vols) {
    v->mod.dirs = vols->dirs;
    v->mod.ndirs = vols->ndirs;
  }
  atomic_init(&v->refs, 1);
  return v;
}

void wagi_version_free(wagi_version_t *v) {
  if (!v) return;
  /* No reference is left, so no request runs on it: never WRT_EBUSY. */
  if (v->mod.m) wrt_unload(v->mod.m);
  free(v->mod.name);
  free(v->mod.path);
  free(v);
}

void metrics_label(sbuf_t *o, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"')
      sbuf_printf(o, "\\%c", *s);
    else if (*s == '\n')
      sbuf_put(o, "\\n", 2);
    else
      sbuf_put(o, s, 1);
  }
}

void wagi_routes_metrics(wagi_routes_t *r, sbuf_t *o) {
  metrics_family(o, "wpool_serve_reloads_total", "counter",
                 "Reload passes run (SIGHUP, --watch), the first load not counted.");
  sbuf_printf(o, "wpool_serve_reloads_total %llu\n", (unsigned long long)atomic_load(&r->reloads));
  metrics_family(o, "wpool_serve_reload_failures_total", "counter",
                 "New versions of modules that did not load (the old one kept serving).");
  sbuf_printf(o, "wpool_serve_reload_failures_total %llu\n",
              (unsigned long long)atomic_load(&r->failures));
  metrics_family(o, "wpool_serve_versions_retiring", "gauge",
                 "Replaced or removed versions not yet unloaded (requests still run on them).");
  sbuf_printf(o, "wpool_serve_versions_retiring %llu\n",
              (unsigned long long)atomic_load(&r->retiring));
  /* Under the lock: a table being published, and its counts, are whole. */
  pthread_mutex_lock(&r->lock);
  const wagi_table_t *t = atomic_load(&r->current);
  metrics_family(o, "wpool_serve_route_requests_total", "counter",
                 "Requests dispatched to each route (all its versions).");
  for (size_t i = 0; t && i < t->n; i++) {
    const wagi_version_t *v = t->v[i];
    sbuf_put(o, "wpool_serve_route_requests_total{route=\"/", 41);
    metrics_label(o, r->single ? "" : v->mod.name);
    sbuf_printf(
        o, "\"} %llu\n",
        (unsigned long long)(v->base + atomic_load_explicit(&v->requests, memory_order_relaxed)));
  }
  metrics_family(o, "wpool_serve_route_version", "gauge",
                 "The version each route serves: the SHA-256 of its module's bytes (first 8 "
                 "bytes, hex).");
  for (size_t i = 0; t && i < t->n; i++) {
    const wagi_version_t *v = t->v[i];
    sbuf_put(o, "wpool_serve_route_version{route=\"/", 34);
    metrics_label(o, r->single ? "" : v->mod.name);
    sbuf_printf(o, "\",version=\"%s\"} 1\n", v->hex);
  }
  pthread_mutex_unlock(&r->lock);
}
