/* A reader of WebAssembly binary modules (the MVP format plus bulk memory
 * and reference types): only what the runtime needs before instantiation
 * (types, imports, memory and table limits, exports, active data segments).
 * It does not validate code. Every length and index is checked against the
 * buffer: bad input gives a message naming the section and offset, never a
 * read past the end. Names must be valid UTF-8 and export names unique, as
 * the specification says; they may hold any other bytes (NUL included). */
#ifndef WRT_WASM_READER_H
#define WRT_WASM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm_types.h"

typedef struct wasm_import {
  wasm_name_t module, name;
  uint8_t kind;
  uint32_t type;         /* func: the type index */
  wasm_limits_t limits;  /* table or memory */
  const uint8_t *desc;   /* the kind and description's bytes, as read */
  uint32_t desc_len;
} wasm_import_t;

typedef struct wasm_export {
  wasm_name_t name; /* unique among the exports */
  uint8_t kind;
  uint32_t index;
} wasm_export_t;

typedef struct wasm_segment {
  bool active;     /* false: passive (copied by memory.init, not at instantiation) */
  uint32_t memory; /* active: the memory index */
  uint64_t offset; /* active: the constant offset */
  bool offset_global; /* active: the offset is a global's value (offset 0 here) */
  const uint8_t *bytes; /* into the module's buffer */
  uint32_t len;
  const uint8_t *head;  /* the segment's bytes before its length: flags, memory, offset */
  uint32_t head_len;
} wasm_segment_t;

typedef struct wasm_module {
  /* Function types as strings: the parameters' letters, ':', the results'
   * (i i32, I i64, f f32, F f64, v v128, r funcref, e externref), e.g.
   * "iIii:i". */
  char **types;
  uint32_t ntypes;
  wasm_import_t *imports;
  uint32_t nimports;
  uint32_t nfunc_imports;
  uint32_t *func_imports; /* function index i < nfunc_imports: its import's index */
  uint32_t nfuncs;  /* defined functions */
  uint32_t *func_types; /* the type index of each defined function */
  wasm_limits_t *memories; /* defined memories */
  uint32_t nmemories;
  wasm_limits_t *tables;   /* defined tables */
  uint32_t ntables;
  wasm_export_t *exports;
  uint32_t nexports;
  wasm_segment_t *segments;
  uint32_t nsegments;
  bool has_start_section;
  bool has_data_count;  /* a data count section: data_count must be nsegments */
  uint32_t data_count;
  const uint8_t *buf; /* the bytes read; not owned */
  size_t len;
} wasm_module_t;

/* Parse `len` bytes at `buf` (which must outlive `out`). Return true, or
 * false with a message in `err` (e.g. "import section at byte 95: name
 * runs past the end of the section"); `out` then holds nothing to free. */
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
