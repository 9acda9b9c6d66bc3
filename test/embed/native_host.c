/* native_host.c — native builtins as an embedder writes them (SPEC §12.2,
** §12.3.5-6, docs/embedding.md §7): arguments of every kind a program can
** pass (scalars, strings, bytes, tuples, lists, data, pids, sockets, Rng,
** functions, builtins), results of every kind C can build (outcomes and
** failures included), the three ways a native fails a caller, a result of
** the wrong type, blocking natives running side by side and cancelled,
** the calls a native may and may not make, and every registration error. */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

static int the_ud;

static const char *kind_name(hiko_kind_t k) {
  static const char *names[] = {"INT", "FLOAT", "BOOL", "CHAR", "UNIT", "STRING", "BYTES",
                                "TUPLE", "LIST", "DATA", "PID", "SOCKET", "RNG", "FUNCTION"};
  return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

/* describe : 'a -> String — "KIND show-text", and for a data value its
** constructor, for a tuple or list its count. */
static int describe(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call;
  CHECK(ud == &the_ud);
  char *text = NULL;
  int rc = hiko_value_show(arg, &text);
  if (rc) return rc;
  char buf[512];
  hiko_kind_t k = hiko_value_kind(arg);
  if (k == HIKO_DATA)
    snprintf(buf, sizeof buf, "%s %s %s/%zu", kind_name(k), text, hiko_value_ctor(arg),
             hiko_value_count(arg));
  else if (k == HIKO_TUPLE || k == HIKO_LIST)
    snprintf(buf, sizeof buf, "%s %s #%zu", kind_name(k), text, hiko_value_count(arg));
  else
    snprintf(buf, sizeof buf, "%s %s", kind_name(k), text);
  hiko_free(text);
  return hiko_value_string(buf, strlen(buf), result);
}

/* sum_parts : Int * Float * Bool * Char * String * Bytes * Int list -> String
** reads every field with the getters. */
static int sum_parts(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call, (void)ud;
  CHECK(hiko_value_kind(arg) == HIKO_TUPLE && hiko_value_count(arg) == 7);
  int64_t i = hiko_value_get_int(hiko_value_at(arg, 0));
  double f = hiko_value_get_float(hiko_value_at(arg, 1));
  bool b = hiko_value_get_bool(hiko_value_at(arg, 2));
  uint32_t c = hiko_value_get_char(hiko_value_at(arg, 3));
  size_t slen = 0, blen = 0;
  const char *s = hiko_value_get_string(hiko_value_at(arg, 4), &slen);
  const char *by = hiko_value_get_string(hiko_value_at(arg, 5), &blen);
  const hiko_value_t *l = hiko_value_at(arg, 6);
  int64_t lsum = 0;
  for (size_t k = 0; k < hiko_value_count(l); k++) lsum += hiko_value_get_int(hiko_value_at(l, k));
  CHECK(hiko_value_at(l, hiko_value_count(l)) == NULL || 1);
  char buf[256];
  snprintf(buf, sizeof buf, "%lld %.2f %d U+%04X %zu:%.*s %zu:%02x%02x %lld", (long long)i, f, b,
           (unsigned)c, slen, (int)slen, s, blen, (unsigned char)by[0], (unsigned char)by[blen - 1],
           (long long)lsum);
  return hiko_value_string(buf, strlen(buf), result);
}

/* make_all : Int -> Int * Float * Bool * Char * Unit * String * Bytes * Int list * Pid
**            * Int outcome * String list list */
static int make_all(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call, (void)ud;
  int64_t n = hiko_value_get_int(arg);
  hiko_value_t *it[11], *l3[3], *inner[2], *ll[1], *pay;
  CHECK_RC(hiko_value_int(n * 2, &it[0]), 0);
  CHECK_RC(hiko_value_float(-0.5, &it[1]), 0);
  CHECK_RC(hiko_value_bool(n > 0, &it[2]), 0);
  CHECK_RC(hiko_value_char(0x3bb, &it[3]), 0); /* λ */
  CHECK_RC(hiko_value_unit(&it[4]), 0);
  CHECK_RC(hiko_value_string("a\0b\xc3\xa9", 5, &it[5]), 0); /* NUL inside, é */
  CHECK_RC(hiko_value_bytes("\x00\xff\x10", 3, &it[6]), 0);
  for (int k = 0; k < 3; k++) CHECK_RC(hiko_value_int(k + n, &l3[k]), 0);
  CHECK_RC(hiko_value_list(l3, 3, &it[7]), 0);
  CHECK_RC(hiko_value_pid(7, &it[8]), 0);
  if (n >= 0) {
    CHECK_RC(hiko_value_int(n, &pay), 0);
    CHECK_RC(hiko_value_data(NULL, "Ok", pay, &it[9]), 0);
  } else {
    hiko_value_t *msg;
    CHECK_RC(hiko_value_string("negative", 8, &msg), 0);
    CHECK_RC(hiko_value_data(NULL, "RuntimeError", msg, &pay), 0);
    CHECK_RC(hiko_value_data(NULL, "Err", pay, &it[9]), 0);
  }
  CHECK_RC(hiko_value_string("x", 1, &inner[0]), 0);
  CHECK_RC(hiko_value_string("", 0, &inner[1]), 0);
  CHECK_RC(hiko_value_list(inner, 2, &ll[0]), 0);
  CHECK_RC(hiko_value_list(ll, 1, &it[10]), 0);
  return hiko_value_tuple(it, 11, result);
}

/* Three ways to fail: a message, a negative errno, a value C cannot build. */
static int fail_msg(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)result, (void)ud;
  return hiko_call_fail(call, hiko_value_get_string(arg, NULL));
}
static int fail_errno(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call, (void)result, (void)ud;
  return -(int)hiko_value_get_int(arg);
}
static int bad_utf8(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call, (void)arg, (void)ud;
  return hiko_value_string("\xff", 1, result); /* -EILSEQ, passed on */
}
/* Registered as Unit -> Int, returns a String. */
static int wrong_type(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call, (void)arg, (void)ud;
  return hiko_value_string("seven", 5, result);
}

/* The calls a native may not make return -EBUSY; hiko_send is allowed:
** poke : Pid -> Int sends 1 to the pid and reports what the others gave. */
static hiko_runtime_t *the_rt;
static hiko_port_t *the_port;
static int poke(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)call, (void)ud;
  hiko_value_t *one, *got = NULL;
  CHECK_RC(hiko_value_int(1, &one), 0);
  CHECK_RC(hiko_send(the_rt, hiko_value_get_pid(arg), one), 0);
  hiko_value_free(one);
  hiko_result_t r;
  int busy = 0;
  busy += hiko_join(the_rt, 1, &r, 0) == -EBUSY;
  busy += hiko_port_recv(the_port, &got, 0) == -EBUSY;
  busy += hiko_runtime_destroy(the_rt) == -EBUSY;
  busy += hiko_shutdown(the_rt) == -EBUSY;
  busy += hiko_run(the_rt) == -EBUSY;
  return hiko_value_int(busy, result);
}

/* slow : Int -> Int, blocking: waits n ms (in 1 ms steps, stopping early
** when cancelled) and returns n. */
static atomic_int running, most_running, saw_cancel, finished;
static int slow(hiko_call_t *call, const hiko_value_t *arg, hiko_value_t **result, void *ud) {
  (void)ud;
  int now = atomic_fetch_add(&running, 1) + 1;
  for (int m = atomic_load(&most_running); now > m && !atomic_compare_exchange_weak(&most_running, &m, now);)
    ;
  int64_t n = hiko_value_get_int(arg);
  for (int64_t i = 0; i < n; i++) {
    if (hiko_call_cancelled(call)) {
      atomic_fetch_add(&saw_cancel, 1);
      break;
    }
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  atomic_fetch_sub(&running, 1);
  atomic_fetch_add(&finished, 1);
  return hiko_value_int(n, result);
}

static const char *program =
    "datatype shape = Dot | Box of Int * Float\n"
    "val _ = println (describe 42)\n"
    "val _ = println (describe 2.5)\n"
    "val _ = println (describe true)\n"
    "val _ = println (describe #\"z\")\n"
    "val _ = println (describe ())\n"
    "val _ = println (describe \"two words\")\n"
    "val _ = println (describe (string_to_bytes \"abc\"))\n"
    "val _ = println (describe (1, \"a\", [2]))\n"
    "val _ = println (describe [Dot, Box (1, 0.5)])\n"
    "val _ = println (describe (Box (3, 1.0)))\n"
    "val _ = println (describe Dot)\n"
    "val _ = println (describe (Ok 5 : Int outcome))\n"
    "val _ = println (describe (self ()))\n"
    "val _ = println (describe (rng_seed (string_to_bytes \"s\")))\n"
    "val _ = println (describe (fn x => x + 1))\n"
    "val _ = println (describe println)\n"
    "val _ = println (describe describe)\n"
    "val l = tcp_listen (\"127.0.0.1\", 0)\n"
    "val _ = println (describe l)\n"
    "val _ = socket_close l\n"
    "val _ = println (sum_parts (~7, 1.25, true, #\"\xf0\x9f\x98\x80\", \"h\xc3\xa9\", string_to_bytes \"\\x01xy\", [1, 2, 3]))\n"
    "val (i, f, b, c, u, s, by, xs, p, o, ll) = make_all 4\n"
    "val _ = println (i, f, b, c, u, string_length s, bytes_length by, bytes_get (by, 1), xs, p, o, ll)\n"
    "val (_, _, b2, _, _, _, _, _, _, o2, _) = make_all (~1)\n"
    "val _ = println (b2, o2)\n"
    "val _ = case o2 of Err (RuntimeError m) => println m | _ => panic \"not Err\"\n"
    "fun try f = case await_result (spawn f) of Ok v => println v | Err e => println e\n"
    "val _ = try (fn () => fail_msg \"no such widget\")\n"
    "val _ = try (fn () => fail_errno 2)\n"
    "val _ = try (fn () => fail_errno 13)\n"
    "val _ = try (fn () => bad_utf8 ())\n"
    "val _ = try (fn () => wrong_type ())\n"
    "(* passed, stored, sent, shadowed *)\n"
    "val fs = [describe, fn x => \"local\"]\n"
    "val _ = println (case fs of g :: _ => g 1 | [] => \"\")\n"
    "val c = spawn (fn () => (receive_message () : Int -> String) 9)\n"
    "val _ = send_message (c, describe)\n"
    "val _ = println (await_process c : String)\n"
    "val w = spawn (fn () => receive_message () : Int)\n"
    "val _ = println (poke w, await_process w)\n"
    "val slows = [spawn (fn () => slow 60), spawn (fn () => slow 60), spawn (fn () => slow 60)]\n"
    "val _ = println (map (fn p => await_process p : Int) slows)\n"
    "val victim = spawn (fn () => slow 10000)\n"
    "val _ = sleep 50\n"
    "val _ = cancel victim\n"
    "val _ = println (await_result victim : Int outcome)\n"
    "local fun describe x = \"shadowed\" in val _ = println (describe 1) end\n";

static const char *expected =
    "INT 42\n"
    "FLOAT 2.5\n"
    "BOOL true\n"
    "CHAR z\n"
    "UNIT ()\n"
    "STRING two words\n"
    "BYTES <bytes:3>\n"
    "TUPLE (1, a, [2]) #3\n"
    "LIST [Dot, Box (1, 0.5)] #2\n"
    "DATA Box (3, 1) Box/1\n"
    "DATA Dot Dot/0\n"
    "DATA Ok 5 Ok/1\n"
    "PID <pid 2>\n" /* the port opened first took <pid 1> */
    "RNG <rng>\n"
    "FUNCTION <fn>\n"
    "FUNCTION <builtin:println>\n"
    "FUNCTION <builtin:describe>\n"
    "SOCKET <socket 1>\n"
    "-7 1.25 1 U+1F600 3:h\xc3\xa9 3:0179 6\n"
    "(8, -0.5, true, \xce\xbb, (), 4, 3, 255, [4, 5, 6], <pid 7>, Ok 4, [[x, ]])\n"
    "(false, Err (RuntimeError negative))\n"
    "negative\n"
    "RuntimeError fail_msg: no such widget\n"
    "RuntimeError fail_errno: No such file or directory\n"
    "RuntimeError fail_errno: Permission denied\n"
    "RuntimeError bad_utf8: Invalid or incomplete multibyte or wide character\n"
    "RuntimeError wrong_type: result does not have the registered type\n"
    "INT 1\n"
    "INT 9\n"
    "(5, 1)\n"
    "[60, 60, 60]\n"
    "Err Cancelled\n"
    "shadowed\n";

static void registration_errors(hiko_runtime_t *rt) {
  CHECK_RC(hiko_register_builtin(rt, "describe", "'a -> String", describe, NULL, 0), -EEXIST);
  CHECK_RC(hiko_register_builtin(rt, "println", "'a -> Unit", describe, NULL, 0), -EEXIST);
  CHECK_RC(hiko_register_builtin(rt, "Upper", "Int -> Int", describe, NULL, 0), -EINVAL);
  CHECK_RC(hiko_register_builtin(rt, "two words", "Int -> Int", describe, NULL, 0), -EINVAL);
  CHECK_RC(hiko_register_builtin(rt, "", "Int -> Int", describe, NULL, 0), -EINVAL);
  CHECK_RC(hiko_register_builtin(rt, "flags", "Int -> Int", describe, NULL, 0x80), -EINVAL);
  CHECK_RC(hiko_register_builtin(rt, "broken", "Int ->", describe, NULL, 0), HIKO_ECOMPILE);
  CHECK_RC(hiko_register_builtin(rt, "unknown_t", "Widget -> Int", describe, NULL, 0), HIKO_ECOMPILE);
  CHECK_RC(hiko_register_builtin(rt, "not_fn", "Int", describe, NULL, 0), HIKO_ECOMPILE);
}

int main(void) {
  host_out_t out;
  host_out_init(&out);
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.helpers = 2; /* three slow calls: at most two at once */
  cfg.out = host_out_write;
  cfg.io_ud = &out;
  CHECK_RC(hiko_runtime_create(&the_rt, &cfg), 0);
  hiko_runtime_t *rt = the_rt;
  CHECK_RC(hiko_register_builtin(rt, "describe", "'a -> String", describe, &the_ud, 0), 0);
  CHECK_RC(hiko_register_builtin(rt, "sum_parts",
               "Int * Float * Bool * Char * String * Bytes * Int list -> String", sum_parts, NULL, 0), 0);
  CHECK_RC(hiko_register_builtin(rt, "make_all",
               "Int -> Int * Float * Bool * Char * Unit * String * Bytes * Int list * Pid"
               " * Int outcome * String list list", make_all, NULL, 0), 0);
  CHECK_RC(hiko_register_builtin(rt, "fail_msg", "String -> Int", fail_msg, NULL, 0), 0);
  CHECK_RC(hiko_register_builtin(rt, "fail_errno", "Int -> Int", fail_errno, NULL, 0), 0);
  CHECK_RC(hiko_register_builtin(rt, "bad_utf8", "Unit -> String", bad_utf8, NULL, 0), 0);
  CHECK_RC(hiko_register_builtin(rt, "wrong_type", "Unit -> Int", wrong_type, NULL, 0), 0);
  CHECK_RC(hiko_register_builtin(rt, "poke", "Pid -> Int", poke, NULL, 0), 0);
  CHECK_RC(hiko_register_builtin(rt, "slow", "Int -> Int", slow, NULL, HIKO_NATIVE_BLOCKING), 0);
  /* Any number of type variables (a native need not be called to count). */
  CHECK_RC(hiko_register_builtin(rt, "many_vars",
               "'a * 'b * 'c * 'd * 'e * 'f * 'g * 'h * 'i * ''j -> ''j list", wrong_type, NULL, 0), 0);
  registration_errors(rt);

  /* The checker types every use against the registered type. */
  const char *bad = "val _ = sum_parts (1, 2, 3)\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  CHECK_RC(hiko_compile_string(rt, "bad.hml", bad, strlen(bad), &p, &d), HIKO_ECOMPILE);
  hiko_diags_free(d);
  /* Without the runtime the natives do not exist. */
  CHECK_RC(hiko_compile_string(NULL, "no.hml", "val _ = describe 1\n", 19, &p, &d), HIKO_ECOMPILE);
  hiko_diags_free(d);

  char src[8192];
  snprintf(src, sizeof src, "use \"stdlib/list.hml\"\n%s", program);
  p = host_compile(rt, "natives.hml", src);
  /* Registration ends with the first compilation. */
  CHECK_RC(hiko_register_builtin(rt, "late", "Int -> Int", describe, NULL, 0), HIKO_ESTATE);
  CHECK_RC(hiko_port_open(rt, &the_port), 0);
  hiko_pid_t root;
  CHECK_RC(hiko_start(rt), 0);
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  host_expect(rt, root, HIKO_DONE, NULL);
  if (strcmp(out.buf, expected) != 0) {
    fprintf(stderr, "output:\n%s\nexpected:\n%s", out.buf, expected);
    return 1;
  }
  CHECK(atomic_load(&most_running) == 2);
  CHECK_RC(hiko_port_close(the_port), 0);
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
  /* Destruction waited for the cancelled call, which saw the cancel. */
  CHECK(atomic_load(&finished) == 4);
  CHECK(atomic_load(&saw_cancel) == 1);
  puts("native_host: ok");
  return 0;
}
