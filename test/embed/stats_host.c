/* stats_host.c — statistics as an embedder reads them (SPEC §10.9,
** hiko.h): a snapshot before anything ran, the totals after a program
** whose spawns, messages, failures and cancellations are known, the
** per-worker lines summing to the totals, and the table that `stats`
** prints through the err callback at destruction. */
#include <errno.h>
#include <stdlib.h>

#include "host.h"

static const char *program =
    "fun echo () = let val (from, n) = receive_message () : Pid * Int\n"
    "              in send_message (from, n + 1) end\n"
    "val kids = [spawn echo, spawn echo, spawn echo, spawn echo, spawn echo]\n"
    "val _ = map (fn k => send_message (k, (self (), 1))) kids\n"
    "val got = map (fn _ => receive_message () : Int) kids\n"
    "val _ = map (fn k => await_process k : Unit) kids\n"
    "val bad = spawn (fn () => panic \"no\")\n"
    "val _ = await_result bad : Unit outcome\n"
    "val sleeper = spawn (fn () => sleep 100000)\n"
    "val _ = sleep 10\n"
    "val _ = cancel sleeper\n"
    "val _ = await_result sleeper : Unit outcome\n"
    "val dead = spawn (fn () => ())\n"
    "val _ = await_process dead : Unit\n"
    "val _ = send_message (dead, 1)\n"
    "val _ = send_message (self (), \"x\")\n"
    "val _ = receive_message () : String\n";

static void check_sums(const hiko_stats_t *st) {
  CHECK(st->per_worker != NULL);
  hiko_counters_t sum;
  memset(&sum, 0, sizeof sum);
  for (unsigned w = 0; w < st->workers; w++) {
    const hiko_counters_t *c = &st->per_worker[w];
    sum.slices += c->slices, sum.steals += c->steals, sum.stolen += c->stolen;
    sum.parks += c->parks, sum.sent += c->sent, sum.received += c->received;
    sum.dropped += c->dropped, sum.spawns += c->spawns, sum.io_ops += c->io_ops;
    sum.gc_runs += c->gc_runs;
  }
  /* Host threads count in the total only (hiko_send, port receipts). */
  CHECK(sum.slices == st->total.slices && sum.steals == st->total.steals);
  CHECK(sum.stolen == st->total.stolen && sum.parks == st->total.parks);
  CHECK(sum.spawns == st->total.spawns && sum.io_ops == st->total.io_ops);
  CHECK(sum.gc_runs == st->total.gc_runs);
  CHECK(sum.sent <= st->total.sent && sum.received <= st->total.received);
  CHECK(sum.dropped <= st->total.dropped);
}

int main(void) {
  host_out_t err;
  host_out_init(&err);
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 3;
  cfg.stats = true;
  cfg.err = host_out_write;
  cfg.io_ud = &err;
  hiko_runtime_t *rt;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), 0);
  hiko_stats_t st;
  CHECK_RC(hiko_stats_get(rt, &st), 0);
  CHECK(st.workers == 3 && st.processes == 0 && st.total.slices == 0);
  CHECK(st.io_backend != NULL);
  check_sums(&st);
  hiko_stats_clear(&st);

  char src[4096];
  snprintf(src, sizeof src, "use \"stdlib/list.hml\"\n%s", program);
  hiko_program_t *p = host_compile(rt, "stats.hml", src);
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  CHECK_RC(hiko_run(rt), 0);
  host_expect(rt, root, HIKO_DONE, NULL);
  hiko_program_release(p);

  /* A message from C to a pid that has ended is dropped, on the total. */
  hiko_value_t *v;
  CHECK_RC(hiko_value_int(7, &v), 0);
  CHECK_RC(hiko_send(rt, root + 1, v), 0);
  hiko_value_free(v);

  CHECK_RC(hiko_stats_get(rt, &st), 0);
  check_sums(&st);
  /* 8 spawns and the root; 1 failed (panic), 1 cancelled, the rest done. */
  CHECK(st.total.spawns == 8);
  CHECK(st.processes == 9);
  CHECK(st.failed == 1 && st.cancelled == 1 && st.done == 7);
  /* Sent (queued in a mailbox): 5 requests, 5 replies, 1 to itself.
  ** Received: the same 11. Dropped: 2, to ended processes (from the root
  ** and from C), which count as dropped only, not as sent. */
  CHECK(st.total.sent == 11);
  CHECK(st.total.received == 11);
  CHECK(st.total.dropped == 2);
  CHECK(st.total.slices >= 9);
  CHECK(strcmp(st.io_backend, "uring") == 0 || strcmp(st.io_backend, "fallback") == 0);
  const char *forced = getenv("HIKO_IO_BACKEND");
  if (forced && *forced) CHECK_STR(st.io_backend, forced);
  hiko_stats_clear(&st);
  CHECK(st.per_worker == NULL);
  hiko_stats_clear(&st); /* twice is harmless */

  CHECK_RC(hiko_runtime_destroy(rt), 0);
  /* The §10.9 table on cfg.err: summary, header, one line per worker, total. */
  char head[128];
  unsigned long long wall = 0, procs, done, failed, cancelled;
  char backend[32];
  CHECK(sscanf(err.buf, "hiko stats: workers=3 wall_ms=%llu io_backend=%31s processes=%llu done=%llu "
               "failed=%llu cancelled=%llu\n", &wall, backend, &procs, &done, &failed, &cancelled) == 6);
  CHECK(procs == 9 && done == 7 && failed == 1 && cancelled == 1);
  const char *line = strchr(err.buf, '\n') + 1;
  snprintf(head, sizeof head, "worker slices steals stolen parks sent received dropped spawns io_ops gc_runs\n");
  CHECK(strncmp(line, head, strlen(head)) == 0);
  line += strlen(head);
  for (int w = 0; w <= 3; w++) {
    char lead[16];
    snprintf(lead, sizeof lead, w < 3 ? "%d " : "total ", w);
    CHECK(strncmp(line, lead, strlen(lead)) == 0);
    unsigned long long f[10];
    CHECK(sscanf(line + strlen(lead), "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &f[0],
                 &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9]) == 10);
    if (w == 3) CHECK(f[4] == 11 && f[5] == 11 && f[6] == 2 && f[7] == 8);
    line = strchr(line, '\n');
    CHECK(line != NULL);
    line++;
  }
  CHECK(*line == '\0');
  puts("stats_host: ok");
  return 0;
}
