/* sched/runq.c: the per-worker SPMC ring (see runq.h).
**
** Memory ordering (docs/scheduler.md, "Run queue"):
** (R1) The owner writes a slot (relaxed) and then publishes it with a
**      release store of tail. Every consumer loads tail with acquire, so
**      the slot values below that tail, and the task contents written
**      before the push, are visible to it.
** (R2) A consumer reads the slots it wants (relaxed) and then claims them
**      with a CAS on head (release). The owner loads head with acquire
**      before reusing a slot, so a consumer's slot reads happen before the
**      owner's overwrite of those slots.
** (R3) A consumer's speculative read may see a slot the owner is
**      overwriting (the owner saw head move past it); then head has moved
**      and the consumer's CAS fails, so the stale value is never used.
**      head is a 32-bit counter that only grows, so an ABA would need 2^32
**      consumptions between the consumer's load and its CAS.
*/
#include "sched/runq.h"

#include <assert.h>
#include <errno.h>

#define MASK (HK_RUNQ_SIZE - 1u)

void hk_runq_init(hk_runq_t *q) {
  atomic_init(&q->head, 0);
  atomic_init(&q->tail, 0);
  for (uint32_t i = 0; i < HK_RUNQ_SIZE; i++)
    atomic_init(&q->slot[i], NULL);
}

int hk_runq_push_owner(hk_runq_t *q, hk_task_t *t) {
  /* Acquire pairs with the consumers' release CAS on head (R2). */
  uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  /* Relaxed: only this thread writes tail. */
  uint32_t tl = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (tl - h >= HK_RUNQ_SIZE)
    return -EAGAIN;
  atomic_store_explicit(&q->slot[tl & MASK], t, memory_order_relaxed);
  /* Release pairs with the consumers' acquire load of tail (R1). */
  atomic_store_explicit(&q->tail, tl + 1, memory_order_release);
  return 0;
}

hk_task_t *hk_runq_pop_owner(hk_runq_t *q, uint32_t *left) {
  /* Acquire pairs with the consumers' release CAS (R2). */
  uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  for (;;) {
    /* Relaxed: only this thread writes tail. */
    uint32_t tl = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (tl == h) {
      *left = 0;
      return NULL;
    }
    /* Relaxed: the owner wrote this slot itself. */
    hk_task_t *t =
        atomic_load_explicit(&q->slot[h & MASK], memory_order_relaxed);
    /* Release for (R2) like a thief's CAS; on failure h is reloaded
    ** (acquire pairs with the thief's release CAS). */
    if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1,
                                              memory_order_release,
                                              memory_order_acquire)) {
      *left = tl - h - 1;
      return t;
    }
  }
}

uint32_t hk_runq_grab_half_owner(hk_runq_t *q, hk_task_t **out) {
  /* Acquire pairs with the consumers' release CAS (R2). */
  uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  /* Relaxed: only this thread writes tail. */
  uint32_t tl = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (tl - h < HK_RUNQ_SIZE)
    return 0;
  const uint32_t n = HK_RUNQ_SIZE / 2;
  for (uint32_t i = 0; i < n; i++)
    out[i] = atomic_load_explicit(&q->slot[(h + i) & MASK],
                                  memory_order_relaxed);
  /* Release (R2); a failure means a thief took tasks: the ring has room. */
  if (!atomic_compare_exchange_strong_explicit(&q->head, &h, h + n,
                                               memory_order_release,
                                               memory_order_relaxed))
    return 0;
  return n;
}

hk_task_t *hk_runq_steal_spmc(hk_runq_t *victim, hk_runq_t *own,
                              uint32_t *nstolen) {
  /* Our own ring: only we push to it, so its free room can only grow.
  ** Acquire (R2): thieves of our ring are done with the slots we reuse. */
  uint32_t oh = atomic_load_explicit(&own->head, memory_order_acquire);
  uint32_t ot = atomic_load_explicit(&own->tail, memory_order_relaxed);
  uint32_t room = HK_RUNQ_SIZE - (ot - oh);
  *nstolen = 0;
  for (;;) {
    /* Acquire pairs with other consumers' release CAS (R2). */
    uint32_t h = atomic_load_explicit(&victim->head, memory_order_acquire);
    /* Acquire pairs with the victim owner's release store of tail (R1). */
    uint32_t tl = atomic_load_explicit(&victim->tail, memory_order_acquire);
    uint32_t n = tl - h;
    n -= n / 2;
    if (n == 0)
      return NULL;
    if (n > HK_RUNQ_SIZE / 2)
      continue; /* h and tl read at different moments: read again */
    if (n > room + 1)
      n = room + 1; /* one of them is returned, not stored */
    for (uint32_t i = 0; i + 1 < n; i++) {
      hk_task_t *t = atomic_load_explicit(&victim->slot[(h + i) & MASK],
                                          memory_order_relaxed);
      atomic_store_explicit(&own->slot[(ot + i) & MASK], t,
                            memory_order_relaxed);
    }
    hk_task_t *last = atomic_load_explicit(&victim->slot[(h + n - 1) & MASK],
                                           memory_order_relaxed);
    /* Release (R2): our slot reads happen before the victim's owner reuses
    ** those slots. On failure another consumer moved head (R3): retry. */
    if (atomic_compare_exchange_strong_explicit(&victim->head, &h, h + n,
                                                memory_order_release,
                                                memory_order_relaxed)) {
      if (n > 1)
        /* Release (R1) for our own ring: the copied slots and, through
        ** the victim's tail release we acquired, the task contents. */
        atomic_store_explicit(&own->tail, ot + n - 1, memory_order_release);
      *nstolen = n;
      return last;
    }
  }
}

uint32_t hk_runq_len(const hk_runq_t *q) {
  for (;;) { /* a consistent pair: head unchanged around the tail load */
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    /* Acquire (R1), like a consumer's; also keeps the loads in order. */
    uint32_t tl = atomic_load_explicit(&q->tail, memory_order_acquire);
    uint32_t h2 = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (h == h2)
      return tl - h <= HK_RUNQ_SIZE ? tl - h : 0;
  }
}
