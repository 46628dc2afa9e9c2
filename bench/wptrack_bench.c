/* wptrack_bench: true write tracking (userfaultfd write-protection in
 * async mode + PAGEMAP_SCAN's PAGE_IS_WRITTEN) against the present-page
 * scan that WPOOL_RESET_DIRTY uses, on the stickiness case: a 10 MiB
 * memory whose earlier tenants left 256 pages resident, and a tenant that
 * writes D = 16 pages. One cycle = the tenant's writes + the reset.
 *
 *   present: scan for present private pages, memset them all (the 256
 *            sticky ones included); the tenant's writes take no fault.
 *   written: scan for written pages, memset them, re-protect them with a
 *            PM_SCAN_WP_MATCHING scan; the tenant's writes each take an
 *            async write-protect fault.
 *
 * Prints one JSON object per strategy (median of the cycles) and the ratio.
 * Needs Linux 6.7+ and userfaultfd (root, or vm.unprivileged_userfaultfd);
 * prints a JSON "skipped" line otherwise. Numbers: docs/performance.md. */
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "measure.h"

/* Linux 6.7 ABI, missing from Debian 12's headers. */
#define FEATURE_WP_UNPOPULATED (1 << 13)
#define FEATURE_WP_ASYNC (1 << 15)
struct region { __u64 start, end, categories; };
struct scan_arg {
  __u64 size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
      category_mask, category_anyof_mask, return_mask;
};
#define SCAN _IOWR('f', 16, struct scan_arg)
#define WP_MATCHING (1 << 0)
#define CHECK_WPASYNC (1 << 1)
#define IS_WRITTEN (1 << 1)
#define IS_FILE (1 << 2)
#define IS_PRESENT (1 << 3)
#define IS_SWAPPED (1 << 4)
#define IS_PFNZERO (1 << 5)

enum { LEN = 10 << 20, STICKY = 256, D = 16, CYCLES = 2000 };


static int pagemap;
static struct region vec[64];

/* Memset every run a scan returns; return the pages. */
static size_t scan_and_reset(struct scan_arg *a) {
  size_t pages = 0;
  for (__u64 start = a->start; start < a->end;) {
    a->start = start;
    int n = ioctl(pagemap, SCAN, a);
    if (n < 0) return (size_t)-1;
    for (int i = 0; i < n; i++) {
      memset((void *)vec[i].start, 0, vec[i].end - vec[i].start);
      pages += (vec[i].end - vec[i].start) / 4096;
    }
    start = a->walk_end;
  }
  return pages;
}

static void tenant(uint8_t *m) {
  for (int i = 0; i < D; i++) m[(size_t)(16 + i * 7) * 4096 + 8] = 2;
}

int main(void) {
  pagemap = open("/proc/self/pagemap", O_RDONLY);
  uint8_t *a = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t *b = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  struct uffdio_api api = {.api = UFFD_API, .features = FEATURE_WP_ASYNC | FEATURE_WP_UNPOPULATED};
  struct uffdio_register reg = {.range = {(__u64)(uintptr_t)b, LEN}, .mode = UFFDIO_REGISTER_MODE_WP};
  struct uffdio_writeprotect wp = {.range = {(__u64)(uintptr_t)b, LEN},
                                   .mode = UFFDIO_WRITEPROTECT_MODE_WP};
  if (pagemap < 0 || a == MAP_FAILED || b == MAP_FAILED || uffd < 0 ||
      ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg) ||
      ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) {
    printf("{\"bench\":\"wptrack\",\"skipped\":\"%s\"}\n", strerror(errno));
    return 0;
  }
  for (int i = 0; i < STICKY; i++) a[(size_t)(16 + i) * 4096] = 1, b[(size_t)(16 + i) * 4096] = 1;
  static uint64_t present_ns[CYCLES], written_ns[CYCLES], writes_ns[CYCLES];
  size_t present_pages = 0, written_pages = 0;
  for (int n = 0; n < CYCLES; n++) {
    uint64_t t0 = now_ns();
    tenant(a);
    struct scan_arg p = {.size = sizeof(p), .start = (__u64)(uintptr_t)a,
                         .end = (__u64)(uintptr_t)a + LEN, .vec = (__u64)(uintptr_t)vec,
                         .vec_len = 64, .category_inverted = IS_FILE | IS_PFNZERO,
                         .category_mask = IS_FILE | IS_PFNZERO,
                         .category_anyof_mask = IS_PRESENT | IS_SWAPPED};
    present_pages = scan_and_reset(&p);
    present_ns[n] = now_ns() - t0;

    t0 = now_ns();
    tenant(b);
    writes_ns[n] = now_ns() - t0;
    struct scan_arg w = {.size = sizeof(w), .start = (__u64)(uintptr_t)b,
                         .end = (__u64)(uintptr_t)b + LEN, .vec = (__u64)(uintptr_t)vec,
                         .vec_len = 64, .category_mask = IS_WRITTEN, .return_mask = IS_WRITTEN};
    written_pages = scan_and_reset(&w);
    struct scan_arg r = w;
    r.start = (__u64)(uintptr_t)b;
    r.flags = WP_MATCHING | CHECK_WPASYNC;
    if (ioctl(pagemap, SCAN, &r) < 0) {
      printf("{\"bench\":\"wptrack\",\"skipped\":\"PAGEMAP_SCAN with write-protection: %s\"}\n",
             strerror(errno));
      return 0;
    }
    written_ns[n] = now_ns() - t0;
  }
  qsort(present_ns, CYCLES, sizeof(uint64_t), cmp_u64);
  qsort(written_ns, CYCLES, sizeof(uint64_t), cmp_u64);
  qsort(writes_ns, CYCLES, sizeof(uint64_t), cmp_u64);
  printf("{\"bench\":\"wptrack\",\"strategy\":\"present_scan\",\"D\":%d,\"sticky_pages\":%d,"
         "\"pages_reset\":%zu,\"median_ns\":%llu}\n",
         D, STICKY, present_pages, (unsigned long long)present_ns[CYCLES / 2]);
  printf("{\"bench\":\"wptrack\",\"strategy\":\"uffd_wp_written\",\"D\":%d,\"sticky_pages\":%d,"
         "\"pages_reset\":%zu,\"median_ns\":%llu,\"tenant_writes_median_ns\":%llu}\n",
         D, STICKY, written_pages, (unsigned long long)written_ns[CYCLES / 2],
         (unsigned long long)writes_ns[CYCLES / 2]);
  printf("{\"bench\":\"wptrack\",\"written_over_present\":%.2f}\n",
         (double)written_ns[CYCLES / 2] / (double)present_ns[CYCLES / 2]);
  return 0;
}
