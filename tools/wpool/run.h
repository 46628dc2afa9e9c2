/* The workload engine behind `wpool run` and `wpool tune`. */
#ifndef WPOOL_TOOL_RUN_H
#define WPOOL_TOOL_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "workload.h"
#include "wpool.h"

#define HIST_BUCKETS 1024
#define TIMELINE_MAX 4096

typedef enum run_allocator { RUN_WPOOL, RUN_ONDEMAND } run_allocator_t;

typedef struct run_opts {
  run_allocator_t allocator;
  uint32_t threads;   /* 0: the workload's */
  uint64_t instances; /* 0: the workload's */
  bool progress;      /* a progress display on stderr */
  uint64_t sample_ms; /* resident-bytes sampling period */
  double duration_s;  /* > 0: a soak; generated arrivals go on for this long */
  double min_s;       /* > 0: generated arrivals go on past `instances` until the
                         run has lasted this long (seconds); a soak ignores it */
} run_opts_t;

typedef struct run_report {
  const char *allocator; /* "wpool" or "ondemand" */
  uint64_t instances;    /* instantiations completed */
  uint32_t threads;
  double seconds;
  double rate;           /* instantiations per second */
  uint64_t p50_ns, p99_ns, p999_ns, max_ns; /* cycle: new + guest writes + free */
  double affine_hit_rate; /* < 0: not applicable */
  int64_t slots_used;     /* < 0: not applicable */
  uint64_t peak_resident, final_resident; /* bytes: the pools' private memory (wpool), or
                                             the process's anonymous RSS growth (ondemand) */
  const char *resident_source;
  int64_t memfds_live;    /* images still open at the end, modules still held */
  double madvise_per_instance; /* < 0: not applicable */
  double scans_per_instance;   /* regions walked by PAGEMAP_SCAN at frees (wpool only) */
  double proved_per_instance;  /* frees reset without a scan (wpool only) */
  wpool_stats_t stats;         /* the pool's at the end of the run (wpool only) */
  double faults_per_instance;
  double cpu_us_per_instance; /* the worker threads' user + system time */
  uint64_t exhausted;     /* allocations that found the pool full (retried) */
  uint64_t wrong_bytes;   /* instances that saw a byte of an earlier tenant */
  uint64_t hist[HIST_BUCKETS];
  uint64_t free_hist[HIST_BUCKETS];      /* time in the free call alone */
  uint64_t free_p50_ns, free_p99_ns;
  double timeline_s[TIMELINE_MAX];
  double timeline_bytes[TIMELINE_MAX];
  double timeline_fds[TIMELINE_MAX];
  size_t ntimeline;
  bool soak;
} run_report_t;

/* Run `w` on a pool made from `cfg` (or on the on-demand baseline). Return
 * TOOL_OK (status.h); else a one-line reason in err and TOOL_BAD_INPUT when
 * wpool_create refuses cfg (WPOOL_EINVAL) or a module of w does not fit it
 * (WPOOL_ELIMIT), TOOL_FAILED when the run could not complete. */
int run_workload(const wpool_config_t *cfg, const workload_t *w, const run_opts_t *o,
                 run_report_t *r, char *err, size_t errlen);

/* The lower bound, in nanoseconds, of histogram bucket `i`. */
uint64_t hist_lower(int i);

void report_print(FILE *f, const run_report_t *const *reports, int n, const workload_t *w);
void report_json(FILE *f, const run_report_t *const *reports, int n, const workload_t *w,
                 const wpool_config_t *cfg);
/* Latency histogram and resident bytes over time. Return false on I/O error. */
bool report_plot(const char *path, const run_report_t *const *reports, int n,
                 const workload_t *w);

#endif
