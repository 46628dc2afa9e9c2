/* The copy of a module that wasm2c translates: nothing of the module's own
 * names reaches the generated C.
 *
 * wasm2c copies names into the C it writes: export and import names into
 * comments (`/ * export: '...' * /`, unescaped in 1.0.32: a name holding
 * the end of a comment became code), and the name section's names into
 * identifiers. The copy keeps every section byte for byte except:
 *   - custom sections (the name section among them) are dropped;
 *   - import i is named "wrt"."f<i>" (its kind and description kept);
 *   - active data segments are empty (their bytes reach memory from the
 *     reader's parse, not through the C);
 *   - export i is named "e<i>" (its kind and index kept), except that
 *     exports of imported functions are left out: wasm2c 1.0.32 spends
 *     O(imports) on each (20,000 imports and as many such exports took it
 *     50 s), and the glue calls the import's thunk for them instead.
 * So every name wasm2c sees is one of these, made of [a-z0-9], and the
 * runtime maps the originals to them: export i is the C symbol
 * Z_guestZ_e<i>, import i the thunk Z_wrtZ_f<i> (runtime/glue.c). Names
 * that are not identifiers, or that hold NUL bytes, then work too. */
#ifndef WRT_WASM_REWRITE_H
#define WRT_WASM_REWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "wasm_reader.h"

/* The module name every rewritten import names. */
#define WASM_REWRITE_IMPORT_MODULE "wrt"

/* Write the copy of `w` (parsed from w->buf, w->len bytes) to a new buffer
 * (*out, *out_len; the caller frees it). Return: true, or false when
 * memory ran out. */
bool wasm_rewrite(const wasm_module_t *w, uint8_t **out, size_t *out_len);

#endif /* WRT_WASM_REWRITE_H */
