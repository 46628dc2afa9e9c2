/* The server's error messages (setup.c; srv_error() reads them). */
#ifndef WPOOL_SERVER_SETUP_H
#define WPOOL_SERVER_SETUP_H

/* Set this thread's message; return err. */
int srv_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
