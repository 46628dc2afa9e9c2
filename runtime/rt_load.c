/* Loading: from a .wasm file or bytes to a loaded module. The bytes are
 * read (bounded), parsed and checked against everything a request will
 * need before any compilation (compile.c then translates, compiles and
 * caches them), the object is opened and its entry points found, the
 * module's function types registered, and the backend describes the
 * module's instances (the pool's module and image). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_snapshot.h"

void rt_module_destroy(wrt_module_t *m) {
  debug_assert(atomic_load(&m->running) == 0); /* no request or instance holds it */
  m->rt->ops->module_release(m);
  rt_snapshot_free(m);
  rt_link_free(m);
  if (m->dl) dlclose(m->dl);
  free(m->path);
  free(m);
}

#define MAX_WASM_BYTES (1ull << 30)

/* Read a module file: a regular file of at most MAX_WASM_BYTES, read once
 * up to the size it had when opened. The open does not block (a FIFO with
 * no writer would hold it for ever) and the type is checked on the open
 * descriptor, so nothing but a regular file is read. */
static int read_file(const char *path, uint8_t **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return rt_error(WRT_ESYS, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return rt_error(WRT_ESYS, "%s: fstat: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return rt_error(WRT_EFORMAT, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size > MAX_WASM_BYTES) {
    close(fd);
    return rt_error(WRT_EFORMAT, "%s: %lld bytes, over the runtime's limit of %llu", path,
                    (long long)st.st_size, MAX_WASM_BYTES);
  }
  /* The header first: a file that is no module is refused having cost 8
   * bytes of reading, whatever its size (the parser says why). */
  static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  uint8_t head[8] = {0};
  ssize_t h = pread(fd, head, sizeof(head), 0);
  if (h != (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(magic)) != 0) {
    int e = errno;
    close(fd);
    if (h < 0) return rt_error(WRT_ESYS, "%s: read: %s", path, strerror(e));
    wasm_module_t w;
    char why[256];
    wasm_parse(head, (size_t)h, &w, why, sizeof(why));
    return rt_error(WRT_EFORMAT, "%s: %s", path, why);
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) {
    close(fd);
    return rt_error(WRT_ENOMEM, "%s: out of memory for %zu bytes", path, n);
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = r < 0 ? errno : EIO;
      free(buf);
      close(fd);
      return rt_error(WRT_ESYS, "%s: read: %s", path, r < 0 ? strerror(e) : "file shrank");
    }
    got += (size_t)r;
  }
  close(fd);
  *out = buf;
  *len = n;
  return 0;
}

/* Everything a request will need, checked before any compilation. The
 * module's names are hostile bytes: messages print them escaped
 * (rt_link.c binds the imports). */
static int check_module(wrt_module_t *m, const wasm_module_t *w, const wrt_load_options_t *o) {
  const char *path = m->path;
  int err = rt_link_imports(m, w, o->imports, o->nimports);
  if (!err) err = rt_link_exports(m, w);
  if (err) return err;
  if (w->nmemories > 1)
    return rt_error(WRT_EFORMAT, "%s: %u memories; the runtime supports one", path, w->nmemories);
  if (w->ntables > RT_MAX_TABLES)
    return rt_error(WRT_ELIMIT, "%s: %u tables; the runtime supports %u", path, w->ntables,
                    RT_MAX_TABLES);
  /* The runtime calls _start as void (*)(void *instance): a command's
   * _start of any other type would run with garbage arguments or leave
   * results where the caller does not look. */
  const wasm_export_t *start = wasm_find_export(w, "_start", 6, WASM_EXTERN_FUNC);
  if (o->library) {
    /* no _start needed */
  } else if (!start)
    return rt_error(WRT_EFORMAT, "%s: no exported function _start: not a WASI command", path);
  const char *st = start ? wasm_func_type(w, start->index) : ":";
  if (!o->library && (!st || strcmp(st, ":") != 0)) {
    char t[160];
    return rt_error(WRT_EFORMAT, "%s: _start has type %s; a WASI command's _start is () -> ()",
                    path, st ? wasm_type_format(st, t, sizeof(t)) : "(none)");
  }
  m->has_memory = w->nmemories == 1;
  if (m->has_memory) {
    const wasm_limits_t *l = &w->memories[0];
    m->min_pages = l->min;
    m->max_pages = l->has_max ? l->max : 65536;
  }
  m->start_pages = m->min_pages;
  m->ntables = w->ntables;
  for (uint32_t i = 0; i < w->ntables; i++)
    m->tables[i] = (rt_table_decl_t){
        .min = (uint32_t)w->tables[i].min,
        .max = w->tables[i].has_max ? (uint32_t)w->tables[i].max : UINT32_MAX,
        .externref = w->tables[i].elem == 'e'};
  for (uint32_t i = 0; i < w->nsegments; i++) {
    const wasm_segment_t *s = &w->segments[i];
    if (!s->active) continue;
    if (s->offset_global)
      return rt_error(WRT_EFORMAT, "%s: data segment %u: the offset is not a constant "
                      "(global.get): the runtime needs constant offsets to build the memory "
                      "image", path, i);
    if (!m->has_memory || s->memory != 0)
      return rt_error(WRT_EFORMAT, "%s: data segment %u targets memory %u, which does not exist",
                      path, i, s->memory);
    if (s->offset + s->len > m->min_pages * 65536)
      return rt_error(WRT_EFORMAT,
                      "%s: data segment %u (offset %llu, %u bytes) ends past the memory's "
                      "minimum of %llu pages: instantiation would trap",
                      path, i, (unsigned long long)s->offset, s->len,
                      (unsigned long long)m->min_pages);
    m->nsegments++;
    m->segment_bytes += s->len;
  }
  m->nimports = w->nimports;
  return 0;
}

/* The pool's limits on what a module declares, which both backends obey:
 * checked before anything is compiled (a module over them was compiled
 * and cached first, then refused: 40 s and 1.6 GB for a 12 MB data
 * segment over the page limit). The pool checks them again, with the one
 * limit that needs the compiled object, the instance state's size
 * (wpool_module_new, rt_pool.c). */
static int check_fit(const wrt_module_t *m) {
  const wpool_config_t *c = &m->rt->cfg;
  if (m->has_memory && c->instance_memories < 1)
    return rt_error(WRT_ELIMIT, "%s does not fit the pool: module defines 1 memory, more than "
                    "instance_memories (0)", m->path);
  if (m->has_memory && m->min_pages > c->instance_memory_pages)
    return rt_error(WRT_ELIMIT, "%s does not fit the pool: memory 0: minimum of %llu pages "
                    "exceeds instance_memory_pages (%llu)", m->path,
                    (unsigned long long)m->min_pages,
                    (unsigned long long)c->instance_memory_pages);
  if (m->ntables > c->instance_tables)
    return rt_error(WRT_ELIMIT, "%s does not fit the pool: module defines %u tables, more than "
                    "instance_tables (%u)", m->path, m->ntables, c->instance_tables);
  for (uint32_t i = 0; i < m->ntables; i++)
    if (m->tables[i].min > c->instance_table_elements)
      return rt_error(WRT_ELIMIT, "%s does not fit the pool: table %u: minimum of %u elements "
                      "exceeds instance_table_elements (%u)", m->path, i, m->tables[i].min,
                      c->instance_table_elements);
  return 0;
}

/* The glue's entry points (glue.c), each of the C type rt_guest_fns_t
 * gives it; _start only for a command. */
static int find_entry_points(wrt_module_t *m) {
  struct {
    const char *name;
    void **slot;
  } syms[] = {
      {"wrt_guest_init_module", (void **)&m->fns.init_module},
      {"wrt_guest_instantiate", (void **)&m->fns.instantiate},
      {"wrt_guest_start", (void **)&m->fns.start},
      {"wrt_guest_invoke", (void **)&m->fns.invoke},
      {"wrt_guest_instance_size", (void **)&m->fns.instance_size},
      {"wrt_guest_global", (void **)&m->fns.global},
  };
  for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
    *syms[i].slot = dlsym(m->dl, syms[i].name);
    if (!*syms[i].slot && !(m->library && syms[i].slot == (void **)&m->fns.start))
      return rt_error(WRT_ETOOLCHAIN, "%s: the compiled object lacks %s", m->path,
                      syms[i].name);
  }
  m->instance_size = m->fns.instance_size();
  rt_code_range(m);
  return 0;
}

/* Load from `bytes` (owned by the caller); `path` names the module. */
static int load(wrt_runtime_t *rt, const char *path, const uint8_t *bytes, size_t len,
                const wrt_load_options_t *o, wrt_module_t **out) {
  *out = NULL;
  wrt_module_t *m = calloc(1, sizeof(*m));
  if (!m) return rt_error(WRT_ENOMEM, "%s: out of memory", path);
  m->rt = rt;
  m->library = o->library;
  m->path = strdup(path);
  wasm_module_t w;
  char perr[512];
  int err;
  if (!m->path) {
    err = rt_error(WRT_ENOMEM, "%s: out of memory", path);
    goto fail;
  }
  if (!wasm_parse(bytes, len, &w, perr, sizeof(perr))) {
    err = rt_error(w.over_limit ? WRT_ELIMIT : WRT_EFORMAT, "%s: %s", path, perr);
    goto fail;
  }
  err = check_module(m, &w, o);
  if (!err) err = check_fit(m);
  if (!err) err = rt_object_open(rt, path, bytes, len, &w, &m->dl, &m->from_cache);
  if (!err) err = find_entry_points(m);
  if (!err) {
    /* The generated module registers its function types into its statics;
     * each load dlopens its own copy of the object (cache.c), so they are
     * this load's alone. */
    m->fns.init_module();
    err = rt->ops->module_new(m, &w);
  }
  if (!err) err = rt_snapshot_take(m, &w, o);
  wasm_module_free(&w);
  if (err) goto fail;
  atomic_fetch_add(&rt->modules_loaded, 1);
  atomic_fetch_add(m->from_cache ? &rt->cache_hits : &rt->cache_misses, 1);
  pthread_mutex_lock(&rt->lock);
  m->next = rt->modules;
  if (rt->modules) rt->modules->prev = m;
  rt->modules = m;
  pthread_mutex_unlock(&rt->lock);
  *out = m;
  return 0;
fail:
  rt_module_destroy(m);
  return err;
}

void wrt_load_options_init(wrt_load_options_t *o) { memset(o, 0, sizeof(*o)); }

int wrt_load_ex(wrt_runtime_t *rt, const wrt_load_options_t *o, wrt_module_t **out) {
  if (!rt || !o || !o->name || (!o->bytes && o->len) || (o->nimports && !o->imports) || !out)
    return rt_error(WRT_EINVAL, "wrt_load: NULL argument");
  *out = NULL;
  if (o->bytes) {
    if (o->len > MAX_WASM_BYTES)
      return rt_error(WRT_EFORMAT, "%s: %zu bytes, over the runtime's limit of %llu", o->name,
                      o->len, MAX_WASM_BYTES);
    return load(rt, o->name, o->bytes, o->len, o, out);
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  int err = read_file(o->name, &bytes, &len);
  if (err) return err;
  err = load(rt, o->name, bytes, len, o, out);
  free(bytes);
  return err;
}

int wrt_load(wrt_runtime_t *rt, const char *path, wrt_module_t **out) {
  wrt_load_options_t o;
  wrt_load_options_init(&o);
  o.name = path;
  return wrt_load_ex(rt, &o, out);
}

int wrt_load_bytes(wrt_runtime_t *rt, const char *name, const void *bytes, size_t len,
                   wrt_module_t **out) {
  wrt_load_options_t o;
  wrt_load_options_init(&o);
  o.name = name;
  o.bytes = bytes ? bytes : "";
  o.len = len;
  if (!bytes && len) return rt_error(WRT_EINVAL, "wrt_load_bytes: NULL argument");
  return wrt_load_ex(rt, &o, out);
}

int wrt_unload(wrt_module_t *m) {
  if (!m) return 0;
  if (atomic_load(&m->running))
    return rt_error(WRT_EBUSY, "%s: requests are running on it", m->path);
  wrt_runtime_t *rt = m->rt;
  pthread_mutex_lock(&rt->lock);
  if (m->prev) m->prev->next = m->next;
  else rt->modules = m->next;
  if (m->next) m->next->prev = m->prev;
  pthread_mutex_unlock(&rt->lock);
  rt_module_destroy(m);
  return 0;
}

void wrt_module_info(const wrt_module_t *m, wrt_module_info_t *o) {
  memset(o, 0, sizeof(*o));
  o->path = m->path;
  o->min_pages = m->min_pages;
  o->max_pages = m->max_pages;
  o->table_min = m->ntables ? m->tables[0].min : 0;
  o->table_max = m->ntables ? m->tables[0].max : 0;
  o->nsegments = m->nsegments;
  o->segment_bytes = m->segment_bytes;
  o->nimports = m->nimports;
  o->from_cache = m->from_cache;
  o->start_pages = m->start_pages;
  o->snapshot = m->snap != NULL;
  if (m->snap) {
    o->snapshot_bytes = m->snap->image_bytes;
    o->snapshot_globals = m->snap->nglobals;
    o->snapshot_init_ns = m->snap->init_ns;
    o->snapshot_from_cache = m->snap->from_cache;
  }
}
