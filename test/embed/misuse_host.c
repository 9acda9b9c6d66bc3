/* misuse_host.c — every documented error return of the API for a host
** that gets things wrong (SPEC §12.1-§12.2, include/hiko.h): bad
** configurations, NULL where the header allows it, joins of pids that are
** not roots or were joined already, calls in the wrong state, values C
** cannot build (and the caller keeping what it passed on failure),
** hiko_strerror of any code, and the free functions given NULL. */
#include <errno.h>

#include "host.h"

static void configurations(void) {
  hiko_runtime_t *rt = (hiko_runtime_t *)&rt;
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  CHECK(cfg.size == sizeof cfg);
  cfg.size = sizeof cfg - 8;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), -EINVAL);
  hiko_config_init(&cfg);
  cfg.workers = 1025;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), -EINVAL);
  hiko_config_init(&cfg);
  cfg.argc = 2; /* a count without its array */
  CHECK_RC(hiko_runtime_create(&rt, &cfg), -EINVAL);
  hiko_config_init(&cfg);
  cfg.n_allow_exec = 1;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), -EINVAL);
  /* NULL configuration: the defaults. */
  CHECK_RC(hiko_runtime_create(&rt, NULL), 0);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
  CHECK_RC(hiko_runtime_destroy(NULL), 0);
}

static void joins_and_states(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  hiko_runtime_t *rt;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), 0);
  hiko_result_t r;
  memset(&r, 0, sizeof r);
  CHECK_RC(hiko_join(rt, 1, &r, 0), -ENOENT);   /* nothing issued yet */
  CHECK_RC(hiko_join(rt, 999, &r, -1), -ENOENT); /* never issued: no wait */
  hiko_program_t *p = host_compile(rt, "kids.hml",
      "val c = spawn (fn () => receive_message () : Int)\n"
      "val _ = send_message (c, 1)\nval _ = await_process c : Int\n");
  hiko_port_t *port;
  CHECK_RC(hiko_port_open(rt, &port), 0);
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  CHECK_RC(hiko_run(rt), 0);
  CHECK_RC(hiko_join(rt, root + 1, &r, 0), -ENOENT); /* a child, not a root */
  CHECK_RC(hiko_join(rt, hiko_port_pid(port), &r, 0), -ENOENT); /* a port */
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_RC(hiko_join(rt, root, &r, -1), -ENOENT); /* joined already */
  CHECK_RC(hiko_port_close(port), 0);

  /* hiko_send: NULL runtime or message; an unknown pid is no error. */
  hiko_value_t *v;
  CHECK_RC(hiko_value_int(1, &v), 0);
  CHECK_RC(hiko_send(NULL, root, v), -EINVAL);
  CHECK_RC(hiko_send(rt, root, NULL), -EINVAL);
  CHECK_RC(hiko_send(rt, 123456, v), 0);
  CHECK_RC(hiko_send(rt, 0, v), 0);
  hiko_value_free(v);

  /* hiko_run left the workers running: hiko_start has nothing to do; a
  ** second hiko_run runs the roots spawned since. */
  CHECK_RC(hiko_start(rt), HIKO_ESTATE);
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  CHECK_RC(hiko_run(rt), 0);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_RC(hiko_shutdown(rt), 0);
  CHECK_RC(hiko_shutdown(rt), 0);
  CHECK_RC(hiko_spawn_main(rt, p, &root), HIKO_ESTATE);
  CHECK_RC(hiko_start(rt), HIKO_ESTATE);
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(rt), 0);

  /* Destroyed without ever starting, with a root that never ran. */
  CHECK_RC(hiko_runtime_create(&rt, &cfg), 0);
  p = host_compile(rt, "never.hml", "val _ = println \"never printed\"\n");
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
}

static void values(void) {
  hiko_value_t *v = NULL;
  CHECK_RC(hiko_value_string("\xc3", 1, &v), -EILSEQ);
  CHECK_RC(hiko_value_string("\xed\xa0\x80", 3, &v), -EILSEQ); /* a surrogate */
  CHECK_RC(hiko_value_string("a\xc0\xafz", 4, &v), -EILSEQ);   /* overlong */
  CHECK_RC(hiko_value_char(0xD800, &v), -EINVAL);
  CHECK_RC(hiko_value_char(0x110000, &v), -EINVAL);
  CHECK(v == NULL);
  CHECK_RC(hiko_value_string(NULL, 0, &v), 0); /* the empty string */
  CHECK(hiko_value_kind(v) == HIKO_STRING);
  hiko_value_free(v);

  hiko_program_t *p = host_compile(NULL, "types.hml",
      "datatype t = Leaf | Node of t * Int\nval _ = Node (Leaf, 1)\n");
  hiko_value_t *pay;
  CHECK_RC(hiko_value_int(3, &pay), 0);
  CHECK_RC(hiko_value_data(p, "Nope", pay, &v), -ENOENT);
  CHECK_RC(hiko_value_data(p, "Leaf", pay, &v), -EINVAL); /* nullary given a payload */
  CHECK_RC(hiko_value_data(p, "Node", NULL, &v), -EINVAL); /* payload missing */
  CHECK_RC(hiko_value_data(NULL, "Node", pay, &v), -ENOENT); /* not the prelude's */
  CHECK_RC(hiko_value_data(p, "Some", pay, &v), -ENOENT); /* option is not declared */
  /* The caller kept pay through every failure. */
  CHECK(hiko_value_get_int(pay) == 3);
  hiko_value_t *items[2];
  CHECK_RC(hiko_value_data(p, "Leaf", NULL, &items[0]), 0);
  items[1] = pay;
  hiko_value_t *pair;
  CHECK_RC(hiko_value_tuple(items, 2, &pair), 0);
  CHECK_RC(hiko_value_data(p, "Node", pair, &v), 0);
  char *s = host_show(v);
  CHECK_STR(s, "Node (Leaf, 3)");
  hiko_free(s);
  hiko_value_free(v);
  hiko_program_release(p);

  /* Empty composites. */
  CHECK_RC(hiko_value_list(NULL, 0, &v), 0);
  s = host_show(v);
  CHECK_STR(s, "[]");
  CHECK(hiko_value_count(v) == 0);
  hiko_free(s);
  hiko_value_free(v);
}

static void codes(void) {
  int list[] = {0, -EINVAL, -ENOMEM, -ENOENT, -ETIMEDOUT, -EAGAIN, -EBUSY, -EEXIST, -EILSEQ,
                HIKO_ECOMPILE, HIKO_EBYTECODE, HIKO_ESTATE, -1000, -1004, -99999, 1, 12345,
                -2147483647 - 1};
  for (size_t i = 0; i < sizeof list / sizeof *list; i++) {
    const char *t = hiko_strerror(list[i]);
    CHECK(t != NULL && *t);
  }
  CHECK(strcmp(hiko_strerror(-ENOENT), hiko_strerror(HIKO_ECOMPILE)) != 0);
  CHECK(strcmp(hiko_strerror(HIKO_ECOMPILE), hiko_strerror(HIKO_EBYTECODE)) != 0);
  CHECK(strcmp(hiko_strerror(HIKO_EBYTECODE), hiko_strerror(HIKO_ESTATE)) != 0);
  CHECK(hiko_version() && *hiko_version());

  /* Loading nothing at all. */
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  CHECK_RC(hiko_program_load(NULL, NULL, 0, &p, &d), HIKO_EBYTECODE);
  CHECK(p == NULL && hiko_diags_count(d) == 1);
  hiko_diags_free(d);
  /* An empty source file is a program that does nothing. */
  CHECK_RC(hiko_compile_string(NULL, "empty.hml", "", 0, &p, &d), 0);
  CHECK(d == NULL);
  hiko_program_release(p);

  /* The free functions accept NULL, as free(3) does. */
  hiko_free(NULL);
  hiko_value_free(NULL);
  hiko_diags_free(NULL);
  hiko_program_release(NULL);
  hiko_result_t r;
  memset(&r, 0, sizeof r);
  hiko_result_clear(&r);
  hiko_stats_t st;
  memset(&st, 0, sizeof st);
  hiko_stats_clear(&st);
}

/* The write callback runs on a worker (SPEC §12.3.3): the calls that
** would wait for, or free, the runtime's own threads refuse with -EBUSY. */
static hiko_runtime_t *cb_rt;
static int cb_codes[4], cb_calls;
static void busy_write(void *ud, const char *data, size_t len) {
  (void)ud, (void)data, (void)len;
  hiko_result_t r;
  cb_calls++;
  cb_codes[0] = hiko_runtime_destroy(cb_rt);
  cb_codes[1] = hiko_join(cb_rt, 1, &r, -1);
  cb_codes[2] = hiko_run(cb_rt);
  cb_codes[3] = hiko_shutdown(cb_rt);
}

static void from_a_callback(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.out = busy_write;
  CHECK_RC(hiko_runtime_create(&cb_rt, &cfg), 0);
  hiko_program_t *p = host_compile(cb_rt, "cb.hml", "val _ = println 1\n");
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(cb_rt, p, &root), 0);
  CHECK_RC(hiko_run(cb_rt), 0);
  host_expect(cb_rt, root, HIKO_DONE, NULL);
  CHECK(cb_calls == 1);
  for (int i = 0; i < 4; i++) CHECK_RC(cb_codes[i], -EBUSY);
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(cb_rt), 0);
}

int main(void) {
  configurations();
  from_a_callback();
  joins_and_states();
  values();
  codes();
  puts("misuse_host: ok");
  return 0;
}
