/* Concurrent requests (a plain program, so it also runs under TSan where
 * Criterion cannot): 4 threads run interleaved requests of several guests
 * on one runtime, traps among them, first on the pool and then on stock;
 * every output must equal the one a single thread got first. Exit 0 on
 * success; prints the first difference otherwise. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define THREADS 4
#define ROUNDS 12

typedef struct job {
  const char *name;
  const char *argv[3];
  uint32_t argc;
  const char *in;
  wrt_module_t *m;
  wrt_result_t want;
} job_t;

static job_t jobs[] = {
    {.name = "hello", .argv = {"hello"}, .argc = 1, .in = ""},
    {.name = "sha256sum", .argv = {"sha256sum"}, .argc = 1, .in = "abc\n"},
    {.name = "json", .argv = {"json"}, .argc = 1, .in = "{\"b\":[1,2,3],\"a\":{\"x\":null}}"},
    {.name = "secret", .argv = {"secret"}, .argc = 1, .in = ""},
#if !defined(__SANITIZE_THREAD__)
    /* TSan's signal interception does not survive a handler that leaves by
     * siglongjmp on a thread other than the main one (the process dies in
     * its wrapper), so the TSan build runs the trap-free mix. The other
     * builds trap concurrently on every thread. */
    {.name = "trap", .argv = {"trap", "oob-max"}, .argc = 2, .in = ""},
    {.name = "trap", .argv = {"trap", "div0"}, .argc = 2, .in = ""},
#endif
};
#define NJOBS (sizeof(jobs) / sizeof(jobs[0]))

static int failures;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static int run(job_t *j, wrt_result_t *r) {
  wrt_request_t req = {.argv = j->argv, .argc = j->argc, .stdin_bytes = j->in,
                       .stdin_len = strlen(j->in)};
  int err;
  /* A full pool is a retryable answer, not a failure. */
  while ((err = wrt_run(j->m, &req, r)) == WRT_EEXHAUSTED) sched_yield();
  return err;
}

static void *worker(void *arg) {
  uintptr_t t = (uintptr_t)arg;
  wrt_result_t r;
  wrt_result_init(&r);
  for (int round = 0; round < ROUNDS; round++) {
    for (size_t k = 0; k < NJOBS; k++) {
      job_t *j = &jobs[(k + t + (size_t)round) % NJOBS];
      int err = run(j, &r);
      if (err || r.trap != j->want.trap || r.exit_code != j->want.exit_code ||
          r.out_len != j->want.out_len ||
          (r.out_len && memcmp(r.out, j->want.out, r.out_len) != 0)) {
        pthread_mutex_lock(&fail_lock);
        if (!failures++)
          fprintf(stderr, "runtime_threads: thread %lu, %s %s: err %d (%s), trap %s, exit %d\n",
                  (unsigned long)t, j->name, j->argv[1] ? j->argv[1] : "", err, wrt_last_error(),
                  wrt_trap_name(r.trap), r.exit_code);
        pthread_mutex_unlock(&fail_lock);
      }
    }
  }
  wrt_result_free(&r);
  return NULL;
}

static int scenario(wrt_backend_t b, const char *dir) {
  wpool_config_t cfg;
  wrt_config_init(&cfg);
  cfg.instance_count = 3; /* fewer slots than threads: exhaustion and reuse */
  cfg.stack_count = 0;
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = b;
  o.pool_config = &cfg;
  wrt_runtime_t *rt;
  if (wrt_create(&o, &rt)) return fprintf(stderr, "wrt_create: %s\n", wrt_last_error()), 1;
  for (size_t k = 0; k < NJOBS; k++) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.wasm", dir, jobs[k].name);
    if (wrt_load(rt, path, &jobs[k].m)) return fprintf(stderr, "%s\n", wrt_last_error()), 1;
    wrt_result_init(&jobs[k].want);
    if (run(&jobs[k], &jobs[k].want)) return fprintf(stderr, "%s\n", wrt_last_error()), 1;
  }
  if (jobs[3].want.out_len != strlen("secrets found: 0\n") ||
      (NJOBS > 4 && (jobs[4].want.trap != WRT_TRAP_OOB || jobs[5].want.trap != WRT_TRAP_DIV_BY_ZERO)))
    return fprintf(stderr, "runtime_threads: the single-threaded answers are wrong\n"), 1;
  pthread_t th[THREADS];
  for (uintptr_t t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, worker, (void *)t);
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  for (size_t k = 0; k < NJOBS; k++) wrt_result_free(&jobs[k].want);
  wrt_stats_t st;
  wrt_stats_get(rt, &st);
  if (wrt_destroy(rt)) return fprintf(stderr, "wrt_destroy: %s\n", wrt_last_error()), 1;
  printf("runtime_threads: %s: %llu requests, %llu traps, %llu exhausted and retried\n",
         wrt_backend_name(b), (unsigned long long)st.requests, (unsigned long long)st.traps,
         (unsigned long long)st.exhausted);
  return failures != 0;
}

int main(void) {
  const char *dir = getenv("WPOOL_EXAMPLES");
  if (!dir) return fprintf(stderr, "runtime_threads: WPOOL_EXAMPLES is not set\n"), 1;
  if (scenario(WRT_BACKEND_POOL, dir) || scenario(WRT_BACKEND_STOCK, dir)) return 1;
  printf("runtime_threads: every output equal\n");
  return 0;
}
