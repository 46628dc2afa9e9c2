/* The pool's metadata (issue 24): every array sized from a configuration
 * is bounded by the host's physical memory at wpool_create (refused at
 * once, naming the field), and a pool touches only the records of the
 * slots it uses: creating, using and destroying a pool with millions of
 * slots costs what its used slots cost. */
#include <sys/resource.h>
#include <unistd.h>

#include "fixture.h"
#include "memory/os.h"
#include "pool/config.h"
#include "pool/meta.h"
#include "util/heap.h"

static uint64_t minor_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)ru.ru_minflt;
}

/* The configuration of the issue: one instance of 2^32 - 1 memories of no
 * pages, each with a 4 KiB guard: 16 TiB of address space (it fits) and
 * 64 bytes of record per memory slot. */
static wpool_config_t issue_config(void) {
  wpool_config_t c;
  wpool_config_init(&c);
  c.instance_count = 1;
  c.instance_memories = UINT32_MAX;
  c.memory_reservation = 0;
  c.memory_guard_size = 4096;
  c.instance_memory_pages = 0;
  return c;
}

/* What `c` needs, laid out for this host. */
static meta_t meta_of(const wpool_config_t *c) {
  layout_t L;
  cr_assert_eq(layout_compute(c, os_page_size(), os_address_limit(), &L), 0, "%s",
               wpool_last_error());
  meta_t m;
  meta_compute(c, &L, &m);
  return m;
}

Test(metadata, the_issues_configuration_is_refused_at_once_naming_instance_memories,
     .timeout = 30) {
  wpool_config_t c = issue_config();
  meta_t m = meta_of(&c);
  cr_assert_geq(m.memory_bytes, (uint64_t)UINT32_MAX * 32, "a record per memory slot");
  if (m.total_bytes <= os_physical_bytes()) cr_skip_test("this host holds %llu bytes", (unsigned long long)m.total_bytes);
  wpool_t *p = NULL;
  cr_assert_eq(wpool_create(&c, &p), WPOOL_EINVAL);
  cr_assert_null(p);
  const char *msg = wpool_last_error();
  cr_assert(strncmp(msg, "instance_memories: ", 19) == 0, "%s", msg);
  cr_expect_not_null(strstr(msg, "physical memory"), "%s", msg);
  cr_expect_not_null(strstr(msg, "4294967295"), "%s", msg);
}

/* Each field that sizes an array names itself when its arrays are the
 * ones past the bound. */
Test(metadata, each_field_that_sizes_an_array_is_named_when_past_the_bound) {
  static const struct {
    const char *field;
    uint32_t count, memories, tables, stacks;
  } cases[] = {
      {"instance_count", 1u << 20, 1, 0, 0},
      {"instance_memories", 1, 1u << 20, 0, 0},
      {"instance_tables", 1, 1, 1u << 20, 0},
      {"stack_count", 1, 1, 0, 1u << 20},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wpool_config_t c = issue_config();
    c.instance_count = cases[i].count;
    c.instance_memories = cases[i].memories;
    c.instance_tables = cases[i].tables;
    c.instance_table_elements = 1;
    c.table_element_size = 1;
    c.stack_count = cases[i].stacks;
    c.async_stack_size = 4096;
    c.instance_size = 0;
    meta_t m = meta_of(&c);
    cr_assert_eq(meta_check(&c, &m, m.total_bytes), 0, "exactly the bound fits");
    cr_assert_eq(meta_check(&c, &m, m.total_bytes - 1), WPOOL_EINVAL, "%s", cases[i].field);
    const char *msg = wpool_last_error();
    size_t n = strlen(cases[i].field);
    cr_expect(strncmp(msg, cases[i].field, n) == 0 && msg[n] == ':', "%s: %s", cases[i].field,
              msg);
  }
}

/* The bound counts what the pool allocates: after wpool_create the
 * library's heap holds the metadata (and the pool's own record). */
Test(metadata, the_bound_counts_every_array_the_pool_allocates) {
  wpool_config_t c = issue_config();
  c.instance_count = 100000;
  c.instance_memories = 2;
  c.instance_tables = 2;
  c.instance_table_elements = 1024;
  c.memory_reservation = 64 * KiB;
  c.instance_memory_pages = 1;
  c.stack_count = 1000;
  c.async_stack_size = 4096;
  c.instance_size = 0;
  c.decommit_batch_size = 4;
  meta_t m = meta_of(&c);
  uint64_t before = heap_allocated_bytes();
  wpool_t *p = make_pool(&c);
  uint64_t used = stats(p).heap_bytes - before;
  cr_expect_geq(used, m.total_bytes, "heap %llu, metadata %llu", (unsigned long long)used,
                (unsigned long long)m.total_bytes);
  cr_expect_leq(used, m.total_bytes + m.total_bytes / 4 + 256 * KiB, "heap %llu, metadata %llu",
                (unsigned long long)used, (unsigned long long)m.total_bytes);
  cr_assert_eq(wpool_destroy(p), 0);
}

/* Four million instance slots of two memories and a table, and 65,536
 * stacks: created, used by a few instances and a stack, and destroyed,
 * faulting in pages for what was used, not for what was configured (the
 * records of every slot would be hundreds of MiB). */
Test(metadata, a_pool_touches_only_the_records_of_the_slots_it_uses, .timeout = 120) {
  wpool_config_t c = issue_config();
  c.instance_count = 1u << 22;
  c.instance_memories = 2;
  c.instance_tables = 1;
  c.instance_table_elements = 512;
  c.instance_size = 0;
  c.stack_count = 1u << 16;
  c.async_stack_size = 4096;
  c.max_unused_warm_slots = 1u << 22;
  /* This machine's costs are measured once per process: not here. */
  wpool_t *warm = make_pool(&c);
  cr_assert_eq(wpool_destroy(warm), 0);

  uint64_t f0 = minor_faults();
  wpool_t *p = make_pool(&c);
  wpool_memory_desc_t mem = {.min_pages = 0, .max_pages = 0};
  wpool_table_desc_t tab = {.min_elements = 8, .max_elements = 8};
  wpool_module_desc_t d = {.memories = &mem, .nmemories = 1, .tables = &tab, .ntables = 1};
  wpool_module_t *mods[3];
  wpool_instance_t *in[6];
  for (int k = 0; k < 3; k++) cr_assert_eq(wpool_module_new(p, &d, &mods[k]), 0);
  for (int k = 0; k < 6; k++) in[k] = make_instance(p, mods[k % 3]);
  wpool_stack_t *s;
  cr_assert_eq(wpool_stack_new(p, &s), 0);
  wpool_stack_free(s);
  for (int k = 0; k < 6; k++) wpool_instance_free(in[k]);
  for (int k = 0; k < 3; k++) wpool_module_release(mods[k]);
  cr_assert_eq(wpool_destroy(p), 0);
  uint64_t faults = minor_faults() - f0;
  cr_log_info("%llu minor faults for a pool of %u slots", (unsigned long long)faults,
              c.instance_count);
  cr_expect_lt(faults, 1024, "%llu pages faulted in", (unsigned long long)faults);
}

/* A slot of four million memories and a million tables whose tenants have
 * one of each: instantiating, freeing, trimming, draining and destroying
 * visit the memories and tables a tenant had, not the configured ones. */
Test(metadata, a_slot_visits_only_the_memories_and_tables_its_tenants_had, .timeout = 120) {
  wpool_config_t c = issue_config();
  c.instance_count = 2;
  c.instance_memories = 1u << 22;
  c.instance_tables = 1u << 20;
  c.instance_table_elements = 512;
  c.instance_size = 0;
  c.stack_count = 0;
  wpool_t *warm = make_pool(&c);
  cr_assert_eq(wpool_destroy(warm), 0);

  uint64_t f0 = minor_faults();
  wpool_t *p = make_pool(&c);
  wpool_memory_desc_t mem = {.min_pages = 0, .max_pages = 0};
  wpool_table_desc_t tab = {.min_elements = 8, .max_elements = 8};
  wpool_module_desc_t d = {.memories = &mem, .nmemories = 1, .tables = &tab, .ntables = 1};
  wpool_module_t *a, *b;
  cr_assert_eq(wpool_module_new(p, &d, &a), 0);
  cr_assert_eq(wpool_module_new(p, &d, &b), 0);
  for (int k = 0; k < 8; k++) {
    wpool_instance_t *x = make_instance(p, k % 2 ? a : b), *y = make_instance(p, a);
    wpool_instance_free(x);
    wpool_instance_free(y);
  }
  cr_assert_geq(wpool_trim(p, 0), 1);
  wpool_module_release(a);
  wpool_module_release(b);
  cr_assert_eq(wpool_destroy(p), 0);
  uint64_t faults = minor_faults() - f0;
  cr_log_info("%llu minor faults for slots of %u memories", (unsigned long long)faults,
              c.instance_memories);
  cr_expect_lt(faults, 1024, "%llu pages faulted in", (unsigned long long)faults);
}
