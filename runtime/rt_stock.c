/* The stock backend: wasm-rt's memory and table functions as Debian's
 * wasm2c 1.0.32 ships them (/usr/share/wabt/wasm2c/wasm-rt-impl.c, built
 * with WASM_RT_MEMCHECK_SIGNAL_HANDLER): each memory is a fresh PROT_NONE
 * reservation whose accessible pages are mprotect'ed read-write, unmapped
 * when the instance is freed; each table is calloc'd and realloc'd.
 *
 * Three differences, each a fix, none a speed-up:
 *  - failures are returned (the request ends with WRT_ENOMEM) instead of
 *    abort();
 *  - the free unmaps the whole reservation: 1.0.32's wasm_rt_free_memory
 *    unmaps only `size` bytes and leaks the rest of the 8 GiB, which runs a
 *    long-lived process out of address space after ~16,000 instances;
 *  - the reservation is RT_UNCHECKED_REACH (8 GiB + 64 KiB), not exactly
 *    8 GiB, since an 8-byte access at address + offset 2^33 - 2 ends past
 *    8 GiB (and 16 bytes for v128). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rt_internal.h"

#define PAGE 65536u

bool stock_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial, uint32_t max) {
  uint64_t bytes = (uint64_t)initial * PAGE;
  void *addr = mmap(NULL, RT_UNCHECKED_REACH, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
  if (addr == MAP_FAILED) return false;
  if (bytes && mprotect(addr, bytes, PROT_READ | PROT_WRITE) != 0) {
    munmap(addr, RT_UNCHECKED_REACH);
    return false;
  }
  mem->data = addr;
  mem->size = (uint32_t)bytes;
  mem->pages = initial;
  mem->max_pages = max;
  return true;
}

uint32_t stock_grow_memory(wasm_rt_memory_t *mem, uint32_t delta) {
  uint32_t old_pages = mem->pages;
  uint64_t new_pages = (uint64_t)old_pages + delta;
  if (new_pages == 0) return 0;
  if (new_pages > mem->max_pages || new_pages > 65536) return UINT32_MAX;
  if (delta && mprotect(mem->data + (uint64_t)old_pages * PAGE, (uint64_t)delta * PAGE,
                        PROT_READ | PROT_WRITE) != 0)
    return UINT32_MAX;
  mem->pages = (uint32_t)new_pages;
  /* 65536 pages is 4 GiB, which wasm-rt's uint32_t size cannot hold; the
   * same truncation as the stock runtime's. */
  mem->size = (uint32_t)(new_pages * PAGE);
  return old_pages;
}

void stock_free_memory(wasm_rt_memory_t *mem) {
  if (mem->data) munmap(mem->data, RT_UNCHECKED_REACH);
  mem->data = NULL;
}

bool stock_allocate_table(wasm_rt_funcref_table_t *t, uint32_t elements, uint32_t max) {
  t->size = elements;
  t->max_size = max;
  t->data = calloc(elements ? elements : 1, sizeof(wasm_rt_funcref_t));
  return t->data != NULL;
}

uint32_t stock_grow_table(wasm_rt_funcref_table_t *t, uint32_t delta, wasm_rt_funcref_t init) {
  uint32_t old = t->size;
  uint64_t n = (uint64_t)old + delta;
  if (n == 0) return 0;
  if (n > t->max_size) return UINT32_MAX;
  wasm_rt_funcref_t *d = realloc(t->data, n * sizeof(wasm_rt_funcref_t));
  if (!d) return UINT32_MAX;
  t->data = d;
  t->size = (uint32_t)n;
  for (uint64_t i = old; i < n; i++) d[i] = init;
  return old;
}

void stock_free_table(wasm_rt_funcref_table_t *t) {
  free(t->data);
  t->data = NULL;
}
