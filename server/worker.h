/* A worker: one libuv loop on its own thread, owning the connections the
 * listener hands it (worker.c). */
#ifndef WPOOL_SERVER_WORKER_H
#define WPOOL_SERVER_WORKER_H

#include "internal.h"

/* The loop, its handles and the handlers' per-worker state (before the
 * thread starts). Returns 0 or a negative errno (libuv's, or -ENOMEM). */
int worker_init(worker_t *w, srv_t *s, unsigned id);
/* The thread: run the loop until it has stopped and every connection is
 * closed. */
void *worker_main(void *arg);
/* A worker whose thread never ran: close its loop. */
void worker_discard(worker_t *w);
/* After the join (or worker_discard). */
void worker_free(worker_t *w);
/* Hand an accepted connection to `w` (any thread; `reserve`: accepted past
 * max_connections); false: w has ended. */
bool worker_adopt(worker_t *w, int fd, bool reserve);
/* Any thread: the first call drains (idle connections close, requests in
 * flight finish), the second closes every connection. */
void worker_stop(worker_t *w);

#endif
