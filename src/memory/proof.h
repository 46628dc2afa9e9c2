/* Knowing which pages a slot's tenants could have written, without a scan.
 *
 * A tenant writes its slot's memory where a page is present and writable
 * when its tenancy starts, or where a page fault makes one so: a fault
 * allocates an anonymous page, copies an image page on a write, brings a
 * page back from swap. When the automatic keep set (keep.h) ends a reset,
 * the private pages present in each of the slot's memories and tables are
 * exactly its kept pages: every other page the reset found was given
 * back. So if the process took no page fault from the start of the slot's
 * last reset to the start of this one, every page any tenant in between
 * could have written is a kept page, and the reset needs no PAGEMAP_SCAN:
 * it takes the kept pages for what the scan would have found.
 *
 * The kernel counts every thread's faults, faults it takes inside system
 * calls for us (a read() into the memory) among them, and
 * getrusage(RUSAGE_SELF) sums them (os_fault_count). What else could make
 * a page present without a fault of ours is ruled out:
 *   - khugepaged collapsing a range into a huge page fills its absent
 *     pages with zeros: the pools' mappings never have huge pages
 *     (pages.h); where that could not be set, nothing is proved;
 *   - a give-back the kernel refused leaves its pages present, restored
 *     by hand, no longer kept: the pool's refused bytes are in the record;
 *   - a child process starts its counts again: the process's id is;
 *   - a reset that leaves pages present but not kept (a budget set by
 *     hand, the prefix plan after a failed scan) leaves no record.
 * (Another process writing ours, a debugger's process_vm_writev, has the
 * process whole already.)
 *
 * Reading the count is a system call too, cheaper than a scan (measured:
 * costs.h count_ns against scan_ns, with the process's threads: getrusage
 * sums over them, 230 ns with one thread here, 1.2 us with 64, 17 us with
 * 1,000, against a reset's scans of 0.5 to 2 us by the module; so both
 * are learnt: keep_count_ns for the process as the pools read, and
 * keep_reset_scan_ns for each pool as it scans, a proved reset in
 * KEEP_SCAN_PROVED scanning anyway to keep the second learnt),
 * but it saves the scans only when no fault came between two
 * resets of the slot. So the pool learns how often
 * that is (the share of its recent tries that proved) and reads the count
 * at every free while that share of a scan is worth more than the read.
 * Else it tries now and then, each try two reads (at a free of some slot,
 * and at that slot's next free): the next try no sooner than a gap after
 * the last one started, the gap doubling with each try that fails, from
 * PROOF_GAP_MIN_NS to PROOF_GAP_MAX_NS, and back to the least after one
 * that proves. So a workload whose faults come in bursts is back to
 * reading at every free soon after a burst, and one that faults all the
 * time reads about twice per PROOF_GAP_MAX_NS. Not at a cadence counted in
 * frees: summing the process's threads' CPU times, getrusage(RUSAGE_SELF)
 * brings the scheduler's accounting up to date, so a thread whose time
 * slice has run out is preempted on its way back from the call instead of
 * at the next tick; reading at 2 frees in 16 made a loaded machine switch
 * the pool's threads out about 2.5x as often (their free p99 1.4 ms
 * against 0.05 ms without the reads: docs/performance.md). For the same
 * reason, where proofs pay, a read at every free on such a machine costs
 * more than it saves (a preemption at each slice's end, with what the
 * switch costs the caches, instead of one per tick): so the reads also
 * watch the process's involuntary switches, and while they come at
 * PROOF_PREEMPTED_MIN or more per PROOF_CONTENDED_NS, the pool reads for
 * tries only, PROOF_GAP_MAX_NS apart (proof_preempted). */
#ifndef WPOOL_PROOF_H
#define WPOOL_PROOF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/costs.h"

/* A slot's record: what the process's counts were when its last reset
 * started. Owned by the slot's holder. */
typedef struct proof_mark {
  uint64_t faults;  /* page faults of the process */
  uint64_t refused; /* the pool's give-backs refused, in bytes */
  uint64_t self;    /* os_self_id(); 0: no record (nothing can be proved) */
  bool tried;       /* left by the start of a try (its end sets the gap) */
} proof_mark_t;

/* A pool's tries: the share that proved, out of PROOF_ONE, a running
 * average over about the last 8. Relaxed: a lost update loses a sample. */
#define PROOF_ONE 1024u
/* While reading at every free does not pay: the least and the most time
 * between the starts of two tries, in ns. The most is longer than a
 * scheduler tick (1 to 10 ms), so that the reads do not set how often a
 * thread is preempted, and short enough that a workload turning provable
 * is seen within a tenth of a second. */
#define PROOF_GAP_MIN_NS 100000ull
#define PROOF_GAP_MAX_NS 10000000ull
/* The machine counts as oversubscribed while reads see PROOF_PREEMPTED_MIN
 * or more involuntary switches of the process in a window of
 * PROOF_CONTENDED_NS, and for PROOF_CONTENDED_NS after: 160 a second, where
 * a quiet machine shows a few (a thread preempted at every tick of a
 * 250 Hz kernel makes 250). */
#define PROOF_CONTENDED_NS 100000000ull
#define PROOF_PREEMPTED_MIN 16u
typedef struct proof_rate {
  _Atomic uint32_t share;
  _Atomic uint64_t next_try_ns; /* no try starts before (CLOCK_MONOTONIC) */
  _Atomic uint64_t gap_ns;      /* from the start of a try to the next */
  /* The process's involuntary switches at the last read; in the current
   * window (since window_ns) so far; oversubscribed until. */
  _Atomic uint64_t preempted, window_ns, window_preempted, contended_until_ns;
  _Atomic uint64_t proved;      /* resets that needed no scan (statistics) */
  keep_estimate_t scans;       /* what the scans a proof saves cost (costs.h) */
  /* Pages a reset that scanned found faulted in again during the tenancy
   * (keep_pass_t.faulted), where it found any: a running average over
   * about the last 8, in PROOF_GROUP_ONE-ths of a page (proof_fault_ns
   * shares a fault's cost among them). */
  _Atomic uint32_t group;
} proof_rate_t;
#define PROOF_GROUP_ONE 128u

void proof_rate_init(proof_rate_t *r);

/* One reset's proof. */
typedef struct proof {
  bool proved; /* the kept pages are all its tenants could have written */
  bool record; /* the counts were read and the slot's next reset is to use them */
  bool tried;  /* this read starts a try */
  bool timed;  /* this reset's scans are timed (costs.h keep_scan_note) */
  bool sample; /* proved, but scans to time its scans (keep_pass_t.warm) */
  uint64_t faults, refused, self;
} proof_t;

/* At the start of a slot's reset at `now_ns`, with the pool's refused
 * bytes now and this machine's costs: read the counts when it is worth it,
 * when the slot has a record to compare with, or to start a try, and
 * compare them with the record; and whether the reset's scans are timed
 * (one proved reset in KEEP_SCAN_PROVED is not proved, so that it scans
 * and is timed). */
proof_t proof_begin(proof_mark_t *mk, proof_rate_t *rate, uint64_t refused, const keep_costs_t *c,
                    uint64_t now_ns);
/* At its end: leave a record when `record` and the reset left exactly the
 * kept pages present (`exact`), else none. */
void proof_end(proof_mark_t *mk, const proof_t *pr, bool exact);
/* What a page given back costs the pool's proofs when a tenant writes it
 * again, ns (keep.h's window counts it beside the fault itself). The
 * fault voids the record of every slot whose last reset started before
 * it, so each of their next resets scans instead of reading the count: at
 * least those of the pool's `live` instances and of the slot being reset,
 * each paying a reset's scans less a read. But only where they would have
 * proved otherwise: times the share of recent resets that proved, at
 * least an eighth (a pool whose own give-backs void its proofs must still
 * see what they cost). And once per fault, not per page: the pages a
 * tenant faults in together share it (`group`). 0 where nothing is
 * proved, or where a read costs more than the scans it would save. */
uint64_t proof_fault_ns(const proof_rate_t *rate, const keep_costs_t *c, uint64_t live);
/* A reset that scanned found `pages` faulted in during the tenancy (0:
 * none, nothing learnt). */
void proof_group_note(proof_rate_t *rate, uint64_t pages);
/* What a read at `now_ns` saw of the process's involuntary switches
 * (proof_begin calls it; tests feed their own). */
void proof_preempted(proof_rate_t *rate, uint64_t preempted, uint64_t now_ns);

#endif
