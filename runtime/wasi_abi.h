/* WASI preview 1, the runtime's side: the ABI's numbers and layouts, guest
 * memory access, the per-request descriptor table, and the functions the
 * WASI files share (docs/runtime.md lists what WASI offers and refuses).
 *
 * The rooms: wasi_exports.c (the imported functions, one wrapper each, and
 * their types), wasi_env.c (arguments, environment, clocks, random, exit),
 * wasi_fd.c (the descriptor table, fdstat, prestat, renumber, close),
 * wasi_io.c (read, write, seek), wasi_file.c (a descriptor's file calls:
 * filestat, sync, advise, allocate, readdir), wasi_path.c (path resolution
 * confined to a directory), wasi_fs.c (the path_* calls) and wasi_poll.c
 * (poll_oneoff, sock_*).
 *
 * Every function taking guest addresses checks them against the memory's
 * current size before touching a byte (EFAULT), so a guest cannot make the
 * host fault or reach outside its memory. */
#ifndef WRT_WASI_ABI_H
#define WRT_WASI_ABI_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "rt_internal.h"

typedef uint32_t u32;
typedef uint64_t u64;

/* errno, as preview 1 numbers it. */
enum {
  WASI_ESUCCESS = 0, WASI_E2BIG = 1, WASI_EACCES = 2, WASI_EAGAIN = 6, WASI_EBADF = 8,
  WASI_EBUSY = 10, WASI_EDQUOT = 19, WASI_EEXIST = 20, WASI_EFAULT = 21, WASI_EFBIG = 22,
  WASI_EILSEQ = 25, WASI_EINTR = 27, WASI_EINVAL = 28, WASI_EIO = 29, WASI_EISDIR = 31,
  WASI_ELOOP = 32, WASI_EMFILE = 33, WASI_EMLINK = 34, WASI_ENAMETOOLONG = 37, WASI_ENFILE = 41,
  WASI_ENODEV = 43, WASI_ENOENT = 44, WASI_ENOMEM = 48, WASI_ENOSPC = 51, WASI_ENOSYS = 52,
  WASI_ENOTDIR = 54, WASI_ENOTEMPTY = 55, WASI_ENOTSOCK = 57, WASI_ENOTSUP = 58, WASI_ENOTTY = 59,
  WASI_ENXIO = 60, WASI_EOVERFLOW = 61, WASI_EPERM = 63, WASI_EPIPE = 64, WASI_EROFS = 69,
  WASI_ESPIPE = 70, WASI_ESTALE = 72, WASI_ETXTBSY = 74, WASI_EXDEV = 75, WASI_ENOTCAPABLE = 76,
};

/* Rights. */
#define R_FD_DATASYNC (1ull << 0)
#define R_FD_READ (1ull << 1)
#define R_FD_SEEK (1ull << 2)
#define R_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define R_FD_SYNC (1ull << 4)
#define R_FD_TELL (1ull << 5)
#define R_FD_WRITE (1ull << 6)
#define R_FD_ADVISE (1ull << 7)
#define R_FD_ALLOCATE (1ull << 8)
#define R_PATH_CREATE_DIRECTORY (1ull << 9)
#define R_PATH_CREATE_FILE (1ull << 10)
#define R_PATH_LINK_SOURCE (1ull << 11)
#define R_PATH_LINK_TARGET (1ull << 12)
#define R_PATH_OPEN (1ull << 13)
#define R_FD_READDIR (1ull << 14)
#define R_PATH_READLINK (1ull << 15)
#define R_PATH_RENAME_SOURCE (1ull << 16)
#define R_PATH_RENAME_TARGET (1ull << 17)
#define R_PATH_FILESTAT_GET (1ull << 18)
#define R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define R_FD_FILESTAT_GET (1ull << 21)
#define R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define R_FD_FILESTAT_SET_TIMES (1ull << 23)
#define R_PATH_SYMLINK (1ull << 24)
#define R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define R_PATH_UNLINK_FILE (1ull << 26)
#define R_POLL_FD_READWRITE (1ull << 27)

/* What a regular file's descriptor can do. */
#define R_FILE                                                                                   \
  (R_FD_DATASYNC | R_FD_READ | R_FD_SEEK | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_TELL |     \
   R_FD_WRITE | R_FD_ADVISE | R_FD_ALLOCATE | R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_SIZE |     \
   R_FD_FILESTAT_SET_TIMES | R_POLL_FD_READWRITE)
/* What a directory's descriptor can do. */
#define R_DIR                                                                                    \
  (R_FD_DATASYNC | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_PATH_CREATE_DIRECTORY |               \
   R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET | R_PATH_OPEN | R_FD_READDIR | \
   R_PATH_READLINK | R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET | R_PATH_FILESTAT_GET |       \
   R_PATH_FILESTAT_SET_SIZE | R_PATH_FILESTAT_SET_TIMES | R_FD_FILESTAT_GET |                  \
   R_FD_FILESTAT_SET_TIMES | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY | R_PATH_UNLINK_FILE)
/* Rights that change what is stored: none of them in a read-only
 * directory or anything opened below it. */
#define R_MUTATE                                                                                 \
  (R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE | R_FD_FILESTAT_SET_TIMES |            \
   R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET |    \
   R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET | R_PATH_FILESTAT_SET_SIZE |                    \
   R_PATH_FILESTAT_SET_TIMES | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY | R_PATH_UNLINK_FILE)
/* Rights for which path_open opens the file for writing. */
#define R_WRITE_MODE (R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE)

enum {
  WASI_FILETYPE_UNKNOWN = 0, WASI_FILETYPE_BLOCK_DEVICE = 1, WASI_FILETYPE_CHARACTER_DEVICE = 2,
  WASI_FILETYPE_DIRECTORY = 3, WASI_FILETYPE_REGULAR_FILE = 4, WASI_FILETYPE_SOCKET_STREAM = 6,
  WASI_FILETYPE_SYMBOLIC_LINK = 7,
};
enum { FDFLAG_APPEND = 1, FDFLAG_DSYNC = 2, FDFLAG_NONBLOCK = 4, FDFLAG_RSYNC = 8, FDFLAG_SYNC = 16 };
enum { OFLAG_CREAT = 1, OFLAG_DIRECTORY = 2, OFLAG_EXCL = 4, OFLAG_TRUNC = 8 };
enum { LOOKUP_SYMLINK_FOLLOW = 1 };
enum { FST_ATIM = 1, FST_ATIM_NOW = 2, FST_MTIM = 4, FST_MTIM_NOW = 8 };

/* The longest path a guest may pass (bytes), the deepest directory nesting
 * a path may walk through, and the symbolic links one resolution follows. */
#define WASI_PATH_MAX 4096
#define WASI_WALK_DEPTH 128
#define WASI_SYMLINK_MAX 40

/* A descriptor of the request. */
enum { WFD_FREE = 0, WFD_STDIN, WFD_STDOUT, WFD_STDERR, WFD_DIR, WFD_FILE };

typedef struct wasi_fd {
  u64 base, inh;    /* rights, and the rights of what is opened through it */
  int host;         /* the host descriptor; -1 for the three streams */
  int reader;       /* a directory's own readable descriptor for fd_readdir; -1 until needed */
  u32 preopen;      /* a preopened directory: 1 + its index in the request's dirs */
  uint16_t flags;   /* fdflags */
  uint8_t kind;     /* WFD_* */
  uint8_t filetype; /* WASI_FILETYPE_* */
  bool own;         /* host belongs to this request: closed with the entry */
} wasi_fd_t;

/* A request's table, made at its first change (a request that only uses
 * the streams and asks about preopens never has one). */
typedef struct wasi_fds {
  wasi_fd_t *v;
  u32 n;         /* entries (the highest descriptor in use + 1, or more) */
  u32 cap;       /* entries allocated */
  u32 max;       /* descriptors the request may hold */
  u32 ntmp;      /* host descriptors path resolutions hold right now */
  int tmp[2 * WASI_WALK_DEPTH + 4];
  /* Two paths (rename and link take two): the guest's bytes, then the
   * path still to resolve with links spliced in. */
  _Alignas(8) char path[2][2 * WASI_PATH_MAX + 8];
  char link[WASI_PATH_MAX + 1];
} wasi_fds_t;

/* Guest memory: `len` bytes at `addr`, or NULL when any is out of bounds. */
static inline uint8_t *wasi_mem(rt_ctx_t *c, u32 addr, u64 len) {
  if (!c->mem || (u64)addr + len > c->mem->size) return NULL;
  return c->mem->data + addr;
}
static inline bool wasi_put32(rt_ctx_t *c, u32 addr, u32 v) {
  uint8_t *p = wasi_mem(c, addr, 4);
  if (p) memcpy(p, &v, 4); /* wasm is little-endian, like the hosts we build for */
  return p != NULL;
}
static inline bool wasi_put64(rt_ctx_t *c, u32 addr, u64 v) {
  uint8_t *p = wasi_mem(c, addr, 8);
  if (p) memcpy(p, &v, 8);
  return p != NULL;
}
static inline bool wasi_get32(rt_ctx_t *c, u32 addr, u32 *v) {
  uint8_t *p = wasi_mem(c, addr, 4);
  if (p) memcpy(v, p, 4);
  return p != NULL;
}

/* wasi_fd.c: the table. */
/* The preview-1 errno of a host errno. */
u32 wasi_errno(int host_errno);
/* The entry of `fd`, or NULL (EBADF). Without a table the streams and the
 * preopens are read from templates into *tmp; nothing is allocated. */
const wasi_fd_t *wasi_fd_peek(rt_ctx_t *c, u32 fd, wasi_fd_t *tmp);
/* The entry of `fd` in the table, made on first use; NULL with *err set
 * (EBADF, ENOMEM). */
wasi_fd_t *wasi_fd_get(rt_ctx_t *c, u32 fd, u32 *err);
/* A free descriptor (the lowest), its entry zeroed with host -1; NULL with
 * *err (EMFILE: the request's max_fds, ENOMEM). */
wasi_fd_t *wasi_fd_new(rt_ctx_t *c, u32 *fd, u32 *err);
/* Free an entry, closing what it owns. */
void wasi_fd_drop(wasi_fd_t *e);
/* The table, made on first use (NULL: out of memory). */
wasi_fds_t *wasi_fds(rt_ctx_t *c);
/* The table's invariants (O(entries); true without a table):
 *   n <= cap, n <= max, ntmp within tmp[];
 *   free entries hold nothing (host and reader -1, not owned, no preopen);
 *   the streams have no host descriptor, files and directories have one;
 *   a preopen is a directory, borrowed, and its request's dirs[preopen - 1].fd;
 *   only a directory has a reader. */
bool wasi_fds_is_valid(const rt_ctx_t *c);
/* The filetype of a host stat mode. */
uint8_t wasi_filetype(unsigned mode);
/* 0 when the entry has every one of `rights`, else ENOTCAPABLE. */
static inline u32 wasi_need(const wasi_fd_t *e, u64 rights) {
  return (e->base & rights) == rights ? WASI_ESUCCESS : WASI_ENOTCAPABLE;
}

/* wasi_file.c: a filestat into guest memory (st NULL: all zero), and the
 * timespecs of set_times's arguments (EINVAL for contradictory flags). */
struct stat;
struct timespec;
u32 wasi_put_filestat(rt_ctx_t *c, u32 buf, const struct stat *st);
u32 wasi_times(u64 atim, u64 mtim, u32 fst, struct timespec ts[2]);

/* wasi_io.c: the streams' output into the result's buffers. */
void wasi_capture(rt_ctx_t *c, int fd, const uint8_t *bytes, size_t n);

/* wasi_path.c: path resolution confined to a directory. A path is read
 * from the guest into one of two slots (rename and link take two). */
typedef struct wasi_at {
  int dir;    /* the directory holding the last component */
  char *name; /* the last component: no '/'; "." for the directory itself */
  bool own;   /* dir was opened by the resolution (wasi_at_done closes it) */
  bool slash; /* the path ended in '/' */
} wasi_at_t;
/* Copy the guest's path (addr, len) into `slot` (0 or 1): 0, or EFAULT,
 * ENAMETOOLONG, EINVAL (a NUL byte), ENOENT (empty), ENOTCAPABLE
 * (absolute), ENOMEM (no table). */
u32 wasi_path_copy(rt_ctx_t *c, u32 addr, u32 len, int slot);
/* Resolve the path in `slot` under the directory `dir` to the directory
 * holding its last component (the last component itself is not followed
 * when it is a link). Links are followed inside `dir` only, never out of it:
 * `..` past it, an absolute link or a /proc magic link is ENOTCAPABLE (or
 * ELOOP). */
u32 wasi_resolve(rt_ctx_t *c, int dir, int slot, wasi_at_t *at);
void wasi_at_done(rt_ctx_t *c, wasi_at_t *at);
/* Open the path in `slot` under `dir` with open(2)'s flags, following a
 * link in the last place only when `follow` (inside `dir` only): the new
 * host descriptor (close-on-exec), or -1 with *err. A trailing '/' asks for
 * a directory, following. */
int wasi_open_beneath(rt_ctx_t *c, int dir, int slot, int flags, bool follow, u32 *err);
/* wasi_fd.c: a host descriptor a resolution holds, closed at the request's
 * end if the request is cut short. */
void wasi_tmp_hold(wasi_fds_t *f, int fd);
void wasi_tmp_close(wasi_fds_t *f, int fd);

#endif /* WRT_WASI_ABI_H */
