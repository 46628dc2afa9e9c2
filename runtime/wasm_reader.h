/* A reader of WebAssembly binary modules (the MVP format plus bulk memory
 * and reference types): only what the runtime needs before instantiation
 * (types, imports, memory and table limits, exports, active data segments).
 * It does not validate code. Every length and index is checked against the
 * buffer: bad input gives a message naming the section and offset, never a
 * read past the end. */
#ifndef WRT_WASM_READER_H
#define WRT_WASM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Import and export kinds as the binary format numbers them. */
enum { WASM_EXTERN_FUNC = 0, WASM_EXTERN_TABLE = 1, WASM_EXTERN_MEMORY = 2, WASM_EXTERN_GLOBAL = 3 };

typedef struct wasm_limits {
  uint64_t min;
  uint64_t max; /* UINT64_MAX when has_max is false */
  bool has_max;
  bool shared;
  char elem; /* tables: 'r' funcref or 'e' externref */
} wasm_limits_t;

typedef struct wasm_import {
  char *module, *name;
  uint8_t kind;
  uint32_t type;         /* func: the type index */
  wasm_limits_t limits;  /* table or memory */
} wasm_import_t;

typedef struct wasm_export {
  char *name;
  uint8_t kind;
  uint32_t index;
} wasm_export_t;

typedef struct wasm_segment {
  bool active;     /* false: passive (copied by memory.init, not at instantiation) */
  uint32_t memory; /* active: the memory index */
  uint64_t offset; /* active: the constant offset */
  const uint8_t *bytes; /* into the module's buffer */
  uint32_t len;
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
  uint32_t nfuncs;  /* defined functions */
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

/* The export named `name` of kind `kind`, or NULL. */
const wasm_export_t *wasm_find_export(const wasm_module_t *m, const char *name, uint8_t kind);

#endif /* WRT_WASM_READER_H */
