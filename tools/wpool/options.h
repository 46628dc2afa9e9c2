/* Command-line values: sizes with units and PoolingAllocationConfig keys. */
#ifndef WPOOL_TOOL_OPTIONS_H
#define WPOOL_TOOL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wpool.h"

/* Parse a size: digits with an optional unit B, KiB, MiB, GiB, TiB (or K,
 * M, G, T; powers of 1024). Return false on anything else or overflow. */
bool parse_size(const char *s, uint64_t *out);

/* Parse a plain non-negative decimal number up to `max` (digits only: no
 * sign, no space); false on anything else, overflow included. */
bool parse_count(const char *s, uint64_t max, uint64_t *out);

/* Parse a duration: digits with a unit ns, us, ms, s, m or h (bare
 * digits: seconds) into nanoseconds. False on anything else or overflow. */
bool parse_duration(const char *s, uint64_t *ns);

/* Set one field of `cfg` from "KEY=VALUE" (or key and value apart). On
 * failure return false with a one-line reason in err. */
bool config_set(wpool_config_t *cfg, const char *key, const char *value, char *err, size_t errlen);
bool config_set_pair(wpool_config_t *cfg, const char *kv, char *err, size_t errlen);

/* The config keys config_set accepts, in order: i < config_key_count(). */
size_t config_key_count(void);
const char *config_key_name(size_t i);
/* Every key and what its values look like, one a line: the help's list. */
void config_keys_print(void *file, const char *indent);

/* Print every key with its value, one "key = value" per line. */
void config_print(const wpool_config_t *cfg, const char *indent, void *file);

/* A size for people: "1.5 GiB". Returned by value, so that any number of
 * them can appear in one printf: human_bytes(a).s, human_bytes(b).s. */
typedef struct human_bytes {
  char s[32];
} human_bytes_t;
human_bytes_t human_bytes(uint64_t bytes);

#endif
