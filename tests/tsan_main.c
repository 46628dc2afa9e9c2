/* The threaded scenarios without Criterion, for the TSan build (see
 * stress_index.h for why). Exit status 0 only if every check holds; TSan
 * itself fails the run on a data race (halt_on_error=1). */
#include <stdio.h>

#include "stress_index.h"
#include "stress_pool.h"

int main(void) {
  stress_index_result_t r;
  stress_index_run(4, 50000, &r);
  int ok = r.double_handouts == 0 && r.valid && r.used == 0 && r.warm + r.cold == r.capacity &&
           r.frees == r.allocs + r.clears;
  printf("index stress: %llu ops, %llu allocs, %llu clears, %llu double handouts: %s\n",
         (unsigned long long)r.ops, (unsigned long long)r.allocs, (unsigned long long)r.clears,
         (unsigned long long)r.double_handouts, ok ? "ok" : "FAILED");

  stress_pool_result_t p;
  int pok = 1;
  for (int background = 0; background < 2; background++) {
  stress_pool_run(4, 3000, background, &p);
  pok &= p.isolation_failures == 0 && p.errors == 0 && p.index_valid &&
            p.live_instances == 0 && p.live_stacks == 0 && p.warm_plus_cold == p.capacity &&
            p.images_live_after == 0 && p.destroy_result == 0 && p.frees == p.instances;
  printf("pool stress%s: %llu instances, %llu releases, %llu grows, %llu stacks, "
         "%llu isolation failures: %s\n",
         background ? " (background reset)" : "", (unsigned long long)p.instances, (unsigned long long)p.releases,
         (unsigned long long)p.grows, (unsigned long long)p.stacks,
         (unsigned long long)p.isolation_failures, pok ? "ok" : "FAILED");
  }
  return ok && pok ? 0 : 1;
}
