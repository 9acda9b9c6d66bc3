/* roots_test.c — lifetime of roots in the embedding API (SPEC §6.8, §10.6.5,
** §12; docs/embedding.md "Lifetime of a root"): a host that starts and joins
** many roots in one runtime keeps its memory bounded, while the descendants
** cancelled at each root's end may still be running on the workers and
** reading the tree's global store. Suite unit (ASan checks the frees). */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hiko.h"
#include "api_check.h"

#if defined(__SANITIZE_ADDRESS__)
/* <sanitizer/allocator_interface.h>, which not every compiler ships. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Bytes the process has allocated and not freed (the allocator's own count,
** not RSS: ASan's quarantine and glibc's free lists would hide a leak or
** show one that is not there). */
static size_t allocated_bytes(void) {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#endif
}

static void discard(void *ud, const char *data, size_t len) {
  (void)ud;
  (void)data;
  (void)len;
}

static hiko_runtime_t *make_rt(unsigned workers) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = workers;
  cfg.out = discard;
  cfg.err = discard;
  hiko_runtime_t *rt;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), 0);
  return rt;
}

/* Every process of every tree has terminated (statistics: created =
** done + failed + cancelled), within 10 s. */
static void wait_all_ended(hiko_runtime_t *rt) {
  for (int i = 0; i < 10000; i++) {
    hiko_stats_t s;
    cr_assert_eq(hiko_stats_get(rt, &s), 0);
    uint64_t live = s.processes - s.done - s.failed - s.cancelled;
    hiko_stats_clear(&s);
    if (live == 0) return;
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  cr_assert_fail("processes still live after 10 s");
}

/* A global store of a few KB (a 300-element list and a string), exported at
** the first spawn; children that block forever, spin reading the store, or
** spawn grandchildren (detached too), all cancelled when the root ends. */
#define COMMON                                                                   \
  "fun upto i n = if i > n then [] else i :: upto (i + 1) n\n"                   \
  "val table = upto 1 300\n"                                                     \
  "val name = \"a global string that lives in the tree's store\"\n"              \
  "fun len (xs : Int list) = case xs of [] => 0 | _ :: t => 1 + len t\n"         \
  "fun spin k = if k = 0 then 0 else len table + spin (k - 1)\n"                 \
  "fun kids d = if d = 0 then spin 100000 else\n"                                \
  "  let val _ = spawn (fn () => kids (d - 1))\n"                                \
  "      val _ = spawn_detached (fn () => kids (d - 1)) in spin 100000 end\n"

static const char *const progs[] = {
    /* done, with blocked and running children left behind */
    COMMON "val _ = spawn (fn () => receive_message ())\n"
           "val _ = spawn (fn () => kids 2)\n"
           "val _ = println (len table)\n",
    /* failed, likewise */
    COMMON "val _ = spawn (fn () => receive_message ())\n"
           "val _ = spawn (fn () => kids 1)\n"
           "val _ = panic name\n",
    /* done, with a joined child and no store use by children */
    "val p = spawn (fn () => 21 * 2)\nval _ = println (await_process p)\n",
};
#define NPROGS (sizeof progs / sizeof progs[0])

/* Starts root [i] (program i mod NPROGS) and joins it, checking its outcome. */
static void one_root(hiko_runtime_t *rt, hiko_program_t *const *p, long i) {
  hiko_pid_t root;
  size_t k = (size_t)i % NPROGS;
  cr_assert_eq(hiko_spawn_main(rt, p[k], &root), 0);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, root, &r, 20000), 0, "root %ld", i);
  if (k == 1) {
    cr_assert_eq(r.status, HIKO_FAILED);
    cr_assert_str_eq(r.message, "a global string that lives in the tree's store");
  } else {
    cr_assert_eq(r.status, HIKO_DONE, "root %ld: %s", i, r.message ? r.message : "");
  }
  hiko_result_clear(&r);
  /* A join releases the root: its pid is unknown to a second join. */
  cr_assert_eq(hiko_join(rt, root, &r, 0), -ENOENT);
}

Test(roots, many_joined_roots_stay_bounded, .timeout = 300) {
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *p[NPROGS];
  for (size_t k = 0; k < NPROGS; k++) p[k] = compile(rt, progs[k]);
  cr_assert_eq(hiko_start(rt), 0);
  const long warm = 1000, total = 10000;
  for (long i = 0; i < warm; i++) one_root(rt, p, i);
  wait_all_ended(rt);
  size_t before = allocated_bytes();
  for (long i = warm; i < total; i++) one_root(rt, p, i);
  wait_all_ended(rt);
  size_t after = allocated_bytes();
  /* Kept per root before the fix: its store (~10 KB: 300 list cells, the
  ** string, slot arrays), result and record: 9,000 roots kept > 50 MB. Now
  ** only caches (block cache, message arenas) may grow a little. */
  long growth = (long)after - (long)before;
  cr_log_info("allocated: %zu -> %zu bytes after %ld more roots", before, after, total - warm);
  cr_assert_lt(growth, 2L << 20, "grew %ld bytes over %ld roots", growth, total - warm);
  hiko_stats_t s;
  cr_assert_eq(hiko_stats_get(rt, &s), 0);
  cr_assert_geq(s.cancelled, (uint64_t)total / NPROGS * 2, "children were cancelled");
  hiko_stats_clear(&s);
  teardown(rt, NULL, p[0], p[1]);
  hiko_program_release(p[2]);
}

/* hiko_run, then join (the usual pattern of a one-shot host), in a loop on
** one runtime; the program is released by the host before its roots end:
** the tree keeps it alive until its last process is gone. */
Test(roots, run_join_loop_program_released_early, .timeout = 120) {
  hiko_runtime_t *rt = make_rt(2);
  for (int i = 0; i < 100; i++) {
    hiko_program_t *p = compile(rt, progs[i % 2]);
    hiko_pid_t root;
    cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
    hiko_program_release(p);
    cr_assert_eq(hiko_run(rt), 0);
    hiko_result_t r;
    cr_assert_eq(hiko_join(rt, root, &r, -1), 0);
    cr_assert_eq(r.status, i % 2 ? HIKO_FAILED : HIKO_DONE);
    hiko_result_clear(&r);
  }
  teardown(rt, NULL, NULL, NULL);
}

/* A root that is never joined keeps its outcome until the runtime is
** destroyed (a join after its tree has ended still reports it). */
Test(roots, unjoined_root_keeps_outcome, .timeout = 60) {
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *p = compile(rt, progs[1]);
  hiko_pid_t a, b;
  cr_assert_eq(hiko_spawn_main(rt, p, &a), 0);
  cr_assert_eq(hiko_spawn_main(rt, p, &b), 0);
  cr_assert_eq(hiko_run(rt), 0);
  wait_all_ended(rt);
  expect_end(rt, b, HIKO_FAILED, "a global string that lives in the tree's store");
  /* a is left for hiko_runtime_destroy to free (ASan/LSan: no leak). */
  teardown(rt, NULL, p, NULL);
  (void)a;
}
