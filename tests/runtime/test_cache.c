/* The compile cache (runtime/cache.c) against whoever can write to it: an
 * object is used only when its manifest says it is what this module
 * compiles to, the directory is private, a read-only cache is used and
 * left untouched, and a killed compile's temporaries go at the next load.
 * Each test has its own cache directory; the guests come from
 * WPOOL_EXAMPLES and WPOOL_TEST_MODULES. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

/* The runtime's SHA-256 (runtime/sha256.c; the archive is linked whole). */
void rt_sha256(const void *data, size_t len, uint8_t out[32]);
void rt_sha256_portable(const void *data, size_t len, uint8_t out[32]);
bool rt_sha256_accelerated(void);

static char *guest(const char *env, const char *name) {
  static _Thread_local char buf[8][1024];
  static _Thread_local int k;
  const char *d = getenv(env);
  cr_assert(d && *d, "%s is not set (meson test sets it)", env);
  char *b = buf[k++ % 8];
  snprintf(b, 1024, "%s/%s.wasm", d, name);
  return b;
}
#define EXAMPLE(name) guest("WPOOL_EXAMPLES", name)
#define HOSTILE(name) guest("WPOOL_TEST_MODULES", name)

static char *cache_dir(void) {
  char *d = strdup("/tmp/wrt-cache-XXXXXX");
  cr_assert(mkdtemp(d));
  return d;
}

/* Remove a test's directory and free its name. */
static void remove_tree(char *dir) {
  char cmd[1100];
  snprintf(cmd, sizeof(cmd), "chmod -R u+w %s 2>/dev/null; rm -rf %s", dir, dir);
  cr_expect_eq(system(cmd), 0);
  free(dir);
}

static wrt_runtime_t *make_rt(wrt_backend_t b, const char *cache, const char *cc) {
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = b;
  o.cache_dir = cache;
  o.cc = cc;
  wrt_runtime_t *rt;
  cr_assert_eq(wrt_create(&o, &rt), 0, "wrt_create: %s", wrt_last_error());
  return rt;
}

static wrt_module_t *load(wrt_runtime_t *rt, const char *path, bool from_cache) {
  wrt_module_t *m;
  cr_assert_eq(wrt_load(rt, path, &m), 0, "%s: %s", path, wrt_last_error());
  wrt_module_info_t info;
  wrt_module_info(m, &info);
  cr_expect_eq(info.from_cache, from_cache, "%s: from_cache %d", path, info.from_cache);
  return m;
}

/* Run `m` with argv {"g", arg}; expect its exit code and stdout. */
static void expect_run(wrt_module_t *m, const char *arg, int exit_code, const char *out) {
  const char *argv[] = {"g", arg};
  wrt_request_t req = {.argv = argv, .argc = arg ? 2 : 1};
  wrt_result_t r;
  wrt_result_init(&r);
  cr_assert_eq(wrt_run(m, &req, &r), 0, "%s", wrt_last_error());
  cr_expect_eq(r.trap, WRT_TRAP_NONE, "trap %s", wrt_trap_name(r.trap));
  cr_expect_eq(r.exit_code, exit_code, "exit %d, want %d", r.exit_code, exit_code);
  cr_expect(r.out_len == strlen(out) && (!r.out_len || !memcmp(r.out, out, r.out_len)),
            "stdout '%.*s', want '%s'",
            (int)r.out_len, r.out, out);
  wrt_result_free(&r);
}

/* The cache's file whose name ends with `suffix`, the n-th (sorted). */
static char *entry(const char *dir, const char *suffix, int n) {
  struct dirent **v;
  int count = scandir(dir, &v, NULL, alphasort);
  cr_assert_geq(count, 0);
  char *found = NULL;
  for (int i = 0; i < count; i++) {
    size_t l = strlen(v[i]->d_name), s = strlen(suffix);
    if (!found && l > s && !strcmp(v[i]->d_name + l - s, suffix) && n-- == 0) {
      found = malloc(strlen(dir) + l + 2);
      sprintf(found, "%s/%s", dir, v[i]->d_name);
    }
    free(v[i]);
  }
  free(v);
  cr_assert(found, "no %s in %s", suffix, dir);
  return found;
}

static int count_entries(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  cr_assert(d, "%s", dir);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.' && !strncmp(e->d_name, prefix, strlen(prefix))) n++;
  closedir(d);
  return n;
}

static void copy_file(const char *from, const char *to) {
  char cmd[2200];
  snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
  cr_assert_eq(system(cmd), 0);
}

/* ------------------------------------------------------------------ */
/* What is loaded                                                       */

/* Modules loaded side by side each run their own code (objects are
 * dlopened from memory: a path two objects shared once made the second
 * module run the first one's code). */
Test(cache, modules_loaded_side_by_side_each_run_their_own_code) {
  char *dir = cache_dir();
  wrt_runtime_t *pool = make_rt(WRT_BACKEND_POOL, dir, NULL);
  wrt_runtime_t *stock = make_rt(WRT_BACKEND_STOCK, dir, NULL);
  wrt_module_t *m[6];
  m[0] = load(pool, HOSTILE("memoryless"), false);
  m[1] = load(pool, EXAMPLE("hello"), false);
  m[2] = load(pool, EXAMPLE("trap"), false);
  m[3] = load(stock, EXAMPLE("hello"), true);
  m[4] = load(pool, EXAMPLE("hello"), true);
  m[5] = load(stock, HOSTILE("memoryless"), true);
  for (int round = 0; round < 2; round++) {
    expect_run(m[0], NULL, 3, "");
    expect_run(m[1], NULL, 0, "hello, world\n");
    expect_run(m[2], "exit7", 7, "");
    expect_run(m[3], NULL, 0, "hello, world\n");
    expect_run(m[4], NULL, 0, "hello, world\n");
    expect_run(m[5], NULL, 3, "");
  }
  cr_expect_eq(wrt_destroy(pool), 0);
  cr_expect_eq(wrt_destroy(stock), 0);
  remove_tree(dir);
}

/* An object that is not what the manifest says is never loaded: rebuilt,
 * and the module runs its own code. Truncated (it once killed the process
 * with SIGBUS), garbage, another module's object, another module's object
 * with its manifest, no manifest. */
static void corrupt(const char *dir, int how) {
  char *so = entry(dir, ".so", 0), *man = entry(dir, ".manifest", 0);
  char *other_so = entry(dir, ".so", 1), *other_man = entry(dir, ".manifest", 1);
  struct stat st;
  cr_assert_eq(stat(so, &st), 0);
  switch (how) {
  case 0: cr_assert_eq(truncate(so, st.st_size / 2), 0); break;
  case 1: {
    FILE *f = fopen(so, "r+");
    for (off_t i = 0; i < st.st_size; i += 4096) fseek(f, i, SEEK_SET), fputc(0x5a, f);
    fclose(f);
    break;
  }
  case 2: copy_file(other_so, so); break;
  case 3: copy_file(other_so, so), copy_file(other_man, man); break;
  case 4: cr_assert_eq(unlink(man), 0); break;
  }
  free(so), free(man), free(other_so), free(other_man);
}

Test(cache, an_object_that_is_not_what_its_manifest_says_is_rebuilt_not_loaded) {
  for (int how = 0; how < 5; how++) {
    char *dir = cache_dir();
    wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, dir, NULL);
    const char *a = HOSTILE("memoryless"), *b = HOSTILE("memoryless_plain");
    load(rt, a, false);
    load(rt, b, false);
    cr_expect_eq(wrt_destroy(rt), 0);
    /* Which module's entry sorts first is the key's business: corrupt
     * that one, then load both. */
    corrupt(dir, how);
    rt = make_rt(WRT_BACKEND_STOCK, dir, NULL);
    wrt_module_t *ma, *mb;
    cr_assert_eq(wrt_load(rt, a, &ma), 0, "case %d: %s", how, wrt_last_error());
    cr_assert_eq(wrt_load(rt, b, &mb), 0, "case %d: %s", how, wrt_last_error());
    wrt_module_info_t ia, ib;
    wrt_module_info(ma, &ia);
    wrt_module_info(mb, &ib);
    cr_expect_eq(ia.from_cache + ib.from_cache, 1, "case %d: one of the two was rebuilt", how);
    expect_run(ma, NULL, 3, "");
    expect_run(mb, NULL, 0, "");
    cr_expect_eq(wrt_destroy(rt), 0);
    /* Rebuilt whole: the next runtime finds both. */
    rt = make_rt(WRT_BACKEND_STOCK, dir, NULL);
    load(rt, a, true);
    load(rt, b, true);
    cr_expect_eq(wrt_destroy(rt), 0);
    remove_tree(dir);
  }
}

/* ------------------------------------------------------------------ */
/* A read-only cache                                                    */

/* Make `dir` read-only for this process: a read-only bind mount in a
 * mount namespace of its own (Criterion runs each test in a process of
 * its own), or, without the privilege, mode 0500. */
static bool read_only_by_mount;

static void make_read_only(const char *dir) {
  read_only_by_mount = unshare(CLONE_NEWNS) == 0;
  if (read_only_by_mount) {
    cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    cr_assert_eq(mount(dir, dir, NULL, MS_BIND, NULL), 0);
    cr_assert_eq(mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
  } else {
    cr_assert_neq(geteuid(), 0, "root without unshare: cannot make %s read-only", dir);
    cr_assert_eq(chmod(dir, 0500), 0);
  }
  cr_assert_neq(access(dir, W_OK), 0, "%s is still writable", dir);
}

static void make_writable_again(const char *dir) {
  if (read_only_by_mount) cr_assert_eq(umount(dir), 0);
  else cr_assert_eq(chmod(dir, 0700), 0);
}

/* A cache that holds valid objects is used read-only (the toolchain's
 * version probe once wrote its output into the cache, so a read-only cache
 * never hit); nothing in it changes; an invalid object in it is refused,
 * never loaded. */
Test(cache, a_read_only_cache_is_used_and_left_untouched) {
  char *dir = cache_dir();
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, dir, NULL);
  load(rt, EXAMPLE("hello"), false);
  load(rt, HOSTILE("memoryless"), false);
  cr_expect_eq(wrt_destroy(rt), 0);
  char *bad = entry(dir, ".so", 0);
  cr_assert_eq(truncate(bad, 100), 0);
  make_read_only(dir);
  struct stat before, after;
  cr_assert_eq(stat(dir, &before), 0);
  int entries = count_entries(dir, "");
  rt = make_rt(WRT_BACKEND_POOL, dir, NULL);
  wrt_module_t *hello = NULL, *ml = NULL;
  int e1 = wrt_load(rt, EXAMPLE("hello"), &hello);
  char *msg1 = strdup(wrt_last_error());
  int e2 = wrt_load(rt, HOSTILE("memoryless"), &ml);
  char *msg2 = strdup(wrt_last_error());
  /* One of the two entries is the truncated one: that load is refused,
   * the other hits. */
  cr_expect((e1 == 0) != (e2 == 0), "hello: %d (%s); memoryless: %d (%s)", e1, msg1, e2, msg2);
  int err = e1 ? e1 : e2;
  const char *msg = e1 ? msg1 : msg2;
  cr_expect_eq(err, WRT_ESYS, "%s", msg);
  cr_expect(strstr(msg, "cannot be written and holds no valid object"), "%s", msg);
  cr_expect(strstr(msg, "does not match its manifest"), "%s", msg);
  if (hello) expect_run(hello, NULL, 0, "hello, world\n");
  if (ml) expect_run(ml, NULL, 3, "");
  wrt_stats_t st;
  wrt_stats_get(rt, &st);
  cr_expect_eq(st.cache_hits, 1);
  cr_expect_eq(wrt_destroy(rt), 0);
  cr_assert_eq(stat(dir, &after), 0);
  cr_expect_eq(count_entries(dir, ""), entries, "entries were added to the read-only cache");
  cr_expect(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
            before.st_mtim.tv_nsec == after.st_mtim.tv_nsec, "the cache directory changed");
  free(bad);
  free(msg1);
  free(msg2);
  make_writable_again(dir);
  remove_tree(dir);
}

/* ------------------------------------------------------------------ */
/* The directory                                                        */

static void expect_refused(const char *dir, const char *needle) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, dir, NULL);
  wrt_module_t *m = NULL;
  cr_expect_eq(wrt_load(rt, HOSTILE("memoryless"), &m), WRT_EINVAL, "%s: %s", dir,
               wrt_last_error());
  cr_expect(strstr(wrt_last_error(), needle), "'%s' lacks '%s'", wrt_last_error(), needle);
  cr_expect(strstr(wrt_last_error(), dir), "%s", wrt_last_error());
  cr_expect_null(m);
  cr_expect_eq(wrt_destroy(rt), 0);
}

/* The directories the cache makes are 0700; a cache others could write
 * to, or another user's, is refused (its objects would run in this
 * process). */
Test(cache, the_cache_directory_is_private_and_no_one_elses) {
  char *top = cache_dir();
  char dir[1100];
  snprintf(dir, sizeof(dir), "%s/a/b", top);
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, dir, NULL);
  load(rt, HOSTILE("memoryless"), false);
  cr_expect_eq(wrt_destroy(rt), 0);
  struct stat st;
  char a[1100];
  snprintf(a, sizeof(a), "%s/a", top);
  cr_assert_eq(stat(a, &st), 0);
  cr_expect_eq(st.st_mode & 07777, 0700, "%s: mode %04o", a, st.st_mode & 07777);
  cr_assert_eq(stat(dir, &st), 0);
  cr_expect_eq(st.st_mode & 07777, 0700, "%s: mode %04o", dir, st.st_mode & 07777);
  cr_assert_eq(chmod(dir, 0777), 0);
  expect_refused(dir, "writable by others (mode 0777)");
  cr_assert_eq(chmod(dir, 0770), 0);
  expect_refused(dir, "writable by its group (mode 0770)");
  cr_assert_eq(chmod(dir, 0700), 0);
  if (geteuid() == 0) {
    cr_assert_eq(chown(dir, 65534, 65534), 0);
    expect_refused(dir, "owned by uid 65534");
  }
  remove_tree(top);
}

/* Without $HOME (and no cache named), the cache is ${TMPDIR:-/tmp}/
 * wpool-cache-<uid>, made private, and refused when another user made it
 * first (the cache once fell back to /tmp/wpool-cache unchecked). */
Test(cache, without_a_home_the_cache_is_private_under_tmpdir) {
  char *tmp = cache_dir();
  unsetenv("HOME");
  unsetenv("XDG_CACHE_HOME");
  unsetenv("WPOOL_CACHE_DIR");
  setenv("TMPDIR", tmp, 1);
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, NULL, NULL);
  load(rt, HOSTILE("memoryless"), false);
  cr_expect_eq(wrt_destroy(rt), 0);
  char dir[1100];
  snprintf(dir, sizeof(dir), "%s/wpool-cache-%lu", tmp, (unsigned long)geteuid());
  struct stat st;
  cr_assert_eq(stat(dir, &st), 0, "%s was not made", dir);
  cr_expect_eq(st.st_mode & 07777, 0700);
  cr_expect_eq(count_entries(dir, ""), 2, "the object and its manifest");
  if (geteuid() == 0) {
    cr_assert_eq(chown(dir, 65534, 65534), 0);
    rt = make_rt(WRT_BACKEND_STOCK, NULL, NULL);
    wrt_module_t *m;
    cr_expect_eq(wrt_load(rt, HOSTILE("memoryless"), &m), WRT_EINVAL);
    cr_expect(strstr(wrt_last_error(), "owned by uid 65534"), "%s", wrt_last_error());
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  remove_tree(tmp);
}

/* ------------------------------------------------------------------ */
/* Temporaries                                                          */

/* Temporary directories that carry the mark of a compile under way. */
static int count_marked(const char *dir) {
  DIR *d = opendir(dir);
  cr_assert(d, "%s", dir);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) {
    char p[2200];
    snprintf(p, sizeof(p), "%s/%s/locked", dir, e->d_name);
    if (!strncmp(e->d_name, "tmp-", 4) && access(p, F_OK) == 0) n++;
  }
  closedir(d);
  return n;
}

/* A compiler that never finishes (a script that sleeps). */
static char *slow_cc(const char *dir) {
  char *p = malloc(1100);
  snprintf(p, 1100, "%s/slow-cc", dir);
  FILE *f = fopen(p, "w");
  fputs("#!/bin/sh\ncase \"$1\" in --version) echo slow-cc 1 ;; *) exec sleep 60 ;; esac\n", f);
  fclose(f);
  cr_assert_eq(chmod(p, 0700), 0);
  return p;
}

/* A child that loads `path` with `cc` into `cache`: it blocks in the
 * compiler. Returns once its temporary directory is locked and marked.
 * The child leads a process group of its own, its compiler in it:
 * stop_compile kills them all. */
static pid_t start_compile(const char *cache, const char *cc, const char *path) {
  int before = count_marked(cache);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    setpgid(0, 0);
    wrt_options_t o;
    wrt_options_init(&o);
    o.backend = WRT_BACKEND_STOCK;
    o.cache_dir = cache;
    o.cc = cc;
    wrt_runtime_t *rt;
    wrt_module_t *m;
    if (wrt_create(&o, &rt) == 0) wrt_load(rt, path, &m);
    _exit(0);
  }
  /* Until its temporary is locked and marked: the compile is under way. */
  for (int i = 0; i < 1000 && count_marked(cache) == before; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  cr_assert_eq(count_marked(cache), before + 1, "the compile made no temporary");
  return pid;
}

/* Kill the compile: the loader, and (once it is dead) whatever still
 * holds its temporary's lock. A tool it was forking holds a copy of the
 * lock until exec closes it, and dies with its parent (PR_SET_PDEATHSIG)
 * on its own process group's time: wait for the locks to be free. */
static void stop_compile(const char *cache, pid_t pid) {
  cr_assert_eq(kill(-pid, SIGKILL), 0);
  cr_assert_eq(waitpid(pid, NULL, 0), pid);
  for (int i = 0; i < 500; i++) {
    DIR *d = opendir(cache);
    cr_assert(d);
    bool held = false;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strncmp(e->d_name, "tmp-", 4)) continue;
      int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY);
      if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) held = true;
      if (fd >= 0) close(fd);
    }
    closedir(d);
    if (!held) return;
    usleep(10000);
  }
  cr_assert_fail("a killed compile's temporary stayed locked for 5 s");
}

/* A compile killed half-way leaves its temporary directory; the next load
 * removes it (they once stayed for ever), but not the temporary of a
 * compile still running. */
Test(cache, a_killed_compiles_temporaries_go_at_the_next_load, .timeout = 60) {
  char *dir = cache_dir(), *cc = slow_cc(dir);
  stop_compile(dir, start_compile(dir, cc, HOSTILE("memoryless")));
  cr_expect_eq(count_entries(dir, "tmp-"), 1);
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, dir, NULL);
  expect_run(load(rt, HOSTILE("memoryless"), false), NULL, 3, "");
  cr_expect_eq(count_entries(dir, "tmp-"), 0, "the killed compile's temporary stayed");
  cr_expect_eq(wrt_destroy(rt), 0);
  /* A compile still running keeps its temporary through another load. */
  pid_t running = start_compile(dir, cc, HOSTILE("memoryless_plain"));
  rt = make_rt(WRT_BACKEND_STOCK, dir, NULL);
  load(rt, HOSTILE("memoryless"), true);
  cr_expect_eq(count_entries(dir, "tmp-"), 1, "a running compile's temporary was removed");
  stop_compile(dir, running);
  load(rt, HOSTILE("memoryless_plain"), false); /* a compile: cleans again */
  cr_expect_eq(count_entries(dir, "tmp-"), 0);
  cr_expect_eq(wrt_destroy(rt), 0);
  free(cc);
  remove_tree(dir);
}

/* ------------------------------------------------------------------ */
/* The hash                                                             */

static void hex32(const uint8_t h[32], char out[65]) {
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", h[i]);
}

/* The keys' and manifests' SHA-256 gives FIPS 180-4's digests, and the
 * CPU's SHA extensions (where it has them) the portable code's at every
 * length that ends a block differently. */
Test(cache, sha256_gives_the_standard_digests_with_and_without_the_cpus_extensions) {
  static const struct {
    const char *in;
    const char *digest;
  } known[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  };
  uint8_t h[32], p[32];
  char x[65];
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
    rt_sha256(known[i].in, strlen(known[i].in), h);
    hex32(h, x);
    cr_expect_str_eq(x, known[i].digest, "'%s'", known[i].in);
    rt_sha256_portable(known[i].in, strlen(known[i].in), h);
    hex32(h, x);
    cr_expect_str_eq(x, known[i].digest, "portable, '%s'", known[i].in);
  }
  size_t n = 1 << 20;
  uint8_t *a = malloc(n);
  memset(a, 'a', n);
  rt_sha256(a, 1000000, h); /* a million 'a's */
  hex32(h, x);
  cr_expect_str_eq(x, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  uint32_t r = 7;
  for (size_t i = 0; i < n; i++) a[i] = (uint8_t)((r = r * 1103515245u + 12345u) >> 24);
  for (size_t len = 0; len < 1200; len++) {
    rt_sha256(a, len, h);
    rt_sha256_portable(a, len, p);
    cr_assert(memcmp(h, p, 32) == 0, "length %zu (extensions: %d)", len, rt_sha256_accelerated());
  }
  rt_sha256(a, n, h);
  rt_sha256_portable(a, n, p);
  cr_expect(memcmp(h, p, 32) == 0, "1 MiB");
  free(a);
}

/* ------------------------------------------------------------------ */
/* A directory that changes under the load                              */

/* Replace the object of `dir`'s one entry (of HOSTILE("memoryless")) with
 * one whose constructor creates `marker`, and fix its manifest to match:
 * a plant that any load trusting that directory runs. Checked: with the
 * directory private, a load runs it. Then the directory is made
 * writable by all, as another user's is, which the checks refuse. */
static void plant(const char *dir, const char *marker) {
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, dir, NULL);
  load(rt, HOSTILE("memoryless"), false);
  cr_expect_eq(wrt_destroy(rt), 0);
  char *so = entry(dir, ".so", 0), *man = entry(dir, ".manifest", 0);
  char src[1200], cmd[4000];
  snprintf(src, sizeof(src), "%s.c", so);
  FILE *f = fopen(src, "w");
  cr_assert(f);
  fprintf(f, "#include <fcntl.h>\n#include <unistd.h>\n"
             "__attribute__((constructor)) static void planted(void) {\n"
             "  close(open(\"%s\", O_CREAT | O_WRONLY, 0600));\n}\n", marker);
  fclose(f);
  snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -o %s %s && rm %s", so, src, src);
  cr_assert_eq(system(cmd), 0);
  /* The manifest, its size and hash the planted object's. */
  FILE *o = fopen(so, "rb");
  cr_assert(o);
  static uint8_t obj[1 << 20];
  size_t n = fread(obj, 1, sizeof(obj), o);
  fclose(o);
  uint8_t h[32];
  char hx[65], text[8192] = "", line[4096];
  rt_sha256(obj, n, h);
  hex32(h, hx);
  FILE *m = fopen(man, "r");
  cr_assert(m);
  while (fgets(line, sizeof(line), m)) {
    if (!strncmp(line, "size ", 5)) snprintf(line, sizeof(line), "size %zu\n", n);
    else if (!strncmp(line, "sha256 ", 7)) snprintf(line, sizeof(line), "sha256 %s\n", hx);
    strncat(text, line, sizeof(text) - strlen(text) - 1);
  }
  fclose(m);
  m = fopen(man, "w");
  fputs(text, m);
  fclose(m);
  /* The plant works on a load that trusts the directory. */
  rt = make_rt(WRT_BACKEND_STOCK, dir, NULL);
  wrt_module_t *mod = NULL;
  wrt_load(rt, HOSTILE("memoryless"), &mod);
  cr_assert_eq(access(marker, F_OK), 0, "the planted object did not run: the test proves nothing");
  cr_expect_eq(wrt_destroy(rt), 0);
  cr_assert_eq(unlink(marker), 0);
  cr_assert_eq(chmod(dir, 0777), 0);
  free(so);
  free(man);
}

typedef struct flipper {
  const char *link, *a, *b;
  atomic_bool stop;
  pthread_t thread;
} flipper_t;

/* Point `link` at a, then b, then a..., each switch atomic (a new link
 * renamed over the old), until stopped. */
static void *flip(void *arg) {
  flipper_t *f = arg;
  char tmp[1100];
  snprintf(tmp, sizeof(tmp), "%s.flip", f->link);
  for (unsigned i = 0; !atomic_load(&f->stop); i++) {
    unlink(tmp);
    if (symlink(i % 2 ? f->b : f->a, tmp) == 0) rename(tmp, f->link);
    struct timespec ts = {0, 50 * 1000};
    nanosleep(&ts, NULL);
  }
  unlink(tmp);
  return NULL;
}

/* A link in the cache's path, flipped all through the loads between a
 * private directory and one writable by all that holds a planted object
 * (the red team's attack: a link flipped between /usr/bin, which passes
 * the checks, and the attacker's directory ran the attacker's object
 * within 2 to 5 loads). Whichever way it points, each load uses the very
 * directory it checked: the plant never runs. When the link is the cache
 * itself, every load refuses it; when it is a parent, a load either uses
 * the private directory or refuses the other one. */
static void flipped_loads(bool link_is_cache) {
  char *top = cache_dir();
  char good[1100], evil[1100], link[1100], cache[1200], marker[1100];
  snprintf(link, sizeof(link), "%s/link", top);
  snprintf(marker, sizeof(marker), "%s/planted-object-ran", top);
  snprintf(good, sizeof(good), "%s/good%s", top, link_is_cache ? "" : "/c");
  snprintf(evil, sizeof(evil), "%s/evil%s", top, link_is_cache ? "" : "/c");
  char cmd[4000];
  snprintf(cmd, sizeof(cmd), "mkdir -p -m 0700 %s %s", good, evil);
  cr_assert_eq(system(cmd), 0);
  plant(evil, marker);
  char a[1100], b[1100];
  snprintf(a, sizeof(a), "%s/good", top);
  snprintf(b, sizeof(b), "%s/evil", top);
  snprintf(cache, sizeof(cache), "%s%s", link, link_is_cache ? "" : "/c");
  flipper_t f = {.link = link, .a = link_is_cache ? good : a, .b = link_is_cache ? evil : b};
  cr_assert_eq(symlink(f.a, link), 0);
  cr_assert_eq(pthread_create(&f.thread, NULL, flip, &f), 0);
  int used = 0, refused = 0;
  for (int i = 0; i < 60; i++) {
    /* A fresh runtime each time: its first load probes the toolchain
     * between opening the directory and reading the entry. */
    wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, cache, NULL);
    wrt_module_t *m = NULL;
    int err = wrt_load(rt, HOSTILE("memoryless"), &m);
    cr_assert_eq(access(marker, F_OK), -1, "load %d ran the planted object", i);
    if (err == 0) {
      used++;
      expect_run(m, NULL, 3, "");
    } else {
      refused++;
      cr_expect_eq(err, WRT_EINVAL, "load %d: %s", i, wrt_last_error());
      cr_expect(strstr(wrt_last_error(), link_is_cache ? "is a symbolic link: refused"
                                                       : "writable by others (mode 0777)"),
                "load %d: %s", i, wrt_last_error());
    }
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  atomic_store(&f.stop, true);
  pthread_join(f.thread, NULL);
  if (link_is_cache) cr_expect_eq(used, 0);
  cr_log_info("%s: %d loads used the private directory, %d refused",
              link_is_cache ? "the cache a link" : "a parent a link", used, refused);
  remove_tree(top);
}

Test(cache, a_link_flipped_during_loads_never_makes_the_loader_use_another_directory,
     .timeout = 60) {
  flipped_loads(true);
  flipped_loads(false);
}

/* ------------------------------------------------------------------ */
/* Objects from concurrent compiles                                     */

/* Two compiles of one module give the same object, whichever directory
 * they ran in (gcc wrote the temporary directory's path into it), so
 * concurrent compiles cannot leave one compile's manifest beside the
 * other's object. */
Test(cache, every_compile_of_a_module_gives_the_same_object) {
  char *d1 = cache_dir(), *d2 = cache_dir();
  for (int i = 0; i < 2; i++) {
    wrt_runtime_t *rt = make_rt(WRT_BACKEND_STOCK, i ? d2 : d1, NULL);
    load(rt, EXAMPLE("hello"), false);
    cr_expect_eq(wrt_destroy(rt), 0);
  }
  char *s1 = entry(d1, ".so", 0), *s2 = entry(d2, ".so", 0);
  char cmd[2400];
  snprintf(cmd, sizeof(cmd), "cmp -s %s %s", s1, s2);
  cr_expect_eq(system(cmd), 0, "%s and %s differ", s1, s2);
  free(s1), free(s2);
  remove_tree(d1);
  remove_tree(d2);
}

/* Four processes compile one module into one cache at once; every one
 * loads it, and a later load finds a valid entry. */
Test(cache, concurrent_compiles_of_a_module_leave_a_valid_entry, .timeout = 60) {
  char *dir = cache_dir();
  pid_t pids[4];
  for (int i = 0; i < 4; i++) {
    pids[i] = fork();
    cr_assert_geq(pids[i], 0);
    if (pids[i] == 0) {
      wrt_options_t o;
      wrt_options_init(&o);
      o.backend = WRT_BACKEND_STOCK;
      o.cache_dir = dir;
      wrt_runtime_t *rt;
      wrt_module_t *m;
      _exit(wrt_create(&o, &rt) == 0 && wrt_load(rt, EXAMPLE("hello"), &m) == 0 ? 0 : 1);
    }
  }
  for (int i = 0; i < 4; i++) {
    int st;
    cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "compile %d failed", i);
  }
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, dir, NULL);
  expect_run(load(rt, EXAMPLE("hello"), true), NULL, 0, "hello, world\n");
  cr_expect_eq(wrt_destroy(rt), 0);
  remove_tree(dir);
}

/* A dlopen that cannot map its object (address space or mappings ran
 * out; here RLIMIT_AS) is WRT_ENOMEM naming vm.max_map_count, not a hint
 * to link with -rdynamic (that is only for an unresolved symbol). */
Test(cache, an_object_that_cannot_be_mapped_is_enomem_not_a_link_hint) {
  char *dir = cache_dir();
  wrt_runtime_t *rt = make_rt(WRT_BACKEND_POOL, dir, NULL);
  wrt_module_t *m = load(rt, EXAMPLE("hello"), false);
  FILE *f = fopen(EXAMPLE("hello"), "rb");
  cr_assert(f);
  static uint8_t bytes[1 << 20];
  size_t len = fread(bytes, 1, sizeof(bytes), f);
  fclose(f);
  /* Address space for the reads and the mallocs, none for the object. */
  void *room = malloc(64 << 20);
  cr_assert(room);
  memset(room, 1, 64 << 20);
  free(room);
  f = fopen("/proc/self/status", "r");
  char line[256];
  long vm_kib = 0;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmSize: %ld", &vm_kib) == 1) break;
  fclose(f);
  struct rlimit was, lim;
  getrlimit(RLIMIT_AS, &was);
  lim = was;
  lim.rlim_cur = (rlim_t)vm_kib << 10;
  cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
  wrt_module_t *m2 = NULL;
  int err = wrt_load_bytes(rt, "again.wasm", bytes, len, &m2);
  char msg[1024];
  snprintf(msg, sizeof(msg), "%s", wrt_last_error());
  setrlimit(RLIMIT_AS, &was);
  cr_expect_eq(err, WRT_ENOMEM, "%d: %s", err, msg);
  cr_expect(strstr(msg, "vm.max_map_count") && !strstr(msg, "rdynamic"), "%s", msg);
  if (!err) wrt_unload(m2);
  wrt_unload(m);
  cr_expect_eq(wrt_destroy(rt), 0);
  remove_tree(dir);
}
