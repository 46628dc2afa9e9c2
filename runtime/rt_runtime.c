/* The runtime's lifecycle: options, the default pool configuration,
 * wrt_create and wrt_destroy, the backend's table, statistics. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

static const rt_backend_t *const backends[] = {
    [WRT_BACKEND_POOL] = &rt_backend_pool,
    [WRT_BACKEND_STOCK] = &rt_backend_stock,
};

static const rt_backend_t *backend_of(wrt_backend_t b) {
  return (unsigned)b < sizeof(backends) / sizeof(backends[0]) ? backends[b] : NULL;
}

const char *wrt_backend_name(wrt_backend_t b) {
  const rt_backend_t *ops = backend_of(b);
  return ops ? ops->name : "unknown";
}

void wrt_options_init(wrt_options_t *o) { memset(o, 0, sizeof(*o)); }

void wrt_config_init(wpool_config_t *cfg) {
  wpool_config_init(cfg);
  cfg->memory_reservation = 4ull << 30;
  cfg->memory_guard_size = RT_UNCHECKED_REACH - (4ull << 30);
  cfg->memory_unchecked_reach = RT_UNCHECKED_REACH;
  cfg->table_element_size = sizeof(wasm_rt_funcref_t);
  /* The keep budgets stay the library's: WPOOL_KEEP_AUTO keeps the table
   * pages wasm2c's code fills at every instantiation, and the memory pages
   * a guest's stack and heap use, resident (docs/reset.md). */
}

static char *dup_or_null(const char *s, bool *fail) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *fail = true;
  return d;
}

int wrt_create(const wrt_options_t *opts, wrt_runtime_t **out) {
  if (!opts || !out) return rt_error(WRT_EINVAL, "wrt_create: NULL argument");
  *out = NULL;
  const rt_backend_t *ops = backend_of(opts->backend);
  if (!ops) return rt_error(WRT_EINVAL, "wrt_create: unknown backend %d", (int)opts->backend);
  wrt_resolve_t resolve = opts->resolve;
  if ((unsigned)resolve > WRT_RESOLVE_WALK)
    return rt_error(WRT_EINVAL, "wrt_create: unknown resolve %d", (int)resolve);
  if (resolve != WRT_RESOLVE_WALK) {
    bool have = rt_wasi_probe_openat2() == 0;
    if (!have && resolve == WRT_RESOLVE_OPENAT2)
      return rt_error(WRT_EINVAL, "wrt_create: resolve openat2: the kernel refuses openat2: %s",
                      strerror(errno));
    resolve = have ? WRT_RESOLVE_OPENAT2 : WRT_RESOLVE_WALK;
  }
  int err = rt_signals_install();
  if (err) return err;
  wrt_runtime_t *rt = calloc(1, sizeof(*rt));
  if (!rt) return rt_error(WRT_ENOMEM, "wrt_create: out of memory");
  rt->backend = opts->backend;
  rt->ops = ops;
  rt->wasi_resolve = resolve;
  bool fail = false;
  rt->cache_dir = dup_or_null(opts->cache_dir, &fail);
  rt->cc = dup_or_null(opts->cc, &fail);
  if (fail) {
    err = rt_error(WRT_ENOMEM, "wrt_create: out of memory");
    goto fail_strings;
  }
  rt->compile_timeout_ms = opts->compile_timeout_ms ? opts->compile_timeout_ms
                                                    : WRT_COMPILE_TIMEOUT_MS_DEFAULT;
  rt->compile_cpu_seconds = opts->compile_cpu_seconds ? opts->compile_cpu_seconds
                                                      : WRT_COMPILE_CPU_SECONDS_DEFAULT;
  rt->compile_memory_bytes = opts->compile_memory_bytes ? opts->compile_memory_bytes
                                                        : WRT_COMPILE_MEMORY_BYTES_DEFAULT;
  rt->compile_file_bytes = opts->compile_file_bytes ? opts->compile_file_bytes
                                                    : WRT_COMPILE_FILE_BYTES_DEFAULT;
  if (rt->compile_timeout_ms != WRT_NO_LIMIT && rt->compile_timeout_ms > UINT64_MAX / 1000000u) {
    err = rt_error(WRT_EINVAL, "compile_timeout_ms (%llu) is too large; WRT_NO_LIMIT sets none",
                   (unsigned long long)rt->compile_timeout_ms);
    goto fail_strings;
  }
  if (opts->pool_config)
    rt->cfg = *opts->pool_config;
  else
    wrt_config_init(&rt->cfg);
  /* Both backends obey the pool's page limit, which must leave every
   * memory's byte size representable. */
  if (rt->cfg.instance_memory_pages > RT_MAX_PAGES) {
    err = rt_error(WRT_EINVAL,
                   "instance_memory_pages (%llu) is over %u: wasm2c's code holds a memory's size "
                   "in 32 bits, so a memory of 65536 pages (4 GiB) would have size 0",
                   (unsigned long long)rt->cfg.instance_memory_pages, RT_MAX_PAGES);
    goto fail_strings;
  }
  err = ops->create(rt);
  if (err) goto fail_strings;
  if (pthread_mutex_init(&rt->lock, NULL) != 0) {
    err = rt_error(WRT_ESYS, "pthread_mutex_init failed");
    goto fail_mutex;
  }
  *out = rt;
  return 0;
fail_mutex:
  ops->destroy(rt);
fail_strings:
  free(rt->cache_dir);
  free(rt->cc);
  free(rt);
  return err;
}

int wrt_destroy(wrt_runtime_t *rt) {
  if (!rt) return 0;
  if (atomic_load(&rt->running)) return rt_error(WRT_EBUSY, "wrt_destroy: requests are running");
  rt_watchdog_stop(rt);
  while (rt->modules) {
    wrt_module_t *m = rt->modules;
    rt->modules = m->next;
    rt_module_destroy(m);
  }
  int err = rt->ops->destroy(rt);
  if (err) return err;
  pthread_mutex_destroy(&rt->lock);
  free(rt->tool_tag);
  free(rt->cache_dir);
  free(rt->cc);
  free(rt);
  /* This thread's signal stack stays (every thread's goes at its exit). */
  return 0;
}

wrt_backend_t wrt_backend(const wrt_runtime_t *rt) { return rt->backend; }
wpool_t *wrt_pool(wrt_runtime_t *rt) { return rt->pool; }

void wrt_stats_get(wrt_runtime_t *rt, wrt_stats_t *o) {
  o->requests = atomic_load(&rt->requests);
  o->traps = atomic_load(&rt->traps);
  o->nonzero_exits = atomic_load(&rt->nonzero_exits);
  o->exhausted = atomic_load(&rt->exhausted);
  o->modules_loaded = atomic_load(&rt->modules_loaded);
  o->cache_hits = atomic_load(&rt->cache_hits);
  o->cache_misses = atomic_load(&rt->cache_misses);
  o->timeouts = atomic_load(&rt->timeouts);
}
