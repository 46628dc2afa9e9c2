/* The library's own heap: every allocation of wpool's metadata goes through
 * here, so it can live in a dedicated jemalloc arena (when built with
 * jemalloc) and its footprint can be reported apart from the host's heap.
 * Sizes are bytes. Free paths of the allocator never call these. */
#ifndef WPOOL_HEAP_H
#define WPOOL_HEAP_H

#include <stddef.h>

/* Zeroed allocation of n * size bytes; NULL on overflow or exhaustion. */
void *heap_calloc(size_t n, size_t size);
/* Resize; new bytes are not zeroed. NULL (and `p` untouched) on failure. */
void *heap_realloc(void *p, size_t size);
void heap_free(void *p);

/* Arrays of n elements of `size` bytes sized from a configuration (a
 * record per slot), of which a pool uses the part its slots use: zeroed,
 * and from HEAP_ARRAY_MAP_BYTES on a mapping of their own whose pages are
 * committed only when first written, so an unused record costs address
 * space, not memory, and freeing costs what was touched. Counted in
 * heap_allocated_bytes() at their full size. NULL on overflow or
 * exhaustion; heap_array_free takes the same n and size. */
#define HEAP_ARRAY_MAP_BYTES (256u << 10)
void *heap_array(size_t n, size_t size);
void heap_array_free(void *p, size_t n, size_t size);
/* Bytes currently allocated through this interface (all pools). */
size_t heap_allocated_bytes(void);

#endif /* WPOOL_HEAP_H */
