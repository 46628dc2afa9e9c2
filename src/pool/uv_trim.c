/* Idle trimming on a libuv timer (wpool_uv.h). */
#include "util/error.h"
#include "util/heap.h"
#include "wpool_uv.h"

struct wpool_uv_trimmer {
  uv_timer_t timer; /* first: the handle's address is the trimmer's */
  wpool_t *pool;
  uint64_t idle_ns;
  uint64_t trimmed;
};

static void on_close(uv_handle_t *h) { heap_free(h); }

static void on_tick(uv_timer_t *timer) {
  wpool_uv_trimmer_t *t = (wpool_uv_trimmer_t *)timer;
  int64_t n = wpool_trim(t->pool, t->idle_ns);
  if (n > 0) t->trimmed += (uint64_t)n;
}

WPOOL_EXPORT int wpool_uv_trim_start(uv_loop_t *loop, wpool_t *pool, uint64_t interval_ms,
                                     uint64_t idle_ns, wpool_uv_trimmer_t **out) {
  if (!loop || !pool || !out || interval_ms == 0)
    return error_set(WPOOL_EINVAL, "uv_trim_start: NULL argument or zero interval");
  wpool_uv_trimmer_t *t = heap_calloc(1, sizeof(*t));
  if (!t) return error_set(WPOOL_ENOMEM, "uv_trim_start: out of memory");
  t->pool = pool;
  t->idle_ns = idle_ns;
  int err = uv_timer_init(loop, &t->timer);
  if (err) {
    heap_free(t);
    return error_set(WPOOL_ESYS, "uv_trim_start: uv_timer_init: %s", uv_strerror(err));
  }
  err = uv_timer_start(&t->timer, on_tick, interval_ms, interval_ms);
  if (err) {
    uv_close((uv_handle_t *)&t->timer, on_close);
    return error_set(WPOOL_ESYS, "uv_trim_start: uv_timer_start: %s", uv_strerror(err));
  }
  uv_unref((uv_handle_t *)&t->timer);
  *out = t;
  return 0;
}

WPOOL_EXPORT void wpool_uv_trim_stop(wpool_uv_trimmer_t *t) {
  if (!t) return;
  uv_timer_stop(&t->timer);
  uv_close((uv_handle_t *)&t->timer, on_close);
}

WPOOL_EXPORT uint64_t wpool_uv_trimmed(const wpool_uv_trimmer_t *t) { return t->trimmed; }
