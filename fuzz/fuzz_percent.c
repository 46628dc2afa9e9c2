/* Fuzz percent-decoding (PATH_INFO, server/wagi_env.c): a decoded path is
 * never longer than its escape, never holds a NUL, and is what a plain
 * reference decoder makes; a refused one has a malformed escape or
 * decodes to NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wagi.h"

static int hex(int c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  sbuf_t out = {0};
  bool ok = percent_decode(s, size, &out);
  /* The reference: byte by byte. */
  char *ref = malloc(size + 1);
  if (!ref) return 0;
  size_t n = 0;
  bool good = true;
  for (size_t i = 0; i < size && good; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      int hi = i + 2 < size ? hex((unsigned char)s[i + 1]) : -1;
      int lo = i + 2 < size ? hex((unsigned char)s[i + 2]) : -1;
      if (hi < 0 || lo < 0) good = false;
      c = hi * 16 + lo;
      i += 2;
    }
    if (c == 0) good = false;
    ref[n++] = (char)c;
  }
  if (ok != good) abort();
  if (ok && (out.len != n || (n && memcmp(out.p, ref, n)) || out.len > size)) abort();
  if (ok && n && memchr(out.p, 0, n)) abort();
  free(ref);
  sbuf_free(&out);
  return 0;
}
