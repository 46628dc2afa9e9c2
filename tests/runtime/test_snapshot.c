/* Snapshots at load (issue 23, docs/snapshot.md; runtime_instance.h:
 * wrt_load_options_t.init): an instance of a pre-initialised module starts
 * with the globals and memory a fresh instance has after running the init
 * function; an init that makes a WASI call whose answer varies, traps,
 * exits, runs past its time limit or changes a table is refused with
 * WRT_EINIT naming why; no instance sees another's writes to the
 * snapshot's pages. On both backends. The modules are
 * tests/runtime/wat/snapshot*.wat, built into WPOOL_TEST_MODULES, and
 * examples/lookup.c. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "modules.h"
#include "runtime.h"

static void shape(wpool_config_t *c) {
  c->instance_count = 4;
  c->instance_memory_pages = 64;
  c->instance_tables = 2;
  c->instance_table_elements = 100;
  c->stack_count = 0;
}

static wrt_runtime_t *make_rt(wrt_backend_t b) {
  return test_runtime(b, shape);
}

/* snapshot_refused.wat's host import: a non-null externref. */
static wrt_trap_t host_mk(void *env, const wrt_value_t *a, wrt_value_t *r) {
  (void)env, (void)a;
  r[0] = (wrt_value_t){.type = WRT_EXTERNREF, .of.externref = (void *)&host_mk};
  return WRT_TRAP_NONE;
}

static const wrt_valtype_t t_externref[] = {WRT_EXTERNREF};
static const wrt_import_t imports[] = {
    {.module = "host", .name = "mk", .results = t_externref, .nresults = 1, .fn = host_mk}};

/* Load `name` as a library with `init` (NULL: the default). */
static int load(wrt_runtime_t *rt, const char *name, const char *init, uint64_t timeout_ms,
                wrt_module_t **m) {
  wrt_load_options_t o;
  wrt_load_options_init(&o);
  o.imports = imports;
  o.nimports = 1;
  o.name = test_module_path(name);
  o.library = true;
  o.init = init;
  o.init_timeout_ms = timeout_ms;
  return wrt_load_ex(rt, &o, m);
}

/* Call the export `name` with up to two i32 arguments; its one result
 * (or none) in *out. */
static void call(wrt_instance_t *inst, wrt_module_t *m, const char *name, const uint32_t *args,
                 wrt_value_t *out) {
  wrt_func_t f;
  cr_assert_eq(wrt_func_find(m, name, strlen(name), &f), 0, "%s", name);
  wrt_value_t a[2], r[1];
  for (uint32_t i = 0; i < f.nparams; i++) a[i] = (wrt_value_t){.type = WRT_I32, .of.i32 = args[i]};
  wrt_trap_t trap;
  cr_assert_eq(wrt_call(inst, &f, a, r, &trap), 0, "%s: %s", name, wrt_last_error());
  cr_assert_eq(trap, WRT_TRAP_NONE, "%s trapped: %s", name, wrt_trap_name(trap));
  if (out && f.nresults) *out = r[0];
}

static uint64_t get(wrt_instance_t *inst, wrt_module_t *m, const char *name) {
  wrt_value_t v = {0};
  call(inst, m, name, NULL, &v);
  switch (v.type) {
    case WRT_I32:
      return v.of.i32;
    case WRT_I64:
      return v.of.i64;
    case WRT_F32: {
      uint32_t b;
      memcpy(&b, &v.of.f32, 4);
      return b;
    }
    default: {
      uint64_t b;
      memcpy(&b, &v.of.f64, 8);
      return b;
    }
  }
}

static uint32_t load_word(wrt_instance_t *inst, wrt_module_t *m, uint32_t addr) {
  wrt_value_t v;
  call(inst, m, "load", &addr, &v);
  return v.of.i32;
}

static const char *const getters[] = {"get_sp", "get_counter",   "get_ratio", "get_small",
                                      "get_k",  "get_untouched", "size",      "digest"};
#define NGETTERS (sizeof(getters) / sizeof(getters[0]))

static void state_of(wrt_instance_t *inst, wrt_module_t *m, uint64_t *out) {
  for (size_t i = 0; i < NGETTERS; i++) out[i] = get(inst, m, getters[i]);
}

Test(snapshot, instance_starts_with_the_globals_and_memory_a_fresh_run_has_after_init) {
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt(test_backends[b]);
    wrt_module_t *plain, *snap;
    cr_assert_eq(load(rt, "snapshot", "", 0, &plain), 0, "%s", wrt_last_error());
    cr_assert_eq(load(rt, "snapshot", NULL, 0, &snap), 0, "%s", wrt_last_error());
    wrt_instance_t *fresh, *from_snap;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(plain, &fresh, &trap), 0, "%s", wrt_last_error());
    call(fresh, plain, "wizer.initialize", NULL, NULL);
    cr_assert_eq(wrt_instantiate(snap, &from_snap, &trap), 0, "%s", wrt_last_error());
    uint64_t want[NGETTERS], got[NGETTERS];
    state_of(fresh, plain, want);
    state_of(from_snap, snap, got);
    for (size_t i = 0; i < NGETTERS; i++)
      cr_expect_eq(got[i], want[i], "%s (%s): %llx, a fresh run after init: %llx", getters[i],
                   wrt_backend_name(test_backends[b]), (unsigned long long)got[i],
                   (unsigned long long)want[i]);
    cr_expect_eq(got[0], 2048); /* the stack pointer's global */
    cr_expect_eq(got[6], 3);    /* grown past the minimum of 1 page */
    cr_expect_eq(load_word(from_snap, snap, 70000), 0xdeadbeefu);
    wrt_module_info_t info, pinfo;
    wrt_module_info(snap, &info);
    wrt_module_info(plain, &pinfo);
    cr_expect(info.snapshot && !pinfo.snapshot);
    cr_expect_eq(info.start_pages, 3);
    cr_expect_eq(pinfo.start_pages, 1);
    cr_expect_eq(info.min_pages, 1, "the declared minimum stays");
    cr_expect_eq(info.snapshot_globals, 4, "sp, counter, ratio, small changed");
    cr_expect_eq(info.snapshot_bytes, 3 * 4096, "three non-zero 4 KiB blocks");
    wrt_instance_free(fresh);
    wrt_instance_free(from_snap);
    cr_assert_eq(wrt_unload(plain), 0);
    cr_assert_eq(wrt_unload(snap), 0);
    cr_assert_eq(wrt_destroy(rt), 0);
  }
}

/* Writes to the snapshot's pages and globals by one instance are never
 * seen by another, live at the same time or later in the same slot. */
Test(snapshot, no_instance_sees_another_instances_writes_to_snapshot_pages) {
  static const uint32_t addrs[] = {16, 70000, 190000, 131072 + 8};
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt(test_backends[b]);
    wrt_module_t *m;
    cr_assert_eq(load(rt, "snapshot", NULL, 0, &m), 0, "%s", wrt_last_error());
    wrt_instance_t *ref;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(m, &ref, &trap), 0, "%s", wrt_last_error());
    uint64_t want[NGETTERS];
    state_of(ref, m, want);
    uint32_t want_words[4];
    for (int k = 0; k < 4; k++) want_words[k] = load_word(ref, m, addrs[k]);
    wrt_instance_free(ref);
    for (int round = 0; round < 12; round++) {
      wrt_instance_t *writer, *reader;
      cr_assert_eq(wrt_instantiate(m, &writer, &trap), 0, "%s", wrt_last_error());
      for (int k = 0; k < 4; k++) {
        uint32_t a[2] = {addrs[k], 0x5ec0de00u + (uint32_t)round};
        call(writer, m, "store", a, NULL);
      }
      call(writer, m, "bump", NULL, NULL);
      cr_assert_eq(wrt_instantiate(m, &reader, &trap), 0, "%s", wrt_last_error());
      uint64_t got[NGETTERS];
      state_of(reader, m, got);
      for (size_t i = 0; i < NGETTERS; i++)
        cr_assert_eq(got[i], want[i], "round %d: %s changed by another instance", round,
                     getters[i]);
      for (int k = 0; k < 4; k++)
        cr_assert_eq(load_word(reader, m, addrs[k]), want_words[k], "round %d, byte %u", round,
                     addrs[k]);
      /* Free in alternating order, so each slot is reused after writes. */
      if (round % 2) {
        wrt_instance_free(writer);
        wrt_instance_free(reader);
      } else {
        wrt_instance_free(reader);
        wrt_instance_free(writer);
      }
    }
    cr_assert_eq(wrt_unload(m), 0);
    cr_assert_eq(wrt_destroy(rt), 0);
  }
}

/* Every WASI call whose answer is not fixed at load, or that changes the
 * descriptor table, refuses the snapshot, and the module does not load;
 * output is allowed. */
Test(snapshot, init_making_a_call_that_varies_or_changes_descriptors_is_refused_naming_it) {
  static const char *const calls[] = {
      "clock_time_get", "clock_res_get",     "random_get",          "args_sizes_get",
      "args_get",       "environ_sizes_get", "environ_get",         "fd_read",
      "fd_pread",       "poll_oneoff",       "sock_recv",           "sock_accept",
      "fd_close",       "fd_renumber",       "fd_fdstat_set_flags", "fd_fdstat_set_rights",
  };
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt(test_backends[b]);
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
      wrt_module_t *m = (wrt_module_t *)1;
      cr_expect_eq(load(rt, "snapshot_refused", calls[i], 0, &m), WRT_EINIT, "%s", calls[i]);
      cr_expect_null(m);
      char want[64];
      snprintf(want, sizeof(want), "WASI's %s,", calls[i]);
      cr_expect(strstr(wrt_last_error(), want), "%s: %s", calls[i], wrt_last_error());
    }
    wrt_module_t *m;
    cr_assert_eq(load(rt, "snapshot_refused", "write", 0, &m), 0, "%s", wrt_last_error());
    wrt_instance_t *inst;
    wrt_trap_t trap;
    cr_assert_eq(wrt_instantiate(m, &inst, &trap), 0, "%s", wrt_last_error());
    cr_expect_eq(get(inst, m, "get_g"), 9);
    wrt_instance_free(inst);
    cr_assert_eq(wrt_unload(m), 0);
    cr_assert_eq(wrt_destroy(rt), 0);
  }
}

Test(snapshot, init_that_traps_exits_loops_or_changes_a_table_or_reference_is_refused) {
  static const struct {
    const char *init;
    int err;
    const char *says;
  } cases[] = {
      {"trap", WRT_EINIT, "trapped: unreachable"},
      {"exit", WRT_EINIT, "exited (proc_exit 3)"},
      {"loop", WRT_EINIT, "time limit of 300 ms"},
      {"table", WRT_EINIT, "changed table 0"},
      {"no_such_function", WRT_EINVAL, "exports no such function"},
      {"with_param", WRT_EINVAL, "() -> ()"},
      {"funcref_global", WRT_EINIT, "a reference"},
      /* Its externref comes from a host function, which is refused first:
       * the embedder's answers are not the module's (a cached snapshot
       * would carry them into another embedder's load). */
      {"externref_global", WRT_EINIT, "a host function of the embedder's"},
      {"data_drop", WRT_EINIT, "state a snapshot does not carry"},
      {"elem_drop", WRT_EINIT, "state a snapshot does not carry"},
  };
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt(test_backends[b]);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      wrt_module_t *m = (wrt_module_t *)1;
      cr_expect_eq(load(rt, "snapshot_refused", cases[i].init, 300, &m), cases[i].err, "%s: %s",
                   cases[i].init, wrt_last_error());
      cr_expect_null(m);
      cr_expect(strstr(wrt_last_error(), cases[i].says), "%s: %s", cases[i].init, wrt_last_error());
    }
    wrt_module_t *m = (wrt_module_t *)1;
    cr_expect_eq(load(rt, "snapshot_start", NULL, 0, &m), WRT_EINIT, "%s", wrt_last_error());
    cr_expect(strstr(wrt_last_error(), "start function"), "%s", wrt_last_error());
    /* Nothing is held: every slot is free for other modules. */
    wpool_stats_t st;
    if (wrt_pool(rt)) {
      wpool_stats_get(wrt_pool(rt), &st);
      cr_expect_eq(st.live_instances, 0);
      cr_expect_eq(st.live_modules, 0, "the refused loads released their pool modules");
    }
    cr_assert_eq(wrt_destroy(rt), 0);
  }
}

/* The example guest: the same output with and without its snapshot, and
 * the snapshot holds the 1 MiB table. */
Test(snapshot, lookup_example_gives_the_same_output_with_and_without_snapshot) {
  const char *d = getenv("WPOOL_EXAMPLES");
  cr_assert(d && *d, "WPOOL_EXAMPLES is not set (meson test sets it)");
  char path[1024];
  snprintf(path, sizeof(path), "%s/lookup.wasm", d);
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt(test_backends[b]);
    wrt_module_t *m[2];
    for (int k = 0; k < 2; k++) {
      wrt_load_options_t o;
      wrt_load_options_init(&o);
      o.name = path;
      o.init = k ? NULL : "";
      cr_assert_eq(wrt_load_ex(rt, &o, &m[k]), 0, "%s", wrt_last_error());
    }
    wrt_module_info_t info;
    wrt_module_info(m[1], &info);
    cr_expect(info.snapshot);
    cr_expect_geq(info.snapshot_bytes, 1u << 20);
    const char *argv[] = {"lookup"};
    static const char input[] = "the quick brown fox jumps over the lazy dog";
    wrt_request_t req = {
        .argv = argv, .argc = 1, .stdin_bytes = input, .stdin_len = sizeof(input) - 1};
    wrt_result_t r[2];
    for (int k = 0; k < 2; k++) {
      wrt_result_init(&r[k]);
      for (int rep = 0; rep < 3; rep++) {
        cr_assert_eq(wrt_run(m[k], &req, &r[k]), 0, "%s", wrt_last_error());
        cr_assert_eq(r[k].exit_code, 0);
      }
    }
    cr_expect_eq(r[0].out_len, r[1].out_len);
    cr_expect(r[0].out_len > 0 && memcmp(r[0].out, r[1].out, r[0].out_len) == 0,
              "outputs differ:\n%.*s\n%.*s", (int)r[0].out_len, r[0].out, (int)r[1].out_len,
              r[1].out);
    for (int k = 0; k < 2; k++) {
      wrt_result_free(&r[k]);
      cr_assert_eq(wrt_unload(m[k]), 0);
    }
    cr_assert_eq(wrt_destroy(rt), 0);
  }
}

/* ------------------------------------------------------------------ */
/* The snapshot in the compile cache (runtime/snap_cache.c)             */

void rt_sha256(const void *data, size_t len, uint8_t out[32]);

static wrt_runtime_t *make_rt_in(wrt_backend_t b, const char *cache) {
  wpool_config_t c;
  wrt_config_init(&c);
  c.instance_count = 4;
  c.instance_memory_pages = 64;
  c.stack_count = 0;
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = b;
  o.pool_config = &c;
  o.cache_dir = cache;
  wrt_runtime_t *rt;
  cr_assert_eq(wrt_create(&o, &rt), 0, "wrt_create: %s", wrt_last_error());
  return rt;
}

/* Load snapshot.wasm with its snapshot: its state, whether it came from
 * the cache. */
static bool load_state(wrt_runtime_t *rt, uint64_t *state) {
  wrt_module_t *m;
  cr_assert_eq(load(rt, "snapshot", NULL, 0, &m), 0, "%s", wrt_last_error());
  wrt_instance_t *inst;
  wrt_trap_t trap;
  cr_assert_eq(wrt_instantiate(m, &inst, &trap), 0, "%s", wrt_last_error());
  state_of(inst, m, state);
  wrt_instance_free(inst);
  wrt_module_info_t info;
  wrt_module_info(m, &info);
  cr_assert(info.snapshot);
  cr_assert_eq(wrt_unload(m), 0);
  return info.snapshot_from_cache;
}

/* The cache's one snapshot file: its path (static), or NULL. */
static const char *snap_file(const char *dir) {
  static char path[1200];
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "ls %s/*.snap 2>/dev/null", dir);
  FILE *p = popen(cmd, "r");
  cr_assert(p);
  bool got = fgets(path, sizeof(path), p) != NULL;
  pclose(p);
  if (!got) return NULL;
  path[strcspn(path, "\n")] = 0;
  return path;
}

static void rewrite(const char *path, size_t at, const void *bytes, size_t n, bool fix_manifest) {
  FILE *f = fopen(path, "r+b");
  cr_assert(f);
  cr_assert_eq(fseek(f, (long)at, SEEK_SET), 0);
  cr_assert_eq(fwrite(bytes, 1, n, f), n);
  fclose(f);
  if (!fix_manifest) return;
  f = fopen(path, "rb");
  static uint8_t buf[4 << 20];
  size_t len = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  uint8_t h[32];
  rt_sha256(buf, len, h);
  char hx[65], key[65], man[1300];
  for (int i = 0; i < 32; i++) sprintf(hx + 2 * i, "%02x", h[i]);
  const char *base = strrchr(path, '/') + 1;
  snprintf(key, sizeof(key), "%.64s", base);
  snprintf(man, sizeof(man), "%sman", path);
  f = fopen(man, "wb");
  cr_assert(f);
  fprintf(f, "wpool-snapshot-manifest 1\nkey %s\nsize %zu\nsha256 %s\n", key, len, hx);
  fclose(f);
}

Test(snapshot, is_taken_once_then_read_from_the_cache_and_a_bad_entry_is_never_used) {
  char dir[] = "/tmp/wpool-snap-test-XXXXXX";
  cr_assert(mkdtemp(dir));
  /* A snapshot's temporary an hour old (its writer died) is removed by
   * the next runtime's first load; a recent one (being written) stays. */
  char old[1200], recent[1200];
  snprintf(old, sizeof(old), "%s/tmp-snap-00000000000000aa", dir);
  snprintf(recent, sizeof(recent), "%s/tmp-snap-00000000000000bb", dir);
  fclose(fopen(old, "w"));
  fclose(fopen(recent, "w"));
  struct timespec t[2] = {{.tv_sec = time(NULL) - 7200}, {.tv_sec = time(NULL) - 7200}};
  cr_assert_eq(utimensat(AT_FDCWD, old, t, 0), 0);
  for (size_t b = 0; b < 2; b++) {
    wrt_runtime_t *rt = make_rt_in(test_backends[b], dir);
    uint64_t want[NGETTERS], got[NGETTERS];
    bool cached = load_state(rt, want);
    cr_expect(b == 1 || !cached, "the first load runs the init");
    cr_expect(load_state(rt, got), "the second load reads the snapshot from the cache");
    cr_expect_neq(access(old, F_OK), 0, "an hour-old temporary is removed");
    cr_expect_eq(access(recent, F_OK), 0, "a recent temporary stays");
    cr_expect(memcmp(want, got, sizeof(want)) == 0);
    const char *f = snap_file(dir);
    cr_assert(f, "a snapshot file in the cache");
    /* A byte of the image changed: no longer its manifest's. */
    uint8_t x = 0x5a;
    rewrite(f, 48 + 4 * 16 + 3 * 16 + 5, &x, 1, false);
    cr_expect(!load_state(rt, got), "a file that does not match its manifest is not used");
    cr_expect(memcmp(want, got, sizeof(want)) == 0);
    cr_expect(load_state(rt, got), "and was written again");
    /* Matching manifests, bounds that do not fit: pages over the
     * module's maximum; a global's offset past the instance struct; a run
     * past the snapshot's memory; a global of size 0 at offset 1 (no global's; at the
     * struct's end it read past the check's buffer). */
    static const struct {
      size_t at;
      uint64_t v;
      size_t n;
    } forged[] = {
        {16, 1000, 8}, {48, 1u << 30, 4}, {48 + 4 * 16 + 2 * 16, 3u << 16, 8}, {48, 1, 8}};
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
      f = snap_file(dir);
      rewrite(f, forged[i].at, &forged[i].v, forged[i].n, true);
      cr_expect(!load_state(rt, got), "forged entry %zu used", i);
      cr_expect(memcmp(want, got, sizeof(want)) == 0, "forged entry %zu", i);
    }
    cr_assert_eq(wrt_destroy(rt), 0);
  }
  char cmd[200];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_expect_eq(system(cmd), 0);
}

/* This process's data mappings (VmData), bytes. */
static uint64_t vm_data(void) {
  FILE *f = fopen("/proc/self/status", "r");
  cr_assert(f);
  char line[256];
  unsigned long long kib = 0;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmData: %llu kB", &kib) == 1) break;
  fclose(f);
  cr_assert_gt(kib, 0);
  return kib * 1024;
}

/* Whether RLIMIT_DATA refuses making private pages writable here (a
 * kernel booted with ignore_rlimit_data, or a sandbox's, may not). */
static bool data_limit_enforced(void) {
  void *p = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(p, MAP_FAILED);
  struct rlimit old;
  cr_assert_eq(getrlimit(RLIMIT_DATA, &old), 0);
  struct rlimit lim = {.rlim_cur = vm_data() + (64 << 10), .rlim_max = old.rlim_max};
  cr_assert_eq(setrlimit(RLIMIT_DATA, &lim), 0);
  int r = mprotect(p, 1 << 20, PROT_READ | PROT_WRITE);
  cr_assert_eq(setrlimit(RLIMIT_DATA, &old), 0);
  munmap(p, 1 << 20);
  return r != 0;
}

/* An init whose memory.grow the host refuses (here: RLIMIT_DATA, which
 * refuses an mprotect that makes private pages writable) is not
 * snapshotted, nor is that outcome cached, whatever the init did next:
 * the load fails with WRT_ENOMEM naming the init, and the next load, with
 * memory to spare, takes the snapshot of the init as it runs with memory.
 * snapshot_grow.wat's init copes (it records that the grow failed and
 * returns); snapshot.wat's does not (it traps past its memory). */
Test(snapshot, init_whose_grow_the_host_refuses_is_neither_used_nor_cached) {
  char dir[] = "/tmp/wpool-snap-grow-XXXXXX";
  cr_assert(mkdtemp(dir));
  char cmd[200];
  snprintf(cmd, sizeof(cmd), "rm -f %s/*.snap %s/*.snapman", dir, dir);
  static const char *const mods[] = {"snapshot_grow", "snapshot"};
  for (size_t b = 0; b < 2; b++)
    for (size_t k = 0; k < 2; k++) {
      const char *be = wrt_backend_name(test_backends[b]), *name = mods[k];
      wrt_runtime_t *rt = make_rt_in(test_backends[b], dir);
      wrt_module_t *m;
      /* Compiled (and the compile cached), the watchdog thread started, a
       * first snapshot taken, before the limit; that snapshot removed. */
      cr_assert_eq(load(rt, name, NULL, 0, &m), 0, "%s", wrt_last_error());
      cr_assert_eq(wrt_unload(m), 0);
      cr_assert_eq(system(cmd), 0);
      cr_assert_null(snap_file(dir));
      struct rlimit old;
      cr_assert_eq(getrlimit(RLIMIT_DATA, &old), 0);
      if (!data_limit_enforced()) cr_skip_test("RLIMIT_DATA does not refuse mprotect here");
      /* The least room past what the process has that instantiation needs
       * (the first page, 64 KiB, and the backend's own) and the init's
       * grow by two pages (128 KiB) does not fit: found by trying. */
      int err = 0;
      for (uint64_t room = 64 << 10; room <= (4 << 20); room += 16 << 10) {
        struct rlimit lim = {.rlim_cur = vm_data() + room, .rlim_max = old.rlim_max};
        cr_assert_eq(setrlimit(RLIMIT_DATA, &lim), 0);
        err = load(rt, name, NULL, 0, &m);
        cr_assert_eq(setrlimit(RLIMIT_DATA, &old), 0);
        cr_assert_neq(err, 0, "%s, %s: loaded with %llu bytes to spare: %s", be, name,
                      (unsigned long long)room,
                      k == 0 ? "the snapshot of a refused grow was taken" : "no grow refused");
        if (strstr(wrt_last_error(), "init function")) break;
      }
      cr_expect_eq(err, WRT_ENOMEM, "%s, %s: %d (%s)", be, name, err, wrt_last_error());
      cr_expect(strstr(wrt_last_error(), "wizer.initialize") &&
                    strstr(wrt_last_error(), "host refused"),
                "%s", wrt_last_error());
      cr_expect_null(snap_file(dir), "%s, %s: a snapshot of the refused grow was cached", be, name);
      /* With room again: the init's grown state, taken now. */
      cr_assert_eq(load(rt, name, NULL, 0, &m), 0, "%s", wrt_last_error());
      wrt_module_info_t info;
      wrt_module_info(m, &info);
      cr_expect(info.snapshot && !info.snapshot_from_cache, "%s, %s", be, name);
      cr_expect_eq(info.start_pages, 3, "%s, %s: %u pages after init", be, name,
                   (unsigned)info.start_pages);
      wrt_instance_t *inst;
      wrt_trap_t trap;
      cr_assert_eq(wrt_instantiate(m, &inst, &trap), 0, "%s", wrt_last_error());
      if (k == 0) cr_expect_eq(get(inst, m, "get_mode"), 2, "%s: the init's refused way", be);
      wrt_instance_free(inst);
      cr_assert_eq(wrt_unload(m), 0);
      cr_assert_eq(wrt_destroy(rt), 0);
      cr_expect_eq(system(cmd), 0);
    }
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_expect_eq(system(cmd), 0);
}

/* `wpool wasm --init FUNC` / `--no-init` reach it: the same output either
 * way; an init the module lacks fails the load, named. */
static int tool(const char *args, char *out, size_t cap) {
  const char *t = getenv("WPOOL_TOOL"), *d = getenv("WPOOL_EXAMPLES");
  cr_assert(t && d, "WPOOL_TOOL and WPOOL_EXAMPLES are set by meson test");
  char cmd[4096];
  snprintf(cmd, sizeof(cmd), "echo lookup | %s wasm %s %s/lookup.wasm 2>&1", t, args, d);
  FILE *p = popen(cmd, "r");
  cr_assert(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(snapshot, wpool_wasm_init_and_no_init_give_the_same_output) {
  static char a[8192], b[8192], c[8192], e[8192];
  cr_assert_eq(tool("--init wizer.initialize", a, sizeof(a)), 0, "%s", a);
  cr_assert_eq(tool("", c, sizeof(c)), 0, "%s", c);
  cr_assert_eq(tool("--no-init", b, sizeof(b)), 0, "%s", b);
  /* The guest's lines, before the tool's summary. */
  char *sa = strstr(a, "wpool wasm:"), *sb = strstr(b, "wpool wasm:"),
       *sc = strstr(c, "wpool wasm:");
  cr_assert(sa && sb && sc);
  *sa = *sb = *sc = 0;
  cr_expect(strstr(a, "table[229397] = "), "%s", a);
  cr_expect_str_eq(a, b);
  cr_expect_str_eq(a, c);
  cr_expect_eq(tool("--init no.such.function", e, sizeof(e)), 2, "%s", e);
  cr_expect(strstr(e, "no.such.function: the module exports no such function"), "%s", e);
}

/* Loads of one module on several threads at once, each runtime its own
 * pool, one cache: every load gets the same state, whether it ran the
 * init and wrote the entry or read another's. */
typedef struct loader {
  const char *cache;
  uint64_t state[NGETTERS];
  int err;
} loader_t;

static void *load_thread(void *arg) {
  loader_t *l = arg;
  wrt_runtime_t *rt = make_rt_in(WRT_BACKEND_POOL, l->cache);
  for (int k = 0; k < 3; k++) {
    wrt_module_t *m;
    l->err = load(rt, "snapshot", NULL, 0, &m);
    if (l->err) break;
    wrt_instance_t *inst;
    wrt_trap_t trap;
    l->err = wrt_instantiate(m, &inst, &trap);
    if (!l->err) {
      state_of(inst, m, l->state);
      wrt_instance_free(inst);
    }
    wrt_unload(m);
  }
  wrt_destroy(rt);
  return NULL;
}

Test(snapshot, concurrent_loads_share_one_cache_entry_and_agree) {
  char dir[] = "/tmp/wpool-snap-test-XXXXXX";
  cr_assert(mkdtemp(dir));
  /* The object compiled once first: the threads race on the snapshot. */
  wrt_runtime_t *rt = make_rt_in(WRT_BACKEND_POOL, dir);
  wrt_module_t *m;
  cr_assert_eq(load(rt, "snapshot", "", 0, &m), 0, "%s", wrt_last_error());
  wrt_instance_t *inst;
  wrt_trap_t trap;
  cr_assert_eq(wrt_instantiate(m, &inst, &trap), 0, "%s", wrt_last_error());
  call(inst, m, "wizer.initialize", NULL, NULL);
  uint64_t want[NGETTERS];
  state_of(inst, m, want);
  wrt_instance_free(inst);
  cr_assert_eq(wrt_unload(m), 0);
  cr_assert_eq(wrt_destroy(rt), 0);
  enum { N = 4 };
  pthread_t t[N];
  loader_t l[N];
  for (int i = 0; i < N; i++) {
    l[i] = (loader_t){.cache = dir};
    cr_assert_eq(pthread_create(&t[i], NULL, load_thread, &l[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(t[i], NULL);
    cr_expect_eq(l[i].err, 0, "thread %d", i);
    cr_expect(memcmp(l[i].state, want, sizeof(want)) == 0, "thread %d's state", i);
  }
  char cmd[200];
  snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^tmp-snap-'", dir);
  FILE *p = popen(cmd, "r");
  char out[32] = "";
  cr_assert(fgets(out, sizeof(out), p));
  pclose(p);
  cr_expect_eq(atoi(out), 0, "no temporary left behind");
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_expect_eq(system(cmd), 0);
}
