/* sched/injq.h: the global injection queue (SPEC §10.3.5): multi-producer,
** multi-consumer, a mutex around a circular array of task pointers (grown
** by doubling, kept at its peak), plus a length readable without the lock.
** An array rather than a list linked through hk_task_t.next: a pop of a
** batch reads consecutive pointers instead of chasing one task's link to
** the next (each a cache miss on a process record queued long before,
** often on the other core: 12-13 % of skynet's CPU on one worker, perf;
** bench/README.md, "Lines two workers share, stop 20"), and an overflow's
** push writes no task. Internal to sched/ (and its tests).
*/
#ifndef HK_INJQ_H
#define HK_INJQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "sched/sched.h"

typedef struct hk_injq {
  pthread_mutex_t lock;
  hk_task_t **buf;   /* guarded by lock: cap slots (a power of two), or NULL */
  size_t cap, head;  /* guarded by lock: the oldest task is buf[head] */
  /* Written under lock; read without it as a hint (hk_injq_len). */
  _Atomic size_t len;
} hk_injq_t;

/* Returns 0 or -errno of pthread_mutex_init. Thread: init. */
int hk_injq_init(hk_injq_t *q);
/* Thread: init (no other thread uses [q]). */
void hk_injq_destroy(hk_injq_t *q);
/* Append [n] tasks linked through ->next from [first] to [last], in that
** order, with one lock acquisition (last->next is cleared). n == 0 is a
** no-op. Out of memory for the array stops the process (SPEC §14: a
** message and status 70). Ownership: the queue borrows the tasks until
** popped. Thread: any. */
void hk_injq_push_list(hk_injq_t *q, hk_task_t *first, hk_task_t *last,
                       size_t n);
/* Append tasks[0..n-1], in that order (as hk_injq_push_list; the tasks'
** ->next are not touched). */
void hk_injq_push_array(hk_injq_t *q, hk_task_t *const *tasks, size_t n);
/* Remove up to [max] tasks from the front into out[], oldest first.
** Returns the number removed (0 when empty).
** Ownership: the caller owns the tasks in out[]. Thread: any. */
size_t hk_injq_pop_batch(hk_injq_t *q, hk_task_t **out, size_t max);
/* Number of queued tasks: exact under the lock, a snapshot otherwise
** (relaxed read; callers that need more order it with a fence, see
** sched.c). Thread: any. */
size_t hk_injq_len(hk_injq_t *q);

#endif
