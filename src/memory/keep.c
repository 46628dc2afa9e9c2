/* The automatic keep set: the plan of a free, and applying it (keep.h). */
#include "memory/keep.h"

#include <string.h>

#include "memory/os.h"
#include "memory/region.h"
#include "util/debug.h"

/* Runs asked of a scan per call. */
#define KEEP_SCAN_RUNS DIRTY_RUNS_MAX

/* ---- the record ---------------------------------------------------------- */

void keep_marks_clear(keep_marks_t *m) {
  m->since = 0;
  m->whole = false;
  if (m->marks) memset(m->marks, 0, m->pages);
}

uint64_t keep_marks_between(const keep_marks_t *m, uint64_t first, uint64_t end) {
  uint64_t n = 0;
  for (uint64_t i = first; m->marks && i < end && i < m->pages; i++) n += m->marks[i] != 0;
  return n;
}

uint64_t keep_marks_count(const keep_marks_t *m) { return keep_marks_between(m, 0, m->pages); }

/* The end of the last kept page, by the marks. */
static uint64_t marks_end(const keep_marks_t *m, uint64_t page) {
  for (uint32_t i = m->pages; i-- > 0;)
    if (m->marks[i]) return (uint64_t)(i + 1) * page;
  return 0;
}

/* ---- planning ------------------------------------------------------------ */

/* A step of one page. */
static keep_step_t page_step(const keep_plan_t *pl, uint64_t p, keep_op_t op, unsigned mark) {
  return (keep_step_t){.off = p, .len = pl->page, .mark = (uint16_t)mark, .op = (uint8_t)op};
}

/* The page at `p` stays resident: restored in place unless `clean`. */
static keep_step_t plan_keep(keep_plan_t *pl, uint64_t p, bool clean, unsigned mark) {
  pl->out.kept_bytes += pl->page;
  if (!clean) pl->out.restored_bytes += pl->page;
  if (p + pl->page > pl->out.resident_end) pl->out.resident_end = p + pl->page;
  return page_step(pl, p, clean ? KEEP_OP_KEEP : KEEP_OP_RESTORE, mark);
}

/* A region without an image whose pages cost less to zero all than to
 * scan: zeroed whole and kept whole. Zeroing is priced at what it costs
 * the pool's resets (keep_judge_t.zero_ns, learnt: pages a tenant left
 * are often not in the cache), a scan at what one over the region's pages
 * costs. A page not resident faults in under the memset (a fault costs a
 * hundred zeroings or more), so while some are not, the region is
 * scanned (which marks the pages its tenants touch), until the scans
 * since its marks were last cleared (a module move, a trim) have cost
 * what faulting the rest in once would: then it is zeroed whole from then
 * on. Either way at most twice the better of the two, whether the next
 * move comes soon or never. A region zeroed whole stays so until zeroing
 * it costs a quarter more than the scan (costs learnt move a little from
 * window to window; each change costs faults); then it starts over. */
typedef enum whole_choice { SCAN, WHOLE, START_OVER } whole_choice_t;
static whole_choice_t zero_whole(const keep_plan_t *pl, const keep_costs_t *c) {
  const keep_region_t *r = pl->r;
  uint64_t pages = r->scan_bytes / pl->page;
  if (r->img || !c->scan_ns || pages > pl->m->pages || pl->give_back_from < r->scan_bytes)
    return SCAN;
  uint64_t zero = pages * pl->zero_ns, scan = keep_region_scan_ns(c, pages);
  if (pl->m->whole ? zero * 4 > scan * 5 : zero > scan) return pl->m->whole ? START_OVER : SCAN;
  /* Pages not kept (a table whose elements in use grew, too) fault in. */
  uint64_t missing = pages - keep_marks_between(pl->m, 0, pages);
  return !missing || (uint64_t)pl->since * scan >= missing * c->fault_ns ? WHOLE : SCAN;
}

unsigned keep_plan_start(keep_plan_t *pl, const keep_region_t *r, const keep_marks_t *m,
                         const keep_costs_t *c, const keep_judge_t *j, keep_step_t whole[2]) {
  pl->r = r;
  pl->m = m;
  pl->page = os_page_size();
  pl->give_back_from = UINT64_MAX;
  pl->reads = j ? j->window : c->window;
  pl->drop_min = j ? j->drop_min : c->drop_min;
  pl->zero_ns = j && j->zero_ns ? j->zero_ns : c->memset_ns;
  pl->timed = false;
  pl->zeroed_ns = pl->zeroed_pages = 0;
  pl->frees = m->frees + 1;
  pl->since = m->since < UINT32_MAX ? m->since + 1 : m->since;
  pl->whole = pl->zeroed_whole = pl->dropped = false;
  pl->ndrops = 0;
  pl->rs = pl->re = 0;
  pl->out = (keep_result_t){0};
  /* Pages the tenant grew into, up to its writable bytes: kept, the next
   * tenant's instantiation makes them inaccessible again, an mprotect whose
   * TLB flush may cost more than faulting them in again. (Pages already
   * past the writable bytes cost no shrink: they stay kept.) */
  if (r->writable_bytes > r->initial_bytes &&
      keep_give_back_grown((r->writable_bytes - r->initial_bytes) / pl->page, pl->frees))
    pl->give_back_from = r->initial_bytes;
  whole_choice_t choice = zero_whole(pl, c);
  if (choice == SCAN) return 0;
  if (choice == START_OVER) {
    /* No longer worth zeroing whole: the region starts over, as after a
     * module move, its pages given back and its marks cleared. Its next
     * tenants fault in the pages they use, and only those are kept (its
     * marks as they were would keep every page until it was found clean
     * for a window, a scan and a zeroing of each at every free). */
    pl->whole = true;
    pl->since = 0;
    pl->out.dropped_bytes = keep_marks_between(m, 0, r->scan_bytes / pl->page) * pl->page;
    whole[0] = (keep_step_t){0, r->scan_bytes, 0, KEEP_OP_GIVE_BACK};
    return 1;
  }
  /* Zeros over the writable bytes; past them the pages are pristine. */
  unsigned n = 0;
  pl->whole = pl->zeroed_whole = true;
  uint64_t w = r->scan_bytes < r->writable_bytes ? r->scan_bytes : r->writable_bytes;
  if (w) whole[n++] = (keep_step_t){0, w, KEEP_MARK_HELD, KEEP_OP_RESTORE};
  if (r->scan_bytes > w)
    whole[n++] = (keep_step_t){w, r->scan_bytes - w, KEEP_MARK_HELD, KEEP_OP_KEEP};
  pl->out = (keep_result_t){.kept_bytes = r->scan_bytes, .resident_end = r->scan_bytes,
                            .restored_bytes = w};
  return n;
}

/* keep_plan_page and keep_apply are inlined into keep_reset's pass (the
 * exported ones are for tests): two calls a page cost about 1% of the
 * cycle of a module that dirties 16 pages. */
static inline __attribute__((always_inline)) keep_step_t plan_page(keep_plan_t *pl, uint64_t p,
                                                                  bool swapped) {
  const keep_region_t *r = pl->r;
  const keep_marks_t *m = pl->m;
  uint64_t i = p / pl->page;
  bool tracked = i < m->pages;
  unsigned old = tracked ? m->marks[i] : 0, mark = old;
  if (!tracked || swapped || (p >= pl->give_back_from && p < r->writable_bytes)) {
    /* Untracked, in swap (resetting in place would read it back in), or
     * grown into and dearer to shrink over than to fault in: given back. */
    if (old) pl->out.dropped_bytes += pl->page;
    return page_step(pl, p, KEEP_OP_GIVE_BACK, 0);
  }
  /* Past the writable bytes a page is pristine: given up by a shrink
   * after the reset, out of every tenant's reach since. */
  bool writable = p < r->writable_bytes, clean = false;
  if (!mark) {
    /* Faulted in again (proof.h's group), not a tenant's whole working
     * set found after the marks were cleared (a fresh slot, a module
     * move, a trim): since counts this reset. */
    pl->out.new_pages += pl->since > 1;
    mark = 1;          /* needed: faulted in during this tenancy */
    clean = !writable; /* or left resident by a refused give-back, then shrunk */
  } else if (!writable || (i + pl->frees) % KEEP_SAMPLE == 0) {
    /* Kept, and its turn to be read. */
    clean = !writable || region_pristine(r->base, r->img, p, pl->page);
    if (!clean)
      mark = 1; /* written */
    else if (mark <= pl->reads)
      mark++;
  }
  if (mark > pl->reads && pl->ndrops < KEEP_DROPS_MAX) {
    /* Clean for a window: a candidate to give back, at every free until
     * a call takes it (giving back needs no read: it restores). */
    pl->drops[pl->ndrops].page = (uint32_t)i;
    pl->drops[pl->ndrops].mark = (uint8_t)mark;
    pl->drops[pl->ndrops++].clean = clean;
    return page_step(pl, p, KEEP_OP_LATER, KEEP_MARK_SAME);
  }
  /* Restored in place: written, new, or not its turn to be read. */
  return plan_keep(pl, p, clean, mark == old ? KEEP_MARK_SAME : mark);
}

keep_step_t keep_plan_page(keep_plan_t *pl, uint64_t p, bool swapped) {
  return plan_page(pl, p, swapped);
}

unsigned keep_plan_drops(keep_plan_t *pl, bool giving_back, keep_step_t *steps) {
  pl->dropped = pl->ndrops && (pl->ndrops >= pl->drop_min || giving_back);
  for (unsigned k = 0; k < pl->ndrops; k++) {
    uint64_t p = (uint64_t)pl->drops[k].page * pl->page;
    if (pl->dropped) {
      steps[k] = page_step(pl, p, KEEP_OP_GIVE_BACK, 0);
      pl->out.dropped_bytes += pl->page;
    } else {
      steps[k] = plan_keep(pl, p, pl->drops[k].clean, pl->drops[k].mark);
    }
  }
  unsigned n = pl->ndrops;
  pl->ndrops = 0;
  return n;
}

/* ---- applying ------------------------------------------------------------- */

void keep_apply_end(keep_plan_t *pl) {
  if (pl->re > pl->rs) {
    /* Zeros alone (no image) are what keep_judge_t.zero_ns learns, from
     * calls of a few pages (a page's are mostly the clock reads). */
    uint64_t t = keep_time_start(pl->timed && !pl->r->img &&
                                 pl->re - pl->rs >= KEEP_ZERO_PAGES_MIN * pl->page);
    region_restore(pl->r->base, pl->r->img, pl->rs, pl->re - pl->rs);
    if (t) {
      pl->zeroed_ns += keep_time_stop(t);
      pl->zeroed_pages += (pl->re - pl->rs) / pl->page;
    }
  }
  pl->rs = pl->re = 0;
}

static inline __attribute__((always_inline)) void apply(keep_plan_t *pl, keep_marks_t *m,
                                                       decommit_batch_t *batch,
                                                       const keep_step_t *s) {
  const keep_region_t *r = pl->r;
  debug_assert(m == pl->m && s->off % pl->page == 0 && s->len % pl->page == 0);
  if (s->mark != KEEP_MARK_SAME) {
    uint64_t first = s->off / pl->page, end = (s->off + s->len) / pl->page;
    for (uint64_t i = first; i < end && i < m->pages; i++)
      m->marks[i] = s->mark == KEEP_MARK_HELD ? (m->marks[i] ? m->marks[i] : 1) : (uint8_t)s->mark;
  }
  if (s->op == KEEP_OP_RESTORE) {
    if (pl->re != s->off) { /* not next to the restores waiting: make those first */
      keep_apply_end(pl);
      pl->rs = s->off;
    }
    pl->re = s->off + s->len;
  } else if (s->op == KEEP_OP_GIVE_BACK) {
    decommit_add(batch, r->base + s->off, s->len, r->base, r->img, r->writable_bytes);
  }
}

void keep_apply(keep_plan_t *pl, keep_marks_t *m, decommit_batch_t *batch, const keep_step_t *s) {
  apply(pl, m, batch, s);
}

/* ---- a free --------------------------------------------------------------- */

/* The kept pages of [0, end) pages, as a scan would find them when no
 * fault made another page present (proof.h): each planned and applied in
 * turn. Eight marks are read at a time, so a large region costs little
 * where it keeps nothing. */
static void kept_pages(keep_plan_t *pl, keep_marks_t *m, decommit_batch_t *batch, uint64_t end) {
  for (uint64_t i = 0; i < end;) {
    uint64_t word = 0;
    if (i + 8 <= end) {
      memcpy(&word, m->marks + i, 8);
      if (!word) {
        i += 8;
        continue;
      }
    }
    for (uint64_t k = i + 8 < end ? i + 8 : end; i < k; i++) {
      if (!m->marks[i]) continue;
      pl->out.found_bytes += pl->page;
      keep_step_t s = plan_page(pl, i * pl->page, false);
      apply(pl, m, batch, &s);
    }
  }
}

int keep_reset(const keep_region_t *r, keep_marks_t *m, dirty_scanner_t *scanner,
               keep_pass_t *pass, decommit_batch_t *batch, keep_result_t *out) {
  /* Whole pages; the writable bytes within those that may hold private
   * pages; a record to judge them by. */
  debug_assert(r->scan_bytes % os_page_size() == 0 && r->writable_bytes <= r->scan_bytes);
  debug_assert(r->initial_bytes <= r->writable_bytes);
  debug_assert(m->marks && m->pages > 0 &&
               (!r->img || r->img->offset + r->img->len <= r->writable_bytes));
  keep_plan_t pl;
  keep_step_t steps[KEEP_DROPS_MAX];
  unsigned nsteps =
      keep_plan_start(&pl, r, m, keep_costs(scanner), pass->judge.window ? &pass->judge : NULL, steps);
  pl.timed = pass->timed;
  int n = 0;
  if (!pl.whole) {
    /* Each read is one draw of "did this tenant write it": a page written
     * by fewer than one tenant in `window` is found clean `window` reads
     * in a row, about (1 - 1/window)^window = 37% of the time; one written
     * by one in ten, (0.9)^window, next to never. */
    if (pass->proved) {
      uint64_t end = r->scan_bytes / pl.page;
      kept_pages(&pl, m, batch, end < m->pages ? end : m->pages);
    } else {
      dirty_walk_t walk;
      dirty_run_t runs[KEEP_SCAN_RUNS];
      if (pass->warm) {
        dirty_walk_start(&walk, scanner, r->base, r->scan_bytes);
        while (dirty_walk_next(&walk, runs, KEEP_SCAN_RUNS) > 0) {
        }
      }
      dirty_walk_start(&walk, scanner, r->base, r->scan_bytes);
      for (;;) {
        uint64_t t = keep_time_start(pass->timed);
        n = dirty_walk_next(&walk, runs, KEEP_SCAN_RUNS);
        pass->scan_ns += keep_time_stop(t);
        if (n <= 0) break;
        for (int k = 0; k < n; k++) {
          pl.out.found_bytes += runs[k].len;
          for (uint64_t p = runs[k].off; p < runs[k].off + runs[k].len; p += pl.page) {
            /* A proved reset's sample scan checks the proof: it finds
             * nothing but kept pages (proof.h). */
            debug_assert(!pass->warm || (p / pl.page < m->pages && m->marks[p / pl.page]));
            keep_step_t s = plan_page(&pl, p, runs[k].swapped);
            apply(&pl, m, batch, &s);
          }
        }
      }
      pl.out.scans = 1;
    }
    keep_apply_end(&pl);
    /* The candidates go back when enough of them share the call, or with
     * ranges this free gives back anyway; else they stay kept. */
    nsteps = keep_plan_drops(&pl, batch->n > 0, steps);
  }
  for (unsigned k = 0; k < nsteps; k++) keep_apply(&pl, m, batch, &steps[k]);
  keep_apply_end(&pl);
  pass->faulted += pl.out.new_pages;
  pass->zero_ns += pl.zeroed_ns;
  pass->zero_pages += pl.zeroed_pages;
  m->frees = pl.frees;
  m->since = pl.since;
  m->whole = pl.zeroed_whole;
  /* A dropped page may have been the last kept. */
  if (pl.dropped) pl.out.resident_end = marks_end(m, pl.page);
  *out = pl.out;
  return n < 0 ? n : 0;
}
