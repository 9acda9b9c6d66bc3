/* run_host.c — running programs as an embedder does (SPEC §12.2-§12.3, §6):
** to completion with hiko_run, in the background with hiko_start and
** timed joins, hiko_shutdown of a root that never ends, exit with and
** without allow_exit, deadlock detection on and off, and the limits and
** capabilities of the configuration (fuel, max_heap, max_processes,
** fs_root, allow_net, allow_exec, argv) with the SPEC's exact messages. */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "host.h"

static host_out_t out;

static hiko_runtime_t *runtime_with(hiko_config_t *cfg) {
  cfg->out = host_out_write;
  cfg->io_ud = &out;
  hiko_runtime_t *rt = NULL;
  CHECK_RC(hiko_runtime_create(&rt, cfg), 0);
  return rt;
}

/* Runs [src] to completion in a runtime made from [cfg]; checks the
** root's status and message. */
static void run_one(hiko_config_t *cfg, const char *src, int status, const char *msg) {
  hiko_runtime_t *rt = runtime_with(cfg);
  hiko_program_t *p = host_compile(rt, "main.hml", src);
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  CHECK_RC(hiko_run(rt), 0);
  host_expect(rt, root, status, msg);
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
}

static void to_completion(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  hiko_runtime_t *rt = runtime_with(&cfg);
  /* No root: hiko_run has nothing to wait for. */
  CHECK_RC(hiko_run(rt), 0);
  hiko_program_t *p = host_compile(rt, "fail.hml",
      "val c = spawn (fn () => 6 * 7)\n"
      "val _ = println (await_process c)\n"
      "val _ = 1 / (await_process c - 42)\n");
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  CHECK_RC(hiko_run(rt), 0);
  hiko_result_t r;
  CHECK_RC(hiko_join(rt, root, &r, 0), 0); /* it has ended: 0 polls */
  CHECK(r.status == HIKO_FAILED);
  /* The first await consumed the child's result (SPEC §6.6.2). */
  CHECK_STR(r.message, "await_process: child result already consumed");
  CHECK(r.failure != NULL && hiko_value_kind(r.failure) == HIKO_DATA);
  CHECK_STR(hiko_value_ctor(r.failure), "RuntimeError");
  char *s = host_show(r.failure);
  CHECK_STR(s, "RuntimeError await_process: child result already consumed");
  hiko_free(s);
  hiko_result_clear(&r);
  CHECK(r.message == NULL && r.failure == NULL); /* cleared, safe to clear again */
  hiko_result_clear(&r);
  CHECK_RC(hiko_join(rt, root, &r, 0), -ENOENT); /* reported once */
  CHECK(strstr(out.buf, "42\n"));
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
}

static void background(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  hiko_runtime_t *rt = runtime_with(&cfg);
  hiko_program_t *waiter = host_compile(rt, "wait.hml",
      "val n = receive_message () : Int\nval _ = println (n + 1)\n");
  hiko_program_t *spinner = host_compile(rt, "spin.hml",
      "fun spin n = spin (n + 1)\nval _ = spin 0\n");
  CHECK_RC(hiko_start(rt), 0);
  CHECK_RC(hiko_start(rt), HIKO_ESTATE);
  hiko_pid_t a, b;
  CHECK_RC(hiko_spawn_main(rt, waiter, &a), 0);
  CHECK_RC(hiko_spawn_main(rt, spinner, &b), 0);
  CHECK(a != b);
  hiko_result_t r;
  CHECK_RC(hiko_join(rt, a, &r, 0), -ETIMEDOUT);
  CHECK_RC(hiko_join(rt, a, &r, 50), -ETIMEDOUT);
  hiko_value_t *v;
  CHECK_RC(hiko_value_int(99, &v), 0);
  CHECK_RC(hiko_send(rt, a, v), 0);
  hiko_value_free(v);
  host_expect(rt, a, HIKO_DONE, NULL);
  CHECK(strstr(out.buf, "100\n"));
  CHECK_RC(hiko_join(rt, b, &r, 30), -ETIMEDOUT);
  /* Shutdown cancels the spinning root; its outcome can still be joined. */
  CHECK_RC(hiko_shutdown(rt), 0);
  host_expect(rt, b, HIKO_FAILED, "cancelled");
  hiko_pid_t c;
  CHECK_RC(hiko_spawn_main(rt, waiter, &c), HIKO_ESTATE);
  hiko_program_release(waiter);
  hiko_program_release(spinner);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
}

/* exit n: refused without allow_exit; with it every root ends EXITED. */
static void exits(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  run_one(&cfg, "val _ = exit 3\n", HIKO_FAILED, "exit: not allowed");

  cfg.allow_exit = true;
  hiko_runtime_t *rt = runtime_with(&cfg);
  hiko_program_t *waiter = host_compile(rt, "w.hml", "val _ = receive_message () : Int\n");
  hiko_program_t *exiter = host_compile(rt, "e.hml",
      "val _ = sleep 20\nval _ = spawn (fn () => exit 300)\nval _ = receive_message () : Int\n");
  hiko_pid_t a, b;
  CHECK_RC(hiko_spawn_main(rt, waiter, &a), 0);
  CHECK_RC(hiko_spawn_main(rt, exiter, &b), 0);
  CHECK_RC(hiko_run(rt), 0);
  for (int i = 0; i < 2; i++) {
    hiko_result_t r;
    CHECK_RC(hiko_join(rt, i ? b : a, &r, 1000), 0);
    CHECK(r.status == HIKO_EXITED && r.exit_code == 300);
    hiko_result_clear(&r);
  }
  hiko_program_release(waiter);
  hiko_program_release(exiter);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
}

/* Off by default in an embedding: a root waiting for a message no one
** will send just waits; on, it fails with the §6.9 message. */
static void deadlock(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  CHECK(!cfg.detect_deadlock && !cfg.allow_exit && cfg.allow_net);
  hiko_runtime_t *rt = runtime_with(&cfg);
  hiko_program_t *p = host_compile(rt, "d.hml",
      "val c = spawn (fn () => receive_message () : Int)\nval _ = await_process c : Int\n");
  hiko_pid_t root;
  CHECK_RC(hiko_start(rt), 0);
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_result_t r;
  CHECK_RC(hiko_join(rt, root, &r, 300), -ETIMEDOUT);
  /* The host can still wake it: the child is <pid root+1>. */
  hiko_value_t *v;
  CHECK_RC(hiko_value_int(5, &v), 0);
  CHECK_RC(hiko_send(rt, root + 1, v), 0);
  hiko_value_free(v);
  host_expect(rt, root, HIKO_DONE, NULL);
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(rt), 0);

  cfg.detect_deadlock = true;
  run_one(&cfg,
      "val c = spawn (fn () => receive_message () : Int)\nval _ = await_process c : Int\n",
      HIKO_FAILED, "deadlock: process blocked with no possible waker");
}

static void limits(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 1;
  cfg.fuel = 1000;
  run_one(&cfg, "fun loop n = loop (n + 1)\nval _ = loop 0\n", HIKO_FAILED, "fuel exhausted");
  /* A child's budget is what the parent had left: it runs out as well. */
  run_one(&cfg, "fun loop n = loop (n + 1)\nval r = await_result (spawn (fn () => loop 0))\n"
                "val _ = case r of Err FuelExhausted => () | _ => panic \"no\"\n",
          HIKO_DONE, NULL);
  cfg.fuel = 0;
  cfg.fuel_limited = true; /* a budget of zero: the first instruction fails */
  run_one(&cfg, "val _ = println 1\n", HIKO_FAILED, "fuel exhausted");

  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.max_processes = 3;
  run_one(&cfg, "fun wait () = receive_message () : Int\n"
                "val a = spawn wait\nval b = spawn wait\nval c = spawn wait\n",
          HIKO_FAILED, "spawn: process limit reached (3)");

  hiko_config_init(&cfg);
  cfg.max_heap = 1000;
  run_one(&cfg, "fun build n acc = if n = 0 then acc else build (n - 1) ((n, n) :: acc)\n"
                "val xs = build 2000 []\n",
          HIKO_FAILED, "heap limit exceeded: *");
  /* 601 live objects whose copy expands to 1,200 (SPEC §6.11.4, §6.12.3). */
  run_one(&cfg, "val t = (1, 2)\n"
                "fun rep n acc = if n = 0 then acc else rep (n - 1) (t :: acc)\n"
                "val c = spawn (fn () => receive_message () : Int)\n"
                "val _ = send_message (c, rep 600 [])\n",
          HIKO_FAILED, "send_message: value too large (more than 1000 objects)");
}

static void capabilities(void) {
  char dir[] = "/tmp/hiko-embed-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char canon[PATH_MAX];
  CHECK(realpath(dir, canon) != NULL);
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.fs_root = dir;
  char want[PATH_MAX + 128];
  snprintf(want, sizeof want,
           "read_file: path '/etc/hostname' is outside allowed root '%s'", canon);
  run_one(&cfg, "val _ = read_file \"/etc/hostname\"\n", HIKO_FAILED, want);
  /* A relative path is taken relative to the root. */
  out.len = 0;
  run_one(&cfg, "val _ = write_file (\"x.txt\", \"in the root\")\n"
                "val _ = println (read_file \"x.txt\", list_dir \".\")\n"
                "val _ = remove_file \"x.txt\"\n",
          HIKO_DONE, NULL);
  CHECK_STR(out.buf, "(in the root, [x.txt])\n");
  rmdir(dir);

  hiko_config_init(&cfg);
  cfg.allow_net = false;
  run_one(&cfg, "val _ = tcp_listen (\"127.0.0.1\", 0)\n", HIKO_FAILED,
          "tcp_listen: network access denied");
  const char *allowed[] = {"true", "echo \"x\""};
  cfg.allow_exec = allowed;
  cfg.n_allow_exec = 2;
  run_one(&cfg, "val _ = exec (\"ls\", [])\n", HIKO_FAILED,
          "exec: command 'ls' is not in the allowed list: [\"true\", \"echo \"x\"\"]");
  run_one(&cfg, "val (st, o, e) = exec (\"true\", [])\nval _ = assert (st = 0, \"status\")\n",
          HIKO_DONE, NULL);

  /* argv is what args () returns, copied at creation. */
  hiko_config_init(&cfg);
  char a0[] = "first", a1[] = "--second";
  const char *argv[] = {a0, a1, ""};
  cfg.argv = argv;
  cfg.argc = 3;
  out.len = 0;
  hiko_runtime_t *rt = runtime_with(&cfg);
  a0[0] = 'X'; /* the runtime copied the strings */
  hiko_program_t *p = host_compile(rt, "args.hml", "val _ = println (args ())\n");
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  CHECK_RC(hiko_run(rt), 0);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_STR(out.buf, "[first, --second, ]\n");
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
}

int main(void) {
  host_out_init(&out);
  to_completion();
  background();
  exits();
  deadlock();
  limits();
  capabilities();
  puts("run_host: ok");
  return 0;
}
