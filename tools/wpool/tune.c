/* `wpool tune`: sweep max_unused_warm_slots, linear_memory_keep_resident and
 * the reset strategy over a workload; mark the Pareto front of p99 cycle
 * latency against peak resident memory; recommend a setting for a memory
 * budget. */
#include "tune.h"

#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "status.h"
#include "svg.h"

typedef struct setting {
  uint32_t warm;
  uint64_t keep;
  wpool_reset_strategy_t reset;
  run_report_t *r;
  bool front;
} setting_t;

static human_bytes_t keep_name(uint64_t keep) {
  if (keep != WPOOL_KEEP_AUTO) return human_bytes(keep);
  human_bytes_t h;
  snprintf(h.s, sizeof(h.s), "auto");
  return h;
}

static const char *reset_name(wpool_reset_strategy_t r) {
  return r == WPOOL_RESET_DIRTY ? "dirty" : r == WPOOL_RESET_PREFIX ? "prefix" : "auto";
}

int tune_run(const wpool_config_t *base, const workload_t *w, const tune_opts_t *o, FILE *out) {
  static const uint32_t warms[] = {0, 10, 100, 1000};
  /* WPOOL_KEEP_AUTO is the library's default; with the prefix strategy it
   * keeps nothing (the same as 0), so that pair is left out. */
  static const uint64_t keeps[] = {WPOOL_KEEP_AUTO, 0, 64 * 1024, 1024 * 1024};
  static const wpool_reset_strategy_t resets[] = {WPOOL_RESET_PREFIX, WPOOL_RESET_DIRTY};
  enum { NSETTINGS = 28 };
  setting_t s[NSETTINGS];
  int n = 0;
  char err[256];
  uint64_t instances = o->instances ? o->instances : (w->instances / 10 ? w->instances / 10 : 1);
  fprintf(out, "wpool tune: %s, %llu instantiations per setting, %u threads\n\n", w->name,
          (unsigned long long)instances, w->threads);
  for (int ri = 0; ri < 2; ri++)
    for (int ki = 0; ki < 4; ki++)
      for (int wi = 0; wi < 4; wi++) {
        if (keeps[ki] == WPOOL_KEEP_AUTO && resets[ri] == WPOOL_RESET_PREFIX) continue;
        wpool_config_t cfg = *base;
        cfg.max_unused_warm_slots = warms[wi];
        cfg.linear_memory_keep_resident = keeps[ki];
        cfg.table_keep_resident = keeps[ki];
        cfg.reset_strategy = resets[ri];
        setting_t *t = &s[n];
        *t = (setting_t){warms[wi], keeps[ki], resets[ri], calloc(1, sizeof(run_report_t)), false};
        run_opts_t ro = {.allocator = RUN_WPOOL, .instances = instances, .progress = false};
        int st = TOOL_FAILED;
        if (!t->r)
          snprintf(err, sizeof(err), "out of memory");
        else
          st = run_workload(&cfg, w, &ro, t->r, err, sizeof(err));
        if (st != TOOL_OK) {
          if (st == TOOL_FAILED && resets[ri] == WPOOL_RESET_DIRTY &&
              strstr(err, "PAGEMAP_SCAN")) {
            fprintf(out, "(reset_strategy dirty is not available on this kernel: skipped)\n");
            free(t->r);
            goto done_sweep;
          }
          fprintf(stderr, "wpool tune: %s\n", err);
          for (int i = 0; i <= n; i++) free(s[i].r);
          return st;
        }
        if (o->progress)
          fprintf(stderr, "wpool tune: %d of %d settings\n", n + 1, NSETTINGS);
        n++;
      }
done_sweep:
  /* The Pareto front: no other setting is at least as good on both p99 and
   * peak resident memory, and better on one. */
  for (int i = 0; i < n; i++) {
    s[i].front = true;
    for (int j = 0; j < n && s[i].front; j++)
      if (j != i && s[j].r->p99_ns <= s[i].r->p99_ns &&
          s[j].r->peak_resident <= s[i].r->peak_resident &&
          (s[j].r->p99_ns < s[i].r->p99_ns || s[j].r->peak_resident < s[i].r->peak_resident))
        s[i].front = false;
  }
  fprintf(out, "  %-6s %-9s %-7s %12s %12s %14s %6s\n", "N", "keep", "reset", "p99", "inst/s",
          "peak resident", "slots");
  int best = -1;
  for (int i = 0; i < n; i++) {
    const run_report_t *r = s[i].r;
    fprintf(out, "%c %-6u %-9s %-7s %9.1f us %12.0f %14s %6lld\n", s[i].front ? '*' : ' ',
            s[i].warm, keep_name(s[i].keep).s, reset_name(s[i].reset),
            r->p99_ns / 1e3, r->rate, human_bytes(r->peak_resident).s,
            (long long)r->slots_used);
    bool fits = !o->has_budget || r->peak_resident <= o->rss_budget;
    if (fits && (best < 0 || r->p99_ns < s[best].r->p99_ns ||
                 (r->p99_ns == s[best].r->p99_ns && r->rate > s[best].r->rate)))
      best = i;
  }
  fprintf(out, "\n* on the Pareto front of p99 cycle latency and peak resident memory\n");
  if (best >= 0) {
    fprintf(out,
            "\nrecommended%s%s: max_unused_warm_slots=%u linear_memory_keep_resident=%s "
            "reset_strategy=%s (p99 %.1f us, peak resident %s)\n",
            o->has_budget ? " for a budget of " : "",
            o->has_budget ? human_bytes(o->rss_budget).s : "", s[best].warm,
            keep_name(s[best].keep).s, reset_name(s[best].reset),
            s[best].r->p99_ns / 1e3, human_bytes(s[best].r->peak_resident).s);
  } else {
    int small = 0;
    for (int i = 1; i < n; i++)
      if (s[i].r->peak_resident < s[small].r->peak_resident) small = i;
    fprintf(out,
            "\nno setting stays within %s; the smallest peak is %s (max_unused_warm_slots=%u "
            "linear_memory_keep_resident=%s reset_strategy=%s)\n",
            human_bytes(o->rss_budget).s,
            human_bytes(s[small].r->peak_resident).s, s[small].warm,
            keep_name(s[small].keep).s, reset_name(s[small].reset));
  }
  if (o->plot && n) {
    FILE *f = svg_open(o->plot, 760, 480, "wpool tune: p99 cycle latency vs peak resident memory");
    if (!f) {
      fprintf(stderr, "wpool tune: cannot write %s\n", o->plot);
      for (int i = 0; i < n; i++) free(s[i].r);
      return TOOL_FAILED;
    }
    double xmax = 1, ymin = 1e18, ymax = 0;
    for (int i = 0; i < n; i++) {
      double x = s[i].r->peak_resident / 1048576.0, y = s[i].r->p99_ns / 1e3;
      if (x > xmax) xmax = x;
      if (y < ymin) ymin = y;
      if (y > ymax) ymax = y;
    }
    svg_panel_t p;
    svg_panel(&p, f, 80, 50, 640, 360, 0, xmax * 1.1, false, ymin / 1.5, ymax * 1.5, true,
              "one point per setting (labels: N/keep/reset)", "peak resident MiB",
              "p99 cycle latency, us (log)");
    for (int i = 0; i < n; i++) {
      char label[64];
      snprintf(label, sizeof(label), "%u/%s/%s", s[i].warm, keep_name(s[i].keep).s,
               reset_name(s[i].reset));
      svg_point(&p, s[i].r->peak_resident / 1048576.0, s[i].r->p99_ns / 1e3,
                s[i].front ? "#d62728" : "#7f7f7f", s[i].front ? label : NULL);
    }
    svg_legend(&p, 0, "#d62728", "Pareto front");
    svg_legend(&p, 1, "#7f7f7f", "dominated");
    if (!svg_close(f)) {
      fprintf(stderr, "wpool tune: cannot write %s\n", o->plot);
      for (int i = 0; i < n; i++) free(s[i].r);
      return TOOL_FAILED;
    }
  }
  for (int i = 0; i < n; i++) free(s[i].r);
  return TOOL_OK;
}
