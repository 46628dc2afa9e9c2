/* index_bench: the slot index allocator's cost per operation.
 *
 * Generated scenarios: a pre-generated random sequence of operations, each
 * with probability 1/2 a free of a random allocated slot (when any) and
 * otherwise an alloc for one of M modules; only the operations are timed.
 * With --trace FILE (the replay format) the whole trace is parsed first,
 * then only its operations are timed: identical work for comparing other
 * implementations of the policy.
 *
 * Output: one JSON object per result line. Each result is the median of
 * --runs runs; `floor_ns_per_op` is, in the same run, the cost of the same
 * loop doing only the bookkeeping and a lock/unlock of the index's kind of
 * lock: the floor of any allocator behind that lock. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "measure.h"
#include "index/index.h"
#include "trace.h"

/* One pre-generated operation: a free (of held[r % nheld]) or an alloc. */
typedef struct gen_op {
  uint32_t is_free;
  uint32_t arg; /* free: random number; alloc: module */
} gen_op_t;

typedef struct worker {
  index_t *ix;
  spin_lock_t *floor_lock; /* non-NULL: measure the floor instead */
  const gen_op_t *ops;
  size_t nops;
  uint32_t *held;
  uint64_t ns;
  uint64_t sink;
  pthread_barrier_t *start;
} worker_t;

static void *run_worker(void *arg) {
  worker_t *w = arg;
  uint32_t nheld = 0;
  uint64_t sink = 0;
  pthread_barrier_wait(w->start);
  uint64_t t0 = now_ns();
  for (size_t i = 0; i < w->nops; i++) {
    const gen_op_t *op = &w->ops[i];
    if (op->is_free && nheld) {
      uint32_t k = op->arg % nheld;
      uint32_t s = w->held[k];
      w->held[k] = w->held[--nheld];
      if (w->floor_lock) {
        spin_lock(w->floor_lock);
        sink += s;
        spin_unlock(w->floor_lock);
      } else {
        index_free(w->ix, s);
      }
    } else if (!op->is_free) {
      uint32_t s;
      if (w->floor_lock) {
        spin_lock(w->floor_lock);
        s = (uint32_t)(i & 1023);
        spin_unlock(w->floor_lock);
      } else {
        s = index_alloc(w->ix, op->arg, NULL);
      }
      if (s != INDEX_NONE) w->held[nheld++] = s;
    }
  }
  w->ns = now_ns() - t0;
  /* Return what is held so the next run starts from the same state. */
  while (nheld) {
    uint32_t s = w->held[--nheld];
    if (!w->floor_lock) index_free(w->ix, s);
  }
  w->sink = sink;
  return NULL;
}

static gen_op_t *generate(size_t n, uint32_t modules, uint64_t seed) {
  gen_op_t *ops = malloc(n * sizeof(*ops));
  if (!ops) return NULL;
  uint64_t x = seed;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ops[i].is_free = (uint32_t)(x >> 63);
    ops[i].arg = ops[i].is_free ? (uint32_t)x : (uint32_t)((x >> 16) % modules);
  }
  return ops;
}

/* Time `threads` workers on one index; return ns per operation. */
static double run_once(uint32_t slots, uint32_t n, uint32_t modules, int threads,
                       gen_op_t **ops, size_t nops, bool floor) {
  index_t ix;
  spin_lock_t floor_lock = SPIN_LOCK_INIT; /* the index's kind of lock */
  if (index_init(&ix, slots, n) != 0 || index_reserve_modules(&ix, modules) != 0) {
    fprintf(stderr, "index_bench: out of memory\n");
    exit(1);
  }
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)threads);
  worker_t w[8];
  pthread_t t[8];
  for (int i = 0; i < threads; i++) {
    w[i] = (worker_t){.ix = &ix, .floor_lock = floor ? &floor_lock : NULL, .ops = ops[i],
                      .nops = nops, .start = &start};
    w[i].held = malloc((size_t)slots * sizeof(uint32_t) + sizeof(uint32_t));
    pthread_create(&t[i], NULL, run_worker, &w[i]);
  }
  uint64_t max_ns = 0, sink = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
    if (w[i].ns > max_ns) max_ns = w[i].ns;
    sink += w[i].sink;
    free(w[i].held);
  }
  pthread_barrier_destroy(&start);
  index_destroy(&ix);
  if (sink == 1) fputs("", stderr); /* keep the floor's work observable */
  /* Wall time of the slowest thread over all operations of all threads. */
  return (double)max_ns / ((double)nops * threads);
}

static void bench_generated(uint32_t slots, uint32_t n, uint32_t modules, int threads, size_t nops,
                            int runs) {
  gen_op_t *ops[8];
  for (int i = 0; i < threads; i++) {
    ops[i] = generate(nops, modules, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
    if (!ops[i]) exit(1);
  }
  double v[64], f[64];
  run_once(slots, n, modules, threads, ops, nops / 10 + 1, false); /* warm up */
  for (int r = 0; r < runs; r++) {
    v[r] = run_once(slots, n, modules, threads, ops, nops, false);
    f[r] = run_once(slots, n, modules, threads, ops, nops, true);
  }
  double med = median(v, runs), fl = median(f, runs);
  printf("{\"bench\":\"index\",\"slots\":%u,\"max_unused_warm\":%u,\"modules\":%u,"
         "\"threads\":%d,\"ops\":%zu,\"runs\":%d,\"ns_per_op\":%.2f,"
         "\"floor_ns_per_op\":%.2f,\"ratio_to_floor\":%.2f}\n",
         slots, n, modules, threads, nops * (size_t)threads, runs, med, fl, med / fl);
  fflush(stdout);
  for (int i = 0; i < threads; i++) free(ops[i]);
}

/* --emit-trace: write the single-threaded generated scenario as a concrete
 * trace in the replay format, so other implementations can run the same
 * work (`--trace`). */
static int emit_trace(const char *path, uint32_t slots, uint32_t n, uint32_t modules,
                      size_t nops) {
  FILE *out = fopen(path, "w");
  if (!out) {
    fprintf(stderr, "index_bench: cannot create %s: %s\n", path, strerror(errno));
    return 2;
  }
  gen_op_t *ops = generate(nops, modules, 0x9e3779b97f4a7c15ull);
  uint32_t *held = malloc((size_t)slots * sizeof(*held) + sizeof(*held)), nheld = 0;
  index_t ix;
  if (!ops || !held || index_init(&ix, slots, n) != 0 || index_reserve_modules(&ix, modules))
    return 1;
  fprintf(out, "new %u %u\n", slots, n);
  for (size_t i = 0; i < nops; i++) {
    if (ops[i].is_free && nheld) {
      uint32_t k = ops[i].arg % nheld, s = held[k];
      held[k] = held[--nheld];
      index_free(&ix, s);
      fprintf(out, "free %u\n", s);
    } else if (!ops[i].is_free) {
      uint32_t s = index_alloc(&ix, ops[i].arg, NULL);
      if (s != INDEX_NONE) held[nheld++] = s;
      fprintf(out, "alloc %u\n", ops[i].arg);
    }
  }
  index_destroy(&ix);
  free(held);
  free(ops);
  return fclose(out) == 0 ? 0 : 1;
}

/* --trace: concrete operations, executed exactly as written. */
static int bench_trace(const char *path, int runs) {
  FILE *in = fopen(path, "r");
  if (!in) {
    fprintf(stderr, "index_bench: cannot open %s: %s\n", path, strerror(errno));
    return 2;
  }
  trace_modules_t modules;
  trace_modules_init(&modules);
  size_t cap = 1 << 20, n = 0;
  trace_op_t *ops = malloc(cap * sizeof(*ops));
  char *line = NULL, err[256];
  size_t lcap = 0;
  ssize_t len;
  unsigned long lineno = 0;
  while ((len = getline(&line, &lcap, in)) >= 0) {
    lineno++;
    if (len && line[len - 1] == '\n') line[--len] = '\0';
    if (n == cap) ops = realloc(ops, (cap *= 2) * sizeof(*ops));
    if (!ops) {
      fprintf(stderr, "index_bench: out of memory for %zu operations\n", cap);
      return 1;
    }
    int r = trace_parse(&modules, line, (size_t)len, &ops[n], err, sizeof(err));
    if (r < 0) {
      fprintf(stderr, "index_bench: %s: line %lu: %s\n", path, lineno, err);
      return 2;
    }
    n += (size_t)r;
  }
  free(line);
  fclose(in);
  if (n == 0 || ops[0].kind != TRACE_NEW) {
    fprintf(stderr, "index_bench: %s: the trace must start with 'new'\n", path);
    return 2;
  }
  double v[64];
  size_t timed = 0;
  uint64_t sink = 0;
  for (int r = 0; r < runs; r++) {
    index_t ix;
    bool have = false;
    uint64_t ns = 0, t0 = 0;
    timed = 0;
    for (size_t i = 0; i < n; i++) {
      const trace_op_t *op = &ops[i];
      if (op->kind == TRACE_NEW) {
        if (have) {
          ns += now_ns() - t0;
          index_destroy(&ix);
        }
        if (index_init(&ix, op->a, op->b) != 0 ||
            index_reserve_modules(&ix, (uint32_t)modules.count) != 0)
          return 1;
        have = true;
        t0 = now_ns();
        continue;
      }
      timed++;
      switch (op->kind) {
      case TRACE_ALLOC: sink += index_alloc(&ix, op->a, NULL); break;
      case TRACE_CLEAR: sink += index_clear(&ix, op->a); break;
      default: index_free(&ix, op->a); break;
      }
    }
    ns += now_ns() - t0;
    index_destroy(&ix);
    v[r] = timed ? (double)ns / (double)timed : 0;
  }
  printf("{\"bench\":\"trace\",\"file\":\"%s\",\"ops\":%zu,\"runs\":%d,\"ns_per_op\":%.2f,"
         "\"checksum\":%llu}\n",
         path, timed, runs, median(v, runs), (unsigned long long)(sink / (uint64_t)runs));
  free(ops);
  trace_modules_free(&modules);
  return 0;
}

int main(int argc, char **argv) {
  bool quick = false;
  const char *trace = NULL, *emit = NULL;
  int runs = 5;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
      trace = argv[++i];
    } else if (strcmp(argv[i], "--emit-trace") == 0 && i + 1 < argc) {
      emit = argv[++i];
    } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || end == argv[i] || v < 1 || v > 64) {
        fprintf(stderr, "index_bench: --runs: '%s' is not a number from 1 to 64\n", argv[i]);
        return 2;
      }
      runs = (int)v;
    } else {
      fprintf(stderr,
              "usage: index_bench [--quick] [--runs R] [--trace FILE | --emit-trace FILE]\n");
      return 2;
    }
  }
  if (trace) return bench_trace(trace, runs);
  size_t nops = quick ? 200000 : 10000000;
  if (emit) return emit_trace(emit, 1000, 100, 10, nops);
  if (quick) runs = 1;
  bench_generated(1000, 100, 10, 1, nops, runs);
  bench_generated(1000, 100, 10, 2, nops / 2, runs);
  bench_generated(100000, 0, 1000, 1, nops, runs);
  return 0;
}
