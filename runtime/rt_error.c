/* Errors and names: this thread's last message, the codes' names from the
 * one table (WRT_ERRNO_MAP, runtime.h), the one mapping from wpool's codes,
 * and the trap kinds' names. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rt_internal.h"

static _Thread_local char last_error[2048];

/* Formatted aside, then copied: an argument may be the last message itself
 * (a caller adding context to a failure below it), and vsnprintf into a
 * buffer it also reads from is undefined. */
int rt_error(int code, const char *fmt, ...) {
  char msg[sizeof(last_error)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  memcpy(last_error, msg, sizeof(msg));
  return code;
}

const char *wrt_last_error(void) { return last_error; }

const char *wrt_strerror(int err) {
  switch (err) {
  case 0: return "success";
#define WRT_STRERROR_CASE_(name, number, meaning) \
  case WRT_##name: return "WRT_" #name ": " meaning;
    WRT_ERRNO_MAP(WRT_STRERROR_CASE_)
#undef WRT_STRERROR_CASE_
  default: return "unknown error";
  }
}

/* wpool's codes name the same failures, except that a missing feature of
 * the host is, to a runtime's user, an operating-system failure. */
int rt_error_from_wpool(int wpool_err) {
  switch (wpool_err) {
  case 0: return 0;
  case WPOOL_EINVAL: return WRT_EINVAL;
  case WPOOL_ELIMIT: return WRT_ELIMIT;
  case WPOOL_EEXHAUSTED: return WRT_EEXHAUSTED;
  case WPOOL_ENOMEM: return WRT_ENOMEM;
  case WPOOL_EBUSY: return WRT_EBUSY;
  case WPOOL_ENOTSUP:
  case WPOOL_ESYS:
  default: return WRT_ESYS;
  }
}

const char *wrt_trap_name(wrt_trap_t t) {
  switch (t) {
  case WRT_TRAP_NONE: return "none";
  case WRT_TRAP_OOB: return "oob";
  case WRT_TRAP_INT_OVERFLOW: return "int_overflow";
  case WRT_TRAP_DIV_BY_ZERO: return "div_by_zero";
  case WRT_TRAP_INVALID_CONVERSION: return "invalid_conversion";
  case WRT_TRAP_UNREACHABLE: return "unreachable";
  case WRT_TRAP_CALL_INDIRECT: return "call_indirect";
  case WRT_TRAP_EXHAUSTION: return "exhaustion";
  case WRT_TRAP_OTHER: return "other";
  case WRT_TRAP_EXIT: return "exit";
  case WRT_TRAP_TIMEOUT: return "timeout";
  }
  return "other";
}

wrt_trap_t rt_trap_of(int code) {
  switch (code) {
  case WASM_RT_TRAP_OOB: return WRT_TRAP_OOB;
  case WASM_RT_TRAP_INT_OVERFLOW: return WRT_TRAP_INT_OVERFLOW;
  case WASM_RT_TRAP_DIV_BY_ZERO: return WRT_TRAP_DIV_BY_ZERO;
  case WASM_RT_TRAP_INVALID_CONVERSION: return WRT_TRAP_INVALID_CONVERSION;
  case WASM_RT_TRAP_UNREACHABLE: return WRT_TRAP_UNREACHABLE;
  case WASM_RT_TRAP_CALL_INDIRECT: return WRT_TRAP_CALL_INDIRECT;
  case WASM_RT_TRAP_EXHAUSTION: return WRT_TRAP_EXHAUSTION;
  default: return WRT_TRAP_OTHER;
  }
}

int rt_trap_code(wrt_trap_t t) {
  switch (t) {
  case WRT_TRAP_OOB: return WASM_RT_TRAP_OOB;
  case WRT_TRAP_INT_OVERFLOW: return WASM_RT_TRAP_INT_OVERFLOW;
  case WRT_TRAP_DIV_BY_ZERO: return WASM_RT_TRAP_DIV_BY_ZERO;
  case WRT_TRAP_INVALID_CONVERSION: return WASM_RT_TRAP_INVALID_CONVERSION;
  case WRT_TRAP_UNREACHABLE: return WASM_RT_TRAP_UNREACHABLE;
  case WRT_TRAP_CALL_INDIRECT: return WASM_RT_TRAP_CALL_INDIRECT;
  case WRT_TRAP_EXHAUSTION: return WASM_RT_TRAP_EXHAUSTION;
  default: return WASM_RT_TRAP_UNCAUGHT_EXCEPTION;
  }
}
