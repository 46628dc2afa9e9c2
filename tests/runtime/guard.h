/* Helpers of the tests of stacks, host calls and time limits
 * (test_guard.c, test_timeout.c): the guests of examples/ (WPOOL_EXAMPLES
 * names their directory), a small pool, runtimes, requests. */
#ifndef WPOOL_TESTS_RUNTIME_GUARD_H
#define WPOOL_TESTS_RUNTIME_GUARD_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

static const wrt_backend_t backends[] __attribute__((unused)) = {WRT_BACKEND_POOL,
                                                                 WRT_BACKEND_STOCK};

static inline const char *guest(const char *name) {
  static _Thread_local char buf[4][1024];
  static _Thread_local int k;
  const char *d = getenv("WPOOL_EXAMPLES");
  cr_assert(d && *d, "WPOOL_EXAMPLES is not set (meson test sets it)");
  char *b = buf[k++ % 4];
  snprintf(b, 1024, "%s/%s.wasm", d, name);
  return b;
}

/* Guests' stacks of 256 KiB: the sweeps below reach their end quickly. */
static inline wpool_config_t cfg(uint32_t stacks) {
  wpool_config_t c;
  wrt_config_init(&c);
  c.instance_count = 8;
  c.instance_memory_pages = 256;
  c.stack_count = stacks;
  c.async_stack_size = 256u << 10;
  return c;
}

static inline wrt_runtime_t *make_rt(wrt_backend_t b, const wpool_config_t *c) {
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = b;
  o.pool_config = c;
  wrt_runtime_t *rt;
  cr_assert_eq(wrt_create(&o, &rt), 0, "wrt_create: %s", wrt_last_error());
  return rt;
}

static inline wrt_module_t *load(wrt_runtime_t *rt, const char *name) {
  wrt_module_t *m;
  cr_assert_eq(wrt_load(rt, guest(name), &m), 0, "load %s: %s", name, wrt_last_error());
  return m;
}

/* misbehave MODE N (N < 0: no N), with `timeout_ns`. */
static inline void run(wrt_module_t *m, const char *mode, long n, uint64_t timeout_ns, wrt_result_t *res) {
  char num[32];
  snprintf(num, sizeof(num), "%ld", n);
  const char *argv[] = {"misbehave", mode, num};
  wrt_request_t req = {.argv = argv, .argc = n < 0 ? 2 : 3, .timeout_ns = timeout_ns};
  cr_assert_eq(wrt_run(m, &req, res), 0, "%s %ld: %s", mode, n, wrt_last_error());
}

#endif
