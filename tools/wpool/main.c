/* The `wpool` command-line tool (docs/cli.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "demo.h"
#include "matrix.h"
#include "options.h"
#include "plan.h"
#include "replay.h"
#include "run.h"
#include "status.h"
#include "svg.h"
#include "text.h"
#include "tune.h"
#if WPOOL_HAVE_RUNTIME
#include "wasm.h"
#endif
#if WPOOL_HAVE_SERVE
#include "serve.h"
#endif
#include "workload.h"
#include "wpool.h"

/* User text for a one-line message (text.h). */
#define QUOTE(str) (text_quote((str), strlen(str)).s)

static const char usage[] =
    "usage: wpool [COMMAND] [OPTIONS]\n"
    "\n"
    "With no command, runs `wasm` on the embedded guests (without the runtime:\n"
    "`run` on the embedded default workload).\n"
    "\n"
    "commands:\n"
    "  run [WORKLOAD] [--config KEY=VALUE]... [--threads N] [--instances N]\n"
    "      [--compare] [--json] [--plot FILE.svg] [--no-progress] [--duration S]\n"
    "      drive real instances through a real pool and report throughput, cycle\n"
    "      latency, affinity, slots and resident memory (docs/cli.md); --duration\n"
    "      soaks for S seconds and compares the first and last minute\n"
    "  tune [WORKLOAD] [--config KEY=VALUE]... [--instances N] [--rss-budget SIZE]\n"
    "      [--plot FILE.svg]\n"
    "      sweep max_unused_warm_slots, the keep budgets (auto, 0, 64 KiB,\n"
    "      1 MiB) and the reset strategy; mark the Pareto front; recommend a\n"
    "      setting for a budget\n"
    "  tune --matrix [--config KEY=VALUE]... [--instances N] [--min-time T]\n"
    "      [--rounds R] [--modules N]\n"
    "      the reset matrix: modules x max_unused_warm_slots x dirty pages x\n"
    "      pattern, the library's defaults against hand-set budgets, one JSON\n"
    "      line per run and per cell (docs/performance.md); each run N\n"
    "      instantiations (20,000) and at least T (1s unless N is given);\n"
    "      --modules N: only the cells of N modules\n"
    "  plan [--config KEY=VALUE]...\n"
    "      what a configuration reserves, its kernel mappings and committed memory\n"
    "      against this host's limits; exit 1 when it does not fit\n"
    "  wasm [--requests N] [--stdin FILE] [--runtime pool|stock] [--compare]\n"
    "       [--timeout DURATION] [--config KEY=VALUE]... [--json] [MODULE.wasm [ARGS...]]\n"
    "      run a WebAssembly command (WASI) N times, each request on a fresh\n"
    "      instance, on the pool or the stock wasm2c runtime or both; without a\n"
    "      module, the embedded guests of examples/ on both, with a table\n"
    "  serve [--listen ADDR:PORT] [--threads N] [--runtime pool|stock]\n"
    "        [--config KEY=VALUE]... [--max-body SIZE] [--timeout DURATION] [--log]\n"
    "        MODULE.wasm | DIR\n"
    "      an HTTP/1.1 server running a WebAssembly command per request (WAGI):\n"
    "      MODULE.wasm at /, or each DIR/NAME.wasm at /NAME; /metrics; stops on\n"
    "      SIGINT or SIGTERM after the requests in flight (docs/serve.md)\n"
    "  demo [ITERATIONS]\n"
    "      create a pool with the default configuration and 8 modules with data\n"
    "      images, instantiate, dirty and free in a loop (default 200000 times),\n"
    "      and print the pool's statistics\n"
    "  replay [--summary] [--echo] [--default] [FILE]\n"
    "      run a slot-policy trace (docs/replay.md) from FILE or standard input,\n"
    "      printing one answer per operation; --default uses the embedded tour\n"
    "  version   print the library version\n"
    "  help      this text\n"
    "\n"
    "exit status: 0 success; 1 the run could not complete (plan: does not fit);\n"
    "2 bad input: arguments, files, workload lines, configuration (docs/cli.md)\n"
    "\n"
    "config keys, for --config KEY=VALUE and a workload's config lines\n"
    "(docs/config.md; sizes take units: K/M/G/T are powers of 1024):\n";

/* The usage, then every config key the tool accepts, from options.c's
 * table (so that the list cannot drift from what --config takes). */
static int help(void) {
  fputs(usage, stdout);
  config_keys_print(stdout, "  ");
  return TOOL_OK;
}

static int cmd_replay(int argc, char **argv) {
  replay_opts_t opts = {.name = "<stdin>"};
  const char *path = NULL;
  int use_default = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--summary") == 0) {
      opts.summary = true;
    } else if (strcmp(argv[i], "--echo") == 0) {
      opts.echo = true;
    } else if (strcmp(argv[i], "--default") == 0) {
      use_default = 1;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      return help();
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      fprintf(stderr, "wpool replay: unknown option '%s' (see wpool help)\n",
              QUOTE(argv[i]));
      return TOOL_BAD_INPUT;
    } else if (path || use_default) {
      fprintf(stderr, "wpool replay: more than one input given\n");
      return TOOL_BAD_INPUT;
    } else {
      path = argv[i];
    }
  }
  if (use_default && path) {
    fprintf(stderr, "wpool replay: more than one input given\n");
    return TOOL_BAD_INPUT;
  }
  FILE *in = stdin;
  if (use_default) {
    opts.name = "<default>";
    in = fmemopen((void *)replay_default_trace, strlen(replay_default_trace), "r");
  } else if (path && strcmp(path, "-") != 0) {
    opts.name = path;
    in = fopen(path, "r");
  }
  if (!in) {
    fprintf(stderr, "wpool replay: cannot open %s: %s\n", opts.name, strerror(errno));
    return TOOL_BAD_INPUT;
  }
  struct stat st;
  if (fstat(fileno(in), &st) == 0 && S_ISDIR(st.st_mode)) {
    fprintf(stderr, "wpool replay: %s: a directory, not a trace\n", opts.name);
    fclose(in);
    return TOOL_BAD_INPUT;
  }
  static char outbuf[1 << 16];
  setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
  int status = replay_run(in, stdout, &opts);
  if (in != stdin) fclose(in);
  fflush(stdout);
  return status;
}

static int cmd_demo(int argc, char **argv) {
  uint64_t n = 200000;
  if (argc > 1) {
    fprintf(stderr, "wpool demo: too many arguments (see wpool help)\n");
    return TOOL_BAD_INPUT;
  }
  if (argc == 1) {
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
      return help();
    }
    if (!parse_count(argv[0], DEMO_MAX_ITERATIONS, &n) || n == 0) {
      fprintf(stderr, "wpool demo: ITERATIONS must be a positive number, not '%s' (at most %llu)\n",
              QUOTE(argv[0]), (unsigned long long)DEMO_MAX_ITERATIONS);
      return TOOL_BAD_INPUT;
    }
  }
  return demo_run(stdout, n);
}

/* Options shared by run, tune and plan. */
typedef struct common {
  const char *cmd;
  const char *workload;
  wpool_config_t cfg;
  workload_t w;
  const char *plot;
  bool json, compare, progress, matrix;
  uint64_t threads, instances, rss_budget, duration, rounds, modules, min_time_ns;
  bool has_min_time;
  bool has_budget;
  const char *overrides[64]; /* --config KEY=VALUE, pointers into argv */
  int noverrides;
} common_t;

/* Report a one-line problem; return `status`. */
static int fail(const char *cmd, int status, const char *msg, const char *arg) {
  fprintf(stderr, "wpool %s: %s%s%s\n", cmd, msg, arg ? " " : "", arg ? arg : "");
  return status;
}

static int bad(const char *cmd, const char *msg, const char *arg) {
  return fail(cmd, TOOL_BAD_INPUT, msg, arg);
}

/* Parse the arguments of run, tune and plan; return -1 to go on, else the
 * exit status. */
static int parse_common(common_t *c, int argc, char **argv, bool takes_workload) {
  char err[256];
  c->progress = true;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      return help();
    } else if (!strcmp(a, "--config")) {
      if (!next) return bad(c->cmd, "--config needs KEY=VALUE", NULL);
      if (c->noverrides == 64) return bad(c->cmd, "too many --config options", NULL);
      if (!config_set_pair(&c->cfg, next, err, sizeof(err))) return bad(c->cmd, err, NULL);
      c->overrides[c->noverrides++] = next;
      i++;
    } else if (!strcmp(a, "--threads") && takes_workload) {
      if (!next || !parse_count(next, 64, &c->threads) || !c->threads)
        return bad(c->cmd, "--threads needs a number from 1 to 64, not", next ? QUOTE(next) : "nothing");
      i++;
    } else if (!strcmp(a, "--instances") && takes_workload) {
      if (!next || !parse_count(next, 1000000000000ull, &c->instances) || !c->instances)
        return bad(c->cmd, "--instances needs a number from 1 to 1000000000000, not", next ? QUOTE(next) : "nothing");
      i++;
    } else if (!strcmp(a, "--matrix") && !strcmp(c->cmd, "tune")) {
      c->matrix = true;
    } else if (!strcmp(a, "--rounds") && !strcmp(c->cmd, "tune")) {
      if (!next || !parse_count(next, 100, &c->rounds) || !c->rounds)
        return bad(c->cmd, "--rounds needs a number from 1 to 100, not", next ? QUOTE(next) : "nothing");
      i++;
    } else if (!strcmp(a, "--min-time") && !strcmp(c->cmd, "tune")) {
      if (!next || !parse_duration(next, &c->min_time_ns) || c->min_time_ns > 3600000000000ull)
        return bad(c->cmd, "--min-time needs a duration from 0 to 1h (500ms, 2s), not",
                   next ? QUOTE(next) : "nothing");
      c->has_min_time = true;
      i++;
    } else if (!strcmp(a, "--modules") && !strcmp(c->cmd, "tune")) {
      if (!next || !parse_count(next, 1000000, &c->modules) || !c->modules)
        return bad(c->cmd, "--modules needs a number from 1 to 1000000, not", next ? QUOTE(next) : "nothing");
      i++;
    } else if (!strcmp(a, "--rss-budget") && !strcmp(c->cmd, "tune")) {
      if (!next || !parse_size(next, &c->rss_budget))
        return bad(c->cmd, "--rss-budget needs a size such as 2GiB, not", next ? QUOTE(next) : "nothing");
      c->has_budget = true;
      i++;
    } else if (!strcmp(a, "--plot") && takes_workload) {
      if (!next) return bad(c->cmd, "--plot needs a file name", NULL);
      /* Refuse an unwritable plot before the run, not after it. */
      if (!svg_writable(next, err, sizeof(err))) return bad(c->cmd, "--plot:", err);
      c->plot = next;
      i++;
    } else if (!strcmp(a, "--duration") && !strcmp(c->cmd, "run")) {
      if (!next || !parse_count(next, 86400 * 7, &c->duration) || !c->duration)
        return bad(c->cmd, "--duration needs seconds from 1 to 604800, not", next ? QUOTE(next) : "nothing");
      i++;
    } else if (!strcmp(a, "--json") && !strcmp(c->cmd, "run")) {
      c->json = true;
    } else if (!strcmp(a, "--compare") && !strcmp(c->cmd, "run")) {
      c->compare = true;
    } else if (!strcmp(a, "--no-progress") && takes_workload) {
      c->progress = false;
    } else if (a[0] == '-' && a[1]) {
      return bad(c->cmd, "unknown option", QUOTE(a));
    } else if (takes_workload && !c->workload) {
      c->workload = a;
    } else {
      return bad(c->cmd, "unexpected argument", QUOTE(a));
    }
  }
  return -1;
}

/* Does the workload fit the configuration? Its modules have one memory of
 * memory_pages, one table of table_elements and state bytes of state. A
 * misfit is bad input (exit 2), found before any pool is made. */
static int check_fit(const common_t *c) {
  const workload_t *w = &c->w;
  const wpool_config_t *cfg = &c->cfg;
  char msg[256];
  if (cfg->instance_memories < 1 || cfg->instance_tables < 1)
    snprintf(msg, sizeof(msg), "the workload's modules have a memory and a table; "
             "instance_memories is %u and instance_tables %u",
             cfg->instance_memories, cfg->instance_tables);
  else if (cfg->instance_memory_pages < w->memory_pages)
    snprintf(msg, sizeof(msg),
             "the workload's memory_pages (%llu) exceed instance_memory_pages (%llu)",
             (unsigned long long)w->memory_pages,
             (unsigned long long)cfg->instance_memory_pages);
  else if (cfg->instance_table_elements < w->table_elements)
    snprintf(msg, sizeof(msg),
             "the workload's table_elements (%u) exceed instance_table_elements (%u)",
             w->table_elements, cfg->instance_table_elements);
  else if (cfg->instance_size < w->state_bytes)
    snprintf(msg, sizeof(msg), "the workload's state (%llu bytes) exceeds instance_size (%zu bytes)",
             (unsigned long long)w->state_bytes, cfg->instance_size);
  else
    return -1;
  return bad(c->cmd, msg, NULL);
}

/* Load the workload and build the config: defaults, then the workload's
 * config lines, then --config (the command line wins). */
static int load_common(common_t *c) {
  char err[320];
  workload_defaults(&c->w);
  int st;
  if (c->workload) {
    st = workload_load(&c->w, c->workload, err, sizeof(err));
  } else {
    st = workload_parse(&c->w, workload_default_text, strlen(workload_default_text), err,
                        sizeof(err));
    snprintf(c->w.name, sizeof(c->w.name), "default workload");
  }
  if (st != TOOL_OK) return fail(c->cmd, st, err, NULL);
  wpool_config_init(&c->cfg);
  if (!workload_apply_config(&c->w, &c->cfg, err, sizeof(err))) return bad(c->cmd, err, NULL);
  for (int i = 0; i < c->noverrides; i++)
    if (!config_set_pair(&c->cfg, c->overrides[i], err, sizeof(err))) return bad(c->cmd, err, NULL);
  if (c->threads) c->w.threads = (uint32_t)c->threads;
  return check_fit(c);
}

/* A fresh common_t for `cmd`; NULL (reported) when out of memory. */
static common_t *new_common(const char *cmd) {
  common_t *c = calloc(1, sizeof(*c));
  if (!c) {
    fprintf(stderr, "wpool %s: out of memory\n", cmd);
    return NULL;
  }
  c->cmd = cmd;
  wpool_config_init(&c->cfg);
  return c;
}

static int cmd_run(int argc, char **argv) {
  common_t *c = new_common("run");
  if (!c) return TOOL_FAILED;
  int st = parse_common(c, argc, argv, true);
  if (st < 0) st = load_common(c);
  if (st >= 0) {
    workload_free(&c->w);
    free(c);
    return st;
  }
  char err[256];
  run_report_t *r[2] = {calloc(1, sizeof(run_report_t)), calloc(1, sizeof(run_report_t))};
  if (!r[0] || !r[1]) {
    free(r[0]);
    free(r[1]);
    workload_free(&c->w);
    free(c);
    return fail("run", TOOL_FAILED, "out of memory", NULL);
  }
  run_opts_t o = {.allocator = RUN_WPOOL, .instances = c->instances,
                  .progress = c->progress && !c->json, .duration_s = (double)c->duration,
                  .sample_ms = c->duration >= 600 ? 1000 : 0};
  int status = run_workload(&c->cfg, &c->w, &o, r[0], err, sizeof(err));
  if (status != TOOL_OK) fprintf(stderr, "wpool run: %s\n", err);
  int n = 1;
  if (!status && c->compare) {
    o.allocator = RUN_ONDEMAND;
    status = run_workload(&c->cfg, &c->w, &o, r[1], err, sizeof(err));
    if (status != TOOL_OK) fprintf(stderr, "wpool run: on-demand baseline: %s\n", err);
    n = 2;
  }
  if (!status) {
    const run_report_t *const rs[2] = {r[0], r[1]};
    if (c->json)
      report_json(stdout, rs, n, &c->w, &c->cfg);
    else
      report_print(stdout, rs, n, &c->w);
    if (c->plot && !report_plot(c->plot, rs, n, &c->w)) {
      fprintf(stderr, "wpool run: cannot write %s\n", c->plot);
      status = TOOL_FAILED;
    }
    for (int i = 0; i < n; i++)
      if (rs[i]->wrong_bytes) status = TOOL_FAILED;
  }
  free(r[0]);
  free(r[1]);
  workload_free(&c->w);
  free(c);
  return status;
}

static int cmd_tune(int argc, char **argv) {
  common_t *c = new_common("tune");
  if (!c) return TOOL_FAILED;
  int st = parse_common(c, argc, argv, true);
  if (st < 0 && c->matrix) {
    if (c->workload) st = bad("tune", "--matrix makes its own workloads; no WORKLOAD", NULL);
    wpool_config_init(&c->cfg);
    for (int i = 0; st < 0 && i < c->noverrides; i++) {
      char err[256];
      config_set_pair(&c->cfg, c->overrides[i], err, sizeof(err));
    }
    /* Runs last at least a second unless a count or a time is given. */
    double min_s = c->has_min_time ? (double)c->min_time_ns / 1e9 : c->instances ? 0 : 1;
    matrix_opts_t mo = {.instances = c->instances, .rounds = c->rounds, .min_s = min_s,
                        .modules = (uint32_t)c->modules, .progress = c->progress};
    if (st < 0) st = matrix_run(&c->cfg, &mo, stdout);
    free(c);
    return st;
  }
  if (st < 0) st = load_common(c);
  if (st < 0) {
    tune_opts_t o = {.instances = c->instances, .has_budget = c->has_budget,
                     .rss_budget = c->rss_budget, .plot = c->plot,
                     .progress = c->progress};
    st = tune_run(&c->cfg, &c->w, &o, stdout);
  }
  workload_free(&c->w);
  free(c);
  return st;
}

static int cmd_plan(int argc, char **argv) {
  common_t *c = new_common("plan");
  if (!c) return TOOL_FAILED;
  int st = parse_common(c, argc, argv, false);
  if (st < 0) st = plan_run(&c->cfg, stdout);
  free(c);
  return st;
}

static int dispatch(int argc, char **argv) {
#if WPOOL_HAVE_RUNTIME
  /* The main job: real WebAssembly per request, pool against stock. */
  if (argc < 2) return wasm_main(0, NULL);
#else
  if (argc < 2) return cmd_run(0, NULL);
#endif
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "tune") == 0) return cmd_tune(argc - 2, argv + 2);
  if (strcmp(cmd, "plan") == 0) return cmd_plan(argc - 2, argv + 2);
#if WPOOL_HAVE_RUNTIME
  if (strcmp(cmd, "wasm") == 0) return wasm_main(argc - 2, argv + 2);
#endif
#if WPOOL_HAVE_SERVE
  if (strcmp(cmd, "serve") == 0) return serve_main(argc - 2, argv + 2);
#endif
  if (strcmp(cmd, "demo") == 0) return cmd_demo(argc - 2, argv + 2);
  if (strcmp(cmd, "replay") == 0) return cmd_replay(argc - 2, argv + 2);
  bool version = strcmp(cmd, "version") == 0;
  if (version || strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    if (argc > 2)
      return fail(version ? "version" : "help", TOOL_BAD_INPUT, "unexpected argument",
                  QUOTE(argv[2]));
    if (!version) return help();
    printf("wpool %s\n", wpool_version());
    return TOOL_OK;
  }
  fprintf(stderr, "wpool: unknown command '%s' (see wpool help)\n",
          QUOTE(cmd));
  return TOOL_BAD_INPUT;
}

int main(int argc, char **argv) {
  int status = dispatch(argc, argv);
  /* Output that did not reach its file (a full disk, a closed pipe) means
   * the command did not complete. */
  bool flushed = fflush(stdout) == 0;
  if (!flushed || ferror(stdout)) {
    fprintf(stderr, "wpool: cannot write standard output: %s\n",
            flushed ? "an earlier write failed" : strerror(errno));
    if (status == TOOL_OK) status = TOOL_FAILED;
  }
  return status;
}
