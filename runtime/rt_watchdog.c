/* Time limits: a request's deadline, and the watchdog that interrupts a
 * request past it.
 *
 * No timer per request, no system call on a request's path: each thread
 * that runs requests has a slot (made at its first request with a limit,
 * freed when it exits) in one process-wide list; a request writes its
 * deadline into its thread's slot (two atomic stores) and clears it at the
 * end. Each runtime has one watchdog thread (started by its first request
 * with a limit, stopped by wrt_destroy) that sleeps until the earliest
 * deadline it knows of: at that moment it sends RT_TIMEOUT_SIGNAL to every
 * thread whose request of this runtime is past its deadline, again every
 * millisecond until the request ends, and otherwise goes back to sleep
 * until the next deadline. A request whose deadline is earlier than the
 * watchdog's planned wake-up wakes it (a mutex and a condition variable:
 * with one limit for all requests, as `wpool serve` has, a new deadline is
 * never the earliest, so this happens once per watchdog sleep at most).
 *
 * Lost wake-ups: the watchdog publishes its planned wake-up (next_wake)
 * and then scans the slots again; a request stores its deadline and then
 * reads next_wake. Both are sequentially consistent, so either the
 * watchdog's second scan sees the deadline, or the request sees the
 * published plan and, if its deadline is earlier, signals the condition
 * under the mutex the watchdog holds until it waits.
 *
 * A slot's thread cannot exit while the watchdog signals it: both hold
 * slots_lock (the exit's slot_free, the watchdog's scan). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_internal.h"

#define REPEAT_NS 1000000u /* the signal again after a millisecond */

typedef struct rt_slot {
  struct rt_slot *next, *prev; /* slots, under slots_lock */
  pthread_t thread;
  wrt_runtime_t *_Atomic rt; /* whose watchdog the deadline is for */
  _Atomic uint64_t deadline; /* CLOCK_MONOTONIC ns; 0: no request with a limit */
} rt_slot_t;

struct rt_watchdog {
  wrt_runtime_t *rt;
  pthread_mutex_t lock; /* held by the watchdog except while it waits */
  pthread_cond_t cond;  /* CLOCK_MONOTONIC */
  pthread_t thread;
  _Atomic uint64_t next_wake; /* the planned wake-up; UINT64_MAX: none */
  bool stop;                  /* under lock */
};

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static rt_slot_t *slots;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static int key_err;
static _Thread_local rt_slot_t *t_slot;

static void slot_free(void *p) {
  rt_slot_t *s = p;
  pthread_mutex_lock(&slots_lock);
  if (s->prev) s->prev->next = s->next;
  else slots = s->next;
  if (s->next) s->next->prev = s->prev;
  pthread_mutex_unlock(&slots_lock);
  free(s);
}

static void make_key(void) { key_err = pthread_key_create(&slot_key, slot_free); }

static rt_slot_t *thread_slot(void) {
  if (t_slot) return t_slot;
  pthread_once(&key_once, make_key);
  if (key_err) return NULL;
  rt_slot_t *s = calloc(1, sizeof(*s));
  if (!s) return NULL;
  s->thread = pthread_self();
  if (pthread_setspecific(slot_key, s) != 0) {
    free(s);
    return NULL;
  }
  pthread_mutex_lock(&slots_lock);
  s->next = slots;
  if (slots) slots->prev = s;
  slots = s;
  pthread_mutex_unlock(&slots_lock);
  t_slot = s;
  return s;
}

/* The earliest deadline of rt's requests at `now`; with `signal`, every
 * thread past its own is sent the signal (and counts again in 1 ms). */
static uint64_t scan(wrt_runtime_t *rt, uint64_t now, bool signal) {
  uint64_t earliest = UINT64_MAX;
  pthread_mutex_lock(&slots_lock);
  for (rt_slot_t *s = slots; s; s = s->next) {
    if (atomic_load(&s->rt) != rt) continue;
    uint64_t d = atomic_load(&s->deadline);
    if (!d) continue;
    if (d <= now) {
      if (signal) pthread_kill(s->thread, RT_TIMEOUT_SIGNAL);
      d = now + REPEAT_NS;
    }
    if (d < earliest) earliest = d;
  }
  pthread_mutex_unlock(&slots_lock);
  return earliest;
}

static void *watchdog_main(void *arg) {
  struct rt_watchdog *wd = arg;
  pthread_mutex_lock(&wd->lock);
  while (!wd->stop) {
    uint64_t now = rt_now_ns();
    uint64_t wake = scan(wd->rt, now, true);
    for (;;) {
      atomic_store(&wd->next_wake, wake);
      uint64_t again = scan(wd->rt, now, false);
      if (again >= wake) break;
      wake = again;
    }
    if (wake == UINT64_MAX) {
      pthread_cond_wait(&wd->cond, &wd->lock);
    } else {
      struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000u),
                            .tv_nsec = (long)(wake % 1000000000u)};
      pthread_cond_timedwait(&wd->cond, &wd->lock, &ts);
    }
  }
  pthread_mutex_unlock(&wd->lock);
  return NULL;
}

/* rt's watchdog, started on first use (under rt->lock); NULL with *err
 * and the message set when it cannot start. */
static struct rt_watchdog *watchdog_of(wrt_runtime_t *rt, int *err) {
  struct rt_watchdog *wd = atomic_load_explicit(&rt->watchdog, memory_order_acquire);
  if (wd) return wd;
  pthread_mutex_lock(&rt->lock);
  wd = atomic_load_explicit(&rt->watchdog, memory_order_relaxed);
  if (wd) goto done;
  wd = calloc(1, sizeof(*wd));
  if (!wd) {
    *err = rt_error(WRT_ENOMEM, "the watchdog: out of memory");
    goto done;
  }
  wd->rt = rt;
  atomic_init(&wd->next_wake, UINT64_MAX);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&wd->cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&wd->lock, NULL);
  /* Every signal blocked: the watchdog handles none of the process's. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(&wd->thread, NULL, watchdog_main, wd);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0) {
    *err = rt_error(WRT_ESYS, "the watchdog thread: pthread_create: %s", strerror(e));
    pthread_cond_destroy(&wd->cond);
    pthread_mutex_destroy(&wd->lock);
    free(wd);
    wd = NULL;
    goto done;
  }
  atomic_store_explicit(&rt->watchdog, wd, memory_order_release);
done:
  pthread_mutex_unlock(&rt->lock);
  return wd;
}

int rt_deadline_set(rt_ctx_t *c, uint64_t deadline_ns) {
  /* Paired: a request sets its deadline once, and clears it before the next. */
  debug_assert(deadline_ns != 0 && c->deadline_ns == 0);
  wrt_runtime_t *rt = c->m->rt;
  int err = 0;
  struct rt_watchdog *wd = watchdog_of(rt, &err);
  if (!wd) return err;
  rt_slot_t *s = thread_slot();
  if (!s) return rt_error(WRT_ENOMEM, "%s: no time limit: out of memory", c->m->path);
  c->deadline_ns = deadline_ns;
  if (atomic_load_explicit(&s->rt, memory_order_relaxed) != rt)
    atomic_store_explicit(&s->rt, rt, memory_order_relaxed); /* before the deadline's store */
  /* Sequentially consistent: the deadline is visible before next_wake is
   * read (the one fence of a request with a limit; above). */
  atomic_store(&s->deadline, deadline_ns);
  if (deadline_ns < atomic_load(&wd->next_wake)) {
    pthread_mutex_lock(&wd->lock);
    pthread_cond_signal(&wd->cond);
    pthread_mutex_unlock(&wd->lock);
  }
  return 0;
}

/* Relaxed: a watchdog that still sees the old deadline sends a signal the
 * handler ignores (c->deadline_ns is 0 by then, or a later request's). */
void rt_deadline_clear(rt_ctx_t *c) {
  if (!c->deadline_ns) return;
  debug_assert(t_slot && atomic_load_explicit(&t_slot->deadline, memory_order_relaxed) ==
                             c->deadline_ns); /* set on this thread, by rt_deadline_set */
  c->deadline_ns = 0;
  atomic_store_explicit(&t_slot->deadline, 0, memory_order_relaxed);
}

/* No thread's slot holds a deadline of rt's (a walk of every thread's). */
static bool no_deadline_of(const wrt_runtime_t *rt) {
  bool none = true;
  pthread_mutex_lock(&slots_lock);
  for (rt_slot_t *s = slots; s && none; s = s->next)
    none = atomic_load(&s->rt) != rt || atomic_load(&s->deadline) == 0;
  pthread_mutex_unlock(&slots_lock);
  return none;
}

void rt_watchdog_stop(wrt_runtime_t *rt) {
  struct rt_watchdog *wd = atomic_load(&rt->watchdog);
  if (!wd) return;
  /* Every request's deadline was cleared at its end: none may fire after
   * its runtime is gone. */
  debug_assert(atomic_load(&rt->running) == 0);
  debug_assert_expensive(no_deadline_of(rt));
  pthread_mutex_lock(&wd->lock);
  wd->stop = true;
  pthread_cond_signal(&wd->cond);
  pthread_mutex_unlock(&wd->lock);
  pthread_join(wd->thread, NULL);
  pthread_cond_destroy(&wd->cond);
  pthread_mutex_destroy(&wd->lock);
  free(wd);
  atomic_store(&rt->watchdog, NULL);
}
