/* Fuzz the parser of a guest's standard output (server/wagi_response.c):
 * the tenant's bytes as an HTTP response. Whatever the bytes, the status
 * is 200..599, the body is a suffix of the output, and every header line
 * passed on is "Name: value\r\n" with a token name, no control byte in the
 * value and none of the framing headers the server writes itself. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wagi.h"

static wagi_response_t rs;

static bool tchar(int c) { return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *out = (const char *)data;
  wagi_response(out, size, &rs);
  if (rs.status < 200 || rs.status > 599) abort();
  bool ours = rs.body_len <= size && rs.body == out + (size - rs.body_len);
  if (!ours && rs.status != 500) abort(); /* only the server's own 500 text differs */
  if (rs.reason && (strlen(rs.reason) >= sizeof(rs.reason_buf) || strpbrk(rs.reason, "\r\n")))
    abort();
  for (size_t i = 0; i < rs.head.len;) {
    const char *line = rs.head.p + i, *end = strstr(line, "\r\n");
    if (!end) abort();
    size_t n = 0;
    while (line + n < end && tchar((unsigned char)line[n])) n++;
    if (!n || line[n] != ':' || line[n + 1] != ' ') abort();
    for (const char *v = line + n + 2; v < end; v++)
      if (((unsigned char)*v < 0x20 && *v != '\t') || *v == 0x7f) abort();
    if ((n == 14 && !strncasecmp(line, "content-length", n)) ||
        (n == 17 && !strncasecmp(line, "transfer-encoding", n)) ||
        (n == 10 && !strncasecmp(line, "connection", n)))
      abort();
    i = (size_t)(end + 2 - rs.head.p);
  }
  if (rs.head.cap > (1u << 20)) sbuf_free(&rs.head);
  return 0;
}
