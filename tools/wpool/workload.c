#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"
#include "status.h"
#include "text.h"

const char workload_default_text[] =
    "# The default workload of `wpool run`: a multi-tenant mix.\n"
    "modules 200\n"
    "zipf 1.0\n"
    "instances 300000\n"
    "threads 2\n"
    "concurrency 16\n"
    "dirty_pages 8\n"
    "table_sets 10\n"
    "pattern near\n"
    "memory_pages 160\n"
    "image 64KiB\n"
    "table_elements 10000\n"
    "state 4KiB\n"
    "seed 1\n";

void workload_defaults(workload_t *w) {
  memset(w, 0, sizeof(*w));
  snprintf(w->name, sizeof(w->name), "workload");
  w->modules = 100;
  w->zipf = 1.0;
  w->instances = 100000;
  w->threads = 1;
  w->concurrency = 16;
  w->dirty_pages = 8;
  w->table_sets = 10;
  w->memory_pages = 160;
  w->image_bytes = 64 * 1024;
  w->table_elements = 10000;
  w->state_bytes = 4096;
  w->seed = 1;
}

void workload_free(workload_t *w) {
  free(w->events);
  w->events = NULL;
  w->nevents = 0;
}

static bool add_event(workload_t *w, trace_event_t ev, size_t *cap) {
  if (w->nevents == *cap) {
    size_t ncap = *cap ? *cap * 2 : 1024;
    trace_event_t *e = realloc(w->events, ncap * sizeof(*e));
    if (!e) return false;
    w->events = e;
    *cap = ncap;
  }
  w->events[w->nevents++] = ev;
  return true;
}

static int parse(workload_t *w, const char *text, size_t textlen, char *err, size_t errlen);

/* On failure nothing stays allocated. */
int workload_parse(workload_t *w, const char *text, size_t len, char *err, size_t errlen) {
  int status = parse(w, text, len, err, errlen);
  if (status != TOOL_OK) workload_free(w);
  return status;
}

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Split `line` in place into at most `max` words; return how many there
 * are (max + 1 when there are more). */
static int split(char *line, char **words, int max) {
  int n = 0;
  for (char *p = line;;) {
    while (is_space(*p)) p++;
    if (!*p) return n;
    if (n == max) return max + 1;
    words[n++] = p;
    while (*p && !is_space(*p)) p++;
    if (*p) *p++ = '\0';
  }
}

static int parse(workload_t *w, const char *text, size_t textlen, char *err, size_t errlen) {
  char line[512], e[160];
  unsigned long lineno = 0;
  size_t cap = 0;
  bool trace = false;
  uint64_t last_time = 0, max_module = 0;
  const char *p = text, *end = text + textlen;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    lineno++;
    size_t nul = text_nul_column(p, len);
    if (nul) {
      snprintf(err, errlen, "line %lu: a NUL byte at column %zu", lineno, nul);
      return TOOL_BAD_INPUT;
    }
    if (len >= sizeof(line)) {
      snprintf(err, errlen, "line %lu: longer than %zu characters", lineno, sizeof(line) - 1);
      return TOOL_BAD_INPUT;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    p = nl ? nl + 1 : end;
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *words[4];
    int n = split(line, words, 4);
    if (n == 0) continue;
    const char *key = words[0], *v1 = n > 1 ? words[1] : "", *v2 = n > 2 ? words[2] : "",
               *v3 = n > 3 ? words[3] : "";
    if (trace) {
      uint64_t t, m, life, pages;
      if (n != 4 || !parse_count(key, UINT64_MAX, &t) || !parse_count(v1, 1000000, &m) ||
          !parse_count(v2, UINT64_MAX, &life) || !parse_count(v3, WORKLOAD_MAX_DIRTY, &pages)) {
        snprintf(err, errlen,
                 "line %lu: a trace line is TIME MODULE LIFETIME PAGES (module <= 1000000, "
                 "pages <= %d)",
                 lineno, WORKLOAD_MAX_DIRTY);
        return TOOL_BAD_INPUT;
      }
      uint64_t until;
      if (__builtin_add_overflow(t, life, &until)) {
        snprintf(err, errlen, "line %lu: time %llu + lifetime %llu is past 2^64 - 1", lineno,
                 (unsigned long long)t, (unsigned long long)life);
        return TOOL_BAD_INPUT;
      }
      if (t < last_time) {
        snprintf(err, errlen, "line %lu: time %llu goes back (trace times must not decrease)",
                 lineno, (unsigned long long)t);
        return TOOL_BAD_INPUT;
      }
      last_time = t;
      if (m > max_module) max_module = m;
      if (!add_event(w, (trace_event_t){t, (uint32_t)m, life, (uint32_t)pages}, &cap)) {
        snprintf(err, errlen, "line %lu: out of memory", lineno);
        return TOOL_FAILED;
      }
      continue;
    }
    if (!strcmp(key, "trace") && n == 1) {
      trace = true;
      continue;
    }
    if (n != 2) {
      snprintf(err, errlen, "line %lu: expected 'KEY VALUE' or 'trace'", lineno);
      return TOOL_BAD_INPUT;
    }
    uint64_t v = 0;
    bool ok = true;
    if (!strcmp(key, "modules")) {
      ok = parse_count(v1, 1000000, &v) && v > 0;
      w->modules = (uint32_t)v;
    } else if (!strcmp(key, "zipf")) {
      char *end;
      errno = 0;
      w->zipf = strtod(v1, &end);
      ok = !*end && !errno && w->zipf >= 0 && w->zipf <= 10;
    } else if (!strcmp(key, "instances")) {
      ok = parse_count(v1, 1000000000000ull, &v) && v > 0;
      w->instances = v;
    } else if (!strcmp(key, "threads")) {
      ok = parse_count(v1, 64, &v) && v > 0;
      w->threads = (uint32_t)v;
    } else if (!strcmp(key, "concurrency")) {
      ok = parse_count(v1, 100000, &v) && v > 0;
      w->concurrency = (uint32_t)v;
    } else if (!strcmp(key, "dirty_pages")) {
      ok = parse_count(v1, WORKLOAD_MAX_DIRTY / 2, &v);
      w->dirty_pages = (uint32_t)v;
    } else if (!strcmp(key, "table_sets")) {
      ok = parse_count(v1, 1000000, &v);
      w->table_sets = (uint32_t)v;
    } else if (!strcmp(key, "pattern")) {
      ok = !strcmp(v1, "near") || !strcmp(v1, "spread");
      w->spread = !strcmp(v1, "spread");
    } else if (!strcmp(key, "memory_pages")) {
      ok = parse_count(v1, 65536, &v) && v > 0;
      w->memory_pages = v;
    } else if (!strcmp(key, "image")) {
      ok = parse_size(v1, &v);
      w->image_bytes = v;
    } else if (!strcmp(key, "table_elements")) {
      ok = parse_count(v1, UINT32_MAX, &v);
      w->table_elements = (uint32_t)v;
    } else if (!strcmp(key, "state")) {
      ok = parse_size(v1, &v);
      w->state_bytes = v;
    } else if (!strcmp(key, "seed")) {
      ok = parse_count(v1, UINT64_MAX, &v);
      w->seed = v;
    } else if (!strcmp(key, "config")) {
      wpool_config_t probe;
      wpool_config_init(&probe);
      if (w->nconfig == WORKLOAD_MAX_CONFIG) {
        snprintf(err, errlen, "line %lu: more than %d config lines", lineno, WORKLOAD_MAX_CONFIG);
        return TOOL_BAD_INPUT;
      }
      if (strlen(v1) >= sizeof(w->config[0])) {
        snprintf(err, errlen, "line %lu: config '%s' is longer than %zu characters", lineno,
                 text_quote(v1, strlen(v1)).s, sizeof(w->config[0]) - 1);
        return TOOL_BAD_INPUT;
      }
      if (!config_set_pair(&probe, v1, e, sizeof(e))) {
        snprintf(err, errlen, "line %lu: %s", lineno, e);
        return TOOL_BAD_INPUT;
      }
      snprintf(w->config[w->nconfig++], sizeof(w->config[0]), "%s", v1);
    } else {
      snprintf(err, errlen, "line %lu: unknown key '%s'", lineno, text_quote(key, strlen(key)).s);
      return TOOL_BAD_INPUT;
    }
    if (!ok) {
      snprintf(err, errlen, "line %lu: bad value '%s' for %s", lineno,
               text_quote(v1, strlen(v1)).s, key);
      return TOOL_BAD_INPUT;
    }
  }
  if (w->image_bytes > w->memory_pages * 65536) {
    snprintf(err, errlen, "image (%llu bytes) is larger than memory_pages (%llu pages)",
             (unsigned long long)w->image_bytes, (unsigned long long)w->memory_pages);
    return TOOL_BAD_INPUT;
  }
  if (trace) {
    if (!w->nevents) {
      snprintf(err, errlen, "line %lu: a trace with no instantiations", lineno);
      return TOOL_BAD_INPUT;
    }
    w->modules = (uint32_t)max_module + 1;
    w->instances = w->nevents;
  }
  return TOOL_OK;
}

/* Read a whole workload file into a malloc'd buffer: anything readable but
 * a directory, as every Unix tool reads it (a regular file, a pipe,
 * /dev/null as empty input, any character device), up to
 * WORKLOAD_MAX_BYTES. A regular file's size is checked before reading;
 * anything else is read until it ends or gives more than the bound. */
static int read_workload(const char *path, char **text, size_t *len, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return TOOL_BAD_INPUT;
  }
  if (S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: a directory, not a workload file", path);
    close(fd);
    return TOOL_BAD_INPUT;
  }
  bool regular = S_ISREG(st.st_mode);
  bool too_large = regular && (uint64_t)st.st_size > WORKLOAD_MAX_BYTES;
  int status = too_large ? TOOL_BAD_INPUT : TOOL_OK; /* refused before reading */
  size_t cap = regular && !too_large ? (size_t)st.st_size + 1 : 65536, n = 0;
  char *buf = too_large ? NULL : malloc(cap);
  /* Read to the end, whatever the size said: a file may change meanwhile. */
  while (status == TOOL_OK) {
    if (!buf) {
      snprintf(err, errlen, "%s: out of memory", path);
      status = TOOL_FAILED;
      break;
    }
    if (n == cap) {
      if (cap > WORKLOAD_MAX_BYTES) {
        too_large = true;
        status = TOOL_BAD_INPUT;
        break;
      }
      size_t ncap = cap * 2 > WORKLOAD_MAX_BYTES + 1 ? WORKLOAD_MAX_BYTES + 1 : cap * 2;
      char *b = realloc(buf, ncap);
      if (!b) free(buf);
      buf = b;
      cap = ncap;
      continue;
    }
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
      status = TOOL_BAD_INPUT;
      break;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  close(fd);
  if (status == TOOL_OK) {
    *text = buf;
    *len = n;
    return TOOL_OK;
  }
  free(buf);
  if (too_large)
    snprintf(err, errlen, "%s: larger than a workload may be (%llu bytes)", path,
             (unsigned long long)WORKLOAD_MAX_BYTES);
  return status;
}

int workload_load(workload_t *w, const char *path, char *err, size_t errlen) {
  char *text;
  size_t len;
  int status = read_workload(path, &text, &len, err, errlen);
  if (status != TOOL_OK) return status;
  char e[256];
  status = workload_parse(w, text, len, e, sizeof(e));
  free(text);
  if (status != TOOL_OK) snprintf(err, errlen, "%s: %s", path, e);
  const char *base = strrchr(path, '/');
  snprintf(w->name, sizeof(w->name), "%s", base ? base + 1 : path);
  return status;
}

bool workload_apply_config(const workload_t *w, wpool_config_t *cfg, char *err, size_t errlen) {
  for (int i = 0; i < w->nconfig; i++)
    if (!config_set_pair(cfg, w->config[i], err, errlen)) return false;
  return true;
}
