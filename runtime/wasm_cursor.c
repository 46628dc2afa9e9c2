/* The reader's cursor (wasm_cursor.h). */
#include "wasm_cursor.h"

#include <stdarg.h>
#include <stdio.h>

static bool fail(cursor_t *c, bool limit, const char *fmt, va_list ap) {
  if (c->failed) return false;
  c->failed = true;
  c->limit = limit;
  int n = snprintf(c->err, c->errlen, "%s at byte %zu: ", c->what, (size_t)(c->p - c->base));
  if (n < 0 || (size_t)n >= c->errlen) return false;
  vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
  return false;
}

bool cur_fail(cursor_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fail(c, false, fmt, ap);
  va_end(ap);
  return false;
}

bool cur_limit(cursor_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fail(c, true, fmt, ap);
  va_end(ap);
  return false;
}

uint8_t cur_u8(cursor_t *c) {
  if (c->failed) return 0;
  if (c->p >= c->end) return cur_fail(c, "unexpected end"), 0;
  return *c->p++;
}

uint64_t cur_uleb(cursor_t *c, unsigned bits) {
  uint64_t v = 0;
  for (unsigned shift = 0;; shift += 7) {
    if (c->failed) return 0;
    if (shift >= bits) return cur_fail(c, "integer too long"), 0;
    uint8_t b = cur_u8(c);
    if (c->failed) return 0; /* not the bits read so far: callers trust a value */
    uint64_t chunk = b & 0x7f;
    if (shift + 7 > bits && (chunk >> (bits - shift)) != 0)
      return cur_fail(c, "integer too large"), 0;
    v |= chunk << shift;
    if (!(b & 0x80)) return v;
  }
}

int64_t cur_sleb(cursor_t *c, unsigned bits) {
  int64_t v = 0;
  unsigned shift = 0;
  uint8_t b;
  do {
    if (c->failed) return 0;
    if (shift >= bits) return cur_fail(c, "integer too long"), 0;
    b = cur_u8(c);
    if (c->failed) return 0;
    v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
    shift += 7;
  } while (b & 0x80);
  if (shift < 64 && (b & 0x40)) v |= (int64_t)(~(uint64_t)0 << shift);
  if (bits == 32 && (v < INT32_MIN || v > INT32_MAX)) return cur_fail(c, "integer too large"), 0;
  return v;
}

uint32_t cur_count(cursor_t *c, size_t min_item_bytes) {
  uint32_t n = cur_u32(c);
  if (c->failed) return 0;
  if (min_item_bytes && n > (size_t)(c->end - c->p) / min_item_bytes)
    return cur_fail(c, "count %u exceeds the bytes left", n), 0;
  return n;
}

/* The length of the UTF-8 sequence at s (n bytes left), or 0 when it is
 * not one: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_seq(const uint8_t *s, size_t n) {
  uint8_t b = s[0];
  if (b < 0x80) return 1;
  size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
  if (!len || b > 0xf4 || len > n) return 0;
  uint32_t cp = b & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

wasm_name_t cur_name(cursor_t *c) {
  wasm_name_t nm = {0};
  uint32_t n = cur_u32(c);
  if (c->failed) return nm;
  if (n > (size_t)(c->end - c->p)) return cur_fail(c, "name of %u bytes runs past the end", n), nm;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq(c->p + i, n - i);
    if (!k) return cur_fail(c, "name is not valid UTF-8 (byte %zu of %u)", i, n), nm;
    i += k;
  }
  nm.bytes = c->p;
  nm.len = n;
  c->p += n;
  return nm;
}

char cur_valtype(cursor_t *c) {
  uint8_t t = cur_u8(c);
  switch (t) {
  case 0x7f: return 'i';
  case 0x7e: return 'I';
  case 0x7d: return 'f';
  case 0x7c: return 'F';
  case 0x7b:
    return c->failed ? 0
                     : (cur_fail(c, "v128 (SIMD) is not supported: wasm2c 1.0.32 aborts on it"), 0);
  case 0x70: return 'r';
  case 0x6f: return 'e';
  default: return c->failed ? 0 : (cur_fail(c, "unknown value type 0x%02x", t), 0);
  }
}

wasm_limits_t cur_limits(cursor_t *c, bool memory) {
  wasm_limits_t l = {.max = UINT64_MAX};
  uint8_t flags = cur_u8(c);
  if (flags > 1) { /* 2 and 3: shared (threads); 4 and up: memory64 */
    if (!c->failed)
      cur_fail(c, "%s limits flags 0x%02x: integer too large (shared memories and memory64 are "
               "not supported)", memory ? "memory" : "table", flags);
    return l;
  }
  l.min = cur_u32(c);
  l.has_max = flags & 1;
  if (l.has_max) l.max = cur_u32(c);
  if (!c->failed && l.has_max && l.max < l.min)
    cur_fail(c, "maximum %llu below minimum %llu", (unsigned long long)l.max,
             (unsigned long long)l.min);
  if (!c->failed && memory && (l.min > 65536 || (l.has_max && l.max > 65536)))
    cur_fail(c, "memory limit over 65536 pages");
  return l;
}
