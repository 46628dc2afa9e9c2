/* wagi: a WAGI handler for `wpool serve` (docs/serve.md) whose answer is
 * chosen by its arguments, which WAGI takes from the query's parameters:
 *   plain         no header block: the output is the body (200 text/plain)
 *   status=NNN    a "Status: NNN" header line
 *   type=T        a "Content-Type: T" header line (default text/plain)
 *   location=U    a "Location: U" header line
 *   header=N:V    one more header line "N: V"
 *   env           the body lists the arguments and the environment, sorted
 *   echo          the body is standard input
 *   spin=MS       run (a busy loop on the clock) for MS milliseconds first
 *   exit=N        exit with N after writing
 *   big=N         the body is N bytes ('a' to 'z', then a newline, again)
 *   stderr=TEXT   write TEXT to standard error, percent-decoded ("%0a" a
 *                 newline, "%1b" ESC): what a log must not take as is
 * Without arguments: "Content-Type: text/plain", a blank line, "wagi". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *value(const char *arg, const char *key) {
  size_t n = strlen(key);
  return strncmp(arg, key, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

int main(int argc, char **argv) {
  int plain = 0, env = 0, echo = 0, code = 0;
  long big = -1;
  const char *v;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "plain"))
      plain = 1;
    else if (!strcmp(argv[i], "env"))
      env = 1;
    else if (!strcmp(argv[i], "echo"))
      echo = 1;
    else if ((v = value(argv[i], "exit")) != NULL)
      code = atoi(v);
    else if ((v = value(argv[i], "big")) != NULL)
      big = atol(v);
    else if ((v = value(argv[i], "stderr")) != NULL) {
      for (const char *p = v; *p; p++) {
        if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
          char hex[3] = {p[1], p[2], 0};
          fputc((int)strtol(hex, NULL, 16), stderr);
          p += 2;
        } else {
          fputc(*p, stderr);
        }
      }
    } else if ((v = value(argv[i], "spin")) != NULL) {
      double end = now_ms() + atof(v);
      volatile unsigned long spins = 0;
      while (now_ms() < end) spins++;
    }
  }
  if (!plain) {
    int typed = 0;
    for (int i = 1; i < argc; i++) {
      if ((v = value(argv[i], "status")) != NULL)
        printf("Status: %s\n", v);
      else if ((v = value(argv[i], "location")) != NULL)
        printf("Location: %s\n", v);
      else if ((v = value(argv[i], "type")) != NULL)
        printf("Content-Type: %s\n", v), typed = 1;
      else if ((v = value(argv[i], "header")) != NULL) {
        const char *colon = strchr(v, ':');
        if (colon) printf("%.*s: %s\n", (int)(colon - v), v, colon + 1);
      }
    }
    if (!typed) printf("Content-Type: text/plain\n");
    printf("\n");
  }
  if (env) {
    for (int i = 0; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
    int n = 0;
    while (environ && environ[n]) n++;
    char **e = malloc(sizeof(char *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) e[i] = environ[i];
    qsort(e, (size_t)n, sizeof(char *), cmp);
    for (int i = 0; i < n; i++) printf("env %s\n", e[i]);
    free(e);
  }
  if (echo) {
    int c;
    while ((c = getchar()) != EOF) putchar(c);
  }
  for (long i = 0; i < big; i++) putchar(i % 27 == 26 ? '\n' : 'a' + (int)(i % 27));
  if (!env && !echo && big < 0) printf("wagi\n");
  return code;
}
