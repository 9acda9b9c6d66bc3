/* sched/runq.h: a worker's bounded run queue (SPEC §10.3.1). A 256-slot
** single-producer multi-consumer ring in the style of Go and Tokio: the
** owner pushes at the tail and pops at the head; thieves take half of the
** queued tasks with one CAS on the head. Internal to sched/ (and its tests).
** The memory-ordering argument is in runq.c and docs/scheduler.md.
*/
#ifndef HK_RUNQ_H
#define HK_RUNQ_H

#include <stdatomic.h>
#include <stdint.h>

#include "sched/sched.h"

#define HK_RUNQ_SIZE 256u /* a power of two; indices wrap mod 2^32 */

typedef struct hk_runq {
  /* Next slot to consume. Consumers (owner and thieves) advance it with a
  ** CAS; it only grows (mod 2^32). */
  _Atomic uint32_t head;
  /* Next slot to fill. Written by the owner only (release store). */
  _Atomic uint32_t tail;
  /* Written by the owner (or a thief filling its own ring), read by any
  ** consumer. Atomic so that a thief's speculative read of a slot that the
  ** owner is overwriting is not a data race (its CAS then fails). */
  _Atomic(hk_task_t *) slot[HK_RUNQ_SIZE];
} hk_runq_t;

/* Make [q] empty. Thread: init. */
void hk_runq_init(hk_runq_t *q);

/* Push [t] at the tail. Returns 0, or -EAGAIN when the ring is full (the
** caller then moves half of it to the injection queue, see
** hk_runq_grab_half_owner). Ownership: the ring borrows [t] until it is
** popped or stolen. Thread: owner. */
int hk_runq_push_owner(hk_runq_t *q, hk_task_t *t);

/* Pop the task at the head, or NULL when empty; *left is set to the tasks
** still queued after it (0 when empty; thieves may take more at any time).
** Thread: owner. */
hk_task_t *hk_runq_pop_owner(hk_runq_t *q, uint32_t *left);

/* Overflow: when the ring is full, take its older half (HK_RUNQ_SIZE/2
** tasks, oldest first) into out[] with one CAS. Returns the number taken:
** HK_RUNQ_SIZE/2, or 0 when the ring is no longer full or a thief got in
** first (then push again). Ownership: the caller owns the tasks in out[].
** Thread: owner. */
uint32_t hk_runq_grab_half_owner(hk_runq_t *q, hk_task_t **out);

/* Steal half (rounded up) of [victim]'s tasks into [own], the calling
** worker's ring (limited by the room left in [own]). Returns one stolen
** task for the caller to run at once (not left in [own]) and sets *nstolen
** to the number taken including it; NULL and *nstolen = 0 when the victim
** is empty. Ownership: the caller owns the returned task; [own] borrows
** the others. Thread: the owner of [own]; [victim] may be any other ring. */
hk_task_t *hk_runq_steal_spmc(hk_runq_t *victim, hk_runq_t *own,
                              uint32_t *nstolen);

/* Number of queued tasks (exact for the owner when no thief is active,
** otherwise a snapshot). Thread: any. */
uint32_t hk_runq_len(const hk_runq_t *q);

#endif
