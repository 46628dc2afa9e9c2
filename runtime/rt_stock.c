/* The stock backend: wasm-rt's memory and table functions as Debian's
 * wasm2c 1.0.32 ships them (/usr/share/wabt/wasm2c/wasm-rt-impl.c, built
 * with WASM_RT_MEMCHECK_SIGNAL_HANDLER): each memory is a fresh PROT_NONE
 * reservation whose accessible pages are mprotect'ed read-write, unmapped
 * when the instance is freed; each table is calloc'd and realloc'd.
 *
 * Active data segments are written into each new memory here, from the
 * module's copy of them (the generated code holds none of their bytes:
 * wasm_rewrite.c), as the generated code's LOAD_DATA wrote them.
 *
 * Four differences from wasm-rt-impl.c, each a fix, none a speed-up:
 *  - failures are returned (the request ends with WRT_ENOMEM) instead of
 *    abort();
 *  - the free unmaps the whole reservation: 1.0.32's wasm_rt_free_memory
 *    unmaps only `size` bytes and leaks the rest of the 8 GiB, which runs a
 *    long-lived process out of address space after ~16,000 instances;
 *  - the reservation is RT_UNCHECKED_REACH (8 GiB + 64 KiB), not exactly
 *    8 GiB, since an 8-byte access at address + offset 2^33 - 2 ends past
 *    8 GiB (and 16 bytes for v128);
 *  - memories obey the pool's page limit (instance_memory_pages, at most
 *    RT_MAX_PAGES): a module whose minimum is over it is refused at load
 *    (rt_load.c, for both backends), growth past it fails, and no size
 *    wraps to 0 at 4 GiB; tables obey instance_tables and
 *    instance_table_elements likewise. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rt_internal.h"

#define PAGE 65536u

static int stock_create(wrt_runtime_t *rt) {
  (void)rt;
  return 0;
}

static int stock_destroy(wrt_runtime_t *rt) {
  (void)rt;
  return 0;
}

/* An active data segment: written into each new memory (the generated
 * code holds none of their bytes, wasm_rewrite.c), as wasm2c's LOAD_DATA
 * wrote it. */
typedef struct rt_data {
  uint64_t offset;
  uint32_t len;
  const uint8_t *bytes;
} rt_data_t;

/* The pool's limits on what a module declares were checked at load
 * (rt_load.c, before compiling). The active data segments are copied,
 * in order, into one block (the module's bytes are not kept). */
static int stock_module_new(wrt_module_t *m, const wasm_module_t *w) {
  uint32_t n = 0;
  size_t bytes = 0;
  for (uint32_t i = 0; i < w->nsegments; i++)
    if (w->segments[i].active && w->segments[i].len) n++, bytes += w->segments[i].len;
  if (!n) return 0;
  rt_data_t *d = malloc(n * sizeof(*d) + bytes);
  if (!d) return rt_error(WRT_ENOMEM, "%s: out of memory for %zu bytes of data", m->path, bytes);
  uint8_t *at = (uint8_t *)(d + n);
  n = 0;
  for (uint32_t i = 0; i < w->nsegments; i++) {
    const wasm_segment_t *s = &w->segments[i];
    if (!s->active || !s->len) continue;
    memcpy(at, s->bytes, s->len);
    d[n++] = (rt_data_t){.offset = s->offset, .len = s->len, .bytes = at};
    at += s->len;
  }
  m->data = d;
  m->ndata = n;
  return 0;
}

static void stock_module_release(wrt_module_t *m) {
  free(m->data);
  m->data = NULL;
  m->ndata = 0;
}

static int stock_instance_new(rt_ctx_t *c) {
  c->guest = calloc(1, c->m->instance_size);
  if (!c->guest) return rt_error(WRT_ENOMEM, "%s: out of memory for the instance", c->m->path);
  return 0;
}

static bool stock_allocate_memory(rt_ctx_t *c, wasm_rt_memory_t *mem, uint32_t initial,
                                  uint32_t max) {
  /* A snapshot's memory starts larger than the declared minimum. */
  if (c->m->start_pages > initial) initial = (uint32_t)c->m->start_pages;
  uint64_t bytes = (uint64_t)initial * PAGE;
  void *addr = mmap(NULL, RT_UNCHECKED_REACH, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
  if (addr == MAP_FAILED) return false;
  if (bytes && mprotect(addr, bytes, PROT_READ | PROT_WRITE) != 0) {
    munmap(addr, RT_UNCHECKED_REACH);
    return false;
  }
  /* The loader checked that each segment ends within the minimum, which
   * the transform checked is `initial`. */
  for (uint32_t i = 0; i < c->m->ndata; i++) {
    const rt_data_t *d = &c->m->data[i];
    if (d->offset + d->len > bytes) {
      munmap(addr, RT_UNCHECKED_REACH);
      return false;
    }
    memcpy((uint8_t *)addr + d->offset, d->bytes, d->len);
  }
  mem->data = addr;
  mem->size = (uint32_t)bytes;
  mem->pages = initial;
  mem->max_pages = max;
  c->fault_lo = mem->data;
  c->fault_hi = mem->data + RT_UNCHECKED_REACH;
  return true;
}

static uint32_t stock_grow_memory(rt_ctx_t *c, wasm_rt_memory_t *mem, uint32_t delta) {
  uint32_t old_pages = mem->pages;
  uint64_t new_pages = (uint64_t)old_pages + delta;
  if (new_pages == 0) return 0;
  if (new_pages > mem->max_pages || new_pages > c->m->rt->cfg.instance_memory_pages)
    return UINT32_MAX;
  if (delta && mprotect(mem->data + (uint64_t)old_pages * PAGE, (uint64_t)delta * PAGE,
                        PROT_READ | PROT_WRITE) != 0) {
    c->host_failures++;
    return UINT32_MAX;
  }
  mem->pages = (uint32_t)new_pages;
  mem->size = (uint32_t)(new_pages * PAGE); /* at most RT_MAX_PAGES: no wrap */
  return old_pages;
}

static void free_memory(wasm_rt_memory_t *mem) {
  if (mem->data) munmap(mem->data, RT_UNCHECKED_REACH);
  mem->data = NULL;
}

/* Tables: calloc'd arrays of funcrefs or externrefs, realloc'd to grow,
 * within the pool's limit on elements (instance_table_elements), as the
 * pool's are. */
static size_t elem_size(const rt_ctx_t *c, uint32_t i) {
  return c->m->tables[i].externref ? sizeof(wasm_rt_externref_t) : sizeof(wasm_rt_funcref_t);
}

static bool stock_allocate_table(rt_ctx_t *c, uint32_t i, void *t, uint32_t elements,
                                 uint32_t max) {
  void *data = calloc(elements ? elements : 1, elem_size(c, i));
  if (c->m->tables[i].externref) {
    wasm_rt_externref_table_t *e = t;
    *e = (wasm_rt_externref_table_t){.data = data, .max_size = max, .size = elements};
  } else {
    wasm_rt_funcref_table_t *f = t;
    *f = (wasm_rt_funcref_table_t){.data = data, .max_size = max, .size = elements};
  }
  return data != NULL;
}

static uint32_t stock_grow_table(rt_ctx_t *c, uint32_t i, void *t, uint32_t delta,
                                 const void *init) {
  bool ext = c->m->tables[i].externref;
  wasm_rt_externref_table_t *e = t;
  wasm_rt_funcref_table_t *f = t;
  uint32_t old = ext ? e->size : f->size, max = ext ? e->max_size : f->max_size;
  uint64_t n = (uint64_t)old + delta;
  if (n == 0) return 0;
  if (n > max || n > c->m->rt->cfg.instance_table_elements) return UINT32_MAX;
  size_t size = elem_size(c, i);
  uint8_t *d = realloc(ext ? (void *)e->data : (void *)f->data, n * size);
  if (!d) {
    c->host_failures++;
    return UINT32_MAX;
  }
  for (uint64_t k = old; k < n; k++) memcpy(d + k * size, init, size);
  if (ext) e->data = (wasm_rt_externref_t *)d, e->size = (uint32_t)n;
  else f->data = (wasm_rt_funcref_t *)d, f->size = (uint32_t)n;
  return old;
}

static void free_table(rt_ctx_t *c, uint32_t i) {
  if (c->m->tables[i].externref) free(((wasm_rt_externref_table_t *)c->tables[i])->data);
  else free(((wasm_rt_funcref_table_t *)c->tables[i])->data);
}

static void stock_instance_free(rt_ctx_t *c) {
  debug_assert(c->guest); /* instantiated, not yet freed */
  if (c->mem) free_memory(c->mem);
  for (uint32_t i = 0; i < c->ntables; i++) free_table(c, i);
  free(c->guest);
  c->guest = NULL;
}

static bool stock_fault_is_oob(const rt_ctx_t *c, const void *addr) {
  const uint8_t *a = addr;
  return c->mem && a >= c->fault_lo && a < c->fault_hi;
}

/* The guest's stack: the thread's (rt_stack.c), kept until it exits. */
static void stock_stack_free(rt_ctx_t *c) {
  debug_assert(c->stack_top != 0); /* taken, not returned */
  c->stack_lo = c->stack_top = c->guard_lo = 0;
}

const rt_backend_t rt_backend_stock = {
    .name = "stock",
    .create = stock_create,
    .destroy = stock_destroy,
    .module_new = stock_module_new,
    .module_release = stock_module_release,
    .instance_new = stock_instance_new,
    .instance_free = stock_instance_free,
    .memory_allocate = stock_allocate_memory,
    .memory_grow = stock_grow_memory,
    .table_allocate = stock_allocate_table,
    .table_grow = stock_grow_table,
    .fault_is_oob = stock_fault_is_oob,
    .stack_new = rt_stack_of_thread,
    .stack_free = stock_stack_free,
};
