/* Checks by debug level (meson option debug_level -> WPOOL_DEBUG), as
 * mimalloc's mi_assert / mi_assert_internal / mi_assert_expensive:
 *   0  none beyond the cheap argument checks every build makes;
 *   1  API misuse (an instance or stack freed twice, ...) is reported on
 *      standard error and aborts, instead of being ignored (the default);
 *   2  internal assertions on the hot paths too (debug_assert, O(1)): each
 *      function that changes a slot, a memory or the index states its
 *      preconditions (the slot's state, the memory's accessible size, the
 *      lock held) at its top;
 *   3  expensive checks (debug_assert_expensive, O(n)), and the validators
 *      after every change of a pool (O(slots used)): index_is_valid,
 *      memslot_is_valid, pool_is_valid.
 * The sanitizer build in CI runs at level 3. The library never uses libc's
 * assert (tests/layers.py checks).
 *
 * One vocabulary for the whole project: runtime/ and server/ include this
 * header too (by its path, "../src/util/debug.h"), at the same level (the
 * build passes -DWPOOL_DEBUG to every file). So it is self-contained:
 * debug_abort is defined here, not in the library, whose installed archive
 * hides every name but wpool_*'s from the runtime that links it. */
#ifndef WPOOL_DEBUG_H
#define WPOOL_DEBUG_H

#ifndef WPOOL_DEBUG
#define WPOOL_DEBUG 1
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Print "wpool: <message>" on standard error (one write) and abort. */
__attribute__((format(printf, 1, 2), cold)) static inline _Noreturn void debug_abort(
    const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "wpool: %s\n", msg);
  abort();
}

/* A caller broke the API's rules: at level >= 1 abort with the message;
 * at level 0 the call goes on (and does nothing harmful). */
#define api_misuse(...)                        \
  do {                                         \
    if (WPOOL_DEBUG >= 1) debug_abort(__VA_ARGS__); \
  } while (0)

/* The condition's text is taken here, before an argument's macros (an
 * atomic_load, say) are expanded. */
#define debug_assert_at(level, cond) debug_check_(level, cond, #cond)

/* An internal precondition or invariant, O(1): checked at level >= 2. */
#define debug_assert(cond) debug_check_(2, cond, #cond)
/* An expensive one (a walk, a validator): checked at level >= 3. */
#define debug_assert_expensive(cond) debug_check_(3, cond, #cond)

#define debug_check_(level, cond, text)                                                   \
  do {                                                                                    \
    if (WPOOL_DEBUG >= (level) && !(cond))                                                \
      debug_abort("%s:%d: %s: assertion failed: %s", __FILE__, __LINE__, __func__, text); \
  } while (0)

#endif
