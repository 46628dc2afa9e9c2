/* Time limits (wrt_request_t.timeout_ns, issue 19): a guest past its
 * deadline ends with the trap `timeout`, whether it loops in its own code,
 * reads stdin for ever past its end, spends its time in host calls, or
 * sleeps in one (poll_oneoff);
 * requests within their limit are untouched; the limits of several
 * threads' requests are kept apart; `wpool wasm --timeout`. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"

extern char **environ;

#define MS 1000000ull

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *const stuck[] = {"loop", "stdin", "output", "sleep"};

/* Each way of never ending, on both backends: the trap `timeout` once the
 * limit has passed (not before), the instance and stack given back, the
 * runtime's counters. */
Test(timeout, a_guest_that_never_ends_is_stopped_at_its_limit, .timeout = 120) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = cfg(8);
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    wrt_module_t *m = load(rt, "misbehave");
    wrt_result_t r;
    wrt_result_init(&r);
    for (size_t i = 0; i < sizeof(stuck) / sizeof(stuck[0]); i++) {
      uint64_t t0 = now_ns();
      run(m, stuck[i], -1, 100 * MS, &r);
      uint64_t took = now_ns() - t0;
      cr_expect_eq(r.trap, WRT_TRAP_TIMEOUT, "%s on %s: trap %s", stuck[i],
                   wrt_backend_name(backends[b]), wrt_trap_name(r.trap));
      cr_expect_eq(r.exit_code, -1);
      cr_expect_geq(took, 100 * MS, "%s ended after %llu ns, before its limit", stuck[i],
                    (unsigned long long)took);
    }
    wrt_stats_t st;
    wrt_stats_get(rt, &st);
    cr_expect_eq(st.timeouts, 4);
    cr_expect_eq(st.traps, 4);
    cr_expect_eq(st.requests, 4);
    if (wrt_pool(rt)) {
      wpool_stats_t ps;
      wpool_stats_get(wrt_pool(rt), &ps);
      cr_expect_eq(ps.live_instances, 0);
      cr_expect_eq(ps.live_stacks, 0);
    }
    wrt_result_free(&r);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* Requests within their limit run as without one; the output of a
 * stopped guest is what it wrote before the limit. */
Test(timeout, requests_within_their_limit_are_untouched, .timeout = 120) {
  wpool_config_t c = cfg(8);
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  wrt_module_t *hello = load(rt, "hello");
  wrt_result_t r;
  wrt_result_init(&r);
  const char *argv[] = {"hello"};
  for (int i = 0; i < 2000; i++) {
    wrt_request_t req = {.argv = argv, .argc = 1, .timeout_ns = i % 2 ? 10000 * MS : 0};
    cr_assert_eq(wrt_run(hello, &req, &r), 0);
    cr_assert_eq(r.trap, WRT_TRAP_NONE);
    cr_assert_eq(r.out_len, strlen("hello, world\n"));
  }
  wrt_module_t *m = load(rt, "misbehave");
  run(m, "output", -1, 50 * MS, &r);
  cr_expect_eq(r.trap, WRT_TRAP_TIMEOUT);
  cr_expect_gt(r.out_len, 0);
  for (size_t i = 0; i < r.out_len; i++) cr_assert_eq(r.out[i], 'x');
  wrt_stats_t st;
  wrt_stats_get(rt, &st);
  cr_expect_eq(st.timeouts, 1);
  wrt_result_free(&r);
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* A deadline earlier than the one the watchdog sleeps towards wakes it: a
 * 10 s limit first (the watchdog plans to wake in 10 s), then a looping
 * guest with 200 ms, which must end long before the 10 s. */
Test(timeout, an_earlier_deadline_wakes_the_watchdog, .timeout = 60) {
  wpool_config_t c = cfg(8);
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, &c);
  wrt_module_t *m = load(rt, "misbehave");
  wrt_result_t r;
  wrt_result_init(&r);
  run(m, "small", 10, 10000 * MS, &r);
  cr_expect_eq(r.trap, WRT_TRAP_NONE);
  uint64_t t0 = now_ns();
  run(m, "loop", -1, 200 * MS, &r);
  uint64_t took = now_ns() - t0;
  cr_expect_eq(r.trap, WRT_TRAP_TIMEOUT);
  cr_expect_lt(took, 5000 * MS, "stopped after %llu ms", (unsigned long long)(took / MS));
  wrt_result_free(&r);
  cr_expect_eq(wrt_destroy(rt), 0);
}

typedef struct worker {
  wrt_module_t *loop, *hello;
  int timeouts, answers;
} worker_t;

/* Looping guests with short limits between hello requests without any. */
static void *worker_main(void *arg) {
  worker_t *w = arg;
  wrt_result_t r;
  wrt_result_init(&r);
  const char *argv[] = {"misbehave", "loop"}, *hargv[] = {"hello"};
  for (int i = 0; i < 5; i++) {
    wrt_request_t req = {.argv = argv, .argc = 2, .timeout_ns = (20 + 10 * (uint64_t)i) * MS};
    if (wrt_run(w->loop, &req, &r) == 0 && r.trap == WRT_TRAP_TIMEOUT) w->timeouts++;
    wrt_request_t hreq = {.argv = hargv, .argc = 1};
    if (wrt_run(w->hello, &hreq, &r) == 0 && r.trap == WRT_TRAP_NONE &&
        r.out_len == strlen("hello, world\n"))
      w->answers++;
  }
  wrt_result_free(&r);
  return NULL;
}

/* Four threads at once: each thread's loops stop at their limits, and the
 * signal meant for one never stops another's request. */
Test(timeout, threads_keep_their_own_limits, .timeout = 120) {
  for (size_t b = 0; b < 2; b++) {
    wpool_config_t c = cfg(8);
    wrt_runtime_t *rt = make_rt(backends[b], &c);
    worker_t w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
      w[i] = (worker_t){.loop = load(rt, "misbehave"), .hello = load(rt, "hello")};
      cr_assert_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
      pthread_join(t[i], NULL);
      cr_expect_eq(w[i].timeouts, 5, "%s: thread %d: %d timeouts",
                   wrt_backend_name(backends[b]), i, w[i].timeouts);
      cr_expect_eq(w[i].answers, 5, "%s: thread %d: %d answers", wrt_backend_name(backends[b]),
                   i, w[i].answers);
    }
    cr_expect_eq(wrt_destroy(rt), 0);
  }
}

/* `wpool wasm --timeout`: the limit of each request; a guest past it is
 * reported as trapped with `timeout` (exit status 1); bad durations exit
 * 2. */
static int tool(const char *const *args, char *err, size_t errlen) {
  const char *exe = getenv("WPOOL_TOOL");
  cr_assert(exe, "WPOOL_TOOL is not set");
  const char *argv[16] = {"wpool"};
  int n = 1;
  while (*args && n < 15) argv[n++] = *args++;
  char e[] = "/tmp/wrt-timeout-err-XXXXXX";
  int fe = mkstemp(e);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fe, 2);
  pid_t pid;
  cr_assert_eq(posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  ssize_t got = pread(fe, err, errlen - 1, 0);
  err[got > 0 ? got : 0] = 0;
  close(fe);
  unlink(e);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(timeout, wpool_wasm_takes_a_time_limit, .timeout = 60) {
  char err[8192];
  const char *path = guest("misbehave");
  const char *const loop[] = {"wasm", "--timeout", "200ms", path, "loop", NULL};
  cr_expect_eq(tool(loop, err, sizeof(err)), 1, "%s", err);
  cr_expect(strstr(err, "trapped: timeout"), "%s", err);
  const char *const fine[] = {"wasm", "--timeout", "10s", "--requests", "20", path, "small",
                              "10", NULL};
  cr_expect_eq(tool(fine, err, sizeof(err)), 0, "%s", err);
  const char *const bad[][6] = {{"wasm", "--timeout", "ten", path, "loop", NULL},
                                {"wasm", "--timeout", "5parsecs", path, "loop", NULL},
                                {"wasm", "--timeout", "99999999999999999999s", path, NULL},
                                {"wasm", "--timeout", NULL}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_expect_eq(tool(bad[i], err, sizeof(err)), 2, "%s", bad[i][2] ? bad[i][2] : "(none)");
    cr_expect(strstr(err, "--timeout"), "%s", err);
  }
}
