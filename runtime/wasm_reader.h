/* A reader of WebAssembly binary modules (the MVP format plus bulk memory
 * and reference types): what the runtime needs before instantiation
 * (types, imports, memory and table limits, exports, data segments), and a
 * walk of everything else (custom sections' names, globals, element
 * segments, every instruction of every body: wasm_code.c) that refuses
 * what wasm2c 1.0.32 would crash or abort on, and modules past the limits
 * below, before any tool runs. It does not type-check code (wasm2c
 * validates what the walk lets through). Every length and index is
 * checked against the buffer: bad input gives a message naming the
 * section and offset, never a read past the end. Names, custom sections'
 * included, must be valid UTF-8 and export names unique, as the
 * specification says; they may hold any other bytes (NUL included). */
#ifndef WRT_WASM_READER_H
#define WRT_WASM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm_types.h"

/* Parse `len` bytes at `buf` (which must outlive `out`). Return true, or
 * false with a message in `err` (e.g. "import section at byte 95: name
 * runs past the end of the section"); `out` then holds nothing to free
 * but says in over_limit whether a limit (above) refused it. */
bool wasm_parse(const uint8_t *buf, size_t len, wasm_module_t *out, char *err, size_t errlen);
void wasm_module_free(wasm_module_t *m);

/* The export named by the `len` bytes at `name` of kind `kind`, or NULL. */
const wasm_export_t *wasm_find_export(const wasm_module_t *m, const char *name, size_t len,
                                      uint8_t kind);

/* The type (the reader's notation) of function `index` (imports first),
 * or NULL when there is none. O(1). */
const char *wasm_func_type(const wasm_module_t *m, uint32_t index);

/* A type in the reader's notation as WebAssembly's text names it, e.g.
 * "iI:i" as "(i32 i64) -> (i32)", cut with "..." to fit `cap` bytes.
 * Return: out. */
char *wasm_type_format(const char *type, char *out, size_t cap);

/* Whether `n` is the C string `s`. */
bool wasm_name_is(wasm_name_t n, const char *s);

/* `n` for a message: printable ASCII as it is, every other byte (and the
 * quote and the backslash) as \xNN, cut with "..." to fit `cap` bytes.
 * Return: out. */
char *wasm_name_escape(wasm_name_t n, char *out, size_t cap);

#endif /* WRT_WASM_READER_H */
