/* A small lock for critical sections of a few dozen instructions (the
 * index allocator's). Acquiring is one atomic exchange and releasing is a
 * plain release store, half the atomic read-modify-writes of a futex mutex,
 * which is most of the cost of an uncontended slot operation (measured:
 * docs/performance.md). A waiter spins with `pause` for a bounded time and
 * then yields the CPU, so a holder that was preempted gets to run.
 * Not for sections that can block or run long. */
#ifndef WPOOL_LOCK_H
#define WPOOL_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct spin_lock {
  atomic_bool held;
} spin_lock_t;

#define SPIN_LOCK_INIT {false}

static inline void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static inline void spin_lock_init(spin_lock_t *l) { atomic_init(&l->held, false); }

static inline void spin_lock(spin_lock_t *l) {
  while (atomic_exchange_explicit(&l->held, true, memory_order_acquire)) {
    /* Wait on a plain load so the cache line stays shared while held. */
    for (unsigned spins = 0; atomic_load_explicit(&l->held, memory_order_relaxed); spins++) {
      if (spins < 128)
        spin_pause();
      else
        sched_yield();
    }
  }
}

/* Whether some thread holds the lock: what a function named *_locked
 * asserts (debug_assert) of the lock it needs. */
static inline bool spin_is_locked(spin_lock_t *l) {
  return atomic_load_explicit(&l->held, memory_order_relaxed);
}

static inline void spin_unlock(spin_lock_t *l) {
  atomic_store_explicit(&l->held, false, memory_order_release);
}

#endif /* WPOOL_LOCK_H */
