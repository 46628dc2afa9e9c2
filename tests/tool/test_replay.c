/* `wpool replay`: answers, and exit status 2 with a message naming the line
 * for every kind of bad input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tool_run.h"

static tool_result_t r;
static const char *const replay[] = {"replay", NULL};

static void expect_error(const char *input, const char *out, const char *msg) {
  tool_run(&r, input, replay);
  cr_assert_eq(r.status, 2, "status %d for:\n%s", r.status, input);
  cr_assert_str_eq(r.out, out, "lines before the bad one are answered");
  cr_assert_not_null(strstr(r.err, msg), "stderr '%s' lacks '%s'", r.err, msg);
}

Test(replay, answers_one_line_per_operation_and_skips_comments) {
  tool_run(&r,
           "# a comment\n\nnew 3 1\nalloc 7\nalloc -\nfree 0\nalloc 7\nclear 7\nclear 7\n"
           "alloc 4294967295\nalloc 9\nalloc 9\n",
           replay);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_str_eq(r.out, "ok\n0\n1\nok\n0\nnone\nnone\n2\nnone\nnone\n");
}

Test(replay, clear_takes_a_warm_affine_slot) {
  tool_run(&r, "new 2 2\nalloc 5\nfree 0\nclear 5\nclear 5\nfree 0\nalloc 5\n", replay);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_str_eq(r.out, "ok\n0\nok\n0\nnone\nok\n1\n");
}

Test(replay, summary_reports_hit_rate_distinct_slots_and_peak_warm) {
  const char *const args[] = {"replay", "--summary", NULL};
  tool_run(&r, "new 4 4\nalloc 1\nalloc 2\nfree 0\nfree 1\nalloc 1\nalloc 3\n", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_not_null(strstr(r.out, "affine hit rate 0.250 (1 of 4 allocs with a module)"), "%s",
                     r.out);
  cr_assert_not_null(strstr(r.out, "3 distinct slots used"), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "peak 2 warm unused slots"), "%s", r.out);
}

static void expect_error_bytes(const char *input, size_t len, const char *out, const char *msg) {
  tool_run_bytes(&r, input, len, replay);
  cr_assert_eq(r.status, 2, "status %d", r.status);
  cr_assert_str_eq(r.out, out, "lines before the bad one are answered");
  cr_assert_not_null(strstr(r.err, msg), "stderr '%s' lacks '%s'", r.err, msg);
  cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
}
#define EXPECT_ERROR_BYTES(input, out, msg) expect_error_bytes(input, sizeof(input) - 1, out, msg)

Test(replay, a_line_with_a_nul_byte_is_an_error_naming_the_line) {
  EXPECT_ERROR_BYTES("new 4 1\nalloc 1\0junk\n", "ok\n", "<stdin>: line 2: a NUL byte at column 8");
  EXPECT_ERROR_BYTES("\0\1\2\377\n", "", "line 1: a NUL byte at column 1");
  EXPECT_ERROR_BYTES("new 4 1\n\0", "ok\n", "line 2: a NUL byte at column 1");
  EXPECT_ERROR_BYTES("new 4 1\nalloc 1\n# a comment \0 too\n", "ok\n0\n",
                     "line 3: a NUL byte at column 13");
  EXPECT_ERROR_BYTES("new 4 1\n   \0\n", "ok\n", "line 2: a NUL byte at column 4");
}

Test(replay, messages_quote_control_bytes_and_lines_have_a_bound) {
  EXPECT_ERROR_BYTES("new 2 0\n\1fr\377ob\r\n", "ok\n",
                     "line 2: unknown operation '\\x01fr\\xffob'");
  EXPECT_ERROR_BYTES("new 2 0\nalloc 1 \033[2J\n", "ok\n",
                     "line 2: unexpected '\\x1b[2J' after the operands");
  static char longline[70000];
  memset(longline, '#', sizeof(longline));
  memcpy(longline, "new 2 0\n", 8);
  expect_error_bytes(longline, sizeof(longline), "ok\n", "line 2: longer than 65535 bytes");
  /* A line of exactly the bound is fine. */
  memset(longline, ' ', 65535);
  memcpy(longline + 65535, "\nnew 2 0\n", 9);
  tool_run_bytes(&r, longline, 65535 + 9, replay);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_str_eq(r.out, "ok\n");
}

Test(replay, operation_before_new_is_an_error) {
  expect_error("# nothing yet\nalloc 1\n", "", "line 2: 'alloc 1' before the first 'new'");
}

Test(replay, malformed_lines_are_errors_naming_the_line) {
  expect_error("new 2 0\nalloc x\n", "ok\n", "line 2: alloc: expected a module number");
  expect_error("new 2 0\nalloc -1\n", "ok\n", "line 2: alloc: expected a module number");
  expect_error("new 2 0\nalloc 4294967296\n", "ok\n", "line 2: alloc: expected a module number");
  expect_error("new 2 0\nalloc\n", "ok\n", "line 2: alloc: expected a module number");
  expect_error("new 2 0\nclear -\n", "ok\n", "line 2: clear: expected a module number");
  expect_error("new 2 0\nfrob 1\n", "ok\n", "line 2: unknown operation 'frob'");
  expect_error("new 2 0\nalloc 1 2\n", "ok\n", "line 2: unexpected '2' after the operands");
  expect_error("new two 0\n", "", "line 1: new: expected a slot count");
  expect_error("new 2\n", "", "line 1: new: expected max_unused_warm_slots");
  expect_error("new 10000001 0\n", "", "line 1: new: expected a slot count from 0 to 10000000");
  expect_error("new 2 0\nfree\n", "ok\n", "line 2: free: expected a slot id");
}

Test(replay, free_of_a_slot_out_of_range_or_not_in_use_is_an_error) {
  expect_error("new 2 0\nfree 2\n", "ok\n", "line 2: free of slot 2, out of range (2 slots)");
  expect_error("new 2 0\nalloc 1\nfree 1\n", "ok\n0\n", "line 3: free of slot 1, which is not in use");
  expect_error("new 2 0\nalloc 1\nfree 0\nfree 0\n", "ok\n0\nok\n",
               "line 4: free of slot 0, which is not in use");
}

Test(replay, slot_counts_up_to_ten_million_are_valid) {
  tool_run(&r, "new 10000000 0\nalloc 1\n", replay);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_str_eq(r.out, "ok\n0\n");
}

Test(replay, unknown_options_and_commands_exit_2) {
  const char *const bad_opt[] = {"replay", "--frob", NULL};
  tool_run(&r, "", bad_opt);
  cr_assert_eq(r.status, 2);
  cr_assert_not_null(strstr(r.err, "unknown option '--frob'"));
  const char *const bad_cmd[] = {"frob", NULL};
  tool_run(&r, "", bad_cmd);
  cr_assert_eq(r.status, 2);
  cr_assert_not_null(strstr(r.err, "unknown command 'frob'"));
}

Test(replay, default_trace_prints_the_tour_and_a_summary) {
  const char *const args[] = {"replay", "--default", "--echo", "--summary", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_not_null(strstr(r.out, "alloc 30                 -> 0\n"), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "summary: "), "%s", r.out);
}

Test(demo, runs_instances_and_prints_stats, .timeout = 120) {
  const char *const args[] = {"demo", "2000", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_not_null(strstr(r.out, "0 instances saw a wrong byte"), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "instances: 0 live, 2000 created"), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "after releasing every module: 0 images live"), "%s", r.out);
}

Test(demo, bad_iteration_counts_exit_2) {
  const char *const args[] = {"demo", "-5", NULL};
  tool_run(&r, "", args);
  cr_assert_eq(r.status, 2);
  cr_assert_not_null(strstr(r.err, "ITERATIONS must be a positive number, not '-5'"), "%s", r.err);
}

Test(demo, iteration_counts_out_of_range_exit_2_at_once) {
  /* The old parser ignored strtoull's overflow and looped 2^64 - 1 times. */
  tool_run_seconds = 20;
  static const char *const counts[] = {"99999999999999999999999", "18446744073709551616",
                                       "18446744073709551615", "1000000000001", "0", "+5", " 5",
                                       "5x", ""};
  for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
    const char *const args[] = {"demo", counts[i], NULL};
    tool_run(&r, "", args);
    cr_assert_eq(r.status, 2, "'%s': status %d", counts[i], r.status);
    char want[96];
    snprintf(want, sizeof(want), "ITERATIONS must be a positive number, not '%s' (at most "
             "1000000000000)\n", counts[i]);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    cr_assert_not_null(strstr(r.err, want), "'%s' lacks '%s'", r.err, want);
  }
}

Test(replay, an_input_that_cannot_be_read_exits_2_naming_it) {
  const char *const dir[] = {"replay", "/", NULL};
  tool_run(&r, "", dir);
  cr_assert_eq(r.status, 2);
  cr_assert_str_eq(r.err, "wpool replay: /: a directory, not a trace\n");
  const char *const missing[] = {"replay", "/nonexistent/trace", NULL};
  tool_run(&r, "", missing);
  cr_assert_eq(r.status, 2);
  cr_assert_str_eq(r.err,
                   "wpool replay: cannot open /nonexistent/trace: No such file or directory\n");
}
