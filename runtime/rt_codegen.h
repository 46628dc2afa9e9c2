/* The generated code's shaping: the transform of wasm2c's output
 * (transform.c, with transform_base.c and transform_bulk.c) and the glue
 * appended to it (glue.c); their versions are part of the compile cache's
 * key (compile.c). */
#ifndef WPOOL_RUNTIME_RT_CODEGEN_H
#define WPOOL_RUNTIME_RT_CODEGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "wasm_reader.h"

/* The transform of wasm2c's output `in` into `out`, files in directory
 * `dfd` (transform.c), the glue appended (glue.c). Both versions are part of the cache key. */
#define RT_TRANSFORM_VERSION "wrt-transform-5"
#define RT_GLUE_VERSION "wrt-glue-5"
/* The bulk memory rewrite's version (transform_bulk.c), in the cache key,
 * and the longest fill or copy it leaves to libc (bytes, as C text). */
#define RT_BULK_VERSION "wrt-bulk-2"
#define RT_BULK_INLINE_MAX "256"
int rt_transform(const char *wasm_path, const wasm_module_t *w, int dfd, const char *in,
                 const char *out);
typedef struct rt_globals { /* the generated fields of the globals, by index */
  char **names;
  uint32_t n, cap;
  bool bad; /* not known: wrt_guest_global gives NULL */
} rt_globals_t;
int rt_glue_write(FILE *f, const char *wasm_path, const wasm_module_t *w, const rt_globals_t *g);

#endif
