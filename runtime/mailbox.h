/* mailbox.h — a process mailbox (SPEC §10.5): Vyukov's intrusive
** multi-producer single-consumer queue with a stub node, plus the
** empty-and-waiting mark that lets a blocked receiver be woken exactly once.
**
** Producers link a node with ONE atomic exchange on the tail. The consumer
** pops from its private head. The mark is the low bit of the tail pointer:
** the consumer may set it only while the queue is empty (tail == &stub), and
** the next producer's exchange replaces the marked tail, so exactly one
** producer observes each mark (its push returns true) and must wake the
** receiver (docs/runtime.md has the whole argument).
**
** Length (SPEC §10.5.4, §10.8): approximate and maintained by the consumer
** alone, so a send touches no counter: the number of messages taken since
** the mailbox was last found empty (the backlog the receiver drained in one
** run). Other threads read it as a relaxed hint.
**
** Thread: push from any thread; everything else named _owner from the one
** consumer at a time (the worker running the receiving process). */
#ifndef HK_MAILBOX_H
#define HK_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The intrusive link. Embed it in a message envelope. */
typedef struct hk_mnode {
  _Atomic(struct hk_mnode *) next;
} hk_mnode_t;

/* The producers' word: the tail node, with the empty-and-waiting mark in
** its low bit. Written by producers (exchange) and by the consumer (mark
** CAS, the stub's re-push). Apart from the consumer's fields (hk_mailbox_t)
** so that the embedder can keep the two at least a cache line apart: a
** busy receiver writes its head and run per message, every sender
** exchanges the tail per message (a process: runtime/proc.h). */
typedef struct hk_mtail {
  _Atomic(uintptr_t) word;
} hk_mtail_t;

/* The consumer's fields. No alignment inside: the embedder places it. */
typedef struct hk_mailbox {
  hk_mnode_t *head;
  hk_mnode_t stub;
  /* The run: messages taken since the consumer last ended one
  ** (hk_mailbox_run_end, on finding the mailbox empty; saturating). The
  ** consumer writes it, anyone reads it (relaxed). */
  _Atomic uint32_t len_hint;
  /* The embedder's word, in the consumer's line: the mailbox never touches
  ** it, hk_mailbox_init included (a process keeps its receive gate here,
  ** runtime/proc.h). */
  _Atomic uint32_t user;
} hk_mailbox_t;

/* Result of hk_mailbox_pop_owner. */
typedef enum hk_mpop {
  HK_MPOP_OK = 0,    /* *out is the oldest node, now owned by the caller */
  HK_MPOP_EMPTY = 1, /* nothing queued */
  HK_MPOP_BUSY = 2,  /* a producer is between its exchange and its link:
                     ** a message exists but cannot be taken yet; retry */
} hk_mpop_t;

/* Result of hk_mailbox_mark_owner. */
typedef enum hk_mmark {
  HK_MMARK_SET = 0,      /* empty-and-waiting: the next push reports it */
  HK_MMARK_NONEMPTY = 1, /* a push came first: the receiver must not sleep */
} hk_mmark_t;

/* Initialises an empty, unmarked mailbox: the consumer's fields [mb] and
** its tail [t] (every other function takes the same pair). Thread: any,
** before publishing. */
void hk_mailbox_init(hk_mailbox_t *mb, hk_mtail_t *t);

/* The low bit of the tail word: the empty-and-waiting mark. */
#define HK_MAILBOX_MARK ((uintptr_t)1)

/* The node of tail word [t], without the mark. */
static inline hk_mnode_t *hk_mailbox_untag_(uintptr_t t) {
  return (hk_mnode_t *)(t & ~HK_MAILBOX_MARK);
}

/* Internal (the push, and the consumer's re-push of the stub): links [n]
** and returns the previous tail word, mark included. The exchange is
** acq_rel. Release: publishes n->next = NULL (and, for the stub, nothing
** else) to the next producer, which writes n->next after its own exchange.
** Acquire: pairs with the previous producer's (or the consumer's stub
** push's, or the consumer's mark CAS's) release, so its initialisation of
** prev->next happens before our store to it, and the receiver's BLOCKED
** state store happens before we act on the mark. */
static inline uintptr_t hk_mailbox_link_(hk_mtail_t *t, hk_mnode_t *n) {
  /* Relaxed: published by the release half of the exchange below. */
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  uintptr_t prev = atomic_exchange_explicit(&t->word, (uintptr_t)n, memory_order_acq_rel);
  /* Release: pairs with the consumer's acquire load of prev->next in
  ** hk_mailbox_pop_owner, publishing everything written into the message
  ** before the push (SPEC §6.13.2). */
  atomic_store_explicit(&hk_mailbox_untag_(prev)->next, n, memory_order_release);
  return prev;
}

/* Links [n] at the tail [t] (inline: one exchange and two stores; the
** consumer's fields are not touched). Returns true when this push
** consumed the empty-and-waiting mark: the caller must then wake the
** receiver (CAS on its state, SPEC §10.2.3). Ownership: takes n.
** Thread: any. */
static inline bool hk_mailbox_push(hk_mtail_t *t, hk_mnode_t *n) {
  return (hk_mailbox_link_(t, n) & HK_MAILBOX_MARK) != 0;
}

/* Takes the oldest node. Returns HK_MPOP_OK with *out owned by the caller,
** HK_MPOP_EMPTY (the run goes on until the caller ends it,
** hk_mailbox_run_end), or HK_MPOP_BUSY (see above). Thread: owner. */
hk_mpop_t hk_mailbox_pop_owner(hk_mailbox_t *mb, hk_mtail_t *t, hk_mnode_t **out);

/* Internal (both pops): [n], whose successor [next] is linked, leaves the
** queue: head moves on and the run grows. */
static inline void hk_mailbox_took_(hk_mailbox_t *mb, hk_mnode_t *next) {
  mb->head = next;
  /* A busy mailbox's next message was written by another core, often long
  ** ago (a backlog is out of cache): fetch it while this one is handled.
  ** The node and the line before it, where a VM message keeps its data
  ** (its envelope sits at the end of its block, HK_ENV_IN_PAYLOAD). A
  ** prefetch never faults. */
  __builtin_prefetch(next);
  __builtin_prefetch((const char *)next - 64);
  /* Relaxed: a statistic (len_hint) that only this consumer writes. */
  uint32_t run = atomic_load_explicit(&mb->len_hint, memory_order_relaxed);
  run += run != UINT32_MAX; /* saturates */
  atomic_store_explicit(&mb->len_hint, run, memory_order_relaxed);
}

/* hk_mailbox_pop_owner's usual case, inline and without a call: the oldest
** node when it is not the last one linked (a backlog: a receiver busier
** than its senders takes every message but the last of a run so). NULL
** when that is not the case (the stub at the head, the last node, an
** empty queue, a producer mid-push), having changed nothing but maybe
** skipped the stub: then hk_mailbox_pop_owner decides. Thread: owner. */
static inline hk_mnode_t *hk_mailbox_pop_next_owner(hk_mailbox_t *mb) {
  hk_mnode_t *head = mb->head;
  /* Acquire: pairs with the release store in hk_mailbox_link_. */
  hk_mnode_t *next = atomic_load_explicit(&head->next, memory_order_acquire);
  if (head == &mb->stub) {
    if (!next) return NULL;
    mb->head = head = next; /* as hk_mailbox_pop_owner does */
    next = atomic_load_explicit(&head->next, memory_order_acquire);
  }
  if (!next) return NULL;
  hk_mailbox_took_(mb, next);
  return head;
}

/* Marks the mailbox empty-and-waiting. Call only after the receiver's state
** was set to BLOCKED with release (SPEC §10.5.2). Returns HK_MMARK_SET (also
** when a mark from an earlier wait is still set) or HK_MMARK_NONEMPTY.
** Thread: owner. */
hk_mmark_t hk_mailbox_mark_owner(hk_mailbox_t *mb, hk_mtail_t *t);

/* Removes a mark the receiver no longer needs (it was woken otherwise).
** Returns true if the mark was removed, false if none was set or a producer
** already consumed it (that producer's wake-up is then spurious and the
** state CAS or the receiver's re-check absorbs it). Thread: owner. */
bool hk_mailbox_unmark_owner(hk_mailbox_t *mb, hk_mtail_t *t);

/* True when nothing is queued and no producer is between its exchange and
** its link: what hk_mailbox_pop_owner reports as HK_MPOP_EMPTY, but inline
** and without the pop. A
** receiver about to block looks with this first (bench/README.md, "Message
** path 3"); false means "try a pop". Acquire loads as in the pop: the
** receiver then arms the mark, which re-checks with a CAS. Thread: owner. */
static inline bool hk_mailbox_empty_owner(hk_mailbox_t *mb, hk_mtail_t *t) {
  if (mb->head != &mb->stub ||
      atomic_load_explicit(&mb->stub.next, memory_order_acquire) != NULL ||
      (atomic_load_explicit(&t->word, memory_order_acquire) & ~(uintptr_t)1) !=
          (uintptr_t)&mb->stub)
    return false;
  return true;
}

/* Ends the run (the consumer found the mailbox empty): returns its length
** and starts the next at 0. The largest run is the embedder's to keep (a
** process notes it in the statistics, hk_proc_run_end_owner), so a take
** compares nothing per message. Thread: owner. */
static inline uint32_t hk_mailbox_run_end(hk_mailbox_t *mb) {
  /* Relaxed: a statistic (see len_hint) only this consumer writes. */
  uint32_t run = atomic_load_explicit(&mb->len_hint, memory_order_relaxed);
  atomic_store_explicit(&mb->len_hint, 0, memory_order_relaxed);
  return run;
}

/* The length the consumer last measured. Thread: any (approximate). */
static inline uint64_t hk_mailbox_len_hint(const hk_mailbox_t *mb) {
  /* Relaxed: a statistic, no data depends on it. */
  return atomic_load_explicit(&mb->len_hint, memory_order_relaxed);
}

#endif
