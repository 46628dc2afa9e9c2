/* The .wasm reader's small value types, shared by the reader
 * (wasm_reader.h) and its cursor (wasm_cursor.h). */
#ifndef WRT_WASM_TYPES_H
#define WRT_WASM_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/* A name of the module: its bytes in the module's buffer (not NUL
 * terminated; they may hold NUL bytes), valid UTF-8. Hostile input: print
 * it with wasm_name_escape, never as it is. */
typedef struct wasm_name {
  const uint8_t *bytes;
  uint32_t len;
} wasm_name_t;

/* Import and export kinds as the binary format numbers them. */
enum { WASM_EXTERN_FUNC = 0, WASM_EXTERN_TABLE = 1, WASM_EXTERN_MEMORY = 2, WASM_EXTERN_GLOBAL = 3 };

typedef struct wasm_limits {
  uint64_t min;
  uint64_t max; /* UINT64_MAX when has_max is false */
  bool has_max;
  bool shared;
  char elem; /* tables: 'r' funcref or 'e' externref */
} wasm_limits_t;

#endif /* WRT_WASM_TYPES_H */
