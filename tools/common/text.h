/* Text input for the tool's parsers: lines read with their length, so that
 * a NUL byte is seen as a byte (and refused) rather than taken for the end
 * of the line, lines of bounded length, and user text quoted for one-line
 * messages. */
#ifndef WPOOL_TEXT_H
#define WPOOL_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Input bytes shown by text_quote before it cuts with "...". */
#define TEXT_QUOTE_MAX 48

/* A quotation returned by value, so that several can appear in one printf
 * without sharing a buffer. */
typedef struct text_quote {
  char s[TEXT_QUOTE_MAX * 4 + 4];
} text_quote_t;

/* n bytes of user text for a one-line message: printable ASCII as is, any
 * other byte (NUL, control characters, bytes >= 0x80) as \xHH, cut after
 * TEXT_QUOTE_MAX bytes with "...". */
text_quote_t text_quote(const char *p, size_t n);

/* Column (1-based) of the first NUL byte of the n bytes at p; 0 if none. */
size_t text_nul_column(const char *p, size_t n);

enum { TEXT_LINE = 1, TEXT_EOF = 0, TEXT_TOO_LONG = -1, TEXT_READ_ERROR = -2 };

/* Read one line of f into buf (cap bytes) without its newline; *len is its
 * length and buf[*len] is '\0' (the line itself may hold NUL bytes).
 * Return TEXT_LINE, TEXT_EOF when nothing is left, TEXT_TOO_LONG when the
 * line is longer than cap - 1 bytes (buf holds its first cap - 1), or
 * TEXT_READ_ERROR. */
int text_read_line(FILE *f, char *buf, size_t cap, size_t *len);

#endif
