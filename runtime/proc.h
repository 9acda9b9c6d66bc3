/* proc.h — process control blocks, their state word and lifecycle
** (SPEC §6, §10.2). Independent of the VM: what a process *executes* is a
** body reached through hk_procs_ops_t (the runtime plugs in the VM; the
** stress tests plug in small C state machines), and how a runnable process
** reaches a worker is the `ready` callback (the runtime plugs in sched/).
**
** ---- The state word (docs/runtime.md, "States") ----
**   bits 0-1  RUNNABLE 0, RUNNING 1, BLOCKED 2, TERMINATED 3
**   bit 2     CANCEL   cancel requested (SPEC §6.7)
**   bit 3     ARMING   BLOCKED, but its worker is still arming the wake
**                      conditions (mailbox mark, child links, I/O submit)
**   bit 4     WOKEN    a waker came while ARMING; the worker resumes it
**   bit 5     DOOMED   found deadlocked (SPEC §6.9): it fails when it runs
**                      next, even if a cancel comes first (hk_proc_doom)
**   bits 8-   the block reason (HK_WAIT_*)
** Only the process's own worker moves it out of RUNNING. Every transition out
** of BLOCKED is a CAS: exactly one waker wins and only the winner readies the
** process (SPEC §10.2.3). A waker that finds BLOCKED|ARMING leaves WOKEN (or
** CANCEL) by CAS instead; the arming worker's final CAS to plain BLOCKED then
** fails and it continues the process itself. So nobody but the arming worker
** touches the process between "blocked" and "armed", and once the final CAS
** succeeds that worker touches it no more (SPEC §10.5.2).
**
** ---- Waits re-check ----
** A woken process re-evaluates what it waited for (it runs its pending
** builtin again), so a stale wake (e.g. from a mailbox mark left by an earlier
** wait) is harmless; wake-ups are never lost because every wake condition is
** armed by an RMW on the condition's own word after the state says BLOCKED.
**
** ---- References ----
** A process record is reference counted through its pid-map entry: one
** reference for the map, one for being live (dropped at the end of
** termination), and one per temporary holder (a sender between lookup and
** push). The last unref drains late messages and frees the record. */
#ifndef HK_PROC_H
#define HK_PROC_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/mailbox.h"
#include "runtime/pidmap.h"
#include "sched/sched.h"
#include "vm/bcache.h"

typedef struct hk_procs hk_procs_t;
typedef struct hk_proc hk_proc_t;
typedef struct hk_child hk_child_t;
typedef struct hk_kids hk_kids_t;

enum {
  HK_PS_RUNNABLE = 0,
  HK_PS_RUNNING = 1,
  HK_PS_BLOCKED = 2,
  HK_PS_TERMINATED = 3,
  HK_PS_MASK = 3,
  HK_PS_CANCEL = 1u << 2,
  HK_PS_ARMING = 1u << 3,
  HK_PS_WOKEN = 1u << 4,
  HK_PS_DOOMED = 1u << 5,
};

/* Block reasons (bits of the state word; a waker names the ones it ends). */
enum {
  HK_WAIT_RECV = 1u << 8,  /* receive_message: mailbox mark */
  HK_WAIT_CHILD = 1u << 9, /* await_process, await_result, wait_any */
  HK_WAIT_TIMER = 1u << 10, /* receive_timeout's timer, sleep */
  HK_WAIT_IO = 1u << 11,   /* I/O, exec, blocking natives */
};

/* What a body's slice ended with. */
typedef enum hk_slice {
  HK_SLICE_YIELD,  /* budget spent or voluntary yield */
  HK_SLICE_BLOCK,  /* wants to block: p->wait is set (hk_proc_wait_*) */
  HK_SLICE_DONE,   /* finished: p->out_payload is the result (may be NULL) */
  HK_SLICE_FAILED, /* failed: p->out_payload is the failure (may be NULL) */
} hk_slice_t;

/* How a process ended (the child record's outcome). */
typedef enum hk_outcome {
  HK_OUT_NONE = 0, /* not ended */
  HK_OUT_DONE,     /* payload: the result block */
  HK_OUT_FAILED,   /* payload: the failure block */
  HK_OUT_CANCELLED /* payload: NULL */
} hk_outcome_t;

/* The weight of a receive or join wait in hk_pcounters_t.up/down. */
#define HK_QUIET_JOIN ((uint64_t)1 << 32)

/* Per-thread counters (SPEC §10.9). Each shard is written by one thread
** (relaxed store of its own load + n) and read by anyone (relaxed). */
typedef struct hk_pcounters {
  _Atomic uint64_t sent, received, dropped, spawns;
  _Atomic uint64_t created, done, failed, cancelled;
  _Atomic uint64_t detached_failed, mailbox_high, gc_runs;
  /* Quiescence (SPEC §10.8): two counts that only grow, one add each per
  ** event. [up]: +1 by whoever readies a process (a start, a wake), plus
  ** HK_QUIET_JOIN when the wake ends a receive or a join; [down]: +1 by
  ** the worker that blocks or ends one, plus HK_QUIET_JOIN when it blocks
  ** in a receive or a join. Summed over every shard, up - down is
  ** runnable - waiting * HK_QUIET_JOIN (mod 2^64): hk_procs_quiescence
  ** splits it. Growing only, equal sums read twice are a snapshot. */
  _Atomic uint64_t up, down;
  /* Processes that finished terminating (+1 where [created] has its +1's
  ** counterpart): without a process limit, the number of processes that
  ** exist is the sum of created - ended over every shard, so spawn and
  ** termination write no shared line (hk_procs_live). */
  _Atomic uint64_t ended;
} hk_pcounters_t;

typedef struct hk_procs_ops {
  /* Runs one slice of p's body on the calling worker. Thread: the worker. */
  hk_slice_t (*run)(hk_proc_t *p, hk_worker_t *w, int32_t *budget);
  /* Frees the body (called once, during termination, on p's worker or, for
  ** a process that never ran, on the thread that frees it). May be NULL. */
  void (*free_body)(hk_proc_t *p);
  /* Frees a message or result payload. Thread: any. */
  void (*drop_payload)(void *ud, void *payload);
  /* Makes p runnable: [w] is the calling worker when the caller is a
  ** process running on it (hand-off to run-next, SPEC §10.3.2), else NULL.
  ** Thread: any. */
  void (*ready)(void *ud, hk_proc_t *p, hk_worker_t *w);
  /* A root ended with [out] and [payload] (owned by the callee). May be
  ** NULL. Thread: p's worker. */
  void (*root_done)(void *ud, hk_proc_t *p, hk_outcome_t out, void *payload);
  /* Delivers [payload] to a pid-map record that is not a process (a port,
  ** e->kind != 0). Returns 0 or -ESRCH (closed). Takes payload on success.
  ** May be NULL. Thread: any. */
  int (*send_other)(void *ud, hk_pmentry_t *e, void *payload);
  void *ud;
} hk_procs_ops_t;

/* A message envelope in a mailbox. [payload] (may be NULL) is freed with
** ops.drop_payload if the message is dropped; [aux] is the sender's to use
** (e.g. an immediate value that needs no payload block). An envelope whose
** aux[0] is HK_ENV_IN_PAYLOAD (and payload non-NULL) lives inside its
** payload's own memory (a VM message block made with room for it,
** hk_value_copy_out_room): one allocation per message. hk_envelope_free
** ignores such an envelope, which dies with its payload; so whoever frees
** or hands on the payload reads the envelope first. */
typedef struct hk_envelope {
  hk_mnode_t node; /* first */
  void *payload;
  uint64_t aux[2];
} hk_envelope_t;
#define HK_ENV_IN_PAYLOAD UINT64_MAX

/* What a blocking process waits for (set by the body before returning
** HK_SLICE_BLOCK; owner-only). 24 bytes: a receive or a join needs no arm
** function of its own (proc.c knows theirs), so a custom wait's arm shares
** the room of a one-child join's link. */
typedef bool (*hk_arm_fn)(hk_proc_t *p);
typedef struct hk_wait {
  uint16_t reason;      /* HK_WAIT_* */
  uint16_t custom;      /* hk_proc_wait_custom: arm and arg below */
  uint32_t nlinks;
  union {
    hk_child_t **links; /* HK_WAIT_CHILD: the children waited for */
    void *arg;          /* custom: for its arm function */
  };
  union {
    hk_child_t *one;    /* hk_proc_wait_child: links points here */
    hk_arm_fn arm;      /* custom: returns true if the condition already holds */
  };
} hk_wait_t;

/* 136 bytes (docs/runtime.md, "Memory of a process"), 16-byte aligned
** (hk_proc_register stores every field once, with no memset first: a new
** field must be initialised there); 16-byte aligned
** (hk_proc_alloc; 64 when the record's size is a multiple of 64); the
** body's memory follows in the same allocation (hk_proc_extra). Cache
** lines: what senders write or read per message (the mailbox's tail they
** exchange, the state word, the pid and the root pid) is in the first 64
** bytes; what a busy receiver reads or writes per message (the mailbox's
** consumer fields with the receive gate, and procs) is the last 32, at
** least 64 bytes from the tail, the state word and the flags, so the two
** never share a line (proc.c asserts it; bench/README.md, "Fan-in lines,
** stop 20", "Fan-in, stop 22"). */
struct hk_proc {
  /* Immutable after creation. */
  hk_pmentry_t e;           /* pid and references; first */
  /* The mailbox's tail: every sender exchanges it (hk_mailbox_push). */
  hk_mtail_t mtail;
  /* Written by wakers, cancellers and the owner: every change is an RMW.
  ** Senders read it (a target that ended) and wake through it: beside the
  ** tail. */
  _Atomic uint32_t state;
  /* The allocation's block-cache class (hk_proc_alloc); HK_PROC_MALLOCED:
  ** a record larger than HK_BCACHE_MAX. Immutable. */
  uint8_t bclass;
  /* Owner only, none written per message: the runtime's flags
  ** (runtime/rt.h, vmproc.c and rtio.c), in the control block's room so
  ** that its per-process data is 24 bytes (bench/README.md, "Memory per
  ** process 6"). */
  bool rt_recv_empty;       /* serve_now found the mailbox empty for the receive now pending */
  /* What the next slice does first (vmproc.c, one test when neither):
  ** bit 0 (HK_RT_RECV_BLOCKED): the slice ended blocked in receive_message,
  ** serve it; the bits above: short slices still to run, the receiver of
  ** its sends being behind (hk_proc_behind, HK_RT_BEHIND_BUDGET). */
  uint8_t rt_start;
  bool rt_io_owner;         /* registered as a possible socket owner */
  hk_kids_t *kids;          /* children by pid (proc.c), NULL before the first */
  hk_child_t *link;         /* my record in my parent (NULL for a root) */
  /* NULL for a root. Borrowed, no reference: valid until this process
  ** publishes its outcome (hk_proc_parent). */
  hk_proc_t *parent;
  uint64_t root_pid;        /* the root of my tree */
  /* Owner only (the worker running the process; the creator before it is
  ** first readied): no atomics. */
  hk_task_t task;
  union {
    hk_wait_t wait;
    /* Set by the body with DONE/FAILED, read at once by the slice's end:
    ** a process that ends waits for nothing. */
    void *out_payload;
  };
  /* Immutable. Read by the owner's every take (its count), so out of the
  ** senders' line, like the gate (hk_proc_gate). */
  hk_procs_t *procs;
  /* The mailbox's consumer fields (its owner's: head, run, the gate). */
  hk_mailbox_t mbox;
};
#define HK_PROC_MALLOCED UINT8_MAX
/* e.owner_bits of a process: its body is live (the creator sets it before
** the first ready, hk_proc_set_body; cleared once free_body ran). The body
** itself is the caller's, in the record's extra bytes (hk_proc_extra): the
** control block has no pointer to it (8 bytes of every process). */
#define HK_PROC_BODY 1u
static inline bool hk_proc_has_body(const hk_proc_t *p) { return p->e.owner_bits & HK_PROC_BODY; }

/* The receive gate (p->mbox.user, the consumer's line): nonzero when a
** receive must not take the fast way, i.e. when p has no live body
** (HK_GATE_NOBODY), a cancel of p was requested while it could run
** (HK_PS_CANCEL) or p was doomed (HK_PS_DOOMED). Copies of the body bit and
** of the state word's two bits, so that a busy receiver reads nothing per
** message in the line its senders exchange the tail in (the pid-map entry
** and the state word are there; each read made the next sender's exchange
** invalidate the receiver's copy: bench/README.md, "Fan-in, stop 22").
** hk_proc_alloc sets NOBODY, hk_proc_set_body clears it before the first
** ready (nobody can cancel a process before its creator readies it), the
** end of the body sets it again; CANCEL and DOOMED are OR-ed in (relaxed
** RMWs) after the state word's RMW that set them, and stay until p ends. */
#define HK_GATE_NOBODY 1u
static inline uint32_t hk_proc_gate(const hk_proc_t *p) {
  /* Relaxed: see hk_proc_cancel_requested and hk_proc_doomed. */
  return atomic_load_explicit(&p->mbox.user, memory_order_relaxed);
}
static inline void hk_proc_set_body(hk_proc_t *p) {
  p->e.owner_bits |= HK_PROC_BODY;
  /* Relaxed: the first ready publishes it. */
  atomic_store_explicit(&p->mbox.user, 0, memory_order_relaxed);
}
/* The body is gone (free_body ran). A store: CANCEL and DOOMED matter
** only to a body's receives. */
static inline void hk_proc_clear_body(hk_proc_t *p) {
  p->e.owner_bits &= (uint8_t)~HK_PROC_BODY;
  atomic_store_explicit(&p->mbox.user, HK_GATE_NOBODY, memory_order_relaxed);
}

/* The record a parent keeps of a child (SPEC §6.4.4: 32 bytes, the result
** until joined in it or in a block it points to). Shared by parent and
** child, freed when both dropped it (whoever drops last frees the payload
** with its own p->procs). */
struct hk_child {
  uint64_t pid;
  _Atomic uint32_t word;  /* LIVE 0, LIVE|WAITING 1, DONE 2 (see proc.c) */
  _Atomic uint8_t refs;   /* parent's + child's */
  /* Written by the child before DONE (release), read by the parent after
  ** seeing DONE (acquire). A result that is an immediate value travels
  ** here without a payload block: imm_tag is its tag (0: payload is a
  ** block or NULL) and imm_bits its bits (hk_proc_result_imm). */
  uint8_t outcome;        /* hk_outcome_t */
  uint8_t imm_tag;
  /* HK_CHILD_DETACHED: immutable once linked (the child reads it before
  ** DONE); HK_CHILD_CONSUMED: the parent's, written after DONE. */
  uint8_t flags;
  union {
    void *payload;
    uint64_t imm_bits;
  };
  hk_child_t *chain;      /* parent only: the kid table's bucket */
};
enum { HK_CHILD_DETACHED = 1, HK_CHILD_CONSUMED = 2 };
static inline bool hk_child_detached(const hk_child_t *c) {
  return (c->flags & HK_CHILD_DETACHED) != 0;
}

/* ---- The process table ---------------------------------------------------- */

typedef struct hk_procs_config {
  uint64_t max_processes; /* live processes; 0: unlimited */
} hk_procs_config_t;

/* Returns 0, -ENOMEM. Ownership: borrows ops (must outlive the table); *out
** owned (hk_procs_free). Thread: any. */
int hk_procs_new(hk_procs_t **out, const hk_procs_ops_t *ops, const hk_procs_config_t *cfg);
/* Frees the table; every process must have terminated and every record been
** released (call after the workers stopped). Thread: no concurrent call. */
void hk_procs_free(hk_procs_t *procs);

hk_pidmap_t *hk_procs_pidmap(hk_procs_t *procs);
/* Processes that exist (registered, not yet through termination): 0 only
** when none does. With a process limit, the limit's own count; without,
** the sum over [shards] (the per-thread ones; the shared one is added) of
** created - ended, read in two passes that must agree (the counts only
** grow, so equal passes are a snapshot; not 0 while they keep changing).
** Thread: any. */
uint64_t hk_procs_live(hk_procs_t *procs, hk_pcounters_t *const *shards, size_t n);
/* The shared counter shard (for threads without their own). */
hk_pcounters_t *hk_procs_shared_counters(hk_procs_t *procs);
/* Makes [c] the calling thread's counter shard (a worker, at its start;
** NULL: use the shared one). Thread: the calling thread. */
void hk_procs_bind_thread(hk_pcounters_t *c);
/* The calling thread's shard, or the shared one. */
hk_pcounters_t *hk_procs_counters(hk_procs_t *procs);
/* Adds message counts (SPEC §10.9) for traffic that does not go through a
** mailbox (ports, port.c) to the calling thread's shard or the shared one.
** Thread: any. */
void hk_procs_count_msgs(hk_procs_t *procs, uint64_t sent, uint64_t received, uint64_t dropped);

/* Sums every shard's quiescence counts: [shards] are the per-thread ones
** (the shared one is added). Returns true if two passes agreed (a
** consistent snapshot), with *runnable and *waiting set. Thread: any. */
bool hk_procs_quiescence(hk_procs_t *procs, hk_pcounters_t *const *shards, size_t n,
                         uint64_t *runnable, uint64_t *waiting);

/* How a slice ended (for traces): */
enum { HK_END_YIELD, HK_END_BLOCK, HK_END_DONE, HK_END_FAIL, HK_END_CANCEL };

/* The task function of every process (p->task.run is set to it). A host
** that wants to know how each slice ended calls hk_proc_run_slice from its
** own task function instead. Thread: the worker [w]. */
hk_task_result_t hk_proc_task_run(hk_task_t *t, hk_worker_t *w, int32_t *budget);
hk_task_result_t hk_proc_run_slice(hk_task_t *t, hk_worker_t *w, int32_t *budget, int *end);
static inline hk_proc_t *hk_proc_of_task(hk_task_t *t) {
  return (hk_proc_t *)(void *)((char *)t - offsetof(hk_proc_t, task));
}

/* ---- Creating ------------------------------------------------------------ */

/* Creates a process: a root when [parent] is NULL, else a child of [parent]
** (the caller is parent's worker), detached or not. The process is in the
** pid map, RUNNABLE but not yet readied: with no extra bytes (hk_proc_alloc(0)),
** so a body that needs data uses hk_proc_alloc and hk_proc_register; mark the
** body (hk_proc_set_body) if free_body is to run, then hk_proc_start.
** Returns 0, -EAGAIN (process limit reached: the caller fails with
** "spawn: process limit reached (N)"), -ENOMEM.
** Ownership: *out is borrowed: it is valid until the process terminates
** unless the caller takes a reference (hk_proc_ref). Thread: any for a root,
** parent's worker for a child. */
int hk_proc_new(hk_procs_t *procs, hk_proc_t *parent, bool detached, hk_proc_t **out);

/* hk_proc_new in two steps, so that a body can live in the record's own
** allocation: hk_proc_alloc returns a record followed by [extra] bytes
** for the caller (hk_proc_extra, aligned to 16), or NULL; the caller
** prepares its body there, then hk_proc_register initialises every field
** of the record (until then it holds only its allocation's class and no
** body, hk_proc_has_body false: use no other field, only hk_proc_extra and
** hk_proc_dispose), gives it its pid and
** links it as hk_proc_new does (same errors; on failure the caller
** still owns p and frees it with hk_proc_dispose). The extra bytes are
** freed with the record (after its last reference), so a body placed there
** must not own anything once free_body ran. Thread: as hk_proc_new. */
hk_proc_t *hk_proc_alloc(size_t extra);
/* The extra bytes hk_proc_alloc(extra) really provides (>= extra: the
** record is a block-cache class, 16-byte steps up to 768 bytes and 64-byte
** steps beyond), so a caller can use the rounding. */
static inline size_t hk_proc_room(size_t extra) {
  _Static_assert(HK_BCACHE_LARGE_STEP == 64, "beyond the small classes, as aligned_alloc(64)");
  size_t size = sizeof(hk_proc_t) + extra;
  size_t mask = size <= HK_BCACHE_SMALL_MAX ? HK_BCACHE_SMALL_STEP - 1 : HK_BCACHE_LARGE_STEP - 1;
  return ((size + mask) & ~mask) - sizeof(hk_proc_t);
}
int hk_proc_register(hk_procs_t *procs, hk_proc_t *parent, bool detached, hk_proc_t *p);
void hk_proc_dispose(hk_proc_t *p);
static inline void *hk_proc_extra(hk_proc_t *p) { return p + 1; }
/* First readying of a new process ([w]: the calling worker for run-next
** hand-off, or NULL). Thread: the creator. */
void hk_proc_start(hk_proc_t *p, hk_worker_t *w);

static inline uint64_t hk_proc_pid(const hk_proc_t *p) { return p->e.pid; }
/* [p]'s parent's record (NULL for a root), without a reference: it stays
** allocated while p's body can run, i.e. until p publishes its outcome,
** even if the parent ends first (a parent that ends before a child leaves
** the child a reference, docs/runtime.md "Children, joining and
** cancellation"), so p's body may send to it with hk_proc_send_env.
** Thread: p's owner. */
static inline hk_proc_t *hk_proc_parent(const hk_proc_t *p) { return p->parent; }
static inline void hk_proc_ref(hk_proc_t *p) { hk_pmentry_ref(&p->e); }
static inline void hk_proc_unref(hk_proc_t *p) { hk_pmentry_unref(&p->e); }

/* Looks up a live or recently terminated process by pid. Returns it with a
** new reference (hk_proc_unref), or NULL. Thread: any. */
hk_proc_t *hk_proc_get(hk_procs_t *procs, uint64_t pid);

/* ---- Messages -------------------------------------------------------------- */

/* Sends [payload] to [pid] (SPEC §6.5.1): pushes it, waking the receiver if
** its push observed the mark. [w]: the calling worker when the caller is a
** process running on it (run-next hand-off), else NULL. Returns 0, or
** -ESRCH when no live process has that pid (the payload is then dropped and
** counted). Ownership: takes payload (also on failure). Thread: any. */
int hk_proc_send(hk_procs_t *procs, uint64_t pid, void *payload, hk_worker_t *w);

/* As hk_proc_send, to a process the caller holds a reference to (a sender
** may cache the record of its usual receiver and skip the pid-map lookup).
** Returns 0, or -ESRCH if p has terminated (payload dropped and counted).
** Ownership: takes payload; borrows p. Thread: any. */
int hk_proc_send_ref(hk_procs_t *procs, hk_proc_t *p, void *payload, hk_worker_t *w);

/* An envelope to fill and send with hk_proc_send_env. Returns NULL when
** out of memory. Ownership: owned (hk_proc_send_env or hk_envelope_free).
** Envelopes are usually freed on the receiver's thread: they come from the
** per-thread block cache like message blocks, inline (vm/bcache.h). */
static inline hk_envelope_t *hk_envelope_new(void) {
  hk_envelope_t *env = hk_bcache_alloc(sizeof(hk_envelope_t));
  if (env) env->aux[0] = 0; /* not HK_ENV_IN_PAYLOAD */
  return env;
}
static inline void hk_envelope_free(hk_envelope_t *env) {
  if (env->payload && env->aux[0] == HK_ENV_IN_PAYLOAD) return; /* freed with it */
  hk_bcache_free(env, sizeof *env);
}
/* True when p's mailbox has no message to take now (the owner's cheap look
** before hk_proc_recv_env_owner, with the same effect on the statistics as
** its -EAGAIN). Thread: p's worker. */
void hk_proc_note_run_owner(hk_proc_t *p, uint32_t run);
/* Ends p's mailbox run (it was found empty, or p ends): a run longer than
** 1 is noted in the statistics' high-water mark (SPEC §10.9; the mark is
** the largest run, docs/runtime.md). Thread: p's worker. */
static inline void hk_proc_run_end_owner(hk_proc_t *p) {
  uint32_t run = hk_mailbox_run_end(&p->mbox);
  if (run > 1) hk_proc_note_run_owner(p, run);
}
static inline bool hk_proc_recv_empty_owner(hk_proc_t *p) {
  if (!hk_mailbox_empty_owner(&p->mbox, &p->mtail)) return false;
  hk_proc_run_end_owner(p);
  return true;
}
/* Back-pressure: a receiver that has taken more than this many messages
** since it last found its mailbox empty is behind its senders (the run,
** mailbox.h's len_hint; measured in bench/README.md, "Fan-in backlog, stop
** 18"). */
#define HK_PROC_BEHIND_RUN 1024u
/* True when [p] is behind (above): its senders then run short slices
** (HK_RT_BEHIND in vmproc.c), so that the receiver gets more of the
** worker they share and the backlog's memory is reused while still warm.
** A relaxed read of the receiver's statistic, on the senders' slow paths
** only. Thread: any. */
static inline bool hk_proc_behind(const hk_proc_t *p) {
  return atomic_load_explicit(&p->mbox.len_hint, memory_order_relaxed) > HK_PROC_BEHIND_RUN;
}
/* As hk_proc_send_ref with a whole envelope. Ownership: takes env. */
int hk_proc_send_env(hk_procs_t *procs, hk_proc_t *p, hk_envelope_t *env, hk_worker_t *w);
/* hk_proc_send_env for a sender that holds a reference to p in *[held] (a
** VM's target of its previous send): if p has terminated, the message is
** dropped as there, the reference released and *held cleared. Returns
** true, so that a host's send can end with it (a tail call, no frame).
** Ownership: takes env. Thread: any (held: the sender's). */
bool hk_proc_send_env_held(hk_procs_t *procs, hk_proc_t *p, hk_envelope_t *env, hk_worker_t *w,
                           uintptr_t *held);
/* Sends [env] to the process [pid] of the tree [root_pid] found under the
** pid map's shard lock, without taking a reference to it (no write to the
** receiver's first cache line, which its own worker reads all the time:
** a spawned child's one message to its parent). Returns 0 (sent), -ESRCH
** (no such process, or it terminated: dropped and counted, env freed), or
** -EXDEV (a port, or a process of another tree: nothing done, env still
** the caller's). Thread: any. */
int hk_proc_send_env_pid(hk_procs_t *procs, uint64_t pid, uint64_t root_pid, hk_envelope_t *env,
                         hk_worker_t *w);
/* As hk_proc_recv_owner, returning the whole envelope (owned: free it with
** hk_envelope_free after taking its payload). */
int hk_proc_recv_env_owner(hk_proc_t *p, hk_envelope_t **env);
/* hk_proc_recv_env_owner's usual case alone (hk_mailbox_pop_next_owner):
** the oldest message when another is linked behind it, else NULL with
** nothing taken (then ask hk_proc_recv_env_owner). Small, so that the link
** step inlines it into the VM's receive. Thread: owner. */
hk_envelope_t *hk_proc_recv_next_owner(hk_proc_t *p);

/* Takes the oldest message. Returns 0 with *payload owned by the caller,
** -EAGAIN if the mailbox is empty (block with hk_proc_wait_recv), -EBUSY if
** a sender is half-way through its push (end the slice with a yield and try
** again). Thread: owner. */
int hk_proc_recv_owner(hk_proc_t *p, void **payload);

/* ---- Waiting (called by the body just before returning HK_SLICE_BLOCK) ---- */

void hk_proc_wait_recv(hk_proc_t *p);
/* Waits until one of [links] (children of p) is DONE. [links] stays owned by
** the body and must live until p runs again. */
void hk_proc_wait_children(hk_proc_t *p, hk_child_t **links, uint32_t n);
/* A pointer the body keeps with p's table of children, for what only a
** parent needs (NULL until set): its room, or NULL while p has no table
** (before its first child). The body frees what it points to before the
** table goes (free_body runs first). Thread: p's owner. */
static inline void **hk_proc_kids_user(hk_proc_t *p) {
  return p->kids ? (void **)(void *)p->kids : NULL; /* its first member (proc.c) */
}
/* Waits until [c] (a child of p) is DONE; the link is kept in p itself. */
void hk_proc_wait_child(hk_proc_t *p, hk_child_t *c);
/* A custom wait: [arm] runs after the state says BLOCKED|ARMING (e.g. it
** submits the I/O request); the waker calls hk_proc_wake with [reason]. */
void hk_proc_wait_custom(hk_proc_t *p, uint32_t reason, hk_arm_fn arm, void *arg);

/* Ends a block of [p] with one of [reasons]. Returns true if this call made
** p runnable (it was readied through ops.ready, with [w] as there), false
** if p was not blocked for such a reason or another waker won (or p was
** still arming: it then continues by itself). Thread: any. */
bool hk_proc_wake(hk_proc_t *p, uint32_t reasons, hk_worker_t *w);

/* ---- Children ------------------------------------------------------------- */

/* p's record of child [pid], or NULL if [pid] is not p's child.
** Thread: owner. */
hk_child_t *hk_proc_child(hk_proc_t *p, uint64_t pid);
/* True once the child terminated (acquire: its outcome is readable). */
bool hk_child_done(const hk_child_t *c);
/* Consumes a terminated child's outcome: returns it and moves the payload
** to *payload (owned by the caller). A second call returns HK_OUT_NONE
** (already consumed). Thread: owner (the parent). */
hk_outcome_t hk_child_consume(hk_child_t *c, void **payload);

/* The immediate result of a child (see hk_child_t): true with *tag and
** *bits set when the outcome hk_child_consume returned (DONE, payload
** NULL) carries one. Thread: owner (the parent), after consuming. */
static inline bool hk_child_imm(const hk_child_t *c, uint8_t *tag, uint64_t *bits) {
  *tag = c->imm_tag;
  *bits = c->imm_bits;
  return c->imm_tag != 0;
}

/* Makes p's result an immediate value, [tag] (non-zero) and [bits], kept
** in p's child record instead of a payload block: the body calls it just
** before returning HK_SLICE_DONE with p->out_payload NULL. Only for a
** process with a parent (p->link). Thread: owner. */
static inline void hk_proc_result_imm(hk_proc_t *p, uint8_t tag, uint64_t bits) {
  p->link->imm_tag = tag;
  p->link->imm_bits = bits;
}

/* ---- Cancellation ---------------------------------------------------------- */

/* Requests cancellation of [p] (SPEC §6.7): a blocked process is readied at
** once and terminates with Cancelled before running hiko code; a runnable or
** running one at its next slice boundary; a terminated one is untouched.
** [w] as for hk_proc_wake. Thread: any. */
void hk_proc_cancel(hk_proc_t *p, hk_worker_t *w);
/* `cancel` of a child (SPEC §6.7.2 "If p is blocked, it is cancelled at
** once: it terminates with Cancelled"): a blocked [p] (not arming, not
** doomed by the deadlock check) is terminated on this worker before the
** call returns, with its blocked descendants, its pending I/O cancelled
** and its outcome published to its parent; otherwise as hk_proc_cancel.
** The caller keeps its own reference to p. Thread: a worker ([w]), or any
** with w NULL (then as hk_proc_cancel). */
void hk_proc_cancel_child(hk_proc_t *p, hk_worker_t *w);

/* Deadlock (SPEC §6.9.1): marks [p] DOOMED if it is BLOCKED (armed) for one
** of [reasons]; it stays blocked until woken (hk_proc_wake keeps the mark).
** A doomed process fails as soon as it runs again: its body checks
** hk_proc_doomed first, and a cancel that comes later does not turn it into
** Cancelled (its failure was decided at detection, which came first,
** SPEC §6.7.2). Returns true if this call marked p. Thread: any. */
bool hk_proc_doom(hk_proc_t *p, uint32_t reasons);
/* True once p was marked by hk_proc_doom. Thread: owner. */
static inline bool hk_proc_doomed(const hk_proc_t *p) {
  /* Relaxed: the owner runs p after the wake's acquire/release CAS, which
  ** orders the mark (an earlier RMW on the same word) before it. */
  return (atomic_load_explicit(&p->state, memory_order_relaxed) & HK_PS_DOOMED) != 0;
}

/* True once a cancel of p was requested while p could run (SPEC §6.7.2;
** a blocked p is cancelled before it runs again), read from the receive
** gate. Thread: owner. Relaxed: a caller that has just taken a message
** with the mailbox's acquire sees every cancel that happened before that
** message was sent (hk_proc_cancel sets the gate's bit before it returns,
** and the bit stays set until p terminates). */
static inline bool hk_proc_cancel_requested(const hk_proc_t *p) {
  return (hk_proc_gate(p) & HK_PS_CANCEL) != 0;
}

/* The state word now (for tests and statistics). Thread: any. */
static inline uint32_t hk_proc_state(const hk_proc_t *p) {
  /* Acquire: a caller that sees TERMINATED may read the outcome. */
  return atomic_load_explicit(&p->state, memory_order_acquire);
}

#endif
