/* Page operations (see pages.h). */
#include "memory/pages.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "memory/os.h"

#define PRIVATE_ANON (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

static int prot(bool accessible) { return accessible ? PROT_READ | PROT_WRITE : PROT_NONE; }

static _Atomic bool huge_failed;

/* Huge pages off for a new private mapping: a refusal changes nothing of
 * the mapping, only what can be proved about it. */
static void no_huge(uint8_t *p, uint64_t len) {
  if (os_no_huge_pages(p, len) != 0) atomic_store_explicit(&huge_failed, true, memory_order_relaxed);
}

bool pages_no_huge_pages_failed(void) { return atomic_load_explicit(&huge_failed, memory_order_relaxed); }

int pages_reserve(uint64_t bytes, bool accessible, uint8_t **out) {
  void *p;
  int err = os_mmap(NULL, bytes, prot(accessible), PRIVATE_ANON, -1, 0, &p);
  if (!err) {
    no_huge(p, bytes);
    *out = p;
  }
  return err;
}

void pages_unreserve(uint8_t *p, uint64_t bytes) {
  if (p) os_unmap_whole(p, bytes);
}

int pages_fresh(uint8_t *p, uint64_t len, bool accessible) {
  void *q;
  int err = os_mmap(p, len, prot(accessible), PRIVATE_ANON | MAP_FIXED, -1, 0, &q);
  if (!err) no_huge(p, len);
  return err;
}

int pages_protect(uint8_t *p, uint64_t len, bool accessible) {
  return os_mprotect(p, len, prot(accessible));
}

int pages_guard(uint8_t *p, uint64_t len, pages_guard_kind_t *kind) {
  if (*kind != PAGES_GUARD_MAPPING) {
    int err = os_madvise(p, len, OS_MADV_GUARD_INSTALL);
    if (err != -EINVAL || *kind == PAGES_GUARD_MARKER) {
      if (!err) *kind = PAGES_GUARD_MARKER;
      return err;
    }
    *kind = PAGES_GUARD_MAPPING; /* a kernel without guard markers */
  }
  return os_mprotect(p, len, PROT_NONE);
}

int pages_map_image(uint8_t *p, uint64_t len, int fd) {
  void *q;
  return os_mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0, &q);
}

int pages_view(int fd, uint64_t len, const uint8_t **out) {
  void *p;
  int err = os_mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0, &p);
  if (!err) *out = p;
  return err;
}
