/* test/stress/io_recv_idle.c: receives that follow a send, against a peer
** that answers at once. Such a receive is queued without waking the I/O
** thread while the socket's multishot receive is armed with nothing
** buffered (hk_sockfast_t.rx_idle, docs/io.md); the answer's arrival wakes
** it. The race this checks: the answer arrives (and is buffered) between
** the I/O thread's last look at the flag and the submitter's push; a
** receive that skipped the wake-up then would wait for ever (the
** watchdog fails the run). CONNS connections, each a thread of ours doing
** send then receive ROUNDS times and a peer thread echoing with plain
** blocking system calls, sometimes at once, sometimes after a pause (so
** that the receive finds the multishot idle), and every 16th receive
** cancelled at once: no byte may be lost or reordered, every token
** completes once and nothing stays pending. Runs under both backends
** (the fallback has no multishot: the plain path). */
#include "stress_common.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

enum { CONNS = 4, ROUNDS = 1500 * STRESS_SCALE, MSG = 48 };

static stress_t S;
static int64_t lis;
static int port;
static _Atomic uint64_t tokens_used, cancelled_ok;

static uint64_t rnd(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void *peer(void *arg) {
  uint64_t x = 0x2545f4914f6cdd1dull * ((uint64_t)(intptr_t)arg + 1);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0, "socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char buf[MSG];
  for (;;) {
    size_t got = 0;
    while (got < MSG) {
      ssize_t k = read(fd, buf + got, MSG - got);
      if (k == 0 && got == 0) goto done;
      CHECK(k > 0, "peer read");
      got += (size_t)k;
    }
    if (rnd(&x) % 4 == 0) usleep(rnd(&x) % 200);
    for (size_t off = 0; off < MSG;) {
      ssize_t k = write(fd, buf + off, MSG - off);
      CHECK(k > 0, "peer write");
      off += (size_t)k;
    }
  }
done:
  close(fd);
  return NULL;
}

/* One receive of at most [n] bytes into [out] (0: cancelled before any
** byte was taken). */
static size_t recv_some(int64_t s, char *out, size_t n, bool cancel) {
  uint64_t tok;
  size_t k = stress_recv_try(&S, s, out, n, &tok);
  if (k) return k;
  atomic_fetch_add(&tokens_used, 1);
  if (cancel) hk_io_cancel(S.io, tok);
  slot_t *sl = stress_wait(&S, tok);
  if (cancel && sl->result == -ECANCELED) {
    atomic_fetch_add(&cancelled_ok, 1);
    return 0;
  }
  CHECK(sl->result > 0, "recv: %s", hk_io_strerror(sl->result));
  memcpy(out, sl->data, sl->len);
  return sl->len;
}

static void *conn(void *arg) {
  int c = (int)(intptr_t)arg;
  uint64_t tok;
  pthread_t pt;
  pthread_create(&pt, NULL, peer, arg);
  CHECK(hk_io_accept(S.io, lis, 0, NULL, &tok) == 0, "accept");
  atomic_fetch_add(&tokens_used, 1);
  int64_t s = stress_wait(&S, tok)->result;
  CHECK(s > 0, "accept: %s", hk_io_strerror(s));
  for (int i = 0; i < ROUNDS; i++) {
    char m[MSG + 1], back[MSG];
    snprintf(m, sizeof m, "%02d:%08d:%036d", c, i, i * 7);
    hk_io_claim_t cl;
    int rc = hk_io_send_try(S.io, s, m, MSG, &cl);
    CHECK(rc >= 0, "send_try: %s", hk_io_strerror(rc));
    if (rc == 0) {
      CHECK(hk_io_send_finish(S.io, &cl, m, MSG, NULL, &tok) == 0, "send_finish");
      atomic_fetch_add(&tokens_used, 1);
      CHECK(stress_wait(&S, tok)->result == MSG, "send");
    }
    size_t got = 0;
    while (got < MSG)
      got += recv_some(s, back + got, MSG - got, i % 16 == 5 && got == 0);
    CHECK(memcmp(m, back, MSG) == 0, "connection %d round %d: wrong answer", c, i);
  }
  /* Connections may be accepted in another order than the peers
  ** connected; each peer ends when its socket closes. */
  CHECK(hk_io_close(S.io, s, NULL, &tok) == 0, "close");
  atomic_fetch_add(&tokens_used, 1);
  stress_wait(&S, tok);
  pthread_join(pt, NULL);
  return NULL;
}

int main(void) {
  start_watchdog(90);
  stress_open(&S, (size_t)CONNS * ROUNDS * 4 + 64);
  lis = hk_io_listen(S.io, "127.0.0.1", 0, 0);
  CHECK(lis > 0, "listen");
  port = (int)hk_io_socket_port(S.io, lis);
  pthread_t th[CONNS];
  for (int i = 0; i < CONNS; i++)
    pthread_create(&th[i], NULL, conn, (void *)(intptr_t)i);
  for (int i = 0; i < CONNS; i++) pthread_join(th[i], NULL);
  uint64_t used = atomic_load(&tokens_used);
  CHECK(atomic_load(&S.bad) == 0, "a token completed twice or was unknown");
  CHECK(atomic_load(&S.callbacks) == used, "%llu callbacks for %llu tokens",
        (unsigned long long)atomic_load(&S.callbacks), (unsigned long long)used);
  hk_io_counters_t k;
  hk_io_counters(S.io, &k);
  CHECK(k.pending == 0, "%llu requests still pending", (unsigned long long)k.pending);
  fprintf(stderr, "ok: %llu tokens, %llu receives cancelled before data\n",
          (unsigned long long)used, (unsigned long long)atomic_load(&cancelled_ok));
  stress_close(&S);
  return 0;
}
