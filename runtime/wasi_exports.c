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
#include "rt_snapshot.h"
#include "wasi_calls.h"

typedef struct Z_wasi_snapshot_preview1_instance_t wasi_t;

/* At every entry from the guest into WASI and at every return to it: the
 * host call's marker (RT_HOST_CALL, rt_internal.h): the stack budget
 * checked at entry, the thread marked as in host code until the return,
 * where a timeout that came meanwhile is taken; at load, in a snapshot's
 * init, the check of the call (rt_snapshot.c). */
#define WASI_ENTER(c, name) \
  RT_HOST_CALL();           \
  if ((c)->at_load) rt_snapshot_wasi(c, #name)
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
