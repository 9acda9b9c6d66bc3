/* test/stress/io_echo.c: a client and a server exchanging 10^4 messages
** over 127.0.0.1 through one I/O instance, 4 connections at once, with a
** checked total. Each side runs on its own threads and blocks on tokens. */
#include "stress_common.h"

enum { CONNS = 4, MSGS = 2500 * STRESS_SCALE, MSG_LEN = 16 };

static stress_t S;
static int64_t lis;
static int port;

static void *echo_conn(void *arg) {
  int64_t s = (int64_t)(intptr_t)arg;
  uint64_t tok;
  for (;;) {
    CHECK(hk_io_recv(S.io, s, 4096, false, NULL, &tok) == 0, "recv");
    slot_t *r = stress_wait(&S, tok);
    CHECK(r->result >= 0, "server recv: %s", hk_io_strerror(r->result));
    if (r->flags & HK_IO_F_EOF) break;
    CHECK(hk_io_send(S.io, s, r->data, r->len, NULL, &tok) == 0, "send");
    CHECK(stress_wait(&S, tok)->result == (int64_t)r->len, "server send");
  }
  CHECK(hk_io_close(S.io, s, NULL, &tok) == 0, "close");
  stress_wait(&S, tok);
  return NULL;
}

static void *acceptor(void *arg) {
  (void)arg;
  pthread_t th[CONNS];
  for (int i = 0; i < CONNS; i++) {
    uint64_t tok;
    CHECK(hk_io_accept(S.io, lis, 0, NULL, &tok) == 0, "accept");
    int64_t s = stress_wait(&S, tok)->result;
    CHECK(s > 0, "accept: %s", hk_io_strerror(s));
    pthread_create(&th[i], NULL, echo_conn, (void *)(intptr_t)s);
  }
  for (int i = 0; i < CONNS; i++) pthread_join(th[i], NULL);
  return NULL;
}

static int64_t sums[CONNS];

static void *client(void *arg) {
  int c = (int)(intptr_t)arg;
  uint64_t tok;
  CHECK(hk_io_connect(S.io, "127.0.0.1", port, 0, NULL, &tok) == 0, "connect");
  int64_t s = stress_wait(&S, tok)->result;
  CHECK(s > 0, "connect: %s", hk_io_strerror(s));
  /* All sends queued at once: the I/O thread serialises them. */
  uint64_t *sends = malloc(MSGS * sizeof *sends);
  for (int i = 0; i < MSGS; i++) {
    char m[MSG_LEN + 1];
    snprintf(m, sizeof m, "%015d\n", c * MSGS + i);
    CHECK(hk_io_send(S.io, s, m, MSG_LEN, NULL, &sends[i]) == 0, "send");
  }
  size_t want = (size_t)MSGS * MSG_LEN, got = 0, mlen = 0;
  char msg[MSG_LEN + 1];
  int64_t sum = 0, count = 0;
  while (got < want) {
    CHECK(hk_io_recv(S.io, s, 8192, true, NULL, &tok) == 0, "recv");
    slot_t *r = stress_wait(&S, tok);
    CHECK(r->result > 0, "client recv: %s", hk_io_strerror(r->result));
    for (size_t i = 0; i < r->len; i++) {
      msg[mlen++] = r->data[i];
      if (mlen < MSG_LEN) continue;
      CHECK(msg[MSG_LEN - 1] == '\n', "framing broken at byte %zu", got + i);
      msg[MSG_LEN - 1] = 0;
      sum += atoll(msg);
      count++;
      mlen = 0;
    }
    got += r->len;
  }
  for (int i = 0; i < MSGS; i++)
    CHECK(stress_wait(&S, sends[i])->result == MSG_LEN, "send result");
  CHECK(count == MSGS, "messages %lld", (long long)count);
  CHECK(hk_io_close(S.io, s, NULL, &tok) == 0, "close");
  stress_wait(&S, tok);
  sums[c] = sum;
  free(sends);
  return NULL;
}

int main(void) {
  start_watchdog(100);
  stress_open(&S, 16 * (size_t)CONNS * MSGS + 64);
  lis = hk_io_listen(S.io, "127.0.0.1", 0, 0);
  CHECK(lis > 0, "listen");
  port = (int)hk_io_socket_port(S.io, lis);
  uint64_t t0 = stress_ms();
  pthread_t acc, cl[CONNS];
  pthread_create(&acc, NULL, acceptor, NULL);
  for (int i = 0; i < CONNS; i++)
    pthread_create(&cl[i], NULL, client, (void *)(intptr_t)i);
  for (int i = 0; i < CONNS; i++) pthread_join(cl[i], NULL);
  pthread_join(acc, NULL);
  int64_t total = 0, n = (int64_t)CONNS * MSGS;
  for (int i = 0; i < CONNS; i++) total += sums[i];
  CHECK(total == n * (n - 1) / 2, "total %lld, want %lld", (long long)total,
        (long long)(n * (n - 1) / 2));
  CHECK(atomic_load(&S.bad) == 0, "a token completed twice");
  hk_io_counters_t k;
  hk_io_counters(S.io, &k);
  CHECK(k.pending == 0, "pending %llu", (unsigned long long)k.pending);
  fprintf(stderr, "%lld messages echoed in %llu ms, %llu completions\n",
          (long long)n, (unsigned long long)(stress_ms() - t0),
          (unsigned long long)k.completed);
  stress_close(&S);
  return 0;
}
