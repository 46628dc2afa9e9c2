/* The `wpool` command-line tool (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "wpool.h"

static const char usage[] =
    "usage: wpool [COMMAND] [OPTIONS]\n"
    "\n"
    "With no command, replays the embedded tour of the slot policy, showing\n"
    "each operation beside its answer, and prints a summary.\n"
    "\n"
    "commands:\n"
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

int main(int argc, char **argv) {
  if (argc < 2) {
    char *args[] = {"--default", "--echo", "--summary"};
    return cmd_replay(3, args);
  }
  const char *cmd = argv[1];
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
