/* sched/injq.c: the global injection queue (see injq.h). The mutex orders
** everything about the array; len is the only field read without it. */
#include "sched/injq.h"

#include <stdio.h>
#include <stdlib.h>

#define FIRST_CAP 256u

int hk_injq_init(hk_injq_t *q) {
  q->buf = NULL;
  q->cap = q->head = 0;
  atomic_init(&q->len, 0);
  return -pthread_mutex_init(&q->lock, NULL);
}

void hk_injq_destroy(hk_injq_t *q) {
  free(q->buf);
  q->buf = NULL;
  pthread_mutex_destroy(&q->lock);
}

/* Room for [len] + [n] tasks, the [len] queued ones kept in order. Caller
** holds the lock. */
static void reserve(hk_injq_t *q, size_t len, size_t n) {
  if (len + n <= q->cap)
    return;
  size_t cap = q->cap ? q->cap : FIRST_CAP;
  while (cap < len + n)
    cap *= 2;
  hk_task_t **buf = malloc(cap * sizeof *buf);
  if (!buf) {
    fputs("hiko: out of memory in the scheduler's injection queue\n", stderr);
    exit(70);
  }
  for (size_t i = 0; i < len; i++)
    buf[i] = q->buf[(q->head + i) & (q->cap - 1)];
  free(q->buf);
  q->buf = buf;
  q->cap = cap;
  q->head = 0;
}

/* Relaxed: the lock orders writers; lock-free readers treat len as a hint
** or order it with their own seq_cst fence (sched.c, (P1)). */
static void set_len(hk_injq_t *q, size_t len) {
  atomic_store_explicit(&q->len, len, memory_order_relaxed);
}

/* A push's frame: lock, make room for [n] more tasks and return the slot
** index (unmasked) of the first; push_end publishes them and unlocks. */
static size_t push_begin(hk_injq_t *q, size_t n) {
  pthread_mutex_lock(&q->lock);
  size_t len = atomic_load_explicit(&q->len, memory_order_relaxed);
  reserve(q, len, n);
  return q->head + len;
}

static void push_end(hk_injq_t *q, size_t n) {
  set_len(q, atomic_load_explicit(&q->len, memory_order_relaxed) + n);
  pthread_mutex_unlock(&q->lock);
}

/* The pushes and the pop are kept out of line: inlined into a ready path
** (runtime/rt.c's, which also injects from non-worker threads), the
** array's growth took a register more in the worker's common path (+3
** instructions per ready, pingpong, callgrind). */
__attribute__((noinline)) void hk_injq_push_array(hk_injq_t *q, hk_task_t *const *tasks, size_t n) {
  if (n == 0)
    return;
  size_t at = push_begin(q, n), mask = q->cap - 1;
  for (size_t i = 0; i < n; i++)
    q->buf[(at + i) & mask] = tasks[i];
  push_end(q, n);
}

__attribute__((noinline)) void hk_injq_push_list(hk_injq_t *q, hk_task_t *first, hk_task_t *last,
                       size_t n) {
  if (n == 0)
    return;
  last->next = NULL;
  size_t at = push_begin(q, n), mask = q->cap - 1;
  hk_task_t *t = first;
  for (size_t i = 0; i < n; i++, t = t->next)
    q->buf[(at + i) & mask] = t;
  push_end(q, n);
}

__attribute__((noinline)) size_t hk_injq_pop_batch(hk_injq_t *q, hk_task_t **out, size_t max) {
  if (max == 0 || atomic_load_explicit(&q->len, memory_order_relaxed) == 0)
    return 0;
  pthread_mutex_lock(&q->lock);
  size_t len = atomic_load_explicit(&q->len, memory_order_relaxed);
  size_t n = len < max ? len : max;
  size_t mask = q->cap - 1;
  for (size_t i = 0; i < n; i++)
    out[i] = q->buf[(q->head + i) & mask];
  q->head = n ? (q->head + n) & mask : q->head;
  set_len(q, len - n);
  pthread_mutex_unlock(&q->lock);
  return n;
}

size_t hk_injq_len(hk_injq_t *q) {
  return atomic_load_explicit(&q->len, memory_order_relaxed);
}
