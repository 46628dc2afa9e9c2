/* The library's one error vocabulary inside: error_set() records this
 * thread's message (wpool_last_error()) and returns the code, and
 * error_from_errno() is the single rule turning an OS failure into a
 * WPOOL_E* code. Codes and their names live in one table in wpool.h. */
#ifndef WPOOL_ERROR_H
#define WPOOL_ERROR_H

/* Bytes of one thread's last-error message, its terminating NUL included;
 * longer messages are cut. */
#define ERROR_MESSAGE_MAX 512

/* Record a message for wpool_last_error() and return `code`, so that call
 * sites read `return error_set(WPOOL_ELIMIT, "...", ...);`. */
int error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The WPOOL_E* code for a failed system call's -errno (or errno):
 *   ENOMEM, EMFILE, ENFILE, EAGAIN  ->  WPOOL_ENOMEM  (memory, descriptors,
 *                                       mappings or locked memory ran out)
 *   ENOSYS, ENOTSUP, ENOTTY         ->  WPOOL_ENOTSUP (the kernel lacks it)
 *   anything else                   ->  WPOOL_ESYS */
int error_from_errno(int err);

#endif
