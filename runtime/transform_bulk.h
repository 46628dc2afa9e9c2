/* The routing of wasm2c 1.0.32's bulk memory helpers to the runtime's
 * pieced operations (transform_bulk.c, rt_bulk.c), applied line by line by
 * rt_transform (transform.c). */
#ifndef WRT_TRANSFORM_BULK_H
#define WRT_TRANSFORM_BULK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One compile's rewrite; zeroed before its first line. */
typedef struct rt_bulk_rw {
  uint32_t seen; /* bit i: site i of transform_bulk.c's table was rewritten */
} rt_bulk_rw_t;

/* If `line` (one line of wasm2c's output) is one of the bulk helpers'
 * calls of libc, write its rewrite to `fo` and return true; else write
 * nothing and return false. */
bool rt_bulk_line(rt_bulk_rw_t *s, const char *line, FILE *fo);

/* After the last line: 0, or WRT_ETOOLCHAIN (with the message) when a
 * site was not found, or found twice (a wasm2c whose helpers differ). */
int rt_bulk_finish(const rt_bulk_rw_t *s, const char *wasm_path);

#endif
