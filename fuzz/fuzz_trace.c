/* Fuzz the replay trace parser and the index allocator behind it: every
 * line parses or is refused cleanly, and the allocator's invariants hold
 * after every operation the trace makes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  trace_modules_t modules;
  trace_modules_init(&modules);
  index_t ix;
  int have = 0;
  char err[256];
  /* Lines as `wpool replay` reads them: with their length, NUL bytes kept. */
  for (char *line = text, *end = text + size; line < end;) {
    char *nl = memchr(line, '\n', (size_t)(end - line));
    size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
    line[len] = '\0';
    char *next = line + len + 1;
    trace_op_t op;
    int r = trace_parse(&modules, line, len, &op, err, sizeof(err));
    if (memchr(line, '\0', len) && r >= 0) abort(); /* a NUL byte was accepted */
    if (r < 0 && (!err[0] || strchr(err, '\n'))) abort();
    line = next;
    if (r < 0) break;
    if (r == 0) continue;
    if (op.kind == TRACE_NEW) {
      if (have) index_destroy(&ix);
      /* Keep each input fast: the parser accepts up to 10^7 slots. */
      if (index_init(&ix, op.a % 4096, op.b) != 0) abort();
      have = 1;
    } else if (have) {
      if (index_reserve_modules(&ix, (uint32_t)modules.count) != 0) abort();
      if (op.kind == TRACE_ALLOC) {
        index_alloc(&ix, op.a, NULL);
      } else if (op.kind == TRACE_CLEAR) {
        index_clear(&ix, op.a);
      } else if (op.a < ix.capacity && index_slot_state(&ix, op.a) == SLOT_USED) {
        index_free(&ix, op.a);
      }
      if (!index_is_valid(&ix)) abort();
    }
  }
  if (have) index_destroy(&ix);
  trace_modules_free(&modules);
  free(text);
  return 0;
}
