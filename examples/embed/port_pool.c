/* port_pool.c — a C host that feeds work to a pool of hiko processes
** through a port (SPEC §12.3.2).
**
** The hiko program starts a pool of workers and hands their pids to the
** host; the host sends each job (reply-to pid, n) to a worker, collects the
** answers (n, n*n) on its port, checks them, and finally tells the root to
** finish. Build: see examples/meson.build; run: ./port_pool [jobs]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hiko.h"

static const char program[] =
    "fun worker () =\n"
    "  case receive_message () of\n"
    "    (reply, n) => let val _ = send_message (reply, (n, n * n)) in worker () end\n"
    "fun pool k acc = if k = 0 then acc else pool (k - 1) (spawn worker :: acc)\n"
    "val port = receive_message ()\n"
    "val _ = send_message (port, pool 4 [])\n"
    "val _ = receive_message ()   (* the host says: done *)\n";

static int check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "port_pool: %s: %s\n", what, hiko_strerror(rc));
    exit(1);
  }
  return rc;
}

int main(int argc, char **argv) {
  long jobs = argc > 1 ? atol(argv[1]) : 1000;
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  hiko_runtime_t *rt;
  check(hiko_runtime_create(&rt, &cfg), "runtime");

  hiko_program_t *prog;
  hiko_diags_t *diags;
  check(hiko_compile_string(rt, "pool.hml", program, strlen(program), &prog, &diags), "compile");
  hiko_diags_free(diags);

  hiko_port_t *port;
  check(hiko_port_open(rt, &port), "port");
  hiko_pid_t root;
  check(hiko_spawn_main(rt, prog, &root), "spawn");
  check(hiko_start(rt), "start");

  /* 1. Give the program our port's pid; get the pool's pids back. */
  hiko_value_t *me, *pool;
  check(hiko_value_pid(hiko_port_pid(port), &me), "value");
  check(hiko_send(rt, root, me), "send");
  check(hiko_port_recv(port, &pool, 10000), "receive pool");
  size_t nworkers = hiko_value_count(pool);
  printf("pool of %zu workers\n", nworkers);

  /* 2. Feed the jobs round-robin; the workers answer on the port. */
  for (long n = 1; n <= jobs; n++) {
    hiko_value_t *items[2], *job;
    check(hiko_value_pid(hiko_port_pid(port), &items[0]), "value");
    check(hiko_value_int(n, &items[1]), "value");
    check(hiko_value_tuple(items, 2, &job), "value");
    check(hiko_send(rt, hiko_value_get_pid(hiko_value_at(pool, (size_t)n % nworkers)), job), "send");
    hiko_value_free(job);
  }
  long long sum = 0;
  for (long i = 0; i < jobs; i++) {
    hiko_value_t *answer;
    check(hiko_port_recv(port, &answer, 10000), "receive answer");
    int64_t n = hiko_value_get_int(hiko_value_at(answer, 0));
    int64_t sq = hiko_value_get_int(hiko_value_at(answer, 1));
    if (sq != n * n) {
      fprintf(stderr, "port_pool: wrong answer %lld for %lld\n", (long long)sq, (long long)n);
      return 1;
    }
    sum += sq;
    hiko_value_free(answer);
  }
  long long want = (long long)jobs * (jobs + 1) * (2 * jobs + 1) / 6;
  printf("sum of squares 1..%ld = %lld (%s)\n", jobs, sum, sum == want ? "ok" : "WRONG");

  /* 3. Tell the root to finish; its workers are cancelled with it. */
  hiko_value_t *done;
  check(hiko_value_unit(&done), "value");
  check(hiko_send(rt, root, done), "send");
  hiko_value_free(done);
  hiko_result_t res;
  check(hiko_join(rt, root, &res, 10000), "join");
  printf("root %s\n", res.status == HIKO_DONE ? "done" : res.message);
  int status = res.status == HIKO_DONE && sum == want ? 0 : 1;
  hiko_result_clear(&res);
  hiko_value_free(pool);
  hiko_value_free(me);
  hiko_port_close(port);
  hiko_runtime_destroy(rt);
  hiko_program_release(prog);
  return status;
}
