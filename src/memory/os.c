/* The OS layer (see os.h). Failure injection costs one relaxed atomic load
 * per call when disarmed. */
#include "memory/os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static _Atomic uint64_t calls[OS_CALL_COUNT];
static _Atomic uint64_t fail_at[OS_CALL_COUNT]; /* call number that fails; 0 = none */
static _Atomic int fail_err[OS_CALL_COUNT];
static _Atomic int armed; /* any fail_at set: the fast path skips the rest */

static const char *const names[OS_CALL_COUNT] = {
    "mmap", "munmap", "mprotect", "madvise", "memfd_create",
    "ftruncate", "pwrite", "fcntl(F_ADD_SEALS)", "close", "open", "ioctl(PAGEMAP_SCAN)",
    "pidfd_open", "process_madvise", "getrusage", "madvise(MADV_NOHUGEPAGE)",
};

const char *os_call_name(os_call_t call) { return call < OS_CALL_COUNT ? names[call] : "?"; }

/* Count a call; return -err if this one is to fail, else 0. */
static int os_enter(os_call_t call) {
  uint64_t n = atomic_fetch_add_explicit(&calls[call], 1, memory_order_relaxed) + 1;
  if (!atomic_load_explicit(&armed, memory_order_relaxed)) return 0;
  uint64_t at = atomic_load_explicit(&fail_at[call], memory_order_relaxed);
  if (at == 0 || at != n) return 0;
  uint64_t expected = at;
  if (!atomic_compare_exchange_strong(&fail_at[call], &expected, 0)) return 0;
  return -atomic_load(&fail_err[call]);
}

void os_fail_at(os_call_t call, uint64_t k, int err) {
  atomic_store(&fail_err[call], err);
  atomic_store(&fail_at[call], k ? atomic_load(&calls[call]) + k : 0);
  if (k) atomic_store(&armed, 1);
}

void os_fail_reset(void) {
  for (int c = 0; c < OS_CALL_COUNT; c++) atomic_store(&fail_at[c], 0);
  atomic_store(&armed, 0);
}

uint64_t os_calls(os_call_t call) { return atomic_load(&calls[call]); }

size_t os_page_size(void) {
  static _Atomic size_t page; /* racing first calls store the same value */
  size_t p = atomic_load_explicit(&page, memory_order_relaxed);
  if (!p) {
    p = (size_t)sysconf(_SC_PAGESIZE);
    atomic_store_explicit(&page, p, memory_order_relaxed);
  }
  return p;
}

int os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, void **out) {
  int err = os_enter(OS_MMAP);
  if (err) return err;
  void *p = mmap(addr, len, prot, flags, fd, off);
  if (p == MAP_FAILED) return -errno;
  *out = p;
  return 0;
}

int os_munmap(void *addr, size_t len) {
  int err = os_enter(OS_MUNMAP);
  if (err) return err;
  return munmap(addr, len) == 0 ? 0 : -errno;
}

int os_unmap_whole(void *addr, size_t len) {
  int err = os_munmap(addr, len);
  return err ? os_munmap(addr, len) : 0;
}

int os_mprotect(void *addr, size_t len, int prot) {
  int err = os_enter(OS_MPROTECT);
  if (err) return err;
  return mprotect(addr, len, prot) == 0 ? 0 : -errno;
}

int os_madvise(void *addr, size_t len, int advice) {
  int err = os_enter(OS_MADVISE);
  if (err) return err;
  return madvise(addr, len, advice) == 0 ? 0 : -errno;
}

int os_memfd_create(const char *name, unsigned flags, int *fd) {
  int err = os_enter(OS_MEMFD_CREATE);
  if (err) return err;
  int r = (int)syscall(SYS_memfd_create, name, flags);
  if (r < 0) return -errno;
  *fd = r;
  return 0;
}

int os_ftruncate(int fd, off_t len) {
  int err = os_enter(OS_FTRUNCATE);
  if (err) return err;
  return ftruncate(fd, len) == 0 ? 0 : -errno;
}

int os_pwrite_all(int fd, const void *buf, size_t len, off_t off) {
  int err = os_enter(OS_PWRITE);
  if (err) return err;
  const char *p = buf;
  while (len) {
    ssize_t n = pwrite(fd, p, len, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
    off += n;
  }
  return 0;
}

int os_add_seals(int fd, int seals) {
  int err = os_enter(OS_SEAL);
  if (err) return err;
  return fcntl(fd, F_ADD_SEALS, seals) == 0 ? 0 : -errno;
}

int os_close(int fd) {
  int err = os_enter(OS_CLOSE);
  if (err) {
    /* An injected close failure must not leak the descriptor: Linux closes
     * it even when close() reports an error, and so do we. */
    close(fd);
    return err;
  }
  return close(fd) == 0 ? 0 : -errno;
}

int os_open_read(const char *path, int *fd) {
  int err = os_enter(OS_OPEN);
  if (err) return err;
  int r = open(path, O_RDONLY | O_CLOEXEC);
  if (r < 0) return -errno;
  *fd = r;
  return 0;
}

bool os_guard_markers_work(void) {
  static _Atomic int known; /* 0 unknown, 1 yes, -1 no */
  int k = atomic_load_explicit(&known, memory_order_relaxed);
  if (k) return k > 0;
  size_t len = os_page_size();
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  k = -1;
  if (p != MAP_FAILED) {
    if (madvise(p, len, OS_MADV_GUARD_INSTALL) == 0) k = 1;
    munmap(p, len);
  }
  atomic_store_explicit(&known, k, memory_order_relaxed);
  return k > 0;
}

uint64_t os_address_limit(void) {
  uint64_t limit = 128ull << 40;
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < limit)
    limit = rl.rlim_cur;
  return limit;
}

uint64_t os_physical_bytes(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return UINT64_MAX;
  return (uint64_t)pages * (uint64_t)page;
}

/* PAGEMAP_SCAN's ABI (include/uapi/linux/fs.h, Linux 6.7), spelled out
 * here because Debian 12's headers predate it. */
#ifndef PAGEMAP_SCAN
struct page_region {
  __u64 start;
  __u64 end;
  __u64 categories;
};
struct pm_scan_arg {
  __u64 size;
  __u64 flags;
  __u64 start;
  __u64 end;
  __u64 walk_end;
  __u64 vec;
  __u64 vec_len;
  __u64 max_pages;
  __u64 category_inverted;
  __u64 category_mask;
  __u64 category_anyof_mask;
  __u64 return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#endif

int os_pagemap_scan(int fd, uint64_t start, uint64_t end, os_page_run_t *runs, size_t cap,
                    uint64_t *walk_end) {
  int err = os_enter(OS_PAGEMAP_SCAN);
  if (err) return err;
  struct page_region vec[OS_SCAN_RUNS_MAX];
  if (cap > OS_SCAN_RUNS_MAX) cap = OS_SCAN_RUNS_MAX;
  /* Private data: present or swapped, and (after inversion) neither a
   * page-cache page of a file mapping nor the shared zero page. Written
   * (PAGE_IS_WRITTEN) is not asked: it needs userfaultfd write-protection. */
  struct pm_scan_arg arg = {
      .size = sizeof(arg),
      .start = start,
      .end = end,
      .vec = (uintptr_t)vec,
      .vec_len = cap,
      .category_inverted = PAGE_IS_FILE | PAGE_IS_PFNZERO,
      .category_mask = PAGE_IS_FILE | PAGE_IS_PFNZERO,
      .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
      .return_mask = PAGE_IS_SWAPPED,
  };
  int n = ioctl(fd, PAGEMAP_SCAN, &arg);
  if (n < 0) return -errno;
  for (int i = 0; i < n; i++)
    runs[i] = (os_page_run_t){vec[i].start, vec[i].end - vec[i].start,
                              (vec[i].categories & PAGE_IS_SWAPPED) != 0};
  *walk_end = arg.walk_end;
  return n;
}

int os_fault_count(uint64_t *out, uint64_t *preempted) {
  int err = os_enter(OS_GETRUSAGE);
  if (err) return err;
  struct rusage u;
  if (getrusage(RUSAGE_SELF, &u) != 0) return -errno;
  *out = (uint64_t)u.ru_minflt + (uint64_t)u.ru_majflt;
  if (preempted) *preempted = (uint64_t)u.ru_nivcsw;
  return 0;
}

int os_no_huge_pages(void *p, size_t len) {
  int err = os_enter(OS_NOHUGEPAGE);
  if (err) return err;
  if (madvise(p, len, MADV_NOHUGEPAGE) == 0) return 0;
  return errno == EINVAL ? 0 : -errno; /* EINVAL: no transparent huge pages here */
}

int os_pidfd_open_self(int *fd) {
  int err = os_enter(OS_PIDFD_OPEN);
  if (err) return err;
  int r = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (r < 0) return -errno;
  *fd = r;
  return 0;
}

int64_t os_process_madvise(int pidfd, const struct iovec *iov, size_t n, int advice) {
  int err = os_enter(OS_PROCESS_MADVISE);
  if (err) return err;
  long r = syscall(SYS_process_madvise, pidfd, iov, n, advice, 0);
  return r < 0 ? -errno : (int64_t)r;
}

int os_pagemap_open_self(int *fd) { return os_open_read("/proc/self/pagemap", fd); }

/* Self descriptors. A child process inherits descriptors that name its
 * parent (its pagemap, its pidfd), and it may be made without running any
 * fork handler (_Fork, a raw clone). So each descriptor records the
 * process it was opened in, and every use compares: the process is
 * identified by a word in a MADV_WIPEONFORK page, which every child gets
 * zeroed whatever made it, and which holds the pid of the process once
 * asked. One load per use; where the kernel lacks MADV_WIPEONFORK (before
 * Linux 4.14), getpid() per use. */
static _Atomic uint64_t *self_word;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_word_init(void) {
  size_t len = os_page_size();
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  if (madvise(p, len, MADV_WIPEONFORK) != 0) {
    munmap(p, len);
    return;
  }
  self_word = p;
}

uint64_t os_self_id(void) {
  pthread_once(&self_once, self_word_init);
  if (!self_word) return (uint64_t)getpid();
  uint64_t id = atomic_load_explicit(self_word, memory_order_acquire);
  if (id) return id;
  /* A new process (or the first ask): its pid names it from now on. */
  uint64_t pid = (uint64_t)getpid(), none = 0;
  if (!atomic_compare_exchange_strong(self_word, &none, pid)) return none;
  return pid;
}

void os_self_fd_init(os_self_fd_t *s, int (*open_fn)(int *fd)) {
  pthread_mutex_init(&s->lock, NULL);
  atomic_init(&s->fd, -1);
  atomic_init(&s->owner, 0);
  s->open_fn = open_fn;
}

void os_self_fd_destroy(os_self_fd_t *s) {
  int fd = atomic_load_explicit(&s->fd, memory_order_relaxed);
  if (fd >= 0) os_close(fd);
  atomic_store_explicit(&s->fd, -1, memory_order_relaxed);
  pthread_mutex_destroy(&s->lock);
}

int os_self_fd_get(os_self_fd_t *s, int *out) {
  uint64_t self = os_self_id();
  int f = atomic_load_explicit(&s->fd, memory_order_acquire);
  if (f >= 0 && atomic_load_explicit(&s->owner, memory_order_relaxed) == self) {
    *out = f;
    return 0;
  }
  int err = 0;
  pthread_mutex_lock(&s->lock);
  f = atomic_load_explicit(&s->fd, memory_order_relaxed);
  if (f < 0 || atomic_load_explicit(&s->owner, memory_order_relaxed) != self) {
    /* In a child, the inherited descriptor is the child's own copy. */
    if (f >= 0) os_close(f);
    atomic_store_explicit(&s->fd, -1, memory_order_release);
    f = -1;
    err = s->open_fn(&f);
    if (!err) {
      atomic_store_explicit(&s->owner, self, memory_order_relaxed);
      atomic_store_explicit(&s->fd, f, memory_order_release);
    }
  }
  *out = f;
  pthread_mutex_unlock(&s->lock);
  return err;
}
