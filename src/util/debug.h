/* Checks by debug level (meson option debug_level -> WPOOL_DEBUG):
 *   0  none beyond the cheap argument checks every build makes;
 *   1  API misuse (an instance or stack freed twice, ...) is reported on
 *      standard error and aborts, instead of being ignored (the default);
 *   2  internal assertions on the hot paths too (debug_assert, O(1));
 *   3  expensive validators after every change of a pool (O(slots)):
 *      index_is_valid, memslot_is_valid, pool_is_valid.
 * The sanitizer build in CI runs at level 3. */
#ifndef WPOOL_DEBUG_H
#define WPOOL_DEBUG_H

#ifndef WPOOL_DEBUG
#define WPOOL_DEBUG 1
#endif

/* Print "wpool: <message>" on standard error and abort. */
_Noreturn void debug_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A caller broke the API's rules: at level >= 1 abort with the message;
 * at level 0 the call goes on (and does nothing harmful). */
#define api_misuse(...)                        \
  do {                                         \
    if (WPOOL_DEBUG >= 1) debug_abort(__VA_ARGS__); \
  } while (0)

#define debug_assert(cond)                                                                  \
  do {                                                                                      \
    if (WPOOL_DEBUG >= 2 && !(cond))                                                        \
      debug_abort("%s:%d: %s: assertion failed: %s", __FILE__, __LINE__, __func__, #cond); \
  } while (0)

#endif
