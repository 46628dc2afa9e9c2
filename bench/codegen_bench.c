/* How the guests' code is compiled, measured: the example guests (the main
 * job's, with their inputs) on the pool backend, each loaded once per C
 * compiler given, in one process, so the same requests run on objects
 * built by each. A "compiler" is a command the runtime runs as its cc
 * (wrt_options_t.cc), typically a script that adds flags to gcc's
 * command line; the cache key names the compiler, so each gets objects of
 * its own. Variants are interleaved in rounds, the order rotating each
 * round; each figure is the median over rounds of the CPU per request
 * (the process's user + system time over the round) and requests per
 * second. Every variant's stdout and exit code must be the first's (else
 * exit 1). One JSON object per line: per guest and variant, with the
 * ratio of its CPU per request over the first variant's, then a summary
 * with the geometric mean of those ratios and the load average.
 *
 * usage: codegen_bench [--quick] [--rounds N] [--requests N] EXAMPLES_DIR
 *                      CC [CC...]  */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "guests.h"
#include "measure.h"
#include "runtime.h"

#define NG GUEST_NREALISTIC
#define MAXV 8

static double cpu_now_ns(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return 1e9 * (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e3 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static double loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

typedef struct guest {
  wrt_module_t *mod[MAXV];
  char *input;
  size_t in_len;
  char *out; /* the first variant's stdout: what every other must print */
  size_t out_len;
  int32_t exit_code;
} guest_t;

static wrt_request_t request_of(const guest_t *g, size_t gi, const char **argv) {
  argv[0] = guest_cases[gi].name, argv[1] = guest_cases[gi].arg;
  return (wrt_request_t){.argv = argv, .argc = guest_cases[gi].arg ? 2 : 1,
                         .stdin_bytes = g->input, .stdin_len = g->in_len};
}

/* `n` requests of guest gi on variant v: CPU ns per request and requests
 * per second into *cpu and *rps; -1 when one fails or its output is not
 * the first variant's. */
static int run(guest_t *g, size_t gi, int v, int n, wrt_result_t *res, double *cpu,
               double *rps) {
  const char *argv[2];
  wrt_request_t req = request_of(g, gi, argv);
  double c0 = cpu_now_ns();
  uint64_t t0 = now_ns();
  for (int i = 0; i < n; i++)
    if (wrt_run(g->mod[v], &req, res) || res->trap)
      return fprintf(stderr, "codegen_bench: %s: %s\n", guest_cases[gi].name, wrt_last_error()),
             -1;
  *rps = 1e9 * n / (double)(now_ns() - t0);
  *cpu = (cpu_now_ns() - c0) / n;
  if (res->out_len != g->out_len || memcmp(res->out, g->out, g->out_len) ||
      res->exit_code != g->exit_code)
    return fprintf(stderr, "codegen_bench: %s: variant %d's output differs from the first's\n",
                   guest_cases[gi].name, v),
           -1;
  return 0;
}

int main(int argc, char **argv) {
  int rounds = 7, requests = 300, nv = 0;
  const char *dir = NULL, *cc[MAXV];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) rounds = 2, requests = 3;
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--requests") && i + 1 < argc) requests = atoi(argv[++i]);
    else if (!dir) dir = argv[i];
    else if (nv < MAXV) cc[nv++] = argv[i];
    else return fprintf(stderr, "codegen_bench: at most %d compilers\n", MAXV), 2;
  }
  if (!dir || nv < 1 || rounds < 1 || requests < 1)
    return fprintf(stderr, "usage: codegen_bench [--quick] [--rounds N] [--requests N] "
                           "EXAMPLES_DIR CC [CC...]\n"),
           2;
  double load0 = loadavg();
  wrt_runtime_t *rt[MAXV];
  for (int v = 0; v < nv; v++) {
    wrt_options_t o;
    wrt_options_init(&o);
    o.cc = cc[v];
    if (wrt_create(&o, &rt[v])) return fprintf(stderr, "wrt_create: %s\n", wrt_last_error()), 1;
  }
  static guest_t gs[NG];
  wrt_result_t res;
  wrt_result_init(&res);
  for (size_t g = 0; g < NG; g++) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.wasm", dir, guest_cases[g].name);
    for (int v = 0; v < nv; v++)
      if (wrt_load(rt[v], path, &gs[g].mod[v]))
        return fprintf(stderr, "%s: %s\n", cc[v], wrt_last_error()), 1;
    gs[g].input = guest_input(guest_cases[g].input, &gs[g].in_len);
    const char *a[2];
    wrt_request_t req = request_of(&gs[g], g, a);
    if (wrt_run(gs[g].mod[0], &req, &res) || res.trap)
      return fprintf(stderr, "codegen_bench: %s fails\n", guest_cases[g].name), 1;
    gs[g].out = malloc(res.out_len + 1);
    memcpy(gs[g].out, res.out, res.out_len);
    gs[g].out_len = res.out_len;
    gs[g].exit_code = res.exit_code;
  }
  double *cpu = calloc((size_t)(NG * nv * rounds), sizeof(double));
  double *rps = calloc((size_t)(NG * nv * rounds), sizeof(double));
#define AT(a, g, v, r) a[((g) * (size_t)nv + (size_t)(v)) * (size_t)rounds + (size_t)(r)]
  for (size_t g = 0; g < NG; g++) /* warm-up, not counted */
    for (int v = 0; v < nv; v++)
      if (run(&gs[g], g, v, requests / 4 + 1, &res, &AT(cpu, g, v, 0), &AT(rps, g, v, 0))) return 1;
  for (int r = 0; r < rounds; r++)
    for (size_t g = 0; g < NG; g++)
      for (int k = 0; k < nv; k++) {
        int v = (k + r) % nv;
        if (run(&gs[g], g, v, requests, &res, &AT(cpu, g, v, r), &AT(rps, g, v, r))) return 1;
      }
  double lg[MAXV] = {0};
  for (size_t g = 0; g < NG; g++) {
    double base = median_of(&AT(cpu, g, 0, 0), rounds);
    for (int v = 0; v < nv; v++) {
      double c = median_of(&AT(cpu, g, v, 0), rounds);
      lg[v] += log(c / base);
      printf("{\"bench\":\"codegen\",\"guest\":\"%s\",\"cc\":\"%s\",\"rounds\":%d,"
             "\"requests_per_round\":%d,\"cpu_us_per_request\":%.3f,\"requests_per_s\":%.1f,"
             "\"cpu_over_first\":%.3f}\n",
             guest_cases[g].name, cc[v], rounds, requests, c / 1000,
             median_of(&AT(rps, g, v, 0), rounds), c / base);
    }
  }
  for (int v = 0; v < nv; v++)
    printf("{\"bench\":\"codegen\",\"summary\":true,\"cc\":\"%s\",\"geomean_cpu_over_first\":%.3f,"
           "\"loadavg_start\":%.2f,\"loadavg_end\":%.2f}\n",
           cc[v], exp(lg[v] / NG), load0, loadavg());
  wrt_result_free(&res);
  for (int v = 0; v < nv; v++) wrt_destroy(rt[v]);
  for (size_t g = 0; g < NG; g++) free(gs[g].input), free(gs[g].out);
  free(cpu), free(rps);
  return 0;
}
