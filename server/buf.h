/* A growable byte buffer, always NUL-terminated past its length. The
 * server's connections, the WAGI adapter and /metrics build their bytes in
 * these. */
#ifndef WPOOL_SERVER_BUF_H
#define WPOOL_SERVER_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf_t;

/* Room for `extra` more bytes; false when out of memory (b unchanged). */
bool sbuf_reserve(sbuf_t *b, size_t extra);
bool sbuf_put(sbuf_t *b, const void *s, size_t n);
bool sbuf_puts(sbuf_t *b, const char *s);
bool sbuf_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empty it; when its capacity is over `keep` bytes, give the memory back
 * (a large response or body does not stay allocated for good). */
void sbuf_reset(sbuf_t *b, size_t keep);
void sbuf_free(sbuf_t *b);

#endif
