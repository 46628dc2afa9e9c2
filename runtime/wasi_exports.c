/* The WASI functions the generated code calls, and the loader's table of
 * their names and types, both made from the one list in wasi_calls.h.
 *
 * The generated code calls Z_wasi_snapshot_preview1Z_<name>(wasi, ...),
 * `wasi` being the pointer the runtime passed to instantiate: here the
 * request's rt_ctx_t. Every call goes through the one wrapper below, so
 * whatever must happen at each entry from guest code into the host and at
 * each return (a marker for the stack budget, host-fault detection, time
 * limits, the calls a snapshot's init may not make) is written once, in
 * WASI_ENTER and WASI_LEAVE. */
#include "wasi_calls.h"

typedef struct Z_wasi_snapshot_preview1_instance_t wasi_t;

/* At load, in a snapshot's init (rt_snapshot.c; c->at_load): two kinds
 * of call end it with RT_JUMP_REFUSED, c->refused_call naming the call
 * and why. Those whose answer depends on the request or the moment: the
 * snapshot would freeze one answer into every request. Those that change
 * the descriptor table, which lives beside the instance, not in it: every
 * request starts with a fresh one, which the guest's memory would no
 * longer describe. Every other call gives the same answer at every load
 * and changes nothing but the guest's memory (no arguments, environment
 * or preopens: paths are EBADF; output is discarded). */
#define VARIES ", whose answer is not fixed at load (it varies per request or per moment)"
#define TABLE ", which changes the descriptor table (a snapshot holds memory and globals only)"
static const char *const refused_at_load[][2] = {
    {"args_get", "WASI's args_get" VARIES},
    {"args_sizes_get", "WASI's args_sizes_get" VARIES},
    {"environ_get", "WASI's environ_get" VARIES},
    {"environ_sizes_get", "WASI's environ_sizes_get" VARIES},
    {"clock_res_get", "WASI's clock_res_get" VARIES},
    {"clock_time_get", "WASI's clock_time_get" VARIES},
    {"fd_read", "WASI's fd_read" VARIES},
    {"fd_pread", "WASI's fd_pread" VARIES},
    {"poll_oneoff", "WASI's poll_oneoff" VARIES},
    {"random_get", "WASI's random_get" VARIES},
    {"sock_accept", "WASI's sock_accept" VARIES},
    {"sock_recv", "WASI's sock_recv" VARIES},
    {"fd_close", "WASI's fd_close" TABLE},
    {"fd_renumber", "WASI's fd_renumber" TABLE},
    {"fd_fdstat_set_flags", "WASI's fd_fdstat_set_flags" TABLE},
    {"fd_fdstat_set_rights", "WASI's fd_fdstat_set_rights" TABLE},
};

static void at_load(rt_ctx_t *c, const char *name) {
  for (size_t i = 0; i < sizeof(refused_at_load) / sizeof(refused_at_load[0]); i++)
    if (strcmp(name, refused_at_load[i][0]) == 0) {
      c->refused_call = refused_at_load[i][1];
      siglongjmp(c->jb, RT_JUMP_REFUSED);
    }
}

/* At every entry from the guest into WASI and at every return to it: the
 * host call's marker (RT_HOST_CALL, rt_internal.h): the stack budget
 * checked at entry, the thread marked as in host code until the return,
 * where a timeout that came meanwhile is taken; at load, in a snapshot's
 * init, the check of the call (rt_snapshot.c). */
#define WASI_ENTER(c, name) \
  RT_HOST_CALL();           \
  if ((c)->at_load) at_load(c, #name)
#define WASI_LEAVE(c) ((void)(c))

#define WASI_WRAP_(name, type, params, args)                                     \
  u32 Z_wasi_snapshot_preview1Z_##name(wasi_t *w WASI_UNPACK_ params);            \
  u32 Z_wasi_snapshot_preview1Z_##name(wasi_t *w WASI_UNPACK_ params) {           \
    rt_ctx_t *c = (rt_ctx_t *)(void *)w;                                          \
    WASI_ENTER(c, name);                                                                \
    u32 r = wasi_##name(c WASI_UNPACK_ args);                                     \
    WASI_LEAVE(c);                                                                \
    return r;                                                                     \
  }
/* proc_exit leaves the guest for good: no return to mark. */
#define WASI_WRAP_VOID_(name, type, params, args)                                \
  void Z_wasi_snapshot_preview1Z_##name(wasi_t *w WASI_UNPACK_ params);           \
  void Z_wasi_snapshot_preview1Z_##name(wasi_t *w WASI_UNPACK_ params) {          \
    rt_ctx_t *c = (rt_ctx_t *)(void *)w;                                          \
    WASI_ENTER(c, name);                                                                \
    wasi_##name(c WASI_UNPACK_ args);                                             \
  }
WASI_CALLS(WASI_WRAP_, WASI_WRAP_VOID_)

/* The loader refuses an import whose name is not here or whose type
 * differs (the generated code would call it with the wrong C signature). */
#define WASI_ENTRY_(name, type, params, args) \
  {#name, type, (void (*)(void))Z_wasi_snapshot_preview1Z_##name},
const rt_wasi_fn_t rt_wasi_fns[] = {WASI_CALLS(WASI_ENTRY_, WASI_ENTRY_)};
const size_t rt_wasi_nfns = sizeof(rt_wasi_fns) / sizeof(rt_wasi_fns[0]);
