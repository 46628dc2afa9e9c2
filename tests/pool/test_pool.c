/* The pools on real mappings: layout, images, reuse, reset, growth,
 * guards, tables, state, stacks, limits, exhaustion and module release. */
#include "fixture.h"

Test(pool, slots_sit_at_fixed_strides_in_each_reservation) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 64);
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in[4];
  for (int i = 0; i < 4; i++) {
    in[i] = make_instance(p, m);
    cr_assert_eq(wpool_instance_slot(in[i]), (uint32_t)i, "cold slots are taken in order");
  }
  for (int i = 1; i < 4; i++) {
    cr_expect_eq(wpool_memory_base(in[i], 0) - wpool_memory_base(in[i - 1], 0),
                 (ptrdiff_t)(c.memory_reservation + c.memory_guard_size));
    cr_expect_eq((uint8_t *)wpool_table_base(in[i], 0) - (uint8_t *)wpool_table_base(in[i - 1], 0),
                 (ptrdiff_t)(c.instance_table_elements * sizeof(void *)));
    cr_expect_eq((uint8_t *)wpool_instance_state(in[i]) - (uint8_t *)wpool_instance_state(in[i - 1]),
                 (ptrdiff_t)c.instance_size);
  }
  cr_expect_null(wpool_memory_base(in[0], 1), "the module has one memory");
  cr_expect_null(wpool_table_base(in[0], 1), "the module has one table");
  for (int i = 0; i < 4; i++) wpool_instance_free(in[i]);
  wpool_module_release(m);
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(pool, guard_before_the_first_memory_faults) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  wpool_instance_t *in = make_instance(p, make_module(p, &t));
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert_eq(write_at(b), WRITE_OK);
  cr_assert_eq(write_at(b - 1), WRITE_FAULTS);
  cr_assert_eq(write_at(b - c.memory_guard_size), WRITE_FAULTS);
}

static const char hello[] = "hello, tenant";

Test(pool, instance_sees_its_data_segments_and_zero_elsewhere) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  uint8_t big[9000];
  memset(big, 0x5a, sizeof(big));
  tm_init(&t, 4, WPOOL_NO_MAX, 128);
  tm_segment(&t, 100, hello, sizeof(hello));
  tm_segment(&t, 70000, big, sizeof(big));
  tm_segment(&t, 70004, "XY", 2); /* later segments win where they overlap */
  wpool_instance_t *in = make_instance(p, make_module(p, &t));
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert_eq(wpool_memory_pages(in, 0), 4);
  cr_assert(all_bytes(b, 100, 0));
  cr_assert_str_eq((char *)b + 100, hello);
  cr_assert(all_bytes(b + 100 + sizeof(hello), 70000 - 100 - sizeof(hello), 0));
  cr_assert(all_bytes(b + 70000, 4, 0x5a));
  cr_assert_eq(memcmp(b + 70004, "XY", 2), 0);
  cr_assert(all_bytes(b + 70006, sizeof(big) - 6, 0x5a));
  cr_assert(all_bytes(b + 70000 + sizeof(big), 4 * PAGE - 70000 - sizeof(big), 0));
  cr_assert(all_bytes(wpool_instance_state(in), 128, 0));
  cr_assert_eq(wpool_table_size(in, 0), 16);
  for (int e = 0; e < 16; e++) cr_assert_null(wpool_table_base(in, 0)[e]);
}

/* Scribble over everything an instance can reach. */
static void dirty(wpool_instance_t *in, size_t state) {
  memset(wpool_memory_base(in, 0), 0xee, wpool_memory_pages(in, 0) * PAGE);
  memset(wpool_instance_state(in), 0xee, state);
  void **tb = wpool_table_base(in, 0);
  for (uint32_t e = 0; e < wpool_table_size(in, 0); e++) tb[e] = (void *)0xdead;
}

static void expect_pristine(wpool_instance_t *in, const test_module_t *t) {
  uint8_t *b = wpool_memory_base(in, 0);
  uint64_t bytes = wpool_memory_pages(in, 0) * PAGE, pos = 0;
  for (size_t s = 0; s < t->mem.nsegments; s++) {
    const wpool_data_segment_t *g = &t->seg[s];
    cr_assert(all_bytes(b + pos, g->offset - pos, 0), "zero before segment %zu", s);
    cr_assert_eq(memcmp(b + g->offset, g->bytes, g->len), 0, "segment %zu", s);
    pos = g->offset + g->len;
  }
  cr_assert(all_bytes(b + pos, bytes - pos, 0), "zero after the segments");
  cr_assert(all_bytes(wpool_instance_state(in), t->desc.state_size, 0), "state zero");
  void **tb = wpool_table_base(in, 0);
  for (uint32_t e = 0; e < wpool_table_size(in, 0); e++) cr_assert_null(tb[e], "element %u", e);
}

Test(pool, affine_reuse_maps_nothing_and_is_pristine) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 2, 2, 256);
  tm_segment(&t, 5000, hello, sizeof(hello));
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in = make_instance(p, m);
  uint32_t slot = wpool_instance_slot(in);
  dirty(in, 256);
  wpool_instance_free(in);
  uint64_t maps = stats(p).image_maps;
  in = make_instance(p, m);
  cr_assert_eq(wpool_instance_slot(in), slot, "the affine slot");
  cr_assert_eq(stats(p).image_maps, maps, "affine reuse maps no image");
  cr_assert_eq(stats(p).affine_hits, 1);
  expect_pristine(in, &t);
}

Test(pool, another_module_replaces_the_image_and_sees_none_of_the_old) {
  wpool_config_t c = small_config();
  c.instance_count = 1;
  wpool_t *p = make_pool(&c);
  test_module_t a, b, none;
  static uint8_t abytes[3 * 4096], bbytes[100];
  memset(abytes, 0xa1, sizeof(abytes));
  memset(bbytes, 0xb2, sizeof(bbytes));
  tm_init(&a, 3, 3, 64);
  tm_segment(&a, 0, abytes, sizeof(abytes));
  tm_init(&b, 2, 2, 64);
  tm_segment(&b, 65536 + 7, bbytes, sizeof(bbytes));
  tm_init(&none, 2, 2, 64);
  wpool_module_t *ma = make_module(p, &a), *mb = make_module(p, &b), *mn = make_module(p, &none);

  const test_module_t *order[] = {&a, &b, &none, &a, &none, &b, &b};
  wpool_module_t *mods[] = {ma, mb, mn, ma, mn, mb, mb};
  for (int i = 0; i < 7; i++) {
    wpool_instance_t *in = make_instance(p, mods[i]);
    cr_assert_eq(wpool_instance_slot(in), 0);
    expect_pristine(in, order[i]);
    dirty(in, 64);
    wpool_instance_free(in);
  }
  wpool_stats_t s = stats(p);
  cr_expect_eq(s.image_maps, 4, "a, b, a, b: the repeated b is affine");
  cr_expect_eq(s.image_unmaps, 3);
}

/* The reset matrix: image offsets x keep_resident, executed on a real
 * slot. The counted memset and madvise bytes are what the policy says, and
 * the next tenant sees pristine memory. */
Test(pool, prefix_reset_memsets_the_budget_and_madvises_the_rest_for_every_offset_and_budget) {
  const uint64_t hp = 4096; /* host page */
  const uint64_t offsets[] = {0, hp, 2 * hp, 3 * hp};
  const size_t lens[] = {2 * hp, 2 * hp, 2 * hp, hp + 1}; /* the last ends unaligned */
  const uint64_t keeps[] = {0, hp, 10 * hp, 1 * MiB, 2 * MiB};
  static uint8_t data[3 * 4096];
  memset(data, 0x7c, sizeof(data));
  int combos = 0;
  for (int o = 0; o < 4; o++) {
    for (int k = 0; k < 5; k++) {
      wpool_config_t c = small_config();
      c.instance_count = 1;
      c.linear_memory_keep_resident = keeps[k];
      c.reset_strategy = WPOOL_RESET_PREFIX;
      wpool_t *p = make_pool(&c);
      test_module_t t;
      tm_init(&t, 16, 16, 0);
      t.desc.ntables = 0;
      tm_segment(&t, offsets[o], data, lens[o]);
      wpool_module_t *m = make_module(p, &t);
      wpool_instance_t *in = make_instance(p, m);
      dirty(in, 0);
      wpool_stats_t before = stats(p);
      wpool_instance_free(in);
      wpool_stats_t after = stats(p);

      uint64_t acc = 16 * PAGE, io = offsets[o], ie = (offsets[o] + lens[o] + hp - 1) & ~(hp - 1);
      uint64_t keep = keeps[k] < acc ? keeps[k] : acc;
      uint64_t want = keeps[k] <= io ? keep : io + (keeps[k] - io < acc - ie ? keeps[k] - io : acc - ie);
      cr_expect_eq(after.memset_bytes - before.memset_bytes, want,
                   "offset %llu keep %llu: memset %llu bytes, want %llu",
                   (unsigned long long)io, (unsigned long long)keeps[k],
                   (unsigned long long)(after.memset_bytes - before.memset_bytes),
                   (unsigned long long)want);
      cr_expect_eq(after.madvise_bytes - before.madvise_bytes, acc - want);
      cr_expect_eq(after.kept_resident_bytes, want, "memset bytes stay resident");
      in = make_instance(p, m);
      expect_pristine(in, &t);
      cr_expect_eq(stats(p).kept_resident_bytes, 0, "the slot is in use again");
      wpool_instance_free(in);
      wpool_module_release(m);
      cr_assert_eq(wpool_destroy(p), 0);
      combos++;
    }
  }
  cr_assert_eq(combos, 20);
}

Test(pool, write_just_past_the_accessible_bytes_faults) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 3, 8, 0);
  wpool_instance_t *in = make_instance(p, make_module(p, &t));
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert_eq(write_at(b + 3 * PAGE - 1), WRITE_OK, "the last accessible byte");
  cr_assert_eq(write_at(b + 3 * PAGE), WRITE_FAULTS);
  cr_assert_eq(write_at(b + c.memory_reservation - 1), WRITE_FAULTS, "the reservation's end");
}

Test(pool, write_inside_the_guard_faults) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 16, 16, 0);
  wpool_instance_t *in = make_instance(p, make_module(p, &t));
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert_eq(write_at(b + c.memory_reservation - 1), WRITE_OK, "16 pages fill the reservation");
  cr_assert_eq(write_at(b + c.memory_reservation), WRITE_FAULTS);
  cr_assert_eq(write_at(b + c.memory_reservation + c.memory_guard_size - 1), WRITE_FAULTS);
}

Test(pool, write_past_a_size_shrunk_on_reuse_faults) {
  wpool_config_t c = small_config();
  c.instance_count = 1;
  wpool_t *p = make_pool(&c);
  test_module_t big, small;
  tm_init(&big, 4, 16, 0);
  tm_init(&small, 2, 2, 0);
  wpool_instance_t *in = make_instance(p, make_module(p, &big));
  cr_assert_eq(wpool_memory_grow(in, 0, 6), 4);
  memset(wpool_memory_base(in, 0), 1, 10 * PAGE);
  wpool_instance_free(in);
  in = make_instance(p, make_module(p, &small));
  cr_assert_eq(wpool_memory_pages(in, 0), 2);
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert(all_bytes(b, 2 * PAGE, 0));
  cr_assert_eq(write_at(b + 2 * PAGE + 5), WRITE_FAULTS);
  cr_assert_eq(write_at(b + 9 * PAGE), WRITE_FAULTS);
}

Test(pool, grown_pages_refault_when_the_same_module_reuses_the_slot) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 16, 0);
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in = make_instance(p, m);
  cr_assert_eq(wpool_memory_grow(in, 0, 3), 1);
  wpool_instance_free(in);
  in = make_instance(p, m);
  cr_assert_eq(wpool_memory_pages(in, 0), 1);
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert_eq(write_at(b + PAGE - 1), WRITE_OK);
  cr_assert_eq(write_at(b + PAGE), WRITE_FAULTS);
}

Test(pool, grow_up_to_the_limits_and_refuse_past_them) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t, unbounded;
  tm_init(&t, 1, 4, 0);
  tm_init(&unbounded, 1, WPOOL_NO_MAX, 0);
  wpool_instance_t *in = make_instance(p, make_module(p, &t));
  cr_assert_eq(wpool_memory_grow(in, 0, 0), 1);
  cr_assert_eq(wpool_memory_grow(in, 0, 3), 1);
  cr_assert_eq(wpool_memory_pages(in, 0), 4);
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert(all_bytes(b + PAGE, 3 * PAGE, 0), "grown pages read zero");
  b[4 * PAGE - 1] = 9;
  cr_assert_eq(wpool_memory_grow(in, 0, 1), WPOOL_ELIMIT);
  cr_assert_not_null(strstr(wpool_last_error(), "memory 0: growing 4 pages by 1 exceeds its maximum of 4 pages"));
  cr_assert_eq(wpool_memory_grow(in, 0, UINT64_MAX), WPOOL_ELIMIT);
  cr_assert_eq(wpool_memory_pages(in, 0), 4, "unchanged by a refused grow");
  cr_assert_eq(wpool_memory_grow(in, 1, 1), WPOOL_EINVAL);

  wpool_instance_t *u = make_instance(p, make_module(p, &unbounded));
  cr_assert_eq(wpool_memory_grow(u, 0, 15), 1, "no max: capped by instance_memory_pages (16)");
  cr_assert_eq(wpool_memory_grow(u, 0, 1), WPOOL_ELIMIT);
}

Test(pool, tables_and_state_are_zero_for_the_next_tenant) {
  wpool_config_t c = small_config();
  c.instance_count = 1;
  c.table_keep_resident = 4096;
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 5000);
  t.table.max_elements = WPOOL_NO_MAX32;
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in = make_instance(p, m);
  cr_assert_eq(wpool_table_grow(in, 0, 1500, (void *)0xbeef), 16);
  cr_assert_eq(wpool_table_size(in, 0), 1516);
  cr_assert_eq(wpool_table_base(in, 0)[1515], (void *)0xbeef);
  cr_assert_null(wpool_table_base(in, 0)[15]);
  cr_assert_eq(wpool_table_grow(in, 0, 600, NULL), WPOOL_ELIMIT, "2116 > 2048 elements");
  cr_assert_not_null(strstr(wpool_last_error(), "table 0: growing 1516 elements by 600"));
  cr_assert_eq(wpool_table_size(in, 0), 1516);
  dirty(in, 5000);
  wpool_instance_free(in);
  in = make_instance(p, m);
  cr_assert_eq(wpool_table_size(in, 0), 16);
  expect_pristine(in, &t);
  cr_assert_eq(wpool_table_grow(in, 0, 2032, NULL), 16);
  void **tb = wpool_table_base(in, 0);
  for (int e = 0; e < 2048; e++) cr_assert_null(tb[e], "element %d", e);
}

Test(pool, table_grow_respects_the_module_max) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  wpool_instance_t *in = make_instance(p, make_module(p, &t));
  cr_assert_eq(wpool_table_grow(in, 0, 48, NULL), 16);
  cr_assert_eq(wpool_table_grow(in, 0, 1, NULL), WPOOL_ELIMIT);
  cr_assert_eq(wpool_table_grow(in, 1, 1, NULL), WPOOL_EINVAL);
}

Test(pool, stack_write_below_the_usable_range_hits_the_guard) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  wpool_stack_t *s[2];
  cr_assert_eq(wpool_stack_new(p, &s[0]), 0);
  cr_assert_eq(wpool_stack_new(p, &s[1]), 0);
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(wpool_stack_size(s[i]), 64 * KiB);
    uint8_t *top = wpool_stack_top(s[i]), *lo = top - wpool_stack_size(s[i]);
    cr_assert_eq((uintptr_t)top % 16, 0);
    cr_assert_eq(write_at(top - 1), WRITE_OK);
    cr_assert_eq(write_at(lo), WRITE_OK, "the lowest usable byte");
    cr_assert_eq(write_at(lo - 1), WRITE_FAULTS);
  }
}

Test(pool, stacks_are_zeroed_when_zeroing_is_on) {
  wpool_config_t c = small_config();
  c.async_stack_zeroing = true;
  c.async_stack_keep_resident = 8 * KiB;
  wpool_t *p = make_pool(&c);
  wpool_stack_t *s;
  cr_assert_eq(wpool_stack_new(p, &s), 0);
  uint8_t *lo = (uint8_t *)wpool_stack_top(s) - wpool_stack_size(s);
  memset(lo, 0x33, wpool_stack_size(s));
  wpool_stats_t before = stats(p);
  wpool_stack_free(s);
  wpool_stats_t after = stats(p);
  cr_assert_eq(after.memset_bytes - before.memset_bytes, 8 * KiB, "the top is memset");
  cr_assert_eq(after.madvise_bytes - before.madvise_bytes, 56 * KiB, "the rest is madvised");
  cr_assert_eq(wpool_stack_new(p, &s), 0);
  cr_assert_eq((uint8_t *)wpool_stack_top(s) - wpool_stack_size(s), lo, "same stack again");
  cr_assert(all_bytes(lo, wpool_stack_size(s), 0));
  wpool_stack_free(s);
}

Test(pool, stacks_are_reused_as_they_are_when_zeroing_is_off) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  wpool_stack_t *s;
  cr_assert_eq(wpool_stack_new(p, &s), 0);
  uint8_t *top = wpool_stack_top(s);
  top[-8] = 0x42;
  wpool_stack_free(s);
  cr_assert_eq(wpool_stack_new(p, &s), 0);
  cr_assert_eq(wpool_stack_top(s), top);
  cr_assert_eq(top[-8], 0x42, "documented: no zeroing unless async_stack_zeroing");
}

Test(pool, stack_exhaustion_and_no_stack_pool) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  wpool_stack_t *s[4], *x;
  for (int i = 0; i < 4; i++) cr_assert_eq(wpool_stack_new(p, &s[i]), 0);
  cr_assert_eq(wpool_stack_new(p, &x), WPOOL_EEXHAUSTED);
  cr_assert_str_eq(wpool_last_error(), "all 4 stacks are in use (stack_count)");
  cr_assert_eq(wpool_destroy(p), WPOOL_EBUSY);
  for (int i = 0; i < 4; i++) wpool_stack_free(s[i]);
  cr_assert_eq(wpool_destroy(p), 0);

  c.stack_count = 0;
  p = make_pool(&c);
  cr_assert_eq(wpool_stack_new(p, &x), WPOOL_EEXHAUSTED);
  cr_assert_str_eq(wpool_last_error(), "the pool has no stacks (stack_count is 0)");
  cr_assert_eq(wpool_destroy(p), 0);
}

static void expect_limit(wpool_t *p, const wpool_module_desc_t *d, int code, const char *msg) {
  wpool_module_t *m = (wpool_module_t *)0x1;
  int err = wpool_module_new(p, d, &m);
  cr_assert_eq(err, code, "got %d: %s", err, wpool_last_error());
  cr_assert_null(m);
  cr_assert_str_eq(wpool_last_error(), msg);
}

Test(pool, every_limit_is_refused_at_module_new_with_its_reason) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  wpool_memory_desc_t two[2];

  tm_init(&t, 1, 1, 0);
  two[0] = two[1] = t.mem;
  t.desc.memories = two;
  t.desc.nmemories = 2;
  expect_limit(p, &t.desc, WPOOL_ELIMIT, "module defines 2 memories, more than instance_memories (1)");

  tm_init(&t, 1, 1, 0);
  wpool_table_desc_t tables[2] = {t.table, t.table};
  t.desc.tables = tables;
  t.desc.ntables = 2;
  expect_limit(p, &t.desc, WPOOL_ELIMIT, "module defines 2 tables, more than instance_tables (1)");

  tm_init(&t, 1, 1, 65537);
  expect_limit(p, &t.desc, WPOOL_ELIMIT,
               "module needs 65537 bytes of instance state, more than instance_size (65536)");

  tm_init(&t, 17, WPOOL_NO_MAX, 0);
  expect_limit(p, &t.desc, WPOOL_ELIMIT, "memory 0: minimum of 17 pages exceeds instance_memory_pages (16)");

  tm_init(&t, 5, 3, 0);
  expect_limit(p, &t.desc, WPOOL_ELIMIT, "memory 0: minimum of 5 pages exceeds its maximum of 3");

  tm_init(&t, 1, 1, 0);
  t.mem.shared = true;
  expect_limit(p, &t.desc, WPOOL_ELIMIT,
               "memory 0: shared memories are not supported by the pooling allocator");

  tm_init(&t, 1, 1, 0);
  tm_segment(&t, 65530, hello, 10);
  expect_limit(p, &t.desc, WPOOL_ELIMIT,
               "memory 0: data segment 0 [offset 65530, length 10) ends past the minimum size of "
               "65536 bytes (1 pages)");

  tm_init(&t, 1, 1, 0);
  tm_segment(&t, UINT64_MAX - 2, hello, 10);
  cr_assert_eq(wpool_module_new(p, &t.desc, &(wpool_module_t *){0}), WPOOL_ELIMIT, "overflowing offset");

  tm_init(&t, 1, 1, 0);
  t.table.min_elements = 2049;
  t.table.max_elements = WPOOL_NO_MAX32;
  expect_limit(p, &t.desc, WPOOL_ELIMIT,
               "table 0: minimum of 2049 elements exceeds instance_table_elements (2048)");

  tm_init(&t, 1, 1, 0);
  t.table.min_elements = 10;
  t.table.max_elements = 5;
  expect_limit(p, &t.desc, WPOOL_ELIMIT, "table 0: minimum of 10 elements exceeds its maximum of 5");

  tm_init(&t, 1, 1, 0);
  tm_segment(&t, 0, NULL, 10);
  expect_limit(p, &t.desc, WPOOL_EINVAL, "memory 0: data segment 0 has 10 bytes at NULL");

  wpool_stats_t s = stats(p);
  cr_assert_eq(s.live_modules, 0, "no failed module counts");
  cr_assert_eq(s.images_live, 0, "no failed module left an image");
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(pool, exhaustion_is_typed_and_the_pool_recovers) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in[4], *x = (wpool_instance_t *)0x1;
  for (int i = 0; i < 4; i++) in[i] = make_instance(p, m);
  cr_assert_eq(wpool_instance_new(p, m, &x), WPOOL_EEXHAUSTED);
  cr_assert_null(x);
  cr_assert_str_eq(wpool_last_error(), "all 4 instance slots are in use (instance_count)");
  cr_assert_eq(stats(p).exhausted, 1);
  cr_assert_eq(wpool_destroy(p), WPOOL_EBUSY);
  cr_assert_not_null(strstr(wpool_last_error(), "4 instances and 0 stacks are still live"));
  wpool_instance_free(in[2]);
  x = make_instance(p, m);
  cr_assert_eq(wpool_instance_slot(x), 2);
  wpool_instance_free(x);
  for (int i = 0; i < 4; i++)
    if (i != 2) wpool_instance_free(in[i]);
  cr_assert_eq(stats(p).live_instances, 0);
  cr_assert_eq(wpool_destroy(p), 0, "modules still held go with the pool");
}

Test(pool, release_leaves_no_memfd_mapping_or_descriptor) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  tm_segment(&t, 0, hello, sizeof(hello));
  int maps0 = count_maps("memfd:wpool-image"), fds0 = count_fds("memfd:wpool-image");
  wpool_module_t *m = make_module(p, &t);
  cr_assert_eq(count_maps("memfd:wpool-image"), maps0 + 1, "the image's own read-only view");
  wpool_instance_t *in[3];
  for (int i = 0; i < 3; i++) in[i] = make_instance(p, m);
  cr_assert_eq(count_maps("memfd:wpool-image"), maps0 + 4);
  cr_assert_eq(count_fds("memfd:wpool-image"), fds0 + 1);
  for (int i = 0; i < 3; i++) wpool_instance_free(in[i]);
  cr_assert_eq(count_maps("memfd:wpool-image"), maps0 + 4, "warm affine slots keep the image");
  wpool_module_release(m);
  cr_assert_eq(count_maps("memfd:wpool-image"), maps0);
  cr_assert_eq(count_fds("memfd:wpool-image"), fds0);
  wpool_stats_t s = stats(p);
  cr_assert_eq(s.slots_drained, 3);
  cr_assert_eq(s.images_live, 0);
  cr_assert_eq(s.live_modules, 0);
  cr_assert_eq(s.warm_slots, 3, "drained slots stay warm, affine to nothing");
}

Test(pool, live_instances_keep_working_after_release_and_are_cleaned_when_freed) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  tm_segment(&t, 10, hello, sizeof(hello));
  int maps0 = count_maps("memfd:wpool-image");
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *live = make_instance(p, m), *idle = make_instance(p, m);
  wpool_instance_free(idle);
  wpool_module_release(m);
  cr_assert_eq(count_maps("memfd:wpool-image"), maps0 + 2, "the live instance and the view");
  cr_assert_str_eq((char *)wpool_memory_base(live, 0) + 10, hello);
  wpool_memory_base(live, 0)[0] = 1;
  wpool_instance_free(live);
  cr_assert_eq(count_maps("memfd:wpool-image"), maps0);
  cr_assert_eq(count_fds("memfd:wpool-image"), 0);
  /* The slots are reusable by other modules. */
  test_module_t u;
  tm_init(&u, 1, 1, 0);
  wpool_module_t *mu = make_module(p, &u);
  for (int i = 0; i < 4; i++) make_instance(p, mu);
}

Test(pool, images_of_memories_a_new_module_lacks_are_dropped) {
  wpool_config_t c = small_config();
  c.instance_count = 1;
  c.instance_memories = 2;
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  tm_segment(&t, 0, hello, sizeof(hello));
  wpool_memory_desc_t two[2] = {t.mem, t.mem};
  t.desc.memories = two;
  t.desc.nmemories = 2;
  wpool_module_t *m2 = make_module(p, &t);
  wpool_instance_free(make_instance(p, m2));
  test_module_t one;
  tm_init(&one, 1, 1, 0);
  wpool_instance_t *in = make_instance(p, make_module(p, &one));
  cr_assert_null(wpool_memory_base(in, 1));
  wpool_module_release(m2);
  cr_assert_eq(count_maps("memfd:wpool-image"), 0, "memory 1's image went with the slot's reuse");
  cr_assert_eq(stats(p).images_live, 0);
  wpool_instance_free(in);
}

Test(pool, instances_of_a_released_module_cannot_be_created) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *live = make_instance(p, m), *x;
  wpool_module_release(m);
  cr_assert_eq(wpool_instance_new(p, m, &x), WPOOL_EINVAL);
  cr_assert_str_eq(wpool_last_error(), "instance_new: the module was released");
  wpool_instance_free(live);
}

Test(pool, stats_count_modules_instances_and_heap) {
  wpool_config_t c = small_config();
  wpool_t *p = make_pool(&c);
  cr_assert_gt(stats(p).heap_bytes, 0, "slot metadata lives in the library's heap");
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  wpool_module_t *a = make_module(p, &t), *b = make_module(p, &t);
  wpool_instance_t *i1 = make_instance(p, a), *i2 = make_instance(p, b);
  wpool_stats_t s = stats(p);
  cr_assert_eq(s.live_modules, 2);
  cr_assert_eq(s.live_instances, 2);
  cr_assert_eq(s.instances_created, 2);
  cr_assert_eq(s.cold_slots, 2);
  cr_assert_eq(s.affine_misses, 2);
  wpool_instance_free(i1);
  wpool_instance_free(i2);
  s = stats(p);
  cr_assert_eq(s.warm_slots, 2);
  cr_assert_eq(s.live_instances, 0);
}

#include <errno.h>

#include "memory/os.h"

Test(pool, without_memfd_images_are_copied_in_and_still_pristine) {
  wpool_config_t c = small_config();
  c.instance_count = 1;
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 2, 2, 0);
  tm_segment(&t, 4000, hello, sizeof(hello));
  os_fail_at(OS_MEMFD_CREATE, 1, ENOSYS); /* as on a kernel without memfd */
  wpool_module_t *m = make_module(p, &t);
  os_fail_reset();
  cr_assert_eq(count_fds("memfd:wpool-image"), 0);
  for (int i = 0; i < 3; i++) {
    wpool_instance_t *in = make_instance(p, m);
    expect_pristine(in, &t);
    cr_assert_eq(count_maps("memfd:wpool-image"), 0);
    dirty(in, 0);
    wpool_instance_free(in);
  }
  cr_assert_eq(stats(p).image_maps, 0);
  wpool_module_release(m);
  cr_assert_eq(stats(p).images_live, 0);
}

#include "pool/types.h"

/* Mappings of /proc/self/maps that start inside [lo, hi). */
static int maps_in(const void *lo, const void *hi) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int n = 0;
  while (f && fgets(line, sizeof(line), f)) {
    uintptr_t start = (uintptr_t)strtoull(line, NULL, 16);
    if (start >= (uintptr_t)lo && start < (uintptr_t)hi) n++;
  }
  if (f) fclose(f);
  return n;
}

Test(pool, memory_slots_use_at_most_four_kernel_mappings_each) {
  wpool_config_t c = small_config();
  c.instance_count = 8;
  c.guard_before_linear_memory = false;
  wpool_t *p = make_pool(&c);
  uint8_t *lo = p->mem_map, *hi = lo + p->layout.mem_pool_bytes;
  cr_assert_eq(maps_in(lo, hi), 1, "one mapping while untouched");
  test_module_t t;
  tm_init(&t, 2, 8, 0);
  tm_segment(&t, 4096, hello, sizeof(hello));
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in[8];
  for (int i = 0; i < 8; i++) {
    in[i] = make_instance(p, m);
    if (i % 2) cr_assert_eq(wpool_memory_grow(in[i], 0, 3), 2);
  }
  int live = maps_in(lo, hi);
  for (int i = 0; i < 8; i++) wpool_instance_free(in[i]);
  int warm = maps_in(lo, hi);
  /* Per slot: the read-write bytes before the image, the image, the
   * read-write bytes after it, and the PROT_NONE rest with the guard: the
   * documented bound of 4 per memory slot. */
  cr_assert_leq(live, 4 * 8, "%d mappings with 8 live instances", live);
  cr_assert_geq(live, 4 * 8, "an image at a nonzero offset splits the read-write bytes");
  cr_assert_leq(warm, live, "freeing adds no mapping");
  wpool_module_release(m);
  cr_assert_leq(maps_in(lo, hi), warm);
  cr_log_info("memory pool mappings: %d live, %d warm", live, warm);
}
