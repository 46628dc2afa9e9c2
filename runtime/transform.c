/* The check of wasm2c 1.0.32's output, line by line in init_memories, so
 * that any other shape of generated code is refused rather than
 * miscompiled (RT_TRANSFORM_VERSION), the memory's base held in a local
 * elsewhere (transform_base.c), and the glue appended:
 *   1. `wasm_rt_allocate_memory(&instance->M, MIN, MAX)` must ask for the
 *      limits the .wasm declares (max 65536 when none).
 *   2. Each `LOAD_DATA(instance->M, OFFSET, NULL, 0)` must be the next
 *      active data segment the reader found, at its offset, with no bytes:
 *      the rewritten copy leaves active segments' bytes out
 *      (wasm_rewrite.c); the pool's image holds them and the stock backend
 *      copies them when the memory is allocated (rt_stock.c). Passive
 *      segments (memory.init) are untouched. A module without a memory
 *      has no init_memories.
 *   3. Outside init_memories, the bulk memory helpers' calls of libc go
 *      to the runtime's pieced operations (transform_bulk.c,
 *      RT_BULK_VERSION); the memory's base is read once per function
 *      (transform_base.c).
 *   4. The glue is appended (glue.c): the entry points the runtime calls
 *      and the import thunks. The fields init_globals assigns, one line
 *      `  instance->NAME = VALUE;` per defined global in index order, are
 *      the globals the glue's wrt_guest_global points at (snapshots,
 *      rt_snapshot.c); any other shape there leaves it pointing at none. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"
#include "rt_codegen.h"
#include "transform_base.h"
#include "transform_bulk.h"

/* Parse "NAME, A, B" arguments of a generated call (without the call's
 * name and parentheses): up to 4 comma-separated fields. */
static int split_args(char *s, char **f, int max) {
  int n = 0;
  while (n < max) {
    while (*s == ' ') s++;
    f[n++] = s;
    char *comma = strchr(s, ',');
    if (!comma) break;
    *comma = 0;
    s = comma + 1;
  }
  return n;
}

/* `name` in directory `dfd` as a stream (not through a link). */
static FILE *open_at(int dfd, const char *name, bool write) {
  int fd = openat(dfd, name, write ? O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
                                   : O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, write ? "w" : "r");
  if (!f) close(fd);
  return f;
}

/* The field `line` of init_globals assigns, or NULL for another shape.
 * The name is wasm2c's, made from the rewritten copy's names (ours). */
static char *global_field(const char *line) {
  static const char pre[] = "  instance->";
  if (strncmp(line, pre, sizeof(pre) - 1) != 0) return NULL;
  const char *name = line + sizeof(pre) - 1, *end = name;
  while ((*end >= 'a' && *end <= 'z') || (*end >= 'A' && *end <= 'Z') ||
         (*end >= '0' && *end <= '9') || *end == '_')
    end++;
  if (end == name || end - name > 200 || strncmp(end, " = ", 3) != 0) return NULL;
  return strndup(name, (size_t)(end - name));
}

/* Follow init_globals: collect its fields in `g` (g->bad once a line
 * has another shape, or memory ran out). */
static void globals_line(rt_globals_t *g, const char *line, bool *in_globals) {
  if (strcmp(line, "}\n") == 0) {
    *in_globals = false;
    return;
  }
  if (g->bad || strcmp(line, "\n") == 0) return;
  if (g->n == g->cap) {
    char **more = realloc(g->names, (g->cap * 2 + 8) * sizeof(char *));
    if (!more) {
      g->bad = true;
      return;
    }
    g->names = more;
    g->cap = g->cap * 2 + 8;
  }
  char *name = global_field(line);
  if (!name) g->bad = true;
  else g->names[g->n++] = name;
}

int rt_transform(const char *wasm_path, const wasm_module_t *w, int dfd, const char *in,
                 const char *out) {
  FILE *fi = open_at(dfd, in, false);
  if (!fi) return rt_error(WRT_ESYS, "cannot read %s: %s", in, strerror(errno));
  FILE *fo = open_at(dfd, out, true);
  if (!fo) {
    int e = errno;
    fclose(fi);
    return rt_error(WRT_ESYS, "cannot create %s: %s", out, strerror(e));
  }
  static const char head[] = "static void init_memories(Z_guest_instance_t* instance) {";
  static const char ghead[] = "static void init_globals(Z_guest_instance_t* instance) {\n";
  rt_globals_t globals = {0};
  bool in_globals = false;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int err = 0;
  bool in_init = false, seen_init = false, seen_alloc = false;
  uint32_t seg = 0; /* the next active segment to match */
  uint32_t lineno = 0;
  rt_base_rw_t base = {0};
  rt_bulk_rw_t bulk = {0};
  uint64_t want_max = w->nmemories && w->memories[0].has_max ? w->memories[0].max : 65536;
  while (!err && (n = getline(&line, &cap, fi)) > 0) {
    lineno++;
    if (!in_init && strncmp(line, head, sizeof(head) - 1) == 0) {
      fputs("/* " RT_TRANSFORM_VERSION " (wpool runtime): active data segments are not in this\n"
            " * code; the runtime puts them in memory. See runtime/transform.c. */\n",
            fo);
      in_init = seen_init = true;
      fputs(line, fo);
      continue;
    }
    if (!in_init && rt_bulk_line(&bulk, line, fo)) continue;
    if (!in_init) {
      if (in_globals) globals_line(&globals, line, &in_globals);
      else if (strcmp(line, ghead) == 0) in_globals = true;
      err = rt_base_line(&base, wasm_path, lineno, line, fo);
      continue;
    }
    if (strcmp(line, "}\n") == 0) {
      in_init = false;
      fputs(line, fo);
      continue;
    }
    char *f[5];
    if (strncmp(line, "  wasm_rt_allocate_memory(", 26) == 0) {
      char *args = line + 26;
      char *close = strstr(args, ");");
      if (!close || seen_alloc) goto unexpected;
      *close = 0;
      if (split_args(args, f, 4) != 3) goto unexpected;
      uint64_t mn = strtoull(f[1], NULL, 10), mx = strtoull(f[2], NULL, 10);
      if (w->nmemories != 1 || mn != w->memories[0].min || mx != want_max) {
        err = rt_error(WRT_ETOOLCHAIN,
                       "%s: wasm2c's code allocates memory of %llu..%llu pages, the module "
                       "declares %llu..%llu",
                       wasm_path, (unsigned long long)mn, (unsigned long long)mx,
                       w->nmemories ? (unsigned long long)w->memories[0].min : 0ull,
                       (unsigned long long)want_max);
        break;
      }
      seen_alloc = true;
      fprintf(fo, "  wasm_rt_allocate_memory(%s, %s, %s);\n", f[0], f[1], f[2]);
      continue;
    }
    if (strncmp(line, "  LOAD_DATA(", 12) == 0) {
      char *args = line + 12;
      char *close = strstr(args, ");");
      if (!close) goto unexpected;
      *close = 0;
      if (split_args(args, f, 5) != 4) goto unexpected;
      while (seg < w->nsegments && !w->segments[seg].active) seg++;
      uint64_t off = strtoull(f[1], NULL, 10);
      if (seg >= w->nsegments || w->segments[seg].offset != off || strcmp(f[2], "NULL") != 0 ||
          strcmp(f[3], "0") != 0) {
        err = rt_error(WRT_ETOOLCHAIN,
                       "%s: wasm2c's code loads %s bytes at %llu, which is not active data "
                       "segment %u as the runtime gave it (no bytes)",
                       wasm_path, f[3], (unsigned long long)off, seg);
        break;
      }
      seg++;
      fprintf(fo, "  LOAD_DATA(%s, %s, NULL, 0);\n", f[0], f[1]);
      continue;
    }
    if (strcmp(line, "\n") == 0) {
      fputs(line, fo);
      continue;
    }
  unexpected:
    err = rt_error(WRT_ETOOLCHAIN,
                   "%s: generated code line %u in init_memories has a shape the transform does "
                   "not know (wasm2c is not 1.0.32?)",
                   wasm_path, lineno);
  }
  free(line);
  if (!err) {
    while (seg < w->nsegments && !w->segments[seg].active) seg++;
    if (in_init || (!seen_init && w->nmemories))
      err = rt_error(WRT_ETOOLCHAIN, "%s: generated code has no init_memories function",
                     wasm_path);
    else if (seg != w->nsegments)
      err = rt_error(WRT_ETOOLCHAIN,
                     "%s: generated code loads fewer data segments than the module's active ones",
                     wasm_path);
    else if (w->nmemories && !seen_alloc)
      err = rt_error(WRT_ETOOLCHAIN, "%s: generated code allocates no memory", wasm_path);
  }
  if (in_globals || globals.n != w->nglobals) globals.bad = true;
  if (!err) err = rt_bulk_finish(&bulk, wasm_path);
  if (!err) err = rt_base_finish(&base, wasm_path, fo);
  if (!err) err = rt_glue_write(fo, wasm_path, w, &globals);
  for (uint32_t i = 0; i < globals.n; i++) free(globals.names[i]);
  free(globals.names);
  if (ferror(fi) && !err) err = rt_error(WRT_ESYS, "read %s failed", in);
  fclose(fi);
  bool werr = ferror(fo) != 0;
  if ((fclose(fo) != 0 || werr) && !err)
    err = rt_error(WRT_ESYS, "write %s: %s", out, strerror(errno));
  return err;
}

