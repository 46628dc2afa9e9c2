/* decommit.c: a batch gives its ranges back in one call where the kernel
 * takes it, merges neighbours, never overflows, and restores by hand what
 * the kernel refuses. White-box, on a mapping of the test's own. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "fixture.h"
#include "memory/decommit.h"
#include "memory/os.h"

static uint8_t *map;
static size_t page, len;
static mem_counters_t counters;
static decommit_ctx_t ctx;

static void setup(void) {
  page = os_page_size();
  len = 2 * DECOMMIT_RANGES_MAX * page + 8 * page;
  map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(map, MAP_FAILED);
  memset(map, 0xee, len);
  memset(&counters, 0, sizeof(counters));
  decommit_ctx_init(&ctx, &counters);
}

static void teardown(void) {
  os_fail_reset();
  decommit_ctx_destroy(&ctx);
  munmap(map, len);
}

static bool all(const uint8_t *p, size_t n, uint8_t v) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v) return false;
  return true;
}

TestSuite(decommit, .init = setup, .fini = teardown);

Test(decommit, touching_ranges_of_one_region_merge_into_one) {
  decommit_batch_t b = decommit_batch(&ctx);
  decommit_add(&b, map, page, map, NULL, UINT64_MAX);
  decommit_add(&b, map + page, 2 * page, map, NULL, UINT64_MAX);
  cr_assert_eq(b.n, 1);
  cr_assert_eq(b.r[0].len, 3 * page);
  decommit_add(&b, map + 3 * page, page, map + 3 * page, NULL, UINT64_MAX); /* another region's base */
  decommit_add(&b, map + 5 * page, page, map, NULL, UINT64_MAX);            /* a gap */
  cr_assert_eq(b.n, 3);
  decommit_add(&b, map + 7 * page, 0, map, NULL, UINT64_MAX);
  cr_assert_eq(b.n, 3, "an empty range adds nothing");
  decommit_flush(&b);
  cr_assert_eq(b.n, 0);
  cr_assert(all(map, 4 * page, 0));
  cr_assert(all(map + 4 * page, page, 0xee), "the gap is untouched");
  cr_assert(all(map + 5 * page, page, 0));
  cr_assert_eq(atomic_load(&counters.madvise_bytes), 5 * page);
}

Test(decommit, a_full_batch_is_issued_before_it_grows) {
  decommit_probe(&ctx); /* the one empty call asking the kernel, out of the count */
  decommit_batch_t b = decommit_batch(&ctx);
  uint64_t pm = os_calls(OS_PROCESS_MADVISE), ma = os_calls(OS_MADVISE);
  for (unsigned i = 0; i <= DECOMMIT_RANGES_MAX; i++)
    decommit_add(&b, map + 2 * i * page, page, map, NULL, UINT64_MAX); /* never touching */
  cr_assert_eq(b.n, 1, "the first DECOMMIT_RANGES_MAX went out; one waits");
  uint64_t calls = (os_calls(OS_PROCESS_MADVISE) - pm) + (os_calls(OS_MADVISE) - ma);
  cr_assert(calls == 1 || (ctx.no_pmadv && calls == DECOMMIT_RANGES_MAX + 1), "%llu calls",
            (unsigned long long)calls);
  decommit_flush(&b);
  for (unsigned i = 0; i <= DECOMMIT_RANGES_MAX; i++) {
    cr_assert(all(map + 2 * i * page, page, 0), "range %u given back", i);
    cr_assert(all(map + (2 * i + 1) * page, page, 0xee), "gap %u untouched", i);
  }
}

Test(decommit, a_refused_range_is_restored_by_hand_image_bytes_included) {
  static uint8_t view[4096 * 4];
  for (size_t i = 0; i < sizeof(view); i++) view[i] = (uint8_t)(i | 1);
  image_t img = {.fd = -1, .offset = 2 * page, .len = page, .view = view};
  decommit_batch_t b = decommit_batch(&ctx);
  decommit_add(&b, map + page, 3 * page, map, &img, UINT64_MAX);
  /* A single range goes straight to madvise; make the kernel refuse it. */
  os_fail_at(OS_MADVISE, 1, EINVAL);
  decommit_flush(&b);
  cr_assert(all(map + page, page, 0), "zero before the image");
  cr_assert_eq(memcmp(map + 2 * page, view, page), 0, "the image's bytes");
  cr_assert(all(map + 3 * page, page, 0), "zero after the image");
  cr_assert_eq(atomic_load(&counters.memset_bytes), 3 * page, "counted as reset in place");
}

/* Past a region's writable bytes the pages are PROT_NONE and pristine (a
 * smaller tenant's shrink): a refused range is restored up to them only;
 * writing past them would fault. */
Test(decommit, a_refused_range_is_restored_up_to_the_writable_bytes_only) {
  decommit_batch_t b = decommit_batch(&ctx);
  cr_assert_eq(mprotect(map + 2 * page, 2 * page, PROT_NONE), 0);
  decommit_add(&b, map + page, 3 * page, map, NULL, 2 * page);
  os_fail_at(OS_MADVISE, 1, EINVAL);
  decommit_flush(&b); /* restoring map + 2 pages would be a SIGSEGV */
  cr_assert(all(map + page, page, 0), "the writable page restored");
  cr_assert_eq(atomic_load(&counters.memset_bytes), page);
  cr_assert_eq(atomic_load(&counters.madvise_refused_bytes), 3 * page);
  cr_assert_eq(mprotect(map + 2 * page, 2 * page, PROT_READ | PROT_WRITE), 0);
}

Test(decommit, a_refusal_is_left_alone_when_the_batch_does_not_restore) {
  decommit_batch_t b = decommit_batch(&ctx);
  b.restore_refused = false;
  decommit_add(&b, map, page, map, NULL, UINT64_MAX);
  os_fail_at(OS_MADVISE, 1, EINVAL);
  decommit_flush(&b);
  cr_assert(all(map, page, 0xee), "trimming leaves a refused range resident");
  cr_assert_eq(atomic_load(&counters.memset_bytes), 0);
}

Test(decommit, a_kernel_without_process_madvise_falls_back_to_one_call_a_range) {
  decommit_batch_t b = decommit_batch(&ctx);
  decommit_add(&b, map, page, map, NULL, UINT64_MAX);
  decommit_add(&b, map + 2 * page, page, map, NULL, UINT64_MAX);
  os_fail_at(OS_PROCESS_MADVISE, 1, EINVAL); /* the first flush asks the kernel: no */
  uint64_t ma = os_calls(OS_MADVISE);
  decommit_flush(&b);
  cr_assert(ctx.no_pmadv, "remembered: later batches skip process_madvise");
  cr_assert_eq(os_calls(OS_MADVISE) - ma, 2);
  cr_assert(all(map, page, 0));
  cr_assert(all(map + 2 * page, page, 0));
  uint64_t pm = os_calls(OS_PROCESS_MADVISE);
  decommit_add(&b, map, page, map, NULL, UINT64_MAX);
  decommit_add(&b, map + 2 * page, page, map, NULL, UINT64_MAX);
  decommit_flush(&b);
  cr_assert_eq(os_calls(OS_PROCESS_MADVISE), pm);
}

Test(decommit, a_partial_process_madvise_finishes_range_by_range) {
  decommit_batch_t b = decommit_batch(&ctx);
  for (int i = 0; i < 3; i++) decommit_add(&b, map + 2 * i * page, page, map, NULL, UINT64_MAX);
  /* The question to the kernel failing with EAGAIN (no answer): all three
   * go by madvise, and the pool asks again later. */
  os_fail_at(OS_PROCESS_MADVISE, 1, EAGAIN);
  uint64_t ma = os_calls(OS_MADVISE);
  decommit_flush(&b);
  cr_assert_eq(os_calls(OS_MADVISE) - ma, 3);
  cr_assert_not(ctx.no_pmadv);
  for (int i = 0; i < 3; i++) cr_assert(all(map + 2 * i * page, page, 0));
}

/* Issue 11, defect 3's sibling: an EINVAL from process_madvise once the
 * kernel said it takes the call means a range was refused (mlock'ed
 * pages), not an old kernel: the batch finishes range by range, restores
 * the refused range, counts it, and the next batch still uses one call. */
Test(decommit, a_locked_range_is_restored_and_process_madvise_stays_in_use) {
  decommit_probe(&ctx);
  if (ctx.no_pmadv) cr_skip_test("this kernel lacks process_madvise(MADV_DONTNEED)");
  cr_assert(ctx.probed);
  if (!mlock_works()) cr_skip_test("mlock locks nothing here (a sanitizer's interceptor)");
  cr_assert_eq(mlock(map + 2 * page, page), 0);
  decommit_batch_t b = decommit_batch(&ctx);
  decommit_add(&b, map + 2 * page, page, map, NULL, UINT64_MAX); /* refused: first */
  decommit_add(&b, map + 4 * page, page, map, NULL, UINT64_MAX);
  decommit_flush(&b);
  cr_assert_not(ctx.no_pmadv, "a refused range is not an old kernel");
  cr_assert(all(map + 2 * page, page, 0), "restored by hand");
  cr_assert(all(map + 4 * page, page, 0));
  cr_assert_eq(atomic_load(&counters.madvise_refused_bytes), page);
  munlock(map + 2 * page, page);
  uint64_t pm = os_calls(OS_PROCESS_MADVISE), ma = os_calls(OS_MADVISE);
  memset(map, 0xee, 8 * page);
  decommit_add(&b, map + 2 * page, page, map, NULL, UINT64_MAX);
  decommit_add(&b, map + 4 * page, page, map, NULL, UINT64_MAX);
  decommit_flush(&b);
  cr_assert_eq(os_calls(OS_PROCESS_MADVISE) - pm, 1);
  cr_assert_eq(os_calls(OS_MADVISE) - ma, 0);
}
