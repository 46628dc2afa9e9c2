/* A head's bytes checked (head.h). */
#include "head.h"

#include "server.h"

void head_begin(head_scan_t *h, bool trailer) {
  *h = (head_scan_t){.bol = true, .lines = trailer ? 1 : 0, .started = trailer};
}

head_verdict_t head_scan(head_scan_t *h, const char *p, size_t n) {
  h->bytes += n;
  if (h->bytes > SRV_MAX_HEAD) return HEAD_TOO_LARGE;
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (ch == '\n') {
      if (!h->cr) return HEAD_BARE_LF;
      if (!h->lines && h->started) {
        if (h->spaces != 2) return HEAD_REQUEST_LINE;
        h->lines = 1;
      } else if (h->lines) {
        h->lines++;
      }
      h->cr = false;
      h->bol = true;
      continue;
    }
    if (ch == '\r') {
      h->cr = true;
      continue;
    }
    h->cr = false;
    if (h->bol && h->lines && (ch == ' ' || ch == '\t')) return HEAD_FOLDED;
    h->bol = false;
    if (!h->lines) {
      h->started = true;
      if (ch == ' ') h->spaces++;
      if (ch == '\t') return HEAD_REQUEST_LINE;
    }
  }
  return HEAD_OK;
}

const char *head_verdict_text(head_verdict_t v) {
  switch (v) {
    case HEAD_OK:
      return "ok";
    case HEAD_BARE_LF:
      return "malformed HTTP request: a line ends without CR";
    case HEAD_FOLDED:
      return "malformed HTTP request: a folded header line";
    case HEAD_REQUEST_LINE:
      return "malformed HTTP request: the request line is not METHOD SP TARGET SP VERSION";
    case HEAD_TOO_LARGE:
      return "the request's head is over 80 KiB";
  }
  return "?";
}
