/* Values of the spec scripts (spec.h): integers and floats are the
 * decimal text of their bits; "nan:canonical" and "nan:arithmetic" are
 * patterns; an externref is "null" or a number N, which the harness
 * passes as the host pointer N + 1 (so ref.extern 0 is not null). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static int type_of(const char *t, wrt_valtype_t *out) {
  static const struct {
    const char *name;
    wrt_valtype_t type;
  } types[] = {{"i32", WRT_I32}, {"i64", WRT_I64}, {"f32", WRT_F32}, {"f64", WRT_F64},
               {"funcref", WRT_FUNCREF}, {"externref", WRT_EXTERNREF}};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if (t && !strcmp(t, types[i].name)) return *out = types[i].type, 0;
  return -1;
}

int spec_value(const json_t *j, wrt_value_t *v) {
  memset(v, 0, sizeof(*v));
  if (type_of(json_str(j, "type"), &v->type) != 0) return -1;
  const char *s = json_str(j, "value");
  if (!s) return v->type == WRT_FUNCREF || v->type == WRT_EXTERNREF ? 0 : -1;
  if (!strcmp(s, "null")) return 0;
  uint64_t bits = strtoull(s, NULL, 10);
  switch (v->type) {
  case WRT_I32: v->of.i32 = (uint32_t)bits; break;
  case WRT_F32: {
    uint32_t b = (uint32_t)bits;
    memcpy(&v->of.f32, &b, 4);
    break;
  }
  case WRT_I64: v->of.i64 = bits; break;
  case WRT_F64: memcpy(&v->of.f64, &bits, 8); break;
  case WRT_EXTERNREF: v->of.externref = (void *)(uintptr_t)(bits + 1); break;
  default: return -1; /* funcref values other than null */
  }
  return 0;
}

static uint64_t bits_of(const wrt_value_t *v) {
  uint64_t b = 0;
  if (v->type == WRT_F32) memcpy(&b, &v->of.f32, 4);
  else if (v->type == WRT_F64) memcpy(&b, &v->of.f64, 8);
  else if (v->type == WRT_I32) b = v->of.i32;
  else b = v->of.i64;
  return b;
}

int spec_matches(const json_t *want, const wrt_value_t *got) {
  wrt_valtype_t t;
  if (type_of(json_str(want, "type"), &t) != 0 || t != got->type) return 0;
  const char *s = json_str(want, "value");
  if (t == WRT_FUNCREF) return s ? got->of.funcref == NULL : got->of.funcref != NULL;
  if (t == WRT_EXTERNREF) {
    if (!s) return got->of.externref != NULL;
    wrt_value_t w;
    return spec_value(want, &w) == 0 && w.of.externref == got->of.externref;
  }
  if (!s) return 0;
  uint64_t b = bits_of(got);
  if (!strncmp(s, "nan:", 4)) {
    int canonical = !strcmp(s, "nan:canonical");
    if (t == WRT_F32)
      return canonical ? (b & 0x7fffffffu) == 0x7fc00000u
                       : (b & 0x7fc00000u) == 0x7fc00000u;
    if (t == WRT_F64)
      return canonical ? (b & 0x7fffffffffffffffull) == 0x7ff8000000000000ull
                       : (b & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
    return 0;
  }
  wrt_value_t w;
  return spec_value(want, &w) == 0 && bits_of(&w) == b;
}

void spec_value_text(const wrt_value_t *v, char *out, size_t cap) {
  static const char *names[] = {"i32", "i64", "f32", "f64", "v128", "funcref", "externref"};
  const char *name = (unsigned)v->type < 7 ? names[v->type] : "?";
  if (v->type == WRT_FUNCREF || v->type == WRT_EXTERNREF)
    snprintf(out, cap, "%s:%p", name, v->type == WRT_FUNCREF ? v->of.funcref : v->of.externref);
  else
    snprintf(out, cap, "%s:0x%" PRIx64, name, bits_of(v));
}

wrt_trap_t spec_trap_of(const char *text) {
  static const struct {
    const char *text;
    wrt_trap_t trap;
  } map[] = {
      {"out of bounds memory access", WRT_TRAP_OOB},
      {"out of bounds table access", WRT_TRAP_OOB},
      {"undefined element", WRT_TRAP_CALL_INDIRECT},
      {"uninitialized element", WRT_TRAP_CALL_INDIRECT},
      {"indirect call type mismatch", WRT_TRAP_CALL_INDIRECT},
      {"integer divide by zero", WRT_TRAP_DIV_BY_ZERO},
      {"integer overflow", WRT_TRAP_INT_OVERFLOW},
      {"invalid conversion to integer", WRT_TRAP_INVALID_CONVERSION},
      {"unreachable", WRT_TRAP_UNREACHABLE},
      {"call stack exhausted", WRT_TRAP_EXHAUSTION},
  };
  for (size_t i = 0; text && i < sizeof(map) / sizeof(map[0]); i++)
    if (!strncmp(text, map[i].text, strlen(map[i].text))) return map[i].trap;
  return WRT_TRAP_NONE;
}
