/* The PoolingAllocationConfig: defaults and field validation; the sizes
 * are layout.c's. Every rejection names the field and its value. */
#include "pool/config.h"

#include <stddef.h>
#include <string.h>

#include "index/index.h"
#include "memory/os.h"
#include "pool/meta.h"
#include "util/error.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

/* Static storage, so that padding bytes are zero too. */
static const wpool_config_t DEFAULTS = {
    .size = sizeof(wpool_config_t),
    .instance_count = 1000,
    .instance_size = 1 * MiB,
    .max_unused_warm_slots = 100,
    .instance_memories = 1,
    .instance_memory_pages = 160,
    .memory_reservation = 4 * GiB,
    .memory_guard_size = 2 * GiB,
    .guard_before_linear_memory = true,
    .linear_memory_keep_resident = WPOOL_KEEP_AUTO,
    .instance_tables = 1,
    .instance_table_elements = 10000,
    .table_keep_resident = WPOOL_KEEP_AUTO,
    .stack_count = 1000,
    .async_stack_size = 2 * MiB,
    .async_stack_zeroing = false,
    .async_stack_keep_resident = 0,
    .reset_strategy = WPOOL_RESET_AUTO,
    .decommit_batch_size = 1,
    .background_reset = false,
    .background_wait_ms = 100,
    .memory_unchecked_reach = 0,
    .table_element_size = sizeof(void *),
};

static void defaults(wpool_config_t *cfg) { memcpy(cfg, &DEFAULTS, sizeof(*cfg)); }

/* The first published wpool_config_t (version 0.2) ends here; no caller
 * can have a shorter one. */
#define CONFIG_SIZE_FIRST (offsetof(wpool_config_t, background_wait_ms) + sizeof(uint32_t))

WPOOL_EXPORT void wpool_config_init_sized(wpool_config_t *cfg, size_t size) {
  wpool_config_t d;
  defaults(&d);
  size_t n = size < sizeof(d) ? size : sizeof(d);
  memcpy(cfg, &d, n);
  if (size > n) memset((char *)cfg + n, 0, size - n);
  if (size >= sizeof(cfg->size)) cfg->size = (uint32_t)(size <= UINT32_MAX ? size : UINT32_MAX);
}

WPOOL_EXPORT void(wpool_config_init)(wpool_config_t *cfg) {
  wpool_config_init_sized(cfg, sizeof(*cfg));
}

/* The caller's configuration as this library's struct: its `size` bytes
 * over the defaults. */
static int config_read(const wpool_config_t *user, wpool_config_t *out) {
  size_t size = user->size ? user->size : sizeof(*out);
  if (size < CONFIG_SIZE_FIRST)
    return error_set(WPOOL_EINVAL,
                     "size: %zu bytes is shorter than any wpool_config_t (at least %zu); fill it "
                     "with wpool_config_init",
                     size, (size_t)CONFIG_SIZE_FIRST);
  for (size_t i = sizeof(*out); i < size; i++)
    if (((const unsigned char *)user)[i])
      return error_set(WPOOL_EINVAL,
                       "size: the configuration (%zu bytes) sets fields past byte %zu, which this "
                       "library (version %s) does not know",
                       size, sizeof(*out), wpool_version());
  defaults(out);
  memcpy(out, user, size < sizeof(*out) ? size : sizeof(*out));
  out->size = sizeof(*out);
  return 0;
}

int config_validate(const wpool_config_t *user, wpool_config_t *cfg, layout_t *L) {
  if (!user) return error_set(WPOOL_EINVAL, "config is NULL");
  int err = config_read(user, cfg);
  if (err) return err;
  if (cfg->instance_count == 0)
    return error_set(WPOOL_EINVAL, "instance_count: must be at least 1 (got 0)");
  if (cfg->instance_count > INDEX_MAX_SLOTS)
    return error_set(WPOOL_EINVAL, "instance_count: %u exceeds the maximum of %u",
                     cfg->instance_count, INDEX_MAX_SLOTS);
  if (cfg->stack_count > INDEX_MAX_SLOTS)
    return error_set(WPOOL_EINVAL, "stack_count: %u exceeds the maximum of %u", cfg->stack_count,
                     INDEX_MAX_SLOTS);
  if (cfg->stack_count > 0 && cfg->async_stack_size == 0)
    return error_set(WPOOL_EINVAL,
                     "async_stack_size: must be at least 1 byte when stack_count (%u) > 0",
                     cfg->stack_count);
  if (cfg->reset_strategy != WPOOL_RESET_AUTO && cfg->reset_strategy != WPOOL_RESET_PREFIX &&
      cfg->reset_strategy != WPOOL_RESET_DIRTY)
    return error_set(WPOOL_EINVAL, "reset_strategy: %d is not a wpool_reset_strategy_t",
                     (int)cfg->reset_strategy);
  if (cfg->table_element_size < 1 || cfg->table_element_size > WPOOL_TABLE_ELEMENT_MAX)
    return error_set(WPOOL_EINVAL, "table_element_size: %zu bytes is not between 1 and %u",
                     cfg->table_element_size, WPOOL_TABLE_ELEMENT_MAX);
  if (cfg->decommit_batch_size > WPOOL_DECOMMIT_BATCH_MAX)
    return error_set(WPOOL_EINVAL, "decommit_batch_size: %u exceeds the maximum of %u slots",
                     cfg->decommit_batch_size, WPOOL_DECOMMIT_BATCH_MAX);
  err = layout_compute(cfg, os_page_size(), os_address_limit(), L);
  if (err) return err;
  /* Records per slot: all of them must fit this host's memory, checked
   * before anything is allocated. */
  meta_t meta;
  meta_compute(cfg, L, &meta);
  return meta_check(cfg, &meta, os_physical_bytes());
}
