/* The replay trace format (docs/replay.md), shared by `wpool replay` and
 * bench/index_bench --trace:
 *   new SLOTS N      re-create the allocator (SLOTS <= TRACE_MAX_SLOTS)
 *   alloc M | alloc -
 *   free S
 *   clear M
 * Blank lines and lines starting with '#' carry no operation. Module numbers
 * (0 .. 2^32-1) are mapped to dense ids in order of first appearance, which
 * is what the index allocator wants. */
#ifndef WPOOL_TRACE_H
#define WPOOL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_MAX_SLOTS 10000000u
#define TRACE_NO_MODULE UINT32_MAX
/* A line holds at most TRACE_MAX_LINE - 1 bytes (comments included). */
#define TRACE_MAX_LINE 65536

typedef enum trace_kind { TRACE_NEW, TRACE_ALLOC, TRACE_FREE, TRACE_CLEAR } trace_kind_t;

typedef struct trace_op {
  uint8_t kind; /* trace_kind_t */
  uint32_t a;   /* new: slots; alloc/clear: dense module id; free: slot */
  uint32_t b;   /* new: max_unused_warm_slots */
} trace_op_t;

/* Module number -> dense id map (open addressing). */
typedef struct trace_modules {
  uint64_t *keys; /* number + 1; 0 = empty */
  uint32_t *ids;
  size_t cap, count;
} trace_modules_t;

void trace_modules_init(trace_modules_t *m);
void trace_modules_free(trace_modules_t *m);

/* Parse one line of len bytes (without its newline), followed by a '\0'
 * at line[len]. Return 1 with *op filled, 0 for a blank or comment line, -1
 * with a one-line message in err on a malformed line: one holding a NUL
 * byte (anywhere, comments included), an unknown operation, an operand out
 * of range, anything after the operands; -2 with a message when out of
 * memory for the module map. */
int trace_parse(trace_modules_t *m, const char *line, size_t len, trace_op_t *op, char *err,
                size_t errlen);

#endif
