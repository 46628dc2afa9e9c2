/* `wpool demo`: a real pool with the default configuration, a handful of
 * modules with data images, and instances created, dirtied and freed in a
 * loop; then the pool's statistics. */
#include "measure.h"
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "status.h"
#include "wpool.h"

enum { MODULES = 8, LIVE = 16 };

static void print_stats(FILE *out, const wpool_stats_t *s) {
  fprintf(out,
          "instances: %llu live, %llu created; modules: %llu live; stacks: %llu live\n"
          "slots: %llu warm, %llu cold; kept resident in unused slots: %llu bytes\n"
          "affinity: %llu hits, %llu misses; exhausted: %llu\n"
          "images: %llu live, %llu mapped, %llu unmapped; slots drained: %llu\n"
          "reset: %llu madvise calls (%llu bytes), %llu memset bytes; %llu mprotect calls\n"
          "address space reserved: %llu bytes; library heap: %llu bytes\n",
          (unsigned long long)s->live_instances, (unsigned long long)s->instances_created,
          (unsigned long long)s->live_modules, (unsigned long long)s->live_stacks,
          (unsigned long long)s->warm_slots, (unsigned long long)s->cold_slots,
          (unsigned long long)s->kept_resident_bytes, (unsigned long long)s->affine_hits,
          (unsigned long long)s->affine_misses, (unsigned long long)s->exhausted,
          (unsigned long long)s->images_live, (unsigned long long)s->image_maps,
          (unsigned long long)s->image_unmaps, (unsigned long long)s->slots_drained,
          (unsigned long long)s->madvise_calls, (unsigned long long)s->madvise_bytes,
          (unsigned long long)s->memset_bytes, (unsigned long long)s->mprotect_calls,
          (unsigned long long)s->reserved_bytes, (unsigned long long)s->heap_bytes);
}

int demo_run(FILE *out, uint64_t iterations) {
  wpool_config_t cfg;
  wpool_config_init(&cfg);
  cfg.linear_memory_keep_resident = 64 * 1024;
  /* A table of 100 elements fits one page: memset it instead of paying a
   * madvise, whose TLB flush costs tens of microseconds in some VMs. */
  cfg.table_keep_resident = 4096;
  wpool_t *pool;
  int err = wpool_create(&cfg, &pool);
  if (err) {
    fprintf(stderr, "wpool demo: wpool_create: %s\n", wpool_last_error());
    return TOOL_FAILED;
  }
  /* Each module: one memory of 16 pages (1 MiB) whose first 64 KiB are a
   * data image, one table of 100 elements, 4 KiB of state. */
  static uint8_t image[MODULES][64 * 1024];
  wpool_module_t *mods[MODULES];
  for (int k = 0; k < MODULES; k++) {
    memset(image[k], 'a' + k, sizeof(image[k]));
    wpool_data_segment_t seg = {.offset = 0, .bytes = image[k], .len = sizeof(image[k])};
    wpool_memory_desc_t mem = {
        .min_pages = 16, .max_pages = 32, .segments = &seg, .nsegments = 1};
    wpool_table_desc_t table = {.min_elements = 100, .max_elements = WPOOL_NO_MAX32};
    wpool_module_desc_t d = {
        .state_size = 4096, .memories = &mem, .nmemories = 1, .tables = &table, .ntables = 1};
    if (wpool_module_new(pool, &d, &mods[k]) != 0) {
      fprintf(stderr, "wpool demo: wpool_module_new: %s\n", wpool_last_error());
      return TOOL_FAILED;
    }
  }
  fprintf(out,
          "wpool demo: %d modules (1 MiB memory, 64 KiB image each), %u instance slots, "
          "keep_resident %zu bytes (tables %zu), up to %d live instances; %llu instantiations\n",
          MODULES, cfg.instance_count, cfg.linear_memory_keep_resident, cfg.table_keep_resident, LIVE,
          (unsigned long long)iterations);

  wpool_instance_t *live[LIVE] = {0};
  uint64_t x = 88172645463325252ull, t0 = now_ns(), bad = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    /* Skewed popularity: module k with probability about 2^-(k+1). */
    int k = __builtin_ctzll(x | (1ull << (MODULES - 1)));
    wpool_instance_t **slot = &live[i % LIVE];
    if (*slot) wpool_instance_free(*slot);
    err = wpool_instance_new(pool, mods[k], slot);
    if (err) {
      fprintf(stderr, "wpool demo: wpool_instance_new: %s\n", wpool_last_error());
      return TOOL_FAILED;
    }
    uint8_t *mem = wpool_memory_base(*slot, 0);
    if (mem[100] != 'a' + k || mem[70000] != 0) bad++;
    /* The guest: dirty four pages, set a table element, write its state. */
    for (int p = 0; p < 4; p++) mem[70000 + p * 4096] = (uint8_t)i;
    wpool_table_base(*slot, 0)[7] = slot;
    memset(wpool_instance_state(*slot), 1, 64);
  }
  for (int j = 0; j < LIVE; j++)
    if (live[j]) wpool_instance_free(live[j]);
  uint64_t ns = now_ns() - t0;
  fprintf(out, "%.0f instantiations/s, %.2f us per cycle (new + 4 dirty pages + free); "
          "%llu instances saw a wrong byte\n",
          (double)iterations * 1e9 / (double)ns, (double)ns / 1e3 / (double)iterations,
          (unsigned long long)bad);
  wpool_stats_t s;
  wpool_stats_get(pool, &s);
  print_stats(out, &s);
  for (int k = 0; k < MODULES; k++) wpool_module_release(mods[k]);
  wpool_stats_get(pool, &s);
  fprintf(out, "after releasing every module: %llu images live, %llu slots drained\n",
          (unsigned long long)s.images_live, (unsigned long long)s.slots_drained);
  err = wpool_destroy(pool);
  if (err) {
    fprintf(stderr, "wpool demo: wpool_destroy: %s\n", wpool_last_error());
    return TOOL_FAILED;
  }
  return bad ? TOOL_FAILED : TOOL_OK;
}
