/* The server's counters (per worker, internal.h's metrics_t) and the
 * /metrics handler: Prometheus text exposition (version 0.0.4) of the
 * requests by status, a latency histogram and the connections, then what
 * a hook adds (the WAGI adapter: the runtime's and the pool's figures). */
#ifndef WPOOL_SERVER_METRICS_H
#define WPOOL_SERVER_METRICS_H

#include "buf.h"
#include "handler.h"
#include "internal.h"

void metrics_add(_Atomic uint64_t *c, int64_t d);
void metrics_count(metrics_t *m, int code, uint64_t ns);

/* "# HELP name help\n# TYPE name type\n" */
void metrics_family(sbuf_t *o, const char *name, const char *type, const char *help);

typedef struct metrics_handler {
  srv_handler_t h;
  const srv_t *srv;
  /* Called after the server's own families; may be NULL. */
  void (*hook)(void *arg, sbuf_t *out);
  void *hook_arg;
} metrics_handler_t;

/* A handler answering GET and HEAD (405 otherwise) with the exposition of
 * `srv`'s counters; route it with srv_route(srv, "/metrics", true, ...). */
void metrics_handler_init(metrics_handler_t *mh, const srv_t *srv,
                          void (*hook)(void *arg, sbuf_t *out), void *hook_arg);
/* The exposition itself into `o` (emptied first); false: out of memory. */
bool metrics_expose(const metrics_handler_t *mh, sbuf_t *o);

#endif
