/* Stress: thieves hammering one SPMC ring (sched/runq.c). One owner pushes
** task ids, pops some and overflows half the ring when full; 1..7 thieves
** (2..8 threads) steal half into their own rings, drain them and steal
** from each other. Exit 0 pass, 1 fail (including an internal timeout).
** Tasks are ids encoded in the pointer: the ring never dereferences them.
**
** Checked, each so that a deliberate break fails fast (bench/README.md,
** "Stress tests that can fail, stop 18"):
** - every id is consumed exactly once (a per-id counter: a duplicate fails
**   at once, a bogus id too);
** - no task is lost: once the owner is done, a thief that finds every ring
**   empty and no thread inside a pop or steal (per-thread attempt counts,
**   read twice) while ids are missing reports them, instead of spinning
**   until the timeout;
** - a task's contents are visible to whoever takes it: the owner writes a
**   plain (non-atomic) word per id before the push and every consumer reads
**   it, so under ThreadSanitizer a push or steal without its release /
**   acquire (R1 in runq.c) is a reported race;
** - the steals really ran: at each eighth of a round (and so before its
**   final drain) the owner waits (yields) until a thief has stolen since
**   the last such point, so every round has steals under any schedule.
**   With 2 or more thieves a round starts with a steal between thieves:
**   only thief 1 steals from the owner, who waits for it after WARM pushes;
**   thief 1 keeps what it stole (no pops) while the other thieves steal
**   only from it; after that first steal between thieves all go at random.
**   The counts are printed; a round without them fails. */
#include <pthread.h>
#include <sched.h>
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
#define TOTAL (700000ull * STRESS_SCALE)
#define TIMEOUT_S 240
#else
#define TOTAL (10000000ull * STRESS_SCALE)
#define TIMEOUT_S 120
#endif
#define MAXT 8
#define WARM 64 /* pushes before the owner waits for thief 1's first steal */
#define PACES 8 /* per round: the owner waits for a steal at each eighth */
#define MAGIC 0x5a5a5a5au

/* Per-thread counts, each written by its thread only (relaxed, or seq_cst
** for the attempt counts that the lost-task check reads). */
typedef struct {
  _Alignas(64) _Atomic uint64_t started, finished; /* pops and steals */
  _Atomic uint64_t steals, from_thief, grabs;
} counts_t;

static hk_runq_t *rings; /* [0] is the owner's, the rest thieves' */
static counts_t cnt[MAXT];
static _Atomic uint8_t *seen;
static uint32_t *payload; /* plain: the owner's write, the consumer's read */
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
  if (payload[id - base] != ((uint32_t)id ^ MAGIC)) {
    fprintf(stderr, "sched_ring: task %llu taken before its contents were visible\n",
            (unsigned long long)id);
    exit(1);
  }
  if (atomic_fetch_add_explicit(&seen[id - base], 1, memory_order_relaxed) != 0) {
    fprintf(stderr, "sched_ring: task %llu consumed twice\n", (unsigned long long)id);
    exit(1);
  }
  atomic_fetch_add_explicit(&consumed, 1, memory_order_relaxed);
}

static void bump(_Atomic uint64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

/* Attempt bracketing: seq_cst, so the lost-task check below sees either
** the start of an attempt or everything it did. */
static void begin(int me) {
  atomic_store(&cnt[me].started, atomic_load_explicit(&cnt[me].started, memory_order_relaxed) + 1);
}
static void end(int me) {
  atomic_store(&cnt[me].finished, atomic_load_explicit(&cnt[me].finished, memory_order_relaxed) + 1);
}

static uint64_t steals_total(void) {
  uint64_t n = 0;
  for (int i = 1; i < nthreads; i++)
    n += atomic_load_explicit(&cnt[i].steals, memory_order_relaxed);
  return n;
}

static uint64_t from_thief_total(void) {
  uint64_t n = 0;
  for (int i = 1; i < nthreads; i++)
    n += atomic_load_explicit(&cnt[i].from_thief, memory_order_relaxed);
  return n;
}

/* After the owner is done: true when no thread is inside a pop or steal,
** no ring holds a task, and no attempt started meanwhile. Tasks then move
** no more: what is not consumed is lost. */
static bool at_rest(void) {
  uint64_t s = 0;
  for (int i = 0; i < nthreads; i++) {
    uint64_t st = atomic_load(&cnt[i].started);
    if (atomic_load(&cnt[i].finished) != st)
      return false;
    s += st;
  }
  for (int i = 0; i < nthreads; i++)
    if (hk_runq_len(&rings[i]) != 0)
      return false;
  uint64_t s2 = 0;
  for (int i = 0; i < nthreads; i++)
    s2 += atomic_load(&cnt[i].started);
  return s2 == s;
}

static void check_lost(void) {
  if (!at_rest())
    return;
  uint64_t c = atomic_load_explicit(&consumed, memory_order_relaxed);
  if (c == count)
    return;
  for (uint64_t i = 0; i < count; i++)
    if (atomic_load_explicit(&seen[i], memory_order_relaxed) == 0) {
      fprintf(stderr, "sched_ring: %d threads: %llu of %llu tasks lost (first: %llu)\n",
              nthreads, (unsigned long long)(count - c), (unsigned long long)count,
              (unsigned long long)(base + i));
      break;
    }
  exit(1);
}

static void *owner(void *arg) {
  (void)arg;
  hk_runq_t *q = &rings[0];
  hk_task_t *half[HK_RUNQ_SIZE / 2];
  uint32_t left; /* not checked here: runq_test does */
  uint64_t seen_steals = 0, since = 0, pace = count / PACES + 1;
  for (uint64_t i = 0; i < count; i++) {
    payload[i] = (uint32_t)(base + i) ^ MAGIC;
    while (hk_runq_push_owner(q, enc(base + i)) != 0) {
      uint32_t n = hk_runq_grab_half_owner(q, half);
      if (n)
        bump(&cnt[0].grabs);
      for (uint32_t k = 0; k < n; k++)
        take(half[k]);
    }
    if (i + 1 == WARM) /* relaxed: no ordering added */
      while (atomic_load_explicit(&cnt[1].steals, memory_order_relaxed) == 0)
        sched_yield();
    if (i % 3 == 0) {
      hk_task_t *t = hk_runq_pop_owner(q, &left);
      if (t)
        take(t);
    }
    /* Pacing: the ring is not empty here (a full one is halved, never
    ** emptied, and the pops take a third of the pushes), so a thief can
    ** always steal; relaxed reads add no ordering. */
    if (++since >= pace || i + 1 == count) {
      while (steals_total() == seen_steals)
        sched_yield();
      seen_steals = steals_total();
      since = 0;
    }
  }
  atomic_store_explicit(&owner_done, 1, memory_order_release);
  for (;;) {
    begin(0);
    hk_task_t *t = hk_runq_pop_owner(q, &left);
    if (t)
      take(t);
    end(0);
    if (!t)
      return NULL;
  }
}

static void *thief(void *arg) {
  int me = (int)(intptr_t)arg;
  hk_runq_t *own = &rings[me];
  unsigned r = (unsigned)me * 7919u;
  uint32_t left;
  bool first = nthreads > 2; /* no steal between thieves yet */
  for (;;) {
    if (first && from_thief_total() > 0)
      first = false;
    int victim = (r = r * 1103515245u + 12345u) % 4 == 0
                     ? 1 + (int)((r >> 8) % (unsigned)(nthreads - 1))
                     : 0;
    if (first)
      victim = me == 1 ? 0 : 1;
    uint32_t n;
    begin(me);
    hk_task_t *t = victim != me ? hk_runq_steal_spmc(&rings[victim], own, &n) : NULL;
    if (t) {
      take(t);
      bump(&cnt[me].steals);
      if (victim != 0)
        bump(&cnt[me].from_thief);
    }
    /* Drain slowly, so other thieves can steal from us too. */
    if (!(first && me == 1) && (t = hk_runq_pop_owner(own, &left)) != NULL)
      take(t);
    end(me);
    if (atomic_load_explicit(&owner_done, memory_order_acquire)) {
      if (atomic_load_explicit(&consumed, memory_order_relaxed) == count)
        break;
      if (!t)
        check_lost();
    }
  }
  hk_task_t *t;
  while ((t = hk_runq_pop_owner(own, &left)) != NULL)
    take(t);
  return NULL;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "sched_ring: timeout (livelock)\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(1);
}

int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(TIMEOUT_S);
  rings = aligned_alloc(64, sizeof(hk_runq_t) * MAXT);
  uint64_t per = TOTAL / 7 + 1;
  seen = calloc(per, 1);
  payload = calloc(per, sizeof *payload);
  if (!rings || !seen || !payload)
    return 1;
  uint64_t total = 0, steals = 0, from_thief = 0, grabs = 0;
  for (nthreads = 2; nthreads <= MAXT; nthreads++) {
    base = total;
    count = per;
    memset((void *)seen, 0, per);
    memset(cnt, 0, sizeof cnt);
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
    /* The pacing and the first steal make these impossible unless steals fail. */
    uint64_t s = steals_total(), ft = from_thief_total();
    if (s == 0 || (nthreads > 2 && ft == 0)) {
      fprintf(stderr, "sched_ring: %d threads: %llu steals, %llu between thieves\n", nthreads,
              (unsigned long long)s, (unsigned long long)ft);
      return 1;
    }
    steals += s;
    from_thief += ft;
    grabs += atomic_load(&cnt[0].grabs);
    total += count;
  }
  printf("sched_ring: %llu tasks, 2..%d threads, each consumed once; %llu steals "
         "(%llu from another thief), %llu overflows\n",
         (unsigned long long)total, MAXT, (unsigned long long)steals,
         (unsigned long long)from_thief, (unsigned long long)grabs);
  free(rings);
  free((void *)seen);
  free(payload);
  return 0;
}
