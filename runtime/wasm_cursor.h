/* The reader's cursor over a byte range, with a sticky error: every read
 * checks the bytes left, and the first failure records its message and
 * makes every later read fail (returning 0 or NULL), so a section parser
 * can read on and test the cursor once. Internal to the .wasm reader. */
#ifndef WRT_WASM_CURSOR_H
#define WRT_WASM_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm_types.h"

typedef struct cursor {
  const uint8_t *base; /* the whole module, for offsets in messages */
  const uint8_t *p, *end;
  const char *what; /* the section being read */
  char *err;
  size_t errlen;
  bool failed;
  bool limit; /* the failure is a limit of the reader's, not malformed input */
} cursor_t;

/* Record "WHAT at byte N: MESSAGE" (the first failure only); false.
 * cur_limit: the same, for a module over one of the reader's limits
 * (wasm_reader.h). */
bool cur_fail(cursor_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cur_limit(cursor_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint8_t cur_u8(cursor_t *c);
/* Unsigned LEB128 of at most `bits` bits. */
uint64_t cur_uleb(cursor_t *c, unsigned bits);
static inline uint32_t cur_u32(cursor_t *c) { return (uint32_t)cur_uleb(c, 32); }
/* Signed LEB128 of at most `bits` bits (32 or 64). */
int64_t cur_sleb(cursor_t *c, unsigned bits);
/* A count of items each at least `min_item_bytes` long: counts the bytes
 * left cannot hold are refused before anything is allocated. */
uint32_t cur_count(cursor_t *c, size_t min_item_bytes);
/* A name: its bytes, in the buffer, valid UTF-8 (any bytes else, NUL
 * included). */
wasm_name_t cur_name(cursor_t *c);
/* A value type as the reader's letter (wasm_reader.h), 0 on failure;
 * v128 fails (wasm2c 1.0.32 aborts on any use of it, in a type, a local,
 * a global or an instruction). */
char cur_valtype(cursor_t *c);
wasm_limits_t cur_limits(cursor_t *c, bool memory);

#endif /* WRT_WASM_CURSOR_H */
