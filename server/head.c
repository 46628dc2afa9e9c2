/* A head's bytes checked (head.h). */
#include "head.h"

#include <string.h>

#include "server.h"

void head_begin(head_scan_t *h, bool trailer) {
  *h = (head_scan_t){.bol = true, .lines = trailer ? 1 : 0, .started = trailer};
}

/* Per line, not per byte: memchr finds each LF; the bytes between are
 * looked at only in the request line (its spaces) and at a line's start
 * (a fold). Same verdicts as a byte-by-byte walk (fuzz/fuzz_target.c
 * checks it on any split). */
head_verdict_t head_scan(head_scan_t *h, const char *p, size_t n) {
  h->bytes += n;
  if (h->bytes > SRV_MAX_HEAD) return HEAD_TOO_LARGE;
  const char *end = p + n;
  while (p < end) {
    if (h->bol && h->lines && (*p == ' ' || *p == '\t')) return HEAD_FOLDED;
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    const char *stop = lf ? lf : end;
    if (!h->lines) {
      /* The request line (after any empty lines before it): two SPs, no
       * tab. */
      for (const char *q = p; q < stop && !h->started; q++) h->started = *q != '\r';
      for (const char *q = memchr(p, ' ', (size_t)(stop - p)); q;
           q = memchr(q + 1, ' ', (size_t)(stop - q - 1)))
        h->spaces++;
      if (memchr(p, '\t', (size_t)(stop - p))) return HEAD_REQUEST_LINE;
      if (stop > p) h->cr = stop[-1] == '\r';
    } else if (stop > p) {
      h->cr = stop[-1] == '\r';
    }
    if (stop > p) h->bol = false;
    if (!lf) return HEAD_OK;
    if (!h->cr) return HEAD_BARE_LF;
    if (!h->lines && h->started) {
      if (h->spaces != 2) return HEAD_REQUEST_LINE;
      h->lines = 1;
    } else if (h->lines) {
      h->lines++;
    }
    h->cr = false;
    h->bol = true;
    p = lf + 1;
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
