/* test/io/stress_common.h: shared parts of the io stress programs (plain
** C, run under ThreadSanitizer): a token-indexed completion table that
** counts every callback, a blocking wait, and a watchdog that turns a
** hang into a failure. Exit codes: 0 pass, 1 fail, 77 skip. */
#ifndef HK_TEST_IO_STRESS_COMMON_H
#define HK_TEST_IO_STRESS_COMMON_H

#include "io.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif

typedef struct slot {
  _Atomic int count; /* callbacks seen for this token */
  int64_t result;
  char *data;
  size_t len;
  uint32_t flags;
} slot_t;

typedef struct stress {
  hk_io_t *io;
  slot_t *slots;
  size_t nslots; /* tokens are 1..nslots-1 */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  _Atomic uint64_t callbacks;
  _Atomic int bad; /* token out of range or seen twice */
} stress_t;

static void stress_cb(void *user, hk_io_completion_t *c) {
  stress_t *s = user;
  if (c->token == 0 || c->token >= s->nslots) {
    atomic_store(&s->bad, 1);
    free(c->data);
    return;
  }
  slot_t *sl = &s->slots[c->token];
  pthread_mutex_lock(&s->lock);
  sl->result = c->result;
  sl->data = c->data;
  sl->len = c->len;
  sl->flags = c->flags;
  if (atomic_fetch_add(&sl->count, 1) != 0) atomic_store(&s->bad, 1);
  atomic_fetch_add(&s->callbacks, 1);
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

static inline void stress_open(stress_t *s, size_t max_tokens) {
  memset(s, 0, sizeof *s);
  s->nslots = max_tokens + 1;
  s->slots = calloc(s->nslots, sizeof *s->slots);
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  hk_io_config_t cfg = {.callback = stress_cb, .user = s};
  int rc = hk_io_new(&s->io, &cfg);
  if (rc < 0 || !s->slots) {
    fprintf(stderr, "hk_io_new: %s\n", hk_io_strerror(rc));
    exit(1);
  }
  fprintf(stderr, "backend: %s\n", hk_io_backend_name(s->io));
}

static inline void stress_close(stress_t *s) {
  hk_io_free(s->io);
  for (size_t i = 0; i < s->nslots; i++) free(s->slots[i].data);
  free(s->slots);
}

/* Block until [tok] completed; returns its slot. */
static inline slot_t *stress_wait(stress_t *s, uint64_t tok) {
  slot_t *sl = &s->slots[tok];
  pthread_mutex_lock(&s->lock);
  while (atomic_load(&sl->count) == 0) pthread_cond_wait(&s->cond, &s->lock);
  pthread_mutex_unlock(&s->lock);
  return sl;
}

/* hk_io_recv_try on [sock] for at most [n] bytes: the count (> 0) when
** it was served on the calling thread (the bytes are in [out]), else 0
** with the rest submitted (hk_io_recv_finish) as *tok. */
static inline size_t stress_recv_try(stress_t *s, int64_t sock, char *out,
                                     size_t n, uint64_t *tok) {
  hk_io_claim_t cl;
  hk_io_completion_t c;
  int rc = hk_io_recv_try(s->io, sock, (int64_t)n, false, &cl, &c);
  if (rc < 0) {
    fprintf(stderr, "FAIL: recv_try: %s\n", hk_io_strerror(rc));
    exit(1);
  }
  if (rc == 1) {
    if (c.len == 0) {
      fprintf(stderr, "FAIL: unexpected end of stream\n");
      exit(1);
    }
    memcpy(out, c.data, c.len);
    free(c.data);
    return c.len;
  }
  if (hk_io_recv_finish(s->io, &cl, NULL, tok) != 0) {
    fprintf(stderr, "FAIL: recv_finish\n");
    exit(1);
  }
  return 0;
}

static inline uint64_t stress_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *watchdog(void *arg) {
  unsigned secs = (unsigned)(uintptr_t)arg;
  sleep(secs);
  fprintf(stderr, "FAIL: watchdog: no result after %u s\n", secs);
  _exit(1);
  return NULL;
}

static inline void start_watchdog(unsigned secs) {
  pthread_t t;
  pthread_create(&t, NULL, watchdog, (void *)(uintptr_t)secs);
  pthread_detach(t);
}

#define CHECK(cond, ...)                                      \
  do {                                                        \
    if (!(cond)) {                                            \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);    \
      fprintf(stderr, __VA_ARGS__);                           \
      fputc('\n', stderr);                                    \
      exit(1);                                                \
    }                                                         \
  } while (0)

#endif
