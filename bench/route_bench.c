/* What the reload's route table costs a request (server/wagi_table.h):
 * the snapshot's acquire and release (the reader lock, the lookup, the
 * version's reference and request count) against the lookup alone (what
 * the static table did: a binary search by name), in the same run, on
 * one thread and on two threads hitting the same route (its version's
 * counters shared). One JSON object per result; medians of 5 rounds.
 *
 * usage: route_bench [--quick] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wagi_table.h"

static long iters = 5000000;
static wagi_routes_t routes;
static wagi_table_t *table;
static volatile size_t sink;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct run {
  unsigned reader;
  bool snapshot;
  double ns;
} run_t;

static void *loop(void *arg) {
  run_t *r = arg;
  const char *rest;
  size_t n, acc = 0;
  double t0 = now();
  for (long i = 0; i < iters; i++) {
    if (r->snapshot) {
      wagi_version_t *v = wagi_routes_acquire(&routes, r->reader, "/hello/x", 8, &rest, &n);
      acc += n;
      wagi_routes_release(&routes, v);
    } else {
      acc += (size_t)wagi_table_find(table, "hello", 5);
    }
  }
  r->ns = (now() - t0) / (double)iters * 1e9;
  sink += acc;
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median over 5 rounds of ns per request, `threads` threads at once. */
static double measure(bool snapshot, unsigned threads) {
  double med[5];
  for (int round = 0; round < 5; round++) {
    run_t rs[2];
    pthread_t th[2];
    for (unsigned t = 0; t < threads; t++) {
      rs[t] = (run_t){.reader = t, .snapshot = snapshot};
      pthread_create(&th[t], NULL, loop, &rs[t]);
    }
    double sum = 0;
    for (unsigned t = 0; t < threads; t++) {
      pthread_join(th[t], NULL);
      sum += rs[t].ns;
    }
    med[round] = sum / threads;
  }
  qsort(med, 5, sizeof(double), cmp);
  return med[2];
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--quick")) iters = 20000;
  static const char *const names[] = {"a", "b", "c", "hello", "json", "template", "wagi", "z"};
  if (wagi_routes_init(&routes, false, 2) != 0) return 1;
  table = wagi_table_new(8);
  if (!table) return 1;
  for (int i = 0; i < 8; i++) table->v[i] = wagi_version_new(names[i], "x.wasm", NULL);
  wagi_routes_publish(&routes, table);
  for (unsigned threads = 1; threads <= 2; threads++) {
    double base = measure(false, threads), snap = measure(true, threads);
    printf(
        "{\"bench\": \"route\", \"threads\": %u, \"routes\": 8, \"lookup_ns\": %.1f, "
        "\"acquire_release_ns\": %.1f, \"extra_ns_per_request\": %.1f, \"ratio\": %.2f}\n",
        threads, base, snap, snap - base, snap / base);
  }
  wagi_routes_free(&routes);
  return 0;
}
