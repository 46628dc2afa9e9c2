/* printenv: what a command sees of WASI: its arguments, its environment
 * (sorted), the bytes of standard input, a line on standard error, and
 * whether the clocks and the random source answer. Exit status: the number
 * of arguments minus one, so callers can check exit codes pass through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  for (int i = 0; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
  int n = 0;
  while (environ && environ[n]) n++;
  char **env = malloc(sizeof(char *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) env[i] = environ[i];
  qsort(env, (size_t)n, sizeof(char *), cmp);
  for (int i = 0; i < n; i++) printf("env: %s\n", env[i]);
  long bytes = 0;
  int c;
  unsigned sum = 0;
  while ((c = getchar()) != EOF) bytes++, sum = sum * 31 + (unsigned)c;
  printf("stdin: %ld bytes, hash %u\n", bytes, sum);
  struct timespec ts;
  int clock_ok = clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && (ts.tv_sec > 0 || ts.tv_nsec > 0);
  printf("clock: %s\n", clock_ok ? "ok" : "broken");
  fprintf(stderr, "printenv: done\n");
  free(env);
  return argc - 1;
}
