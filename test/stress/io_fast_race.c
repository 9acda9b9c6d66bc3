/* test/stress/io_fast_race.c: the fast path of io/fast.c under races.
** SENDERS threads send framed records on ONE socket, each record through
** hk_io_send_try (+ finish) or the queued hk_io_send at random, sizes from
** a few bytes to beyond the socket buffers (so direct sends stop part way
** and are finished by the I/O thread while others queue behind them). One
** reader takes the stream with recv_try / hk_io_recv at random and checks
** that every record is whole (each call's bytes contiguous, SPEC §7.4.6)
** and that each sender's records arrive in its order. Then a close races
** direct operations. Every token completes once; nothing stays pending. */
#include "stress_common.h"

enum { SENDERS = 3, RECORDS = 300 * STRESS_SCALE, HDR = 12 };

static stress_t S;
static int64_t cli, srv;
static _Atomic uint64_t tokens_used, partial, held_behind;

static uint64_t rnd(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Record: 'R', sender (1 byte), seq (4 digits), length (6 digits), then
** length bytes of 'a' + sender. */
static size_t record(char *buf, int who, int seq, size_t len) {
  char h[32];
  snprintf(h, sizeof h, "R%c%04d%06zu", '0' + who, seq % 10000, len % 1000000);
  memcpy(buf, h, HDR);
  memset(buf + HDR, 'a' + who, len);
  return HDR + len;
}

static void *sender(void *arg) {
  int who = (int)(intptr_t)arg;
  uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(who + 1);
  char *buf = malloc(HDR + (1 << 21));
  for (int i = 0; i < RECORDS; i++) {
    uint64_t r = rnd(&x);
    size_t len = r % 8 == 0 ? (size_t)(r >> 8) % 499999 + 500000 : (size_t)(r >> 8) % 200;
    size_t n = record(buf, who, i, len);
    uint64_t tok = 0;
    if ((r >> 4) % 2) {
      hk_io_claim_t cl;
      int rc = hk_io_send_try(S.io, cli, buf, n, &cl);
      CHECK(rc >= 0, "send_try: %s", hk_io_strerror(rc));
      if (rc == 1) continue;
      if (cl.direct && cl.off) atomic_fetch_add(&partial, 1);
      if (!cl.direct) atomic_fetch_add(&held_behind, 1);
      CHECK(hk_io_send_finish(S.io, &cl, buf, n, NULL, &tok) == 0, "send_finish");
    } else {
      CHECK(hk_io_send(S.io, cli, buf, n, NULL, &tok) == 0, "send");
    }
    atomic_fetch_add(&tokens_used, 1);
    slot_t *sl = stress_wait(&S, tok);
    CHECK(sl->result == (int64_t)n, "send result %lld, want %zu", (long long)sl->result, n);
  }
  free(buf);
  return NULL;
}

/* The next piece of the stream: n bytes at most. */
static size_t take(char *out, size_t n, uint64_t *x) {
  uint64_t tok;
  const char *data;
  size_t len;
  if (rnd(x) % 2) {
    size_t k = stress_recv_try(&S, srv, out, n, &tok);
    if (k) return k;
  } else {
    CHECK(hk_io_recv(S.io, srv, (int64_t)n, false, NULL, &tok) == 0, "recv");
  }
  atomic_fetch_add(&tokens_used, 1);
  slot_t *sl = stress_wait(&S, tok);
  CHECK(sl->result > 0, "recv: %s", hk_io_strerror(sl->result));
  data = sl->data;
  len = sl->len;
  memcpy(out, data, len);
  return len;
}

static void *reader(void *arg) {
  (void)arg;
  uint64_t x = 12345;
  int next[SENDERS] = {0};
  char *buf = malloc(HDR + (1 << 21));
  for (int total = 0; total < SENDERS * RECORDS; total++) {
    size_t got = 0;
    if (rnd(&x) % 8 == 0) usleep(1000); /* let the socket buffers fill */
    while (got < HDR) got += take(buf + got, HDR - got, &x);
    CHECK(buf[0] == 'R', "record %d: framing broken", total);
    int who = buf[1] - '0';
    CHECK(who >= 0 && who < SENDERS, "record %d: bad sender", total);
    int seq = atoi((char[5]){buf[2], buf[3], buf[4], buf[5], 0});
    size_t len = (size_t)atol((char[7]){buf[6], buf[7], buf[8], buf[9], buf[10], buf[11], 0});
    CHECK(seq == next[who] % 10000, "sender %d: record %d, want %d", who, seq, next[who]);
    next[who]++;
    got = 0;
    while (got < len) {
      size_t want = len - got > 65536 ? 65536 : len - got;
      size_t k = take(buf + HDR, want, &x);
      for (size_t i = 0; i < k; i++)
        CHECK(buf[HDR + i] == 'a' + who, "record %d of sender %d: foreign byte at %zu", seq, who,
              got + i);
      got += k;
    }
  }
  free(buf);
  return NULL;
}

/* A close racing direct sends and receives: each ends with success or
** "socket is closed", never on a reused descriptor. */
static void *closer_victim(void *arg) {
  int64_t s = (int64_t)(intptr_t)arg;
  for (int i = 0; i < 2000; i++) {
    hk_io_claim_t cl;
    int rc = hk_io_send_try(S.io, s, "xy", 2, &cl);
    if (rc == HK_IO_ECLOSED) return NULL;
    CHECK(rc >= 0 || rc == -EPIPE || rc == -ECONNRESET, "send_try: %s", hk_io_strerror(rc));
    if (rc == 0) {
      uint64_t tok;
      CHECK(hk_io_send_finish(S.io, &cl, "xy", 2, NULL, &tok) == 0, "finish");
      atomic_fetch_add(&tokens_used, 1);
      int64_t r = stress_wait(&S, tok)->result;
      CHECK(r == 2 || r == HK_IO_ECLOSED, "late send: %s", hk_io_strerror(r));
      if (r == HK_IO_ECLOSED) return NULL;
    }
  }
  return NULL;
}

static int64_t pair(int64_t lis, int port, int64_t *other) {
  uint64_t ta, tc;
  CHECK(hk_io_accept(S.io, lis, 0, NULL, &ta) == 0, "accept");
  CHECK(hk_io_connect(S.io, "127.0.0.1", port, 0, NULL, &tc) == 0, "connect");
  atomic_fetch_add(&tokens_used, 2);
  *other = stress_wait(&S, ta)->result;
  int64_t s = stress_wait(&S, tc)->result;
  CHECK(s > 0 && *other > 0, "connect/accept failed");
  return s;
}

int main(void) {
  start_watchdog(100);
  stress_open(&S, 4 * SENDERS * RECORDS + 50000 * STRESS_SCALE);
  int64_t lis = hk_io_listen(S.io, "127.0.0.1", 0, 0);
  CHECK(lis > 0, "listen");
  int port = (int)hk_io_socket_port(S.io, lis);
  cli = pair(lis, port, &srv);
  pthread_t th[SENDERS], rd;
  for (int i = 0; i < SENDERS; i++) pthread_create(&th[i], NULL, sender, (void *)(intptr_t)i);
  pthread_create(&rd, NULL, reader, NULL);
  for (int i = 0; i < SENDERS; i++) pthread_join(th[i], NULL);
  pthread_join(rd, NULL);
  for (int round = 0; round < 20 * STRESS_SCALE; round++) {
    int64_t peer, s = pair(lis, port, &peer);
    pthread_t v;
    pthread_create(&v, NULL, closer_victim, (void *)(intptr_t)s);
    usleep(200);
    uint64_t tok;
    CHECK(hk_io_close(S.io, s, NULL, &tok) == 0, "close");
    atomic_fetch_add(&tokens_used, 1);
    CHECK(stress_wait(&S, tok)->result == 0, "close result");
    pthread_join(v, NULL);
    CHECK(hk_io_close(S.io, peer, NULL, &tok) == 0, "close peer");
    stress_wait(&S, tok);
  }
  CHECK(atomic_load(&S.bad) == 0, "a token completed twice");
  hk_io_counters_t k;
  hk_io_counters(S.io, &k);
  CHECK(k.pending == 0, "pending %llu", (unsigned long long)k.pending);
  fprintf(stderr, "%d records, %llu queued operations, %llu direct sends finished by the I/O "
          "thread, %llu tried sends queued behind others\n", SENDERS * RECORDS,
          (unsigned long long)atomic_load(&tokens_used), (unsigned long long)atomic_load(&partial),
          (unsigned long long)atomic_load(&held_behind));
  stress_close(&S);
  return 0;
}
