/* deadlock_test.c — the deadlock check (SPEC §6.9, §10.8) run by a thread
** that collects the tasks it readies, as the I/O thread does after each
** batch of completions (runtime/rtio.c on_batch_end, sched/
** hk_sched_defer_begin). The processes it dooms must reach the workers
** before the check returns: the I/O thread may sleep right after it, with
** no timer pending and every worker parked. Suite unit. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "hiko.h"
#include "api_out.h"
#include "runtime/rt.h"
#include "sched/sched.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

Test(runtime_deadlock, check_from_a_collecting_thread_wakes_at_once) {
  hiko_config_t cfg;
  out_config(&cfg, 2);
  cfg.detect_deadlock = false; /* the workers must not find it first */
  hiko_runtime_t *rt = create_rt(&cfg);
  const char *src = "val _ = println \"waiting\"\nval _ = receive_message ()\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  cr_assert_eq(hiko_compile_string(rt, "t.hml", src, strlen(src), &p, &d), 0);
  hiko_diags_free(d);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_eq(hiko_start(rt), 0);
  /* The root blocks in its receive and every worker parks; a loaded
  ** machine only makes this take longer. */
  for (int i = 0; i < 20000 && !(out.n > 0 && hk_sched_all_idle(rt->sched)); i++)
    sleep_ms(1);
  cr_assert(hk_sched_all_idle(rt->sched), "the workers never parked");
  rt->cfg.detect_deadlock = true;
  hk_sched_defer_begin(rt->sched); /* this thread now collects, like the I/O thread */
  hk_rt_check_deadlock(rt);
  hiko_result_t r;
  /* Nothing else flushes this thread's list: without the check's own
  ** flush the root never runs and the join times out. */
  int rc = hiko_join(rt, root, &r, 10000);
  hk_sched_defer_flush(rt->sched); /* lets shutdown finish if the check did not */
  cr_assert_eq(rc, 0, "the doomed root never ran (join: %d)", rc);
  cr_expect_eq(r.status, HIKO_FAILED);
  cr_expect(r.message && strstr(r.message, "deadlock"), "message: %s", r.message ? r.message : "(none)");
  hiko_result_clear(&r);
  hiko_program_release(p);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}
