/* rt.h — the multi-threaded process runtime behind include/hiko.h (internal
** to runtime/). rt.c: the runtime object, workers, roots, joins, deadlock
** detection, statistics; vmproc.c: a process running a VM instance and the
** process builtins of SPEC §6 and the global store; trace.c: the Perfetto trace. */
#ifndef HK_RT_H
#define HK_RT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "hiko.h"
#include "runtime/proc.h"
#include "sched/sched.h"
#include "vm/vm.h"

typedef struct hk_trace hk_trace_t;

/* Per-worker state (hk_sched_worker_user). Owner-written; aligned so that
** two workers' shards never share a cache line. */
typedef struct hk_wstate {
  alignas(64) hk_pcounters_t c; /* first: the shard of this worker */
  uint32_t index;
  hk_trace_t *trace;
} hk_wstate_t;

/* A root process, its tree's shared state and its outcome (SPEC §6.8, §12).
** Lifetime (docs/runtime.md, "Root lifetime"): the tree's shared state
** (program reference, image, global store) lives while any process of the
** tree exists: [live] counts them (+1 at registration, -1 when the body is
** freed, hk_rt_tree_leave). The record (pid, outcome) stays in rt->roots
** until the root was joined AND the tree is gone; whichever comes second
** unlinks and frees it. [joined] and [gone] are guarded by rt->lock. */
typedef struct hk_root {
  hiko_pid_t pid;
  hiko_runtime_t *rt;    /* immutable: its processes find their runtime here (hk_rt_of) */
  hiko_program_t *prog;  /* a reference, dropped when the tree is gone */
  const hk_image_t *img; /* prog's image; NULL once the tree is gone */
  /* The tree's shared global store (vm.h): made and exported into by the
  ** root's own thread only (at a spawn, or before it hands a value out),
  ** freed when the tree is gone (hk_rt_tree_leave). Children never read
  ** this pointer: a child's VM holds the store and its array itself. */
  hk_globals_t *globals;
  _Atomic uint32_t live; /* processes of the tree that exist */
  bool ended, joined, gone;
  hiko_result_t res;
  struct hk_root *next;
} hk_root_t;

struct hiko_runtime {
  /* Immutable after hiko_runtime_create. */
  hiko_config_t cfg;   /* its strings and string arrays point into owned */
  char *owned;         /* one block: copies of cfg's strings (hiko.h: "strings are copied") */
  hk_host_t host;
  hk_sched_t *sched;
  hk_procs_t *procs;
  hk_procs_ops_t ops;
  uint32_t nworkers;
  hk_wstate_t *ws;       /* [nworkers] */
  hk_pcounters_t **shards; /* [nworkers] pointers to ws[i].c */
  uint64_t t0_ns;        /* runtime start, for traces and wall_ms */
  /* monotonic_ms origin: the first call's time, set once by CAS (SPEC §8.11). */
  _Atomic uint64_t mono_base_ns;
  /* Guarded by lock. */
  pthread_mutex_t lock;
  pthread_cond_t cond;   /* a root ended, or every process ended */
  hk_root_t *roots;
  bool started, stopped;
  /* Output: one write per print, serialised (SPEC §6.13.3). */
  pthread_mutex_t out_lock;
  /* Any thread. */
  _Atomic int exited; /* `exit n` was called: exit_code holds n */
  _Atomic int exit_code;
  _Atomic uint64_t deadlocks;
  _Atomic uint64_t ports_open;
  hk_trace_t *trace_all;
  struct hk_rtio *rio; /* rtio.c: the I/O thread and its builtins */
  struct hk_natives *natives; /* native.c: registered builtins, helpers (lazy) */
};

/* The runtime that owns process [p]. */
static inline hiko_runtime_t *hk_rt_of(hk_proc_t *p);

/* vmproc.c */
/* Body callbacks for hk_procs_ops_t. */
hk_slice_t hk_vmproc_run(hk_proc_t *p, hk_worker_t *w, int32_t *budget);
void hk_vmproc_free_body(hk_proc_t *p);
void hk_vmproc_drop_payload(void *ud, void *payload);
/* hk_host_t.serve_now: serves self, send_message and a receive_message
** that finds a message inside the slice. Thread: the VM's worker. */
bool hk_vmproc_serve_now(void *ud, hk_vm_t *vm);
/* hk_host_t.send_now: send_message (to, v) inside the slice, without a
** request; true (sent, or the sender failed), false (declined: a global
** export failed, which the request's path reports). Thread: the VM's worker. */
bool hk_vmproc_send_now(void *ud, hk_vm_t *vm, hk_value_t to, hk_value_t v);
/* hk_host_t.send_tuple_now: send_message (to, (c1, .., cn)) inside the
** slice, the message block written from the components; true (sent, or
** the sender failed), false (declined: not the previous send's target, a
** component that needs a copy, a global export that failed). Thread: the
** VM's worker. */
bool hk_vmproc_send_tuple_now(void *ud, hk_vm_t *vm, hk_value_t to, const hk_value_t *items,
                              uint32_t n);
/* hk_host_t.receive_now: receive_message inside the slice, without a
** request: 2 (a block adopted), 1 (an immediate), -1 (none now: serve()
** blocks, yields or fails). Thread: the VM's worker. */
int hk_vmproc_receive_now(void *ud, hk_vm_t *vm, hk_value_t *out);
/* The process whose instance [vm] is (placed in its record). */
hk_proc_t *hk_vmproc_of(hk_vm_t *vm);
/* Creates the root process of [img] (not started). Returns 0 or -errno. */
int hk_vmproc_new_root(hiko_runtime_t *rt, hk_root_t *root, hk_proc_t **out);
/* Renders the failure value held in message block [m] (SPEC §6.3.4);
** NULL means Cancelled. Returns malloc'ed text or NULL. */
char *hk_vmproc_render_failure_msg(const hk_image_t *img, hk_msg_t *m);

/* rt.c */
hiko_runtime_t *hk_rt_from_procs_ud(void *ud);
/* `exit n` from any process: ends every root (SPEC §6.8.3). */
void hk_rt_exit(hiko_runtime_t *rt, int code);

/* True on a thread of [rt] that runs host code: a worker or a helper
** running a blocking native. API calls that wait for the runtime refuse
** there with -EBUSY (SPEC §12.3.5). */
bool hk_rt_on_runtime_thread(const hiko_runtime_t *rt);

/* The CLOCK_REALTIME time [ms] (>= 0) milliseconds from now: a deadline
** for pthread_cond_timedwait. Thread: any. */
struct timespec hk_rt_deadline_ms(int ms);
/* SPEC §6.9: if nothing is runnable or pending, fails every process
** blocked in a receive or a join. Thread: any. */
void hk_rt_check_deadlock(hiko_runtime_t *rt);
/* Records the failure of a root: its message and its failure value (taken;
** NULL when it could not be built: it is then rebuilt from the message). */
void hk_rt_root_failed(hiko_runtime_t *rt, hiko_pid_t pid, const char *message,
                       hiko_value_t *failure);

/* A worker thread's ends of processes of one tree not yet subtracted from
** the tree's count (docs/runtime.md, "Root lifetime"): [r]->live exceeds
** the processes of r that exist by the sum of every thread's [n] for r.
** A spawn of r on this thread takes one of them instead of adding to the
** count; hk_rt_tree_flush subtracts the rest: before the worker looks for
** work elsewhere, when a process of another tree ends or spends a whole
** slice on it, and when [n] reaches a bound. [rt] is set on a worker of a threaded runtime only
** (worker_start): other threads always count at once. Thread: its own. */
typedef struct hk_tree_credit {
  hiko_runtime_t *rt; /* the worker's runtime, or NULL: no credit kept */
  hk_root_t *r;       /* the tree of [n] (stale while n is 0) */
  uint32_t n;
} hk_tree_credit_t;
extern _Thread_local hk_tree_credit_t hk_tree_credit;

/* A process of [r]'s tree was registered. Thread: its creator (the root's
** spawner, or a live process of the tree, so the count is not 0). */
static inline void hk_rt_tree_enter(hk_root_t *r) {
  hk_tree_credit_t *c = &hk_tree_credit;
  if (c->n && c->r == r) {
    c->n--; /* an ended process's count passes to the new one */
    return;
  }
  /* Relaxed: the creator already holds a counted reference (its own). */
  atomic_fetch_add_explicit(&r->live, 1, memory_order_relaxed);
}
/* Credit kept per worker before it is subtracted (hk_tree_credit): a spawn
** loop's children end in batches of a slice's spawns, well under it. */
#define HK_TREE_CREDIT_MAX 1024u
/* hk_rt_tree_leave when the end cannot simply be added to the credit. */
void hk_rt_tree_leave_slow(hiko_runtime_t *rt, hk_root_t *r);
/* A process of [r]'s tree freed its body: the last one frees the tree's
** shared state, and the record too if the root was joined. On a worker the
** end is kept as credit (hk_tree_credit). Thread: any (may take rt->lock;
** never called with it held). */
static inline void hk_rt_tree_leave(hiko_runtime_t *rt, hk_root_t *r) {
  hk_tree_credit_t *c = &hk_tree_credit;
  if (c->rt == rt && c->r == r && c->n + 1 < HK_TREE_CREDIT_MAX) c->n++;
  else hk_rt_tree_leave_slow(rt, r);
}
/* Subtracts this thread's credit from its tree's count (which may free the
** tree). Thread: any; never called with rt->lock held. */
void hk_rt_tree_flush(void);
/* Flushes the credit if it is not [r]'s: a worker whose process of [r]
** spent a slice (one that runs for ever must not keep another tree's state
** alive). */
static inline void hk_rt_tree_running(hk_root_t *r) {
  hk_tree_credit_t *c = &hk_tree_credit;
  if (__builtin_expect(c->n != 0, 0) && c->r != r) hk_rt_tree_flush();
}

/* port.c: delivers [v] (of vm's heap) to port record [e] as an API value.
** Returns 0, -ESRCH (closed), -ENOMEM. */
int hk_port_send_value(hiko_runtime_t *rt, hk_pmentry_t *e, hk_vm_t *vm, hk_value_t v);
/* The program of the tree whose root is [root_pid], or NULL when that tree
** is gone (every process of it has terminated). Returns owned: a new
** reference (hiko_program_release). Thread: any (takes rt->lock). */
hiko_program_t *hk_rt_tree_program(hiko_runtime_t *rt, uint64_t root_pid);

/* trace.c */
int hk_trace_new(hk_trace_t **out);
void hk_trace_free(hk_trace_t *t);
void hk_trace_slice(hk_trace_t *t, uint64_t pid, uint64_t t0_ns, uint64_t t1_ns,
                    int64_t reductions, int end);
/* Writes the trace of every worker to [path]. Returns 0 or -errno. */
int hk_trace_write(const char *path, hk_trace_t *const *per_worker, uint32_t n, uint64_t base_ns);

/* The runtime's per-process data, right after the control block
** (hk_proc_extra: a process record has no pointer to it). Its flags are
** in the control block (p->rt_*: recv_empty, serve_now found the mailbox
** empty for the receive now pending, so serve() goes straight to blocking,
** arming the mark re-checks the mailbox; recv_blocked, the slice ended
** blocking in receive_message, so the next slice serves it before entering
** hk_vm_run; io_owner, rtio.c registered it as a possible socket owner). */
typedef struct hk_pdata {
  hk_root_t *root;       /* the root of my tree; its rt is my runtime */
  /* The request of the builtin it waits for: rtio.c's pending I/O request,
  ** or native.c's pending native call with the low bit set (one request
  ** at a time: hk_pd_native); NULL when none. */
  void *io;
} hk_pdata_t;

/* [p]'s runtime data. Valid from registration until the body is freed. */
static inline hk_pdata_t *hk_pd_of(hk_proc_t *p) { return (hk_pdata_t *)hk_proc_extra(p); }
static inline hiko_runtime_t *hk_rt_of(hk_proc_t *p) { return hk_pd_of(p)->root->rt; }
/* pd->io as rtio.c's request (NULL when none, or a native call). */
static inline void *hk_pd_io(const hk_pdata_t *pd) {
  return ((uintptr_t)pd->io & 1u) ? NULL : pd->io;
}
/* pd->io as native.c's pending call (NULL when none, or an I/O request). */
static inline void *hk_pd_native(const hk_pdata_t *pd) {
  uintptr_t t = (uintptr_t)pd->io;
  return (t & 1u) ? (void *)(t & ~(uintptr_t)1u) : NULL;
}
/* The program process [p] runs (its root's). */
static inline hiko_program_t *hk_rt_program_of(hk_proc_t *p) { return hk_pd_of(p)->root->prog; }

#endif
