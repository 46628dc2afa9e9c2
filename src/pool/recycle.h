/* How a freed instance slot gets back to the index allocator: reset and
 * returned at once (the default), reset and queued until
 * decommit_batch_size slots can give their pages back in one call, or
 * handed to the background worker (background_reset) which resets it off
 * the caller's thread. While on its way the slot is in transit: still
 * used in the index, counted in queued_slots or background_pending, its
 * record (transit_t) holding the ranges to give back and a reference to
 * its module. */
#ifndef WPOOL_RECYCLE_H
#define WPOOL_RECYCLE_H

#include <stdbool.h>

#include "pool/types.h"

/* Set up the queue and, with background_reset, start the worker.
 * Return: 0, WPOOL_ENOMEM or WPOOL_ESYS. */
int recycle_init(wpool_t *p);
/* Finish every slot in transit (the worker drains its queue and stops),
 * then free the queue. */
void recycle_fini(wpool_t *p);

/* The free path: `slot`, just left by a tenant of `m` (whose reference it
 * carries) at `now_ns`, goes back by the pool's way. Never allocates. */
void recycle_free(wpool_t *p, uint32_t slot, wpool_module_t *m, uint64_t now_ns);

/* Issue the queued slots' ranges now and return the slots. */
void recycle_flush(wpool_t *p);

/* For an allocation that found every slot taken at `now_ns`: bring slots
 * in transit back (flush the queue; wait for the worker's rounds up to
 * background_wait_ms from then) and try again. Return: a slot taken for
 * `module`, or INDEX_NONE. */
uint32_t recycle_alloc(wpool_t *p, uint32_t module, uint64_t now_ns);

/* Tests only: hold the worker (it finishes its round first) or let it go.
 * Stopping ends a pause. */
void recycle_pause(wpool_t *p, bool paused);

#endif
