/* Routes: a path's first segment, looked up by binary search; the "/"
 * route for anything else (route.h, server.h's srv_route). */
#include "route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_seg(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  return c ? c : (an > bn) - (an < bn);
}

static int cmp_route(const void *a, const void *b) {
  const route_t *x = a, *y = b;
  return cmp_seg(x->segment, x->len, y->segment, y->len);
}

static int add_handler(srv_t *s, srv_handler_t *h) {
  for (size_t i = 0; i < s->nhandlers; i++)
    if (s->handlers[i] == h) return 0;
  srv_handler_t **hs = realloc(s->handlers, (s->nhandlers + 1) * sizeof(*hs));
  if (!hs) return -ENOMEM;
  s->handlers = hs;
  h->slot = (unsigned)s->nhandlers;
  s->handlers[s->nhandlers++] = h;
  return 0;
}

int srv_route(srv_t *s, const char *prefix, bool exact, srv_handler_t *h, void *data) {
  if (!prefix || prefix[0] != '/' || strchr(prefix + 1, '/') || !h || !h->on_request)
    return -EINVAL;
  size_t len = strlen(prefix + 1);
  if (!len && s->root) return -EEXIST;
  for (size_t i = 0; i < s->nroutes; i++)
    if (s->routes[i].len == len && !memcmp(s->routes[i].segment, prefix + 1, len)) return -EEXIST;
  int err = add_handler(s, h);
  if (err) return err;
  route_t r = {.segment = strdup(prefix + 1), .len = len, .exact = exact, .h = h, .data = data};
  if (!r.segment) return -ENOMEM;
  if (!len) {
    s->root = malloc(sizeof(route_t));
    if (!s->root) {
      free(r.segment);
      return -ENOMEM;
    }
    *s->root = r;
    return 0;
  }
  route_t *rs = realloc(s->routes, (s->nroutes + 1) * sizeof(route_t));
  if (!rs) {
    free(r.segment);
    return -ENOMEM;
  }
  s->routes = rs;
  s->routes[s->nroutes++] = r;
  return 0;
}

void route_seal(srv_t *s) { qsort(s->routes, s->nroutes, sizeof(route_t), cmp_route); }

const route_t *route_match(const srv_t *s, const char *path, size_t len, const char **rest,
                           size_t *rest_len) {
  if (len >= 2 && path[0] == '/') {
    const char *seg = path + 1;
    const char *slash = memchr(seg, '/', len - 1);
    size_t n = slash ? (size_t)(slash - seg) : len - 1;
    size_t lo = 0, hi = s->nroutes;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      const route_t *r = &s->routes[mid];
      int c = cmp_seg(seg, n, r->segment, r->len);
      if (c == 0) {
        if (r->exact && n != len - 1) break;
        *rest = seg + n;
        *rest_len = len - 1 - n;
        return r;
      }
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  }
  if (!s->root) return NULL;
  /* The "/" route answers every path: the rest is the path. */
  *rest = path;
  *rest_len = len;
  return s->root;
}

void route_free(srv_t *s) {
  for (size_t i = 0; i < s->nroutes; i++) free(s->routes[i].segment);
  free(s->routes);
  if (s->root) free(s->root->segment);
  free(s->root);
  free(s->handlers);
  s->routes = s->root = NULL;
  s->handlers = NULL;
  s->nroutes = s->nhandlers = 0;
}
