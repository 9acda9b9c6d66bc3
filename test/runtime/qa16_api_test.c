/* qa16_api_test.c — the embedding API from a multi-threaded host (SPEC §12):
** host threads that each talk to a hiko service through their own port
** while the runtime runs, natives that call the API functions §12.3.5
** allows (value functions, hiko_send, hiko_call_fail) and one it does not
** (hiko_runtime_destroy on a runtime thread: -EBUSY, §12.2), `exit` ending
** every root (§12.3.4), statistics read while the service runs (§10.9), and
** several such runtimes one after another in one process (leaks show under
** ASan). Suite unit (runtime_qa16_api). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hiko.h"
#include "api_check.h"
#include "api_out.h"

/* A service: the root learns the number of requests to expect, spawns a
** pool of workers and hands each request (n, reply pid, sequence number)
** to the next worker in turn; a worker answers (sequence, n * n) to the
** reply pid. When all requests are answered the root collects the workers'
** counts and ends with their sum. */
static const char *service_src =
    "use \"stdlib/list.hml\"\n"
    "val total : Int = receive_message ()\n"
    "fun worker k =\n"
    "  case receive_message () of\n"
    "    (0, _, _) => k\n"
    "  | (n, reply, seq) =>\n"
    "      let val _ = send_message (reply : Pid, (seq : Int, n * n)) in worker (k + 1) end\n"
    "val pool = map (fn _ => spawn (fn () => worker 0)) [1, 2, 3, 4, 5]\n"
    "fun dispatch (i, ws) =\n"
    "  if i = total then ()\n"
    "  else case ws of\n"
    "      [] => dispatch (i, pool)\n"
    "    | w :: rest =>\n"
    "        let val _ = send_message (w, receive_message () : Int * Pid * Int)\n"
    "        in dispatch (i + 1, rest) end\n"
    "val _ = dispatch (0, pool)\n"
    "val _ = map (fn w => send_message (w, (0, self (), 0))) pool\n"
    "val served = foldl (fn (s, w) => s + await_process w) 0 pool\n"
    "val _ = served\n";

#define HOSTS 4
#define PER_HOST 1500

typedef struct host_arg {
  hiko_runtime_t *rt;
  hiko_pid_t root;
  int index;
  int bad; /* replies that were wrong or out of order */
} host_arg_t;

static hiko_value_t *request(int64_t n, hiko_pid_t reply, int64_t seq) {
  hiko_value_t *items[3], *t;
  cr_assert_eq(hiko_value_int(n, &items[0]), 0);
  cr_assert_eq(hiko_value_pid(reply, &items[1]), 0);
  cr_assert_eq(hiko_value_int(seq, &items[2]), 0);
  cr_assert_eq(hiko_value_tuple(items, 3, &t), 0);
  return t;
}

/* One host thread: opens its own port and sends its requests in bursts of
** 10, then reads the 10 answers. Several workers answer a burst, so answers
** may come in any order within it; each must be there exactly once. */
static void *host_thread(void *p) {
  host_arg_t *a = p;
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(a->rt, &port), 0);
  hiko_pid_t me = hiko_port_pid(port);
  for (int burst = 0; burst < PER_HOST / 10; burst++) {
    for (int j = 0; j < 10; j++) {
      int64_t seq = burst * 10 + j, n = a->index * 100000 + seq;
      hiko_value_t *v = request(n, me, seq);
      cr_assert_eq(hiko_send(a->rt, a->root, v), 0);
      hiko_value_free(v);
    }
    unsigned seen = 0;
    for (int j = 0; j < 10; j++) {
      hiko_value_t *r;
      cr_assert_eq(hiko_port_recv(port, &r, 20000), 0);
      cr_assert_eq(hiko_value_kind(r), HIKO_TUPLE);
      int64_t seq = hiko_value_get_int(hiko_value_at(r, 0));
      int64_t sq = hiko_value_get_int(hiko_value_at(r, 1));
      int64_t n = a->index * 100000 + seq;
      if (seq < burst * 10 || seq >= burst * 10 + 10 || (seen >> (seq - burst * 10)) & 1 ||
          sq != n * n)
        a->bad++;
      else
        seen |= 1u << (seq - burst * 10);
      hiko_value_free(r);
    }
  }
  hiko_value_t *extra;
  cr_assert_eq(hiko_port_recv(port, &extra, 0), -EAGAIN);
  cr_assert_eq(hiko_port_close(port), 0);
  return NULL;
}

/* Reads the statistics while the service runs: every snapshot's totals
** are the sums of its per-worker counters (§10.9), and counts never go
** down from one snapshot to the next. */
typedef struct stats_arg {
  hiko_runtime_t *rt;
  atomic_bool stop;
  int snapshots, bad;
} stats_arg_t;

static void *stats_thread(void *p) {
  stats_arg_t *a = p;
  uint64_t last_sent = 0, last_received = 0;
  while (!atomic_load(&a->stop)) {
    hiko_stats_t s;
    cr_assert_eq(hiko_stats_get(a->rt, &s), 0);
    uint64_t sent = 0, received = 0;
    for (unsigned w = 0; w < s.workers; w++) {
      sent += s.per_worker[w].sent;
      received += s.per_worker[w].received;
    }
    /* The total also counts the host's own traffic (hiko_send, ports), so
    ** it is at least the workers' sum. */
    if (sent > s.total.sent || received > s.total.received || s.total.sent < last_sent ||
        s.total.received < last_received)
      a->bad++;
    last_sent = s.total.sent;
    last_received = s.total.received;
    a->snapshots++;
    hiko_stats_clear(&s);
  }
  return NULL;
}

static void run_service_once(unsigned workers) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = workers;
  hiko_runtime_t *rt = create_rt(&cfg);
  hiko_program_t *p = compile(rt, service_src);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  hiko_value_t *v;
  cr_assert_eq(hiko_value_int(HOSTS * PER_HOST, &v), 0);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  hiko_value_free(v);
  cr_assert_eq(hiko_start(rt), 0);

  pthread_t th[HOSTS], st;
  host_arg_t args[HOSTS];
  stats_arg_t sa = {.rt = rt};
  cr_assert_eq(pthread_create(&st, NULL, stats_thread, &sa), 0);
  for (int i = 0; i < HOSTS; i++) {
    args[i] = (host_arg_t){.rt = rt, .root = root, .index = i + 1};
    cr_assert_eq(pthread_create(&th[i], NULL, host_thread, &args[i]), 0);
  }
  for (int i = 0; i < HOSTS; i++) {
    cr_assert_eq(pthread_join(th[i], NULL), 0);
    cr_expect_eq(args[i].bad, 0, "host %d: %d wrong answers", i, args[i].bad);
  }
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, root, &r, 20000), 0);
  cr_assert_eq(r.status, HIKO_DONE, "root: %s", r.message ? r.message : "");
  hiko_result_clear(&r);
  atomic_store(&sa.stop, true);
  cr_assert_eq(pthread_join(st, NULL), 0);
  cr_expect_eq(sa.bad, 0, "%d inconsistent snapshots of %d", sa.bad, sa.snapshots);

  /* Messages: HOSTS*PER_HOST requests to the root from C, as many
  ** forwarded to workers and answered to the ports, 1 count from C, 5 stop
  ** messages. Every one of them is sent once and received once (the ports'
  ** by C), so sent = received = 3n + 6. Before the fix a process's message
  ** to a port was neither sent nor received: 12006 of 18006. */
  hiko_stats_t s;
  cr_assert_eq(hiko_stats_get(rt, &s), 0);
  uint64_t n = HOSTS * PER_HOST;
  cr_expect_eq(s.total.received, 3 * n + 6, "received %llu",
               (unsigned long long)s.total.received);
  cr_expect_eq(s.total.sent, 3 * n + 6, "sent %llu", (unsigned long long)s.total.sent);
  cr_expect_eq(s.total.dropped, 0);
  cr_expect_eq(s.processes, 6);
  cr_expect_eq(s.done, 6);
  cr_expect_eq(s.failed + s.cancelled, 0);
  cr_expect_eq(s.total.spawns, 5);
  hiko_stats_clear(&s);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

Test(qa16_api, host_threads_talk_through_ports_in_runtimes_one_after_another,
     .timeout = 120) {
  unsigned workers[] = {1, 2, 4};
  for (int i = 0; i < 3; i++) run_service_once(workers[i]);
}

/* ---- natives that use the API ---------------------------------------- */

typedef struct native_state {
  hiko_runtime_t *rt;
  hiko_pid_t root;   /* for join_from_native */
  hiko_port_t *port; /* for port_recv_from_native: open and empty */
} native_state_t;

/* relay (pid, k): sends 1..k to pid with hiko_send, from the worker or a
** helper thread, and returns k. */
static int relay(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  native_state_t *st = ud;
  hiko_pid_t to = (hiko_pid_t)hiko_value_get_pid(hiko_value_at(arg, 0));
  int64_t k = hiko_value_get_int(hiko_value_at(arg, 1));
  if (k < 0) return hiko_call_fail(call, "negative count");
  for (int64_t i = 1; i <= k; i++) {
    hiko_value_t *v;
    int rc = hiko_value_int(i, &v);
    if (rc) return rc;
    rc = hiko_send(st->rt, to, v);
    hiko_value_free(v);
    if (rc) return rc;
  }
  return hiko_value_int(k, result);
}

/* errno_of n: fails its caller with -n (so "NAME: STRERROR"). */
static int errno_of(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result,
                    void *ud) {
  (void)call;
  (void)result;
  (void)ud;
  return -(int)hiko_value_get_int(arg);
}

static const char *natives_src =
    "use \"stdlib/list.hml\"\n"
    "fun drain (0, acc) = acc\n"
    "  | drain (k, acc) = drain (k - 1, acc + receive_message ())\n"
    "val a = relay (self (), 100)\n"
    "val b = relay_blocking (self (), 50)\n"
    "val sum = drain (a + b, 0)\n"
    "val _ = println (a, b, sum)\n"
    "(* from children, into another child *)\n"
    "val sink = spawn (fn () => drain (300, 0))\n"
    "val senders = map (fn k => spawn (fn () => relay_blocking (sink, 100))) [1, 2, 3]\n"
    "val _ = println (map await_process senders, await_process sink)\n"
    "val _ = println (await_result (spawn (fn () => relay (self (), ~1))))\n"
    "val _ = println (await_result (spawn (fn () => relay_blocking (self (), ~1))))\n"
    "val _ = println (await_result (spawn (fn () => errno_of 2)))\n"
    "val _ = println (await_result (spawn (fn () => errno_of_blocking 13)))\n"
    "(* a relay to an ended process is dropped *)\n"
    "val gone = spawn (fn () => 0)\n"
    "val _ = await_process gone\n"
    "val _ = println (relay (gone, 3))\n";

Test(qa16_api, natives_call_the_functions_the_spec_allows, .timeout = 60) {
  unsigned workers[] = {1, 3};
  for (int i = 0; i < 2; i++) {
    hiko_config_t cfg;
    out_config(&cfg, workers[i]);
    hiko_runtime_t *rt = create_rt(&cfg);
    native_state_t st = {.rt = rt};
    cr_assert_eq(hiko_register_builtin(rt, "relay", "Pid * Int -> Int", relay, &st, 0), 0);
    cr_assert_eq(hiko_register_builtin(rt, "relay_blocking", "Pid * Int -> Int", relay, &st,
                                       HIKO_NATIVE_BLOCKING), 0);
    cr_assert_eq(hiko_register_builtin(rt, "errno_of", "Int -> Unit", errno_of, NULL, 0), 0);
    cr_assert_eq(hiko_register_builtin(rt, "errno_of_blocking", "Int -> Unit", errno_of, NULL,
                                       HIKO_NATIVE_BLOCKING), 0);
    hiko_program_t *p = compile(rt, natives_src);
    hiko_pid_t root;
    cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
    cr_assert_eq(hiko_run(rt), 0);
    expect_end(rt, root, HIKO_DONE, NULL);
    /* 1+..+100 + 1+..+50 = 5050 + 1275; the sink gets 3 x 5050. */
    cr_expect_str_eq(out.data,
                     "(100, 50, 6325)\n"
                     "([100, 100, 100], 15150)\n"
                     "Err (RuntimeError relay: negative count)\n"
                     "Err (RuntimeError relay_blocking: negative count)\n"
                     "Err (RuntimeError errno_of: No such file or directory)\n"
                     "Err (RuntimeError errno_of_blocking: Permission denied)\n"
                     "3\n");
    hiko_stats_t s;
    cr_assert_eq(hiko_stats_get(rt, &s), 0);
    cr_expect_eq(s.total.dropped, 3, "dropped %llu", (unsigned long long)s.total.dropped);
    hiko_stats_clear(&s);
    cr_assert_eq(hiko_runtime_destroy(rt), 0);
    hiko_program_release(p);
  }
}

/* hiko_runtime_destroy, hiko_shutdown and hiko_run from inside a native
** builtin, on the worker or on a helper thread: each is a runtime thread,
** so each call is refused with -EBUSY (SPEC §12.2) and the program goes on.
** Before the fix a helper thread was not recognised: destroy from a
** blocking native cancelled the root and freed the runtime under it. */
static int api_from_native(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result,
                           void *ud) {
  (void)call;
  native_state_t *st = ud;
  int rc;
  switch (hiko_value_get_int(arg)) {
  case 0: rc = hiko_runtime_destroy(st->rt); break;
  case 1: rc = hiko_shutdown(st->rt); break;
  default: rc = hiko_run(st->rt); break;
  }
  return hiko_value_int(rc, result);
}

/* Runs [src] on 2 workers with [fn] registered as `api` (on the worker)
** and `api_blocking` (on a helper thread), as a root whose pid goes to
** st->root before it starts; its output must be [want]. */
static void run_api_natives(hiko_native_fn fn, const char *src, const char *want) {
  hiko_config_t cfg;
  out_config(&cfg, 2);
  hiko_runtime_t *rt = create_rt(&cfg);
  native_state_t st = {.rt = rt};
  cr_assert_eq(hiko_port_open(rt, &st.port), 0);
  cr_assert_eq(hiko_register_builtin(rt, "api", "Int -> Int", fn, &st, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "api_blocking", "Int -> Int", fn, &st,
                                     HIKO_NATIVE_BLOCKING), 0);
  hiko_program_t *p = compile(rt, src);
  cr_assert_eq(hiko_spawn_main(rt, p, &st.root), 0);
  cr_assert_eq(hiko_run(rt), 0);
  expect_end(rt, st.root, HIKO_DONE, NULL);
  cr_expect_str_eq(out.data, want);
  cr_assert_eq(hiko_port_close(st.port), 0);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

Test(qa16_api, destroy_shutdown_run_from_a_native_are_refused, .timeout = 60) {
  char want[256];
  snprintf(want, sizeof want, "[%d, %d, %d]\n[%d, %d, %d]\nstill running\n", -EBUSY, -EBUSY,
           -EBUSY, -EBUSY, -EBUSY, -EBUSY);
  run_api_natives(api_from_native,
                  "val _ = println [api 0, api 1, api 2]\n"
                  "val _ = println [api_blocking 0, api_blocking 1, api_blocking 2]\n"
                  "val _ = println \"still running\"\n",
                  want);
}

/* hiko_join from inside a native builtin, of the caller's own root and
** with no timeout (-1) or a short one: refused with -EBUSY like the calls
** above (SPEC §12.3.5 allows no other API call there; §12.2's -EBUSY on a
** runtime thread). Before, nothing checked the thread: the join of its own
** root waited for the root to end, which waited for the native, forever
** (the timed joins returned -ETIMEDOUT after stalling the worker). */
static int join_from_native(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result,
                            void *ud) {
  (void)call;
  native_state_t *st = ud;
  hiko_result_t res;
  int rc = hiko_join(st->rt, st->root, &res, (int)hiko_value_get_int(arg));
  if (rc == 0) hiko_result_clear(&res);
  return hiko_value_int(rc, result);
}

Test(qa16_api, join_from_a_native_is_refused, .timeout = 30) {
  char want[256];
  snprintf(want, sizeof want, "[%d, %d, %d]\n[%d, %d]\nstill running\n", -EBUSY, -EBUSY,
           -EBUSY, -EBUSY, -EBUSY);
  run_api_natives(join_from_native,
                  "val _ = println [api 0, api 50, api_blocking 50]\n"
                  "val _ = println [api (~1), api_blocking (~1)]\n"
                  "val _ = println \"still running\"\n",
                  want);
}

/* hiko_port_recv from inside a native builtin (SPEC §12.3.5 allows no API
** call there but value functions, hiko_send and hiko_call_fail): refused
** with -EBUSY, polls included, on the worker and on a helper. Before, the
** wait on the (empty) port blocked the native's thread: -1 forever (on the
** worker, with --workers 1 and the sender a process, nothing could ever
** send), a timed wait stalled the worker. */
static int port_recv_from_native(hiko_call_t *call, const hiko_value_t *arg,
                                 hiko_value_t **result, void *ud) {
  (void)call;
  native_state_t *st = ud;
  hiko_value_t *v = NULL;
  int rc = hiko_port_recv(st->port, &v, (int)hiko_value_get_int(arg));
  if (rc == 0) hiko_value_free(v);
  return hiko_value_int(rc, result);
}

Test(qa16_api, port_recv_from_a_native_is_refused, .timeout = 30) {
  char want[256];
  snprintf(want, sizeof want, "[%d, %d, %d]\n[%d, %d]\nstill running\n", -EBUSY, -EBUSY,
           -EBUSY, -EBUSY, -EBUSY);
  run_api_natives(port_recv_from_native,
                  "val _ = println [api 0, api 50, api_blocking 0]\n"
                  "val _ = println [api (~1), api_blocking (~1)]\n"
                  "val _ = println \"still running\"\n",
                  want);
}

/* Messages to and from a port are counted as a mailbox's (SPEC §10.9,
** §6.5.1, §6.5.5): sent when queued, received when the host takes them,
** dropped when still queued at hiko_port_close or sent after it. */
Test(qa16_api, port_messages_are_counted, .timeout = 60) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  hiko_runtime_t *rt = create_rt(&cfg);
  hiko_program_t *p = compile(rt, "val port : Pid = receive_message ()\n"
                                  "fun burst (i, n) = if i > n then ()\n"
                                  "  else let val _ = send_message (port, i) in burst (i + 1, n) end\n"
                                  "val _ = burst (1, 5)\n"
                                  "val go : String = receive_message ()\n"
                                  "val _ = burst (6, 9)\n");
  hiko_port_t *port;
  hiko_pid_t root;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_pid_t port_pid = hiko_port_pid(port);
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  hiko_value_t *v;
  cr_assert_eq(hiko_value_pid(port_pid, &v), 0);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  hiko_value_free(v);
  cr_assert_eq(hiko_start(rt), 0);
  for (int i = 1; i <= 2; i++) {
    cr_assert_eq(hiko_port_recv(port, &v, 10000), 0);
    cr_expect_eq(hiko_value_get_int(v), i);
    hiko_value_free(v);
  }
  /* 3..5 are queued (or on their way: wait for all 5 to be counted sent) */
  hiko_stats_t s;
  for (int k = 0; k < 1000; k++) {
    cr_assert_eq(hiko_stats_get(rt, &s), 0);
    uint64_t sent = s.total.sent;
    hiko_stats_clear(&s);
    if (sent == 6) break;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  cr_assert_eq(hiko_port_close(port), 0);
  cr_assert_eq(hiko_value_string("go", 2, &v), 0);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  cr_assert_eq(hiko_send(rt, port_pid, v), 0); /* closed: dropped */
  hiko_value_free(v);
  expect_end(rt, root, HIKO_DONE, NULL);
  cr_assert_eq(hiko_stats_get(rt, &s), 0);
  /* sent: 5 to the port, the port's pid and "go" to the root; received:
  ** 2 by the host, 2 by the root; dropped: 3 left in the port, 4 sent by
  ** the root after the close, 1 by the host. */
  cr_expect_eq(s.total.sent, 7, "sent %llu", (unsigned long long)s.total.sent);
  cr_expect_eq(s.total.received, 4, "received %llu", (unsigned long long)s.total.received);
  cr_expect_eq(s.total.dropped, 8, "dropped %llu", (unsigned long long)s.total.dropped);
  hiko_stats_clear(&s);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

/* ---- exit ends every root --------------------------------------------- */

Test(qa16_api, exit_ends_every_root, .timeout = 60) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.allow_exit = true;
  hiko_runtime_t *rt = create_rt(&cfg);
  hiko_program_t *waiter = compile(rt, "val _ = spawn (fn () => sleep 600000)\n"
                                       "val x : Int = receive_message ()\n");
  hiko_program_t *quitter = compile(rt, "val _ = sleep 20\n"
                                        "val _ = spawn (fn () => exit 300)\n"
                                        "val _ = receive_message ()\n");
  hiko_pid_t r1, r2, r3;
  cr_assert_eq(hiko_spawn_main(rt, waiter, &r1), 0);
  cr_assert_eq(hiko_spawn_main(rt, quitter, &r2), 0);
  cr_assert_eq(hiko_spawn_main(rt, waiter, &r3), 0);
  cr_assert_eq(hiko_start(rt), 0);
  hiko_pid_t roots[] = {r1, r2, r3};
  for (int i = 0; i < 3; i++) {
    hiko_result_t r;
    cr_assert_eq(hiko_join(rt, roots[i], &r, 10000), 0, "root %d", i);
    cr_expect_eq(r.status, HIKO_EXITED, "root %d: status %d", i, r.status);
    cr_expect_eq(r.exit_code, 300, "root %d: exit code %d", i, r.exit_code);
    hiko_result_clear(&r);
  }
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(waiter);
  hiko_program_release(quitter);
}
