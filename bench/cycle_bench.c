/* cycle_bench: the instance cycle (create, the guest's writes, free) of
 * wpool against what users would pick instead, and against the physical
 * floor, all in one run. docs/performance.md explains the setup and shows
 * the latest figures.
 *
 * The canonical module: one memory of 160 pages (10 MiB) with a 64 KiB data
 * image at offset 0, one table of 10000 elements of which the guest sets 10,
 * and 4 KiB of instance state that the guest writes. The guest also dirties
 * D pages (one 8-byte store each) at fixed, seeded positions:
 *   near    distinct pages in the 1 MiB right after the image;
 *   spread  min(D/2, 16) distinct pages of the image, the rest distinct pages
 *           spread over the rest of the memory.
 *
 * Strategies, measured on the same D and pattern in the same run:
 *   wpool_keep0     wpool, linear_memory_keep_resident = table_keep_resident
 *                   = 0 (every reset by madvise: Wasmtime's default)
 *   wpool_keep1m    wpool, both budgets 1 MiB (memset prefix, madvise rest)
 *   wpool_dirty0    wpool, WPOOL_RESET_DIRTY, budgets 0 (madvise dirty runs)
 *   wpool_dirty1m   wpool, WPOOL_RESET_DIRTY, budgets 1 MiB (dirty pages in
 *                   place while the budget lasts)
 *   wpool_defaults  wpool as wpool_config_init leaves it (WPOOL_KEEP_AUTO)
 *   ondemand        per instance: mmap a fresh 4 GiB + 2 GiB reservation, map
 *                   the memfd image, mprotect the accessible bytes, touch,
 *                   munmap; table and state from malloc
 *   malloc          calloc'd 10 MiB memory with the image copied in, table
 *                   and state from calloc (runtimes without guard pages)
 *   floor_memset    memset of the D pages, already resident
 *   floor_faults    D minor page faults (touching D dropped pages)
 *   floor_scan      one PAGEMAP_SCAN walk of 10 MiB holding the D pages
 *
 * Output: one JSON object per line; the last line compares the targets. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"
#include "memory/dirty.h"
#include "ondemand.h"
#include "rss.h"
#include "wpool.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define HOST_PAGE 4096ull
#define MEM_BYTES (160ull * 64 * KiB)
#define IMAGE_BYTES (64 * KiB)
#define TABLE_ELEMS 10000u
#define STATE_BYTES 4096u

static const int Ds[] = {1, 16, 64, 256};
enum { ND = 4, MAXD = 256 };

static uint64_t minflt(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return (uint64_t)ru.ru_minflt;
}

static uint64_t rng = 0x853c49e6748fea9bull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* ---- patterns ---------------------------------------------------------- */

typedef struct pattern {
  const char *name;
  int n;
  uint64_t off[MAXD]; /* byte offsets in the memory, page-aligned + 8 */
} pattern_t;

/* Choose `n` distinct pages among [first, first + count) pages. */
static void pick_pages(uint64_t *out, int n, uint64_t first, uint64_t count) {
  uint64_t chosen[MAXD];
  for (int i = 0; i < n; i++) {
    uint64_t pg;
    bool dup;
    do {
      pg = first + next_rand() % count;
      dup = false;
      for (int j = 0; j < i; j++) dup |= chosen[j] == pg;
    } while (dup);
    chosen[i] = pg;
    out[i] = pg * HOST_PAGE + 8;
  }
}

static void make_pattern(pattern_t *p, bool spread, int d) {
  rng = 0x853c49e6748fea9bull + (uint64_t)d * 7 + spread; /* fixed, seeded */
  p->name = spread ? "spread" : "near";
  p->n = d;
  uint64_t img_pages = IMAGE_BYTES / HOST_PAGE, mem_pages = MEM_BYTES / HOST_PAGE;
  if (!spread) {
    pick_pages(p->off, d, img_pages, MiB / HOST_PAGE);
  } else {
    int inside = d / 2 < (int)img_pages ? d / 2 : (int)img_pages;
    pick_pages(p->off, inside, 0, img_pages);
    pick_pages(p->off + inside, d - inside, img_pages, mem_pages - img_pages);
  }
}

/* The guest's work on an instance's memory, table and state. */
static void guest(uint8_t *mem, void **table, uint8_t *state, const pattern_t *p, uint64_t i) {
  for (int k = 0; k < p->n; k++) *(volatile uint64_t *)(mem + p->off[k]) = i + 1;
  for (int e = 0; e < 10; e++) table[(e * 997) % TABLE_ELEMS] = (void *)(uintptr_t)(i + 1);
  memset(state, (int)(i & 0xff) | 1, STATE_BYTES);
}

/* ---- results ----------------------------------------------------------- */

typedef struct stat_row {
  char strategy[32];
  char pattern[8];
  int d;
  double median, p99;
} stat_row_t;

static stat_row_t rows[256];
static int nrows;

static void emit(const char *bench, const char *strategy, const char *pattern, int d, int threads,
                 uint64_t *ns, int n, double faults, int64_t resident) {
  qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
  double med = (double)ns[n / 2], p99 = (double)ns[(int)((double)(n - 1) * 0.99)];
  printf("{\"bench\":\"%s\",\"strategy\":\"%s\",\"pattern\":\"%s\",\"D\":%d,\"threads\":%d,"
         "\"cycles\":%d,\"median_ns\":%.0f,\"p99_ns\":%.0f,\"faults_per_cycle\":%.2f,"
         "\"resident_bytes\":",
         bench, strategy, pattern, d, threads, n, med, p99, faults);
  if (resident >= 0)
    printf("%lld}\n", (long long)resident);
  else
    printf("null}\n");
  fflush(stdout);
  if (nrows < 256) {
    stat_row_t *r = &rows[nrows++];
    snprintf(r->strategy, sizeof(r->strategy), "%s", strategy);
    snprintf(r->pattern, sizeof(r->pattern), "%s", pattern);
    r->d = d;
    r->median = med;
    r->p99 = p99;
  }
}

static double find(const char *strategy, const char *pattern, int d) {
  for (int i = 0; i < nrows; i++)
    if (!strcmp(rows[i].strategy, strategy) && !strcmp(rows[i].pattern, pattern) &&
        rows[i].d == d)
      return rows[i].median;
  return -1;
}

/* ---- the canonical module --------------------------------------------- */

static uint8_t image_bytes[IMAGE_BYTES];

static wpool_module_t *canonical_module(wpool_t *pool) {
  wpool_data_segment_t seg = {.offset = 0, .bytes = image_bytes, .len = IMAGE_BYTES};
  wpool_memory_desc_t mem = {.min_pages = 160, .max_pages = 160, .segments = &seg, .nsegments = 1};
  wpool_table_desc_t table = {.min_elements = TABLE_ELEMS, .max_elements = TABLE_ELEMS};
  wpool_module_desc_t d = {.state_size = STATE_BYTES, .memories = &mem, .nmemories = 1,
                           .tables = &table, .ntables = 1};
  wpool_module_t *m;
  if (wpool_module_new(pool, &d, &m) != 0) {
    fprintf(stderr, "cycle_bench: module: %s\n", wpool_last_error());
    exit(1);
  }
  return m;
}

static wpool_t *make_pool(uint64_t keep, uint32_t max_warm, wpool_reset_strategy_t strategy) {
  wpool_config_t c;
  wpool_config_init(&c);
  c.reset_strategy = strategy;
  c.linear_memory_keep_resident = keep;
  c.table_keep_resident = keep;
  c.max_unused_warm_slots = max_warm;
  wpool_t *p;
  if (wpool_create(&c, &p) != 0) {
    fprintf(stderr, "cycle_bench: pool: %s\n", wpool_last_error());
    exit(1);
  }
  return p;
}

/* Private bytes of the pools (wpool_resident_bytes); -1 (reported as
 * null) where the kernel lacks PAGEMAP_SCAN. */
static int64_t pool_resident(wpool_t *p) {
  uint64_t exact;
  return wpool_resident_bytes(p, &exact) == 0 ? (int64_t)exact : -1;
}

/* ---- strategies ------------------------------------------------------- */

/* Strategies are measured in interleaved rounds: every round runs a chunk
 * of cycles of each strategy in turn, so that a slow stretch of a shared,
 * noisy machine falls on all of them alike rather than on one. */
typedef enum kind {
  K_KEEP0,
  K_KEEP1M,
  K_DIRTY0,
  K_DIRTY1M,
  K_AUTO,
  K_ONDEMAND,
  K_MALLOC,
  K_FLOOR_MEMSET,
  K_FLOOR_FAULTS,
  K_FLOOR_SCAN,
  K_COUNT
} kind_t;

typedef struct strat {
  kind_t kind;
  const char *name;
  const char *bench;
  wpool_t *pool;
  wpool_module_t *m;
  uint8_t *buf; /* floors: a 10 MiB buffer */
  uint64_t *ns;
  int n;
  uint64_t faults;
} strat_t;

static ondemand_module_t od_module; /* the on-demand baseline's image and sizes */

static bool is_wpool(kind_t k) { return k <= K_AUTO; }

static dirty_scanner_t floor_scanner;

static void strat_init(strat_t *s, kind_t kind, int cycles) {
  static const char *const names[] = {"wpool_keep0",  "wpool_keep1m", "wpool_dirty0",
                                      "wpool_dirty1m", "wpool_defaults", "ondemand",
                                      WPOOL_HAVE_JEMALLOC ? "malloc_jemalloc" : "malloc_libc",
                                      "floor_memset", "floor_faults", "floor_scan"};
  memset(s, 0, sizeof(*s));
  s->kind = kind;
  s->name = names[kind];
  s->bench = kind >= K_FLOOR_MEMSET ? "floor" : "cycle";
  s->ns = malloc(sizeof(*s->ns) * (size_t)cycles);
  if (is_wpool(kind)) {
    s->pool = kind == K_AUTO ? make_pool(WPOOL_KEEP_AUTO, 100, WPOOL_RESET_AUTO)
                             : make_pool(kind == K_KEEP0 || kind == K_DIRTY0 ? 0 : 1 * MiB, 100,
                                         kind <= K_KEEP1M ? WPOOL_RESET_PREFIX
                                                          : WPOOL_RESET_DIRTY);
    s->m = canonical_module(s->pool);
  } else if (kind >= K_FLOOR_MEMSET) {
    s->buf = mmap(NULL, MEM_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->buf == MAP_FAILED) exit(1);
    memset(s->buf, 1, MEM_BYTES);
  }
}

/* One cycle of `s`; return its nanoseconds. */
static uint64_t strat_cycle(strat_t *s, const pattern_t *pat, uint64_t i) {
  uint64_t t0, t1;
  if (is_wpool(s->kind)) {
    t0 = now_ns();
    wpool_instance_t *in;
    if (wpool_instance_new(s->pool, s->m, &in) != 0) exit(1);
    guest(wpool_memory_base(in, 0), wpool_table_base(in, 0), wpool_instance_state(in), pat, i);
    wpool_instance_free(in);
    t1 = now_ns();
  } else if (s->kind == K_ONDEMAND) {
    t0 = now_ns();
    ondemand_instance_t od;
    if (ondemand_new(&od_module, &od) != 0) {
      perror("cycle_bench: ondemand");
      exit(1);
    }
    guest(od.base, od.table, od.state, pat, i);
    ondemand_free(&od_module, &od);
    t1 = now_ns();
  } else if (s->kind == K_MALLOC) {
    t0 = now_ns();
    uint8_t *mem = calloc(1, MEM_BYTES);
    void **table = calloc(TABLE_ELEMS, sizeof(void *));
    uint8_t *state = calloc(1, STATE_BYTES);
    if (!mem || !table || !state) exit(1);
    memcpy(mem, image_bytes, IMAGE_BYTES);
    guest(mem, table, state, pat, i);
    free(mem);
    free(table);
    free(state);
    t1 = now_ns();
  } else if (s->kind == K_FLOOR_MEMSET) {
    t0 = now_ns();
    for (int k = 0; k < pat->n; k++) memset(s->buf + (pat->off[k] & ~(HOST_PAGE - 1)), 0, HOST_PAGE);
    t1 = now_ns();
  } else if (s->kind == K_FLOOR_FAULTS) {
    madvise(s->buf, MEM_BYTES, MADV_DONTNEED); /* untimed: the pages to fault in */
    t0 = now_ns();
    for (int k = 0; k < pat->n; k++) *(volatile uint64_t *)(s->buf + pat->off[k]) = 1;
    t1 = now_ns();
  } else {
    /* One PAGEMAP_SCAN walk of 10 MiB holding exactly the D dirty pages. */
    if (i == 0) {
      madvise(s->buf, MEM_BYTES, MADV_DONTNEED);
      for (int k = 0; k < pat->n; k++) *(volatile uint64_t *)(s->buf + pat->off[k]) = 1;
    }
    t0 = now_ns();
    int64_t found = dirty_count(&floor_scanner, s->buf, MEM_BYTES);
    t1 = now_ns();
    if (found < 0) exit(1);
    if ((uint64_t)found != (uint64_t)pat->n * HOST_PAGE) exit(3);
  }
  return t1 - t0;
}

static void strat_fini(strat_t *s, const pattern_t *pat) {
  int64_t resident = s->pool ? pool_resident(s->pool) : -1;
  emit(s->bench, s->name, pat->name, pat->n, 1, s->ns, s->n, (double)s->faults / s->n, resident);
  if (s->pool) {
    wpool_module_release(s->m);
    wpool_destroy(s->pool);
  }
  if (s->buf) munmap(s->buf, MEM_BYTES);
  free(s->ns);
}

/* Measure every strategy on `pat`: `cycles` timed cycles each (malloc:
 * `malloc_cycles`), after `warmup`, in `rounds` interleaved rounds. */
static void run_pattern(const pattern_t *pat, int cycles, int malloc_cycles, int warmup,
                        int rounds) {
  strat_t st[K_COUNT];
  for (int k = 0; k < K_COUNT; k++) strat_init(&st[k], (kind_t)k, cycles);
  for (int k = 0; k < K_COUNT; k++)
    for (int i = 0; i < warmup; i++) strat_cycle(&st[k], pat, (uint64_t)i);
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < K_COUNT; k++) {
      int want = k == K_MALLOC ? malloc_cycles : cycles;
      int upto = (int)((int64_t)want * (r + 1) / rounds);
      uint64_t f0 = minflt();
      for (; st[k].n < upto; st[k].n++) st[k].ns[st[k].n] = strat_cycle(&st[k], pat, (uint64_t)st[k].n);
      st[k].faults += minflt() - f0;
    }
  }
  for (int k = 0; k < K_COUNT; k++) strat_fini(&st[k], pat);
}

/* ---- many modules ----------------------------------------------------- */

static uint64_t *samples;

enum { ZIPF_MODULES = 100, RING = 32 };

static void run_many_modules(uint32_t max_warm, int cycles, const pattern_t *pat) {
  double cdf[ZIPF_MODULES], sum = 0;
  for (int k = 0; k < ZIPF_MODULES; k++) sum += 1.0 / (k + 1); /* Zipf, s = 1 */
  double acc = 0;
  for (int k = 0; k < ZIPF_MODULES; k++) cdf[k] = (acc += 1.0 / (k + 1) / sum);
  wpool_t *pool = make_pool(1 * MiB, max_warm, WPOOL_RESET_PREFIX);
  wpool_module_t *mods[ZIPF_MODULES];
  for (int k = 0; k < ZIPF_MODULES; k++) mods[k] = canonical_module(pool);
  wpool_instance_t *ring[RING] = {0};
  rng = 0x2545f4914f6cdd1dull;
  uint64_t f0 = minflt();
  for (int i = 0; i < cycles; i++) {
    double u = (double)(next_rand() >> 11) / 9007199254740992.0;
    int lo = 0, hi = ZIPF_MODULES - 1;
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    uint64_t t0 = now_ns();
    wpool_instance_t **slot = &ring[i % RING];
    if (*slot) wpool_instance_free(*slot);
    if (wpool_instance_new(pool, mods[lo], slot) != 0) exit(1);
    guest(wpool_memory_base(*slot, 0), wpool_table_base(*slot, 0), wpool_instance_state(*slot),
          pat, (uint64_t)i);
    samples[i] = now_ns() - t0;
  }
  double faults = (double)(minflt() - f0) / cycles;
  for (int j = 0; j < RING; j++)
    if (ring[j]) wpool_instance_free(ring[j]);
  wpool_stats_t s;
  wpool_stats_get(pool, &s);
  int64_t resident = pool_resident(pool);
  qsort(samples, (size_t)cycles, sizeof(*samples), cmp_u64);
  printf("{\"bench\":\"modules\",\"strategy\":\"wpool_keep1m\",\"modules\":%d,\"zipf_s\":1.0,"
         "\"live\":%d,\"max_unused_warm\":%u,\"D\":%d,\"cycles\":%d,\"median_ns\":%llu,"
         "\"p99_ns\":%llu,\"faults_per_cycle\":%.2f,\"affine_hit_rate\":%.4f,"
         "\"distinct_slots\":%llu,\"resident_bytes\":%lld,\"kept_resident_bytes\":%llu}\n",
         ZIPF_MODULES, RING, max_warm, pat->n, cycles,
         (unsigned long long)samples[cycles / 2],
         (unsigned long long)samples[(int)((cycles - 1) * 0.99)], faults,
         (double)s.affine_hits / (double)(s.affine_hits + s.affine_misses),
         (unsigned long long)(1000 - s.cold_slots), (long long)resident,
         (unsigned long long)s.kept_resident_bytes);
  fflush(stdout);
  for (int k = 0; k < ZIPF_MODULES; k++) wpool_module_release(mods[k]);
  wpool_destroy(pool);
}

/* ---- threads ---------------------------------------------------------- */

typedef struct tworker {
  wpool_t *pool;
  wpool_module_t *m;
  const pattern_t *pat;
  int cycles;
  pthread_barrier_t *start;
} tworker_t;

static void *thread_cycles(void *arg) {
  tworker_t *w = arg;
  pthread_barrier_wait(w->start);
  for (int i = 0; i < w->cycles; i++) {
    wpool_instance_t *in;
    if (wpool_instance_new(w->pool, w->m, &in) != 0) exit(1);
    guest(wpool_memory_base(in, 0), wpool_table_base(in, 0), wpool_instance_state(in), w->pat,
          (uint64_t)i);
    wpool_instance_free(in);
  }
  return NULL;
}

/* Cycles per second with `threads` threads; the median of `reps` runs.
 * `shared`: all threads instantiate one module (MRU affinity then hands a
 * thread the slot another thread just freed, warm in that core's cache);
 * otherwise each thread has its own module, as tenants spread over
 * threads would. */
static double run_threads(int threads, int cycles, int reps, const pattern_t *pat, bool shared,
                          wpool_reset_strategy_t strategy) {
  double best[16];
  for (int r = 0; r < reps; r++) {
    wpool_t *pool = make_pool(1 * MiB, 100, strategy);
    wpool_module_t *m[2] = {canonical_module(pool), NULL};
    m[1] = shared ? m[0] : canonical_module(pool);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    tworker_t w[2];
    pthread_t t[2];
    for (int i = 0; i < threads; i++) {
      w[i] = (tworker_t){pool, m[i], pat, cycles, &start};
      pthread_create(&t[i], NULL, thread_cycles, &w[i]);
    }
    pthread_barrier_wait(&start);
    uint64_t t0 = now_ns();
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    best[r] = (double)cycles * threads * 1e9 / (double)(now_ns() - t0);
    pthread_barrier_destroy(&start);
    wpool_module_release(m[0]);
    if (!shared) wpool_module_release(m[1]);
    wpool_destroy(pool);
  }
  for (int i = 1; i < reps; i++)
    for (int j = i; j > 0 && best[j] < best[j - 1]; j--) {
      double x = best[j];
      best[j] = best[j - 1];
      best[j - 1] = x;
    }
  double tput = best[reps / 2];
  printf("{\"bench\":\"threads\",\"strategy\":\"%s\",\"pattern\":\"%s\",\"D\":%d,"
         "\"threads\":%d,\"modules\":\"%s\",\"cycles_per_thread\":%d,\"runs\":%d,"
         "\"cycles_per_s\":%.0f}\n",
         strategy == WPOOL_RESET_DIRTY ? "wpool_dirty1m" : "wpool_keep1m", pat->name, pat->n,
         threads, shared ? "shared" : "per_thread", cycles, reps, tput);
  fflush(stdout);
  return tput;
}

/* ---- create / destroy ------------------------------------------------- */

static void run_create(int reps) {
  uint64_t c[32], d[32];
  wpool_config_t cfg;
  wpool_config_init(&cfg);
  for (int r = 0; r < reps; r++) {
    wpool_t *p;
    uint64_t t0 = now_ns();
    if (wpool_create(&cfg, &p) != 0) exit(1);
    uint64_t t1 = now_ns();
    wpool_destroy(p);
    c[r] = t1 - t0;
    d[r] = now_ns() - t1;
  }
  qsort(c, (size_t)reps, sizeof(*c), cmp_u64);
  qsort(d, (size_t)reps, sizeof(*d), cmp_u64);
  printf("{\"bench\":\"create\",\"config\":\"default\",\"runs\":%d,\"create_median_ns\":%llu,"
         "\"destroy_median_ns\":%llu}\n",
         reps, (unsigned long long)c[reps / 2], (unsigned long long)d[reps / 2]);
  fflush(stdout);
}

/* --case STRATEGY:PATTERN:D runs one strategy alone (for profiling).
 * STRATEGY: wpool_keep0, wpool_keep1m, wpool_dirty0, wpool_dirty1m,
 * ondemand, malloc, floor_memset, floor_faults or floor_scan; or threads1 / threads2 for the thread benchmark alone. */
static int run_case(const char *spec, int cycles) {
  static const char *const kinds[] = {"wpool_keep0",  "wpool_keep1m", "wpool_dirty0",
                                      "wpool_dirty1m", "wpool_defaults", "ondemand",
                                      "malloc", "floor_memset", "floor_faults", "floor_scan"};
  _Static_assert(sizeof(kinds) / sizeof(kinds[0]) == K_COUNT, "a name per kind");
  char strategy[32], pname[16];
  int d, kind = -1;
  if (!strcmp(spec, "threads1") || !strcmp(spec, "threads2")) {
    pattern_t near16;
    make_pattern(&near16, false, 16);
    run_threads(spec[7] - '0', 20000, 3, &near16, false, WPOOL_RESET_PREFIX);
    run_threads(spec[7] - '0', 20000, 3, &near16, false, WPOOL_RESET_DIRTY);
    return 0;
  }
  if (sscanf(spec, "%31[^:]:%15[^:]:%d", strategy, pname, &d) == 3 && d >= 1 && d <= MAXD)
    for (int k = 0; k < K_COUNT; k++)
      if (!strcmp(strategy, kinds[k])) kind = k;
  if (kind < 0) {
    fprintf(stderr, "cycle_bench: --case wants STRATEGY:PATTERN:D, e.g. wpool_keep0:near:16\n");
    return 2;
  }
  pattern_t pat;
  make_pattern(&pat, !strcmp(pname, "spread"), d);
  strat_t s;
  strat_init(&s, (kind_t)kind, cycles);
  for (int i = 0; i < 10; i++) strat_cycle(&s, &pat, (uint64_t)i);
  uint64_t f0 = minflt();
  for (; s.n < cycles; s.n++) s.ns[s.n] = strat_cycle(&s, &pat, (uint64_t)s.n);
  s.faults = minflt() - f0;
  strat_fini(&s, &pat);
  return 0;
}

int main(int argc, char **argv) {
  bool quick = false;
  const char *one = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) {
      quick = true;
    } else if (!strcmp(argv[i], "--case") && i + 1 < argc) {
      one = argv[++i];
    } else {
      fprintf(stderr, "usage: cycle_bench [--quick] [--case STRATEGY:PATTERN:D]\n");
      return 2;
    }
  }
  const int cycles = quick ? 60 : 3000, warmup = quick ? 5 : 100;
  const int mod_cycles = quick ? 500 : 20000, thread_cycles = quick ? 300 : 20000;
  samples = malloc(sizeof(*samples) * (size_t)(mod_cycles > cycles ? mod_cycles : cycles));
  for (size_t i = 0; i < IMAGE_BYTES; i++) image_bytes[i] = (uint8_t)(i * 31 + 7);
  if (ondemand_module_init(&od_module, image_bytes, IMAGE_BYTES, MEM_BYTES, TABLE_ELEMS,
                           STATE_BYTES) != 0) {
    perror("cycle_bench: memfd");
    return 1;
  }
  dirty_scanner_init(&floor_scanner);
  if (one) return run_case(one, cycles);

  for (int spread = 0; spread < 2; spread++) {
    for (int di = 0; di < ND; di++) {
      pattern_t pat;
      make_pattern(&pat, spread, Ds[di]);
      fprintf(stderr, "cycle_bench: %s D=%d\n", pat.name, pat.n);
      run_pattern(&pat, cycles, quick ? cycles : cycles / 4, warmup, quick ? 2 : 10);
    }
  }
  pattern_t near16;
  make_pattern(&near16, false, 16);
  const uint32_t warms[] = {0, 10, 100, 1000};
  for (int i = 0; i < 4; i++) {
    fprintf(stderr, "cycle_bench: 100 modules, max_unused_warm_slots %u\n", warms[i]);
    run_many_modules(warms[i], mod_cycles, &near16);
  }
  fprintf(stderr, "cycle_bench: threads\n");
  const int reps = quick ? 1 : 5;
  double t1 = run_threads(1, thread_cycles, reps, &near16, true, WPOOL_RESET_PREFIX);
  double t2 = run_threads(2, thread_cycles, reps, &near16, false, WPOOL_RESET_PREFIX);
  double t2s = run_threads(2, thread_cycles, reps, &near16, true, WPOOL_RESET_PREFIX);
  double d1 = run_threads(1, thread_cycles, reps, &near16, true, WPOOL_RESET_DIRTY);
  double d2 = run_threads(2, thread_cycles, reps, &near16, false, WPOOL_RESET_DIRTY);
  run_create(quick ? 3 : 11);

  /* The targets, as ratios of medians from this run. */
  double keep1m = find("wpool_keep1m", "near", 16), floor16 = find("floor_memset", "near", 16);
  double ondemand16 = find("ondemand", "near", 16);
  double worst = 0; /* max over D and patterns of keep0 / ondemand */
  for (int spread = 0; spread < 2; spread++)
    for (int di = 0; di < ND; di++) {
      const char *pn = spread ? "spread" : "near";
      double r = find("wpool_keep0", pn, Ds[di]) / find("ondemand", pn, Ds[di]);
      if (r > worst) worst = r;
    }
  double dirty_spread = find("wpool_dirty1m", "spread", 16);
  double floor_spread = find("floor_memset", "spread", 16) + find("floor_scan", "spread", 16);
  printf("{\"bench\":\"targets\",\"near_d16_keep1m_over_memset_floor\":%.2f,"
         "\"near_d16_dirty1m_over_memset_floor\":%.2f,"
         "\"near_d16_ondemand_over_keep1m\":%.2f,\"max_keep0_over_ondemand\":%.2f,"
         "\"threads2_over_threads1\":%.2f,\"threads2_shared_module_over_threads1\":%.2f,"
         "\"dirty_threads2_over_threads1\":%.2f,"
         "\"spread_d16_keep1m_over_dirty1m\":%.2f,"
         "\"spread_d16_dirty1m_over_memset_plus_scan\":%.2f}\n",
         keep1m / floor16, find("wpool_dirty1m", "near", 16) / floor16, ondemand16 / keep1m, worst,
         t2 / t1, t2s / t1, d2 / d1, find("wpool_keep1m", "spread", 16) / dirty_spread,
         dirty_spread / floor_spread);
  ondemand_module_fini(&od_module);
  free(samples);
  return 0;
}
