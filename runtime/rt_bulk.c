/* The bulk memory operations of the generated code: memory.fill,
 * memory.copy, memory.init and table.copy, which wasm2c writes as calls of
 * memset and memmove (the transform routes them here: transform_bulk.c).
 *
 * A time limit ends a request by the watchdog's signal, which leaves the
 * guest at once only when it lands in the module's own code (rt_signal.c);
 * in libc it only sets timeout_pending. A guest that loops on a 10 MiB
 * memory.fill spends nearly all its time inside memset, so without a look
 * at that flag it would run on until a signal happened to land in the few
 * instructions between two fills. These do the work in pieces of
 * RT_CHUNK_BYTES and, after each, take a pending timeout.
 *
 * They are not host calls (no RT_HOST_CALL): they hold no lock and no
 * allocation, so leaving by the trap's jump from between two pieces is as
 * safe as from the generated code, and they cost no more than a look at
 * the flag per piece (fills and copies of at most RT_BULK_INLINE_MAX bytes
 * do not come here at all). A fault inside them is a host bug, as it was
 * inside memset: the generated code checked the range before the call. */
#include <string.h>

#include "rt_internal.h"

void *wrt_bulk_fill(void *dst, int value, size_t n);
void *wrt_bulk_move(void *dst, const void *src, size_t n);

/* Take a pending timeout: the request ends here with the trap `timeout`. */
static inline void take_pending(void) {
  rt_ctx_t *c = rt_cur;
  if (c && c->in_guest && rt_timeout_pending(c)) rt_host_timed_out(c);
}

void *wrt_bulk_fill(void *dst, int value, size_t n) {
  uint8_t *d = dst;
  while (n) {
    size_t k = n < RT_CHUNK_BYTES ? n : RT_CHUNK_BYTES;
    memset(d, value, k);
    d += k;
    n -= k;
    take_pending();
  }
  return dst;
}

/* memmove's meaning, piece by piece: when the destination lies above the
 * source, the pieces go from the end down, so no piece reads bytes an
 * earlier one wrote; otherwise from the start up. Each piece is itself a
 * memmove (a piece may overlap its own source). */
void *wrt_bulk_move(void *dst, const void *src, size_t n) {
  uint8_t *d = dst;
  const uint8_t *s = src;
  bool down = (uintptr_t)d > (uintptr_t)s;
  while (n) { /* none for 0 bytes: a dropped segment's or an empty table's data is NULL */
    size_t k = n < RT_CHUNK_BYTES ? n : RT_CHUNK_BYTES;
    n -= k;
    if (down) {
      memmove(d + n, s + n, k);
    } else {
      memmove(d, s, k);
      d += k;
      s += k;
    }
    take_pending();
  }
  return dst;
}
