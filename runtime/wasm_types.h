/* The .wasm reader's types, shared by the reader (wasm_reader.h), its
 * cursor (wasm_cursor.h) and its parsers of code (wasm_code.h): names,
 * limits, and the module as read, with the limits a module must keep. */
#ifndef WRT_WASM_TYPES_H
#define WRT_WASM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
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
  char elem; /* tables: 'r' funcref or 'e' externref */
} wasm_limits_t;

/* Limits on a module, past which it is refused (wasm_parse: over_limit)
 * before anything is compiled. Those of the JavaScript API's
 * "implementation limits" (the web's engines refuse such modules too),
 * and the runtime's own where wasm2c or gcc blow up sooner
 * (docs/runtime.md, "Limits", has what each cost). */
#define WASM_MAX_TYPE_PARAMS 1000u   /* per function type (JS API) */
#define WASM_MAX_TYPE_RESULTS 1000u  /* per function type (JS API) */
#define WASM_MAX_TYPES_WEIGHT 50000u /* types + all their parameters and results: gcc's
                                        time grows faster than linearly */
#define WASM_MAX_IMPORTS 100000u     /* JS API */
#define WASM_MAX_EXPORTS 100000u     /* JS API */
#define WASM_MAX_FUNCTIONS 1000000u  /* imported and defined (JS API) */
#define WASM_MAX_GLOBALS 1000000u    /* imported and defined (JS API) */
#define WASM_MAX_DATA_SEGMENTS 100000u /* JS API */
#define WASM_MAX_PASSIVE_DATA (4u << 20) /* passive segments' bytes, which reach the C */
#define WASM_MAX_ELEM_ITEMS 1000000u /* all element segments' items (JS API: 10,000,000) */
#define WASM_MAX_BODY_BYTES 7654321u /* per function body (JS API) */
#define WASM_MAX_LOCALS 50000u       /* per function, parameters included (JS API) */
#define WASM_MAX_NESTING 10000u      /* blocks, loops and ifs inside one another */
#define WASM_MAX_BR_TABLE 65520u     /* a br_table's targets (V8's) */

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
  char *global_types;  /* each global's value type, imported first */
  uint32_t nglobals;
  uint32_t nimported_tables;
  uint64_t nelem_items; /* all element segments' items */
  uint64_t passive_bytes; /* all passive data segments' bytes */
  bool has_code;        /* a code section */
  bool has_start_section;
  bool has_data_count;  /* a data count section: data_count must be nsegments */
  uint32_t data_count;
  const uint8_t *buf; /* the bytes read; not owned */
  size_t len;
  bool over_limit; /* after a failed parse: the module is over a limit above, not malformed */
} wasm_module_t;

#endif /* WRT_WASM_TYPES_H */
