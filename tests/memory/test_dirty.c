/* The dirty-aware reset (WPOOL_RESET_DIRTY): pristine slots under both
 * strategies for dirty pages before, inside, straddling and after the
 * image, in the budget and beyond it; exact accounting; clean pages cost
 * nothing; thousands of separate runs; fork; and the fallbacks. */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fixture.h"
#include "memory/os.h"
#include "pool/types.h"

#define HP 4096u /* host page */

static uint8_t img[3 * HP + 100];

/* One slot; a 16-page memory whose image covers host pages 4..7 (the last
 * partly). */
static wpool_t *pool_with(wpool_reset_strategy_t strategy, uint64_t keep, test_module_t *t,
                          wpool_module_t **m) {
  wpool_config_t c = small_config();
  c.instance_count = 1;
  c.linear_memory_keep_resident = keep;
  c.table_keep_resident = 64 * KiB;
  c.reset_strategy = strategy;
  wpool_t *p = make_pool(&c);
  for (size_t i = 0; i < sizeof(img); i++) img[i] = (uint8_t)(i * 7 + 1);
  tm_init(t, 16, 16, 512);
  tm_segment(t, 4 * HP, img, sizeof(img));
  *m = make_module(p, t);
  return p;
}

static void expect_pristine(wpool_instance_t *in, const test_module_t *t, const char *what) {
  uint8_t *b = wpool_memory_base(in, 0);
  uint64_t bytes = wpool_memory_pages(in, 0) * PAGE;
  const wpool_data_segment_t *g = &t->seg[0];
  cr_assert(all_bytes(b, g->offset, 0), "%s: zero before the image", what);
  cr_assert_eq(memcmp(b + g->offset, g->bytes, g->len), 0, "%s: the image", what);
  cr_assert(all_bytes(b + g->offset + g->len, bytes - g->offset - g->len, 0),
            "%s: zero after the image", what);
  cr_assert(all_bytes(wpool_instance_state(in), 512, 0), "%s: state", what);
}

/* Dirty-page patterns, in host pages of the memory (image: pages 4..7). */
typedef struct dirty_pattern {
  const char *name;
  uint32_t pages[8];
  int n;
} dirty_pattern_t;

static const dirty_pattern_t patterns[] = {
    {"before the image", {0, 2, 3}, 3},
    {"inside the image", {4, 6}, 2},
    {"straddling the image", {3, 4, 7, 8}, 4},
    {"after the image", {9, 10, 11}, 3},
    {"far beyond", {100, 200, 255}, 3},
    {"everywhere", {0, 5, 7, 8, 64, 128, 254, 255}, 8},
};

Test(dirty, every_strategy_leaves_the_slot_pristine_for_every_pattern_and_budget) {
  const wpool_reset_strategy_t strategies[] = {WPOOL_RESET_PREFIX, WPOOL_RESET_DIRTY};
  const uint64_t keeps[] = {0, 2 * HP, 1 * MiB};
  int cases = 0;
  for (int s = 0; s < 2; s++)
    for (int k = 0; k < 3; k++) {
      test_module_t t;
      wpool_module_t *m;
      wpool_t *p = pool_with(strategies[s], keeps[k], &t, &m);
      for (size_t q = 0; q < sizeof(patterns) / sizeof(patterns[0]); q++) {
        char what[128];
        snprintf(what, sizeof(what), "strategy %d, keep %llu, dirty %s", (int)strategies[s],
                 (unsigned long long)keeps[k], patterns[q].name);
        /* Twice: the second round meets pages kept resident by the first. */
        for (int round = 0; round < 2; round++) {
          wpool_instance_t *in = make_instance(p, m);
          expect_pristine(in, &t, what);
          uint8_t *b = wpool_memory_base(in, 0);
          for (int i = 0; i < patterns[q].n; i++)
            memset(b + (uint64_t)patterns[q].pages[i] * HP + 10, 0xd1, HP - 20);
          memset(wpool_instance_state(in), 0xd1, 512);
          wpool_instance_free(in);
          in = make_instance(p, m);
          expect_pristine(in, &t, what);
          wpool_instance_free(in);
          cases++;
        }
      }
      cr_assert_eq(stats(p).reset_strategy, (uint64_t)strategies[s]);
      wpool_module_release(m);
      cr_assert_eq(wpool_destroy(p), 0);
    }
  cr_log_info("%d reset cases", cases);
}

Test(dirty, only_dirty_pages_are_touched_budget_first_then_madvise) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = pool_with(WPOOL_RESET_DIRTY, 2 * HP, &t, &m);
  wpool_instance_t *in = make_instance(p, m);
  uint8_t *b = wpool_memory_base(in, 0);
  b[1 * HP] = 1;  /* in place: the budget's first page */
  b[5 * HP] = 1;  /* in place: an image page, copied back */
  b[9 * HP] = 1;  /* beyond the budget: madvise */
  b[10 * HP] = 1; /* beyond, adjacent: the same madvise */
  b[50 * HP] = 1; /* beyond: a second madvise */
  wpool_stats_t s0 = stats(p);
  wpool_instance_free(in);
  wpool_stats_t s1 = stats(p);
  cr_assert_eq(s1.dirty_scans - s0.dirty_scans, 1);
  cr_assert_eq(s1.dirty_bytes - s0.dirty_bytes, 5 * HP, "exactly the written pages");
  /* 2 pages of memory in place, the table's page (its 64 KiB budget) and
   * the 512 state bytes. */
  cr_assert_eq(s1.memset_bytes - s0.memset_bytes, 2 * HP + HP + 512, "in place %llu",
               (unsigned long long)(s1.memset_bytes - s0.memset_bytes));
  cr_assert_eq(s1.madvise_bytes - s0.madvise_bytes, 3 * HP, "never a clean page");
  /* Two memory ranges in one process_madvise (two madvise calls on a
   * kernel that refuses it); the table is memset (64 KiB budget). */
  uint64_t calls = s1.madvise_calls - s0.madvise_calls;
  cr_assert(calls == 1 || (p->decommit.no_pmadv && calls == 2), "%llu calls",
            (unsigned long long)calls);
  in = make_instance(p, m);
  expect_pristine(in, &t, "after the counted reset");
}

/* Reading the image maps the memfd's page-cache pages, which hold no
 * private data. (Reading untouched anonymous memory maps the shared zero
 * page on most kernels, but some, such as this project's VM, allocate a
 * page on a read fault, so such pages count as dirty there.) */
Test(dirty, an_instance_that_only_reads_its_image_costs_no_system_call_beyond_the_scan) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = pool_with(WPOOL_RESET_DIRTY, 0, &t, &m);
  wpool_instance_t *in = make_instance(p, m);
  volatile uint8_t sink = wpool_memory_base(in, 0)[5 * HP];
  sink = wpool_memory_base(in, 0)[7 * HP + 50];
  (void)sink;
  wpool_stats_t s0 = stats(p);
  uint64_t madvise0 = os_calls(OS_MADVISE);
  wpool_instance_free(in);
  wpool_stats_t s1 = stats(p);
  cr_assert_eq(s1.dirty_bytes - s0.dirty_bytes, 0, "dirty %llu", (unsigned long long)(s1.dirty_bytes - s0.dirty_bytes));
  cr_assert_eq(os_calls(OS_MADVISE) - madvise0, 0);
  cr_assert_eq(s1.memset_bytes - s0.memset_bytes, 512 + HP, "only the state and the table");
}

Test(dirty, thousands_of_separate_runs_are_all_found_and_reset, .timeout = 120) {
  wpool_config_t c = small_config();
  c.instance_count = 1;
  c.instance_memory_pages = 256; /* 16 MiB: 4096 host pages */
  c.memory_reservation = 16 * MiB;
  c.linear_memory_keep_resident = 1 * MiB;
  c.reset_strategy = WPOOL_RESET_DIRTY;
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 256, 256, 0);
  t.desc.ntables = 0;
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in = make_instance(p, m);
  uint8_t *b = wpool_memory_base(in, 0);
  for (uint32_t pg = 0; pg < 4096; pg += 2) b[(uint64_t)pg * HP + pg % 4000] = 0xaa;
  wpool_stats_t s0 = stats(p);
  wpool_instance_free(in);
  wpool_stats_t s1 = stats(p);
  cr_assert_eq(s1.dirty_bytes - s0.dirty_bytes, 2048ull * HP, "2048 runs of one page");
  cr_assert_eq(s1.memset_bytes - s0.memset_bytes, 1 * MiB, "the budget");
  cr_assert_eq(s1.madvise_bytes - s0.madvise_bytes, 2048ull * HP - 1 * MiB);
  /* 1792 separate runs beyond the budget: batched 64 to a call. */
  uint64_t calls = s1.madvise_calls - s0.madvise_calls;
  if (!p->decommit.no_pmadv) cr_assert_eq(calls, 28, "%llu calls", (unsigned long long)calls);
  in = make_instance(p, m);
  cr_assert(all_bytes(wpool_memory_base(in, 0), 16 * MiB, 0));
}

/* How a child process is made: fork() runs the atfork handlers; _Fork()
 * and a raw clone(SIGCHLD) do not, and the pool must notice the new
 * process all the same. */
typedef enum spawn { SPAWN_FORK, SPAWN_UNDERSCORE_FORK, SPAWN_CLONE } spawn_t;

static pid_t spawn(spawn_t how) {
  fflush(NULL);
  switch (how) {
  case SPAWN_FORK:
    return fork();
  case SPAWN_UNDERSCORE_FORK:
    return _Fork();
  default:
    return (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
  }
}

static void child_scans_its_own_pages(spawn_t how) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = pool_with(WPOOL_RESET_DIRTY, 0, &t, &m);
  /* The parent opens its pagemap descriptor and pidfd with a first cycle. */
  wpool_instance_t *in = make_instance(p, m);
  wpool_memory_base(in, 0)[HP] = 1;
  wpool_memory_base(in, 0)[20 * HP] = 1;
  wpool_instance_free(in);
  pid_t pid = spawn(how);
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    /* In the child: the parent's descriptor would describe the parent's
     * pages, where this slot is clean, and miss what the child writes. */
    wpool_instance_t *c = NULL;
    if (wpool_instance_new(p, m, &c) != 0) _exit(10);
    /* One byte (the reproducer), then separate pages: several
     * ranges, madvised in one process_madvise on a pidfd that must name
     * the child, not the parent. */
    wpool_memory_base(c, 0)[131072] = 0xab;
    for (int pg = 11; pg < 40; pg += 3) memset(wpool_memory_base(c, 0) + pg * HP, 0xcc, HP);
    bool had_pmadv = !p->decommit.no_pmadv;
    wpool_instance_free(c);
    /* With the parent's pidfd the kernel refuses MADV_DONTNEED (EINVAL) and
     * the batch falls back to madvise: correct, but slow for good. */
    if (had_pmadv && p->decommit.no_pmadv) _exit(13);
    if (wpool_instance_new(p, m, &c) != 0) _exit(11);
    if (wpool_memory_base(c, 0)[131072] != 0) _exit(12);
    _exit(all_bytes(wpool_memory_base(c, 0) + 11 * HP, 29 * HP, 0) ? 0 : 12);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st), "the child died");
  cr_assert_eq(WEXITSTATUS(st), 0,
               "child check %d failed (12: it saw an earlier tenant's bytes; 13: it lost process_madvise)",
               WEXITSTATUS(st));
}

Test(dirty, a_forked_child_scans_its_own_pages) { child_scans_its_own_pages(SPAWN_FORK); }

Test(dirty, a_child_made_by_underscore_fork_scans_its_own_pages) {
  child_scans_its_own_pages(SPAWN_UNDERSCORE_FORK);
}

Test(dirty, a_child_made_by_raw_clone_scans_its_own_pages) {
  child_scans_its_own_pages(SPAWN_CLONE);
}

Test(dirty, required_but_missing_is_enotsup_and_auto_falls_back_to_prefix) {
  wpool_config_t c = small_config();
  c.reset_strategy = WPOOL_RESET_DIRTY;
  wpool_t *p;
  os_fail_at(OS_PAGEMAP_SCAN, 1, ENOTTY); /* as on a kernel before 6.7 */
  cr_assert_eq(wpool_create(&c, &p), WPOOL_ENOTSUP);
  cr_assert_not_null(strstr(wpool_last_error(), "WPOOL_RESET_DIRTY needs the PAGEMAP_SCAN ioctl"));
  c.reset_strategy = WPOOL_RESET_AUTO;
  os_fail_at(OS_PAGEMAP_SCAN, 1, ENOTTY);
  p = make_pool(&c);
  os_fail_reset();
  cr_assert_eq(stats(p).reset_strategy, WPOOL_RESET_PREFIX);
  cr_assert_eq(wpool_destroy(p), 0);
  c.reset_strategy = (wpool_reset_strategy_t)7;
  cr_assert_eq(wpool_create(&c, &p), WPOOL_EINVAL);
  cr_assert_str_eq(wpool_last_error(), "reset_strategy: 7 is not a wpool_reset_strategy_t");
}

Test(dirty, a_failed_scan_falls_back_to_the_prefix_reset) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = pool_with(WPOOL_RESET_DIRTY, HP, &t, &m);
  wpool_instance_t *in = make_instance(p, m);
  memset(wpool_memory_base(in, 0), 0xee, 16 * PAGE);
  os_fail_at(OS_PAGEMAP_SCAN, 1, EFAULT);
  wpool_stats_t s0 = stats(p);
  wpool_instance_free(in);
  os_fail_reset();
  cr_assert_eq(stats(p).dirty_scans, s0.dirty_scans, "no scan completed");
  in = make_instance(p, m);
  expect_pristine(in, &t, "after the fallback");
}
