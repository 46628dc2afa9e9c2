/* Fuzz the parser of a guest's standard output (server/wagi_response.c):
 * the tenant's bytes as an HTTP response. Whatever the bytes, the status
 * is 200..599, the body is a suffix of the output, and every header line
 * passed on is "Name: value\r\n" with a token name, no control byte in the
 * value and none of the fields a guest may not send (the framing, the
 * hop-by-hop ones of RFC 9110 7.6.1, Server and Date). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wagi.h"

static wagi_response_t rs;

static bool tchar(int c) { return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)); }

static const char *const forbidden[] = {"content-length",
                                        "transfer-encoding",
                                        "trailer",
                                        "connection",
                                        "proxy-connection",
                                        "keep-alive",
                                        "te",
                                        "upgrade",
                                        "server",
                                        "date",
                                        "status"};

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
    for (size_t k = 0; k < sizeof(forbidden) / sizeof(forbidden[0]); k++)
      if (n == strlen(forbidden[k]) && !strncasecmp(line, forbidden[k], n)) abort();
    i = (size_t)(end + 2 - rs.head.p);
  }
  if (rs.head.cap > (1u << 20)) sbuf_free(&rs.head);
  return 0;
}
