/* multi_host.c — several runtimes in one OS process (SPEC §6.1.3, §6.2,
** §12.2): four runtimes created, run and destroyed on four threads at
** once, each numbering its pids from 1 and printing through its own
** callback; one program compiled without a runtime run by two runtimes
** in turn, with a closure taken from the first, which has been destroyed,
** sent to a root in the second (docs/embedding.md §4); and runtimes
** created and destroyed in a loop. */
#include <errno.h>

#include "host.h"

typedef struct job {
  int id;
  host_out_t out;
  int failed;
} job_t;

static void *run_runtime(void *arg) {
  job_t *j = arg;
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = (unsigned)(1 + j->id % 2);
  cfg.out = host_out_write;
  cfg.io_ud = &j->out;
  cfg.detect_deadlock = true;
  char a[16];
  snprintf(a, sizeof a, "rt%d", j->id);
  const char *argv[] = {a};
  cfg.argv = argv;
  cfg.argc = 1;
  hiko_runtime_t *rt;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), 0);
  hiko_program_t *p = host_compile(rt, "multi.hml",
      "fun fib n = if n < 2 then n else fib (n - 1) + fib (n - 2)\n"
      "val kids = [spawn (fn () => fib 15), spawn (fn () => fib 16)]\n"
      "val total = case kids of [a, b] => await_process a + await_process b | _ => 0\n"
      "val _ = println (args (), self (), kids, total)\n"
      "val _ = sleep 5\n");
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  CHECK(root == 1);
  CHECK_RC(hiko_run(rt), 0);
  host_expect(rt, root, HIKO_DONE, NULL);
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
  char want[128];
  snprintf(want, sizeof want, "([rt%d], <pid 1>, [<pid 2>, <pid 3>], 1597)\n", j->id);
  if (strcmp(j->out.buf, want) != 0) {
    fprintf(stderr, "runtime %d printed \"%s\"\n", j->id, j->out.buf);
    j->failed = 1;
  }
  return NULL;
}

static void side_by_side(void) {
  enum { N = 4 };
  pthread_t th[N];
  static job_t jobs[N];
  for (int i = 0; i < N; i++) {
    jobs[i].id = i;
    host_out_init(&jobs[i].out);
    CHECK(pthread_create(&th[i], NULL, run_runtime, &jobs[i]) == 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    CHECK(!jobs[i].failed);
  }
}

static const char *shared_src =
    "val base = 1000\n"
    "val port = receive_message () : Pid\n"
    "val _ = case receive_message () : Int of\n"
    "    0 => send_message (port, fn x => x + base)\n"
    "  | _ => send_message (port, (receive_message () : Int -> Int) 7)\n";

/* One program, two runtimes in turn; a closure outlives the first. A twin
** compiled from the same text is another program: the closure is refused. */
static void closure_outlives_runtime(void) {
  hiko_program_t *p = host_compile(NULL, "shared.hml", shared_src);
  /* Runtime 1: its root hands out a closure, then the runtime goes. */
  hiko_runtime_t *rt;
  hiko_port_t *port;
  hiko_pid_t root;
  hiko_value_t *fn, *v;
  CHECK_RC(hiko_runtime_create(&rt, NULL), 0);
  CHECK_RC(hiko_port_open(rt, &port), 0);
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  CHECK_RC(hiko_start(rt), 0);
  host_send_pid(rt, root, hiko_port_pid(port));
  host_send_int(rt, root, 0);
  CHECK_RC(hiko_port_recv(port, &fn, 20000), 0);
  CHECK(hiko_value_kind(fn) == HIKO_FUNCTION);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_RC(hiko_port_close(port), 0);
  CHECK_RC(hiko_runtime_destroy(rt), 0);

  /* Runtime 2: a root of the same program applies it. */
  CHECK_RC(hiko_runtime_create(&rt, NULL), 0);
  CHECK_RC(hiko_port_open(rt, &port), 0);
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p); /* the root keeps it */
  hiko_program_t *twin = host_compile(NULL, "shared.hml", shared_src);
  hiko_pid_t other;
  CHECK_RC(hiko_spawn_main(rt, twin, &other), 0);
  hiko_program_release(twin);
  CHECK_RC(hiko_start(rt), 0);
  CHECK_RC(hiko_send(rt, other, fn), -EINVAL);
  host_send_pid(rt, root, hiko_port_pid(port));
  host_send_int(rt, root, 1);
  CHECK_RC(hiko_send(rt, root, fn), 0);
  CHECK_RC(hiko_port_recv(port, &v, 20000), 0);
  CHECK(hiko_value_get_int(v) == 1007);
  hiko_value_free(v);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_RC(hiko_shutdown(rt), 0);
  host_expect(rt, other, HIKO_FAILED, "cancelled");
  CHECK_RC(hiko_port_close(port), 0);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
  hiko_value_free(fn);
}

int main(void) {
  side_by_side();
  for (int i = 0; i < 20; i++) {
    hiko_runtime_t *rt;
    CHECK_RC(hiko_runtime_create(&rt, NULL), 0);
    if (i % 2) CHECK_RC(hiko_start(rt), 0);
    CHECK_RC(hiko_runtime_destroy(rt), 0);
  }
  closure_outlives_runtime();
  puts("multi_host: ok");
  return 0;
}
