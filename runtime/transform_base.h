/* The memory-base rewrite of wasm2c 1.0.32's output (transform_base.c),
 * applied line by line by rt_transform (transform.c). */
#ifndef WRT_TRANSFORM_BASE_H
#define WRT_TRANSFORM_BASE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define RT_BASE_MAX_ACCESSORS 32

/* One compile's rewrite; zeroed before its first line. */
typedef struct rt_base_rw {
  bool accessors; /* the base accessors were written (after wasm2c's own) */
  char mem[64];   /* the memory's field in the instance; "" until an access names it */
  uint32_t sites; /* accesses rewritten */
  uint32_t naccessors;
  char names[RT_BASE_MAX_ACCESSORS][24]; /* wasm2c's accessors (DEFINE_LOAD, DEFINE_STORE) */
} rt_base_rw_t;

/* Write `line` (one line of wasm2c's output, outside init_memories) to
 * `fo`, rewritten. Return 0, or WRT_ETOOLCHAIN (with the message) for a
 * shape the rewrite does not know. */
int rt_base_line(rt_base_rw_t *s, const char *wasm_path, uint32_t lineno, const char *line,
                 FILE *fo);

/* After the last line: the definition of the base's reader. Return 0, or
 * WRT_ETOOLCHAIN when wasm2c's accessors were never seen. */
int rt_base_finish(rt_base_rw_t *s, const char *wasm_path, FILE *fo);

#endif
