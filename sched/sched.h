/* sched/sched.h: the work-stealing scheduler. It runs opaque tasks and knows
** nothing of the VM (SPEC §10.1, §10.3, §10.4, §10.9). docs/scheduler.md has
** the design and the memory-ordering argument.
**
** A task is an intrusive header (hk_task_t) embedded by the user, e.g. in a
** process control block; the scheduler never allocates on the hot path.
** Readying a task hands it to the scheduler; the scheduler hands it back by
** calling t->run on exactly one worker. A task is in at most one queue and
** run by at most one worker at any time PROVIDED the user readies it only
** when it is not already queued or running (the runtime guarantees that with
** the CAS on its own state word, SPEC §10.2.3).
*/
#ifndef HK_SCHED_H
#define HK_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct hk_sched hk_sched_t;
typedef struct hk_worker hk_worker_t;
typedef struct hk_task hk_task_t;

/* What a run function tells the scheduler. */
typedef enum hk_task_result {
  /* Slice over (budget spent, or voluntary yield): the scheduler puts the
  ** task at the tail of this worker's ring (never run-next, SPEC §10.3.3). */
  HK_TASK_YIELD = 0,
  /* The task is waiting. The scheduler forgets it; whoever wakes it readies
  ** it again with one of the hk_sched_ready* functions. */
  HK_TASK_BLOCKED = 1,
  /* The task has finished. The scheduler forgets it. */
  HK_TASK_DONE = 2,
} hk_task_result_t;

/* Run one slice of [t] on worker [w] (the calling thread).
** [budget] is in/out: on entry, the reductions left in this slice (> 0);
** the task subtracts what it used (it may go to 0 or below). A slice starts
** with the configured slice budget; a task taken from run-next continues the
** slice of the task that readied it and gets what is left (SPEC §10.3.2).
** After run returns BLOCKED or DONE the scheduler never reads or writes [t]
** again, so run may publish [t] to wakers (state CAS, mailbox mark) as its
** last action, provided run itself touches [t] no more after that point.
** Thread: the worker [w]. */
typedef hk_task_result_t (*hk_task_run_fn)(hk_task_t *t, hk_worker_t *w,
                                           int32_t *budget);

/* The intrusive task header. Embed it and recover the outer struct with
** offsetof. The user sets [run] before the first ready and may change it
** while the task is neither queued nor running. [next] belongs to the
** scheduler while the task is queued (the injection queue links through
** it); the user may use it only while the task is running or blocked. */
struct hk_task {
  hk_task_run_fn run;
  hk_task_t *next;
};

/* Per-worker counters, SPEC §10.9. Each is written only by its worker and
** read with relaxed atomics, so a snapshot is per-field exact but fields
** may be from slightly different moments. */
typedef struct hk_sched_counters {
  uint64_t slices; /* calls of a run function */
  uint64_t steals; /* successful steal operations (a batch counts once) */
  uint64_t stolen; /* tasks taken by those steals */
  uint64_t parks;  /* times the worker went to sleep */
} hk_sched_counters_t;

typedef struct hk_sched_config {
  /* Number of workers, 1..1024; 0 means the CPUs this process may run on
  ** (sched_getaffinity(2)). */
  uint32_t workers;
  /* Reductions per slice; 0 means 2000 (SPEC §6.10.1). */
  int32_t slice_budget;
  /* Seed of the per-worker random victim order; 0 picks one from the
  ** clock. In deterministic mode it decides every choice (see below). */
  uint64_t seed;
  /* Deterministic mode: no threads are started; hk_sched_run_det() runs
  ** the N virtual workers on the calling thread, one scheduling step at a
  ** time, the seed choosing which worker steps next and every victim.
  ** Same seed + same tasks => same order of run calls. */
  bool deterministic;
  /* Called on each worker thread before its first task / after its last
  ** (to set up and tear down per-worker state, e.g. with
  ** hk_sched_worker_set_user). May be NULL. */
  void (*worker_start)(hk_worker_t *w, void *arg);
  void (*worker_stop)(hk_worker_t *w, void *arg);
  /* Called on a worker thread that found no local work, before it
  ** searches (and maybe spins and parks): per-worker state that must not
  ** wait for its next task is published here. Not in deterministic mode.
  ** May be NULL. */
  void (*worker_idle)(hk_worker_t *w, void *arg);
  /* Called by a worker that is about to park and sees every other worker
  ** parked as well (a hint for deadlock detection, SPEC §10.8: the callee
  ** must confirm with its own sharded counts). It may ready tasks; the
  ** worker then does not sleep. Not called again until some worker has
  ** woken in between. No shared write is added to the hot path for it.
  ** May be NULL. Thread: a worker, with no scheduler lock held. */
  void (*all_idle)(hk_sched_t *s, void *arg);
  void *arg; /* passed to the callbacks */
} hk_sched_config_t;

/* Create a scheduler (workers not started). [cfg] may be NULL for defaults.
** Returns 0, -EINVAL (bad worker count or budget) or -ENOMEM.
** Ownership: returns owned *out (free with hk_sched_free). Thread: any. */
int hk_sched_new(hk_sched_t **out, const hk_sched_config_t *cfg);

/* Start the worker threads. Tasks may be injected before this.
** Returns 0, -EINVAL (already started, or deterministic mode) or the
** -errno of pthread_create (then no worker runs). Thread: any non-worker. */
int hk_sched_start(hk_sched_t *s);

/* Ask every worker to exit after its current slice; queued tasks stay
** where they are (the caller owns them again after hk_sched_join).
** Idempotent; a stopped scheduler cannot be started again.
** Thread: any, including a worker inside a run function. */
void hk_sched_stop(hk_sched_t *s);

/* Wait until every worker thread has exited (after hk_sched_stop).
** Returns 0. Thread: any non-worker. */
int hk_sched_join(hk_sched_t *s);

/* Stop, join and free. NULL is a no-op. Thread: any non-worker. */
void hk_sched_free(hk_sched_t *s);

/* Deterministic mode only: run virtual workers on the calling thread until
** no task is queued anywhere or hk_sched_stop is called. Returns the number
** of slices run, or -EINVAL if not in deterministic mode. Tasks may be
** readied from the run functions (the current worker is the virtual one)
** or injected from this thread. Thread: one thread at a time. */
int64_t hk_sched_run_det(hk_sched_t *s);

/* ---- Making a task runnable ------------------------------------------ */

/* The first member of every (otherwise private) hk_worker_t: the part the
** inline functions below use. Owner thread only. */
typedef struct hk_worker_head {
  /* Readied to run-next by the running task and not published yet: the
  ** worker runs it when the run returns, or publishes it to run-next
  ** (docs/scheduler.md, "Direct hand-off"). */
  hk_task_t *pending;
} hk_worker_head_t;

/* hk_sched_ready_next_owner when run-next is occupied. Thread: owner. */
void hk_sched_ready_next_displace(hk_worker_t *w, hk_task_t *t);

/* Ready [t] into run-next of [w], from a task running on [w] (a woken
** receiver, a spawned child, a woken parent). The previous occupant moves
** to the tail of w's ring. Wakes a parked worker if none is searching.
** Inline: a woken receiver's switch does one load and one store here.
** Ownership: the scheduler borrows [t] until it runs it. Thread: owner. */
static inline void hk_sched_ready_next_owner(hk_worker_t *w, hk_task_t *t) {
  hk_worker_head_t *h = (hk_worker_head_t *)(void *)w;
  if (h->pending)
    hk_sched_ready_next_displace(w, t);
  else
    h->pending = t;
}

/* Ready [t] at the tail of w's ring (work made runnable on a worker but
** not by the running task for immediate hand-off). Wakes a parked worker
** if none is searching. Ownership: as above. Thread: owner. */
void hk_sched_ready_local_owner(hk_worker_t *w, hk_task_t *t);

/* Ready [t] from any thread: through the global injection queue, then
** wake a parked worker if none is searching.
** Ownership: as above. Thread: any. */
void hk_sched_inject(hk_sched_t *s, hk_task_t *t);

/* Inject [n] tasks linked through ->next from [first] to [last] in one
** batch (one lock). [last]->next is overwritten. Thread: any. */
void hk_sched_inject_list(hk_sched_t *s, hk_task_t *first, hk_task_t *last,
                          size_t n);

/* Ready [t] from any thread: the local ring if the caller is a worker of
** [s], otherwise the injection queue. Thread: any. */
void hk_sched_ready(hk_sched_t *s, hk_task_t *t);

/* ---- Queries and per-worker data -------------------------------------- */

/* The worker the calling thread is (thread-local read), or NULL on a
** non-worker thread. In deterministic mode, the virtual worker stepping. */
hk_worker_t *hk_sched_self(void);

/* w's index, 0..workers-1 (the trace `tid`). Thread: any. */
uint32_t hk_sched_worker_index(const hk_worker_t *w);

/* The scheduler that owns [w]. Thread: any. */
hk_sched_t *hk_sched_worker_sched(const hk_worker_t *w);

/* The per-worker user pointer (NULL until set). Thread: owner (or any
** thread while the workers are not running). */
void *hk_sched_worker_user(const hk_worker_t *w);
void hk_sched_worker_set_user(hk_worker_t *w, void *user);

/* Worker [i] of [s], i < hk_sched_workers(s). Thread: any. */
hk_worker_t *hk_sched_worker(hk_sched_t *s, uint32_t i);

/* The number of workers. Thread: any. */
uint32_t hk_sched_workers(const hk_sched_t *s);

/* The seed in use (print it when a test fails). Thread: any. */
uint64_t hk_sched_seed(const hk_sched_t *s);

/* Snapshot of worker [i]'s counters into *out. Thread: any. */
void hk_sched_counters(const hk_sched_t *s, uint32_t i,
                       hk_sched_counters_t *out);

/* True when every worker is parked at the moment of the call (a racy
** hint; confirm with your own counts). Always false in deterministic mode
** (use the all_idle callback there). Thread: any. */
bool hk_sched_all_idle(const hk_sched_t *s);

/* Deferred injection for a thread that is not a worker (the I/O thread):
** after hk_sched_defer_begin(s), hk_sched_ready(s, t) on this thread
** collects t instead of injecting it; hk_sched_defer_flush(s) injects what
** was collected as one list with at most one wake-up. A waker that makes
** several tasks runnable in a row thus wakes a parked worker once, and is
** not preempted by the worker it woke before it has made the others
** runnable. Thread: the calling thread (the state is thread-local). */
void hk_sched_defer_begin(hk_sched_t *s);
void hk_sched_defer_flush(hk_sched_t *s);

/* Monotonic clock in nanoseconds (vDSO, no syscall), for trace
** timestamps. Thread: any. */
static inline uint64_t hk_sched_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
