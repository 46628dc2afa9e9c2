/* The WebAssembly spec tests' scripts against the runtime (tests/spec/):
 * each script, turned into JSON and binary modules by wast2json at build
 * time, is run command by command through the runtime's API
 * (wrt_load_ex, wrt_instantiate, wrt_call) on the pool backend (or
 * stock: --backend stock).
 *
 * An assertion passes, fails, or is skipped for a reason the runtime
 * states (a module in the text format, a module importing a memory or a
 * table, which the runtime does not link); skips are counted by reason and
 * printed, failures printed with the script's line. Exit status 0 when no
 * assertion failed.
 * usage: spec_run [--backend pool|stock] [--verbose] [--trace] SCRIPT.json... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "runtime.h"
#include "spec.h"

static void usage(void) {
  fprintf(stderr, "usage: spec_run [--backend pool|stock] [--verbose] [--trace] SCRIPT.json...\n");
  exit(2);
}

int main(int argc, char **argv) {
  spec_t s = {.backend = WRT_BACKEND_POOL};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
      i++;
      if (!strcmp(argv[i], "stock")) s.backend = WRT_BACKEND_STOCK;
      else if (strcmp(argv[i], "pool")) usage();
    } else if (!strcmp(argv[i], "--verbose")) {
      s.verbose = 1;
    } else if (!strcmp(argv[i], "--trace")) {
      s.verbose = 2; /* each command as it runs, on stderr */
    } else {
      usage();
    }
  }
  if (i == argc) usage();
  for (; i < argc; i++)
    if (spec_script(&s, argv[i]) != 0) return 2;
  spec_report(&s, stdout);
  return s.total.failed ? 1 : 0;
}
