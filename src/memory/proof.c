/* Resets without a scan when no page fault came between them (proof.h). */
#include "memory/proof.h"

#include "memory/os.h"
#include "memory/pages.h"
#include "util/options.h"

void proof_rate_init(proof_rate_t *r) {
  atomic_init(&r->share, PROOF_ONE); /* hopeful until tries say otherwise */
  atomic_init(&r->next_try_ns, 0);
  atomic_init(&r->gap_ns, PROOF_GAP_MIN_NS);
  atomic_init(&r->preempted, 0);
  atomic_init(&r->window_ns, 0);
  atomic_init(&r->window_preempted, 0);
  atomic_init(&r->contended_until_ns, 0);
  atomic_init(&r->proved, 0);
  keep_estimate_init(&r->scans);
  atomic_init(&r->group, PROOF_GROUP_ONE); /* a page */
}

/* Whether reading the counts at every free pays: the share of tries that
 * proved, each saving a scan, against one read. */
static bool worth_reading(const proof_rate_t *rate, const keep_costs_t *c) {
  uint64_t share = atomic_load_explicit(&rate->share, memory_order_relaxed);
  return share * keep_reset_scan_ns(&rate->scans, c) > (uint64_t)PROOF_ONE * keep_count_ns(c);
}

/* Whether anything can be proved: the count can be read, the pools'
 * mappings have no huge pages, and scans were not asked for always. */
static bool provable(const keep_costs_t *c) {
  return c->count_ns && !pages_no_huge_pages_failed() && !option_get(OPTION_SCAN_ALWAYS);
}

uint64_t proof_fault_ns(const proof_rate_t *rate, const keep_costs_t *c, uint64_t live) {
  if (!provable(c)) return 0;
  uint64_t scan = keep_reset_scan_ns(&rate->scans, c), read = keep_count_ns(c);
  if (scan <= read) return 0;
  /* Bounded: a window saturates long before. */
  uint64_t resets = live < (1u << 16) ? live + 1 : (1u << 16);
  uint64_t ns = resets * ((scan - read) < (1ull << 34) ? scan - read : 1ull << 34);
  uint64_t share = atomic_load_explicit(&rate->share, memory_order_relaxed);
  share = share > PROOF_ONE / 8 ? share : PROOF_ONE / 8;
  uint64_t group = atomic_load_explicit(&rate->group, memory_order_relaxed);
  /* ns x share / PROOF_ONE / (group / PROOF_GROUP_ONE), without overflow:
   * ns <= 2^50. */
  return ns * share / PROOF_ONE * PROOF_GROUP_ONE /
         (group > PROOF_GROUP_ONE ? group : PROOF_GROUP_ONE);
}

void proof_group_note(proof_rate_t *rate, uint64_t pages) {
  if (!pages) return;
  uint32_t g = atomic_load_explicit(&rate->group, memory_order_relaxed);
  /* g - g / 8 + PROOF_GROUP_ONE x pages / 8, rounded: it settles within
   * 4 of PROOF_GROUP_ONE x pages, a thirty-second of a page. */
  uint64_t add = (pages < (1u << 20) ? pages : 1u << 20) * (PROOF_GROUP_ONE / 8);
  uint64_t next = g - (g + 4) / 8 + add;
  atomic_store_explicit(&rate->group, next < UINT32_MAX ? (uint32_t)next : UINT32_MAX,
                        memory_order_relaxed);
}

/* Whether this free starts the pool's next try: the first to come at or
 * after its time. */
static bool try_starts(proof_rate_t *rate, uint64_t now_ns, bool contended) {
  uint64_t next = atomic_load_explicit(&rate->next_try_ns, memory_order_relaxed);
  uint64_t gap =
      contended ? PROOF_GAP_MAX_NS : atomic_load_explicit(&rate->gap_ns, memory_order_relaxed);
  return now_ns >= next &&
         atomic_compare_exchange_strong_explicit(&rate->next_try_ns, &next, now_ns + gap,
                                                 memory_order_relaxed, memory_order_relaxed);
}

/* Read and compare the counts (proof_begin): pr.proved is whether they
 * prove. */
static proof_t proof_read(proof_mark_t *mk, proof_rate_t *rate, uint64_t refused,
                          const keep_costs_t *c, uint64_t now_ns) {
  proof_t pr = {0};
  if (!provable(c)) return pr;
  bool contended = now_ns < atomic_load_explicit(&rate->contended_until_ns, memory_order_relaxed);
  bool every = !contended && worth_reading(rate, c), check = mk->self != 0;
  /* Not worth it at every free: a record left by a try (or from before)
   * is checked once; otherwise a free reads only to start a try. */
  if (!every && !check && !(pr.tried = try_starts(rate, now_ns, contended))) return pr;
  static _Thread_local uint32_t reads; /* this thread's: which read is timed */
  uint64_t preempted;
  /* A read for a try or a check comes seldom: timed, it is warmed first
   * (costs.h). */
  if (keep_count_read(&pr.faults, &preempted, reads++ % KEEP_COUNT_SAMPLE == 0, !every) != 0)
    return pr;
  proof_preempted(rate, preempted, now_ns);
  pr.record = every || !check;
  pr.refused = refused;
  pr.self = os_self_id();
  if (!check) return pr; /* nothing to compare with */
  pr.proved = mk->self == pr.self && mk->faults == pr.faults && mk->refused == pr.refused;
  uint32_t s = atomic_load_explicit(&rate->share, memory_order_relaxed);
  atomic_store_explicit(&rate->share, s - s / 8 + (pr.proved ? PROOF_ONE / 8 : 0),
                        memory_order_relaxed);
  /* The end of a try: the gap to the next. (A record left while reading
   * at every free, checked once after, is no try's.) */
  if (!every && mk->tried) {
    /* A proof pays where a read costs less than the scan it saves (not
     * with hundreds of threads, keep_count_ns): else the try counts as
     * failed. */
    bool pays = pr.proved && keep_reset_scan_ns(&rate->scans, c) > keep_count_ns(c);
    uint64_t gap = atomic_load_explicit(&rate->gap_ns, memory_order_relaxed);
    gap = pays ? PROOF_GAP_MIN_NS : gap * 2 < PROOF_GAP_MAX_NS ? gap * 2 : PROOF_GAP_MAX_NS;
    atomic_store_explicit(&rate->gap_ns, gap, memory_order_relaxed);
    /* After a proof the next try, should one be needed, may come at once
     * (not while the machine is oversubscribed: PROOF_GAP_MAX_NS apart). */
    if (pays && !contended) atomic_store_explicit(&rate->next_try_ns, now_ns, memory_order_relaxed);
  }
  return pr;
}

proof_t proof_begin(proof_mark_t *mk, proof_rate_t *rate, uint64_t refused, const keep_costs_t *c,
                    uint64_t now_ns) {
  proof_t pr = proof_read(mk, rate, refused, c, now_ns);
  /* Whether this reset's scans are timed, and whether a proved one scans
   * anyway for it (costs.h): so that what a proof saves stays learnt
   * where every reset is proved. */
  bool scan;
  pr.timed = keep_scan_sample(pr.proved, &scan);
  pr.sample = pr.proved && scan;
  pr.proved = !scan;
  if (pr.proved) atomic_fetch_add_explicit(&rate->proved, 1, memory_order_relaxed);
  return pr;
}

void proof_end(proof_mark_t *mk, const proof_t *pr, bool exact) {
  if (!pr->record || !exact) {
    mk->self = 0;
    return;
  }
  mk->faults = pr->faults;
  mk->refused = pr->refused;
  mk->self = pr->self;
  mk->tried = pr->tried;
}

void proof_preempted(proof_rate_t *rate, uint64_t preempted, uint64_t now_ns) {
  /* A plain load first: on a quiet machine the count does not move, and
   * nothing is written to the pool's shared line. Relaxed: a lost update
   * loses a few switches, no more. */
  uint64_t last = atomic_load_explicit(&rate->preempted, memory_order_relaxed);
  if (preempted == last) return;
  atomic_store_explicit(&rate->preempted, preempted, memory_order_relaxed);
  if (!last || preempted < last) return; /* the first read, or a new process's */
  uint64_t n = preempted - last;
  if (now_ns - atomic_load_explicit(&rate->window_ns, memory_order_relaxed) >= PROOF_CONTENDED_NS)
    atomic_store_explicit(&rate->window_ns, now_ns, memory_order_relaxed);
  else
    n += atomic_load_explicit(&rate->window_preempted, memory_order_relaxed);
  atomic_store_explicit(&rate->window_preempted, n, memory_order_relaxed);
  uint64_t min = option_get(OPTION_PREEMPTED_MIN);
  if (n >= (min ? min : PROOF_PREEMPTED_MIN))
    atomic_store_explicit(&rate->contended_until_ns, now_ns + PROOF_CONTENDED_NS,
                          memory_order_relaxed);
}
