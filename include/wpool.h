/* wpool: the pooling instance allocator of a WebAssembly-style runtime.
 *
 * One header, prefix wpool_ / WPOOL_. Every fallible call returns int: 0 on
 * success or a negative WPOOL_E* code (libuv style); wpool_last_error() then
 * holds this thread's message naming the limit and the value. A failed call
 * leaves the pool as it was. Sizes are in bytes unless a name says pages
 * (64 KiB WebAssembly pages) or elements. See docs/ for the design. */
#ifndef WPOOL_H
#define WPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WPOOL_BUILDING) && defined(__GNUC__)
#define WPOOL_EXPORT __attribute__((visibility("default")))
#else
#define WPOOL_EXPORT
#endif

#define WPOOL_VERSION_MAJOR 0
#define WPOOL_VERSION_MINOR 3
#define WPOOL_VERSION_PATCH 0

/* Error codes, one table: the codes, wpool_strerror() and this comment
 * all come from it (libuv's habit). All negative, so `if (err < 0)` tests
 * any failure.
 *   XX(name, number, meaning)  ->  WPOOL_<name> == -number */
#define WPOOL_ERRNO_MAP(XX)                                                           \
  XX(EINVAL, 1, "bad argument or bad configuration value")                            \
  XX(ELIMIT, 2, "a module does not fit the configured limits")                        \
  XX(EEXHAUSTED, 3, "every slot of that kind is in use")                              \
  XX(ENOMEM, 4, "host memory, address space or kernel mappings (vm.max_map_count) ran out") \
  XX(EBUSY, 5, "the pool still has live instances or stacks")                         \
  XX(ENOTSUP, 6, "a required feature is missing on this host")                        \
  XX(ESYS, 7, "operating-system failure")

typedef enum wpool_errno {
#define WPOOL_ERRNO_ENUM_(name, number, meaning) WPOOL_##name = -(number),
  WPOOL_ERRNO_MAP(WPOOL_ERRNO_ENUM_)
#undef WPOOL_ERRNO_ENUM_
} wpool_errno_t;

/* The name and meaning of a code from the table above, e.g.
 * "WPOOL_EEXHAUSTED: every slot of that kind is in use"; 0 gives "success".
 * Return: a static string; "unknown error" for a code not in the table.
 * Context: any thread, async-signal-safe. */
WPOOL_EXPORT const char *wpool_strerror(int err);

/* This thread's message for its last failed call, e.g. "memory 0: minimum of
 * 200 pages exceeds instance_memory_pages (160)".
 * Return: a thread-local string, "" when no call failed yet; valid until
 * this thread's next wpool call. Context: any thread. */
WPOOL_EXPORT const char *wpool_last_error(void);

/* Return: the library's version, "MAJOR.MINOR.PATCH" (a static string).
 * Context: any thread. */
WPOOL_EXPORT const char *wpool_version(void);

/* How a freed memory is reset (docs/reset.md). */
typedef enum wpool_reset_strategy {
  /* DIRTY where the kernel has the PAGEMAP_SCAN ioctl (Linux 6.7+), else
   * PREFIX (where WPOOL_KEEP_AUTO keeps nothing). The default. */
  WPOOL_RESET_AUTO = 0,
  /* memset the first linear_memory_keep_resident bytes, madvise the rest
   * of the accessible bytes (Wasmtime's reset). */
  WPOOL_RESET_PREFIX = 1,
  /* Find the pages a tenant left private data in (PAGEMAP_SCAN) and touch
   * only those: reset in place while linear_memory_keep_resident lasts,
   * madvise beyond it; clean pages cost nothing. wpool_create fails with
   * WPOOL_ENOTSUP where the kernel lacks the scan. */
  WPOOL_RESET_DIRTY = 2,
} wpool_reset_strategy_t;

/* ---------------------------------------------------------------------
 * Configuration: the PoolingAllocationConfig (field names follow
 * Wasmtime's). wpool_config_init() fills the defaults shown; sizes are
 * bytes and are rounded up to the host page size where noted.
 * ------------------------------------------------------------------- */
/* The largest decommit_batch_size: slots whose resets one call gives back. */
#define WPOOL_DECOMMIT_BATCH_MAX 64
/* The largest table_element_size, in bytes. */
#define WPOOL_TABLE_ELEMENT_MAX 256
/* linear_memory_keep_resident and table_keep_resident: let the pool decide,
 * per module and page, what to keep resident (docs/reset.md). The default. */
#define WPOOL_KEEP_AUTO SIZE_MAX

/* ABI promise (from version 0.2 on): wpool_config_t and wpool_stats_t only
 * ever grow at their end; a published field keeps its offset, type and
 * meaning. A program built against an older header keeps working with a
 * newer library: wpool_config_init() records the caller's sizeof in
 * `size`, wpool_create() reads that many bytes (fields past them take
 * their defaults) and wpool_stats_get() fills only as many bytes as the
 * caller's struct has. A program built against a newer header on an older
 * library: fields the library does not know must stay zero (as
 * wpool_config_init leaves them), or wpool_create fails with WPOOL_EINVAL.
 * From other languages, call wpool_config_init_sized() and
 * wpool_stats_get_sized() with the size of the struct you declared. */
typedef struct wpool_config {
  uint32_t size;                  /* sizeof(wpool_config_t) as the caller was built; 0: this header's */
  uint32_t instance_count;        /* instance slots: max concurrent instances (1000) */
  size_t instance_size;           /* bytes of runtime state per instance, page-rounded (1 MiB) */
  uint32_t max_unused_warm_slots; /* N of the slot policy, docs/index-allocator.md (100) */
  uint32_t instance_memories;     /* max defined linear memories per module (1) */
  uint64_t instance_memory_pages; /* max 64 KiB pages per memory (160) */
  uint64_t memory_reservation;    /* address space per memory, page-rounded; >= pages * 64 KiB (4 GiB) */
  uint64_t memory_guard_size;     /* PROT_NONE bytes after each memory, page-rounded (2 GiB) */
  bool guard_before_linear_memory; /* one guard of memory_guard_size before the first memory (true) */
  /* Bytes of each memory a reset keeps resident, restored in place; the
   * rest is given back (page-rounded). WPOOL_KEEP_AUTO: each page is kept
   * while its module's tenants need it, as this machine's cost of a page
   * fault against keeping a page decides (docs/reset.md) (WPOOL_KEEP_AUTO). */
  size_t linear_memory_keep_resident;
  uint32_t instance_tables;       /* max defined tables per module (1) */
  uint32_t instance_table_elements; /* max elements per table, of table_element_size bytes (10000) */
  size_t table_keep_resident;     /* as linear_memory_keep_resident, for tables (WPOOL_KEEP_AUTO) */
  uint32_t stack_count;           /* async stacks; 0 = no stack pool (1000) */
  size_t async_stack_size;        /* usable bytes per stack, page-rounded; a guard page below (2 MiB) */
  bool async_stack_zeroing;       /* zero a stack when it is freed (false) */
  size_t async_stack_keep_resident; /* with zeroing: top bytes reset by memset, page-rounded (0) */
  wpool_reset_strategy_t reset_strategy; /* how memories are reset (WPOOL_RESET_AUTO) */
  /* Freed instance slots whose reset gives pages back wait in a queue until
   * this many are waiting; then all their ranges go to the kernel in one
   * call and the slots return to the pool. 1 = at every free; at most
   * WPOOL_DECOMMIT_BATCH_MAX (1; see docs/reset.md for the measurement). */
  uint32_t decommit_batch_size;
  /* Reset freed slots on a worker thread (a POSIX thread of the pool):
   * wpool_instance_free only queues the slot and returns. An allocation
   * that finds every slot taken waits up to background_wait_ms
   * (milliseconds) for the worker before WPOOL_EEXHAUSTED. (false; 100) */
  bool background_reset;
  uint32_t background_wait_ms;
  /* --- version 0.3 --- */
  /* Bytes past a memory's base that the runtime's compiled code may touch
   * without a bounds check (wasm2c: 8 GiB, a 32-bit address plus a 32-bit
   * offset). wpool_create guarantees that every address in [base, base +
   * memory_unchecked_reach) is the memory's accessible bytes or faults, and
   * never another slot's, table's, state's or stack's byte; it refuses a
   * layout that cannot (memory_reservation + memory_guard_size shorter than
   * the reach) with WPOOL_EINVAL. 0: the runtime bounds-checks every access
   * itself (0; docs/runtime.md). */
  uint64_t memory_unchecked_reach;
  /* Bytes per table element, 1 to 256; an element of all zero bytes is the
   * empty one (sizeof(void *); wasm2c's funcref is 24). */
  size_t table_element_size;
} wpool_config_t;

/* Fill the `size` bytes at `cfg` with the defaults and set cfg->size to
 * `size` (bytes past this library's struct are zeroed). Return: nothing.
 * Context: any thread. */
WPOOL_EXPORT void wpool_config_init_sized(wpool_config_t *cfg, size_t size);
/* Fill `cfg` with the defaults shown above. A macro passing the caller's
 * sizeof, so that the ABI promise holds; the function of the same name
 * assumes this header's struct. Return: nothing. Context: any thread. */
WPOOL_EXPORT void wpool_config_init(wpool_config_t *cfg);
#define wpool_config_init(cfg) wpool_config_init_sized((cfg), sizeof(*(cfg)))

typedef struct wpool_s wpool_t;
typedef struct wpool_module_s wpool_module_t;
typedef struct wpool_instance_s wpool_instance_t;
typedef struct wpool_stack_s wpool_stack_t;

/* Validate every field of `cfg` and reserve the pools' address space
 * (docs/architecture.md). `cfg` is copied; the caller may reuse it.
 * Return: 0 with *out set; WPOOL_EINVAL naming the field and value (also
 * for sizes that overflow or exceed the host's address space, and for a
 * `size` the ABI promise rejects); WPOOL_ENOMEM when the reservation or
 * the kernel's mappings are refused; WPOOL_ENOTSUP (reset_strategy DIRTY
 * without PAGEMAP_SCAN); WPOOL_ESYS.
 * Nothing stays mapped or allocated on failure. Context: any thread. */
WPOOL_EXPORT int wpool_create(const wpool_config_t *cfg, wpool_t **out);

/* Release the pools. Slots on their way back (decommit queue, background
 * worker) are finished first; modules still held are released with it.
 * Return: 0; WPOOL_EBUSY (pool untouched) while instances or stacks are
 * live; WPOOL_EINVAL for NULL. Context: any thread, with no other call on
 * this pool running or to come. */
WPOOL_EXPORT int wpool_destroy(wpool_t *pool);

/* ---------------------------------------------------------------------
 * Modules: what a runtime knows about a compiled module.
 * ------------------------------------------------------------------- */
#define WPOOL_NO_MAX UINT64_MAX   /* memory without a maximum */
#define WPOOL_NO_MAX32 UINT32_MAX /* table without a maximum */
#define WPOOL_PAGE_SIZE 65536u    /* bytes in a WebAssembly page */

typedef struct wpool_data_segment {
  uint64_t offset; /* byte offset in the memory */
  const void *bytes;
  size_t len;
} wpool_data_segment_t;

typedef struct wpool_memory_desc {
  uint64_t min_pages;
  uint64_t max_pages; /* WPOOL_NO_MAX: none */
  bool shared;        /* shared memories are refused (WPOOL_ELIMIT) */
  const wpool_data_segment_t *segments; /* applied in order; later bytes win */
  size_t nsegments;
} wpool_memory_desc_t;

typedef struct wpool_table_desc {
  uint32_t min_elements;
  uint32_t max_elements; /* WPOOL_NO_MAX32: none */
} wpool_table_desc_t;

typedef struct wpool_module_desc {
  size_t state_size; /* bytes of instance state the runtime needs */
  const wpool_memory_desc_t *memories;
  uint32_t nmemories;
  const wpool_table_desc_t *tables;
  uint32_t ntables;
} wpool_module_desc_t;

/* Check `desc` against the pool's limits (WPOOL_ELIMIT with the exact
 * reason), copy what is needed from it (the caller may free `desc` and its
 * segments afterwards) and build each memory's copy-on-write image (a
 * sealed memfd) from its data segments. Shared memories are refused
 * (WPOOL_ELIMIT).
 * Return: 0 with *out set; WPOOL_ELIMIT with the exact reason (too many
 * memories or tables, min over the limit or over the module's own max,
 * state_size over instance_size, a data segment past min_pages, a shared
 * memory); WPOOL_EINVAL (NULL pointers); WPOOL_ENOMEM (memory, descriptors,
 * every module id in use); WPOOL_ESYS. Context: any thread. */
WPOOL_EXPORT int wpool_module_new(wpool_t *pool, const wpool_module_desc_t *desc,
                                  wpool_module_t **out);

/* The module-drop hook: drain every free slot affine to `module` (clearing
 * the affinity) and unmap its images from them, so each image's memfd is
 * released once no live instance maps it. Live instances keep working;
 * their slots are cleaned when they are freed. `module` must not be used
 * afterwards (releasing it twice aborts at debug level >= 1).
 * Return: nothing; NULL is ignored. Context: any thread. */
WPOOL_EXPORT void wpool_module_release(wpool_module_t *module);

/* ---------------------------------------------------------------------
 * Instances
 * ------------------------------------------------------------------- */

/* Allocate an instance of `module`: take a slot by the slot policy (affine
 * to `module`: a slot it used before first; docs/index-allocator.md), map
 * or keep the module's images, make min_pages of each memory accessible
 * and size each table to min_elements. A new instance never sees
 * a byte of an earlier tenant: memories read as zero outside the data
 * segments, tables read NULL, state reads zero. This holds for writes made
 * by this process's threads (and the kernel for them); an embedder that
 * writes a pool's memory from a clone(CLONE_VM) child that is not a thread,
 * or by userfaultfd copies, sets WPOOL_SCAN_ALWAYS=1 (docs/reset.md).
 * Return: 0 with *out set; WPOOL_EEXHAUSTED (every instance slot in use,
 * after flushing the decommit queue and waiting background_wait_ms for
 * the worker); WPOOL_EINVAL (NULL, a module of another pool or already
 * released); WPOOL_ENOMEM or WPOOL_ESYS (the slot is returned and nothing
 * stays mapped half-way). Context: any thread. */
WPOOL_EXPORT int wpool_instance_new(wpool_t *pool, wpool_module_t *module,
                                    wpool_instance_t **out);

/* Reset the slot (docs/reset.md: the bytes kept resident restored in
 * place, the rest given back; image bytes restored; tables to NULL; state
 * to zero) and return it to the pool, at once or by the way the config
 * chose (decommit_batch_size, background_reset). Never allocates, never
 * fails. Return: nothing; NULL is ignored, an instance already freed
 * aborts at debug level >= 1. Context: any thread; `inst` is not used
 * afterwards. */
WPOOL_EXPORT void wpool_instance_free(wpool_instance_t *inst);

/* Return: the instance's slot id, in [0, instance_count).
 * Context: the thread using `inst`. */
WPOOL_EXPORT uint32_t wpool_instance_slot(const wpool_instance_t *inst);

/* Return: the slot's state: the module's state_size bytes, zero at every
 * allocation (instance_size bytes are reserved, page-aligned).
 * Context: the thread using `inst`. */
WPOOL_EXPORT void *wpool_instance_state(wpool_instance_t *inst);

/* Memory `i`: bytes [0, pages * 64 KiB) are readable and writable; every
 * byte from there to the end of the reservation and its guard faults.
 * Return: the base (NULL for a memory the module does not define) and the
 * accessible size in 64 KiB pages (0 then). Context: the thread using
 * `inst`. */
WPOOL_EXPORT uint8_t *wpool_memory_base(wpool_instance_t *inst, uint32_t i);
WPOOL_EXPORT uint64_t wpool_memory_pages(const wpool_instance_t *inst, uint32_t i);

/* Grow memory `i` by `delta_pages` 64 KiB pages (the new bytes read zero).
 * Return: the old page count; WPOOL_ELIMIT past the module's max or
 * instance_memory_pages; WPOOL_EINVAL for a bad index; WPOOL_ENOMEM or
 * WPOOL_ESYS (memory unchanged on any failure).
 * Context: the thread using `inst`. */
WPOOL_EXPORT int64_t wpool_memory_grow(wpool_instance_t *inst, uint32_t i, uint64_t delta_pages);

/* Table `i`: elements [0, size) of table_element_size bytes each are
 * valid; an element of all zero bytes is the empty one (NULL for
 * pointer-sized elements). wpool_table_data and wpool_table_base return
 * the same address; wpool_table_base's type fits pointer-sized elements.
 * Return: the base (NULL for a table the module does not define) and the
 * size in elements (0 then). Context: the thread using `inst`. */
WPOOL_EXPORT void *wpool_table_data(wpool_instance_t *inst, uint32_t i);
WPOOL_EXPORT void **wpool_table_base(wpool_instance_t *inst, uint32_t i);
WPOOL_EXPORT uint32_t wpool_table_size(const wpool_instance_t *inst, uint32_t i);

/* Grow table `i` by `delta` elements, each a copy of the table_element_size
 * bytes at `init` (NULL: zero, the empty element).
 * Return: the old size in elements; WPOOL_ELIMIT past the module's max or
 * instance_table_elements; WPOOL_EINVAL for a bad index (table unchanged
 * on failure). Context: the thread using `inst`. */
WPOOL_EXPORT int64_t wpool_table_grow_with(wpool_instance_t *inst, uint32_t i, uint32_t delta,
                                           const void *init);

/* Grow table `i` of pointer-sized elements by `delta` elements set to
 * `init` (wpool_table_grow_with of &init).
 * Return: as wpool_table_grow_with; WPOOL_EINVAL too when `init` is not
 * NULL and table_element_size is not sizeof(void *). Context: the thread
 * using `inst`. */
WPOOL_EXPORT int64_t wpool_table_grow(wpool_instance_t *inst, uint32_t i, uint32_t delta,
                                      void *init);

/* ---------------------------------------------------------------------
 * Fault lookup, for a runtime's signal handler
 * ------------------------------------------------------------------- */
typedef enum wpool_region_kind {
  WPOOL_REGION_NONE = 0,
  WPOOL_REGION_MEMORY, /* a linear memory: its reservation and the guard after it */
  WPOOL_REGION_TABLE,
  WPOOL_REGION_STATE,
  WPOOL_REGION_STACK, /* an async stack and the guard page below it */
} wpool_region_kind_t;

typedef struct wpool_fault_info {
  wpool_region_kind_t kind;
  uint32_t slot;   /* instance slot; for stacks, the stack's index */
  uint32_t index;  /* memory or table index within the slot; 0 otherwise */
  /* Bytes from the base of that memory, table, state or stack. A stack's
   * base is its guard page (the usable bytes start one host page up); the
   * guard before the first memory belongs to memory 0 of slot 0 and its
   * offsets wrap below zero: (uint64_t)-(bytes below the base). */
  uint64_t offset;
  /* The byte can be read and written now. False: a guard, the stack's guard
   * page, or a memory's bytes past its accessible size. Tables and state
   * are read-write whole. */
  bool accessible;
  wpool_instance_t *instance; /* the live instance holding the slot, or NULL */
} wpool_fault_info_t;

/* Which of the pool's regions holds `addr`: every byte of the four
 * reservations counts, guards included (a memory's trailing guard belongs
 * to that memory, the guard before the first memory to memory 0 of slot
 * 0). O(1), lock-free, no allocation: a runtime calls it from its SIGSEGV
 * handler to tell a guest's trap (kind MEMORY, not accessible) from a host
 * bug, and to find the instance of a memory from an address.
 * Return: 0 with *out filled; WPOOL_EINVAL (out->kind WPOOL_REGION_NONE)
 * when `addr` is outside the pool, or for NULL pool or out.
 * Context: any thread, async-signal-safe. */
WPOOL_EXPORT int wpool_fault_lookup(const wpool_t *pool, const void *addr,
                                    wpool_fault_info_t *out);

/* ---------------------------------------------------------------------
 * Async stacks
 * ------------------------------------------------------------------- */

/* Take a stack (the lowest free one).
 * Return: 0 with *out set; WPOOL_EEXHAUSTED (all stack_count in use, or
 * stack_count is 0); WPOOL_EINVAL for NULL. Context: any thread. */
WPOOL_EXPORT int wpool_stack_new(wpool_t *pool, wpool_stack_t **out);
/* Return: the highest address of the stack (stacks grow down), 16-byte
 * aligned. Context: the thread using `s`. */
WPOOL_EXPORT void *wpool_stack_top(wpool_stack_t *s);
/* Return: the usable bytes below the top (async_stack_size rounded up to
 * the host page); a write below them hits the guard page.
 * Context: the thread using `s`. */
WPOOL_EXPORT size_t wpool_stack_size(const wpool_stack_t *s);
/* Give the stack back; with async_stack_zeroing it is zeroed first (top
 * async_stack_keep_resident bytes by memset, the rest by madvise).
 * Return: nothing; NULL is ignored, a stack already freed aborts at debug
 * level >= 1. Context: any thread; `s` is not used afterwards. */
WPOOL_EXPORT void wpool_stack_free(wpool_stack_t *s);

/* Issue the resets queued by decommit_batch_size now and return their
 * slots to the pool (docs/reset.md). Allocation does this by itself when
 * the pool is full, and so do wpool_trim and wpool_destroy. Return:
 * nothing; NULL is ignored. Context: any thread. */
WPOOL_EXPORT void wpool_decommit_flush(wpool_t *pool);

/* ---------------------------------------------------------------------
 * Idle trimming
 * ------------------------------------------------------------------- */

/* Give back the resident memory of unused instance slots freed at least
 * `idle_ns` nanoseconds ago: the bytes their resets kept resident, private
 * copies of image pages, table and state pages (madvise). Their affinity,
 * image mapping and place in the slot policy's order stay: a module that
 * comes back still finds its slot, and faults its pages in again;
 * wpool_uv.h runs it on a libuv timer. Each slot
 * is trimmed once per idle period. O(slots trimmed + idle slots already
 * trimmed); an allocation that picks a slot being trimmed waits for it.
 * Return: the number of slots trimmed (>= 0), or WPOOL_EINVAL for NULL.
 * Context: any thread; meant for a periodic timer (wpool_uv.h). */
WPOOL_EXPORT int64_t wpool_trim(wpool_t *pool, uint64_t idle_ns);

/* ---------------------------------------------------------------------
 * Observability. Counters are cumulative since wpool_create; gauges are
 * current. Reading takes no lock over the slots.
 * ------------------------------------------------------------------- */
typedef struct wpool_stats {
  /* gauges */
  uint64_t live_instances;
  uint64_t live_stacks;
  uint64_t live_modules;       /* created and not yet released */
  uint64_t warm_slots;         /* unused instance slots used before */
  uint64_t cold_slots;         /* instance slots never used */
  uint64_t kept_resident_bytes; /* bytes reset in place in unused slots and stacks (resident) */
  uint64_t images_live;        /* memfd images not yet closed */
  uint64_t heap_bytes;         /* the library's own heap (all pools) */
  uint64_t reserved_bytes;     /* address space reserved by this pool */
  uint64_t reset_strategy;     /* the strategy in effect: WPOOL_RESET_PREFIX or _DIRTY */
  uint64_t queued_slots;       /* freed slots waiting for their batched decommit */
  uint64_t background_pending; /* freed slots the background worker has not returned yet */
  /* counters */
  uint64_t instances_created;
  uint64_t affine_hits;        /* instance slots found affine to their module */
  uint64_t affine_misses;
  uint64_t exhausted;          /* WPOOL_EEXHAUSTED returns, instances and stacks */
  uint64_t image_maps;         /* images mapped into a slot */
  uint64_t image_unmaps;       /* images removed from a slot */
  uint64_t madvise_calls;
  uint64_t madvise_bytes;
  uint64_t memset_bytes;       /* bytes reset in place: memset, or image bytes copied back */
  uint64_t mprotect_calls;
  uint64_t slots_drained;      /* free slots cleared by wpool_module_release */
  uint64_t dirty_scans;        /* memories and tables walked by PAGEMAP_SCAN on free */
  uint64_t dirty_bytes;        /* private (dirty) bytes those walks found */
  uint64_t slots_trimmed;      /* wpool_trim: slots whose pages were given back */
  uint64_t trimmed_bytes;      /* wpool_trim: kept-resident bytes released */
  /* Bytes the kernel refused to give back (mlock'ed pages): a reset
   * restored them by hand instead, or they were pristine already. */
  uint64_t madvise_refused_bytes;
  /* --- version 0.3: gauges per kind --- */
  uint64_t memories_live;      /* linear memories of live instances */
  uint64_t tables_live;        /* tables of live instances */
  uint64_t stacks_warm;        /* unused stacks used before */
  /* kept_resident_bytes by kind; the four sum to kept_resident_bytes */
  uint64_t memory_kept_resident_bytes;
  uint64_t table_kept_resident_bytes;
  uint64_t state_kept_resident_bytes;
  uint64_t stack_kept_resident_bytes; /* async_stack_keep_resident of zeroed free stacks */
  /* --- version 0.3: the automatic keep set (WPOOL_KEEP_AUTO) --- */
  /* What the pool measured on this machine, per host page, and the rule
   * it drew: a kept page is read at one free of its slot in 16, and given
   * back after keep_window such reads in a row found it clean (so after
   * 16 x keep_window frees; a page past the accessible size counts as
   * clean at every free), keep_drop_min or more at a time. A region small
   * enough to zero whole is zeroed whole, never read; given back only when
   * it is no longer worth it (keep_reset_zero_ns) and starts over. The
   * costs are measured once per process (docs/reset.md). All zero when no
   * budget is automatic or the kernel lacks PAGEMAP_SCAN. */
  uint64_t keep_fault_ns;      /* faulting a page in */
  uint64_t keep_check_ns;      /* reading a kept page to see it is pristine */
  uint64_t keep_memset_ns;     /* zeroing a page */
  uint64_t keep_scan_ns;       /* one PAGEMAP_SCAN system call */
  uint64_t keep_madvise_ns;    /* one madvise of a resident page (a TLB flush) */
  /* The window: keep_fault_ns plus what a fault costs the pool's proofs
   * ((live instances + 1) x (keep_reset_scan_ns - keep_count_ns): the
   * next reset of each of their slots scans), weighted by the share of
   * reads that proved and shared among the pages faulted in again
   * together (neither is in the statistics), over what keeping a page
   * costs (docs/reset.md); as a free would judge now. A page written by
   * fewer than one tenant in keep_window goes back, no sooner than 16 x
   * keep_window frees of its slot after it was last found written. */
  uint64_t keep_window;        /* clean reads in a row, 1 to 254 */
  uint64_t keep_drop_min;      /* pages that make one call to give them back worth it */
  uint64_t keep_dropped_bytes; /* kept pages given back: clean for a window, grown into
                                  (see keep_shrink_ns), found in swap, or of a region
                                  zeroed whole that starts over */
  uint64_t module_moves;       /* slots that gave back another module's kept pages */
  /* Making a kept page inaccessible again (a smaller tenant's mprotect,
   * with its TLB flush), ns per page: learnt from this process's shrinks
   * so far. The pages a tenant grew into (past its module's minimum, up to
   * its accessible size) are given back at its free instead of kept while
   * this exceeds keep_fault_ns (plus one madvise over them), except at one
   * free of the slot in 16 and in regions zeroed whole. */
  uint64_t keep_shrink_ns;
  /* --- version 0.4: resets without a scan --- */
  /* Frees whose reset took the slot's kept pages for the pages its
   * tenants could have written, with no PAGEMAP_SCAN: the process had
   * taken no page fault since the slot's last reset began, so no page was
   * made present that was not kept then (docs/reset.md). */
  uint64_t resets_proved;
  /* Reading the process's page-fault count (getrusage), ns: measured with
   * the other costs, then learnt from the pools' reads, for the process
   * (the least of each 8 timed, one read in 16 of each thread's:
   * getrusage sums over the process's threads, so a process with 1,000
   * threads pays ~17 us here against 0.23 us with one; WPOOL_KEEP_COUNT_NS
   * pins it); the pool reads it at a free while the share of
   * its recent tries that proved, times keep_reset_scan_ns, is worth more and
   * the process is not being switched out involuntarily (16 times in 100
   * ms: WPOOL_PREEMPTED_MIN); otherwise only for tries, 100 us to 10 ms
   * apart (docs/reset.md). */
  uint64_t keep_count_ns;
  /* What the scans of one of this pool's resets cost, ns: what a proof
   * saves. keep_scan_ns until learnt from the pool's resets (the median
   * of each 8 timed: one scanned reset in 16 of each thread's, and one
   * proved reset in 128, which scans anyway to be timed; 0 where every
   * region is zeroed whole). It varies with the modules: hello's cost
   * about a third of keep_scan_ns here. WPOOL_KEEP_SCAN_NS pins it. */
  uint64_t keep_reset_scan_ns;
  /* What zeroing a page costs this pool's resets, ns: keep_memset_ns
   * until learnt from its resets (the median of each 8 timed: the resets
   * keep_reset_scan_ns times, their calls that restored 4 or more pages of
   * a region without an image). keep_memset_ns zeroes pages just faulted
   * in, from the cache; a reset zeroes pages its tenants left, often not
   * (here 120-150 ns a page against 74). A region without an image is
   * zeroed whole at every free instead of scanned while zeroing all its
   * pages costs less than a scan of them (priced from keep_scan_ns and a
   * call over one page; once its pages are all kept; a quarter more before
   * a region zeroed whole starts over: docs/reset.md). WPOOL_KEEP_ZERO_NS
   * pins it. */
  uint64_t keep_reset_zero_ns;
} wpool_stats_t;

/* Bytes of private memory in this pool's reservations (present or
 * swapped pages: memories, tables, state, stacks), counted exactly with one
 * PAGEMAP_SCAN walk per pool; image pages shared through the page cache are
 * not counted. Cost: proportional to the page tables populated, about a
 * millisecond for a default pool; for diagnostics and tools, not hot paths.
 * Return: 0 with *out set; WPOOL_ENOTSUP where the kernel lacks
 * PAGEMAP_SCAN (Linux before 6.7); WPOOL_EINVAL for NULL; WPOOL_ESYS.
 * Context: any thread. */
WPOOL_EXPORT int wpool_resident_bytes(wpool_t *pool, uint64_t *out);

/* Fill the first `size` bytes of `out` with this pool's statistics (all
 * zero when `pool` is NULL). Takes no lock over the slots; each field is
 * read atomically, the set of them is not one snapshot. Return: nothing.
 * Context: any thread. */
WPOOL_EXPORT void wpool_stats_get_sized(wpool_t *pool, wpool_stats_t *out, size_t size);
/* Fill `out`: a macro passing the caller's sizeof (see the ABI promise);
 * the function of the same name assumes this header's struct. */
WPOOL_EXPORT void wpool_stats_get(wpool_t *pool, wpool_stats_t *out);
#define wpool_stats_get(pool, out) wpool_stats_get_sized((pool), (out), sizeof(*(out)))

#ifdef __cplusplus
}
#endif
#endif /* WPOOL_H */
