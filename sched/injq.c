/* sched/injq.c: the global injection queue (see injq.h). The mutex orders
** everything about the list; len is the only field read without it. */
#include "sched/injq.h"

#include <assert.h>

int hk_injq_init(hk_injq_t *q) {
  q->head = q->tail = NULL;
  atomic_init(&q->len, 0);
  return -pthread_mutex_init(&q->lock, NULL);
}

void hk_injq_destroy(hk_injq_t *q) { pthread_mutex_destroy(&q->lock); }

void hk_injq_push_list(hk_injq_t *q, hk_task_t *first, hk_task_t *last,
                       size_t n) {
  if (n == 0)
    return;
  last->next = NULL;
  pthread_mutex_lock(&q->lock);
  if (q->tail)
    q->tail->next = first;
  else
    q->head = first;
  q->tail = last;
  /* Relaxed: the lock orders writers; lock-free readers treat len as a
  ** hint or order it with their own seq_cst fence (sched.c, (P1)). */
  atomic_store_explicit(&q->len,
                        atomic_load_explicit(&q->len, memory_order_relaxed) + n,
                        memory_order_relaxed);
  pthread_mutex_unlock(&q->lock);
}

size_t hk_injq_pop_batch(hk_injq_t *q, hk_task_t **out, size_t max) {
  if (max == 0 || atomic_load_explicit(&q->len, memory_order_relaxed) == 0)
    return 0;
  size_t n = 0;
  pthread_mutex_lock(&q->lock);
  while (n < max && q->head) {
    out[n++] = q->head;
    q->head = q->head->next;
  }
  if (!q->head)
    q->tail = NULL;
  atomic_store_explicit(&q->len,
                        atomic_load_explicit(&q->len, memory_order_relaxed) - n,
                        memory_order_relaxed);
  pthread_mutex_unlock(&q->lock);
  return n;
}

size_t hk_injq_len(hk_injq_t *q) {
  return atomic_load_explicit(&q->len, memory_order_relaxed);
}
