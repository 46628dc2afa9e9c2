/* layout.c: the arithmetic of the reservations, pure, so any page size
 * and address limit can be tried. */
#include <criterion/criterion.h>
#include <string.h>

#include "pool/layout.h"
#include "wpool.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)

static wpool_config_t defaults(void) {
  wpool_config_t c;
  wpool_config_init(&c);
  return c;
}

Test(layout, the_default_config_reserves_what_the_docs_say) {
  wpool_config_t c = defaults();
  layout_t L;
  cr_assert_eq(layout_compute(&c, 4096, 128 * TiB, &L), 0, "%s", wpool_last_error());
  cr_assert_eq(L.mem_slot_size, 6 * GiB);
  cr_assert_eq(L.mem_pre_guard, 2 * GiB);
  cr_assert_eq(L.mem_slots, 1000);
  cr_assert_eq(L.mem_pool_bytes, 6002 * GiB, "docs/architecture.md: 6,002 GiB");
  cr_assert_eq(L.table_slot_size, 81920, "10000 pointers, page-rounded");
  cr_assert_eq(L.state_pool_bytes, 1000 * MiB);
  cr_assert_eq(L.stack_slot_size, 2 * MiB + 4096, "a guard page below each stack");
  cr_assert_eq(L.stack_pool_bytes, 1000 * (2 * MiB + 4096));
  cr_assert_eq(L.total_bytes,
               L.mem_pool_bytes + L.table_pool_bytes + L.state_pool_bytes + L.stack_pool_bytes);
}

Test(layout, sizes_round_up_to_the_host_page_whatever_its_size) {
  wpool_config_t c = defaults();
  c.instance_count = 3;
  c.instance_size = 5000;
  c.async_stack_size = 10000;
  c.async_stack_keep_resident = 1;
  c.linear_memory_keep_resident = 1;
  c.instance_table_elements = 1;
  layout_t L;
  cr_assert_eq(layout_compute(&c, 16 * KiB, 128 * TiB, &L), 0, "%s", wpool_last_error());
  cr_assert_eq(L.page, 16 * KiB);
  cr_assert_eq(L.state_slot_size, 16 * KiB);
  cr_assert_eq(L.stack_usable, 16 * KiB);
  cr_assert_eq(L.stack_slot_size, 32 * KiB);
  cr_assert_eq(L.keep_stack, 16 * KiB);
  cr_assert_eq(L.keep_memory, 16 * KiB);
  cr_assert_eq(L.table_slot_size, 16 * KiB);
}

Test(layout, the_pre_guard_exists_only_with_memories_and_when_asked) {
  wpool_config_t c = defaults();
  c.instance_count = 2;
  layout_t L;
  c.guard_before_linear_memory = false;
  cr_assert_eq(layout_compute(&c, 4096, 128 * TiB, &L), 0);
  cr_assert_eq(L.mem_pre_guard, 0);
  cr_assert_eq(L.mem_pool_bytes, 2 * 6 * GiB);
  c.guard_before_linear_memory = true;
  c.instance_memories = 0;
  cr_assert_eq(layout_compute(&c, 4096, 128 * TiB, &L), 0);
  cr_assert_eq(L.mem_pre_guard, 0);
  cr_assert_eq(L.mem_pool_bytes, 0);
}

Test(layout, the_stack_budget_is_capped_at_the_stack) {
  wpool_config_t c = defaults();
  c.async_stack_keep_resident = 1 * GiB;
  layout_t L;
  cr_assert_eq(layout_compute(&c, 4096, 128 * TiB, &L), 0);
  cr_assert_eq(L.keep_stack, L.stack_usable);
}

Test(layout, an_address_limit_too_small_names_instance_count_and_every_pool) {
  wpool_config_t c = defaults();
  layout_t L;
  cr_assert_eq(layout_compute(&c, 4096, 1 * TiB, &L), WPOOL_EINVAL);
  const char *e = wpool_last_error();
  cr_assert(strstr(e, "instance_count") && strstr(e, "memories") && strstr(e, "stacks"), "%s", e);
  cr_assert_eq(layout_compute(&c, 4096, UINT64_MAX, &L), 0);
  uint64_t need = L.total_bytes;
  cr_assert_eq(layout_compute(&c, 4096, need - 1, &L), WPOOL_EINVAL, "one byte short");
  cr_assert_eq(layout_compute(&c, 4096, need, &L), 0, "exactly enough");
}

typedef struct overflow_case {
  const char *field;
  uint64_t value;
} overflow_case_t;

static void set(wpool_config_t *c, const char *field, uint64_t v) {
  if (!strcmp(field, "instance_memory_pages")) c->instance_memory_pages = v;
  else if (!strcmp(field, "memory_reservation")) c->memory_reservation = v;
  else if (!strcmp(field, "memory_guard_size")) c->memory_guard_size = v;
  else if (!strcmp(field, "instance_memories")) c->instance_memories = (uint32_t)v;
  else if (!strcmp(field, "linear_memory_keep_resident")) c->linear_memory_keep_resident = v;
  else if (!strcmp(field, "instance_tables")) c->instance_tables = (uint32_t)v;
  else if (!strcmp(field, "table_keep_resident")) c->table_keep_resident = v;
  else if (!strcmp(field, "instance_size")) c->instance_size = v;
  else if (!strcmp(field, "async_stack_size")) c->async_stack_size = v;
  else if (!strcmp(field, "async_stack_keep_resident")) c->async_stack_keep_resident = v;
  else cr_assert_fail("no field %s", field);
}

Test(layout, every_overflow_names_its_field) {
  const overflow_case_t cases[] = {
      {"instance_memory_pages", UINT64_MAX},
      {"memory_reservation", UINT64_MAX},
      {"memory_guard_size", UINT64_MAX},
      {"instance_memories", UINT32_MAX},
      {"linear_memory_keep_resident", UINT64_MAX - 1}, /* UINT64_MAX: WPOOL_KEEP_AUTO */
      {"table_keep_resident", UINT64_MAX - 1},
      {"instance_size", UINT64_MAX},
      {"async_stack_size", UINT64_MAX},
      {"async_stack_keep_resident", UINT64_MAX},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wpool_config_t c = defaults();
    set(&c, cases[i].field, cases[i].value);
    layout_t L;
    cr_assert_eq(layout_compute(&c, 4096, UINT64_MAX, &L), WPOOL_EINVAL, "%s", cases[i].field);
    cr_assert(strstr(wpool_last_error(), cases[i].field), "%s: %s", cases[i].field,
              wpool_last_error());
  }
  /* A reservation and a guard each fine, their sum not. */
  wpool_config_t c = defaults();
  c.memory_reservation = 1ull << 63;
  c.memory_guard_size = 1ull << 63;
  layout_t L;
  cr_assert_eq(layout_compute(&c, 4096, UINT64_MAX, &L), WPOOL_EINVAL);
  cr_assert(strstr(wpool_last_error(), "memory_guard_size"), "%s", wpool_last_error());
  /* Many large tables. */
  c = defaults();
  c.instance_count = UINT32_MAX - 1;
  c.instance_memories = 0;
  c.instance_tables = UINT32_MAX;
  c.instance_table_elements = UINT32_MAX;
  cr_assert_eq(layout_compute(&c, 4096, UINT64_MAX, &L), WPOOL_EINVAL);
  cr_assert(strstr(wpool_last_error(), "instance_tables"), "%s", wpool_last_error());
}

/* Issue 11, defect 4: a stack size whose page-rounded value plus its guard
 * page wraps to 0 was taken for an empty stack pool ("stacks 0 B"). */
Test(layout, a_stack_and_its_guard_page_that_wrap_name_async_stack_size) {
  for (uint64_t size = UINT64_MAX - 8191; size != 0 && size >= UINT64_MAX - 8191; size += 1024) {
    wpool_config_t c = defaults();
    c.async_stack_size = size;
    layout_t L;
    cr_assert_eq(layout_compute(&c, 4096, UINT64_MAX, &L), WPOOL_EINVAL, "%llu",
                 (unsigned long long)size);
    cr_assert(strstr(wpool_last_error(), "async_stack_size"), "%s", wpool_last_error());
  }
  wpool_config_t c = defaults();
  c.async_stack_size = 18446744073709547520ull; /* the value */
  wpool_t *p;
  cr_assert_eq(wpool_create(&c, &p), WPOOL_EINVAL);
  cr_assert(strstr(wpool_last_error(), "async_stack_size"), "%s", wpool_last_error());
}

/* Every size the layout derives is checked, not only the ones a field
 * names directly: random huge fields never give a layout whose parts do
 * not add up. */
Test(layout, random_huge_fields_never_give_a_layout_that_does_not_add_up) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 200000; i++) {
    wpool_config_t c = defaults();
    uint64_t v[8];
    for (int k = 0; k < 8; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      v[k] = (x & 1) ? x >> (x % 64) : UINT64_MAX - (x % 70000);
    }
    c.instance_count = (uint32_t)(v[0] % 5000 + 1);
    c.instance_memory_pages = v[1] >> 40;
    c.memory_reservation = v[2];
    c.memory_guard_size = v[3];
    c.instance_size = v[4];
    c.async_stack_size = v[5];
    c.stack_count = (uint32_t)(v[6] % 5000);
    c.instance_table_elements = (uint32_t)v[7];
    layout_t L;
    if (layout_compute(&c, 4096, UINT64_MAX, &L) != 0) continue;
    cr_assert_eq(L.mem_pool_bytes, L.mem_slots * L.mem_slot_size + L.mem_pre_guard);
    cr_assert_geq(L.mem_slot_size, L.mem_reservation);
    cr_assert_eq(L.stack_pool_bytes, (uint64_t)c.stack_count * L.stack_slot_size);
    if (c.stack_count) cr_assert_eq(L.stack_slot_size, L.stack_usable + 4096);
    cr_assert_geq(L.stack_usable, c.stack_count ? c.async_stack_size : 0);
    cr_assert_geq(L.state_slot_size, c.instance_size);
    cr_assert_eq(L.state_pool_bytes, (uint64_t)c.instance_count * L.state_slot_size);
    cr_assert_eq(L.total_bytes,
                 L.mem_pool_bytes + L.table_pool_bytes + L.state_pool_bytes + L.stack_pool_bytes);
    cr_assert_geq(L.total_bytes, L.mem_pool_bytes);
  }
}
