/* Operations on pages, named for what they do (as mimalloc's prim.h and
 * jemalloc's pages.h): the one place above os.c that chooses mmap flags,
 * protections and guard mechanisms. Reserving the pools, guarding stacks,
 * replacing a memory slot's pages with fresh ones, changing what is
 * accessible, mapping an image: each is one call here, every system call
 * through os.c (so tests inject failures). Giving pages back in batches
 * is decommit.h's. Addresses and lengths are whole host pages. Every
 * function returns 0 or -errno. */
#ifndef WPOOL_PAGES_H
#define WPOOL_PAGES_H

#include <stdbool.h>
#include <stdint.h>

/* Fresh address space of `bytes`, read-write or inaccessible, private and
 * committed only as pages are touched (MAP_NORESERVE), and never backed by
 * huge pages (see pages_no_huge_pages_failed). */
int pages_reserve(uint64_t bytes, bool accessible, uint8_t **out);
/* Give back a reservation (or a view) whole. */
void pages_unreserve(uint8_t *p, uint64_t bytes);

/* Replace [p, p + len), whatever it maps (private pages, an image), with
 * fresh zero pages, read-write or inaccessible: one call (MAP_FIXED), and
 * one more to keep huge pages out of them. */
int pages_fresh(uint8_t *p, uint64_t len, bool accessible);

/* Whether some reservation or fresh range of this process could not be
 * kept from huge pages (MADV_NOHUGEPAGE refused; sticky). Then khugepaged
 * may make absent pages present without a page fault, and a slot's
 * private pages can be known only by scanning them (proof.h). */
bool pages_no_huge_pages_failed(void);
/* Make [p, p + len) read-write or inaccessible, keeping its pages. */
int pages_protect(uint8_t *p, uint64_t len, bool accessible);

/* How guard pages are made on this host. */
typedef enum pages_guard_kind {
  PAGES_GUARD_UNKNOWN = 0, /* not asked yet: the first pages_guard() finds out */
  PAGES_GUARD_MARKER,      /* MADV_GUARD_INSTALL (Linux 6.13+): no mapping of its own */
  PAGES_GUARD_MAPPING,     /* PROT_NONE: splits the mapping it is in */
} pages_guard_kind_t;
/* Make [p, p + len) fault on any access, inside a read-write mapping: a
 * marker where the kernel has them, else an inaccessible mapping. *kind
 * says which (found out at the first call when UNKNOWN). */
int pages_guard(uint8_t *p, uint64_t len, pages_guard_kind_t *kind);

/* Map the memfd `fd` copy-on-write over [p, p + len), read-write
 * (MAP_PRIVATE | MAP_FIXED): reading costs no copy, writing copies a
 * page, giving a page back restores the file's. */
int pages_map_image(uint8_t *p, uint64_t len, int fd);
/* A read-only view of the memfd `fd`'s `len` bytes (MAP_SHARED: its page
 * cache, no copy); pages_unreserve() gives it back. */
int pages_view(int fd, uint64_t len, const uint8_t **out);

#endif
