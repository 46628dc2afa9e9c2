/* The thin OS layer: every system call wpool makes goes through here, so
 * tests can make the k-th call of any kind fail with a chosen errno.
 * Every function returns 0 (or a result) on success and -errno on failure;
 * none sets errno. */
#ifndef WPOOL_OS_H
#define WPOOL_OS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum os_call {
  OS_MMAP,
  OS_MUNMAP,
  OS_MPROTECT,
  OS_MADVISE,
  OS_MEMFD_CREATE,
  OS_FTRUNCATE,
  OS_PWRITE,
  OS_SEAL,
  OS_CLOSE,
  OS_OPEN,
  OS_PAGEMAP_SCAN,
  OS_PIDFD_OPEN,
  OS_PROCESS_MADVISE,
  OS_GETRUSAGE,
  OS_NOHUGEPAGE,
  OS_CALL_COUNT
} os_call_t;

/* The host page size in bytes (a power of two). */
size_t os_page_size(void);

/* mmap; *out receives the address. */
int os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, void **out);
int os_munmap(void *addr, size_t len);
/* Unmap a whole mapping made by os_mmap. Removing a whole mapping needs no
 * split, so the kernel has no reason to refuse it but a transient one: it
 * is tried twice. */
int os_unmap_whole(void *addr, size_t len);
int os_mprotect(void *addr, size_t len, int prot);
int os_madvise(void *addr, size_t len, int advice);
/* memfd_create; *fd receives the descriptor. */
int os_memfd_create(const char *name, unsigned flags, int *fd);
int os_ftruncate(int fd, off_t len);
/* Write all of `len` bytes at `off`. */
int os_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* fcntl(F_ADD_SEALS). */
int os_add_seals(int fd, int seals);
int os_close(int fd);
/* open(path, O_RDONLY | O_CLOEXEC); *fd receives the descriptor. */
int os_open_read(const char *path, int *fd);
/* madvise advice (Linux 6.13, uapi/asm-generic/mman-common.h): make the
 * range fault on access without a mapping of its own. Spelled out for
 * headers that predate it. */
#define OS_MADV_GUARD_INSTALL 102

/* Whether this kernel takes MADV_GUARD_INSTALL (asked once, on a scratch
 * page). */
bool os_guard_markers_work(void);

/* The bytes of address space a process may map: the user address space
 * (128 TiB on x86-64 and arm64 with 4-level page tables), or RLIMIT_AS
 * when lower. */
uint64_t os_address_limit(void);

/* Bytes of physical memory this host has (sysconf); UINT64_MAX when it
 * cannot tell. */
uint64_t os_physical_bytes(void);

/* pidfd_open(getpid()); *fd receives the descriptor. */
int os_pidfd_open_self(int *fd);
/* open("/proc/self/pagemap"); *fd receives the descriptor. */
int os_pagemap_open_self(int *fd);

/* Which process this is: a nonzero id that differs in every child,
 * however the child was made (fork, _Fork, clone without CLONE_VM).
 * Cheap: one load where the kernel has MADV_WIPEONFORK. */
uint64_t os_self_id(void);

/* A descriptor that names this process (its pagemap, its pidfd), opened on
 * first use and reopened in any child process (os_self_id changes), which
 * inherits descriptors naming its parent. Lock-free once open. */
typedef struct os_self_fd {
  pthread_mutex_t lock;    /* opening and reopening */
  _Atomic int fd;          /* -1 until opened; read without the lock */
  _Atomic uint64_t owner;  /* os_self_id() of the process `fd` was opened in */
  int (*open_fn)(int *fd);
} os_self_fd_t;

void os_self_fd_init(os_self_fd_t *s, int (*open_fn)(int *fd));
void os_self_fd_destroy(os_self_fd_t *s);
/* The descriptor for this process. Return: 0 or -errno from opening. */
int os_self_fd_get(os_self_fd_t *s, int *out);
/* process_madvise(pidfd, iov, n, advice): the ranges in one call, so that
 * the kernel can flush the TLB once for all of them (Linux 6.13+ accepts
 * MADV_DONTNEED on ourselves). Return the bytes advised or -errno. */
struct iovec;
int64_t os_process_madvise(int pidfd, const struct iovec *iov, size_t n, int advice);

/* The page faults this process has taken so far, all its threads (those
 * gone included), minor and major, faults taken inside system calls on
 * its behalf included, and in *preempted (NULL: not wanted) the times its
 * threads were switched out while runnable (involuntary context
 * switches): getrusage(RUSAGE_SELF). */
int os_fault_count(uint64_t *out, uint64_t *preempted);

/* madvise(MADV_NOHUGEPAGE): the kernel never backs [p, p + len) with huge
 * pages, neither at a fault nor by khugepaged's collapsing (which fills
 * the absent pages of a range with zeros, present without a fault).
 * A kernel without transparent huge pages has nothing to turn off: 0. */
int os_no_huge_pages(void *p, size_t len);

/* Runs one PAGEMAP_SCAN call reports at most. */
#define OS_SCAN_RUNS_MAX 64

/* One PAGEMAP_SCAN ioctl (Linux 6.7+) on a /proc/PID/pagemap descriptor:
 * the runs of pages in [start, end) that hold private data (present or
 * swapped, neither file-backed nor the shared zero page), at most `cap` of
 * them (cap <= OS_SCAN_RUNS_MAX). Fills runs[i] = {address, length,
 * swapped} and *walk_end (where the walk stopped: end, or earlier when
 * `cap` runs were found). Return the number of runs or -errno (-ENOTTY /
 * -EINVAL where the kernel lacks the ioctl). */
typedef struct os_page_run {
  uint64_t off, len; /* bytes: the run's address (dirty.h makes it an offset) and length */
  bool swapped;      /* the run's pages are in swap, not in memory */
} os_page_run_t;
int os_pagemap_scan(int fd, uint64_t start, uint64_t end, os_page_run_t *runs, size_t cap,
                    uint64_t *walk_end);

/* Failure injection, for tests. After os_fail_at(call, k, err), the k-th
 * next call of that kind (k = 1: the very next) fails with -err, once.
 * os_fail_at(call, 0, 0) disarms. os_calls(call) counts calls made so far,
 * so a test can find every call site a scenario reaches. Thread-safe. */
void os_fail_at(os_call_t call, uint64_t k, int err);
uint64_t os_calls(os_call_t call);
void os_fail_reset(void);
const char *os_call_name(os_call_t call);

#endif /* WPOOL_OS_H */
