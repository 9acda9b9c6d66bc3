/* callback_host.c — natives that call back into the runtime, in two runtimes
** at once, and a port fed by many C threads (SPEC §12.2, §12.3.2, §12.3.5,
** §6.5.4, §10.9):
** - each runtime registers the same names with its own user data: `tally`
**   adds to that runtime's total only; `notify (p, n)` sends n to p with
**   hiko_send from inside the native (allowed, §12.3.5); the blocking
**   `relay (p, n)` sends 0..n-1 to p from its helper thread, in order (one
**   sender, §6.5.4), before the caller resumes;
** - both runtimes run the same program text at once (started, then joined),
**   each printing through its own callback;
** - eight C threads send 2,000 messages each to one port while three
**   processes send 500 each: the reader gets all 17,500, each sender's in
**   order; then 30 messages to the closed port are dropped, and the
**   statistics count exactly: 4 processes done, 30 dropped. */
#include <errno.h>

#include "host.h"

typedef struct rt_state {
  hiko_runtime_t *rt;
  int64_t total; /* tally's sum: only this runtime's calls */
  pthread_mutex_t lock;
} rt_state_t;

static int tally(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  rt_state_t *s = ud;
  pthread_mutex_lock(&s->lock);
  s->total += hiko_value_get_int(arg);
  int64_t now = s->total;
  pthread_mutex_unlock(&s->lock);
  return hiko_value_int(now, result);
}

/* (p, n): sends n to p from inside the native */
static int notify(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  rt_state_t *s = ud;
  hiko_pid_t to = hiko_value_get_pid(hiko_value_at(arg, 0));
  int rc = hiko_send(s->rt, to, hiko_value_at(arg, 1));
  if (rc) return hiko_call_fail(call, "send failed");
  return hiko_value_unit(result);
}

/* (p, n): sends 0 .. n-1 to p from a helper thread */
static int relay(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  rt_state_t *s = ud;
  hiko_pid_t to = hiko_value_get_pid(hiko_value_at(arg, 0));
  int64_t n = hiko_value_get_int(hiko_value_at(arg, 1));
  for (int64_t i = 0; i < n; i++) {
    hiko_value_t *v;
    int rc = hiko_value_int(i, &v);
    if (rc) return rc;
    rc = hiko_send(s->rt, to, v);
    hiko_value_free(v);
    if (rc) return hiko_call_fail(call, "send failed");
  }
  return hiko_value_unit(result);
}

static const char prog_src[] =
    "fun recv_in_order (i, n) = if i = n then true\n"
    "  else let val k : Int = receive_message () in k = i andalso recv_in_order (i + 1, n) end\n"
    "fun child k () =\n"
    "  let val _ = notify (self (), k * 10)\n"
    "      val got : Int = receive_message ()\n"
    "      val _ = relay (self (), 300)\n"
    "      val ordered = recv_in_order (0, 300)\n"
    "      val _ = tally got\n"
    "  in (got, ordered) end\n"
    "val seed : Int = receive_message ()\n"
    "val cs = [spawn (child seed), spawn (child (seed + 1)), spawn (child (seed + 2))]\n"
    "fun all [] = [] | all (c :: r) = (await_process c : Int * Bool) :: all r\n"
    "val results = all cs\n"
    "val _ = println results\n";

static void two_runtimes(void) {
  rt_state_t st[2];
  host_out_t out[2];
  hiko_pid_t roots[2];
  for (int i = 0; i < 2; i++) {
    hiko_config_t cfg;
    hiko_config_init(&cfg);
    cfg.workers = 2;
    host_out_init(&out[i]);
    cfg.out = host_out_write;
    cfg.io_ud = &out[i];
    st[i].total = 0;
    pthread_mutex_init(&st[i].lock, NULL);
    CHECK_RC(hiko_runtime_create(&st[i].rt, &cfg), 0);
    CHECK_RC(hiko_register_builtin(st[i].rt, "tally", "Int -> Int", tally, &st[i], 0), 0);
    CHECK_RC(hiko_register_builtin(st[i].rt, "notify", "Pid * Int -> Unit", notify, &st[i], 0), 0);
    CHECK_RC(hiko_register_builtin(st[i].rt, "relay", "Pid * Int -> Unit", relay, &st[i],
                                   HIKO_NATIVE_BLOCKING), 0);
    hiko_program_t *p = host_compile(st[i].rt, "callbacks.hml", prog_src);
    CHECK_RC(hiko_spawn_main(st[i].rt, p, &roots[i]), 0);
    hiko_program_release(p);
    host_send_int(st[i].rt, roots[i], i == 0 ? 1 : 100);
  }
  CHECK_RC(hiko_start(st[0].rt), 0);
  CHECK_RC(hiko_start(st[1].rt), 0);
  host_expect(st[0].rt, roots[0], HIKO_DONE, NULL);
  host_expect(st[1].rt, roots[1], HIKO_DONE, NULL);
  /* runtime 0: children 1, 2, 3 get 10, 20, 30; runtime 1: 1000, 1010, 1020 */
  CHECK_STR(out[0].buf, "[(10, true), (20, true), (30, true)]\n");
  CHECK_STR(out[1].buf, "[(1000, true), (1010, true), (1020, true)]\n");
  CHECK(st[0].total == 60);
  CHECK(st[1].total == 3030);
  for (int i = 0; i < 2; i++) {
    CHECK_RC(hiko_runtime_destroy(st[i].rt), 0);
    pthread_mutex_destroy(&st[i].lock);
    pthread_mutex_destroy(&out[i].lock);
  }
}

/* Eight C threads and three processes into one port. */
enum { NTHREADS = 8, PER_THREAD = 2000, NPROCS = 3, PER_PROC = 500 };

typedef struct feeder {
  hiko_runtime_t *rt;
  hiko_pid_t to;
  int id;
} feeder_t;

static void *feed(void *arg) {
  feeder_t *f = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    hiko_value_t *k, *n, *pair;
    CHECK_RC(hiko_value_int(f->id, &k), 0);
    CHECK_RC(hiko_value_int(i, &n), 0);
    CHECK_RC(hiko_value_tuple((hiko_value_t *[]){k, n}, 2, &pair), 0);
    CHECK_RC(hiko_send(f->rt, f->to, pair), 0);
    hiko_value_free(pair);
  }
  return NULL;
}

static void port_fanin(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  hiko_runtime_t *rt;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), 0);
  hiko_port_t *port;
  CHECK_RC(hiko_port_open(rt, &port), 0);
  hiko_program_t *p = host_compile(rt, "senders.hml",
      "val port = receive_message () : Pid\n"
      "fun go (k, i) = if i = 500 then () else\n"
      "  let val _ = send_message (port, (k, i)) in go (k, i + 1) end\n"
      "val cs = [spawn (fn () => go (100, 0)), spawn (fn () => go (101, 0)),\n"
      "          spawn (fn () => go (102, 0))]\n"
      "fun join [] = () | join (c :: r) = let val _ = await_process c : Unit in join r end\n"
      "val _ = join cs\n");
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p);
  host_send_pid(rt, root, hiko_port_pid(port));
  CHECK_RC(hiko_start(rt), 0);
  pthread_t th[NTHREADS];
  feeder_t fs[NTHREADS];
  for (int t = 0; t < NTHREADS; t++) {
    fs[t] = (feeder_t){rt, hiko_port_pid(port), t};
    CHECK(pthread_create(&th[t], NULL, feed, &fs[t]) == 0);
  }
  int64_t next_c[NTHREADS] = {0}, next_p[NPROCS] = {0};
  for (int n = 0; n < NTHREADS * PER_THREAD + NPROCS * PER_PROC; n++) {
    hiko_value_t *m;
    CHECK_RC(hiko_port_recv(port, &m, 20000), 0);
    CHECK(hiko_value_kind(m) == HIKO_TUPLE && hiko_value_count(m) == 2);
    int64_t k = hiko_value_get_int(hiko_value_at(m, 0));
    int64_t i = hiko_value_get_int(hiko_value_at(m, 1));
    if (k >= 0 && k < NTHREADS) {
      CHECK(i == next_c[k]);
      next_c[k]++;
    } else {
      CHECK(k >= 100 && k < 100 + NPROCS && i == next_p[k - 100]);
      next_p[k - 100]++;
    }
    hiko_value_free(m);
  }
  for (int t = 0; t < NTHREADS; t++) CHECK(pthread_join(th[t], NULL) == 0);
  hiko_value_t *m = NULL;
  CHECK_RC(hiko_port_recv(port, &m, 0), -EAGAIN);
  host_expect(rt, root, HIKO_DONE, NULL);
  hiko_stats_t before, after;
  CHECK_RC(hiko_stats_get(rt, &before), 0);
  hiko_pid_t pid = hiko_port_pid(port);
  CHECK_RC(hiko_port_close(port), 0);
  for (int i = 0; i < 30; i++) host_send_int(rt, pid, i);
  CHECK_RC(hiko_stats_get(rt, &after), 0);
  CHECK(after.processes == 4 && after.done == 4 && after.failed == 0 && after.cancelled == 0);
  CHECK(after.total.dropped == before.total.dropped + 30);
  CHECK(after.total.spawns == 3);
  CHECK(after.workers == 2);
  hiko_counters_t sum = {0};
  for (unsigned w = 0; w < after.workers; w++) {
    sum.spawns += after.per_worker[w].spawns;
    sum.slices += after.per_worker[w].slices;
  }
  CHECK(sum.spawns == after.total.spawns && sum.slices <= after.total.slices);
  hiko_stats_clear(&before);
  hiko_stats_clear(&after);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
}

int main(void) {
  two_runtimes();
  port_fanin();
  return 0;
}
