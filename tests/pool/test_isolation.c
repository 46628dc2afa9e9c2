/* Isolation, as a property: over random configurations and random
 * sequences of new / write / grow / free / release / stack operations
 * across modules, every new instance sees exactly its module's initial
 * state (every byte of every memory: the segments over zeros; every table
 * element NULL; the state zero), stacks are zero when zeroing is on, and a
 * sample of writes past the accessible bytes fault (in forked children).
 * 10^4 cycles here; WPOOL_LONG=1 runs 10^6. */
#include <stdlib.h>

#include "fixture.h"

/* The current configuration's table_element_size. */
static size_t element_size = sizeof(void *);

enum { MAX_MODULES = 4, MAX_LIVE = 8 };

typedef struct model_module {
  wpool_module_t *m;
  wpool_memory_desc_t mem[2];
  wpool_data_segment_t seg[2][3];
  uint8_t data[2][3][6000];
  wpool_table_desc_t table;
  wpool_module_desc_t desc;
  uint8_t *expect[2]; /* min_pages bytes: what a new instance must read */
} model_module_t;

static uint64_t rng = 0x1234567887654321ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static uint64_t pick(uint64_t n) { return n ? rnd() % n : 0; }

static uint64_t cycles, bytes_checked, faults_checked, proved;

static void new_model_module(wpool_t *p, const wpool_config_t *c, model_module_t *mm) {
  memset(mm, 0, sizeof(*mm));
  uint32_t nmem = 1 + (uint32_t)pick(c->instance_memories);
  for (uint32_t i = 0; i < nmem; i++) {
    uint64_t min = pick(c->instance_memory_pages + 1);
    mm->mem[i] = (wpool_memory_desc_t){.min_pages = min,
                                       .max_pages = pick(2) ? WPOOL_NO_MAX : min + pick(3),
                                       .segments = mm->seg[i]};
    uint64_t bytes = min * PAGE;
    mm->expect[i] = calloc(1, bytes ? bytes : 1);
    size_t nseg = bytes ? pick(4) : 0;
    for (size_t k = 0; k < nseg; k++) {
      size_t len = 1 + pick(sizeof(mm->data[i][k]));
      if (len > bytes) len = bytes;
      uint64_t off = pick(bytes - len + 1);
      for (size_t b = 0; b < len; b++) mm->data[i][k][b] = (uint8_t)rnd() | 1;
      mm->seg[i][k] = (wpool_data_segment_t){off, mm->data[i][k], len};
      memcpy(mm->expect[i] + off, mm->data[i][k], len); /* later segments win */
    }
    mm->mem[i].nsegments = nseg;
  }
  mm->table = (wpool_table_desc_t){.min_elements = (uint32_t)pick(c->instance_table_elements + 1),
                                   .max_elements = WPOOL_NO_MAX32};
  mm->desc = (wpool_module_desc_t){.state_size = pick(c->instance_size + 1),
                                   .memories = mm->mem, .nmemories = nmem,
                                   .tables = &mm->table, .ntables = 1};
  int err = wpool_module_new(p, &mm->desc, &mm->m);
  cr_assert_eq(err, 0, "module_new: %s", wpool_last_error());
}

static void drop_module(model_module_t *mm) {
  wpool_module_release(mm->m);
  for (int i = 0; i < 2; i++) free(mm->expect[i]);
  memset(mm, 0, sizeof(*mm));
}

static void check_new(wpool_instance_t *in, const model_module_t *mm) {
  for (uint32_t i = 0; i < mm->desc.nmemories; i++) {
    uint64_t bytes = mm->mem[i].min_pages * PAGE;
    cr_assert_eq(wpool_memory_pages(in, i), mm->mem[i].min_pages);
    const uint8_t *b = wpool_memory_base(in, i);
    if (bytes && memcmp(b, mm->expect[i], bytes) != 0) {
      uint64_t at = 0;
      while (b[at] == mm->expect[i][at]) at++;
      cr_assert_fail("cycle %llu: memory %u byte %llu reads %u, want %u",
                     (unsigned long long)cycles, i, (unsigned long long)at, b[at],
                     mm->expect[i][at]);
    }
    bytes_checked += bytes;
  }
  const uint8_t *t = wpool_table_data(in, 0);
  for (uint32_t e = 0; e < mm->table.min_elements; e++)
    cr_assert(all_bytes(t + (size_t)e * element_size, element_size, 0),
              "cycle %llu: table element %u", (unsigned long long)cycles, e);
  cr_assert(all_bytes(wpool_instance_state(in), mm->desc.state_size, 0), "cycle %llu: state",
            (unsigned long long)cycles);
  bytes_checked += mm->table.min_elements * element_size + mm->desc.state_size;
}

/* A tenant: random pages, some grown ones, table elements, the state. */
static void scribble(wpool_instance_t *in, const model_module_t *mm) {
  for (uint32_t i = 0; i < mm->desc.nmemories; i++) {
    if (pick(4) == 0) wpool_memory_grow(in, i, pick(3)); /* may be refused: fine */
    uint64_t bytes = wpool_memory_pages(in, i) * PAGE;
    uint8_t *b = wpool_memory_base(in, i);
    for (int k = 0; bytes && k < 1 + (int)pick(12); k++) {
      uint64_t off = pick(bytes), len = 1 + pick(9000);
      if (off + len > bytes) len = bytes - off;
      memset(b + off, (int)(rnd() | 1), len);
    }
  }
  uint8_t *t = wpool_table_data(in, 0), init[256];
  memset(init, 0x77, sizeof(init));
  if (pick(3) == 0) wpool_table_grow_with(in, 0, (uint32_t)pick(8), init);
  for (uint32_t e = 0; e < wpool_table_size(in, 0); e += 1 + (uint32_t)pick(5))
    memset(t + (size_t)e * element_size, (int)(rnd() | 1), element_size);
  memset(wpool_instance_state(in), 0xee, mm->desc.state_size);
}

static void check_faults(wpool_instance_t *in, const wpool_config_t *c, uint32_t nmem) {
  for (uint32_t i = 0; i < nmem; i++) {
    uint8_t *b = wpool_memory_base(in, i);
    uint64_t acc = wpool_memory_pages(in, i) * PAGE;
    uint64_t span = c->memory_reservation + c->memory_guard_size - acc;
    cr_assert_eq(write_at(b + acc), WRITE_FAULTS, "just past memory %u", i);
    cr_assert_eq(write_at(b + acc + pick(span)), WRITE_FAULTS, "past memory %u", i);
    faults_checked += 2;
  }
}

static void run_config(uint64_t ncycles) {
  wpool_config_t c;
  wpool_config_init(&c);
  c.instance_count = 1 + (uint32_t)pick(5);
  c.max_unused_warm_slots = (uint32_t)pick(c.instance_count + 2);
  c.instance_memories = 1 + (uint32_t)pick(2);
  c.instance_memory_pages = 1 + pick(6);
  c.memory_reservation = (c.instance_memory_pages + pick(3)) * PAGE;
  c.memory_guard_size = PAGE;
  /* The automatic keep set (the default) twice as often as each budget. */
  static const uint64_t keeps[] = {0,       4096,           64 * KiB,       256 * KiB,
                                   1 * MiB, WPOOL_KEEP_AUTO, WPOOL_KEEP_AUTO};
  c.linear_memory_keep_resident = keeps[pick(7)];
  c.table_keep_resident = keeps[pick(7)];
  c.instance_table_elements = 1 + (uint32_t)pick(1024);
  static const size_t element_sizes[] = {sizeof(void *), 1, 24, 256};
  c.table_element_size = element_size = element_sizes[pick(4)];
  c.instance_size = 4096 + pick(8192);
  c.stack_count = 2;
  c.async_stack_size = 16 * KiB;
  c.async_stack_zeroing = pick(2);
  c.async_stack_keep_resident = keeps[pick(3)];
  c.reset_strategy = pick(2) ? WPOOL_RESET_DIRTY : WPOOL_RESET_PREFIX;
  wpool_t *p = make_pool(&c);
  model_module_t mods[MAX_MODULES];
  uint32_t nmods = 1 + (uint32_t)pick(MAX_MODULES);
  for (uint32_t k = 0; k < nmods; k++) new_model_module(p, &c, &mods[k]);
  struct {
    wpool_instance_t *in;
    uint32_t k;
  } live[MAX_LIVE];
  int nlive = 0;
  for (uint64_t n = 0; n < ncycles; n++) {
    uint64_t r = pick(100);
    if (r < 45) {
      uint32_t k = (uint32_t)pick(nmods);
      wpool_instance_t *in;
      int err = wpool_instance_new(p, mods[k].m, &in);
      if (err == WPOOL_EEXHAUSTED || nlive == MAX_LIVE) {
        if (!err) wpool_instance_free(in);
        continue;
      }
      cr_assert_eq(err, 0, "%s", wpool_last_error());
      cycles++;
      check_new(in, &mods[k]);
      if (cycles % 512 == 0) check_faults(in, &c, mods[k].desc.nmemories);
      scribble(in, &mods[k]);
      live[nlive].in = in;
      live[nlive++].k = k;
    } else if (r < 85 && nlive) {
      int i = (int)pick((uint64_t)nlive);
      wpool_instance_free(live[i].in);
      live[i] = live[--nlive];
    } else if (r < 92) {
      /* Release a module (live instances of it keep working) and replace
       * it with a new one. */
      uint32_t k = (uint32_t)pick(nmods);
      int users = 0;
      for (int i = 0; i < nlive; i++) users += live[i].k == k;
      if (users) continue; /* the model keeps one module per index */
      drop_module(&mods[k]);
      new_model_module(p, &c, &mods[k]);
    } else {
      wpool_stack_t *s;
      if (wpool_stack_new(p, &s) != 0) continue;
      uint8_t *lo = (uint8_t *)wpool_stack_top(s) - wpool_stack_size(s);
      if (c.async_stack_zeroing) {
        cr_assert(all_bytes(lo, wpool_stack_size(s), 0), "stack not zeroed");
        bytes_checked += wpool_stack_size(s);
      }
      memset(lo + pick(wpool_stack_size(s) - 64), 0x99, 64);
      wpool_stack_free(s);
    }
  }
  for (int i = 0; i < nlive; i++) wpool_instance_free(live[i].in);
  for (uint32_t k = 0; k < nmods; k++) drop_module(&mods[k]);
  proved += stats(p).resets_proved;
  cr_assert_eq(wpool_destroy(p), 0, "%s", wpool_last_error());
}

Test(isolation, no_tenant_ever_sees_another_tenants_bytes, .timeout = 3600) {
  const char *long_mode = getenv("WPOOL_LONG");
  uint64_t target = long_mode && *long_mode == '1' ? 1000000 : 10000;
  uint64_t configs = 0;
  while (cycles < target) {
    run_config(400);
    configs++;
  }
  fprintf(stderr,
          "isolation: %llu instantiations over %llu random configurations, %llu bytes checked, "
          "%llu out-of-bounds writes faulted, %llu frees proved to need no scan\n",
          (unsigned long long)cycles, (unsigned long long)configs,
          (unsigned long long)bytes_checked, (unsigned long long)faults_checked,
          (unsigned long long)proved);
}
