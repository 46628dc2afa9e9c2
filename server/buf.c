/* Growable byte buffers (buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sbuf_reserve(sbuf_t *b, size_t extra) {
  if (b->cap - b->len >= extra) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < extra) {
    if (cap > SIZE_MAX / 2) return false;
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) return false;
  b->p = p;
  b->cap = cap;
  return true;
}

bool sbuf_put(sbuf_t *b, const void *s, size_t n) {
  if (!sbuf_reserve(b, n + 1)) return false;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0; /* always terminated, not counted */
  return true;
}

bool sbuf_puts(sbuf_t *b, const char *s) { return sbuf_put(b, s, strlen(s)); }

bool sbuf_printf(sbuf_t *b, const char *fmt, ...) {
  for (int pass = 0; pass < 2; pass++) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return true;
    }
    if (pass || !sbuf_reserve(b, (size_t)n + 1)) return false;
  }
  return false;
}

void sbuf_reset(sbuf_t *b, size_t keep) {
  if (b->cap > keep) {
    sbuf_free(b);
    return;
  }
  b->len = 0;
  if (b->p) b->p[0] = 0;
}

void sbuf_free(sbuf_t *b) {
  free(b->p);
  *b = (sbuf_t){0};
}
