/* A request's head checked, and a complete request routed to its handler
 * and answered (dispatch.c). */
#ifndef WPOOL_SERVER_DISPATCH_H
#define WPOOL_SERVER_DISPATCH_H

#include "conn.h"

/* The head is complete: check what RFC 9112 asks of it (the version, the
 * target, Host), refuse a body over max_body, send 100 Continue when
 * asked. false: refused (answered, the connection closes). */
bool head_complete(conn_t *c);
/* The request is complete: route it, run its handler, queue the answer. */
void dispatch(conn_t *c);

#endif
