/* Snapshots (issue 23): pre-initialisation at load, as Wizer does it
 * offline. The module's init function (wizer.initialize, or the one the
 * load names) runs once in a fresh instance; what it leaves becomes the
 * module's starting state:
 *   - memory: its size is the module's start_pages and its non-zero 4 KiB
 *     blocks the backend's image (the pool's copy-on-write memfd, which a
 *     request maps like any data segment and a kept slot restores in
 *     place; the stock backend's data, copied into each memory);
 *   - globals: those that differ from what instantiation sets are written
 *     over it after each instantiation (rt_snapshot.h);
 *   - tables: refused when the init changed them (their elements point
 *     into the instance that ran it);
 *   - any other byte of the instance struct the init changed (a passive
 *     segment dropped, say) refuses: it would be lost.
 * The init sees no arguments, environment, stdin or preopens, and may not
 * make a WASI call whose result is not fixed at load (wasi_exports.c); it
 * runs under a time limit and the pool's memory limit. docs/snapshot.md. */
#include <stdlib.h>

#include "rt_snapshot.h"

#define BLOCK 4096u
#define PAGE 65536u
#define DEFAULT_NAME "wizer.initialize"

void rt_snapshot_free(wrt_module_t *m) {
  if (!m->snap) return;
  free(m->snap->globals);
  free(m->snap);
  m->snap = NULL;
}

/* The init function: 0 and *f, 1 when there is none to run, or an error. */
static int find_init(wrt_module_t *m, const wrt_load_options_t *o, wrt_func_t *f,
                     const char **name) {
  *name = o->init ? o->init : DEFAULT_NAME;
  if (o->init && !o->init[0]) return 1;
  if (wrt_func_find(m, *name, strlen(*name), f) != 0)
    return o->init ? rt_error(WRT_EINVAL,
                              "%s: init function %s: the module exports no such "
                              "function",
                              m->path, *name)
                   : 1;
  if (f->nparams || f->nresults)
    return rt_error(WRT_EINVAL,
                    "%s: init function %s takes %u parameters and returns %u "
                    "results; an init function is () -> ()",
                    m->path, *name, f->nparams, f->nresults);
  return 0;
}

/* Table i's elements: their bytes (size elements). */
static size_t table_bytes(const rt_ctx_t *c, uint32_t i, const void **data, uint32_t *size) {
  if (c->m->tables[i].externref) {
    const wasm_rt_externref_table_t *t = c->tables[i];
    *data = t->data;
    *size = t->size;
    return (size_t)t->size * sizeof(*t->data);
  }
  const wasm_rt_funcref_table_t *t = c->tables[i];
  *data = t->data;
  *size = t->size;
  return (size_t)t->size * sizeof(*t->data);
}

/* Copies of the tables (before) or their comparison (after): 0, or the
 * error naming the table that changed. */
static int tables_copy(const rt_ctx_t *c, uint8_t **copy, uint32_t *sizes) {
  for (uint32_t i = 0; i < c->ntables; i++) {
    const void *data;
    size_t n = table_bytes(c, i, &data, &sizes[i]);
    copy[i] = malloc(n ? n : 1);
    if (!copy[i]) return rt_error(WRT_ENOMEM, "%s: out of memory for a snapshot", c->m->path);
    if (n) memcpy(copy[i], data, n); /* an empty table's data may be NULL */
  }
  return 0;
}

static int tables_compare(const rt_ctx_t *c, uint8_t **copy, const uint32_t *sizes,
                          const char *name) {
  for (uint32_t i = 0; i < c->ntables; i++) {
    const void *data;
    uint32_t size;
    size_t n = table_bytes(c, i, &data, &size);
    if (size != sizes[i] || (n && memcmp(copy[i], data, n) != 0))
      return rt_error(WRT_EINIT,
                      "%s: init function %s changed table %u: a snapshot does not "
                      "carry tables (their elements point into the instance that ran it)",
                      c->m->path, name, i);
  }
  return 0;
}

static uint32_t global_size(char type) {
  switch (type) {
    case 'i':
    case 'f':
      return 4;
    case 'I':
    case 'F':
      return 8;
    case 'r':
      return sizeof(wasm_rt_funcref_t);
    default:
      return sizeof(wasm_rt_externref_t);
  }
}

#define GLOBAL_MAX 24u /* the widest global above (a funcref) */
_Static_assert(sizeof(wasm_rt_funcref_t) <= GLOBAL_MAX, "a funcref global fits GLOBAL_MAX");

/* The globals' bytes after instantiation (`before`), then those the init
 * changed into s->globals; a changed reference refuses. */
static int globals_before(const rt_ctx_t *c, const wasm_module_t *w, uint8_t *before) {
  for (uint32_t i = 0; i < w->nglobals; i++) {
    const void *p = c->m->fns.global(c->guest, i);
    if (!p)
      return rt_error(WRT_EINIT,
                      "%s: the compiled module does not locate global %u, so no "
                      "snapshot can hold it",
                      c->m->path, i);
    memcpy(before + (size_t)i * GLOBAL_MAX, p, global_size(w->global_types[i]));
  }
  return 0;
}

static int globals_changed(const rt_ctx_t *c, const wasm_module_t *w, const uint8_t *before,
                           rt_snapshot_t *s, const char *name) {
  s->globals = calloc(w->nglobals ? w->nglobals : 1, sizeof(*s->globals));
  if (!s->globals) return rt_error(WRT_ENOMEM, "%s: out of memory for a snapshot", c->m->path);
  for (uint32_t i = 0; i < w->nglobals; i++) {
    const uint8_t *p = c->m->fns.global(c->guest, i);
    char type = w->global_types[i];
    uint32_t size = global_size(type);
    if (memcmp(p, before + (size_t)i * GLOBAL_MAX, size) == 0) continue;
    if (type == 'r' || type == 'e')
      return rt_error(WRT_EINIT,
                      "%s: init function %s changed global %u, a reference: a "
                      "snapshot does not carry references",
                      c->m->path, name, i);
    rt_snap_global_t *g = &s->globals[s->nglobals++];
    g->offset = (uint32_t)(p - (const uint8_t *)c->guest);
    g->size = size;
    memcpy(&g->value, p, size);
  }
  return 0;
}

/* Every byte of the instance struct the init changed must be one the
 * snapshot carries or rebuilds: a numeric global's, the memory's or a
 * table's descriptor (its size after a grow). Anything else (a passive
 * segment's dropped mark, state of wasm2c's this runtime does not know)
 * would be lost at every instance: refused, naming the byte. */
static void mark(uint8_t *carried, const uint8_t *base, size_t size, const void *p, size_t n) {
  uintptr_t b = (uintptr_t)base, q = (uintptr_t)p;
  if (q >= b && n <= size && q - b <= size - n) memset(carried + (q - b), 1, n);
}

static int state_carried(const rt_ctx_t *c, const wasm_module_t *w, const uint8_t *before,
                         const char *name) {
  size_t size = c->m->instance_size;
  const uint8_t *now = c->guest;
  uint8_t *carried = calloc(1, size ? size : 1);
  if (!carried) return rt_error(WRT_ENOMEM, "%s: out of memory for a snapshot", c->m->path);
  if (c->mem) mark(carried, now, size, c->mem, sizeof(*c->mem));
  for (uint32_t i = 0; i < c->ntables; i++)
    mark(carried, now, size, c->tables[i],
         c->m->tables[i].externref ? sizeof(wasm_rt_externref_table_t)
                                   : sizeof(wasm_rt_funcref_table_t));
  for (uint32_t i = 0; i < w->nglobals; i++)
    mark(carried, now, size, c->m->fns.global(c->guest, i), global_size(w->global_types[i]));
  size_t at = 0;
  while (at < size && (carried[at] || before[at] == now[at])) at++;
  free(carried);
  if (at == size) return 0;
  return rt_error(WRT_EINIT,
                  "%s: init function %s changed state a snapshot does not carry (byte "
                  "%zu of the instance, not a global, memory or table: e.g. a passive segment "
                  "dropped)",
                  c->m->path, name, at);
}

static bool block_is_zero(const uint8_t *p) {
  uint64_t acc = 0;
  for (size_t i = 0; i < BLOCK; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    acc |= v;
  }
  return acc == 0;
}

/* The memory's non-zero blocks as runs (data segments), their bytes
 * copied into one block (*bytes), so the instance can go first. */
static int memory_runs(const rt_ctx_t *c, wasm_segment_t **out, uint32_t *nout, uint8_t **bytes,
                       uint64_t *total) {
  *out = NULL;
  *nout = 0;
  *bytes = NULL;
  *total = 0;
  if (!c->mem) return 0;
  const uint8_t *mem = c->mem->data;
  uint64_t size = (uint64_t)c->mem->pages * PAGE, nblocks = size / BLOCK, nruns = 0;
  for (uint64_t b = 0; b < nblocks; b++)
    if (!block_is_zero(mem + b * BLOCK)) {
      *total += BLOCK;
      if (b == 0 || block_is_zero(mem + (b - 1) * BLOCK)) nruns++;
    }
  if (!nruns) return 0;
  wasm_segment_t *runs = calloc(nruns, sizeof(*runs));
  uint8_t *copy = malloc(*total);
  if (!runs || !copy) {
    free(runs);
    free(copy);
    return rt_error(WRT_ENOMEM, "%s: out of memory for a snapshot of %llu bytes", c->m->path,
                    (unsigned long long)*total);
  }
  uint8_t *at = copy;
  uint32_t n = 0;
  for (uint64_t b = 0; b < nblocks; b++) {
    if (block_is_zero(mem + b * BLOCK)) continue;
    if (n == 0 || runs[n - 1].offset + runs[n - 1].len != b * BLOCK)
      runs[n++] = (wasm_segment_t){.active = true, .offset = b * BLOCK, .bytes = at};
    memcpy(at, mem + b * BLOCK, BLOCK);
    runs[n - 1].len += BLOCK;
    at += BLOCK;
  }
  *out = runs;
  *nout = n;
  *bytes = copy;
  return 0;
}

/* The init's end as an error: 0 when it returned. */
static int init_outcome(const rt_ctx_t *c, int err, wrt_trap_t trap, const char *name, uint64_t ms,
                        int32_t exit_code) {
  const char *path = c->m->path;
  if (c->refused_call)
    return rt_error(WRT_EINIT, "%s: init function %s called %s: no snapshot", path, name,
                    c->refused_call);
  if (err) return err;
  if (trap == WRT_TRAP_TIMEOUT)
    return rt_error(WRT_EINIT, "%s: init function %s ran past its time limit of %llu ms", path,
                    name, (unsigned long long)ms);
  if (trap == WRT_TRAP_EXIT)
    return rt_error(WRT_EINIT, "%s: init function %s exited (proc_exit %d) instead of returning",
                    path, name, (int)exit_code);
  if (trap)
    return rt_error(WRT_EINIT, "%s: init function %s trapped: %s", path, name, wrt_trap_name(trap));
  return 0;
}

/* Run the init in `inst` and read what it left into `s` and the runs. */
static int run_init(wrt_instance_t *inst, const wasm_module_t *w, const wrt_func_t *f,
                    const char *name, uint64_t ms, rt_snapshot_t *s, wasm_segment_t **runs,
                    uint32_t *nruns, uint8_t **bytes) {
  rt_ctx_t *c = rt_instance_ctx(inst);
  uint8_t *tables[RT_MAX_TABLES] = {0};
  uint32_t sizes[RT_MAX_TABLES];
  uint8_t *before = malloc((size_t)(w->nglobals ? w->nglobals : 1) * GLOBAL_MAX);
  uint8_t *inst_before = malloc(c->m->instance_size ? c->m->instance_size : 1);
  int err = before && inst_before
                ? 0
                : rt_error(WRT_ENOMEM, "%s: out of memory for a snapshot", c->m->path);
  if (!err) memcpy(inst_before, c->guest, c->m->instance_size);
  if (!err) err = globals_before(c, w, before);
  if (!err) err = tables_copy(c, tables, sizes);
  uint64_t t0 = rt_now_ns();
  if (!err) err = rt_deadline_set(c, t0 + ms * 1000000u);
  if (!err) {
    wrt_trap_t trap;
    c->at_load = true;
    int cerr = wrt_call(inst, f, NULL, NULL, &trap);
    c->at_load = false;
    rt_deadline_clear(c);
    s->init_ns = rt_now_ns() - t0;
    err = init_outcome(c, cerr, trap, name, ms, wrt_instance_exit_code(inst));
  }
  if (!err) err = tables_compare(c, tables, sizes, name);
  if (!err) err = globals_changed(c, w, before, s, name);
  if (!err) err = state_carried(c, w, inst_before, name);
  if (!err) err = memory_runs(c, runs, nruns, bytes, &s->image_bytes);
  for (uint32_t i = 0; i < RT_MAX_TABLES; i++) free(tables[i]);
  free(before);
  free(inst_before);
  return err;
}

/* Run the init in a fresh instance of `m`: 0 and `d` filled, or the error. */
static int snapshot_run(wrt_module_t *m, const wasm_module_t *w, const wrt_func_t *f,
                        const char *name, uint64_t ms, rt_snap_data_t *d) {
  d->s = calloc(1, sizeof(*d->s));
  if (!d->s) return rt_error(WRT_ENOMEM, "%s: out of memory for a snapshot", m->path);
  wrt_instance_t *inst;
  wrt_trap_t trap;
  int err = wrt_instantiate(m, &inst, &trap);
  if (!err && trap)
    return rt_error(WRT_EINIT, "%s: instantiation trapped (%s) before init function %s ran",
                    m->path, wrt_trap_name(trap), name);
  if (err) return err;
  err = run_init(inst, w, f, name, ms, d->s, &d->runs, &d->nruns, &d->bytes);
  /* A grow the host refused left the init on a path that depends on this
   * moment's memory, not on the module (whatever it did next: a trap, a
   * smaller state): that state is neither used nor cached, and the load
   * fails as the host did (a reload tries again). */
  if (rt_instance_ctx(inst)->host_failures)
    err = rt_error(WRT_ENOMEM,
                   "%s: init function %s asked for memory the host refused (a memory.grow, "
                   "a table.grow or WASI's descriptor table; out of memory or mappings, see "
                   "vm.max_map_count): no snapshot taken",
                   m->path, name);
  wasm_rt_memory_t *mem = rt_instance_ctx(inst)->mem;
  d->pages = m->has_memory && mem ? mem->pages : 0;
  wrt_instance_free(inst);
  return err;
}

int rt_snapshot_take(wrt_module_t *m, const wasm_module_t *w, const wrt_load_options_t *o) {
  wrt_func_t f;
  const char *name;
  int err = find_init(m, o, &f, &name);
  if (err) return err == 1 ? 0 : err;
  if (w->has_start_section)
    return rt_error(WRT_EINIT,
                    "%s: the module has a start function, which would run again in "
                    "every instance started from the snapshot of %s",
                    m->path, name);
  uint64_t ms = o->init_timeout_ms ? o->init_timeout_ms : WRT_INIT_TIMEOUT_MS_DEFAULT;
  if (ms > UINT64_MAX / 2000000u) ms = UINT64_MAX / 2000000u;
  rt_snap_data_t d = {0};
  if (!rt_snap_cache_get(m, w, name, &d)) {
    err = snapshot_run(m, w, &f, name, ms, &d);
    if (!err) rt_snap_cache_put(m, w, name, &d);
  }
  if (!err) {
    /* The backend's description again, from the snapshot: its image is
     * the initialised memory, its minimum the memory's size then. */
    wasm_module_t ws = *w;
    ws.segments = d.runs;
    ws.nsegments = d.nruns;
    m->rt->ops->module_release(m);
    m->start_pages = d.pages;
    err = m->rt->ops->module_new(m, &ws);
  }
  free(d.runs);
  free(d.bytes);
  if (err) {
    if (d.s) free(d.s->globals);
    free(d.s);
    return err;
  }
  m->snap = d.s;
  return 0;
}
