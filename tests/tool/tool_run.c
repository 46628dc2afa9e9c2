#include "tool_run.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void slurp(FILE *f, char *buf, size_t cap) {
  rewind(f);
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = '\0';
}

unsigned tool_run_seconds = 600;
unsigned tool_run_max_fds;
const char *tool_run_stdout;

void tool_run(tool_result_t *r, const char *input, const char *const *args) {
  tool_run_bytes(r, input, strlen(input), args);
}

void tool_run_bytes(tool_result_t *r, const char *input, size_t len, const char *const *args) {
  const char *tool = getenv("WPOOL_TOOL");
  cr_assert_not_null(tool, "WPOOL_TOOL is not set (run under meson test)");
  FILE *in = tmpfile(), *out = tmpfile(), *err = tmpfile();
  cr_assert(in && out && err);
  cr_assert_eq(fwrite(input, 1, len, in), len);
  fflush(in);
  rewind(in);
  const char *argv[32] = {tool};
  size_t n = 1;
  for (; args && args[n - 1] && n < 31; n++) argv[n] = args[n - 1];
  argv[n] = NULL;
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    dup2(fileno(in), 0);
    int fd = tool_run_stdout ? open(tool_run_stdout, O_WRONLY) : fileno(out);
    if (fd < 0) _exit(126);
    dup2(fd, 1);
    dup2(fileno(err), 2);
    alarm(tool_run_seconds); /* kept across execv */
    struct rlimit fds = {tool_run_max_fds, tool_run_max_fds};
    if (tool_run_max_fds && setrlimit(RLIMIT_NOFILE, &fds) != 0) _exit(126);
    execv(tool, (char *const *)argv);
    _exit(127);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  slurp(out, r->out, sizeof(r->out));
  slurp(err, r->err, sizeof(r->err));
  fclose(in);
  fclose(out);
  fclose(err);
}
