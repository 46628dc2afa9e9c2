/* glob: print the lines of standard input that match any of the glob
 * patterns given as arguments (*, ?, [a-z], [!x], \ escapes), then a
 * count per pattern. Exit 1 when nothing matched, like grep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Match a bracket expression at p (just past '['); set *end past ']'. */
static int klass(const char *p, char c, const char **end) {
  int neg = 0, ok = 0;
  if (*p == '!' || *p == '^') neg = 1, p++;
  int first = 1;
  while (*p && (*p != ']' || first)) {
    char lo = *p, hi = lo;
    if (p[1] == '-' && p[2] && p[2] != ']') hi = p[2], p += 2;
    if (c >= lo && c <= hi) ok = 1;
    p++;
    first = 0;
  }
  *end = *p ? p + 1 : p;
  return ok != neg;
}

/* Iterative matching with one backtrack point for the last '*'. */
static int match(const char *pat, const char *s) {
  const char *star = NULL, *ss = NULL;
  while (*s) {
    const char *next;
    if (*pat == '*') {
      star = ++pat;
      ss = s;
      continue;
    }
    if (*pat == '?') {
      pat++, s++;
      continue;
    }
    if (*pat == '[' && klass(pat + 1, *s, &next)) {
      pat = next, s++;
      continue;
    }
    if (*pat == '\\' && pat[1] && pat[1] == *s) {
      pat += 2, s++;
      continue;
    }
    if (*pat && *pat != '[' && *pat != '\\' && *pat == *s) {
      pat++, s++;
      continue;
    }
    if (star) {
      pat = star;
      s = ++ss;
      continue;
    }
    return 0;
  }
  while (*pat == '*') pat++;
  return *pat == 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: glob PATTERN...\n");
    return 2;
  }
  long *counts = calloc((size_t)argc, sizeof(long));
  char line[4096];
  long lines = 0, matched = 0;
  while (fgets(line, sizeof(line), stdin)) {
    line[strcspn(line, "\n")] = 0;
    lines++;
    int any = 0;
    for (int i = 1; i < argc; i++)
      if (match(argv[i], line)) counts[i]++, any = 1;
    if (any) {
      matched++;
      printf("%s\n", line);
    }
  }
  for (int i = 1; i < argc; i++) printf("# %s: %ld\n", argv[i], counts[i]);
  printf("# %ld of %ld lines matched\n", matched, lines);
  free(counts);
  return matched ? 0 : 1;
}
