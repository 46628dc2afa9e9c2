/* Request targets and Host values (target.h). */
#include "target.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

/* Character classes (RFC 3986), one table lookup a byte. */
enum { UNRESERVED = 1, SUB_DELIM = 2, HEX = 4, URI = 8 };

static unsigned char classes[256];

static void init_classes(void) {
  for (int c = 0; c < 256; c++) {
    unsigned char k = 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~')
      k |= UNRESERVED;
    if (c && strchr("!$&'()*+,;=", c)) k |= SUB_DELIM;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) k |= HEX;
    /* A byte of a path or query: any visible ASCII byte but '#' (a
     * fragment is never sent). RFC 3986 would refuse a few more ('[', ']',
     * '{', '|', ...), which browsers and curl send unescaped in queries:
     * taken, as nginx does; the guest sees them as sent. */
    if (c > 0x20 && c < 0x7f && c != '#') k |= URI;
    classes[c] = k;
  }
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static bool is(unsigned char c, unsigned char k) { return (classes[c] & k) != 0; }

bool host_valid(const char *v, size_t n) {
  pthread_once(&once, init_classes);
  size_t i = 0;
  if (n && v[0] == '[') {
    /* IP-literal: hex digits, ':' and '.' (IPv6, IPv4-mapped), or an
     * IPvFuture's characters. */
    for (i = 1; i < n && v[i] != ']'; i++) {
      unsigned char c = (unsigned char)v[i];
      if (!is(c, UNRESERVED | SUB_DELIM) && c != ':') return false;
    }
    if (i == n || i == 1) return false;
    i++;
  } else {
    for (; i < n && v[i] != ':'; i++) {
      unsigned char c = (unsigned char)v[i];
      if (c == '%') {
        if (i + 2 >= n || !is((unsigned char)v[i + 1], HEX) || !is((unsigned char)v[i + 2], HEX))
          return false;
        i += 2;
      } else if (!is(c, UNRESERVED | SUB_DELIM)) {
        return false;
      }
    }
    if (i == 0) return false;
  }
  if (i == n) return true;
  if (v[i] != ':') return false;
  for (i++; i < n; i++)
    if (v[i] < '0' || v[i] > '9') return false;
  return true;
}

/* path and query of an origin-form target (starting with '/'). */
static bool split(const char *t, size_t n, target_t *out) {
  for (size_t i = 0; i < n; i++)
    if (!is((unsigned char)t[i], URI)) return false; /* '#', spaces, controls, ... */
  const char *q = memchr(t, '?', n);
  out->path = t;
  out->path_len = q ? (size_t)(q - t) : n;
  out->query = q ? q + 1 : NULL;
  out->query_len = q ? n - out->path_len - 1 : 0;
  return true;
}

bool target_parse(const char *t, size_t n, target_t *out) {
  pthread_once(&once, init_classes);
  *out = (target_t){.form = TARGET_ORIGIN};
  if (n == 1 && t[0] == '*') {
    out->form = TARGET_ASTERISK;
    out->path = t;
    out->path_len = 1;
    return true;
  }
  if (n && t[0] == '/') return split(t, n, out);
  size_t s = n >= 7 && !strncasecmp(t, "http://", 7)    ? 7
             : n >= 8 && !strncasecmp(t, "https://", 8) ? 8
                                                        : 0;
  if (!s) return false;
  size_t a = s;
  while (a < n && t[a] != '/' && t[a] != '?') a++;
  if (!host_valid(t + s, a - s)) return false;
  out->form = TARGET_ABSOLUTE;
  out->authority = t + s;
  out->authority_len = a - s;
  if (a == n || t[a] == '?') {
    /* No path: "/" (RFC 9112 3.2.4), the query as given. */
    if (!split(t + a, n - a, out)) return false;
    out->path = "/";
    out->path_len = 1;
    return true;
  }
  return split(t + a, n - a, out);
}
