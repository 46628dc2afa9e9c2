/* The pool under concurrent instances, stacks and module replacement. */
#include <criterion/criterion.h>

#include "stress_pool.h"

static void check(bool background) {
  stress_pool_result_t r;
  stress_pool_run(4, 20000, background, &r);

  cr_assert_eq(r.isolation_failures, 0, "a new instance saw an earlier tenant's bytes");
  cr_assert_eq(r.errors, 0);
  cr_assert(r.index_valid);
  cr_assert_eq(r.live_instances, 0);
  cr_assert_eq(r.live_stacks, 0);
  cr_assert_eq(r.warm_plus_cold, r.capacity);
  cr_assert_lt(r.queued_at_end, 3, "a partial batch at most (decommit_batch_size 3)");
  cr_assert_eq(r.images_live_after, 0, "every image closed once its module is released");
  cr_assert_eq(r.destroy_result, 0);
  cr_assert_eq(r.frees, r.instances);
  cr_assert_gt(r.instances, 10000, "barely ran: %llu instances", (unsigned long long)r.instances);
  cr_assert_gt(r.releases, 100);
  cr_assert_gt(r.trims, 100);
  cr_assert_gt(r.exhausted, 0, "the scenario should reach exhaustion");
}

Test(pool_threads, concurrent_use_keeps_isolation_and_accounts_for_every_slot) { check(false); }

Test(pool_threads, the_same_with_a_background_reset_worker) { check(true); }
