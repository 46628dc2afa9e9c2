/* A reload pass and the first load (wagi_pass.h, wagi_loader.h): each NAME.wasm read
 * once into memory (the bytes hashed are the bytes loaded; a file written
 * in place may be read cut short, which can be valid WebAssembly: deploys
 * rename, docs/serve.md "Reload"), its version the SHA-256 of those
 * bytes, a new route table published when anything changed. Runs on the
 * loader's thread (the first load on the main one). */
#include "wagi_pass.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "wagi.h"
#include "wagi_file.h"

/* One line on stderr, "wpool serve: " and the text, every byte but
 * printable ASCII written \xHH (log.h). A backslash passes: the text's
 * tenant-chosen parts (file names) come through esc() first, which writes
 * theirs \x5c, so each backslash left starts an escape of the server's or
 * the runtime's (its messages write names so, and `\0asm`): one escaper,
 * applied once. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char text[LOG_LINE_MAX], line[LOG_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  size_t n = (size_t)snprintf(line, sizeof(line), "wpool serve: ");
  for (const unsigned char *p = (const unsigned char *)text; *p && n + 5 < sizeof(line); p++) {
    if (*p == '\\')
      line[n++] = '\\';
    else
      n += log_escape(*p, line + n);
  }
  line[n++] = '\n';
  log_write(STDERR_FILENO, line, n);
}

/* s as say() shows a name of the tenants': every byte but printable
 * ASCII, and the backslash, written \xHH; cut with "..." to fit cap. */
static const char *esc(const char *s, char *out, size_t cap) {
  size_t n = 0;
  char e[4];
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    size_t k = *p == '\\' ? (memcpy(e, "\\x5c", 4), 4) : log_escape(*p, e);
    if (n + k + 4 > cap) {
      memcpy(out + n, "...", 3);
      n += 3;
      break;
    }
    memcpy(out + n, e, k);
    n += k;
  }
  out[n] = 0;
  return out;
}

static const wagi_module_t *volumes_of(const wagi_loader_t *l, const char *name) {
  for (size_t i = 0; i < l->nvols; i++)
    if (l->single || !strcmp(l->vols[i].name, name)) return &l->vols[i];
  return NULL;
}

/* The version of `path` as route `name`: *out a new one, or NULL when its
 * bytes are those of `cur` (whose identity is then brought up to date).
 * 0, or WAGI_LOAD_* (wagi_file.h) with why in err. */
static int load_version(wagi_loader_t *l, const char *name, const char *path, wagi_version_t *cur,
                        wagi_version_t **out, char *err, size_t errlen) {
  uint8_t *bytes, sha[32];
  size_t len;
  wagi_identity_t id;
  char shown[1024];
  esc(path, shown, sizeof(shown));
  *out = NULL;
  int st = wagi_read_module(path, shown, &bytes, &len, &id, err, errlen);
  if (st) return st;
  wrt_sha256(bytes, len, sha);
  if (cur && !memcmp(cur->sha, sha, sizeof(sha))) {
    cur->id = id;
    free(bytes);
    return 0;
  }
  wagi_version_t *v = wagi_version_new(name, path, volumes_of(l, name));
  int rc = 0;
  if (!v) {
    snprintf(err, errlen, "%s: out of memory", shown);
    st = WAGI_LOAD_AGAIN;
  } else if ((rc = wrt_load_bytes(l->rt, path, bytes, len, &v->mod.m)) != 0) {
    /* The runtime's message names the file already, as a rule: as it is
     * (the rest is the runtime's, its names escaped already). */
    const char *e = wrt_last_error(), *at = strstr(e, path);
    if (at)
      snprintf(err, errlen, "%.*s%s%s", (int)(at - e), e, shown, at + strlen(path));
    else
      snprintf(err, errlen, "%s: %s", shown, e);
    wagi_version_free(v);
    /* Memory, address space or mappings, a system call, the pool's slots
     * (an init takes one): the host's state, not the module's. */
    st = rc == WRT_ENOMEM || rc == WRT_ESYS || rc == WRT_EEXHAUSTED ? WAGI_LOAD_AGAIN
                                                                    : WAGI_LOAD_REFUSED;
  } else {
    memcpy(v->sha, sha, sizeof(sha));
    for (int i = 0; i < 8; i++) snprintf(v->hex + 2 * i, 3, "%02x", sha[i]);
    v->id = id;
    *out = v;
  }
  free(bytes);
  return st;
}

int wagi_loader_first(wagi_loader_t *l, char *err, size_t errlen) {
  wagi_table_t *t = wagi_table_new(l->nvols);
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  size_t n = 0;
  int st = 0;
  for (; st == 0 && n < l->nvols; n++)
    st = load_version(l, l->vols[n].name, l->vols[n].path, NULL, &t->v[n], err, errlen);
  if (st) {
    for (size_t i = 0; i + 1 < n; i++) wagi_version_free(t->v[i]);
    free(t);
    return -1;
  }
  wagi_routes_publish(l->routes, t);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NAME.wasm names of the directory, sorted; -1 after a message. */
static int scan(const wagi_loader_t *l, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (l->single) {
    *out = malloc(sizeof(char *));
    if (*out && ((*out)[0] = strdup(l->base)) != NULL) *n = 1;
    return *n ? 0 : -1;
  }
  /* Opened as a descriptor first: the thread sanitizer sees a new one
   * (libuv closes sockets by a raw system call, which it does not see, so
   * a number reused after one looks shared without it). */
  int fd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d && fd >= 0) close(fd);
  if (!d) {
    char shown[1024];
    say("reload: %s: %s; nothing changed", esc(l->dir, shown, sizeof(shown)), strerror(errno));
    return -1;
  }
  char **names = malloc(WAGI_MAX_ROUTES * sizeof(char *));
  size_t k = 0;
  int st = names ? 0 : -1;
  struct dirent *e;
  while (st == 0 && (e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len <= 5 || strcmp(e->d_name + len - 5, ".wasm") != 0) continue;
    if (k == WAGI_MAX_ROUTES) {
      char shown[1024];
      say("reload: %s: more than %d modules; nothing changed", esc(l->dir, shown, sizeof(shown)),
          WAGI_MAX_ROUTES);
      st = -1;
    } else if ((names[k] = strdup(e->d_name)) == NULL) {
      st = -1;
    } else {
      k++;
    }
  }
  closedir(d);
  if (st) {
    for (size_t i = 0; i < k; i++) free(names[i]);
    free(names);
    return -1;
  }
  qsort(names, k, sizeof(char *), cmp_str);
  *out = names;
  *n = k;
  return 0;
}

static const wagi_refused_t *refused_find(const wagi_loader_t *l, const char *name) {
  size_t lo = 0, hi = l->nrefused;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(name, l->refused[mid].name);
    if (!c) return &l->refused[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* One file of a pass: *keep the version route `name` serves after it
 * (NULL: none); a refusal is recorded in `refused` (sorted: names come in
 * order). Returns true when the route changed. */
static bool pass_file(wagi_loader_t *l, const char *file, wagi_version_t *cur,
                      wagi_version_t **keep, wagi_refused_t *refused, size_t *nrefused) {
  char name[256], path[8192], err[2048], shown[1024];
  size_t fl = strlen(file);
  snprintf(name, sizeof(name), "%.*s",
           (int)(fl > 5 && !strcmp(file + fl - 5, ".wasm") ? fl - 5 : fl), file);
  if (l->single)
    snprintf(path, sizeof(path), "%s", l->target);
  else
    snprintf(path, sizeof(path), "%s/%s", l->dir, file);
  *keep = cur;
  wagi_identity_t id = {0};
  struct stat st;
  const char *why = NULL;
  int gone = 0;
  if (stat(path, &st) != 0)
    why = strerror(gone = errno);
  else
    wagi_identity_of(&st, &id);
  if (!l->single && !wagi_route_name_ok(name))
    why = "a route name takes letters, digits, '-', '_' and '.' only, at most 200";
  else if (!l->single && !strcmp(name, "metrics"))
    why = "the path /metrics is the server's own";
  if (!why && cur && wagi_same_file(&cur->id, &id)) return false;
  const wagi_refused_t *was = refused_find(l, name);
  bool again = was && wagi_same_file(&was->id, &id);
  wagi_version_t *v = NULL;
  int rc =
      why || again ? WAGI_LOAD_REFUSED : load_version(l, name, path, cur, &v, err, sizeof(err));
  if (rc == 0) {
    if (!v) return false; /* the same bytes */
    say("reload: /%s -> version %s (%s)", l->single ? "" : name, v->hex,
        esc(path, shown, sizeof(shown)));
    *keep = v;
    return true;
  }
  /* Removed since the directory was read (no name left: a dangling link
   * is a failure): its route goes, as it would at the next pass (one
   * module keeps serving: a failure, below). */
  struct stat link;
  if (!l->single && (gone == ENOENT || rc == WAGI_LOAD_GONE) && lstat(path, &link) != 0 &&
      errno == ENOENT) {
    *keep = NULL;
    return false;
  }
  if (!again) {
    atomic_fetch_add(&l->routes->failures, 1);
    const char *next = rc == WAGI_LOAD_AGAIN ? "; tried again at the next pass" : "";
    if (why)
      say("reload: %s: %s; %s%s%s", esc(path, shown, sizeof(shown)), why,
          cur ? "keeps serving version " : "not served", cur ? cur->hex : "", next);
    else
      say("reload: %s; %s%s%s", err, cur ? "keeps serving version " : "not served",
          cur ? cur->hex : "", next);
  }
  /* Not tried again while the file is as it was (a failure of the host's
   * is: the next pass tries it, file changed or not). */
  if (rc == WAGI_LOAD_AGAIN) return false;
  char *copy = strdup(name);
  if (copy) refused[(*nrefused)++] = (wagi_refused_t){.name = copy, .id = id};
  return false;
}

static int cmp_version(const void *a, const void *b) {
  return strcmp((*(wagi_version_t *const *)a)->mod.name, (*(wagi_version_t *const *)b)->mod.name);
}

static int cmp_refused(const void *a, const void *b) {
  return strcmp(((const wagi_refused_t *)a)->name, ((const wagi_refused_t *)b)->name);
}

static void pass(wagi_loader_t *l) {
  char **files;
  size_t n;
  if (scan(l, &files, &n)) {
    atomic_fetch_add(&l->routes->failures, 1);
    return;
  }
  const wagi_table_t *cur = atomic_load(&l->routes->current);
  wagi_table_t *t = wagi_table_new(n);
  wagi_refused_t *refused = calloc(n ? n : 1, sizeof(*refused));
  size_t nnext = 0, nrefused = 0, changed = 0;
  /* A stop ends the pass between two files (a load in progress ends
   * first, or the process ends with it: wagi_loader_stop). */
  for (size_t i = 0; t && refused && i < n && !atomic_load(&l->stop); i++) {
    wagi_version_t *was = l->single ? (cur && cur->n ? cur->v[0] : NULL)
                                    : wagi_table_find(cur, files[i], strlen(files[i]) - 5);
    wagi_version_t *keep;
    changed += pass_file(l, files[i], was, &keep, refused, &nrefused);
    if (keep) t->v[nnext++] = keep;
  }
  if (t && refused && atomic_load(&l->stop)) {
    /* Nothing is published after a stop began: what this pass loaded goes. */
    for (size_t i = 0; i < nnext; i++)
      if (!cur || wagi_table_find(cur, t->v[i]->mod.name, strlen(t->v[i]->mod.name)) != t->v[i])
        wagi_version_free(t->v[i]);
    free(t);
    t = NULL;
    changed = 0;
    for (size_t i = 0; i < nrefused; i++) free(refused[i].name);
    nrefused = 0;
    say("reload: stopping; the pass is abandoned, nothing changed");
  } else if (!t || !refused) {
    say("reload: out of memory; nothing changed");
    atomic_fetch_add(&l->routes->failures, 1);
    free(t);
    t = NULL;
  } else {
    /* Routes by name ("a" before "a-b", whose files sort the other way). */
    t->n = nnext;
    qsort(t->v, nnext, sizeof(t->v[0]), cmp_version);
    qsort(refused, nrefused, sizeof(*refused), cmp_refused);
    for (size_t i = 0; cur && i < cur->n; i++) {
      const char *name = cur->v[i]->mod.name;
      if (wagi_table_find(t, name, strlen(name))) continue;
      say("reload: /%s removed (version %s)", name, cur->v[i]->hex);
      changed++;
    }
  }
  if (t && changed) {
    /* A version carried over gains the new table's reference. */
    for (size_t i = 0; i < t->n; i++)
      if (wagi_table_find(cur, t->v[i]->mod.name, strlen(t->v[i]->mod.name)) == t->v[i])
        atomic_fetch_add(&t->v[i]->refs, 1);
    wagi_routes_publish(l->routes, t);
  } else {
    free(t); /* nothing new in it */
  }
  for (size_t i = 0; i < l->nrefused; i++) free(l->refused[i].name);
  free(l->refused);
  l->refused = refused;
  l->nrefused = refused ? nrefused : 0;
  for (size_t i = 0; i < n; i++) free(files[i]);
  free(files);
  wagi_routes_reap(l->routes);
}

void wagi_loader_pass(wagi_loader_t *l) {
  pass(l);
  /* Counted once done: a pass counted has published what it found. */
  atomic_fetch_add(&l->routes->reloads, 1);
}
