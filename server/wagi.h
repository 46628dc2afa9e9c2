/* WAGI, the WebAssembly Gateway Interface, as a handler of the server
 * (handler.h): a request goes to a WebAssembly command as arguments,
 * environment and stdin; its stdout comes back as the response
 * (docs/serve.md). Built on the runtime (runtime.h).
 *
 * wagi.c           the handler: run the guest, its outcome as a response
 * wagi_env.c       a request as the guest sees it: argv and environ
 * wagi_response.c  the guest's stdout (untrusted) as an HTTP response
 * wagi_modules.c   the modules of a path: one, or a directory's
 * wagi_table.c     the routes: an immutable table of module versions,
 *                  swapped whole on a reload (wagi_table.h)
 * wagi_pass.c      a reload pass; wagi_loader.c its thread (wagi_loader.h)
 * wagi_metrics.c   the runtime's and the pool's figures for /metrics */
#ifndef WPOOL_SERVER_WAGI_H
#define WPOOL_SERVER_WAGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "handler.h"
#include "runtime.h"
#include "wagi_module.h"


/* The files and directories a WAGI request may hold open at once besides
 * its streams and volumes (wrt_request_t.max_fds is 3 + its volumes +
 * this). */
#define WAGI_MAX_OPEN 64

struct wagi_routes;

typedef struct wagi {
  srv_handler_t h;
  wrt_runtime_t *rt;
  struct wagi_routes *routes; /* the modules, by route (wagi_table.h) */
  bool single;     /* one module at "/" (else each at /NAME) */
  bool log_stderr; /* each guest's stderr on stderr, each line prefixed by its
                      route, control bytes escaped */
  unsigned threads;
  uint64_t timeout_ns; /* each request's time limit (wrt_request_t); 0: none */
} wagi_t;

/* The handler of every module: route it with srv_route(s, "/", false,
 * &w->h, NULL); it finds the path's module in `routes` itself (one at "/"
 * when single, else /NAME), and answers 404 for a path of none. */
void wagi_init(wagi_t *w, wrt_runtime_t *rt, struct wagi_routes *routes, bool single,
               bool log_stderr);

/* The guest's stdout as a response. */
typedef struct wagi_response {
  int status;
  const char *reason; /* NULL: the standard one */
  char reason_buf[64];
  sbuf_t head; /* header lines, each "Name: value\r\n" */
  const char *body;
  size_t body_len;
} wagi_response_t;

/* Parse the guest's output into rs (rs->head reused). Never fails: output
 * that is not a CGI header block is all body. */
void wagi_response(const char *out, size_t len, wagi_response_t *rs);

/* One request's state, reused by one worker request after request: the
 * guest's argv and environ, its result, the response. */
typedef struct wagi_call {
  sbuf_t args; /* the strings */
  const char **argv, **envp;
  size_t argv_cap, envp_cap;
  size_t *offs, offs_cap;
  sbuf_t decoded; /* PATH_INFO, percent-decoded */
  wrt_result_t res;
  wagi_response_t rs;
  sbuf_t log; /* the guest's stderr, escaped, for the log */
  char text[256];
  unsigned worker; /* its worker: the reader lock it takes (wagi_table.h) */
} wagi_call_t;

void wagi_call_init(wagi_call_t *call);
void wagi_call_free(wagi_call_t *call);

/* The guest's argv and environ for request q on module m, in call's
 * buffers. 0; 400: a malformed escape in the path; 500: out of memory. */
int wagi_env(wagi_call_t *call, const wagi_module_t *m, bool single, const srv_request_t *q,
             wrt_request_t *out);

/* Decode %XX into out (appended); false for a malformed escape or a NUL
 * byte. */
bool percent_decode(const char *s, size_t n, sbuf_t *out);

/* Bytes one request may add to the guest's log (prefixes and escapes
 * counted), besides the line saying what was left out. */
#define WAGI_LOG_MAX (64u << 10)

/* The guest's standard error `err` as log lines in `out` (emptied first),
 * for --log: each of its lines as "/ROUTE: TEXT\n", ROUTE the module's
 * name ("" for a single module), every control byte but tab in TEXT
 * written \xHH and a backslash doubled, so that a tenant can neither forge a
 * line of the server's or another tenant's nor send a terminal escape; a
 * line longer than LOG_LINE_MAX (log.h) goes on in lines "/ROUTE:+ TEXT";
 * at most WAGI_LOG_MAX bytes, then "/ROUTE:! N bytes of stderr not
 * logged" (a prefix none of the guest's lines has). */
void wagi_log_lines(sbuf_t *out, const char *route, const char *err, size_t n);

/* out = the operator's line on a request whose guest could not run:
 * "/ROUTE:! could not run: WHY\n", WHY (the runtime's message, which may
 * name host paths and so never goes to the client) escaped as a guest's
 * bytes are and cut to fit LOG_LINE_MAX. */
void wagi_failure_line(sbuf_t *out, const char *route, const char *why);

/* NAME.wasm files a directory may hold: past it the start fails and a
 * reload pass changes nothing. */
#define WAGI_MAX_ROUTES 10000
/* The longest route name (bytes). */
#define WAGI_MAX_NAME 200
/* A route name: 1 to WAGI_MAX_NAME letters, digits, '-', '_' and '.'. */
bool wagi_route_name_ok(const char *name);

/* The modules of `path`: one module (*single: served at "/"), or each
 * NAME.wasm of a directory, sorted by name. 0, or -1 with a one-line
 * message naming the file in err. */
int wagi_modules_find(const char *path, wagi_module_t **out, size_t *n, bool *single, char *err,
                      size_t errlen);
/* The modules are loaded by the loader (wagi_loader.h), which keeps
 * this list for the routes' volumes. */
void wagi_modules_free(wagi_module_t *ms, size_t n);
/* Give module m the host directory `host` as the preopen `guest`
 * (read-only unless `read_write`). 0, or -1 with a one-line reason in err
 * (the directory cannot be opened, WRT_MAX_DIRS reached). */
int wagi_module_volume(wagi_module_t *m, const char *host, const char *guest, bool read_write,
                       char *err, size_t errlen);

/* /metrics' hook (metrics.h): the runtime's counters, the pool's. */
void wagi_metrics(void *wagi, sbuf_t *out);

#endif
