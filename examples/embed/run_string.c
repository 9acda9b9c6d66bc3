/* run_string.c — a C host that compiles hiko source from strings, shows the
** diagnostics it gets back, runs a program to completion and reads its
** result, its failure value and the runtime statistics (SPEC §12).
** Run: ./run_string */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hiko.h"

/* Output of print goes through this callback (one call per print). */
static void out(void *ud, const char *data, size_t len) {
  fprintf(stdout, "[hiko] %.*s", (int)len, data);
  (void)ud;
}

static hiko_program_t *compile(hiko_runtime_t *rt, const char *name, const char *src) {
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  int rc = hiko_compile_string(rt, name, src, strlen(src), &p, &d);
  for (size_t i = 0; i < hiko_diags_count(d); i++) {
    const hiko_diag_t *g = hiko_diags_get(d, i);
    printf("diagnostic: %s:%u:%u: %s\n", g->file, g->line, g->col, g->message);
  }
  hiko_diags_free(d);
  if (rc) printf("%s: %s\n", name, hiko_strerror(rc));
  return p;
}

int main(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.out = out;
  cfg.detect_deadlock = true;
  hiko_runtime_t *rt;
  if (hiko_runtime_create(&rt, &cfg)) return 1;

  /* A program with a type error: the host gets the diagnostics. */
  hiko_program_t *bad = compile(rt, "bad.hml", "val x = 1 + \"one\"\n");
  if (bad) return 1;

  /* A program that fans out work to processes and fails at the end. */
  hiko_program_t *p = compile(rt, "fib.hml",
      "fun fib n = if n < 2 then n else fib (n - 1) + fib (n - 2)\n"
      "val ps = [spawn (fn () => fib 20), spawn (fn () => fib 21)]\n"
      "fun sum xs = case xs of [] => 0 | p :: r => await_process p + sum r\n"
      "val _ = println (sum ps)\n"
      "val _ = panic \"finished on purpose\"\n");
  if (!p) return 1;
  hiko_pid_t root;
  hiko_result_t res;
  if (hiko_spawn_main(rt, p, &root) || hiko_run(rt) || hiko_join(rt, root, &res, -1)) return 1;
  char *failure = NULL;
  if (res.failure) hiko_value_show(res.failure, &failure);
  printf("status %s, message \"%s\", failure %s\n", res.status == HIKO_FAILED ? "failed" : "done",
         res.message ? res.message : "", failure ? failure : "-");
  int ok = res.status == HIKO_FAILED && failure && strcmp(failure, "RuntimeError finished on purpose") == 0;
  hiko_free(failure);
  hiko_result_clear(&res);

  hiko_stats_t st;
  if (hiko_stats_get(rt, &st) == 0) {
    printf("processes %llu (done %llu, failed %llu) on %u workers\n",
           (unsigned long long)st.processes, (unsigned long long)st.done,
           (unsigned long long)st.failed, st.workers);
    ok = ok && st.processes == 3 && st.done == 2 && st.failed == 1;
    hiko_stats_clear(&st);
  }
  hiko_runtime_destroy(rt);
  hiko_program_release(p);
  return ok ? 0 : 1;
}
