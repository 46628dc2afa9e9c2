/* The automatic keep set (see keep.h). */
#include "memory/keep.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "memory/os.h"
#include "memory/pages.h"
#include "memory/region.h"
#include "util/clock.h"
#include "util/debug.h"
#include "util/heap.h"
#include "util/options.h"

/* ---- pristine pages ------------------------------------------------------ */

/* Zero? In chunks of 512 bytes, so that a written page (the common case
 * of a check) is told after its first written chunk, not its last byte;
 * eight words at a time within a chunk. */
static bool all_zero(const uint8_t *p, uint64_t len) {
  const uint64_t *w = (const uint64_t *)p;
  for (uint64_t i = 0; i < len / 8; i += 64) {
    uint64_t acc = 0;
    for (uint64_t k = i; k < i + 64; k += 8)
      acc |= w[k] | w[k + 1] | w[k + 2] | w[k + 3] | w[k + 4] | w[k + 5] | w[k + 6] | w[k + 7];
    if (acc) return false;
  }
  return true;
}

/* Whether the page at `off` of a region holds its pristine bytes: the
 * image's where the image lies, zeros elsewhere. */
static bool pristine(const uint8_t *base, const image_t *img, uint64_t off, uint64_t page) {
  if (img && off >= img->offset && off < img->offset + img->len)
    return memcmp(base + off, img->view + (off - img->offset), page) == 0;
  return all_zero(base + off, page);
}

/* ---- this machine's costs --------------------------------------------------- */

enum { MEASURE_PAGES = 64, MEASURE_ROUNDS = 3, SHRINK_PAGES = 16 };

/* Pages that stayed clean for a window wait for their call in an array of
 * this many; drop_min is at most this. */
#define KEEP_DROPS_MAX 64

static keep_costs_t costs;
static pthread_once_t costs_once = PTHREAD_ONCE_INIT;
static _Atomic(dirty_scanner_t *) costs_scanner; /* the first caller's, for the measurement */
static _Atomic uint64_t shrink_estimate; /* ns per page: keep_shrink_ns() */
static uint64_t shrink_pinned;           /* WPOOL_KEEP_SHRINK_NS, or 0 */
static uint64_t shrink_call_ns;          /* an mprotect over no resident page */

static void count_run(void *ctx, uint64_t off, uint64_t len, bool swapped) {
  (void)off, (void)swapped;
  *(uint64_t *)ctx += len;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void measure(void) {
  /* Used when the scratch mapping cannot be had: a bare-metal guess. */
  costs = (keep_costs_t){.fault_ns = 1000, .check_ns = 100, .memset_ns = 100};
  uint64_t page = os_page_size(), len = MEASURE_PAGES * page;
  uint8_t *b;
  if (pages_reserve(len, true, &b) == 0) {
    uint64_t fault = UINT64_MAX, check = UINT64_MAX, zero = UINT64_MAX, scan = UINT64_MAX,
             advise = UINT64_MAX, shrink = UINT64_MAX, shrink_call = UINT64_MAX;
    volatile bool sink = false;
    for (int round = 0; round < MEASURE_ROUNDS; round++) {
      if (os_madvise(b, len, MADV_DONTNEED) != 0) break;
      uint64_t t0 = clock_now_ns();
      for (uint64_t i = 0; i < len; i += page) ((volatile uint8_t *)b)[i] = 1;
      uint64_t t1 = clock_now_ns();
      for (uint64_t i = 0; i < len; i += page) memset(b + i, 0, page);
      uint64_t t2 = clock_now_ns();
      for (uint64_t i = 0; i < len; i += page) sink |= all_zero(b + i, page);
      uint64_t t3 = clock_now_ns(), found = 0;
      dirty_scanner_t *scanner = atomic_load_explicit(&costs_scanner, memory_order_relaxed);
      if (scanner && dirty_scan(scanner, b, len, count_run, &found) >= 0)
        scan = min_u64(scan, clock_now_ns() - t3);
      uint64_t t4 = clock_now_ns();
      if (os_madvise(b, page, MADV_DONTNEED) == 0) advise = min_u64(advise, clock_now_ns() - t4);
      /* A shrink of the size of a wasm page (16 host pages of 4 KiB), over
       * resident pages and over pages not resident: the difference is
       * what a resident page adds (its TLB flush), the rest the call's
       * own cost, paid whether the pages were kept or given back. */
      uint8_t *full = b + page, *empty = b + (1 + SHRINK_PAGES) * page;
      if (os_madvise(empty, SHRINK_PAGES * page, MADV_DONTNEED) != 0) break;
      uint64_t t5 = clock_now_ns();
      if (pages_protect(full, SHRINK_PAGES * page, false) != 0) break;
      uint64_t t6 = clock_now_ns();
      if (pages_protect(empty, SHRINK_PAGES * page, false) != 0) break;
      uint64_t t7 = clock_now_ns();
      if (pages_protect(full, 2 * SHRINK_PAGES * page, true) != 0) break;
      shrink_call = min_u64(shrink_call, t7 - t6);
      shrink = min_u64(shrink, (t6 - t5) > (t7 - t6) ? (t6 - t5 - (t7 - t6)) / SHRINK_PAGES : 0);
      fault = min_u64(fault, (t1 - t0) / MEASURE_PAGES);
      zero = min_u64(zero, (t2 - t1) / MEASURE_PAGES);
      check = min_u64(check, (t3 - t2) / MEASURE_PAGES);
    }
    (void)sink;
    pages_unreserve(b, len);
    if (fault != UINT64_MAX)
      costs = (keep_costs_t){.fault_ns = fault, .check_ns = check ? check : 1,
                             .memset_ns = zero ? zero : 1,
                             .scan_ns = scan != UINT64_MAX ? scan : 0,
                             .madvise_ns = advise != UINT64_MAX ? advise : 0,
                             .shrink_ns = shrink != UINT64_MAX ? shrink : 0};
    shrink_call_ns = shrink_call != UINT64_MAX ? shrink_call : 0;
  }
  shrink_pinned = option_get(OPTION_KEEP_SHRINK_NS);
  costs.shrink_ns = shrink_pinned ? shrink_pinned : costs.shrink_ns;
  atomic_store_explicit(&shrink_estimate, costs.shrink_ns, memory_order_relaxed);
  /* Keeping a page costs a zeroing at most frees of its slot and a read
   * at one in KEEP_SAMPLE; giving it back costs a fault when a tenant
   * needs it again. */
  uint64_t keep = costs.memset_ns + costs.check_ns / KEEP_SAMPLE;
  uint64_t w = costs.fault_ns / (keep ? keep : 1);
  /* For experiments and tests: the window chosen by hand, whatever the
   * costs (util/options.h). */
  if (option_get(OPTION_KEEP_WINDOW)) w = option_get(OPTION_KEEP_WINDOW);
  costs.window = (uint32_t)(w < 1 ? 1 : w > KEEP_WINDOW_MAX ? KEEP_WINDOW_MAX : w);
  /* A call that gives pages back pays a TLB flush: worth it once the
   * checks it saves over a window pay for it. */
  uint64_t d = option_get(OPTION_KEEP_DROP_MIN);
  if (!d) d = costs.madvise_ns / ((keep ? keep : 1) * costs.window);
  costs.drop_min = (uint32_t)(d < 1 ? 1 : d > KEEP_DROPS_MAX ? KEEP_DROPS_MAX : d);
}

const keep_costs_t *keep_costs(dirty_scanner_t *scanner) {
  /* The first scanner offered times the scan (any would do). */
  dirty_scanner_t *none = NULL;
  if (scanner)
    atomic_compare_exchange_strong_explicit(&costs_scanner, &none, scanner, memory_order_relaxed,
                                            memory_order_relaxed);
  pthread_once(&costs_once, measure);
  return &costs;
}

/* ---- shrinks ------------------------------------------------------------------ */

keep_shrink_timer_t keep_shrink_start(uint64_t pages) {
  return (keep_shrink_timer_t){.start_ns = pages ? clock_now_ns() : 0, .pages = pages};
}

void keep_shrink_done(keep_shrink_timer_t t) {
  if (t.pages) keep_shrink_note(clock_now_ns() - t.start_ns, t.pages);
}

void keep_shrink_note(uint64_t ns, uint64_t pages) {
  if (!pages || shrink_pinned) return;
  /* Per resident page: the call's own cost is paid anyway. A sample is
   * worth at most 4 faults, so that one preemption between the clock
   * reads does not decide for the next hundred shrinks. A running average
   * over about the last 8 shrinks, so that load that comes and goes moves
   * it; racing updates lose a sample, no more. */
  uint64_t s = (ns > shrink_call_ns ? ns - shrink_call_ns : 0) / pages;
  uint64_t cap = 4 * costs.fault_ns;
  if (s > cap) s = cap;
  uint64_t e = atomic_load_explicit(&shrink_estimate, memory_order_relaxed);
  atomic_store_explicit(&shrink_estimate, (7 * e + s) / 8, memory_order_relaxed);
}

uint64_t keep_shrink_ns(void) { return atomic_load_explicit(&shrink_estimate, memory_order_relaxed); }

bool keep_give_back_grown(uint64_t pages, uint32_t frees) {
  if (!pages || frees % KEEP_SAMPLE == 0) return false;
  const keep_costs_t *c = keep_costs(NULL);
  return pages * keep_shrink_ns() > pages * c->fault_ns + c->madvise_ns;
}

/* ---- records ------------------------------------------------------------------ */

void keep_marks_clear(keep_marks_t *m) {
  m->since = 0;
  if (m->marks) memset(m->marks, 0, m->pages);
}

uint64_t keep_marks_between(const keep_marks_t *m, uint64_t first, uint64_t end) {
  uint64_t n = 0;
  for (uint64_t i = first; m->marks && i < end && i < m->pages; i++) n += m->marks[i] != 0;
  return n;
}

uint64_t keep_marks_count(const keep_marks_t *m) { return keep_marks_between(m, 0, m->pages); }

/* ---- the reset ------------------------------------------------------------------ */


typedef struct walk {
  const keep_region_t *r;
  keep_marks_t *m;
  decommit_batch_t *batch;
  uint64_t page;
  keep_result_t *out;
  uint64_t rs_start, rs_end; /* pages to restore, gathered into one stretch */
  uint32_t reads; /* clean reads in a row that make a drop candidate */
  uint32_t drops[KEEP_DROPS_MAX]; /* page numbers */
  bool drop_clean[KEEP_DROPS_MAX]; /* read clean at this free: kept as it is if not dropped */
  uint32_t ndrops;
} walk_t;

/* Restore the gathered stretch in place: one memset (or image copy) for
 * neighbouring pages. */
static void restore_flush(walk_t *w) {
  if (w->rs_end > w->rs_start) {
    region_restore(w->r->base, w->r->img, w->rs_start, w->rs_end - w->rs_start);
    w->out->restored_bytes += w->rs_end - w->rs_start;
  }
  w->rs_start = w->rs_end = 0;
}

static void restore_page(walk_t *w, uint64_t p) {
  if (w->rs_end != p) {
    restore_flush(w);
    w->rs_start = p;
  }
  w->rs_end = p + w->page;
}

static void keep_page(walk_t *w, uint64_t p) {
  w->out->kept_bytes += w->page;
  if (p + w->page > w->out->resident_end) w->out->resident_end = p + w->page;
}

static void on_run(void *ctx, uint64_t off, uint64_t len, bool swapped) {
  walk_t *w = ctx;
  const keep_region_t *r = w->r;
  w->out->found_bytes += len;
  for (uint64_t p = off; p < off + len; p += w->page) {
    uint64_t i = p / w->page;
    uint8_t *mark = i < w->m->pages ? &w->m->marks[i] : NULL;
    if (!mark || swapped || (p >= r->give_back_from && p < r->writable_bytes)) {
      /* Untracked, in swap (resetting in place would read it back in), or
       * grown into and dearer to shrink over than to fault in: given back. */
      decommit_add(w->batch, r->base + p, w->page, r->base, r->img, r->writable_bytes);
      if (mark && *mark) w->out->dropped_bytes += w->page;
      if (mark) *mark = 0;
      continue;
    }
    /* Past the writable bytes a page is pristine: given up by a shrink
     * after the reset, out of every tenant's reach since. */
    bool writable = p < r->writable_bytes, clean = false;
    if (!*mark) {
      *mark = 1; /* needed: faulted in during this tenancy */
      clean = !writable; /* or left resident by a refused give-back, then shrunk */
    } else if (!writable || (i + w->m->frees) % KEEP_SAMPLE == 0) {
      /* Kept, and its turn to be read. */
      clean = !writable || pristine(r->base, r->img, p, w->page);
      if (!clean)
        *mark = 1; /* written */
      else if (*mark <= w->reads)
        (*mark)++;
    }
    if (*mark > w->reads && w->ndrops < KEEP_DROPS_MAX) {
      /* Clean for a window: a candidate to give back, at every free until
       * a call takes it (giving back needs no read: it restores). */
      w->drops[w->ndrops] = (uint32_t)i;
      w->drop_clean[w->ndrops++] = clean;
      continue;
    }
    /* Restored in place: written, new, or not its turn to be read. */
    if (!clean) restore_page(w, p);
    keep_page(w, p);
  }
}

/* A region without an image whose pages cost less to zero all than to
 * scan: zeroed whole and kept whole. A page not resident faults in under
 * the memset (a fault costs a hundred zeroings or more), so while some
 * are not, the region is scanned (which marks the pages its tenants
 * touch), until the scans since its marks were last cleared (a module
 * move, a trim) have cost what faulting the rest in once would: then it
 * is zeroed whole from then on. Either way at most twice the better of
 * the two, whether the next move comes soon or never. */
static bool restore_whole(const keep_region_t *r, keep_marks_t *m, const keep_costs_t *c,
                          uint64_t page, keep_result_t *out) {
  uint64_t pages = r->scan_bytes / page;
  if (r->img || !c->scan_ns || pages * c->memset_ns > c->scan_ns) return false;
  if (pages > m->pages || r->give_back_from < r->scan_bytes) return false;
  uint64_t missing = pages - keep_marks_between(m, 0, pages);
  if (missing && (uint64_t)m->since * c->scan_ns < missing * c->fault_ns) return false;
  for (uint64_t i = 0; i < pages; i++) m->marks[i] = m->marks[i] ? m->marks[i] : 1;
  uint64_t w = r->scan_bytes < r->writable_bytes ? r->scan_bytes : r->writable_bytes;
  memset(r->base, 0, w);
  *out = (keep_result_t){.kept_bytes = r->scan_bytes, .resident_end = r->scan_bytes,
                         .restored_bytes = w};
  return true;
}

int keep_reset(const keep_region_t *r, keep_marks_t *m, dirty_scanner_t *scanner,
               decommit_batch_t *batch, keep_result_t *out) {
  /* Whole pages; the writable bytes within those that may hold private
   * pages; a record to judge them by. */
  debug_assert(r->scan_bytes % os_page_size() == 0 && r->writable_bytes <= r->scan_bytes);
  debug_assert(m->marks && m->pages > 0 && (!r->img || r->img->offset + r->img->len <= r->writable_bytes));
  *out = (keep_result_t){0};
  const keep_costs_t *c = keep_costs(scanner);
  uint64_t page = os_page_size();
  m->frees++;
  if (m->since < UINT32_MAX) m->since++;
  if (restore_whole(r, m, c, page, out)) return 0;
  /* Each read is one draw of "did this tenant write it": a page written by
   * fewer than one tenant in `window` is found clean `window` reads in a
   * row, about (1 - 1/window)^window = 37% of the time; one written by one
   * in ten, (0.9)^window, next to never. */
  walk_t w = {.r = r, .m = m, .batch = batch, .page = page, .out = out,
              .reads = c->window};
  int64_t runs = dirty_scan(scanner, r->base, r->scan_bytes, on_run, &w);
  out->scans = 1;
  restore_flush(&w);
  /* The candidates go back when enough of them share the call, or with
   * ranges this free gives back anyway; else they stay kept. */
  bool drop = w.ndrops >= c->drop_min || batch->n > 0;
  for (uint32_t k = 0; k < w.ndrops; k++) {
    uint64_t p = (uint64_t)w.drops[k] * page;
    if (drop) {
      decommit_add(batch, r->base + p, page, r->base, r->img, r->writable_bytes);
      m->marks[w.drops[k]] = 0;
      out->dropped_bytes += page;
      continue;
    }
    if (!w.drop_clean[k]) {
      region_restore(r->base, r->img, p, page);
      out->restored_bytes += page;
    }
    keep_page(&w, p);
  }
  if (w.ndrops && drop) {
    /* Recompute: a dropped page may have been the last. */
    out->resident_end = 0;
    for (uint32_t i = m->pages; i-- > 0;)
      if (m->marks[i]) {
        out->resident_end = (uint64_t)(i + 1) * page;
        break;
      }
  }
  return runs < 0 ? (int)runs : 0;
}
