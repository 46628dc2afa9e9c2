/* memslot.c: one linear memory's mappings, white-box, on a reservation of
 * the test's own: what is accessible, what faults, what a reset leaves,
 * how many kernel mappings a slot takes, and what a failure leaves. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fixture.h"
#include "memory/memslot.h"
#include "memory/os.h"

enum { RES = 16 * 65536, GUARD = 4 * 65536 };

static uint8_t *base;
static mem_counters_t counters;
static memslot_ctx_t ctx;
static dirty_scanner_t scanner;
static decommit_ctx_t dctx;
static memslot_t slot;
static image_t *img;
static char data[3000];

static void setup(void) {
  void *p = mmap(NULL, RES + GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  cr_assert_neq(p, MAP_FAILED);
  base = p;
  memset(&counters, 0, sizeof(counters));
  memset(&slot, 0, sizeof(slot));
  ctx = (memslot_ctx_t){.reservation = RES, .keep = 65536, .counters = &counters};
  dirty_scanner_init(&scanner);
  decommit_ctx_init(&dctx, &counters);
  for (size_t i = 0; i < sizeof(data); i++) data[i] = (char)('a' + i % 26);
  wpool_data_segment_t seg = {.offset = 70000, .bytes = data, .len = sizeof(data)};
  wpool_memory_desc_t desc = {.min_pages = 2, .max_pages = 16, .segments = &seg, .nsegments = 1};
  cr_assert_eq(image_build(&desc, &counters, &img), 0);
}

static void teardown(void) {
  os_fail_reset();
  if (slot.image) image_unref(slot.image);
  image_unref(img);
  decommit_ctx_destroy(&dctx);
  dirty_scanner_destroy(&scanner);
  munmap(base, RES + GUARD);
}

TestSuite(memslot, .init = setup, .fini = teardown);

/* Kernel mappings overlapping the reservation. */
static int mappings(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int n = 0;
  while (f && fgets(line, sizeof(line), f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo < (uintptr_t)base + RES + GUARD &&
        hi > (uintptr_t)base)
      n++;
  }
  if (f) fclose(f);
  return n;
}

/* Whether the slot reads as a fresh instance of the image module. */
static bool pristine(uint64_t accessible) {
  for (uint64_t i = 0; i < accessible; i++) {
    uint8_t want = i >= 70000 && i < 70000 + sizeof(data) ? (uint8_t)data[i - 70000] : 0;
    if (base[i] != want) return false;
  }
  return true;
}

static void reset(void) {
  decommit_batch_t b = decommit_batch(&dctx);
  bool exact = true;
  memslot_reset(&slot, base, &ctx, &b, &(keep_pass_t){0}, &exact);
  decommit_flush(&b);
}

Test(memslot, prepare_makes_exactly_the_asked_bytes_accessible) {
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, NULL, 2 * 65536, false), 0);
  cr_assert(memslot_is_valid(&slot, &ctx));
  cr_assert_eq(write_at(base), WRITE_OK);
  cr_assert_eq(write_at(base + 2 * 65536 - 1), WRITE_OK);
  cr_assert_eq(write_at(base + 2 * 65536), WRITE_FAULTS);
  cr_assert_eq(write_at(base + RES + GUARD - 1), WRITE_FAULTS, "the guard's last byte");
}

Test(memslot, an_image_reads_in_place_and_affine_reuse_maps_nothing) {
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, img, 2 * 65536, false), 0);
  cr_assert(pristine(2 * 65536));
  cr_assert_eq(slot.image, img);
  memset(base, 0x5a, 2 * 65536);
  reset();
  uint64_t maps = os_calls(OS_MMAP);
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, img, 2 * 65536, false), 0);
  cr_assert_eq(os_calls(OS_MMAP), maps, "the image stays mapped");
  cr_assert(pristine(2 * 65536));
  cr_assert(memslot_is_valid(&slot, &ctx));
}

Test(memslot, a_slot_takes_at_most_four_kernel_mappings) {
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, img, 4 * 65536, false), 0);
  memset(base, 1, 4 * 65536);
  cr_assert_leq(mappings(), 4, "rw before the image, image, rw after, PROT_NONE rest");
  reset();
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, NULL, 4 * 65536, false), 0);
  cr_assert_leq(mappings(), 4);
}

Test(memslot, grow_makes_zero_bytes_accessible_and_leaves_the_rest_faulting) {
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, img, 2 * 65536, false), 0);
  cr_assert_eq(memslot_grow(&slot, base, &ctx, 5 * 65536), 0);
  cr_assert_eq(slot.accessible, 5 * 65536);
  cr_assert(pristine(5 * 65536));
  cr_assert_eq(write_at(base + 5 * 65536), WRITE_FAULTS);
  cr_assert_eq(memslot_grow(&slot, base, &ctx, 3 * 65536), 0, "never shrinks");
  cr_assert_eq(slot.accessible, 5 * 65536);
}

Test(memslot, reuse_by_a_smaller_module_takes_the_extra_bytes_away) {
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, NULL, 8 * 65536, false), 0);
  memset(base, 3, 8 * 65536);
  reset();
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, NULL, 65536, false), 0);
  cr_assert_eq(write_at(base + 65536), WRITE_FAULTS);
  cr_assert_eq(memslot_grow(&slot, base, &ctx, 8 * 65536), 0);
  cr_assert(all_bytes(base, 8 * 65536, 0), "the bytes given up come back zero");
}

static void reset_leaves_pristine(bool dirty_aware) {
  if (dirty_aware) {
    if (dirty_scanner_probe(&scanner, base) != 0) cr_skip_test("no PAGEMAP_SCAN here");
    ctx.scanner = &scanner;
  }
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, img, 6 * 65536, false), 0);
  memset(base + 100, 0x77, 200000); /* before, across and after the image */
  base[5 * 65536 + 7] = 1;
  uint64_t kept;
  decommit_batch_t b = decommit_batch(&dctx);
  bool exact = true;
  kept = memslot_reset(&slot, base, &ctx, &b, &(keep_pass_t){0}, &exact);
  decommit_flush(&b);
  cr_assert_leq(kept, ctx.keep, "in place: within the budget");
  cr_assert(pristine(6 * 65536));
  cr_assert(memslot_is_valid(&slot, &ctx));
}

Test(memslot, the_prefix_reset_leaves_the_slot_pristine) { reset_leaves_pristine(false); }
Test(memslot, the_dirty_aware_reset_leaves_the_slot_pristine) { reset_leaves_pristine(true); }

/* Resident pages of [p, p + len), by mincore. */
static uint64_t resident(const uint8_t *p, uint64_t len) {
  uint64_t page = os_page_size(), n = 0;
  unsigned char vec[RES / 4096];
  cr_assert_leq(len / page, sizeof(vec));
  cr_assert_eq(mincore((void *)p, len, vec), 0);
  for (uint64_t i = 0; i < len / page; i++) n += vec[i] & 1;
  return n;
}

Test(memslot, release_gives_back_every_page_and_the_image) {
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, img, 4 * 65536, false), 0);
  memset(base, 3, 4 * 65536);
  cr_assert_eq(atomic_load(&img->refs), 2);
  cr_assert_eq(memslot_release(&slot, base, &ctx), 0);
  cr_assert_null(slot.image);
  cr_assert_eq(atomic_load(&img->refs), 1);
  cr_assert_eq(slot.accessible, 0);
  cr_assert_eq(resident(base, RES), 0, "no private page left");
  cr_assert_eq(write_at(base), WRITE_FAULTS, "nothing accessible");
  cr_assert(memslot_is_valid(&slot, &ctx));
}

/* Issue 14, item 1: a smaller tenant takes bytes away by protection only;
 * their pages stay resident and pristine for the module's next tenant
 * that grows, which takes no fault for them. */
Test(memslot, a_shrink_keeps_the_pristine_pages_resident_for_the_next_grow) {
  ctx.keep = 8 * 65536;
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, NULL, 8 * 65536, false), 0);
  memset(base, 3, 8 * 65536);
  reset();
  uint64_t kept = resident(base, 8 * 65536);
  cr_assert_eq(kept, 8 * 65536 / os_page_size(), "the budget keeps them all");
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, NULL, 65536, false), 0);
  cr_assert_eq(write_at(base + 65536), WRITE_FAULTS, "out of reach");
  cr_assert_eq(resident(base, 8 * 65536), kept, "still resident");
  cr_assert_eq(slot.resident_end, 8 * 65536);
  reset(); /* a tenant that stayed small: the pages past it stay kept */
  cr_assert_eq(resident(base, 8 * 65536), kept);
  cr_assert_eq(memslot_grow(&slot, base, &ctx, 8 * 65536), 0);
  cr_assert(all_bytes(base, 8 * 65536, 0), "pristine");
  cr_assert(memslot_is_valid(&slot, &ctx));
}

/* Issue 14, item 2: the pages a slot keeps belong to the module; another
 * module's tenant gets none of them. */
Test(memslot, a_tenant_of_another_module_takes_the_slot_without_its_pages) {
  ctx.keep = 8 * 65536;
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, img, 8 * 65536, false), 0);
  memset(base, 3, 8 * 65536);
  reset();
  cr_assert_gt(resident(base, 8 * 65536), 0);
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, NULL, 2 * 65536, true), 0);
  cr_assert_eq(resident(base, 8 * 65536), 0, "the old module's pages are gone");
  cr_assert_null(slot.image);
  cr_assert_eq(atomic_load(&img->refs), 1);
  cr_assert(all_bytes(base, 2 * 65536, 0));
  cr_assert_eq(write_at(base + 2 * 65536), WRITE_FAULTS);
}

Test(memslot, a_failed_prepare_leaves_no_image_and_the_next_starts_clean) {
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, NULL, 4 * 65536, false), 0);
  memset(base, 9, 4 * 65536);
  os_fail_at(OS_MMAP, 1, ENOMEM); /* the image's mapping */
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, img, 2 * 65536, false), -ENOMEM);
  cr_assert_null(slot.image);
  cr_assert_eq(atomic_load(&img->refs), 1, "no reference kept");
  cr_assert(memslot_is_valid(&slot, &ctx));
  cr_assert_eq(memslot_prepare(&slot, base, &ctx, img, 2 * 65536, false), 0);
  cr_assert(pristine(2 * 65536), "nothing of the earlier tenant survives");
}

Test(memslot, is_valid_rejects_broken_records) {
  memslot_t s = {.accessible = RES + 65536};
  cr_assert_not(memslot_is_valid(&s, &ctx), "past the reservation");
  s = (memslot_t){.accessible = 100};
  cr_assert_not(memslot_is_valid(&s, &ctx), "not a page multiple");
  s = (memslot_t){.accessible = 65536, .image = img};
  cr_assert_not(memslot_is_valid(&s, &ctx), "image past the accessible bytes");
  s = (memslot_t){.accessible = 2 * 65536, .image = img};
  cr_assert(memslot_is_valid(&s, &ctx));
}
