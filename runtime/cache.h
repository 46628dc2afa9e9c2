/* The compile cache's directory, for other entries than objects (the
 * snapshots of snap_cache.c). Part of cache.c. */
#ifndef WRT_CACHE_H
#define WRT_CACHE_H

#include "rt_internal.h"

/* The runtime's cache directory, made if missing, opened and checked as
 * for objects (cache.c: not a link, this user's or root's, written by
 * nobody else): 0 and *dfd (the caller closes it), or the error. */
int rt_cache_dir_open(wrt_runtime_t *rt, int *dfd);

#endif /* WRT_CACHE_H */
