/* bench/sched/sched_bench: scheduler benchmarks. Prints one JSON object per
** line, {"bench":"sched","metric":NAME,"value":NUMBER,"unit":UNIT}; each
** value is the median of several runs in this invocation. Every benchmark
** checks its own result (all tasks ran) and exits 1 if not.
**   sched_bench [workers]     (default: the CPUs we may run on)
** Metrics: spawn_run_per_s_per_worker (a spawner per worker readies 128
** children into run-next per slice; children run to completion),
** yield_per_s_per_worker (4 tasks per worker yielding), the same two per
** CPU-second of the process (*_per_cpu_s: less distorted by other load on a
** shared machine), balance_us (10^5 tasks readied on one worker of a parked
** pool until every worker ran one), wake_p50_us/wake_p99_us (injection into
** a parked pool until the task runs), wake_baseline_futex_p50_us (the same
** hand-off to a thread on a bare futex), idle_cpu_pct and
** idle_wakeups_per_s (workers' CPU time and context switches over 2 s idle).
*/
#include <dirent.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched/sched.h"

#define RUNS 5

static uint32_t nworkers;

static void emit(const char *metric, double value, const char *unit) {
  printf("{\"bench\":\"sched\",\"metric\":\"%s\",\"value\":%.3f,\"unit\":\"%s\"}\n",
         metric, value, unit);
  fflush(stdout);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

static double secs(void) { return (double)hk_sched_now_ns() / 1e9; }

static void die(const char *what) {
  fprintf(stderr, "sched_bench: %s\n", what);
  exit(1);
}

static hk_sched_t *start(void (*on_start)(hk_worker_t *, void *)) {
  hk_sched_t *s;
  hk_sched_config_t c = {.workers = nworkers, .worker_start = on_start};
  if (hk_sched_new(&s, &c) != 0 || hk_sched_start(s) != 0)
    die("cannot start the scheduler");
  return s;
}

static void wait_until(_Atomic uint64_t *v, uint64_t want) {
  double end = secs() + 60;
  while (atomic_load_explicit(v, memory_order_acquire) < want) {
    if (secs() > end)
      die("timeout: tasks did not all run");
    usleep(200);
  }
}

static void wait_parked(hk_sched_t *s) {
  double end = secs() + 10;
  while (!hk_sched_all_idle(s)) {
    if (secs() > end)
      die("timeout: workers did not park");
    usleep(1000);
  }
}

static double cpu_secs(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---- spawn_run: a spawner per worker creates children into run-next --- */

#define KIDS 128
struct spawner;
typedef struct kid { /* a child: the task header plus its parent */
  hk_task_t h;
  struct spawner *parent;
} kid_t;

typedef struct spawner {
  alignas(64) hk_task_t h; /* size a multiple of 64 for aligned_alloc */
  kid_t kids[KIDS];
  _Atomic uint32_t outstanding; /* children not yet done */
  uint64_t left;                /* children still to create */
} spawner_t;

static _Atomic uint64_t finished;

static hk_task_result_t run_kid_counted(hk_task_t *t, hk_worker_t *w,
                                        int32_t *b) {
  (void)w;
  (void)b;
  spawner_t *sp = ((kid_t *)(void *)t)->parent;
  atomic_fetch_sub_explicit(&sp->outstanding, 1, memory_order_release);
  return HK_TASK_DONE;
}

static hk_task_result_t run_spawner(hk_task_t *t, hk_worker_t *w, int32_t *b) {
  spawner_t *sp = (spawner_t *)(void *)t;
  (void)b;
  if (atomic_load_explicit(&sp->outstanding, memory_order_acquire) != 0)
    return HK_TASK_YIELD; /* a child was stolen and still runs elsewhere */
  uint32_t n = sp->left < KIDS ? (uint32_t)sp->left : KIDS;
  sp->left -= n;
  atomic_store_explicit(&sp->outstanding, n, memory_order_relaxed);
  for (uint32_t i = 0; i < n; i++) {
    sp->kids[i].h.run = run_kid_counted;
    sp->kids[i].parent = sp;
    hk_sched_ready_next_owner(w, &sp->kids[i].h);
  }
  if (n == 0) {
    atomic_fetch_add_explicit(&finished, 1, memory_order_release);
    return HK_TASK_DONE;
  }
  return HK_TASK_YIELD;
}

/* Returns tasks/s per worker (wall clock); *per_cpu = tasks per CPU-second
** of the whole process, which a loaded shared machine distorts less. */
static double bench_spawn_run(uint64_t per_worker, double *per_cpu) {
  hk_sched_t *s = start(NULL);
  double c0 = cpu_secs(RUSAGE_SELF);
  spawner_t *sp = aligned_alloc(64, sizeof(spawner_t) * nworkers);
  atomic_store(&finished, 0);
  double t0 = secs();
  for (uint32_t i = 0; i < nworkers; i++) {
    sp[i].h.run = run_spawner;
    atomic_init(&sp[i].outstanding, 0);
    sp[i].left = per_worker;
    hk_sched_inject(s, &sp[i].h);
  }
  wait_until(&finished, nworkers);
  double dt = secs() - t0;
  *per_cpu = (double)per_worker * nworkers / (cpu_secs(RUSAGE_SELF) - c0);
  hk_sched_free(s);
  free(sp);
  return (double)per_worker / dt;
}

/* ---- yield: tasks that yield many times ------------------------------ */

typedef struct yielder {
  hk_task_t h;
  uint64_t left;
} yielder_t;

static hk_task_result_t run_yielder(hk_task_t *t, hk_worker_t *w, int32_t *b) {
  (void)w;
  (void)b;
  yielder_t *y = (yielder_t *)(void *)t;
  if (--y->left == 0) {
    atomic_fetch_add_explicit(&finished, 1, memory_order_release);
    return HK_TASK_DONE;
  }
  return HK_TASK_YIELD;
}

static double bench_yield(uint64_t per_task, double *per_cpu) {
  uint32_t ntasks = 4 * nworkers;
  hk_sched_t *s = start(NULL);
  double c0 = cpu_secs(RUSAGE_SELF);
  yielder_t *y = calloc(ntasks, sizeof *y);
  atomic_store(&finished, 0);
  double t0 = secs();
  for (uint32_t i = 0; i < ntasks; i++) {
    y[i].h.run = run_yielder;
    y[i].left = per_task;
    hk_sched_inject(s, &y[i].h);
  }
  wait_until(&finished, ntasks);
  double dt = secs() - t0;
  *per_cpu = (double)per_task * ntasks / (cpu_secs(RUSAGE_SELF) - c0);
  hk_sched_free(s);
  free(y);
  return (double)per_task * ntasks / dt / nworkers;
}

/* ---- balance: a burst of 10^5 tasks readied on one worker ------------ */

#define BURST 100000
static hk_task_t burst[BURST];
static _Atomic uint64_t first_ns[1024];
static _Atomic uint64_t burst_done;

static hk_task_result_t run_burst_task(hk_task_t *t, hk_worker_t *w,
                                       int32_t *b) {
  (void)t;
  (void)b;
  uint32_t i = hk_sched_worker_index(w);
  if (atomic_load_explicit(&first_ns[i], memory_order_relaxed) == 0)
    atomic_store_explicit(&first_ns[i], hk_sched_now_ns(), memory_order_relaxed);
  /* About a microsecond of work. */
  volatile uint32_t x = 0;
  for (int k = 0; k < 300; k++)
    x += (uint32_t)k;
  atomic_fetch_add_explicit(&burst_done, 1, memory_order_release);
  return HK_TASK_DONE;
}

static _Atomic uint64_t burst_start;

static hk_task_result_t run_burster(hk_task_t *t, hk_worker_t *w, int32_t *b) {
  (void)t;
  (void)b;
  uint32_t i = hk_sched_worker_index(w);
  atomic_store_explicit(&burst_start, hk_sched_now_ns(), memory_order_relaxed);
  atomic_store_explicit(&first_ns[i], hk_sched_now_ns(), memory_order_relaxed);
  for (int k = 0; k < BURST; k++) {
    burst[k].run = run_burst_task;
    hk_sched_ready_local_owner(w, &burst[k]);
  }
  return HK_TASK_DONE;
}

static double bench_balance(void) {
  hk_sched_t *s = start(NULL);
  wait_parked(s);
  for (uint32_t i = 0; i < nworkers; i++)
    atomic_store(&first_ns[i], 0);
  atomic_store(&burst_done, 0);
  hk_task_t b = {.run = run_burster};
  hk_sched_inject(s, &b);
  wait_until(&burst_done, BURST);
  hk_sched_free(s);
  uint64_t t0 = atomic_load(&burst_start), last = t0;
  for (uint32_t i = 0; i < nworkers; i++) {
    uint64_t f = atomic_load(&first_ns[i]);
    if (f == 0)
      die("balance: a worker never ran a burst task");
    if (f > last)
      last = f;
  }
  return (double)(last - t0) / 1e3;
}

/* ---- wake: a parked worker woken by an injection ---------------------- */

static _Atomic uint64_t woke_ns;

static hk_task_result_t run_stamp(hk_task_t *t, hk_worker_t *w, int32_t *b) {
  (void)t;
  (void)w;
  (void)b;
  atomic_store_explicit(&woke_ns, hk_sched_now_ns(), memory_order_release);
  return HK_TASK_DONE;
}

#define WAKES 200
static void bench_wake(double *p50, double *p99) {
  static double lat[WAKES];
  hk_sched_t *s = start(NULL);
  for (int i = 0; i < WAKES; i++) {
    usleep(3000);
    if (!hk_sched_all_idle(s)) {
      i--;
      continue;
    }
    atomic_store(&woke_ns, 0);
    hk_task_t t = {.run = run_stamp};
    uint64_t t0 = hk_sched_now_ns();
    hk_sched_inject(s, &t);
    while (atomic_load_explicit(&woke_ns, memory_order_acquire) == 0)
      ;
    lat[i] = (double)(atomic_load(&woke_ns) - t0) / 1e3;
  }
  hk_sched_free(s);
  qsort(lat, WAKES, sizeof lat[0], cmp_double);
  *p50 = lat[WAKES / 2];
  *p99 = lat[WAKES * 99 / 100];
}

/* Baseline: the same hand-off to a thread sleeping on a bare futex. */
static _Atomic uint32_t fut;
static _Atomic uint64_t fut_woke;
static _Atomic int fut_quit;

static void *futex_sleeper(void *arg) {
  (void)arg;
  for (;;) {
    while (atomic_load(&fut) == 0)
      syscall(SYS_futex, (uint32_t *)&fut, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    if (atomic_load(&fut_quit))
      return NULL;
    atomic_store(&fut, 0);
    atomic_store_explicit(&fut_woke, hk_sched_now_ns(), memory_order_release);
  }
}

static double bench_futex_baseline(void) {
  static double lat[WAKES];
  pthread_t th;
  pthread_create(&th, NULL, futex_sleeper, NULL);
  for (int i = 0; i < WAKES; i++) {
    usleep(3000);
    atomic_store(&fut_woke, 0);
    uint64_t t0 = hk_sched_now_ns();
    atomic_store(&fut, 1);
    syscall(SYS_futex, (uint32_t *)&fut, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    while (atomic_load_explicit(&fut_woke, memory_order_acquire) == 0)
      ;
    lat[i] = (double)(atomic_load(&fut_woke) - t0) / 1e3;
  }
  atomic_store(&fut_quit, 1);
  atomic_store(&fut, 1);
  syscall(SYS_futex, (uint32_t *)&fut, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  pthread_join(th, NULL);
  qsort(lat, WAKES, sizeof lat[0], cmp_double);
  return lat[WAKES / 2];
}

/* ---- idle: CPU and wake-ups with nothing to do ----------------------- */

static long switches(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}

static void bench_idle(double *cpu_pct, double *wakeups) {
  hk_sched_t *s = start(NULL);
  wait_parked(s);
  usleep(100000); /* settle */
  double c0 = cpu_secs(RUSAGE_SELF) - cpu_secs(RUSAGE_THREAD);
  long w0 = switches(RUSAGE_SELF) - switches(RUSAGE_THREAD);
  double t0 = secs();
  usleep(2000000);
  double dt = secs() - t0;
  double c1 = cpu_secs(RUSAGE_SELF) - cpu_secs(RUSAGE_THREAD);
  long w1 = switches(RUSAGE_SELF) - switches(RUSAGE_THREAD);
  hk_sched_free(s);
  *cpu_pct = c1 - c0 > 0 ? (c1 - c0) / dt * 100.0 : 0.0;
  *wakeups = w1 > w0 ? (double)(w1 - w0) / dt : 0.0;
}

int main(int argc, char **argv) {
  hk_sched_t *probe;
  if (hk_sched_new(&probe, NULL) != 0)
    die("cannot create a scheduler");
  nworkers = argc > 1 ? (uint32_t)atoi(argv[1]) : hk_sched_workers(probe);
  hk_sched_free(probe);
  if (nworkers < 1 || nworkers > 1024)
    die("workers must be 1..1024");

  double v[RUNS], v2[RUNS];
  emit("workers", nworkers, "count");
  for (int i = 0; i < RUNS; i++)
    v[i] = bench_spawn_run(4000000, &v2[i]);
  emit("spawn_run_per_s_per_worker", median(v, RUNS), "tasks/s");
  emit("spawn_run_per_cpu_s", median(v2, RUNS), "tasks/cpu-s");
  for (int i = 0; i < RUNS; i++)
    v[i] = bench_yield(500000, &v2[i]);
  emit("yield_per_s_per_worker", median(v, RUNS), "yields/s");
  emit("yield_per_cpu_s", median(v2, RUNS), "yields/cpu-s");
  for (int i = 0; i < RUNS; i++)
    v[i] = bench_balance();
  emit("balance_us", median(v, RUNS), "us");
  for (int i = 0; i < 3; i++)
    bench_wake(&v[i], &v2[i]);
  emit("wake_p50_us", median(v, 3), "us");
  emit("wake_p99_us", median(v2, 3), "us");
  emit("wake_baseline_futex_p50_us", bench_futex_baseline(), "us");
  for (int i = 0; i < 3; i++)
    bench_idle(&v[i], &v2[i]);
  emit("idle_cpu_pct", median(v, 3), "%");
  emit("idle_wakeups_per_s", median(v2, 3), "1/s");
  return 0;
}
