/* Running a script's commands (spec.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#define MAX_VALUES 32

/* ------------------------------------------------------------------ */
/* Outcomes                                                             */

static spec_counts_t *counts(spec_t *s) { return s->in_action ? &s->script_actions : &s->script; }

static void pass(spec_t *s) { counts(s)->passed++; }

static void skip(spec_t *s, const char *reason) {
  counts(s)->skipped++;
  for (unsigned i = 0; i < s->nreasons; i++)
    if (!strcmp(s->reasons[i].text, reason)) return (void)s->reasons[i].count++;
  if (s->nreasons < SPEC_MAX_SKIP_REASONS) {
    snprintf(s->reasons[s->nreasons].text, sizeof(s->reasons[0].text), "%s", reason);
    s->reasons[s->nreasons++].count = 1;
  }
}

static void failf(spec_t *s, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void failf(spec_t *s, unsigned line, const char *fmt, ...) {
  counts(s)->failed++;
  if (s->script.failed + s->script_actions.failed > 20 && !s->verbose)
    return; /* enough to see the pattern */
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL %s:%u: ", s->path, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Modules                                                              */

/* spectest's functions: they print nothing here. */
static wrt_trap_t nothing(void *env, const wrt_value_t *a, wrt_value_t *r) {
  (void)env, (void)a, (void)r;
  return WRT_TRAP_NONE;
}

/* A registered instance's export, imported by a later module: a nested
 * call into that instance. */
typedef struct binding {
  wrt_instance_t *inst;
  wrt_func_t f;
} binding_t;

static wrt_trap_t forward(void *env, const wrt_value_t *a, wrt_value_t *r) {
  binding_t *b = env;
  wrt_trap_t trap;
  if (wrt_call(b->inst, &b->f, a, r, &trap) != 0) return WRT_TRAP_OTHER;
  return trap;
}

typedef struct imports {
  wrt_import_t v[256];
  binding_t b[256];
  unsigned n;
} imports_t;

static void add_spectest(imports_t *im) {
  static const wrt_valtype_t i32[] = {WRT_I32}, i64[] = {WRT_I64}, f32[] = {WRT_F32},
                             f64[] = {WRT_F64}, i32f32[] = {WRT_I32, WRT_F32},
                             f64f64[] = {WRT_F64, WRT_F64};
  const struct {
    const char *name;
    const wrt_valtype_t *p;
    uint32_t n;
  } fns[] = {{"print", NULL, 0},       {"print_i32", i32, 1},       {"print_i64", i64, 1},
             {"print_f32", f32, 1},    {"print_f64", f64, 1},       {"print_i32_f32", i32f32, 2},
             {"print_f64_f64", f64f64, 2}};
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
    im->v[im->n++] = (wrt_import_t){.module = "spectest", .name = fns[i].name,
                                    .params = fns[i].p, .nparams = fns[i].n, .fn = nothing};
}

/* Every function a registered instance exports, under its name. */
static void add_registered(spec_t *s, imports_t *im) {
  for (spec_instance_t *r = s->registered; r; r = r->next) {
    for (uint32_t i = 0; i < wrt_module_nexports(r->m) && im->n < 256; i++) {
      const char *name;
      size_t len;
      bool is_func;
      wrt_func_t f;
      if (wrt_module_export(r->m, i, &name, &len, &is_func, &f) || !is_func ||
          strlen(name) != len)
        continue;
      im->b[im->n] = (binding_t){.inst = r->inst, .f = f};
      im->v[im->n] = (wrt_import_t){.module = r->name, .name = name, .params = f.params,
                                    .nparams = f.nparams, .results = f.results,
                                    .nresults = f.nresults, .fn = forward, .env = &im->b[im->n]};
      im->n++;
    }
  }
}

/* Load a module file of the script, with spectest's functions and every
 * registered instance's to import. The module keeps the imports' `env`
 * (the bindings): *im lives as long as the module. */
static int load(spec_t *s, const char *file, wrt_module_t **m, imports_t **im) {
  char path[2100];
  snprintf(path, sizeof(path), "%s/%s", s->dir, file ? file : "?");
  *im = calloc(1, sizeof(**im));
  if (!*im) return WRT_ENOMEM;
  add_spectest(*im);
  add_registered(s, *im);
  wrt_load_options_t o;
  wrt_load_options_init(&o);
  o.name = path;
  o.library = true;
  o.imports = (*im)->v;
  o.nimports = (*im)->n;
  int err = wrt_load_ex(s->rt, &o, m);
  if (err) {
    free(*im);
    *im = NULL;
  }
  return err;
}

/* Why a module the runtime refused is skipped rather than failed: it
 * imports what the runtime does not link. */
static const char *unsupported(int err, const char *msg) {
  if (err != WRT_EIMPORT) return NULL;
  if (strstr(msg, "(memory)")) return "imports a memory (the runtime links functions only)";
  if (strstr(msg, "(table)")) return "imports a table (the runtime links functions only)";
  if (strstr(msg, "(global)")) return "imports a global (the runtime links functions only)";
  return NULL;
}

/* The imports of a module unloaded soon (an assertion's). */
static void free_later(spec_t *s, imports_t *im) {
  free(s->spare);
  s->spare = im;
}

static void free_current(spec_t *s) {
  spec_instance_t *c = s->current;
  s->current = NULL;
  if (!c || c->name[0]) return; /* registered: kept */
  if (c->inst) wrt_instance_free(c->inst);
  if (c->m) wrt_unload(c->m);
  free(c->imports);
  free(c);
}

static void cmd_module(spec_t *s, const json_t *cmd, unsigned line) {
  free_current(s);
  s->current_skip[0] = 0;
  s->current_failed = 0;
  spec_instance_t *c = calloc(1, sizeof(*c));
  int err = load(s, json_str(cmd, "filename"), &c->m, &c->imports);
  const char *why = err ? unsupported(err, wrt_last_error()) : NULL;
  if (err) {
    if (why) snprintf(s->current_skip, sizeof(s->current_skip), "%s", why);
    else {
      s->current_failed = 1;
      failf(s, line, "module refused: %s", wrt_last_error());
    }
    free(c);
    return;
  }
  wrt_trap_t trap;
  err = wrt_instantiate(c->m, &c->inst, &trap);
  if (err || trap) {
    s->current_failed = 1;
    failf(s, line, "instantiation: %s", err ? wrt_last_error() : wrt_trap_name(trap));
    wrt_unload(c->m);
    free(c->imports);
    free(c);
    return;
  }
  s->current = c;
}

static void cmd_register(spec_t *s, const json_t *cmd) {
  const char *as = json_str(cmd, "as");
  if (!s->current || !as) return;
  snprintf(s->current->name, sizeof(s->current->name), "%s", as);
  s->current->next = s->registered;
  s->registered = s->current;
}

/* ------------------------------------------------------------------ */
/* Actions and assertions                                               */

/* Run an invoke action on the current module: 0 with the results, 1 to
 * skip (the reason counted), -1 failed (reported). */
static int invoke(spec_t *s, const json_t *cmd, unsigned line, wrt_value_t *results,
                  uint32_t *nresults, wrt_trap_t *trap) {
  const json_t *act = json_get(cmd, "action");
  if (!s->current) {
    if (s->current_failed) return failf(s, line, "its module did not load"), -1;
    return skip(s, s->current_skip[0] ? s->current_skip : "no module"), 1;
  }
  if (!act || strcmp(json_str(act, "type") ? json_str(act, "type") : "", "invoke"))
    return skip(s, "an action other than invoke"), 1;
  const json_t *field = json_get(act, "field"), *args = json_get(act, "args");
  wrt_func_t f;
  if (!field || field->type != JSON_STRING ||
      wrt_func_find(s->current->m, field->str, field->len, &f) != 0)
    return failf(s, line, "no exported function %s", field ? field->str : "?"), -1;
  wrt_value_t a[MAX_VALUES];
  if (!args || args->n > MAX_VALUES || args->n != f.nparams)
    return failf(s, line, "%s: %zu arguments", field->str, args ? args->n : 0), -1;
  for (size_t i = 0; i < args->n; i++)
    if (spec_value(args->items[i], &a[i]) != 0) return skip(s, "a v128 or funcref argument"), 1;
  if (f.nresults > MAX_VALUES) return skip(s, "too many results"), 1;
  if (wrt_call(s->current->inst, &f, a, results, trap) != 0)
    return failf(s, line, "%s: %s", field->str, wrt_last_error()), -1;
  *nresults = f.nresults;
  return 0;
}

static void cmd_assert_return(spec_t *s, const json_t *cmd, unsigned line, int expect_trap) {
  wrt_value_t r[MAX_VALUES];
  uint32_t n = 0;
  wrt_trap_t trap;
  if (invoke(s, cmd, line, r, &n, &trap) != 0) return;
  const char *field = json_str(json_get(cmd, "action"), "field");
  if (expect_trap) {
    wrt_trap_t want = spec_trap_of(json_str(cmd, "text"));
    if (!trap) return failf(s, line, "%s returned, expected a trap (%s)", field,
                            json_str(cmd, "text"));
    if (want && trap != want)
      return failf(s, line, "%s trapped %s, expected %s", field, wrt_trap_name(trap),
                   wrt_trap_name(want));
    return pass(s);
  }
  if (trap) return failf(s, line, "%s trapped: %s", field, wrt_trap_name(trap));
  const json_t *exp = json_get(cmd, "expected");
  if (!exp) return pass(s); /* an action */
  if (exp->n != n) return failf(s, line, "%s: %u results, expected %zu", field, n, exp->n);
  for (uint32_t i = 0; i < n; i++) {
    if (!spec_matches(exp->items[i], &r[i])) {
      char got[64];
      spec_value_text(&r[i], got, sizeof(got));
      return failf(s, line, "%s: result %u is %s, expected %s %s", field, i, got,
                   json_str(exp->items[i], "type"),
                   json_str(exp->items[i], "value") ? json_str(exp->items[i], "value") : "any");
    }
  }
  pass(s);
}

/* assert_invalid, assert_malformed (refused at load), assert_unlinkable
 * (refused for its imports), assert_uninstantiable (refused at load as a
 * module whose instantiation would trap, or trapping at instantiation). */
static void cmd_assert_module(spec_t *s, const json_t *cmd, unsigned line, const char *type) {
  const char *mt = json_str(cmd, "module_type");
  if (mt && strcmp(mt, "binary")) return skip(s, "a module in the text format");
  wrt_module_t *m;
  imports_t *im;
  int err = load(s, json_str(cmd, "filename"), &m, &im);
  const char *why = err ? unsupported(err, wrt_last_error()) : NULL;
  if (!err) free_later(s, im);
  if (why && strcmp(type, "assert_unlinkable")) return skip(s, why);
  if (!strcmp(type, "assert_unlinkable")) {
    if (err == WRT_EIMPORT) return pass(s);
  } else if (!strcmp(type, "assert_uninstantiable")) {
    if (err == WRT_EFORMAT && strstr(wrt_last_error(), "instantiation would trap")) return pass(s);
    if (!err) {
      wrt_instance_t *inst;
      wrt_trap_t trap;
      int ierr = wrt_instantiate(m, &inst, &trap);
      if (!ierr && !trap) wrt_instance_free(inst);
      wrt_unload(m);
      if (!ierr && trap) return pass(s);
      return failf(s, line, "%s: instantiated, expected a trap (%s)", type, json_str(cmd, "text"));
    }
  } else if (err == WRT_EFORMAT) {
    if (s->verbose) fprintf(stderr, "%s:%u: %s (%s): refused: %s\n", s->path, line, type,
                            json_str(cmd, "text"), wrt_last_error());
    return pass(s);
  }
  if (!err) wrt_unload(m);
  failf(s, line, "%s (%s): load gave %s: %s", type, json_str(cmd, "text"),
        err ? wrt_strerror(err) : "success", err ? wrt_last_error() : "");
}

/* ------------------------------------------------------------------ */
/* Scripts                                                              */

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) b = (free(b), NULL);
  fclose(f);
  if (b) b[n] = 0, *len = (size_t)n;
  return b;
}

static wrt_runtime_t *runtime(spec_t *s) {
  wpool_config_t c;
  wrt_config_init(&c);
  c.instance_count = 16;
  c.instance_memory_pages = 65535;
  c.instance_tables = 4;
  c.stack_count = 0;
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = s->backend;
  o.pool_config = &c;
  wrt_runtime_t *rt;
  if (wrt_create(&o, &rt) != 0) {
    fprintf(stderr, "spec_run: wrt_create: %s\n", wrt_last_error());
    exit(2);
  }
  return rt;
}

int spec_script(spec_t *s, const char *json_path) {
  size_t len;
  char *text = slurp(json_path, &len), err[256];
  json_t *root = text ? json_parse(text, len, err, sizeof(err)) : NULL;
  free(text);
  const json_t *cmds = json_get(root, "commands");
  if (!cmds) {
    fprintf(stderr, "spec_run: %s: %s\n", json_path, text ? err : "cannot read");
    json_free(root);
    return -1;
  }
  s->path = json_path;
  snprintf(s->dir, sizeof(s->dir), "%s", json_path);
  char *slash = strrchr(s->dir, '/');
  if (slash) *slash = 0;
  else snprintf(s->dir, sizeof(s->dir), ".");
  s->rt = runtime(s);
  s->script = s->script_actions = (spec_counts_t){0};
  for (size_t i = 0; i < cmds->n; i++) {
    const json_t *cmd = cmds->items[i];
    const char *type = json_str(cmd, "type");
    const json_t *l = json_get(cmd, "line");
    unsigned line = l && l->str ? (unsigned)atoi(l->str) : 0;
    if (!type) continue;
    if (s->verbose > 1) fprintf(stderr, "%s:%u: %s\n", json_path, line, type);
    s->in_action = !strcmp(type, "action");
    if (!strcmp(type, "module")) cmd_module(s, cmd, line);
    else if (!strcmp(type, "register")) cmd_register(s, cmd);
    else if (!strcmp(type, "assert_return") || s->in_action) cmd_assert_return(s, cmd, line, 0);
    else if (!strcmp(type, "assert_trap") || !strcmp(type, "assert_exhaustion"))
      cmd_assert_return(s, cmd, line, 1);
    else if (!strncmp(type, "assert_", 7)) cmd_assert_module(s, cmd, line, type);
    else skip(s, "an unknown command");
  }
  s->in_action = 0;
  free_current(s);
  while (s->registered) {
    spec_instance_t *r = s->registered;
    s->registered = r->next;
    wrt_instance_free(r->inst);
    wrt_unload(r->m);
    free(r->imports);
    free(r);
  }
  wrt_destroy(s->rt);
  free_later(s, NULL);
  json_free(root);
  const char *base = strrchr(json_path, '/');
  printf("%-16s %5u passed, %4u skipped, %4u failed; %3u actions, %u failed\n",
         base ? base + 1 : json_path, s->script.passed, s->script.skipped, s->script.failed,
         s->script_actions.passed + s->script_actions.skipped + s->script_actions.failed,
         s->script_actions.failed);
  s->total.passed += s->script.passed;
  s->total.skipped += s->script.skipped;
  s->total.failed += s->script.failed;
  s->total_actions.passed += s->script_actions.passed;
  s->total_actions.skipped += s->script_actions.skipped;
  s->total_actions.failed += s->script_actions.failed;
  return 0;
}

void spec_report(const spec_t *s, FILE *f) {
  const spec_counts_t *a = &s->total, *k = &s->total_actions;
  fprintf(f, "spec (%s): %u assertions: %u passed, %u skipped, %u failed; %u actions: %u ran, "
          "%u skipped, %u failed\n", wrt_backend_name(s->backend),
          a->passed + a->skipped + a->failed, a->passed, a->skipped, a->failed,
          k->passed + k->skipped + k->failed, k->passed, k->skipped, k->failed);
  for (unsigned i = 0; i < s->nreasons; i++)
    fprintf(f, "  skipped %u: %s\n", s->reasons[i].count, s->reasons[i].text);
}
