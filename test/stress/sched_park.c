/* Stress: park/wake storms. Non-worker threads inject a task when the
** workers are (about to be) parked and wait for it to run; the task
** sometimes readies a chain of children on its worker so that searching,
** stealing and parking interleave with the injections. A lost wake-up
** leaves a task unrun: the waiter's deadline then fails the test (it never
** hangs). Also checks the all-idle callback and that idle workers park.
** Prints the seed on failure. Exit 0 pass, 1 fail. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched/sched.h"

#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif
#ifdef __SANITIZE_THREAD__
#define ROUNDS (4000 * STRESS_SCALE)
#define DEADLINE_MS 10000
#define TIMEOUT_S 240
#else
#define ROUNDS (6000 * STRESS_SCALE)
#define DEADLINE_MS 3000
#define TIMEOUT_S 120
#endif
#define NINJ 2
#define CHAIN 8

typedef struct ptask {
  hk_task_t h;
  _Atomic int done;
  int children;
} ptask_t;

static hk_sched_t *sched;
static uint64_t seed;
static _Atomic uint64_t child_runs, idle_calls;

static void fail(const char *what) {
  fprintf(stderr, "sched_park: %s (seed %llu)\n", what, (unsigned long long)seed);
  exit(1);
}

static hk_task_result_t run_child(hk_task_t *t, hk_worker_t *w, int32_t *b) {
  (void)t;
  (void)w;
  (void)b;
  atomic_fetch_add_explicit(&child_runs, 1, memory_order_release);
  return HK_TASK_DONE;
}

static hk_task_result_t run_ping(hk_task_t *t, hk_worker_t *w, int32_t *b) {
  (void)b;
  ptask_t *p = (ptask_t *)(void *)t;
  static _Thread_local hk_task_t kids[CHAIN];
  /* Ready children on this worker: idle workers must wake and steal
  ** them, or this one runs them. The array is per worker thread; chains()
  ** waits for every child before the next round. */
  for (int i = 0; i < p->children; i++) {
    kids[i].run = run_child;
    if (i == 0)
      hk_sched_ready_next_owner(w, &kids[i]);
    else
      hk_sched_ready_local_owner(w, &kids[i]);
  }
  atomic_store_explicit(&p->done, 1, memory_order_release);
  return HK_TASK_DONE;
}

static uint64_t now_ms(void) { return hk_sched_now_ns() / 1000000u; }

static void wait_done(ptask_t *p) {
  uint64_t end = now_ms() + DEADLINE_MS;
  while (!atomic_load_explicit(&p->done, memory_order_acquire)) {
    if (now_ms() > end)
      fail("lost wake-up: an injected task did not run before the deadline");
    sched_yield();
  }
}

static void *injector(void *arg) {
  uint32_t r = (uint32_t)(uintptr_t)arg * 2654435761u + (uint32_t)seed;
  for (int i = 0; i < ROUNDS; i++) {
    r ^= r << 13, r ^= r >> 17, r ^= r << 5;
    ptask_t *q = malloc(sizeof *q);
    *q = (ptask_t){.h.run = run_ping};
    atomic_init(&q->done, 0);
    hk_sched_inject(sched, &q->h);
    wait_done(q);
    free(q);
    /* Let the workers go idle (or catch them half-way to parking). */
    unsigned pause = r % 4 == 0 ? 0 : r % 200;
    if (pause)
      usleep(pause);
  }
  return NULL;
}

static void on_idle(hk_sched_t *s, void *arg) {
  (void)s;
  (void)arg;
  atomic_fetch_add_explicit(&idle_calls, 1, memory_order_relaxed);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "sched_park: timeout\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(1);
}

/* Chains: one injected task readies CHAIN children each round, so parked
** workers get woken by local pushes, not only by injections. */
static void chains(int rounds) {
  static _Atomic uint64_t before;
  for (int i = 0; i < rounds; i++) {
    atomic_store(&before, atomic_load(&child_runs));
    ptask_t *q = malloc(sizeof *q);
    *q = (ptask_t){.h.run = run_ping, .children = CHAIN};
    atomic_init(&q->done, 0);
    hk_sched_inject(sched, &q->h);
    wait_done(q);
    uint64_t end = now_ms() + DEADLINE_MS;
    while (atomic_load(&child_runs) < atomic_load(&before) + CHAIN) {
      if (now_ms() > end)
        fail("lost wake-up: locally readied children did not run");
      sched_yield();
    }
    free(q);
    if (i % 3)
      usleep((unsigned)(i % 150));
  }
}

int main(int argc, char **argv) {
  signal(SIGALRM, on_alarm);
  alarm(TIMEOUT_S);
  seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL);
  printf("sched_park: seed %llu\n", (unsigned long long)seed);
  static const uint32_t wk[] = {2, 4, 8};
  uint64_t parks = 0;
  for (int k = 0; k < 3; k++) {
    hk_sched_config_t c = {.workers = wk[k], .seed = seed + k, .all_idle = on_idle};
    if (hk_sched_new(&sched, &c) != 0 || hk_sched_start(sched) != 0)
      fail("cannot start scheduler");
    pthread_t th[NINJ];
    for (int i = 0; i < NINJ; i++)
      pthread_create(&th[i], NULL, injector, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < NINJ; i++)
      pthread_join(th[i], NULL);
    chains(ROUNDS / 10);
    /* Idle: every worker must end up parked. */
    uint64_t end = now_ms() + DEADLINE_MS;
    while (!hk_sched_all_idle(sched)) {
      if (now_ms() > end)
        fail("workers did not all park when idle");
      usleep(1000);
    }
    for (uint32_t i = 0; i < wk[k]; i++) {
      hk_sched_counters_t cnt;
      hk_sched_counters(sched, i, &cnt);
      parks += cnt.parks;
    }
    hk_sched_free(sched);
  }
  if (atomic_load(&idle_calls) == 0)
    fail("all-idle callback never called");
  printf("sched_park: %d injections x %d threads, %d chains per worker count, "
         "%llu parks, %llu all-idle calls\n",
         ROUNDS, NINJ, ROUNDS / 10, (unsigned long long)parks,
         (unsigned long long)atomic_load(&idle_calls));
  return 0;
}
