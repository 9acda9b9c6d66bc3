/* null_args_host.c — every call of hiko.h that returns int, given a NULL
** where it needs a handle, an out pointer or an item array (SPEC §12.1.2:
** failures are negative errno values; "on failure the caller keeps what it
** passed", §12.1.3). Each is -EINVAL and leaves the host running; before
** stop 20, 23 of the calls probed dereferenced the NULL (SIGSEGV),
** while their neighbours (hiko_send, hiko_spawn_main, hiko_compile_string's
** source) already returned -EINVAL. Then the same runtime is used normally,
** so no refused call left anything half done. */
#include <errno.h>

#include "host.h"

int main(void) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  CHECK_RC(hiko_runtime_create(NULL, &cfg), -EINVAL);
  hiko_runtime_t *rt;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), 0);

  /* value constructors: no out pointer, a NULL array or buffer with items */
  hiko_value_t *a, *b, *v = NULL;
  CHECK_RC(hiko_value_int(1, &a), 0);
  CHECK_RC(hiko_value_int(2, &b), 0);
  hiko_value_t *items[2] = {a, b};
  CHECK_RC(hiko_value_int(1, NULL), -EINVAL);
  CHECK_RC(hiko_value_float(1.5, NULL), -EINVAL);
  CHECK_RC(hiko_value_bool(true, NULL), -EINVAL);
  CHECK_RC(hiko_value_char('x', NULL), -EINVAL);
  CHECK_RC(hiko_value_unit(NULL), -EINVAL);
  CHECK_RC(hiko_value_pid(1, NULL), -EINVAL);
  CHECK_RC(hiko_value_string("abc", 3, NULL), -EINVAL);
  CHECK_RC(hiko_value_string(NULL, 3, &v), -EINVAL);
  CHECK_RC(hiko_value_bytes("abc", 3, NULL), -EINVAL);
  CHECK_RC(hiko_value_bytes(NULL, 3, &v), -EINVAL);
  CHECK_RC(hiko_value_tuple(items, 2, NULL), -EINVAL);
  CHECK_RC(hiko_value_tuple(NULL, 2, &v), -EINVAL);
  CHECK_RC(hiko_value_list(items, 2, NULL), -EINVAL);
  CHECK_RC(hiko_value_list(NULL, 2, &v), -EINVAL);
  CHECK_RC(hiko_value_data(NULL, "Cancelled", NULL, NULL), -EINVAL);
  CHECK(v == NULL);
  /* a tuple has at least two components (SPEC §4.1) */
  CHECK_RC(hiko_value_tuple(items, 1, &v), -EINVAL);
  CHECK_RC(hiko_value_tuple(items, 0, &v), -EINVAL);
  CHECK_RC(hiko_value_show(NULL, &(char *){NULL}), -EINVAL);
  CHECK_RC(hiko_value_show(a, NULL), -EINVAL);
  /* the caller kept its items through every refusal */
  hiko_value_t *pair;
  CHECK_RC(hiko_value_tuple(items, 2, &pair), 0);
  char *text = host_show(pair);
  CHECK_STR(text, "(1, 2)");
  hiko_free(text);

  /* compilation and programs */
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  const char *src = "val port = receive_message () : Pid\nval _ = send_message (port, 42)\n";
  CHECK_RC(hiko_compile_string(rt, "p.hml", src, strlen(src), NULL, &d), -EINVAL);
  CHECK_RC(hiko_compile_string(rt, "p.hml", src, strlen(src), &p, NULL), -EINVAL);
  CHECK_RC(hiko_compile_file(rt, "p.hml", NULL, &d), -EINVAL);
  CHECK_RC(hiko_compile_file(rt, "p.hml", &p, NULL), -EINVAL);
  CHECK_RC(hiko_program_load(rt, "x", 1, NULL, &d), -EINVAL);
  CHECK_RC(hiko_program_load(rt, "x", 1, &p, NULL), -EINVAL);
  CHECK_RC(hiko_diags_render(NULL, NULL), -EINVAL);
  CHECK(p == NULL && d == NULL);
  p = host_compile(rt, "p.hml", src);
  void *buf = NULL;
  size_t len = 0;
  CHECK_RC(hiko_program_dump(p, NULL, &len), -EINVAL);
  CHECK_RC(hiko_program_dump(p, &buf, NULL), -EINVAL);
  CHECK_RC(hiko_program_disasm(p, NULL), -EINVAL);
  CHECK_RC(hiko_program_dump(p, &buf, &len), 0);
  CHECK(buf != NULL && len > 0);
  hiko_free(buf);

  /* the runtime's calls without a runtime, or without somewhere to write */
  hiko_result_t r;
  hiko_stats_t st;
  hiko_port_t *port = NULL;
  CHECK_RC(hiko_start(NULL), -EINVAL);
  CHECK_RC(hiko_run(NULL), -EINVAL);
  CHECK_RC(hiko_shutdown(NULL), -EINVAL);
  CHECK_RC(hiko_join(NULL, 1, &r, 0), -EINVAL);
  CHECK_RC(hiko_join(rt, 1, NULL, 0), -EINVAL);
  CHECK_RC(hiko_stats_get(NULL, &st), -EINVAL);
  CHECK_RC(hiko_stats_get(rt, NULL), -EINVAL);
  CHECK_RC(hiko_port_open(NULL, &port), -EINVAL);
  CHECK_RC(hiko_port_open(rt, NULL), -EINVAL);
  CHECK(port == NULL);
  CHECK_RC(hiko_port_recv(NULL, &v, 0), -EINVAL);
  CHECK(v == NULL);

  /* and the same runtime works: a port, a root, a message each way */
  CHECK_RC(hiko_port_open(rt, &port), 0);
  CHECK_RC(hiko_port_recv(port, NULL, 0), -EINVAL);
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p);
  host_send_pid(rt, root, hiko_port_pid(port));
  CHECK_RC(hiko_start(rt), 0);
  CHECK_RC(hiko_port_recv(port, &v, 20000), 0);
  CHECK(hiko_value_kind(v) == HIKO_INT && hiko_value_get_int(v) == 42);
  hiko_value_free(v);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK_RC(hiko_stats_get(rt, &st), 0);
  CHECK(st.processes == 1 && st.done == 1);
  hiko_stats_clear(&st);
  CHECK_RC(hiko_port_close(port), 0);
  hiko_value_free(pair);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
  return 0;
}
