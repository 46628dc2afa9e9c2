/* A request target and a Host value, checked (RFC 9112 3.2, RFC 3986):
 * pure functions over the client's bytes, fuzzed (fuzz/fuzz_target.c). */
#ifndef WPOOL_SERVER_TARGET_H
#define WPOOL_SERVER_TARGET_H

#include <stdbool.h>
#include <stddef.h>

typedef enum target_form {
  TARGET_ORIGIN,   /* /path?query */
  TARGET_ABSOLUTE, /* http://authority/path?query */
  TARGET_ASTERISK, /* * (OPTIONS only) */
} target_form_t;

typedef struct target {
  target_form_t form;
  const char *path; /* "/" when the absolute form has none */
  size_t path_len;
  const char *query; /* after '?', or NULL */
  size_t query_len;
  const char *authority; /* the absolute form's host[:port], else NULL */
  size_t authority_len;
} target_t;

/* Split `t` (n bytes, as sent): origin-form, absolute-form (http or https,
 * a valid authority) or "*". false: any other form, a fragment, or a byte
 * outside the URI's characters (the request is 400). */
bool target_parse(const char *t, size_t n, target_t *out);
/* A Host field value or an authority: uri-host [":" port], no userinfo,
 * not empty. */
bool host_valid(const char *v, size_t n);

#endif
