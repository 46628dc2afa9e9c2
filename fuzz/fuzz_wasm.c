/* Fuzz the runtime's .wasm reader: any bytes either parse, into counts and
 * segments that lie inside the input, or fail with a message; never a read
 * outside the input (ASan), never a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy, so ASan sees any read past the end. */
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  wasm_module_t m;
  char err[256];
  err[0] = 0;
  if (wasm_parse(buf, size, &m, err, sizeof(err))) {
    for (uint32_t i = 0; i < m.nsegments; i++) {
      const wasm_segment_t *s = &m.segments[i];
      if (s->bytes < buf || s->bytes + s->len > buf + size) abort();
    }
    for (uint32_t i = 0; i < m.nimports; i++)
      if (m.imports[i].kind == WASM_EXTERN_FUNC && m.imports[i].type >= m.ntypes) abort();
    wasm_module_free(&m);
  } else if (!err[0]) {
    abort(); /* a failure must say what is wrong */
  }
  free(buf);
  return 0;
}
