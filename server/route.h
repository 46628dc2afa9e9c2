/* The route table (srv_route in server.h adds to it). */
#ifndef WPOOL_SERVER_ROUTE_H
#define WPOOL_SERVER_ROUTE_H

#include "internal.h"

/* The route of `path` (which starts with '/'), with *rest the part of the
 * path past its prefix; NULL: none (404). O(log routes). */
const route_t *route_match(const srv_t *s, const char *path, size_t len, const char **rest,
                           size_t *rest_len);
/* Sort the table (srv_listen does, before any request). */
void route_seal(srv_t *s);
void route_free(srv_t *s);

#endif
