/* values_host.c — values crossing between C and processes (SPEC §5,
** §6.12, §12.2-§12.3.1): every kind C builds sent to a process that
** prints it and sends it back, the returned tree read with the getters;
** the program's own constructors; functions and Rng values received from
** a process sent back and used (a function only to its own program, an
** Rng anywhere; a constructor the receiver lacks refused); and values deep
** and long enough that shown, copied or freed recursively they would
** overflow a native stack. */
#include <errno.h>

#include "host.h"

static hiko_runtime_t *rt;
static host_out_t out;

static hiko_value_t *mk_int(int64_t n) {
  hiko_value_t *v;
  CHECK_RC(hiko_value_int(n, &v), 0);
  return v;
}

static hiko_value_t *mk_str(const char *s, size_t len) {
  hiko_value_t *v;
  CHECK_RC(hiko_value_string(s, len, &v), 0);
  return v;
}

static hiko_value_t *mk_tuple2(hiko_value_t *a, hiko_value_t *b) {
  hiko_value_t *items[2] = {a, b}, *v;
  CHECK_RC(hiko_value_tuple(items, 2, &v), 0);
  return v;
}

/* The echo program: answers each (reply_to, value) by printing the value
** and sending it back; "stop" ends it. */
static const char *echo_src =
    "datatype shape = Dot | Box of Int * Float | Pair of shape * shape\n"
    "fun loop () = case receive_message () of\n"
    "    (to, Some v) => let val _ = println v val _ = send_message (to, v) in loop () end\n"
    "  | (_, None) => ()\n"
    "val _ = loop ()\n";

/* Sends (port, Some v) to [to] and returns what comes back. Takes v. */
static hiko_value_t *round_trip(hiko_port_t *port, hiko_pid_t to, hiko_program_t *p,
                                hiko_value_t *v) {
  hiko_value_t *me, *some, *msg, *back = NULL;
  CHECK_RC(hiko_value_pid(hiko_port_pid(port), &me), 0);
  CHECK_RC(hiko_value_data(p, "Some", v, &some), 0);
  msg = mk_tuple2(me, some);
  CHECK_RC(hiko_send(rt, to, msg), 0);
  hiko_value_free(msg);
  CHECK_RC(hiko_port_recv(port, &back, 20000), 0);
  return back;
}

static void all_kinds(void) {
  char src[2048];
  snprintf(src, sizeof src, "use \"stdlib/option.hml\"\n%s", echo_src);
  hiko_program_t *p = host_compile(rt, "echo.hml", src);
  hiko_port_t *port;
  CHECK_RC(hiko_port_open(rt, &port), 0);
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);

  hiko_value_t *v[12];
  v[0] = mk_int(INT64_MIN);
  CHECK_RC(hiko_value_float(-0.0, &v[1]), 0);
  CHECK_RC(hiko_value_bool(false, &v[2]), 0);
  CHECK_RC(hiko_value_char(0x1F600, &v[3]), 0);
  CHECK_RC(hiko_value_unit(&v[4]), 0);
  v[5] = mk_str("nul\0inside", 10);
  CHECK_RC(hiko_value_bytes("\x00\x01\x02\x03", 4, &v[6]), 0);
  CHECK_RC(hiko_value_pid(hiko_port_pid(port), &v[7]), 0);
  hiko_value_t *dot, *box, *pair;
  CHECK_RC(hiko_value_data(p, "Dot", NULL, &dot), 0);
  hiko_value_t *f;
  CHECK_RC(hiko_value_float(0.1, &f), 0);
  CHECK_RC(hiko_value_data(p, "Box", mk_tuple2(mk_int(2), f), &box), 0);
  CHECK_RC(hiko_value_data(p, "Pair", mk_tuple2(dot, box), &pair), 0);
  v[8] = pair;
  hiko_value_t *l[3] = {mk_int(1), mk_int(2), mk_int(3)};
  CHECK_RC(hiko_value_list(l, 3, &v[9]), 0);
  CHECK_RC(hiko_value_float(1e21, &v[10]), 0);
  hiko_value_t *msg;
  CHECK_RC(hiko_value_string("cancelled?", 10, &msg), 0);
  CHECK_RC(hiko_value_data(NULL, "RuntimeError", msg, &v[11]), 0);

  const char *shown[12] = {"-9223372036854775808", "-0", "false", "\xf0\x9f\x98\x80", "()",
                           NULL, "<bytes:4>", NULL, "Pair (Dot, Box (2, 0.1))", "[1, 2, 3]",
                           "1000000000000000000000", "RuntimeError cancelled?"};
  char pidtext[32];
  snprintf(pidtext, sizeof pidtext, "<pid %llu>", (unsigned long long)hiko_port_pid(port));
  shown[7] = pidtext;
  hiko_value_t *back[12];
  for (int i = 0; i < 12; i++) {
    hiko_kind_t kind = hiko_value_kind(v[i]);
    out.len = 0;
    out.buf[0] = '\0';
    back[i] = round_trip(port, root, p, v[i]); /* takes v[i] */
    /* The process printed it, C shows it: the same §5 text. */
    char *mine = host_show(back[i]);
    if (shown[i]) CHECK_STR(mine, shown[i]);
    char line[256];
    snprintf(line, sizeof line, "%s\n", mine);
    if (i != 5) CHECK_STR(out.buf, line);
    else CHECK(memcmp(out.buf, "nul\0inside\n", 11) == 0);
    hiko_free(mine);
    CHECK(hiko_value_kind(back[i]) == kind);
  }
  /* Read back exactly. */
  CHECK(hiko_value_get_int(back[0]) == INT64_MIN);
  size_t len = 0;
  const char *s = hiko_value_get_string(back[5], &len);
  CHECK(len == 10 && memcmp(s, "nul\0inside", 10) == 0);
  CHECK(hiko_value_get_char(back[3]) == 0x1F600);
  CHECK(hiko_value_get_pid(back[7]) == hiko_port_pid(port));
  CHECK_STR(hiko_value_ctor(back[8]), "Pair");
  CHECK(hiko_value_count(back[8]) == 1);
  const hiko_value_t *inner = hiko_value_at(back[8], 0);
  CHECK(hiko_value_kind(inner) == HIKO_TUPLE && hiko_value_count(inner) == 2);
  CHECK_STR(hiko_value_ctor(hiko_value_at(inner, 0)), "Dot");
  CHECK(hiko_value_count(hiko_value_at(inner, 0)) == 0);
  const hiko_value_t *bx = hiko_value_at(hiko_value_at(inner, 1), 0);
  CHECK(hiko_value_get_float(hiko_value_at(bx, 1)) == 0.1);
  CHECK_STR(hiko_value_ctor(back[11]), "RuntimeError");
  for (int i = 0; i < 12; i++) hiko_value_free(back[i]);

  hiko_value_t *me, *none;
  CHECK_RC(hiko_value_pid(hiko_port_pid(port), &me), 0);
  CHECK_RC(hiko_value_data(p, "None", NULL, &none), 0);
  msg = mk_tuple2(me, none);
  CHECK_RC(hiko_send(rt, root, msg), 0);
  hiko_value_free(msg);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_RC(hiko_port_close(port), 0);
  hiko_program_release(p);
}

/* A closure and an Rng from program A: both go back to A (as often as
** wanted, inside a tuple C builds); the Rng also goes to program B, the
** closure does not (-EINVAL); nor does a constructor that B lacks. Each
** comes as its own message: C owns only whole messages, and a composite
** constructor takes owned items (hiko.h has no value copy). */
static void functions_and_rng(void) {
  hiko_program_t *a = host_compile(rt, "a.hml",
      "datatype only_a = Mine of Int\n"
      "val port = receive_message () : Pid\n"
      "val k = 10\n"
      "val _ = send_message (port, fn x => x * k + 1)\n"
      "val _ = send_message (port, rng_seed (string_to_bytes \"seed\"))\n"
      "val _ = send_message (port, Mine 1)\n"
      "val (f, r) = receive_message () : (Int -> Int) * Rng\n"
      "val (g, _) = receive_message () : (Int -> Int) * Rng\n"
      "val (n, _) = rng_int (r, 1000)\n"
      "val (m, _) = rng_int (rng_seed (string_to_bytes \"seed\"), 1000)\n"
      "val _ = send_message (port, (f 4, g 5, n = m))\n");
  hiko_program_t *b = host_compile(rt, "b.hml",
      "val port = receive_message () : Pid\n"
      "val r = receive_message () : Rng\n"
      "val (n, _) = rng_int (r, 1000)\n"
      "val (m, _) = rng_int (rng_seed (string_to_bytes \"seed\"), 1000)\n"
      "val _ = send_message (port, n = m)\n");
  hiko_port_t *port;
  CHECK_RC(hiko_port_open(rt, &port), 0);
  hiko_pid_t ra, rb;
  CHECK_RC(hiko_spawn_main(rt, a, &ra), 0);
  CHECK_RC(hiko_spawn_main(rt, b, &rb), 0);
  hiko_value_t *me;
  CHECK_RC(hiko_value_pid(hiko_port_pid(port), &me), 0);
  CHECK_RC(hiko_send(rt, ra, me), 0);
  CHECK_RC(hiko_send(rt, rb, me), 0);
  hiko_value_free(me);
  hiko_value_t *fn, *rng, *mine;
  CHECK_RC(hiko_port_recv(port, &fn, 20000), 0);
  CHECK_RC(hiko_port_recv(port, &rng, 20000), 0);
  CHECK_RC(hiko_port_recv(port, &mine, 20000), 0);
  CHECK(hiko_value_kind(fn) == HIKO_FUNCTION && hiko_value_kind(rng) == HIKO_RNG);
  char *s = host_show(fn);
  CHECK_STR(s, "<fn>");
  hiko_free(s);
  s = host_show(rng);
  CHECK_STR(s, "<rng>");
  hiko_free(s);
  /* To B: the function and A's constructor are refused, the Rng goes. */
  CHECK_RC(hiko_send(rt, rb, fn), -EINVAL);
  CHECK_RC(hiko_send(rt, rb, mine), -EINVAL);
  CHECK_RC(hiko_send(rt, rb, rng), 0);
  hiko_value_t *ok;
  CHECK_RC(hiko_port_recv(port, &ok, 20000), 0);
  CHECK(hiko_value_kind(ok) == HIKO_BOOL && hiko_value_get_bool(ok));
  hiko_value_free(ok);
  host_expect(rt, rb, HIKO_DONE, NULL);
  /* To A: the same pair twice (the tuple owns fn and rng from here on). */
  hiko_value_t *pair = mk_tuple2(fn, rng);
  CHECK_RC(hiko_send(rt, ra, pair), 0);
  CHECK_RC(hiko_send(rt, ra, pair), 0);
  hiko_value_free(pair);
  hiko_value_free(mine);
  hiko_value_t *got;
  CHECK_RC(hiko_port_recv(port, &got, 20000), 0);
  s = host_show(got);
  CHECK_STR(s, "(41, 51, true)");
  hiko_free(s);
  hiko_value_free(got);
  host_expect(rt, ra, HIKO_DONE, NULL);
  CHECK_RC(hiko_port_close(port), 0);
  hiko_program_release(a);
  hiko_program_release(b);
}

/* Deep and long values: a 300,000-link chain built in C goes to a process,
** which walks it and sends back its own 300,000-link chain; C shows and
** frees both; a list of 1,000,000 Ints goes and its length comes back. */
static void deep_and_long(void) {
  hiko_program_t *p = host_compile(rt, "deep.hml",
      "datatype chain = End | Link of Int * chain\n"
      "val port = receive_message () : Pid\n"
      "fun sum c acc = case c of End => acc | Link (n, r) => sum r (acc + n)\n"
      "fun build n acc = if n = 0 then acc else build (n - 1) (Link (n, acc))\n"
      "fun len xs acc = case xs of [] => acc | _ :: r => len r (acc + 1)\n"
      "val c = receive_message () : chain\n"
      "val _ = send_message (port, sum c 0)\n"
      "val _ = send_message (port, build 300000 End)\n"
      "val xs = receive_message () : Int list\n"
      "val _ = send_message (port, len xs 0)\n");
  hiko_port_t *port;
  CHECK_RC(hiko_port_open(rt, &port), 0);
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_value_t *me;
  CHECK_RC(hiko_value_pid(hiko_port_pid(port), &me), 0);
  CHECK_RC(hiko_send(rt, root, me), 0);
  hiko_value_free(me);
  hiko_value_t *c;
  CHECK_RC(hiko_value_data(p, "End", NULL, &c), 0);
  for (int64_t i = 1; i <= 300000; i++) {
    hiko_value_t *link;
    CHECK_RC(hiko_value_data(p, "Link", mk_tuple2(mk_int(i), c), &link), 0);
    c = link;
  }
  char *s = host_show(c);
  CHECK(strncmp(s, "Link (300000, Link (299999, ", 28) == 0);
  hiko_free(s);
  CHECK_RC(hiko_send(rt, root, c), 0);
  hiko_value_free(c);
  hiko_value_t *got;
  CHECK_RC(hiko_port_recv(port, &got, 30000), 0);
  CHECK(hiko_value_get_int(got) == 300000LL * 300001 / 2);
  hiko_value_free(got);
  CHECK_RC(hiko_port_recv(port, &got, 30000), 0);
  CHECK_STR(hiko_value_ctor(got), "Link");
  s = host_show(got);
  CHECK(strncmp(s, "Link (1, Link (2, Link (3, ", 27) == 0);
  CHECK(strstr(s, "Link (300000, End)") != NULL);
  hiko_free(s);
  hiko_value_free(got);

  enum { N = 1000000 };
  hiko_value_t **items = malloc(N * sizeof *items);
  CHECK(items != NULL);
  for (int i = 0; i < N; i++) items[i] = mk_int(i);
  hiko_value_t *list;
  CHECK_RC(hiko_value_list(items, N, &list), 0);
  free(items);
  CHECK(hiko_value_count(list) == N && hiko_value_get_int(hiko_value_at(list, N - 1)) == N - 1);
  CHECK_RC(hiko_send(rt, root, list), 0);
  hiko_value_free(list);
  CHECK_RC(hiko_port_recv(port, &got, 30000), 0);
  CHECK(hiko_value_get_int(got) == N);
  hiko_value_free(got);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_RC(hiko_port_close(port), 0);
  hiko_program_release(p);
}

int main(void) {
  host_out_init(&out);
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.out = host_out_write;
  cfg.io_ud = &out;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), 0);
  CHECK_RC(hiko_start(rt), 0);
  all_kinds();
  functions_and_rng();
  deep_and_long();
  CHECK_RC(hiko_runtime_destroy(rt), 0);
  puts("values_host: ok");
  return 0;
}
