/* test/io/harness.h: a blocking wrapper around the I/O instance for tests
** and stress programs: the callback records completions, wait_token
** blocks (with a deadline) until a token's completion arrives. */
#ifndef HK_TEST_IO_HARNESS_H
#define HK_TEST_IO_HARNESS_H

#include "io.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct done_rec {
  hk_io_completion_t c;
  int seen;       /* callbacks for this token (must end at 1) */
  uint64_t at_ms; /* harness_now_ms() when the callback ran */
} done_rec_t;

typedef struct harness {
  hk_io_t *io;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  done_rec_t *recs;
  size_t n, cap;
  _Atomic uint64_t callbacks;
  _Atomic int dup; /* a token completed twice */
  uint64_t *order; /* tokens in completion order */
} harness_t;

static inline uint64_t harness_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void harness_cb(void *user, hk_io_completion_t *c) {
  harness_t *h = user;
  pthread_mutex_lock(&h->lock);
  /* Duplicate check; large runs check the total count instead. */
  for (size_t i = 0; i < h->n && h->n < 2048; i++)
    if (h->recs[i].c.token == c->token) atomic_store(&h->dup, 1);
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 256;
    h->recs = realloc(h->recs, h->cap * sizeof *h->recs);
    h->order = realloc(h->order, h->cap * sizeof *h->order);
    if (!h->recs || !h->order) abort();
  }
  h->recs[h->n].c = *c;
  h->recs[h->n].c.msg = NULL;
  if (c->flags & HK_IO_F_BORROWED) { /* lent for the call: keep a copy */
    char *d = malloc(c->len + 1);
    if (!d) abort();
    memcpy(d, c->data, c->len);
    d[c->len] = 0;
    h->recs[h->n].c.data = d;
  }
  h->recs[h->n].seen = 1;
  h->recs[h->n].at_ms = harness_now_ms();
  if (c->msg) h->recs[h->n].c.msg = strdup(c->msg);
  h->order[h->n] = c->token;
  h->n++;
  atomic_fetch_add(&h->callbacks, 1);
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
}

static inline int harness_open(harness_t *h, const hk_io_config_t *base) {
  memset(h, 0, sizeof *h);
  pthread_mutex_init(&h->lock, NULL);
  pthread_cond_init(&h->cond, NULL);
  hk_io_config_t cfg = {0};
  if (base) cfg = *base;
  cfg.callback = harness_cb;
  cfg.user = h;
  return hk_io_new(&h->io, &cfg);
}

static inline void harness_close(harness_t *h) {
  hk_io_free(h->io);
  h->io = NULL;
  for (size_t i = 0; i < h->n; i++) {
    free(h->recs[i].c.data);
    free((char *)h->recs[i].c.msg);
  }
  free(h->recs);
  free(h->order);
}

/* Wait up to [ms] for [token]; returns its record (copy; data stays owned
** by the harness) or a record with result -ETIMEDOUT. */
static inline hk_io_completion_t wait_token(harness_t *h, uint64_t token,
                                            int ms) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += ms / 1000;
  dl.tv_nsec += (long)(ms % 1000) * 1000000;
  if (dl.tv_nsec >= 1000000000) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000;
  }
  hk_io_completion_t out = {.token = token, .result = -ETIMEDOUT};
  pthread_mutex_lock(&h->lock);
  for (;;) {
    size_t i;
    for (i = 0; i < h->n; i++)
      if (h->recs[i].c.token == token) break;
    if (i < h->n) {
      out = h->recs[i].c;
      break;
    }
    if (pthread_cond_timedwait(&h->cond, &h->lock, &dl) == ETIMEDOUT) break;
  }
  pthread_mutex_unlock(&h->lock);
  return out;
}

/* Wait until [count] callbacks happened in total, at most [ms]. */
static inline int wait_count(harness_t *h, uint64_t count, int ms) {
  uint64_t end = harness_now_ms() + (uint64_t)ms;
  while (atomic_load(&h->callbacks) < count) {
    if (harness_now_ms() > end) return -ETIMEDOUT;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

#endif
