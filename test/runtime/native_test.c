/* native_test.c — native builtins (hiko_register_builtin, hiko_call_fail,
** hiko_call_cancelled) and loading serialized programs (hiko_program_load),
** SPEC §12, §11.4. Suite runtime_native. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hiko.h"
#include "api_out.h"

static hiko_runtime_t *make_rt(unsigned workers, unsigned helpers) {
  hiko_config_t cfg;
  out_config(&cfg, workers);
  cfg.helpers = helpers;
  cfg.detect_deadlock = true;
  return create_rt(&cfg);
}

/* Compiles [src]; returns the code and, on failure, the rendered
** diagnostics in *text (owned). */
static int compile(hiko_runtime_t *rt, const char *src, hiko_program_t **p, char **text) {
  hiko_diags_t *d = NULL;
  int rc = hiko_compile_string(rt, "test.hml", src, strlen(src), p, &d);
  if (text) *text = NULL;
  if (rc && text && d) hiko_diags_render(d, text);
  hiko_diags_free(d);
  return rc;
}

static hiko_program_t *compile_ok(hiko_runtime_t *rt, const char *src) {
  hiko_program_t *p = NULL;
  char *text = NULL;
  int rc = compile(rt, src, &p, &text);
  if (rc) cr_log_error("%s", text ? text : "(no diagnostics)");
  free(text);
  cr_assert_eq(rc, 0);
  return p;
}

/* Runs [p] as a root to its end. */
static void run(hiko_runtime_t *rt, hiko_program_t *p, hiko_result_t *res) {
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_eq(hiko_run(rt), 0);
  cr_assert_eq(hiko_join(rt, root, res, -1), 0);
}

/* ---- Natives used by the tests ---- */

static int add3(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  int64_t *calls = ud;
  (*calls)++;
  int64_t s = 0;
  for (size_t i = 0; i < hiko_value_count(arg); i++) s += hiko_value_get_int(hiko_value_at(arg, i));
  return hiko_value_int(s, result);
}

/* Blocking: a string repeated n times, built on a helper thread. */
static int repeat(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  (void)ud;
  size_t len;
  const char *s = hiko_value_get_string(hiko_value_at(arg, 0), &len);
  int64_t n = hiko_value_get_int(hiko_value_at(arg, 1));
  if (n < 0) return hiko_call_fail(call, "negative count");
  char *buf = malloc(len * (size_t)n + 1);
  if (!buf) return -ENOMEM;
  for (int64_t i = 0; i < n; i++) memcpy(buf + (size_t)i * len, s, len);
  int rc = hiko_value_string(buf, len * (size_t)n, result);
  free(buf);
  return rc;
}

static int always_fail(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)arg;
  (void)result;
  (void)ud;
  return hiko_call_fail(call, "no such widget");
}

static int errno_fail(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  (void)arg;
  (void)result;
  (void)ud;
  return -ENOENT;
}

typedef struct slow_state {
  _Atomic int started, saw_cancel, finished;
} slow_state_t;

/* Blocking: waits (up to 10 s) until its caller is cancelled, then returns
** a result that nobody takes (freed by the runtime: ASan checks it). */
static int slow(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)arg;
  slow_state_t *st = ud;
  atomic_store(&st->started, 1);
  for (int i = 0; i < 10000 && !hiko_call_cancelled(call); i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  atomic_store(&st->saw_cancel, hiko_call_cancelled(call));
  int rc = hiko_value_string("too late", 8, result);
  atomic_store(&st->finished, 1);
  return rc;
}

/* Returns the string "oops" (or a list of n Ints with ud non-NULL). */
static int shaped(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  if (!ud) return hiko_value_string("oops", 4, result);
  hiko_value_t *items[8];
  int64_t n = hiko_value_get_int(arg);
  for (int64_t i = 0; i < n && i < 8; i++) hiko_value_int(i, &items[i]);
  return hiko_value_list(items, (size_t)(n < 8 ? n : 8), result);
}

typedef struct busy_state {
  _Atomic int running, max;
} busy_state_t;

/* Blocking: records how many calls run at once. */
static int busy(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  busy_state_t *st = ud;
  int now = atomic_fetch_add(&st->running, 1) + 1;
  int m = atomic_load(&st->max);
  while (now > m && !atomic_compare_exchange_weak(&st->max, &m, now)) {
  }
  struct timespec ts = {0, 20 * 1000000};
  nanosleep(&ts, NULL);
  atomic_fetch_sub(&st->running, 1);
  return hiko_value_int(hiko_value_get_int(arg) * 2, result);
}

/* Int -> Int outcome: Ok n for n >= 0, Err (RuntimeError "negative")
** otherwise, built with no program (the prelude's constructors). */
static int checked(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  (void)ud;
  int64_t n = hiko_value_get_int(arg);
  hiko_value_t *pl = NULL, *msg = NULL;
  int rc;
  if (n >= 0) {
    rc = hiko_value_int(n, &pl);
    if (!rc) rc = hiko_value_data(NULL, "Ok", pl, result);
  } else {
    rc = hiko_value_string("negative", 8, &msg);
    if (!rc) rc = hiko_value_data(NULL, "RuntimeError", msg, &pl);
    if (!rc) msg = NULL;
    if (!rc) rc = hiko_value_data(NULL, "Err", pl, result);
  }
  if (rc) {
    hiko_value_free(pl);
    hiko_value_free(msg);
  }
  return rc;
}

/* ---- Tests ---- */

Test(runtime_native, sync_builtin) {
  hiko_runtime_t *rt = make_rt(2, 0);
  int64_t calls = 0;
  cr_assert_eq(hiko_register_builtin(rt, "add3", "Int * Int * Int -> Int", add3, &calls, 0), 0);
  hiko_program_t *p = compile_ok(rt,
      "fun map f xs = case xs of [] => [] | x :: r => f x :: map f r\n"
      "val f = add3\n"
      "val _ = println (add3 (1, 2, 3))\n"
      "val xs = map (fn i => f (i, i, i)) [1, 2, 3]\n"
      "val _ = println xs\n"
      "val c = spawn (fn () => add3 (10, 20, 30))\n"
      "val _ = println (await_process c)\n");
  hiko_result_t res;
  run(rt, p, &res);
  cr_assert_eq(res.status, HIKO_DONE, "%s", res.message ? res.message : "");
  cr_assert_str_eq(out.data, "6\n[3, 6, 9]\n60\n");
  cr_assert_eq(calls, 5);
  hiko_result_clear(&res);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

Test(runtime_native, blocking_builtin) {
  hiko_runtime_t *rt = make_rt(2, 2);
  cr_assert_eq(hiko_register_builtin(rt, "repeat", "String * Int -> String", repeat, NULL,
                                     HIKO_NATIVE_BLOCKING), 0);
  hiko_program_t *p = compile_ok(rt,
      "val _ = println (repeat (\"ab\", 3))\n"
      "fun map f xs = case xs of [] => [] | x :: r => f x :: map f r\n"
      "fun go i = spawn (fn () => string_length (repeat (\"x\", i)))\n"
      "val ps = map go [1, 2, 3, 4, 5, 6, 7, 8]\n"
      "val _ = println (map await_process ps)\n");
  hiko_result_t res;
  run(rt, p, &res);
  cr_assert_eq(res.status, HIKO_DONE, "%s", res.message ? res.message : "");
  cr_assert_str_eq(out.data, "ababab\n[1, 2, 3, 4, 5, 6, 7, 8]\n");
  hiko_result_clear(&res);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

Test(runtime_native, call_fail_message) {
  hiko_runtime_t *rt = make_rt(1, 0);
  cr_assert_eq(hiko_register_builtin(rt, "widget", "Int -> String", always_fail, NULL, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "repeat", "String * Int -> String", repeat, NULL,
                                     HIKO_NATIVE_BLOCKING), 0);
  hiko_program_t *p = compile_ok(rt,
      "val _ = println (await_result (spawn (fn () => repeat (\"a\", ~1))))\n"
      "val _ = widget 1\n");
  hiko_result_t res;
  run(rt, p, &res);
  cr_assert_eq(res.status, HIKO_FAILED);
  cr_assert_str_eq(res.message, "widget: no such widget");
  cr_assert_str_eq(out.data, "Err (RuntimeError repeat: negative count)\n");
  hiko_result_clear(&res);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

Test(runtime_native, errno_failure_message) {
  hiko_runtime_t *rt = make_rt(1, 0);
  cr_assert_eq(hiko_register_builtin(rt, "open_thing", "String -> Unit", errno_fail, NULL, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "open_thing_b", "String -> Unit", errno_fail, NULL,
                                     HIKO_NATIVE_BLOCKING), 0);
  hiko_program_t *p = compile_ok(rt,
      "val _ = println (await_result (spawn (fn () => open_thing_b \"x\")))\n"
      "val _ = open_thing \"x\"\n");
  hiko_result_t res;
  run(rt, p, &res);
  cr_assert_eq(res.status, HIKO_FAILED);
  char want[256];
  snprintf(want, sizeof want, "open_thing: %s", strerror(ENOENT));
  cr_assert_str_eq(res.message, want);
  snprintf(want, sizeof want, "Err (RuntimeError open_thing_b: %s)\n", strerror(ENOENT));
  cr_assert_str_eq(out.data, want);
  hiko_result_clear(&res);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

Test(runtime_native, cancel_during_blocking_call) {
  hiko_runtime_t *rt = make_rt(2, 1);
  slow_state_t st = {0};
  cr_assert_eq(hiko_register_builtin(rt, "slow", "Unit -> String", slow, &st,
                                     HIKO_NATIVE_BLOCKING), 0);
  hiko_program_t *p = compile_ok(rt,
      "val c = spawn (fn () => slow ())\n"
      "val _ = sleep 100\n"
      "val _ = cancel c\n"
      "val _ = println (await_result c)\n");
  hiko_result_t res;
  run(rt, p, &res);
  cr_assert_eq(res.status, HIKO_DONE, "%s", res.message ? res.message : "");
  cr_assert_str_eq(out.data, "Err Cancelled\n");
  hiko_result_clear(&res);
  cr_assert_eq(hiko_runtime_destroy(rt), 0); /* waits for fn */
  cr_assert_eq(atomic_load(&st.started), 1);
  cr_assert_eq(atomic_load(&st.saw_cancel), 1);
  cr_assert_eq(atomic_load(&st.finished), 1);
  hiko_program_release(p);
}

Test(runtime_native, registration_errors) {
  hiko_runtime_t *rt = make_rt(1, 0);
  int64_t calls = 0;
  cr_assert_eq(hiko_register_builtin(rt, "add3", "Int * Int * Int -> Int", add3, &calls, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "add3", "Int -> Int", add3, &calls, 0), -EEXIST);
  cr_assert_eq(hiko_register_builtin(rt, "println", "Int -> Unit", add3, &calls, 0), -EEXIST);
  cr_assert_eq(hiko_register_builtin(rt, "bad", "Int -> -> Int", add3, &calls, 0), HIKO_ECOMPILE);
  cr_assert_eq(hiko_register_builtin(rt, "bad2", "Widget -> Int", add3, &calls, 0), HIKO_ECOMPILE);
  cr_assert_eq(hiko_register_builtin(rt, "first", "'a * 'b -> 'a", add3, &calls, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "Upper", "Int -> Int", add3, &calls, 0), -EINVAL);
  hiko_program_t *p = compile_ok(rt, "val x = add3 (1, 2, 3)\n");
  cr_assert_eq(hiko_register_builtin(rt, "late", "Int -> Int", add3, &calls, 0), HIKO_ESTATE);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

Test(runtime_native, wrong_type_is_compile_error) {
  hiko_runtime_t *rt = make_rt(1, 0);
  int64_t calls = 0;
  cr_assert_eq(hiko_register_builtin(rt, "add3", "Int * Int * Int -> Int", add3, &calls, 0), 0);
  hiko_program_t *p = NULL;
  char *text = NULL;
  cr_assert_eq(compile(rt, "val s = add3 (1, \"two\", 3)\n", &p, &text), HIKO_ECOMPILE);
  cr_assert_null(p);
  cr_assert(text && strstr(text, "error"), "%s", text ? text : "");
  free(text);
  cr_assert_eq(compile(rt, "val s : String = add3 (1, 2, 3)\n", &p, &text), HIKO_ECOMPILE);
  free(text);
  /* Without the runtime only the standard builtins exist. */
  cr_assert_eq(compile(NULL, "val x = add3 (1, 2, 3)\n", &p, &text), HIKO_ECOMPILE);
  cr_assert(text && strstr(text, "add3"), "%s", text ? text : "");
  free(text);
  cr_assert_eq(calls, 0);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

static const char dump_src[] =
    "datatype shape = Circle of Float | Square of Float\n"
    "fun area s = case s of Circle r => 3.0 *. r *. r | Square a => a *. a\n"
    "fun map f xs = case xs of [] => [] | x :: r => f x :: map f r\n"
    "val c = spawn (fn () => area (Square 3.0))\n"
    "val _ = println (map area [Circle 1.0, Square 2.0], await_process c)\n";

Test(runtime_native, dump_load_run) {
  hiko_runtime_t *rt = make_rt(2, 0);
  hiko_program_t *p = compile_ok(rt, dump_src);
  cr_assert_eq(hiko_register_builtin(rt, "late", "Int -> Int", add3, NULL, 0), HIKO_ESTATE);
  hiko_result_t res;
  run(rt, p, &res);
  cr_assert_eq(res.status, HIKO_DONE);
  hiko_result_clear(&res);
  char first[4096];
  strcpy(first, out.data);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);

  void *buf;
  size_t len;
  cr_assert_eq(hiko_program_dump(p, &buf, &len), 0);
  hiko_program_release(p);
  rt = make_rt(2, 0);
  hiko_program_t *q = NULL;
  hiko_diags_t *d = NULL;
  cr_assert_eq(hiko_program_load(rt, buf, len, &q, &d), 0);
  cr_assert_null(d);
  hiko_free(buf);
  run(rt, q, &res);
  cr_assert_eq(res.status, HIKO_DONE);
  hiko_result_clear(&res);
  cr_assert_str_eq(out.data, first);
  cr_assert_str_eq(out.data, "([3, 4], 9)\n");
  /* A loaded program names its constructors for hiko_value_data. */
  hiko_value_t *f, *v;
  cr_assert_eq(hiko_value_float(1.0, &f), 0);
  cr_assert_eq(hiko_value_data(q, "Circle", f, &v), 0);
  hiko_value_free(v);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(q);
}

Test(runtime_native, corrupted_buffer_rejected) {
  hiko_program_t *p = compile_ok(NULL, dump_src);
  void *buf;
  size_t len;
  cr_assert_eq(hiko_program_dump(p, &buf, &len), 0);
  hiko_program_release(p);
  unsigned char *b = buf;
  const char *cases[3] = {"magic", "truncated", "trailing byte"};
  for (int k = 0; k < 3; k++) {
    unsigned char *c = malloc(len + 1);
    memcpy(c, b, len);
    c[len] = 0;
    size_t n = len;
    if (k == 0) c[0] = 'X';
    else if (k == 1) n = len / 2;
    else n = len + 1;
    hiko_program_t *q = NULL;
    hiko_diags_t *d = NULL;
    int rc = hiko_program_load(NULL, c, n, &q, &d);
    cr_assert_eq(rc, HIKO_EBYTECODE, "%s: %d", cases[k], rc);
    cr_assert_null(q);
    cr_assert_eq(hiko_diags_count(d), 1);
    const hiko_diag_t *g = hiko_diags_get(d, 0);
    cr_assert(g->is_error);
    cr_assert(strncmp(g->message, "invalid bytecode: ", 18) == 0, "%s", g->message);
    cr_assert_gt(strlen(g->message), 18);
    char *text = NULL;
    cr_assert_eq(hiko_diags_render(d, &text), 0);
    cr_assert(strstr(text, "error: invalid bytecode: "), "%s", text);
    hiko_free(text);
    hiko_diags_free(d);
    free(c);
  }
  hiko_free(buf);
}

static int doubled(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  (void)ud;
  return hiko_value_int(hiko_value_get_int(arg) * 2, result);
}

/* Loads [buf] into [rt]; returns the code and the diagnostic, if any. */
static int load(hiko_runtime_t *rt, const void *buf, size_t len, hiko_program_t **q, char *msg,
                size_t cap) {
  hiko_diags_t *d = NULL;
  int rc = hiko_program_load(rt, buf, len, q, &d);
  msg[0] = '\0';
  if (d && hiko_diags_count(d)) snprintf(msg, cap, "%s", hiko_diags_get(d, 0)->message);
  hiko_diags_free(d);
  return rc;
}

/* SPEC §11.2, §11.4.2: a program that imports registered natives is dumped
** with their names and types; loading resolves them against the loading
** runtime's registry and rejects an unknown one or one of another type. The
** dump still works after the compiling runtime is gone. */
Test(runtime_native, dump_of_program_with_native) {
  hiko_runtime_t *rt = make_rt(1, 0);
  int64_t calls = 0;
  cr_assert_eq(hiko_register_builtin(rt, "add3", "Int * Int * Int -> Int", add3, &calls, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "dbl", "Int -> Int", doubled, NULL, 0), 0);
  hiko_program_t *p = compile_ok(rt, "val f = dbl\nval _ = println (f (add3 (1, 2, 3)))\n");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  void *buf = NULL;
  size_t len = 0;
  cr_assert_eq(hiko_program_dump(p, &buf, &len), 0);
  hiko_program_release(p);

  /* The same natives (registered in another order): runs. */
  rt = make_rt(2, 0);
  cr_assert_eq(hiko_register_builtin(rt, "dbl", "Int -> Int", doubled, NULL, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "add3", "Int * Int * Int -> Int", add3, &calls, 0), 0);
  hiko_program_t *q = NULL;
  char msg[256];
  cr_assert_eq(load(rt, buf, len, &q, msg, sizeof msg), 0, "%s", msg);
  hiko_result_t res;
  run(rt, q, &res);
  cr_assert_eq(res.status, HIKO_DONE, "%s", res.message ? res.message : "");
  cr_assert_str_eq(out.data, "12\n");
  cr_assert_eq(calls, 1);
  hiko_result_clear(&res);
  /* Its own dump is the same program again. */
  void *again = NULL;
  size_t alen = 0;
  cr_assert_eq(hiko_program_dump(q, &again, &alen), 0);
  cr_assert_eq(alen, len);
  cr_assert_eq(memcmp(again, buf, len), 0);
  hiko_free(again);
  hiko_program_release(q);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);

  /* Missing, or of another type: rejected, never run. */
  rt = make_rt(1, 0);
  cr_assert_eq(hiko_register_builtin(rt, "add3", "Int * Int * Int -> Int", add3, &calls, 0), 0);
  cr_assert_eq(load(rt, buf, len, &q, msg, sizeof msg), HIKO_EBYTECODE);
  cr_assert_null(q);
  cr_assert_str_eq(msg, "invalid bytecode: unknown builtin 'dbl'");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  rt = make_rt(1, 0);
  cr_assert_eq(hiko_register_builtin(rt, "dbl", "Int -> String", doubled, NULL, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "add3", "Int * Int * Int -> Int", add3, &calls, 0), 0);
  cr_assert_eq(load(rt, buf, len, &q, msg, sizeof msg), HIKO_EBYTECODE);
  cr_assert(strstr(msg, "builtin 'dbl' has type"), "%s", msg);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  cr_assert_eq(load(NULL, buf, len, &q, msg, sizeof msg), HIKO_EBYTECODE);
  hiko_free(buf);
}

Test(runtime_native, helpers_cap_and_no_false_deadlock) {
  /* detect_deadlock is on: the root waits in await_process while its
  ** children wait for helpers; a pending native call is a possible waker. */
  hiko_runtime_t *rt = make_rt(2, 2);
  busy_state_t st = {0};
  cr_assert_eq(hiko_register_builtin(rt, "busy", "Int -> Int", busy, &st, HIKO_NATIVE_BLOCKING), 0);
  hiko_program_t *p = compile_ok(rt,
      "fun map f xs = case xs of [] => [] | x :: r => f x :: map f r\n"
      "fun go i = spawn (fn () => busy i)\n"
      "val ps = map go [1, 2, 3, 4, 5, 6]\n"
      "val _ = println (map await_process ps)\n"
      "val _ = println (busy 21)\n");
  hiko_result_t res;
  run(rt, p, &res);
  cr_assert_eq(res.status, HIKO_DONE, "%s", res.message ? res.message : "");
  cr_assert_str_eq(out.data, "[2, 4, 6, 8, 10, 12]\n42\n");
  cr_assert_leq(atomic_load(&st.max), 2);
  cr_assert_geq(atomic_load(&st.max), 1);
  hiko_result_clear(&res);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

Test(runtime_native, result_of_wrong_type_fails_the_caller) {
  hiko_runtime_t *rt = make_rt(1, 0);
  static int yes = 1;
  cr_assert_eq(hiko_register_builtin(rt, "liar", "Int -> Int", shaped, NULL, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "upto", "Int -> Int list", shaped, &yes, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "liar_list", "Int -> String list", shaped, &yes, 0), 0);
  hiko_program_t *p = compile_ok(rt,
      "val _ = println (upto 3)\n"
      "val _ = println (await_result (spawn (fn () => liar_list 2)))\n"
      "val _ = liar 1 + 1\n");
  hiko_result_t res;
  run(rt, p, &res);
  cr_assert_eq(res.status, HIKO_FAILED);
  cr_assert_str_eq(res.message, "liar: result does not have the registered type");
  cr_assert_str_eq(out.data, "[0, 1, 2]\nErr (RuntimeError liar_list: result does not have the "
                             "registered type)\n");
  hiko_result_clear(&res);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}

/* A native builds prelude values (SPEC §3.4) with hiko_value_data (NULL, ...):
** the program matches them as its own outcome and failure. Unknown names and
** wrong payloads are refused, and a program's own constructor is not found
** without the program. */
Test(runtime_native, prelude_values_without_a_program) {
  hiko_value_t *v = NULL, *i = NULL;
  cr_assert_eq(hiko_value_data(NULL, "Cancelled", NULL, &v), 0);
  cr_assert_str_eq(hiko_value_ctor(v), "Cancelled");
  hiko_value_free(v);
  cr_assert_eq(hiko_value_data(NULL, "Some", NULL, &v), -ENOENT);
  cr_assert_eq(hiko_value_data(NULL, "Ok", NULL, &v), -EINVAL);
  cr_assert_eq(hiko_value_int(1, &i), 0);
  cr_assert_eq(hiko_value_data(NULL, "AlreadyJoined", i, &v), -EINVAL);
  hiko_value_free(i);
  hiko_runtime_t *rt = make_rt(2, 0);
  cr_assert_eq(hiko_register_builtin(rt, "checked", "Int -> Int outcome", checked, NULL, 0), 0);
  hiko_program_t *p = compile_ok(rt,
      "fun show_o r = case r of Ok n => \"ok \" ^ int_to_string n\n"
      "  | Err (RuntimeError m) => \"err \" ^ m | Err _ => \"other\"\n"
      "val _ = println (show_o (checked 5))\n"
      "val _ = println (show_o (checked (~1)))\n"
      "val _ = println (checked 7)\n");
  hiko_result_t res;
  run(rt, p, &res);
  cr_assert_eq(res.status, HIKO_DONE, "%s", res.message ? res.message : "");
  cr_assert_str_eq(out.data, "ok 5\nerr negative\nOk 7\n");
  hiko_result_clear(&res);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  hiko_program_release(p);
}
