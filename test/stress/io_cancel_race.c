/* test/stress/io_cancel_race.c: completions racing cancels and timeouts
** from several submitting threads. Every token must complete exactly once
** (counted per token), results must be the operation's own or
** -ECANCELED, and shutdown must complete whatever is left. */
#include "stress_common.h"

#include <fcntl.h>

enum { THREADS = 4, ITERS = 2500 * STRESS_SCALE, FILE_LEN = 3000 };

static stress_t S;
static int64_t srv, cli;
static char path[64];

typedef struct rec {
  uint64_t tok;
  int kind;
} rec_t;

static uint64_t rnd(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void spin(uint64_t *x) {
  for (volatile unsigned i = 0, n = (unsigned)(rnd(x) % 2000); i < n; i++) {
  }
}

static void *submitter(void *arg) {
  rec_t *recs = arg;
  uint64_t x = 0x9E3779B97F4A7C15ull ^ (uintptr_t)arg;
  for (int i = 0; i < ITERS; i++) {
    int kind = (int)(rnd(&x) % 5), rc;
    uint64_t tok = 0;
    switch (kind) {
    case 0: rc = hk_io_timer(S.io, (int64_t)(rnd(&x) % 3), NULL, &tok); break;
    case 1: rc = hk_io_timer(S.io, 1000, NULL, &tok); break;
    case 2: rc = hk_io_recv(S.io, srv, 1, rnd(&x) & 1, NULL, &tok); break;
    case 3: rc = hk_io_read_file(S.io, path, NULL, &tok); break;
    default: rc = hk_io_send(S.io, cli, "y", 1, NULL, &tok); break;
    }
    CHECK(rc == 0, "submit kind %d: %d", kind, rc);
    recs[i].tok = tok;
    recs[i].kind = kind;
    if (kind == 1 || rnd(&x) % 2 == 0) {
      spin(&x);
      CHECK(hk_io_cancel(S.io, tok) == 0, "cancel");
    }
  }
  return NULL;
}

int main(void) {
  start_watchdog(100);
  snprintf(path, sizeof path, "/tmp/hkio-race-%d", (int)getpid());
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  char buf[FILE_LEN];
  memset(buf, 'f', sizeof buf);
  CHECK(fd >= 0 && write(fd, buf, sizeof buf) == FILE_LEN, "temp file");
  close(fd);

  stress_open(&S, (size_t)THREADS * ITERS + 16);
  int64_t lis = hk_io_listen(S.io, "127.0.0.1", 0, 0);
  CHECK(lis > 0, "listen %lld", (long long)lis);
  uint64_t ta, tc;
  CHECK(hk_io_accept(S.io, lis, 0, NULL, &ta) == 0, "accept");
  CHECK(hk_io_connect(S.io, "127.0.0.1", hk_io_socket_port(S.io, lis), 0,
                      NULL, &tc) == 0, "connect");
  srv = stress_wait(&S, ta)->result;
  cli = stress_wait(&S, tc)->result;
  CHECK(srv > 0 && cli > 0, "pair %lld %lld", (long long)srv, (long long)cli);

  uint64_t t0 = stress_ms();
  pthread_t th[THREADS];
  rec_t *recs = calloc((size_t)THREADS * ITERS, sizeof *recs);
  for (int i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, submitter, recs + (size_t)i * ITERS);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  /* Let the I/O thread take everything and the short ones finish, then
  ** shut down with the rest (blocked receives, long timers) pending. */
  hk_io_counters_t k;
  uint64_t until = stress_ms() + 20000;
  do {
    usleep(10000);
    hk_io_counters(S.io, &k);
  } while (k.taken < (uint64_t)THREADS * ITERS + 2 && stress_ms() < until);
  usleep(50000);
  hk_io_free(S.io);
  S.io = NULL;

  size_t n = (size_t)THREADS * ITERS, cancelled = 0, ok = 0;
  CHECK(atomic_load(&S.bad) == 0, "a token completed twice or was unknown");
  CHECK(atomic_load(&S.callbacks) == n + 2, "callbacks %llu, want %zu",
        (unsigned long long)atomic_load(&S.callbacks), n + 2);
  for (size_t i = 0; i < n; i++) {
    slot_t *sl = &S.slots[recs[i].tok];
    CHECK(atomic_load(&sl->count) == 1, "token %llu completed %d times",
          (unsigned long long)recs[i].tok, atomic_load(&sl->count));
    int64_t r = sl->result;
    if (r == -ECANCELED) {
      cancelled++;
      continue;
    }
    int64_t want[] = {0, 0, 1, FILE_LEN, 1};
    CHECK(r == want[recs[i].kind], "kind %d result %lld", recs[i].kind,
          (long long)r);
    ok++;
  }
  fprintf(stderr, "%zu ops: %zu done, %zu cancelled, %llu ms; taken %llu\n",
          n, ok, cancelled, (unsigned long long)(stress_ms() - t0),
          (unsigned long long)k.taken);
  CHECK(ok > 0 && cancelled > 0, "both outcomes must occur");
  for (size_t i = 0; i < S.nslots; i++) free(S.slots[i].data);
  free(S.slots);
  free(recs);
  unlink(path);
  return 0;
}
