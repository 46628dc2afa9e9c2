/* Error names and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include "util/error.h"
#include "wpool.h"

static _Thread_local char last_error[512];

int error_set(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof(last_error), fmt, ap);
  va_end(ap);
  return code;
}

WPOOL_EXPORT const char *wpool_last_error(void) { return last_error; }

WPOOL_EXPORT const char *wpool_strerror(int err) {
  switch (err) {
  case 0: return "success";
  case WPOOL_EINVAL: return "WPOOL_EINVAL: bad argument or configuration value";
  case WPOOL_ELIMIT: return "WPOOL_ELIMIT: the module does not fit the configured limits";
  case WPOOL_EEXHAUSTED: return "WPOOL_EEXHAUSTED: every slot of that kind is in use";
  case WPOOL_ENOMEM: return "WPOOL_ENOMEM: out of memory, address space or kernel mappings";
  case WPOOL_EBUSY: return "WPOOL_EBUSY: the pool still has live instances or stacks";
  case WPOOL_ENOTSUP: return "WPOOL_ENOTSUP: a required feature is missing on this host";
  case WPOOL_ESYS: return "WPOOL_ESYS: operating-system failure";
  default: return "unknown error";
  }
}

#define WPOOL_STR2(x) #x
#define WPOOL_STR(x) WPOOL_STR2(x)
WPOOL_EXPORT const char *wpool_version(void) {
  return WPOOL_STR(WPOOL_VERSION_MAJOR) "." WPOOL_STR(WPOOL_VERSION_MINOR) "." WPOOL_STR(
      WPOOL_VERSION_PATCH);
}
