/* qa17_api_test.c — embedding API statements that had no test (SPEC §10.9,
** §12.2): the mailbox-length high-water mark of hiko_stats_get, and
** hiko_join of a pid that is not a root, and `use` in a program compiled
** from a string (§12.3.6), socket_give to a pid never issued (§7.4.1),
** hiko_send of a NULL message (§12.1.2).
** Suite unit (runtime_qa17_api). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hiko.h"
#include "api_check.h"

static hiko_runtime_t *start(unsigned workers) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = workers;
  hiko_runtime_t *rt = NULL;
  cr_assert_eq(hiko_runtime_create(&rt, &cfg), 0);
  cr_assert_eq(hiko_start(rt), 0);
  return rt;
}

/* A child sleeps while the root queues 40 messages for it, then takes them
** all. The high-water mark (§10.9, "MAY be approximate (measured by the
** receiver when it drains)") must have seen that mailbox: more than one
** message and at most the 40 that were ever queued at once. */
static const char *queue_src =
    "fun take (0, s) = s\n"
    "  | take (n, s) = take (n - 1, s + (receive_message () : Int))\n"
    "val c = spawn (fn () => let val _ = sleep 100 in take (40, 0) end)\n"
    "fun put 0 = ()\n"
    "  | put n = let val _ = send_message (c, n) in put (n - 1) end\n"
    "val _ = put 40\n"
    "val _ = assert_eq (await_process c, 820, \"sum\")\n";

Test(runtime_qa17_api, mailbox_high_water_sees_a_full_mailbox) {
  for (unsigned workers = 1; workers <= 4; workers += 3) {
    hiko_runtime_t *rt = start(workers);
    hiko_program_t *p = compile(rt, queue_src);
    hiko_pid_t root;
    cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
    expect_end(rt, root, HIKO_DONE, NULL);
    hiko_stats_t st;
    cr_assert_eq(hiko_stats_get(rt, &st), 0);
    cr_log_info("workers %u: mailbox_high_water %llu", workers,
                (unsigned long long)st.mailbox_high_water);
    cr_expect(st.mailbox_high_water > 1 && st.mailbox_high_water <= 40,
              "workers %u: mailbox_high_water %llu", workers,
              (unsigned long long)st.mailbox_high_water);
    cr_expect_eq(st.total.received, 40);
    hiko_stats_clear(&st);
    teardown(rt, NULL, p, NULL);
  }
}

/* hiko_join waits for a ROOT (§12.2): a child's pid, a port's pid and a
** pid never issued are "an unknown root" (-ENOENT, include/hiko.h), at
** once, whatever the timeout; the root itself is joined normally after. */
static const char *child_src =
    "val port : Pid = receive_message ()\n"
    "val c = spawn (fn () => receive_message () : Int)\n"
    "val _ = send_message (port, c)\n"
    "val _ = send_message (c, receive_message () : Int)\n"
    "val _ = await_process c\n";

Test(runtime_qa17_api, join_of_a_pid_that_is_not_a_root_is_enoent) {
  hiko_runtime_t *rt = start(2);
  hiko_program_t *p = compile(rt, child_src);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  hiko_value_t *v;
  cr_assert_eq(hiko_value_pid(hiko_port_pid(port), &v), 0);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  hiko_value_free(v);
  cr_assert_eq(hiko_port_recv(port, &v, 10000), 0);
  cr_assert_eq(hiko_value_kind(v), HIKO_PID);
  hiko_pid_t child = (hiko_pid_t)hiko_value_get_pid(v);
  hiko_value_free(v);
  hiko_result_t r;
  memset(&r, 0, sizeof r);
  cr_expect_eq(hiko_join(rt, child, &r, 0), -ENOENT);
  cr_expect_eq(hiko_join(rt, child, &r, -1), -ENOENT);
  cr_expect_eq(hiko_join(rt, hiko_port_pid(port), &r, -1), -ENOENT);
  cr_expect_eq(hiko_join(rt, 1000000, &r, -1), -ENOENT);
  cr_assert_eq(hiko_value_int(5, &v), 0);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  hiko_value_free(v);
  expect_end(rt, root, HIKO_DONE, NULL);
  cr_expect_eq(hiko_join(rt, root, &r, 0), -ENOENT); /* reported once */
  teardown(rt, port, p, NULL);
}

/* §12.3.6: for a program compiled from a string, `use` paths are resolved
** against the current working directory, and `name` only names the file in
** diagnostics (a name in another folder does not move the `use`). */
Test(runtime_qa17_api, compile_string_uses_resolve_against_the_cwd) {
  char dir[] = "/tmp/hiko_qa17_XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  cr_assert_eq(chdir(dir), 0);
  FILE *f = fopen("qa17_mod.hml", "w");
  cr_assert_not_null(f);
  fputs("val from_cwd = 42\n", f);
  cr_assert_eq(fclose(f), 0);
  hiko_runtime_t *rt = start(1);
  const char *src = "use \"qa17_mod.hml\"\n"
                    "val _ = assert_eq (from_cwd, 42, \"from the cwd\")\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  cr_assert_eq(hiko_compile_string(rt, "elsewhere/main.hml", src, strlen(src), &p, &d), 0);
  cr_expect_null(d);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  expect_end(rt, root, HIKO_DONE, NULL);
  /* An error in the string is reported under its name. */
  const char *bad = "use \"qa17_mod.hml\"\nval x = from_cwd + nope\n";
  hiko_program_t *q = NULL;
  cr_assert_eq(hiko_compile_string(rt, "elsewhere/main.hml", bad, strlen(bad), &q, &d),
               HIKO_ECOMPILE);
  cr_assert_null(q);
  cr_assert_eq(hiko_diags_count(d), 1);
  const hiko_diag_t *e = hiko_diags_get(d, 0);
  cr_expect_str_eq(e->file, "elsewhere/main.hml");
  cr_expect_eq(e->line, 2);
  hiko_diags_free(d);
  teardown(rt, NULL, p, NULL);
  remove("qa17_mod.hml");
  rmdir(dir);
}

/* §7.4.1: "giving to a terminated or unknown pid closes the socket". A pid
** never issued can only come from C: the root gives its listener to the
** pid the host sends, then finds the socket closed. */
static const char *give_src =
    "val to : Pid = receive_message ()\n"
    "val l = tcp_listen (\"127.0.0.1\", 0)\n"
    "val _ = socket_give (l, to)\n"
    "val _ = assert_eq (await_result (spawn (fn () => socket_port l)),\n"
    "                  Err (RuntimeError \"socket_port: socket is closed\"), \"closed\")\n";

Test(runtime_qa17_api, socket_give_to_an_unknown_pid_closes_the_socket) {
  hiko_runtime_t *rt = start(2);
  hiko_program_t *p = compile(rt, give_src);
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  hiko_value_t *v;
  cr_assert_eq(hiko_value_pid(1000000, &v), 0);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  hiko_value_free(v);
  expect_end(rt, root, HIKO_DONE, NULL);
  teardown(rt, NULL, p, NULL);
}

/* hiko_send with no message or no runtime (§12.1.2: failures are negative
** errno values, never a crash): -EINVAL whatever the target (a live root,
** a port, a pid never issued), and nothing is counted as sent or dropped.
** Before, the NULL reached the copy and crashed the host (found by the
** stop-17 audit). */
Test(runtime_qa17_api, send_of_a_null_message_is_einval) {
  hiko_runtime_t *rt = start(2);
  hiko_program_t *p = compile(rt, "val n : Int = receive_message ()\n");
  hiko_pid_t root;
  cr_assert_eq(hiko_spawn_main(rt, p, &root), 0);
  hiko_port_t *port;
  cr_assert_eq(hiko_port_open(rt, &port), 0);
  cr_expect_eq(hiko_send(rt, root, NULL), -EINVAL);
  cr_expect_eq(hiko_send(rt, hiko_port_pid(port), NULL), -EINVAL);
  cr_expect_eq(hiko_send(rt, 1000000, NULL), -EINVAL);
  hiko_value_t *v;
  cr_assert_eq(hiko_value_int(1, &v), 0);
  cr_expect_eq(hiko_send(NULL, root, v), -EINVAL);
  cr_assert_eq(hiko_send(rt, root, v), 0);
  hiko_value_free(v);
  expect_end(rt, root, HIKO_DONE, NULL);
  hiko_stats_t st;
  cr_assert_eq(hiko_stats_get(rt, &st), 0);
  cr_expect_eq(st.total.sent, 1, "sent %llu", (unsigned long long)st.total.sent);
  cr_expect_eq(st.total.dropped, 0, "dropped %llu", (unsigned long long)st.total.dropped);
  hiko_stats_clear(&st);
  teardown(rt, port, p, NULL);
}
