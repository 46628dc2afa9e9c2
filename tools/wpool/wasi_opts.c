/* `wpool wasm`'s WASI options: environment variables and preopened
 * directories (docs/cli.md). */
#include "wasi_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *keep(wasi_opts_t *o, char *s) {
  if (!s) return NULL;
  char **v = realloc(o->owned, (o->nowned + 1) * sizeof(*v));
  if (!v) {
    free(s);
    return NULL;
  }
  o->owned = v;
  return o->owned[o->nowned++] = s;
}

bool wasi_dir_spec(const char *spec, char **host, char **guest) {
  const char *sep = strstr(spec, "::");
  size_t hn = sep ? (size_t)(sep - spec) : strlen(spec);
  const char *g = sep ? sep + 2 : spec;
  if (hn == 0 || !*g || strlen(g) > 1024) return false;
  *host = strndup(spec, hn);
  *guest = strdup(g);
  if (*host && *guest) return true;
  free(*host), free(*guest);
  return false;
}

static int env_take(wasi_opts_t *o, const char *cmd, const char *kv) {
  const char *eq = strchr(kv, '=');
  char *s;
  if (eq == kv || !*kv) {
    fprintf(stderr, "wpool %s: --env needs KEY=VALUE or KEY, not '%s'\n", cmd, kv);
    return -1;
  }
  if (eq) {
    s = strdup(kv);
  } else { /* KEY alone: the host's value */
    const char *v = getenv(kv);
    if (!v) {
      fprintf(stderr, "wpool %s: --env %s: no such variable here to pass on\n", cmd, kv);
      return -1;
    }
    s = malloc(strlen(kv) + strlen(v) + 2);
    if (s) sprintf(s, "%s=%s", kv, v);
  }
  const char **v = realloc(o->envp, (o->envc + 1) * sizeof(*v));
  if (!v || !keep(o, s)) {
    if (v) o->envp = v;
    else free(s);
    fprintf(stderr, "wpool %s: out of memory\n", cmd);
    return -1;
  }
  o->envp = v;
  o->envp[o->envc++] = s;
  return 1;
}

static int dir_take(wasi_opts_t *o, const char *cmd, const char *opt, const char *spec,
                    bool read_only) {
  char *host, *guest;
  if (o->ndirs == WRT_MAX_DIRS) {
    fprintf(stderr, "wpool %s: more than %d directories\n", cmd, WRT_MAX_DIRS);
    return -1;
  }
  if (!wasi_dir_spec(spec, &host, &guest)) {
    fprintf(stderr, "wpool %s: %s needs HOST[::GUEST] (each not empty, GUEST at most 1024 "
                    "bytes), not '%s'\n", cmd, opt, spec);
    return -1;
  }
  int fd;
  wrt_dir_t *v = realloc(o->dirs, (o->ndirs + 1) * sizeof(*v));
  if (v) o->dirs = v;
  if (!v || !keep(o, guest)) {
    free(host);
    fprintf(stderr, "wpool %s: out of memory\n", cmd);
    return -1;
  }
  if (wrt_dir_open(host, &fd) != 0) {
    fprintf(stderr, "wpool %s: %s %s\n", cmd, opt, wrt_last_error());
    free(host);
    return -1;
  }
  free(host);
  o->dirs[o->ndirs++] = (wrt_dir_t){.guest_path = guest, .fd = fd, .read_only = read_only};
  return 1;
}

int wasi_opts_take(wasi_opts_t *o, const char *cmd, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  bool env = !strcmp(a, "--env"), rw = !strcmp(a, "--dir"), ro = !strcmp(a, "--dir-ro");
  if (!env && !rw && !ro) return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "wpool %s: %s needs a value\n", cmd, a);
    return -1;
  }
  const char *val = argv[++*i];
  return env ? env_take(o, cmd, val) : dir_take(o, cmd, a, val, ro);
}

void wasi_opts_free(wasi_opts_t *o) {
  for (uint32_t k = 0; k < o->ndirs; k++) close(o->dirs[k].fd);
  for (uint32_t k = 0; k < o->nowned; k++) free(o->owned[k]);
  free(o->owned);
  free(o->envp);
  free(o->dirs);
  *o = (wasi_opts_t){0};
}
