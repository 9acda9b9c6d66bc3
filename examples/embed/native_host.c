/* native_host.c — a C host that registers builtins (SPEC §12): `clamp`
** runs on the worker for one reduction, `slow_upper` runs on a helper
** thread while its caller is blocked (other processes keep running), and a
** failing call shows the "NAME: MESSAGE" failure a native produces.
** Run: ./native_host (prints the program's output; exit status 0 if it is
** what the host expects). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hiko.h"

static char output[1024];
static size_t output_len;

/* Output of print goes through this callback (one call per print). */
static void out(void *ud, const char *data, size_t len) {
  (void)ud;
  fwrite(data, 1, len, stdout);
  if (output_len + len < sizeof output) {
    memcpy(output + output_len, data, len);
    output_len += len;
  }
}

/* clamp : Int * Int * Int -> Int — fn borrows arg; *result is ours to give. */
static int clamp(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)ud;
  int64_t x = hiko_value_get_int(hiko_value_at(arg, 0));
  int64_t lo = hiko_value_get_int(hiko_value_at(arg, 1));
  int64_t hi = hiko_value_get_int(hiko_value_at(arg, 2));
  if (lo > hi) return hiko_call_fail(call, "empty range");
  return hiko_value_int(x < lo ? lo : x > hi ? hi : x, result);
}

/* slow_upper : String -> String — pretends to be slow (a blocking call). */
static int slow_upper(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result,
                      void *ud) {
  (void)ud;
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  if (hiko_call_cancelled(call)) return hiko_call_fail(call, "cancelled");
  size_t len;
  const char *s = hiko_value_get_string(arg, &len);
  char *u = malloc(len + 1);
  if (!u) return -ENOMEM; /* the caller fails with "slow_upper: STRERROR" */
  for (size_t i = 0; i < len; i++) u[i] = (char)toupper((unsigned char)s[i]);
  int rc = hiko_value_string(u, len, result);
  free(u);
  return rc;
}

static const char program[] =
    "val _ = println (clamp (42, 0, 10), clamp (~5, 0, 10))\n"
    "val words = [\"alpha\", \"beta\", \"gamma\"]\n"
    "fun start w = spawn (fn () => slow_upper w)\n"
    "fun each f xs = case xs of [] => [] | x :: r => f x :: each f r\n"
    "val ps = each start words\n"
    "val _ = println (each await_process ps)\n"
    "val _ = println (await_result (spawn (fn () => clamp (1, 5, 0))))\n";

static const char expected[] =
    "(10, 0)\n[ALPHA, BETA, GAMMA]\nErr (RuntimeError clamp: empty range)\n";

int main(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.helpers = 4;
  cfg.out = out;
  hiko_runtime_t *rt;
  if (hiko_runtime_create(&rt, &cfg)) return 1;
  /* Registration comes before the first compilation with this runtime. */
  if (hiko_register_builtin(rt, "clamp", "Int * Int * Int -> Int", clamp, NULL, 0) ||
      hiko_register_builtin(rt, "slow_upper", "String -> String", slow_upper, NULL,
                            HIKO_NATIVE_BLOCKING))
    return 1;
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  int rc = hiko_compile_string(rt, "native.hml", program, strlen(program), &p, &d);
  if (rc) {
    char *text = NULL;
    if (hiko_diags_render(d, &text) == 0) fputs(text, stderr);
    hiko_free(text);
  }
  hiko_diags_free(d);
  if (rc) return 1;
  hiko_pid_t root;
  hiko_result_t res;
  if (hiko_spawn_main(rt, p, &root) || hiko_run(rt) || hiko_join(rt, root, &res, -1)) return 1;
  int ok = res.status == HIKO_DONE && output_len == strlen(expected) &&
           memcmp(output, expected, output_len) == 0;
  if (!ok) fprintf(stderr, "native_host: unexpected output or status %d\n", res.status);
  hiko_result_clear(&res);
  hiko_runtime_destroy(rt);
  hiko_program_release(p);
  return ok ? 0 : 1;
}
