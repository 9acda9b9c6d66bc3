/* rt_mailbox_many.c — stress test of runtime/mailbox.c under
** ThreadSanitizer with many producers, messages of random sizes in random
** bursts, and a consumer that blocks and is woken only by the producers
** (no timer, unlike rt_mailbox.c: a lost wake-up stalls it).
**
** PRODUCERS threads each send MSGS messages; a message is a malloc'd block
** of a random size whose bytes all hold a value derived from its producer
** and sequence number (checked by the consumer: a message read before its
** push published it shows). Producers pause at random, so the consumer
** finds its mailbox empty often while pushes race. The consumer follows
** SPEC §10.5.2: BLOCKED (release), then the mark; a producer whose push
** reports the mark wakes it with a CAS BLOCKED -> RUNNABLE.
**
** Checked: every message arrives once, in per-producer order, with its
** contents; every block is ended by exactly one wake (blocks == producer
** wakes + self wakes); every mark set is observed by exactly one push
** (marks set == marks seen); and no block outlasts STALL_MS while a
** message is queued (a lost wake-up; the consumer then wakes itself so
** that the test ends and reports it). Exit 0 pass, 1 fail. */
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/mailbox.h"
#include "rt_mailbox_order.h"

#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif
#define PRODUCERS 8
#define MSGS (20000u * STRESS_SCALE)
#define DEADLINE_S (120 * STRESS_SCALE)
#define STALL_MS 2000

enum { RUNNING = 0, BLOCKED = 1, RUNNABLE = 2 };

typedef struct msg {
  hk_mnode_t node; /* first: the node address is the message address */
  uint32_t from;
  uint32_t seq;
  uint32_t size; /* bytes of body */
  unsigned char body[];
} msg_t;

static hk_mailbox_t mb;
static alignas(64) hk_mtail_t mt;
static _Atomic uint32_t state = RUNNING;
static _Atomic uint64_t producer_wakes, marks_seen;
static _Atomic int go; /* the producers start together, once all exist */

static void on_alarm(int sig) {
  (void)sig;
  static const char text[] = "rt_mailbox_many: deadline exceeded\n";
  if (write(2, text, sizeof text - 1) < 0) { /* nothing to do */ }
  _exit(1);
}

static unsigned char fill_of(uint32_t from, uint32_t seq) {
  return (unsigned char)(from * 31u + seq * 7u + 1u);
}

static uint32_t rnd(uint64_t *s) { /* xorshift64 */
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (uint32_t)(*s >> 11);
}

/* A waker: exactly one CAS out of BLOCKED wins (SPEC §10.2.3). acq_rel:
** acquire pairs with the consumer's release store of BLOCKED; release
** pairs with its acquire load of RUNNABLE. */
static int try_wake(void) {
  uint32_t expect = BLOCKED;
  if (!atomic_compare_exchange_strong_explicit(&state, &expect, RUNNABLE, memory_order_acq_rel,
                                               memory_order_relaxed))
    return 0;
  syscall(SYS_futex, (uint32_t *)&state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  return 1;
}

static void *producer(void *arg) {
  uint32_t id = (uint32_t)(uintptr_t)arg;
  uint64_t seed = 0x9e3779b97f4a7c15u * (id + 1);
  uint32_t burst = 0;
  /* Acquire: nothing to pair with but the start itself. */
  while (!atomic_load_explicit(&go, memory_order_acquire)) sched_yield();
  for (uint32_t i = 1; i <= MSGS; i++) {
    uint32_t size = rnd(&seed) % 200u;
    msg_t *m = malloc(sizeof *m + size);
    if (!m) abort();
    m->from = id;
    m->seq = i;
    m->size = size;
    memset(m->body, fill_of(id, i), size);
    if (hk_mailbox_push(&mt, &m->node)) {
      atomic_fetch_add_explicit(&marks_seen, 1, memory_order_relaxed);
      if (try_wake()) atomic_fetch_add_explicit(&producer_wakes, 1, memory_order_relaxed);
    }
    /* Random bursts and pauses: the consumer catches up and blocks at
    ** every kind of position. */
    if (burst == 0) {
      burst = rnd(&seed) % 32u;
      uint32_t p = rnd(&seed) % 4u;
      if (p == 0) sched_yield();
      if (p >= 1) {
        struct timespec ts = {0, 10000 + (long)(rnd(&seed) % 50000u)};
        nanosleep(&ts, NULL);
      }
    } else {
      burst--;
    }
  }
  return NULL;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(DEADLINE_S);
  hk_mailbox_init(&mb, &mt);
  pthread_t prod[PRODUCERS];
  for (uintptr_t i = 0; i < PRODUCERS; i++)
    if (pthread_create(&prod[i], NULL, producer, (void *)i)) return 1;
  /* Release: pairs with the producers' acquire. */
  atomic_store_explicit(&go, 1, memory_order_release);

  uint32_t last[PRODUCERS] = {0};
  uint64_t got = 0, high = 0, blocks = 0, self_wakes = 0, stalls = 0, marks_set = 0, busy = 0;
  int fail = 0;
  const uint64_t total = (uint64_t)PRODUCERS * MSGS;
  while (got < total) {
    hk_mnode_t *n = hk_mailbox_pop_next_owner(&mb);
    hk_mpop_t r = n ? HK_MPOP_OK : hk_mailbox_pop_owner(&mb, &mt, &n);
    if (r == HK_MPOP_OK) {
      msg_t *m = (msg_t *)n;
      if (rt_mailbox_in_order(last, PRODUCERS, m->from, m->seq, &fail)) {
        /* The first and last bytes (the whole body made the consumer far
        ** slower than 8 producers under ThreadSanitizer: it never blocked). */
        unsigned char f = fill_of(m->from, m->seq);
        if (m->size && (m->body[0] != f || m->body[m->size - 1] != f)) {
          if (!fail) fprintf(stderr, "contents: producer %u seq %u\n", m->from, m->seq);
          fail = 1;
        }
      }
      free(m);
      got++;
      continue;
    }
    if (r == HK_MPOP_BUSY) {
      busy++;
      sched_yield();
      continue;
    }
    /* The run ends: the largest is the high water printed. */
    uint32_t run = hk_mailbox_run_end(&mb);
    if (run > high) high = run;
    /* Empty: block. BLOCKED first (release: pairs with the wakers' CAS
    ** acquire), then the mark (SPEC §10.5.2). */
    blocks++;
    atomic_store_explicit(&state, BLOCKED, memory_order_release);
    if (hk_mailbox_mark_owner(&mb, &mt) == HK_MMARK_NONEMPTY) {
      if (try_wake()) self_wakes++;
    } else {
      marks_set++; /* a fresh mark: the push that took the last one woke us */
    }
    uint64_t t0 = now_ms();
    /* Acquire: pairs with the winner's CAS release. */
    while (atomic_load_explicit(&state, memory_order_acquire) == BLOCKED) {
      struct timespec ts = {0, 50 * 1000 * 1000};
      syscall(SYS_futex, (uint32_t *)&state, FUTEX_WAIT_PRIVATE, BLOCKED, &ts, NULL, 0);
      if (now_ms() - t0 > STALL_MS && !hk_mailbox_empty_owner(&mb, &mt)) {
        /* A message waits and nobody woke us: a lost wake-up. Wake
        ** ourselves so that the test ends and reports it. */
        if (try_wake()) {
          stalls++;
          if (hk_mailbox_unmark_owner(&mb, &mt)) marks_set--;
        }
      }
    }
    atomic_store_explicit(&state, RUNNING, memory_order_relaxed);
  }
  for (int i = 0; i < PRODUCERS; i++) pthread_join(prod[i], NULL);

  hk_mnode_t *n;
  if (hk_mailbox_pop_owner(&mb, &mt, &n) != HK_MPOP_EMPTY) {
    fprintf(stderr, "extra message after all were received\n");
    return 1;
  }
  for (int i = 0; i < PRODUCERS; i++)
    if (last[i] != MSGS) {
      fprintf(stderr, "producer %d: last %u\n", i, last[i]);
      fail = 1;
    }
  uint64_t pw = atomic_load(&producer_wakes), seen = atomic_load(&marks_seen);
  if (stalls) {
    fprintf(stderr, "%" PRIu64 " lost wake-ups (a message queued, the receiver blocked)\n",
            stalls);
    fail = 1;
  }
  if (blocks != pw + self_wakes + stalls) {
    fprintf(stderr, "blocks %" PRIu64 " != wakes %" PRIu64 " + %" PRIu64 " + %" PRIu64 "\n",
            blocks, pw, self_wakes, stalls);
    fail = 1;
  }
  if (marks_set != seen) {
    fprintf(stderr, "marks set %" PRIu64 " != seen by a push %" PRIu64 "\n", marks_set, seen);
    fail = 1;
  }
  printf("rt_mailbox_many: %" PRIu64 " messages, %" PRIu64 " blocks, wakes: %" PRIu64
         " producer, %" PRIu64 " self; marks set %" PRIu64 ", seen %" PRIu64 ", busy %" PRIu64
         ", high water %" PRIu64 "\n",
         got, blocks, pw, self_wakes, marks_set, seen, busy, high);
  return fail;
}
