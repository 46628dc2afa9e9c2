/* The roof: pool creation, destruction and statistics. */
#include <errno.h>
#include <string.h>

#include "memory/pages.h"
#include "pool/check.h"
#include "pool/config.h"
#include "pool/recycle.h"
#include "pool/slot.h"
#include "pool/stack.h"
#include "util/error.h"
#include "util/heap.h"

/* Reserve one pool of `bytes`; NULL for an empty pool. */
static int reserve(const char *what, uint64_t bytes, bool accessible, uint8_t **out) {
  *out = NULL;
  if (bytes == 0) return 0;
  int err = pages_reserve(bytes, accessible, out);
  if (err)
    return error_set(error_from_errno(err), "reserving %llu bytes for the %s pool: %s",
                     (unsigned long long)bytes, what, strerror(-err));
  return 0;
}

static void unreserve(uint8_t *p, uint64_t bytes) { pages_unreserve(p, bytes); }

/* Bytes of kept-page marks: a byte per tracked page of each memory slot
 * and table slot (WPOOL_KEEP_AUTO). */
static uint64_t marks_bytes(const wpool_t *p) {
  return (uint64_t)p->keep_memory_pages * p->layout.mem_slots +
         (uint64_t)p->keep_table_pages * p->layout.table_slots;
}

/* The per-slot records (pool/meta.h counts them): zero pages until a slot
 * is first used (slot.c), so none is written here. Return: 0 or -1. */
static int slot_arrays(wpool_t *p) {
  const layout_t *L = &p->layout;
  p->keep_memory_pages = L->keep_memory_auto ? keep_pages(L->mem_reservation, L->page) : 0;
  p->keep_table_pages = L->keep_table_auto ? keep_pages(L->table_slot_size, L->page) : 0;
  p->memslots = heap_array(L->mem_slots, sizeof(*p->memslots));
  p->table_sizes = heap_array(L->table_slots, sizeof(*p->table_sizes));
  p->instances = heap_array(p->cfg.instance_count, sizeof(*p->instances));
  p->stacks = heap_array(p->cfg.stack_count, sizeof(*p->stacks));
  if (!p->memslots || !p->table_sizes || !p->instances || !p->stacks) return -1;
  if (marks_bytes(p) && !(p->keep_bytes = heap_array(marks_bytes(p), 1))) return -1;
  if (p->keep_table_pages &&
      !(p->table_kept = heap_array(L->table_slots, sizeof(*p->table_kept))))
    return -1;
  return 0;
}

/* Each may be NULL. */
static void free_slot_arrays(wpool_t *p) {
  const layout_t *L = &p->layout;
  heap_array_free(p->keep_bytes, marks_bytes(p), 1);
  heap_array_free(p->table_kept, L->table_slots, sizeof(*p->table_kept));
  heap_array_free(p->memslots, L->mem_slots, sizeof(*p->memslots));
  heap_array_free(p->table_sizes, L->table_slots, sizeof(*p->table_sizes));
  heap_array_free(p->instances, p->cfg.instance_count, sizeof(*p->instances));
  heap_array_free(p->stacks, p->cfg.stack_count, sizeof(*p->stacks));
}

/* Settle the reset strategy: DIRTY needs the PAGEMAP_SCAN ioctl, probed
 * once here on a page of our own. */
static int choose_reset(wpool_t *p) {
  p->reset_strategy = WPOOL_RESET_PREFIX;
  if (p->cfg.reset_strategy == WPOOL_RESET_PREFIX) return 0;
  int err = dirty_scanner_probe(&p->scanner, (void *)((uintptr_t)p & ~(p->layout.page - 1)));
  if (err == 0) {
    p->reset_strategy = WPOOL_RESET_DIRTY;
    p->mem_ctx.scanner = &p->scanner;
    return 0;
  }
  if (p->cfg.reset_strategy == WPOOL_RESET_AUTO) return 0;
  if (err == -ENOTSUP)
    return error_set(WPOOL_ENOTSUP,
                     "reset_strategy: WPOOL_RESET_DIRTY needs the PAGEMAP_SCAN ioctl of "
                     "/proc/self/pagemap (Linux 6.7+), which this kernel lacks");
  return error_set(error_from_errno(err),
                   "reset_strategy: opening /proc/self/pagemap for WPOOL_RESET_DIRTY: %s",
                   strerror(-err));
}

WPOOL_EXPORT int wpool_create(const wpool_config_t *cfg, wpool_t **out) {
  if (!out) return error_set(WPOOL_EINVAL, "wpool_create: out is NULL");
  *out = NULL;
  layout_t L;
  wpool_config_t c;
  int err = config_validate(cfg, &c, &L);
  if (err) return err;
  cfg = &c;

  wpool_t *p = heap_calloc(1, sizeof(*p));
  if (!p) return error_set(WPOOL_ENOMEM, "wpool_create: out of memory for the pool record");
  p->cfg = c;
  p->layout = L;
  /* Before any failure path closes their descriptors. */
  dirty_scanner_init(&p->scanner);
  decommit_ctx_init(&p->decommit, &p->mem_counters);
  proof_rate_init(&p->proof_rate);
  keep_estimate_init(&p->zeros);
  p->mem_ctx = (memslot_ctx_t){.reservation = L.mem_reservation,
                                .keep = L.keep_memory,
                                .keep_auto = L.keep_memory_auto,
                                .counters = &p->mem_counters};


  err = WPOOL_ENOMEM;
  if (index_init(&p->index, cfg->instance_count, cfg->max_unused_warm_slots) != 0) {
    error_set(err, "wpool_create: out of memory for %u instance slots", cfg->instance_count);
    goto fail_index;
  }
  if (index_init(&p->stack_index, cfg->stack_count, 0) != 0) {
    error_set(err, "wpool_create: out of memory for %u stack slots", cfg->stack_count);
    goto fail_stack_index;
  }
  if (slot_arrays(p) != 0) {
    error_set(err, "wpool_create: out of memory for slot metadata");
    goto fail_arrays;
  }
  if (pthread_mutex_init(&p->module_lock, NULL) != 0) {
    err = error_set(WPOOL_ESYS, "wpool_create: pthread_mutex_init failed");
    goto fail_arrays;
  }
#if WPOOL_DEBUG >= 3
  if (pthread_rwlock_init(&p->check_lock, NULL) != 0) {
    err = error_set(WPOOL_ESYS, "wpool_create: pthread_rwlock_init failed");
    goto fail_check_lock;
  }
#endif

  /* Memories and every guard are inaccessible until an instance needs
   * them; tables and state are read-write (zero pages cost nothing until
   * touched); stacks are read-write but for their guard pages. */
  err = reserve("memory", L.mem_pool_bytes, false, &p->mem_map);
  if (err) goto fail_mem;
  err = reserve("table", L.table_pool_bytes, true, &p->table_map);
  if (err) goto fail_table;
  err = reserve("instance state", L.state_pool_bytes, true, &p->state_map);
  if (err) goto fail_state;
  err = reserve("stack", L.stack_pool_bytes, true, &p->stack_map);
  if (err) goto fail_stack;
  err = stack_guard_all(p);
  if (err) goto fail_guard;
  err = choose_reset(p);
  if (err) goto fail_guard;
  decommit_probe(&p->decommit);
  /* Measured once per process, here rather than at a first free. */
  if (p->mem_ctx.scanner && (L.keep_memory_auto || L.keep_table_auto)) keep_costs(&p->scanner);
  err = recycle_init(p); /* last: it may start the worker */
  if (err) goto fail_guard;
  *out = p;
  return 0;

fail_guard:
  unreserve(p->stack_map, L.stack_pool_bytes);
fail_stack:
  unreserve(p->state_map, L.state_pool_bytes);
fail_state:
  unreserve(p->table_map, L.table_pool_bytes);
fail_table:
  unreserve(p->mem_map, L.mem_pool_bytes);
fail_mem:
#if WPOOL_DEBUG >= 3
  pthread_rwlock_destroy(&p->check_lock);
fail_check_lock:
#endif
  pthread_mutex_destroy(&p->module_lock);
fail_arrays:
  free_slot_arrays(p);
  index_destroy(&p->stack_index);
fail_stack_index:
  index_destroy(&p->index);
fail_index:
  decommit_ctx_destroy(&p->decommit);
  dirty_scanner_destroy(&p->scanner);
  heap_free(p);
  return err;
}

WPOOL_EXPORT int wpool_destroy(wpool_t *p) {
  if (!p) return error_set(WPOOL_EINVAL, "wpool_destroy: pool is NULL");
  uint64_t live = atomic_load(&p->live_instances), stacks = atomic_load(&p->live_stacks);
  if (live || stacks)
    return error_set(WPOOL_EBUSY, "wpool_destroy: %llu instances and %llu stacks are still live",
                     (unsigned long long)live, (unsigned long long)stacks);
  /* Freed instances still on their way back: finish them first. */
  recycle_fini(p);
  /* Modules the runtime still holds go with the pool. No instance is live,
   * so each has only its handle's reference. */
  while (p->modules) wpool_module_release(p->modules);
  if (WPOOL_DEBUG >= 3 && !pool_is_valid(p)) debug_abort("wpool_destroy: pool invariant broken");
  /* Only memories some tenant had hold images: the rest of the records
   * were never touched, and are not now. */
  for (uint32_t s = 0, used = index_touched(&p->index); s < used; s++)
    for (uint32_t i = 0; i < p->instances[s].memories_used; i++)
      if (pool_memslot(p, s, i)->image) image_unref(pool_memslot(p, s, i)->image);
  decommit_ctx_destroy(&p->decommit);
  dirty_scanner_destroy(&p->scanner);
  unreserve(p->stack_map, p->layout.stack_pool_bytes);
  unreserve(p->state_map, p->layout.state_pool_bytes);
  unreserve(p->table_map, p->layout.table_pool_bytes);
  unreserve(p->mem_map, p->layout.mem_pool_bytes);
  pthread_mutex_destroy(&p->module_lock);
#if WPOOL_DEBUG >= 3
  pthread_rwlock_destroy(&p->check_lock);
#endif
  heap_free(p->free_ids);
  free_slot_arrays(p);
  index_destroy(&p->stack_index);
  index_destroy(&p->index);
  heap_free(p);
  return 0;
}

static void stats_fill(wpool_t *p, wpool_stats_t *out) {
  index_counters_t c;
  uint32_t warm, cold, stacks_warm;
  index_counters(&p->index, &c, &warm, &cold, NULL);
  index_counters(&p->stack_index, NULL, &stacks_warm, NULL, NULL);
  uint64_t km = atomic_load(&p->kept_memory), kt = atomic_load(&p->kept_table),
           ks = atomic_load(&p->kept_state), kk = atomic_load(&p->kept_stack);
  mem_counters_t *mc = &p->mem_counters;
  bool any_auto = p->layout.keep_memory_auto || p->layout.keep_table_auto;
  const keep_costs_t *kc = any_auto && p->mem_ctx.scanner ? keep_costs(&p->scanner) : NULL;
  keep_judge_t judge = kc ? slot_keep_judge(p, kc) : (keep_judge_t){0};
  *out = (wpool_stats_t){
      .keep_fault_ns = kc ? kc->fault_ns : 0,
      .keep_check_ns = kc ? kc->check_ns : 0,
      .keep_memset_ns = kc ? kc->memset_ns : 0,
      .keep_scan_ns = kc ? kc->scan_ns : 0,
      .keep_madvise_ns = kc ? kc->madvise_ns : 0,
      .keep_drop_min = judge.drop_min,
      .keep_window = judge.window,
      .keep_shrink_ns = kc ? keep_shrink_ns() : 0,
      .live_instances = atomic_load(&p->live_instances),
      .live_stacks = atomic_load(&p->live_stacks),
      .live_modules = atomic_load(&p->live_modules),
      .warm_slots = warm,
      .cold_slots = cold,
      .kept_resident_bytes = km + kt + ks + kk,
      .images_live = COUNTER_GET(mc, images_live),
      .heap_bytes = heap_allocated_bytes(),
      .reserved_bytes = p->layout.total_bytes,
      .reset_strategy = (uint64_t)p->reset_strategy,
      .queued_slots = atomic_load(&p->recycle.queued_slots),
      .background_pending = atomic_load(&p->recycle.background_pending),
      .instances_created = atomic_load(&p->instances_created),
      .affine_hits = c.affine_hits,
      .affine_misses = c.affine_misses,
      .exhausted = atomic_load(&p->exhausted),
      .image_maps = COUNTER_GET(mc, image_maps),
      .image_unmaps = COUNTER_GET(mc, image_unmaps),
      .madvise_calls = COUNTER_GET(mc, madvise_calls),
      .madvise_bytes = COUNTER_GET(mc, madvise_bytes),
      .memset_bytes = COUNTER_GET(mc, memset_bytes),
      .mprotect_calls = COUNTER_GET(mc, mprotect_calls),
      .slots_drained = atomic_load(&p->slots_drained),
      .dirty_scans = COUNTER_GET(mc, dirty_scans),
      .dirty_bytes = COUNTER_GET(mc, dirty_bytes),
      .slots_trimmed = atomic_load(&p->slots_trimmed),
      .trimmed_bytes = atomic_load(&p->trimmed_bytes),
      .madvise_refused_bytes = COUNTER_GET(mc, madvise_refused_bytes),
      .memories_live = atomic_load(&p->memories_live),
      .tables_live = atomic_load(&p->tables_live),
      .stacks_warm = stacks_warm,
      .memory_kept_resident_bytes = km,
      .table_kept_resident_bytes = kt,
      .state_kept_resident_bytes = ks,
      .stack_kept_resident_bytes = kk,
      .keep_dropped_bytes = COUNTER_GET(mc, keep_dropped_bytes),
      .module_moves = COUNTER_GET(mc, module_moves),
      .resets_proved = atomic_load_explicit(&p->proof_rate.proved, memory_order_relaxed),
      .keep_count_ns = kc ? keep_count_ns(kc) : 0,
      .keep_reset_scan_ns = kc ? keep_reset_scan_ns(&p->proof_rate.scans, kc) : 0,
      .keep_reset_zero_ns = kc ? keep_zero_ns(&p->zeros, kc) : 0,
  };
}

WPOOL_EXPORT void wpool_stats_get_sized(wpool_t *p, wpool_stats_t *user, size_t size) {
  wpool_stats_t s, *out = &s;
  memset(out, 0, sizeof(*out));
  if (p) stats_fill(p, out);
  memcpy(user, out, size < sizeof(*out) ? size : sizeof(*out));
  if (size > sizeof(*out)) memset((char *)user + sizeof(*out), 0, size - sizeof(*out));
}

WPOOL_EXPORT void(wpool_stats_get)(wpool_t *p, wpool_stats_t *out) {
  wpool_stats_get_sized(p, out, sizeof(*out));
}

/* The private bytes of a stack pool's run, less the guard pages inside
 * it: a guard marker (MADV_GUARD_INSTALL) is a page-table entry the scan
 * reports like a swapped page, but it holds no memory. Guards start every
 * stack slot. */
static uint64_t stack_run_bytes(const wpool_t *p, const dirty_run_t *r) {
  uint64_t slot = p->layout.stack_slot_size;
  uint64_t first = (r->off + slot - 1) / slot, last = (r->off + r->len - 1) / slot;
  return r->len - (last >= first ? (last - first + 1) * p->layout.page : 0);
}

WPOOL_EXPORT int wpool_resident_bytes(wpool_t *p, uint64_t *out) {
  if (!p || !out) return error_set(WPOOL_EINVAL, "resident_bytes: NULL argument");
  *out = 0;
  const struct {
    uint8_t *base;
    uint64_t len;
    bool guards; /* less the guard markers */
  } pools[] = {{p->mem_map, p->layout.mem_pool_bytes, false},
               {p->table_map, p->layout.table_pool_bytes, false},
               {p->state_map, p->layout.state_pool_bytes, false},
               {p->stack_map, p->layout.stack_pool_bytes, p->stack_guard_markers}};
  uint64_t total = 0;
  for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
    if (!pools[i].base) continue;
    dirty_walk_t walk;
    dirty_run_t runs[DIRTY_RUNS_MAX];
    int n;
    dirty_walk_start(&walk, &p->scanner, pools[i].base, pools[i].len);
    while ((n = dirty_walk_next(&walk, runs, DIRTY_RUNS_MAX)) > 0)
      for (int k = 0; k < n; k++) total += pools[i].guards ? stack_run_bytes(p, &runs[k]) : runs[k].len;
    if (n == -ENOTTY || n == -EINVAL || n == -ENOSYS)
      return error_set(WPOOL_ENOTSUP,
                       "resident_bytes: needs the PAGEMAP_SCAN ioctl (Linux 6.7+)");
    if (n < 0)
      return error_set(error_from_errno(n), "resident_bytes: PAGEMAP_SCAN: %s", strerror(-n));
  }
  *out = total;
  return 0;
}
