/* Locked memory (issue 11, defect 3): the kernel refuses MADV_DONTNEED on
 * mlock'ed pages. A refusal to give back pages whose bytes are already
 * reset is not an error: instantiation goes on, resets restore the bytes
 * by hand, and the refusals are counted. Each Criterion test runs in its
 * own process, so mlockall stays inside it. */
#include <errno.h>
#include <sys/mman.h>

#include "fixture.h"

static const char img[] = "locked image";

static wpool_module_t *module(wpool_t *p) {
  static test_module_t t;
  tm_init(&t, 2, 16, 256);
  tm_segment(&t, 1000, img, sizeof(img));
  return make_module(p, &t);
}

static void expect_pristine(wpool_instance_t *in, int cycle) {
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert_eq(wpool_memory_pages(in, 0), 2, "cycle %d: min pages again", cycle);
  cr_assert(all_bytes(b, 1000, 0), "cycle %d: zero before the image", cycle);
  cr_assert_str_eq((char *)b + 1000, img, "cycle %d", cycle);
  cr_assert(all_bytes(b + 1000 + sizeof(img), 2 * PAGE - 1000 - sizeof(img), 0), "cycle %d", cycle);
  cr_assert(all_bytes(wpool_instance_state(in), 256, 0), "cycle %d: state", cycle);
}

/* A tenant grows its memory, locks it, dirties it, and is freed. */
static void locking_tenant(wpool_instance_t *in) {
  cr_assert_eq(wpool_memory_grow(in, 0, 6), 2);
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert_eq(mlock(b, 8 * PAGE), 0, "mlock: %s", strerror(errno));
  memset(b, 0xab, 8 * PAGE);
  memset(wpool_instance_state(in), 0xab, 256);
}

/* 20 tenants; with `still`, every other one does not grow, so its free
 * finds locked pages past its accessible bytes: PROT_NONE, and pristine
 * (writing them back by hand would fault). */
static void cycles_with(wpool_reset_strategy_t strategy, bool lock_all, size_t keep, bool still,
                        bool refusals) {
  if (!mlock_works()) cr_skip_test("mlock locks nothing here (a sanitizer's interceptor)");
  if (lock_all && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
    cr_skip_test("mlockall: %s", strerror(errno));
  wpool_config_t c = small_config();
  c.instance_count = 1;
  c.stack_count = 1;
  c.reset_strategy = strategy;
  c.linear_memory_keep_resident = keep;
  wpool_t *p = make_pool(&c);
  wpool_module_t *m = module(p);
  for (int i = 0; i < 20; i++) {
    wpool_instance_t *in = NULL;
    int err = wpool_instance_new(p, m, &in);
    cr_assert_eq(err, 0, "cycle %d: %s", i, wpool_last_error());
    expect_pristine(in, i);
    if (still && i % 2) {
      memset(wpool_memory_base(in, 0), 0xcd, PAGE);
    } else {
      locking_tenant(in);
    }
    wpool_instance_free(in);
  }
  if (refusals) cr_assert_gt(stats(p).madvise_refused_bytes, 0, "the refusals are counted");
  wpool_module_release(m);
  cr_assert_eq(wpool_destroy(p), 0);
}

static void cycles(wpool_reset_strategy_t strategy, bool lock_all) {
  cycles_with(strategy, lock_all, 64 * KiB, false, true);
}

Test(locked, a_tenant_that_locked_its_memory_does_not_break_the_next, .timeout = 60) {
  cycles(WPOOL_RESET_AUTO, false);
}
Test(locked, the_prefix_reset_restores_locked_pages_by_hand, .timeout = 60) {
  cycles(WPOOL_RESET_PREFIX, false);
}
Test(locked, a_process_with_mlockall_instantiates_every_time, .timeout = 60) {
  cycles(WPOOL_RESET_AUTO, true);
}

/* Locked pages past a smaller tenant's accessible bytes: every reset,
 * every budget, never writes them back by hand. */
Test(locked, locked_pages_past_a_shrink_are_never_written_dirty_budget, .timeout = 60) {
  cycles_with(WPOOL_RESET_AUTO, false, 64 * KiB, true, true);
}
Test(locked, locked_pages_past_a_shrink_are_never_written_prefix, .timeout = 60) {
  cycles_with(WPOOL_RESET_PREFIX, false, 0, true, true);
}
Test(locked, locked_pages_past_a_shrink_are_never_written_automatic, .timeout = 60) {
  setenv("WPOOL_KEEP_SHRINK_NS", "1", 1); /* grown pages kept: nothing given back */
  cycles_with(WPOOL_RESET_AUTO, false, WPOOL_KEEP_AUTO, true, false);
}
/* Grown pages given back at every free (a shrink made dear): refused. */
Test(locked, locked_grown_pages_given_back_by_the_automatic_budget, .timeout = 60) {
  setenv("WPOOL_KEEP_SHRINK_NS", "1000000000", 1);
  cycles_with(WPOOL_RESET_AUTO, false, WPOOL_KEEP_AUTO, true, true);
}
Test(locked, mlockall_with_the_automatic_budget, .timeout = 60) {
  setenv("WPOOL_KEEP_SHRINK_NS", "1000000000", 1);
  cycles_with(WPOOL_RESET_AUTO, true, WPOOL_KEEP_AUTO, true, true);
}
