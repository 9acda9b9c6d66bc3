/* Stress: the whole scheduler with 2..8 workers, tasks readied from
** non-worker threads (injection, single and batched), from running tasks
** (run-next and local ring), yields, blocks, and tasks re-readied by other
** threads while their last run is still returning. Every readying must be
** matched by exactly one run, and no task may run on two workers at once.
** Prints the seed on failure. Exit 0 pass, 1 fail (or internal timeout). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/sched.h"

#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif
#ifdef __SANITIZE_THREAD__
#define TOTAL (2000000ull * STRESS_SCALE)
#define TIMEOUT_S 240
#else
#define TOTAL (10000000ull * STRESS_SCALE)
#define TIMEOUT_S 120
#endif
#define NOBJ 2048
#define NINJ 2

typedef struct obj {
  hk_task_t h;
  _Atomic int running; /* 1 while some worker is inside run */
  uint64_t readied;    /* readyings, written only by whoever holds it */
  uint64_t ran;
  uint32_t rng;
  struct obj *lot_next;
} obj_t;

static obj_t objs[NOBJ];
static hk_sched_t *sched;
static _Atomic uint64_t total_runs;
static uint64_t round_target;
static uint64_t seed;

/* The parking lot of blocked objects: a mutex-protected stack. */
static pthread_mutex_t lot_lock = PTHREAD_MUTEX_INITIALIZER;
static obj_t *lot;
static size_t lot_len;

static void lot_push(obj_t *o) {
  pthread_mutex_lock(&lot_lock);
  o->lot_next = lot;
  lot = o;
  lot_len++;
  pthread_mutex_unlock(&lot_lock);
}

static obj_t *lot_pop(void) {
  pthread_mutex_lock(&lot_lock);
  obj_t *o = lot;
  if (o) {
    lot = o->lot_next;
    lot_len--;
  }
  pthread_mutex_unlock(&lot_lock);
  return o;
}

static void fail(const char *what) {
  fprintf(stderr, "sched_inject: %s (seed %llu)\n", what, (unsigned long long)seed);
  exit(1);
}

static uint32_t rnd(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

#define OBJ(t) ((obj_t *)(void *)(t))

static hk_task_result_t run(hk_task_t *t, hk_worker_t *w, int32_t *budget) {
  obj_t *o = OBJ(t);
  if (atomic_exchange_explicit(&o->running, 1, memory_order_acquire) != 0)
    fail("task running on two workers");
  o->ran++;
  if (o->ran != o->readied)
    fail("run without a matching ready");
  *budget -= 700;
  uint64_t n = atomic_fetch_add_explicit(&total_runs, 1, memory_order_relaxed);
  uint32_t r = rnd(&o->rng);
  if (n < round_target) {
    /* Wake up to two blocked objects from here. */
    for (uint32_t k = 0; k < (r & 3) % 3; k++) {
      obj_t *b = lot_pop();
      if (!b)
        break;
      b->readied++;
      if (k == 0 && (r & 16))
        hk_sched_ready_next_owner(w, &b->h);
      else
        hk_sched_ready_local_owner(w, &b->h);
    }
    if ((r >> 8) % 4 == 0) {
      o->readied++;
      atomic_store_explicit(&o->running, 0, memory_order_release);
      return HK_TASK_YIELD;
    }
  }
  /* Block: publish ourselves as the last action, then never touch o. */
  atomic_store_explicit(&o->running, 0, memory_order_release);
  lot_push(o);
  return (r >> 12) & 1 ? HK_TASK_BLOCKED : HK_TASK_DONE;
}

static void *injector(void *arg) {
  uint32_t r = (uint32_t)(uintptr_t)arg * 2654435761u + (uint32_t)seed;
  while (atomic_load_explicit(&total_runs, memory_order_relaxed) < round_target) {
    obj_t *batch[16];
    size_t n = 0;
    size_t want = 1 + rnd(&r) % 16;
    while (n < want && (batch[n] = lot_pop()) != NULL)
      n++;
    if (n == 0) {
      sched_yield();
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      batch[i]->readied++;
      batch[i]->h.next = i + 1 < n ? &batch[i + 1]->h : NULL;
    }
    if (n == 1)
      hk_sched_inject(sched, &batch[0]->h);
    else
      hk_sched_inject_list(sched, &batch[0]->h, &batch[n - 1]->h, n);
  }
  return NULL;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "sched_inject: timeout (lost wake-up or lost task)\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(1);
}

static void one_round(uint32_t workers, uint64_t runs) {
  hk_sched_config_t c = {.workers = workers, .seed = seed + workers,
                         .slice_budget = 2000};
  if (hk_sched_new(&sched, &c) != 0 || hk_sched_start(sched) != 0)
    fail("cannot start scheduler");
  round_target = atomic_load(&total_runs) + runs;
  pthread_t th[NINJ];
  for (int i = 0; i < NINJ; i++)
    pthread_create(&th[i], NULL, injector, (void *)(uintptr_t)(i + 1));
  for (int i = 0; i < NINJ; i++)
    pthread_join(th[i], NULL);
  /* Quiescence: every object ends in the lot. */
  for (;;) {
    pthread_mutex_lock(&lot_lock);
    size_t n = lot_len;
    pthread_mutex_unlock(&lot_lock);
    if (n == NOBJ)
      break;
    usleep(1000);
  }
  hk_sched_free(sched);
  for (int i = 0; i < NOBJ; i++) {
    if (objs[i].ran != objs[i].readied)
      fail("readied and ran counts differ");
  }
}

int main(int argc, char **argv) {
  signal(SIGALRM, on_alarm);
  alarm(TIMEOUT_S);
  seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL);
  printf("sched_inject: seed %llu\n", (unsigned long long)seed);
  for (int i = 0; i < NOBJ; i++) {
    objs[i].h.run = run;
    objs[i].rng = (uint32_t)(seed * 31 + (uint64_t)i) | 1;
    lot_push(&objs[i]);
  }
  static const uint32_t wk[] = {2, 3, 4, 8};
  for (int i = 0; i < 4; i++)
    one_round(wk[i], TOTAL / 4);
  uint64_t ran = 0;
  for (int i = 0; i < NOBJ; i++)
    ran += objs[i].ran;
  if (ran != atomic_load(&total_runs))
    fail("total runs mismatch");
  printf("sched_inject: %llu task runs on 2..8 workers, each readying ran once\n",
         (unsigned long long)ran);
  return 0;
}
