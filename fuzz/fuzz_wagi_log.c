/* Fuzz the guest's standard error as log lines (wagi_log_lines,
 * server/wagi.c): the tenant's bytes into the server's log. Whatever the
 * bytes: every line ends with '\n', is at most LOG_LINE_MAX bytes, starts
 * with the route's prefix ("/r: " or, going on, "/r:+ "), holds no control
 * byte but tab; the lines are at most WAGI_LOG_MAX bytes, then a line
 * "/r:! N bytes ..." says how many were left out when any were; undoing
 * the prefixes and escapes gives back the guest's first bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wagi.h"

static sbuf_t out;
static char back[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (256u << 10)) return 0;
  wagi_log_lines(&out, "r", (const char *)data, size);
  if (size && !out.len) abort();
  size_t o = 0, left = 0, lines_end = out.len;
  for (size_t i = 0; i < out.len;) {
    const char *l = out.p + i, *e = memchr(l, '\n', out.len - i);
    if (!e || e + 1 - l > LOG_LINE_MAX) abort();
    if (!strncmp(l, "/r:! ", 5)) {
      int end = 0;
      if (sscanf(l, "/r:! %zu bytes of stderr not logged%n", &left, &end) != 1 || l + end != e ||
          e + 1 != out.p + out.len || !left)
        abort();
      lines_end = i;
      break;
    }
    if (!strncmp(l, "/r:+ ", 5)) {
      if (!o) abort();
      o--; /* the line before goes on */
      l += 5;
    } else if (!strncmp(l, "/r: ", 4)) {
      l += 4;
    } else {
      abort();
    }
    for (; l < e; l++) {
      unsigned char c = (unsigned char)*l;
      if ((c < 0x20 && c != '\t') || c >= 0x7f) abort();
      if (c != '\\') {
        back[o++] = (char)c;
      } else if (l[1] == '\\') {
        back[o++] = '\\';
        l++;
      } else {
        unsigned v;
        if (l[1] != 'x' || sscanf(l + 2, "%2x", &v) != 1) abort();
        back[o++] = (char)v;
        l += 3;
      }
    }
    back[o++] = '\n';
    i = (size_t)(e + 1 - out.p);
  }
  if (lines_end > WAGI_LOG_MAX) abort();
  size_t logged = size - left;
  /* The guest's bytes, with the newline the last line gets if it had none. */
  if (o != logged && o != logged + 1) abort();
  if (memcmp(back, data, logged) != 0) abort();
  if (out.cap > (1u << 20)) sbuf_free(&out);
  return 0;
}
