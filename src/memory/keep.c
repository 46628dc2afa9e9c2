/* The automatic keep set (see keep.h). */
#include "memory/keep.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "memory/os.h"
#include "memory/region.h"
#include "util/clock.h"
#include "util/heap.h"

/* ---- pristine pages ------------------------------------------------------ */

static bool all_zero(const uint8_t *p, uint64_t len) {
  const uint64_t *w = (const uint64_t *)p;
  uint64_t acc = 0;
  for (uint64_t i = 0; i < len / 8; i += 8)
    acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7];
  return acc == 0;
}

/* Whether the page at `off` of a region holds its pristine bytes: the
 * image's where the image lies, zeros elsewhere. */
static bool pristine(const uint8_t *base, const image_t *img, uint64_t off, uint64_t page) {
  if (img && off >= img->offset && off < img->offset + img->len)
    return memcmp(base + off, img->view + (off - img->offset), page) == 0;
  return all_zero(base + off, page);
}

/* ---- this machine's costs --------------------------------------------------- */

enum { MEASURE_PAGES = 64, MEASURE_ROUNDS = 3 };

static keep_costs_t costs;
static pthread_once_t costs_once = PTHREAD_ONCE_INIT;

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void measure(void) {
  /* Used when the scratch mapping cannot be had: a bare-metal guess. */
  costs = (keep_costs_t){.fault_ns = 1000, .check_ns = 100, .memset_ns = 100};
  uint64_t page = os_page_size(), len = MEASURE_PAGES * page;
  void *p;
  if (os_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &p) == 0) {
    uint8_t *b = p;
    uint64_t fault = UINT64_MAX, check = UINT64_MAX, zero = UINT64_MAX;
    volatile bool sink = false;
    for (int round = 0; round < MEASURE_ROUNDS; round++) {
      if (os_madvise(b, len, MADV_DONTNEED) != 0) break;
      uint64_t t0 = clock_now_ns();
      for (uint64_t i = 0; i < len; i += page) ((volatile uint8_t *)b)[i] = 1;
      uint64_t t1 = clock_now_ns();
      for (uint64_t i = 0; i < len; i += page) memset(b + i, 0, page);
      uint64_t t2 = clock_now_ns();
      for (uint64_t i = 0; i < len; i += page) sink |= all_zero(b + i, page);
      uint64_t t3 = clock_now_ns();
      fault = min_u64(fault, (t1 - t0) / MEASURE_PAGES);
      zero = min_u64(zero, (t2 - t1) / MEASURE_PAGES);
      check = min_u64(check, (t3 - t2) / MEASURE_PAGES);
    }
    (void)sink;
    os_munmap(b, len);
    if (fault != UINT64_MAX)
      costs = (keep_costs_t){.fault_ns = fault, .check_ns = check ? check : 1,
                             .memset_ns = zero ? zero : 1};
  }
  /* Keeping a page costs a check at every free and, when it was written,
   * a restore; count half the frees as writes. */
  uint64_t keep = costs.check_ns + costs.memset_ns / 2;
  uint64_t w = keep ? costs.fault_ns / keep : KEEP_WINDOW_MAX;
  /* For experiments and tests: a window chosen by hand, whatever the
   * costs (docs/reset.md). */
  const char *env = getenv("WPOOL_KEEP_WINDOW");
  char *end;
  unsigned long e = env ? strtoul(env, &end, 10) : 0;
  if (env && *env && !*end && e >= 1) w = e;
  costs.window = (uint32_t)(w < 1 ? 1 : w > KEEP_WINDOW_MAX ? KEEP_WINDOW_MAX : w);
}

const keep_costs_t *keep_costs(void) {
  pthread_once(&costs_once, measure);
  return &costs;
}

/* ---- records ------------------------------------------------------------------ */

int keep_history_init(keep_history_t *h, uint64_t bytes, uint64_t page) {
  uint64_t b = bytes < KEEP_TRACK_BYTES ? bytes : KEEP_TRACK_BYTES;
  atomic_init(&h->epoch, 0);
  h->pages = (uint32_t)(b / page);
  h->last = NULL;
  if (!h->pages) return 0;
  h->last = heap_calloc(h->pages, sizeof(*h->last));
  return h->last ? 0 : -ENOMEM;
}

void keep_history_destroy(keep_history_t *h) {
  heap_free((void *)h->last);
  h->last = NULL;
  h->pages = 0;
}

void keep_bits_clear(keep_bits_t *bits) {
  if (bits->bits) memset(bits->bits, 0, (bits->pages + 63) / 64 * sizeof(uint64_t));
}

uint64_t keep_bits_count(const keep_bits_t *bits) {
  uint64_t n = 0;
  for (uint32_t i = 0; bits->bits && i < (bits->pages + 63) / 64; i++)
    n += (uint64_t)__builtin_popcountll(bits->bits[i]);
  return n;
}

/* ---- the reset ------------------------------------------------------------------ */

typedef struct walk {
  const keep_region_t *r;
  keep_history_t *h;
  keep_bits_t *bits;
  decommit_batch_t *batch;
  uint64_t page;
  uint16_t epoch;
  uint32_t window;
  keep_result_t *out;
} walk_t;

static void on_run(void *ctx, uint64_t off, uint64_t len, bool swapped) {
  walk_t *w = ctx;
  const keep_region_t *r = w->r;
  w->out->found_bytes += len;
  for (uint64_t p = off; p < off + len; p += w->page) {
    uint64_t i = p / w->page;
    bool tracked = i < w->bits->pages && i < w->h->pages;
    bool was_kept = tracked && (w->bits->bits[i / 64] >> (i % 64) & 1);
    bool writable = p < r->writable_bytes;
    /* A page past the writable bytes was pristine when they were given up
     * and nobody could touch it since. A kept page is checked; any other
     * page faulted in during this tenancy and was needed. */
    bool clean = !writable || (was_kept && !swapped && pristine(r->base, r->img, p, w->page));
    bool needed = !clean && writable;
    if (tracked && needed) atomic_store_explicit(&w->h->last[i], w->epoch, memory_order_relaxed);
    uint16_t last = tracked ? atomic_load_explicit(&w->h->last[i], memory_order_relaxed) : 0;
    bool keep = tracked && !swapped && (uint16_t)(w->epoch - last) < w->window;
    if (keep) {
      /* A page faulted in this tenancy may still be pristine (read only):
       * no write then. */
      if (!clean && !pristine(r->base, r->img, p, w->page)) {
        region_restore(r->base, r->img, p, w->page);
        w->out->restored_bytes += w->page;
      }
      w->bits->bits[i / 64] |= 1ull << (i % 64);
      w->out->kept_bytes += w->page;
      w->out->resident_end = p + w->page;
    } else {
      /* Given back; in swap, resetting in place would read it back in. */
      decommit_add(w->batch, r->base + p, w->page, r->base, r->img);
      if (was_kept) {
        w->bits->bits[i / 64] &= ~(1ull << (i % 64));
        w->out->dropped_bytes += w->page;
      }
    }
  }
}

int keep_reset(const keep_region_t *r, keep_history_t *h, keep_bits_t *bits,
               dirty_scanner_t *scanner, decommit_batch_t *batch, keep_result_t *out) {
  *out = (keep_result_t){0};
  walk_t w = {.r = r,
              .h = h,
              .bits = bits,
              .batch = batch,
              .page = os_page_size(),
              .epoch = (uint16_t)(atomic_fetch_add_explicit(&h->epoch, 1, memory_order_relaxed) + 1),
              .window = keep_costs()->window,
              .out = out};
  int64_t runs = dirty_scan(scanner, r->base, r->scan_bytes, on_run, &w);
  return runs < 0 ? (int)runs : 0;
}
