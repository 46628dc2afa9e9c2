#include "options.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "text.h"

/* Leading decimal digits of *s into *v, advancing *s; false if there are
 * none or they exceed 2^64 - 1. */
static bool digits(const char **s, uint64_t *v) {
  const char *p = *s;
  if (!p || !isdigit((unsigned char)*p)) return false;
  uint64_t x = 0;
  for (; isdigit((unsigned char)*p); p++)
    if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, (uint64_t)(*p - '0'), &x))
      return false;
  *s = p;
  *v = x;
  return true;
}

bool parse_count(const char *s, uint64_t max, uint64_t *out) {
  uint64_t v;
  if (!digits(&s, &v) || *s || v > max) return false;
  *out = v;
  return true;
}

bool parse_size(const char *s, uint64_t *out) {
  uint64_t v;
  if (!digits(&s, &v)) return false;
  static const struct {
    const char *unit;
    unsigned shift;
  } units[] = {{"", 0},   {"B", 0},   {"K", 10},   {"KiB", 10}, {"KB", 10},  {"M", 20},
               {"MiB", 20}, {"MB", 20}, {"G", 30},  {"GiB", 30}, {"GB", 30},  {"T", 40},
               {"TiB", 40}, {"TB", 40}};
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if (strcasecmp(s, units[i].unit) != 0) continue;
    if (units[i].shift && v > (UINT64_MAX >> units[i].shift)) return false;
    *out = v << units[i].shift;
    return true;
  }
  return false;
}

bool parse_duration(const char *s, uint64_t *ns) {
  uint64_t v;
  if (!digits(&s, &v)) return false;
  static const struct {
    const char *unit;
    uint64_t ns;
  } units[] = {{"", 1000000000ull},  {"ns", 1},          {"us", 1000},
               {"ms", 1000000},      {"s", 1000000000ull}, {"m", 60000000000ull},
               {"h", 3600000000000ull}};
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
    if (!strcmp(s, units[i].unit)) return !__builtin_mul_overflow(v, units[i].ns, ns);
  return false;
}

/* K_SIZE: a size_t field; K_SIZE64: a uint64_t one (sizes of address space). */
/* K_KEEP: a size_t budget that may be "auto" (WPOOL_KEEP_AUTO). */
typedef enum kind { K_U32, K_U64, K_SIZE, K_SIZE64, K_BOOL, K_RESET, K_KEEP } kind_t;

static const struct key {
  const char *name;
  kind_t kind;
  size_t offset;
} keys[] = {
#define F(name, kind) {#name, kind, offsetof(wpool_config_t, name)}
    F(instance_count, K_U32),
    F(instance_size, K_SIZE),
    F(max_unused_warm_slots, K_U32),
    F(instance_memories, K_U32),
    F(instance_memory_pages, K_U64),
    F(memory_reservation, K_SIZE64),
    F(memory_guard_size, K_SIZE64),
    F(guard_before_linear_memory, K_BOOL),
    F(linear_memory_keep_resident, K_KEEP),
    F(instance_tables, K_U32),
    F(instance_table_elements, K_U32),
    F(table_keep_resident, K_KEEP),
    F(stack_count, K_U32),
    F(async_stack_size, K_SIZE),
    F(async_stack_zeroing, K_BOOL),
    F(async_stack_keep_resident, K_SIZE),
    F(reset_strategy, K_RESET),
    F(decommit_batch_size, K_U32),
    F(background_reset, K_BOOL),
    F(background_wait_ms, K_U32),
    F(memory_unchecked_reach, K_SIZE64),
    F(table_element_size, K_SIZE),
#undef F
};

static const char *const reset_names[] = {"auto", "prefix", "dirty"};

/* What a value of each kind looks like, for messages and the help. */
static const char *const kind_values[] = {
    [K_U32] = "a number up to 4294967295",
    [K_U64] = "a number",
    [K_SIZE] = "a size such as 65536, 64KiB or 4GiB",
    [K_SIZE64] = "a size such as 65536, 64KiB or 4GiB",
    [K_BOOL] = "true or false",
    [K_RESET] = "auto, prefix or dirty",
    [K_KEEP] = "auto or a size such as 65536, 64KiB or 1MiB",
};

size_t config_key_count(void) { return sizeof(keys) / sizeof(keys[0]); }

const char *config_key_name(size_t i) { return i < config_key_count() ? keys[i].name : NULL; }

void config_keys_print(void *file, const char *indent) {
  for (size_t i = 0; i < config_key_count(); i++)
    fprintf(file, "%s%-28s %s\n", indent, keys[i].name, kind_values[keys[i].kind]);
}

bool config_set(wpool_config_t *cfg, const char *key, const char *value, char *err,
                size_t errlen) {
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    if (strcmp(keys[i].name, key) != 0) continue;
    void *field = (char *)cfg + keys[i].offset;
    uint64_t v;
    switch (keys[i].kind) {
    case K_U32:
      if (!parse_count(value, UINT32_MAX, &v)) break;
      *(uint32_t *)field = (uint32_t)v;
      return true;
    case K_U64:
      if (!parse_count(value, UINT64_MAX, &v)) break;
      *(uint64_t *)field = v;
      return true;
    case K_KEEP:
      if (!strcasecmp(value, "auto")) {
        *(size_t *)field = WPOOL_KEEP_AUTO;
        return true;
      }
      if (!parse_size(value, &v) || v >= WPOOL_KEEP_AUTO) break;
      *(size_t *)field = (size_t)v;
      return true;
    case K_SIZE:
      if (!parse_size(value, &v) || v > SIZE_MAX) break;
      *(size_t *)field = (size_t)v;
      return true;
    case K_SIZE64:
      if (!parse_size(value, &v)) break;
      *(uint64_t *)field = v;
      return true;
    case K_BOOL:
      if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes")) {
        *(bool *)field = true;
        return true;
      }
      if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no")) {
        *(bool *)field = false;
        return true;
      }
      break;
    case K_RESET:
      for (int r = 0; r < 3; r++)
        if (!strcasecmp(value, reset_names[r])) {
          *(wpool_reset_strategy_t *)field = (wpool_reset_strategy_t)r;
          return true;
        }
      break;
    }
    snprintf(err, errlen, "config %s: '%s' is not %s", key, text_quote(value, strlen(value)).s,
             kind_values[keys[i].kind]);
    return false;
  }
  snprintf(err, errlen, "unknown config key '%s' (wpool help lists them)",
           text_quote(key, strlen(key)).s);
  return false;
}

bool config_set_pair(wpool_config_t *cfg, const char *kv, char *err, size_t errlen) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) {
    snprintf(err, errlen, "config '%s': expected KEY=VALUE", text_quote(kv, strlen(kv)).s);
    return false;
  }
  char key[64];
  size_t klen = (size_t)(eq - kv);
  if (klen >= sizeof(key)) {
    snprintf(err, errlen, "unknown config key '%s'", text_quote(kv, klen).s);
    return false;
  }
  memcpy(key, kv, klen);
  key[klen] = '\0';
  return config_set(cfg, key, eq + 1, err, errlen);
}

void config_print(const wpool_config_t *cfg, const char *indent, void *file) {
  FILE *f = file;
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const void *field = (const char *)cfg + keys[i].offset;
    fprintf(f, "%s%-28s ", indent, keys[i].name);
    switch (keys[i].kind) {
    case K_U32: fprintf(f, "%u\n", *(const uint32_t *)field); break;
    case K_U64: fprintf(f, "%llu\n", (unsigned long long)*(const uint64_t *)field); break;
    case K_SIZE:
    case K_SIZE64: {
      uint64_t v = keys[i].kind == K_SIZE64 ? *(const uint64_t *)field : *(const size_t *)field;
      fprintf(f, "%s\n", human_bytes(v).s);
      break;
    }
    case K_KEEP:
      if (*(const size_t *)field == WPOOL_KEEP_AUTO)
        fprintf(f, "auto\n");
      else
        fprintf(f, "%s\n", human_bytes(*(const size_t *)field).s);
      break;
    case K_BOOL: fprintf(f, "%s\n", *(const bool *)field ? "true" : "false"); break;
    case K_RESET: {
      int r = (int)*(const wpool_reset_strategy_t *)field;
      fprintf(f, "%s\n", r >= 0 && r < 3 ? reset_names[r] : "?");
      break;
    }
    }
  }
}

human_bytes_t human_bytes(uint64_t v) {
  human_bytes_t h;
  static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int i = 0;
  double d = (double)v;
  while (d >= 1024 && i < 6) {
    d /= 1024;
    i++;
  }
  if (i == 0 || d == (double)(uint64_t)d)
    snprintf(h.s, sizeof(h.s), "%llu %s", (unsigned long long)(uint64_t)d, u[i]);
  else
    snprintf(h.s, sizeof(h.s), "%.1f %s", d, u[i]);
  return h;
}
