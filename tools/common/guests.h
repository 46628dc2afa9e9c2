/* The guests of examples/ that the tool's main job and bench/wasm_bench
 * run, with the input each reads on stdin: one list, one generator, so the
 * two measure the same requests. */
#ifndef WPOOL_TOOL_GUESTS_H
#define WPOOL_TOOL_GUESTS_H

#include <stddef.h>

typedef enum guest_input {
  GUEST_INPUT_NONE = 0,
  GUEST_INPUT_LINES, /* 1500 lines of names (sha256sum, compress, glob) */
  GUEST_INPUT_JSON,  /* a document of 200 users (json) */
  GUEST_INPUT_VARS,  /* template variables (template) */
} guest_input_t;

typedef struct guest_case {
  const char *name; /* examples/NAME.wasm */
  const char *arg;  /* its one argument, or NULL */
  guest_input_t input;
} guest_case_t;

/* The guests, hello first: guest_nrealistic realistic ones, then the
 * secret scanner (which looks for earlier requests' secrets). */
#define GUEST_NCASES 7
#define GUEST_NREALISTIC 6
extern const guest_case_t guest_cases[GUEST_NCASES];

/* The input of `kind`, malloc'd (NULL when out of memory); *len its
 * bytes. */
char *guest_input(guest_input_t kind, size_t *len);
/* The same, at least `min_bytes` long where the kind has a size (lines,
 * users: more of them); 0: the size guest_input gives. */
char *guest_input_sized(guest_input_t kind, size_t min_bytes, size_t *len);

#endif
