/* wpool: the pooling instance allocator of a WebAssembly-style runtime.
 *
 * One header, prefix wpool_ / WPOOL_. Every fallible call returns int: 0 on
 * success or a negative WPOOL_E* code (libuv style); wpool_last_error() then
 * holds this thread's message naming the limit and the value. A failed call
 * leaves the pool as it was. Sizes are in bytes unless a name says pages
 * (64 KiB WebAssembly pages) or elements. See docs/ for the design. */
#ifndef WPOOL_H
#define WPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WPOOL_BUILDING) && defined(__GNUC__)
#define WPOOL_EXPORT __attribute__((visibility("default")))
#else
#define WPOOL_EXPORT
#endif

#define WPOOL_VERSION_MAJOR 0
#define WPOOL_VERSION_MINOR 1
#define WPOOL_VERSION_PATCH 0

/* Error codes: all negative, so `if (err < 0)` tests any failure. */
#define WPOOL_EINVAL (-1)     /* bad argument or bad configuration value */
#define WPOOL_ELIMIT (-2)     /* a module does not fit the configured limits */
#define WPOOL_EEXHAUSTED (-3) /* every slot of that kind is in use */
#define WPOOL_ENOMEM (-4)     /* memory, address space or vm.max_map_count ran out */
#define WPOOL_EBUSY (-5)      /* destroying a pool with live instances or stacks */
#define WPOOL_ENOTSUP (-6)    /* a required feature is missing on this host */
#define WPOOL_ESYS (-7)       /* any other operating-system failure */

/* The name and meaning of a code, e.g. "WPOOL_EEXHAUSTED: every slot of
 * that kind is in use". Unknown codes give "unknown error". Static string.
 * Context: any thread. */
WPOOL_EXPORT const char *wpool_strerror(int err);

/* This thread's message for its last failed call, e.g. "memory 0: minimum of
 * 200 pages exceeds instance_memory_pages (160)"; "" when none failed yet.
 * Valid until this thread's next wpool call. Context: any thread. */
WPOOL_EXPORT const char *wpool_last_error(void);

/* "MAJOR.MINOR.PATCH". */
WPOOL_EXPORT const char *wpool_version(void);

#ifdef __cplusplus
}
#endif
#endif /* WPOOL_H */
