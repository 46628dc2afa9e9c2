/* The threaded scenarios without Criterion, for the TSan build (see
 * stress_index.h for why). Exit status 0 only if every check holds; TSan
 * itself fails the run on a data race (halt_on_error=1). */
#include <stdio.h>

#include "stress_index.h"

int main(void) {
  stress_index_result_t r;
  stress_index_run(4, 50000, &r);
  int ok = r.double_handouts == 0 && r.valid && r.used == 0 && r.warm + r.cold == r.capacity &&
           r.frees == r.allocs + r.clears;
  printf("index stress: %llu ops, %llu allocs, %llu clears, %llu double handouts: %s\n",
         (unsigned long long)r.ops, (unsigned long long)r.allocs, (unsigned long long)r.clears,
         (unsigned long long)r.double_handouts, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
