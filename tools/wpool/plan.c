/* `wpool plan`: what a configuration reserves, how many kernel mappings it
 * can take, and how much memory it can commit, against this host's limits,
 * without reserving anything. */
#include "plan.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "memory/os.h"
#include "pool/config.h"
#include "status.h"

static uint64_t read_u64(const char *path, const char *key) {
  FILE *f = fopen(path, "r");
  char line[256];
  unsigned long long v = 0;
  if (!f) return 0;
  if (!key) {
    if (fscanf(f, "%llu", &v) != 1) v = 0;
  } else {
    size_t klen = strlen(key);
    while (fgets(line, sizeof(line), f))
      if (!strncmp(line, key, klen) && sscanf(line + klen, " %llu", &v) == 1) break;
  }
  fclose(f);
  return v;
}

static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  int n = 0, c;
  if (!f) return 0;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

/* Plan's own sums and products saturate: a figure too large for 64 bits
 * shows as 16 EiB rather than wrapping to a small one. */
static uint64_t sat_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

int plan_run(const wpool_config_t *cfg, FILE *out) {
  layout_t L;
  wpool_config_t checked;
  if (config_validate(cfg, &checked, &L) != 0) {
    fprintf(stderr, "wpool plan: %s\n", wpool_last_error());
    return TOOL_BAD_INPUT;
  }
  fprintf(out, "wpool plan: nothing is reserved; figures are for this configuration\n\n");
  config_print(cfg, "  ", out);
  fprintf(out, "\n%-16s %10s %14s %14s\n", "pool", "slots", "slot size", "reserved");
  fprintf(out, "%-16s %10llu %14s %14s", "memories", (unsigned long long)L.mem_slots,
          human_bytes(L.mem_slot_size).s, human_bytes(L.mem_pool_bytes).s);
  if (L.mem_pre_guard) fprintf(out, "  (with a %s guard before)", human_bytes(L.mem_pre_guard).s);
  fprintf(out, "\n%-16s %10llu %14s %14s\n", "tables", (unsigned long long)L.table_slots,
          human_bytes(L.table_slot_size).s, human_bytes(L.table_pool_bytes).s);
  fprintf(out, "%-16s %10u %14s %14s\n", "instance state", cfg->instance_count,
          human_bytes(L.state_slot_size).s, human_bytes(L.state_pool_bytes).s);
  fprintf(out, "%-16s %10u %14s %14s\n", "stacks", cfg->stack_count,
          human_bytes(L.stack_slot_size).s, human_bytes(L.stack_pool_bytes).s);

  if (cfg->memory_unchecked_reach)
    fprintf(out, "unchecked reach: %s past each memory's base stay within its reservation and "
                 "guard (%s)\n",
            human_bytes(cfg->memory_unchecked_reach).s, human_bytes(L.mem_slot_size).s);

  bool fits = true;
  uint64_t limit = os_address_limit();
  fprintf(out, "\naddress space: %s of the %s a process may map (%.1f%%)\n",
          human_bytes(L.total_bytes).s, human_bytes(limit).s,
          100.0 * (double)L.total_bytes / (double)limit);

  /* Kernel mappings: docs/architecture.md. */
  bool markers = os_guard_markers_work();
  layout_mappings_t lm;
  layout_mappings(&L, cfg->stack_count, markers, &lm);
  uint64_t maps = lm.total;
  uint64_t max_maps = read_u64("/proc/sys/vm/max_map_count", NULL);
  int in_use = count_lines("/proc/self/maps");
  fprintf(out,
          "kernel mappings: at most %llu (memories %llu: 4 per memory slot and 1; tables %llu; "
          "state %llu; stacks %llu: %s; and 1 per module memory with data)",
          (unsigned long long)maps, (unsigned long long)lm.memory, (unsigned long long)lm.table,
          (unsigned long long)lm.state, (unsigned long long)lm.stack,
          markers ? "one mapping, guard pages are MADV_GUARD_INSTALL markers"
                  : "2 per stack, guard pages are mappings");
  if (max_maps) {
    fprintf(out, "; vm.max_map_count is %llu, this process uses %d\n",
            (unsigned long long)max_maps, in_use);
    if (sat_add(maps, (uint64_t)in_use) > max_maps) {
      fits = false;
      fprintf(out, "  DOES NOT FIT: raise vm.max_map_count to at least %llu, or lower "
                   "instance_count, instance_memories or stack_count\n",
              (unsigned long long)sat_add(maps, (uint64_t)in_use + 1024));
    }
  } else {
    fprintf(out, "\n");
  }

  /* Committed memory at most: every instance with every memory grown to
   * its limit, tables full, state and stacks touched. */
  uint64_t mem = sat_mul(sat_mul(L.mem_slots, cfg->instance_memory_pages), WPOOL_PAGE_SIZE);
  uint64_t stacks = sat_mul(cfg->stack_count, L.stack_usable);
  uint64_t committed =
      sat_add(sat_add(sat_add(mem, L.table_pool_bytes), L.state_pool_bytes), stacks);
  uint64_t total = sat_mul(read_u64("/proc/meminfo", "MemTotal:"), 1024);
  fprintf(out, "memory committed at most: %s (memories %s, tables %s, state %s, stacks %s)",
          human_bytes(committed).s, human_bytes(mem).s, human_bytes(L.table_pool_bytes).s,
          human_bytes(L.state_pool_bytes).s, human_bytes(stacks).s);
  if (total) {
    fprintf(out, "; this host has %s\n", human_bytes(total).s);
    if (committed > total)
      fprintf(out, "  note: if every slot were used to its limits at once the host would run "
                   "out of memory; idle slots cost only what their resets keep resident\n");
  } else {
    fprintf(out, "\n");
  }
  fprintf(out, "\n%s\n", fits ? "fits this host" : "does not fit this host");
  return fits ? TOOL_OK : TOOL_FAILED;
}
