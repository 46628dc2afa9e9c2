/* Workloads for `wpool run` and `wpool tune` (docs/workload.md): either a
 * generated mix described by key-value lines, or a recorded trace of
 * instantiations (time, module, lifetime, pages dirtied). */
#ifndef WPOOL_TOOL_WORKLOAD_H
#define WPOOL_TOOL_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wpool.h"

#define WORKLOAD_MAX_DIRTY 256
#define WORKLOAD_MAX_CONFIG 32
/* The largest workload file: a trace of some ten million instantiations. */
#define WORKLOAD_MAX_BYTES (256ull << 20)

typedef struct trace_event {
  uint64_t time;     /* arrival, microseconds (any monotonic unit) */
  uint32_t module;
  uint64_t lifetime; /* same unit as time */
  uint32_t pages;    /* pages dirtied */
} trace_event_t;

typedef struct workload {
  char name[64];
  uint32_t modules;        /* distinct modules */
  double zipf;             /* popularity exponent; 0 = uniform */
  uint64_t instances;      /* instantiations in all */
  uint32_t threads;
  uint32_t concurrency;    /* mean live instances per thread */
  uint32_t dirty_pages;    /* mean pages dirtied per instance */
  uint32_t table_sets;     /* table elements set per instance */
  bool spread;             /* dirty pattern: spread (else near) */
  uint64_t memory_pages;   /* each module's memory, 64 KiB pages */
  uint64_t image_bytes;    /* each module's data image, at offset 0 */
  uint32_t table_elements; /* each module's table */
  uint64_t state_bytes;
  uint64_t seed;
  char config[WORKLOAD_MAX_CONFIG][96]; /* KEY=VALUE overrides, in order */
  int nconfig;
  trace_event_t *events;   /* a trace: events in time order; NULL if generated */
  size_t nevents;
} workload_t;

/* The embedded default: a multi-tenant mix that runs in well under a
 * minute on 2 cores. */
extern const char workload_default_text[];

void workload_defaults(workload_t *w);
/* Parse the len bytes of a workload at text. Return TOOL_OK (status.h), or
 * a one-line "line N: reason" in err and TOOL_BAD_INPUT (TOOL_FAILED when
 * out of memory). A line holding a NUL byte is an error. */
int workload_parse(workload_t *w, const char *text, size_t len, char *err, size_t errlen);
/* Read and parse the workload file at path: anything readable but a
 * directory (a regular file, a pipe, /dev/null as empty input), at most
 * WORKLOAD_MAX_BYTES. Return as workload_parse. */
int workload_load(workload_t *w, const char *path, char *err, size_t errlen);
void workload_free(workload_t *w);
/* Apply the workload's config lines to cfg. */
bool workload_apply_config(const workload_t *w, wpool_config_t *cfg, char *err, size_t errlen);

#endif
