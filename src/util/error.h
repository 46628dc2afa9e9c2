/* Setting the thread's last error (wpool_last_error()). */
#ifndef WPOOL_ERROR_H
#define WPOOL_ERROR_H

/* Record a message for wpool_last_error() and return `code`, so that call
 * sites read `return error_set(WPOOL_ELIMIT, "...", ...);`. */
int error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
