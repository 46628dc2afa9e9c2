/* Line-atomic log writes (log.h). */
#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* All of the vector, retried on EINTR; a short write (a signal once some
 * bytes went, or a full non-blocking pipe) goes on with the rest. */
static void write_all(int fd, struct iovec *v, int n) {
  while (n) {
    ssize_t k = writev(fd, v, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return;
    while (n && (size_t)k >= v->iov_len) {
      k -= (ssize_t)v->iov_len;
      v++;
      n--;
    }
    if (n) {
      v->iov_base = (char *)v->iov_base + k;
      v->iov_len -= (size_t)k;
    }
  }
}

void log_write(int fd, const char *p, size_t n) {
  while (n) {
    /* The longest run of whole lines that fits in one atomic write. */
    size_t run = 0;
    for (;;) {
      const char *lf = memchr(p + run, '\n', n - run);
      size_t line = lf ? (size_t)(lf - (p + run)) + 1 : n - run;
      if (run + line > PIPE_BUF) break;
      run += line;
      if (run == n) break;
    }
    if (run) {
      struct iovec v = {(void *)p, run};
      write_all(fd, &v, 1);
    } else {
      /* A line over PIPE_BUF (the server makes none): its start only. */
      const char *lf = memchr(p, '\n', n);
      run = lf ? (size_t)(lf - p) + 1 : n;
      struct iovec v[2] = {{(void *)p, LOG_LINE_MAX - 1}, {"\n", 1}};
      write_all(fd, v, 2);
    }
    p += run;
    n -= run;
  }
}

size_t log_escape(unsigned char ch, char e[4]) {
  if (ch >= 0x20 && ch < 0x7f) {
    e[0] = (char)ch;
    return 1;
  }
  static const char hex[] = "0123456789abcdef";
  e[0] = '\\';
  e[1] = 'x';
  e[2] = hex[ch >> 4];
  e[3] = hex[ch & 15];
  return 4;
}
