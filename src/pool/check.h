/* The pool's invariants, executed. pool_is_valid() checks, O(slots):
 *   index_is_valid(index) and index_is_valid(stack_index)
 *   used instance slots == live instances + queued + background_pending
 *   used stacks == live stacks
 *   a slot's record has a module  <=>  it holds a live instance
 *   kept bytes of each kind == the sum of `kept` over all slots and
 *     stacks (a live instance's slot or stack keeps 0: its bytes are the
 *     tenant's); memories_live, tables_live == the live modules' counts
 *   every memslot_is_valid() and every record names its slot, of the
 *     slots used so far (a cold slot's records are untouched zero pages:
 *     not walked, so a check costs what the pool used, not its size)
 *   unreleased modules on the module list == live_modules
 * The counts agree only while no call is half-way, so at debug level 3
 * every public call that changes the pool holds check_lock shared
 * (check_enter/check_leave), and pool_is_valid runs after it when it can
 * take the lock exclusively (never waiting for it). */
#ifndef WPOOL_CHECK_H
#define WPOOL_CHECK_H

#include <stdbool.h>

#include "pool/types.h"

/* Whether every invariant above holds. Only meaningful while no other
 * call on the pool runs. Context: tests, destroy, check_leave(). */
bool pool_is_valid(wpool_t *p);

#if WPOOL_DEBUG >= 3
void check_enter(wpool_t *p);
/* Release the shared hold and validate if no other call is in the pool;
 * an invalid pool aborts with the broken invariant's name. */
void check_leave(wpool_t *p);
#else
static inline void check_enter(wpool_t *p) { (void)p; }
static inline void check_leave(wpool_t *p) { (void)p; }
#endif

#endif
