/* test/io/io_test.c: unit tests of io/ (suite io_io). meson runs this
** program twice, with HIKO_IO_BACKEND=uring and =fallback. */
#include "harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static harness_t H;
static char tmpdir[64];

static void setup(void) {
  strcpy(tmpdir, "/tmp/hkio-XXXXXX");
  cr_assert(mkdtemp(tmpdir));
  cr_assert_eq(harness_open(&H, NULL), 0);
}

static void teardown(void) {
  if (H.io) harness_close(&H);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) cr_log_warn("cleanup failed");
}

TestSuite(io_io, .init = setup, .fini = teardown, .timeout = 30);

static char *path_in(const char *name) {
  static char buf[4][256];
  static int k;
  char *p = buf[k++ & 3];
  snprintf(p, 256, "%s/%s", tmpdir, name);
  return p;
}

static hk_io_completion_t run_wait(int rc, const uint64_t *tokp) {
  cr_assert_eq(rc, 0, "submit failed: %d", rc);
  uint64_t tok = *tokp;
  hk_io_completion_t c = wait_token(&H, tok, 10000);
  cr_assert_neq(c.result, -ETIMEDOUT, "no completion for token %llu",
                (unsigned long long)tok);
  return c;
}

/* ---- Instance ---------------------------------------------------------- */

Test(io_io, backend_follows_environment) {
  const char *e = getenv("HIKO_IO_BACKEND");
  const char *name = hk_io_backend_name(H.io);
  if (e && *e) cr_assert_str_eq(name, e);
  else cr_assert(strcmp(name, "uring") == 0 || strcmp(name, "fallback") == 0);
}

Test(io_io, explicit_backend_choice) {
  harness_t h2;
  hk_io_config_t cfg = {.backend = HK_IO_BACKEND_FALLBACK};
  cr_assert_eq(harness_open(&h2, &cfg), 0);
  cr_assert_str_eq(hk_io_backend_name(h2.io), "fallback");
  harness_close(&h2);
}

Test(io_io, bad_backend_variable) {
  harness_t h2;
  setenv("HIKO_IO_BACKEND", "bogus", 1);
  cr_assert_eq(harness_open(&h2, NULL), -EINVAL);
}

/* Forbid io_uring_setup as a container's seccomp profile may. */
static void forbid_io_uring(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
  cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

Test(io_io, falls_back_when_io_uring_is_forbidden) {
  harness_close(&H);
  forbid_io_uring();
  unsetenv("HIKO_IO_BACKEND");
  cr_assert_eq(harness_open(&H, NULL), 0);
  cr_assert_str_eq(hk_io_backend_name(H.io), "fallback");
  uint64_t tok;
  cr_assert_eq(run_wait(hk_io_timer(H.io, 1, NULL, &tok), &tok).result, 0);
  harness_close(&H);
  setenv("HIKO_IO_BACKEND", "uring", 1);
  harness_t h2;
  cr_assert_eq(harness_open(&h2, NULL), -ENOSYS, "forced uring fails");
}

Test(io_io, strerror_codes) {
  cr_assert_str_eq(hk_io_strerror(HK_IO_ECLOSED), "socket is closed");
  cr_assert_str_eq(hk_io_strerror(-ENOENT), "No such file or directory");
}

/* ---- Timers ------------------------------------------------------------ */

Test(io_io, timer_waits_at_least) {
  uint64_t t0 = harness_now_ms(), tok;
  hk_io_completion_t c = run_wait(hk_io_timer(H.io, 50, NULL, &tok), &tok);
  cr_assert_eq(c.result, 0);
  cr_assert_eq(c.op, HK_IO_TIMER);
  cr_assert_geq(harness_now_ms() - t0, 50);
  cr_assert_eq(hk_io_timer(H.io, -1, NULL, &tok), -EINVAL);
}

/* Timers armed in mixed order, each with its own delay: each completes
** exactly once and none before its delay has passed since it was armed
** (SPEC §7.2: "at least ms milliseconds"). The SPEC orders no completions of
** different timers (§6.13, §10.7), and an I/O thread that takes requests
** late starts their delays late: on a loaded machine a 0 ms timer armed
** after a 10 ms one was seen to complete second (stop 20). So no order is
** checked; a backend that fired a timer at an earlier one's deadline still
** fails here (the 60 ms timer would complete before its delay). */
Test(io_io, timers_fire_after_their_delays) {
  int ms[] = {60, 10, 40, 0, 25};
  uint64_t tok[5], armed[5];
  for (int i = 0; i < 5; i++) {
    armed[i] = harness_now_ms();
    cr_assert_eq(hk_io_timer(H.io, ms[i], NULL, &tok[i]), 0);
  }
  cr_assert_eq(wait_count(&H, 5, 5000), 0);
  usleep(20000);
  cr_assert_eq(atomic_load(&H.callbacks), 5, "each token completes once");
  cr_assert_eq(atomic_load(&H.dup), 0);
  hk_io_completion_t c[5];
  uint64_t at[5];
  bool found[5];
  pthread_mutex_lock(&H.lock);
  for (int i = 0; i < 5; i++) {
    size_t k = 0;
    while (k < H.n && H.recs[k].c.token != tok[i]) k++;
    if ((found[i] = k < H.n)) c[i] = H.recs[k].c, at[i] = H.recs[k].at_ms;
  }
  pthread_mutex_unlock(&H.lock);
  for (int i = 0; i < 5; i++) {
    cr_assert(found[i], "timer %d completed", i);
    cr_assert_eq(c[i].result, 0);
    cr_assert_eq(c[i].op, HK_IO_TIMER);
    cr_assert_geq(at[i] - armed[i], (uint64_t)ms[i], "timer %d (%d ms) completed after %llu ms", i,
                  ms[i], (unsigned long long)(at[i] - armed[i]));
  }
}

/* One round of [n] timers of 200 ms armed at once: the wall time from the
** first arm to the last completion; [*arm_ms] is the time the arming took. */
static uint64_t timer_round(int n, uint64_t *arm_ms) {
  uint64_t base = atomic_load(&H.callbacks), tok;
  uint64_t t0 = harness_now_ms();
  for (int i = 0; i < n; i++) cr_assert_eq(hk_io_timer(H.io, 200, NULL, &tok), 0);
  *arm_ms = harness_now_ms() - t0;
  cr_assert_eq(wait_count(&H, base + (uint64_t)n, 20000), 0, "%d timers of 200 ms within 20 s", n);
  return harness_now_ms() - t0;
}

/* 10^4 timers overlap: one after the other they would take 2000 s, and even
** 100 at a time 20 s. Overlapping, they take 200 ms plus the CPU work around
** them (~50 ms quiet), which a loaded machine stretches: the bound is 2 s
** plus twice the arming time (the same kind of work, stretched alike), and a
** round over it is run once more before failing. */
Test(io_io, ten_thousand_timers, .timeout = 90) {
  enum { N = 10000 };
  uint64_t arm, dt = timer_round(N, &arm), rounds = 1;
  cr_assert_geq(dt, 200);
  if (dt >= 2000 + 2 * arm) {
    cr_log_warn("10^4 timers took %llu ms (arming %llu ms): once more", (unsigned long long)dt,
                (unsigned long long)arm);
    dt = timer_round(N, &arm);
    rounds++;
  }
  cr_assert_lt(dt, 2000 + 2 * arm, "10^4 timers took %llu ms (arming %llu ms)",
               (unsigned long long)dt, (unsigned long long)arm);
  usleep(20000);
  cr_assert_eq(atomic_load(&H.callbacks), rounds * N, "each token completes once");
  hk_io_counters_t k;
  hk_io_counters(H.io, &k);
  cr_assert_eq(k.completed, rounds * N);
  cr_assert_eq(k.pending, 0);
}

Test(io_io, cancel_timer_completes_once) {
  uint64_t tok;
  cr_assert_eq(hk_io_timer(H.io, 5000, NULL, &tok), 0);
  cr_assert_eq(hk_io_cancel(H.io, tok), 0);
  hk_io_completion_t c = wait_token(&H, tok, 2000);
  cr_assert_eq(c.result, -ECANCELED);
  cr_assert_eq(hk_io_cancel(H.io, tok), 0); /* late cancel: nothing */
  uint64_t t2;
  run_wait(hk_io_timer(H.io, 1, NULL, &t2), &t2);
  cr_assert_eq(atomic_load(&H.callbacks), 2);
  hk_io_counters_t k;
  hk_io_counters(H.io, &k);
  cr_assert_eq(k.pending, 0);
  cr_assert_eq(k.finished, 2);
}

/* ---- Files ------------------------------------------------------------- */

Test(io_io, write_then_read_file) {
  const char *p = path_in("a.txt");
  uint64_t tok;
  hk_io_completion_t c = run_wait(hk_io_write_file(H.io, p, "hello\nworld", 11, NULL, &tok), &tok);
  cr_assert_eq(c.result, 0);
  struct stat st;
  cr_assert_eq(stat(p, &st), 0);
  mode_t um = umask(0);
  umask(um);
  cr_assert_eq(st.st_mode & 0777, 0666 & ~um);
  c = run_wait(hk_io_read_file(H.io, p, NULL, &tok), &tok);
  cr_assert_eq(c.result, 11);
  cr_assert_eq(c.len, 11);
  cr_assert_str_eq(c.data, "hello\nworld");
  /* Truncates. */
  run_wait(hk_io_write_file(H.io, p, "x", 1, NULL, &tok), &tok);
  c = run_wait(hk_io_read_file(H.io, p, NULL, &tok), &tok);
  cr_assert_str_eq(c.data, "x");
  /* Empty. */
  run_wait(hk_io_write_file(H.io, p, "", 0, NULL, &tok), &tok);
  c = run_wait(hk_io_read_file(H.io, p, NULL, &tok), &tok);
  cr_assert_eq(c.result, 0);
  cr_assert_str_eq(c.data, "");
}

Test(io_io, big_file_round_trip) {
  size_t n = 3 * 1024 * 1024 + 17;
  char *buf = malloc(n);
  for (size_t i = 0; i < n; i++) buf[i] = (char)(i * 31 + 7);
  const char *p = path_in("big.bin");
  uint64_t tok;
  cr_assert_eq(run_wait(hk_io_write_file(H.io, p, buf, n, NULL, &tok), &tok).result, 0);
  hk_io_completion_t c = run_wait(hk_io_read_file(H.io, p, NULL, &tok), &tok);
  cr_assert_eq(c.result, (int64_t)n);
  cr_assert_eq(memcmp(c.data, buf, n), 0);
  free(buf);
}

Test(io_io, file_errors) {
  uint64_t tok;
  cr_assert_eq(run_wait(hk_io_read_file(H.io, path_in("missing"), NULL, &tok), &tok).result, -ENOENT);
  cr_assert_eq(run_wait(hk_io_read_file(H.io, tmpdir, NULL, &tok), &tok).result, -EISDIR);
  cr_assert_eq(run_wait(hk_io_write_file(H.io, path_in("no/such/dir"), "x", 1, NULL, &tok), &tok).result, -ENOENT);
  cr_assert_eq(run_wait(hk_io_write_file(H.io, tmpdir, "x", 1, NULL, &tok), &tok).result, -EISDIR);
}

Test(io_io, permission_denied) {
  const char *p = path_in("secret");
  int fd = open(p, O_CREAT | O_WRONLY, 0);
  cr_assert_geq(fd, 0);
  close(fd);
  chmod(tmpdir, 0777);
  /* Root bypasses permissions: run as nobody (saved uid kept). */
  harness_close(&H);
  if (geteuid() == 0) cr_assert_eq(setresuid((uid_t)-1, 65534, 0), 0);
  cr_assert_eq(harness_open(&H, NULL), 0);
  uint64_t tok;
  int64_t r1 = run_wait(hk_io_read_file(H.io, p, NULL, &tok), &tok).result;
  int64_t r2 = run_wait(hk_io_write_file(H.io, p, "x", 1, NULL, &tok), &tok).result;
  harness_close(&H);
  if (getuid() == 0) cr_assert_eq(seteuid(0), 0);
  cr_assert_eq(r1, -EACCES);
  cr_assert_eq(r2, -EACCES);
}

/* ---- Standard input ---------------------------------------------------- */

static int pipe_stdin(int fds[2]) {
  if (pipe(fds) < 0) return -1;
  harness_close(&H);
  hk_io_config_t cfg = {.stdin_fd = fds[0], .stdin_fd_set = true};
  return harness_open(&H, &cfg);
}

Test(io_io, read_line_in_issue_order) {
  int fds[2];
  cr_assert_eq(pipe_stdin(fds), 0);
  uint64_t tok[6];
  for (int i = 0; i < 6; i++) cr_assert_eq(hk_io_read_line(H.io, NULL, &tok[i]), 0);
  const char *in = "first\nsec";
  cr_assert_eq(write(fds[1], in, strlen(in)), (ssize_t)strlen(in));
  hk_io_completion_t c = wait_token(&H, tok[0], 5000);
  cr_assert_str_eq(c.data, "first");
  usleep(20000);
  cr_assert_eq(wait_token(&H, tok[1], 0).result, -ETIMEDOUT, "partial line must wait");
  in = "ond\r\n\nlast";
  cr_assert_eq(write(fds[1], in, strlen(in)), (ssize_t)strlen(in));
  close(fds[1]);
  const char *want[] = {"first", "second\r", "", "last", "", ""};
  for (int i = 0; i < 6; i++) {
    c = wait_token(&H, tok[i], 5000);
    cr_assert_geq(c.result, 0, "line %d: %lld", i, (long long)c.result);
    cr_assert_str_eq(c.data, want[i], "line %d", i);
    cr_assert_eq(!!(c.flags & HK_IO_F_EOF), i >= 4, "eof flag of line %d", i);
  }
  close(fds[0]);
}

Test(io_io, read_line_cancel_keeps_data) {
  int fds[2];
  cr_assert_eq(pipe_stdin(fds), 0);
  uint64_t a, b;
  cr_assert_eq(hk_io_read_line(H.io, NULL, &a), 0);
  usleep(10000);
  cr_assert_eq(hk_io_cancel(H.io, a), 0);
  cr_assert_eq(wait_token(&H, a, 5000).result, -ECANCELED);
  cr_assert_eq(write(fds[1], "x\n", 2), 2);
  cr_assert_eq(hk_io_read_line(H.io, NULL, &b), 0);
  cr_assert_str_eq(wait_token(&H, b, 5000).data, "x");
  close(fds[1]);
  close(fds[0]);
}

/* ---- TCP --------------------------------------------------------------- */

typedef struct pair {
  int64_t lis, srv, cli;
} pair_t;

static pair_t connect_pair(void) {
  pair_t p;
  p.lis = hk_io_listen(H.io, "127.0.0.1", 0, 1);
  cr_assert_gt(p.lis, 0, "listen: %lld", (long long)p.lis);
  int64_t port = hk_io_socket_port(H.io, p.lis);
  cr_assert_gt(port, 0);
  uint64_t ta, tc;
  cr_assert_eq(hk_io_accept(H.io, p.lis, 2, NULL, &ta), 0);
  cr_assert_eq(hk_io_connect(H.io, "127.0.0.1", port, 3, NULL, &tc), 0);
  p.srv = wait_token(&H, ta, 5000).result;
  p.cli = wait_token(&H, tc, 5000).result;
  cr_assert_gt(p.srv, 0, "accept: %lld", (long long)p.srv);
  cr_assert_gt(p.cli, 0, "connect: %lld", (long long)p.cli);
  cr_assert_eq(hk_io_socket_owner(H.io, p.srv), 2);
  cr_assert_eq(hk_io_socket_owner(H.io, p.cli), 3);
  return p;
}

static hk_io_completion_t recv_wait(int64_t s, int64_t n, bool text) {
  uint64_t tok;
  return run_wait(hk_io_recv(H.io, s, n, text, NULL, &tok), &tok);
}

static void send_ok(int64_t s, const char *d, size_t n) {
  uint64_t tok;
  cr_assert_eq(run_wait(hk_io_send(H.io, s, d, n, NULL, &tok), &tok).result, (int64_t)n);
}

Test(io_io, tcp_round_trip_and_eof) {
  pair_t p = connect_pair();
  send_ok(p.cli, "ping", 4);
  hk_io_completion_t c = recv_wait(p.srv, 100, false);
  cr_assert_eq(c.result, 4);
  cr_assert_str_eq(c.data, "ping");
  send_ok(p.srv, "pong!", 5);
  c = recv_wait(p.cli, 3, true);
  cr_assert_str_eq(c.data, "pon");
  c = recv_wait(p.cli, 3, true);
  cr_assert_str_eq(c.data, "g!");
  uint64_t tok;
  cr_assert_eq(run_wait(hk_io_close(H.io, p.cli, NULL, &tok), &tok).result, 0);
  c = recv_wait(p.srv, 10, true);
  cr_assert_eq(c.result, 0);
  cr_assert_str_eq(c.data, "");
  cr_assert(c.flags & HK_IO_F_EOF);
  c = recv_wait(p.srv, 10, false);
  cr_assert(c.flags & HK_IO_F_EOF);
}

Test(io_io, listen_hosts_and_ports) {
  int64_t a = hk_io_listen(H.io, "", 0, 0);
  int64_t b = hk_io_listen(H.io, "localhost", 0, 0);
  int64_t c = hk_io_listen(H.io, "::1", 0, 0);
  cr_assert_gt(a, 0);
  cr_assert_gt(b, a, "numbers increase");
  cr_assert(c > 0 || c == -EADDRNOTAVAIL || c == -EAFNOSUPPORT);
  cr_assert_eq(hk_io_listen(H.io, "127.0.0.1", 65536, 0), -EINVAL);
  cr_assert_eq(hk_io_listen(H.io, "127.0.0.1", -1, 0), -EINVAL);
  cr_assert_eq(hk_io_listen(H.io, "example.com", 0, 0), -EINVAL);
  uint64_t tok;
  cr_assert_eq(hk_io_connect(H.io, "127.0.0.1", 70000, 0, NULL, &tok), -EINVAL);
  cr_assert_eq(hk_io_connect(H.io, "127.0.0.1", -5, 0, NULL, &tok), -EINVAL);
  /* The port of a taken port. */
  int64_t port = hk_io_socket_port(H.io, b);
  cr_assert_eq(hk_io_listen(H.io, "127.0.0.1", port, 0), -EADDRINUSE);
}

Test(io_io, connect_refused) {
  int64_t l = hk_io_listen(H.io, "127.0.0.1", 0, 0);
  int64_t port = hk_io_socket_port(H.io, l);
  uint64_t tok;
  cr_assert_eq(run_wait(hk_io_close(H.io, l, NULL, &tok), &tok).result, 0);
  cr_assert_eq(run_wait(hk_io_connect(H.io, "127.0.0.1", port, 0, NULL, &tok), &tok).result, -ECONNREFUSED);
  /* localhost tries 127.0.0.1 then ::1: both refused. */
  cr_assert_eq(run_wait(hk_io_connect(H.io, "localhost", port, 0, NULL, &tok), &tok).result, -ECONNREFUSED);
}

Test(io_io, connect_through_resolver) {
  /* "127.1" is not inet_pton-numeric, so it takes the helper thread; the
  ** resolver reads it as 127.0.0.1 without any network. */
  int64_t l = hk_io_listen(H.io, "127.0.0.1", 0, 0);
  int64_t port = hk_io_socket_port(H.io, l);
  uint64_t ta, tc;
  cr_assert_eq(hk_io_accept(H.io, l, 0, NULL, &ta), 0);
  hk_io_completion_t c = run_wait(hk_io_connect(H.io, "127.1", port, 0, NULL, &tc), &tc);
  cr_assert_gt(c.result, 0, "%lld", (long long)c.result);
  cr_assert_gt(wait_token(&H, ta, 5000).result, 0);
}

Test(io_io, resolver_failure_text) {
  /* In a fresh network namespace no query can leave the machine, so the
  ** lookup fails at once with the resolver's own message.
  ** The instance (and so its resolver threads) is created after the
  ** unshare, so every thread of it lives in the new namespace. */
  harness_close(&H);
  if (unshare(CLONE_NEWNET) < 0) cr_skip_test("no network namespace: %s", strerror(errno));
  cr_assert_eq(harness_open(&H, NULL), 0);
  uint64_t tok;
  hk_io_completion_t c = run_wait(hk_io_connect(H.io, "nosuch.invalid", 80, 0, NULL, &tok), &tok);
  cr_assert_eq(c.result, HK_IO_ERESOLVE);
  cr_assert(c.msg && c.msg[0], "resolver text kept");
  cr_log_info("tcp_connect: %s", c.msg);
}

Test(io_io, use_after_close) {
  pair_t p = connect_pair();
  uint64_t tok;
  cr_assert_eq(run_wait(hk_io_close(H.io, p.srv, NULL, &tok), &tok).result, 0);
  cr_assert_eq(run_wait(hk_io_close(H.io, p.srv, NULL, &tok), &tok).result, 0, "double close");
  cr_assert_eq(run_wait(hk_io_send(H.io, p.srv, "x", 1, NULL, &tok), &tok).result, HK_IO_ECLOSED);
  cr_assert_eq(recv_wait(p.srv, 1, false).result, HK_IO_ECLOSED);
  cr_assert_eq(run_wait(hk_io_accept(H.io, p.srv, 0, NULL, &tok), &tok).result, HK_IO_ECLOSED);
  cr_assert_eq(hk_io_socket_port(H.io, p.srv), HK_IO_ECLOSED);
  cr_assert_eq(run_wait(hk_io_send(H.io, 999, "x", 1, NULL, &tok), &tok).result, HK_IO_ECLOSED);
  cr_assert_eq(hk_io_recv(H.io, p.cli, 0, false, NULL, &tok), -EINVAL);
  cr_assert_eq(hk_io_recv(H.io, p.cli, -3, true, NULL, &tok), -EINVAL);
}

Test(io_io, close_fails_pending_ops) {
  pair_t p = connect_pair();
  uint64_t r1, r2, a1, c1;
  cr_assert_eq(hk_io_recv(H.io, p.srv, 10, false, NULL, &r1), 0);
  cr_assert_eq(hk_io_recv(H.io, p.srv, 10, true, NULL, &r2), 0);
  cr_assert_eq(hk_io_accept(H.io, p.lis, 0, NULL, &a1), 0);
  usleep(20000);
  cr_assert_eq(hk_io_close(H.io, p.srv, NULL, &c1), 0);
  cr_assert_eq(hk_io_close_owner(H.io, 1), 1, "the listener's owner");
  cr_assert_eq(wait_token(&H, r1, 5000).result, HK_IO_ECLOSED);
  cr_assert_eq(wait_token(&H, r2, 5000).result, HK_IO_ECLOSED);
  cr_assert_eq(wait_token(&H, a1, 5000).result, HK_IO_ECLOSED);
  cr_assert_eq(wait_token(&H, c1, 5000).result, 0);
}

Test(io_io, huge_recv_is_capped) {
  pair_t p = connect_pair();
  size_t n = 3u << 20;
  char *big = malloc(n);
  memset(big, 'z', n);
  uint64_t ts;
  cr_assert_eq(hk_io_send(H.io, p.cli, big, n, NULL, &ts), 0);
  size_t got = 0;
  while (got < n) {
    hk_io_completion_t c = recv_wait(p.srv, INT64_MAX, false);
    cr_assert_gt(c.result, 0);
    cr_assert_leq(c.result, HK_IO_RECV_MAX);
    got += (size_t)c.result;
  }
  cr_assert_eq(got, n);
  cr_assert_eq(wait_token(&H, ts, 5000).result, (int64_t)n);
  free(big);
}

Test(io_io, concurrent_recvs_in_issue_order) {
  pair_t p = connect_pair();
  uint64_t t[3];
  for (int i = 0; i < 3; i++) cr_assert_eq(hk_io_recv(H.io, p.srv, 2, false, NULL, &t[i]), 0);
  send_ok(p.cli, "aabbcc", 6);
  cr_assert_str_eq(wait_token(&H, t[0], 5000).data, "aa");
  cr_assert_str_eq(wait_token(&H, t[1], 5000).data, "bb");
  cr_assert_str_eq(wait_token(&H, t[2], 5000).data, "cc");
}

Test(io_io, sends_are_contiguous) {
  pair_t p = connect_pair();
  enum { K = 8, N = 256 * 1024 };
  char *b = malloc(N);
  uint64_t t[K];
  for (int i = 0; i < K; i++) {
    memset(b, 'a' + i, N);
    cr_assert_eq(hk_io_send(H.io, p.cli, b, N, NULL, &t[i]), 0);
  }
  size_t got = 0;
  while (got < (size_t)K * N) {
    hk_io_completion_t c = recv_wait(p.srv, 65536, false);
    cr_assert_gt(c.result, 0);
    for (int64_t i = 0; i < c.result; i++)
      cr_assert_eq(c.data[i], 'a' + (int)((got + (size_t)i) / N), "byte %zu", got + (size_t)i);
    got += (size_t)c.result;
  }
  for (int i = 0; i < K; i++) cr_assert_eq(wait_token(&H, t[i], 5000).result, N);
  free(b);
}

Test(io_io, utf8_hold_back) {
  pair_t p = connect_pair();
  uint64_t tok;
  send_ok(p.cli, "a\xC3", 2); /* 'a' + first byte of é */
  usleep(20000);
  hk_io_completion_t c = recv_wait(p.srv, 10, true);
  cr_assert_str_eq(c.data, "a");
  cr_assert_eq(hk_io_recv(H.io, p.srv, 1, true, NULL, &tok), 0);
  usleep(20000);
  cr_assert_eq(wait_token(&H, tok, 0).result, -ETIMEDOUT, "waits for the rest");
  send_ok(p.cli, "\xA9z", 2);
  c = wait_token(&H, tok, 5000);
  cr_assert_str_eq(c.data, "\xC3\xA9", "one whole character, longer than n");
  c = recv_wait(p.srv, 10, true);
  cr_assert_str_eq(c.data, "z");
  send_ok(p.cli, "\xFFq\xE2\x82", 4);
  usleep(20000);
  c = recv_wait(p.srv, 10, true);
  cr_assert_str_eq(c.data, "\xEF\xBF\xBDq", "invalid byte replaced, tail held");
  c = recv_wait(p.srv, 10, false);
  cr_assert_eq(c.len, 2, "held-back bytes come first, raw");
  cr_assert_eq(memcmp(c.data, "\xE2\x82", 2), 0);
  send_ok(p.cli, "\xE2", 1);
  uint64_t tc;
  run_wait(hk_io_close(H.io, p.cli, NULL, &tc), &tc);
  c = recv_wait(p.srv, 10, true);
  cr_assert_str_eq(c.data, "\xEF\xBF\xBD", "held at end of stream");
  c = recv_wait(p.srv, 10, true);
  cr_assert(c.flags & HK_IO_F_EOF);
}

Test(io_io, utf8_helpers) {
  cr_assert_eq(hk_io_utf8_complete("ab\xC3", 3), 2);
  cr_assert_eq(hk_io_utf8_complete("\xF0\x9F\x98\x80", 4), 4);
  cr_assert_eq(hk_io_utf8_complete("\xF0\x9F\x98", 3), 0);
  cr_assert_eq(hk_io_utf8_complete("\xC0\xAF", 2), 2, "invalid bytes are units");
  cr_assert(hk_io_utf8_valid("h\xC3\xA9llo \xF0\x9F\x98\x80", 11));
  cr_assert(hk_io_utf8_valid("", 0));
  cr_assert_not(hk_io_utf8_valid("ab\xC3", 3), "truncated");
  cr_assert_not(hk_io_utf8_valid("\xC0\xAF", 2), "overlong");
  cr_assert_not(hk_io_utf8_valid("\xF4\x90\x80\x80", 4), "above U+10FFFF");
  size_t n;
  char *s = hk_io_utf8_sanitize("\xED\xA0\x80x", 4, &n);
  cr_assert_str_eq(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx", "surrogates are invalid");
  free(s);
}

Test(io_io, send_to_closed_peer_fails) {
  pair_t p = connect_pair();
  uint64_t tok;
  run_wait(hk_io_close(H.io, p.srv, NULL, &tok), &tok);
  char buf[65536] = {0};
  int64_t r = 0;
  for (int i = 0; i < 200 && r >= 0; i++)
    r = run_wait(hk_io_send(H.io, p.cli, buf, sizeof buf, NULL, &tok), &tok).result;
  cr_assert(r == -EPIPE || r == -ECONNRESET, "got %lld", (long long)r);
}

Test(io_io, recv_sees_reset) {
  int64_t lis = hk_io_listen(H.io, "127.0.0.1", 0, 0);
  int64_t port = hk_io_socket_port(H.io, lis);
  uint64_t ta;
  cr_assert_eq(hk_io_accept(H.io, lis, 0, NULL, &ta), 0);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  int64_t srv = wait_token(&H, ta, 5000).result;
  cr_assert_gt(srv, 0);
  uint64_t tr;
  cr_assert_eq(hk_io_recv(H.io, srv, 10, false, NULL, &tr), 0);
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd); /* RST */
  cr_assert_eq(wait_token(&H, tr, 5000).result, -ECONNRESET);
}

Test(io_io, cancel_blocked_accept_then_rebind) {
  int64_t lis = hk_io_listen(H.io, "127.0.0.1", 0, 7);
  int64_t port = hk_io_socket_port(H.io, lis);
  uint64_t ta;
  cr_assert_eq(hk_io_accept(H.io, lis, 7, NULL, &ta), 0);
  usleep(20000);
  cr_assert_eq(hk_io_cancel(H.io, ta), 0);
  cr_assert_eq(wait_token(&H, ta, 5000).result, -ECANCELED);
  /* The owner terminated: its sockets close, then the port is free. */
  cr_assert_eq(hk_io_close_owner(H.io, 7), 1);
  int64_t again = -1;
  for (int i = 0; i < 200 && again < 0; i++) {
    again = hk_io_listen(H.io, "127.0.0.1", port, 0);
    if (again < 0) usleep(5000);
  }
  cr_assert_gt(again, 0, "rebind: %lld", (long long)again);
  hk_io_counters_t k;
  hk_io_counters(H.io, &k);
  cr_assert_eq(k.pending, 0);
}

/* A plain client connected to [port] on 127.0.0.1 (blocking). */
static int tcp_client(int64_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* hk_io_config_t.abandoned of the tests: ctx is an atomic flag. */
static bool flag_abandoned(void *user, void *ctx) {
  (void)user;
  return ctx && atomic_load((_Atomic bool *)ctx);
}

/* Accepted socket [s] and client [fd] are the two ends of one connection. */
static void assert_connected(int64_t s, int fd) {
  send_ok(s, "k", 1);
  char c = 0;
  cr_assert_eq(recv(fd, &c, 1, 0), 1);
  cr_assert_eq(c, 'k');
}

/* An accept on [lis] whose ctx is [flag], given up once in flight; a
** client then connects: the accept completes with -ECANCELED. Returns the
** client's descriptor. */
static int give_up_in_flight(int64_t lis, int64_t port, _Atomic bool *flag) {
  uint64_t t;
  cr_assert_eq(hk_io_accept(H.io, lis, 3, (void *)flag, &t), 0);
  usleep(20000);
  atomic_store(flag, true);
  int c = tcp_client(port);
  cr_assert_eq(wait_token(&H, t, 5000).result, -ECANCELED);
  return c;
}

Test(io_io, abandoned_accept_hands_the_connection_on) {
  /* Two accepts wait on one listener; the runtime gives the first up (its
  ** cancel not yet sent), then a client connects. The first accept takes
  ** no connection, the second gets it (SPEC §7.4.4, §7.6); before the
  ** fix the first one's socket was made and then closed by the runtime. */
  harness_close(&H);
  hk_io_config_t cfg = {.abandoned = flag_abandoned};
  cr_assert_eq(harness_open(&H, &cfg), 0);
  static _Atomic bool gone[5];
  int64_t lis = hk_io_listen(H.io, "127.0.0.1", 0, 1);
  int64_t port = hk_io_socket_port(H.io, lis);
  uint64_t ta, tb;
  cr_assert_eq(hk_io_accept(H.io, lis, 1, (void *)&gone[0], &ta), 0);
  cr_assert_eq(hk_io_accept(H.io, lis, 2, (void *)&gone[1], &tb), 0);
  usleep(20000); /* a's accept is in flight */
  atomic_store(&gone[0], true);
  int c1 = tcp_client(port);
  cr_assert_eq(wait_token(&H, ta, 5000).result, -ECANCELED);
  int64_t sb = wait_token(&H, tb, 5000).result;
  cr_assert_gt(sb, 0, "b's accept: %lld", (long long)sb);
  cr_assert_eq(hk_io_socket_owner(H.io, sb), 2);
  assert_connected(sb, c1);
  /* Nobody else waits: the connection stays for the next accept. */
  int c2 = give_up_in_flight(lis, port, &gone[2]);
  uint64_t td;
  int64_t sd = run_wait(hk_io_accept(H.io, lis, 4, (void *)&gone[3], &td), &td).result;
  cr_assert_gt(sd, 0, "d's accept: %lld", (long long)sd);
  assert_connected(sd, c2);
  /* An accept given up before it started is skipped. */
  uint64_t te;
  atomic_store(&gone[3], true);
  cr_assert_eq(hk_io_accept(H.io, lis, 5, (void *)&gone[3], &te), 0);
  cr_assert_eq(wait_token(&H, te, 5000).result, -ECANCELED);
  /* One more kept, then the listener closes: the connection is closed. */
  int c3 = give_up_in_flight(lis, port, &gone[4]);
  uint64_t tk;
  cr_assert_eq(run_wait(hk_io_close(H.io, lis, NULL, &tk), &tk).result, 0);
  char x;
  cr_assert_eq(recv(c3, &x, 1, 0), 0, "the kept connection is closed");
  hk_io_counters_t k;
  hk_io_counters(H.io, &k);
  cr_assert_eq(k.pending, 0);
  close(c1);
  close(c2);
  close(c3);
}

Test(io_io, cancelled_accept_racing_a_connect_loses_nothing) {
  /* The cancel of an accept in flight races with a connection: either the
  ** accept got it (and the cancel came too late), or the next accept
  ** does. Before the fix, a connection accepted just before the cancel
  ** was taken was closed (io_uring). */
  int64_t lis = hk_io_listen(H.io, "127.0.0.1", 0, 1);
  int64_t port = hk_io_socket_port(H.io, lis);
  for (int i = 0; i < 300; i++) {
    uint64_t ta, tb, tk;
    cr_assert_eq(hk_io_accept(H.io, lis, 1, NULL, &ta), 0);
    cr_assert_eq(hk_io_accept(H.io, lis, 2, NULL, &tb), 0);
    if (i & 1) usleep(200); /* vary the interleaving */
    int c = tcp_client(port);
    cr_assert_eq(hk_io_cancel(H.io, ta), 0);
    int64_t ra = wait_token(&H, ta, 5000).result;
    int64_t got;
    if (ra > 0) {
      got = ra;
      cr_assert_eq(hk_io_cancel(H.io, tb), 0);
      cr_assert_eq(wait_token(&H, tb, 5000).result, -ECANCELED);
    } else {
      cr_assert_eq(ra, -ECANCELED);
      got = wait_token(&H, tb, 5000).result;
      cr_assert_gt(got, 0, "round %d: the connection was lost (%lld)", i,
                   (long long)got);
    }
    assert_connected(got, c);
    close(c);
    cr_assert_eq(run_wait(hk_io_close(H.io, got, NULL, &tk), &tk).result, 0);
  }
}

Test(io_io, text_recv_cancelled_while_holding_back) {
  /* A text recv waits for the rest of a character with a receive in
  ** flight; it is cancelled and a bytes recv takes the held bytes while
  ** the kernel still writes behind them. */
  pair_t p = connect_pair();
  send_ok(p.cli, "\xE2\x82", 2);
  uint64_t t1, t2, t3;
  cr_assert_eq(hk_io_recv(H.io, p.srv, 10, true, NULL, &t1), 0);
  usleep(20000);
  cr_assert_eq(hk_io_recv(H.io, p.srv, 10, false, NULL, &t2), 0);
  cr_assert_eq(hk_io_cancel(H.io, t1), 0);
  cr_assert_eq(wait_token(&H, t1, 5000).result, -ECANCELED);
  hk_io_completion_t c = wait_token(&H, t2, 5000);
  cr_assert_eq(c.len, 2);
  cr_assert_eq(memcmp(c.data, "\xE2\x82", 2), 0);
  send_ok(p.cli, "\xACtail", 5);
  cr_assert_eq(hk_io_recv(H.io, p.srv, 10, false, NULL, &t3), 0);
  c = wait_token(&H, t3, 5000);
  cr_assert_eq(c.len, 5, "got %zu bytes", c.len);
  cr_assert_eq(memcmp(c.data, "\xACtail", 5), 0);
}

Test(io_io, many_short_lines) {
  int fds[2];
  cr_assert_eq(pipe_stdin(fds), 0);
  enum { N = 20000 };
  static char buf[N * 6 + 1];
  size_t n = 0;
  for (int i = 0; i < N; i++) n += (size_t)sprintf(buf + n, "%05d\n", i);
  uint64_t *tok = malloc(N * sizeof *tok);
  for (int i = 0; i < N; i++) cr_assert_eq(hk_io_read_line(H.io, NULL, &tok[i]), 0);
  cr_assert_eq(write(fds[1], buf, n), (ssize_t)n);
  close(fds[1]);
  for (int i = 0; i < N; i += 997) {
    char want[8];
    snprintf(want, sizeof want, "%05d", i);
    cr_assert_str_eq(wait_token(&H, tok[i], 10000).data, want);
  }
  cr_assert_eq(wait_count(&H, N, 10000), 0);
  free(tok);
  close(fds[0]);
}

Test(io_io, cancel_blocked_recv_keeps_stream) {
  pair_t p = connect_pair();
  uint64_t t1;
  cr_assert_eq(hk_io_recv(H.io, p.srv, 10, false, NULL, &t1), 0);
  usleep(20000);
  cr_assert_eq(hk_io_cancel(H.io, t1), 0);
  cr_assert_eq(wait_token(&H, t1, 5000).result, -ECANCELED);
  send_ok(p.cli, "after", 5);
  cr_assert_str_eq(recv_wait(p.srv, 10, false).data, "after");
  uint64_t tok;
  run_wait(hk_io_close(H.io, p.srv, NULL, &tok), &tok);
  run_wait(hk_io_close(H.io, p.lis, NULL, &tok), &tok);
}

Test(io_io, owner_and_give) {
  pair_t p = connect_pair();
  cr_assert_eq(hk_io_socket_give(H.io, p.srv, 99, 5), -EPERM);
  cr_assert_eq(hk_io_socket_give(H.io, p.srv, 2, 5), 0);
  cr_assert_eq(hk_io_socket_owner(H.io, p.srv), 5);
  cr_assert_eq(hk_io_close_owner(H.io, 2), 0);
  cr_assert_eq(hk_io_close_owner(H.io, 5), 1);
  cr_assert_eq(recv_wait(p.srv, 1, false).result, HK_IO_ECLOSED);
  cr_assert_eq(hk_io_socket_give(H.io, p.srv, 5, 6), HK_IO_ECLOSED);
  /* A recv pending on a socket whose peer is still open (p.cli's peer was
  ** just closed, so a recv there may legitimately see end of stream first)
  ** fails with "socket is closed" when the socket is closed under it. */
  pair_t q = connect_pair();
  uint64_t tr;
  cr_assert_eq(hk_io_recv(H.io, q.cli, 5, false, NULL, &tr), 0);
  cr_assert_eq(hk_io_close_quiet(H.io, q.cli), 0);
  cr_assert_eq(hk_io_close_quiet(H.io, q.cli), HK_IO_ECLOSED);
  cr_assert_eq(wait_token(&H, tr, 5000).result, HK_IO_ECLOSED);
  cr_assert_eq(hk_io_close_quiet(H.io, q.srv), 0);
  cr_assert_eq(hk_io_close_quiet(H.io, p.cli), 0);
}

Test(io_io, accept_retries_when_out_of_descriptors) {
  int64_t lis = hk_io_listen(H.io, "127.0.0.1", 0, 0);
  int64_t port = hk_io_socket_port(H.io, lis);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  /* Fill the descriptor table up to a lowered limit. */
  struct rlimit old, lim;
  getrlimit(RLIMIT_NOFILE, &old);
  int hold[64], nh = 0, top = dup(0);
  lim.rlim_cur = (rlim_t)top + 4;
  lim.rlim_max = old.rlim_max;
  close(top);
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
  int x;
  while (nh < 64 && (x = dup(0)) >= 0) hold[nh++] = x;
  uint64_t ta;
  cr_assert_eq(hk_io_accept(H.io, lis, 0, NULL, &ta), 0);
  hk_io_counters_t k = {0};
  for (int i = 0; i < 200 && k.accept_retries == 0; i++) {
    usleep(5000);
    hk_io_counters(H.io, &k);
  }
  for (int i = 0; i < nh; i++) close(hold[i]);
  setrlimit(RLIMIT_NOFILE, &old);
  cr_assert_gt(k.accept_retries, 0);
  cr_assert_gt(wait_token(&H, ta, 5000).result, 0, "accepted after the retry");
  close(fd);
}

/* ---- Shutdown ------------------------------------------------------------ */

/* Requests that never complete on their own (a 60 s timer, an accept, a recv,
** a read_line on a silent pipe) and a refused connect, then hk_io_free: each
** completes exactly once, cancelled; returns how long hk_io_free took. Leaves
** a fresh instance in H. */
static uint64_t shutdown_round(void) {
  int fds[2];
  cr_assert_eq(pipe_stdin(fds), 0);
  pair_t p = connect_pair();
  uint64_t t[5];
  cr_assert_eq(hk_io_timer(H.io, 60000, NULL, &t[0]), 0);
  cr_assert_eq(hk_io_accept(H.io, p.lis, 0, NULL, &t[1]), 0);
  cr_assert_eq(hk_io_recv(H.io, p.srv, 10, false, NULL, &t[2]), 0);
  cr_assert_eq(hk_io_read_line(H.io, NULL, &t[3]), 0);
  cr_assert_eq(hk_io_connect(H.io, "127.1", 1, 0, NULL, &t[4]), 0);
  usleep(30000);
  uint64_t t0 = harness_now_ms();
  hk_io_free(H.io);
  H.io = NULL;
  uint64_t dt = harness_now_ms() - t0;
  for (int i = 0; i < 4; i++) {
    hk_io_completion_t c = wait_token(&H, t[i], 0);
    cr_assert_eq(c.result, -ECANCELED, "request %d: %lld", i, (long long)c.result);
  }
  cr_assert_neq(wait_token(&H, t[4], 0).result, -ETIMEDOUT);
  cr_assert_eq(atomic_load(&H.dup), 0);
  harness_close(&H);
  cr_assert_eq(harness_open(&H, NULL), 0);
  close(fds[0]);
  close(fds[1]);
  return dt;
}

/* Shutdown waits for none of them: it takes microseconds of work, so a
** second is a stall of the machine or a wait in hk_io_free (a poll timeout,
** a join of a blocked helper). Over a second, the round is run once more
** before failing. */
Test(io_io, shutdown_cancels_everything_promptly) {
  uint64_t dt = shutdown_round();
  if (dt >= 1000) {
    cr_log_warn("hk_io_free took %llu ms: once more", (unsigned long long)dt);
    dt = shutdown_round();
  }
  cr_assert_lt(dt, 1000, "hk_io_free took %llu ms", (unsigned long long)dt);
}

/* ---- fs root --------------------------------------------------------------- */

Test(io_io, fsroot_resolution) {
  char *root = path_in("root");
  cr_assert_eq(mkdir(root, 0755), 0);
  char sub[300], link[300], file[300];
  snprintf(sub, sizeof sub, "%s/sub", root);
  snprintf(link, sizeof link, "%s/out", root);
  snprintf(file, sizeof file, "%s/sub/f.txt", root);
  mkdir(sub, 0755);
  cr_assert_eq(symlink("/etc", link), 0);
  hk_fsroot_t *r;
  cr_assert_eq(hk_fsroot_new(&r, root), 0);
  char *canon_root = realpath(root, NULL);
  cr_assert_str_eq(hk_fsroot_dir(r), canon_root);
  char *res, *msg;
  cr_assert_eq(hk_fsroot_resolve(r, "read_file", "sub/../sub/f.txt", &res, &msg), 0);
  cr_assert_str_eq(res, file);
  free(res);
  cr_assert_eq(hk_fsroot_resolve(r, "read_file", "new/dir/x", &res, &msg), 0, "missing components");
  free(res);
  cr_assert_eq(hk_fsroot_resolve(r, "read_file", ".", &res, &msg), 0);
  cr_assert_str_eq(res, canon_root);
  free(res);
  cr_assert_eq(hk_fsroot_resolve(r, "read_file", "../x", &res, &msg), -EACCES);
  char want[600];
  char *ctmp = realpath(tmpdir, NULL);
  snprintf(want, sizeof want, "read_file: path '%s/x' is outside allowed root '%s'", ctmp, canon_root);
  free(ctmp);
  cr_assert_str_eq(msg, want);
  free(msg);
  cr_assert_eq(hk_fsroot_resolve(r, "write_file", "out/passwd", &res, &msg), -EACCES);
  snprintf(want, sizeof want, "write_file: path '/etc/passwd' is outside allowed root '%s'", canon_root);
  cr_assert_str_eq(msg, want);
  free(msg);
  free(canon_root);
  hk_fsroot_free(r);
}

Test(io_io, fsroot_open_is_race_free) {
  char *root = path_in("root2");
  cr_assert_eq(mkdir(root, 0755), 0);
  hk_fsroot_t *r;
  cr_assert_eq(hk_fsroot_new(&r, root), 0);
  char *res, *msg;
  cr_assert_eq(hk_fsroot_resolve(r, "read_file", "late", &res, &msg), 0);
  /* A link that escapes is swapped in after the check. */
  char link[300];
  snprintf(link, sizeof link, "%s/late", root);
  cr_assert_eq(symlink("/etc/passwd", link), 0);
  cr_assert_eq(hk_fsroot_open(r, res, O_RDONLY, 0), HK_IO_EOUTSIDE);
  /* Through the I/O thread too. */
  harness_close(&H);
  hk_io_config_t cfg = {.fsroot = r};
  cr_assert_eq(harness_open(&H, &cfg), 0);
  uint64_t tok;
  cr_assert_eq(run_wait(hk_io_read_file(H.io, res, NULL, &tok), &tok).result, HK_IO_EOUTSIDE);
  cr_assert_eq(run_wait(hk_io_read_file(H.io, "/etc/passwd", NULL, &tok), &tok).result, HK_IO_EOUTSIDE);
  char ok[300];
  snprintf(ok, sizeof ok, "%s/ok.txt", hk_fsroot_dir(r));
  cr_assert_eq(run_wait(hk_io_write_file(H.io, ok, "in", 2, NULL, &tok), &tok).result, 0);
  cr_assert_str_eq(run_wait(hk_io_read_file(H.io, ok, NULL, &tok), &tok).data, "in");
  harness_close(&H);
  free(res);
  hk_fsroot_free(r);
}

/* ---- Fast path (io/fast.c) ----------------------------------------------- */

/* hk_io_recv_try, then hk_io_recv_finish if it must wait. */
static hk_io_completion_t recv_now(int64_t s, int64_t n, bool text, bool *direct) {
  hk_io_claim_t cl;
  hk_io_completion_t c;
  int rc = hk_io_recv_try(H.io, s, n, text, &cl, &c);
  cr_assert_geq(rc, 0, "recv_try: %d", rc);
  *direct = rc == 1;
  if (rc == 1) return c;
  uint64_t tok;
  return run_wait(hk_io_recv_finish(H.io, &cl, NULL, &tok), &tok);
}

Test(io_io, fast_path_direct_send_and_recv) {
  pair_t p = connect_pair();
  hk_io_claim_t cl;
  cr_assert_eq(hk_io_send_try(H.io, p.cli, "hello", 5, &cl), 1);
  bool direct;
  hk_io_completion_t c = recv_now(p.srv, 100, false, &direct);
  cr_assert_str_eq(c.data, "hello");
  free(c.data);
  /* Nothing there: the receive waits at the I/O thread. */
  hk_io_completion_t w;
  cr_assert_eq(hk_io_recv_try(H.io, p.srv, 100, true, &cl, &w), 0);
  uint64_t tok;
  cr_assert_eq(hk_io_recv_finish(H.io, &cl, NULL, &tok), 0);
  hk_io_claim_t cl2;
  cr_assert_eq(hk_io_send_try(H.io, p.cli, "abc", 3, &cl2), 1);
  cr_assert_str_eq(wait_token(&H, tok, 5000).data, "abc");
  cr_assert_eq(hk_io_send_try(H.io, 999, "x", 1, &cl2), HK_IO_ECLOSED);
  cr_assert_eq(hk_io_recv_try(H.io, p.srv, 0, false, &cl2, &w), -EINVAL);
}

Test(io_io, fast_path_keeps_issue_order) {
  pair_t p = connect_pair();
  uint64_t t1, t2;
  /* A queued receive: a later one must not overtake it on the worker. */
  cr_assert_eq(hk_io_recv(H.io, p.srv, 2, false, NULL, &t1), 0);
  hk_io_claim_t cl;
  hk_io_completion_t c;
  cr_assert_eq(hk_io_recv_try(H.io, p.srv, 2, false, &cl, &c), 0);
  cr_assert_eq(hk_io_recv_finish(H.io, &cl, NULL, &t2), 0);
  send_ok(p.cli, "aabb", 4);
  cr_assert_str_eq(wait_token(&H, t1, 5000).data, "aa");
  cr_assert_str_eq(wait_token(&H, t2, 5000).data, "bb");
  /* A send larger than the socket buffers stops part way and finishes at
  ** the I/O thread; a send issued meanwhile comes after all of it. */
  enum { N = 16 << 20 };
  char *big = malloc(N);
  memset(big, 'a', N);
  cr_assert_eq(hk_io_send_try(H.io, p.cli, big, N, &cl), 0);
  cr_assert_eq(hk_io_send_finish(H.io, &cl, big, N, NULL, &t1), 0);
  cr_assert_eq(hk_io_send_try(H.io, p.cli, "ZZ", 2, &cl), 0);
  cr_assert_eq(hk_io_send_finish(H.io, &cl, "ZZ", 2, NULL, &t2), 0);
  size_t got = 0;
  while (got < (size_t)N + 2) {
    bool direct;
    hk_io_completion_t r = recv_now(p.srv, 1 << 20, false, &direct);
    cr_assert_gt(r.result, 0);
    for (int64_t i = 0; i < r.result; i++)
      cr_assert_eq(r.data[i], got + (size_t)i < N ? 'a' : 'Z', "byte %zu", got + (size_t)i);
    got += (size_t)r.result;
    if (direct) free(r.data);
  }
  cr_assert_eq(wait_token(&H, t1, 5000).result, N);
  cr_assert_eq(wait_token(&H, t2, 5000).result, 2);
  free(big);
}

Test(io_io, fast_path_text_hold_back) {
  pair_t p = connect_pair();
  send_ok(p.cli, "x\xc3", 2);
  usleep(20000);
  bool direct;
  hk_io_completion_t c = recv_now(p.srv, 10, true, &direct);
  cr_assert_str_eq(c.data, "x");
  cr_assert(!direct, "an incomplete character is held back by the I/O thread");
  send_ok(p.cli, "\xa9!", 2);
  usleep(20000);
  c = recv_now(p.srv, 10, true, &direct);
  cr_assert_str_eq(c.data, "\xc3\xa9!");
  if (direct) free(c.data);
  /* Invalid bytes are repaired on the worker too. */
  send_ok(p.cli, "a\xff", 2);
  usleep(20000);
  c = recv_now(p.srv, 10, true, &direct);
  cr_assert_str_eq(c.data, "a\xef\xbf\xbd");
  if (direct) free(c.data);
  uint64_t tok;
  cr_assert_eq(run_wait(hk_io_close(H.io, p.srv, NULL, &tok), &tok).result, 0);
  hk_io_claim_t cl;
  cr_assert_eq(hk_io_recv_try(H.io, p.srv, 10, true, &cl, &c), HK_IO_ECLOSED);
  cr_assert_eq(hk_io_send_try(H.io, p.srv, "q", 1, &cl), HK_IO_ECLOSED);
}

/* Request/response receives (each after a send) keep one multishot
** receive armed on io_uring (docs/io.md); on both backends a burst larger
** than its buffer bound and the provided buffers arrives whole and in
** order, each receive returns at most n bytes, end of stream is seen by
** an armed socket, and a close while armed leaks nothing (ASan build). */
Test(io_io, multishot_receive_limits_order_and_eof) {
  pair_t p = connect_pair();
  hk_io_claim_t cl;
  bool direct;
  cr_assert_eq(hk_io_send_try(H.io, p.srv, "x", 1, &cl), 1);
  uint64_t tok;
  cr_assert_eq(hk_io_recv_try(H.io, p.srv, 100, false, &cl, &(hk_io_completion_t){0}), 0);
  cr_assert_eq(hk_io_recv_finish(H.io, &cl, NULL, &tok), 0);
  send_ok(p.cli, "ab", 2);
  cr_assert_str_eq(wait_token(&H, tok, 5000).data, "ab");
  enum { BIG = 300000 };
  char *big = malloc(BIG);
  for (size_t i = 0; i < BIG; i++) big[i] = (char)('a' + i % 23);
  uint64_t stok;
  cr_assert_eq(hk_io_send(H.io, p.cli, big, BIG, NULL, &stok), 0);
  size_t got = 0;
  for (int k = 0; got < BIG; k++) {
    int64_t n = k < 50 ? 7 : 65536;
    /* Some receives follow a send (the multishot path), some not. */
    if (k % 3 == 0) cr_assert_eq(hk_io_send_try(H.io, p.srv, "", 0, &cl), 1);
    hk_io_completion_t c = recv_now(p.srv, n, false, &direct);
    cr_assert_gt(c.result, 0, "receive %d: %lld", k, (long long)c.result);
    cr_assert_leq(c.result, n, "at most n bytes");
    cr_assert(memcmp(c.data, big + got, (size_t)c.result) == 0, "bytes in order at %zu", got);
    got += (size_t)c.result;
    if (direct) free(c.data);
  }
  cr_assert_eq(got, (size_t)BIG);
  cr_assert_eq(wait_token(&H, stok, 5000).result, BIG);
  free(big);
  /* End of stream reaches an armed receive. */
  cr_assert_eq(hk_io_send_try(H.io, p.srv, "y", 1, &cl), 1);
  cr_assert_eq(hk_io_recv_try(H.io, p.srv, 100, false, &cl, &(hk_io_completion_t){0}), 0);
  cr_assert_eq(hk_io_recv_finish(H.io, &cl, NULL, &tok), 0);
  /* (The client reads what it was sent: closing with unread bytes would
  ** reset the connection instead of ending the stream.) */
  char xy[3] = {0};
  for (size_t n = 0; n < 2;) {
    hk_io_completion_t c = recv_wait(p.cli, 2 - (int64_t)n, false);
    cr_assert_gt(c.result, 0);
    memcpy(xy + n, c.data, (size_t)c.result);
    n += (size_t)c.result;
  }
  cr_assert_str_eq(xy, "xy");
  cr_assert_eq(run_wait(hk_io_close(H.io, p.cli, NULL, &stok), &stok).result, 0);
  hk_io_completion_t e = wait_token(&H, tok, 5000);
  cr_assert_eq(e.result, 0);
  cr_assert(e.flags & HK_IO_F_EOF);
  /* A second pair closed while its multishot receive waits. */
  pair_t q = connect_pair();
  cr_assert_eq(hk_io_send_try(H.io, q.srv, "z", 1, &cl), 1);
  cr_assert_eq(hk_io_recv_try(H.io, q.srv, 100, false, &cl, &(hk_io_completion_t){0}), 0);
  cr_assert_eq(hk_io_recv_finish(H.io, &cl, NULL, &tok), 0);
  usleep(20000);
  cr_assert_eq(run_wait(hk_io_close(H.io, q.srv, NULL, &stok), &stok).result, 0);
  cr_assert_eq(wait_token(&H, tok, 5000).result, HK_IO_ECLOSED);
}

/* cfg.recv_borrow: a raw receive served from the socket's buffer lends
** its bytes for the callback (HK_IO_F_BORROWED; the harness copies them),
** at most n at a time and in order; text receives and end of stream still
** come malloc'd, and a cancelled receive lends nothing. */
Test(io_io, recv_borrow_lends_the_buffered_bytes) {
  harness_close(&H);
  hk_io_config_t cfg = {.recv_borrow = true};
  cr_assert_eq(harness_open(&H, &cfg), 0);
  pair_t p = connect_pair();
  send_ok(p.cli, "hello world", 11);
  hk_io_completion_t c = recv_wait(p.srv, 5, false);
  cr_assert_eq(c.result, 5);
  cr_assert(c.flags & HK_IO_F_BORROWED);
  cr_assert(memcmp(c.data, "hello", 5) == 0);
  c = recv_wait(p.srv, 100, true);
  cr_assert_eq(c.result, 6);
  cr_assert_not(c.flags & HK_IO_F_BORROWED);
  cr_assert_str_eq(c.data, " world");
  uint64_t tok;
  cr_assert_eq(hk_io_recv(H.io, p.srv, 100, false, NULL, &tok), 0);
  hk_io_cancel(H.io, tok);
  c = wait_token(&H, tok, 5000);
  cr_assert_eq(c.result, -ECANCELED);
  cr_assert_null(c.data);
  cr_assert_not(c.flags & HK_IO_F_BORROWED);
  send_ok(p.cli, "abc", 3);
  c = recv_wait(p.srv, 100, false);
  cr_assert_eq(c.result, 3);
  cr_assert(c.flags & HK_IO_F_BORROWED);
  cr_assert(memcmp(c.data, "abc", 3) == 0);
  cr_assert_eq(run_wait(hk_io_close(H.io, p.cli, NULL, &tok), &tok).result, 0);
  c = recv_wait(p.srv, 100, false);
  cr_assert_eq(c.result, 0);
  cr_assert(c.flags & HK_IO_F_EOF);
  cr_assert_not(c.flags & HK_IO_F_BORROWED);
  cr_assert_str_eq(c.data, "");
}

/* A receive right after a send on the same socket skips the direct
** attempt (hk_sockfast_t.sent) and waits at the I/O thread with
** POLL_FIRST, even when data is already there; the data is the same. The
** next receive tries directly again (fallback), or, on io_uring, where
** the first one left a multishot receive armed, is served from its buffer
** by the I/O thread and stops it, so the one after is direct again. */
Test(io_io, fast_path_recv_after_send_goes_to_the_ring) {
  pair_t p = connect_pair();
  hk_io_claim_t cl;
  hk_io_completion_t c;
  uint64_t tok;
  cr_assert_eq(hk_io_send_try(H.io, p.srv, "ping", 4, &cl), 1);
  send_ok(p.cli, "pong", 4);
  usleep(20000);
  cr_assert_eq(hk_io_recv_try(H.io, p.srv, 100, false, &cl, &c), 0, "after a send");
  cr_assert_str_eq(run_wait(hk_io_recv_finish(H.io, &cl, NULL, &tok), &tok).data, "pong");
  send_ok(p.cli, "again", 5);
  usleep(20000);
  bool direct;
  bool multishot = strcmp(hk_io_backend_name(H.io), "uring") == 0;
  c = recv_now(p.srv, 100, false, &direct);
  cr_assert(direct != multishot, "the hint is used once");
  cr_assert_str_eq(c.data, "again");
  if (direct) free(c.data);
  if (multishot) {
    usleep(20000); /* the multishot's cancellation completes */
    send_ok(p.cli, "third", 5);
    usleep(20000);
    c = recv_now(p.srv, 100, false, &direct);
    cr_assert(direct, "direct again once the multishot stopped");
    cr_assert_str_eq(c.data, "third");
    free(c.data);
  }
  /* Data that comes later: the ring waits for readiness, then receives. */
  cr_assert_eq(hk_io_send_try(H.io, p.srv, "q", 1, &cl), 1);
  cr_assert_eq(hk_io_recv_try(H.io, p.srv, 100, true, &cl, &c), 0);
  cr_assert_eq(hk_io_recv_finish(H.io, &cl, NULL, &tok), 0);
  usleep(20000);
  send_ok(p.cli, "late", 4);
  cr_assert_str_eq(wait_token(&H, tok, 5000).data, "late");
  /* Closed while it waits for readiness. */
  cr_assert_eq(hk_io_send_try(H.io, p.srv, "q", 1, &cl), 1);
  cr_assert_eq(hk_io_recv_try(H.io, p.srv, 100, false, &cl, &c), 0);
  cr_assert_eq(hk_io_recv_finish(H.io, &cl, NULL, &tok), 0);
  usleep(20000);
  uint64_t ct;
  cr_assert_eq(run_wait(hk_io_close(H.io, p.srv, NULL, &ct), &ct).result, 0);
  cr_assert_eq(wait_token(&H, tok, 5000).result, HK_IO_ECLOSED);
}

Test(io_io, closing_a_listener_refuses_connects_at_once) {
  int64_t lis = hk_io_listen(H.io, "127.0.0.1", 0, 7);
  cr_assert_gt(lis, 0);
  int port = (int)hk_io_socket_port(H.io, lis);
  uint64_t ta;
  cr_assert_eq(hk_io_accept(H.io, lis, 7, NULL, &ta), 0);
  usleep(20000); /* the accept is in the kernel */
  cr_assert_eq(hk_io_close_owner(H.io, 7), 1);
  /* No wait for the I/O thread: the close is already visible. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), -1);
  cr_assert_eq(errno, ECONNREFUSED);
  close(fd);
  cr_assert_eq(wait_token(&H, ta, 5000).result, HK_IO_ECLOSED);
}
