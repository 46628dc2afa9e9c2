/* The PoolingAllocationConfig: defaults and validation. */
#ifndef WPOOL_CONFIG_H
#define WPOOL_CONFIG_H

#include "pool/layout.h"
#include "wpool.h"

/* Validate every field of `cfg` and compute its layout for this host.
 * Return: 0 or WPOOL_EINVAL with the field and value in wpool_last_error(). */
int config_validate(const wpool_config_t *cfg, layout_t *out);

#endif
