/* The modules a path names (wagi.h): one file served at "/", or each
 * NAME.wasm of a directory at /NAME, checked before the server starts. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wagi.h"

bool wagi_route_name_ok(const char *n) {
  if (!*n || strlen(n) > WAGI_MAX_NAME) return false;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_' || *p == '.'))
      return false;
  return true;
}

typedef struct list {
  wagi_module_t *ms;
  size_t n;
  char *err;
  size_t errlen;
} list_t;

static int fail(list_t *l, const char *fmt, const char *a, const char *b) {
  snprintf(l->err, l->errlen, fmt, a, b);
  return -1;
}

static int add(list_t *l, const char *path, const char *base) {
  size_t n = strlen(base);
  wagi_module_t *r = realloc(l->ms, (l->n + 1) * sizeof(wagi_module_t));
  if (!r) return fail(l, "out of memory%s%s", "", "");
  l->ms = r;
  r = &l->ms[l->n];
  *r = (wagi_module_t){0};
  r->path = strdup(path);
  r->name = strndup(base, n > 5 && !strcmp(base + n - 5, ".wasm") ? n - 5 : n);
  if (!r->path || !r->name) {
    free(r->path);
    free(r->name);
    return fail(l, "out of memory%s%s", "", "");
  }
  l->n++;
  return 0;
}

static int cmp_module(const void *a, const void *b) {
  return strcmp(((const wagi_module_t *)a)->name, ((const wagi_module_t *)b)->name);
}

static int scan(list_t *l, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return fail(l, "%s: %s", dir, strerror(errno));
  int status = 0;
  struct dirent *e;
  while (status == 0 && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n <= 5 || strcmp(e->d_name + n - 5, ".wasm") != 0) continue;
    if (l->n == WAGI_MAX_ROUTES) {
      status = fail(l, "%s: more than %s modules", dir, "10000");
      break;
    }
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)) {
      status = fail(l, "%s/%s: path too long", dir, e->d_name);
      break;
    }
    /* Every NAME.wasm is meant as a module: one that cannot be is an
     * error, not a route silently missing. */
    struct stat st;
    if (stat(path, &st) != 0) {
      bool dangling = errno == ENOENT && lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
      status = fail(l, "%s: %s", path, dangling ? "a link to nothing (dangling)" : strerror(errno));
      break;
    }
    if (!S_ISREG(st.st_mode)) {
      status = fail(l, "%s: %s", path,
                    S_ISDIR(st.st_mode) ? "a directory, not a module" : "not a regular file");
      break;
    }
    status = add(l, path, e->d_name);
    if (status == 0 && !wagi_route_name_ok(l->ms[l->n - 1].name))
      status = fail(l, "%s: a route name takes letters, digits, '-', '_' and '.' only, at most 200%s", path, "");
    if (status == 0 && !strcmp(l->ms[l->n - 1].name, "metrics"))
      status = fail(l, "%s: the path /metrics is the server's own%s", path, "");
  }
  closedir(d);
  if (status == 0 && !l->n) status = fail(l, "%s: no .wasm modules in this directory%s", dir, "");
  if (status == 0) qsort(l->ms, l->n, sizeof(wagi_module_t), cmp_module);
  return status;
}

int wagi_modules_find(const char *arg, wagi_module_t **out, size_t *n, bool *single, char *err,
                      size_t errlen) {
  list_t l = {.err = err, .errlen = errlen};
  struct stat st;
  int status;
  *single = false;
  if (stat(arg, &st) != 0) {
    status = fail(&l, "%s: %s", arg, strerror(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    *single = true;
    const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
    status = add(&l, arg, base);
  } else {
    status = scan(&l, arg);
  }
  if (status) {
    wagi_modules_free(l.ms, l.n);
    return status;
  }
  *out = l.ms;
  *n = l.n;
  return 0;
}

int wagi_module_volume(wagi_module_t *m, const char *host, const char *guest, bool read_write,
                       char *err, size_t errlen) {
  if (m->ndirs == WRT_MAX_DIRS) {
    snprintf(err, errlen, "/%s: more than %d volumes", m->name, WRT_MAX_DIRS);
    return -1;
  }
  wrt_dir_t *d = realloc(m->dirs, (m->ndirs + 1) * sizeof(*d));
  if (!d) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  m->dirs = d;
  char *g = strdup(guest);
  int fd = -1;
  if (!g || wrt_dir_open(host, &fd) != 0) {
    snprintf(err, errlen, "%s", g ? wrt_last_error() : "out of memory");
    free(g);
    return -1;
  }
  d[m->ndirs++] = (wrt_dir_t){.guest_path = g, .fd = fd, .read_only = !read_write};
  return 0;
}

void wagi_modules_free(wagi_module_t *ms, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(ms[i].name);
    free(ms[i].path);
    for (uint32_t k = 0; k < ms[i].ndirs; k++) {
      close(ms[i].dirs[k].fd);
      free((char *)ms[i].dirs[k].guest_path);
    }
    free(ms[i].dirs);
  }
  free(ms);
}
