/* WASI's file system under attack, on both backends and with both path
 * resolvers (openat2, the component walk): a guest that calls WASI
 * directly (examples/fsprobe.c) tries `..`, absolute paths, links out of
 * its directory (relative, absolute, to directories, behind trailing
 * slashes), creating and changing things outside, changing a read-only
 * directory, a race that swaps a directory for a link while it resolves
 * paths through it, pointers and counts past its memory; and every
 * descriptor a request opens is closed at its end, however it ends.
 *
 * Each test builds, under a fresh temporary directory T:
 *   T/secret.txt          "SECRET outside"
 *   T/outside/f           "SECRET in a directory outside"
 *   T/box/                the guest's preopen "/" (fd 3)
 *   T/box/inside.txt      "inside"
 *   T/box/sub/            T/box/sub/in_up -> ../inside.txt
 *   T/box/out_rel -> ../secret.txt       T/box/out_abs -> T/secret.txt
 *   T/box/outdir -> T/outside            T/box/outdir_rel -> ../outside
 *   T/box/sub/up2 -> ../../secret.txt    T/box/in_link -> inside.txt */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"

extern char **environ;

static char *guest_path(const char *name) {
  static _Thread_local char b[1024];
  const char *d = getenv("WPOOL_EXAMPLES");
  cr_assert(d && *d, "WPOOL_EXAMPLES is not set (meson test sets it)");
  snprintf(b, sizeof(b), "%s/%s.wasm", d, name);
  return b;
}

typedef struct box {
  char t[64];    /* T */
  char path[96]; /* T/box */
  int fd;        /* T/box, opened with wrt_dir_open */
} box_t;

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert(f, "cannot create %s", path);
  fputs(text, f);
  fclose(f);
}

static void box_make(box_t *b) {
  snprintf(b->t, sizeof(b->t), "/tmp/wasi-test-XXXXXX");
  cr_assert(mkdtemp(b->t));
  snprintf(b->path, sizeof(b->path), "%s/box", b->t);
  char p[256], q[256];
#define AT(fmt, ...) (snprintf(p, sizeof(p), "%s/" fmt, b->t, ##__VA_ARGS__), p)
  put(AT("secret.txt"), "SECRET outside");
  cr_assert_eq(mkdir(AT("outside"), 0755), 0);
  put(AT("outside/f"), "SECRET in a directory outside");
  cr_assert_eq(mkdir(AT("box"), 0755), 0);
  cr_assert_eq(mkdir(AT("box/sub"), 0755), 0);
  put(AT("box/inside.txt"), "inside");
  cr_assert_eq(symlink("../inside.txt", AT("box/sub/in_up")), 0);
  cr_assert_eq(symlink("../secret.txt", AT("box/out_rel")), 0);
  snprintf(q, sizeof(q), "%s/secret.txt", b->t);
  cr_assert_eq(symlink(q, AT("box/out_abs")), 0);
  snprintf(q, sizeof(q), "%s/outside", b->t);
  cr_assert_eq(symlink(q, AT("box/outdir")), 0);
  cr_assert_eq(symlink("../outside", AT("box/outdir_rel")), 0);
  cr_assert_eq(symlink("../../secret.txt", AT("box/sub/up2")), 0);
  cr_assert_eq(symlink("inside.txt", AT("box/in_link")), 0);
#undef AT
  cr_assert_eq(wrt_dir_open(b->path, &b->fd), 0, "%s", wrt_last_error());
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static void box_free(box_t *b) {
  close(b->fd);
  nftw(b->t, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The four ways to run: backend x resolver. */
typedef struct way {
  wrt_backend_t backend;
  wrt_resolve_t resolve;
} way_t;
static const way_t ways[4] = {{WRT_BACKEND_POOL, WRT_RESOLVE_OPENAT2},
                              {WRT_BACKEND_STOCK, WRT_RESOLVE_OPENAT2},
                              {WRT_BACKEND_POOL, WRT_RESOLVE_WALK},
                              {WRT_BACKEND_STOCK, WRT_RESOLVE_WALK}};

static const char *way_name(way_t w) {
  static _Thread_local char s[32];
  snprintf(s, sizeof(s), "%s/%s", wrt_backend_name(w.backend),
           w.resolve == WRT_RESOLVE_WALK ? "walk" : "openat2");
  return s;
}

typedef struct probe {
  wrt_runtime_t *rt;
  wrt_module_t *m;
  wrt_result_t res;
  char *out; /* NUL-terminated copy of the last run's stdout */
} probe_t;

static void probe_open(probe_t *p, way_t w) {
  wrt_options_t o;
  wrt_options_init(&o);
  o.backend = w.backend;
  o.resolve = w.resolve;
  cr_assert_eq(wrt_create(&o, &p->rt), 0, "%s", wrt_last_error());
  cr_assert_eq(wrt_load(p->rt, guest_path("fsprobe"), &p->m), 0, "%s", wrt_last_error());
  wrt_result_init(&p->res);
  p->out = NULL;
}

static void probe_close(probe_t *p) {
  free(p->out);
  wrt_result_free(&p->res);
  cr_assert_eq(wrt_destroy(p->rt), 0);
}

/* Run the probe with `cmds` (NULL-terminated) and `dirs`; its stdout. */
static const char *probe_run_dirs(probe_t *p, const wrt_dir_t *dirs, uint32_t nd, uint32_t max_fds,
                                  const char *const *cmds) {
  const char *argv[64] = {"fsprobe"};
  uint32_t n = 1;
  while (cmds[n - 1] && n < 64) argv[n] = cmds[n - 1], n++;
  wrt_request_t req = {.argv = argv, .argc = n, .dirs = dirs, .ndirs = nd, .max_fds = max_fds};
  cr_assert_eq(wrt_run(p->m, &req, &p->res), 0, "%s", wrt_last_error());
  free(p->out);
  p->out = strndup(p->res.out ? p->res.out : "", p->res.out_len);
  return p->out;
}

static const char *probe_run(probe_t *p, const box_t *b, const char *const *cmds) {
  wrt_dir_t d = {.guest_path = "/", .fd = b->fd};
  return probe_run_dirs(p, &d, 1, 0, cmds);
}

/* Every "LINE\n" of `want` (NULL-terminated) is a whole line of `out`. */
static void expect_lines(const char *out, const char *const *want, const char *ctx) {
  for (; *want; want++) {
    char line[512];
    snprintf(line, sizeof(line), "%s\n", *want);
    bool found = !strncmp(out, line, strlen(line));
    for (const char *s = strchr(out, '\n'); s && !found; s = strchr(s + 1, '\n'))
      found = !strncmp(s + 1, line, strlen(line));
    cr_expect(found, "%s: no line \"%s\" in:\n%s", ctx, *want, out);
  }
}

static void escapes(const char *const *cmds, const char *const *want) {
  box_t b;
  box_make(&b);
  for (int k = 0; k < 4; k++) {
    probe_t p;
    probe_open(&p, ways[k]);
    const char *out = probe_run(&p, &b, cmds);
    expect_lines(out, want, way_name(ways[k]));
    cr_expect(!strstr(out, "SECRET"), "%s: a secret read:\n%s", way_name(ways[k]), out);
    probe_close(&p);
  }
  box_free(&b);
}

Test(wasi, dotdot_and_absolute_paths_stay_inside) {
  const char *cmds[] = {"open ../secret.txt", "open sub/../../secret.txt",
                        "open sub/./../sub/../../secret.txt", "open ..", "open /etc/passwd",
                        "open //etc/passwd", "stat ../secret.txt", "stat ..", "touch ..",
                        "readlink ../x", "open sub/../inside.txt", "open ./sub/../inside.txt", NULL};
  const char *want[] = {"open ../secret.txt: ENOTCAPABLE", "open sub/../../secret.txt: ENOTCAPABLE",
                        "open sub/./../sub/../../secret.txt: ENOTCAPABLE", "open ..: ENOTCAPABLE",
                        "open /etc/passwd: ENOTCAPABLE", "open //etc/passwd: ENOTCAPABLE",
                        "stat ../secret.txt: ENOTCAPABLE", "stat ..: ENOTCAPABLE",
                        "touch ..: ENOTCAPABLE", "readlink ../x: ENOTCAPABLE",
                        "open sub/../inside.txt: ok inside", "open ./sub/../inside.txt: ok inside",
                        NULL};
  escapes(cmds, want);
}

Test(wasi, links_out_are_never_followed) {
  const char *cmds[] = {"open out_rel f", "open out_abs f", "open sub/up2 f", "open outdir/f",
                        "open outdir_rel/f", "open outdir f", "open out_rel", "open out_rel/",
                        "open outdir/", "stat out_rel f", "stat outdir/", "stat outdir_rel/",
                        "stat outdir/f", "touch out_abs f", "touch outdir/", "readdir outdir",
                        "readdir outdir/", "unlink outdir/", "rmdir outdir/",
                        "rename outdir/ moved", "readlink outdir/", "mkdir outdir/x",
                        "write outdir_rel/g x", "symlink x outdir/y", NULL};
  const char *want[] = {"open out_rel: ENOTCAPABLE", "open out_abs: ENOTCAPABLE",
                        "open sub/up2: ENOTCAPABLE", "open outdir/f: ENOTCAPABLE",
                        "open outdir_rel/f: ENOTCAPABLE", "open outdir: ENOTCAPABLE",
                        "open out_rel: ELOOP", "open out_rel/: ENOTCAPABLE",
                        "open outdir/: ENOTCAPABLE", "stat out_rel: ENOTCAPABLE",
                        "stat outdir/: ENOTCAPABLE", "stat outdir_rel/: ENOTCAPABLE",
                        "stat outdir/f: ENOTCAPABLE", "touch out_abs: ENOTCAPABLE",
                        "touch outdir/: ENOTCAPABLE", "readdir outdir: ENOTDIR",
                        "readdir outdir/: ENOTCAPABLE", "unlink outdir/: ENOTDIR",
                        "rmdir outdir/: ENOTDIR", "rename outdir/: ENOTDIR",
                        "readlink outdir/: EINVAL", "mkdir outdir/x: ENOTCAPABLE",
                        "write outdir_rel/g: ENOTCAPABLE", "symlink x: ENOTCAPABLE", NULL};
  escapes(cmds, want);
}

Test(wasi, links_inside_are_followed_and_seen_as_links) {
  const char *cmds[] = {"open in_link f", "open sub/in_up f", "open in_link", "stat in_link",
                        "stat in_link f", "readlink sub/up2", NULL};
  const char *want[] = {"open in_link: ok inside", "open sub/in_up: ok inside",
                        "open in_link: ELOOP", "stat in_link: ok type=7 size=10",
                        "stat in_link: ok type=4 size=6", "readlink sub/up2: ok ../../secret.txt",
                        NULL};
  escapes(cmds, want);
}

/* Nothing outside changes: no file made, no time touched, no link made
 * that points out from an absolute text. */
Test(wasi, nothing_outside_is_created_or_changed) {
  box_t b;
  box_make(&b);
  char p[256];
  struct stat before, after, outdir_before, outdir_after;
  snprintf(p, sizeof(p), "%s/secret.txt", b.t);
  cr_assert_eq(stat(p, &before), 0);
  snprintf(p, sizeof(p), "%s/outside", b.t);
  cr_assert_eq(stat(p, &outdir_before), 0);
  const char *cmds[] = {"mkdir ../made", "write ../made.txt x", "write sub/../../made.txt x",
                        "symlink /etc/passwd abs", "symlink ../../x rel", "link out_abs hard",
                        "open hard f", "rename inside.txt ../moved.txt", "touch out_rel f",
                        "touch outdir_rel/", "write out_rel x", "unlink ../secret.txt",
                        "rmdir ../outside", NULL};
  const char *want[] = {"mkdir ../made: ENOTCAPABLE", "write ../made.txt: ENOTCAPABLE",
                        "write sub/../../made.txt: ENOTCAPABLE", "symlink /etc/passwd: ENOTCAPABLE",
                        "symlink ../../x: ok", "link out_abs: ok", "open hard: ENOTCAPABLE",
                        "rename inside.txt: ENOTCAPABLE", "touch out_rel: ENOTCAPABLE",
                        "touch outdir_rel/: ENOTCAPABLE", "write out_rel: ELOOP",
                        "unlink ../secret.txt: ENOTCAPABLE", "rmdir ../outside: ENOTCAPABLE",
                        NULL};
  for (int k = 0; k < 4; k++) {
    probe_t pr;
    probe_open(&pr, ways[k]);
    expect_lines(probe_run(&pr, &b, cmds), want, way_name(ways[k]));
    probe_close(&pr);
    snprintf(p, sizeof(p), "%s/box/rel", b.t);
    unlink(p);
    snprintf(p, sizeof(p), "%s/box/hard", b.t);
    unlink(p);
  }
  const char *never[] = {"made", "made.txt", "moved.txt", NULL};
  for (const char *const *n = never; *n; n++) {
    snprintf(p, sizeof(p), "%s/%s", b.t, *n);
    cr_expect_neq(access(p, F_OK), 0, "%s was made outside", p);
  }
  snprintf(p, sizeof(p), "%s/secret.txt", b.t);
  cr_assert_eq(stat(p, &after), 0);
  cr_expect(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
            after.st_mtim.tv_nsec == before.st_mtim.tv_nsec && after.st_size == before.st_size,
            "the secret outside changed");
  snprintf(p, sizeof(p), "%s/outside", b.t);
  cr_assert_eq(stat(p, &outdir_after), 0);
  cr_expect_eq(outdir_after.st_mtim.tv_sec, outdir_before.st_mtim.tv_sec);
  box_free(&b);
}

Test(wasi, a_read_only_directory_refuses_every_change) {
  box_t b;
  box_make(&b);
  wrt_dir_t d = {.guest_path = "/", .fd = b.fd, .read_only = true};
  const char *cmds[] = {"open inside.txt", "write new.txt x", "write inside.txt x",
                        "mkdir d", "rmdir sub", "unlink inside.txt", "rename inside.txt x",
                        "link inside.txt x", "symlink inside.txt x", "touch inside.txt",
                        "touch .", "readdir .", "stat inside.txt", NULL};
  const char *want[] = {"open inside.txt: ok inside", "write new.txt: ENOTCAPABLE",
                        "write inside.txt: ENOTCAPABLE", "mkdir d: ENOTCAPABLE",
                        "rmdir sub: ENOTCAPABLE", "unlink inside.txt: ENOTCAPABLE",
                        "rename inside.txt: ENOTCAPABLE", "link inside.txt: ENOTCAPABLE",
                        "symlink inside.txt: ENOTCAPABLE", "touch inside.txt: ENOTCAPABLE",
                        "touch .: ENOTCAPABLE", "stat inside.txt: ok type=4 size=6", NULL};
  char p[256];
  struct stat before, after;
  snprintf(p, sizeof(p), "%s/inside.txt", b.path);
  cr_assert_eq(stat(p, &before), 0);
  for (int k = 0; k < 4; k++) {
    probe_t pr;
    probe_open(&pr, ways[k]);
    const char *out = probe_run_dirs(&pr, &d, 1, 0, cmds);
    expect_lines(out, want, way_name(ways[k]));
    cr_expect(strstr(out, "readdir .: ok n="), "%s", out);
    probe_close(&pr);
  }
  cr_assert_eq(stat(p, &after), 0);
  cr_expect(after.st_size == 6 && after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  snprintf(p, sizeof(p), "%s/new.txt", b.path);
  cr_expect_neq(access(p, F_OK), 0);
  box_free(&b);
}

/* A host thread swaps box/d, a directory holding f ("inside"), with
 * box/alt, a link to ../outside (holding f "SECRET ..."), as fast as it
 * can, while the guest opens and reads d/f 20,000 times. */
static atomic_bool swapping;
static void *swapper(void *arg) {
  const box_t *b = arg;
  char d[256], alt[256];
  snprintf(d, sizeof(d), "%s/d", b->path);
  snprintf(alt, sizeof(alt), "%s/alt", b->path);
  while (atomic_load(&swapping)) renameat2(AT_FDCWD, d, AT_FDCWD, alt, RENAME_EXCHANGE);
  return NULL;
}

Test(wasi, a_directory_swapped_for_a_link_mid_resolution_never_leads_out, .timeout = 300) {
  box_t b;
  box_make(&b);
  char p[256];
  snprintf(p, sizeof(p), "%s/d", b.path);
  cr_assert_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof(p), "%s/d/f", b.path);
  put(p, "inside");
  snprintf(p, sizeof(p), "%s/alt", b.path);
  cr_assert_eq(symlink("../outside", p), 0);
  const char *cmds[] = {"race d/f 20000 SECRET", "race sub/../d/f 5000 SECRET", NULL};
  for (int k = 0; k < 4; k++) {
    probe_t pr;
    probe_open(&pr, ways[k]);
    pthread_t t;
    atomic_store(&swapping, true);
    cr_assert_eq(pthread_create(&t, NULL, swapper, &b), 0);
    const char *out = probe_run(&pr, &b, cmds);
    atomic_store(&swapping, false);
    pthread_join(t, NULL);
    cr_expect(strstr(out, "race d/f: leaks=0 ok=") && strstr(out, "race sub/../d/f: leaks=0 ok="),
              "%s: the guest read outside:\n%s", way_name(ways[k]), out);
    cr_log_info("%s: %s", way_name(ways[k]), out);
    probe_close(&pr);
  }
  box_free(&b);
}

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  cr_assert(d);
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

Test(wasi, every_descriptor_a_request_opens_is_closed_however_it_ends) {
  box_t b;
  box_make(&b);
  const char *normal[] = {"hold 40", "readdir .", "readdir -", "open inside.txt", NULL};
  const char *trapped[] = {"hold 40", "readdir -", "trap", NULL};
  const char *exited[] = {"hold 40", "exit 3", NULL};
  const char *racing[] = {"race in_link 100 x", "hold 10", "trap", NULL};
  for (int k = 0; k < 4; k++) {
    probe_t pr;
    probe_open(&pr, ways[k]);
    probe_run(&pr, &b, normal); /* the runtime's own first-use allocations */
    int before = open_fds();
    for (int i = 0; i < 5; i++) {
      probe_run(&pr, &b, normal);
      cr_expect_eq(pr.res.exit_code, 0, "%s", pr.out);
      probe_run(&pr, &b, trapped);
      cr_expect_eq(pr.res.trap, WRT_TRAP_UNREACHABLE, "%s", pr.out);
      probe_run(&pr, &b, exited);
      cr_expect_eq(pr.res.exit_code, 3);
      probe_run(&pr, &b, racing);
    }
    cr_expect_eq(open_fds(), before, "%s: %d descriptors open after 20 requests, %d before",
                 way_name(ways[k]), open_fds(), before);
    probe_close(&pr);
  }
  box_free(&b);
}

Test(wasi, max_fds_bounds_what_a_request_holds) {
  box_t b;
  box_make(&b);
  wrt_dir_t d = {.guest_path = "/", .fd = b.fd};
  const char *cmds[] = {"fdmax", NULL};
  probe_t pr;
  probe_open(&pr, ways[0]);
  expect_lines(probe_run_dirs(&pr, &d, 1, 16, cmds), (const char *[]){"fdmax: n=12 EMFILE", NULL},
               "max_fds 16");
  expect_lines(probe_run_dirs(&pr, &d, 1, 0, cmds),
               (const char *[]){"fdmax: n=252 EMFILE", NULL}, "the default, WRT_MAX_FDS");
  probe_close(&pr);
  box_free(&b);
}

Test(wasi, pointers_and_counts_past_the_memory_are_efault) {
  const char *cmds[] = {"badptr inside.txt", NULL};
  const char *want[] = {
      "path past the end=EFAULT", "path length 4 GiB=EFAULT", "fd out past the end=EFAULT",
      "iovec buffer past the end=EFAULT", "iovec array past the end=EFAULT",
      "2^31 iovecs=EFAULT", "nwritten past the end=EFAULT", "open the file=ESUCCESS",
      "pread buffer past the end=EFAULT", "pread nread past the end=EFAULT",
      "read buffer past the end=EFAULT", "readdir buffer past the end=EFAULT",
      "readdir used past the end=EFAULT", "2^31 subscriptions=EFAULT",
      "events past the end=EFAULT", "prestat name past the end=EFAULT",
      "stat buffer past the end=EFAULT", "readlink buffer past the end=EFAULT",
      "symlink text past the end=EFAULT", "rename path past the end=EFAULT",
      "argv pointers past the end=EFAULT", "random past the end=EFAULT", NULL};
  escapes(cmds, want);
}

Test(wasi, several_preopens_each_with_its_name_and_rights) {
  box_t b;
  box_make(&b);
  char sub[256];
  snprintf(sub, sizeof(sub), "%s/sub", b.path);
  int subfd;
  cr_assert_eq(wrt_dir_open(sub, &subfd), 0);
  wrt_dir_t d[2] = {{.guest_path = "/", .fd = b.fd, .read_only = true},
                    {.guest_path = "/data", .fd = subfd}};
  const char *cmds[] = {"write@3 x.txt a", "write@4 x.txt b", "open@4 x.txt", "open@4 in_up f",
                        "open@4 ../inside.txt", "unlink@4 x.txt", NULL};
  const char *want[] = {"write x.txt: ENOTCAPABLE", "write x.txt: ok", "open x.txt: ok b",
                        "open in_up: ENOTCAPABLE", "open ../inside.txt: ENOTCAPABLE",
                        "unlink x.txt: ok", NULL};
  for (int k = 0; k < 4; k++) {
    probe_t pr;
    probe_open(&pr, ways[k]);
    expect_lines(probe_run_dirs(&pr, d, 2, 0, cmds), want, way_name(ways[k]));
    probe_close(&pr);
  }
  close(subfd);
  box_free(&b);
}

Test(wasi, wrt_run_refuses_bad_dirs) {
  probe_t pr;
  probe_open(&pr, ways[0]);
  const char *argv[] = {"fsprobe"};
  wrt_dir_t ok = {.guest_path = "/", .fd = 0}, noname = {.guest_path = NULL, .fd = 0},
            badfd = {.guest_path = "/", .fd = -1};
  char longname[1100];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = 0;
  wrt_dir_t toolong = {.guest_path = longname, .fd = 0};
  wrt_request_t reqs[] = {
      {.argv = argv, .argc = 1, .dirs = NULL, .ndirs = 1},
      {.argv = argv, .argc = 1, .dirs = &noname, .ndirs = 1},
      {.argv = argv, .argc = 1, .dirs = &badfd, .ndirs = 1},
      {.argv = argv, .argc = 1, .dirs = &toolong, .ndirs = 1},
      {.argv = argv, .argc = 1, .dirs = &ok, .ndirs = 1, .max_fds = 3},
      {.argv = argv, .argc = 1, .dirs = &ok, .ndirs = WRT_MAX_DIRS + 1},
      {.argv = argv, .argc = 1, .max_fds = 70000},
  };
  for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
    cr_expect_eq(wrt_run(pr.m, &reqs[i], &pr.res), WRT_EINVAL, "request %zu", i);
    cr_expect(strstr(wrt_last_error(), "wrt_run"), "%s", wrt_last_error());
  }
  int fd;
  cr_expect_eq(wrt_dir_open("/nonexistent/dir", &fd), WRT_ESYS);
  cr_expect(strstr(wrt_last_error(), "/nonexistent/dir"), "%s", wrt_last_error());
  probe_close(&pr);
}

/* Where the kernel (or a seccomp policy) refuses openat2, WRT_RESOLVE_AUTO
 * walks, and asking for openat2 is refused at wrt_create. Criterion runs
 * each test in a process of its own: the filter stays in this one. */
Test(wasi, without_openat2_auto_walks) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat2, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
  cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
  box_t b;
  box_make(&b);
  wrt_options_t o;
  wrt_options_init(&o);
  o.resolve = WRT_RESOLVE_OPENAT2;
  wrt_runtime_t *rt;
  cr_expect_eq(wrt_create(&o, &rt), WRT_EINVAL);
  cr_expect(strstr(wrt_last_error(), "openat2"), "%s", wrt_last_error());
  const char *cmds[] = {"open inside.txt", "open ../secret.txt", "open out_rel f",
                        "open sub/in_up f", NULL};
  const char *want[] = {"open inside.txt: ok inside", "open ../secret.txt: ENOTCAPABLE",
                        "open out_rel: ENOTCAPABLE", "open sub/in_up: ok inside", NULL};
  probe_t pr;
  probe_open(&pr, (way_t){WRT_BACKEND_POOL, WRT_RESOLVE_AUTO});
  expect_lines(probe_run(&pr, &b, cmds), want, "auto without openat2");
  probe_close(&pr);
  box_free(&b);
}

/* `wpool wasm`'s WASI options. */
typedef struct tool_out {
  int status;
  char out[8192], err[8192];
} tool_out_t;

static void slurp_into(int fd, char *buf, size_t cap) {
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, buf, cap - 1);
  buf[n > 0 ? n : 0] = 0;
  close(fd);
}

static void tool(tool_out_t *r, const char *const *args) {
  const char *exe = getenv("WPOOL_TOOL");
  cr_assert(exe, "WPOOL_TOOL is not set");
  const char *argv[32] = {"wpool"};
  int n = 1;
  while (*args && n < 31) argv[n++] = *args++;
  FILE *o = tmpfile(), *e = tmpfile();
  cr_assert(o && e);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fileno(o), 1);
  posix_spawn_file_actions_adddup2(&fa, fileno(e), 2);
  pid_t pid;
  cr_assert_eq(posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  int st;
  waitpid(pid, &st, 0);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  slurp_into(dup(fileno(o)), r->out, sizeof(r->out));
  slurp_into(dup(fileno(e)), r->err, sizeof(r->err));
  fclose(o), fclose(e);
}

Test(wasi, wpool_wasm_env_and_dirs) {
  box_t b;
  box_make(&b);
  tool_out_t r;
  char rw[256], ro[256];
  snprintf(rw, sizeof(rw), "%s::/", b.path);
  snprintf(ro, sizeof(ro), "%s::/ro", b.path);
  setenv("WPOOL_TEST_PASSED_ON", "from the host", 1);
  const char *env[] = {"wasm", "--env", "A=1", "--env", "B=two words", "--env",
                       "WPOOL_TEST_PASSED_ON", guest_path("printenv"), NULL};
  tool(&r, env);
  cr_expect_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "env: A=1\nenv: B=two words\nenv: WPOOL_TEST_PASSED_ON=from the host\n"),
            "%s", r.out);
  const char *dirs[] = {"wasm", "--dir", rw, "--dir-ro", ro, guest_path("fsprobe"),
                        "write@3 made.txt x", "write@4 made2.txt x", "open@4 made.txt", "exit 33",
                        NULL};
  tool(&r, dirs);
  cr_expect_eq(r.status, 33, "the guest's exit code: %s", r.err);
  cr_expect(strstr(r.out, "write made.txt: ok\nwrite made2.txt: ENOTCAPABLE\n"
                          "open made.txt: ok x\n"), "%s", r.out);
  const char *bad[][8] = {
      {"wasm", "--dir", "/nonexistent/dir", guest_path("hello"), NULL},
      {"wasm", "--dir", "::/x", guest_path("hello"), NULL},
      {"wasm", "--dir-ro", "/tmp::", guest_path("hello"), NULL},
      {"wasm", "--env", "=x", guest_path("hello"), NULL},
      {"wasm", "--env", "WPOOL_TEST_SURELY_NOT_SET", guest_path("hello"), NULL},
      {"wasm", "--resolve", "sideways", guest_path("hello"), NULL},
      {"wasm", "--env", "A=1", NULL},
      {"wasm", "--dir", NULL},
  };
  const char *needle[] = {"/nonexistent/dir", "--dir needs HOST[::GUEST]", "--dir-ro needs",
                          "--env needs KEY=VALUE", "WPOOL_TEST_SURELY_NOT_SET", "--resolve",
                          "need a module", "--dir needs a value"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    tool(&r, bad[i]);
    cr_expect_eq(r.status, 2, "case %zu: %s", i, r.err);
    cr_expect(strstr(r.err, needle[i]), "case %zu: no '%s' in: %s", i, needle[i], r.err);
  }
  box_free(&b);
}
