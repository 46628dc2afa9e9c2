/* HTTP/1.1 on a connection (http.c): the parser's callbacks, and each
 * complete request routed to its handler and answered. */
#ifndef WPOOL_SERVER_HTTP_H
#define WPOOL_SERVER_HTTP_H

#include "internal.h"

/* Adopt an accepted socket: a connection of w, reading (`reserve`:
 * accepted past max_connections). */
void http_open(worker_t *w, int fd, bool reserve);

#endif
