/* Fuzz WASI's path resolution (runtime/wasi_path.c) with the guest's path
 * bytes: under a fixed directory holding links of every kind (inside, up,
 * absolute, looping, chained), whatever the path, both resolvers
 *   - either fail or name something inside the directory (by device and
 *     inode, for the directory holding the last component, the component
 *     itself, and what an O_PATH open follows to);
 *   - agree: both succeed (on the same object) or both fail;
 *   - hold no descriptor afterwards.
 * Input: one byte of mode (bit 0: follow a last link; bit 1: open rather
 * than resolve to the directory), then the path as the guest's memory. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi_abi.h"

static int box = -1;
static struct {
  dev_t dev;
  ino_t ino;
} inside[64];
static int ninside;

static int note(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)p, (void)flag, (void)f;
  if (ninside < 64) inside[ninside].dev = st->st_dev, inside[ninside++].ino = st->st_ino;
  return 0;
}

static bool is_inside(const struct stat *st) {
  for (int i = 0; i < ninside; i++)
    if (inside[i].dev == st->st_dev && inside[i].ino == st->st_ino) return true;
  return false;
}

static char t[] = "/tmp/fuzz-wasi-path-XXXXXX";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static void teardown(void) { nftw(t, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void setup(void) {
  char p[256], q[256];
  if (!mkdtemp(t)) abort();
  atexit(teardown);
#define AT(fmt) (snprintf(p, sizeof(p), "%s/" fmt, t), p)
  if (mkdir(AT("out"), 0755) || mkdir(AT("box"), 0755) || mkdir(AT("box/a"), 0755) ||
      mkdir(AT("box/a/b"), 0755))
    abort();
  close(open(AT("out/secret"), O_CREAT | O_WRONLY, 0644));
  close(open(AT("box/f"), O_CREAT | O_WRONLY, 0644));
  close(open(AT("box/a/f2"), O_CREAT | O_WRONLY, 0644));
  snprintf(q, sizeof(q), "%s/out", t);
  const char *links[][2] = {{"box/l_in", "a"},         {"box/l_up", ".."},
                            {"box/l_abs", q},          {"box/l_a_up", "a/../f"},
                            {"box/a/up2", "../.."},    {"box/a/b/loop", "loop"},
                            {"box/a/in", "../f"},      {"box/l_out", "../out/secret"},
                            {"box/l_chain", "l_in/b"}, {"box/l_self", "."},
                            {"box/a/b/deep", "../../a/b/../../f"}, {"box/l_slash", "a/"},
                            {"box/l_root", "/"},       {"box/l_proc", "/proc/self/cwd"}};
  for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s", t, links[i][0]);
    if (symlink(links[i][1], p)) abort();
  }
  if (nftw(AT("box"), note, 16, FTW_PHYS)) abort();
  box = open(AT("box"), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (box < 0) abort();
#undef AT
}

static wrt_runtime_t rt;
static wrt_module_t mod = {.rt = &rt};
static const wrt_request_t req = {0};

/* Resolve or open with one resolver: the object's inode, 0 on failure. */
static ino_t one(rt_ctx_t *c, const uint8_t *mode, u32 n) {
  u32 err = wasi_path_copy(c, 0, n, 0);
  if (err) return 0;
  bool follow = mode[0] & 1;
  struct stat st;
  ino_t got = 0;
  if (mode[0] & 2) {
    int fd = wasi_open_beneath(c, box, 0, O_PATH, follow, &err);
    if (fd >= 0) {
      if (fstat(fd, &st) || !is_inside(&st)) abort(); /* opened something outside */
      got = st.st_ino;
      close(fd);
    }
  } else {
    wasi_at_t at;
    if (!wasi_resolve(c, box, 0, &at)) {
      if (fstat(at.dir, &st) || !is_inside(&st)) abort(); /* a directory outside */
      got = st.st_ino;
      if (!fstatat(at.dir, at.name, &st, AT_SYMLINK_NOFOLLOW)) {
        if (!is_inside(&st)) abort(); /* the last component outside */
        got = st.st_ino;
      }
      wasi_at_done(c, &at);
    }
  }
  if (c->fds->ntmp != 0) abort(); /* a descriptor left held */
  return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (box < 0) setup();
  if (size < 1 || size > WASI_PATH_MAX + 2) return 0;
  u32 n = (u32)(size - 1);
  uint8_t *copy = malloc(n ? n : 1); /* the guest's memory, exactly the path */
  if (!copy) return 0;
  memcpy(copy, data + 1, n);
  wasm_rt_memory_t mem = {.data = copy, .size = n};
  rt_ctx_t c = {.m = &mod, .req = &req, .mem = &mem};
  rt.wasi_resolve = WRT_RESOLVE_OPENAT2;
  ino_t a = one(&c, data, n);
  rt.wasi_resolve = WRT_RESOLVE_WALK;
  ino_t b = one(&c, data, n);
  if (a != b) abort(); /* the resolvers disagree */
  rt_wasi_end(&c);
  free(copy);
  return 0;
}
