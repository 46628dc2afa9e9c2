/* The guest's standard output as an HTTP response (wagi.h): an optional
 * CGI header block, then the body. The output is the tenant's and
 * untrusted: a header line passes only if its name is a token and its
 * value has no control character; the server's framing headers are
 * dropped. fuzz/fuzz_wagi_response.c runs it on any bytes. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "wagi.h"

static bool is_tchar(int c) { return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)); }

/* Is out[a, e) a header line "Name: value"? Sets the name's length and
 * the value's start and length (spaces around the value trimmed). */
static bool header_line(const char *out, size_t a, size_t e, size_t *nl, size_t *v, size_t *vl) {
  size_t i = a;
  while (i < e && is_tchar((unsigned char)out[i])) i++;
  if (i == a || i == e || out[i] != ':') return false;
  *nl = i - a;
  i++;
  while (i < e && (out[i] == ' ' || out[i] == '\t')) i++;
  size_t end = e;
  while (end > i && (out[end - 1] == ' ' || out[end - 1] == '\t')) end--;
  for (size_t k = i; k < end; k++) {
    unsigned char c = (unsigned char)out[k];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  *v = i;
  *vl = end - i;
  return true;
}

static bool name_is(const char *p, size_t n, const char *name) {
  return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Fields a guest may not send: those the server frames the response
 * with (Content-Length, Transfer-Encoding, Trailer: it sends no
 * trailers), those that concern one hop only (RFC 9110 7.6.1:
 * Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding,
 * Upgrade), and the server's own (Server, Date). */
static bool server_field(const char *name, size_t n) {
  static const char *const names[] = {"content-length",
                                      "transfer-encoding",
                                      "trailer",
                                      "connection",
                                      "proxy-connection",
                                      "keep-alive",
                                      "te",
                                      "upgrade",
                                      "server",
                                      "date"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (name_is(name, n, names[i])) return true;
  return false;
}

void wagi_response(const char *out, size_t len, wagi_response_t *rs) {
  rs->status = 200;
  rs->reason = NULL;
  rs->body = out;
  rs->body_len = len;
  rs->head.len = 0;
  /* A header block: lines "Name: value" up to an empty line, with at
   * least one of Content-Type, Status or Location. Anything else is a
   * plain body. */
  size_t pos = 0, lines = 0, body = 0;
  bool sufficient = false, ended = false;
  while (pos < len && !ended) {
    const char *nlp = memchr(out + pos, '\n', len - pos);
    if (!nlp) break;
    size_t e = (size_t)(nlp - out), le = e;
    if (le > pos && out[le - 1] == '\r') le--;
    if (le == pos) {
      ended = true;
      body = e + 1;
      break;
    }
    size_t nl, v, vl;
    if (!header_line(out, pos, le, &nl, &v, &vl)) break;
    if (name_is(out + pos, nl, "content-type") || name_is(out + pos, nl, "status") ||
        name_is(out + pos, nl, "location"))
      sufficient = true;
    lines++;
    pos = e + 1;
  }
  if (!ended || !lines || !sufficient) {
    sbuf_puts(&rs->head, "Content-Type: text/plain\r\n");
    return;
  }
  bool status_set = false, location = false;
  for (pos = 0; pos < body;) {
    const char *nlp = memchr(out + pos, '\n', len - pos);
    size_t e = (size_t)(nlp - out), le = e;
    if (le > pos && out[le - 1] == '\r') le--;
    if (le == pos) break;
    size_t nl, v, vl;
    header_line(out, pos, le, &nl, &v, &vl);
    const char *name = out + pos, *val = out + v;
    if (name_is(name, nl, "status")) {
      int code = 0;
      size_t k = 0;
      while (k < vl && k < 4 && isdigit((unsigned char)val[k])) code = code * 10 + (val[k++] - '0');
      if (k != 3 || code < 200 || code > 599 || (k < vl && val[k] != ' ')) {
        rs->status = 500;
        rs->body = "the module's Status header is not a status code from 200 to 599\n";
        rs->body_len = strlen(rs->body);
        rs->head.len = 0;
        sbuf_puts(&rs->head, "Content-Type: text/plain\r\n");
        return;
      }
      rs->status = code;
      status_set = true;
      while (k < vl && val[k] == ' ') k++;
      if (k < vl && vl - k < sizeof(rs->reason_buf)) {
        memcpy(rs->reason_buf, val + k, vl - k);
        rs->reason_buf[vl - k] = 0;
        rs->reason = rs->reason_buf;
      }
    } else if (server_field(name, nl)) {
      /* The server's: dropped. */
    } else {
      if (name_is(name, nl, "location")) location = true;
      sbuf_put(&rs->head, name, nl);
      sbuf_put(&rs->head, ": ", 2);
      sbuf_put(&rs->head, val, vl);
      sbuf_put(&rs->head, "\r\n", 2);
    }
    pos = e + 1;
  }
  if (location && !status_set) rs->status = 302;
  rs->body = out + body;
  rs->body_len = len - body;
}
