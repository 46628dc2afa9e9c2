/* The `wpool` tool's run, tune and plan commands on small inputs: the
 * output's shape, the exit codes, and one-line messages for bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tools/wpool/options.h"
#include "pool/config.h" /* config_validate: the layout's own figures */
#include "tool_run.h"

static tool_result_t r;

/* Write `len` bytes to a temporary workload file; return its path. */
static const char *workload_bytes(const char *text, size_t len) {
  static char path[64];
  snprintf(path, sizeof(path), "/tmp/wpool-test-%d-XXXXXX", (int)getpid());
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, text, len), (ssize_t)len);
  close(fd);
  return path;
}

static const char *workload_file(const char *text) { return workload_bytes(text, strlen(text)); }

static const char small[] =
    "# a small generated workload\n"
    "modules 5\nzipf 1.0\ninstances 400\nthreads 2\nconcurrency 4\ndirty_pages 2\n"
    "memory_pages 2\nimage 4KiB\ntable_elements 100\nstate 1KiB\n"
    "config instance_count=16\nconfig memory_reservation=1MiB\nconfig memory_guard_size=64KiB\n"
    "config instance_memory_pages=4\nconfig stack_count=0\n";

static void expect_in(const char *haystack, const char *needle) {
  cr_assert_not_null(strstr(haystack, needle), "'%s' not in:\n%s", needle, haystack);
}

Test(tool, run_reports_every_figure) {
  const char *path = workload_file(small);
  const char *const args[] = {"run", path, "--no-progress", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  const char *rows[] = {"instantiations per second", "cycle latency p50", "cycle latency p99",
                        "cycle latency p99.9", "affine hit rate", "distinct slots used",
                        "resident, peak", "resident, final", "memfds live",
                        "madvise calls per instance", "page faults per instance",
                        "instances that saw a stale byte                  0"};
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) expect_in(r.out, rows[i]);
  expect_in(r.out, "400 instantiations, 2 threads");
  unlink(path);
}

Test(tool, run_compares_with_the_on_demand_baseline_and_prints_json) {
  const char *path = workload_file(small);
  const char *const args[] = {"run", path, "--compare", "--json", "--threads", "1", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_eq(r.out[0], '{');
  expect_in(r.out, "\"allocator\":\"wpool\"");
  expect_in(r.out, "\"allocator\":\"ondemand\"");
  expect_in(r.out, "\"threads\":1");
  expect_in(r.out, "\"instances\":400");
  expect_in(r.out, "\"stale_byte_instances\":0");
  unlink(path);
}

/* The JSON report counts the frees' scans and proofs per instantiation:
 * the dirty-aware reset with a budget set walks each memory at every free
 * and proves nothing; the prefix reset walks none. */
Test(tool, run_json_counts_the_scans_and_proofs) {
  const char *path = workload_file(small);
  const char *const dirty[] = {"run", path, "--json", "--threads", "1", "--config",
                               "reset_strategy=dirty", "--config",
                               "linear_memory_keep_resident=1MiB", "--config",
                               "table_keep_resident=1MiB", NULL};
  tool_run(&r, "", dirty);
  cr_assert_eq(r.status, 0, "%s", r.err);
  expect_in(r.out, "\"scans_per_instance\":1.000,\"proved_per_instance\":0.000,");
  const char *const prefix[] = {"run", path, "--json", "--threads", "1", "--config",
                                "reset_strategy=prefix", NULL};
  tool_run(&r, "", prefix);
  cr_assert_eq(r.status, 0, "%s", r.err);
  expect_in(r.out, "\"scans_per_instance\":0.000,\"proved_per_instance\":0.000,");
  unlink(path);
}

Test(tool, run_writes_a_plot) {
  const char *path = workload_file(small);
  char svg[80];
  snprintf(svg, sizeof(svg), "/tmp/wpool-test-%d.svg", (int)getpid());
  const char *const args[] = {"run", path, "--no-progress", "--plot", svg, NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  FILE *f = fopen(svg, "r");
  cr_assert_not_null(f);
  char buf[512] = {0};
  cr_assert_gt(fread(buf, 1, sizeof(buf) - 1, f), 0);
  fclose(f);
  expect_in(buf, "<svg");
  expect_in(buf, "wpool run");
  unlink(svg);
  unlink(path);
}

Test(tool, run_replays_a_trace) {
  const char *path = workload_file("memory_pages 2\nimage 4KiB\ntable_elements 10\n"
                                   "config instance_count=4\nconfig memory_reservation=1MiB\n"
                                   "config memory_guard_size=64KiB\nconfig stack_count=0\n"
                                   "config instance_memory_pages=4\ntrace\n0 0 100 2\n10 1 5 1\n20 2 50 0\n30 0 10 3\n");
  const char *const args[] = {"run", path, "--no-progress", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  expect_in(r.out, "a trace of 4 instantiations, 3 modules");
  unlink(path);
}

Test(tool, config_overrides_accept_units_and_name_bad_values) {
  const char *path = workload_file(small);
  const char *const good[] = {"run", path, "--no-progress", "--config",
                              "linear_memory_keep_resident=8KiB", "--config",
                              "reset_strategy=prefix", NULL};
  tool_run(&r, "", good);
  cr_assert_eq(r.status, 0, "%s", r.err);
  const char *const bad_key[] = {"run", path, "--config", "frobs=1", NULL};
  tool_run(&r, "", bad_key);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "unknown config key 'frobs'");
  const char *const bad_val[] = {"run", path, "--config", "memory_reservation=4 GiB", NULL};
  tool_run(&r, "", bad_val);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "config memory_reservation: '4 GiB' is not a size");
  const char *const bad_cfg[] = {"run", path, "--config", "instance_count=0", NULL};
  tool_run(&r, "", bad_cfg);
  cr_assert_eq(r.status, 2, "a configuration wpool_create refuses is bad input");
  expect_in(r.err, "instance_count: must be at least 1");
  unlink(path);
}

Test(tool, malformed_workloads_exit_2_naming_the_line) {
  struct {
    const char *text, *msg;
  } cases[] = {
      {"modules 5\nfrob 3\n", "line 2: unknown key 'frob'"},
      {"modules zero\n", "line 1: bad value 'zero' for modules"},
      {"modules 5 6\n", "line 1: expected 'KEY VALUE' or 'trace'"},
      {"pattern sideways\n", "line 1: bad value 'sideways' for pattern"},
      {"config nope=1\n", "line 1: unknown config key 'nope'"},
      {"trace\n0 0 10 1\n5 1 x 1\n", "line 3: a trace line is TIME MODULE LIFETIME PAGES"},
      {"trace\n10 0 10 1\n5 1 1 1\n", "line 3: time 5 goes back"},
      {"trace\n0 0 1 1\n10 0 18446744073709551606 1\n",
       "line 3: time 10 + lifetime 18446744073709551606 is past 2^64 - 1"},
      {"trace\n", "a trace with no instantiations"},
      {"memory_pages 1\nimage 128KiB\n", "is larger than memory_pages"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *path = workload_file(cases[i].text);
    const char *const args[] = {"run", path, NULL};
    tool_run(&r, "", args);
    cr_assert_eq(r.status, 2, "case %zu: status %d", i, r.status);
    expect_in(r.err, cases[i].msg);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    unlink(path);
  }
  const char *const missing[] = {"run", "/nonexistent/workload", NULL};
  tool_run(&r, "", missing);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "cannot open /nonexistent/workload");
}

/* The message is one line: a single newline, at its end. */
static void expect_one_line(const char *msg) {
  cr_assert_eq(strchr(msg, '\n'), msg + strlen(msg) - 1, "one line: %s", msg);
}

Test(tool, nul_bytes_in_a_workload_exit_2_naming_the_line) {
  static const struct {
    const char *text;
    size_t len;
    const char *msg;
  } cases[] = {
#define C(text, msg) {text, sizeof(text) - 1, msg}
      C("\0frob\n", "line 1: a NUL byte at column 1"),
      C("modules 2\n\0frob 1\n", "line 2: a NUL byte at column 1"),
      C("modules 2\nzipf 1.0\n# a comment \0 here\n", "line 3: a NUL byte at column 13"),
      C("modules 2\0junk\n", "line 1: a NUL byte at column 10"),
      C("trace\n0 0 1 1\0\n", "line 2: a NUL byte at column 8"),
      C("modules 2\n\0", "line 2: a NUL byte at column 1"),
#undef C
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *path = workload_bytes(cases[i].text, cases[i].len);
    const char *const args[] = {"run", path, "--no-progress", "--instances", "10", NULL};
    tool_run(&r, "", args);
    cr_assert_eq(r.status, 2, "case %zu: status %d", i, r.status);
    expect_in(r.err, path);
    expect_in(r.err, cases[i].msg);
    expect_one_line(r.err);
    unlink(path);
  }
}

Test(tool, messages_quote_control_bytes_of_the_input) {
  const char *path = workload_file("mod\1ules 5\r\n");
  const char *const args[] = {"run", path, NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "line 1: unknown key 'mod\\x01ules'");
  expect_one_line(r.err);
  unlink(path);
  const char *const bad_val[] = {"plan", "--config", "instance_count=1\033[2J", NULL};
  tool_run(&r, "", bad_val);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "config instance_count: '1\\x1b[2J' is not a number");
  expect_one_line(r.err);
}

Test(tool, bad_options_exit_2) {
  const char *const cases[][4] = {
      {"run", "--threads", "0", NULL}, {"run", "--frob", NULL, NULL},
      {"tune", "--rss-budget", "lots", NULL}, {"plan", "--threads", "2", NULL},
      {"run", "a", "b", NULL}};
  const char *msgs[] = {"--threads needs a number from 1 to 64", "unknown option --frob",
                        "--rss-budget needs a size", "unknown option --threads",
                        "unexpected argument b"};
  for (int i = 0; i < 5; i++) {
    tool_run(&r, "", cases[i]);
    cr_assert_eq(r.status, 2, "case %d", i);
    expect_in(r.err, msgs[i]);
  }
  const char *const help[] = {"tune", "--help", NULL};
  tool_run(&r, "", help);
  cr_assert_eq(r.status, 0);
  expect_in(r.out, "usage: wpool");
}

Test(tool, tune_prints_the_table_front_and_recommendation, .timeout = 240) {
  const char *path = workload_file(small);
  char svg[80];
  snprintf(svg, sizeof(svg), "/tmp/wpool-tune-%d.svg", (int)getpid());
  const char *const args[] = {"tune", path, "--instances", "200", "--rss-budget", "64MiB",
                              "--plot", svg, "--no-progress", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  expect_in(r.out, "N      keep      reset");
  expect_in(r.out, "* on the Pareto front");
  expect_in(r.out, "recommended for a budget of 64 MiB: max_unused_warm_slots=");
  /* The recommendation quotes its own peak, not the budget. */
  const char *peak = strstr(r.out, "peak resident ");
  cr_assert_not_null(peak);
  cr_assert_null(strstr(strstr(r.out, "recommended"), "peak resident 64 MiB)"), "%s", r.out);
  int rows = 0;
  for (const char *p = r.out; (p = strstr(p, " us ")); p++) rows++;
  /* 4 N x (auto, 0, 64 KiB, 1 MiB dirty-aware, and 0, 64 KiB, 1 MiB prefix) */
  cr_assert_eq(rows, 28, "one row per setting:\n%s", r.out);
  expect_in(r.out, "auto");
  cr_assert_eq(access(svg, R_OK), 0);
  unlink(svg);
  unlink(path);
}

Test(tool, plan_reports_reservations_mappings_and_memory) {
  const char *const args[] = {"plan", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  expect_in(r.out, "nothing is reserved");
  expect_in(r.out, "memories");
  /* 1000 memory slots and 1000 stacks: 4004 with guard markers, 6003
   * with guard pages as mappings. */
  const char *total = strstr(r.out, "guard pages are MADV_GUARD_INSTALL markers")
                          ? "kernel mappings: at most 4004 (memories 4001: 4 per memory slot and "
                            "1; tables 1; state 1; stacks 1:"
                          : "kernel mappings: at most 6003 (memories 4001: 4 per memory slot and "
                            "1; tables 1; state 1; stacks 2000:";
  expect_in(r.out, total);
  expect_in(r.out, "vm.max_map_count is");
  expect_in(r.out, "memory committed at most");
  expect_in(r.out, "fits this host");
}

Test(tool, plan_says_plainly_when_a_config_does_not_fit) {
  const char *const maps[] = {"plan", "--config", "instance_count=20000", "--config",
                              "memory_reservation=1GiB", "--config", "memory_guard_size=64KiB",
                              NULL};
  tool_run(&r, "", maps);
  cr_assert_eq(r.status, 1, "%s", r.out);
  expect_in(r.out, "DOES NOT FIT: raise vm.max_map_count");
  expect_in(r.out, "does not fit this host");
  const char *const space[] = {"plan", "--config", "instance_count=100000", NULL};
  tool_run(&r, "", space);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "more than this host allows");
}

Test(tool, a_soak_runs_for_its_duration_and_compares_first_and_last) {
  const char *path = workload_file(small);
  const char *const args[] = {"run", path, "--no-progress", "--duration", "2", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  expect_in(r.out, "soak (wpool): first ");
  expect_in(r.out, " descriptors; last ");
  const char *const bad_duration[] = {"run", path, "--duration", "0", NULL};
  tool_run(&r, "", bad_duration);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "--duration needs seconds");
  unlink(path);
}

Test(tool, numbers_up_to_2_64_minus_1_are_read_exactly) {
  /* The largest 64-bit values are numbers; one more is out of range. */
  char text[512];
  snprintf(text, sizeof(text), "%sseed 18446744073709551615\n", small);
  const char *path = workload_file(text);
  const char *const args[] = {"run", path, "--no-progress", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  unlink(path);
  snprintf(text, sizeof(text), "%sseed 18446744073709551616\n", small);
  path = workload_file(text);
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "line 17: bad value '18446744073709551616' for seed");
  unlink(path);
}

/* A figure plan printed ("4 MiB", "46.3 MiB", "0 B") is within rounding of
 * `want` bytes: exact when printed without a decimal point, else within
 * 0.05 of its unit. */
static void expect_figure(const char *what, const char *num, const char *unit, double want) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double scale = 0;
  for (int i = 0; i < 7; i++)
    if (!strcmp(unit, units[i])) scale = (double)(1ull << (10 * i));
  cr_assert_gt(scale, 0, "%s: unit '%s'", what, unit);
  char *end;
  double v = strtod(num, &end);
  cr_assert(end != num && !*end, "%s: '%s' is not a number", what, num);
  double tol = strchr(num, '.') ? 0.05 * scale + 0.5 : 0.5;
  cr_assert(fabs(v * scale - want) <= tol, "%s: plan says %s %s, the layout %.0f bytes", what,
            num, unit, want);
}

/* The line of `out` that starts with `prefix`. */
static const char *line_of(const char *out, const char *prefix) {
  for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (!strncmp(p, prefix, strlen(prefix))) return p;
  cr_assert_fail("no line '%s' in:\n%s", prefix, out);
  return NULL;
}

/* One row of plan's pool table: slots, slot size and reservation. */
static void expect_row(const char *out, const char *label, uint64_t slots, uint64_t slot_size,
                       uint64_t reserved) {
  const char *line = line_of(out, label);
  unsigned long long n;
  char a[24], b[24], ua[8], ub[8];
  cr_assert_eq(sscanf(line + 16, "%llu %23s %7s %23s %7s", &n, a, ua, b, ub), 5, "%.80s", line);
  cr_assert_eq(n, slots, "%s slots", label);
  expect_figure(label, a, ua, (double)slot_size);
  expect_figure(label, b, ub, (double)reserved);
}

Test(tool, plan_prints_the_layouts_own_figures) {
  static const char *const configs[][12] = {
      {NULL},
      {"instance_count=4", "instance_size=1MiB", "stack_count=2", "async_stack_size=1MiB", NULL},
      {"instance_count=16", "memory_reservation=1MiB", "memory_guard_size=64KiB",
       "instance_memory_pages=4", "instance_tables=3", "instance_table_elements=1000",
       "stack_count=0", NULL},
      {"instance_count=100", "instance_memories=2", "guard_before_linear_memory=false",
       "instance_size=12345", "stack_count=7", "async_stack_size=100000",
       "memory_reservation=8MiB", "memory_guard_size=0", "instance_memory_pages=100", NULL},
      {"instance_count=3000", "instance_size=3GiB", "stack_count=5000",
       "async_stack_size=64KiB", "instance_table_elements=0", NULL},
  };
  for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
    wpool_config_t cfg;
    wpool_config_init(&cfg);
    const char *args[32] = {"plan"};
    int n = 1;
    char err[256];
    for (int i = 0; configs[c][i]; i++) {
      cr_assert(config_set_pair(&cfg, configs[c][i], err, sizeof(err)), "%s", err);
      args[n++] = "--config";
      args[n++] = configs[c][i];
    }
    args[n] = NULL;
    layout_t L;
    wpool_config_t checked;
    cr_assert_eq(config_validate(&cfg, &checked, &L), 0, "config %zu: %s", c, wpool_last_error());
    tool_run(&r, "", args);
    cr_assert(r.status == 0 || r.status == 1, "config %zu: status %d: %s", c, r.status, r.err);
    expect_row(r.out, "memories ", L.mem_slots, L.mem_slot_size, L.mem_pool_bytes);
    expect_row(r.out, "tables ", L.table_slots, L.table_slot_size, L.table_pool_bytes);
    expect_row(r.out, "instance state ", cfg.instance_count, L.state_slot_size,
               L.state_pool_bytes);
    expect_row(r.out, "stacks ", cfg.stack_count, L.stack_slot_size, L.stack_pool_bytes);

    char t[24], ut[8];
    const char *space = line_of(r.out, "address space: ");
    cr_assert_eq(sscanf(space, "address space: %23s %7s of the", t, ut), 2);
    expect_figure("address space", t, ut, (double)L.total_bytes);

    char all[24], mem[24], tab[24], st[24], stk[24];
    char ua[8], um[8], utab[8], ust[8], ustk[8];
    const char *commit = line_of(r.out, "memory committed at most: ");
    cr_assert_eq(sscanf(commit,
                        "memory committed at most: %23s %7s (memories %23s %7[^,], tables %23s "
                        "%7[^,], state %23s %7[^,], stacks %23s %7[^)])",
                        all, ua, mem, um, tab, utab, st, ust, stk, ustk),
                 10, "%.160s", commit);
    double want_mem = (double)L.mem_slots * (double)cfg.instance_memory_pages * WPOOL_PAGE_SIZE;
    double want_stk = (double)cfg.stack_count * (double)L.stack_usable;
    expect_figure("committed memories", mem, um, want_mem);
    expect_figure("committed tables", tab, utab, (double)L.table_pool_bytes);
    expect_figure("committed state", st, ust, (double)L.state_pool_bytes);
    expect_figure("committed stacks", stk, ustk, want_stk);
    expect_figure("committed", all, ua,
                  want_mem + (double)L.table_pool_bytes + (double)L.state_pool_bytes + want_stk);
  }
}

Test(tool, a_workload_is_anything_readable_but_a_directory_up_to_the_size_limit) {
  char dir[64];
  snprintf(dir, sizeof(dir), "/tmp/wpool-dir-%d-XXXXXX", (int)getpid());
  cr_assert_not_null(mkdtemp(dir));
  const char *const args[] = {"run", dir, "--no-progress", "--instances", "10", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 2, "status %d: %s", r.status, r.err);
  expect_in(r.err, ": a directory, not a workload file");
  expect_in(r.err, dir);
  expect_one_line(r.err);
  rmdir(dir);

  /* A character device reads as what it gives: /dev/null as an empty
   * workload (every key its default), as every Unix tool reads it ... */
  const char *const dev[] = {"run", "/dev/null", "--no-progress", "--instances", "10", NULL};
  tool_run(&r, "", dev);
  cr_assert_eq(r.status, 0, "status %d: %s", r.status, r.err);
  expect_in(r.out, "wpool run: null (100 modules");
  expect_in(r.out, "instances that saw a stale byte                  0");
  /* ... and /dev/zero up to the bound: refused once it has given more. */
  const char *const zero[] = {"run", "/dev/zero", "--no-progress", "--instances", "10", NULL};
  tool_run(&r, "", zero);
  cr_assert_eq(r.status, 2, "status %d: %s", r.status, r.err);
  expect_in(r.err, "/dev/zero: larger than a workload may be (268435456 bytes)");
  expect_one_line(r.err);

  /* A pipe (a FIFO here) is read to its end. */
  char fifo[64];
  snprintf(fifo, sizeof(fifo), "/tmp/wpool-fifo-%d", (int)getpid());
  unlink(fifo);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  pid_t writer = fork();
  cr_assert_geq(writer, 0);
  if (writer == 0) {
    FILE *f = fopen(fifo, "w");
    if (f) fputs(small, f);
    _exit(f && fclose(f) == 0 ? 0 : 1);
  }
  const char *const pipe_args[] = {"run", fifo, "--no-progress", NULL};
  tool_run(&r, "", pipe_args);
  int ws;
  cr_assert_eq(waitpid(writer, &ws, 0), writer);
  unlink(fifo);
  cr_assert_eq(r.status, 0, "status %d: %s", r.status, r.err);
  expect_in(r.out, "400 instantiations, 2 threads");

  /* A sparse file larger than the bound is refused before it is read. */
  const char *path = workload_file("");
  cr_assert_eq(truncate(path, (off_t)(300 << 20)), 0);
  const char *const big[] = {"run", path, "--no-progress", "--instances", "10", NULL};
  tool_run(&r, "", big);
  cr_assert_eq(r.status, 2, "status %d: %s", r.status, r.err);
  expect_in(r.err, ": larger than a workload may be (268435456 bytes)");
  expect_one_line(r.err);
  unlink(path);
}

/* docs/cli.md's rule: 2 for bad input (arguments, files, configurations,
 * workloads that do not fit the configuration), 1 for a run that could not
 * complete. */
static void expect_status(const char *const *args, int status, const char *msg) {
  tool_run(&r, "", args);
  cr_assert_eq(r.status, status, "%s %s: status %d, not %d: %s", args[0],
               args[1] ? args[1] : "", r.status, status, r.err);
  expect_in(r.err, msg);
  expect_one_line(r.err);
}

Test(tool, configurations_wpool_create_refuses_exit_2_from_every_command) {
  const char *path = workload_file(small);
  static const char *const cmds[] = {"run", "tune", "plan"};
  static const struct {
    const char *kv, *msg;
  } cfgs[] = {
      {"instance_count=0", "instance_count: must be at least 1"},
      {"memory_reservation=16TiB", "more than this host allows"},
      {"decommit_batch_size=65", "decommit_batch_size: 65 exceeds the maximum"},
      {"memory_reservation=64KiB", "memory_reservation: 65536 bytes is smaller"},
  };
  for (size_t c = 0; c < 3; c++)
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
      const char *const with_file[] = {cmds[c], path, "--no-progress", "--config", cfgs[i].kv,
                                       NULL};
      const char *const plan[] = {cmds[c], "--config", cfgs[i].kv, NULL};
      expect_status(c == 2 ? plan : with_file, 2, cfgs[i].msg);
    }
  unlink(path);
  /* The same from a workload's config line. */
  char text[512];
  snprintf(text, sizeof(text), "%sconfig instance_count=0\n", small);
  path = workload_file(text);
  const char *const args[] = {"run", path, NULL};
  expect_status(args, 2, "instance_count: must be at least 1");
  unlink(path);
  /* Metadata past the host's memory (issue 24's configuration: 2^32 - 1
   * memory slots of 64 bytes each, on any host with less than 256 GiB). */
  const char *const meta[] = {"plan", "--config", "instance_count=1", "--config",
                              "instance_memories=4294967295", "--config", "memory_reservation=0",
                              "--config", "memory_guard_size=4096", "--config",
                              "instance_memory_pages=0", NULL};
  if ((uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) < (256ull << 30))
    expect_status(meta, 2, "instance_memories: 4294967295 makes the pool's metadata");
}

Test(tool, a_workload_that_does_not_fit_the_configuration_exits_2) {
  static const struct {
    const char *line, *cfg, *msg;
  } cases[] = {
      {"state 2KiB\n", "instance_size=1KiB",
       "the workload's state (2048 bytes) exceeds instance_size (1024 bytes)"},
      {"table_elements 101\n", "instance_table_elements=100",
       "the workload's table_elements (101) exceed instance_table_elements (100)"},
      {"memory_pages 5\n", "instance_memory_pages=4",
       "the workload's memory_pages (5) exceed instance_memory_pages (4)"},
      {"", "instance_memories=0", "instance_memories is 0"},
      {"", "instance_tables=0", "instance_tables 0"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char text[512];
    snprintf(text, sizeof(text), "%s%s", small, cases[i].line);
    const char *path = workload_file(text);
    const char *const run[] = {"run", path, "--no-progress", "--config", cases[i].cfg, NULL};
    expect_status(run, 2, cases[i].msg);
    const char *const tune[] = {"tune", path, "--no-progress", "--config", cases[i].cfg, NULL};
    expect_status(tune, 2, cases[i].msg);
    unlink(path);
  }
}

Test(tool, a_run_that_cannot_complete_exits_1) {
  /* Each module's image is a memfd: 100 of them do not fit 32 descriptors. */
  char text[512];
  snprintf(text, sizeof(text), "%smodules 100\n", small);
  const char *path = workload_file(text);
  tool_run_max_fds = 32;
  const char *const run[] = {"run", path, "--no-progress", NULL};
  expect_status(run, 1, "wpool run: module ");
  const char *const tune[] = {"tune", path, "--no-progress", NULL};
  expect_status(tune, 1, "wpool tune: module ");
  tool_run_max_fds = 0;
  unlink(path);
}

Test(tool, help_and_docs_list_every_config_key_the_tool_accepts) {
  const char *const args[] = {"help", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0);
  const char *root = getenv("WPOOL_SOURCE_ROOT");
  cr_assert_not_null(root, "WPOOL_SOURCE_ROOT is not set (run under meson test)");
  char path[512];
  snprintf(path, sizeof(path), "%s/docs/cli.md", root);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s", path);
  static char doc[1 << 16];
  doc[fread(doc, 1, sizeof(doc) - 1, f)] = '\0';
  fclose(f);
  cr_assert_gt(config_key_count(), 19);
  for (size_t i = 0; i < config_key_count(); i++) {
    const char *key = config_key_name(i);
    char want[96];
    wpool_config_t cfg;
    wpool_config_init(&cfg);
    char err[256];
    snprintf(want, sizeof(want), "%s=0", key);
    cr_assert(config_set_pair(&cfg, want, err, sizeof(err)) ||
                  !strstr(err, "unknown config key"),
              "the table's key %s is not accepted", key);
    snprintf(want, sizeof(want), "\n  %s ", key); /* a line of the help's list */
    cr_assert_not_null(strstr(r.out, want), "wpool help does not list %s", key);
    snprintf(want, sizeof(want), "| `%s` |", key); /* a row of cli.md's table */
    cr_assert_not_null(strstr(doc, want), "docs/cli.md does not list %s", key);
  }
}

Test(tool, a_long_config_value_is_applied_whole) {
  /* run kept a 95-character copy of each --config and applied that after
   * the workload's lines: this one became 1 byte instead of 1 MiB. */
  const char *path = workload_file(small);
  char kv[160];
  snprintf(kv, sizeof(kv), "linear_memory_keep_resident=%076d1MiB", 0);
  const char *const args[] = {"run", path, "--json", "--threads", "1", "--config", kv, NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  expect_in(r.out, "\"linear_memory_keep_resident\":1048576,");
  unlink(path);
}

Test(tool, a_plot_that_cannot_be_written) {
  const char *path = workload_file(small);
  /* Refused before the run: bad input. */
  const char *const nodir[] = {"run", path, "--no-progress", "--plot", "/nonexistent/p.svg", NULL};
  expect_status(nodir, 2, "wpool run: --plot: cannot write /nonexistent/p.svg: No such file");
  const char *const dir[] = {"tune", path, "--no-progress", "--plot", "/tmp", NULL};
  expect_status(dir, 2, "wpool tune: --plot: cannot write /tmp: a directory");
  /* Writing fails after the run: the run could not complete. */
  const char *const full[] = {"run", path, "--no-progress", "--plot", "/dev/full", NULL};
  expect_status(full, 1, "wpool run: cannot write /dev/full");
  /* A link (another user's, in a shared directory) is not followed: the
   * file it points to stays as it was. */
  char target[80], link[80];
  snprintf(target, sizeof(target), "/tmp/wpool-test-target-%d", (int)getpid());
  snprintf(link, sizeof(link), "/tmp/wpool-test-link-%d.svg", (int)getpid());
  FILE *f = fopen(target, "w");
  cr_assert_not_null(f);
  fputs("precious\n", f);
  fclose(f);
  cr_assert_eq(symlink(target, link), 0);
  const char *const linked[] = {"run", path, "--no-progress", "--plot", link, NULL};
  expect_status(linked, 2, "a symbolic link");
  char buf[32] = {0};
  f = fopen(target, "r");
  cr_assert_not_null(f);
  cr_expect_gt(fread(buf, 1, sizeof(buf) - 1, f), 0);
  fclose(f);
  cr_expect_str_eq(buf, "precious\n");
  unlink(link);
  unlink(target);
  unlink(path);
}

Test(tool, every_argument_is_checked_and_quoted) {
  const char *const version[] = {"version", "x", NULL};
  expect_status(version, 2, "wpool version: unexpected argument x");
  const char *const help[] = {"help", "run", NULL};
  expect_status(help, 2, "wpool help: unexpected argument run");
  const char *const threads[] = {"run", "--threads", "\033[2J", NULL};
  expect_status(threads, 2, "wpool run: --threads needs a number from 1 to 64, not \\x1b[2J");
  const char *const instances[] = {"run", "--instances", "99999999999999999999999", NULL};
  expect_status(instances, 2, "--instances needs a number from 1 to 1000000000000, not 9999");
  const char *const option[] = {"plan", "--\001", NULL};
  expect_status(option, 2, "wpool plan: unknown option --\\x01");
  const char *const command[] = {"fr\tob", NULL};
  expect_status(command, 2, "wpool: unknown command 'fr\\x09ob'");
}

Test(tool, output_that_cannot_be_written_exits_1) {
  tool_run_stdout = "/dev/full";
  const char *const version[] = {"version", NULL};
  expect_status(version, 1, "wpool: cannot write standard output: ");
  const char *const plan[] = {"plan", NULL};
  expect_status(plan, 1, "wpool: cannot write standard output");
  const char *const replay[] = {"replay", "--default", NULL};
  expect_status(replay, 1, "wpool: cannot write standard output");
  /* A failure already reported keeps its status. */
  const char *const bad[] = {"plan", "--config", "instance_count=0", NULL};
  expect_status(bad, 2, "instance_count: must be at least 1");
  tool_run_stdout = NULL;
}

Test(tool, json_and_svg_escape_the_workload_name) {
  char path[96], svg[96];
  snprintf(path, sizeof(path), "/tmp/wpool-test-%d-a\"b<c&\\d", (int)getpid());
  snprintf(svg, sizeof(svg), "/tmp/wpool-test-%d.svg", (int)getpid());
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(small, f);
  fclose(f);
  const char *const args[] = {"run", path, "--json", "--threads", "1", "--plot", svg, NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  char want[128];
  snprintf(want, sizeof(want), "{\"workload\":\"wpool-test-%d-a\\\"b<c&\\\\d\",", (int)getpid());
  expect_in(r.out, want);
  f = fopen(svg, "r");
  cr_assert_not_null(f);
  static char buf[1 << 16];
  buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
  fclose(f);
  snprintf(want, sizeof(want), "wpool run: wpool-test-%d-a&quot;b&lt;c&amp;\\d</text>",
           (int)getpid());
  expect_in(buf, want);
  unlink(svg);
  unlink(path);
}

Test(tool, plan_never_prints_a_sum_that_wrapped) {
  /* 1000 stacks of 2^64 - 4096 bytes: either the configuration is refused
   * (exit 2, issue 11 item 4) or plan's committed figures saturate at 16
   * EiB; they must not wrap to a small number. */
  const char *const args[] = {"plan", "--config", "async_stack_size=18446744073709547520", NULL};
  tool_run(&r, "", args);
  if (r.status == 2) {
    expect_in(r.err, "async_stack_size");
    return;
  }
  const char *commit = line_of(r.out, "memory committed at most: ");
  char all[24], ua[8], stk[24], ustk[8];
  cr_assert_eq(sscanf(commit, "memory committed at most: %23s %7s (memories %*s %*[^,], tables "
                              "%*s %*[^,], state %*s %*[^,], stacks %23s %7[^)])",
                      all, ua, stk, ustk),
               4, "%.160s", commit);
  expect_figure("committed", all, ua, 18446744073709551615.0);
  expect_figure("committed stacks", stk, ustk, 18446744073709551615.0);
}

Test(tool, a_budget_of_0_is_a_budget, .timeout = 240) {
  /* --rss-budget 0 meant "no budget" and recommended any setting. */
  const char *path = workload_file(small);
  const char *const args[] = {"tune", path, "--instances", "40", "--rss-budget", "0",
                              "--no-progress", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  /* Only a setting that kept nothing resident may be recommended. */
  cr_assert(strstr(r.out, "no setting stays within 0 B; the smallest peak is ") ||
                strstr(r.out, "recommended for a budget of 0 B: "),
            "%s", r.out);
  const char *rec = strstr(r.out, "recommended");
  if (rec) expect_in(rec, "peak resident 0 B)");
  unlink(path);
}

/* The reset matrix's cells of one module count: issue 22's four cells of 5
 * modules (a memory of 5 pages), one JSON line per cell with the CPU
 * times; a count no cell has is refused before anything runs. */
Test(tool, tune_matrix_runs_the_cells_of_one_module_count) {
  const char *const args[] = {"tune", "--matrix", "--modules", "5", "--instances", "200",
                              "--rounds", "1", "--no-progress", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  int cells = 0;
  for (const char *p = r.out; (p = strstr(p, "\"bench\":\"reset_matrix_cell\"")); p++) cells++;
  cr_assert_eq(cells, 4, "%s", r.out);
  expect_in(r.out, "\"modules\":5,\"max_unused_warm_slots\":1000,\"dirty_pages\":48,"
                   "\"pattern\":\"near\",\"memory_pages\":5");
  expect_in(r.out, "\"cpu_ratio\":");
  expect_in(r.out, "{\"bench\":\"reset_matrix_summary\",\"cells\":4,");
  const char *const none[] = {"tune", "--matrix", "--modules", "7", NULL};
  tool_run(&r, "", none);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "no cell has 7 modules");
}

static void sort3(double *v) {
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (v[j] < v[i]) {
        double t = v[i];
        v[i] = v[j];
        v[j] = t;
      }
}

/* Where `s` is in `line` (up to its `end`), or NULL. */
static const char *in_line(const char *line, const char *end, const char *s) {
  const char *p = strstr(line, s);
  return p && p < end ? p : NULL;
}

/* The number after `key` in `line` (up to its end), or -1. */
static double num_after(const char *line, const char *end, const char *key) {
  const char *p = in_line(line, end, key);
  return p ? strtod(p + strlen(key), NULL) : -1;
}

/* A matrix run goes on past its instantiations until it has lasted
 * --min-time: the fast cells' runs were 0.1 s, short enough for a shared
 * machine's noise to decide a cell. A time that is no duration is refused. */
Test(tool, tune_matrix_runs_last_the_time_asked_for, .timeout = 120) {
  const char *const args[] = {"tune",     "--matrix", "--modules", "5",           "--instances",
                              "200",      "--rounds", "1",         "--min-time", "150ms",
                              "--no-progress", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  int runs = 0;
  for (const char *run = r.out; (run = strstr(run, "{\"bench\":\"reset_matrix\",")); run++) {
    const char *end = strchr(run, '\n');
    cr_assert(end);
    double secs = num_after(run, end, "\"seconds\":"), n = num_after(run, end, "\"instances\":");
    cr_expect(secs >= 0.15, "%.*s", (int)(end - run), run);
    cr_expect(n > 200, "%.*s", (int)(end - run), run);
    runs++;
  }
  cr_assert_eq(runs, 4 * 6, "%s", r.out);
  const char *const bad_time[] = {"tune", "--matrix", "--min-time", "soon", NULL};
  tool_run(&r, "", bad_time);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "--min-time needs a duration");
}

/* A cell's throughput ratio is the ratio of the medians over rounds, and
 * the paired one the median over rounds of the defaults' rate over the
 * best setting's in the same round, both computed again from the runs the
 * tool printed, in their rounds. Over 64 rounds is refused. */
Test(tool, tune_matrix_ratios_are_the_printed_runs_medians) {
  const char *const args[] = {"tune", "--matrix", "--modules", "5", "--instances", "300",
                              "--rounds", "3", "--no-progress", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  int checked = 0;
  for (const char *cell = r.out; (cell = strstr(cell, "{\"bench\":\"reset_matrix_cell\""));
       cell++) {
    const char *end = strchr(cell, '\n');
    cr_assert(end);
    char key[200], best[32];
    double warm = num_after(cell, end, "\"max_unused_warm_slots\":");
    bool spread = in_line(cell, end, "\"pattern\":\"spread\"");
    const char *b = in_line(cell, end, "\"best\":\"");
    cr_assert(b);
    b += strlen("\"best\":\"");
    snprintf(best, sizeof(best), "%.*s", (int)(strchr(b, '"') - b), b);
    /* This cell's runs, round by round. */
    double d[3] = {-1, -1, -1}, k[3] = {-1, -1, -1};
    snprintf(key, sizeof(key), "\"max_unused_warm_slots\":%.0f,\"dirty_pages\":48,\"pattern\":\"%s\"",
             warm, spread ? "spread" : "near");
    for (const char *run = r.out; (run = strstr(run, "{\"bench\":\"reset_matrix\",")); run++) {
      const char *rend = strchr(run, '\n');
      if (!in_line(run, rend, key)) continue;
      int round = (int)num_after(run, rend, "\"round\":");
      cr_assert(round >= 0 && round < 3);
      double rate = num_after(run, rend, "\"rate\":");
      char want[64];
      snprintf(want, sizeof(want), "\"setting\":\"%s\"", best);
      if (in_line(run, rend, "\"setting\":\"defaults\"")) d[round] = rate;
      if (in_line(run, rend, want)) k[round] = rate;
    }
    double q[3];
    for (int i = 0; i < 3; i++) {
      cr_assert(d[i] > 0 && k[i] > 0, "cell %.80s: round %d missing", cell, i);
      q[i] = d[i] / k[i];
    }
    sort3(q), sort3(d), sort3(k);
    double got = num_after(cell, end, "\"rate_ratio\":"),
           paired = num_after(cell, end, "\"rate_ratio_paired\":");
    cr_expect(got > d[1] / k[1] - 0.006 && got < d[1] / k[1] + 0.006,
              "cell %.*s: rate_ratio %.3f, the medians' %.3f", (int)(end - cell), cell, got,
              d[1] / k[1]);
    cr_expect(paired > q[1] - 0.006 && paired < q[1] + 0.006,
              "cell %.*s: rate_ratio_paired %.3f, the rounds' median %.3f", (int)(end - cell), cell,
              paired, q[1]);
    checked++;
  }
  cr_assert_eq(checked, 4, "%s", r.out);
  const char *const many[] = {"tune", "--matrix", "--rounds", "65", NULL};
  tool_run(&r, "", many);
  cr_assert_eq(r.status, 2);
  expect_in(r.err, "--rounds 65 is over 64");
}

Test(tool, durations_are_read_with_their_units) {
  static const struct {
    const char *text;
    uint64_t ns;
  } ok[] = {{"0", 0},           {"10", 10000000000ull}, {"10s", 10000000000ull},
            {"250ms", 250000000}, {"7us", 7000},        {"3ns", 3},
            {"2m", 120000000000ull}, {"1h", 3600000000000ull}};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    uint64_t ns = 1;
    cr_expect(parse_duration(ok[i].text, &ns), "%s", ok[i].text);
    cr_expect_eq(ns, ok[i].ns, "%s", ok[i].text);
  }
  static const char *const bad[] = {"", "s", "-1s", "1.5s", "10 s", "10S", "5parsecs",
                                    "18446744073709551615s", "99999999999999999999", "1ms2"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint64_t ns;
    cr_expect(!parse_duration(bad[i], &ns), "'%s' was accepted", bad[i]);
  }
}
