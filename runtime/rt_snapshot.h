/* Snapshots: a module's state after its init function, which every
 * instance starts from (docs/snapshot.md; rt_snapshot.c takes them).
 *
 * The memory is no part of this struct: its bytes become the backend's
 * image (the pool's copy-on-write memfd, the stock backend's data) and
 * its size the module's start_pages, so an instance's memory starts as
 * the snapshot with no copy of ours. What the generated code sets at
 * instantiation and the init changed, the globals, is written over it
 * after each instantiation (rt_snapshot_apply). */
#ifndef WRT_RT_SNAPSHOT_H
#define WRT_RT_SNAPSHOT_H

#include <string.h>

#include "snap_cache.h"

/* At load, after the backend described the module (rt_load.c): run the
 * init function `o` names (or wizer.initialize) in a fresh instance and
 * make its state the module's (m->snap, start_pages, the backend's image
 * rebuilt). 0 (also when there is none to run), or WRT_EINIT, WRT_EINVAL
 * (no such function, or not () -> ()), WRT_EEXHAUSTED, WRT_ENOMEM with
 * the message set. */
int rt_snapshot_take(wrt_module_t *m, const wasm_module_t *w, const wrt_load_options_t *o);
void rt_snapshot_free(wrt_module_t *m);

/* After the generated instantiation, before any guest code: the changed
 * globals written over the ones it set. Inline: a request pays a test,
 * and one store per changed global. */
static inline void rt_snapshot_apply(rt_ctx_t *c) {
  const rt_snapshot_t *s = c->m->snap;
  if (!s) return;
  for (uint32_t i = 0; i < s->nglobals; i++)
    memcpy((uint8_t *)c->guest + s->globals[i].offset, &s->globals[i].value, s->globals[i].size);
}

/* The context of an instance (rt_instance.c). */
rt_ctx_t *rt_instance_ctx(wrt_instance_t *inst);

#endif /* WRT_RT_SNAPSHOT_H */
