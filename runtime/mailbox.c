/* mailbox.c — Vyukov's intrusive MPSC queue with the empty-and-waiting mark
** (SPEC §10.5). See mailbox.h for the contract and docs/runtime.md for the
** argument that a blocked receiver is woken exactly once.
**
** Shape: producers exchange the tail and then link the previous tail to the
** new node; the consumer pops from `head`, skipping the stub and re-pushing
** it when it takes the last real node (so the queue is never without a
** node). The tail word's low bit is the mark; it can only be set while the
** tail is the stub, and every exchange clears it.
*/
#include "runtime/mailbox.h"

#include <stddef.h>

void hk_mailbox_init(hk_mailbox_t *mb, hk_mtail_t *t) {
  atomic_init(&mb->stub.next, NULL);
  atomic_init(&t->word, (uintptr_t)&mb->stub);
  atomic_init(&mb->len_hint, 0);
  mb->head = &mb->stub;
}

/* Consumer view of the tail, without the mark. Acquire pairs with the
** producers' exchange (we only compare the pointer; the node's contents are
** read after the acquire load of ->next). */
static hk_mnode_t *tail_node(hk_mtail_t *t) {
  return hk_mailbox_untag_(atomic_load_explicit(&t->word, memory_order_acquire));
}

static hk_mpop_t took(hk_mailbox_t *mb, hk_mnode_t *n, hk_mnode_t *next,
                      hk_mnode_t **out) {
  hk_mailbox_took_(mb, next);
  *out = n;
  return HK_MPOP_OK;
}

hk_mpop_t hk_mailbox_pop_owner(hk_mailbox_t *mb, hk_mtail_t *t, hk_mnode_t **out) {
  hk_mnode_t *head = mb->head;
  /* Acquire: pairs with the release store in link_node. */
  hk_mnode_t *next = atomic_load_explicit(&head->next, memory_order_acquire);
  if (head == &mb->stub) {
    if (next == NULL) {
      if (tail_node(t) != &mb->stub) return HK_MPOP_BUSY;
      return HK_MPOP_EMPTY;
    }
    mb->head = head = next;
    next = atomic_load_explicit(&head->next, memory_order_acquire);
  }
  if (next != NULL) return took(mb, head, next, out);
  /* head is the last linked node. If a producer has already exchanged the
  ** tail, its link is on the way. */
  if (tail_node(t) != head) return HK_MPOP_BUSY;
  /* Put the stub behind head so head can leave. The tail is not the stub
  ** here, so it carries no mark and this push consumes none. */
  hk_mailbox_link_(t, &mb->stub);
  next = atomic_load_explicit(&head->next, memory_order_acquire);
  if (next != NULL) return took(mb, head, next, out);
  return HK_MPOP_BUSY;
}

hk_mmark_t hk_mailbox_mark_owner(hk_mailbox_t *mb, hk_mtail_t *t) {
  /* Only an empty queue can be marked: head is the stub with nothing linked
  ** behind it (a relaxed look is enough: a non-NULL link just means "not
  ** empty", and the CAS below decides). */
  if (mb->head != &mb->stub ||
      atomic_load_explicit(&mb->stub.next, memory_order_relaxed) != NULL)
    return HK_MMARK_NONEMPTY;
  uintptr_t stub = (uintptr_t)&mb->stub;
  uintptr_t expect = stub;
  /* Release: pairs with the acquire half of the exchange of the producer
  ** that consumes the mark, so our caller's BLOCKED state store (made
  ** before this call) happens before that producer's wake-up CAS.
  ** Acquire on failure: a producer's node is then read after pop's own
  ** acquire loads anyway; acquire keeps the reasoning local. */
  if (atomic_compare_exchange_strong_explicit(&t->word, &expect, stub | HK_MAILBOX_MARK,
                                              memory_order_acq_rel,
                                              memory_order_acquire))
    return HK_MMARK_SET;
  return expect == (stub | HK_MAILBOX_MARK) ? HK_MMARK_SET : HK_MMARK_NONEMPTY;
}

bool hk_mailbox_unmark_owner(hk_mailbox_t *mb, hk_mtail_t *t) {
  uintptr_t stub = (uintptr_t)&mb->stub;
  uintptr_t expect = stub | HK_MAILBOX_MARK;
  /* Relaxed: removing our own mark publishes nothing; if a producer got
  ** there first the CAS fails and that producer's wake is spurious. */
  return atomic_compare_exchange_strong_explicit(&t->word, &expect, stub,
                                                 memory_order_relaxed,
                                                 memory_order_relaxed);
}
