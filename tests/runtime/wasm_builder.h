/* A WebAssembly binary writer for tests: modules byte by byte, for what
 * the text format cannot say (malformed sections, names that are not
 * UTF-8). Static functions: each test file gets its own copy. */
#ifndef WRT_TEST_WASM_BUILDER_H
#define WRT_TEST_WASM_BUILDER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct wb {
  uint8_t b[8192];
  size_t n;
} wb_t;

static inline void wb_byte(wb_t *w, uint8_t v) { w->b[w->n++] = v; }
static inline void wb_put(wb_t *w, const void *p, size_t n) {
  memcpy(w->b + w->n, p, n);
  w->n += n;
}
static inline void wb_uleb(wb_t *w, uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    wb_byte(w, (uint8_t)(b | (v ? 0x80 : 0)));
  } while (v);
}
static inline void wb_sleb(wb_t *w, int64_t v) {
  for (;;) {
    uint8_t b = v & 0x7f;
    v >>= 7;
    bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
    wb_byte(w, (uint8_t)(b | (done ? 0 : 0x80)));
    if (done) return;
  }
}
/* A name of `n` bytes (any bytes: NUL, not UTF-8). */
static inline void wb_name_n(wb_t *w, const void *s, size_t n) {
  wb_uleb(w, n);
  wb_put(w, s, n);
}
static inline void wb_name(wb_t *w, const char *s) { wb_name_n(w, s, strlen(s)); }
static inline void wb_section(wb_t *m, uint8_t id, const wb_t *body) {
  wb_byte(m, id);
  wb_uleb(m, body->n);
  wb_put(m, body->b, body->n);
}
static inline void wb_header(wb_t *m) { wb_put(m, "\0asm\1\0\0\0", 8); }

#endif /* WRT_TEST_WASM_BUILDER_H */
