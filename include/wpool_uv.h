/* wpool with libuv: idle trimming on an event loop's timer.
 * Separate from wpool.h so that users without libuv need not have it.
 * Link: pkg-config --cflags --libs wpool (libwpool is built with libuv
 * when libuv1-dev is present; WPOOL_HAVE_UV tells). */
#ifndef WPOOL_UV_H
#define WPOOL_UV_H

#include <uv.h>

#include "wpool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wpool_uv_trimmer wpool_uv_trimmer_t;

/* Every `interval_ms` milliseconds, call wpool_trim(pool, idle_ns) from
 * `loop`'s thread. The timer does not keep the loop alive (uv_unref).
 * Return: 0, WPOOL_EINVAL, WPOOL_ENOMEM, or WPOOL_ESYS (a libuv error).
 * Context: the loop's thread. */
WPOOL_EXPORT int wpool_uv_trim_start(uv_loop_t *loop, wpool_t *pool, uint64_t interval_ms,
                                     uint64_t idle_ns, wpool_uv_trimmer_t **out);

/* Stop the timer; its memory is freed when libuv closes the handle (on the
 * loop's next iteration). The pool must outlive that. Return: nothing;
 * NULL is ignored. Context: the loop's thread. */
WPOOL_EXPORT void wpool_uv_trim_stop(wpool_uv_trimmer_t *trimmer);

/* Return: the slots trimmed by this timer so far.
 * Context: the loop's thread. */
WPOOL_EXPORT uint64_t wpool_uv_trimmed(const wpool_uv_trimmer_t *trimmer);

#ifdef __cplusplus
}
#endif
#endif /* WPOOL_UV_H */
