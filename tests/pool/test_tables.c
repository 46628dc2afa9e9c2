/* Table elements of any size (issue 13): table_element_size bytes each,
 * all-zero is the empty element, reset leaves tables all zero. */
#include "fixture.h"

typedef struct funcref { /* wasm2c's: 24 bytes */
  const char *type;
  void (*fn)(void);
  void *instance;
} funcref_t;

static wpool_t *pool_of(size_t element) {
  wpool_config_t c = small_config();
  c.table_element_size = element;
  return make_pool(&c);
}

Test(tables, elements_of_24_bytes_grow_from_an_initial_value_and_reset_to_zero) {
  wpool_t *p = pool_of(sizeof(funcref_t));
  test_module_t t;
  tm_init(&t, 1, 1, 0); /* table 16..64 elements */
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in = make_instance(p, m);
  funcref_t *tab = wpool_table_data(in, 0);
  cr_assert_eq((void *)tab, (void *)wpool_table_base(in, 0));
  cr_assert(all_bytes((uint8_t *)tab, 64 * sizeof(funcref_t), 0), "empty elements are zero");
  funcref_t init = {"type", (void (*)(void))0x1234, &init};
  cr_assert_eq(wpool_table_grow_with(in, 0, 10, &init), 16);
  cr_assert_eq(wpool_table_size(in, 0), 26);
  for (int e = 16; e < 26; e++) cr_assert_eq(memcmp(&tab[e], &init, sizeof(init)), 0, "%d", e);
  cr_assert(all_bytes((uint8_t *)&tab[26], 38 * sizeof(funcref_t), 0), "past the size: empty");
  cr_assert_eq(wpool_table_grow_with(in, 0, 4, NULL), 26, "NULL: empty elements");
  cr_assert(all_bytes((uint8_t *)&tab[26], 4 * sizeof(funcref_t), 0));
  cr_assert_eq(wpool_table_grow_with(in, 0, 35, &init), WPOOL_ELIMIT, "64 is the module's max");
  cr_assert_eq(wpool_table_size(in, 0), 30, "unchanged on failure");
  cr_assert_eq(wpool_table_grow(in, 0, 1, (void *)&init), WPOOL_EINVAL,
               "a pointer is not a 24-byte element");
  cr_assert(strstr(wpool_last_error(), "wpool_table_grow_with"), "%s", wpool_last_error());
  cr_assert_eq(wpool_table_grow(in, 0, 1, NULL), 30, "the empty element is fine");
  memset(tab, 0x77, 31 * sizeof(funcref_t));
  wpool_instance_free(in);
  in = make_instance(p, m);
  tab = wpool_table_data(in, 0);
  cr_assert_eq(wpool_table_size(in, 0), 16);
  cr_assert(all_bytes((uint8_t *)tab, 64 * sizeof(funcref_t), 0), "the next tenant's table");
  wpool_instance_free(in);
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(tables, table_slots_are_elements_times_their_size_page_rounded) {
  wpool_t *p = pool_of(24);
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *a = make_instance(p, m), *b = make_instance(p, m);
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t want = (2048 * 24 + page - 1) / page * page;
  uint8_t *ta = wpool_table_data(a, 0), *tb = wpool_table_data(b, 0);
  cr_assert_eq((uint64_t)(tb > ta ? tb - ta : ta - tb), want);
  memset(ta, 1, 2048 * 24); /* the whole slot is the table's */
  cr_assert(all_bytes(tb, 64 * 24, 0));
  wpool_instance_free(a);
  wpool_instance_free(b);
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(tables, pointer_sized_elements_keep_working_with_table_grow) {
  wpool_t *p = pool_of(sizeof(void *));
  test_module_t t;
  tm_init(&t, 1, 1, 0);
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *in = make_instance(p, m);
  int x;
  cr_assert_eq(wpool_table_grow(in, 0, 3, &x), 16);
  cr_assert_eq(wpool_table_base(in, 0)[17], &x);
  wpool_instance_free(in);
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(tables, element_sizes_from_1_to_256_and_no_other) {
  wpool_config_t c = small_config();
  wpool_t *p;
  size_t ok[] = {1, 3, 256}, bad[] = {0, 257, 4096};
  for (size_t i = 0; i < 3; i++) {
    c.table_element_size = ok[i];
    cr_assert_eq(wpool_create(&c, &p), 0, "%zu: %s", ok[i], wpool_last_error());
    test_module_t t;
    tm_init(&t, 1, 1, 0);
    wpool_module_t *m = make_module(p, &t);
    wpool_instance_t *in = make_instance(p, m);
    uint8_t e[256];
    memset(e, 0xab, sizeof(e));
    cr_assert_eq(wpool_table_grow_with(in, 0, 48, e), 16);
    uint8_t *d = wpool_table_data(in, 0);
    cr_assert(all_bytes(d + 16 * ok[i], 48 * ok[i], 0xab), "%zu", ok[i]);
    cr_assert(all_bytes(d + 64 * ok[i], 16 * ok[i], 0), "%zu: past the grown elements", ok[i]);
    wpool_instance_free(in);
    cr_assert_eq(wpool_destroy(p), 0);
  }
  for (size_t i = 0; i < 3; i++) {
    c.table_element_size = bad[i];
    cr_assert_eq(wpool_create(&c, &p), WPOOL_EINVAL, "%zu", bad[i]);
    cr_assert(strstr(wpool_last_error(), "table_element_size"), "%s", wpool_last_error());
  }
}
