/* region.c: a range restored in place reads as the slot's pristine
 * contents, whatever part of the image it covers. White-box, no pool. */
#include <criterion/criterion.h>
#include <string.h>

#include "memory/region.h"

enum { P = 4096, REGION = 16 * P };

static uint8_t region[REGION], view[4 * P];

/* An image of 4 pages at page 4, each byte (i & 0xff) | 1 (never zero). */
static image_t image(void) {
  for (size_t i = 0; i < sizeof(view); i++) view[i] = (uint8_t)(i | 1);
  return (image_t){.fd = -1, .offset = 4 * P, .len = 4 * P, .view = view};
}

/* Whether [off, off + len) of the region holds its pristine bytes. */
static bool pristine(const image_t *img, uint64_t off, uint64_t len) {
  for (uint64_t i = off; i < off + len; i++) {
    bool in = img && i >= img->offset && i < img->offset + img->len;
    uint8_t want = in ? view[i - img->offset] : 0;
    if (region[i] != want) return false;
  }
  return true;
}

static void dirty_all(void) { memset(region, 0xee, sizeof(region)); }

Test(region, without_an_image_the_range_reads_zero_and_nothing_else_changes) {
  dirty_all();
  region_restore(region, NULL, 3 * P, 2 * P);
  cr_assert(pristine(NULL, 3 * P, 2 * P));
  cr_assert_eq(region[3 * P - 1], 0xee, "the byte before is untouched");
  cr_assert_eq(region[5 * P], 0xee, "the byte after is untouched");
}

Test(region, a_range_inside_the_image_reads_the_image_bytes) {
  image_t img = image();
  dirty_all();
  region_restore(region, &img, 5 * P, P);
  cr_assert(pristine(&img, 5 * P, P));
  cr_assert_eq(region[6 * P], 0xee);
}

Test(region, a_range_straddling_both_ends_of_the_image_reads_zero_image_zero) {
  image_t img = image();
  dirty_all();
  region_restore(region, &img, 2 * P, 10 * P);
  cr_assert(pristine(&img, 2 * P, 10 * P));
  cr_assert_eq(region[2 * P - 1], 0xee);
  cr_assert_eq(region[12 * P], 0xee);
}

Test(region, ranges_before_and_after_the_image_read_zero) {
  image_t img = image();
  dirty_all();
  region_restore(region, &img, 0, 4 * P);
  region_restore(region, &img, 8 * P, 8 * P);
  cr_assert(pristine(&img, 0, 4 * P));
  cr_assert(pristine(&img, 8 * P, 8 * P));
  cr_assert_eq(region[4 * P], 0xee, "the image itself was not in either range");
}

Test(region, a_range_ending_inside_the_image_copies_only_its_part) {
  image_t img = image();
  dirty_all();
  region_restore(region, &img, 3 * P, 2 * P + 100);
  cr_assert(pristine(&img, 3 * P, 2 * P + 100));
  cr_assert_eq(region[5 * P + 100], 0xee);
}
