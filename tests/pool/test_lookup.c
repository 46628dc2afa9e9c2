/* wpool_fault_lookup (issue 13), called from real signal handlers: a
 * SIGSEGV handler for the guards, where a guest's access would trap, and a
 * SIGUSR1 handler for the bytes that do not fault; every kind of region,
 * both edges of each. */
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>

#include "fixture.h"

static wpool_t *pool;
/* Written by the handlers: volatile, and read after a signal fence. */
static wpool_fault_info_t seen;
static volatile int seen_rc;
static volatile uint8_t *probe;
static sigjmp_buf back;

static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)uc;
  seen_rc = wpool_fault_lookup(pool, si->si_addr, &seen);
  siglongjmp(back, 1);
}

static void on_usr1(int sig) {
  (void)sig;
  seen_rc = wpool_fault_lookup(pool, (const void *)probe, &seen);
}

static void handlers(void) {
  struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
  cr_assert_eq(sigaction(SIGSEGV, &sa, NULL), 0);
  struct sigaction su = {.sa_handler = on_usr1};
  cr_assert_eq(sigaction(SIGUSR1, &su, NULL), 0);
  /* raise() runs the handler before it returns only where this thread
   * takes the signal (the test runner may block it). */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  cr_assert_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
}

/* Write at `a`; it must fault, and the handler's lookup is returned. */
static wpool_fault_info_t fault_at(uint8_t *a) {
  seen_rc = -99;
  if (sigsetjmp(back, 1) == 0) {
    *(volatile uint8_t *)a = 1;
    cr_assert_fail("a write at %p did not fault", (void *)a);
  }
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  cr_assert_eq(seen_rc, 0, "lookup of %p: %d", (void *)a, seen_rc);
  return seen;
}

/* Look `a` up from a signal handler without a fault. */
static wpool_fault_info_t lookup_at(const void *a, int want_rc) {
  probe = (volatile uint8_t *)a;
  seen_rc = -99;
  raise(SIGUSR1);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  cr_assert_eq(seen_rc, want_rc, "lookup of %p: %d, not %d", a, seen_rc, want_rc);
  return seen;
}

/* An address just outside a region of `kind`: not in the pool, or in
 * another of its regions (mmap may place the pools side by side). */
static void outside(const void *a, wpool_region_kind_t kind, const char *what) {
  probe = (volatile uint8_t *)a;
  seen_rc = -99;
  raise(SIGUSR1);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  if (seen_rc == 0)
    cr_assert_neq(seen.kind, kind, "%s: still kind %d", what, kind);
  else
    cr_assert(seen_rc == WPOOL_EINVAL && seen.kind == WPOOL_REGION_NONE, "%s", what);
}

static void expect(wpool_fault_info_t f, wpool_region_kind_t kind, uint32_t slot, uint32_t index,
                   uint64_t offset, bool accessible, const wpool_instance_t *inst,
                   const char *what) {
  cr_assert_eq(f.kind, kind, "%s: kind %d", what, f.kind);
  cr_assert_eq(f.slot, slot, "%s: slot %u", what, f.slot);
  cr_assert_eq(f.index, index, "%s: index %u", what, f.index);
  cr_assert_eq(f.offset, offset, "%s: offset %llu", what, (unsigned long long)f.offset);
  cr_assert_eq(f.accessible, accessible, "%s: accessible", what);
  cr_assert_eq(f.instance, inst, "%s: instance", what);
}

static wpool_fault_info_t f_outside; /* a static object: not in the pool */

Test(lookup, every_region_at_both_edges_from_a_signal_handler) {
  wpool_fault_info_t f;
  wpool_config_t c = small_config(); /* 4 slots, 1 MiB + 64 KiB memories, 4 stacks */
  c.instance_memories = 2;
  c.instance_tables = 2;
  pool = make_pool(&c);
  handlers();
  static wpool_memory_desc_t mems[2];
  static wpool_table_desc_t tabs[2];
  mems[0] = mems[1] = (wpool_memory_desc_t){.min_pages = 2, .max_pages = 4};
  tabs[0] = tabs[1] = (wpool_table_desc_t){.min_elements = 4, .max_elements = 8};
  wpool_module_desc_t d = {
      .state_size = 100, .memories = mems, .nmemories = 2, .tables = tabs, .ntables = 2};
  wpool_module_t *m;
  cr_assert_eq(wpool_module_new(pool, &d, &m), 0, "%s", wpool_last_error());
  wpool_instance_t *a = make_instance(pool, m), *b = make_instance(pool, m);
  uint32_t sb = wpool_instance_slot(b);
  const uint64_t res = 1 * MiB, guard = 64 * KiB, acc = 2 * PAGE;

  /* Memories: accessible edges, the first byte past, the guard's last. */
  uint8_t *mb = wpool_memory_base(b, 1);
  expect(lookup_at(mb, 0), WPOOL_REGION_MEMORY, sb, 1, 0, true, b, "memory base");
  expect(lookup_at(mb + acc - 1, 0), WPOOL_REGION_MEMORY, sb, 1, acc - 1, true, b, "last byte");
  expect(fault_at(mb + acc), WPOOL_REGION_MEMORY, sb, 1, acc, false, b, "first byte past");
  expect(fault_at(mb + res + guard - 1), WPOOL_REGION_MEMORY, sb, 1, res + guard - 1, false, b,
         "the trailing guard's last byte");
  /* The guard before the first memory: memory 0 of slot 0, below its base. */
  uint8_t *m0 = wpool_memory_base(a, 0);
  cr_assert_eq(wpool_instance_slot(a), 0);
  expect(fault_at(m0 - 1), WPOOL_REGION_MEMORY, 0, 0, (uint64_t)-1, false, a, "pre-guard top");
  expect(fault_at(m0 - guard), WPOOL_REGION_MEMORY, 0, 0, (uint64_t)0 - guard, false, a,
         "pre-guard bottom");
  outside(m0 - guard - 1, WPOOL_REGION_MEMORY, "below the memory pool");

  /* A slot without a tenant: no instance. */
  uint8_t *free_mem = m0 + 3 * 2 * (res + guard); /* slot 3, memory 0 */
  expect(fault_at(free_mem), WPOOL_REGION_MEMORY, 3, 0, 0, false, NULL, "a free slot's memory");
  expect(fault_at(free_mem + 2 * (res + guard) - 1), WPOOL_REGION_MEMORY, 3, 1,
         res + guard - 1, false, NULL, "the last byte of the memory pool");
  outside(free_mem + 2 * (res + guard), WPOOL_REGION_MEMORY, "past the memory pool");

  /* Tables: read-write whole; both edges of a slot's table 1. */
  uint8_t *tb = wpool_table_data(b, 1);
  uint64_t tslot = 2048 * sizeof(void *);
  expect(lookup_at(tb, 0), WPOOL_REGION_TABLE, sb, 1, 0, true, b, "table base");
  expect(lookup_at(tb + tslot - 1, 0), WPOOL_REGION_TABLE, sb, 1, tslot - 1, true, b,
         "table's last byte");
  uint8_t *t0 = wpool_table_data(a, 0);
  outside(t0 - 1, WPOOL_REGION_TABLE, "below the table pool");
  outside(t0 + 4 * 2 * tslot, WPOOL_REGION_TABLE, "past the table pool");

  /* State. */
  uint8_t *st = wpool_instance_state(b);
  expect(lookup_at(st, 0), WPOOL_REGION_STATE, sb, 0, 0, true, b, "state base");
  expect(lookup_at(st + 64 * KiB - 1, 0), WPOOL_REGION_STATE, sb, 0, 64 * KiB - 1, true, b,
         "state's last byte");

  /* Stacks: the guard page faults, the usable bytes do not. */
  wpool_stack_t *s;
  cr_assert_eq(wpool_stack_new(pool, &s), 0);
  uint8_t *top = wpool_stack_top(s), *bottom = top - wpool_stack_size(s);
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  expect(fault_at(bottom - 1), WPOOL_REGION_STACK, 0, 0, page - 1, false, NULL, "guard's top");
  expect(fault_at(bottom - page), WPOOL_REGION_STACK, 0, 0, 0, false, NULL, "guard's bottom");
  expect(lookup_at(bottom, 0), WPOOL_REGION_STACK, 0, 0, page, true, NULL, "usable bottom");
  expect(lookup_at(top - 1, 0), WPOOL_REGION_STACK, 0, 0, page + 64 * KiB - 1, true, NULL,
         "usable top");
  outside(bottom - page - 1, WPOOL_REGION_STACK, "below the stack pool");
  outside(top + 3 * (64 * KiB + page), WPOOL_REGION_STACK, "past the stack pool");
  lookup_at(&f_outside, WPOOL_EINVAL);

  /* Arguments. */
  cr_assert_eq(wpool_fault_lookup(NULL, mb, &f), WPOOL_EINVAL);
  cr_assert_eq(wpool_fault_lookup(pool, mb, NULL), WPOOL_EINVAL);
  cr_assert_eq(wpool_fault_lookup(pool, &f, &f), WPOOL_EINVAL, "an address of the stack");

  wpool_stack_free(s);
  wpool_instance_free(a);
  wpool_instance_free(b);
  cr_assert_eq(wpool_destroy(pool), 0);
}
