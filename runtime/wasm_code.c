/* What lies beyond a module's declarations (wasm_code.h): constant
 * expressions, globals, element segments and function bodies.
 *
 * The bodies are walked instruction by instruction, every immediate read,
 * so that what wasm2c 1.0.32 would crash, abort or hang on is refused
 * here with the reason, before any tool runs: SIMD (it aborts), blocks
 * nested past WASM_MAX_NESTING (it crashes on its stack), proposals it
 * does not enable (threads, exceptions, tail calls, typed function
 * references, GC), and the limits that make gcc's work blow up (locals,
 * body size, br_table targets). It does not type-check instructions:
 * wasm2c validates what the walk lets through. Linear in the section. */
#include "wasm_code.h"

#include <stdlib.h>
#include <string.h>

static const char *type_name(char t) {
  switch (t) {
  case 'i': return "i32";
  case 'I': return "i64";
  case 'f': return "f32";
  case 'F': return "f64";
  case 'r': return "funcref";
  case 'e': return "externref";
  default: return "?";
  }
}

static char reftype(cursor_t *c) {
  uint8_t t = cur_u8(c);
  if (t == 0x70) return 'r';
  if (t == 0x6f) return 'e';
  if (!c->failed) cur_fail(c, "malformed reference type 0x%02x", t);
  return 0;
}

void wasm_const_expr(cursor_t *c, const wasm_module_t *m, char want, bool *is_const,
                     uint64_t *value) {
  *is_const = false;
  *value = 0;
  uint8_t op = cur_u8(c);
  char t = 0;
  switch (op) {
  case 0x41: *value = (uint32_t)cur_sleb(c, 32), *is_const = true, t = 'i'; break;
  case 0x42: *value = (uint64_t)cur_sleb(c, 64), *is_const = true, t = 'I'; break;
  case 0x43: for (int i = 0; i < 4; i++) cur_u8(c); t = 'f'; break;
  case 0x44: for (int i = 0; i < 8; i++) cur_u8(c); t = 'F'; break;
  case 0xd0: t = reftype(c); break; /* ref.null */
  case 0xd2: {                      /* ref.func */
    uint32_t f = cur_u32(c);
    if (!c->failed && f >= m->nfunc_imports + m->nfuncs)
      return (void)cur_fail(c, "constant expression: ref.func of function %u, which does "
                               "not exist", f);
    t = 'r';
    break;
  }
  case 0x23: { /* global.get: of a global declared before */
    uint32_t g = cur_u32(c);
    if (!c->failed && g >= m->nglobals)
      return (void)cur_fail(c, "constant expression: global.get of global %u, which does not "
                               "exist (yet)", g);
    t = c->failed ? 0 : m->global_types[g];
    break;
  }
  case 0x0b:
    if (!c->failed) cur_fail(c, "empty constant expression (a %s is expected)", type_name(want));
    return;
  case 0xfd:
    if (!c->failed) cur_fail(c, "v128.const (SIMD) is not supported: wasm2c 1.0.32 cannot "
                                "translate it");
    return;
  default:
    if (!c->failed) cur_fail(c, "constant expression opcode 0x%02x not supported", op);
    return;
  }
  if (cur_u8(c) != 0x0b && !c->failed)
    return (void)cur_fail(c, "constant expression of more than one instruction (or no end)");
  if (!c->failed && t != want)
    cur_fail(c, "constant expression of type %s where a %s is expected", type_name(t),
             type_name(want));
}

bool wasm_parse_globals(cursor_t *c, wasm_module_t *m) {
  uint32_t n = cur_count(c, 3);
  if (c->failed) return false;
  if ((uint64_t)m->nglobals + n > WASM_MAX_GLOBALS)
    return cur_limit(c, "%llu globals; the limit is %u", (unsigned long long)m->nglobals + n,
                     WASM_MAX_GLOBALS);
  char *t = realloc(m->global_types, (size_t)m->nglobals + n + 1);
  if (!t) return cur_fail(c, "out of memory");
  m->global_types = t;
  for (uint32_t i = 0; i < n && !c->failed; i++) {
    char type = cur_valtype(c);
    uint8_t mut = cur_u8(c);
    if (!c->failed && mut > 1) return cur_fail(c, "global %u: malformed mutability %u", i, mut);
    bool is_const;
    uint64_t v;
    wasm_const_expr(c, m, type, &is_const, &v);
    m->global_types[m->nglobals++] = type; /* visible to the globals after it */
  }
  return !c->failed;
}

bool wasm_parse_elements(cursor_t *c, wasm_module_t *m) {
  uint32_t n = cur_count(c, 2);
  uint32_t ntables = m->nimported_tables + m->ntables, nfunc = m->nfunc_imports + m->nfuncs;
  for (uint32_t i = 0; i < n && !c->failed; i++) {
    uint32_t flags = cur_u32(c);
    if (!c->failed && flags > 7) return cur_fail(c, "element segment %u: malformed kind %u", i, flags);
    bool active = !(flags & 1), exprs = flags & 4;
    uint32_t table = (flags & 3) == 2 ? cur_u32(c) : 0;
    if (!c->failed && active && table >= ntables)
      return cur_fail(c, "element segment %u: table %u does not exist", i, table);
    bool is_const;
    uint64_t v;
    if (active) wasm_const_expr(c, m, 'i', &is_const, &v);
    char type = 'r';
    if (flags & 3) {
      if (exprs) type = reftype(c);
      else if (cur_u8(c) != 0x00 && !c->failed)
        return cur_fail(c, "element segment %u: malformed element kind", i);
    }
    uint32_t items = cur_count(c, 1);
    if (c->failed) return false;
    m->nelem_items += items;
    if (m->nelem_items > WASM_MAX_ELEM_ITEMS)
      return cur_limit(c, "element segments of %llu items in all; the limit is %u",
                       (unsigned long long)m->nelem_items, WASM_MAX_ELEM_ITEMS);
    for (uint32_t k = 0; k < items && !c->failed; k++) {
      if (exprs) {
        wasm_const_expr(c, m, type, &is_const, &v);
      } else {
        uint32_t f = cur_u32(c);
        if (!c->failed && f >= nfunc)
          return cur_fail(c, "element segment %u: function %u does not exist", i, f);
      }
    }
  }
  return !c->failed;
}

/* ------------------------------------------------------------------ */
/* Function bodies                                                      */

/* A block type: empty, a value type, or a type index. */
static void block_type(cursor_t *c, const wasm_module_t *m) {
  if (c->p < c->end) {
    uint8_t b = *c->p;
    if (b == 0x40) {
      c->p++;
      return;
    }
    if (b == 0x7f || b == 0x7e || b == 0x7d || b == 0x7c || b == 0x7b || b == 0x70 || b == 0x6f) {
      cur_valtype(c);
      return;
    }
  }
  int64_t t = cur_sleb(c, 64);
  if (!c->failed && (t < 0 || t >= m->ntypes)) cur_fail(c, "block type %lld does not exist", (long long)t);
}

/* memory.size, memory.grow, memory.copy, memory.fill, memory.init:
 * memory 0, as one zero byte (a memory index needs multi-memory). */
static void zero_byte(cursor_t *c) {
  if (cur_u8(c) != 0 && !c->failed) cur_fail(c, "zero byte expected");
}

/* A proposal's instruction: refused with what it is. */
static bool refuse(cursor_t *c, uint8_t op, const char *what) {
  if (op == 0xfd)
    return cur_fail(c, "opcode 0xfd: SIMD is not supported (wasm2c 1.0.32 aborts on it)");
  return cur_fail(c, "opcode 0x%02x: %s are not supported (wasm2c 1.0.32 does not enable them)",
                  op, what);
}

/* The 0xfc instructions (saturating truncation, bulk memory, tables). */
static bool prefixed(cursor_t *c, const wasm_module_t *m) {
  uint32_t sub = cur_u32(c);
  if (c->failed) return false;
  if (sub <= 7) return true;
  if ((sub == 8 || sub == 9) && !m->has_data_count)
    return cur_fail(c, "memory.init or data.drop: data count section required");
  switch (sub) {
  case 8: cur_u32(c), zero_byte(c); break;  /* memory.init */
  case 9: cur_u32(c); break;                /* data.drop */
  case 10: zero_byte(c), zero_byte(c); break; /* memory.copy */
  case 11: zero_byte(c); break;             /* memory.fill */
  case 12: cur_u32(c), cur_u32(c); break;   /* table.init */
  case 13: cur_u32(c); break;               /* elem.drop */
  case 14: cur_u32(c), cur_u32(c); break;   /* table.copy */
  case 15: case 16: case 17: cur_u32(c); break; /* table.grow, .size, .fill */
  default: return cur_fail(c, "illegal opcode 0xfc %u", sub);
  }
  return !c->failed;
}

/* One instruction's opcode and immediates; *depth follows block, loop,
 * if and end. */
static bool instruction(cursor_t *c, const wasm_module_t *m, uint32_t *depth) {
  uint8_t op = cur_u8(c);
  if (c->failed) return false;
  if ((op >= 0x45 && op <= 0xc4) || op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0f ||
      op == 0x1a || op == 0x1b || op == 0xd1)
    return true; /* no immediate */
  if (op >= 0x28 && op <= 0x3e) { /* loads and stores: alignment, offset */
    uint32_t align = cur_u32(c);
    if (!c->failed && align >= 64) return cur_fail(c, "memory access alignment 2^%u", align);
    cur_u32(c);
    return !c->failed;
  }
  switch (op) {
  case 0x02: case 0x03: case 0x04: /* block, loop, if */
    if (++*depth - 1 > WASM_MAX_NESTING) /* the function's own block is not nested */
      return cur_limit(c, "blocks nested %u deep; the limit is %u", *depth - 1,
                       WASM_MAX_NESTING);
    block_type(c, m);
    break;
  case 0x0b: --*depth; break;
  case 0x0c: case 0x0d: cur_u32(c); break; /* br, br_if */
  case 0x0e: {                            /* br_table */
    uint32_t n = cur_count(c, 1);
    if (!c->failed && n > WASM_MAX_BR_TABLE)
      return cur_limit(c, "br_table of %u targets; the limit is %u", n, WASM_MAX_BR_TABLE);
    for (uint32_t i = 0; i <= n && !c->failed; i++) cur_u32(c);
    break;
  }
  case 0x10: { /* call */
    uint32_t f = cur_u32(c);
    if (!c->failed && f >= m->nfunc_imports + m->nfuncs)
      return cur_fail(c, "call of function %u, which does not exist", f);
    break;
  }
  case 0x11: { /* call_indirect: type, table */
    uint32_t t = cur_u32(c);
    if (!c->failed && t >= m->ntypes) return cur_fail(c, "call_indirect of type %u, which does not exist", t);
    cur_u32(c);
    break;
  }
  case 0x1c: { /* select with types */
    uint32_t n = cur_count(c, 1);
    for (uint32_t i = 0; i < n && !c->failed; i++) cur_valtype(c);
    break;
  }
  case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26:
    cur_u32(c); /* locals, globals, table.get, table.set */
    break;
  case 0x3f: case 0x40: zero_byte(c); break; /* memory.size, memory.grow */
  case 0x41: cur_sleb(c, 32); break;
  case 0x42: cur_sleb(c, 64); break;
  case 0x43: for (int i = 0; i < 4; i++) cur_u8(c); break;
  case 0x44: for (int i = 0; i < 8; i++) cur_u8(c); break;
  case 0xd0: reftype(c); break;  /* ref.null */
  case 0xd2: cur_u32(c); break;  /* ref.func */
  case 0xfc: return prefixed(c, m);
  case 0xfd: return refuse(c, op, "SIMD");
  case 0xfe: return refuse(c, op, "threads (atomics)");
  case 0x06: case 0x07: case 0x08: case 0x09: case 0x0a: case 0x18: case 0x19:
    return refuse(c, op, "exceptions");
  case 0x12: case 0x13: return refuse(c, op, "tail calls");
  case 0x14: case 0x15: case 0xd3: case 0xd4: case 0xd5: case 0xd6:
    return refuse(c, op, "typed function references");
  case 0xfb: return refuse(c, op, "GC instructions");
  default: return cur_fail(c, "illegal opcode 0x%02x", op);
  }
  return !c->failed;
}

/* Body `i`: its locals and instructions, to its `end` exactly at the end
 * of its bytes. */
static bool body(cursor_t *c, const wasm_module_t *m, uint32_t i) {
  uint32_t size = cur_u32(c);
  if (c->failed) return false;
  if (size > (size_t)(c->end - c->p))
    return cur_fail(c, "function %u: body of %u bytes runs past the end of the section", i, size);
  if (size > WASM_MAX_BODY_BYTES)
    return cur_limit(c, "function %u: body of %u bytes; the limit is %u", i, size,
                     WASM_MAX_BODY_BYTES);
  const uint8_t *section_end = c->end;
  c->end = c->p + size;
  const char *type = m->types[m->func_types[i]];
  uint64_t locals = (uint64_t)(strchr(type, ':') - type); /* the parameters */
  uint32_t ndecl = cur_count(c, 2);
  for (uint32_t k = 0; k < ndecl && !c->failed; k++) {
    locals += cur_u32(c);
    cur_valtype(c);
    if (!c->failed && locals > UINT32_MAX) return cur_fail(c, "function %u: too many locals", i);
  }
  if (!c->failed && locals > WASM_MAX_LOCALS)
    return cur_limit(c, "function %u: %llu locals (parameters included); the limit is %u", i,
                     (unsigned long long)locals, WASM_MAX_LOCALS);
  uint32_t depth = 1;
  while (!c->failed && depth > 0) instruction(c, m, &depth);
  if (!c->failed && c->p != c->end)
    cur_fail(c, "function %u: %zu bytes after its end", i, (size_t)(c->end - c->p));
  c->end = section_end;
  return !c->failed;
}

bool wasm_parse_code(cursor_t *c, wasm_module_t *m) {
  uint32_t n = cur_count(c, 2);
  if (c->failed) return false;
  if (n != m->nfuncs)
    return cur_fail(c, "function and code section have inconsistent lengths (%u functions, %u "
                       "bodies)", m->nfuncs, n);
  m->has_code = true;
  for (uint32_t i = 0; i < n && !c->failed; i++) body(c, m, i);
  return !c->failed;
}
