/* The spec harness's state (spec.c runs scripts, spec_value.c reads and
 * compares values). */
#ifndef WRT_SPEC_H
#define WRT_SPEC_H

#include <stdio.h>

#include "json.h"
#include "runtime.h"

#define SPEC_MAX_SKIP_REASONS 32

/* Counts of assertions (assert_*) or of actions (invokes with no expected
 * result, which must not trap). */
typedef struct spec_counts {
  unsigned passed, skipped, failed;
} spec_counts_t;

typedef struct skip_reason {
  char text[160];
  unsigned count;
} skip_reason_t;

/* A module instantiated by a script (registered ones are kept to the
 * script's end, for other modules to import from). */
typedef struct spec_instance {
  char name[64];          /* the name it is registered as, or "" */
  wrt_module_t *m;
  wrt_instance_t *inst;
  struct imports *imports; /* what m imports (their envs) */
  struct spec_instance *next;
} spec_instance_t;

typedef struct spec {
  wrt_backend_t backend;
  int verbose;
  spec_counts_t total, script;       /* assertions */
  spec_counts_t total_actions, script_actions;
  int in_action;                      /* the command being run is an action */
  skip_reason_t reasons[SPEC_MAX_SKIP_REASONS];
  unsigned nreasons;
  /* The running script. */
  const char *path;
  char dir[1024];
  wrt_runtime_t *rt;
  spec_instance_t *current;    /* the last module, or NULL */
  char current_skip[160];      /* why the last module did not load, for its assertions */
  int current_failed;          /* it did not load and should have */
  spec_instance_t *registered; /* a list */
  struct imports *spare;       /* an assertion's module's imports, freed at the next */
} spec_t;

/* Run one script (its .json path): 0, or -1 when it cannot be read. */
int spec_script(spec_t *s, const char *json_path);
/* Print the totals and the skip reasons. */
void spec_report(const spec_t *s, FILE *f);

/* Values (spec_value.c). A JSON value {"type": ..., "value": ...} as a
 * wrt_value_t; 0, or -1 for a type the harness cannot pass (v128). */
int spec_value(const json_t *j, wrt_value_t *v);
/* Whether `got` is what `want` (a JSON expected value: NaN patterns,
 * "null", a funcref without value for any non-null one) says. */
int spec_matches(const json_t *want, const wrt_value_t *got);
/* `v` for a message. */
void spec_value_text(const wrt_value_t *v, char *out, size_t cap);
/* The trap an assert_trap's text names, or WRT_TRAP_NONE when the text is
 * not one the harness knows (any trap then passes). */
wrt_trap_t spec_trap_of(const char *text);

#endif /* WRT_SPEC_H */
