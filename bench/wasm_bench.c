/* Real WebAssembly per request: requests/s and latency per guest for the
 * stock wasm2c runtime, the pool with the library's defaults
 * (wrt_config_init: wpool_config_init's, plus the wasm2c layout), and the
 * hand-set budgets of the reset matrix (issue 14): prefix 0 (Wasmtime-like:
 * prefix reset, memory and table keep_resident 0, max_unused_warm_slots
 * 100), prefix 1 MiB, dirty 0, dirty 64 KiB, dirty 1 MiB (memory and table
 * budgets alike), plus instantiate + free alone (no guest code:
 * wrt_inspect). Settings are interleaved in rounds, the order
 * rotating each round, so drift in the machine hits all alike; each
 * result is the median over rounds of the per-round requests/s, with
 * latency percentiles over every request. One JSON object per line.
 *
 * usage: wasm_bench [--quick] [--rounds N] [--requests N] EXAMPLES_DIR
 * A round of a cell makes at least --requests requests and lasts at least
 * 10 ms (up to 10,000 requests, or --requests if more). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "measure.h"
#include "guests.h"
#include "runtime.h"

enum { S_STOCK, S_DEFAULT, S_WASMTIME, NSET = 8 };
static const struct {
  const char *name;
  wpool_reset_strategy_t reset;
  size_t keep;
} sets[NSET] = {
    {"stock", WPOOL_RESET_AUTO, 0},
    {"pool-default", WPOOL_RESET_AUTO, WPOOL_KEEP_AUTO},
    {"pool-wasmtime-like", WPOOL_RESET_PREFIX, 0},
    {"pool-prefix-1MiB", WPOOL_RESET_PREFIX, 1 << 20},
    {"pool-dirty-0", WPOOL_RESET_DIRTY, 0},
    {"pool-dirty-64KiB", WPOOL_RESET_DIRTY, 64 << 10},
    {"pool-dirty-1MiB", WPOOL_RESET_DIRTY, 1 << 20},
    {"pool-keep-1MiB", WPOOL_RESET_AUTO, 1 << 20},
};

#define NG GUEST_NREALISTIC
#define NROW (NG + 1) /* the last: instantiate + free of hello alone */

typedef struct cell {
  double *rps;      /* per round */
  uint64_t *lat_ns; /* every request */
  uint64_t nlat;
  uint64_t faults;
} cell_t;

static void noop(const uint8_t *mem, uint64_t len, void *arg) { (void)mem, (void)len, (void)arg; }

int main(int argc, char **argv) {
  int rounds = 7, requests = 200;
  bool quick = false;
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) rounds = 2, requests = 5, quick = true;
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--requests") && i + 1 < argc) requests = atoi(argv[++i]);
    else dir = argv[i];
  }
  if (!dir) dir = getenv("WPOOL_EXAMPLES");
  if (!dir || rounds < 1 || requests < 1) {
    fprintf(stderr, "usage: wasm_bench [--quick] [--rounds N] [--requests N] EXAMPLES_DIR\n");
    return 2;
  }
  /* A round of a cell lasts ROUND_MIN_NS (measure.h), not in --quick. */
  uint64_t round_min_ns = quick ? 0 : ROUND_MIN_NS;
  wrt_runtime_t *rt[NSET];
  wrt_module_t *mods[NSET][NG];
  for (int s = 0; s < NSET; s++) {
    wpool_config_t cfg;
    wrt_config_init(&cfg);
    if (s > S_DEFAULT) {
      cfg.reset_strategy = sets[s].reset;
      cfg.linear_memory_keep_resident = sets[s].keep;
      cfg.table_keep_resident = sets[s].keep;
      cfg.max_unused_warm_slots = 100;
    }
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = s == S_STOCK ? WRT_BACKEND_STOCK : WRT_BACKEND_POOL;
    o.pool_config = &cfg;
    if (wrt_create(&o, &rt[s])) return fprintf(stderr, "wrt_create: %s\n", wrt_last_error()), 1;
    for (size_t g = 0; g < NG; g++) {
      char path[1024];
      snprintf(path, sizeof(path), "%s/%s.wasm", dir, guest_cases[g].name);
      if (wrt_load(rt[s], path, &mods[s][g])) return fprintf(stderr, "%s\n", wrt_last_error()), 1;
    }
  }
  char *inputs[NG];
  size_t in_len[NG];
  for (size_t g = 0; g < NG; g++) inputs[g] = guest_input(guest_cases[g].input, &in_len[g]);
  static cell_t cells[NSET][NROW];
  for (int s = 0; s < NSET; s++)
    for (size_t g = 0; g < NROW; g++) {
      cells[s][g].rps = calloc((size_t)rounds, sizeof(double));
      cells[s][g].lat_ns = calloc((size_t)rounds * round_max((uint64_t)requests), sizeof(uint64_t));
    }
  wrt_result_t res;
  wrt_result_init(&res);
  uint64_t sink = 0;
  /* Warm-up: one request of each, each setting (compiles nothing: the
   * modules are loaded; faults in code pages and the first slots). */
  for (int s = 0; s < NSET; s++)
    for (size_t g = 0; g < NG; g++) {
      const char *gargv[] = {guest_cases[g].name, guest_cases[g].arg};
      wrt_request_t req = {.argv = gargv, .argc = guest_cases[g].arg ? 2 : 1,
                           .stdin_bytes = inputs[g], .stdin_len = in_len[g]};
      if (wrt_run(mods[s][g], &req, &res)) return fprintf(stderr, "%s\n", wrt_last_error()), 1;
    }
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < NSET; k++) {
      int s = (k + r) % NSET;
      for (size_t g = 0; g < NROW; g++) {
        size_t gi = g < NG ? g : 0;
        const char *gargv[] = {guest_cases[gi].name, guest_cases[gi].arg};
        wrt_request_t req = {.argv = gargv, .argc = guest_cases[gi].arg ? 2 : 1,
                             .stdin_bytes = inputs[gi], .stdin_len = in_len[gi]};
        cell_t *c = &cells[s][g];
        struct rusage u0, u1;
        getrusage(RUSAGE_SELF, &u0);
        uint64_t t0 = now_ns();
        uint64_t i = 0;
        for (; round_goes_on(i, (uint64_t)requests, now_ns() - t0, round_min_ns); i++) {
          uint64_t a = now_ns();
          int err = g < NG ? wrt_run(mods[s][gi], &req, &res) : wrt_inspect(mods[s][0], noop, NULL);
          if (err || (g < NG && (res.trap || (res.exit_code && g != 5)))) {
            fprintf(stderr, "wasm_bench: %s on %s failed: %s\n", guest_cases[gi].name, sets[s].name,
                    err ? wrt_last_error() : wrt_trap_name(res.trap));
            return 1;
          }
          sink += res.out_len;
          c->lat_ns[c->nlat++] = now_ns() - a;
        }
        uint64_t dt = now_ns() - t0;
        getrusage(RUSAGE_SELF, &u1);
        c->faults += (uint64_t)(u1.ru_minflt - u0.ru_minflt);
        c->rps[r] = 1e9 * (double)i / (double)dt;
      }
    }
  }
  for (size_t g = 0; g < NROW; g++) {
    double stock_rps = 0;
    for (int s = 0; s < NSET; s++) {
      cell_t *c = &cells[s][g];
      qsort(c->rps, (size_t)rounds, sizeof(double), cmp_double);
      qsort(c->lat_ns, c->nlat, sizeof(uint64_t), cmp_u64);
      double med = c->rps[rounds / 2];
      if (s == S_STOCK) stock_rps = med;
      printf("{\"bench\":\"wasm\",\"guest\":\"%s\",\"setting\":\"%s\",\"rounds\":%d,"
             "\"requests_per_round\":%d,\"requests_per_s\":%.1f,\"rps_min\":%.1f,\"rps_max\":%.1f,"
             "\"p50_us\":%.2f,\"p99_us\":%.2f,\"faults_per_request\":%.2f,\"vs_stock\":%.3f}\n",
             g < NG ? guest_cases[g].name : "instantiate+free", sets[s].name, rounds, requests, med,
             c->rps[0], c->rps[rounds - 1], (double)c->lat_ns[c->nlat / 2] / 1000,
             (double)c->lat_ns[c->nlat * 99 / 100] / 1000,
             (double)c->faults / (double)(rounds * requests), stock_rps ? med / stock_rps : 0);
    }
  }
  fprintf(stderr, "wasm_bench: %llu output bytes\n", (unsigned long long)sink);
  wrt_result_free(&res);
  for (int s = 0; s < NSET; s++) wrt_destroy(rt[s]);
  for (size_t g = 0; g < NG; g++) free(inputs[g]);
  for (int s = 0; s < NSET; s++)
    for (size_t g = 0; g < NROW; g++) free(cells[s][g].rps), free(cells[s][g].lat_ns);
  return 0;
}
