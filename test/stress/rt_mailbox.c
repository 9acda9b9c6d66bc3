/* rt_mailbox.c — stress test of runtime/mailbox.c under ThreadSanitizer.
**
** PRODUCERS threads each send MSGS numbered messages to one consumer. The
** consumer follows the receiver protocol of SPEC §10.5.2 with a state word
** like a process's: when its mailbox is empty it stores BLOCKED (release),
** marks the mailbox, and sleeps on a futex; a producer whose push reports
** the mark wakes it with a CAS BLOCKED -> RUNNABLE. A "timer" thread races
** as a second kind of waker (like receive_timeout's timer), so stale marks
** and lost CAS races happen too.
**
** Checked: every message arrives once, per-producer FIFO order, the total
** count, that every block is ended by exactly one winning waker
** (blocks == producer wakes + self wakes + timer wakes), and that every mark
** the consumer set is taken exactly once, by one producer's push (which
** must wake) or by the consumer's unmark (marks set == marks seen +
** unmarked). The timer wakes a blocked consumer within microseconds, so a
** lost wake-up does not hang the test: a mark no push reported (the lost
** wake-up of a receiver without a timer) shows in that count instead.
** Exit 0 pass, 1 fail. */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/mailbox.h"
#include "rt_mailbox_order.h"

#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif
#define PRODUCERS 4
#define MSGS (500000u * STRESS_SCALE)
#define DEADLINE_S (120 * STRESS_SCALE)

enum { RUNNING = 0, BLOCKED = 1, RUNNABLE = 2 };

typedef struct msg {
  hk_mnode_t node; /* first: the node address is the message address */
  uint32_t from;
  uint32_t seq;
} msg_t;

/* As a process keeps them: the tail a cache line away from the consumer's
** fields (runtime/proc.h). */
static hk_mailbox_t mb;
static alignas(64) hk_mtail_t mt;
static _Atomic uint32_t state = RUNNING;
static _Atomic uint64_t producer_wakes, timer_wakes, marks_seen;
static _Atomic int done;

static void on_alarm(int sig) {
  (void)sig;
  static const char text[] = "rt_mailbox: deadline exceeded (lost wake-up?)\n";
  if (write(2, text, sizeof text - 1) < 0) { /* nothing to do */ }
  _exit(1);
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val) {
  struct timespec ts = {0, 50 * 1000 * 1000};
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}
static void futex_wake(_Atomic uint32_t *w) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* A waker: exactly one CAS out of BLOCKED wins (SPEC §10.2.3).
** acq_rel: acquire pairs with the consumer's release store of BLOCKED;
** release pairs with the consumer's acquire load of RUNNABLE. */
static int try_wake(void) {
  uint32_t expect = BLOCKED;
  if (!atomic_compare_exchange_strong_explicit(&state, &expect, RUNNABLE,
                                               memory_order_acq_rel,
                                               memory_order_relaxed))
    return 0;
  futex_wake(&state);
  return 1;
}

static void *producer(void *arg) {
  uint32_t id = (uint32_t)(uintptr_t)arg;
  for (uint32_t i = 1; i <= MSGS; i++) {
    msg_t *m = malloc(sizeof *m);
    if (!m) abort();
    m->from = id;
    m->seq = i;
    if (hk_mailbox_push(&mt, &m->node)) {
      atomic_fetch_add_explicit(&marks_seen, 1, memory_order_relaxed);
      if (try_wake()) atomic_fetch_add_explicit(&producer_wakes, 1, memory_order_relaxed);
    }
    /* Pauses make the consumer catch up and block often. */
    if ((i & 255) == 0) sched_yield();
    if ((i & 4095) == 0) {
      struct timespec ts = {0, 30 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  return NULL;
}

static void *timer(void *arg) {
  (void)arg;
  while (!atomic_load_explicit(&done, memory_order_acquire)) {
    struct timespec ts = {0, 20 * 1000};
    nanosleep(&ts, NULL);
    if (try_wake()) atomic_fetch_add_explicit(&timer_wakes, 1, memory_order_relaxed);
  }
  return NULL;
}

/* One thread: the inline pop takes a backlog's messages in order and
** declines the last one (its successor is not linked: the stub must be
** re-pushed first) and an empty queue; the whole pop then takes it. */
static int check_pop_next(void) {
  hk_mailbox_t q;
  hk_mtail_t qt;
  msg_t m[3];
  hk_mailbox_init(&q, &qt);
  if (hk_mailbox_pop_next_owner(&q)) return fprintf(stderr, "pop_next: empty\n"), 1;
  for (int round = 0; round < 2; round++) { /* the second starts at the re-pushed stub */
    for (uint32_t i = 0; i < 3; i++) {
      m[i].seq = i;
      hk_mailbox_push(&qt, &m[i].node);
    }
    for (uint32_t i = 0; i < 2; i++)
      if (hk_mailbox_pop_next_owner(&q) != &m[i].node)
        return fprintf(stderr, "pop_next: round %d message %u\n", round, i), 1;
    hk_mnode_t *n = NULL;
    if (hk_mailbox_pop_next_owner(&q) || hk_mailbox_pop_owner(&q, &qt, &n) != HK_MPOP_OK ||
        n != &m[2].node)
      return fprintf(stderr, "pop_next: round %d last message\n", round), 1;
    if (hk_mailbox_pop_next_owner(&q) || hk_mailbox_pop_owner(&q, &qt, &n) != HK_MPOP_EMPTY)
      return fprintf(stderr, "pop_next: round %d not empty\n", round), 1;
    if (hk_mailbox_len_hint(&q) != 3 || hk_mailbox_run_end(&q) != 3 ||
        hk_mailbox_len_hint(&q) != 0)
      return fprintf(stderr, "pop_next: round %d run\n", round), 1;
  }
  return 0;
}

int main(void) {
  if (check_pop_next()) return 1;
  signal(SIGALRM, on_alarm);
  alarm(DEADLINE_S);
  hk_mailbox_init(&mb, &mt);
  pthread_t prod[PRODUCERS], tim;
  for (uintptr_t i = 0; i < PRODUCERS; i++)
    if (pthread_create(&prod[i], NULL, producer, (void *)i)) return 1;
  if (pthread_create(&tim, NULL, timer, NULL)) return 1;

  uint32_t last[PRODUCERS] = {0};
  uint64_t got = 0, high = 0, blocks = 0, self_wakes = 0, busy = 0, unmarked = 0, marks_set = 0;
  int fail = 0;
  const uint64_t total = (uint64_t)PRODUCERS * MSGS;
  while (got < total) {
    /* Every other take tries the inline pop first (a backlog's), as a
    ** VM receive does; what it declines goes to the whole pop. */
    hk_mnode_t *n = (got & 1) ? hk_mailbox_pop_next_owner(&mb) : NULL;
    hk_mpop_t r = n ? HK_MPOP_OK : hk_mailbox_pop_owner(&mb, &mt, &n);
    if (r == HK_MPOP_OK) {
      msg_t *m = (msg_t *)n;
      rt_mailbox_in_order(last, PRODUCERS, m->from, m->seq, &fail);
      free(m);
      got++;
      continue;
    }
    if (r == HK_MPOP_BUSY) { busy++; sched_yield(); continue; }
    /* The run ends: the largest is the high water printed. */
    uint32_t run = hk_mailbox_run_end(&mb);
    if (run > high) high = run;
    /* Empty: block. BLOCKED first (release: pairs with the wakers' CAS
    ** acquire), then the mark (SPEC §10.5.2). */
    blocks++;
    atomic_store_explicit(&state, BLOCKED, memory_order_release);
    if (hk_mailbox_mark_owner(&mb, &mt) == HK_MMARK_NONEMPTY) {
      /* A message came first: we perform the wake ourselves, unless a
      ** racing waker (the timer) won. */
      if (try_wake()) self_wakes++;
    } else {
      marks_set++; /* none is left from an earlier block: see the unmark below */
    }
    /* Acquire: pairs with the winner's CAS release. */
    uint32_t s;
    while ((s = atomic_load_explicit(&state, memory_order_acquire)) == BLOCKED)
      futex_wait(&state, BLOCKED);
    atomic_store_explicit(&state, RUNNING, memory_order_relaxed);
    /* Possibly woken by the timer: drop a mark no producer took. */
    if (hk_mailbox_unmark_owner(&mb, &mt)) unmarked++;
  }
  atomic_store_explicit(&done, 1, memory_order_release);
  for (int i = 0; i < PRODUCERS; i++) pthread_join(prod[i], NULL);
  pthread_join(tim, NULL);

  /* Anything left would be a duplicate or an invented message. */
  hk_mnode_t *n;
  while (hk_mailbox_pop_owner(&mb, &mt, &n) != HK_MPOP_EMPTY) {
    fprintf(stderr, "extra message after all were received\n");
    return 1;
  }
  for (int i = 0; i < PRODUCERS; i++)
    if (last[i] != MSGS) { fprintf(stderr, "producer %d: last %u\n", i, last[i]); fail = 1; }
  uint64_t pw = atomic_load(&producer_wakes), tw = atomic_load(&timer_wakes);
  if (blocks != pw + tw + self_wakes) {
    fprintf(stderr, "blocks %" PRIu64 " != wakes %" PRIu64 " + %" PRIu64 " + %" PRIu64 "\n",
            blocks, pw, tw, self_wakes);
    fail = 1;
  }
  uint64_t seen = atomic_load(&marks_seen);
  if (marks_set != seen + unmarked) {
    fprintf(stderr, "marks set %" PRIu64 " != seen by a push %" PRIu64 " + unmarked %" PRIu64
            " (a mark no push reported is a lost wake-up)\n", marks_set, seen, unmarked);
    fail = 1;
  }
  printf("rt_mailbox: %" PRIu64 " messages, %" PRIu64 " blocks, wakes: %" PRIu64
         " producer, %" PRIu64 " self, %" PRIu64 " timer; marks set %" PRIu64 ", seen %" PRIu64
         ", unmarked %" PRIu64 ", busy %" PRIu64 ", high water %" PRIu64 "\n",
         got, blocks, pw, self_wakes, tw, marks_set, seen, unmarked, busy,
         high);
  return fail;
}
