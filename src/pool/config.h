/* The PoolingAllocationConfig: defaults and validation. */
#ifndef WPOOL_CONFIG_H
#define WPOOL_CONFIG_H

#include "pool/layout.h"
#include "wpool.h"

/* Read the caller's configuration `user` (of user->size bytes, the ABI
 * promise of wpool.h) into `cfg`, validate every field and compute its
 * layout for this host: its address space must fit what a process may
 * map, its metadata (pool/meta.h) this host's physical memory.
 * Return: 0 or WPOOL_EINVAL with the field and value in wpool_last_error(). */
int config_validate(const wpool_config_t *user, wpool_config_t *cfg, layout_t *out);

#endif
