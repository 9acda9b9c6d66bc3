/* qa15_api_test.c — the embedding API used the way a host application uses
** it (SPEC §12): a TCP service embedded in a host, run in several runtimes
** one after another in one process (leaks show under ASan), shut down while
** its processes wait in accept, recv, sleep and a blocking native; ports fed
** by several host threads at once; a compile error handed back as
** diagnostics. Suite unit (runtime_qa15_api). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hiko.h"
#include "api_check.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A blocking native that waits for the host (or for the cancellation of its
** caller, SPEC §12.3.6), as a host's long database call would. */
typedef struct wait_state {
  atomic_int started, saw_cancel, finished;
} wait_state_t;

static int wait_host(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)arg;
  wait_state_t *st = ud;
  atomic_fetch_add(&st->started, 1);
  for (int i = 0; i < 10000 && !hiko_call_cancelled(call); i++) sleep_ms(1);
  if (hiko_call_cancelled(call)) atomic_fetch_add(&st->saw_cancel, 1);
  atomic_fetch_add(&st->finished, 1);
  return hiko_value_unit(result);
}

/* The host's upper-case service: the root reports its port to the host's
** port, an acceptor hands each connection to a handler that answers one
** request; meanwhile children sleep and wait in the native. */
static const char *service_src =
    "val host : Pid = receive_message ()\n"
    "val l = tcp_listen (\"127.0.0.1\", 0)\n"
    "fun serve_conn c () =\n"
    "  let val _ = send_message (host, 0)\n"
    "      val d = socket_recv (c, 100)\n"
    "  in if d = \"\" then () else socket_send (c, to_upper d) end\n"
    "fun accept_loop n =\n"
    "  let val c = tcp_accept l\n"
    "      val h = spawn (serve_conn c)\n"
    "      val _ = socket_give (c, h)\n"
    "  in accept_loop (n + 1) end\n"
    "val acceptor = spawn (fn () => accept_loop 0)\n"
    "val napper = spawn (fn () => sleep 600000)\n"
    "val waiter = spawn (fn () => wait_host ())\n"
    "val _ = send_message (host, socket_port l)\n"
    "val _ = receive_message ()\n"
    "val _ = println \"not reached\"\n";

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

/* Reads until [n] bytes or end of stream; returns the count. */
static size_t read_n(int fd, char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(fd, buf + got, n - got, 0);
    if (r <= 0) break;
    got += (size_t)r;
  }
  return got;
}

static char outbuf[256];
static size_t outlen;
static void collect_out(void *ud, const char *data, size_t len) {
  (void)ud;
  if (outlen + len < sizeof outbuf) {
    memcpy(outbuf + outlen, data, len);
    outlen += len;
  }
}

/* A runtime of [workers] workers, otherwise the defaults. */
static hiko_runtime_t *new_rt(unsigned workers) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = workers;
  hiko_runtime_t *rt;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), 0);
  return rt;
}

/* Opens a port, spawns [p]'s root, sends it the port's pid as its first
** message (SPEC §12.3.2) and starts the workers. */
static hiko_port_t *start_with_port(hiko_runtime_t *rt, hiko_program_t *p, hiko_pid_t *root) {
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  cr_assert_eq(hiko_spawn_main(rt, p, root), 0);
  hiko_value_t *v;
  cr_assert_eq(hiko_value_pid(hiko_port_pid(port), &v), 0);
  cr_assert_eq(hiko_send(rt, *root, v), 0);
  hiko_value_free(v);
  cr_assert_eq(hiko_start(rt), 0);
  return port;
}

/* The next port message, an Int equal to [want]. */
static void expect_port_int(hiko_port_t *port, int64_t want) {
  hiko_value_t *v = NULL;
  cr_assert_eq(hiko_port_recv(port, &v, 10000), 0);
  cr_assert_eq(hiko_value_kind(v), HIKO_INT);
  cr_assert_eq(hiko_value_get_int(v), want);
  hiko_value_free(v);
}

/* One life of the service: start, serve one request, shut down with every
** process blocked, check what the host sees afterwards. */
static void service_once(int round) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.helpers = 2;
  cfg.out = collect_out;
  outlen = 0;
  hiko_runtime_t *rt;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), 0);
  wait_state_t st = {0};
  cr_assert_eq(hiko_register_builtin(rt, "wait_host", "Unit -> Unit", wait_host, &st,
                                     HIKO_NATIVE_BLOCKING), 0);
  hiko_program_t *p = compile(rt, service_src);
  hiko_pid_t root;
  hiko_port_t *port = start_with_port(rt, p, &root);

  hiko_value_t *pv = NULL;
  cr_assert_eq(hiko_port_recv(port, &pv, 10000), 0, "round %d: no port number", round);
  cr_assert_eq(hiko_value_kind(pv), HIKO_INT);
  int tcp_port = (int)hiko_value_get_int(pv);
  hiko_value_free(pv);
  cr_assert(tcp_port > 0 && tcp_port < 65536);

  /* one request served */
  int fd = connect_to(tcp_port);
  cr_assert(fd >= 0, "connect: %s", strerror(-fd));
  cr_assert_eq(send(fd, "hello\xc3\xa9", 7, 0), 7);
  char buf[16] = {0};
  cr_assert_eq(read_n(fd, buf, 7), 7);
  expect_port_int(port, 0);
  cr_assert_str_eq(buf, "HELLO\xc3\x89");
  cr_assert_eq(read_n(fd, buf, 1), 0); /* the handler ended: its socket closed */
  close(fd);

  /* a second connection whose handler waits in socket_recv */
  int idle = connect_to(tcp_port);
  cr_assert(idle >= 0);
  expect_port_int(port, 0); /* its handler runs */
  for (int i = 0; i < 10000 && atomic_load(&st.started) == 0; i++) sleep_ms(1);
  cr_assert_eq(atomic_load(&st.started), 1);

  cr_assert_eq(hiko_shutdown(rt), 0);
  expect_end(rt, root, HIKO_FAILED, "cancelled");
  /* the handler's and the listener's sockets are closed (SPEC §7.4.1, §12.2) */
  cr_assert_eq(read_n(idle, buf, 1), 0);
  close(idle);
  cr_assert_eq(connect_to(tcp_port), -ECONNREFUSED);
  cr_assert_eq(outlen, 0);

  /* every process ended: root, acceptor, napper, waiter, two handlers */
  hiko_stats_t s;
  cr_assert_eq(hiko_stats_get(rt, &s), 0);
  cr_assert_eq(s.workers, 2);
  cr_assert_eq(s.processes, 6);
  cr_assert_eq(s.done + s.failed + s.cancelled, 6, "done %llu failed %llu cancelled %llu",
               (unsigned long long)s.done, (unsigned long long)s.failed,
               (unsigned long long)s.cancelled);
  cr_assert_eq(s.done, 1); /* the first handler */
  cr_assert_eq(s.cancelled, 5);
  cr_assert_eq(s.total.spawns, s.per_worker[0].spawns + s.per_worker[1].spawns);
  cr_assert_eq(s.total.spawns, 5);
  hiko_stats_clear(&s);

  cr_assert_eq(hiko_port_close(port), 0);
  cr_assert_eq(hiko_runtime_destroy(rt), 0); /* waits for the native */
  cr_assert_eq(atomic_load(&st.saw_cancel), 1);
  cr_assert_eq(atomic_load(&st.finished), 1);
  hiko_program_release(p);
}

Test(qa15_api, service_in_runtimes_one_after_another, .timeout = 60) {
  for (int round = 0; round < 3; round++) service_once(round);
}

/* Several host threads feed one root through hiko_send while the main thread
** reads the root's reports from a port (SPEC §6.5.4 per sender, §12.2 "T: any"). */
enum { FEEDERS = 4, PER_FEEDER = 20000 };

typedef struct feeder {
  hiko_runtime_t *rt;
  hiko_pid_t root;
  int id;
} feeder_t;

static void *feed(void *arg) {
  feeder_t *f = arg;
  for (int i = 0; i < PER_FEEDER; i++) {
    hiko_value_t *items[2];
    cr_assert_eq(hiko_value_int(f->id, &items[0]), 0);
    cr_assert_eq(hiko_value_int(i, &items[1]), 0);
    hiko_value_t *t;
    cr_assert_eq(hiko_value_tuple(items, 2, &t), 0);
    cr_assert_eq(hiko_send(f->rt, f->root, t), 0);
    hiko_value_free(t);
  }
  return NULL;
}

static const char *collector_src =
    "val host : Pid = receive_message ()\n"
    "fun nth_set (xs, k, v) = case xs of [] => [] | x :: r =>\n"
    "  if k = 0 then v :: r else x :: nth_set (r, k - 1, v)\n"
    "fun nth (xs, k) = case xs of [] => ~1 | x :: r => if k = 0 then x else nth (r, k - 1)\n"
    "fun loop (next, left) =\n"
    "  if left = 0 then next\n"
    "  else let val (id, seq) = receive_message ()\n"
    "           val _ = if seq = nth (next, id) then () else panic \"out of order\"\n"
    "           val _ = if seq mod 5000 = 4999 then send_message (host, (id, seq)) else ()\n"
    "       in loop (nth_set (next, id, seq + 1), left - 1) end\n"
    "val final = loop ([0, 0, 0, 0], 80000)\n"
    "val _ = send_message (host, final)\n";

Test(qa15_api, port_fed_by_host_threads, .timeout = 120) {
  hiko_runtime_t *rt = new_rt(2);
  hiko_program_t *p = compile(rt, collector_src);
  hiko_pid_t root;
  hiko_port_t *port = start_with_port(rt, p, &root); /* the feeders' messages follow */
  pthread_t th[FEEDERS];
  feeder_t f[FEEDERS];
  for (int i = 0; i < FEEDERS; i++) {
    f[i] = (feeder_t){rt, root, i};
    cr_assert_eq(pthread_create(&th[i], NULL, feed, &f[i]), 0);
  }
  /* 4 reports per feeder, each feeder's in order, then the final counts */
  int last[FEEDERS] = {-1, -1, -1, -1};
  for (int k = 0; k < FEEDERS * (PER_FEEDER / 5000); k++) {
    hiko_value_t *m = NULL;
    cr_assert_eq(hiko_port_recv(port, &m, 20000), 0, "report %d missing", k);
    cr_assert_eq(hiko_value_kind(m), HIKO_TUPLE);
    int id = (int)hiko_value_get_int(hiko_value_at(m, 0));
    int seq = (int)hiko_value_get_int(hiko_value_at(m, 1));
    cr_assert(id >= 0 && id < FEEDERS);
    cr_assert_eq(seq, last[id] + 5000, "feeder %d: %d after %d", id, seq, last[id]);
    last[id] = seq;
    hiko_value_free(m);
  }
  hiko_value_t *fin = NULL;
  cr_assert_eq(hiko_port_recv(port, &fin, 20000), 0);
  char *text = show(fin);
  cr_assert_str_eq(text, "[20000, 20000, 20000, 20000]");
  hiko_free(text);
  hiko_value_free(fin);
  for (int i = 0; i < FEEDERS; i++) pthread_join(th[i], NULL);
  expect_end(rt, root, HIKO_DONE, NULL);
  cr_assert_eq(hiko_port_recv(port, &fin, 0), -EAGAIN);
  hiko_stats_t s;
  cr_assert_eq(hiko_stats_get(rt, &s), 0);
  /* the port's pid and the feeders' messages, received by the root, and
  ** the root's 17 reports, received by the host from the port (counted
  ** since stop 16, docs/embedding.md "Statistics and shutdown") */
  cr_assert_eq(s.total.received, 1 + FEEDERS * PER_FEEDER + 17, "received %llu",
               (unsigned long long)s.total.received);
  cr_assert_eq(s.total.sent, s.total.received);
  cr_assert_eq(s.total.dropped, 0);
  hiko_stats_clear(&s);
  teardown(rt, port, p, NULL);
}

/* A host compiles a user's script with a mistake: HIKO_ECOMPILE, no program,
** the warnings before the error in source order, and the §13.2 rendering
** with the tab of the source line kept. */
Test(qa15_api, compile_error_as_diagnostics) {
  hiko_runtime_t *rt = new_rt(1);
  const char *src =
      "fun f x = case x of 0 => 1 | _ => 2 | 1 => 3\n"
      "val y =\n"
      "\tf 1 + undefined_thing\n"
      "val z = case 1 of _ => 0 | 2 => 1\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  int rc = hiko_compile_string(rt, "user.hml", src, strlen(src), &p, &d);
  cr_assert_eq(rc, HIKO_ECOMPILE);
  cr_assert_null(p);
  cr_assert_not_null(d);
  cr_assert_eq(hiko_diags_count(d), 2);
  const hiko_diag_t *w = hiko_diags_get(d, 0), *e = hiko_diags_get(d, 1);
  cr_assert(!w->is_error);
  cr_assert_str_eq(w->file, "user.hml");
  cr_assert_eq(w->line, 1);
  cr_assert_eq(w->col, 39);
  cr_assert_str_eq(w->message, "redundant match clause (clause 3)");
  cr_assert(e->is_error);
  cr_assert_eq(e->line, 3);
  cr_assert_eq(e->col, 8);
  cr_assert_str_eq(e->message, "unbound variable: undefined_thing");
  char *text = NULL;
  cr_assert_eq(hiko_diags_render(d, &text), 0);
  cr_assert_str_eq(text,
      "user.hml:1:39: warning: redundant match clause (clause 3)\n"
      "fun f x = case x of 0 => 1 | _ => 2 | 1 => 3\n"
      "                                      ^\n"
      "user.hml:3:8: error: unbound variable: undefined_thing\n"
      "\tf 1 + undefined_thing\n"
      "\t      ^~~~~~~~~~~~~~~\n");
  hiko_free(text);
  hiko_diags_free(d);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

/* A process that terminates cancels its live children before its sockets
** close (SPEC §6.8.1, §7.4.1): a child blocked in tcp_accept on its
** parent's listener ends Cancelled, never failed by "tcp_accept: socket is
** closed" when the close wakes it first. The runtime's counts tell them
** apart (SPEC §10.9); repeated, as the close raced the cancellation. */
static const char *owner_ends_src =
    "val l = tcp_listen (\"127.0.0.1\", 0)\n"
    "fun acceptors i = if i = 0 then () else\n"
    "  let val _ = spawn (fn () => tcp_accept l) in acceptors (i - 1) end\n"
    "val _ = acceptors 4\n"
    "val mid = spawn (fn () =>\n"
    "  let val m = tcp_listen (\"127.0.0.1\", 0)\n"
    "      val _ = spawn (fn () => let val _ = spawn (fn () => tcp_accept m) in receive_message () end)\n"
    "      val _ = spawn (fn () => tcp_accept m)\n"
    "  in receive_message () end)\n"
    "val _ = sleep 5\n"
    "val _ = receive_message ()\n";

Test(qa15_api, children_cancelled_before_the_sockets_close, .timeout = 120) {
  for (int round = 0; round < 200; round++) {
    hiko_runtime_t *rt = new_rt(2);
    hiko_program_t *p = compile(rt, owner_ends_src);
    hiko_pid_t root;
    cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
    cr_assert_eq(hiko_start(rt), 0);
    /* root, 4 acceptors, mid, its acceptor, the middle one and its acceptor */
    hiko_stats_t s;
    for (int i = 0; i < 10000; i++) {
      cr_assert_eq(hiko_stats_get(rt, &s), 0);
      uint64_t created = s.processes;
      hiko_stats_clear(&s);
      if (created == 9) break;
      sleep_ms(1);
    }
    sleep_ms(round % 7);
    if (round % 2) {
      hiko_value_t *v;
      cr_assert_eq(hiko_value_unit(&v), 0);
      cr_assert_eq(hiko_send(rt, root, v), 0); /* the root ends: done */
      hiko_value_free(v);
      expect_end(rt, root, HIKO_DONE, NULL);
    } else {
      cr_assert_eq(hiko_shutdown(rt), 0); /* the root is cancelled */
      expect_end(rt, root, HIKO_FAILED, "cancelled");
    }
    cr_assert_eq(hiko_shutdown(rt), 0);
    cr_assert_eq(hiko_stats_get(rt, &s), 0);
    uint64_t failed = s.failed, cancelled = s.cancelled, processes = s.processes, done = s.done;
    hiko_stats_clear(&s);
    cr_assert_eq(processes, 9);
    cr_assert_eq(done, round % 2 ? 1 : 0);
    cr_assert_eq(failed, 0, "round %d: %llu failed", round, (unsigned long long)failed);
    cr_assert_eq(cancelled, round % 2 ? 8 : 9, "round %d: cancelled %llu", round, (unsigned long long)cancelled);
    teardown(rt, NULL, p, NULL);
  }
}
