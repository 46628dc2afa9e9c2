/* `wpool wasm`: run a WebAssembly command N times, each request on a fresh
 * instance, on the pool or the stock runtime or both (docs/cli.md). */
#include "measure.h"
#include "wasm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "guests.h"
#include "options.h"
#include "runtime.h"
#include "wasi_opts.h"
#include "wasm_guests.h"

typedef struct side {
  wrt_runtime_t *rt;
  wrt_module_t *m;
  wrt_backend_t backend;
  uint64_t *lat_ns; /* per request */
  uint64_t n, total_ns, faults;
  uint64_t timed, inst_ns, free_ns; /* over the requests timed (TIMED_EVERY) */
  uint64_t first_bad; /* 1-based request number, 0 = none */
  wrt_trap_t bad_trap;
  int32_t bad_exit;
  wrt_result_t last;
} side_t;

static const char usage[] =
    "usage: wpool wasm [--requests N] [--stdin FILE] [--runtime pool|stock] [--compare]\n"
    "                  [--timeout DURATION] [--config KEY=VALUE]... [--json] [--env KEY=VALUE]...\n"
    "                  [--dir HOST[::GUEST]]... [--dir-ro HOST[::GUEST]]...\n"
    "                  [--resolve auto|openat2|walk] [--init FUNC | --no-init]\n"
    "                  [MODULE.wasm [ARGS...]]\n"
    "without a module: the embedded guests, pool against stock\n"
    "--init FUNC: run FUNC once at load and start every request from its state\n"
    "  (default: wizer.initialize when exported; --no-init: none). docs/snapshot.md\n";

/* The q-quantile of sorted v (nearest rank). */
static double quantile_us(const uint64_t *v, uint64_t n, double q) {
  if (!n) return 0;
  uint64_t i = (uint64_t)(q * (double)n);
  if (i >= n) i = n - 1;
  return (double)v[i] / 1000.0;
}

static int read_all(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t cap = 1 << 16, n = 0, r;
  char *b = malloc(cap);
  while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) free(b);
      b = nb;
    }
  }
  int bad = ferror(f) || !b;
  fclose(f);
  if (bad) {
    free(b);
    return -1;
  }
  *out = b;
  *len = n;
  return 0;
}

/* One request in TIMED_EVERY asks for the runtime's timings of its parts:
 * their clock reads (about 80 ns a request here) are not in the others'
 * latencies, as a server that does not ask for them would not pay them. */
#define TIMED_EVERY 16

static int one(side_t *s, const wrt_request_t *req0, uint64_t number) {
  wrt_request_t req = *req0;
  req.timings = number % TIMED_EVERY == 1;
  struct rusage r0, r1;
  getrusage(RUSAGE_THREAD, &r0);
  uint64_t t0 = now_ns();
  int err = wrt_run(s->m, &req, &s->last);
  uint64_t dt = now_ns() - t0;
  getrusage(RUSAGE_THREAD, &r1);
  if (err) {
    fprintf(stderr, "wpool wasm: request %llu (%s): %s\n", (unsigned long long)number,
            wrt_backend_name(s->backend), wrt_last_error());
    return 1;
  }
  s->lat_ns[s->n++] = dt;
  s->total_ns += dt;
  if (req.timings) s->timed++, s->inst_ns += s->last.instantiate_ns, s->free_ns += s->last.free_ns;
  s->faults += (uint64_t)(r1.ru_minflt - r0.ru_minflt);
  if (!s->first_bad && (s->last.trap || s->last.exit_code)) {
    s->first_bad = number;
    s->bad_trap = s->last.trap;
    s->bad_exit = s->last.exit_code;
  }
  return 0;
}

/* sum / n in microseconds (sum in ns); 0 for no sample. */
static double mean_us(uint64_t sum_ns, uint64_t n) {
  return n ? (double)sum_ns / (double)n / 1000 : 0;
}

static double rps(const side_t *s) { return s->total_ns ? 1e9 * (double)s->n / (double)s->total_ns : 0; }

static void summary_text(FILE *f, side_t *sides, int nsides, const char *path) {
  fprintf(f, "wpool wasm: %s, %llu requests per runtime\n", path, (unsigned long long)sides[0].n);
  fprintf(f, "%-28s", "");
  for (int i = 0; i < nsides; i++) fprintf(f, "%14s", wrt_backend_name(sides[i].backend));
  fputc('\n', f);
#define ROW(label, fmt, expr)                                     \
  do {                                                            \
    fprintf(f, "%-28s", label);                                   \
    for (int i = 0; i < nsides; i++) {                            \
      side_t *s = &sides[i];                                      \
      (void)s;                                                    \
      fprintf(f, fmt, expr);                                      \
    }                                                             \
    fputc('\n', f);                                               \
  } while (0)
  ROW("requests per second", "%14.0f", rps(s));
  ROW("latency p50 (us)", "%14.1f", quantile_us(s->lat_ns, s->n, 0.50));
  ROW("latency p99 (us)", "%14.1f", quantile_us(s->lat_ns, s->n, 0.99));
  ROW("instantiate, mean (us)", "%14.2f", mean_us(s->inst_ns, s->timed));
  ROW("free, mean (us)", "%14.2f", mean_us(s->free_ns, s->timed));
  ROW("page faults per request", "%14.1f", s->n ? (double)s->faults / (double)s->n : 0);
#undef ROW
  if (nsides == 2 && rps(&sides[1]) > 0)
    fprintf(f, "pool / stock requests per second: %.2fx\n", rps(&sides[0]) / rps(&sides[1]));
  wrt_module_info_t info;
  wrt_module_info(sides[0].m, &info);
  if (info.snapshot)
    fprintf(f, "snapshot: %llu pages at start, an image of %llu bytes, %u globals; the init %s\n",
            (unsigned long long)info.start_pages, (unsigned long long)info.snapshot_bytes,
            info.snapshot_globals, info.snapshot_from_cache ? "read from the cache" : "ran at load");
  for (int i = 0; i < nsides; i++) {
    wpool_t *p = wrt_pool(sides[i].rt);
    if (!p) continue;
    wpool_stats_t st;
    wpool_stats_get(p, &st);
    fprintf(f,
            "pool: %llu instances created, affine hits %llu, misses %llu, warm slots %llu, "
            "image maps %llu, madvise calls %llu (%llu bytes), memset bytes %llu\n",
            (unsigned long long)st.instances_created, (unsigned long long)st.affine_hits,
            (unsigned long long)st.affine_misses, (unsigned long long)st.warm_slots,
            (unsigned long long)st.image_maps, (unsigned long long)st.madvise_calls,
            (unsigned long long)st.madvise_bytes, (unsigned long long)st.memset_bytes);
  }
}

static void summary_json(FILE *f, side_t *sides, int nsides, const char *path) {
  fprintf(f, "{\"module\":\"%s\",\"requests\":%llu", path, (unsigned long long)sides[0].n);
  for (int i = 0; i < nsides; i++) {
    side_t *s = &sides[i];
    fprintf(f,
            ",\"%s\":{\"requests_per_s\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,"
            "\"instantiate_us\":%.3f,\"free_us\":%.3f,\"faults_per_request\":%.2f,"
            "\"first_failed_request\":%llu",
            wrt_backend_name(s->backend), rps(s), quantile_us(s->lat_ns, s->n, 0.5),
            quantile_us(s->lat_ns, s->n, 0.99),
            mean_us(s->inst_ns, s->timed),
            mean_us(s->free_ns, s->timed),
            s->n ? (double)s->faults / (double)s->n : 0, (unsigned long long)s->first_bad);
    wpool_t *p = wrt_pool(s->rt);
    if (p) {
      wpool_stats_t st;
      wpool_stats_get(p, &st);
      fprintf(f,
              ",\"pool\":{\"instances_created\":%llu,\"affine_hits\":%llu,\"affine_misses\":%llu,"
              "\"warm_slots\":%llu,\"image_maps\":%llu,\"madvise_calls\":%llu,"
              "\"memset_bytes\":%llu}",
              (unsigned long long)st.instances_created, (unsigned long long)st.affine_hits,
              (unsigned long long)st.affine_misses, (unsigned long long)st.warm_slots,
              (unsigned long long)st.image_maps, (unsigned long long)st.madvise_calls,
              (unsigned long long)st.memset_bytes);
    }
    fputc('}', f);
  }
  if (nsides == 2 && rps(&sides[1]) > 0)
    fprintf(f, ",\"pool_over_stock\":%.3f", rps(&sides[0]) / rps(&sides[1]));
  wrt_module_info_t info;
  wrt_module_info(sides[0].m, &info);
  if (info.snapshot)
    fprintf(f, ",\"snapshot\":{\"start_pages\":%llu,\"image_bytes\":%llu,\"globals\":%u,"
               "\"from_cache\":%s}",
            (unsigned long long)info.start_pages, (unsigned long long)info.snapshot_bytes,
            info.snapshot_globals, info.snapshot_from_cache ? "true" : "false");
  fputs("}\n", f);
}

/* ------------------------------------------------------------------ */
/* Without a module: the embedded guests of examples/, pool against stock */

#define ND GUEST_NCASES
#define ROUNDS 5

static const wasm_guest_t *embedded(const char *name) {
  for (unsigned i = 0; i < wasm_nguests; i++)
    if (!strcmp(wasm_guests[i].name, name)) return &wasm_guests[i];
  return NULL;
}

/* Does `r` end as the reference `want` did (same exit, trap, output)? */
static bool same(const wrt_result_t *r, const wrt_result_t *want) {
  return r->trap == want->trap && r->exit_code == want->exit_code && r->out_len == want->out_len &&
         (!r->out_len || memcmp(r->out, want->out, r->out_len) == 0);
}

static int wasm_default(const wpool_config_t *cfg, uint64_t requests, bool json) {
  side_t sides[2][ND];
  memset(sides, 0, sizeof(sides));
  wrt_runtime_t *rts[2] = {NULL, NULL};
  wrt_result_t want[ND];
  memset(want, 0, sizeof(want));
  char *inputs[ND] = {0};
  size_t in_len[ND] = {0};
  int status = 0;
  uint64_t per_round = (requests + ROUNDS - 1) / ROUNDS;
  for (int k = 0; k < 2 && !status; k++) {
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = k ? WRT_BACKEND_STOCK : WRT_BACKEND_POOL;
    o.pool_config = cfg;
    if (wrt_create(&o, &rts[k])) {
      fprintf(stderr, "wpool wasm: %s runtime: %s\n", wrt_backend_name(o.backend),
              wrt_last_error());
      status = 2;
    }
  }
  for (size_t g = 0; g < ND && !status; g++) {
    inputs[g] = guest_input(guest_cases[g].input, &in_len[g]);
    const wasm_guest_t *e = embedded(guest_cases[g].name);
    char name[64];
    snprintf(name, sizeof(name), "%s.wasm (embedded)", guest_cases[g].name);
    for (int k = 0; k < 2 && !status; k++) {
      side_t *s = &sides[k][g];
      s->rt = rts[k];
      s->backend = wrt_backend(rts[k]);
      wrt_result_init(&s->last);
      s->lat_ns = calloc(round_max(per_round) * ROUNDS, sizeof(uint64_t));
      if (!e || !inputs[g] || !s->lat_ns) {
        fprintf(stderr, "wpool wasm: out of memory\n");
        status = 1;
      } else if (wrt_load_bytes(rts[k], name, e->bytes, e->len, &s->m)) {
        fprintf(stderr, "wpool wasm: %s\n", wrt_last_error());
        status = 2;
      }
    }
  }
  if (!status && !json)
    fprintf(stderr, "wpool wasm: %zu guests from examples/, at least %llu requests each on the "
                    "pool and on stock (and %llu ms a round), interleaved in %d rounds...\n",
            (size_t)ND, (unsigned long long)(per_round * ROUNDS),
            (unsigned long long)(ROUND_MIN_NS / 1000000), ROUNDS);
  uint64_t mismatches = 0;
  for (int round = 0; round < ROUNDS && !status; round++) {
    for (size_t g = 0; g < ND && !status; g++) {
      const char *gargv[] = {guest_cases[g].name, guest_cases[g].arg};
      wrt_request_t req = {.argv = gargv, .argc = guest_cases[g].arg ? 2 : 1,
                           .stdin_bytes = inputs[g], .stdin_len = in_len[g]};
      for (int kk = 0; kk < 2 && !status; kk++) {
        int k = (kk + round) % 2; /* alternate which runtime goes first */
        side_t *s = &sides[k][g];
        /* Until the side's round has lasted ROUND_MIN_NS (measure.h). */
        uint64_t start_ns = s->total_ns;
        for (uint64_t i = 0;
             round_goes_on(i, per_round, s->total_ns - start_ns, ROUND_MIN_NS) && !status; i++) {
          status = one(s, &req, s->n + 1);
          if (status) break;
          if (!want[g].out && !want[g].trap && s->n == 1 && k == 1) {
            /* The first stock request is the reference output. */
            wrt_result_t *w = &want[g];
            w->out = malloc(s->last.out_len ? s->last.out_len : 1);
            if (!w->out) status = 1;
            else memcpy(w->out, s->last.out, s->last.out_len);
            w->out_len = s->last.out_len;
            w->exit_code = s->last.exit_code;
            w->trap = s->last.trap;
          }
        }
      }
    }
  }
  /* Check outputs: run one more request on each runtime per guest and
   * compare with the reference (plus the secret scanner's exact line). */
  for (size_t g = 0; g < ND && !status; g++) {
    const char *gargv[] = {guest_cases[g].name, guest_cases[g].arg};
    wrt_request_t req = {.argv = gargv, .argc = guest_cases[g].arg ? 2 : 1,
                         .stdin_bytes = inputs[g], .stdin_len = in_len[g]};
    for (int k = 0; k < 2; k++) {
      wrt_result_t r;
      wrt_result_init(&r);
      if (wrt_run(sides[k][g].m, &req, &r) || !same(&r, &want[g]) ||
          !same(&sides[k][g].last, &want[g]))
        mismatches++;
      wrt_result_free(&r);
    }
    if (!strcmp(guest_cases[g].name, "secret") &&
        (want[g].out_len != 17 || memcmp(want[g].out, "secrets found: 0\n", 17) != 0))
      mismatches++;
  }
  if (!status) {
    double lg = 0;
    if (json) printf("{\"guests\":[");
    else
      printf("%-10s %12s %12s %10s %10s %10s %9s %9s\n", "guest", "pool req/s", "stock req/s",
             "pool/stock", "pool p50", "stock p50", "pool flt", "stock flt");
    for (size_t g = 0; g < ND; g++) {
      side_t *p = &sides[0][g], *q = &sides[1][g];
      qsort(p->lat_ns, p->n, sizeof(uint64_t), cmp_u64);
      qsort(q->lat_ns, q->n, sizeof(uint64_t), cmp_u64);
      double ratio = rps(q) > 0 ? rps(p) / rps(q) : 0;
      lg += ratio > 0 ? log(ratio) : 0;
      if (json)
        printf("%s{\"guest\":\"%s\",\"pool_requests_per_s\":%.1f,\"stock_requests_per_s\":%.1f,"
               "\"pool_over_stock\":%.3f,\"pool_p50_us\":%.2f,\"stock_p50_us\":%.2f,"
               "\"pool_faults\":%.2f,\"stock_faults\":%.2f}",
               g ? "," : "", guest_cases[g].name, rps(p), rps(q), ratio,
               quantile_us(p->lat_ns, p->n, 0.5), quantile_us(q->lat_ns, q->n, 0.5),
               (double)p->faults / (double)p->n, (double)q->faults / (double)q->n);
      else
        printf("%-10s %12.0f %12.0f %9.2fx %7.1f us %7.1f us %9.1f %9.1f\n", guest_cases[g].name,
               rps(p), rps(q), ratio, quantile_us(p->lat_ns, p->n, 0.5),
               quantile_us(q->lat_ns, q->n, 0.5), (double)p->faults / (double)p->n,
               (double)q->faults / (double)q->n);
    }
    double geo = exp(lg / (double)ND);
    if (json) {
      printf("],\"geomean_pool_over_stock\":%.3f,\"output_mismatches\":%llu}\n", geo,
             (unsigned long long)mismatches);
    } else {
      printf("geometric mean, pool / stock: %.2fx\n", geo);
      printf("outputs: %s; the secret scanner found %s\n",
             mismatches ? "DIFFER between runs or runtimes" : "identical on pool and stock",
             mismatches ? "(see above)" : "no earlier request's secret");
      printf("latency: per request (instantiate, run, free); flt: page faults per request\n");
    }
    if (mismatches) status = 1;
  }
  for (size_t g = 0; g < ND; g++) {
    free(inputs[g]);
    wrt_result_free(&want[g]);
    for (int k = 0; k < 2; k++) {
      wrt_result_free(&sides[k][g].last);
      free(sides[k][g].lat_ns);
    }
  }
  for (int k = 0; k < 2; k++)
    if (rts[k]) wrt_destroy(rts[k]);
  return status;
}

int wasm_main(int argc, char **argv) {
  uint64_t requests = 1, timeout_ns = 0;
  const char *stdin_path = NULL, *path = NULL, *init = NULL;
  bool compare = false, json = false;
  wrt_backend_t backend = WRT_BACKEND_POOL;
  wrt_resolve_t resolve = WRT_RESOLVE_AUTO;
  wpool_config_t cfg;
  wrt_config_init(&cfg);
  wasi_opts_t wo = {0};
  char err[256];
  int i = 0, taken;
  for (; i < argc; i++) {
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage, stdout);
      wasi_opts_free(&wo);
      return 0;
    } else if ((taken = wasi_opts_take(&wo, "wasm", argc, argv, &i)) != 0) {
      if (taken < 0) goto bad;
    } else if (!strcmp(a, "--requests")) {
      if (!next || !parse_count(next, 1000000000ull, &requests) || !requests) {
        fprintf(stderr, "wpool wasm: --requests needs a positive number, not %s\n",
                next ? next : "nothing");
        goto bad;
      }
      i++;
    } else if (!strcmp(a, "--stdin")) {
      if (!next) {
        fprintf(stderr, "wpool wasm: --stdin needs a file\n");
        goto bad;
      }
      stdin_path = next;
      i++;
    } else if (!strcmp(a, "--runtime")) {
      if (next && !strcmp(next, "pool")) backend = WRT_BACKEND_POOL;
      else if (next && !strcmp(next, "stock")) backend = WRT_BACKEND_STOCK;
      else {
        fprintf(stderr, "wpool wasm: --runtime is pool or stock, not %s\n", next ? next : "nothing");
        goto bad;
      }
      i++;
    } else if (!strcmp(a, "--resolve")) {
      if (next && !strcmp(next, "auto")) resolve = WRT_RESOLVE_AUTO;
      else if (next && !strcmp(next, "openat2")) resolve = WRT_RESOLVE_OPENAT2;
      else if (next && !strcmp(next, "walk")) resolve = WRT_RESOLVE_WALK;
      else {
        fprintf(stderr, "wpool wasm: --resolve is auto, openat2 or walk, not %s\n",
                next ? next : "nothing");
        goto bad;
      }
      i++;
    } else if (!strcmp(a, "--timeout")) {
      if (!next || !parse_duration(next, &timeout_ns)) {
        fprintf(stderr,
                "wpool wasm: --timeout needs a duration (10s, 500ms, 0 for none), not %s\n",
                next ? next : "nothing");
        goto bad;
      }
      i++;
    } else if (!strcmp(a, "--init")) {
      if (!next || !*next) {
        fprintf(stderr, "wpool wasm: --init needs a function's name\n");
        goto bad;
      }
      init = next;
      i++;
    } else if (!strcmp(a, "--no-init")) {
      init = "";
    } else if (!strcmp(a, "--compare")) {
      compare = true;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--config")) {
      if (!next || !config_set_pair(&cfg, next, err, sizeof(err))) {
        fprintf(stderr, "wpool wasm: %s\n", next ? err : "--config needs KEY=VALUE");
        goto bad;
      }
      i++;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "wpool wasm: unknown option '%s'\n%s", a, usage);
      goto bad;
    } else {
      path = a;
      i++;
      break;
    }
  }
  if (!path) {
    if (stdin_path || compare || backend != WRT_BACKEND_POOL || wo.envc || wo.ndirs ||
        resolve != WRT_RESOLVE_AUTO || timeout_ns || init) {
      fprintf(stderr, "wpool wasm: --stdin, --compare, --runtime, --env, --dir, --dir-ro, "
                      "--resolve, --timeout and --init need a module\n");
      goto bad;
    }
    return wasm_default(&cfg, requests > 1 ? requests : 500, json);
  }
  /* argv[0] of the guest: the module's file name without ".wasm". */
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  char name[256];
  snprintf(name, sizeof(name), "%s", base);
  size_t nl = strlen(name);
  if (nl > 5 && !strcmp(name + nl - 5, ".wasm")) name[nl - 5] = 0;
  uint32_t gargc = (uint32_t)(argc - i + 1);
  const char **gargv = calloc(gargc, sizeof(char *));
  if (!gargv) {
    fprintf(stderr, "wpool wasm: out of memory\n");
    wasi_opts_free(&wo);
    return 1;
  }
  gargv[0] = name;
  for (uint32_t k = 1; k < gargc; k++) gargv[k] = argv[i + k - 1];

  char *in = NULL;
  size_t in_len = 0;
  if (stdin_path && read_all(stdin_path, &in, &in_len) != 0) {
    fprintf(stderr, "wpool wasm: cannot read %s: %s\n", stdin_path, strerror(errno));
    free(gargv);
    wasi_opts_free(&wo);
    return 2;
  }
  side_t sides[2];
  memset(sides, 0, sizeof(sides));
  int nsides = compare ? 2 : 1;
  sides[0].backend = compare ? WRT_BACKEND_POOL : backend;
  sides[1].backend = WRT_BACKEND_STOCK;
  int status = 0;
  wrt_load_options_t lo;
  wrt_load_options_init(&lo);
  lo.name = path;
  lo.init = init;
  for (int k = 0; k < nsides && !status; k++) {
    side_t *s = &sides[k];
    wrt_result_init(&s->last);
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = s->backend;
    o.pool_config = &cfg;
    o.resolve = resolve;
    s->lat_ns = calloc(requests, sizeof(uint64_t));
    if (!s->lat_ns) {
      fprintf(stderr, "wpool wasm: out of memory\n");
      status = 1;
    } else if (wrt_create(&o, &s->rt) != 0) {
      fprintf(stderr, "wpool wasm: %s runtime: %s\n", wrt_backend_name(s->backend),
              wrt_last_error());
      status = 2;
    } else if (wrt_load_ex(s->rt, &lo, &s->m) != 0) {
      fprintf(stderr, "wpool wasm: %s\n", wrt_last_error());
      status = 2;
    }
  }
  wrt_request_t req = {.argv = gargv, .argc = gargc, .stdin_bytes = in, .stdin_len = in_len,
                       .envp = wo.envp, .envc = wo.envc, .dirs = wo.dirs, .ndirs = wo.ndirs,
                       .timeout_ns = timeout_ns};
  /* Interleaved: request r runs on each runtime before request r + 1, so
   * both see the same machine state over the run. */
  for (uint64_t r = 1; r <= requests && !status; r++)
    for (int k = 0; k < nsides && !status; k++) status = one(&sides[k], &req, r);
  if (!status) {
    const wrt_result_t *last = &sides[0].last;
    if (!json && last->out_len) fwrite(last->out, 1, last->out_len, stdout);
    if (last->err_len) fwrite(last->err, 1, last->err_len, stderr);
    for (int k = 0; k < nsides; k++) qsort(sides[k].lat_ns, sides[k].n, sizeof(uint64_t), cmp_u64);
    if (json) {
      summary_json(stdout, sides, nsides, path);
    } else {
      fflush(stdout);
      summary_text(stderr, sides, nsides, path);
    }
    for (int k = 0; k < nsides; k++) {
      side_t *s = &sides[k];
      if (!s->first_bad) continue;
      if (s->bad_trap)
        fprintf(stderr, "wpool wasm: request %llu (%s) trapped: %s\n",
                (unsigned long long)s->first_bad, wrt_backend_name(s->backend),
                wrt_trap_name(s->bad_trap));
      else
        fprintf(stderr, "wpool wasm: request %llu (%s) exited with %d\n",
                (unsigned long long)s->first_bad, wrt_backend_name(s->backend), s->bad_exit);
      /* The guest's own code, as `wasmtime run` gives it, when a shell can
       * see it; 1 for a trap and for codes outside 1..255. */
      status = !s->bad_trap && s->bad_exit >= 1 && s->bad_exit <= 255 ? s->bad_exit : 1;
      break;
    }
  }
  for (int k = 0; k < nsides; k++) {
    wrt_result_free(&sides[k].last);
    if (sides[k].rt) wrt_destroy(sides[k].rt);
    free(sides[k].lat_ns);
  }
  free(in);
  free(gargv);
  wasi_opts_free(&wo);
  return status;
bad:
  wasi_opts_free(&wo);
  return 2;
}
