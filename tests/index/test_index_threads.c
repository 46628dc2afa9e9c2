/* The index allocator under concurrent alloc/free/clear: no slot is ever
 * handed to two holders, and at the end every slot is accounted for. */
#include <criterion/criterion.h>

#include "stress_index.h"

Test(index_threads, concurrent_alloc_free_clear_never_double_hands_a_slot) {
  stress_index_result_t r;
  stress_index_run(4, 200000, &r);
  cr_assert_eq(r.double_handouts, 0);
  cr_assert(r.valid);
  cr_assert_eq(r.used, 0);
  cr_assert_eq(r.warm + r.cold, r.capacity);
  cr_assert_eq(r.frees, r.allocs + r.clears);
  cr_assert_gt(r.allocs, 100000, "the scenario barely ran: %llu allocs",
               (unsigned long long)r.allocs);
}
