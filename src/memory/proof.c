/* Resets without a scan when no page fault came between them (proof.h). */
#include "memory/proof.h"

#include "memory/os.h"
#include "memory/pages.h"
#include "util/options.h"

void proof_rate_init(proof_rate_t *r) {
  atomic_init(&r->share, PROOF_ONE); /* hopeful until tries say otherwise */
  atomic_init(&r->proved, 0);
}

/* Whether reading the counts at every free pays: the share of tries that
 * proved, each saving a scan, against one read. */
static bool worth_reading(const proof_rate_t *rate, const keep_costs_t *c) {
  uint64_t share = atomic_load_explicit(&rate->share, memory_order_relaxed);
  return c->count_ns && share * c->scan_ns > (uint64_t)PROOF_ONE * c->count_ns;
}

proof_t proof_begin(proof_mark_t *mk, proof_rate_t *rate, uint64_t refused, const keep_costs_t *c) {
  proof_t pr = {0};
  uint32_t turn = mk->frees++ % KEEP_SAMPLE;
  if (!c->count_ns || pages_no_huge_pages_failed() || option_get(OPTION_SCAN_ALWAYS)) return pr;
  /* Not worth it at every free: at two in a row of KEEP_SAMPLE, the first
   * leaving the record the second tries. */
  if (!worth_reading(rate, c) && turn > 1) return pr;
  if (os_fault_count(&pr.faults) != 0) return pr;
  pr.read = true;
  pr.refused = refused;
  pr.self = os_self_id();
  if (!mk->self || (!worth_reading(rate, c) && turn == 0)) return pr; /* nothing to try */
  pr.proved = mk->self == pr.self && mk->faults == pr.faults && mk->refused == pr.refused;
  uint32_t s = atomic_load_explicit(&rate->share, memory_order_relaxed);
  atomic_store_explicit(&rate->share, s - s / 8 + (pr.proved ? PROOF_ONE / 8 : 0),
                        memory_order_relaxed);
  if (pr.proved) atomic_fetch_add_explicit(&rate->proved, 1, memory_order_relaxed);
  return pr;
}

void proof_end(proof_mark_t *mk, const proof_t *pr, bool exact) {
  if (!pr->read || !exact) {
    mk->self = 0;
    return;
  }
  mk->faults = pr->faults;
  mk->refused = pr->refused;
  mk->self = pr->self;
}
