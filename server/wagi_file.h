/* A module's file as a reload pass reads it (wagi_file.c): its identity
 * (what tells a changed file) and its bytes, read once. */
#ifndef WPOOL_SERVER_WAGI_FILE_H
#define WPOOL_SERVER_WAGI_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "wagi_table.h"

void wagi_identity_of(const struct stat *st, wagi_identity_t *id);
bool wagi_same_file(const wagi_identity_t *a, const wagi_identity_t *b);
/* Why a file did not load, as the pass treats it. */
enum {
  WAGI_LOAD_REFUSED = -1, /* the file's fault: not tried again while unchanged */
  WAGI_LOAD_AGAIN = -2,   /* the host's resources (memory, descriptors, mappings,
                             slots): tried again at the next pass */
  WAGI_LOAD_GONE = -3,    /* removed meanwhile: not a failure */
};

/* The bytes of `path` (a regular file of at most 1 GiB whose first 8 bytes
 * are WebAssembly's header: a file that is no module costs 8 bytes of
 * reading, whatever its size; a FIFO neither blocks the open nor is read)
 * in *out (malloc'd) and *len, its identity in *id. 0, or WAGI_LOAD_* with
 * why in err, the file named `shown` (its name as the log shows it). */
int wagi_read_module(const char *path, const char *shown, uint8_t **out, size_t *len,
                     wagi_identity_t *id, char *err, size_t errlen);

#endif
