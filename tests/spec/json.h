/* A small JSON reader for the spec harness: the whole text into a tree.
 * Strings are decoded (escapes, \u0000 and surrogate pairs included) and
 * kept with their length; numbers are kept as their text. */
#ifndef WRT_SPEC_JSON_H
#define WRT_SPEC_JSON_H

#include <stddef.h>

typedef enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type_t;

typedef struct json {
  json_type_t type;
  char *str;   /* strings (decoded, NUL-terminated, len bytes) and numbers (their text) */
  size_t len;
  int boolean;
  struct json **items; /* arrays and objects: n values */
  char **keys;         /* objects: n keys */
  size_t n;
} json_t;

/* Parse `len` bytes; NULL with a message in `err` on malformed input. */
json_t *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(json_t *j);

/* An object's member `key`, or NULL (also when j is not an object). */
const json_t *json_get(const json_t *j, const char *key);
/* A member's string, or NULL when it is absent or not a string. */
const char *json_str(const json_t *j, const char *key);

#endif /* WRT_SPEC_JSON_H */
