/* The memory's base held in a local (part of RT_TRANSFORM_VERSION 4).
 *
 * wasm2c 1.0.32 writes each access as `i32_load(&instance->M, ADDR)`,
 * which reads `instance->M.data` and then copies the bytes at data + ADDR
 * (wasm_rt_memcpy). A store through that copy may write any byte as far
 * as the C compiler knows, the instance's own fields among them, so after
 * every store the compiler loads `instance->M.data` again. The runtime's
 * memories never move: the pool's slot and the stock backend's
 * reservation are fixed for an instance's life and memory.grow changes
 * only the accessible bytes (rt_pool.c, rt_stock.c). So each function
 * reads the base once, after FUNC_PROLOGUE:
 *     u8* const wrt_mb = wrt_mem_base(instance);
 * and each access of the memory through one of wasm2c's accessors becomes
 * the same access through the base: `wrt_b_i32_load(wrt_mb, ADDR)`.
 *
 * The bounds stay where they were: wasm2c's accessors check none in this
 * build (WASM_RT_MEMCHECK_SIGNAL_HANDLER: the slot's guard region and the
 * signal handler make an access past the accessible bytes a trap), and
 * the base accessors compute the very same address, data + ADDR, so an
 * access faults exactly where it did. The generated code refuses to
 * compile in a build that checks bounds in the accessors (#error), rather
 * than lose the check. Each base accessor is written right after wasm2c's
 * own definition of the same name, with the same type arguments, so the
 * two cannot disagree on sizes or sign extension; and it keeps wasm2c's
 * empty asm on a loaded value, which keeps a load whose value is unused
 * (and its fault). Accesses the rewrite does not know (memory.fill,
 * memory.copy, memory.init, memory.grow and memory.size, which check
 * bounds against the size) are left as they are. A line of a shape this
 * file does not expect fails the compile (WRT_ETOOLCHAIN); it is never
 * passed through half rewritten. */
#include <string.h>

#include "rt_internal.h"
#include "rt_codegen.h"
#include "transform_base.h"

static bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static const char prologue[] =
    "/* " RT_TRANSFORM_VERSION " (wpool runtime): the memory's base in a local; see\n"
    " * runtime/transform_base.c. */\n"
    "#if !WASM_RT_MEMCHECK_SIGNAL_HANDLER || WABT_BIG_ENDIAN\n"
    "#error \"the base accessors rely on the guard region for bounds\"\n"
    "#endif\n"
    "static inline u8* wrt_mem_base(Z_guest_instance_t* instance);\n"
    "#define WRT_LOAD_B(name, t1, t2, t3)                        \\\n"
    "  static inline t3 wrt_b_##name(u8* base, u64 addr) {     \\\n"
    "    t1 result;                                            \\\n"
    "    wasm_rt_memcpy(&result, &base[addr], sizeof(t1));     \\\n"
    "    wasm_asm(\"\" ::\"r\"(result));                           \\\n"
    "    return (t3)(t2)result;                                \\\n"
    "  }\n"
    "#define WRT_STORE_B(name, t1, t2)                             \\\n"
    "  static inline void wrt_b_##name(u8* base, u64 addr, t2 value) { \\\n"
    "    t1 wrapped = (t1)value;                                 \\\n"
    "    wasm_rt_memcpy(&base[addr], &wrapped, sizeof(t1));      \\\n"
    "  }\n";

/* "DEFINE_LOAD(i32_load, u32, u32, u32)\n": the same accessor on the
 * base, its name remembered. */
static int accessor(rt_base_rw_t *s, const char *line, bool load, FILE *fo) {
  const char *args = line + (load ? 12 : 13);
  size_t n = 0;
  while (ident_char(args[n])) n++;
  if (n == 0 || n >= sizeof(s->names[0]) || args[n] != ',' || s->sites ||
      s->naccessors == RT_BASE_MAX_ACCESSORS)
    return -1;
  memcpy(s->names[s->naccessors], args, n);
  s->names[s->naccessors++][n] = 0;
  if (!s->accessors) fputs(prologue, fo);
  s->accessors = true;
  fputs(line, fo);
  fprintf(fo, "WRT_%s_B(%s", load ? "LOAD" : "STORE", args);
  return 0;
}

static bool is_accessor(const rt_base_rw_t *s, const char *name, size_t n) {
  for (uint32_t k = 0; k < s->naccessors; k++)
    if (strlen(s->names[k]) == n && memcmp(s->names[k], name, n) == 0) return true;
  return false;
}

int rt_base_line(rt_base_rw_t *s, const char *wasm_path, uint32_t lineno, const char *line,
                 FILE *fo) {
  if (strncmp(line, "DEFINE_LOAD(", 12) == 0 || strncmp(line, "DEFINE_STORE(", 13) == 0) {
    if (accessor(s, line, line[7] == 'L', fo)) goto unknown;
    return 0;
  }
  if (strcmp(line, "  FUNC_PROLOGUE;\n") == 0) {
    if (!s->accessors) goto unknown;
    fputs(line, fo);
    fputs("  u8* const wrt_mb = wrt_mem_base(instance);\n", fo);
    return 0;
  }
  static const char site[] = "(&instance->";
  const char *p = line, *q;
  while ((q = strstr(p, site))) {
    const char *name = q;
    while (name > line && ident_char(name[-1])) name--;
    const char *field = q + sizeof(site) - 1;
    size_t n = 0;
    while (ident_char(field[n])) n++;
    if (!is_accessor(s, name, (size_t)(q - name))) {
      fwrite(p, 1, (size_t)(field - p), fo);
      p = field;
      continue;
    }
    if (n == 0 || n >= sizeof(s->mem) || strncmp(field + n, ", ", 2) != 0) goto unknown;
    if (!s->mem[0]) memcpy(s->mem, field, n), s->mem[n] = 0;
    else if (strlen(s->mem) != n || memcmp(s->mem, field, n) != 0) goto unknown;
    fwrite(p, 1, (size_t)(name - p), fo);
    fputs("wrt_b_", fo);
    fwrite(name, 1, (size_t)(q - name), fo);
    fputs("(wrt_mb, ", fo);
    p = field + n + 2;
    s->sites++;
  }
  fputs(p, fo);
  return 0;
unknown:
  return rt_error(WRT_ETOOLCHAIN,
                  "%s: generated code line %u has a shape the memory-base rewrite does not know "
                  "(wasm2c is not 1.0.32?)",
                  wasm_path, lineno);
}

int rt_base_finish(rt_base_rw_t *s, const char *wasm_path, FILE *fo) {
  if (!s->accessors)
    return rt_error(WRT_ETOOLCHAIN, "%s: generated code defines no memory accessors (wasm2c is "
                    "not 1.0.32?)", wasm_path);
  if (s->mem[0])
    fprintf(fo, "\nstatic inline u8* wrt_mem_base(Z_guest_instance_t* instance) {\n"
                "  return instance->%s.data;\n}\n", s->mem);
  else
    fputs("\nstatic inline u8* wrt_mem_base(Z_guest_instance_t* instance) {\n"
          "  (void)instance;\n  return NULL;\n}\n", fo);
  return 0;
}
