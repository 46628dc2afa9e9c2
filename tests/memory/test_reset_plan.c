/* The reset region math (Wasmtime's four regions) over image offsets and
 * keep_resident budgets: every accessible byte is reset exactly once, image
 * bytes only by madvise, and the memset total is what the policy says. */
#include <criterion/criterion.h>

#include "memory/reset.h"

#define PG 4096ull

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Check coverage and return the memset total. */
static uint64_t check_plan(const reset_plan_t *p, uint64_t acc, uint64_t io, uint64_t il) {
  static uint8_t seen[4096];
  uint64_t pages = acc / PG, zeroed = 0;
  cr_assert_leq(pages, sizeof(seen));
  memset(seen, 0, sizeof(seen));
  for (unsigned i = 0; i < p->nmemset; i++) {
    reset_range_t r = p->memset[i];
    cr_assert_gt(r.len, 0);
    cr_assert_leq(r.off + r.len, acc);
    cr_assert(il == 0 || r.off + r.len <= io || r.off >= io + il, "memset inside the image");
    for (uint64_t b = r.off / PG; b < (r.off + r.len) / PG; b++) seen[b]++;
    zeroed += r.len;
  }
  for (unsigned i = 0; i < p->nmadvise; i++) {
    reset_range_t r = p->madvise[i];
    cr_assert_gt(r.len, 0);
    cr_assert_leq(r.off + r.len, acc);
    for (uint64_t b = r.off / PG; b < (r.off + r.len) / PG; b++) seen[b]++;
  }
  for (uint64_t b = 0; b < pages; b++) cr_assert_eq(seen[b], 1, "page %llu reset %u times",
                                                     (unsigned long long)b, seen[b]);
  return zeroed;
}

Test(reset_plan, every_byte_reset_once_over_the_offset_and_budget_matrix) {
  const uint64_t acc = 160 * PG; /* 640 KiB accessible */
  const uint64_t offsets[] = {0, PG, 2 * PG, 5 * PG};
  const uint64_t lens[] = {PG, 3 * PG, 16 * PG};
  const uint64_t keeps[] = {0, PG, 10 * PG, 1 << 20, 10 << 20};
  for (size_t o = 0; o < 4; o++)
    for (size_t l = 0; l < 3; l++)
      for (size_t k = 0; k < 5; k++) {
        uint64_t io = offsets[o], il = lens[l], keep = keeps[k];
        reset_plan_t p;
        reset_plan_memory(acc, io, il, keep, &p);
        uint64_t zeroed = check_plan(&p, acc, io, il);
        uint64_t want = keep <= io ? keep : io + min_u64(keep - io, acc - io - il);
        cr_assert_eq(zeroed, want, "off %llu len %llu keep %llu: memset %llu, want %llu",
                     (unsigned long long)io, (unsigned long long)il, (unsigned long long)keep,
                     (unsigned long long)zeroed, (unsigned long long)want);
        cr_assert_leq(p.nmadvise, 2);
      }
}

Test(reset_plan, four_regions_when_the_budget_reaches_past_the_image_start) {
  reset_plan_t p;
  reset_plan_memory(100 * PG, 2 * PG, 3 * PG, 10 * PG, &p);
  cr_assert_eq(p.nmemset, 2);
  cr_assert_eq(p.memset[0].off, 0);
  cr_assert_eq(p.memset[0].len, 2 * PG);
  cr_assert_eq(p.madvise[0].off, 2 * PG);
  cr_assert_eq(p.madvise[0].len, 3 * PG);
  cr_assert_eq(p.memset[1].off, 5 * PG);
  cr_assert_eq(p.memset[1].len, 8 * PG); /* 10 pages of budget less the 2 before the image */
  cr_assert_eq(p.madvise[1].off, 13 * PG);
  cr_assert_eq(p.madvise[1].len, 87 * PG);
}

Test(reset_plan, budget_before_the_image_is_one_memset_and_one_madvise) {
  reset_plan_t p;
  reset_plan_memory(100 * PG, 4 * PG, 3 * PG, PG, &p);
  cr_assert_eq(p.nmemset, 1);
  cr_assert_eq(p.nmadvise, 1);
  cr_assert_eq(p.madvise[0].off, PG);
  cr_assert_eq(p.madvise[0].len, 99 * PG);
}

Test(reset_plan, no_image_memsets_the_prefix_and_madvises_the_rest) {
  reset_plan_t p;
  reset_plan_memory(10 * PG, 0, 0, 4 * PG, &p);
  cr_assert_eq(p.nmemset, 1);
  cr_assert_eq(p.memset[0].len, 4 * PG);
  cr_assert_eq(p.nmadvise, 1);
  cr_assert_eq(p.madvise[0].off, 4 * PG);
  reset_plan_memory(10 * PG, 0, 0, 1 << 30, &p);
  cr_assert_eq(p.nmadvise, 0, "a budget over the memory memsets it all");
  reset_plan_memory(0, 0, 0, PG, &p);
  cr_assert_eq(p.nmemset + p.nmadvise, 0, "nothing accessible, nothing to do");
}

Test(reset_plan, image_filling_the_memory_is_only_madvised) {
  reset_plan_t p;
  reset_plan_memory(8 * PG, 0, 8 * PG, 1 << 20, &p);
  cr_assert_eq(p.nmemset, 0);
  cr_assert_eq(p.nmadvise, 1);
  cr_assert_eq(p.madvise[0].len, 8 * PG);
}

Test(reset_plan, stack_keeps_its_top_resident) {
  reset_plan_t p;
  reset_plan_stack(16 * PG, 4 * PG, &p);
  cr_assert_eq(p.nmadvise, 1);
  cr_assert_eq(p.madvise[0].off, 0);
  cr_assert_eq(p.madvise[0].len, 12 * PG);
  cr_assert_eq(p.nmemset, 1);
  cr_assert_eq(p.memset[0].off, 12 * PG);
  reset_plan_stack(16 * PG, 64 * PG, &p);
  cr_assert_eq(p.nmadvise, 0);
  cr_assert_eq(p.memset[0].len, 16 * PG);
}
