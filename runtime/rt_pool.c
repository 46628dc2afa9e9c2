/* The pool backend: wasm-rt's memory and table functions on a wpool
 * instance, through the public API only.
 *
 *  - Memory 0 is the instance's memory 0: wasm_rt_allocate_memory binds
 *    the wasm_rt_memory_t to wpool_memory_base; the pool has already made
 *    min_pages accessible and mapped the module's copy-on-write image of
 *    its active data segments (the generated code holds none of their
 *    bytes: wasm_rewrite.c).
 *  - The generated instance struct lives in the instance's state
 *    (wpool_instance_state: zero at every allocation).
 *  - Table i is the pool's table i, of 24-byte elements (wasm2c's
 *    funcref; table_element_size): wpool_table_data, grown with
 *    wpool_table_grow_with; all zero (null references) at every
 *    allocation. An externref table keeps its 8-byte references in the
 *    first bytes of the same elements.
 *
 * Safety: the generated code does no bounds checks and may reach
 * RT_UNCHECKED_REACH bytes past a memory's base. The runtime asks the pool
 * for that memory_unchecked_reach (wpool_create refuses a layout that
 * cannot give it) and check_config refuses a reservation plus guard
 * shorter than it, so every such access lands in this memory's own
 * accessible bytes or faults in its own reservation or guard; the fault
 * handler tells the two apart with wpool_fault_lookup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

#define PAGE 65536u

static int check_config(const wpool_config_t *cfg) {
  if (cfg->memory_reservation < (4ull << 30))
    return rt_error(WRT_EINVAL,
                    "memory_reservation %llu is below 4 GiB: wasm2c's code indexes memory with "
                    "32-bit addresses unchecked, so a memory needs a full 4 GiB reservation",
                    (unsigned long long)cfg->memory_reservation);
  if (cfg->memory_reservation + cfg->memory_guard_size < RT_UNCHECKED_REACH)
    return rt_error(WRT_EINVAL,
                    "memory_reservation (%llu) + memory_guard_size (%llu) is below the %llu bytes "
                    "wasm2c's code may reach past a memory's base (a 32-bit address, a 32-bit "
                    "offset and a 16-byte access)",
                    (unsigned long long)cfg->memory_reservation,
                    (unsigned long long)cfg->memory_guard_size,
                    (unsigned long long)RT_UNCHECKED_REACH);
  if (cfg->instance_memories < 1)
    return rt_error(WRT_EINVAL, "instance_memories is 0: a module's memory needs a slot");
  return 0;
}

static int pool_create(wrt_runtime_t *rt) {
  /* What wasm2c's code needs is not the caller's choice: the pool must
   * guarantee the whole unchecked reach (and refuses a layout that
   * cannot), and table elements are wasm2c's funcrefs. */
  if (rt->cfg.memory_unchecked_reach < RT_UNCHECKED_REACH)
    rt->cfg.memory_unchecked_reach = RT_UNCHECKED_REACH;
  rt->cfg.table_element_size = sizeof(wasm_rt_funcref_t);
  int err = check_config(&rt->cfg);
  if (err) return err;
  int perr = wpool_create(&rt->cfg, &rt->pool);
  if (perr) return rt_error(rt_error_from_wpool(perr), "wpool_create: %s", wpool_last_error());
  return 0;
}

static int pool_destroy(wrt_runtime_t *rt) {
  if (wpool_destroy(rt->pool) != 0)
    return rt_error(WRT_EBUSY, "wrt_destroy: wpool_destroy: %s", wpool_last_error());
  rt->pool = NULL;
  return 0;
}

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static int pool_module_new(wrt_module_t *m, const wasm_module_t *w) {
  wrt_runtime_t *rt = m->rt;
  wpool_data_segment_t *segs = NULL;
  uint32_t nsegs = 0;
  if (w->nsegments) {
    segs = calloc(w->nsegments, sizeof(*segs));
    if (!segs) return rt_error(WRT_ENOMEM, "%s: out of memory", m->path);
  }
  for (uint32_t i = 0; i < w->nsegments; i++) {
    const wasm_segment_t *s = &w->segments[i];
    if (!s->active || s->len == 0) continue;
    segs[nsegs++] = (wpool_data_segment_t){.offset = s->offset, .bytes = s->bytes, .len = s->len};
  }
  wpool_memory_desc_t mem = {.min_pages = m->start_pages, .max_pages = m->max_pages,
                             .segments = segs, .nsegments = nsegs};
  wpool_table_desc_t tabs[RT_MAX_TABLES];
  for (uint32_t i = 0; i < m->ntables; i++)
    tabs[i] = (wpool_table_desc_t){.min_elements = m->tables[i].min,
                                   .max_elements = m->tables[i].max};
  size_t state = round_up(m->instance_size, 64);
  wpool_module_desc_t desc = {.state_size = state,
                              .memories = m->has_memory ? &mem : NULL,
                              .nmemories = m->has_memory ? 1 : 0,
                              .tables = m->ntables ? tabs : NULL,
                              .ntables = m->ntables};
  int err = wpool_module_new(rt->pool, &desc, &m->pm);
  free(segs);
  if (err == WPOOL_ELIMIT)
    return rt_error(WRT_ELIMIT, "%s does not fit the pool: %s", m->path, wpool_last_error());
  if (err)
    return rt_error(rt_error_from_wpool(err), "%s: wpool_module_new: %s", m->path,
                    wpool_last_error());
  return 0;
}

static void pool_module_release(wrt_module_t *m) {
  if (m->pm) wpool_module_release(m->pm);
  m->pm = NULL;
}

static int pool_instance_new(rt_ctx_t *c) {
  wrt_module_t *m = c->m;
  int perr = wpool_instance_new(m->rt->pool, m->pm, &c->pinst);
  if (perr == WPOOL_EEXHAUSTED)
    return rt_error(WRT_EEXHAUSTED, "%s: %s", m->path, wpool_last_error());
  if (perr)
    return rt_error(rt_error_from_wpool(perr), "%s: wpool_instance_new: %s", m->path,
                    wpool_last_error());
  c->guest = wpool_instance_state(c->pinst);
  return 0;
}

static void pool_instance_free(rt_ctx_t *c) {
  debug_assert(c->pinst); /* instantiated, not yet freed */
  wpool_instance_free(c->pinst);
  c->pinst = NULL;
  c->guest = NULL;
}

static bool pool_allocate_memory(rt_ctx_t *c, wasm_rt_memory_t *mem, uint32_t initial,
                                 uint32_t max) {
  wrt_module_t *m = c->m;
  /* The loader checked that the generated code asks for what the .wasm
   * declares; the pool sized the memory from the .wasm, or from its
   * snapshot (start_pages, at least the minimum; rt_snapshot.c). */
  if (initial != m->min_pages || max != m->max_pages) {
    fprintf(stderr, "wpool runtime: %s: generated code allocates memory %u..%u pages, the module "
                    "declares %llu..%llu\n",
            m->path, initial, max, (unsigned long long)m->min_pages,
            (unsigned long long)m->max_pages);
    abort();
  }
  uint8_t *base = wpool_memory_base(c->pinst, 0);
  mem->data = base;
  mem->pages = (uint32_t)m->start_pages;
  mem->max_pages = max;
  mem->size = (uint32_t)(m->start_pages * PAGE);
  return true;
}

static uint32_t pool_grow_memory(rt_ctx_t *c, wasm_rt_memory_t *mem, uint32_t delta) {
  uint64_t new_pages = (uint64_t)mem->pages + delta;
  if (new_pages > mem->max_pages) return UINT32_MAX;
  int64_t old = wpool_memory_grow(c->pinst, 0, delta);
  if (old < 0) { /* over the pool's limit, or host memory */
    if (old != WPOOL_ELIMIT) c->host_failures++;
    return UINT32_MAX;
  }
  mem->pages = (uint32_t)new_pages;
  mem->size = (uint32_t)(new_pages * PAGE);
  return (uint32_t)old;
}

/* Table i is the pool's table i, of 24-byte elements (wasm2c's funcref).
 * An externref table uses its first 8 bytes per element as an array of
 * pointers: the pool grows and resets 24 bytes per element, which covers
 * them (16 bytes of each element unused), and all zero is null. */
static bool pool_allocate_table(rt_ctx_t *c, uint32_t i, void *t, uint32_t elements,
                                uint32_t max) {
  void *data = wpool_table_data(c->pinst, i);
  if (c->m->tables[i].externref) {
    wasm_rt_externref_table_t *e = t;
    *e = (wasm_rt_externref_table_t){.data = data, .max_size = max, .size = elements};
  } else {
    wasm_rt_funcref_table_t *f = t;
    *f = (wasm_rt_funcref_table_t){.data = data, .max_size = max, .size = elements};
  }
  return true;
}

static uint32_t pool_grow_table(rt_ctx_t *c, uint32_t i, void *t, uint32_t delta,
                                const void *init) {
  bool ext = c->m->tables[i].externref;
  wasm_rt_externref_table_t *e = t;
  wasm_rt_funcref_table_t *f = t;
  uint32_t old = ext ? e->size : f->size, max = ext ? e->max_size : f->max_size;
  uint64_t n = (uint64_t)old + delta;
  if (n > max) return UINT32_MAX;
  static const wasm_rt_funcref_t zero;
  int64_t r = wpool_table_grow_with(c->pinst, i, delta, ext ? &zero : init);
  if (r < 0) {
    if (r != WPOOL_ELIMIT) c->host_failures++;
    return UINT32_MAX;
  }
  if (ext) {
    for (uint64_t k = old; k < n; k++) e->data[k] = *(const wasm_rt_externref_t *)init;
    e->size = (uint32_t)n;
  } else {
    f->size = (uint32_t)n;
  }
  return old;
}

static bool pool_fault_is_oob(const rt_ctx_t *c, const void *addr) {
  /* The pool knows its layout: the fault must be in this instance's own
   * memory 0 (a guard, or past the accessible bytes). Async-signal-safe. */
  wpool_fault_info_t fi;
  if (wpool_fault_lookup(c->m->rt->pool, addr, &fi) != 0) return false;
  return fi.kind == WPOOL_REGION_MEMORY && fi.instance == c->pinst && fi.index == 0 &&
         !fi.accessible;
}

/* The guest's stack: the pool's (rt_stack.c); a pool without stacks
 * (stack_count 0) leaves each thread its own, as the stock backend. */
static int pool_stack_new(rt_ctx_t *c) {
  if (c->m->rt->cfg.stack_count == 0) return rt_stack_of_thread(c);
  int perr = wpool_stack_new(c->m->rt->pool, &c->pstack);
  if (perr == WPOOL_EEXHAUSTED)
    return rt_error(WRT_EEXHAUSTED, "%s: no stack for the guest: %s", c->m->path,
                    wpool_last_error());
  if (perr)
    return rt_error(rt_error_from_wpool(perr), "%s: wpool_stack_new: %s", c->m->path,
                    wpool_last_error());
  c->stack_top = (uintptr_t)wpool_stack_top(c->pstack);
  c->stack_lo = c->stack_top - wpool_stack_size(c->pstack);
  c->guard_lo = c->stack_lo - (uintptr_t)sysconf(_SC_PAGESIZE);
  c->stack_guarded = true;
  return 0;
}

static void pool_stack_free(rt_ctx_t *c) {
  debug_assert(c->stack_top != 0); /* a stack taken (the pool's or the thread's), not returned */
  wpool_stack_free(c->pstack); /* NULL: the thread's */
  c->pstack = NULL;
  c->stack_lo = c->stack_top = c->guard_lo = 0;
}

const rt_backend_t rt_backend_pool = {
    .name = "pool",
    .create = pool_create,
    .destroy = pool_destroy,
    .module_new = pool_module_new,
    .module_release = pool_module_release,
    .instance_new = pool_instance_new,
    .instance_free = pool_instance_free,
    .memory_allocate = pool_allocate_memory,
    .memory_grow = pool_grow_memory,
    .table_allocate = pool_allocate_table,
    .table_grow = pool_grow_table,
    .fault_is_oob = pool_fault_is_oob,
    .stack_new = pool_stack_new,
    .stack_free = pool_stack_free,
};
