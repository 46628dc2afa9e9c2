/* The server's executed invariants (src/util/debug.h's macros, by debug
 * level: WPOOL_DEBUG, the meson option debug_level): each is shown to
 * fire on the violation it names, by calling the server's internal
 * functions on a state broken on purpose; the connections' walk
 * (conn_list_is_valid) tells a broken record from a good one at any
 * level. The sanitizer build in CI (level 3) runs every test. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "http.h"
#include "metrics.h"
#include "respond.h"
#include "worker.h"

/* A worker as setup.c makes one (its loop not started), with metrics of
 * its own. */
static srv_t srv;
static metrics_t metrics;

static worker_t *make_worker(void) {
  srv_config_init(&srv.cfg);
  worker_t *w = calloc(1, sizeof(*w));
  cr_assert(w);
  w->metrics = &metrics;
  cr_assert_eq(worker_init(w, &srv, 0), 0);
  return w;
}

/* Every connection closed, the loop and the worker freed (the sanitizer
 * build looks for leaks). */
static void discard(worker_t *w) {
  for (conn_t *c = w->conns; c; c = c->next) conn_close(c);
  worker_discard(w);
  worker_free(w);
  free(w);
}

/* A connection of w's on one end of a socket pair; the other end is
 * returned in *peer. */
static conn_t *open_conn(worker_t *w, bool reserve, int *peer) {
  int sv[2];
  cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  atomic_fetch_add(&srv.open, 1); /* as the listener counts it */
  http_open(w, sv[0], reserve);
  cr_assert(w->conns && w->conns->tcp.data == w->conns);
  *peer = sv[1];
  return w->conns;
}

Test(checks, connection_records_that_disagree_are_caught) {
  worker_t *w = make_worker();
  int p1, p2;
  conn_t *a = open_conn(w, false, &p1), *b = open_conn(w, false, &p2);
  cr_assert(conn_list_is_valid(w), "two connections, as opened");
  b->accounted += 1;
  cr_expect_not(conn_list_is_valid(w), "a connection's bytes not in the worker's count");
  b->accounted -= 1;
  metrics_add(&metrics.connections_open, 1);
  cr_expect_not(conn_list_is_valid(w), "one more open than listed");
  metrics_add(&metrics.connections_open, -1);
  conn_t *prev = a->prev;
  a->prev = NULL;
  cr_expect_not(conn_list_is_valid(w), "a link that does not point back");
  a->prev = prev;
  cr_assert(conn_list_is_valid(w), "restored");
  discard(w);
  close(p1);
  close(p2);
}

/* A valid connection swept in every check (a reserve one waits for its
 * head): the loop runs one sweep and nothing fires. */
Test(checks, a_sweep_of_sound_connections_passes_its_checks) {
  worker_t *w = make_worker();
  int peer;
  conn_t *c = open_conn(w, true, &peer);
  cr_assert_eq(conn_state(c), CONN_HEAD);
  uv_run(&w->loop, UV_RUN_ONCE); /* the sweep's timer */
  cr_assert(conn_list_is_valid(w));
  cr_assert_eq(conn_state(c), CONN_HEAD);
  discard(w);
  close(peer);
}

/* The end is one way: nothing leaves CLOSING, LINGER goes only to
 * CLOSING, a connection to close once written only writes, lingers or
 * closes; the states of its requests follow each other in any order. */
Test(checks, the_end_of_a_connection_is_one_way) {
  for (int f = CONN_IDLE; f <= CONN_CLOSING; f++)
    for (int t = CONN_IDLE; t <= CONN_CLOSING; t++) {
      bool ending = t == CONN_WRITING || t == CONN_ENDING || t == CONN_LINGER || t == CONN_CLOSING;
      bool want = f == CONN_CLOSING  ? t == CONN_CLOSING
                  : f == CONN_LINGER ? t == CONN_LINGER || t == CONN_CLOSING
                  : f == CONN_ENDING ? ending
                                     : true;
      cr_expect_eq(conn_step_legal(f, t), want, "%d -> %d", f, t);
    }
}

/* A response's framing as sent: one Content-Length naming the body. */
static conn_t *respond_conn(worker_t *w) {
  conn_t *c = calloc(1, sizeof(*c));
  cr_assert(c);
  c->w = w;
  return c;
}

static void respond_done(conn_t *c) {
  worker_t *w = c->w;
  sbuf_free(&c->out);
  free(c);
  discard(w);
}

Test(checks, a_response_is_framed_by_its_length) {
  worker_t *w = make_worker();
  conn_t *c = respond_conn(w);
  srv_response_t a = {.status = 200, .body = "hello", .body_len = 5};
  respond(c, &a, true);
  cr_assert(strstr(c->out.p, "\r\nContent-Length: 5\r\n"), "%s", c->out.p);
  cr_assert_str_eq(c->out.p + c->out.len - 9, "\r\n\r\nhello");
  respond_done(c);
}

/* Out of buffer part of the way (a body no buffer can hold, refused
 * before any allocation): nothing of the response is queued, what was
 * queued before stays, and the connection closes after it. Before, the
 * head went out with its Content-Length and no body. */
Test(checks, a_response_that_cannot_be_built_whole_is_dropped_and_the_connection_closed) {
  worker_t *w = make_worker();
  conn_t *c = respond_conn(w);
  srv_response_t first = {.status = 200, .body = "first", .body_len = 5};
  respond(c, &first, true);
  cr_assert_not(c->close_after_write);
  size_t before = c->out.len;
  char *copy = strdup(c->out.p);
  srv_response_t huge = {.status = 200, .body = "x", .body_len = SIZE_MAX - 8};
  respond(c, &huge, true);
  cr_assert_eq(c->out.len, before);
  cr_assert_str_eq(c->out.p, copy);
  cr_assert(c->close_after_write);
  free(copy);
  respond_done(c);
}

#if WPOOL_DEBUG >= 2
/* Flags that no transition makes: reading while a write is queued. */
Test(checks, a_connection_reading_while_writing_aborts, .signal = SIGABRT) {
  worker_t *w = make_worker();
  int peer;
  conn_t *c = open_conn(w, false, &peer);
  cr_assert(c->reading, "reading after its open");
  c->writing = true;
  conn_account(c);
}

/* A lingering connection found waiting for a request's head again. */
Test(checks, a_connection_back_from_its_linger_aborts, .signal = SIGABRT) {
  worker_t *w = make_worker();
  int peer;
  conn_t *c = open_conn(w, true, &peer);
  c->swept = CONN_LINGER; /* as the last sweep found it */
  uv_run(&w->loop, UV_RUN_ONCE);
}

/* A waiting state without the start of its deadline: the sweep. */
Test(checks, a_head_awaited_without_a_deadline_aborts, .signal = SIGABRT) {
  worker_t *w = make_worker();
  int peer;
  conn_t *c = open_conn(w, true, &peer);
  cr_assert_eq(conn_state(c), CONN_HEAD);
  c->head_ms = 0;
  uv_run(&w->loop, UV_RUN_ONCE);
}
#endif

#if WPOOL_DEBUG >= 3
/* A handler's own Content-Length beside the server's. */
Test(checks, a_response_framed_twice_aborts, .signal = SIGABRT) {
  worker_t *w = make_worker();
  conn_t *c = respond_conn(w);
  static const char head[] = "content-length: 2\r\n";
  srv_response_t a = {.status = 200, .head = head, .head_len = sizeof(head) - 1,
                      .body = "hello", .body_len = 5};
  respond(c, &a, true);
}

/* The worker's count of its buffered bytes off: the next sweep's walk. */
Test(checks, buffered_bytes_unaccounted_abort_at_the_sweep, .signal = SIGABRT) {
  worker_t *w = make_worker();
  int peer;
  open_conn(w, false, &peer);
  metrics_add(&metrics.buffered, 100);
  uv_run(&w->loop, UV_RUN_ONCE);
}
#endif
