/* `wpool replay`: the slot policy on a recorded trace (docs/replay.md). */
#include "replay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "status.h"
#include "text.h"
#include "trace.h"

/* Totals over every allocator a trace creates with `new`. */
typedef struct replay_totals {
  uint64_t allocs, module_allocs, hits, exhausted, distinct;
  uint32_t peak_warm;
} replay_totals_t;

static void totals_add(replay_totals_t *t, index_t *ix) {
  index_counters_t c;
  uint32_t cold;
  index_counters(ix, &c, NULL, &cold, NULL);
  t->allocs += c.allocs;
  t->module_allocs += c.affine_hits + c.affine_misses;
  t->hits += c.affine_hits;
  t->exhausted += c.exhausted;
  /* Cold slots are taken in id order, so the slots ever used are exactly
   * those below next_cold. */
  t->distinct += ix->capacity - cold;
  if (c.peak_warm > t->peak_warm) t->peak_warm = c.peak_warm;
}

static void print_summary(FILE *out, const replay_totals_t *t) {
  double rate = t->module_allocs ? (double)t->hits / (double)t->module_allocs : 0.0;
  fprintf(out,
          "summary: %llu allocs (%llu found every slot in use); affine hit rate %.3f "
          "(%llu of %llu allocs with a module); %llu distinct slots used; "
          "peak %u warm unused slots\n",
          (unsigned long long)t->allocs, (unsigned long long)t->exhausted, rate,
          (unsigned long long)t->hits, (unsigned long long)t->module_allocs,
          (unsigned long long)t->distinct, t->peak_warm);
}

int replay_run(FILE *in, FILE *out, const replay_opts_t *opts) {
  trace_modules_t modules;
  trace_modules_init(&modules);
  index_t ix;
  bool have_ix = false;
  replay_totals_t totals = {0};
  char *line = malloc(TRACE_MAX_LINE);
  size_t len;
  unsigned long lineno = 0;
  char err[256];
  int status = 0, got;

  if (!line) {
    fprintf(stderr, "wpool replay: out of memory\n");
    return TOOL_FAILED;
  }
  while ((got = text_read_line(in, line, TRACE_MAX_LINE, &len)) != TEXT_EOF) {
    lineno++;
    if (got == TEXT_READ_ERROR) break;
    trace_op_t op;
    int r;
    if (got == TEXT_TOO_LONG && !text_nul_column(line, len)) {
      snprintf(err, sizeof(err), "longer than %d bytes", TRACE_MAX_LINE - 1);
      r = -1;
    } else {
      r = trace_parse(&modules, line, len, &op, err, sizeof(err));
    }
    if (r == 0) {
      if (opts->echo) fprintf(out, "%s\n", line);
      continue;
    }
    if (r > 0 && op.kind != TRACE_NEW && !have_ix) {
      snprintf(err, sizeof(err), "'%s' before the first 'new'", text_quote(line, len).s);
      r = -1;
    }
    if (r > 0 && have_ix && modules.count > ix.module_cap &&
        index_reserve_modules(&ix, (uint32_t)modules.count) != 0) {
      snprintf(err, sizeof(err), "out of memory for %zu modules", modules.count);
      r = -2;
    }
    if (r > 0 && op.kind == TRACE_FREE) {
      if (op.a >= ix.capacity) {
        snprintf(err, sizeof(err), "free of slot %u, out of range (%u slots)", op.a, ix.capacity);
        r = -1;
      } else if (index_slot_state(&ix, op.a) != SLOT_USED) {
        snprintf(err, sizeof(err), "free of slot %u, which is not in use", op.a);
        r = -1;
      }
    }
    if (r < 0) {
      fflush(out);
      fprintf(stderr, "wpool replay: %s: line %lu: %s\n", opts->name, lineno, err);
      status = r == -2 ? TOOL_FAILED : TOOL_BAD_INPUT; /* -2: out of memory */
      break;
    }

    if (opts->echo) fprintf(out, "%-24s -> ", line);
    uint32_t slot;
    switch ((trace_kind_t)op.kind) {
    case TRACE_NEW:
      if (have_ix) {
        totals_add(&totals, &ix);
        index_destroy(&ix);
        have_ix = false;
      }
      if (index_init(&ix, op.a, op.b) != 0 ||
          index_reserve_modules(&ix, (uint32_t)modules.count) != 0) {
        fflush(out);
        fprintf(stderr, "wpool replay: %s: line %lu: out of memory for %u slots\n", opts->name,
                lineno, op.a);
        status = TOOL_FAILED;
        goto done;
      }
      have_ix = true;
      fputs("ok\n", out);
      break;
    case TRACE_ALLOC:
    case TRACE_CLEAR:
      slot = op.kind == TRACE_ALLOC ? index_alloc(&ix, op.a, NULL) : index_clear(&ix, op.a);
      if (slot == INDEX_NONE)
        fputs("none\n", out);
      else
        fprintf(out, "%u\n", slot);
      break;
    case TRACE_FREE:
      index_free(&ix, op.a);
      fputs("ok\n", out);
      break;
    }
  }
done:
  if (have_ix) {
    totals_add(&totals, &ix);
    index_destroy(&ix);
  }
  if (status == TOOL_OK && got == TEXT_READ_ERROR) {
    fprintf(stderr, "wpool replay: %s: line %lu: cannot read: %s\n", opts->name, lineno,
            strerror(errno));
    status = TOOL_BAD_INPUT;
  }
  if (status == 0 && opts->summary) print_summary(out, &totals);
  free(line);
  trace_modules_free(&modules);
  return status;
}
