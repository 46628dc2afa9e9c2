/* Fault injection: for each scenario and each kind of OS call it makes, the
 * k-th call fails, for every k the scenario reaches. Afterwards the call
 * reported a typed error with a message (or, for void calls, recovered),
 * the index allocator's invariants hold, every slot can be allocated and
 * reads pristine, and once the pool is destroyed no mapping or descriptor
 * is left behind. */
#include <errno.h>

#include "fixture.h"
#include "memory/os.h"
#include "pool/types.h"

static const char data_a[] = "module A's data", data_b[] = "module B's data";

typedef struct fixture {
  wpool_config_t cfg;
  wpool_t *p;
  test_module_t ta, tb;
  wpool_module_t *a, *b;
  wpool_instance_t *in;
  wpool_stack_t *stack;
} fixture_t;

typedef struct scenario {
  const char *name;
  void (*config)(wpool_config_t *c); /* NULL: small_config with 2 slots */
  void (*setup)(fixture_t *f);       /* after the pool and modules exist */
  int (*act)(fixture_t *f);          /* the call under test; its result */
} scenario_t;

static void fixture_init(fixture_t *f, const scenario_t *s, bool create) {
  memset(f, 0, sizeof(*f));
  f->cfg = small_config();
  f->cfg.instance_count = 2;
  f->cfg.linear_memory_keep_resident = 8192;
  f->cfg.async_stack_zeroing = true;
  if (s->config) s->config(&f->cfg);
  tm_init(&f->ta, 2, 8, 256);
  tm_segment(&f->ta, 4096 * 3, data_a, sizeof(data_a));
  tm_init(&f->tb, 1, 8, 256);
  tm_segment(&f->tb, 100, data_b, sizeof(data_b));
  if (!create) return;
  f->p = make_pool(&f->cfg);
  f->a = make_module(f->p, &f->ta);
  f->b = make_module(f->p, &f->tb);
}

static void dirty(wpool_instance_t *in) {
  memset(wpool_memory_base(in, 0), 0xee, wpool_memory_pages(in, 0) * PAGE);
  memset(wpool_instance_state(in), 0xee, 256);
  wpool_table_base(in, 0)[3] = (void *)0xdead;
}

/* Every slot allocatable, and pristine, for a fresh module. */
static void check_pool(fixture_t *f, const char *where) {
  cr_assert(index_is_valid(&f->p->index), "%s: index invariants", where);
  cr_assert(index_is_valid(&f->p->stack_index), "%s: stack index invariants", where);
  test_module_t tc;
  tm_init(&tc, 2, 8, 256);
  tm_segment(&tc, 5000, data_b, sizeof(data_b));
  wpool_module_t *mc = make_module(f->p, &tc);
  wpool_instance_t *all[8];
  uint32_t n = f->cfg.instance_count - (uint32_t)atomic_load(&f->p->live_instances);
  for (uint32_t i = 0; i < n; i++) {
    int err = wpool_instance_new(f->p, mc, &all[i]);
    cr_assert_eq(err, 0, "%s: slot %u of %u not allocatable: %s", where, i, n, wpool_last_error());
    uint8_t *b = wpool_memory_base(all[i], 0);
    cr_assert(all_bytes(b, 5000, 0), "%s: zero before the image", where);
    cr_assert_str_eq((char *)b + 5000, data_b, "%s: image bytes", where);
    cr_assert(all_bytes(b + 5000 + sizeof(data_b), 2 * PAGE - 5000 - sizeof(data_b), 0),
              "%s: zero after the image", where);
    cr_assert(all_bytes(wpool_instance_state(all[i]), 256, 0), "%s: state", where);
    cr_assert_null(wpool_table_base(all[i], 0)[3], "%s: table", where);
    dirty(all[i]);
  }
  wpool_stack_t *st = NULL;
  cr_assert_eq(wpool_stack_new(f->p, &st), 0, "%s: a stack", where);
  wpool_stack_free(st);
  for (uint32_t i = 0; i < n; i++) wpool_instance_free(all[i]);
  wpool_module_release(mc);
}

static void fixture_fini(fixture_t *f) {
  if (!f->p) return;
  if (f->in) wpool_instance_free(f->in);
  if (f->stack) wpool_stack_free(f->stack);
  int err = wpool_destroy(f->p);
  cr_assert_eq(err, 0, "destroy: %s", wpool_last_error());
}

static uint64_t points;
static int act_create(fixture_t *f);

static void run_scenario(const scenario_t *s) {
  const int errs[] = {ENOMEM, EINVAL, EAGAIN};
  /* A dry run counts the calls of each kind that the act makes, and warms
   * up lazily created process state (allocator arenas, stdio). */
  fixture_t f;
  uint64_t calls[OS_CALL_COUNT];
  fixture_init(&f, s, s->act != act_create);
  if (s->setup) s->setup(&f);
  for (int c = 0; c < OS_CALL_COUNT; c++) calls[c] = os_calls(c);
  cr_assert_eq(s->act(&f), 0, "%s: the scenario fails without injection: %s", s->name,
               wpool_last_error());
  for (int c = 0; c < OS_CALL_COUNT; c++) calls[c] = os_calls(c) - calls[c];
  fixture_fini(&f);
  int maps0 = count_maps(NULL), fds0 = count_fds(NULL);

  for (int c = 0; c < OS_CALL_COUNT; c++) {
    for (uint64_t k = 1; k <= calls[c]; k++) {
      int e = errs[(k + (uint64_t)c) % 3];
      char where[128];
      snprintf(where, sizeof(where), "%s, %s call %llu failing with %s", s->name,
               os_call_name(c), (unsigned long long)k, strerror(e));
      fixture_init(&f, s, s->act != act_create);
      if (s->setup) s->setup(&f);
      int image_maps = count_maps("memfd:wpool-image");
      os_fail_at(c, k, e);
      int err = s->act(&f);
      os_fail_reset();
      if (err) {
        cr_assert(err == WPOOL_ENOMEM || err == WPOOL_ESYS, "%s: returned %d", where, err);
        cr_assert_neq(wpool_last_error()[0], '\0', "%s: no message", where);
        cr_assert_leq(count_maps("memfd:wpool-image"), image_maps, "%s: left an image mapped",
                      where);
      }
      if (f.p) check_pool(&f, where);
      fixture_fini(&f);
      cr_assert_eq(count_maps(NULL), maps0, "%s: mappings leaked", where);
      cr_assert_eq(count_fds(NULL), fds0, "%s: descriptors leaked", where);
      points++;
    }
  }
}

/* Scenarios. */
static int act_create(fixture_t *f) { return wpool_create(&f->cfg, &f->p); }

static int act_module_new(fixture_t *f) {
  wpool_module_t *m;
  int err = wpool_module_new(f->p, &f->ta.desc, &m);
  if (!err) wpool_module_release(m);
  return err;
}

static int act_instance_new_a(fixture_t *f) { return wpool_instance_new(f->p, f->a, &f->in); }
static int act_instance_new_b(fixture_t *f) { return wpool_instance_new(f->p, f->b, &f->in); }

static void one_slot(wpool_config_t *c) { c->instance_count = 1; }

static void setup_used_by_a(fixture_t *f) {
  wpool_instance_t *in = make_instance(f->p, f->a);
  cr_assert_eq(wpool_memory_grow(in, 0, 3), 2);
  dirty(in);
  wpool_instance_free(in);
}

static void setup_live_a(fixture_t *f) {
  f->in = make_instance(f->p, f->a);
  dirty(f->in);
}

/* Every other page dirty: many runs beyond the 8 KiB budget, madvised in
 * one batch (process_madvise). */
static void setup_live_sparse(fixture_t *f) {
  f->in = make_instance(f->p, f->a);
  uint8_t *b = wpool_memory_base(f->in, 0);
  for (uint64_t pg = 0; pg < 2 * PAGE / 4096; pg += 2) b[pg * 4096 + 9] = 0xee;
}

static int act_instance_free(fixture_t *f) {
  wpool_instance_free(f->in);
  f->in = NULL;
  return 0;
}

static int act_grow(fixture_t *f) {
  int64_t r = wpool_memory_grow(f->in, 0, 4);
  return r < 0 ? (int)r : 0;
}

static void setup_two_warm_a(fixture_t *f) {
  wpool_instance_t *x = make_instance(f->p, f->a), *y = make_instance(f->p, f->a);
  dirty(x);
  dirty(y);
  wpool_instance_free(x);
  wpool_instance_free(y);
}

static int act_release_a(fixture_t *f) {
  wpool_module_release(f->a);
  f->a = NULL;
  return 0;
}

static void setup_release_with_live(fixture_t *f) {
  setup_live_a(f);
  wpool_module_release(f->a);
  f->a = NULL;
}

static void setup_stack(fixture_t *f) {
  cr_assert_eq(wpool_stack_new(f->p, &f->stack), 0);
  memset((uint8_t *)wpool_stack_top(f->stack) - wpool_stack_size(f->stack), 0x55,
         wpool_stack_size(f->stack));
}

static int act_stack_free(fixture_t *f) {
  wpool_stack_free(f->stack);
  f->stack = NULL;
  return 0;
}

static void two_memories(wpool_config_t *c) { c->instance_memories = 2; }

/* The automatic keep set (the library's default budget). */
static void auto_keep(wpool_config_t *c) {
  c->linear_memory_keep_resident = WPOOL_KEEP_AUTO;
  c->table_keep_resident = WPOOL_KEEP_AUTO;
}

static void auto_keep_one_slot(wpool_config_t *c) {
  auto_keep(c);
  one_slot(c);
}

/* Module B with a second memory like its first (image included). */
static void setup_two_memories(fixture_t *f) {
  static wpool_memory_desc_t mems[2];
  mems[0] = mems[1] = f->tb.mem;
  f->tb.desc.memories = mems;
  f->tb.desc.nmemories = 2;
  wpool_module_release(f->b);
  f->b = make_module(f->p, &f->tb);
}

static const scenario_t scenarios[] = {
    {"instance_new with two memories", two_memories, setup_two_memories, act_instance_new_b},
    {"wpool_create", NULL, NULL, act_create},
    {"module_new", NULL, NULL, act_module_new},
    {"instance_new into a cold slot", NULL, NULL, act_instance_new_a},
    {"instance_new replacing another image", one_slot, setup_used_by_a, act_instance_new_b},
    {"instance_new affine, shrinking", one_slot, setup_used_by_a, act_instance_new_a},
    {"instance_free, automatic keep set", auto_keep, setup_live_a, act_instance_free},
    {"instance_new moving kept pages out, automatic", auto_keep_one_slot, setup_used_by_a,
     act_instance_new_b},
    {"instance_new affine, automatic", auto_keep_one_slot, setup_used_by_a, act_instance_new_a},
    {"instance_free", NULL, setup_live_a, act_instance_free},
    {"instance_free of sparse dirty pages", NULL, setup_live_sparse, act_instance_free},
    {"instance_free of a released module", NULL, setup_release_with_live, act_instance_free},
    {"memory_grow", NULL, setup_live_a, act_grow},
    {"module_release draining warm slots", NULL, setup_two_warm_a, act_release_a},
    {"stack_free with zeroing", NULL, setup_stack, act_stack_free},
};

Test(faults, every_os_call_site_fails_cleanly, .timeout = 600) {
  for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) run_scenario(&scenarios[i]);
  cr_log_info("%llu failure points injected", (unsigned long long)points);
  fprintf(stderr, "faults: %llu failure points injected over %zu scenarios\n",
          (unsigned long long)points, sizeof(scenarios) / sizeof(scenarios[0]));
  cr_assert_gt(points, 20);
}
