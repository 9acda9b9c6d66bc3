/* sched/sched.c: workers, run-next, stealing, searching, parking and waking
** (SPEC §10.3, §10.4). docs/scheduler.md explains the design; the labels
** (P1)...(P5) below name the steps of its memory-ordering argument.
**
** Shared scheduler state:
**   nsearching  workers looking for work to steal (plus, for a moment, a
**               waker that has reserved the right to wake one worker)
**   nparked     workers on the idle list (changed under idle_lock only)
**   idle list   a stack of parked workers, under idle_lock
** Invariant that rules out lost wake-ups (docs/scheduler.md, "Parking"):
** whenever a task is queued and some worker is parked, either a worker is
** searching or a wake is in flight, or the task's queue belongs to a
** worker that is running and will pop it. It holds because
**   (P1) a thread that makes work available stores it, then issues a
**        seq_cst fence, then reads nsearching/nparked and wakes one worker
**        if nobody searches;
**   (P2) a worker going to sleep first puts itself on the idle list and
**        leaves the searching state, then issues a seq_cst fence, then
**        re-checks every queue and the stop flag, and sleeps only if all
**        are empty; and whoever brings nsearching to 0 (P3) issues a
**        seq_cst fence and then wakes a parked worker if work is visible.
** By the fence rule one of the two sides sees the other's store: either
** the submitter sees the parker on the idle list (and wakes it, or finds
** a searcher who will itself do (P2) or (P3)), or the parker's re-check
** sees the task.
**   (P4) a wake is a token: the waker pops the worker from the idle list
**        under idle_lock, then stores wake = 1 (release) and calls
**        futex_wake; the sleeper waits with futex_wait(&wake, 0), which
**        returns at once if the token is already there, and loads it with
**        acquire. A popped worker always consumes its token.
**   (P5) run-next is an atomic pointer: the owner publishes with a
**        release exchange; a thief claims with an acq_rel CAS.
** A local push from a worker (its ring or run-next) skips the (P1) fence:
** the pushing worker is awake and runs the task itself if nobody steals
** it, so the relaxed check only decides whether to add parallelism.
*/
#include "sched/sched.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sched/injq.h"
#include "sched/runq.h"

#define HK_CACHELINE 64
#define HANDOFF_CAP 3   /* run-next hand-offs per slice, SPEC §10.3.2 */
#define GLOBAL_EVERY 61 /* slices between injection-queue checks */
#define STEAL_PASSES 4
#define MAX_WORKERS 1024u
#define DEFAULT_BUDGET 2000

struct hk_worker {
  /* Owner thread only, first (sched.h's inline functions use it). */
  hk_worker_head_t head; /* head.pending: see hk_sched_ready_next_owner */
  /* Immutable after hk_sched_new. */
  hk_sched_t *sched;
  uint32_t index;
  pthread_t thread;
  /* Owner thread only: no atomics. */
  void *user;
  uint64_t rng;
  int32_t budget;     /* reductions left in the current slice */
  uint32_t handoffs;  /* run-next hand-offs in the current slice */
  uint64_t lastglobal; /* slices at the last injection-queue check */
  bool searching;
  /* The last steal from a ring and its verdict (judge_steal): tasks taken,
  ** when (0: not yet stamped), and the pause before the next one (0: none). */
  uint32_t stole_n;
  uint32_t pause_ns;
  uint64_t stole_at;
  /* The producer set aside (yield_aside): the ring position it holds, and
  ** whether it may still be in `aside`; whether the task running now is a
  ** producer (its run stores `producing`). */
  uint32_t aside_pos;
  bool aside_armed;
  bool aside_ok; /* threads, two workers or more: immutable */
  bool producer_run;
  /* Guarded by sched->idle_lock. */
  hk_worker_t *idle_next;
  bool on_idle;
  /* Counters: written by the owner, read by anyone (relaxed). */
  alignas(HK_CACHELINE) _Atomic uint64_t slices;
  /* The last two slice starts that left exactly one task in the ring, as
  ** the low 32 bits of slices + 1 (0: none), the older one in the high
  ** half (note_lone). Written by the owner, read by thieves (relaxed), on
  ** the line of slices, which steal_stuck already reads. */
  _Atomic uint64_t lone;
  _Atomic uint64_t steals;
  _Atomic uint64_t stolen;
  _Atomic uint64_t parks;
  /* Park token (P4): set by a waker, cleared by the owner under idle_lock. */
  alignas(HK_CACHELINE) _Atomic uint32_t wake;
  /* A producer that yielded behind its tasks, and whether one runs now
  ** (yield_aside). Written by the owner once per such slice; read by
  ** spinning thieves, so on a line of its own. */
  alignas(HK_CACHELINE) _Atomic(hk_task_t *) aside;
  _Atomic uint32_t producing;
  /* Shared with thieves. */
  alignas(HK_CACHELINE) _Atomic(hk_task_t *) runnext;
  hk_runq_t runq;
};

struct hk_sched {
  /* Immutable after hk_sched_new. */
  hk_sched_config_t cfg;
  uint32_t nworkers;
  uint64_t seed;
  hk_worker_t *workers;
  uint32_t *coprimes; /* strides for random victim order */
  uint32_t ncoprimes;
  /* Used by the thread that starts/joins. */
  bool started;
  /* Shared, written rarely (searching, parking, stop). */
  alignas(HK_CACHELINE) _Atomic uint32_t nsearching;
  _Atomic uint32_t nparked;
  _Atomic bool stop;
#ifdef __SANITIZE_THREAD__
  _Atomic uint32_t fence_word; /* see full_fence */
#endif
  alignas(HK_CACHELINE) pthread_mutex_t idle_lock;
  hk_worker_t *idle_head; /* guarded by idle_lock */
  alignas(HK_CACHELINE) hk_injq_t injq;
};

static _Thread_local hk_worker_t *tls_self;

/* ---- small helpers -------------------------------------------------- */

/* Slices run by [w] so far: its own counter (only the owner writes it, so
** a relaxed load is exact). Thread: owner. */
static uint64_t slices_run(hk_worker_t *w) {
  return atomic_load_explicit(&w->slices, memory_order_relaxed);
}

/* Counter bump by the owner: a plain load/store pair, no RMW (§10.9). */
static void bump(_Atomic uint64_t *c, uint64_t n) {
  atomic_store_explicit(
      c, atomic_load_explicit(c, memory_order_relaxed) + n,
      memory_order_relaxed);
}

static uint64_t rng_next(uint64_t *x) { /* xorshift64* */
  *x ^= *x >> 12;
  *x ^= *x << 25;
  *x ^= *x >> 27;
  return *x * 0x2545F4914F6CDD1DULL;
}

static uint64_t mix(uint64_t z) { /* splitmix64 finaliser */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) | 1;
}

/* The seq_cst fence of (P1)/(P2)/(P3). ThreadSanitizer does not model
** fences, so under TSan every side instead does a seq_cst RMW on one shared
** word: RMWs on one location are totally ordered and each synchronises with
** the next, which gives the same "one side sees the other" guarantee (and
** would be correct without TSan too, at the price of a shared cache line).
** This is the only place sched/ uses a fence. */
static void full_fence(hk_sched_t *s) {
#ifdef __SANITIZE_THREAD__
  atomic_fetch_add_explicit(&s->fence_word, 1, memory_order_seq_cst);
#else
  (void)s;
  atomic_thread_fence(memory_order_seq_cst);
#endif
}

static bool stopping(const hk_sched_t *s) {
  /* Acquire pairs with the seq_cst store in hk_sched_stop. */
  return atomic_load_explicit(&s->stop, memory_order_acquire);
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val) {
  syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL,
          0);
}

static void futex_wake(_Atomic uint32_t *addr) {
  syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static uint32_t gcd(uint32_t a, uint32_t b) {
  while (b) {
    uint32_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static uint32_t cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return 1;
  int n = CPU_COUNT(&set);
  return n < 1 ? 1 : (uint32_t)n;
}

/* Stress builds (test/sched/meson.build) define HK_SCHED_NOISE to widen
** the race windows of parking and waking with random yields and spins, so
** that a broken protocol fails the stress programs quickly. */
#ifdef HK_SCHED_NOISE
static void noise(void) {
  static _Thread_local uint64_t x = 0x9e3779b97f4a7c15ULL;
  uint64_t r = rng_next(&x);
  if (r % 8 == 0)
    sched_yield();
  else if (r % 8 == 1)
    for (volatile uint32_t i = 0; i < (r >> 40) % 2000; i++)
      ;
}
#else
#define noise() ((void)0)
#endif

/* ---- waking and parking --------------------------------------------- */

/* Is any task queued anywhere? Used after the (P2)/(P3) fence. */
static bool work_anywhere(hk_sched_t *s) {
  if (hk_injq_len(&s->injq) > 0)
    return true;
  for (uint32_t i = 0; i < s->nworkers; i++) {
    hk_worker_t *v = &s->workers[i];
    if (hk_runq_len(&v->runq) > 0 ||
        atomic_load_explicit(&v->runnext, memory_order_relaxed) != NULL ||
        atomic_load_explicit(&v->aside, memory_order_relaxed) != NULL)
      return true;
  }
  return false;
}

/* A worker's ring holds work for a helper when it has at least SPARE_MIN
** tasks: its only queued task is the one its owner (awake: only the owner
** pushes to its ring, and it pops before it parks) runs after the current
** slice, so no task waits longer than one slice for it and SPEC §6.10.2
** (no worker idle while another has two or more queued) still holds.
** Taking that task would split a pair that takes turns on the worker, a
** producer and the consumer it wakes (bench/README.md, "Producer and
** consumer pair, stop 14"), or move a spawner that yielded behind its
** children: a thief that took the other half of the children steals the
** spawner as soon as its owner runs the last child before it, and the
** spawner's next children are then placed and run on the other worker
** ("Spawn path 6, stop 15"). No thief takes a lone task, woken or not
** (steal_from), except from an owner that makes no progress (spin_for_work:
** a slice, or one builtin call, longer than STUCK_NS; or a preempted
** owner thread), and except a task that has been left alone in the ring
** at two slice starts in a row (spare_task). */
#define SPARE_MIN 2u

/* Two tasks that both spend their slices on one worker leave one of them
** alone in the ring at every slice start: the other's. A thief whose
** thread was late (the owner took both from the injection queue, and the
** yield that leaves two queued lasts a few instructions) would otherwise
** never take it, and the pair would share one worker while the other
** idles (issue #5, stop 16). The pairs SPARE_MIN protects do not look like
** that: a consumer woken by its producer starts its slice with the producer
** queued alone, but the producer's own start finds the ring empty; a
** spawner that yielded behind its children is queued alone only at its
** last child's start, and its own start finds the ring empty again (its
** new children are queued during its slice). So a lone task may go to a
** thief while the slice running started with it alone in the ring, and so
** did the one before (two runs in a row, no hand-off between them:
** spare_task). The owner only stamps such starts (note_lone): a start
** that leaves 0 or 2+ tasks is followed by a run, which moves slices past
** the stamp, so nothing needs resetting. */

/* Stamps a start that leaves one task queued. Thread: owner. */
static __attribute__((noinline)) void note_lone(hk_worker_t *w) {
  uint64_t old = atomic_load_explicit(&w->lone, memory_order_relaxed);
  atomic_store_explicit(&w->lone, old << 32 | (uint32_t)(slices_run(w) + 1),
                        memory_order_relaxed);
}

/* Stamps a start that took its task from the injection queue (and maybe
** a batch with it) if it leaves one task queued. Thread: owner. */
static __attribute__((noinline)) void note_start_count(hk_worker_t *w) {
  if (hk_runq_len(&w->runq) == 1)
    note_lone(w);
}

/* Does [v]'s ring hold a task a thief may take: SPARE_MIN or more, or a
** lone one that its owner's current slice and the one before it both
** started with (note_lone)? Relaxed: a hint; a wrong guess moves one task
** once, or leaves it to its owner for one more slice. */
static bool spare_task(hk_worker_t *v) {
  uint32_t n = hk_runq_len(&v->runq);
  if (n != 1)
    return n >= SPARE_MIN;
  uint64_t stamps = atomic_load_explicit(&v->lone, memory_order_relaxed);
  uint32_t last = (uint32_t)stamps, before = (uint32_t)(stamps >> 32);
  uint64_t now = atomic_load_explicit(&v->slices, memory_order_relaxed);
  return before != 0 && before + 1 == last && last == (uint32_t)(now + 1);
}

/* Is there work for a parking worker (P2)? As work_anywhere, but a ring's
** single task is its owner's (SPARE_MIN, spare_task): the owner is awake
** and will run it, so liveness does not depend on the parker. */
static bool work_to_spare(hk_sched_t *s) {
  if (hk_injq_len(&s->injq) > 0)
    return true;
  for (uint32_t i = 0; i < s->nworkers; i++) {
    hk_worker_t *v = &s->workers[i];
    if (spare_task(v) ||
        atomic_load_explicit(&v->runnext, memory_order_relaxed) != NULL ||
        atomic_load_explicit(&v->aside, memory_order_relaxed) != NULL)
      return true;
  }
  return false;
}

static hk_worker_t *idle_pop(hk_sched_t *s) {
  pthread_mutex_lock(&s->idle_lock);
  hk_worker_t *w = s->idle_head;
  if (w) {
    s->idle_head = w->idle_next;
    w->on_idle = false;
    atomic_fetch_sub_explicit(&s->nparked, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&s->idle_lock);
  return w;
}

/* Hand the wake token to [w] (P4). */
static void give_token(hk_worker_t *w) {
  /* Release pairs with the acquire load in wait_token. */
  atomic_store_explicit(&w->wake, 1, memory_order_release);
  futex_wake(&w->wake);
}

/* Wake one parked worker if nobody is searching. The caller has made work
** available and, if liveness depends on this call, issued the (P1) fence.
** The woken worker starts out searching: we count it in nsearching before
** waking it, so that at most one wake is in flight (Go's wakep). */
static void wake_one(hk_sched_t *s) {
  for (;;) {
    if (atomic_load_explicit(&s->nparked, memory_order_relaxed) == 0)
      return;
    uint32_t zero = 0;
    /* seq_cst: part of the (P1)/(P3) total order on nsearching. */
    if (!atomic_compare_exchange_strong_explicit(
            &s->nsearching, &zero, 1, memory_order_seq_cst,
            memory_order_relaxed))
      return; /* a searcher exists: it finds the work or does (P2)/(P3) */
    noise();
    hk_worker_t *w = idle_pop(s);
    if (w) {
      give_token(w);
      return;
    }
    /* Nobody to wake after all. We bring nsearching back to 0: (P3). */
    atomic_fetch_sub_explicit(&s->nsearching, 1, memory_order_seq_cst);
    full_fence(s);
    if (!work_anywhere(s))
      return;
  }
}

static void leave_searching(hk_worker_t *w) {
  hk_sched_t *s = w->sched;
  w->searching = false;
  /* seq_cst: (P3), ordered before the fence below. */
  if (atomic_fetch_sub_explicit(&s->nsearching, 1, memory_order_seq_cst) ==
      1) {
    /* We were the last searcher (P3): wake a replacement if more work
    ** is queued. (Go wakes one unconditionally; with nothing visible that
    ** wake-up would only search and park again.) */
    noise();
    full_fence(s);
    if (work_anywhere(s))
      wake_one(s);
  }
}

/* Wait for the token (P4); the waker counted us as searching. */
static void wait_token(hk_worker_t *w) {
  /* Acquire pairs with the release store in give_token. */
  while (atomic_load_explicit(&w->wake, memory_order_acquire) == 0)
    futex_wait(&w->wake, 0);
  w->searching = !stopping(w->sched);
}

/* Take [w] off the idle list if it is still there. Returns false when a
** waker popped it first (its token is then on the way). */
static bool idle_remove_self(hk_worker_t *w) {
  hk_sched_t *s = w->sched;
  bool removed = false;
  pthread_mutex_lock(&s->idle_lock);
  if (w->on_idle) {
    hk_worker_t **p = &s->idle_head;
    while (*p != w)
      p = &(*p)->idle_next;
    *p = w->idle_next;
    w->on_idle = false;
    atomic_fetch_sub_explicit(&s->nparked, 1, memory_order_relaxed);
    removed = true;
  }
  pthread_mutex_unlock(&s->idle_lock);
  return removed;
}

/* Park [w] (P2). Returns when woken, when the re-check found work, or on
** stop; the worker then looks for work again. */
static void park(hk_worker_t *w) {
  hk_sched_t *s = w->sched;
  pthread_mutex_lock(&s->idle_lock);
  w->idle_next = s->idle_head;
  s->idle_head = w;
  w->on_idle = true;
  /* Relaxed: we own the token until we are on the list; wakers pop us
  ** under the lock we hold. */
  atomic_store_explicit(&w->wake, 0, memory_order_relaxed);
  uint32_t np =
      atomic_fetch_add_explicit(&s->nparked, 1, memory_order_relaxed) + 1;
  pthread_mutex_unlock(&s->idle_lock);
  noise();
  if (w->searching) {
    w->searching = false;
    /* (P2): ordered before our fence; a submitter after it sees it. */
    atomic_fetch_sub_explicit(&s->nsearching, 1, memory_order_seq_cst);
  }
  noise();
  /* (P2): pairs with the fence of (P1) in every work submitter. */
  full_fence(s);
  bool found = stopping(s) || work_to_spare(s);
  noise();
  if (!found && np == s->nworkers && s->cfg.all_idle) {
    s->cfg.all_idle(s, s->cfg.arg);
    full_fence(s);
    found = stopping(s) || work_anywhere(s);
  }
  if (found && idle_remove_self(w)) {
    /* Work (or stop) seen: look again, as a searcher. seq_cst like every
    ** change of nsearching (the (P1)/(P3) order); a submitter that reads
    ** it skips a wake-up that we make unnecessary. */
    w->searching = true;
    atomic_fetch_add_explicit(&s->nsearching, 1, memory_order_seq_cst);
    return;
  }
  if (!found)
    bump(&w->parks, 1);
  wait_token(w);
}

static void wake_all(hk_sched_t *s) {
  hk_worker_t *w;
  while ((w = idle_pop(s)) != NULL)
    give_token(w);
}

/* ---- a producer's yield ---------------------------------------------- */

/* A task that queued PRODUCER_MIN tasks or more in a slice it spent is a
** producer (a spawn loop: bench spawn's root queues ~133 one-message
** children per slice). It yields behind them as any task does (SPEC
** §10.3.3), but into the worker's `aside` slot rather than the ring's last
** place: its place in the order is the ring position it would have taken
** (aside_pos), and its owner takes it back when the ring's head reaches
** that position (new_slice), i.e. when it would have popped it. A thief
** may take it from there instead (steal_aside), while the owner still has
** two or more tasks queued; and while a producer runs (`producing`) no
** thief takes the tasks it is queuing (stealable), not even after STUCK_NS
** (steal_stuck: a producer's slice is as long as its budget, and it took
** half of bench spawn's children at 30 µs). So the tasks a producer makes
** run on the worker that made them, and the producer moves between the
** workers instead: one worker runs its slice while the other runs the
** tasks of its previous one. A queued task waits at most the producer's
** slice for an idle worker (SPEC §6.10.2). A stolen child costs both workers more than it saves
** (its record, first frame and heap are written on one core and read,
** freed and reused on the other: bench/README.md, "Spawner on two workers,
** stop 19"); the producer is one task whose slice is thousands of
** reductions. A producer steal runs a whole slice and more: it is not
** judged (judge_steal). Threads with two workers or more only: the
** deterministic mode keeps the ring's order as it was. */
#define PRODUCER_MIN 16u

/* The tail of w's own ring. Relaxed: only the owner writes it. */
static uint32_t own_tail(hk_worker_t *w) {
  return atomic_load_explicit(&w->runq.tail, memory_order_relaxed);
}

/* Marks the task about to run on [w] as a producer (until run_one ends
** its run). Thread: owner. */
static void start_producer(hk_worker_t *w) {
  w->producer_run = true;
  atomic_store_explicit(&w->producing, 1, memory_order_relaxed);
}

static __attribute__((noinline)) void end_producer(hk_worker_t *w) {
  w->producer_run = false;
  /* Release: a thief that sees 0 also sees the producer set aside
  ** before it (stealable). */
  atomic_store_explicit(&w->producing, 0, memory_order_release);
}

/* Sets the producer [t] aside at the ring position after the tasks queued
** so far. Thread: owner, with w->aside empty. */
static __attribute__((noinline)) void yield_aside(hk_worker_t *w, hk_task_t *t) {
  w->aside_pos = own_tail(w);
  w->aside_armed = true;
  /* Release: t's contents reach the thief whose CAS takes it. */
  atomic_store_explicit(&w->aside, t, memory_order_release);
}

/* The owner's producer, when the ring's head has reached its position,
** or NULL (not due, or a thief took it). Thread: owner. */
static __attribute__((noinline)) hk_task_t *take_aside(hk_worker_t *w) {
  /* Relaxed: a hint; head only grows, so a stale value is only late. */
  uint32_t h = atomic_load_explicit(&w->runq.head, memory_order_relaxed);
  if ((int32_t)(h - w->aside_pos) < 0)
    return NULL;
  w->aside_armed = false;
  /* Relaxed: this thread stored it; the RMW settles a race with a thief's
  ** CAS (exactly one of us gets it). */
  hk_task_t *t = atomic_exchange_explicit(&w->aside, NULL, memory_order_relaxed);
  if (t)
    start_producer(w);
  return t;
}

/* Takes another worker's producer set aside, if that worker has two or
** more tasks left to run meanwhile. Thread: a thief. */
static hk_task_t *steal_aside(hk_worker_t *w) {
  hk_sched_t *s = w->sched;
  for (uint32_t i = 0; i < s->nworkers; i++) {
    hk_worker_t *v = &s->workers[i];
    hk_task_t *t = atomic_load_explicit(&v->aside, memory_order_relaxed);
    if (!t || v == w || hk_runq_len(&v->runq) < SPARE_MIN)
      continue;
    /* Acquire pairs with yield_aside's release store. */
    if (atomic_compare_exchange_strong_explicit(&v->aside, &t, NULL,
                                                memory_order_acquire,
                                                memory_order_relaxed)) {
      bump(&w->steals, 1);
      bump(&w->stolen, 1);
      start_producer(w);
      return t;
    }
  }
  return NULL;
}

/* May a thief take from [v]'s ring? Not while a producer runs there or
** waits aside: the producer moves instead (yield_aside). The flags first:
** their line is not the ring's, which the producer's pushes write. */
static bool stealable(hk_worker_t *v) {
  /* Acquire pairs with end_producer's release: a producer that ended its
  ** run by yielding is seen set aside, and is the task to take. */
  return !atomic_load_explicit(&v->producing, memory_order_acquire) &&
         !atomic_load_explicit(&v->aside, memory_order_relaxed) && spare_task(v);
}

/* ---- queues ---------------------------------------------------------- */

/* push_local's ring is full: move half of it plus [t] to the injection
** queue in one batch (SPEC §10.3.4), or push [t] when a thief made room.
** Out of line, so that the common push (inlined in every ready path)
** keeps no batch array in its frame. */
static __attribute__((noinline)) void push_overflow(hk_worker_t *w, hk_task_t *t) {
  hk_task_t *batch[HK_RUNQ_SIZE / 2 + 1];
  do {
    uint32_t n = hk_runq_grab_half_owner(&w->runq, batch);
    if (n == 0)
      continue; /* a thief made room */
    batch[n++] = t;
    hk_injq_push_array(&w->sched->injq, batch, n);
    return;
  } while (hk_runq_push_owner(&w->runq, t) != 0);
}

/* Push [t] at the tail of w's ring; on overflow move half of the ring plus
** [t] to the injection queue in one batch (SPEC §10.3.4). */
static void push_local(hk_worker_t *w, hk_task_t *t) {
  if (__builtin_expect(hk_runq_push_owner(&w->runq, t) != 0, 0))
    push_overflow(w, t);
}

/* Relaxed wake check after a local push (see the header comment). */
static void maybe_wake_local(hk_sched_t *s) {
  if (atomic_load_explicit(&s->nparked, memory_order_relaxed) != 0 &&
      atomic_load_explicit(&s->nsearching, memory_order_relaxed) == 0)
    wake_one(s);
}

/* Take a share of the injection queue: one task to run now, up to
** len/N more into w's ring (Go's globrunqget). */
static hk_task_t *take_global(hk_worker_t *w, size_t max) {
  hk_sched_t *s = w->sched;
  hk_task_t *batch[HK_RUNQ_SIZE / 2];
  size_t want = hk_injq_len(&s->injq) / s->nworkers + 1;
  if (want > max)
    want = max;
  size_t n = hk_injq_pop_batch(&s->injq, batch, want);
  w->lastglobal = slices_run(w);
  for (size_t i = 1; i < n; i++)
    push_local(w, batch[i]);
  if (n > 1)
    maybe_wake_local(s);
  return n ? batch[0] : NULL;
}

/* Steal from [v] into w's ring: half of it when it has a task to spare
** (spare_task), or [lone] also a single one; in the last pass also its
** run-next. */
static hk_task_t *steal_from(hk_worker_t *w, hk_worker_t *v, bool last,
                             bool lone) {
  uint32_t n = 0;
  hk_task_t *t = NULL;
  if (lone || stealable(v))
    t = hk_runq_steal_spmc(&v->runq, &w->runq, &n);
  if (!t && last) {
    /* (P5) acquire pairs with the owner's release exchange. */
    t = atomic_load_explicit(&v->runnext, memory_order_acquire);
    if (t && !atomic_compare_exchange_strong_explicit(
                 &v->runnext, &t, NULL, memory_order_acq_rel,
                 memory_order_relaxed))
      t = NULL;
    n = t ? 1 : 0;
  }
  if (t) {
    bump(&w->steals, 1);
    bump(&w->stolen, n);
    w->stole_n = n; /* search stamps the time and judges it (judge_steal) */
    w->stole_at = 0;
  }
  return t;
}

/* Up to 4 passes over the other workers in random order (SPEC §10.4.2);
** only the injection queue while [paused] (judge_steal). */
static hk_task_t *steal_work(hk_worker_t *w, bool paused) {
  hk_sched_t *s = w->sched;
  uint32_t n = s->nworkers;
  for (int pass = 0; pass < STEAL_PASSES; pass++) {
    if (hk_injq_len(&s->injq) > 0) {
      hk_task_t *t = take_global(w, HK_RUNQ_SIZE / 2);
      if (t)
        return t;
    }
    hk_task_t *t = steal_aside(w);
    if (t || paused)
      return t;
    uint64_t r = rng_next(&w->rng);
    uint32_t pos = (uint32_t)(r % n);
    uint32_t stride = s->coprimes[(r >> 32) % s->ncoprimes];
    for (uint32_t i = 0; i < n; i++, pos = (pos + stride) % n) {
      if (pos == w->index)
        continue;
      t = steal_from(w, &s->workers[pos], pass == STEAL_PASSES - 1, false);
      if (t)
        return t;
    }
    if (stopping(s))
      return NULL;
  }
  return NULL;
}

/* Puts [t] in run-next, for thieves to see (P5); the previous occupant
** moves to the ring's tail (SPEC §10.3.2). */
static void publish_next(hk_worker_t *w, hk_task_t *t) {
  /* Release (P5): t's contents reach a thief that claims it. */
  hk_task_t *old =
      atomic_exchange_explicit(&w->runnext, t, memory_order_release);
  if (old) {
    push_local(w, old);
    maybe_wake_local(w->sched);
  }
}

/* Publishes the task readied to run-next during the last run, if any. */
static void flush_pending(hk_worker_t *w) {
  hk_task_t *t = w->head.pending;
  if (t) {
    w->head.pending = NULL;
    publish_next(w, t);
  }
}

/* Take w's run-next task, or NULL. Only the owner fills run-next (thieves
** only empty it), so a relaxed NULL seen here stays NULL: the RMW is paid
** only when there is something to take. Thread: owner. */
static hk_task_t *take_runnext(hk_worker_t *w) {
  if (atomic_load_explicit(&w->runnext, memory_order_relaxed) == NULL)
    return NULL;
  /* Relaxed: the task was stored by this thread; the RMW only settles a
  ** race with a thief's CAS (exactly one of us gets it). */
  return atomic_exchange_explicit(&w->runnext, NULL, memory_order_relaxed);
}

static hk_task_t *new_slice(hk_worker_t *w, hk_task_t *next);

/* Local sources, in the order of SPEC §10.4.1. Sets up the slice budget. */
static hk_task_t *find_local(hk_worker_t *w) {
  hk_task_t *t;
  flush_pending(w); /* readied outside a run (none of the runtime's callers) */
  if (w->budget > 0 && w->handoffs < HANDOFF_CAP) {
    t = take_runnext(w);
    if (t) {
      w->handoffs++; /* continues the current slice */
      return t;
    }
  }
  return new_slice(w, NULL);
}

/* The end of new_slice when its start leaves one task queued: [head]
** runs, [next] (if any) is the one queued. A tail call, so that the
** common start keeps no register for it. Thread: owner. */
static __attribute__((noinline)) hk_task_t *
lone_start(hk_worker_t *w, hk_task_t *head, hk_task_t *next) {
  note_lone(w);
  if (next)
    push_local(w, next);
  return head;
}

/* Starts a new slice and chooses its task (the rest of find_local). [next]
** is a run-next task the caller already took (run_handoffs' pending after
** a capped or spent slice), or NULL: look at run-next. */
static hk_task_t *new_slice(hk_worker_t *w, hk_task_t *next) {
  hk_task_t *t;
  w->budget = w->sched->cfg.slice_budget;
  w->handoffs = 0;
  if (slices_run(w) - w->lastglobal >= GLOBAL_EVERY &&
      hk_injq_len(&w->sched->injq) > 0) {
    t = take_global(w, 1);
    if (t) {
      if (next)
        publish_next(w, next);
      note_start_count(w);
      return t;
    }
  }
  /* A run-next task left over from a capped or spent slice goes behind
  ** the ring's tasks: taken first it could starve them, left in place it
  ** could starve itself behind tasks that always spend their budget. */
  if (!next)
    next = take_runnext(w);
  if (w->aside_armed && (t = take_aside(w)) != NULL) {
    if (next)
      push_local(w, next);
    return t;
  }
  uint32_t left;
  hk_task_t *head = hk_runq_pop_owner(&w->runq, &left);
  if (!head) {
    if (next)
      return next; /* the ring stays empty */
    next = take_global(w, HK_RUNQ_SIZE / 2);
    note_start_count(w); /* the rest of the batch went to the ring */
    return next;
  }
  if (!next)
    return left == 1 ? lone_start(w, head, NULL) : head;
  if (left == 0) /* next alone in the ring */
    return lone_start(w, head, next);
  push_local(w, next);
  return head;
}

/* After its steal passes found nothing, a searcher keeps watching every
** queue for up to SPIN_NS before it parks (SPEC §10.4.3 allows 100 µs):
** it is still counted in nsearching, so a worker that queues a task in
** the meantime does not wake anybody (the spinner takes the task), and a
** producer that queues tasks a little more slowly than they are run
** (a spawn loop) keeps its helper awake without a futex wake per batch.
** Liveness is unchanged: a searcher that finds nothing parks through (P2)
** as before. Reads only (relaxed lengths), so the victims' cache lines
** stay shared until there is something to take. Only while another
** worker runs (others_running). */
#ifndef SPIN_NS
#define SPIN_NS 50000u
#endif
static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Tasks queued behind a run-next slot: in the injection queue or a ring
** with work to spare (spare_task). A victim's run-next is left alone while
** spinning (it is the task its owner hands off to next, e.g. the receiver
** of a message just sent). */
static bool ring_work(hk_sched_t *s) {
  if (hk_injq_len(&s->injq) > 0)
    return true;
  for (uint32_t i = 0; i < s->nworkers; i++)
    if (stealable(&s->workers[i]))
      return true;
  return false;
}

static hk_task_t *steal_rings(hk_worker_t *w) {
  hk_sched_t *s = w->sched;
  if (hk_injq_len(&s->injq) > 0) {
    hk_task_t *t = take_global(w, HK_RUNQ_SIZE / 2);
    if (t)
      return t;
  }
  for (uint32_t i = 0; i < s->nworkers; i++) {
    if (i == w->index || !stealable(&s->workers[i]))
      continue;
    hk_task_t *t = steal_from(w, &s->workers[i], false, false);
    if (t)
      return t;
  }
  return NULL;
}

/* Whether a worker other than the caller (a searcher) may be running a
** task, i.e. may queue one soon. When every other worker is parked or
** searching, new work can only come from outside the workers (the I/O
** thread's completions, timers, native helpers), usually much later than
** SPIN_NS: spinning then only takes the CPU from the threads that produce
** it (on the echo benchmark, the I/O thread and the peer; bench/README.md,
** "Echo ... stop 11"), so the searcher parks at once. Relaxed: a hint; a
** wrong guess costs one futex wake-up or SPIN_NS of spinning. */
static bool others_running(hk_sched_t *s) {
  uint32_t ns = atomic_load_explicit(&s->nsearching, memory_order_relaxed);
  uint32_t np = atomic_load_explicit(&s->nparked, memory_order_relaxed);
  return ns + np < s->nworkers;
}

/* A lone queued task (SPARE_MIN) is its owner's unless the owner is stuck
** in one run: its slice count unchanged for STUCK_NS while its ring held a
** task (a slice, or one builtin call, that long, or its thread preempted).
** Then a spinner takes it. STUCK_NS is above a slice of ordinary code
** (2,000 reductions, 5-15 µs here) and below SPIN_NS, so a watch that
** starts when the spin does ends before it. The spinner watches one victim
** at a time (the next one after itself with a queued task). */
#define STUCK_NS 30000u

typedef struct {
  hk_worker_t *v;  /* the victim watched, or NULL */
  uint64_t slices; /* its slice count when the watch began */
  uint64_t since;  /* when the watch began */
} watch_t;

static hk_task_t *steal_stuck(hk_worker_t *w, watch_t *wt, uint64_t now) {
  hk_sched_t *s = w->sched;
  hk_worker_t *v = wt->v;
  /* Relaxed: a hint; a wrong guess moves one task one slice early. */
  if (v && hk_runq_len(&v->runq) > 0 &&
      atomic_load_explicit(&v->slices, memory_order_relaxed) == wt->slices) {
    if (now - wt->since < STUCK_NS ||
        atomic_load_explicit(&v->producing, memory_order_relaxed))
      return NULL; /* a producer's tasks stay (yield_aside) */
    wt->v = NULL;
    return steal_from(w, v, false, true);
  }
  wt->v = NULL;
  for (uint32_t k = 1; k < s->nworkers; k++) {
    v = &s->workers[(w->index + k) % s->nworkers];
    if (hk_runq_len(&v->runq) > 0) {
      *wt = (watch_t){v, atomic_load_explicit(&v->slices, memory_order_relaxed),
                      now};
      break;
    }
  }
  return NULL;
}

/* [until]: no ring steals before then but steal_stuck's (judge_steal); the
** rings are not even read, so their owners keep their lines meanwhile. */
static hk_task_t *spin_for_work(hk_worker_t *w, uint64_t until) {
  hk_sched_t *s = w->sched;
  if (s->cfg.deterministic || s->nworkers < 2 || !others_running(s))
    return NULL;
  uint64_t now = hk_sched_now_ns(), end = now + SPIN_NS;
  watch_t wt = {0};
  steal_stuck(w, &wt, now); /* starts the watch */
  for (uint32_t i = 1;; i++) {
    for (int k = 0; k < 16; k++)
      cpu_relax();
    if (stopping(s))
      return NULL;
    hk_task_t *p = steal_aside(w);
    if (p)
      return p;
    if (now >= until && ring_work(s)) {
      hk_task_t *t = steal_rings(w);
      if (t)
        return t;
    }
    if ((i & 7) == 0) {
      now = hk_sched_now_ns();
      hk_task_t *t = steal_stuck(w, &wt, now);
      if (t)
        return t;
      if (now >= end || !others_running(s))
        return NULL;
    }
  }
}

/* Whether stealing paid (bench/README.md, "Spawner on two workers, stop
** 19"). A task taken from another worker's ring costs both workers more
** than running it where it was readied: its control block, heap and
** message memory were written by the victim's core and are read, freed
** and reused across cores, and each steal moves the ring's lines (bench
** spawn, quiet, stop 18: a helper stealing 94 % of 10^6 one-message
** children, 2.4 a steal, left the spawner's worker slower per spawn than
** one worker running everything, ~1 µs of the spawner's worker per stolen
** child in stop 15's CPU split). So a thief judges its last ring steal
** when it runs out of work: if the work it found lasted less than
** STEAL_GAIN_NS per task taken (tiny children, whose owner would have run
** them in less time than they cost to move), it pauses before its next
** ring steal, PAUSE_MIN_NS doubling to PAUSE_MAX_NS while steals keep not
** paying; one that paid (a skynet subtree, a task that spends its slices)
** ends the pause. While paused it still takes from the injection queue
** and from an owner stuck for STUCK_NS (steal_stuck), so a task waits at
** most PAUSE_MAX_NS more for an idle worker (SPEC §6.10.2; below SPIN_NS,
** so a paused spinner steals before it parks) and every steal still takes
** half (§10.4.2); a paused thief reads no ring. Threads only: the
** deterministic mode never pauses. */
#define STEAL_GAIN_NS 2000u
#define PAUSE_MIN_NS 10000u
#define PAUSE_MAX_NS 40000u

/* Judges the last steal at [now] (the thief ran out of work) and returns
** when the next ring steal may be made. Thread: owner. */
static uint64_t judge_steal(hk_worker_t *w, uint64_t now) {
  if (w->stole_n) {
    if (w->stole_at && now - w->stole_at < (uint64_t)w->stole_n * STEAL_GAIN_NS)
      w->pause_ns = w->pause_ns == 0 ? PAUSE_MIN_NS
                    : w->pause_ns >= PAUSE_MAX_NS / 2 ? PAUSE_MAX_NS
                                                      : 2 * w->pause_ns;
    else
      w->pause_ns = 0;
    w->stole_n = 0;
  }
  return w->pause_ns ? w->stole_at + w->pause_ns : 0;
}

/* The search of SPEC §10.4.3: become searching only if fewer than half of
** the running workers search, then steal. */
static hk_task_t *search(hk_worker_t *w) {
  hk_sched_t *s = w->sched;
  if (!w->searching) {
    uint32_t ns = atomic_load_explicit(&s->nsearching, memory_order_relaxed);
    uint32_t np = atomic_load_explicit(&s->nparked, memory_order_relaxed);
    if (2 * ns >= s->nworkers - np)
      return NULL;
    w->searching = true;
    /* seq_cst: every change of nsearching is in the (P1)/(P3) order. */
    atomic_fetch_add_explicit(&s->nsearching, 1, memory_order_seq_cst);
  }
  uint64_t until = 0, now = 0;
  if (w->stole_n | w->pause_ns)
    until = judge_steal(w, now = hk_sched_now_ns());
  hk_task_t *t = steal_work(w, now < until);
  if (!t)
    t = spin_for_work(w, until);
  if (t) {
    if (w->stole_n && !w->stole_at)
      w->stole_at = hk_sched_now_ns();
    leave_searching(w);
  }
  return t;
}

static hk_task_result_t run_one(hk_worker_t *w, hk_task_t *t) {
  uint32_t tail = own_tail(w);
  /* The run charges the worker's own field: no copy in and out. */
  hk_task_result_t r = t->run(t, w, &w->budget);
  bump(&w->slices, 1);
  if (r == HK_TASK_YIELD) {
    tail = own_tail(w) - tail; /* the tasks it queued */
    /* A task this run readied to run-next that the slice cannot continue
    ** with (budget spent or hand-offs capped) goes to the ring now, ahead
    ** of its readier: it has not run since its readier's slice began (a
    ** consumer woken by the first of a slice's messages), the readier just
    ** had a whole slice. It is not counted for a wake-up: a pair that
    ** alternates on this worker (the readier's slice, then the woken one
    ** drains what it was sent and blocks) keeps the worker busy but
    ** leaves nothing for a helper, and split over two workers it pays a
    ** cross-core transfer per message (bench/README.md, "Producer and
    ** consumer pair, stop 14"). */
    hk_task_t *p = w->head.pending;
    uint32_t carried = 0;
    if (p && !(w->budget > 0 && w->handoffs < HANDOFF_CAP)) {
      w->head.pending = NULL;
      push_local(w, p);
      carried = 1;
    }
    if (tail >= PRODUCER_MIN && w->aside_ok &&
        !atomic_load_explicit(&w->aside, memory_order_relaxed))
      yield_aside(w, t); /* only the owner fills it: relaxed */
    else
      push_local(w, t);
    /* Wake a helper only when something would still be queued after we
    ** take our next task (so a lone yielding task causes no wake-ups). */
    if (hk_runq_len(&w->runq) >= 2 + carried)
      maybe_wake_local(w->sched);
  }
  if (w->producer_run)
    end_producer(w); /* after yield_aside: see stealable */
  return r;
}

/* Runs [t] and then, as long as the slice may continue, the task its run
** readied to run-next: the direct hand-off from a task that blocked or
** ended right after readying another (a sender that waits for the reply,
** SPEC §10.3.2), without going back through the worker loop and without
** the run-next slot's two atomic exchanges: a task readied to run-next
** waits in the owner-only `pending` until the run returns
** (hk_sched_ready_next_owner), and is published to run-next only if the
** slice does not continue with it. The rule is find_local's first branch
** (budget left, fewer than HANDOFF_CAP hand-offs in this slice, not
** stopping); after a capped or spent slice, new_slice chooses as find_local
** would, with pending in the place of run-next. So the order of runs is
** the one the loop would choose; each
** run is still one slice for the counters and the task's own bookkeeping
** (a trace event per run). A task that yielded went to the ring's tail
** (run_one) and the loop decides what runs next, as before. Threads only:
** the deterministic mode runs one slice per step (run_det flushes). */
static void run_handoffs(hk_worker_t *w, hk_task_t *t) {
  while (run_one(w, t) != HK_TASK_YIELD && (t = w->head.pending) && !stopping(w->sched)) {
    w->head.pending = NULL;
    if (w->budget > 0 && w->handoffs < HANDOFF_CAP)
      w->handoffs++; /* continues the current slice */
    else
      t = new_slice(w, t); /* what find_local would choose; never NULL */
  }
  flush_pending(w);
}

static void *worker_main(void *arg) {
  hk_worker_t *w = arg;
  hk_sched_t *s = w->sched;
  tls_self = w;
  if (s->cfg.worker_start)
    s->cfg.worker_start(w, s->cfg.arg);
  while (!stopping(s)) {
    hk_task_t *t = find_local(w);
    if (t && w->searching)
      leave_searching(w); /* woken, and the work was already local */
    if (!t) {
      if (s->cfg.worker_idle)
        s->cfg.worker_idle(w, s->cfg.arg);
      t = search(w);
    }
    if (t) {
      run_handoffs(w, t);
    } else {
      noise();
      park(w);
    }
  }
  if (w->searching) { /* stopping: nobody relies on the count any more */
    w->searching = false;
    atomic_fetch_sub_explicit(&s->nsearching, 1, memory_order_relaxed);
  }
  if (s->cfg.worker_stop)
    s->cfg.worker_stop(w, s->cfg.arg);
  tls_self = NULL;
  return NULL;
}

/* ---- lifecycle ------------------------------------------------------- */

static int init_workers(hk_sched_t *s) {
  size_t size = sizeof(hk_worker_t) * s->nworkers;
  s->workers = aligned_alloc(HK_CACHELINE, size);
  s->coprimes = calloc(s->nworkers, sizeof(uint32_t));
  if (!s->workers || !s->coprimes)
    return -ENOMEM;
  memset(s->workers, 0, size);
  for (uint32_t i = 1; i <= s->nworkers; i++)
    if (gcd(i, s->nworkers) == 1)
      s->coprimes[s->ncoprimes++] = i;
  for (uint32_t i = 0; i < s->nworkers; i++) {
    hk_worker_t *w = &s->workers[i];
    w->sched = s;
    w->index = i;
    w->rng = mix(s->seed + i);
    atomic_init(&w->slices, 0);
    atomic_init(&w->lone, 0);
    atomic_init(&w->steals, 0);
    atomic_init(&w->stolen, 0);
    atomic_init(&w->parks, 0);
    atomic_init(&w->wake, 0);
    atomic_init(&w->runnext, NULL);
    atomic_init(&w->aside, NULL);
    atomic_init(&w->producing, 0);
    w->aside_ok = !s->cfg.deterministic && s->nworkers >= 2;
    hk_runq_init(&w->runq);
  }
  return 0;
}

int hk_sched_new(hk_sched_t **out, const hk_sched_config_t *cfg) {
  hk_sched_config_t c = cfg ? *cfg : (hk_sched_config_t){0};
  if (c.workers == 0)
    c.workers = c.deterministic ? 1 : cpu_count();
  if (c.workers > MAX_WORKERS || c.slice_budget < 0)
    return -EINVAL;
  if (c.slice_budget == 0)
    c.slice_budget = DEFAULT_BUDGET;
  hk_sched_t *s = aligned_alloc(HK_CACHELINE, sizeof *s);
  if (!s)
    return -ENOMEM;
  memset(s, 0, sizeof *s);
  s->cfg = c;
  s->nworkers = c.workers;
  s->seed = c.seed ? c.seed : mix(hk_sched_now_ns() ^ (uintptr_t)s);
  atomic_init(&s->nsearching, 0);
  atomic_init(&s->nparked, 0);
  atomic_init(&s->stop, false);
  int rc = init_workers(s);
  if (rc == 0 && (rc = -pthread_mutex_init(&s->idle_lock, NULL)) == 0) {
    if ((rc = hk_injq_init(&s->injq)) == 0) {
      *out = s;
      return 0;
    }
    pthread_mutex_destroy(&s->idle_lock);
  }
  free(s->workers);
  free(s->coprimes);
  free(s);
  return rc;
}

int hk_sched_start(hk_sched_t *s) {
  if (s->started || s->cfg.deterministic)
    return -EINVAL;
  for (uint32_t i = 0; i < s->nworkers; i++) {
    int rc = pthread_create(&s->workers[i].thread, NULL, worker_main,
                            &s->workers[i]);
    if (rc != 0) {
      hk_sched_stop(s);
      for (uint32_t j = 0; j < i; j++)
        pthread_join(s->workers[j].thread, NULL);
      return -rc;
    }
  }
  s->started = true;
  return 0;
}

void hk_sched_stop(hk_sched_t *s) {
  /* seq_cst store + the (P1) fence: a worker about to sleep sees the flag
  ** in its (P2) re-check, or is on the idle list for wake_all. */
  atomic_store_explicit(&s->stop, true, memory_order_seq_cst);
  full_fence(s);
  wake_all(s);
}

int hk_sched_join(hk_sched_t *s) {
  if (!s->started)
    return 0;
  for (uint32_t i = 0; i < s->nworkers; i++)
    pthread_join(s->workers[i].thread, NULL);
  s->started = false;
  return 0;
}

void hk_sched_free(hk_sched_t *s) {
  if (!s)
    return;
  hk_sched_stop(s);
  hk_sched_join(s);
  hk_injq_destroy(&s->injq);
  pthread_mutex_destroy(&s->idle_lock);
  free(s->workers);
  free(s->coprimes);
  free(s);
}

/* Deterministic mode: the seed picks which virtual worker steps next; a
** step is one find (local, then steal) and at most one run. */
int64_t hk_sched_run_det(hk_sched_t *s) {
  if (!s->cfg.deterministic)
    return -EINVAL;
  uint64_t rng = mix(s->seed);
  int64_t slices = 0;
  hk_worker_t *saved = tls_self;
  while (!stopping(s)) {
    if (!work_anywhere(s)) {
      if (s->cfg.all_idle)
        s->cfg.all_idle(s, s->cfg.arg);
      if (!work_anywhere(s))
        break;
    }
    hk_worker_t *w = &s->workers[rng_next(&rng) % s->nworkers];
    tls_self = w;
    hk_task_t *t = find_local(w);
    if (!t)
      t = steal_work(w, false);
    if (t) {
      run_one(w, t);
      flush_pending(w);
      slices++;
    }
    tls_self = saved;
  }
  return slices;
}

/* ---- readying -------------------------------------------------------- */

/* hk_sched_ready_next_owner (sched.h, inline) stores [t] in w->head.pending:
** held back until the run returns (run_handoffs, run_det), which runs it at
** once or publishes it; find_local publishes one readied outside a run.
** Here a second task readied in the same run: the occupant it displaces
** goes to the ring's tail now, as from run-next. */
void hk_sched_ready_next_displace(hk_worker_t *w, hk_task_t *t) {
  assert(tls_self == w);
  hk_task_t *old = w->head.pending;
  w->head.pending = t;
  push_local(w, old);
  maybe_wake_local(w->sched);
}

void hk_sched_ready_local_owner(hk_worker_t *w, hk_task_t *t) {
  assert(tls_self == w);
  push_local(w, t);
  maybe_wake_local(w->sched);
}

void hk_sched_inject_list(hk_sched_t *s, hk_task_t *first, hk_task_t *last,
                          size_t n) {
  hk_injq_push_list(&s->injq, first, last, n);
  noise();
  /* (P1): the push above is visible to a parker's re-check, or we see it
  ** on the idle list below. */
  full_fence(s);
  if (atomic_load_explicit(&s->nsearching, memory_order_relaxed) == 0)
    wake_one(s);
}

void hk_sched_inject(hk_sched_t *s, hk_task_t *t) {
  hk_sched_inject_list(s, t, t, 1);
}

/* hk_sched_defer_begin / _flush: tasks made ready by this (non-worker)
** thread for [defer.s], not yet injected. */
static _Thread_local struct {
  hk_sched_t *s;
  hk_task_t *first, *last;
  size_t n;
} defer;

void hk_sched_defer_begin(hk_sched_t *s) { defer.s = s; }

void hk_sched_defer_flush(hk_sched_t *s) {
  if (defer.s != s || defer.n == 0) return;
  hk_task_t *first = defer.first, *last = defer.last;
  size_t n = defer.n;
  defer.first = defer.last = NULL;
  defer.n = 0;
  hk_sched_inject_list(s, first, last, n);
}

void hk_sched_ready(hk_sched_t *s, hk_task_t *t) {
  hk_worker_t *w = tls_self;
  if (w && w->sched == s) {
    hk_sched_ready_local_owner(w, t);
  } else if (defer.s == s && !w) {
    t->next = NULL;
    if (defer.last) defer.last->next = t;
    else defer.first = t;
    defer.last = t;
    defer.n++;
  } else {
    hk_sched_inject(s, t);
  }
}

/* ---- queries --------------------------------------------------------- */

hk_worker_t *hk_sched_self(void) { return tls_self; }

uint32_t hk_sched_worker_index(const hk_worker_t *w) { return w->index; }

hk_sched_t *hk_sched_worker_sched(const hk_worker_t *w) { return w->sched; }

void *hk_sched_worker_user(const hk_worker_t *w) { return w->user; }

void hk_sched_worker_set_user(hk_worker_t *w, void *user) { w->user = user; }

hk_worker_t *hk_sched_worker(hk_sched_t *s, uint32_t i) {
  assert(i < s->nworkers);
  return &s->workers[i];
}

uint32_t hk_sched_workers(const hk_sched_t *s) { return s->nworkers; }

uint64_t hk_sched_seed(const hk_sched_t *s) { return s->seed; }

void hk_sched_counters(const hk_sched_t *s, uint32_t i,
                       hk_sched_counters_t *out) {
  const hk_worker_t *w = &s->workers[i];
  out->slices = atomic_load_explicit(&w->slices, memory_order_relaxed);
  out->steals = atomic_load_explicit(&w->steals, memory_order_relaxed);
  out->stolen = atomic_load_explicit(&w->stolen, memory_order_relaxed);
  out->parks = atomic_load_explicit(&w->parks, memory_order_relaxed);
}

bool hk_sched_all_idle(const hk_sched_t *s) {
  return atomic_load_explicit(&s->nparked, memory_order_relaxed) ==
         s->nworkers;
}
