/* The installed libraries export only wpool_* names: nm over libwpool.a
 * and libwpool.so, and a runtime defining heap_free, index_init,
 * error_set, ... links against libwpool.a and runs (symbol_clash). Paths
 * come from meson: WPOOL_ARCHIVE, WPOOL_SHARED, WPOOL_CLASH. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *env(const char *name) {
  const char *v = getenv(name);
  cr_assert_not_null(v, "%s is not set (run under meson test)", name);
  return v;
}

/* Count defined global symbols of `cmd`'s output ("ADDR TYPE NAME"), and
 * those not prefixed wpool_. */
static void exported(const char *cmd, int *total, int *foreign, char *first, size_t cap) {
  FILE *f = popen(cmd, "r");
  cr_assert_not_null(f, "%s", cmd);
  char line[512];
  *total = *foreign = 0;
  while (fgets(line, sizeof(line), f)) {
    char addr[64], type[8], name[400];
    if (sscanf(line, "%63s %7s %399s", addr, type, name) != 3) continue;
    (*total)++;
    if (strncmp(name, "wpool_", 6) != 0) {
      if (!*foreign) snprintf(first, cap, "%s", name);
      (*foreign)++;
    }
  }
  cr_assert_eq(WEXITSTATUS(pclose(f)), 0, "%s failed", cmd);
}

Test(symbols, the_archive_exports_only_wpool_names) {
  char cmd[1024], first[400] = "";
  int total, foreign;
  snprintf(cmd, sizeof(cmd), "nm -g --defined-only '%s'", env("WPOOL_ARCHIVE"));
  exported(cmd, &total, &foreign, first, sizeof(first));
  cr_assert_gt(total, 30, "wpool_create and the rest are there");
  cr_assert_eq(foreign, 0, "%d names without the prefix, e.g. %s", foreign, first);
}

Test(symbols, the_shared_library_exports_only_wpool_names) {
  char cmd[1024], first[400] = "";
  int total, foreign;
  snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", env("WPOOL_SHARED"));
  exported(cmd, &total, &foreign, first, sizeof(first));
  cr_assert_gt(total, 30);
  cr_assert_eq(foreign, 0, "%d names without the prefix, e.g. %s", foreign, first);
}

Test(symbols, a_runtime_with_its_own_heap_free_links_and_runs) {
  int st = system(env("WPOOL_CLASH"));
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "symbol_clash exited %d", st);
}
