/* The bytes of a request's head (request line and header fields) and of
 * its trailer section, checked where llhttp 8 is lenient (RFC 9112): a
 * line ends with CRLF, never a bare LF (2.2); no line is folded (5.2);
 * the request line is three words with one SP between them (3); at most
 * SRV_MAX_HEAD bytes. Incremental: the bytes may come in any pieces. */
#ifndef WPOOL_SERVER_HEAD_H
#define WPOOL_SERVER_HEAD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum head_verdict {
  HEAD_OK = 0,
  HEAD_BARE_LF,
  HEAD_FOLDED,
  HEAD_REQUEST_LINE,
  HEAD_TOO_LARGE,
} head_verdict_t;

typedef struct head_scan {
  size_t bytes;    /* scanned so far */
  unsigned lines;  /* lines ended, the request line first */
  unsigned spaces; /* SPs in the request line */
  bool cr;         /* the last byte was CR */
  bool bol;        /* at the start of a line */
  bool started;    /* the request line has begun (empty lines before it are skipped) */
} head_scan_t;

/* Start a head (trailer: a trailer section, with no request line). */
void head_begin(head_scan_t *h, bool trailer);
/* Scan the next n bytes; HEAD_OK or the first fault. */
head_verdict_t head_scan(head_scan_t *h, const char *p, size_t n);
/* "a line ends without CR", ... */
const char *head_verdict_text(head_verdict_t v);

#endif
