/* Executed invariants: pool_is_valid() holds through every kind of
 * change and catches broken records; API misuse aborts at debug level
 * >= 1 (WPOOL_DEBUG, the meson option debug_level). */
#include <criterion/criterion.h>
#include <signal.h>

#include "fixture.h"
#include "pool/check.h"
#include "pool/types.h"

static wpool_t *busy_pool(wpool_config_t c, wpool_module_t **m) {
  wpool_t *p = make_pool(&c);
  test_module_t tm;
  static const char data[] = "image bytes";
  tm_init(&tm, 2, 8, 512);
  tm_segment(&tm, 100, data, sizeof(data));
  *m = make_module(p, &tm);
  return p;
}

static void exercise(wpool_t *p, wpool_module_t *m) {
  cr_assert(pool_is_valid(p));
  wpool_instance_t *in[3];
  for (int i = 0; i < 3; i++) {
    in[i] = make_instance(p, m);
    wpool_memory_base(in[i], 0)[70000] = 1;
    cr_assert_eq(wpool_memory_grow(in[i], 0, 1), 2);
    cr_assert(pool_is_valid(p));
  }
  for (int i = 0; i < 3; i++) {
    wpool_instance_free(in[i]);
    wpool_decommit_flush(p);
  }
  wpool_trim(p, 0);
  cr_assert(pool_is_valid(p));
}

Test(check, the_invariants_hold_through_every_kind_of_change) {
  wpool_module_t *m;
  wpool_t *p = busy_pool(small_config(), &m);
  exercise(p, m);
  wpool_module_release(m);
  cr_assert(pool_is_valid(p));
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(check, the_invariants_hold_with_the_decommit_queue) {
  wpool_config_t c = small_config();
  c.decommit_batch_size = 4;
  wpool_module_t *m;
  wpool_t *p = busy_pool(c, &m);
  wpool_instance_t *a = make_instance(p, m), *b = make_instance(p, m);
  wpool_instance_free(a);
  cr_assert(pool_is_valid(p), "a queued slot is used, not live, and counted as queued");
  wpool_instance_free(b);
  cr_assert(pool_is_valid(p));
  wpool_decommit_flush(p);
  cr_assert(pool_is_valid(p));
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(check, broken_records_are_caught) {
  wpool_module_t *m;
  wpool_t *p = busy_pool(small_config(), &m);
  wpool_instance_t *in = make_instance(p, m);
  cr_assert(pool_is_valid(p));
  atomic_fetch_add(&p->live_instances, 1);
  cr_assert_not(pool_is_valid(p), "live instances off by one");
  atomic_fetch_sub(&p->live_instances, 1);
  atomic_fetch_add(&p->kept_state, 4096);
  cr_assert_not(pool_is_valid(p), "kept bytes off");
  atomic_fetch_sub(&p->kept_state, 4096);
  memslot_t *s = pool_memslot(p, wpool_instance_slot(in), 0);
  s->accessible += 1;
  cr_assert_not(pool_is_valid(p), "a memslot record off");
  s->accessible -= 1;
  atomic_fetch_add(&p->live_modules, 1);
  cr_assert_not(pool_is_valid(p), "module count off");
  atomic_fetch_sub(&p->live_modules, 1);
  cr_assert(pool_is_valid(p));
  wpool_instance_free(in);
  cr_assert_eq(wpool_destroy(p), 0);
}

#if WPOOL_DEBUG >= 1
Test(check, an_instance_freed_twice_aborts, .signal = SIGABRT) {
  wpool_module_t *m;
  wpool_t *p = busy_pool(small_config(), &m);
  wpool_instance_t *in = make_instance(p, m);
  wpool_instance_free(in);
  wpool_instance_free(in);
}

Test(check, a_stack_freed_twice_aborts, .signal = SIGABRT) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  wpool_stack_t *s;
  cr_assert_eq(wpool_stack_new(p, &s), 0);
  wpool_stack_free(s);
  wpool_stack_free(s);
}

Test(check, a_module_released_twice_aborts, .signal = SIGABRT) {
  wpool_module_t *m;
  wpool_t *p = busy_pool(small_config(), &m);
  wpool_instance_t *in = make_instance(p, m); /* keeps the record alive */
  wpool_module_release(m);
  wpool_module_release(m);
  (void)in;
}
#else
Test(check, at_level_0_a_second_free_is_ignored) {
  wpool_module_t *m;
  wpool_t *p = busy_pool(small_config(), &m);
  wpool_instance_t *in = make_instance(p, m);
  wpool_instance_free(in);
  wpool_instance_free(in);
  cr_assert(pool_is_valid(p));
  cr_assert_eq(wpool_destroy(p), 0);
}
#endif
