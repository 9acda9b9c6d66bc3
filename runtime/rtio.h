/* rtio.h — I/O for processes (SPEC §7, §10.7): the runtime's one hk_io_t
** and the asynchronous builtins (sleep, receive_timeout's timer, files,
** standard input, TCP sockets) served for VM processes. Internal to
** runtime/. docs/io.md, "I/O for processes", has the protocol.
**
** A process doing I/O submits one request while RUNNING, then blocks with
** an arm function that marks the request "armed" by an RMW on the request's
** own word; the completion callback (I/O thread) stores the result and sets
** DONE by an RMW on the same word, and wakes the process only if it saw the
** arm. So a completion that comes before the arm is seen by the arm (the
** worker continues), and one that comes after it sees the BLOCKED state
** (it wins the CAS or leaves WOKEN) — as for the mailbox mark. */
#ifndef HK_RTIO_H
#define HK_RTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/rt.h"

typedef struct hk_rtio hk_rtio_t;

/* What serving a request asks of the process's slice (the values of
** vmproc.c's SERVE_* codes). */
enum { HK_RTIO_CONTINUE = 0, HK_RTIO_BLOCK = 1, HK_RTIO_YIELD = 2 };

/* Fails the request of [vm] with a printf-style message (hk_vm_complete_fail
** formats it and stands in "out of memory" when it can't) and lets the slice
** continue: the common tail of every serve function that fails its caller.
** (A function call as the comma's right side, so a statement use is silent.) */
static inline int hk_rtio_continue(void) { return HK_RTIO_CONTINUE; }
#define HK_RTIO_FAIL(vm, ...) (hk_vm_complete_fail((vm), __VA_ARGS__), hk_rtio_continue())

/* Creates the runtime's I/O state; the I/O thread itself starts at the
** first I/O builtin (or now, with eager: --stats reports its backend).
** Returns 0, -ENOMEM. Ownership: *out owned (hk_rtio_free). Thread: init. */
int hk_rtio_new(hiko_runtime_t *rt, bool eager, hk_rtio_t **out);
/* Cancels outstanding I/O, closes every socket, joins the I/O thread.
** Call once every process has ended, while the scheduler still exists (a
** last completion may run the deadlock check). NULL is a no-op.
** Thread: the one destroying the runtime. */
void hk_rtio_stop(hk_rtio_t *rio);
/* Stops (if needed) and frees. Call after the workers stopped (they read
** the counts in their idle check) and before the process table is freed.
** NULL is a no-op. Thread: the one destroying the runtime. */
void hk_rtio_free(hk_rtio_t *rio);

/* "uring", "fallback", or "none" (never started). Returns borrowed. */
const char *hk_rtio_backend(hk_rtio_t *rio);
/* I/O operations submitted by worker [i] (SPEC §10.9 io_ops). */
uint64_t hk_rtio_io_ops(hk_rtio_t *rio, uint32_t i);

/* True if builtin [id] is served here. */
bool hk_rtio_serves(uint32_t id);
/* Serves the pending request of [vm] (a builtin hk_rtio_serves accepts).
** Returns HK_RTIO_*. Thread: p's worker. */
int hk_rtio_serve(hk_proc_t *p, hk_worker_t *w, hk_vm_t *vm);
/* host.serve_now for the socket sends and receives: false (declined,
** nothing changed), or true: completed, failed, or left pending with the
** request in flight (the slice stops; hk_rtio_serve then resumes it).
** Thread: p's worker, inside its slice. */
bool hk_rtio_serve_now(hk_proc_t *p, hk_vm_t *vm);
/* receive_timeout after the mailbox was found empty (ms > 0): completes
** with [dflt] once the timer fired, else blocks on mailbox and timer.
** Thread: p's worker. */
int hk_rtio_receive_timeout(hk_proc_t *p, hk_vm_t *vm, int64_t ms, hk_value_t dflt);
/* A message ended receive_timeout: the timer, if any, is cancelled. */
void hk_rtio_drop_wait(hk_proc_t *p);

/* p terminates: its pending operation is cancelled (a late completion is
** discarded) and the sockets it owns are closed. Thread: p's worker. */
void hk_rtio_proc_end(hk_proc_t *p);

/* True when no I/O request of any process is pending (two agreeing passes
** over the sharded counts, SPEC §10.8). Thread: any. */
bool hk_rtio_quiet(hk_rtio_t *rio);

#endif
