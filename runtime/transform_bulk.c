/* wasm2c 1.0.32 writes memory.fill, memory.copy, memory.init and
 * table.copy as static inline helpers in its output that call libc's
 * memset, memmove and (through load_data) memcpy over the whole length the
 * guest chose. This rewrite makes those calls go to wrt_bulk_fill and
 * wrt_bulk_move (rt_bulk.c), which work in pieces and take a pending
 * timeout between them. Each site is one exact line of wasm2c's template;
 * a compile where any is missing is refused (rt_bulk_finish), so another
 * wasm2c cannot silently bring libc's unbounded calls back. The loads' and
 * stores' wasm_rt_memcpy is not touched: those are fixed-size copies the
 * compiler inlines. table.fill and table.init are loops in the generated
 * code itself, where the watchdog's signal ends them directly.
 *
 * memory.fill and memory.copy of at most RT_BULK_INLINE_MAX bytes still
 * call libc (or, of a constant length, are inlined by the compiler, as
 * wasm2c's code was): C guests built with bulk memory turn many small
 * memcpy and memset calls into them, and a call of the runtime costs
 * such an operation several times what it costs inline (bench: 64-byte
 * copies). A loop of them cannot hide in libc: that short a memset or
 * memmove takes about as long as the generated code around it, so the
 * watchdog's millisecond signals soon land in the module's code
 * (test_bulk: a loop of fills of exactly that length stops at its limit). */
#include <string.h>

#include "rt_internal.h"
#include "rt_codegen.h"
#include "transform_bulk.h"

typedef struct site {
  const char *from, *to;
} site_t;

static const site_t sites[] = {
    /* The prototypes, before the first helper. */
    {"static inline void memory_fill(wasm_rt_memory_t* mem, u32 d, u32 val, u32 n) {\n",
     "void* wrt_bulk_fill(void*, int, size_t);\n"
     "void* wrt_bulk_move(void*, const void*, size_t);\n"
     "#define WRT_BULK_INLINE_MAX " RT_BULK_INLINE_MAX "\n"
     "static inline void memory_fill(wasm_rt_memory_t* mem, u32 d, u32 val, u32 n) {\n"},
    /* memory.fill */
    {"  memset(mem->data + d, val, n);\n",
     "  if (n <= WRT_BULK_INLINE_MAX)\n"
     "    memset(mem->data + d, val, n);\n"
     "  else\n"
     "    wrt_bulk_fill(mem->data + d, val, n);\n"},
    /* memory.copy */
    {"  memmove(dest->data + dest_addr, src->data + src_addr, n);\n",
     "  if (n <= WRT_BULK_INLINE_MAX)\n"
     "    memmove(dest->data + dest_addr, src->data + src_addr, n);\n"
     "  else\n"
     "    wrt_bulk_move(dest->data + dest_addr, src->data + src_addr, n);\n"},
    /* memory.init: LOAD_DATA's range check, then the bytes; a data
     * segment never overlaps the memory, so a move is a copy. Only the
     * little-endian layout is rewritten. */
    {"  LOAD_DATA((*dest), dest_addr, src + src_addr, n);\n",
     "#if WABT_BIG_ENDIAN\n"
     "  LOAD_DATA((*dest), dest_addr, src + src_addr, n);\n"
     "#else\n"
     "  RANGE_CHECK(dest, dest_addr, n);\n"
     "  wrt_bulk_move(dest->data + dest_addr, src + src_addr, n);\n"
     "#endif\n"},
    /* table.copy (DEFINE_TABLE_COPY, a macro: the line goes on). */
    {"    memmove(dest->data + dest_addr, src->data + src_addr,                    \\\n",
     "    wrt_bulk_move(dest->data + dest_addr, src->data + src_addr,              \\\n"},
};
#define NSITES (sizeof(sites) / sizeof(sites[0]))

bool rt_bulk_line(rt_bulk_rw_t *s, const char *line, FILE *fo) {
  for (uint32_t i = 0; i < NSITES; i++) {
    if (strcmp(line, sites[i].from) != 0) continue;
    if (s->seen & (1u << i)) s->seen |= 1u << 31; /* twice: refused at the end */
    s->seen |= 1u << i;
    fputs(sites[i].to, fo);
    return true;
  }
  return false;
}

int rt_bulk_finish(const rt_bulk_rw_t *s, const char *wasm_path) {
  for (uint32_t i = 0; i < NSITES; i++)
    if (!(s->seen & (1u << i)))
      return rt_error(WRT_ETOOLCHAIN,
                      "%s: wasm2c's bulk memory helpers have a shape the transform does not "
                      "know (no line \"%.40s...\"; wasm2c is not 1.0.32?)",
                      wasm_path, sites[i].from + strspn(sites[i].from, " "));
  if (s->seen & (1u << 31))
    return rt_error(WRT_ETOOLCHAIN, "%s: wasm2c's bulk memory helpers appear twice", wasm_path);
  return 0;
}
