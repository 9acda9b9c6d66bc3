/* Stress: thieves hammering one SPMC ring (sched/runq.c). One owner pushes
** task ids, pops some and overflows half the ring when full; 1..7 thieves
** (2..8 threads) steal half into their own rings, drain them and steal
** from each other. Every id must be consumed exactly once. Exit 0 pass,
** 1 fail (including an internal timeout). Tasks are ids encoded in the
** pointer: the ring never dereferences them. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/runq.h"

#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif
#ifdef __SANITIZE_THREAD__
#define TOTAL (3000000ull * STRESS_SCALE)
#define TIMEOUT_S 240
#else
#define TOTAL (10000000ull * STRESS_SCALE)
#define TIMEOUT_S 120
#endif
#define MAXT 8

static hk_runq_t *rings; /* [0] is the owner's, the rest thieves' */
static _Atomic uint8_t *seen;
static _Atomic uint64_t consumed;
static _Atomic int owner_done;
static uint64_t base, count; /* ids of this round */
static int nthreads;

static hk_task_t *enc(uint64_t id) { return (hk_task_t *)(uintptr_t)((id + 1) << 4); }

static void take(hk_task_t *t) {
  uint64_t id = ((uintptr_t)t >> 4) - 1;
  if (id < base || id >= base + count) {
    fprintf(stderr, "sched_ring: bogus task id %llu\n", (unsigned long long)id);
    exit(1);
  }
  if (atomic_fetch_add_explicit(&seen[id - base], 1, memory_order_relaxed) != 0) {
    fprintf(stderr, "sched_ring: task %llu consumed twice\n", (unsigned long long)id);
    exit(1);
  }
  atomic_fetch_add_explicit(&consumed, 1, memory_order_relaxed);
}

static void *owner(void *arg) {
  (void)arg;
  hk_runq_t *q = &rings[0];
  hk_task_t *half[HK_RUNQ_SIZE / 2];
  uint32_t left; /* not checked here: runq_test does */
  for (uint64_t i = 0; i < count; i++) {
    while (hk_runq_push_owner(q, enc(base + i)) != 0) {
      uint32_t n = hk_runq_grab_half_owner(q, half);
      for (uint32_t k = 0; k < n; k++)
        take(half[k]);
    }
    if (i % 3 == 0) {
      hk_task_t *t = hk_runq_pop_owner(q, &left);
      if (t)
        take(t);
    }
  }
  atomic_store_explicit(&owner_done, 1, memory_order_release);
  hk_task_t *t;
  while ((t = hk_runq_pop_owner(q, &left)) != NULL)
    take(t);
  return NULL;
}

static void *thief(void *arg) {
  int me = (int)(intptr_t)arg;
  hk_runq_t *own = &rings[me];
  unsigned r = (unsigned)me * 7919u;
  uint32_t left;
  for (;;) {
    int victim = (r = r * 1103515245u + 12345u) % 4 == 0
                     ? 1 + (int)((r >> 8) % (unsigned)(nthreads - 1))
                     : 0;
    uint32_t n;
    hk_task_t *t = victim != me ? hk_runq_steal_spmc(&rings[victim], own, &n) : NULL;
    if (t)
      take(t);
    /* Drain slowly, so other thieves can steal from us too. */
    if ((t = hk_runq_pop_owner(own, &left)) != NULL)
      take(t);
    if (atomic_load_explicit(&owner_done, memory_order_acquire) &&
        atomic_load_explicit(&consumed, memory_order_relaxed) == count) {
      while ((t = hk_runq_pop_owner(own, &left)) != NULL)
        take(t);
      return NULL;
    }
    if (!t && hk_runq_len(&rings[0]) == 0 &&
        atomic_load_explicit(&owner_done, memory_order_acquire)) {
      /* Owner finished: keep draining our ring until all is consumed. */
      while ((t = hk_runq_pop_owner(own, &left)) != NULL)
        take(t);
      if (atomic_load_explicit(&consumed, memory_order_relaxed) == count)
        return NULL;
    }
  }
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "sched_ring: timeout (lost task or livelock)\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(1);
}

int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(TIMEOUT_S);
  rings = aligned_alloc(64, sizeof(hk_runq_t) * MAXT);
  uint64_t per = TOTAL / 7 + 1;
  seen = calloc(per, 1);
  if (!rings || !seen)
    return 1;
  uint64_t total = 0;
  for (nthreads = 2; nthreads <= MAXT; nthreads++) {
    base = total;
    count = per;
    memset((void *)seen, 0, per);
    atomic_store(&consumed, 0);
    atomic_store(&owner_done, 0);
    for (int i = 0; i < nthreads; i++)
      hk_runq_init(&rings[i]);
    pthread_t th[MAXT];
    pthread_create(&th[0], NULL, owner, NULL);
    for (int i = 1; i < nthreads; i++)
      pthread_create(&th[i], NULL, thief, (void *)(intptr_t)i);
    for (int i = 0; i < nthreads; i++)
      pthread_join(th[i], NULL);
    for (uint64_t i = 0; i < count; i++)
      if (atomic_load(&seen[i]) != 1) {
        fprintf(stderr, "sched_ring: %d threads: task %llu seen %d times\n",
                nthreads, (unsigned long long)(base + i), atomic_load(&seen[i]));
        return 1;
      }
    total += count;
  }
  printf("sched_ring: %llu tasks, 2..%d threads, each consumed once\n",
         (unsigned long long)total, MAXT);
  free(rings);
  free((void *)seen);
  return 0;
}
