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
  if (size > sizeof(exc_bytes)) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  return atomic_fetch_add(&tag_count, 1);
}

void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void *values) {
  if (size > sizeof(exc_bytes)) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  exc_tag = tag;
  exc_size = size;
  if (size) memcpy(exc_bytes, values, size);
}

WASM_RT_NO_RETURN void wasm_rt_throw(void) {
  if (!unwind_target) wasm_rt_trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
  siglongjmp(*unwind_target, WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
}

WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void) { return unwind_target; }
void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target) { unwind_target = target; }
uint32_t wasm_rt_exception_tag(void) { return exc_tag; }
uint32_t wasm_rt_exception_size(void) { return exc_size; }
void *wasm_rt_exception(void) { return exc_bytes; }
