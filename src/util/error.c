/* Error names, the errno rule and the per-thread last-error message. */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wpool.h"

static _Thread_local char last_error[ERROR_MESSAGE_MAX];

/* Formatted aside, then copied: an argument may be the last message itself
 * (a caller adding context to a failure below it), and vsnprintf into a
 * buffer it also reads is undefined. */
int error_set(int code, const char *fmt, ...) {
  char msg[sizeof(last_error)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  memcpy(last_error, msg, sizeof(msg));
  return code;
}

int error_from_errno(int err) {
  switch (err < 0 ? -err : err) {
  case ENOMEM:
  case EMFILE:
  case ENFILE:
  case EAGAIN:
    return WPOOL_ENOMEM;
  case ENOSYS:
  case ENOTSUP:
  case ENOTTY:
    return WPOOL_ENOTSUP;
  default:
    return WPOOL_ESYS;
  }
}

WPOOL_EXPORT const char *wpool_last_error(void) { return last_error; }

WPOOL_EXPORT const char *wpool_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define STRERROR_CASE(name, number, meaning) \
  case WPOOL_##name:                         \
    return "WPOOL_" #name ": " meaning;
    WPOOL_ERRNO_MAP(STRERROR_CASE)
#undef STRERROR_CASE
  default:
    return "unknown error";
  }
}

#define WPOOL_STR2(x) #x
#define WPOOL_STR(x) WPOOL_STR2(x)
WPOOL_EXPORT const char *wpool_version(void) {
  return WPOOL_STR(WPOOL_VERSION_MAJOR) "." WPOOL_STR(WPOOL_VERSION_MINOR) "." WPOOL_STR(
      WPOOL_VERSION_PATCH);
}
