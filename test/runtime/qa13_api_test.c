/* qa13_api_test.c — QA of the embedding API (SPEC §12) written from the
** SPEC text and hiko.h's contracts: value constructors' error cases and what
** the caller keeps on failure, hiko_value_show against the program's own
** show (§5), diagnostics objects, joins and runtime states, exit codes
** through the API (§12.3.4), concurrent compiles (§12.2 "T: any"), native
** registration errors. Suite unit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hiko.h"
#include "api_check.h"

static hiko_runtime_t *new_rt(unsigned workers) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = workers;
  hiko_runtime_t *rt = NULL;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), 0);
  return rt;
}

static hiko_value_t *vint(int64_t n) {
  hiko_value_t *v = NULL;
  cr_assert_eq(hiko_value_int(n, &v), 0);
  return v;
}

/* ---- Value constructors: error codes, and the caller keeps its items ---- */

Test(qa13_api, char_rejects_surrogates_and_past_max) {
  hiko_value_t *v = NULL;
  cr_assert_eq(hiko_value_char(0xD800, &v), -EINVAL);
  cr_assert_eq(hiko_value_char(0xDFFF, &v), -EINVAL);
  cr_assert_eq(hiko_value_char(0x110000, &v), -EINVAL);
  cr_assert_eq(hiko_value_char(0xFFFFFFFFu, &v), -EINVAL);
  cr_assert_eq(hiko_value_char(0x10FFFF, &v), 0);
  cr_assert_eq(hiko_value_get_char(v), 0x10FFFF);
  hiko_value_free(v);
  cr_assert_eq(hiko_value_char(0, &v), 0);
  cr_assert_eq(hiko_value_kind(v), HIKO_CHAR);
  hiko_value_free(v);
}

Test(qa13_api, string_rejects_every_kind_of_bad_utf8) {
  static const char *bad[] = {
      "\xc0\x80",         /* overlong NUL */
      "\xe0\x80\xaf",     /* overlong */
      "\xed\xa0\x80",     /* surrogate D800 */
      "\xf4\x90\x80\x80", /* past U+10FFFF */
      "\x80",             /* lone continuation */
      "a\xe2\x82",        /* truncated at the end */
      "\xff",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    hiko_value_t *v = NULL;
    cr_assert_eq(hiko_value_string(bad[i], strlen(bad[i]), &v), -EILSEQ, "case %zu", i);
  }
  /* An embedded NUL is a valid scalar; the length is kept. */
  hiko_value_t *v = NULL;
  cr_assert_eq(hiko_value_string("a\0b", 3, &v), 0);
  size_t len = 0;
  const char *s = hiko_value_get_string(v, &len);
  cr_assert_eq(len, 3);
  cr_assert_eq(memcmp(s, "a\0b", 3), 0);
  hiko_value_free(v);
  /* Bytes take anything. */
  cr_assert_eq(hiko_value_bytes("\xff\x00", 2, &v), 0);
  cr_assert_eq(hiko_value_kind(v), HIKO_BYTES);
  s = hiko_value_get_string(v, &len);
  cr_assert_eq(len, 2);
  cr_assert_eq((unsigned char)s[0], 0xff);
  hiko_value_free(v);
}

/* SPEC §3.2: a tuple has n >= 2 components. On failure the caller keeps its
** items (§12.1.3), so freeing them afterwards must be fine (ASan build). */
Test(qa13_api, tuple_of_fewer_than_two_is_einval_and_items_stay) {
  hiko_value_t *items[1] = {vint(1)};
  hiko_value_t *t = NULL;
  cr_assert_eq(hiko_value_tuple(items, 1, &t), -EINVAL);
  cr_assert_eq(hiko_value_tuple(items, 0, &t), -EINVAL);
  cr_assert_eq(hiko_value_get_int(items[0]), 1);
  hiko_value_free(items[0]);
}

Test(qa13_api, empty_list_and_nested_counts) {
  hiko_value_t *l = NULL;
  cr_assert_eq(hiko_value_list(NULL, 0, &l), 0);
  cr_assert_eq(hiko_value_kind(l), HIKO_LIST);
  cr_assert_eq(hiko_value_count(l), 0);
  char *s = show(l);
  cr_assert_str_eq(s, "[]");
  hiko_free(s);
  hiko_value_free(l);
}

Test(qa13_api, data_errors_leave_the_payload_with_the_caller) {
  const char *src = "datatype t = A | B of Int | C of Int * String\n";
  hiko_runtime_t *rt = new_rt(1);
  hiko_program_t *p = compile(rt, src);
  hiko_value_t *pay = vint(7), *v = NULL;
  cr_assert_eq(hiko_value_data(p, "Nope", pay, &v), -ENOENT);
  cr_assert_eq(hiko_value_data(p, "A", pay, &v), -EINVAL);
  cr_assert_eq(hiko_value_data(p, "B", NULL, &v), -EINVAL);
  cr_assert_eq(hiko_value_data(NULL, "B", pay, &v), -ENOENT); /* not a prelude name */
  cr_assert_eq(hiko_value_get_int(pay), 7);
  cr_assert_eq(hiko_value_data(p, "B", pay, &v), 0); /* takes pay */
  cr_assert_eq(hiko_value_count(v), 1);
  cr_assert_str_eq(hiko_value_ctor(v), "B");
  cr_assert_eq(hiko_value_get_int(hiko_value_at(v, 0)), 7);
  hiko_value_free(v);
  cr_assert_eq(hiko_value_data(p, "A", NULL, &v), 0);
  cr_assert_eq(hiko_value_kind(v), HIKO_DATA);
  cr_assert_eq(hiko_value_count(v), 0);
  char *s = show(v);
  cr_assert_str_eq(s, "A");
  hiko_free(s);
  hiko_value_free(v);
  teardown(rt, NULL, p, NULL);
}

Test(qa13_api, prelude_failures_show_and_count) {
  hiko_value_t *m = NULL, *f = NULL, *g = NULL;
  cr_assert_eq(hiko_value_string("boom", 4, &m), 0);
  cr_assert_eq(hiko_value_data(NULL, "RuntimeError", m, &f), 0);
  cr_assert_eq(hiko_value_data(NULL, "ChildFailed", f, &g), 0);
  char *s = show(g);
  cr_assert_str_eq(s, "ChildFailed (RuntimeError boom)");
  hiko_free(s);
  hiko_value_free(g);
  hiko_value_t *items[2] = {vint(3), vint(-4)};
  hiko_value_t *t = NULL, *h = NULL;
  cr_assert_eq(hiko_value_tuple(items, 2, &t), 0);
  cr_assert_eq(hiko_value_data(NULL, "HeapLimit", t, &h), 0);
  s = show(h);
  cr_assert_str_eq(s, "HeapLimit (3, -4)");
  hiko_free(s);
  hiko_value_free(h);
}

/* ---- hiko_value_show against the program's own show (§5) ---- */

/* What the program printed (cfg.out). */
static struct {
  char text[4096];
  size_t n;
  pthread_mutex_t mu;
} printed = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void capture(void *ud, const char *data, size_t len) {
  (void)ud;
  pthread_mutex_lock(&printed.mu);
  if (printed.n + len < sizeof printed.text) {
    memcpy(printed.text + printed.n, data, len);
    printed.n += len;
    printed.text[printed.n] = '\0';
  }
  pthread_mutex_unlock(&printed.mu);
}

/* The root receives the value and prints it; the host compares the printed
** text with hiko_value_show of the value it sent. Takes v. */
static void show_both(hiko_runtime_t *rt, hiko_program_t *p, hiko_value_t *v) {
  pthread_mutex_lock(&printed.mu);
  printed.n = 0;
  printed.text[0] = '\0';
  pthread_mutex_unlock(&printed.mu);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  expect_end(rt, root, HIKO_DONE, NULL);
  char *mine = show(v);
  pthread_mutex_lock(&printed.mu);
  cr_assert_str_eq(printed.text, mine);
  pthread_mutex_unlock(&printed.mu);
  hiko_free(mine);
  hiko_value_free(v);
}

Test(qa13_api, value_show_matches_the_programs_show) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.out = capture;
  hiko_runtime_t *rt = NULL;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), 0);
  cr_assert_eq(hiko_start(rt), 0);
  /* One program per message type. */
  const char *src =
      "datatype 'a opt = None | Some of 'a\n"
      "val v = receive_message () : %s\n"
      "val _ = print v\n";
  char buf[512];
  /* Floats, including the §5 special cases. */
  double fl[] = {3.0, 0.1, 123.456, 1e21, 0.001, 2.5e-7, -0.0, 0.0, INFINITY, -INFINITY,
                 NAN, 5e-324, 1.7976931348623157e308, -1.5, 1e22, 123456789012345680.0};
  snprintf(buf, sizeof buf, src, "Float");
  hiko_program_t *pf = compile(rt, buf);
  for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
    hiko_value_t *v = NULL;
    cr_assert_eq(hiko_value_float(fl[i], &v), 0);
    show_both(rt, pf, v);
  }
  hiko_program_release(pf);
  /* Ints at the edges. */
  snprintf(buf, sizeof buf, src, "Int");
  hiko_program_t *pi = compile(rt, buf);
  int64_t in[] = {0, -1, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) show_both(rt, pi, vint(in[i]));
  hiko_program_release(pi);
  /* Chars and strings, raw at any depth. */
  snprintf(buf, sizeof buf, src, "(Char * String list) opt opt");
  hiko_program_t *pn = compile(rt, buf);
  {
    hiko_value_t *c = NULL, *s1 = NULL, *s2 = NULL, *l = NULL, *t = NULL, *o1 = NULL, *o2 = NULL;
    cr_assert_eq(hiko_value_char(0x1F600, &c), 0);
    cr_assert_eq(hiko_value_string("a \"q\"\n", 6, &s1), 0);
    cr_assert_eq(hiko_value_string("", 0, &s2), 0);
    hiko_value_t *li[2] = {s1, s2};
    cr_assert_eq(hiko_value_list(li, 2, &l), 0);
    hiko_value_t *ti[2] = {c, l};
    cr_assert_eq(hiko_value_tuple(ti, 2, &t), 0);
    cr_assert_eq(hiko_value_data(pn, "Some", t, &o1), 0);
    cr_assert_eq(hiko_value_data(pn, "Some", o1, &o2), 0);
    show_both(rt, pn, o2);
  }
  {
    hiko_value_t *n = NULL, *o = NULL;
    cr_assert_eq(hiko_value_data(pn, "None", NULL, &n), 0);
    cr_assert_eq(hiko_value_data(pn, "Some", n, &o), 0);
    show_both(rt, pn, o);
  }
  hiko_program_release(pn);
  /* Unit, Bool, Bytes, Pid, nested tuples. */
  snprintf(buf, sizeof buf, src, "(Unit * Bool) * (Bytes * Pid)");
  hiko_program_t *pt = compile(rt, buf);
  {
    hiko_value_t *u = NULL, *b = NULL, *by = NULL, *pd = NULL, *t1 = NULL, *t2 = NULL, *t = NULL;
    cr_assert_eq(hiko_value_unit(&u), 0);
    cr_assert_eq(hiko_value_bool(false, &b), 0);
    cr_assert_eq(hiko_value_bytes("abc", 3, &by), 0);
    cr_assert_eq(hiko_value_pid(12345, &pd), 0);
    hiko_value_t *a[2] = {u, b}, *c[2] = {by, pd};
    cr_assert_eq(hiko_value_tuple(a, 2, &t1), 0);
    cr_assert_eq(hiko_value_tuple(c, 2, &t2), 0);
    hiko_value_t *d[2] = {t1, t2};
    cr_assert_eq(hiko_value_tuple(d, 2, &t), 0);
    show_both(rt, pt, t);
  }
  hiko_program_release(pt);
  /* Negative payloads inside a constructor and a list of outcomes. */
  snprintf(buf, sizeof buf, src, "Int outcome list");
  hiko_program_t *po = compile(rt, buf);
  {
    hiko_value_t *ok = NULL, *er = NULL, *ca = NULL, *l = NULL;
    cr_assert_eq(hiko_value_data(NULL, "Ok", vint(-5), &ok), 0);
    cr_assert_eq(hiko_value_data(NULL, "Cancelled", NULL, &ca), 0);
    cr_assert_eq(hiko_value_data(NULL, "Err", ca, &er), 0);
    hiko_value_t *li[2] = {ok, er};
    cr_assert_eq(hiko_value_list(li, 2, &l), 0);
    show_both(rt, po, l);
  }
  hiko_program_release(po);
  cr_assert_eq(hiko_shutdown(rt), 0);
  teardown(rt, NULL, NULL, NULL);
}

/* ---- Diagnostics objects ---- */

Test(qa13_api, diags_warnings_only_success_and_positions) {
  const char *src = "fun f x = case x of 1 => 1 | 1 => 2 | _ => 3\nval _ = f 1\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  cr_assert_eq(hiko_compile_string(NULL, "w.hml", src, strlen(src), &p, &d), 0);
  cr_assert_not_null(p);
  cr_assert_not_null(d);
  cr_assert_eq(hiko_diags_count(d), 1);
  cr_assert_eq(hiko_diags_errors(d), 0);
  const hiko_diag_t *g = hiko_diags_get(d, 0);
  cr_assert_not_null(g);
  cr_assert_not(g->is_error);
  cr_assert_str_eq(g->file, "w.hml");
  cr_assert_eq(g->line, 1);
  cr_assert_eq(g->col, 30);
  cr_assert_null(hiko_diags_get(d, 1));
  char *text = NULL;
  cr_assert_eq(hiko_diags_render(d, &text), 0);
  cr_assert_str_eq(text,
                   "w.hml:1:30: warning: redundant match clause (clause 2)\n"
                   "fun f x = case x of 1 => 1 | 1 => 2 | _ => 3\n"
                   "                             ^\n");
  hiko_free(text);
  hiko_diags_free(d);
  hiko_program_release(p);
}

Test(qa13_api, diags_clean_compile_is_null_and_count_of_null_is_zero) {
  const char *src = "val x = 1\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = (hiko_diags_t *)&d; /* must be overwritten */
  cr_assert_eq(hiko_compile_string(NULL, "c.hml", src, strlen(src), &p, &d), 0);
  cr_assert_null(d);
  cr_assert_eq(hiko_diags_count(NULL), 0);
  cr_assert_null(hiko_diags_get(NULL, 0));
  hiko_diags_free(NULL);
  hiko_program_release(p);
}

Test(qa13_api, compile_error_position_uses_name) {
  const char *src = "val x = 1\nval y = x + \"s\"\n";
  hiko_program_t *p = (hiko_program_t *)&p;
  hiko_diags_t *d = NULL;
  cr_assert_eq(hiko_compile_string(NULL, "dir/named.hml", src, strlen(src), &p, &d),
               HIKO_ECOMPILE);
  cr_assert_eq(hiko_diags_errors(d), 1);
  const hiko_diag_t *g = hiko_diags_get(d, 0);
  cr_assert(g->is_error);
  cr_assert_str_eq(g->file, "dir/named.hml");
  cr_assert_eq(g->line, 2);
  cr_assert_eq(g->col, 13);
  cr_assert_str_eq(g->message, "type mismatch: expected Int, found String");
  hiko_diags_free(d);
}

Test(qa13_api, truncated_dump_is_ebytecode_with_one_unpositioned_error) {
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  const char *src = "val _ = println (1 + 2)\n";
  cr_assert_eq(hiko_compile_string(NULL, "d.hml", src, strlen(src), &p, &d), 0);
  void *buf = NULL;
  size_t len = 0;
  cr_assert_eq(hiko_program_dump(p, &buf, &len), 0);
  cr_assert_gt(len, 8);
  for (size_t cut = 0; cut < len; cut += (len / 16) + 1) {
    hiko_program_t *q = (hiko_program_t *)&q;
    d = NULL;
    cr_assert_eq(hiko_program_load(NULL, buf, cut, &q, &d), HIKO_EBYTECODE, "cut %zu", cut);
    cr_assert_eq(hiko_diags_count(d), 1);
    const hiko_diag_t *g = hiko_diags_get(d, 0);
    cr_assert(g->is_error);
    cr_assert_eq(g->line, 0);
    cr_assert_eq(strncmp(g->message, "invalid bytecode: ", 18), 0, "%s", g->message);
    hiko_diags_free(d);
  }
  hiko_program_t *q = NULL;
  d = NULL;
  cr_assert_eq(hiko_program_load(NULL, buf, len, &q, &d), 0);
  cr_assert_null(d);
  hiko_program_release(q);
  hiko_free(buf);
  hiko_program_release(p);
}

/* ---- Runtime states and joins ---- */

Test(qa13_api, start_twice_and_spawn_after_shutdown) {
  hiko_runtime_t *rt = new_rt(1);
  hiko_program_t *p = compile(rt, "val _ = 1\n");
  cr_assert_eq(hiko_start(rt), 0);
  cr_assert_eq(hiko_start(rt), HIKO_ESTATE);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  expect_end(rt, root, HIKO_DONE, NULL);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, root, &r, 0), -ENOENT);
  cr_assert_eq(hiko_shutdown(rt), 0);
  cr_assert_eq(hiko_spawn_main(rt, p, &root), HIKO_ESTATE);
  teardown(rt, NULL, p, NULL);
}

Test(qa13_api, join_timeout_zero_polls_then_cancelled_by_shutdown) {
  hiko_runtime_t *rt = new_rt(2);
  hiko_program_t *p = compile(rt, "val _ = receive_message () : Int\n");
  cr_assert_eq(hiko_start(rt), 0);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  hiko_result_t r;
  memset(&r, 0, sizeof r);
  cr_assert_eq(hiko_join(rt, root, &r, 0), -ETIMEDOUT);
  cr_assert_eq(hiko_join(rt, root, &r, 30), -ETIMEDOUT);
  cr_assert_eq(hiko_join(rt, root + 1000, &r, 0), -ENOENT);
  cr_assert_eq(hiko_shutdown(rt), 0);
  cr_assert_eq(hiko_join(rt, root, &r, 1000), 0);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_str_eq(r.message, "cancelled");
  cr_assert_str_eq(hiko_value_ctor(r.failure), "Cancelled");
  hiko_result_clear(&r);
  teardown(rt, NULL, p, NULL);
}

/* §12.3.4: the API reports n itself; only `hiko run` takes n & 255. */
Test(qa13_api, exit_code_is_not_truncated_by_the_api) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 1;
  cfg.allow_exit = true;
  int64_t codes[] = {300, -1, 0};
  for (size_t i = 0; i < 3; i++) {
    hiko_runtime_t *rt = NULL;
    cr_assert_eq(hiko_runtime_create(&rt, &cfg), 0);
    char src[64];
    snprintf(src, sizeof src, "val _ = exit (%s%lld)\n", codes[i] < 0 ? "~" : "",
             (long long)(codes[i] < 0 ? -codes[i] : codes[i]));
    hiko_program_t *p = compile(rt, src);
    hiko_pid_t root;
    cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
    cr_assert_eq(hiko_run(rt), 0);
    hiko_result_t r;
    cr_assert_eq(hiko_join(rt, root, &r, 1000), 0);
    cr_assert_eq(r.status, HIKO_EXITED);
    cr_assert_eq(r.exit_code, (int)codes[i]);
    hiko_result_clear(&r);
    teardown(rt, NULL, p, NULL);
  }
}

Test(qa13_api, destroy_while_running_cancels_without_shutdown) {
  hiko_runtime_t *rt = new_rt(2);
  hiko_program_t *p = compile(rt,
                              "fun spin n = if n < 0 then n else spin (n + 1)\n"
                              "val c = spawn (fn () => receive_message () : Int)\n"
                              "val _ = spin 0\n");
  cr_assert_eq(hiko_start(rt), 0);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, root, &r, 50), -ETIMEDOUT);
  teardown(rt, NULL, p, NULL);
}

/* ---- Ports ---- */

Test(qa13_api, port_recv_waits_for_a_late_message_and_times_out) {
  hiko_runtime_t *rt = new_rt(1);
  hiko_program_t *p = compile(rt,
                              "val port = receive_message () : Pid\n"
                              "val _ = sleep 50\n"
                              "val _ = send_message (port, \"late\")\n");
  cr_assert_eq(hiko_start(rt), 0);
  hiko_port_t *port = NULL;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_value_t *v = NULL, *got = NULL;
  cr_assert_eq(hiko_port_recv(port, &got, 0), -EAGAIN);
  cr_assert_eq(hiko_port_recv(port, &got, 10), -ETIMEDOUT);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_eq(hiko_value_pid(hiko_port_pid(port), &v), 0);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  hiko_value_free(v);
  cr_assert_eq(hiko_port_recv(port, &got, -1), 0);
  cr_assert_str_eq(hiko_value_get_string(got, NULL), "late");
  hiko_value_free(got);
  expect_end(rt, root, HIKO_DONE, NULL);
  cr_assert_eq(hiko_shutdown(rt), 0);
  teardown(rt, port, p, NULL);
}

/* A message of a type the receiver did not expect is a run-time type error
** of the receiver (§6.1), never a crash. */
Test(qa13_api, wrong_type_from_c_fails_the_receiver_only) {
  hiko_runtime_t *rt = new_rt(1);
  hiko_program_t *p = compile(rt, "val n = receive_message () : Int\nval _ = n + 1\n");
  cr_assert_eq(hiko_start(rt), 0);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  hiko_value_t *v = NULL;
  cr_assert_eq(hiko_value_string("x", 1, &v), 0);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  hiko_value_free(v);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, root, &r, 10000), 0);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_not_null(r.message);
  hiko_result_clear(&r);
  cr_assert_eq(hiko_shutdown(rt), 0);
  teardown(rt, NULL, p, NULL);
}

/* ---- Concurrent compiles (§12.2: "T: any; concurrent compiles allowed") ---- */

static void *compile_many(void *arg) {
  hiko_runtime_t *rt = arg;
  for (int i = 0; i < 20; i++) {
    char src[128];
    snprintf(src, sizeof src, "fun f x = x + %d\nval _ = f 1\nval y : String = f 2\n", i);
    hiko_program_t *p = NULL;
    hiko_diags_t *d = NULL;
    if (hiko_compile_string(rt, "c.hml", src, strlen(src), &p, &d) != HIKO_ECOMPILE) return "rc";
    if (hiko_diags_errors(d) != 1 || hiko_diags_get(d, 0)->line != 3) return "diag";
    hiko_diags_free(d);
    snprintf(src, sizeof src, "fun f x = x + %d\nval _ = f 1\n", i);
    if (hiko_compile_string(rt, "c.hml", src, strlen(src), &p, &d) != 0) return "rc2";
    hiko_program_release(p);
  }
  return NULL;
}

Test(qa13_api, concurrent_compiles) {
  hiko_runtime_t *rt = new_rt(1);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, compile_many, i % 2 ? rt : NULL);
  for (int i = 0; i < 4; i++) {
    void *res = NULL;
    pthread_join(th[i], &res);
    cr_assert_null(res, "thread %d: %s", i, (char *)res);
  }
  teardown(rt, NULL, NULL, NULL);
}

/* ---- Native registration ---- */

static int nat_id(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  (void)ud;
  return hiko_value_int(hiko_value_get_int(arg), result);
}

Test(qa13_api, register_builtin_errors) {
  hiko_runtime_t *rt = new_rt(1);
  cr_assert_eq(hiko_register_builtin(rt, "nat_a", "Int -> Int", nat_id, NULL, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "nat_a", "Int -> Int", nat_id, NULL, 0), -EEXIST);
  cr_assert_eq(hiko_register_builtin(rt, "println", "Int -> Int", nat_id, NULL, 0), -EEXIST);
  cr_assert_eq(hiko_register_builtin(rt, "nat_b", "Int ->", nat_id, NULL, 0), HIKO_ECOMPILE);
  cr_assert_eq(hiko_register_builtin(rt, "nat_c", "Nope -> Int", nat_id, NULL, 0), HIKO_ECOMPILE);
  cr_assert_eq(hiko_register_builtin(rt, "Nat", "Int -> Int", nat_id, NULL, 0), -EINVAL);
  cr_assert_eq(hiko_register_builtin(rt, "nat_d", "Int -> Int", nat_id, NULL, 0x80), -EINVAL);
  hiko_program_t *p = compile(rt, "val _ = nat_a 1\n");
  cr_assert_eq(hiko_register_builtin(rt, "nat_e", "Int -> Int", nat_id, NULL, 0), HIKO_ESTATE);
  teardown(rt, NULL, p, NULL);
}

/* ---- strerror ---- */

Test(qa13_api, strerror_never_null) {
  int codes[] = {0, -EINVAL, -ENOMEM, -ENOENT, -ETIMEDOUT, -EAGAIN, -EEXIST, -EILSEQ, -EBUSY,
                 HIKO_ECOMPILE, HIKO_EBYTECODE, HIKO_ESTATE, -1004, -999999, 5};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *s = hiko_strerror(codes[i]);
    cr_assert_not_null(s);
    cr_assert_gt(strlen(s), 0, "code %d", codes[i]);
  }
  cr_assert_str_neq(hiko_strerror(HIKO_ECOMPILE), hiko_strerror(HIKO_EBYTECODE));
  cr_assert_str_neq(hiko_strerror(HIKO_ESTATE), hiko_strerror(HIKO_EBYTECODE));
}

/* ---- "T: any": spawn_main, send, join and stats_get from several threads ---- */

typedef struct host_arg {
  hiko_runtime_t *rt;
  hiko_program_t *p;
  int id;
  const char *err;
} host_arg_t;

/* Spawns roots that answer n * 2, sends each its number, joins them all. */
static void *host_roots(void *arg) {
  host_arg_t *a = arg;
  enum { N = 25 };
  hiko_pid_t roots[N];
  for (int i = 0; i < N; i++) {
    if (hiko_spawn_main(a->rt, a->p, &roots[i]) != 0) return (void *)(a->err = "spawn");
    hiko_value_t *v = NULL;
    hiko_value_int(a->id * 1000 + i, &v);
    if (hiko_send(a->rt, roots[i], v) != 0) return (void *)(a->err = "send");
    hiko_value_free(v);
  }
  for (int i = 0; i < N; i++) {
    hiko_result_t r;
    if (hiko_join(a->rt, roots[i], &r, 20000) != 0) return (void *)(a->err = "join");
    if (r.status != HIKO_DONE) a->err = "outcome";
    hiko_result_clear(&r);
    if (a->err) return NULL;
  }
  return NULL;
}

static _Atomic int stats_stop;

static void *host_stats(void *arg) {
  host_arg_t *a = arg;
  while (!stats_stop) {
    hiko_stats_t s;
    if (hiko_stats_get(a->rt, &s) != 0) return (void *)(a->err = "stats");
    if (s.workers != 2 || s.done + s.failed + s.cancelled > s.processes) a->err = "sums";
    hiko_stats_clear(&s);
    if (a->err) return NULL;
  }
  return NULL;
}

Test(qa13_api, spawn_send_join_stats_from_several_threads) {
  /* exit would end every root (§12.3.4): the roots just finish. */
  hiko_runtime_t *rt = new_rt(2);
  hiko_program_t *p = compile(rt, "val n = receive_message () : Int\nval _ = n * 2\n");
  cr_assert_eq(hiko_start(rt), 0);
  host_arg_t args[5];
  pthread_t th[5];
  stats_stop = 0;
  for (int i = 0; i < 5; i++) {
    args[i] = (host_arg_t){rt, p, i, NULL};
    pthread_create(&th[i], NULL, i < 4 ? host_roots : host_stats, &args[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  stats_stop = 1;
  pthread_join(th[4], NULL);
  for (int i = 0; i < 5; i++) cr_assert_null(args[i].err, "thread %d: %s", i, args[i].err);
  hiko_stats_t s;
  cr_assert_eq(hiko_stats_get(rt, &s), 0);
  cr_assert_eq(s.done, 100);
  hiko_stats_clear(&s);
  cr_assert_eq(hiko_shutdown(rt), 0);
  teardown(rt, NULL, p, NULL);
}

/* docs/embedding.md: a zero-initialised configuration (size 0) is accepted
** with every field as written: numbers at their defaults, booleans false, so
** the network is denied and exit is not allowed. */
Test(qa13_api, zero_config_is_defaults_with_booleans_false) {
  hiko_config_t cfg = {0};
  hiko_runtime_t *rt = NULL;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), 0);
  hiko_program_t *p = compile(rt, "val _ = tcp_listen (\"127.0.0.1\", 0)\n");
  hiko_program_t *q = compile(rt, "val _ = exit 3\n");
  hiko_pid_t a, b;
  cr_assert_eq(hiko_spawn_main(rt, p, &a), 0);
  cr_assert_eq(hiko_spawn_main(rt, q, &b), 0);
  cr_assert_eq(hiko_run(rt), 0);
  expect_end(rt, a, HIKO_FAILED, "tcp_listen: network access denied");
  expect_end(rt, b, HIKO_FAILED, "exit: not allowed");
  hiko_stats_t s;
  cr_assert_eq(hiko_stats_get(rt, &s), 0);
  cr_assert_gt(s.workers, 0);
  hiko_stats_clear(&s);
  teardown(rt, NULL, p, q);
}
