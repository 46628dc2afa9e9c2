/* The server's logs (--log): the request lines on standard output and the
 * guests' standard error on standard error. Whole lines only, in writes
 * of at most PIPE_BUF bytes: POSIX makes a write of at most PIPE_BUF bytes
 * to a pipe atomic, so the lines of several workers (and of other
 * processes) sharing a pipe or a file never interleave, however slow the
 * reader. A write of more, partly taken while the pipe is full, would let
 * another worker's line land inside a tenant's line and the rest of that
 * line start a line of its own. */
#ifndef WPOOL_SERVER_LOG_H
#define WPOOL_SERVER_LOG_H

#include <limits.h>
#include <stddef.h>

/* The longest line the server writes, its '\n' included. */
#define LOG_LINE_MAX PIPE_BUF

/* Write p[0, n), whole lines each ending with '\n' and at most
 * LOG_LINE_MAX bytes (a longer one is cut to that, its end dropped), in
 * writes of whole lines of at most PIPE_BUF bytes. Errors are ignored: a
 * log that cannot be written does not stop the server. */
void log_write(int fd, const char *p, size_t n);

/* Byte ch as a log line writes it, into e: printable ASCII (0x20-0x7e) as
 * is, any other byte as \xHH: control bytes, DEL, and bytes >= 0x80 (C1
 * controls such as 0x9b, CSI in 8-bit terminals, and bytes that need not
 * be UTF-8 where a log collector expects it). The caller decides for '\\'
 * and tab. Returns the bytes written (1 or 4). */
size_t log_escape(unsigned char ch, char e[4]);

#endif
