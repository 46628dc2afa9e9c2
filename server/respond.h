/* A response framed into a connection's output (respond.c): the status
 * line, Server, the handler's header lines, Content-Length and
 * Connection; counted for /metrics and logged under --log. */
#ifndef WPOOL_SERVER_RESPOND_H
#define WPOOL_SERVER_RESPOND_H

#include "conn.h"

/* Queue `a` on c->out; `keep`: the connection stays open after it (not
 * when the server stops or a->close). */
void respond(conn_t *c, const srv_response_t *a, bool keep);
void respond_text(conn_t *c, int status, const char *text, bool keep);
/* A request the server refuses before any handler runs: the connection
 * closes after the answer (its bytes are not to be trusted further). */
void refuse(conn_t *c, int status, const char *why);

#endif
