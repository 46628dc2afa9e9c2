/* Every WASI preview-1 function the runtime defines, once: its name, its
 * wasm type in the reader's notation ("iIi:i": i32, i64, i32 -> i32), its
 * parameters after the request's context and the arguments that pass them
 * on. wasi_exports.c makes from this list the functions the generated code
 * calls (Z_wasi_snapshot_preview1Z_<name>, one wrapper shape for all) and
 * the loader's table of names and types; here it declares the
 * implementations, u32 wasi_<name>(rt_ctx_t *c, ...), that the wasi_*.c
 * files define. proc_exit (no result, never returns) is XV's. */
#ifndef WRT_WASI_CALLS_H
#define WRT_WASI_CALLS_H

#include "wasi_abi.h"

#define WASI_CALLS(X, XV)                                                                       \
  X(args_get, "ii:i", (, u32 argv, u32 buf), (, argv, buf))                                     \
  X(args_sizes_get, "ii:i", (, u32 argc, u32 size), (, argc, size))                             \
  X(environ_get, "ii:i", (, u32 env, u32 buf), (, env, buf))                                    \
  X(environ_sizes_get, "ii:i", (, u32 count, u32 size), (, count, size))                        \
  X(clock_res_get, "ii:i", (, u32 id, u32 res), (, id, res))                                    \
  X(clock_time_get, "iIi:i", (, u32 id, u64 precision, u32 time), (, id, precision, time))      \
  X(fd_advise, "iIIi:i", (, u32 fd, u64 off, u64 len, u32 advice), (, fd, off, len, advice))    \
  X(fd_allocate, "iII:i", (, u32 fd, u64 off, u64 len), (, fd, off, len))                       \
  X(fd_close, "i:i", (, u32 fd), (, fd))                                                         \
  X(fd_datasync, "i:i", (, u32 fd), (, fd))                                                      \
  X(fd_fdstat_get, "ii:i", (, u32 fd, u32 buf), (, fd, buf))                                     \
  X(fd_fdstat_set_flags, "ii:i", (, u32 fd, u32 flags), (, fd, flags))                           \
  X(fd_fdstat_set_rights, "iII:i", (, u32 fd, u64 base, u64 inh), (, fd, base, inh))            \
  X(fd_filestat_get, "ii:i", (, u32 fd, u32 buf), (, fd, buf))                                   \
  X(fd_filestat_set_size, "iI:i", (, u32 fd, u64 size), (, fd, size))                            \
  X(fd_filestat_set_times, "iIIi:i", (, u32 fd, u64 atim, u64 mtim, u32 fst),                    \
    (, fd, atim, mtim, fst))                                                                     \
  X(fd_pread, "iiiIi:i", (, u32 fd, u32 iovs, u32 n, u64 off, u32 nread),                        \
    (, fd, iovs, n, off, nread))                                                                 \
  X(fd_prestat_get, "ii:i", (, u32 fd, u32 buf), (, fd, buf))                                    \
  X(fd_prestat_dir_name, "iii:i", (, u32 fd, u32 path, u32 len), (, fd, path, len))              \
  X(fd_pwrite, "iiiIi:i", (, u32 fd, u32 iovs, u32 n, u64 off, u32 nwritten),                    \
    (, fd, iovs, n, off, nwritten))                                                              \
  X(fd_read, "iiii:i", (, u32 fd, u32 iovs, u32 n, u32 nread), (, fd, iovs, n, nread))           \
  X(fd_readdir, "iiiIi:i", (, u32 fd, u32 buf, u32 len, u64 cookie, u32 used),                   \
    (, fd, buf, len, cookie, used))                                                              \
  X(fd_renumber, "ii:i", (, u32 from, u32 to), (, from, to))                                     \
  X(fd_seek, "iIii:i", (, u32 fd, u64 off, u32 whence, u32 newoff), (, fd, off, whence, newoff)) \
  X(fd_sync, "i:i", (, u32 fd), (, fd))                                                          \
  X(fd_tell, "ii:i", (, u32 fd, u32 off), (, fd, off))                                           \
  X(fd_write, "iiii:i", (, u32 fd, u32 iovs, u32 n, u32 nwritten), (, fd, iovs, n, nwritten))    \
  X(path_create_directory, "iii:i", (, u32 fd, u32 path, u32 len), (, fd, path, len))            \
  X(path_filestat_get, "iiiii:i", (, u32 fd, u32 flags, u32 path, u32 len, u32 buf),             \
    (, fd, flags, path, len, buf))                                                               \
  X(path_filestat_set_times, "iiiiIIi:i",                                                        \
    (, u32 fd, u32 flags, u32 path, u32 len, u64 atim, u64 mtim, u32 fst),                       \
    (, fd, flags, path, len, atim, mtim, fst))                                                   \
  X(path_link, "iiiiiii:i",                                                                      \
    (, u32 ofd, u32 oflags, u32 opath, u32 olen, u32 nfd, u32 npath, u32 nlen),                  \
    (, ofd, oflags, opath, olen, nfd, npath, nlen))                                              \
  X(path_open, "iiiiiIIii:i",                                                                    \
    (, u32 fd, u32 dirflags, u32 path, u32 len, u32 oflags, u64 base, u64 inh, u32 fdflags,      \
     u32 out),                                                                                   \
    (, fd, dirflags, path, len, oflags, base, inh, fdflags, out))                                \
  X(path_readlink, "iiiiii:i", (, u32 fd, u32 path, u32 len, u32 buf, u32 cap, u32 used),        \
    (, fd, path, len, buf, cap, used))                                                           \
  X(path_remove_directory, "iii:i", (, u32 fd, u32 path, u32 len), (, fd, path, len))            \
  X(path_rename, "iiiiii:i", (, u32 ofd, u32 opath, u32 olen, u32 nfd, u32 npath, u32 nlen),     \
    (, ofd, opath, olen, nfd, npath, nlen))                                                      \
  X(path_symlink, "iiiii:i", (, u32 opath, u32 olen, u32 fd, u32 npath, u32 nlen),               \
    (, opath, olen, fd, npath, nlen))                                                            \
  X(path_unlink_file, "iii:i", (, u32 fd, u32 path, u32 len), (, fd, path, len))                 \
  X(poll_oneoff, "iiii:i", (, u32 in, u32 out, u32 n, u32 nevents), (, in, out, n, nevents))     \
  XV(proc_exit, "i:", (, u32 code), (, code))                                                    \
  X(proc_raise, "i:i", (, u32 sig), (, sig))                                                     \
  X(random_get, "ii:i", (, u32 buf, u32 len), (, buf, len))                                      \
  X(sched_yield, ":i", (), ())                                                                   \
  X(sock_accept, "iii:i", (, u32 fd, u32 flags, u32 out), (, fd, flags, out))                    \
  X(sock_recv, "iiiiii:i", (, u32 fd, u32 iovs, u32 n, u32 flags, u32 len, u32 oflags),          \
    (, fd, iovs, n, flags, len, oflags))                                                         \
  X(sock_send, "iiiii:i", (, u32 fd, u32 iovs, u32 n, u32 flags, u32 len),                       \
    (, fd, iovs, n, flags, len))                                                                 \
  X(sock_shutdown, "ii:i", (, u32 fd, u32 how), (, fd, how))

#define WASI_UNPACK_(...) __VA_ARGS__
#define WASI_DECLARE_(name, type, params, args) u32 wasi_##name(rt_ctx_t *c WASI_UNPACK_ params);
#define WASI_DECLARE_VOID_(name, type, params, args)                                            \
  _Noreturn void wasi_##name(rt_ctx_t *c WASI_UNPACK_ params);
WASI_CALLS(WASI_DECLARE_, WASI_DECLARE_VOID_)

#endif /* WRT_WASI_CALLS_H */
