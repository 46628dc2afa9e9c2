/* What the runtime's API tests share: a test module's path (the .wasm
 * files meson builds into WPOOL_TEST_MODULES), the two backends, and a
 * runtime of the shape a test needs. */
#ifndef WPOOL_TESTS_RUNTIME_MODULES_H
#define WPOOL_TESTS_RUNTIME_MODULES_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

/* WPOOL_TEST_MODULES/NAME.wasm; four calls' results stay valid at once. */
static inline const char *test_module_path(const char *name) {
  static _Thread_local char buf[4][1024];
  static _Thread_local int k;
  const char *d = getenv("WPOOL_TEST_MODULES");
  cr_assert(d && *d, "WPOOL_TEST_MODULES is not set (meson test sets it)");
  char *b = buf[k++ % 4];
  snprintf(b, 1024, "%s/%s.wasm", d, name);
  return b;
}

static const wrt_backend_t test_backends[] = {WRT_BACKEND_POOL, WRT_BACKEND_STOCK};

/* A runtime on backend b, its pool's configuration the runtime's layout
 * (wrt_config_init) changed by `shape`. */
static inline wrt_runtime_t *test_runtime(wrt_backend_t b, void (*shape)(wpool_config_t *c)) {
  wpool_config_t c;
  wrt_config_init(&c);
  shape(&c);
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = b;
  o.pool_config = &c;
  wrt_runtime_t *rt;
  cr_assert_eq(wrt_create(&o, &rt), 0, "wrt_create: %s", wrt_last_error());
  return rt;
}

#endif
