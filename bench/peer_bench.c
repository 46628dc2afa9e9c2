/* The pool against its peers, per request, in one run: the example guests
 * (the main job's: tools/common/guests.c, with its inputs) on the pool
 * with the runtime's defaults, on the stock wasm2c runtime, and on Node's
 * V8 two ways (bench/v8_peer.mjs, a child process driven over a pipe):
 * a fresh instance per request, and one instance restored from its
 * post-instantiation snapshot per request. Plus instantiate + free alone
 * (no guest code) on each. Settings are interleaved in rounds, their order
 * rotating each round; each figure is the median over rounds: requests
 * per second (wall), CPU per request (the process's user + system time
 * over the round: V8's compiler and GC threads included, so a loaded
 * machine's stolen time is not), p50 latency. Every guest's stdout and
 * exit code must be the same on all four (else exit 1). One JSON object
 * per line: per setting, then per guest the ratios, then a summary with
 * the geometric means and the load average before and after.
 *
 * usage: peer_bench [--quick] [--rounds N] [--requests N] [--floor-requests N]
 *                   [--node PATH] [--script PATH] [--no-v8] [--large] EXAMPLES_DIR
 * --floor-requests: the requests a round of the per-request floor's rows
 * makes (hello, and instantiate + free alone), at least --requests;
 * 20,000 by default: 1,000 of them last about a millisecond on the pool,
 * where one preemption or one tick moves the round's rate by 10-30%. 
 * --large: the inputs of issue 22's table, a 20 KiB JSON document and 64
 * KiB of lines (sha256sum, compress, glob), for the main job's 9 KiB and
 * 36 KiB.
 * The node binary: --node, else $NODE, else `node` (Debian's nodejs); none
 * found, the V8 settings are left out (a line says so). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guests.h"
#include "measure.h"
#include "runtime.h"

#ifndef V8_PEER_SCRIPT
#define V8_PEER_SCRIPT "bench/v8_peer.mjs"
#endif

extern char **environ;

enum { S_POOL, S_STOCK, S_V8_FRESH, S_V8_RESTORE, NSET };
static const char *set_names[NSET] = {"pool", "stock", "v8-fresh", "v8-restore"};

#define NG GUEST_NREALISTIC
#define NROW (NG + 1) /* the last: instantiate + free alone (hello's module) */

typedef struct cell {
  double *rps, *cpu_ns, *p50_ns; /* per round */
} cell_t;

/* ---- the V8 peer: a child process, one JSON line each way --------------- */

typedef struct peer {
  pid_t pid;
  FILE *to, *from;
  char *line;
  size_t cap;
} peer_t;

static int peer_start(peer_t *p, const char *node, const char *script) {
  int in[2], out[2];
  if (pipe(in) || pipe(out)) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, in[1]);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  char *argv[] = {(char *)node, "--no-warnings", (char *)script, NULL};
  int err = posix_spawnp(&p->pid, node, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]), close(out[1]);
  if (err) {
    close(in[1]), close(out[0]);
    return -1;
  }
  p->to = fdopen(in[1], "w");
  p->from = fdopen(out[0], "r");
  p->line = NULL, p->cap = 0;
  return p->to && p->from ? 0 : -1;
}

/* Send one line, read the reply; NULL when the child is gone. */
static const char *peer_ask(peer_t *p, const char *msg) {
  if (fputs(msg, p->to) < 0 || fputc('\n', p->to) < 0 || fflush(p->to)) return NULL;
  if (getline(&p->line, &p->cap, p->from) < 0) return NULL;
  return p->line;
}

static void peer_stop(peer_t *p) {
  peer_ask(p, "{\"cmd\":\"quit\"}");
  fclose(p->to), fclose(p->from);
  int st;
  waitpid(p->pid, &st, 0);
  free(p->line);
}

/* The number after "key": in a reply; -1 when absent. */
static double reply_num(const char *line, const char *key) {
  char pat[64];
  snprintf(pat, sizeof(pat), "\"%s\":", key);
  const char *s = strstr(line, pat);
  return s ? strtod(s + strlen(pat), NULL) : -1;
}

static bool reply_ok(const char *line) { return line && strstr(line, "\"ok\":true"); }

/* Whether the reply's "out" (hex) holds exactly bytes[0, n). */
static bool reply_out_is(const char *line, const char *bytes, size_t n) {
  const char *s = strstr(line, "\"out\":\"");
  if (!s) return false;
  s += 7;
  for (size_t i = 0; i < n; i++, s += 2) {
    unsigned v;
    if (!s[0] || !s[1] || sscanf(s, "%2x", &v) != 1 || v != (unsigned char)bytes[i]) return false;
  }
  return *s == '"';
}

/* `s` as a JSON string's contents (quotes and backslashes escaped, control
 * bytes as \u00XX), into out[0, n). */
static void json_str(const char *s, char *out, size_t n) {
  size_t k = 0;
  for (; *s && k + 7 < n; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') out[k++] = '\\', out[k++] = (char)ch;
    else if (ch < 0x20) k += (size_t)snprintf(out + k, n - k, "\\u%04x", ch);
    else out[k++] = (char)ch;
  }
  out[k] = 0;
}

static char *hex(const char *b, size_t n) {
  char *h = malloc(2 * n + 1);
  for (size_t i = 0; h && i < n; i++) snprintf(h + 2 * i, 3, "%02x", (unsigned char)b[i]);
  if (h) h[2 * n] = 0;
  return h;
}

/* ---- the run ------------------------------------------------------------ */

static double cpu_now_ns(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return 1e9 * (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e3 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static void loadavg(double *l) {
  l[0] = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", l) != 1) l[0] = -1;
    fclose(f);
  }
}

static void noop(const uint8_t *mem, uint64_t len, void *arg) { (void)mem, (void)len, (void)arg; }

typedef struct guest_run {
  wrt_module_t *mod[2]; /* pool, stock */
  char *input;
  size_t in_len;
  char *out; /* the pool's stdout: what every other setting must print */
  size_t out_len;
  int32_t exit_code;
} guest_run_t;

/* The per-request floor's rows (--floor-requests): hello (row 0) and
 * instantiate + free alone (the last). */
static bool is_floor_row(size_t row) { return row == 0 || row == NG; }

static wrt_request_t request_of(const guest_run_t *g, size_t gi, const char **argv) {
  argv[0] = guest_cases[gi].name, argv[1] = guest_cases[gi].arg;
  return (wrt_request_t){.argv = argv, .argc = guest_cases[gi].arg ? 2 : 1,
                         .stdin_bytes = g->input, .stdin_len = g->in_len};
}

/* The latency's median is of one request in LAT_EVERY (the last of each
 * LAT_EVERY, not the round's first, cold one), here and in v8_peer.mjs:
 * two clock reads around every request were 5% of the pool's instantiate
 * + free, which the rate is not to count. A round of fewer than
 * 2 x LAT_EVERY requests times them all. */
#define LAT_EVERY 16

/* `n` requests of row `row` on runtime backend b (0 pool, 1 stock): the
 * round's figures into c[r]. */
static int run_native(guest_run_t *gs, size_t row, int b, int n, wrt_result_t *res, cell_t *c,
                      int r, uint64_t *lat) {
  size_t gi = row < NG ? row : 0;
  const char *argv[2];
  wrt_request_t req = request_of(&gs[gi], gi, argv);
  double cpu0 = cpu_now_ns();
  uint64_t t0 = now_ns();
  int k = 0;
  for (int i = 0; i < n; i++) {
    bool timed = n < 2 * LAT_EVERY || i % LAT_EVERY == LAT_EVERY - 1;
    uint64_t a = timed ? now_ns() : 0;
    int err = row < NG ? wrt_run(gs[gi].mod[b], &req, res) : wrt_inspect(gs[gi].mod[b], noop, NULL);
    if (timed) lat[k++] = now_ns() - a;
    if (err) return fprintf(stderr, "peer_bench: %s: %s\n", guest_cases[gi].name, wrt_last_error()), -1;
  }
  uint64_t dt = now_ns() - t0;
  c->cpu_ns[r] = (cpu_now_ns() - cpu0) / n;
  c->rps[r] = 1e9 * n / (double)dt;
  qsort(lat, (size_t)k, sizeof(*lat), cmp_u64);
  c->p50_ns[r] = (double)lat[k / 2];
  if (row < NG && (res->out_len != gs[gi].out_len || memcmp(res->out, gs[gi].out, res->out_len) ||
                   res->exit_code != gs[gi].exit_code)) {
    fprintf(stderr, "peer_bench: %s: the %s runtime's output differs from the pool's\n",
            guest_cases[gi].name, b ? "stock" : "pool");
    return -1;
  }
  return 0;
}

static int run_v8(peer_t *p, guest_run_t *gs, size_t row, int s, int n, cell_t *c, int r) {
  size_t gi = row < NG ? row : 0;
  char msg[256];
  snprintf(msg, sizeof(msg),
           "{\"cmd\":\"run\",\"guest\":\"%s\",\"variant\":\"%s\",\"requests\":%d,"
           "\"only_instantiate\":%s}",
           guest_cases[gi].name, set_names[s], n, row < NG ? "false" : "true");
  const char *rep = peer_ask(p, msg);
  if (!reply_ok(rep))
    return fprintf(stderr, "peer_bench: v8 peer: %s\n", rep ? rep : "gone"), -1;
  c->rps[r] = 1e9 * n / reply_num(rep, "ns");
  c->cpu_ns[r] = reply_num(rep, "cpu_ns") / n;
  c->p50_ns[r] = reply_num(rep, "p50_ns");
  if (row < NG && (!strstr(rep, "\"same\":true") || !reply_out_is(rep, gs[gi].out, gs[gi].out_len) ||
                   (int32_t)reply_num(rep, "exit") != gs[gi].exit_code)) {
    fprintf(stderr, "peer_bench: %s: %s's output differs from the pool's\n", guest_cases[gi].name,
            set_names[s]);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  int rounds = 5, requests = 1000, floor_requests = 20000;
  bool v8 = true, large = false;
  const char *dir = NULL, *node = getenv("NODE"), *script = V8_PEER_SCRIPT;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) rounds = 2, requests = 5, floor_requests = 5;
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--requests") && i + 1 < argc) requests = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--floor-requests") && i + 1 < argc)
      floor_requests = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--node") && i + 1 < argc) node = argv[++i];
    else if (!strcmp(argv[i], "--script") && i + 1 < argc) script = argv[++i];
    else if (!strcmp(argv[i], "--no-v8")) v8 = false;
    else if (!strcmp(argv[i], "--large")) large = true;
    else dir = argv[i];
  }
  if (!dir) dir = getenv("WPOOL_EXAMPLES");
  if (!dir || rounds < 1 || requests < 1) {
    fprintf(stderr, "usage: peer_bench [--quick] [--rounds N] [--requests N] "
                    "[--floor-requests N] [--node PATH] [--script PATH] [--no-v8] [--large] "
                    "EXAMPLES_DIR\n");
    return 2;
  }
  if (floor_requests < requests) floor_requests = requests;
  double load0[1], load1[1];
  loadavg(load0);
  signal(SIGPIPE, SIG_IGN);
  wrt_runtime_t *rt[2];
  for (int b = 0; b < 2; b++) {
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = b ? WRT_BACKEND_STOCK : WRT_BACKEND_POOL;
    if (wrt_create(&o, &rt[b])) return fprintf(stderr, "wrt_create: %s\n", wrt_last_error()), 1;
  }
  guest_run_t gs[NG];
  wrt_result_t res;
  wrt_result_init(&res);
  for (size_t g = 0; g < NG; g++) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.wasm", dir, guest_cases[g].name);
    for (int b = 0; b < 2; b++)
      if (wrt_load(rt[b], path, &gs[g].mod[b])) return fprintf(stderr, "%s\n", wrt_last_error()), 1;
    guest_input_t kind = guest_cases[g].input;
    size_t min_bytes = !large                    ? 0
                       : kind == GUEST_INPUT_JSON  ? 20 << 10
                       : kind == GUEST_INPUT_LINES ? 64 << 10
                                                   : 0;
    gs[g].input = guest_input_sized(kind, min_bytes, &gs[g].in_len);
    const char *a[2];
    wrt_request_t req = request_of(&gs[g], g, a);
    if (wrt_run(gs[g].mod[0], &req, &res) || res.trap)
      return fprintf(stderr, "peer_bench: %s fails on the pool\n", guest_cases[g].name), 1;
    gs[g].out = malloc(res.out_len + 1);
    memcpy(gs[g].out, res.out, res.out_len);
    gs[g].out_len = res.out_len;
    gs[g].exit_code = res.exit_code;
  }
  /* The V8 peer: each guest loaded (compiled, snapshot taken), then
   * warmed up (its hot functions tiered up to TurboFan). */
  peer_t peer;
  const char *node_bin = node && *node ? node : "node";
  if (v8 && peer_start(&peer, node_bin, script)) v8 = false;
  for (size_t g = 0; v8 && g < NG; g++) {
    char raw[1024], path[8192];
    snprintf(raw, sizeof(raw), "%s/%s.wasm", dir, guest_cases[g].name);
    json_str(raw, path, sizeof(path));
    char *h = hex(gs[g].input, gs[g].in_len), *msg = malloc(strlen(h) + 2048);
    sprintf(msg, "{\"cmd\":\"load\",\"guest\":\"%s\",\"path\":\"%s\",\"args\":[\"%s\"%s%s%s],\"stdin\":\"%s\"}",
            guest_cases[g].name, path, guest_cases[g].name, guest_cases[g].arg ? ",\"" : "",
            guest_cases[g].arg ? guest_cases[g].arg : "", guest_cases[g].arg ? "\"" : "", h);
    const char *rep = peer_ask(&peer, msg);
    free(h), free(msg);
    if (!reply_ok(rep)) {
      fprintf(stderr, "peer_bench: v8 peer (%s %s): %s\n", node_bin, script, rep ? rep : "did not answer");
      if (!rep) {
        v8 = false;
        break;
      }
      return 1;
    }
  }
  if (!v8)
    printf("{\"bench\":\"peer\",\"v8\":\"unavailable\",\"node\":\"%s\"}\n", node_bin);
  int nset = v8 ? NSET : S_V8_FRESH;
  static cell_t cells[NSET][NROW];
  for (int s = 0; s < NSET; s++)
    for (size_t g = 0; g < NROW; g++) {
      cells[s][g].rps = calloc((size_t)rounds, sizeof(double));
      cells[s][g].cpu_ns = calloc((size_t)rounds, sizeof(double));
      cells[s][g].p50_ns = calloc((size_t)rounds, sizeof(double));
    }
  uint64_t *lat = calloc((size_t)floor_requests, sizeof(uint64_t));
  /* Warm-up: a round's worth of each, not counted. */
  int warm = requests < 200 ? requests : 200;
  for (int s = 0; s < nset; s++)
    for (size_t g = 0; g < NROW; g++) {
      cell_t *c = &cells[s][g];
      int err = s >= S_V8_FRESH ? run_v8(&peer, gs, g, s, 2 * warm, c, 0)
                                : run_native(gs, g, s, warm, &res, c, 0, lat);
      if (err) return 1;
    }
  for (int r = 0; r < rounds; r++)
    for (int k = 0; k < nset; k++) {
      int s = (k + r) % nset;
      for (size_t g = 0; g < NROW; g++) {
        int n = is_floor_row(g) ? floor_requests : requests;
        int err = s >= S_V8_FRESH ? run_v8(&peer, gs, g, s, n, &cells[s][g], r)
                                  : run_native(gs, g, s, n, &res, &cells[s][g], r, lat);
        if (err) return 1;
      }
    }
  loadavg(load1);
  double lg[4] = {0};
  for (size_t g = 0; g < NROW; g++) {
    double rps[NSET] = {0}, cpu[NSET] = {0};
    const char *name = g < NG ? guest_cases[g].name : "instantiate+free";
    for (int s = 0; s < nset; s++) {
      cell_t *c = &cells[s][g];
      rps[s] = median_of(c->rps, rounds), cpu[s] = median_of(c->cpu_ns, rounds);
      double lo = c->rps[0], hi = c->rps[0];
      for (int r = 1; r < rounds; r++) lo = fmin(lo, c->rps[r]), hi = fmax(hi, c->rps[r]);
      if (!(lo <= rps[s] && rps[s] <= hi)) /* the summary's own check (peer_bench_quick) */
        return fprintf(stderr, "peer_bench: %s %s: median %.1f outside [%.1f, %.1f]\n", name,
                       set_names[s], rps[s], lo, hi), 1;
      printf("{\"bench\":\"peer\",\"guest\":\"%s\",\"setting\":\"%s\",\"rounds\":%d,"
             "\"requests_per_round\":%d,\"requests_per_s\":%.1f,\"rps_min\":%.1f,\"rps_max\":%.1f,"
             "\"cpu_us_per_request\":%.3f,\"p50_us\":%.3f}\n",
             name, set_names[s], rounds, is_floor_row(g) ? floor_requests : requests, rps[s], lo, hi,
             cpu[s] / 1000, median_of(c->p50_ns, rounds) / 1000);
    }
    printf("{\"bench\":\"peer\",\"guest\":\"%s\",\"input_bytes\":%zu,\"pool_vs_stock\":%.3f", name,
           g < NG ? gs[g].in_len : 0, rps[0] / rps[1]);
    if (v8)
      printf(",\"pool_vs_v8_fresh\":%.3f,\"pool_vs_v8_restore\":%.3f,"
             "\"cpu_pool_over_v8_restore\":%.3f,\"cpu_pool_over_v8_fresh\":%.3f",
             rps[0] / rps[2], rps[0] / rps[3], cpu[0] / cpu[3], cpu[0] / cpu[2]);
    printf(",\"cpu_pool_over_stock\":%.3f}\n", cpu[0] / cpu[1]);
    if (g < NG) {
      lg[0] += log(rps[0] / rps[1]);
      if (v8) lg[1] += log(rps[0] / rps[2]), lg[2] += log(rps[0] / rps[3]), lg[3] += log(cpu[0] / cpu[3]);
    }
  }
  printf("{\"bench\":\"peer\",\"summary\":true,\"guests\":%d,\"geomean_pool_vs_stock\":%.3f", NG,
         exp(lg[0] / NG));
  if (v8)
    printf(",\"geomean_pool_vs_v8_fresh\":%.3f,\"geomean_pool_vs_v8_restore\":%.3f,"
           "\"geomean_cpu_pool_over_v8_restore\":%.3f",
           exp(lg[1] / NG), exp(lg[2] / NG), exp(lg[3] / NG));
  printf(",\"loadavg_start\":%.2f,\"loadavg_end\":%.2f,\"ncpu\":%ld}\n", load0[0], load1[0],
         sysconf(_SC_NPROCESSORS_ONLN));
  if (v8) peer_stop(&peer);
  wrt_result_free(&res);
  for (int b = 0; b < 2; b++) wrt_destroy(rt[b]);
  for (size_t g = 0; g < NG; g++) free(gs[g].input), free(gs[g].out);
  for (int s = 0; s < NSET; s++)
    for (size_t g = 0; g < NROW; g++)
      free(cells[s][g].rps), free(cells[s][g].cpu_ns), free(cells[s][g].p50_ns);
  free(lat);
  return 0;
}
