/* Reading a module's file for a reload pass (wagi_file.h). */
#include "wagi_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MODULE_BYTES (1ull << 30) /* the runtime's bound (runtime.h) */

void wagi_identity_of(const struct stat *st, wagi_identity_t *id) {
  *id = (wagi_identity_t){.dev = st->st_dev,
                          .ino = st->st_ino,
                          .size = st->st_size,
                          .mtime_ns = st->st_mtim.tv_sec * 1000000000ll + st->st_mtim.tv_nsec,
                          .ctime_ns = st->st_ctim.tv_sec * 1000000000ll + st->st_ctim.tv_nsec};
}

bool wagi_same_file(const wagi_identity_t *a, const wagi_identity_t *b) {
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns &&
         a->ctime_ns == b->ctime_ns;
}

/* Up to `want` bytes into b (fewer at the file's end): NULL, or why not. */
static const char *read_upto(int fd, uint8_t *b, size_t want, size_t *got) {
  *got = 0;
  while (*got < want) {
    ssize_t k = read(fd, b + *got, want - *got);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return strerror(errno);
    if (k == 0) break; /* shorter now: what was read is checked as it is */
    *got += (size_t)k;
  }
  return NULL;
}

/* Why the first n bytes of a file are no WebAssembly module's (the
 * runtime's words), or NULL. */
static const char *header_why(const uint8_t *h, size_t n, char *buf, size_t len) {
  static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  if (n < 8 || memcmp(h, magic, 4) != 0) return "not a WebAssembly binary (no \\0asm magic)";
  if (!memcmp(h + 4, magic + 4, 4)) return NULL;
  snprintf(buf, len, "WebAssembly binary version %u not supported (only 1)",
           h[4] | h[5] << 8 | h[6] << 16 | (unsigned)h[7] << 24);
  return buf;
}

/* The file's bytes, read once (a FIFO named NAME.wasm neither blocks the
 * open nor is read), its 8 bytes of header checked before the rest is
 * read: a file that is no module costs 8 bytes, whatever its size. */
int wagi_read_module(const char *path, const char *shown, uint8_t **out, size_t *len,
                     wagi_identity_t *id, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    int e = errno;
    snprintf(err, errlen, "%s: %s", shown, strerror(e));
    if (fd >= 0) close(fd);
    return e == ENOENT                                 ? WAGI_LOAD_GONE
           : e == EMFILE || e == ENFILE || e == ENOMEM ? WAGI_LOAD_AGAIN
                                                       : WAGI_LOAD_REFUSED;
  }
  char buf[96];
  uint8_t head[8], *b = NULL;
  size_t n = 0, more = 0;
  const char *why = !S_ISREG(st.st_mode)                      ? "not a regular file"
                    : (uint64_t)st.st_size > MAX_MODULE_BYTES ? "over the runtime's 1 GiB"
                                                              : NULL;
  if (!why) why = read_upto(fd, head, sizeof(head), &n);
  if (!why) why = header_why(head, n, buf, sizeof(buf));
  size_t size = (size_t)st.st_size > n ? (size_t)st.st_size : n;
  bool again = false;
  if (!why && (b = malloc(size)) == NULL) {
    why = "out of memory";
    again = true;
  }
  if (!why) {
    memcpy(b, head, n);
    why = read_upto(fd, b + n, size - n, &more);
    n += more;
  }
  close(fd);
  if (why) {
    snprintf(err, errlen, "%s: %s", shown, why);
    free(b);
    return again ? WAGI_LOAD_AGAIN : WAGI_LOAD_REFUSED;
  }
  wagi_identity_of(&st, id);
  *out = b;
  *len = n;
  return 0;
}
