/* wasm-rt, as the generated code calls it: initialisation, traps, memories
 * and tables (wabt's wasm-rt-impl.c and wasm-rt-mem-impl.c). The function
 * types are rt_types.c's, the exceptions rt_exceptions.c's.
 *
 * The generated code calls these without any context of ours; they find
 * the request they belong to through the thread's current request
 * (rt_cur), and its backend's table does the work. Debian's
 * libwasm-rt-impl.a is not linked: its trap jump buffer, exception state
 * and signal stack are process globals, so two threads running guests at
 * once would jump into each other's stacks.
 *
 * Each begins with RT_HOST_CALL() (rt_internal.h): the generated code
 * calls them, so they get the host's stack budget and a pending timeout
 * is taken at their return.
 *
 * Memories and tables are freed by the request's end (the backend's
 * instance_free), which knows what was allocated even when a trap cut the
 * instantiation short; wasm-rt's free functions do nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "rt_internal.h"

static rt_ctx_t *request_or_abort(const char *fn) {
  rt_ctx_t *c = rt_cur;
  if (c && c->in_guest) return c;
  fprintf(stderr, "wpool runtime: fatal: %s called outside a request\n", fn);
  abort();
}

void wasm_rt_init(void) {}
bool wasm_rt_is_initialized(void) {
  RT_HOST_CALL();
  return true;
}
void wasm_rt_free(void) {}

WASM_RT_NO_RETURN void wasm_rt_trap(wasm_rt_trap_t code) {
  RT_HOST_CALL();
  rt_ctx_t *c = request_or_abort("wasm_rt_trap");
  siglongjmp(c->jb, code == WASM_RT_TRAP_NONE ? WASM_RT_TRAP_UNCAUGHT_EXCEPTION : (int)code);
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap) { return wrt_trap_name(rt_trap_of(trap)); }

void wasm_rt_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial, uint32_t max) {
  RT_HOST_CALL();
  rt_ctx_t *c = request_or_abort("wasm_rt_allocate_memory");
  if (c->mem) {
    fprintf(stderr, "wpool runtime: fatal: %s allocates a second memory\n", c->m->path);
    abort(); /* the loader refuses modules with more than one */
  }
  if (!c->m->rt->ops->memory_allocate(c, mem, initial, max)) siglongjmp(c->jb, RT_JUMP_NOMEM);
  c->mem = mem;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *mem, uint32_t delta) {
  RT_HOST_CALL();
  rt_ctx_t *c = request_or_abort("wasm_rt_grow_memory");
  return c->m->rt->ops->memory_grow(c, mem, delta);
}

void wasm_rt_free_memory(wasm_rt_memory_t *mem) {
  RT_HOST_CALL();
  (void)mem;
}

/* Tables are allocated in index order, funcref and externref alike. */
static void allocate_table(const char *fn, void *t, bool externref, uint32_t elements,
                           uint32_t max) {
  rt_ctx_t *c = request_or_abort(fn);
  uint32_t i = c->ntables;
  if (i >= c->m->ntables || c->m->tables[i].externref != externref) {
    fprintf(stderr, "wpool runtime: fatal: %s allocates table %u, which the module does not "
                    "declare as such\n", c->m->path, i);
    abort(); /* the generated code allocates what the loader read */
  }
  if (!c->m->rt->ops->table_allocate(c, i, t, elements, max)) siglongjmp(c->jb, RT_JUMP_NOMEM);
  c->tables[c->ntables++] = t;
}

static uint32_t grow_table(const char *fn, void *t, uint32_t delta, const void *init) {
  rt_ctx_t *c = request_or_abort(fn);
  for (uint32_t i = 0; i < c->ntables; i++)
    if (c->tables[i] == t) return c->m->rt->ops->table_grow(c, i, t, delta, init);
  fprintf(stderr, "wpool runtime: fatal: %s grows a table it did not allocate\n", c->m->path);
  abort();
}

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t elements,
                                    uint32_t max) {
  RT_HOST_CALL();
  allocate_table("wasm_rt_allocate_funcref_table", t, false, elements, max);
}

void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *t, uint32_t elements,
                                      uint32_t max) {
  RT_HOST_CALL();
  allocate_table("wasm_rt_allocate_externref_table", t, true, elements, max);
}

uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t delta,
                                    wasm_rt_funcref_t init) {
  RT_HOST_CALL();
  return grow_table("wasm_rt_grow_funcref_table", t, delta, &init);
}

uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t *t, uint32_t delta,
                                      wasm_rt_externref_t init) {
  RT_HOST_CALL();
  return grow_table("wasm_rt_grow_externref_table", t, delta, &init);
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t) {
  RT_HOST_CALL();
  (void)t;
}

void wasm_rt_free_externref_table(wasm_rt_externref_table_t *t) {
  RT_HOST_CALL();
  (void)t;
}
