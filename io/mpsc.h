/* io/mpsc.h: Vyukov's intrusive multi-producer single-consumer queue in
** C11 atomics (PLATFORM.md: no ck MPSC). One atomic exchange per push; the
** consumer never blocks a producer. docs/io.md has the argument.
*/
#ifndef HK_IO_MPSC_H
#define HK_IO_MPSC_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define HK_CACHELINE 64

/* The full fence of the store-fence-load sleep hand-off (io.c). Both
** sides already use seq_cst for the store and the load, which alone puts
** them in C11's single total order; the fence states the algorithm's
** requirement explicitly. ThreadSanitizer does not support standalone
** fences (gcc -Wtsan), so its variant relies on the seq_cst operations. */
#if defined(__SANITIZE_THREAD__)
#define HK_IO_FULL_FENCE() ((void)0)
#else
#define HK_IO_FULL_FENCE() atomic_thread_fence(memory_order_seq_cst)
#endif

typedef struct hk_mpsc_node {
  _Atomic(struct hk_mpsc_node *) next;
} hk_mpsc_node_t;

typedef struct hk_mpsc {
  /* Producers: the last node pushed. */
  alignas(HK_CACHELINE) _Atomic(hk_mpsc_node_t *) head;
  /* Consumer only: the oldest node not yet popped (or the stub). */
  alignas(HK_CACHELINE) hk_mpsc_node_t *tail;
  hk_mpsc_node_t stub;
} hk_mpsc_t;

/* Initialise an empty queue. Thread: init. */
static inline void hk_mpsc_init(hk_mpsc_t *q) {
  atomic_init(&q->stub.next, NULL);
  atomic_init(&q->head, &q->stub);
  q->tail = &q->stub;
}

/* Push [n]. Ownership: the queue borrows n until it is popped.
** Thread: any. */
static inline void hk_mpsc_push_mpsc(hk_mpsc_t *q, hk_mpsc_node_t *n) {
  /* Relaxed: n is published by the release store into prev->next below. */
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  /* seq_cst (not just acq_rel): this exchange is the "store" of the
  ** store-fence-load hand-off with the I/O thread's sleeping flag (the
  ** consumer's seq_cst load of head in hk_mpsc_empty_consumer). acquire
  ** side orders against the previous pusher's relaxed init of prev. */
  hk_mpsc_node_t *prev =
      atomic_exchange_explicit(&q->head, n, memory_order_seq_cst);
  /* Release: pairs with the consumer's acquire load of ->next in pop, so
  ** the consumer sees n's contents. */
  atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* Pop the oldest node, or NULL when the queue is empty or a producer is
** between its exchange and its link (then hk_mpsc_empty_consumer is false
** and the caller retries). Thread: the single consumer. */
static inline hk_mpsc_node_t *hk_mpsc_pop_consumer(hk_mpsc_t *q) {
  hk_mpsc_node_t *tail = q->tail;
  /* Acquire: pairs with the release link store in push. */
  hk_mpsc_node_t *next =
      atomic_load_explicit(&tail->next, memory_order_acquire);
  if (tail == &q->stub) {
    if (next == NULL) return NULL;
    q->tail = next;
    tail = next;
    next = atomic_load_explicit(&next->next, memory_order_acquire);
  }
  if (next != NULL) {
    q->tail = next;
    return tail;
  }
  /* tail is the last linked node: if a producer already swapped head past
  ** it, its link is on its way; report nothing for now. Acquire: pairs
  ** with the exchange in push (only identity is compared). */
  if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
    return NULL;
  hk_mpsc_push_mpsc(q, &q->stub);
  next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (next != NULL) {
    q->tail = next;
    return tail;
  }
  return NULL;
}

/* True when nothing was pushed that is not yet popped. seq_cst load of
** head: the "load" of the consumer's store-fence-load sleep hand-off.
** Thread: the single consumer. */
static inline bool hk_mpsc_empty_consumer(hk_mpsc_t *q) {
  return q->tail == &q->stub &&
         atomic_load_explicit(&q->head, memory_order_seq_cst) == &q->stub;
}

#endif
