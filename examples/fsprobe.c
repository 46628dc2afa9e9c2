/* A guest that calls WASI's file-system functions directly (not through
 * wasi-libc, which checks paths itself), as a hostile guest would: each
 * argument is one command (its words apart by spaces or '+', as in a query
 * string under WAGI), each answered by one line on stdout,
 * "COMMAND: ok ..." or "COMMAND: ENAME". The runtime's tests drive it
 * (tests/runtime/test_wasi.c): escapes, rights, races, descriptors left
 * open at a trap, hostile pointers and counts.
 *
 *   open[@FD] PATH [f]    open for reading (f: follow a last link), print
 *                         up to 63 bytes of it
 *   write[@FD] PATH TEXT  create or truncate, write TEXT
 *   stat[@FD] PATH [f]    filetype and size
 *   touch[@FD] PATH [f]   set the modification time to 1000 s
 *   mkdir, rmdir, unlink, readlink PATH; symlink TEXT PATH; link A B;
 *   rename A B            the path_* call on fd 3 (or @FD)
 *   readdir PATH          the number of entries (PATH "-": the directory
 *                         descriptor itself)
 *   race PATH N MARK      open and read PATH N times: how many reads began
 *                         with MARK, how many opened, how many failed
 *   hold N                open "." N times and keep them
 *   fdmax                 open "." until refused: how many, and the error
 *   trap, exit N          end there (unreachable, proc_exit)
 *   badptr FILE           calls with pointers and counts past the memory
 *                         (FILE: a file to read): each must be EFAULT */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
IMPORT(path_open) int32_t w_open(int32_t, int32_t, int32_t, int32_t, int32_t, int64_t, int64_t,
                                 int32_t, int32_t);
IMPORT(fd_read) int32_t w_read(int32_t, int32_t, int32_t, int32_t);
IMPORT(fd_write) int32_t w_write(int32_t, int32_t, int32_t, int32_t);
IMPORT(fd_close) int32_t w_close(int32_t);
IMPORT(fd_readdir) int32_t w_readdir(int32_t, int32_t, int32_t, int64_t, int32_t);
IMPORT(path_filestat_get) int32_t w_stat(int32_t, int32_t, int32_t, int32_t, int32_t);
IMPORT(path_filestat_set_times) int32_t w_touch(int32_t, int32_t, int32_t, int32_t, int64_t,
                                                int64_t, int32_t);
IMPORT(path_create_directory) int32_t w_mkdir(int32_t, int32_t, int32_t);
IMPORT(path_remove_directory) int32_t w_rmdir(int32_t, int32_t, int32_t);
IMPORT(path_unlink_file) int32_t w_unlink(int32_t, int32_t, int32_t);
IMPORT(path_readlink) int32_t w_readlink(int32_t, int32_t, int32_t, int32_t, int32_t, int32_t);
IMPORT(path_symlink) int32_t w_symlink(int32_t, int32_t, int32_t, int32_t, int32_t);
IMPORT(path_link) int32_t w_link(int32_t, int32_t, int32_t, int32_t, int32_t, int32_t, int32_t);
IMPORT(path_rename) int32_t w_rename(int32_t, int32_t, int32_t, int32_t, int32_t, int32_t);
IMPORT(poll_oneoff) int32_t w_poll(int32_t, int32_t, int32_t, int32_t);
IMPORT(fd_prestat_dir_name) int32_t w_prestat_dir_name(int32_t, int32_t, int32_t);
IMPORT(args_get) int32_t w_args_get(int32_t, int32_t);
IMPORT(random_get) int32_t w_random(int32_t, int32_t);
IMPORT(fd_pread) int32_t w_pread(int32_t, int32_t, int32_t, int64_t, int32_t);
IMPORT(proc_exit) _Noreturn void w_exit(int32_t);

static const char *const names[] = {
    "ESUCCESS", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT", "EAGAIN",
    "EALREADY", "EBADF", "EBADMSG", "EBUSY", "ECANCELED", "ECHILD", "ECONNABORTED",
    "ECONNREFUSED", "ECONNRESET", "EDEADLK", "EDESTADDRREQ", "EDOM", "EDQUOT", "EEXIST", "EFAULT",
    "EFBIG", "EHOSTUNREACH", "EIDRM", "EILSEQ", "EINPROGRESS", "EINTR", "EINVAL", "EIO", "EISCONN",
    "EISDIR", "ELOOP", "EMFILE", "EMLINK", "EMSGSIZE", "EMULTIHOP", "ENAMETOOLONG", "ENETDOWN",
    "ENETRESET", "ENETUNREACH", "ENFILE", "ENOBUFS", "ENODEV", "ENOENT", "ENOEXEC", "ENOLCK",
    "ENOLINK", "ENOMEM", "ENOMSG", "ENOPROTOOPT", "ENOSPC", "ENOSYS", "ENOTCONN", "ENOTDIR",
    "ENOTEMPTY", "ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP", "ENOTTY", "ENXIO", "EOVERFLOW",
    "EOWNERDEAD", "EPERM", "EPIPE", "EPROTO", "EPROTONOSUPPORT", "EPROTOTYPE", "ERANGE", "EROFS",
    "ESPIPE", "ESRCH", "ESTALE", "ETIMEDOUT", "ETXTBSY", "EXDEV", "ENOTCAPABLE"};

static const char *ename(int32_t e) {
  return e >= 0 && e < (int32_t)(sizeof(names) / sizeof(names[0])) ? names[e] : "E?";
}

#define P(s) ((int32_t)(uintptr_t)(s))
#define RIGHTS_READ ((1 << 1) | (1 << 2) | (1 << 14) | (1 << 21)) /* read, seek, readdir, stat */
#define RIGHTS_WRITE (1 << 6)

static int32_t open_at(int32_t dir, const char *path, int32_t follow, int32_t oflags, int64_t rights,
                       int32_t *fd) {
  return w_open(dir, follow, P(path), (int32_t)strlen(path), oflags, rights, 0, 0, P(fd));
}

/* Read up to 63 bytes of fd into buf (NUL-terminated); the errno. */
static int32_t read_some(int32_t fd, char *buf) {
  int32_t iov[2] = {P(buf), 63}, n = 0;
  int32_t e = w_read(fd, P(iov), 1, P(&n));
  buf[e ? 0 : n] = 0;
  for (char *p = buf; *p; p++)
    if (*p == '\n') *p = ' ';
  return e;
}

static void race(int32_t dir, const char *path, long n, const char *mark) {
  long leaks = 0, ok = 0, err = 0;
  for (long i = 0; i < n; i++) {
    int32_t fd;
    char buf[64];
    if (open_at(dir, path, 0, 0, RIGHTS_READ, &fd)) {
      err++;
      continue;
    }
    ok++;
    if (!read_some(fd, buf) && !strncmp(buf, mark, strlen(mark))) leaks++;
    w_close(fd);
  }
  printf("leaks=%ld ok=%ld err=%ld\n", leaks, ok, err);
}

/* Pointers and counts past the end of memory (or its last bytes). */
static void badptr(const char *file) {
  uint32_t end = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
  int32_t fd, n;
  char buf[64];
  int32_t iov[2] = {(int32_t)(end - 8), 64};
  int32_t out_iov[2] = {P(buf), 8};
#define T(what, call) printf("%s=%s\n", what, ename(call))
  T("path past the end", w_open(3, 0, (int32_t)(end - 4), 100, 0, RIGHTS_READ, 0, 0, P(&fd)));
  T("path length 4 GiB", w_open(3, 0, P("x"), -1, 0, RIGHTS_READ, 0, 0, P(&fd)));
  T("fd out past the end", w_open(3, 0, P("."), 1, 0, RIGHTS_READ, 0, 0, (int32_t)(end - 2)));
  T("iovec buffer past the end", w_write(1, P(iov), 1, P(&n)));
  T("iovec array past the end", w_write(1, (int32_t)(end - 8), 2, P(&n)));
  T("2^31 iovecs", w_write(1, P(out_iov), 0x7fffffff, P(&n)));
  T("nwritten past the end", w_write(1, P(out_iov), 1, (int32_t)(end - 1)));
  int32_t f = -1;
  T("open the file", open_at(3, file, 0, 0, RIGHTS_READ, &f));
  T("pread buffer past the end", w_pread(f, P(iov), 1, 0, P(&n)));
  T("pread nread past the end", w_pread(f, P(out_iov), 1, 0, (int32_t)end));
  T("read buffer past the end", w_read(f, P(iov), 1, P(&n)));
  w_close(f);
  T("readdir buffer past the end", w_readdir(3, (int32_t)(end - 16), 4096, 0, P(&n)));
  T("readdir used past the end", w_readdir(3, P(buf), 64, 0, (int32_t)end));
  T("2^31 subscriptions", w_poll(P(buf), P(buf), 0x7fffffff, P(&n)));
  T("events past the end", w_poll(P(buf), (int32_t)(end - 16), 1, P(&n)));
  T("prestat name past the end", w_prestat_dir_name(3, (int32_t)end, 64));
  T("stat buffer past the end", w_stat(3, 0, P("."), 1, (int32_t)(end - 32)));
  T("readlink buffer past the end", w_readlink(3, P("x"), 1, (int32_t)(end - 1), 64, P(&n)));
  T("symlink text past the end", w_symlink((int32_t)(end - 2), 64, 3, P("y"), 1));
  T("rename path past the end", w_rename(3, P("a"), 1, 3, (int32_t)(end - 1), 8));
  T("argv pointers past the end", w_args_get((int32_t)(end - 4), P(buf)));
  T("random past the end", w_random((int32_t)(end - 4), 8));
#undef T
}

static void one(char *line) {
  char *cmd = strtok(line, " +"), *a = strtok(NULL, " +"), *b = strtok(NULL, " +"),
       *c = strtok(NULL, " +");
  if (!cmd) return;
  char *at = strchr(cmd, '@');
  int32_t dir = at ? atoi(at + 1) : 3, fd, e = 0, n = 0;
  if (at) *at = 0;
  printf("%s%s%s: ", cmd, a ? " " : "", a ? a : "");
  bool follow = b && !strcmp(b, "f");
  char buf[512];
  if (!strcmp(cmd, "open") && a) {
    if (!(e = open_at(dir, a, follow, 0, RIGHTS_READ, &fd))) {
      e = read_some(fd, buf);
      w_close(fd);
      if (!e) return (void)printf("ok %s\n", buf);
    }
  } else if (!strcmp(cmd, "write") && a && b) {
    if (!(e = open_at(dir, a, 0, 1 | 8, RIGHTS_WRITE, &fd))) { /* CREAT | TRUNC */
      int32_t iov[2] = {P(b), (int32_t)strlen(b)};
      e = w_write(fd, P(iov), 1, P(&n));
      w_close(fd);
    }
  } else if (!strcmp(cmd, "stat") && a) {
    uint8_t st[64];
    if (!(e = w_stat(dir, follow, P(a), (int32_t)strlen(a), P(st)))) {
      uint64_t size;
      memcpy(&size, st + 32, 8);
      return (void)printf("ok type=%u size=%llu\n", st[16], (unsigned long long)size);
    }
  } else if (!strcmp(cmd, "touch") && a) {
    e = w_touch(dir, follow, P(a), (int32_t)strlen(a), 0, 1000000000000ll, 4 /* MTIM */);
  } else if (!strcmp(cmd, "mkdir") && a) {
    e = w_mkdir(dir, P(a), (int32_t)strlen(a));
  } else if (!strcmp(cmd, "rmdir") && a) {
    e = w_rmdir(dir, P(a), (int32_t)strlen(a));
  } else if (!strcmp(cmd, "unlink") && a) {
    e = w_unlink(dir, P(a), (int32_t)strlen(a));
  } else if (!strcmp(cmd, "readlink") && a) {
    if (!(e = w_readlink(dir, P(a), (int32_t)strlen(a), P(buf), 511, P(&n))))
      return (void)printf("ok %.*s\n", (int)n, buf);
  } else if (!strcmp(cmd, "symlink") && a && b) {
    e = w_symlink(P(a), (int32_t)strlen(a), dir, P(b), (int32_t)strlen(b));
  } else if (!strcmp(cmd, "link") && a && b) {
    e = w_link(dir, 0, P(a), (int32_t)strlen(a), dir, P(b), (int32_t)strlen(b));
  } else if (!strcmp(cmd, "rename") && a && b) {
    e = w_rename(dir, P(a), (int32_t)strlen(a), dir, P(b), (int32_t)strlen(b));
  } else if (!strcmp(cmd, "readdir") && a) {
    bool self = !strcmp(a, "-"); /* the directory descriptor itself */
    if (self) fd = dir;
    if (self || !(e = open_at(dir, a, 0, 2, RIGHTS_READ, &fd))) {
      int32_t used = 0, entries = 0;
      if (!(e = w_readdir(fd, P(buf), sizeof(buf), 0, P(&used))))
        for (int32_t k = 0; k + 24 <= used; entries++) {
          uint32_t nl;
          memcpy(&nl, buf + k + 16, 4);
          k += 24 + (int32_t)nl;
        }
      if (!self) w_close(fd);
      if (!e) return (void)printf("ok n=%d\n", (int)entries);
    }
  } else if (!strcmp(cmd, "race") && a && b && c) {
    return race(dir, a, atol(b), c);
  } else if (!strcmp(cmd, "hold") && a) {
    for (long i = atol(a); i > 0 && !e; i--) e = open_at(dir, ".", 0, 0, RIGHTS_READ, &fd);
  } else if (!strcmp(cmd, "fdmax")) {
    while (!(e = open_at(dir, ".", 0, 0, RIGHTS_READ, &fd))) n++;
    return (void)printf("n=%d %s\n", (int)n, ename(e));
  } else if (!strcmp(cmd, "trap")) {
    fflush(stdout);
    __builtin_trap();
  } else if (!strcmp(cmd, "exit") && a) {
    fflush(stdout);
    w_exit(atoi(a));
  } else if (!strcmp(cmd, "badptr") && a) {
    return (void)(printf("\n"), badptr(a));
  } else {
    return (void)printf("unknown command\n");
  }
  printf("%s\n", e ? ename(e) : "ok");
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) one(argv[i]);
  return 0;
}
