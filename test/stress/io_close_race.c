/* test/stress/io_close_race.c: socket closes (hk_io_close, close_quiet,
** close_owner) racing pending and in-flight operations and cancels, from
** several threads. Every token completes exactly once with an allowed
** result, nothing stays pending, and no descriptor leaks. */
#include "stress_common.h"

#include <dirent.h>

enum { THREADS = 3, ROUNDS = 150 * STRESS_SCALE, OPS = 12, LEN = 1000 };

static stress_t S;

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static uint64_t rnd(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static bool allowed(int kind, int64_t r) {
  if (r == HK_IO_ECLOSED || r == -ECANCELED) return true;
  switch (kind) {
  case HK_IO_RECV:
  case HK_IO_RECV_TEXT: return r >= 0 || r == -ECONNRESET;
  case HK_IO_SEND: return r == LEN || r == -EPIPE || r == -ECONNRESET;
  case HK_IO_CLOSE: return r == 0;
  default: return false; /* accept: nobody connects */
  }
}

static void *worker(void *arg) {
  uint64_t x = 0x2545F4914F6CDD1Dull * ((uintptr_t)arg + 1);
  char data[LEN];
  memset(data, 'd', sizeof data);
  for (int round = 0; round < ROUNDS; round++) {
    uint64_t owner = (uintptr_t)arg * 100000 + (uint64_t)round + 1;
    int64_t lis = hk_io_listen(S.io, "127.0.0.1", 0, owner);
    CHECK(lis > 0, "listen %lld", (long long)lis);
    uint64_t ta, tc;
    CHECK(hk_io_accept(S.io, lis, owner, NULL, &ta) == 0, "accept");
    CHECK(hk_io_connect(S.io, "127.0.0.1", hk_io_socket_port(S.io, lis),
                        owner, NULL, &tc) == 0, "connect");
    int64_t srv = stress_wait(&S, ta)->result, cli = stress_wait(&S, tc)->result;
    CHECK(srv > 0 && cli > 0, "pair");
    uint64_t tok[OPS];
    int kind[OPS];
    for (int i = 0; i < OPS; i++) {
      int k = (int)(rnd(&x) % 4);
      int64_t s = rnd(&x) & 1 ? srv : cli;
      int rc;
      if (k == 0) { kind[i] = HK_IO_SEND; rc = hk_io_send(S.io, s, data, LEN, NULL, &tok[i]); }
      else if (k == 1) { kind[i] = HK_IO_RECV; rc = hk_io_recv(S.io, s, 300, false, NULL, &tok[i]); }
      else if (k == 2) { kind[i] = HK_IO_RECV_TEXT; rc = hk_io_recv(S.io, s, 300, true, NULL, &tok[i]); }
      else { kind[i] = HK_IO_ACCEPT; rc = hk_io_accept(S.io, lis, owner, NULL, &tok[i]); }
      CHECK(rc == 0, "submit");
      if (rnd(&x) % 4 == 0) hk_io_cancel(S.io, tok[i]);
    }
    for (volatile unsigned i = 0, n = (unsigned)(rnd(&x) % 20000); i < n; i++) {
    }
    uint64_t tcl = 0;
    switch (rnd(&x) % 3) {
    case 0: CHECK(hk_io_close(S.io, srv, NULL, &tcl) == 0, "close"); break;
    case 1: hk_io_close_quiet(S.io, cli); break;
    default: break;
    }
    hk_io_close_owner(S.io, owner);
    for (int i = 0; i < OPS; i++) {
      int64_t r = stress_wait(&S, tok[i])->result;
      CHECK(allowed(kind[i], r), "op %d result %lld", kind[i], (long long)r);
    }
    if (tcl) CHECK(stress_wait(&S, tcl)->result == 0, "close result");
  }
  return NULL;
}

int main(void) {
  start_watchdog(100);
  int fds0 = count_fds();
  stress_open(&S, (size_t)THREADS * ROUNDS * (OPS + 4) + 16);
  uint64_t t0 = stress_ms();
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  hk_io_counters_t k = {0};
  for (int i = 0; i < 500; i++) { /* internal closes finish asynchronously */
    hk_io_counters(S.io, &k);
    if (k.pending == 0) break;
    usleep(2000);
  }
  CHECK(k.pending == 0, "pending %llu", (unsigned long long)k.pending);
  CHECK(atomic_load(&S.bad) == 0, "a token completed twice");
  uint64_t calls = atomic_load(&S.callbacks);
  stress_close(&S);
  CHECK(atomic_load(&S.callbacks) == calls, "callbacks after the end");
  int fds1 = count_fds();
  CHECK(fds0 == fds1, "descriptors: %d before, %d after", fds0, fds1);
  fprintf(stderr, "%d rounds, %llu completions, %llu ms\n", THREADS * ROUNDS,
          (unsigned long long)calls, (unsigned long long)(stress_ms() - t0));
  return 0;
}
