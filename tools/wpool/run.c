/* The workload engine: threads that instantiate modules, play the guest,
 * and free instances when their lifetime ends, on wpool or on the
 * on-demand baseline; a monitor that samples resident memory and shows
 * progress; and the report.
 *
 * Each thread takes its share of the arrivals. A generated workload
 * arrives one instantiation per step, for a module drawn from a Zipf
 * distribution, with a lifetime drawn from an exponential distribution of
 * mean `concurrency` steps (so about `concurrency` instances are live per
 * thread); a trace gives times, modules and lifetimes. Before each arrival,
 * the instances whose lifetime has ended are freed (a min-heap by expiry).
 * The cycle latency of an instance is the time spent in its creation, in
 * the guest's writes (where page faults land) and in its free. */
#include "measure.h"
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ondemand.h"
#include "options.h"
#include "status.h"
#include "svg.h"

#define HP 4096ull

static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* ---- histogram: 16 sub-buckets per power of two ------------------------ */

static int hist_index(uint64_t v) {
  if (v < 16) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  return msb * 16 + (int)((v >> (msb - 4)) & 15);
}

uint64_t hist_lower(int i) {
  if (i < 16) return (uint64_t)i;
  int msb = i / 16, sub = i % 16;
  return (uint64_t)(16 + sub) << (msb - 4);
}

static uint64_t hist_quantile(const uint64_t *h, double q) {
  uint64_t total = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) total += h[i];
  if (!total) return 0;
  uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    seen += h[i];
    if (seen >= want) return hist_lower(i + 1 < HIST_BUCKETS ? i + 1 : i);
  }
  return hist_lower(HIST_BUCKETS - 1);
}

/* ---- shared state -------------------------------------------------------- */

typedef struct live {
  uint64_t expiry;
  uint64_t cost_ns;
  wpool_instance_t *inst;
  ondemand_instance_t od;
  uint32_t module;
} live_t;

typedef struct shared {
  const workload_t *w;
  const run_opts_t *o;
  uint32_t threads;
  uint64_t instances;
  wpool_t *pool;
  wpool_module_t **mods;
  ondemand_module_t *od;
  double *cdf;
  uint32_t made; /* modules made, in mods or od */
  _Atomic uint64_t done;
  _Atomic uint32_t finished;
  _Atomic uint64_t exhausted, wrong;
  _Atomic int failed;
  uint64_t deadline_ns; /* a soak's end; 0 otherwise */
  uint64_t floor_ns;    /* run_opts_t.min_s's end: go on past the share until then; 0: none */
  char failure[160];
  pthread_mutex_t failure_lock;
} shared_t;

typedef struct worker {
  shared_t *s;
  uint32_t id;
  pthread_t thread;
  live_t *heap;
  size_t nheap, cap;
  uint64_t hist[HIST_BUCKETS];
  uint64_t free_hist[HIST_BUCKETS];
  uint64_t faults;
  uint64_t cpu_ns; /* this thread's user + system time over its share */
  uint64_t end_ns; /* when this thread finished its share */
  uint64_t rng;
} worker_t;

static uint64_t next_rand(worker_t *k) {
  k->rng ^= k->rng << 13;
  k->rng ^= k->rng >> 7;
  k->rng ^= k->rng << 17;
  return k->rng;
}

static void fail(shared_t *s, const char *fmt, const char *what, int code) {
  pthread_mutex_lock(&s->failure_lock);
  if (!atomic_load(&s->failed)) snprintf(s->failure, sizeof(s->failure), fmt, what, code);
  atomic_store(&s->failed, 1);
  pthread_mutex_unlock(&s->failure_lock);
}

static void heap_push(worker_t *k, live_t e) {
  size_t i = k->nheap++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (k->heap[parent].expiry <= e.expiry) break;
    k->heap[i] = k->heap[parent];
    i = parent;
  }
  k->heap[i] = e;
}

static live_t heap_pop(worker_t *k) {
  live_t top = k->heap[0], last = k->heap[--k->nheap];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= k->nheap) break;
    if (c + 1 < k->nheap && k->heap[c + 1].expiry < k->heap[c].expiry) c++;
    if (last.expiry <= k->heap[c].expiry) break;
    k->heap[i] = k->heap[c];
    i = c;
  }
  if (k->nheap) k->heap[i] = last;
  return top;
}

/* ---- the guest ------------------------------------------------------------ */

static uint8_t image_byte(uint32_t m) { return (uint8_t)((m * 37 + 11) | 1); }

/* Page of the k-th dirty position of module m, in host pages. */
static uint64_t dirty_page(const workload_t *w, uint32_t m, uint32_t k) {
  uint64_t h = mix(w->seed * 0x9e3779b97f4a7c15ull ^ ((uint64_t)m << 20) ^ k);
  uint64_t mem_pages = w->memory_pages * 16, img_pages = (w->image_bytes + HP - 1) / HP;
  if (w->spread) {
    if (k % 2 == 0 && img_pages) return h % img_pages;
    return h % mem_pages;
  }
  uint64_t lo = img_pages, range = mem_pages > lo ? mem_pages - lo : 0;
  if (range == 0) return h % mem_pages;
  if (range > 256) range = 256;
  return lo + h % range;
}

/* Check what a new tenant sees (a sample), then write like a guest. */
static void guest(worker_t *k, uint32_t m, uint32_t pages, uint8_t *mem, void **table,
                  uint8_t *state) {
  const workload_t *w = k->s->w;
  bool wrong = false;
  if (w->image_bytes && mem[0] != image_byte(m)) wrong = true;
  uint64_t probe = dirty_page(w, m, w->spread ? 1 : 0) * HP + 64;
  if (probe >= w->image_bytes && *(volatile uint64_t *)(mem + probe) != 0) wrong = true;
  if (w->table_elements && table[mix(m) % w->table_elements]) wrong = true;
  if (w->state_bytes && state[0]) wrong = true;
  if (wrong) atomic_fetch_add(&k->s->wrong, 1);
  for (uint32_t i = 0; i < pages; i++)
    *(volatile uint64_t *)(mem + dirty_page(w, m, i) * HP + 64) = next_rand(k) | 1;
  for (uint32_t i = 0; i < w->table_sets && w->table_elements; i++)
    table[mix(m + i) % w->table_elements] = mem;
  if (w->state_bytes) memset(state, 0xab, w->state_bytes);
}

/* ---- instances -------------------------------------------------------------- */

static void release_live(worker_t *k, live_t *e) {
  uint64_t t0 = now_ns();
  if (e->inst)
    wpool_instance_free(e->inst);
  else
    ondemand_free(&k->s->od[e->module], &e->od);
  uint64_t freeing = now_ns() - t0;
  k->free_hist[hist_index(freeing)]++;
  k->hist[hist_index(e->cost_ns + freeing)]++;
  atomic_fetch_add_explicit(&k->s->done, 1, memory_order_relaxed);
}

/* Create an instance of module m and play the guest; false on a fatal error. */
static bool arrive(worker_t *k, uint32_t m, uint64_t expiry, uint32_t pages) {
  shared_t *s = k->s;
  live_t e = {.expiry = expiry, .module = m};
  uint64_t t0;
  for (;;) {
    t0 = now_ns();
    int err;
    if (s->pool) {
      err = wpool_instance_new(s->pool, s->mods[m], &e.inst);
    } else {
      int r = ondemand_new(&s->od[m], &e.od);
      err = r == -ENOMEM ? WPOOL_ENOMEM : r ? WPOOL_ESYS : 0;
    }
    if (!err) break;
    if (err != WPOOL_EEXHAUSTED) {
      fail(s, "instantiation failed: %s (%d)", s->pool ? wpool_last_error() : "mmap", err);
      return false;
    }
    /* Every slot is in use: end the instance that ends first, or wait for
     * another thread to free one. */
    atomic_fetch_add(&s->exhausted, 1);
    if (k->nheap) {
      live_t old = heap_pop(k);
      release_live(k, &old);
    } else {
      sched_yield();
    }
    if (atomic_load(&s->failed)) return false;
  }
  uint64_t t1 = now_ns();
  if (e.inst)
    guest(k, m, pages, wpool_memory_base(e.inst, 0), wpool_table_base(e.inst, 0),
          wpool_instance_state(e.inst));
  else
    guest(k, m, pages, e.od.base, e.od.table, e.od.state);
  e.cost_ns = (t1 - t0) + (now_ns() - t1);
  if (k->nheap == k->cap) {
    live_t old = heap_pop(k);
    release_live(k, &old);
  }
  heap_push(k, e);
  return true;
}

static uint32_t pick_module(worker_t *k) {
  const shared_t *s = k->s;
  double u = (double)(next_rand(k) >> 11) / 9007199254740992.0;
  uint32_t lo = 0, hi = s->w->modules - 1;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (s->cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void *worker_main(void *arg) {
  worker_t *k = arg;
  shared_t *s = k->s;
  const workload_t *w = s->w;
  struct rusage ru0, ru1;
  getrusage(RUSAGE_THREAD, &ru0);
  if (w->events) {
    /* A trace: this thread's share is the events whose module maps to it,
     * in time order. */
    for (size_t i = 0; i < w->nevents && !atomic_load(&s->failed); i++) {
      const trace_event_t *ev = &w->events[i];
      if (ev->module % s->threads != k->id) continue;
      while (k->nheap && k->heap[0].expiry <= ev->time) {
        live_t old = heap_pop(k);
        release_live(k, &old);
      }
      if (!arrive(k, ev->module, ev->time + ev->lifetime, ev->pages)) break;
    }
  } else {
    uint64_t share = s->instances / s->threads + (k->id < s->instances % s->threads);
    if (s->deadline_ns) share = UINT64_MAX; /* a soak: until the deadline */
    for (uint64_t step = 0; !atomic_load(&s->failed); step++) {
      if (step >= share && (!s->floor_ns || ((step & 255) == 0 && now_ns() >= s->floor_ns))) break;
      if (s->deadline_ns && (step & 255) == 0 && now_ns() >= s->deadline_ns) break;
      while (k->nheap && k->heap[0].expiry <= step) {
        live_t old = heap_pop(k);
        release_live(k, &old);
      }
      uint32_t m = pick_module(k);
      double u = ((double)(next_rand(k) >> 11) + 1) / 9007199254740993.0;
      uint64_t life = (uint64_t)ceil(-log(u) * w->concurrency);
      uint32_t pages = w->dirty_pages ? (uint32_t)(next_rand(k) % (2 * w->dirty_pages)) + 1 : 0;
      if (!arrive(k, m, step + life, pages)) break;
    }
  }
  while (k->nheap) {
    live_t old = heap_pop(k);
    release_live(k, &old);
  }
  getrusage(RUSAGE_THREAD, &ru1);
  k->faults = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt);
#define TV_NS(tv) ((uint64_t)(tv).tv_sec * 1000000000u + (uint64_t)(tv).tv_usec * 1000u)
  k->cpu_ns = TV_NS(ru1.ru_utime) + TV_NS(ru1.ru_stime) - TV_NS(ru0.ru_utime) - TV_NS(ru0.ru_stime);
#undef TV_NS
  k->end_ns = now_ns();
  atomic_fetch_add(&s->finished, 1);
  return NULL;
}

/* ---- resident memory ------------------------------------------------------- */

static uint64_t rss_anon_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned long long kb = 0;
  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "RssAnon: %llu kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb * 1024;
}

static uint64_t sample_resident(shared_t *s, uint64_t baseline) {
  if (s->pool) {
    uint64_t b = 0;
    if (wpool_resident_bytes(s->pool, &b) == 0) return b;
  }
  uint64_t r = rss_anon_bytes();
  return r > baseline ? r - baseline : 0;
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  if (d) closedir(d);
  return n - 1; /* the directory's own descriptor */
}

static void show_progress(shared_t *s, uint64_t t0, bool final) {
  uint64_t done = atomic_load(&s->done), total = s->instances;
  double secs = (double)(now_ns() - t0) / 1e9, pct = total ? 100.0 * done / total : 100;
  if (s->deadline_ns) pct = 100.0 * (double)(now_ns() - t0) / (double)(s->deadline_ns - t0);
  if (pct > 100) pct = 100;
  if (isatty(2)) {
    int bar = (int)(pct / 2.5);
    fprintf(stderr, "\r%-8s [%-40.*s] %5.1f%%  %9.0f inst/s", s->pool ? "wpool" : "ondemand",
            bar, "########################################", pct, secs > 0 ? done / secs : 0);
    if (final) fputc('\n', stderr);
  } else {
    fprintf(stderr, "%s: %.0f%% (%llu instantiations, %.1f s)\n", s->pool ? "wpool" : "ondemand",
            pct, (unsigned long long)done, secs);
  }
}

/* ---- setup and teardown ---------------------------------------------------- */

/* Make the workload's modules; return TOOL_OK, TOOL_BAD_INPUT when a module
 * does not fit the configuration, or TOOL_FAILED. */
static int make_modules(shared_t *s, char *err, size_t errlen) {
  const workload_t *w = s->w;
  uint8_t *image = malloc(w->image_bytes ? w->image_bytes : 1);
  if (!image) goto oom;
  if (s->pool) {
    s->mods = calloc(w->modules, sizeof(*s->mods));
    if (!s->mods) goto oom;
  } else {
    s->od = calloc(w->modules, sizeof(*s->od));
    if (!s->od) goto oom;
  }
  for (uint32_t m = 0; m < w->modules; m++) {
    memset(image, image_byte(m), w->image_bytes);
    if (s->pool) {
      wpool_data_segment_t seg = {.offset = 0, .bytes = image, .len = w->image_bytes};
      wpool_memory_desc_t mem = {.min_pages = w->memory_pages, .max_pages = w->memory_pages,
                                 .segments = &seg, .nsegments = w->image_bytes ? 1 : 0};
      wpool_table_desc_t table = {.min_elements = w->table_elements,
                                  .max_elements = w->table_elements};
      wpool_module_desc_t d = {.state_size = w->state_bytes, .memories = &mem, .nmemories = 1,
                               .tables = &table, .ntables = 1};
      int e = wpool_module_new(s->pool, &d, &s->mods[m]);
      if (e != 0) {
        snprintf(err, errlen, "module %u: %s", m, wpool_last_error());
        free(image);
        return e == WPOOL_ELIMIT || e == WPOOL_EINVAL ? TOOL_BAD_INPUT : TOOL_FAILED;
      }
    } else if (ondemand_module_init(&s->od[m], image, w->image_bytes, w->memory_pages * 65536,
                                    w->table_elements, w->state_bytes) != 0) {
      snprintf(err, errlen, "module %u: cannot build its memfd image", m);
      free(image);
      return TOOL_FAILED;
    }
    s->made = m + 1;
  }
  free(image);
  return TOOL_OK;
oom:
  free(image);
  snprintf(err, errlen, "out of memory for %u modules", w->modules);
  return TOOL_FAILED;
}

static void free_modules(shared_t *s) {
  for (uint32_t m = 0; m < s->made; m++) {
    if (s->mods) wpool_module_release(s->mods[m]);
    if (s->od) ondemand_module_fini(&s->od[m]);
  }
  free(s->mods);
  free(s->od);
}

int run_workload(const wpool_config_t *cfg, const workload_t *w, const run_opts_t *o,
                 run_report_t *r, char *err, size_t errlen) {
  memset(r, 0, sizeof(*r));
  shared_t s = {.w = w, .o = o};
  pthread_mutex_init(&s.failure_lock, NULL);
  s.threads = o->threads ? o->threads : w->threads;
  s.instances = w->events ? w->nevents : (o->instances ? o->instances : w->instances);
  r->allocator = o->allocator == RUN_WPOOL ? "wpool" : "ondemand";
  r->threads = s.threads;
  if (o->allocator == RUN_WPOOL) {
    int e = wpool_create(cfg, &s.pool);
    if (e != 0) {
      snprintf(err, errlen, "wpool_create: %s", wpool_last_error());
      pthread_mutex_destroy(&s.failure_lock);
      return e == WPOOL_EINVAL ? TOOL_BAD_INPUT : TOOL_FAILED;
    }
  }
  /* Zipf(s) over the modules: P(k) proportional to 1 / (k + 1)^s. */
  int status = TOOL_FAILED;
  s.cdf = malloc(sizeof(double) * w->modules);
  if (!s.cdf) snprintf(err, errlen, "out of memory for %u modules", w->modules);
  else status = make_modules(&s, err, errlen);
  bool ok = status == TOOL_OK;
  if (ok) {
    double sum = 0, acc = 0;
    for (uint32_t m = 0; m < w->modules; m++) sum += pow(m + 1, -w->zipf);
    for (uint32_t m = 0; m < w->modules; m++) s.cdf[m] = (acc += pow(m + 1, -w->zipf) / sum);
  }
  worker_t *k = ok ? calloc(s.threads, sizeof(*k)) : NULL;
  if (ok && !k) {
    snprintf(err, errlen, "out of memory for %u threads", s.threads);
    status = TOOL_FAILED;
    ok = false;
  }
  uint32_t started = 0;
  uint64_t baseline = rss_anon_bytes(), t0 = now_ns();
  if (o->duration_s > 0 && !w->events) {
    s.deadline_ns = t0 + (uint64_t)(o->duration_s * 1e9);
    r->soak = true;
  } else if (o->min_s > 0 && !w->events) {
    s.floor_ns = t0 + (uint64_t)(o->min_s * 1e9);
  }
  for (uint32_t i = 0; ok && i < s.threads; i++) {
    k[i] = (worker_t){.s = &s, .id = i, .rng = mix(w->seed + i + 1) | 1};
    k[i].cap = (size_t)w->concurrency * 16 + 64;
    k[i].heap = malloc(k[i].cap * sizeof(live_t));
    int e = k[i].heap ? pthread_create(&k[i].thread, NULL, worker_main, &k[i]) : ENOMEM;
    if (e != 0) {
      snprintf(err, errlen, "cannot start thread %u: %s", i, strerror(e));
      atomic_store(&s.failed, 1);
      status = TOOL_FAILED;
      ok = false;
      break;
    }
    started++;
  }
  uint64_t sample = o->sample_ms ? o->sample_ms : 100, last_progress = t0;
  while (ok && atomic_load(&s.finished) < started) {
    struct timespec ts = {0, (long)(sample * 1000000 < 1000000000 ? sample * 1000000 : 999999999)};
    nanosleep(&ts, NULL);
    uint64_t b = sample_resident(&s, baseline);
    if (b > r->peak_resident) r->peak_resident = b;
    if (r->ntimeline < TIMELINE_MAX) {
      r->timeline_s[r->ntimeline] = (double)(now_ns() - t0) / 1e9;
      r->timeline_fds[r->ntimeline] = count_fds();
      r->timeline_bytes[r->ntimeline++] = (double)b;
    }
    if (o->progress && (isatty(2) || now_ns() - last_progress > 2000000000ull)) {
      show_progress(&s, t0, false);
      last_progress = now_ns();
    }
  }
  /* The run ends when its last thread does, not at the sampling loop's
   * next tick (100 ms), which short runs would be rounded up to. */
  uint64_t end = t0;
  for (uint32_t i = 0; i < started; i++) {
    pthread_join(k[i].thread, NULL);
    if (k[i].end_ns > end) end = k[i].end_ns;
  }
  r->seconds = (double)((end > t0 ? end : now_ns()) - t0) / 1e9;
  if (o->progress && ok) show_progress(&s, t0, true);
  if (atomic_load(&s.failed) && ok) {
    snprintf(err, errlen, "%s", s.failure);
    status = TOOL_FAILED;
    ok = false;
  }
  if (ok) {
    uint64_t faults = 0, cpu = 0;
    for (uint32_t i = 0; i < started; i++) {
      for (int b = 0; b < HIST_BUCKETS; b++) {
        r->hist[b] += k[i].hist[b];
        r->free_hist[b] += k[i].free_hist[b];
      }
      faults += k[i].faults;
      cpu += k[i].cpu_ns;
    }
    r->instances = atomic_load(&s.done);
    r->rate = r->instances / r->seconds;
    r->p50_ns = hist_quantile(r->hist, 0.50);
    r->p99_ns = hist_quantile(r->hist, 0.99);
    r->p999_ns = hist_quantile(r->hist, 0.999);
    r->max_ns = hist_quantile(r->hist, 1.0);
    r->free_p50_ns = hist_quantile(r->free_hist, 0.50);
    r->free_p99_ns = hist_quantile(r->free_hist, 0.99);
    r->final_resident = sample_resident(&s, baseline);
    if (r->final_resident > r->peak_resident) r->peak_resident = r->final_resident;
    r->faults_per_instance = r->instances ? (double)faults / r->instances : 0;
    r->cpu_us_per_instance = r->instances ? (double)cpu / 1e3 / r->instances : 0;
    r->exhausted = atomic_load(&s.exhausted);
    r->wrong_bytes = atomic_load(&s.wrong);
    if (s.pool) {
      wpool_stats_t st;
      wpool_stats_get(s.pool, &st);
      uint64_t lookups = st.affine_hits + st.affine_misses;
      r->affine_hit_rate = lookups ? (double)st.affine_hits / lookups : 0;
      r->slots_used = (int64_t)(cfg->instance_count - st.cold_slots);
      r->memfds_live = (int64_t)st.images_live;
      r->madvise_per_instance = r->instances ? (double)st.madvise_calls / r->instances : 0;
      r->scans_per_instance = r->instances ? (double)st.dirty_scans / r->instances : 0;
      r->proved_per_instance = r->instances ? (double)st.resets_proved / r->instances : 0;
      r->stats = st;
      uint64_t probe;
      r->resident_source = wpool_resident_bytes(s.pool, &probe) == 0
                               ? "private bytes of the pools (wpool_resident_bytes)"
                               : "growth of the process's anonymous RSS";
    } else {
      r->affine_hit_rate = -1;
      r->slots_used = -1;
      r->memfds_live = w->image_bytes ? (int64_t)w->modules : 0;
      r->madvise_per_instance = -1;
      r->resident_source = "growth of the process's anonymous RSS";
    }
  }
  for (uint32_t i = 0; k && i < s.threads; i++) free(k[i].heap);
  free(k);
  free_modules(&s);
  free(s.cdf);
  if (s.pool) wpool_destroy(s.pool);
  pthread_mutex_destroy(&s.failure_lock);
  return ok ? TOOL_OK : status;
}

/* ---- reports ----------------------------------------------------------------- */

static void us(char *buf, size_t len, uint64_t ns) {
  if (ns >= 10000000)
    snprintf(buf, len, "%.1f ms", ns / 1e6);
  else
    snprintf(buf, len, "%.1f us", ns / 1e3);
}

void report_print(FILE *f, const run_report_t *const *rs, int n, const workload_t *w) {
  if (w->events)
    fprintf(f, "wpool run: %s (a trace of %zu instantiations, %u modules, %u threads)\n\n",
            w->name, w->nevents, w->modules, rs[0]->threads);
  else
    fprintf(f,
            "wpool run: %s (%u modules, Zipf %.2f, %llu instantiations, %u threads, about %u "
            "live per thread, %u pages dirtied on average, %s)\n\n",
            w->name, w->modules, w->zipf, (unsigned long long)rs[0]->instances, rs[0]->threads,
            w->concurrency, w->dirty_pages ? w->dirty_pages : 0, w->spread ? "spread" : "near");
  fprintf(f, "%-34s", "");
  for (int i = 0; i < n; i++) fprintf(f, "%16s", rs[i]->allocator);
  fprintf(f, "\n");
#define ROW(label, ...)                        \
  do {                                         \
    fprintf(f, "%-34s", label);                \
    for (int i = 0; i < n; i++) {              \
      const run_report_t *r = rs[i];           \
      char cell[32];                           \
      __VA_ARGS__;                             \
      fprintf(f, "%16s", cell);                \
    }                                          \
    fprintf(f, "\n");                          \
  } while (0)
  ROW("instantiations per second", snprintf(cell, sizeof(cell), "%.0f", r->rate));
  ROW("cycle latency p50", us(cell, sizeof(cell), r->p50_ns));
  ROW("cycle latency p99", us(cell, sizeof(cell), r->p99_ns));
  ROW("cycle latency p99.9", us(cell, sizeof(cell), r->p999_ns));
  ROW("free call p50", us(cell, sizeof(cell), r->free_p50_ns));
  ROW("free call p99", us(cell, sizeof(cell), r->free_p99_ns));
  ROW("affine hit rate", r->affine_hit_rate < 0 ? snprintf(cell, sizeof(cell), "-")
                                                : snprintf(cell, sizeof(cell), "%.3f",
                                                           r->affine_hit_rate));
  ROW("distinct slots used", r->slots_used < 0
                                 ? snprintf(cell, sizeof(cell), "-")
                                 : snprintf(cell, sizeof(cell), "%lld", (long long)r->slots_used));
  ROW("resident, peak", snprintf(cell, sizeof(cell), "%s", human_bytes(r->peak_resident).s));
  ROW("resident, final (all freed)",
      snprintf(cell, sizeof(cell), "%s", human_bytes(r->final_resident).s));
  ROW("memfds live", snprintf(cell, sizeof(cell), "%lld", (long long)r->memfds_live));
  ROW("madvise calls per instance", r->madvise_per_instance < 0
                                        ? snprintf(cell, sizeof(cell), "-")
                                        : snprintf(cell, sizeof(cell), "%.2f",
                                                   r->madvise_per_instance));
  ROW("page faults per instance", snprintf(cell, sizeof(cell), "%.2f", r->faults_per_instance));
  ROW("pool full, waited", snprintf(cell, sizeof(cell), "%llu", (unsigned long long)r->exhausted));
  ROW("instances that saw a stale byte",
      snprintf(cell, sizeof(cell), "%llu", (unsigned long long)r->wrong_bytes));
  ROW("seconds", snprintf(cell, sizeof(cell), "%.2f", r->seconds));
#undef ROW
  for (int i = 0; i < n; i++) {
    const run_report_t *r = rs[i];
    if (!r->soak || r->ntimeline < 4) continue;
    /* The first and the last minute, or fifths of a shorter soak. */
    double end = r->timeline_s[r->ntimeline - 1], win = end >= 180 ? 60 : end / 5;
    double b0 = 0, b1 = 0, f0 = 0, f1 = 0, n0 = 0, n1 = 0, bmax0 = 0, bmax1 = 0;
    for (size_t j = 0; j < r->ntimeline; j++) {
      double t = r->timeline_s[j], b = r->timeline_bytes[j], fd = r->timeline_fds[j];
      if (t <= win) {
        b0 += b, f0 += fd, n0++;
        if (b > bmax0) bmax0 = b;
      }
      if (t >= end - win) {
        b1 += b, f1 += fd, n1++;
        if (b > bmax1) bmax1 = b;
      }
    }
    if (!n0 || !n1) continue;
    fprintf(f,
            "soak (%s): first %.0f s: resident mean %s, max %s, %.1f descriptors; last %.0f s: "
            "resident mean %s, max %s, %.1f descriptors\n",
            r->allocator, win, human_bytes((uint64_t)(b0 / n0)).s,
            human_bytes((uint64_t)bmax0).s, f0 / n0, win,
            human_bytes((uint64_t)(b1 / n1)).s,
            human_bytes((uint64_t)bmax1).s, f1 / n1);
  }
  fprintf(f, "\nresident: %s", rs[0]->resident_source);
  for (int i = 1; i < n; i++) fprintf(f, "; %s: %s", rs[i]->allocator, rs[i]->resident_source);
  fprintf(f, "\n");
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

void report_json(FILE *f, const run_report_t *const *rs, int n, const workload_t *w,
                 const wpool_config_t *cfg) {
  fputs("{\"workload\":", f);
  json_string(f, w->name);
  fprintf(f, ",\"modules\":%u,\"threads\":%u,\"instance_count\":%u,"
             "\"max_unused_warm_slots\":%u,\"linear_memory_keep_resident\":",
          w->modules, rs[0]->threads, cfg->instance_count, cfg->max_unused_warm_slots);
  if (cfg->linear_memory_keep_resident == WPOOL_KEEP_AUTO)
    fputs("\"auto\"", f);
  else
    fprintf(f, "%zu", cfg->linear_memory_keep_resident);
  fprintf(f, ",\"reset_strategy\":%d,\"results\":[", (int)cfg->reset_strategy);
  for (int i = 0; i < n; i++) {
    const run_report_t *r = rs[i];
    fprintf(f,
            "%s{\"allocator\":\"%s\",\"instances\":%llu,\"seconds\":%.3f,\"per_second\":%.0f,"
            "\"p50_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%llu,"
            "\"free_p50_ns\":%llu,\"free_p99_ns\":%llu,",
            i ? "," : "", r->allocator, (unsigned long long)r->instances, r->seconds, r->rate,
            (unsigned long long)r->p50_ns, (unsigned long long)r->p99_ns,
            (unsigned long long)r->p999_ns, (unsigned long long)r->max_ns,
            (unsigned long long)r->free_p50_ns, (unsigned long long)r->free_p99_ns);
    if (r->affine_hit_rate >= 0)
      fprintf(f,
              "\"affine_hit_rate\":%.4f,\"slots_used\":%lld,\"madvise_per_instance\":%.3f,"
              "\"scans_per_instance\":%.3f,\"proved_per_instance\":%.3f,",
              r->affine_hit_rate, (long long)r->slots_used, r->madvise_per_instance,
              r->scans_per_instance, r->proved_per_instance);
    if (r->stats.keep_window) /* what the automatic keep set learnt and judged by */
      fprintf(f,
              "\"keep_window\":%llu,\"keep_memset_ns\":%llu,\"keep_reset_zero_ns\":%llu,"
              "\"keep_reset_scan_ns\":%llu,",
              (unsigned long long)r->stats.keep_window, (unsigned long long)r->stats.keep_memset_ns,
              (unsigned long long)r->stats.keep_reset_zero_ns,
              (unsigned long long)r->stats.keep_reset_scan_ns);
    fprintf(f,
            "\"resident_peak_bytes\":%llu,\"resident_final_bytes\":%llu,\"memfds_live\":%lld,"
            "\"faults_per_instance\":%.3f,\"cpu_us_per_instance\":%.3f,\"pool_full_waits\":%llu,"
            "\"stale_byte_instances\":%llu}",
            (unsigned long long)r->peak_resident, (unsigned long long)r->final_resident,
            (long long)r->memfds_live, r->faults_per_instance, r->cpu_us_per_instance,
            (unsigned long long)r->exhausted,
            (unsigned long long)r->wrong_bytes);
  }
  fprintf(f, "]}\n");
}

bool report_plot(const char *path, const run_report_t *const *rs, int n, const workload_t *w) {
  char title[160];
  snprintf(title, sizeof(title), "wpool run: %s", w->name);
  FILE *f = svg_open(path, 960, 420, title);
  if (!f) return false;
  static const char *const colors[] = {"#1f77b4", "#ff7f0e"};
  /* Left: the cycle latency histogram. */
  double lo = 1e12, hi = 0, top = 1;
  for (int k = 0; k < n; k++)
    for (int i = 0; i < HIST_BUCKETS; i++)
      if (rs[k]->hist[i]) {
        double l = hist_lower(i) / 1e3, h = hist_lower(i + 1) / 1e3;
        if (l < lo) lo = l;
        if (h > hi) hi = h;
        if (rs[k]->hist[i] > top) top = (double)rs[k]->hist[i];
      }
  if (lo <= 0) lo = 0.001;
  if (hi <= lo) hi = lo * 10;
  svg_panel_t p;
  svg_panel(&p, f, 70, 50, 380, 300, lo, hi, true, 0.8, top * 1.2, true, "cycle latency",
            "microseconds (log)", "instances (log)");
  for (int k = 0; k < n; k++) {
    double x0[HIST_BUCKETS], x1[HIST_BUCKETS], y[HIST_BUCKETS];
    size_t m = 0;
    for (int i = 0; i + 1 < HIST_BUCKETS; i++)
      if (rs[k]->hist[i]) {
        x0[m] = hist_lower(i) / 1e3;
        x1[m] = hist_lower(i + 1) / 1e3;
        y[m++] = (double)rs[k]->hist[i];
      }
    svg_bars(&p, x0, x1, y, m, colors[k % 2]);
    svg_legend(&p, k, colors[k % 2], rs[k]->allocator);
  }
  /* Right: resident bytes over time. */
  double tmax = 0.1, bmax = 1;
  for (int k = 0; k < n; k++)
    for (size_t i = 0; i < rs[k]->ntimeline; i++) {
      if (rs[k]->timeline_s[i] > tmax) tmax = rs[k]->timeline_s[i];
      if (rs[k]->timeline_bytes[i] / 1048576.0 > bmax) bmax = rs[k]->timeline_bytes[i] / 1048576.0;
    }
  svg_panel(&p, f, 560, 50, 370, 300, 0, tmax, false, 0, bmax * 1.1, false, "resident memory",
            "seconds", "MiB");
  for (int k = 0; k < n; k++) {
    double mib[TIMELINE_MAX];
    for (size_t i = 0; i < rs[k]->ntimeline; i++) mib[i] = rs[k]->timeline_bytes[i] / 1048576.0;
    svg_polyline(&p, rs[k]->timeline_s, mib, rs[k]->ntimeline, colors[k % 2]);
    svg_legend(&p, k, colors[k % 2], rs[k]->allocator);
  }
  return svg_close(f);
}
