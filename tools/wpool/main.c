/* The `wpool` command-line tool (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "replay.h"
#include "wpool.h"

static const char usage[] =
    "usage: wpool [COMMAND] [OPTIONS]\n"
    "\n"
    "With no command, runs `demo`.\n"
    "\n"
    "commands:\n"
    "  demo [ITERATIONS]\n"
    "      create a pool with the default configuration and 8 modules with data\n"
    "      images, instantiate, dirty and free in a loop (default 200000 times),\n"
    "      and print the pool's statistics\n"
    "  replay [--summary] [--echo] [--default] [FILE]\n"
    "      run a slot-policy trace (docs/replay.md) from FILE or standard input,\n"
    "      printing one answer per operation; --default uses the embedded tour\n"
    "  version   print the library version\n"
    "  help      this text\n";

static int cmd_replay(int argc, char **argv) {
  replay_opts_t opts = {.name = "<stdin>"};
  const char *path = NULL;
  int use_default = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--summary") == 0) {
      opts.summary = true;
    } else if (strcmp(argv[i], "--echo") == 0) {
      opts.echo = true;
    } else if (strcmp(argv[i], "--default") == 0) {
      use_default = 1;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      fprintf(stderr, "wpool replay: unknown option '%s' (see wpool help)\n", argv[i]);
      return 2;
    } else if (path || use_default) {
      fprintf(stderr, "wpool replay: more than one input given\n");
      return 2;
    } else {
      path = argv[i];
    }
  }
  if (use_default && path) {
    fprintf(stderr, "wpool replay: more than one input given\n");
    return 2;
  }
  FILE *in = stdin;
  if (use_default) {
    opts.name = "<default>";
    in = fmemopen((void *)replay_default_trace, strlen(replay_default_trace), "r");
  } else if (path && strcmp(path, "-") != 0) {
    opts.name = path;
    in = fopen(path, "r");
  }
  if (!in) {
    fprintf(stderr, "wpool replay: cannot open %s\n", opts.name);
    return 2;
  }
  static char outbuf[1 << 16];
  setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
  int status = replay_run(in, stdout, &opts);
  if (in != stdin) fclose(in);
  fflush(stdout);
  return status;
}

static int cmd_demo(int argc, char **argv) {
  uint64_t n = 200000;
  if (argc > 1) {
    fprintf(stderr, "wpool demo: too many arguments (see wpool help)\n");
    return 2;
  }
  if (argc == 1) {
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    }
    char *end;
    n = strtoull(argv[0], &end, 10);
    if (*end || argv[0][0] < '0' || argv[0][0] > '9' || n == 0) {
      fprintf(stderr, "wpool demo: ITERATIONS must be a positive number, not '%s'\n", argv[0]);
      return 2;
    }
  }
  return demo_run(stdout, n);
}

int main(int argc, char **argv) {
  if (argc < 2) return cmd_demo(0, NULL);
  const char *cmd = argv[1];
  if (strcmp(cmd, "demo") == 0) return cmd_demo(argc - 2, argv + 2);
  if (strcmp(cmd, "replay") == 0) return cmd_replay(argc - 2, argv + 2);
  if (strcmp(cmd, "version") == 0) {
    printf("wpool %s\n", wpool_version());
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  fprintf(stderr, "wpool: unknown command '%s' (see wpool help)\n", cmd);
  return 2;
}
