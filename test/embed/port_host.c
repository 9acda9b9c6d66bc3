/* port_host.c — ports and hiko_send as an embedder uses them (SPEC §6.5,
** §6.9, §12.2-§12.3.2): processes sending to a port in per-sender order,
** four C threads sending to one process at once, three C threads each
** reading a port of its own at once, polls and timeouts,
** messages to a closed port dropped and counted, a port pid in the process
** builtins that take a child, and deadlock detection suspended while a
** port is open and resumed when the last one closes. */
#include <errno.h>

#include "host.h"

static hiko_runtime_t *rt;

static hiko_value_t *int_value(int64_t n) {
  hiko_value_t *v;
  CHECK_RC(hiko_value_int(n, &v), 0);
  return v;
}

/* Three children send (k, i) for i < 300 to the port; the host sees each
** child's messages in order, 900 in all, then the root's "done". */
static void from_processes(void) {
  hiko_port_t *port;
  CHECK_RC(hiko_port_open(rt, &port), 0);
  hiko_value_t *m = NULL;
  CHECK_RC(hiko_port_recv(port, &m, 0), -EAGAIN);
  CHECK_RC(hiko_port_recv(port, &m, 20), -ETIMEDOUT);
  CHECK(m == NULL);
  hiko_program_t *p = host_compile(rt, "senders.hml",
      "val port = receive_message () : Pid\n"
      "fun go k i = if i = 300 then () else\n"
      "  let val _ = send_message (port, (k, i)) in go k (i + 1) end\n"
      "val cs = [spawn (fn () => go 0 0), spawn (fn () => go 1 0), spawn (fn () => go 2 0)]\n"
      "fun join xs = case xs of [] => () | c :: r => let val _ = await_process c : Unit in join r end\n"
      "val _ = join cs\n"
      "val _ = send_message (port, \"done\")\n");
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p);
  CHECK(hiko_port_pid(port) != root && hiko_port_pid(port) != 0);
  host_send_pid(rt, root, hiko_port_pid(port));
  int64_t next[3] = {0, 0, 0};
  for (int n = 0; n < 900; n++) {
    CHECK_RC(hiko_port_recv(port, &m, 10000), 0);
    CHECK(hiko_value_kind(m) == HIKO_TUPLE && hiko_value_count(m) == 2);
    int64_t k = hiko_value_get_int(hiko_value_at(m, 0));
    int64_t i = hiko_value_get_int(hiko_value_at(m, 1));
    CHECK(k >= 0 && k < 3 && i == next[k]);
    next[k]++;
    hiko_value_free(m);
  }
  CHECK_RC(hiko_port_recv(port, &m, 10000), 0);
  size_t len;
  CHECK(hiko_value_kind(m) == HIKO_STRING);
  CHECK_STR(hiko_value_get_string(m, &len), "done");
  CHECK(len == 4);
  hiko_value_free(m);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_RC(hiko_port_recv(port, &m, 0), -EAGAIN);
  CHECK_RC(hiko_port_close(port), 0);
}

typedef struct sender {
  hiko_pid_t to;
  int id;
} sender_t;

static void *send_many(void *arg) {
  sender_t *s = arg;
  for (int i = 0; i < 500; i++) {
    hiko_value_t *items[2] = {int_value(s->id), int_value(i)}, *t;
    CHECK_RC(hiko_value_tuple(items, 2, &t), 0);
    CHECK_RC(hiko_send(rt, s->to, t), 0);
    hiko_value_free(t);
  }
  return NULL;
}

/* Four host threads send (t, i) to one process at once; it checks the
** per-sender order (SPEC §6.5.4) and reports the count to the port. */
static void from_threads(void) {
  hiko_port_t *port;
  CHECK_RC(hiko_port_open(rt, &port), 0);
  hiko_program_t *p = host_compile(rt, "collector.hml",
      "val port = receive_message () : Pid\n"
      "fun get (a, b, c, d) n =\n"
      "  if n = 2000 then send_message (port, (a, b, c, d)) else\n"
      "  let val (t, i) = receive_message () : Int * Int\n"
      "      val want = case t of 0 => a | 1 => b | 2 => c | _ => d\n"
      "      val _ = assert (i = want, \"order of sender \" ^ int_to_string t)\n"
      "  in case t of 0 => get (a + 1, b, c, d) (n + 1) | 1 => get (a, b + 1, c, d) (n + 1)\n"
      "     | 2 => get (a, b, c + 1, d) (n + 1) | _ => get (a, b, c, d + 1) (n + 1) end\n"
      "val _ = get (0, 0, 0, 0) 0\n");
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p);
  host_send_pid(rt, root, hiko_port_pid(port));
  pthread_t th[4];
  sender_t s[4];
  for (int t = 0; t < 4; t++) {
    s[t] = (sender_t){root, t};
    CHECK(pthread_create(&th[t], NULL, send_many, &s[t]) == 0);
  }
  for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
  hiko_value_t *m;
  CHECK_RC(hiko_port_recv(port, &m, 20000), 0);
  char *text = host_show(m);
  CHECK_STR(text, "(500, 500, 500, 500)");
  hiko_free(text);
  hiko_value_free(m);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_RC(hiko_port_close(port), 0);
}

typedef struct reader {
  hiko_port_t *port;
  int id, got, bad;
} reader_t;

static void *read_port(void *arg) {
  reader_t *r = arg;
  for (int i = 0; i < 400; i++) {
    hiko_value_t *m;
    if (hiko_port_recv(r->port, &m, 20000) != 0) {
      r->bad++;
      return NULL;
    }
    if (hiko_value_get_int(m) != r->id * 1000 + i) r->bad++;
    r->got++;
    hiko_value_free(m);
  }
  return NULL;
}

/* Three host threads each wait on a port of their own while the program
** sends 400 messages to each, interleaved: each thread sees its own in
** order (a port is read by one thread at a time; several ports, several
** threads). */
static void readers_on_threads(void) {
  reader_t r[3];
  pthread_t th[3];
  for (int k = 0; k < 3; k++) {
    r[k] = (reader_t){NULL, k, 0, 0};
    CHECK_RC(hiko_port_open(rt, &r[k].port), 0);
    CHECK(pthread_create(&th[k], NULL, read_port, &r[k]) == 0);
  }
  hiko_program_t *p = host_compile(rt, "fanout.hml",
      "val ports = receive_message () : Pid * Pid * Pid\n"
      "fun go i = if i = 400 then () else\n"
      "  let val (a, b, c) = ports\n"
      "      val _ = send_message (a, i) val _ = send_message (b, 1000 + i)\n"
      "      val _ = send_message (c, 2000 + i)\n"
      "  in go (i + 1) end\n"
      "val _ = go 0\n");
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p);
  hiko_value_t *items[3], *t;
  for (int k = 0; k < 3; k++) CHECK_RC(hiko_value_pid(hiko_port_pid(r[k].port), &items[k]), 0);
  CHECK_RC(hiko_value_tuple(items, 3, &t), 0);
  CHECK_RC(hiko_send(rt, root, t), 0);
  hiko_value_free(t);
  for (int k = 0; k < 3; k++) {
    pthread_join(th[k], NULL);
    CHECK(r[k].got == 400 && r[k].bad == 0);
    CHECK_RC(hiko_port_close(r[k].port), 0);
  }
  host_expect(rt, root, HIKO_DONE, NULL);
}

/* A port is a pid but not a process: the builtins that need a child say
** it is not the caller's child; a socket given to it is closed (as for a
** pid that is not a process, SPEC §7.4.1); sends to a closed port are
** dropped and counted (§10.9). */
static void port_pid_misuse(void) {
  hiko_port_t *port;
  CHECK_RC(hiko_port_open(rt, &port), 0);
  hiko_pid_t pp = hiko_port_pid(port);
  hiko_program_t *p = host_compile(rt, "misuse.hml",
      "val port = receive_message () : Pid\n"
      "fun show_err f = case await_result (spawn f) of Ok _ => \"ok\" | Err e => (case e of\n"
      "    RuntimeError m => m | _ => \"other\")\n"
      "val e1 = show_err (fn () => await_process port : Int)\n"
      "val e2 = show_err (fn () => cancel port)\n"
      "val e3 = show_err (fn () => wait_any [port])\n"
      "val l = tcp_listen (\"127.0.0.1\", 0)\n"
      "val _ = socket_give (l, port)\n"
      "val e4 = show_err (fn () => socket_port l)\n"
      "val _ = send_message (port, [e1, e2, e3, e4])\n");
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p);
  host_send_pid(rt, root, pp);
  hiko_value_t *m;
  CHECK_RC(hiko_port_recv(port, &m, 10000), 0);
  CHECK(hiko_value_kind(m) == HIKO_LIST && hiko_value_count(m) == 4);
  char want[256];
  const char *names[3] = {"await_process", "cancel", "wait_any"};
  for (int i = 0; i < 3; i++) {
    /* The caller is the child spawned for the check: <pid root+1+i>. */
    snprintf(want, sizeof want, "%s: <pid %llu> is not a child of <pid %llu>", names[i],
             (unsigned long long)pp, (unsigned long long)(root + 1 + (hiko_pid_t)i));
    CHECK_STR(hiko_value_get_string(hiko_value_at(m, (size_t)i), NULL), want);
  }
  CHECK_STR(hiko_value_get_string(hiko_value_at(m, 3), NULL), "socket_port: socket is closed");
  hiko_value_free(m);
  host_expect(rt, root, HIKO_DONE, NULL);

  hiko_stats_t st;
  CHECK_RC(hiko_stats_get(rt, &st), 0);
  uint64_t dropped = st.total.dropped;
  hiko_stats_clear(&st);
  CHECK_RC(hiko_port_close(port), 0);
  host_send_int(rt, pp, 1);
  host_send_int(rt, pp, 2);
  CHECK_RC(hiko_stats_get(rt, &st), 0);
  CHECK(st.total.dropped == dropped + 2);
  hiko_stats_clear(&st);
}

/* With detection on, a root blocked in receive does not fail while a port
** is open (the host may still send), and does once the last port closes. */
static void deadlock_and_ports(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.detect_deadlock = true;
  hiko_runtime_t *r2;
  CHECK_RC(hiko_runtime_create(&r2, &cfg), 0);
  hiko_port_t *a, *b;
  CHECK_RC(hiko_port_open(r2, &a), 0);
  CHECK_RC(hiko_port_open(r2, &b), 0);
  hiko_program_t *p = host_compile(r2, "block.hml", "val _ = receive_message () : Int\n");
  hiko_pid_t root;
  CHECK_RC(hiko_start(r2), 0);
  CHECK_RC(hiko_spawn_main(r2, p, &root), 0);
  hiko_program_release(p);
  hiko_result_t res;
  CHECK_RC(hiko_join(r2, root, &res, 300), -ETIMEDOUT);
  CHECK_RC(hiko_port_close(a), 0);
  CHECK_RC(hiko_join(r2, root, &res, 300), -ETIMEDOUT);
  CHECK_RC(hiko_port_close(b), 0);
  CHECK_RC(hiko_join(r2, root, &res, 5000), 0);
  CHECK(res.status == HIKO_FAILED);
  CHECK_STR(res.message, "deadlock: process blocked with no possible waker");
  hiko_result_clear(&res);
  CHECK_RC(hiko_runtime_destroy(r2), 0);
}

int main(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), 0);
  CHECK_RC(hiko_start(rt), 0);
  from_processes();
  from_threads();
  readers_on_threads();
  port_pid_misuse();
  CHECK_RC(hiko_runtime_destroy(rt), 0);
  deadlock_and_ports();
  puts("port_host: ok");
  return 0;
}
