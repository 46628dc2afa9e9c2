#include "text.h"

#include <string.h>

text_quote_t text_quote(const char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  text_quote_t q;
  size_t o = 0;
  for (size_t i = 0; i < n && i < TEXT_QUOTE_MAX; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c < 0x7f) {
      q.s[o++] = (char)c;
    } else {
      q.s[o++] = '\\';
      q.s[o++] = 'x';
      q.s[o++] = hex[c >> 4];
      q.s[o++] = hex[c & 15];
    }
  }
  if (n > TEXT_QUOTE_MAX) {
    memcpy(q.s + o, "...", 3);
    o += 3;
  }
  q.s[o] = '\0';
  return q;
}

size_t text_nul_column(const char *p, size_t n) {
  const char *z = memchr(p, '\0', n);
  return z ? (size_t)(z - p) + 1 : 0;
}

int text_read_line(FILE *f, char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  int c = EOF;
  while (n + 1 < cap && (c = getc_unlocked(f)) != EOF && c != '\n') buf[n++] = (char)c;
  buf[n] = '\0';
  *len = n;
  if (n + 1 >= cap) {
    /* Full: a line of exactly cap - 1 bytes is fine if its newline (or the
     * end of the input) comes next. */
    c = getc_unlocked(f);
    if (c == '\n') return TEXT_LINE;
    if (c != EOF) return TEXT_TOO_LONG;
  }
  if (c == EOF) {
    if (ferror(f)) return TEXT_READ_ERROR;
    if (n == 0) return TEXT_EOF;
  }
  return TEXT_LINE;
}
