/* rt_programs.c — stress programs for the whole process runtime, through the
** embedding API, under ThreadSanitizer: a spawn storm, many messages among
** many processes across workers, a randomized check that the deadlock
** detector never fires on a live program (SPEC §6.9.2: no false positives),
** and deadlocked trees in which every process must fail, none cancelled.
** Each program verifies its own result; the C side checks the outcome and
** the statistics. Exit 0 pass, 1 fail. */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hiko.h"

#define STRESS_NAME "rt_programs"
#include "api_run.h"

static const char storm[] =
    "val me = self ()\n"
    "fun wave i n = if i > n then () else let val _ = spawn (fn () => send_message (me, i)) in wave (i + 1) n end\n"
    "fun sum k acc = if k = 0 then acc else sum (k - 1) (acc + receive_message ())\n"
    "fun waves w acc = if w = 0 then acc else let val _ = wave 1 N in waves (w - 1) (acc + sum N 0) end\n"
    "fun tree d = if d = 0 then 1 else\n"
    "  let val a = spawn (fn () => tree (d - 1)) val b = spawn (fn () => tree (d - 1))\n"
    "      val c = spawn_detached (fn () => tree (d - 1))\n"
    "  in 1 + await_process a + await_process b end\n"
    "val _ = println (waves W 0)\n"
    "val _ = println (tree D)\n";

static const char fanin[] =
    "val me = self ()\n"
    "fun sendn i n to = if i > n then () else let val _ = send_message (to, i) in sendn (i + 1) n to end\n"
    "fun collector k acc = if k = 0 then send_message (me, acc) else collector (k - 1) (acc + receive_message ())\n"
    "val c = spawn (fn () => collector (S * N) 0)\n"
    "fun senders i = if i = 0 then () else let val _ = spawn (fn () => sendn 1 N c) in senders (i - 1) end\n"
    "val _ = senders S\n"
    "val _ = println (receive_message ())\n";

/* Parents that end while their children still send to them (SPEC §6.8.1):
** a child's sends to its parent use the parent's record without a lookup
** or a reference (runtime/proc.h, hk_proc_parent), so the record must stay
** allocated until every child cancelled by the parent's end has stopped
** sending. Each round's parent takes M of its chatterers' messages and
** returns; TSan and ASan check the record's accesses and its free. A
** chatterer sends to itself between its sends to its parent, so each of
** those is a first send (send_first in runtime/vmproc.c). */
static const char bereaved[] =
    "fun chatter to k =\n"
    "  let val _ = send_message (to, k) val _ = send_message (self (), k) val _ = receive_message ()\n"
    "  in chatter to (k + 1) end\n"
    "fun take j = if j = 0 then () else let val _ = receive_message () in take (j - 1) end\n"
    "fun parent r = let val me = self ()\n"
    "  fun kids i = if i = 0 then () else\n"
    "    let val _ = spawn (fn () => chatter me 0) val _ = spawn_detached (fn () => chatter me 0)\n"
    "    in kids (i - 1) end\n"
    "  val _ = kids K val _ = take M in r end\n"
    "fun rounds r acc = if r = 0 then acc else rounds (r - 1) (acc + await_process (spawn (fn () => parent r)))\n"
    "val _ = println (rounds R 0)\n";

/* Parents that end right after a join while the other children they
** waited for still finish (SPEC §6.6.4, §6.8.1): a child wakes its waiting
** parent through the parent's record, not by a pid lookup, holding the
** reference the parent's arm gave it (runtime/proc.c, arm_children). Each
** parent waits for the first of four children spinning different amounts
** (wait_any arms them all) and returns at once; the other three are cancelled
** or finish on other workers meanwhile, and wake or drop the reference of a
** record that is ending or has ended. The children spin beyond a slice, so
** they yield and are stolen, and four parents per round keep every worker
** busy. TSan and ASan check the record's accesses and its free. */
static const char jilted[] =
    "fun spin n = if n = 0 then () else spin (n - 1)\n"
    "fun kid s = let val _ = spin s in s end\n"
    "fun parent r =\n"
    "  let val s = 3000 + (r * 37) mod 3000\n"
    "      val a = spawn (fn () => kid s) val b = spawn (fn () => kid (s + 700))\n"
    "      val c = spawn (fn () => kid (9000 - s)) val d = spawn (fn () => kid (s - 2500))\n"
    "      val _ = wait_any [a, b, c, d]\n"
    "  in r end\n"
    "fun rounds r acc = if r = 0 then acc else\n"
    "  let val p = spawn (fn () => parent r) val q = spawn (fn () => parent (r + 1))\n"
    "      val x = spawn (fn () => parent (r + 2)) val y = spawn (fn () => parent (r + 3))\n"
    "  in rounds (r - 1) (acc + await_process p + await_process q + await_process x +\n"
    "                    await_process y) end\n"
    "val _ = println (rounds R 0)\n";

/* A random live program: rings of relays that spin a random amount before
** forwarding, and a tree of awaits whose leaves spin; every process blocks
** often and is always eventually woken. */
static const char live[] =
    "fun spin n = if n = 0 then () else spin (n - 1)\n"
    "fun relay next k = if k = 0 then () else\n"
    "  let val v = receive_message () val _ = spin ((v * 7919 + SEED) mod 300)\n"
    "  in let val _ = send_message (next, v + 1) in relay next (k - 1) end end\n"
    "fun ring n k last = if n = 0 then last else ring (n - 1) k (spawn (fn () => relay last k))\n"
    "fun pump first k acc = if k = 0 then acc else\n"
    "  let val _ = send_message (first, 0) in pump first (k - 1) (acc + receive_message ()) end\n"
    "fun tree d s = if d = 0 then let val _ = spin ((s * 31 + SEED) mod 500) in 1 end else\n"
    "  let val a = spawn (fn () => tree (d - 1) (s * 2)) val b = spawn (fn () => tree (d - 1) (s * 2 + 1))\n"
    "  in await_process a + await_process b end\n"
    "val t = spawn (fn () => tree 7 1)\n"
    "val first = ring R K (self ())\n"
    "val _ = println (pump first K 0)\n"
    "val _ = println (await_process t)\n";

/* A tree of processes that all end up blocked (receives, awaits, wait_any,
** detached receivers): a deadlock. SPEC §6.9.1: every one of them fails with
** the deadlock message at once, none is cancelled, whatever the order in
** which the workers run them after the root's failure ends the program. */
static const char stuck[] =
    "fun blockers d = if d = 0 then receive_message () else\n"
    "  let val a = spawn (fn () => blockers (d - 1)) val b = spawn (fn () => blockers (d - 1))\n"
    "      val _ = spawn_detached (fn () => receive_message ())\n"
    "  in case d mod 3 of 0 => await_process a + await_process b\n"
    "     | 1 => (case await_result a of _ => 0) | _ => (case wait_any [b, a] of _ => 0) end\n"
    "val _ = blockers D\n";

static int run_stuck(unsigned workers, long depth) {
  const char *keys[] = {"D"};
  long vals[] = {depth};
  char *src = subst(stuck, keys, vals, 1);
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = workers;
  cfg.detect_deadlock = true;
  hiko_runtime_t *rt;
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  hiko_pid_t root;
  hiko_result_t res;
  hiko_stats_t st;
  int fail = hiko_runtime_create(&rt, &cfg);
  if (fail) return 1;
  fail = hiko_compile_string(rt, "stuck", src, strlen(src), &p, &d) || hiko_spawn_main(rt, p, &root) ||
         hiko_run(rt) || hiko_join(rt, root, &res, -1);
  hiko_diags_free(d);
  free(src);
  uint64_t want = (1u << (depth + 1)) - 1 + (1u << depth) - 1; /* tree + detached */
  if (!fail) {
    if (res.status != HIKO_FAILED || !res.message ||
        strcmp(res.message, "deadlock: process blocked with no possible waker") != 0) {
      fprintf(stderr, "stuck: root ended with '%s'\n", res.message ? res.message : "(done)");
      fail = 1;
    }
    hiko_result_clear(&res);
  }
  if (!fail && hiko_stats_get(rt, &st) == 0) {
    if (st.processes != want || st.failed != want || st.cancelled != 0 || st.done != 0) {
      fprintf(stderr, "stuck: %u workers: processes %" PRIu64 " (want %" PRIu64 "), failed %" PRIu64
              ", cancelled %" PRIu64 ", done %" PRIu64 "\n",
              workers, st.processes, want, st.failed, st.cancelled, st.done);
      fail = 1;
    }
    hiko_stats_clear(&st);
  }
  hiko_runtime_destroy(rt);
  hiko_program_release(p);
  return fail;
}

/* Roots that end while their descendants still run (SPEC §6.8.2, §10.6.5;
** docs/runtime.md "Root lifetime"): each root leaves children spinning over
** the tree's global store (cancelled at its end, they may run a while
** longer), hands one of them to the host, and sends messages to the child
** the previous root left behind: a process of another tree that is being
** cancelled or is gone, whose tree's store and program are freed as its
** last process ends. The host joins each root and starts the next at once.
** TSan and ASan check the frees; every root must finish normally. */
static const char orphans[] =
    "val port = receive_message ()\n"
    "val victim = receive_message ()\n"
    "fun upto i n = if i > n then [] else i :: upto (i + 1) n\n"
    "val table = upto 1 200\n"
    "fun len (xs : Int list) = case xs of [] => 0 | _ :: t => 1 + len t\n"
    "fun spin k = if k = 0 then 0 else len table + spin (k - 1)\n"
    "fun kids d = if d = 0 then spin 100000 else\n"
    "  let val _ = spawn (fn () => kids (d - 1))\n"
    "      val _ = spawn_detached (fn () => kids (d - 1)) in spin 100000 end\n"
    "fun pelt k = if k = 0 then () else let val _ = send_message (victim, table) in pelt (k - 1) end\n"
    "val c = spawn (fn () => kids 2)\n"
    "val _ = send_message (port, c)\n"
    "val _ = spawn (fn () => pelt 100)\n"
    "val _ = pelt 20\n"
    "val _ = println (len table)\n";

static int run_orphans(unsigned workers, long nroots) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = workers;
  cfg.out = collect;
  outlen = 0;
  hiko_runtime_t *rt;
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  hiko_port_t *port = NULL;
  if (hiko_runtime_create(&rt, &cfg)) return 1;
  int fail = hiko_compile_string(rt, "orphans", orphans, strlen(orphans), &p, &d) ||
             hiko_port_open(rt, &port) || hiko_start(rt);
  hiko_diags_free(d);
  hiko_pid_t victim = 0;
  for (long i = 0; i < nroots && !fail; i++) {
    hiko_pid_t root;
    hiko_value_t *v = NULL, *got = NULL;
    hiko_result_t res;
    if ((fail = hiko_spawn_main(rt, p, &root) != 0)) break;
    if (!victim) victim = root;
    fail = hiko_value_pid(hiko_port_pid(port), &v) || hiko_send(rt, root, v);
    hiko_value_free(v);
    v = NULL;
    fail = fail || hiko_value_pid(victim, &v) || hiko_send(rt, root, v);
    hiko_value_free(v);
    fail = fail || hiko_port_recv(port, &got, 20000) || hiko_value_kind(got) != HIKO_PID;
    if (!fail) victim = (hiko_pid_t)hiko_value_get_pid(got);
    hiko_value_free(got);
    if (fail || hiko_join(rt, root, &res, 20000) != 0) {
      fprintf(stderr, "orphans: root %ld: no pid or no end\n", i);
      fail = 1;
      break;
    }
    if (res.status != HIKO_DONE) {
      fprintf(stderr, "orphans: root %ld: %s\n", i, res.message ? res.message : "?");
      fail = 1;
    }
    hiko_result_clear(&res);
  }
  hiko_stats_t st;
  if (!fail && hiko_stats_get(rt, &st) == 0) {
    printf("orphans: %u workers, %ld roots, processes %" PRIu64 ", cancelled %" PRIu64
           ", dropped %" PRIu64 "\n",
           workers, nroots, st.processes, st.cancelled, st.total.dropped);
    hiko_stats_clear(&st);
  }
  if (port) hiko_port_close(port);
  hiko_runtime_destroy(rt);
  hiko_program_release(p);
  return fail;
}

/* A root that fails while its child is blocked (its second spawn is over
** --max-processes 2), and a host that releases the program before
** destroying the runtime, as `hiko run` does (runtime/main.c): the
** cancelled child's tree drops its reference on a worker just before the
** host drops the last one and frees the program. TSan must see that free
** ordered after the worker's release (runtime/compile.c,
** hiko_program_release); every root must fail at its second spawn. */
static const char failing[] =
    "val p = spawn (fn () => receive_message ())\n"
    "val _ = println \"one child\"\n"
    "val q = spawn (fn () => 1)\n";

static int run_failing(unsigned workers, int rounds) {
  int fail = 0;
  for (int i = 0; i < rounds && !fail; i++) {
    hiko_config_t cfg;
    hiko_config_init(&cfg);
    cfg.workers = workers;
    cfg.max_processes = 2;
    cfg.detect_deadlock = true;
    cfg.out = collect;
    outlen = 0;
    hiko_runtime_t *rt;
    hiko_program_t *p = NULL;
    hiko_diags_t *d = NULL;
    if (hiko_runtime_create(&rt, &cfg)) return 1;
    hiko_pid_t root;
    hiko_result_t res;
    memset(&res, 0, sizeof res);
    fail = hiko_compile_string(rt, "failing", failing, strlen(failing), &p, &d) ||
           hiko_spawn_main(rt, p, &root) || hiko_run(rt) || hiko_join(rt, root, &res, -1);
    hiko_diags_free(d);
    if (!fail && (res.status != HIKO_FAILED || !res.message || strcmp(res.message, "spawn: process limit reached (2)") != 0)) {
      fprintf(stderr, "failing: root ended with status %d: %s\n", (int)res.status,
              res.message ? res.message : "?");
      fail = 1;
    }
    hiko_result_clear(&res);
    hiko_program_release(p); /* before the runtime, as the CLI does */
    hiko_runtime_destroy(rt);
  }
  if (!fail) printf("failing: %u workers, %d roots\n", workers, rounds);
  return fail;
}

int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(DEADLINE_S);
  int fail = 0;
  char want[128];
  {
    long n = 2000L * STRESS_SCALE, w = 5, d = 7;
    const char *keys[] = {"N", "W", "D"};
    long vals[] = {n, w, d};
    char *src = subst(storm, keys, vals, 3);
    snprintf(want, sizeof want, "%ld\n%ld\n", w * n * (n + 1) / 2, (1L << (d + 1)) - 1);
    fail |= run("storm", src, 4, want);
    free(src);
  }
  {
    /* 10^6 messages; half under ThreadSanitizer, which makes this part
    ** ~40x slower on 2 cores (keeps the program well under a minute). */
    long s = 8, n = 125000L * STRESS_SCALE / (TSAN ? 2 : 1);
    const char *keys[] = {"S", "N"};
    long vals[] = {s, n};
    char *src = subst(fanin, keys, vals, 2);
    snprintf(want, sizeof want, "%ld\n", s * n * (n + 1) / 2);
    fail |= run("fanin", src, 4, want);
    free(src);
  }
  for (unsigned w = 2; w <= 4; w += 2) {
    long r = (TSAN ? 100 : 300) * STRESS_SCALE, k = 4, m = 50;
    const char *keys[] = {"R", "K", "M"};
    long vals[] = {r, k, m};
    char *src = subst(bereaved, keys, vals, 3);
    snprintf(want, sizeof want, "%ld\n", r * (r + 1) / 2);
    fail |= run("bereaved", src, w, want);
    free(src);
  }
  for (unsigned w = 2; w <= 4; w += 2) {
    long r = 300L * STRESS_SCALE;
    const char *keys[] = {"R"};
    long vals[] = {r};
    char *src = subst(jilted, keys, vals, 1);
    snprintf(want, sizeof want, "%ld\n", 2 * r * (r + 1) + 6 * r); /* parents r .. r + 3 */
    fail |= run("jilted", src, w, want);
    free(src);
  }
  unsigned seed = (unsigned)time(NULL);
  printf("live: seed %u\n", seed);
  srand(seed);
  for (int round = 0; round < 4; round++) {
    long r = 5 + rand() % 60, k = 20 + rand() % 60, sd = rand() % 1000;
    const char *keys[] = {"R", "K", "SEED"};
    long vals[] = {r, k, sd};
    char *src = subst(live, keys, vals, 3);
    snprintf(want, sizeof want, "%ld\n%d\n", r * k, 128);
    fail |= run("live", src, 1 + (unsigned)(round % 4), want);
    free(src);
  }
  for (unsigned round = 0; round < 8; round++) fail |= run_stuck(1 + round % 4, 5 + round % 2);
  for (unsigned w = 2; w <= 4; w += 2) fail |= run_orphans(w, (TSAN ? 100 : 400) * STRESS_SCALE);
  for (unsigned w = 1; w <= 4; w++) fail |= run_failing(w, 20);
  return fail;
}
