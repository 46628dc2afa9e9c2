/* Snapshots (issue 23, docs/snapshot.md): requests/s of a guest whose
 * start-up is its main cost (examples/lookup.c: a 1 MiB table), started
 * from its snapshot (wizer.initialize run once at load) against the same
 * module loaded with no snapshot (it builds the table in _start), in one
 * run: each setting in its own runtime and pool, the two interleaved in
 * rounds (the order alternating), each round a fixed wall-clock budget per
 * setting; the result is the median over rounds. Every output is compared
 * with the first run's (they must be identical). Resident cost: the
 * snapshot's image (non-zero bytes, one memfd per module, shared by all
 * slots) and, per warm slot after the run, the bytes its resets keep
 * resident (memory_kept_resident_bytes / warm_slots), with page faults per
 * request. One JSON object per line.
 *
 * usage: snapshot_bench [--quick] [--rounds N] [--ms N] EXAMPLES_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "runtime.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long minflt(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct setting {
  const char *name;
  const char *init; /* wrt_load_options_t.init */
  wrt_runtime_t *rt;
  wrt_module_t *m;
  double *rps; /* per round */
  uint64_t requests, faults;
} setting_t;

int main(int argc, char **argv) {
  unsigned rounds = 7, ms = 400;
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick"))
      rounds = 2, ms = 50;
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = (unsigned)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ms") && i + 1 < argc)
      ms = (unsigned)atoi(argv[++i]);
    else
      dir = argv[i];
  }
  if (!dir || !rounds || !ms) {
    fprintf(stderr, "usage: snapshot_bench [--quick] [--rounds N] [--ms N] EXAMPLES_DIR\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof(path), "%s/lookup.wasm", dir);
  setting_t set[2] = {{.name = "snapshot", .init = NULL}, {.name = "no-snapshot", .init = ""}};
  for (int k = 0; k < 2; k++) {
    wrt_options_t o;
    wrt_options_init(&o);
    wrt_load_options_t lo;
    wrt_load_options_init(&lo);
    lo.name = path;
    lo.init = set[k].init;
    set[k].rps = calloc(rounds, sizeof(double));
    if (!set[k].rps || wrt_create(&o, &set[k].rt) || wrt_load_ex(set[k].rt, &lo, &set[k].m)) {
      fprintf(stderr, "snapshot_bench: %s: %s\n", set[k].name, wrt_last_error());
      return 1;
    }
  }
  static const char input[] = "GET /lookup?user=4711&plan=pro HTTP/1.1\r\nHost: example\r\n\r\n";
  const char *gargv[] = {"lookup"};
  wrt_request_t req = {
      .argv = gargv, .argc = 1, .stdin_bytes = input, .stdin_len = sizeof(input) - 1};
  wrt_result_t res, first;
  wrt_result_init(&res);
  wrt_result_init(&first);
  uint64_t mismatches = 0;
  bool have_first = false;
  for (unsigned r = 0; r < rounds; r++)
    for (int j = 0; j < 2; j++) {
      setting_t *s = &set[(r + (unsigned)j) % 2];
      uint64_t n = 0, t0 = now_ns(), t;
      long f0 = minflt();
      do {
        if (wrt_run(s->m, &req, &res) != 0 || res.trap || res.exit_code) {
          fprintf(stderr, "snapshot_bench: %s: request failed: %s (trap %s, exit %d)\n", s->name,
                  wrt_last_error(), wrt_trap_name(res.trap), res.exit_code);
          return 1;
        }
        if (!have_first) {
          first.out = malloc(res.out_len ? res.out_len : 1);
          if (!first.out) return 1;
          memcpy(first.out, res.out, res.out_len);
          first.out_len = res.out_len;
          have_first = true;
        } else if (res.out_len != first.out_len || memcmp(res.out, first.out, res.out_len)) {
          mismatches++;
        }
        n++;
        t = now_ns();
      } while (t - t0 < (uint64_t)ms * 1000000u || n < 3);
      s->faults += (uint64_t)(minflt() - f0);
      s->requests += n;
      s->rps[r] = (double)n * 1e9 / (double)(t - t0);
    }
  double med[2];
  for (int k = 0; k < 2; k++) {
    setting_t *s = &set[k];
    qsort(s->rps, rounds, sizeof(double), cmp_double);
    med[k] = rounds % 2 ? s->rps[rounds / 2] : (s->rps[rounds / 2 - 1] + s->rps[rounds / 2]) / 2;
    wrt_module_info_t info;
    wrt_module_info(s->m, &info);
    wpool_stats_t st;
    wpool_stats_get(wrt_pool(s->rt), &st);
    printf(
        "{\"bench\":\"snapshot\",\"guest\":\"lookup\",\"setting\":\"%s\",\"rounds\":%u,"
        "\"ms_per_round\":%u,\"requests\":%llu,\"rps_median\":%.1f,\"rps_min\":%.1f,"
        "\"rps_max\":%.1f,\"faults_per_request\":%.2f,\"init_ms\":%.3f,"
        "\"image_bytes\":%llu,\"start_pages\":%llu,\"warm_slots\":%llu,"
        "\"kept_resident_bytes_per_warm_slot\":%llu}\n",
        s->name, rounds, ms, (unsigned long long)s->requests, med[k], s->rps[0], s->rps[rounds - 1],
        (double)s->faults / (double)s->requests, (double)info.snapshot_init_ns / 1e6,
        (unsigned long long)info.snapshot_bytes, (unsigned long long)info.start_pages,
        (unsigned long long)st.warm_slots,
        (unsigned long long)(st.warm_slots ? st.memory_kept_resident_bytes / st.warm_slots : 0));
  }
  printf(
      "{\"bench\":\"snapshot\",\"guest\":\"lookup\",\"ratio_snapshot_over_no_snapshot\":%.1f,"
      "\"outputs_identical\":%s,\"output_mismatches\":%llu}\n",
      med[0] / med[1], mismatches ? "false" : "true", (unsigned long long)mismatches);
  wrt_result_free(&res);
  free(first.out);
  for (int k = 0; k < 2; k++) {
    wrt_unload(set[k].m);
    wrt_destroy(set[k].rt);
    free(set[k].rps);
  }
  return mismatches ? 1 : 0;
}
