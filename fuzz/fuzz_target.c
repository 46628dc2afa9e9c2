/* Fuzz the server's own checks of a request's bytes where llhttp 8 is
 * lenient: the request target and Host (server/target.c) and the head's
 * line ends and folds (server/head.c). A target taken splits into a path
 * within the input, starting with '/' (or "*"), and a query after '?';
 * the head scan in one piece and byte by byte agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "head.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *t = (const char *)data;
  target_t out;
  if (target_parse(t, size, &out)) {
    if (memchr(t, '#', size) || memchr(t, ' ', size)) abort();
    if (out.form == TARGET_ASTERISK && (size != 1 || out.path_len != 1)) abort();
    if (out.form != TARGET_ASTERISK && (!out.path_len || out.path[0] != '/')) abort();
    if (out.form == TARGET_ABSOLUTE && !host_valid(out.authority, out.authority_len)) abort();
    if (out.query && (out.query < t || out.query + out.query_len != t + size)) abort();
  }
  if (host_valid(t, size) && (!size || memchr(t, '/', size) || memchr(t, '@', size))) abort();
  head_scan_t a, b;
  head_begin(&a, false);
  head_begin(&b, false);
  head_verdict_t whole = head_scan(&a, t, size), bytewise = HEAD_OK;
  for (size_t i = 0; i < size && bytewise == HEAD_OK; i++) bytewise = head_scan(&b, t + i, 1);
  if (whole != bytewise) abort();
  if (whole == HEAD_OK) {
    for (size_t i = 0; i < size; i++)
      if (t[i] == '\n' && (i == 0 || t[i - 1] != '\r')) abort(); /* a bare LF taken */
  }
  return 0;
}
