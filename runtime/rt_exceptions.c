/* wasm-rt's exceptions (wasm2c --enable-exceptions; wabt's
 * wasm-rt-exceptions-impl.c), per thread. The loader does not enable
 * them, so only a hand-made object would call these. */
#include <string.h>

#include "rt_internal.h"

static _Thread_local uint32_t exc_tag, exc_size;
static _Thread_local uint8_t exc_bytes[256];
static _Thread_local WASM_RT_UNWIND_TARGET *unwind_target;
static atomic_uint tag_count;

uint32_t wasm_rt_register_tag(uint32_t size) {
  RT_HOST_CALL();
  if (size > sizeof(exc_bytes)) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  return atomic_fetch_add(&tag_count, 1);
}

void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void *values) {
  RT_HOST_CALL();
  if (size > sizeof(exc_bytes)) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  exc_tag = tag;
  exc_size = size;
  if (size) memcpy(exc_bytes, values, size);
}

WASM_RT_NO_RETURN void wasm_rt_throw(void) {
  RT_HOST_CALL();
  if (!unwind_target) wasm_rt_trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
  /* Back into the generated code by a jump, not a return: the host call
   * ends here. */
  rt_host_leave(&rt_host_call_);
  siglongjmp(*unwind_target, WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
}

WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void) {
  RT_HOST_CALL();
  return unwind_target;
}
void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target) {
  RT_HOST_CALL();
  unwind_target = target;
}
uint32_t wasm_rt_exception_tag(void) {
  RT_HOST_CALL();
  return exc_tag;
}
uint32_t wasm_rt_exception_size(void) {
  RT_HOST_CALL();
  return exc_size;
}
void *wasm_rt_exception(void) {
  RT_HOST_CALL();
  return exc_bytes;
}
