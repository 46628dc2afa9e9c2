/* Module lifetime: references held by the handle and by instances, and
 * the drain of the module-drop hook. */
#ifndef WPOOL_MODULE_H
#define WPOOL_MODULE_H

#include "pool/types.h"

/* Take a reference for an instance of `m`. */
static inline void module_ref(wpool_module_t *m) {
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

/* Drop a reference; the last one drains the module's slots once more,
 * gives its id back and frees it. */
void module_unref(wpool_module_t *m);

/* Drain free slots affine to `m`: their images unmapped, affinity
 * cleared. One slot at a time, never holding the index lock across the
 * mapping changes. */
void module_drain(wpool_module_t *m);

#endif
