/* The library's heap (see heap.h). With jemalloc, every block comes from one
 * arena created for wpool on first use (mallocx with MALLOCX_ARENA), without
 * the thread cache so that freed metadata is not parked per thread. Without
 * jemalloc, libc's allocator. Either way the bytes in use are counted here
 * from the allocator's own usable size, so the count is exact. */
#include "util/heap.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static _Atomic size_t heap_bytes;

#if WPOOL_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#include <pthread.h>

static unsigned heap_arena;
static int heap_flags; /* MALLOCX_* for every call; 0 until the arena exists */
static pthread_once_t heap_once = PTHREAD_ONCE_INIT;

static void heap_init_once(void) {
  unsigned arena;
  size_t len = sizeof(arena);
  /* Without an arena of our own we still work, in jemalloc's default one. */
  if (mallctl("arenas.create", &arena, &len, NULL, 0) == 0) {
    heap_arena = arena;
    heap_flags = MALLOCX_ARENA(heap_arena) | MALLOCX_TCACHE_NONE;
  } else {
    heap_flags = MALLOCX_TCACHE_NONE;
  }
}

static int heap_mallocx_flags(void) {
  pthread_once(&heap_once, heap_init_once);
  return heap_flags;
}

void *heap_calloc(size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) return NULL;
  size_t bytes = (n && size) ? n * size : 1;
  int flags = heap_mallocx_flags();
  void *p = mallocx(bytes, flags | MALLOCX_ZERO);
  if (p) atomic_fetch_add_explicit(&heap_bytes, sallocx(p, flags), memory_order_relaxed);
  return p;
}

void *heap_realloc(void *p, size_t size) {
  if (!p) {
    void *q = heap_calloc(1, size);
    return q;
  }
  int flags = heap_mallocx_flags();
  size_t old = sallocx(p, flags);
  void *q = rallocx(p, size ? size : 1, flags);
  if (!q) return NULL;
  atomic_fetch_add_explicit(&heap_bytes, sallocx(q, flags), memory_order_relaxed);
  atomic_fetch_sub_explicit(&heap_bytes, old, memory_order_relaxed);
  return q;
}

void heap_free(void *p) {
  if (!p) return;
  int flags = heap_mallocx_flags();
  atomic_fetch_sub_explicit(&heap_bytes, sallocx(p, flags), memory_order_relaxed);
  dallocx(p, flags);
}

#else /* libc */
#include <malloc.h>

void *heap_calloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p) atomic_fetch_add_explicit(&heap_bytes, malloc_usable_size(p), memory_order_relaxed);
  return p;
}

void *heap_realloc(void *p, size_t size) {
  size_t old = p ? malloc_usable_size(p) : 0;
  void *q = realloc(p, size ? size : 1);
  if (!q) return NULL;
  atomic_fetch_add_explicit(&heap_bytes, malloc_usable_size(q), memory_order_relaxed);
  atomic_fetch_sub_explicit(&heap_bytes, old, memory_order_relaxed);
  return q;
}

void heap_free(void *p) {
  if (!p) return;
  atomic_fetch_sub_explicit(&heap_bytes, malloc_usable_size(p), memory_order_relaxed);
  free(p);
}
#endif

/* Large arrays map their own pages: fresh anonymous memory is zero
 * without being written, and MAP_NORESERVE charges nothing until a page is
 * touched. The one place the library maps memory outside src/memory/, as
 * the allocator underneath it does: a failure is a NULL, reported by the
 * caller as WPOOL_ENOMEM. */
static size_t array_bytes(size_t n, size_t size, bool *mapped) {
  size_t bytes = n && size ? n * size : 1;
  *mapped = bytes >= HEAP_ARRAY_MAP_BYTES;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return *mapped ? (bytes + page - 1) & ~(page - 1) : bytes;
}

void *heap_array(size_t n, size_t size) {
  if (size != 0 && n > (SIZE_MAX >> 1) / size) return NULL;
  bool mapped;
  size_t bytes = array_bytes(n, size, &mapped);
  if (!mapped) return heap_calloc(1, bytes);
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return NULL;
  atomic_fetch_add_explicit(&heap_bytes, bytes, memory_order_relaxed);
  return p;
}

void heap_array_free(void *p, size_t n, size_t size) {
  if (!p) return;
  bool mapped;
  size_t bytes = array_bytes(n, size, &mapped);
  if (!mapped) {
    heap_free(p);
    return;
  }
  munmap(p, bytes);
  atomic_fetch_sub_explicit(&heap_bytes, bytes, memory_order_relaxed);
}

size_t heap_allocated_bytes(void) {
  return atomic_load_explicit(&heap_bytes, memory_order_relaxed);
}
