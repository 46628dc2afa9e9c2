/* threads_bench: hello's request (instantiate, run, free) in a process
 * with N idle threads, the library's defaults against WPOOL_SCAN_ALWAYS=1
 * (every reset scans) in the same run. Reading the process's fault count,
 * which lets a reset skip its scan (src/memory/proof.h), costs more with
 * each thread (getrusage sums over them), while a scan's cost does not
 * change: the defaults are to decide between the two by what each costs
 * here and now, and never lose to the setting that always scans.
 *
 * Each measurement is a child process (the options are read once per
 * process): it starts N threads blocked in read(), loads hello, runs
 * warm-up requests, then times REQUESTS requests. Rounds alternate the
 * settings. Output: one JSON object per measurement, then one per thread
 * count with the medians and defaults / scan_always. */
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"
#include "runtime.h"
#include "wpool.h"

extern char **environ;

static int idle_pipe[2];

static void *idle(void *arg) {
  (void)arg;
  char c;
  while (read(idle_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The child: one measurement, one line "wall_ns cpu_ns count_ns scan_ns
 * proved_share" per request on stdout. */
static int child(unsigned threads, unsigned requests, bool burst, const char *dir) {
  if (pipe(idle_pipe) != 0) return 1;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, 64 << 10);
  pthread_t *th = calloc(threads ? threads : 1, sizeof(*th));
  for (unsigned i = 0; i < threads; i++)
    if (!th || pthread_create(&th[i], &a, idle, NULL) != 0) {
      fprintf(stderr, "threads_bench: thread %u of %u: %s\n", i, threads, strerror(errno));
      return 1;
    }
  char path[4096];
  snprintf(path, sizeof(path), "%s/hello.wasm", dir);
  wrt_options_t o;
  wrt_options_init(&o);
  wrt_runtime_t *rt;
  wrt_module_t *m;
  if (wrt_create(&o, &rt) || wrt_load(rt, path, &m)) {
    fprintf(stderr, "threads_bench: %s: %s\n", path, wrt_last_error());
    return 1;
  }
  const char *gargv[] = {"hello"};
  wrt_request_t req = {.argv = gargv, .argc = 1};
  wrt_result_t res;
  wrt_result_init(&res);
  /* With `burst`, first 2 s of requests each after a page fault (a page
   * of a scratch area, given back when all were touched): proofs fail and
   * the pool reads only for tries; the timed phase shows whether reading
   * at every free comes back once the faults stop. */
  enum { SCRATCH_PAGES = 1024 };
  if (burst) {
    volatile char *scratch = mmap(NULL, SCRATCH_PAGES * 4096ul, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (scratch == MAP_FAILED || madvise((void *)scratch, SCRATCH_PAGES * 4096ul, MADV_NOHUGEPAGE))
      return 1;
    uint64_t end = now_ns() + 2000000000ull;
    for (unsigned i = 0; now_ns() < end; i++) {
      if (i % SCRATCH_PAGES == 0) madvise((void *)scratch, SCRATCH_PAGES * 4096ul, MADV_DONTNEED);
      scratch[(size_t)(i % SCRATCH_PAGES) * 4096] = 1;
      if (wrt_run(m, &req, &res) != 0 || res.trap || res.exit_code) return 1;
    }
    munmap((void *)scratch, SCRATCH_PAGES * 4096ul);
  }
  /* Warm-up: the costs measured, a window of reads and of scans timed. */
  for (unsigned i = 0; i < requests / 4 + 4096; i++)
    if (wrt_run(m, &req, &res) != 0 || res.trap || res.exit_code) {
      fprintf(stderr, "threads_bench: hello failed: %s\n", wrt_last_error());
      return 1;
    }
  wpool_stats_t s0, s1;
  wpool_stats_get(wrt_pool(rt), &s0);
  uint64_t t0 = now_ns(), c0 = cpu_ns();
  for (unsigned i = 0; i < requests; i++)
    if (wrt_run(m, &req, &res) != 0 || res.trap || res.exit_code) return 1;
  uint64_t wall = now_ns() - t0, cpu = cpu_ns() - c0;
  wpool_stats_get(wrt_pool(rt), &s1);
  printf("%.1f %.1f %llu %llu %.3f\n", (double)wall / requests, (double)cpu / requests,
         (unsigned long long)s1.keep_count_ns, (unsigned long long)s1.keep_reset_scan_ns,
         (double)(s1.resets_proved - s0.resets_proved) / requests);
  wrt_result_free(&res);
  wrt_unload(m);
  wrt_destroy(rt);
  close(idle_pipe[1]);
  for (unsigned i = 0; i < threads; i++) pthread_join(th[i], NULL);
  free(th);
  return 0;
}

typedef struct point {
  double wall, cpu, share;
  unsigned long long count_ns, scan_ns;
} point_t;

/* Run one measurement in a child process; 0 or -1. */
static int measure(const char *self, unsigned threads, bool scan_always, unsigned requests,
                   bool burst, const char *dir, point_t *out) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  char tn[16], rn[16];
  snprintf(tn, sizeof(tn), "%u", threads);
  snprintf(rn, sizeof(rn), "%u", requests);
  char *argv[] = {(char *)self, "--child", tn, rn, burst ? "1" : "0", (char *)dir, NULL};
  /* The environment as given, WPOOL_SCAN_ALWAYS set or removed. */
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 2, sizeof(*env));
  if (!env) return -1;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "WPOOL_SCAN_ALWAYS=", 18) != 0) env[k++] = environ[i];
  if (scan_always) env[k++] = "WPOOL_SCAN_ALWAYS=1";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  pid_t pid;
  int err = posix_spawn(&pid, self, &fa, NULL, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  free(env);
  close(fds[1]);
  if (err) {
    close(fds[0]);
    return -1;
  }
  FILE *f = fdopen(fds[0], "r");
  int got = f ? fscanf(f, "%lf %lf %llu %llu %lf", &out->wall, &out->cpu, &out->count_ns,
                       &out->scan_ns, &out->share)
              : 0;
  if (f) fclose(f);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return got == 5 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "--child"))
    return child((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]), argv[4][0] == '1', argv[5]);
  unsigned rounds = 5, requests = 200000;
  const char *dir = NULL;
  bool burst = false;
  unsigned full[] = {0, 8, 64, 256, 1000}, quick[] = {0, 8}, *counts = full, ncounts = 5;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) {
      rounds = 1, requests = 2000, counts = quick, ncounts = 2;
    } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = (unsigned)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--burst"))
      burst = true;
    else if (!strcmp(argv[i], "--requests") && i + 1 < argc)
      requests = (unsigned)atoi(argv[++i]);
    else
      dir = argv[i];
  }
  if (!dir || !rounds || !requests || rounds > 64) {
    fprintf(stderr, "usage: threads_bench [--quick] [--burst] [--rounds N<=64] [--requests N] "
                    "EXAMPLES_DIR\n");
    return 2;
  }
  const char *self = "/proc/self/exe";
  static const char *names[2] = {"defaults", "scan_always"};
  for (unsigned c = 0; c < ncounts; c++) {
    double wall[2][64], cpu[2][64];
    for (unsigned r = 0; r < rounds; r++)
      for (int j = 0; j < 2; j++) {
        int k = (int)((r + (unsigned)j) % 2);
        point_t pt;
        if (measure(self, counts[c], k == 1, requests, burst, dir, &pt) != 0) {
          fprintf(stderr, "threads_bench: %u threads, %s: the measurement failed\n", counts[c],
                  names[k]);
          return 1;
        }
        wall[k][r] = pt.wall;
        cpu[k][r] = pt.cpu;
        printf("{\"bench\":\"threads\",\"threads\":%u,\"burst\":%s,\"setting\":\"%s\",\"round\":%u,"
               "\"ns_per_request\":%.1f,\"cpu_ns_per_request\":%.1f,\"keep_count_ns\":%llu,"
               "\"keep_reset_scan_ns\":%llu,\"proved_share\":%.3f}\n",
               counts[c], burst ? "true" : "false", names[k], r, pt.wall, pt.cpu, pt.count_ns, pt.scan_ns, pt.share);
        fflush(stdout);
      }
    double d = median_of(wall[0], (int)rounds), s = median_of(wall[1], (int)rounds);
    double dc = median_of(cpu[0], (int)rounds), sc = median_of(cpu[1], (int)rounds);
    printf("{\"bench\":\"threads_summary\",\"threads\":%u,\"burst\":%s,\"rounds\":%u,\"requests\":%u,"
           "\"defaults_ns\":%.1f,\"scan_always_ns\":%.1f,\"ratio\":%.3f,"
           "\"defaults_cpu_ns\":%.1f,\"scan_always_cpu_ns\":%.1f,\"cpu_ratio\":%.3f}\n",
           counts[c], burst ? "true" : "false", rounds, requests, d, s, d / s, dc, sc, dc / sc);
    fflush(stdout);
  }
  return 0;
}
