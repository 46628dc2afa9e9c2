/* The shared pool fixture of every test that goes through the public API:
 * a small configuration, module descriptions built in place, and the
 * checks several suites make (mappings, descriptors, writes that fault). */
#ifndef WPOOL_TEST_FIXTURE_H
#define WPOOL_TEST_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wpool.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define PAGE WPOOL_PAGE_SIZE

/* 4 instances of one 1 MiB-reserved memory (16 pages max), 64 KiB guards,
 * one table of 2048 elements, 64 KiB state, 4 stacks of 64 KiB. */
static inline wpool_config_t small_config(void) {
  wpool_config_t c;
  wpool_config_init(&c);
  c.instance_count = 4;
  c.instance_size = 64 * KiB;
  c.instance_memory_pages = 16;
  c.memory_reservation = 1 * MiB;
  c.memory_guard_size = 64 * KiB;
  c.instance_table_elements = 2048;
  c.stack_count = 4;
  c.async_stack_size = 64 * KiB;
  return c;
}

/* CLOCK_MONOTONIC in ns, for tests that wait or bound a loop in time. */
static inline uint64_t clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The pool's statistics, by value. */
static inline wpool_stats_t stats(wpool_t *p) {
  wpool_stats_t s;
  wpool_stats_get(p, &s);
  return s;
}

static inline wpool_t *make_pool(const wpool_config_t *c) {
  wpool_t *p = NULL;
  int err = wpool_create(c, &p);
  cr_assert_eq(err, 0, "wpool_create: %s", wpool_last_error());
  return p;
}

/* A module with one memory of `min` pages (max `max`) holding `nseg`
 * segments, one table of 16..64 elements, and `state` bytes of state. */
typedef struct test_module {
  wpool_data_segment_t seg[4];
  wpool_memory_desc_t mem;
  wpool_table_desc_t table;
  wpool_module_desc_t desc;
} test_module_t;

static inline void tm_init(test_module_t *t, uint64_t min, uint64_t max, size_t state) {
  memset(t, 0, sizeof(*t));
  t->mem = (wpool_memory_desc_t){.min_pages = min, .max_pages = max, .segments = t->seg};
  t->table = (wpool_table_desc_t){.min_elements = 16, .max_elements = 64};
  t->desc = (wpool_module_desc_t){
      .state_size = state, .memories = &t->mem, .nmemories = 1, .tables = &t->table, .ntables = 1};
}

static inline void tm_segment(test_module_t *t, uint64_t off, const void *bytes, size_t len) {
  t->seg[t->mem.nsegments++] = (wpool_data_segment_t){.offset = off, .bytes = bytes, .len = len};
}

static inline wpool_module_t *make_module(wpool_t *p, const test_module_t *t) {
  wpool_module_t *m = NULL;
  int err = wpool_module_new(p, &t->desc, &m);
  cr_assert_eq(err, 0, "wpool_module_new: %s", wpool_last_error());
  return m;
}

static inline wpool_instance_t *make_instance(wpool_t *p, wpool_module_t *m) {
  wpool_instance_t *i = NULL;
  int err = wpool_instance_new(p, m, &i);
  cr_assert_eq(err, 0, "wpool_instance_new: %s", wpool_last_error());
  return i;
}

/* Count lines of /proc/self/maps, or of entries of /proc/self/fd whose
 * link target, containing `needle` (NULL: all). */
static inline int count_maps(const char *needle) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int n = 0;
  while (f && fgets(line, sizeof(line), f))
    if (!needle || strstr(line, needle)) n++;
  if (f) fclose(f);
  return n;
}

#include <dirent.h>
#include <unistd.h>
static inline int count_fds(const char *needle) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  char path[300], target[256];
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, target, sizeof(target) - 1);
    if (len < 0) continue;
    target[len] = '\0';
    if (!needle || strstr(target, needle)) n++;
  }
  if (d) closedir(d);
  return n;
}

#include <signal.h>
#include <sys/wait.h>

static volatile uintptr_t fault_expected;
static void fault_handler(int sig, siginfo_t *si, void *ctx) {
  (void)sig;
  (void)ctx;
  _exit((uintptr_t)si->si_addr == fault_expected ? 42 : 43);
}

enum { WRITE_OK = 0, WRITE_FAULTS = 42, WRITE_FAULTS_ELSEWHERE = 43 };

/* Write one byte at `addr` in a forked child. Return WRITE_OK, WRITE_FAULTS
 * (SIGSEGV at exactly `addr`), or WRITE_FAULTS_ELSEWHERE. */
static inline int write_at(volatile uint8_t *addr) {
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    fault_expected = (uintptr_t)addr;
    *addr = 1;
    _exit(WRITE_OK);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Bytes of this process's locked memory (VmLck); sanitizers that turn
 * mlock into a no-op leave it 0. */
static inline unsigned long long locked_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned long long kb = 0;
  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "VmLck: %llu kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb * 1024;
}

/* Whether mlock locks memory here (sanitizers may make it a no-op). */
#include <sys/mman.h>
static inline bool mlock_works(void) {
  long pg = sysconf(_SC_PAGESIZE);
  void *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  bool ok = mlock(p, (size_t)pg) == 0 && locked_bytes() > 0;
  munlock(p, (size_t)pg);
  munmap(p, (size_t)pg);
  return ok;
}

/* Whether every byte of [p, p+len) equals `v`. */
static inline bool all_bytes(const uint8_t *p, size_t len, uint8_t v) {
  for (size_t i = 0; i < len; i++)
    if (p[i] != v) return false;
  return true;
}

#endif
