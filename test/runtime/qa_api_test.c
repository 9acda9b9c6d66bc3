/* qa_api_test.c — QA of the embedding API (SPEC §12) against the SPEC text:
** error codes, ownership, ports, pids the runtime never issued (§6.6.1),
** functions across programs (§6.12.5), uninitialised globals (§6.4.5),
** deadlock detection with ports (§6.9, §12.3.2), configuration (§7.5, §12),
** output callbacks (§12.3.3) and statistics (§10.9). Suite unit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hiko.h"
#include "api_check.h"

/* A test of behaviour the SPEC requires and the implementation does not show
** yet (listed in test/lang/pending/README.md): skipped unless
** HIKO_QA_PENDING is set in the environment. */
#define PENDING(why)                                               \
  do {                                                             \
    if (!getenv("HIKO_QA_PENDING")) cr_skip_test("pending: " why); \
  } while (0)

typedef struct outbuf {
  char data[8192];
  size_t n;
  size_t calls;
  int torn; /* a call whose text was not one whole line */
  pthread_mutex_t mu;
} outbuf_t;

static outbuf_t out, err;

static void collect(void *ud, const char *data, size_t len) {
  outbuf_t *o = ud;
  pthread_mutex_lock(&o->mu);
  o->calls++;
  if (len == 0 || data[len - 1] != '\n' || memchr(data, '\n', len) != data + len - 1) o->torn++;
  if (o->n + len < sizeof o->data) {
    memcpy(o->data + o->n, data, len);
    o->n += len;
    o->data[o->n] = '\0';
  }
  pthread_mutex_unlock(&o->mu);
}

static void collect_err(void *ud, const char *data, size_t len) {
  (void)ud;
  collect(&err, data, len);
}

static void reset_bufs(void) {
  memset(&out, 0, sizeof out);
  memset(&err, 0, sizeof err);
  pthread_mutex_init(&out.mu, NULL);
  pthread_mutex_init(&err.mu, NULL);
}

static void base_cfg(hiko_config_t *cfg, unsigned workers) {
  hiko_config_init(cfg);
  cfg->workers = workers;
  cfg->out = collect;
  cfg->err = collect_err;
  cfg->io_ud = &out;
  reset_bufs();
}

static hiko_runtime_t *make(const hiko_config_t *cfg) {
  hiko_runtime_t *rt = NULL;
  cr_assert_eq(hiko_runtime_create(&rt, cfg), 0);
  cr_assert_not_null(rt);
  return rt;
}

static hiko_runtime_t *make_rt(unsigned workers) {
  hiko_config_t cfg;
  base_cfg(&cfg, workers);
  return make(&cfg);
}

/* Runs one root of [src] to its end with hiko_run and returns its result. */
static void run_result(hiko_runtime_t *rt, const char *src, hiko_result_t *r) {
  hiko_program_t *p = compile(rt, src);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p); /* §12.2: roots keep their program alive */
  cr_assert_eq(hiko_run(rt), 0);
  cr_assert_eq(hiko_join(rt, root, r, 10000), 0);
}

/* Runs [src] as for run_result and checks the status and, unless NULL, the
** message. */
static void run_one(hiko_runtime_t *rt, const char *src, int status, const char *message) {
  hiko_result_t r;
  run_result(rt, src, &r);
  cr_assert_eq(r.status, status, "status %d, message %s", r.status, r.message ? r.message : "");
  if (message) cr_assert_str_eq(r.message, message);
  hiko_result_clear(&r);
}

static void send_int(hiko_runtime_t *rt, hiko_pid_t to, int64_t n) {
  hiko_value_t *v;
  cr_assert_eq(hiko_value_int(n, &v), 0);
  cr_assert_eq(hiko_send(rt, to, v), 0);
  hiko_value_free(v);
}

static void send_pid(hiko_runtime_t *rt, hiko_pid_t to, hiko_pid_t pid) {
  hiko_value_t *v;
  cr_assert_eq(hiko_value_pid(pid, &v), 0);
  cr_assert_eq(hiko_send(rt, to, v), 0);
  hiko_value_free(v);
}

/* Receives one message on [port] and returns its §5 text (owned). */
static char *recv_show(hiko_port_t *port) {
  hiko_value_t *v = NULL;
  cr_assert_eq(hiko_port_recv(port, &v, 10000), 0);
  char *s = show(v);
  hiko_value_free(v);
  return s;
}

/* Compiles [src], opens a port, spawns a root and starts the runtime; the
** root's first message is the port's pid. Returns the root. */
static hiko_pid_t start_with_port(hiko_runtime_t *rt, const char *src, hiko_program_t **p,
                                  hiko_port_t **port) {
  *p = compile(rt, src);
  cr_assert_eq(hiko_port_open(rt, port), 0);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, *p, &root), 0);
  send_pid(rt, root, hiko_port_pid(*port));
  cr_assert_eq(hiko_start(rt), 0);
  return root;
}

/* Receives [n] Ints on [port] sent by two senders, one counting up from
** 1, the other from split + 1: each sender's messages must come in order
** (§6.5.4). */
static void recv_two_runs(hiko_port_t *port, int n, int64_t split) {
  int64_t last[2] = {0, split};
  for (int i = 0; i < n; i++) {
    hiko_value_t *v;
    cr_assert_eq(hiko_port_recv(port, &v, 10000), 0);
    int64_t x = hiko_value_get_int(v);
    hiko_value_free(v);
    int k = x > split;
    cr_assert_eq(x, last[k] + 1, "got %lld after %lld (message %d)", (long long)x,
                 (long long)last[k], i);
    last[k] = x;
  }
}

/* ---- §12.1 error codes --------------------------------------------------- */

Test(qa_api, strerror_maps_every_code) {
  /* §12.1: "hiko_strerror maps any code to text". */
  int codes[] = {0, -EINVAL, -ENOMEM, -ENOENT, -ETIMEDOUT, -EAGAIN, -EBUSY, -EEXIST,
                 HIKO_ECOMPILE, HIKO_EBYTECODE, HIKO_ESTATE, -1000, -1004, -99999, 12345};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *s = hiko_strerror(codes[i]);
    cr_assert_not_null(s, "code %d", codes[i]);
    cr_assert_gt(strlen(s), 0, "code %d", codes[i]);
  }
  cr_assert_str_eq(hiko_strerror(-ENOENT), strerror(ENOENT));
  cr_assert_str_neq(hiko_strerror(HIKO_ECOMPILE), hiko_strerror(HIKO_EBYTECODE));
  cr_assert_str_neq(hiko_strerror(HIKO_ESTATE), hiko_strerror(HIKO_ECOMPILE));
  cr_assert_eq(HIKO_ECOMPILE, -1001);
  cr_assert_eq(HIKO_EBYTECODE, -1002);
  cr_assert_eq(HIKO_ESTATE, -1003);
}

Test(qa_api, config_init_sets_size_and_defaults) {
  hiko_config_t cfg;
  memset(&cfg, 0xAB, sizeof cfg);
  hiko_config_init(&cfg);
  cr_assert_eq(cfg.size, sizeof(hiko_config_t));
  /* §12.2: defaults allow_net true, allow_exit false, detect_deadlock false. */
  cr_assert(cfg.allow_net);
  cr_assert(!cfg.allow_exit);
  cr_assert(!cfg.detect_deadlock);
  cr_assert_eq(cfg.fuel, 0);
  cr_assert_eq(cfg.max_heap, 0);
  cr_assert_null(cfg.fs_root);
  cr_assert_null(cfg.out);
  cr_assert_null(cfg.trace_path);
}

Test(qa_api, compile_error_sets_diags_and_no_program) {
  /* §12.2: HIKO_ECOMPILE on errors; *diags set on failure; NULL never an
  ** error indicator, so *out is simply not a program. */
  hiko_runtime_t *rt = make_rt(1);
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  const char *src = "val x = 1\nval y = x + \"s\"\n";
  cr_assert_eq(hiko_compile_string(rt, "bad.hml", src, strlen(src), &p, &d), HIKO_ECOMPILE);
  cr_assert_null(p);
  cr_assert_not_null(d);
  cr_assert_geq(hiko_diags_count(d), 1);
  const hiko_diag_t *g = hiko_diags_get(d, hiko_diags_count(d) - 1);
  cr_assert_not_null(g);
  cr_assert(g->is_error);
  cr_assert_str_eq(g->file, "bad.hml");
  cr_assert_eq(g->line, 2);
  cr_assert_geq(g->col, 1);
  cr_assert_null(hiko_diags_get(d, hiko_diags_count(d)));
  char *text = NULL;
  cr_assert_eq(hiko_diags_render(d, &text), 0);
  /* §13.2: FILE:LINE:COL: error: MESSAGE, the source line, the caret line. */
  char want[64];
  snprintf(want, sizeof want, "bad.hml:2:%u: error: ", g->col);
  cr_assert(strncmp(text, want, strlen(want)) == 0 || strstr(text, want), "%s", text);
  cr_assert_not_null(strstr(text, "\nval y = x + \"s\"\n"), "%s", text);
  cr_assert_not_null(strchr(text, '^'), "%s", text);
  hiko_free(text);
  hiko_diags_free(d);
  /* A clean program: diags NULL when empty. */
  d = (hiko_diags_t *)&d;
  src = "val z = 1\n";
  cr_assert_eq(hiko_compile_string(rt, "ok.hml", src, strlen(src), &p, &d), 0);
  cr_assert_not_null(p);
  cr_assert_null(d);
  hiko_program_release(p);
  /* Warnings only (a redundant clause, §3.8.3): success, diags set. */
  src = "fun f x = case x of _ => 1 | 0 => 2\nval _ = println (f 0)\n";
  cr_assert_eq(hiko_compile_string(rt, "w.hml", src, strlen(src), &p, &d), 0);
  cr_assert_not_null(p);
  cr_assert_not_null(d);
  cr_assert_eq(hiko_diags_count(d), 1);
  cr_assert(!hiko_diags_get(d, 0)->is_error);
  cr_assert_eq(hiko_diags_errors(d), 0);
  cr_assert_str_eq(hiko_diags_get(d, 0)->message, "redundant match clause (clause 2)");
  cr_assert_eq(hiko_diags_render(d, &text), 0);
  cr_assert_not_null(strstr(text, "w.hml:1:30: warning: redundant match clause (clause 2)\n"), "%s", text);
  hiko_free(text);
  hiko_diags_free(d);
  hiko_program_release(p);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, compile_file_missing) {
  hiko_runtime_t *rt = make_rt(1);
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  int rc = hiko_compile_file(rt, "/nonexistent/qa/none.hml", &p, &d);
  cr_assert_lt(rc, 0);
  cr_assert_null(p);
  /* §14.1: an error about a whole file has no position. */
  if (d) {
    cr_assert_geq(hiko_diags_count(d), 1);
    cr_assert_eq(hiko_diags_get(d, 0)->line, 0);
    hiko_diags_free(d);
  }
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, bytecode_garbage_is_ebytecode) {
  hiko_runtime_t *rt = make_rt(1);
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  static const unsigned char junk[] = "not bytecode at all, not even close";
  cr_assert_eq(hiko_program_load(rt, junk, sizeof junk, &p, &d), HIKO_EBYTECODE);
  cr_assert_null(p);
  cr_assert_not_null(d);
  cr_assert_not_null(strstr(hiko_diags_get(d, 0)->message, "invalid bytecode: "));
  hiko_diags_free(d);
  cr_assert_eq(hiko_program_load(rt, junk, 0, &p, &d), HIKO_EBYTECODE);
  hiko_diags_free(d);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

/* ---- Values -------------------------------------------------------------- */

Test(qa_api, value_show_of_every_kind) {
  /* §5 text for values built in C. */
  hiko_value_t *v;
  struct {
    int rc;
    hiko_value_t *v;
    const char *want;
  } cases[16];
  size_t n = 0;
#define CASE(call, text)                 \
  do {                                   \
    cases[n].rc = call;                  \
    cases[n].v = v;                      \
    cases[n].want = text;                \
    n++;                                 \
  } while (0)
  CASE(hiko_value_int(INT64_MIN, &v), "-9223372036854775808");
  CASE(hiko_value_float(0.1, &v), "0.1");
  CASE(hiko_value_float(1e21, &v), "1000000000000000000000");
  CASE(hiko_value_float(2.5e-7, &v), "0.00000025");
  CASE(hiko_value_float(-0.0, &v), "-0");
  CASE(hiko_value_float(-1.0 / 0.0, &v), "-inf");
  CASE(hiko_value_bool(true, &v), "true");
  CASE(hiko_value_char('x', &v), "x");
  CASE(hiko_value_unit(&v), "()");
  CASE(hiko_value_pid(7, &v), "<pid 7>");
  CASE(hiko_value_bytes("\0\1\2", 3, &v), "<bytes:3>");
  CASE(hiko_value_string("a\"b\n", 4, &v), "a\"b\n");
  CASE(hiko_value_list(NULL, 0, &v), "[]");
#undef CASE
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(cases[i].rc, 0, "case %zu", i);
    char *s = show(cases[i].v);
    cr_assert_str_eq(s, cases[i].want, "case %zu", i);
    hiko_free(s);
    hiko_value_free(cases[i].v);
  }
}

Test(qa_api, value_accessors) {
  hiko_value_t *b, *s, *p, *c;
  cr_assert_eq(hiko_value_bytes("a\0b", 3, &b), 0);
  cr_assert_eq(hiko_value_kind(b), HIKO_BYTES);
  size_t len = 99;
  const char *raw = hiko_value_get_string(b, &len);
  cr_assert_eq(len, 3);
  cr_assert_eq(memcmp(raw, "a\0b", 3), 0);
  cr_assert_eq(hiko_value_string("\xc3\xa9t\xc3\xa9", 5, &s), 0);
  cr_assert_eq(hiko_value_kind(s), HIKO_STRING);
  raw = hiko_value_get_string(s, &len);
  cr_assert_eq(len, 5);
  cr_assert_eq(hiko_value_pid(42, &p), 0);
  cr_assert_eq(hiko_value_kind(p), HIKO_PID);
  cr_assert_eq(hiko_value_get_pid(p), 42);
  cr_assert_eq(hiko_value_char(0x10FFFF, &c), 0);
  cr_assert_eq(hiko_value_get_char(c), 0x10FFFF);
  hiko_value_t *bad = NULL;
  cr_assert_eq(hiko_value_char(0x110000, &bad), -EINVAL);
  cr_assert_eq(hiko_value_string("\xc3", 1, &bad), -EILSEQ); /* truncated sequence */
  cr_assert_eq(hiko_value_string("\xed\xa0\x80", 3, &bad), -EILSEQ); /* surrogate */
  cr_assert_null(bad);
  /* Composite constructors take their items on success only (§12.2): on a
  ** failure the caller keeps them and frees them itself. */
  hiko_value_t *items[2] = {b, s}, *l;
  cr_assert_eq(hiko_value_list(items, 2, &l), 0);
  cr_assert_eq(hiko_value_kind(l), HIKO_LIST);
  cr_assert_eq(hiko_value_count(l), 2);
  cr_assert_eq(hiko_value_at(l, 0), b);
  hiko_value_free(l);
  hiko_value_free(p);
  hiko_value_free(c);
}

/* ---- Pids the runtime never issued (§6.6.1) ------------------------------- */

static const char unknown_src[] =
    "val port = receive_message ()\n"
    "val ghost : Pid = receive_message ()\n"
    "val mode = receive_message ()\n"
    "val _ = send_message (ghost, 1)\n"
    "val _ = case mode of\n"
    "    0 => send_message (port, (await_result ghost : Int outcome))\n"
    "  | 1 => send_message (port, await_process ghost + 0)\n"
    "  | 2 => cancel ghost\n"
    "  | _ => send_message (port, wait_any [ghost])\n";

static void run_unknown(int mode, hiko_result_t *r, char **msg) {
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *p = compile(rt, unknown_src);
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_eq(hiko_start(rt), 0);
  send_pid(rt, root, hiko_port_pid(port));
  send_pid(rt, root, 987654);
  send_int(rt, root, mode);
  cr_assert_eq(hiko_join(rt, root, r, 10000), 0);
  *msg = NULL;
  hiko_value_t *v;
  if (hiko_port_recv(port, &v, 0) == 0) {
    *msg = show(v);
    hiko_value_free(v);
  }
  hiko_stats_t st;
  cr_assert_eq(hiko_stats_get(rt, &st), 0);
  cr_assert_geq(st.total.dropped, 1); /* §6.5.1: the message to the ghost */
  hiko_stats_clear(&st);
  teardown(rt, port, p, NULL);
}

Test(qa_api, unknown_pid_await_result) {
  hiko_result_t r;
  char *msg;
  run_unknown(0, &r, &msg);
  cr_assert_eq(r.status, HIKO_DONE, "%s", r.message ? r.message : "");
  cr_assert_not_null(msg);
  cr_assert_str_eq(msg, "Err (RuntimeError await_result: unknown process <pid 987654>)");
  hiko_free(msg);
  hiko_result_clear(&r);
}

Test(qa_api, unknown_pid_await_process) {
  hiko_result_t r;
  char *msg;
  run_unknown(1, &r, &msg);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_str_eq(r.message, "await_process: unknown process <pid 987654>");
  cr_assert_str_eq(hiko_value_ctor(r.failure), "RuntimeError");
  cr_assert_null(msg);
  hiko_result_clear(&r);
}

Test(qa_api, unknown_pid_cancel) {
  hiko_result_t r;
  char *msg;
  run_unknown(2, &r, &msg);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_str_eq(r.message, "cancel: unknown process <pid 987654>");
  hiko_result_clear(&r);
}

Test(qa_api, unknown_pid_wait_any) {
  hiko_result_t r;
  char *msg;
  run_unknown(3, &r, &msg);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_str_eq(r.message, "wait_any: unknown process <pid 987654>");
  cr_assert_null(msg);
  hiko_result_clear(&r);
}

Test(qa_api, port_pid_is_not_a_child) {
  /* §6.2: a pid names a process or a port; a port is never the caller's
  ** child (§6.6.1). */
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *p = compile(rt,
      "val port : Pid = receive_message ()\n"
      "val _ = send_message (port, (await_result port : Int outcome))\n"
      "val _ = cancel port\n");
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_pid_t root, pp = hiko_port_pid(port);
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_neq(pp, root);
  cr_assert_eq(hiko_start(rt), 0);
  send_pid(rt, root, pp);
  char *s = recv_show(port);
  char want[128];
  snprintf(want, sizeof want, "Err (RuntimeError await_result: <pid %llu> is not a child of <pid %llu>)",
           (unsigned long long)pp, (unsigned long long)root);
  cr_assert_str_eq(s, want);
  hiko_free(s);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, root, &r, 10000), 0);
  cr_assert_eq(r.status, HIKO_FAILED);
  snprintf(want, sizeof want, "cancel: <pid %llu> is not a child of <pid %llu>",
           (unsigned long long)pp, (unsigned long long)root);
  cr_assert_str_eq(r.message, want);
  hiko_result_clear(&r);
  teardown(rt, port, p, NULL);
}

/* ---- Ports --------------------------------------------------------------- */

Test(qa_api, port_recv_timeout_and_poll) {
  hiko_runtime_t *rt = make_rt(1);
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_value_t *v = (hiko_value_t *)&v;
  cr_assert_eq(hiko_port_recv(port, &v, 0), -EAGAIN);
  cr_assert_eq(hiko_port_recv(port, &v, 30), -ETIMEDOUT);
  /* C may send to a port directly: the message is a deep copy (§12.2). */
  hiko_value_t *a, *b, *items[2], *t;
  cr_assert_eq(hiko_value_int(1, &a), 0);
  cr_assert_eq(hiko_value_string("x", 1, &b), 0);
  items[0] = a;
  items[1] = b;
  cr_assert_eq(hiko_value_tuple(items, 2, &t), 0);
  cr_assert_eq(hiko_send(rt, hiko_port_pid(port), t), 0);
  cr_assert_eq(hiko_send(rt, hiko_port_pid(port), a), 0); /* a borrowed sub-value */
  hiko_value_free(t);
  char *s = recv_show(port);
  cr_assert_str_eq(s, "(1, x)");
  hiko_free(s);
  s = recv_show(port);
  cr_assert_str_eq(s, "1");
  hiko_free(s);
  cr_assert_eq(hiko_port_recv(port, &v, 0), -EAGAIN);
  cr_assert_eq(hiko_port_close(port), 0);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, port_pids_distinct_and_closed_port_drops) {
  hiko_runtime_t *rt = make_rt(1);
  hiko_port_t *p1, *p2;
  cr_assert_eq(hiko_port_open(rt, &p1), 0);
  cr_assert_eq(hiko_port_open(rt, &p2), 0);
  hiko_pid_t a = hiko_port_pid(p1), b = hiko_port_pid(p2);
  cr_assert_neq(a, b);
  cr_assert_geq(a, 1);
  cr_assert_eq(hiko_port_close(p1), 0);
  send_int(rt, a, 5); /* dropped and counted (§6.5.1) */
  hiko_stats_t st;
  cr_assert_eq(hiko_stats_get(rt, &st), 0);
  cr_assert_eq(st.total.dropped, 1);
  hiko_stats_clear(&st);
  /* A new port gets a fresh pid: pids are never reused (§6.2). */
  hiko_port_t *p3;
  cr_assert_eq(hiko_port_open(rt, &p3), 0);
  cr_assert_neq(hiko_port_pid(p3), a);
  cr_assert_neq(hiko_port_pid(p3), b);
  cr_assert_eq(hiko_port_close(p2), 0);
  cr_assert_eq(hiko_port_close(p3), 0);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, messages_to_port_in_order_from_one_sender) {
  /* §6.5.4: one sender to one receiver, in order; here a process to a port. */
  hiko_runtime_t *rt = make_rt(4);
  hiko_program_t *p;
  hiko_port_t *port;
  hiko_pid_t root = start_with_port(rt,
      "val port = receive_message ()\n"
      "fun go i n = if i > n then () else let val _ = send_message (port, i) in go (i + 1) n end\n"
      "val c = spawn (fn () => go 1001 2000)\n"
      "val _ = go 1 1000\n"
      "val _ = await_process c\n",
      &p, &port);
  recv_two_runs(port, 2000, 1000);
  expect_end(rt, root, HIKO_DONE, NULL);
  teardown(rt, port, p, NULL);
}

/* SPEC §5: an unapplied builtin shows as <builtin:NAME>, any other function
** as <fn>, also when the value reached C (hiko_value_show), and it stays a
** function a process can call when sent back. */
Test(qa_api, builtin_function_value_shows_its_name) {
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *p;
  hiko_port_t *port;
  hiko_pid_t root = start_with_port(rt,
      "val port = receive_message ()\n"
      "val _ = send_message (port, (println, string_length, fn (s : String) => s, [int_to_string]))\n"
      "val f : String -> Int = receive_message ()\n"
      "val _ = send_message (port, f \"abcd\")\n",
      &p, &port);
  hiko_value_t *v = NULL;
  cr_assert_eq(hiko_port_recv(port, &v, 10000), 0);
  char *s = show(v);
  cr_assert_str_eq(s, "(<builtin:println>, <builtin:string_length>, <fn>, [<builtin:int_to_string>])");
  hiko_free(s);
  cr_assert_eq(hiko_send(rt, root, hiko_value_at(v, 1)), 0);
  hiko_value_free(v);
  s = recv_show(port);
  cr_assert_str_eq(s, "4");
  hiko_free(s);
  expect_end(rt, root, HIKO_DONE, NULL);
  teardown(rt, port, p, NULL);
}

/* ---- Functions across roots and programs (§6.12.5, §6.4.5, §12.3.1) ------- */

static const char fn_src[] =
    "val port = receive_message ()\n"
    "val mode : Int = receive_message ()\n"
    "val early = if mode = 1 then (receive_message () : Unit -> Int) () else 0\n"
    "fun len xs = case xs of [] => 0 | _ :: r => 1 + len r\n"
    "val x = len [1, 2, 3, 4, 5, 6, 7]\n"
    "fun g () = x * 6\n"
    "val late = if mode = 2 then (receive_message () : Unit -> Int) () else 0\n"
    "val _ = send_message (port, (early + late, g))\n";

Test(qa_api, function_value_back_to_same_program) {
  /* A closure received in C is opaque (HIKO_FUNCTION, shown as <fn>) and can
  ** be sent to a root of the same program (§12.3.1), which calls it. Each
  ** root has its own global store (§6.1.3): root B has initialised x when it
  ** calls A's g (42); root C has not, and fails with "global 'x' is not
  ** initialised" (§6.4.5). */
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *p = compile(rt, fn_src);
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_pid_t root[3];
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(hiko_spawn_main(rt, p, &root[i]), 0);
    send_pid(rt, root[i], hiko_port_pid(port));
  }
  cr_assert_eq(hiko_start(rt), 0);
  send_int(rt, root[0], 0);
  hiko_value_t *v;
  cr_assert_eq(hiko_port_recv(port, &v, 10000), 0);
  const hiko_value_t *g = hiko_value_at(v, 1);
  cr_assert_eq(hiko_value_kind(g), HIKO_FUNCTION);
  char *s = show(g);
  cr_assert_str_eq(s, "<fn>");
  hiko_free(s);
  for (int i = 1; i < 3; i++) {
    send_int(rt, root[i], i == 1 ? 2 : 1);
    cr_assert_eq(hiko_send(rt, root[i], g), 0);
  }
  hiko_value_free(v);
  s = recv_show(port);
  cr_assert_str_eq(s, "(42, <fn>)");
  hiko_free(s);
  expect_end(rt, root[0], HIKO_DONE, NULL);
  expect_end(rt, root[1], HIKO_DONE, NULL);
  expect_end(rt, root[2], HIKO_FAILED, "global 'x' is not initialised");
  teardown(rt, port, p, NULL);
}

Test(qa_api, function_to_other_program_fails_sender) {
  /* §6.12.5: send_message of a value containing a function to a process of
  ** another program fails the sender. */
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *pa = compile(rt,
      "val other : Pid = receive_message ()\n"
      "val k = 3\n"
      "val _ = send_message (other, [(1, fn y => y + k)])\n");
  hiko_program_t *pb = compile(rt, "val _ = receive_message () : Int\n");
  hiko_pid_t a, b;
  cr_assert_eq(hiko_spawn_main(rt, pa, &a), 0);
  cr_assert_eq(hiko_spawn_main(rt, pb, &b), 0);
  cr_assert_eq(hiko_start(rt), 0);
  send_pid(rt, a, b);
  expect_end(rt, a, HIKO_FAILED, "send_message: cannot send functions to a process of another program");
  /* B got nothing; it still waits. */
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, b, &r, 50), -ETIMEDOUT);
  send_int(rt, b, 1);
  expect_end(rt, b, HIKO_DONE, NULL);
  teardown(rt, NULL, pa, pb);
}

Test(qa_api, function_from_c_to_other_program_rejected) {
  /* hiko_send of a function value to a root of another program: "-EINVAL for
  ** an unsendable value" (hiko.h), and the receiver gets nothing. */
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *pa = compile(rt,
      "val port = receive_message ()\n"
      "val _ = send_message (port, fn (y : Int) => y + 1)\n");
  hiko_program_t *pb = compile(rt, "val m = receive_message ()\nval _ = println (m + 0)\n");
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_pid_t a, b;
  cr_assert_eq(hiko_spawn_main(rt, pa, &a), 0);
  cr_assert_eq(hiko_spawn_main(rt, pb, &b), 0);
  cr_assert_eq(hiko_start(rt), 0);
  send_pid(rt, a, hiko_port_pid(port));
  hiko_value_t *f;
  cr_assert_eq(hiko_port_recv(port, &f, 10000), 0);
  cr_assert_eq(hiko_value_kind(f), HIKO_FUNCTION);
  cr_assert_eq(hiko_send(rt, b, f), -EINVAL);
  hiko_value_free(f);
  send_int(rt, b, 9);
  expect_end(rt, b, HIKO_DONE, NULL);
  cr_assert_str_eq(out.data, "9\n");
  teardown(rt, port, pa, pb);
}

Test(qa_api, roots_have_own_global_store) {
  /* §6.1.3: each root has its own instance of the program's global store. */
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *p = compile(rt,
      "val port = receive_message ()\n"
      "val n : Int = receive_message ()\n"
      "val sq = n * n\n"
      "fun get () = sq\n"
      "val c = spawn (fn () => get () + 1)\n"
      "val _ = send_message (port, (n, await_process c))\n");
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_pid_t a, b;
  cr_assert_eq(hiko_spawn_main(rt, p, &a), 0);
  cr_assert_eq(hiko_spawn_main(rt, p, &b), 0);
  cr_assert_eq(hiko_start(rt), 0);
  send_pid(rt, a, hiko_port_pid(port));
  send_pid(rt, b, hiko_port_pid(port));
  send_int(rt, a, 3);
  send_int(rt, b, 5);
  char *s1 = recv_show(port), *s2 = recv_show(port);
  if (strcmp(s1, s2) > 0) {
    char *t = s1;
    s1 = s2;
    s2 = t;
  }
  cr_assert_str_eq(s1, "(3, 10)");
  cr_assert_str_eq(s2, "(5, 26)");
  hiko_free(s1);
  hiko_free(s2);
  teardown(rt, port, p, NULL);
}

/* ---- Deadlock detection and ports (§6.9.2, §12.3.2) ----------------------- */

Test(qa_api, deadlock_off_by_default) {
  hiko_runtime_t *rt = make_rt(1);
  hiko_program_t *p = compile(rt, "val _ = receive_message () : Int\n");
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_eq(hiko_start(rt), 0);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, root, &r, 300), -ETIMEDOUT);
  send_int(rt, root, 1); /* a host thread may wake it at any time */
  expect_end(rt, root, HIKO_DONE, NULL);
  teardown(rt, NULL, p, NULL);
}

Test(qa_api, open_port_suspends_deadlock_detection) {
  hiko_config_t cfg;
  base_cfg(&cfg, 2);
  cfg.detect_deadlock = true;
  hiko_runtime_t *rt = make(&cfg);
  hiko_program_t *p = compile(rt, "val _ = receive_message () : Int\n");
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_eq(hiko_start(rt), 0);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, root, &r, 300), -ETIMEDOUT);
  /* Closing the last port: the condition of §6.9.1 now holds. */
  cr_assert_eq(hiko_port_close(port), 0);
  expect_end(rt, root, HIKO_FAILED, "deadlock: process blocked with no possible waker");
  teardown(rt, NULL, p, NULL);
}

/* ---- Configuration (§7.5, §8.2, §8.12, §12) ------------------------------ */

Test(qa_api, exit_not_allowed_by_default) {
  hiko_runtime_t *rt = make_rt(1);
  run_one(rt, "val _ = println 1\nval _ = exit 4\nval _ = println 2\n", HIKO_FAILED, "exit: not allowed");
  cr_assert_str_eq(out.data, "1\n");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, exit_allowed_reports_code) {
  hiko_config_t cfg;
  base_cfg(&cfg, 2);
  cfg.allow_exit = true;
  hiko_runtime_t *rt = make(&cfg);
  hiko_result_t r;
  run_result(rt, "val c = spawn (fn () => exit 300)\nval _ = receive_message () : Int\n", &r);
  cr_assert_eq(r.status, HIKO_EXITED);
  cr_assert_eq(r.exit_code, 300); /* n & 255 is only for `hiko run` (§12.3.4) */
  hiko_result_clear(&r);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, net_denied) {
  hiko_config_t cfg;
  base_cfg(&cfg, 1);
  cfg.allow_net = false;
  hiko_runtime_t *rt = make(&cfg);
  run_one(rt, "val s = tcp_listen (\"127.0.0.1\", 0)\n", HIKO_FAILED, "tcp_listen: network access denied");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, exec_denied_lists_allowed) {
  hiko_config_t cfg;
  base_cfg(&cfg, 1);
  const char *allowed[] = {"true", "echo"};
  cfg.allow_exec = allowed;
  cfg.n_allow_exec = 2;
  hiko_runtime_t *rt = make(&cfg);
  run_one(rt, "val _ = exec (\"ls\", [])\n", HIKO_FAILED, "exec: command 'ls' is not in the allowed list: [\"true\", \"echo\"]");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, argv_and_fs_root) {
  char dir[] = "/tmp/hiko_qa_root_XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  hiko_config_t cfg;
  base_cfg(&cfg, 1);
  const char *argv[] = {"one", "--two", ""};
  cfg.argv = argv;
  cfg.argc = 3;
  cfg.fs_root = dir;
  hiko_runtime_t *rt = make(&cfg);
  hiko_result_t r;
  run_result(rt,
          "val _ = println (args ())\n"
          "val _ = write_file (\"f.txt\", \"data\")\n"
          "val _ = println (read_file \"f.txt\")\n"
          "val _ = read_file \"/etc/passwd\"\n",
          &r);
  cr_assert_eq(r.status, HIKO_FAILED);
  char canon[4096];
  cr_assert_not_null(realpath(dir, canon));
  char want[4200];
  snprintf(want, sizeof want, "read_file: path '/etc/passwd' is outside allowed root '%s'", canon);
  cr_assert_str_eq(r.message, want);
  cr_assert_str_eq(out.data, "[one, --two, ]\ndata\n");
  hiko_result_clear(&r);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  char f[4200];
  snprintf(f, sizeof f, "%s/f.txt", dir);
  cr_assert_eq(unlink(f), 0);
  rmdir(dir);
}

Test(qa_api, fuel_from_config) {
  hiko_config_t cfg;
  base_cfg(&cfg, 1);
  cfg.fuel = 5000;
  hiko_runtime_t *rt = make(&cfg);
  hiko_result_t r;
  run_result(rt, "fun loop n = loop (n + 1)\nval _ = loop 0\n", &r);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_str_eq(r.message, "fuel exhausted");
  cr_assert_str_eq(hiko_value_ctor(r.failure), "FuelExhausted");
  hiko_result_clear(&r);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);

}

Test(qa_api, root_failure_value_heap_limit) {
  /* §12.2: hiko_result_t.failure is the failure value; §6.3.3: the heap
  ** limit gives HeapLimit (LIVE, MAX). */
  hiko_config_t cfg;
  hiko_runtime_t *rt;
  hiko_result_t r;
  base_cfg(&cfg, 1);
  cfg.max_heap = 1000;
  rt = make(&cfg);
  run_result(rt, "fun build n acc = if n = 0 then acc else build (n - 1) (n :: acc)\n"
              "val xs = build 5000 []\nval _ = println xs\n",
          &r);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_str_eq(hiko_value_ctor(r.failure), "HeapLimit", "%s", r.message);
  cr_assert_not_null(strstr(r.message, "heap limit exceeded: "));
  cr_assert_not_null(strstr(r.message, " objects (max 1000)"));
  /* The failure value carries (LIVE, MAX). */
  cr_assert_eq(hiko_value_count(r.failure), 1);
  const hiko_value_t *pl = hiko_value_at(r.failure, 0);
  cr_assert_eq(hiko_value_kind(pl), HIKO_TUPLE);
  cr_assert_eq(hiko_value_get_int(hiko_value_at(pl, 1)), 1000);
  char want[96];
  snprintf(want, sizeof want, "heap limit exceeded: %lld objects (max 1000)",
           (long long)hiko_value_get_int(hiko_value_at(pl, 0)));
  cr_assert_str_eq(r.message, want);
  hiko_result_clear(&r);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, root_failure_value_child_failed) {
  /* §6.6.2: await_process of a failed child fails the root with
  ** ChildFailed f; the failure value keeps that structure. */
  hiko_runtime_t *rt = make_rt(2);
  hiko_result_t r;
  run_result(rt, "val c = spawn (fn () => panic \"inner\")\nval _ = await_process c\n", &r);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_str_eq(r.message, "child process failed: inner");
  char *s = show(r.failure);
  cr_assert_str_eq(s, "ChildFailed (RuntimeError inner)");
  hiko_free(s);
  hiko_result_clear(&r);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, max_processes_from_config) {
  hiko_config_t cfg;
  base_cfg(&cfg, 2);
  cfg.max_processes = 3;
  hiko_runtime_t *rt = make(&cfg);
  hiko_result_t r;
  run_result(rt,
          "val a = spawn (fn () => receive_message () : Int)\n"
          "val b = spawn (fn () => receive_message () : Int)\n"
          "val _ = println 1\n"
          "val c = spawn (fn () => 0)\n"
          "val _ = println 2\n",
          &r);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_str_eq(r.message, "spawn: process limit reached (3)");
  cr_assert_str_eq(out.data, "1\n");
  hiko_result_clear(&r);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

/* ---- Output callbacks (§12.3.3) and statistics (§10.9) -------------------- */

Test(qa_api, one_write_call_per_print) {
  hiko_runtime_t *rt = make_rt(4);
  hiko_result_t r;
  run_result(rt,
          "fun line i = println (\"line \" ^ int_to_string i ^ \" \" ^ \"abcdefghijklmnopqrstuvwxyz\")\n"
          "fun many i n = if i = n then () else let val _ = line i in many (i + 1) n end\n"
          "val ps = [spawn (fn () => many 0 50), spawn (fn () => many 0 50),\n"
          "          spawn (fn () => many 0 50), spawn (fn () => many 0 50)]\n"
          "fun all xs = case xs of [] => () | p :: r => let val _ = await_process p in all r end\n"
          "val _ = all ps\n",
          &r);
  cr_assert_eq(r.status, HIKO_DONE, "%s", r.message ? r.message : "");
  cr_assert_eq(out.calls, 200);
  cr_assert_eq(out.torn, 0);
  hiko_result_clear(&r);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, print_without_newline_is_one_call) {
  hiko_runtime_t *rt = make_rt(1);
  run_one(rt, "val _ = print \"ab\"\nval _ = print [1, 2]\n", HIKO_DONE, NULL);
  cr_assert_eq(out.calls, 2);
  cr_assert_str_eq(out.data, "ab[1, 2]");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, stats_snapshot_consistent) {
  hiko_runtime_t *rt = make_rt(3);
  hiko_result_t r;
  run_result(rt,
          "val a = spawn (fn () => 1)\n"
          "val b = spawn (fn () => panic \"x\")\n"
          "val c = spawn (fn () => receive_message () : Int)\n"
          "val _ = send_message (c, 5)\n"
          "val _ = await_process a\n"
          "val _ = await_result b\n"
          "val _ = await_process c\n"
          "val d = spawn (fn () => receive_message () : Int)\n",
          &r);
  cr_assert_eq(r.status, HIKO_DONE);
  hiko_result_clear(&r);
  hiko_stats_t st;
  cr_assert_eq(hiko_stats_get(rt, &st), 0);
  cr_assert_eq(st.workers, 3);
  cr_assert_not_null(st.per_worker);
  cr_assert_not_null(st.io_backend);
  hiko_counters_t sum = {0};
  for (unsigned i = 0; i < st.workers; i++) {
    sum.slices += st.per_worker[i].slices;
    sum.sent += st.per_worker[i].sent;
    sum.received += st.per_worker[i].received;
    sum.spawns += st.per_worker[i].spawns;
    sum.dropped += st.per_worker[i].dropped;
  }
  cr_assert_eq(sum.slices, st.total.slices);
  cr_assert_eq(sum.sent, st.total.sent);
  cr_assert_eq(sum.received, st.total.received);
  cr_assert_eq(sum.spawns, st.total.spawns);
  cr_assert_eq(sum.dropped, st.total.dropped);
  cr_assert_eq(st.processes, 5);
  cr_assert_eq(st.total.spawns, 4);
  cr_assert_eq(st.done, 3);
  cr_assert_eq(st.failed, 1);
  cr_assert_eq(st.cancelled, 1); /* d, cancelled when the root ended (§6.8.1) */
  cr_assert_eq(st.total.sent, 1);
  cr_assert_eq(st.total.received, 1);
  hiko_stats_clear(&st);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

/* ---- Misuse from C -------------------------------------------------------- */

static hiko_runtime_t *g_rt;
static int g_destroy_rc = 12345;

static int try_destroy(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  (void)arg;
  (void)ud;
  g_destroy_rc = hiko_runtime_destroy(g_rt);
  return hiko_value_unit(result);
}

static int send_from_native(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result,
                            void *ud) {
  (void)call;
  (void)ud;
  /* §12.3.5: hiko_send and value functions are allowed inside a native. */
  hiko_value_t *v;
  int rc = hiko_value_string("from native", 11, &v);
  if (rc) return rc;
  rc = hiko_send(g_rt, (hiko_pid_t)hiko_value_get_pid(arg), v);
  hiko_value_free(v);
  if (rc) return rc;
  return hiko_value_unit(result);
}

Test(qa_api, destroy_on_runtime_thread_is_ebusy) {
  hiko_runtime_t *rt = make_rt(1);
  g_rt = rt;
  cr_assert_eq(hiko_register_builtin(rt, "try_destroy", "Unit -> Unit", try_destroy, NULL, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "poke", "Pid -> Unit", send_from_native, NULL, 0), 0);
  run_one(rt, "val _ = try_destroy ()\nval _ = poke (self ())\nval _ = println (receive_message () ^ \"!\")\n", HIKO_DONE, NULL);
  cr_assert_eq(g_destroy_rc, -EBUSY);
  cr_assert_str_eq(out.data, "from native!\n");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

Test(qa_api, join_after_result_and_shutdown_states) {
  hiko_runtime_t *rt = make_rt(1);
  hiko_program_t *p = compile(rt, "val _ = 1\n");
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_eq(hiko_run(rt), 0);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, root, &r, 0), 0);
  cr_assert_eq(r.status, HIKO_DONE);
  cr_assert_null(r.message);
  cr_assert_null(r.failure);
  hiko_result_clear(&r);
  cr_assert_eq(hiko_shutdown(rt), 0);
  cr_assert_eq(hiko_spawn_main(rt, p, &root), HIKO_ESTATE);
  teardown(rt, NULL, p, NULL);
}

/* ---- More configuration and running (§4.3.3, §6.11.1, §12.2) ------------- */

Test(qa_api, stack_depth_and_zero_fuel_from_config) {
  hiko_config_t cfg;
  base_cfg(&cfg, 1);
  cfg.max_stack_depth = 1000;
  hiko_runtime_t *rt = make(&cfg);
  /* 500 frames fit, 5,000 do not: "stack overflow" (§4.3.3). */
  run_one(rt,
          "fun depth n = if n = 0 then 0 else 1 + depth (n - 1)\n"
          "val _ = println (depth 500)\n"
          "val _ = println (depth 5000)\n",
          HIKO_FAILED, "stack overflow");
  cr_assert_str_eq(out.data, "500\n");
  teardown(rt, NULL, NULL, NULL);
  /* hiko.h: fuel_limited makes 0 a budget: the first instruction fails. */
  base_cfg(&cfg, 1);
  cfg.fuel = 0;
  cfg.fuel_limited = true;
  rt = make(&cfg);
  run_one(rt, "val _ = println 1\n", HIKO_FAILED, "fuel exhausted");
  cr_assert_str_eq(out.data, "");
  teardown(rt, NULL, NULL, NULL);
}

Test(qa_api, run_without_roots_returns) {
  hiko_runtime_t *rt = make_rt(2);
  cr_assert_eq(hiko_run(rt), 0);
  teardown(rt, NULL, NULL, NULL);
}

typedef struct late_send {
  hiko_runtime_t *rt;
  hiko_pid_t to;
} late_send_t;

static void *send_later(void *arg) {
  late_send_t *ls = arg;
  usleep(50 * 1000);
  hiko_value_t *v;
  if (hiko_value_int(41, &v) == 0) {
    hiko_send(ls->rt, ls->to, v);
    hiko_value_free(v);
  }
  return NULL;
}

Test(qa_api, run_waits_for_host_message) {
  /* Deadlock detection off (the default): hiko_run keeps a blocked root
  ** alive until another host thread sends to it (§6.9.2). */
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *p = compile(rt, "val _ = println (receive_message () + 1)\n");
  late_send_t ls = {rt, 0};
  cr_assert_eq(hiko_spawn_main(rt, p, &ls.to), 0);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, send_later, &ls), 0);
  cr_assert_eq(hiko_run(rt), 0);
  pthread_join(t, NULL);
  expect_end(rt, ls.to, HIKO_DONE, NULL);
  cr_assert_str_eq(out.data, "42\n");
  teardown(rt, NULL, p, NULL);
}

Test(qa_api, prelude_and_nested_data_from_c) {
  /* hiko_value_data names prelude constructors too (§3.4); a constructor
  ** with a payload needs one (-EINVAL); nested payloads print in
  ** parentheses (§5). */
  hiko_runtime_t *rt = make_rt(2);
  hiko_program_t *p = compile(rt,
      "datatype t = Leaf | Wrap of t\n"
      "val port = receive_message ()\n"
      "val r : Int outcome = receive_message ()\n"
      "val w : t = receive_message ()\n"
      "val _ = send_message (port, (case r of Ok v => v + 1 | Err _ => 0, w))\n");
  hiko_value_t *v, *five, *leaf, *w1, *w2, *bad = NULL;
  cr_assert_eq(hiko_value_data(p, "Wrap", NULL, &bad), -EINVAL);
  cr_assert_null(bad);
  cr_assert_eq(hiko_value_int(5, &five), 0);
  cr_assert_eq(hiko_value_data(p, "Ok", five, &v), 0);
  char *s = show(v);
  cr_assert_str_eq(s, "Ok 5");
  hiko_free(s);
  cr_assert_eq(hiko_value_data(p, "Leaf", NULL, &leaf), 0);
  cr_assert_eq(hiko_value_data(p, "Wrap", leaf, &w1), 0);
  cr_assert_eq(hiko_value_data(p, "Wrap", w1, &w2), 0);
  s = show(w2);
  cr_assert_str_eq(s, "Wrap (Wrap Leaf)");
  hiko_free(s);
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  cr_assert_eq(hiko_start(rt), 0);
  send_pid(rt, root, hiko_port_pid(port));
  cr_assert_eq(hiko_send(rt, root, v), 0);
  cr_assert_eq(hiko_send(rt, root, w2), 0);
  hiko_value_free(v);
  hiko_value_free(w2);
  s = recv_show(port);
  cr_assert_str_eq(s, "(6, Wrap (Wrap Leaf))");
  hiko_free(s);
  expect_end(rt, root, HIKO_DONE, NULL);
  teardown(rt, port, p, NULL);
}

typedef struct host_sender {
  hiko_runtime_t *rt;
  hiko_pid_t to;
  int64_t base;
} host_sender_t;

static void *send_run(void *arg) {
  host_sender_t *h = arg;
  for (int64_t i = 1; i <= 2000; i++) {
    hiko_value_t *v;
    if (hiko_value_int(h->base + i, &v)) break;
    hiko_send(h->rt, h->to, v);
    hiko_value_free(v);
  }
  return NULL;
}

Test(qa_api, host_threads_keep_their_order) {
  /* §6.5.4 with host threads as senders (hiko_send: "As send_message"):
  ** each thread's messages arrive in the order it sent them. The root
  ** forwards everything to a port. */
  hiko_runtime_t *rt = make_rt(4);
  hiko_program_t *p;
  hiko_port_t *port;
  hiko_pid_t root = start_with_port(rt,
      "val port = receive_message ()\n"
      "fun fwd n = if n = 0 then () else\n"
      "  let val _ = send_message (port, receive_message () + 0) in fwd (n - 1) end\n"
      "val _ = fwd 4000\n",
      &p, &port);
  host_sender_t hs[2] = {{rt, root, 0}, {rt, root, 100000}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&t[i], NULL, send_run, &hs[i]), 0);
  recv_two_runs(port, 4000, 100000);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  expect_end(rt, root, HIKO_DONE, NULL);
  teardown(rt, port, p, NULL);
}

/* ---- A realistic host (SPEC §12): natives that fail and succeed, several
** roots at once, ports both ways, statistics, start + join, misuse. ---- */

static int host_lookup(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result,
                       void *ud) {
  size_t len;
  const char *key = hiko_value_get_string(arg, &len);
  if (len == 5 && memcmp(key, "bonus", 5) == 0) return hiko_value_int(*(int64_t *)ud, result);
  char msg[64];
  snprintf(msg, sizeof msg, "no such key %.*s", (int)len, key);
  return hiko_call_fail(call, msg);
}

static int host_slow_square(hiko_call_t *call, const hiko_value_t *arg,
                            hiko_value_t **result, void *ud) {
  (void)call;
  (void)ud;
  usleep(5000); /* a helper thread: the caller is blocked, the workers are free */
  int64_t n = hiko_value_get_int(arg);
  return hiko_value_int(n * n, result);
}

static int host_bad_io(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result,
                       void *ud) {
  (void)call;
  (void)arg;
  (void)result;
  (void)ud;
  return -ENOENT;
}

/* Blocks until its caller is cancelled (or 10 s pass); counts what it saw. */
static int host_wait_cancel(hiko_call_t *call, const hiko_value_t *arg,
                            hiko_value_t **result, void *ud) {
  (void)arg;
  for (int i = 0; i < 10000 && !hiko_call_cancelled(call); i++) usleep(1000);
  if (hiko_call_cancelled(call)) __atomic_add_fetch((int *)ud, 1, __ATOMIC_SEQ_CST);
  return hiko_value_int(-1, result);
}

static const char host_src[] =
    "val port = (receive_message () : Pid)\n"
    "val base = (receive_message () : Int)\n"
    "fun job k = spawn (fn () => slow_square (base + k) + lookup \"bonus\")\n"
    "val ps = [job 1, job 2, job 3, job 4]\n"
    "fun sum xs = case xs of [] => 0\n"
    "  | p :: r => (case await_result p of Ok v => v | Err _ => 100000) + sum r\n"
    "val total = sum ps\n"
    "val bad = await_result (spawn (fn () => lookup \"nope\"))\n"
    "val io = await_result (spawn (fn () => bad_io ()))\n"
    "val w = spawn (fn () => wait_cancel ())\n"
    "val _ = sleep 20\n"
    "val _ = cancel w\n"
    "val _ = send_message (port, (base, total, bad, io, await_result w))\n"
    "val stop = (receive_message () : String)\n"
    "val _ = send_message (port, stop ^ \" \" ^ int_to_string base)\n"
    "val _ = receive_message ()\n";

Test(qa_api, host_roots_natives_ports_stats) {
  hiko_config_t cfg;
  base_cfg(&cfg, 2);
  hiko_runtime_t *rt = make(&cfg);
  int64_t bonus = 1000;
  int saw_cancel = 0;
  cr_assert_eq(hiko_register_builtin(rt, "lookup", "String -> Int", host_lookup, &bonus, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "slow_square", "Int -> Int", host_slow_square, NULL,
                                     HIKO_NATIVE_BLOCKING), 0);
  cr_assert_eq(hiko_register_builtin(rt, "bad_io", "Unit -> Int", host_bad_io, NULL, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "wait_cancel", "Unit -> Int", host_wait_cancel,
                                     &saw_cancel, HIKO_NATIVE_BLOCKING), 0);
  cr_assert_eq(hiko_register_builtin(rt, "lookup", "String -> Int", host_lookup, NULL, 0),
               -EEXIST);
  cr_assert_eq(hiko_register_builtin(rt, "broken", "Int ->", host_lookup, NULL, 0),
               HIKO_ECOMPILE);

  /* a first attempt with a type error: diagnostics with a position (§13.2) */
  static const char bad_src[] = "val x = 1\nval y = x ^ \"!\"\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  cr_assert_eq(hiko_compile_string(rt, "job.hml", bad_src, strlen(bad_src), &p, &d),
               HIKO_ECOMPILE);
  cr_assert_null(p);
  cr_assert_not_null(d);
  cr_assert_geq(hiko_diags_count(d), 1);
  const hiko_diag_t *e = hiko_diags_get(d, hiko_diags_count(d) - 1);
  cr_assert(e->is_error);
  cr_assert_str_eq(e->file, "job.hml");
  cr_assert_eq(e->line, 2);
  cr_assert_geq(e->col, 9);
  char *text = NULL;
  cr_assert_eq(hiko_diags_render(d, &text), 0);
  cr_assert(strncmp(text, "job.hml:2:", 10) == 0, "%s", text);
  cr_assert_not_null(strstr(text, ": error: "), "%s", text);
  cr_assert_not_null(strstr(text, "\nval y = x ^ \"!\"\n"), "%s", text);
  hiko_free(text);
  hiko_diags_free(d);

  p = compile(rt, host_src);
  /* natives are registered before compiling users (§12.2, T: init) */
  cr_assert_eq(hiko_register_builtin(rt, "late", "Int -> Int", host_lookup, NULL, 0),
               HIKO_ESTATE);
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_value_t *none = NULL;
  cr_assert_eq(hiko_port_recv(port, &none, 0), -EAGAIN);
  hiko_pid_t roots[3];
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(hiko_spawn_main(rt, p, &roots[i]), 0);
    send_pid(rt, roots[i], hiko_port_pid(port));
    send_int(rt, roots[i], 10 * (i + 1));
  }
  hiko_program_release(p);
  cr_assert_eq(hiko_start(rt), 0);
  cr_assert_eq(hiko_start(rt), HIKO_ESTATE);

  /* one report per root, in any order */
  int seen = 0;
  for (int i = 0; i < 3; i++) {
    char *s = recv_show(port);
    int b = 0;
    cr_assert_eq(sscanf(s, "(%d,", &b), 1, "%s", s);
    cr_assert(b == 10 || b == 20 || b == 30, "%s", s);
    int64_t total = 4000;
    for (int k = 1; k <= 4; k++) total += (int64_t)(b + k) * (b + k);
    char want[256];
    snprintf(want, sizeof want,
             "(%d, %lld, Err (RuntimeError lookup: no such key nope), "
             "Err (RuntimeError bad_io: No such file or directory), Err Cancelled)",
             b, (long long)total);
    cr_assert_str_eq(s, want);
    seen |= 1 << (b / 10);
    hiko_free(s);
  }
  cr_assert_eq(seen, 0xE);
  cr_assert_eq(hiko_port_recv(port, &none, 30), -ETIMEDOUT);

  /* the host answers each root; each answers back, then waits for a last word */
  for (int i = 0; i < 3; i++) {
    hiko_value_t *v;
    cr_assert_eq(hiko_value_string("stop", 4, &v), 0);
    cr_assert_eq(hiko_send(rt, roots[i], v), 0);
    hiko_value_free(v);
  }
  seen = 0;
  for (int i = 0; i < 3; i++) {
    char *s = recv_show(port);
    int b = 0;
    cr_assert_eq(sscanf(s, "stop %d", &b), 1, "%s", s);
    seen |= 1 << (b / 10);
    hiko_free(s);
  }
  cr_assert_eq(seen, 0xE);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, roots[0], &r, 50), -ETIMEDOUT); /* still waiting for us */
  for (int i = 0; i < 3; i++) send_int(rt, roots[i], 0);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(hiko_join(rt, roots[i], &r, 10000), 0);
    cr_assert_eq(r.status, HIKO_DONE, "%s", r.message ? r.message : "");
    hiko_result_clear(&r);
  }
  cr_assert_eq(hiko_join(rt, 999999, &r, 0), -ENOENT);
  /* every blocking call of wait_cancel saw its caller's cancellation (§12.3.6) */
  for (int i = 0; i < 200 && __atomic_load_n(&saw_cancel, __ATOMIC_SEQ_CST) < 3; i++)
    usleep(10000);
  cr_assert_eq(__atomic_load_n(&saw_cancel, __ATOMIC_SEQ_CST), 3);

  hiko_stats_t st;
  cr_assert_eq(hiko_stats_get(rt, &st), 0);
  /* per root: 4 jobs, lookup "nope", bad_io, wait_cancel */
  cr_assert_eq(st.total.spawns, 21);
  cr_assert_geq(st.processes, 24);
  cr_assert_eq(st.failed, 6);
  cr_assert_eq(st.cancelled, 3);
  cr_assert_eq(st.done, 15);
  cr_assert_geq(st.total.received, 3 * 4); /* pid, base, "stop", last word */
  uint64_t slices = 0;
  for (unsigned i = 0; i < st.workers; i++) slices += st.per_worker[i].slices;
  cr_assert_eq(slices, st.total.slices);
  cr_assert_eq(st.workers, 2);
  hiko_stats_clear(&st);
  cr_assert_eq(hiko_port_close(port), 0);
  cr_assert_eq(hiko_shutdown(rt), 0);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

/* A request/reply service driven by two host threads, a second program in
** the same runtime, and shutdown of a root that never ends (§12.2, §12.3). */
static const char svc_src[] =
    "datatype req = Req of Pid * Int | Quit\n"
    "fun serve n = case receive_message () of\n"
    "    Req (to, x) => let val _ = send_message (to, x * 2) in serve (n + 1) end\n"
    "  | Quit => n\n"
    "val served = serve 0\n"
    "val _ = println (\"served \" ^ int_to_string served)\n";

typedef struct svc_client {
  hiko_runtime_t *rt;
  const hiko_program_t *p;
  hiko_pid_t server, reply_to;
  int from, to;
} svc_client_t;

static void *svc_client_main(void *arg) {
  svc_client_t *c = arg;
  for (int i = c->from; i <= c->to; i++) {
    hiko_value_t *items[2], *tuple, *req;
    if (hiko_value_pid(c->reply_to, &items[0]) || hiko_value_int(i, &items[1])) return "value";
    if (hiko_value_tuple(items, 2, &tuple)) return "tuple";
    if (hiko_value_data(c->p, "Req", tuple, &req)) return "data";
    if (hiko_send(c->rt, c->server, req)) return "send";
    hiko_value_free(req);
  }
  return NULL;
}

Test(qa_api, host_service_two_threads_and_shutdown) {
  hiko_config_t cfg;
  base_cfg(&cfg, 2);
  hiko_runtime_t *rt = make(&cfg);
  hiko_program_t *svc = compile(rt, svc_src);
  hiko_program_t *idle = compile(rt, "val _ = println \"idle up\"\nval _ = receive_message () : Int\n");
  hiko_value_t *bad = NULL, *unit = NULL;
  cr_assert_eq(hiko_value_data(svc, "Nope", NULL, &bad), -ENOENT);
  cr_assert_eq(hiko_value_unit(&unit), 0);
  cr_assert_eq(hiko_value_data(svc, "Quit", unit, &bad), -EINVAL); /* Quit takes nothing */
  hiko_value_free(unit); /* on failure the caller keeps what it passed (§12.1.3) */
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_pid_t server, sleeper;
  cr_assert_eq(hiko_spawn_main(rt, svc, &server), 0);
  cr_assert_eq(hiko_spawn_main(rt, idle, &sleeper), 0);
  cr_assert_eq(hiko_start(rt), 0);
  svc_client_t a = {rt, svc, server, hiko_port_pid(port), 1, 100};
  svc_client_t b = {rt, svc, server, hiko_port_pid(port), 101, 200};
  pthread_t ta, tb;
  cr_assert_eq(pthread_create(&ta, NULL, svc_client_main, &a), 0);
  cr_assert_eq(pthread_create(&tb, NULL, svc_client_main, &b), 0);
  void *ra, *rb;
  pthread_join(ta, &ra);
  pthread_join(tb, &rb);
  cr_assert_null(ra, "%s", (char *)ra);
  cr_assert_null(rb, "%s", (char *)rb);
  int64_t sum = 0;
  for (int i = 0; i < 200; i++) {
    hiko_value_t *v = NULL;
    cr_assert_eq(hiko_port_recv(port, &v, 10000), 0);
    cr_assert_eq(hiko_value_kind(v), HIKO_INT);
    sum += hiko_value_get_int(v);
    hiko_value_free(v);
  }
  cr_assert_eq(sum, 200 * 201); /* 2 * (1 + ... + 200) */
  hiko_value_t *quit;
  cr_assert_eq(hiko_value_data(svc, "Quit", NULL, &quit), 0);
  cr_assert_eq(hiko_send(rt, server, quit), 0);
  hiko_value_free(quit);
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, server, &r, 10000), 0);
  cr_assert_eq(r.status, HIKO_DONE, "%s", r.message ? r.message : "");
  hiko_result_clear(&r);
  cr_assert_not_null(strstr(out.data, "served 200\n"), "%s", out.data);
  cr_assert_not_null(strstr(out.data, "idle up\n"), "%s", out.data);
  /* the other root never ends by itself: shutdown cancels it (§6.3: Cancelled) */
  cr_assert_eq(hiko_join(rt, sleeper, &r, 20), -ETIMEDOUT);
  cr_assert_eq(hiko_shutdown(rt), 0);
  cr_assert_eq(hiko_join(rt, sleeper, &r, 10000), 0);
  cr_assert_eq(r.status, HIKO_FAILED);
  cr_assert_str_eq(r.message, "cancelled");
  cr_assert_not_null(r.failure);
  cr_assert_str_eq(hiko_value_ctor(r.failure), "Cancelled");
  hiko_result_clear(&r);
  /* later messages to the ended roots are dropped, not errors (§6.5.1) */
  send_int(rt, server, 1);
  cr_assert_eq(hiko_port_close(port), 0);
  hiko_program_release(svc);
  hiko_program_release(idle);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

/* exit n from one root ends every root; each join reports it (§12.3.4). */
Test(qa_api, host_exit_ends_every_root) {
  hiko_config_t cfg;
  base_cfg(&cfg, 2);
  cfg.allow_exit = true;
  hiko_runtime_t *rt = make(&cfg);
  hiko_program_t *waiter = compile(rt, "val _ = receive_message () : Int\n");
  hiko_program_t *quitter = compile(rt, "val _ = sleep 20\nval _ = exit 7\n");
  hiko_pid_t w1, w2, q;
  cr_assert_eq(hiko_spawn_main(rt, waiter, &w1), 0);
  cr_assert_eq(hiko_spawn_main(rt, quitter, &q), 0);
  cr_assert_eq(hiko_spawn_main(rt, waiter, &w2), 0);
  cr_assert_eq(hiko_run(rt), 0);
  hiko_pid_t all[3] = {w1, q, w2};
  for (int i = 0; i < 3; i++) {
    hiko_result_t r;
    cr_assert_eq(hiko_join(rt, all[i], &r, 10000), 0);
    cr_assert_eq(r.status, HIKO_EXITED, "root %d: status %d", i, r.status);
    cr_assert_eq(r.exit_code, 7);
    hiko_result_clear(&r);
  }
  hiko_program_release(waiter);
  hiko_program_release(quitter);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

/* hiko.h: hiko_runtime_create borrows cfg and copies its strings, so a host
** may build them in temporary memory: argv, allow_exec, fs_root and lib_dir
** are overwritten and freed right after creation, and the program still
** sees the values (args (), an allowed exec, a confined read_file, a `use`
** of the configured library directory). */
static char *scratch_dup(const char *s) {
  char *d = strdup(s);
  cr_assert_not_null(d);
  return d;
}

static void scrub_free(char *s) {
  memset(s, 'X', strlen(s));
  free(s);
}

Test(qa_api, config_strings_are_copied) {
  char dir[] = "/tmp/hiko-qa-cfg-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/stdlib", dir);
  cr_assert_eq(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/stdlib/qa_cfg.hml", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("val from_lib = 41 + 1\n", f);
  fclose(f);
  snprintf(path, sizeof path, "%s/data.txt", dir);
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("data", f);
  fclose(f);

  hiko_config_t cfg;
  base_cfg(&cfg, 2);
  char **argv = malloc(2 * sizeof *argv), **allow = malloc(sizeof *allow);
  cr_assert(argv && allow);
  argv[0] = scratch_dup("first");
  argv[1] = scratch_dup("second");
  allow[0] = scratch_dup("true");
  char *root = scratch_dup(dir), *lib = scratch_dup(dir);
  cfg.argv = (const char *const *)argv;
  cfg.argc = 2;
  cfg.allow_exec = (const char *const *)allow;
  cfg.n_allow_exec = 1;
  cfg.fs_root = root;
  cfg.lib_dir = lib;
  hiko_runtime_t *rt = make(&cfg);
  scrub_free(argv[0]);
  scrub_free(argv[1]);
  scrub_free(allow[0]);
  scrub_free(root);
  scrub_free(lib);
  memset(argv, 0, 2 * sizeof *argv);
  memset(allow, 0, sizeof *allow);
  free(argv);
  free(allow);

  run_one(rt,
          "use \"stdlib/qa_cfg.hml\"\n"
          "val _ = println (args (), from_lib, read_file \"data.txt\")\n"
          "val (status, _, _) = exec (\"true\", [])\n"
          "val _ = println status\n",
          HIKO_DONE, NULL);
  cr_assert_str_eq(out.data, "([first, second], 42, data)\n0\n");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  snprintf(path, sizeof path, "%s/stdlib/qa_cfg.hml", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/data.txt", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/stdlib", dir);
  rmdir(path);
  rmdir(dir);
}

/* A configuration whose size is not sizeof (hiko_config_t) (another
** version of the header, or garbage), or that gives a count without its
** array, is "a bad configuration": -EINVAL. A zero-initialised one (size 0)
** is accepted as written. */
Test(qa_api, config_bad_size_and_missing_arrays) {
  hiko_config_t cfg;
  hiko_runtime_t *rt = (hiko_runtime_t *)&cfg;
  hiko_config_init(&cfg);
  cfg.size = sizeof cfg + 8;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), -EINVAL);
  cr_assert_null(rt);
  hiko_config_init(&cfg);
  cfg.size = 1;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), -EINVAL);
  cr_assert_null(rt);
  memset(&cfg, 0, sizeof cfg);
  cfg.workers = 1;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), 0);
  cr_assert_not_null(rt);
  hiko_program_t *prog = NULL;
  hiko_diags_t *diags = NULL;
  const char *src = "val _ = 1 + 1\n";
  cr_assert_eq(hiko_compile_string(rt, "zero.hml", src, strlen(src), &prog, &diags), 0);
  hiko_diags_free(diags);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, prog, &root), 0);
  cr_assert_eq(hiko_run(rt), 0);
  hiko_program_release(prog);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  rt = NULL;
  hiko_config_init(&cfg);
  cfg.argc = 1;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), -EINVAL);
  hiko_config_init(&cfg);
  cfg.n_allow_exec = 1;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), -EINVAL);
  const char *holes[2] = {"a", NULL};
  hiko_config_init(&cfg);
  cfg.argv = holes;
  cfg.argc = 2;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), -EINVAL);
  cr_assert_null(rt);
}

static int qa_one(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  (void)arg;
  (void)ud;
  return hiko_value_int(1, result);
}

/* A builtin name must be one a program can call (SPEC §1.3): an IDENT, not
** a keyword, not the wildcard, no quote. */
Test(qa_api, register_builtin_rejects_keywords) {
  hiko_runtime_t *rt = make_rt(1);
  const char *bad[] = {"val", "resume", "andalso", "mod", "_", "a'b", "x-y"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(hiko_register_builtin(rt, bad[i], "Unit -> Int", qa_one, NULL, 0), -EINVAL,
                 "%s", bad[i]);
  cr_assert_eq(hiko_register_builtin(rt, "_values", "Unit -> Int", qa_one, NULL, 0), 0);
  cr_assert_eq(hiko_register_builtin(rt, "valx", "Unit -> Int", qa_one, NULL, 0), 0);
  run_one(rt, "val _ = println (_values () + valx ())\n", HIKO_DONE, NULL);
  cr_assert_str_eq(out.data, "2\n");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}

/* Messages of the runtime go to cfg.err when the host set it (hiko.h: "NULL:
** file descriptors 1 and 2"): a trace that cannot be written is reported
** there, like the statistics. */
Test(qa_api, trace_error_goes_to_err_callback) {
  hiko_config_t cfg;
  base_cfg(&cfg, 1);
  cfg.trace_path = "/nonexistent-hiko-qa/trace.json";
  hiko_runtime_t *rt = make(&cfg);
  run_one(rt, "val _ = println 1\n", HIKO_DONE, NULL);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  cr_assert_not_null(strstr(err.data, "hiko: cannot write trace /nonexistent-hiko-qa/trace.json: "
                                      "No such file or directory"),
                     "err: %s", err.data);
}

/* SPEC §5: an unapplied builtin prints <builtin:NAME>; a native registered
** by the embedder is a builtin (§15), also after a copy to a child. */
Test(qa_api, native_prints_as_builtin) {
  hiko_runtime_t *rt = make_rt(2);
  cr_assert_eq(hiko_register_builtin(rt, "qa_twice", "Int -> Int", qa_one, NULL, 0), 0);
  run_one(rt,
          "val _ = println qa_twice\n"
          "val _ = println (await_process (spawn (fn () => [qa_twice])), println)\n",
          HIKO_DONE, NULL);
  cr_assert_str_eq(out.data, "<builtin:qa_twice>\n([<builtin:qa_twice>], <builtin:println>)\n");
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
}
