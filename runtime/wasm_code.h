/* The reader's parsers of what lies beyond the declarations
 * (wasm_code.c): constant expressions, globals, element segments, and the
 * code section, walked instruction by instruction. Internal to the .wasm
 * reader (wasm_reader.c calls them with its cursor). */
#ifndef WRT_WASM_CODE_H
#define WRT_WASM_CODE_H

#include "wasm_cursor.h"
#include "wasm_types.h"

/* A constant expression of type `want` (the reader's letter): one
 * instruction and `end`. *is_const and *value for i32.const or i64.const;
 * global.get, ref.null, ref.func and float constants are read with
 * *is_const false. Anything else (an empty expression, two instructions,
 * another type) fails the cursor. */
void wasm_const_expr(cursor_t *c, const wasm_module_t *m, char want, bool *is_const,
                     uint64_t *value);

/* The global, element and code sections (ids 6, 9, 10); false with the
 * cursor failed. */
bool wasm_parse_globals(cursor_t *c, wasm_module_t *m);
bool wasm_parse_elements(cursor_t *c, wasm_module_t *m);
bool wasm_parse_code(cursor_t *c, wasm_module_t *m);

#endif /* WRT_WASM_CODE_H */
