/* rtio.c — I/O for processes: the runtime's hk_io_t, the asynchronous
** builtins of SPEC §7, socket ownership, the pending-I/O counts of the
** deadlock check (SPEC §10.8). Protocol in rtio.h and docs/io.md.
**
** A request record (rq_t) has two owners: the process (until it consumes
** or abandons the request) and the completion callback (until it has
** stored the result). The word [rq->word] decides who frees: the callback
** sets DONE, the process sets ABANDONED (RMWs); whoever comes second frees
** the record and, for a result nobody will take, its resources. The
** callback also owns one reference to the process, taken at submission, so
** its wake never touches a freed record. */
#include "runtime/rtio.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "vm/bcache.h"
#include "vm/builtins.h"

/* ---- The runtime's I/O state ------------------------------------------- */

/* One shard of the pending-I/O count per worker, one for the I/O thread,
** one shared (other threads, RMWs). */
typedef struct shard {
  _Atomic uint64_t pending; /* requests submitted and not finished (wrapping) */
  _Atomic uint64_t epoch;   /* bumped by every change */
  _Atomic uint64_t ops;     /* requests submitted (statistics) */
  char pad[64 - 3 * sizeof(uint64_t)];
} shard_t;

/* Pids that may own sockets (so a terminating process without sockets
** skips the scan of the socket table). */
typedef struct owner {
  uint64_t pid;
  struct owner *next;
} owner_t;
#define OWNER_BUCKETS 1024u

struct hk_rtio {
  hiko_runtime_t *rt;
  uint32_t nw;          /* workers; shards [nw] is io's, [nw + 1] shared */
  shard_t *sh;
  hk_fsroot_t *fsroot;  /* --fs-root, or NULL */
  int fsroot_err;       /* hk_fsroot_new's error (file builtins fail with it) */
  pthread_mutex_t lock; /* guards the creation of io and the owner set */
  pthread_rwlock_t stop_lock; /* hk_rtio_proc_end (read) vs hk_rtio_stop */
  _Atomic(hk_io_t *) io;
  int io_err;           /* the creation's error, if it failed */
  owner_t *owners[OWNER_BUCKETS];
  _Atomic uint64_t nowners;
  /* HIKO_IO_LATENCY=1: latency histograms (log2 ns buckets), printed at
  ** the end. [cb]: callback entry to the process pushed runnable (I/O
  ** thread only); [run]: callback entry to the process consuming the
  ** result on a worker (RMWs). */
  bool lat_on;
  _Atomic uint64_t lat_cb[40], lat_run[40];
  /* Seq_cst RMWs on this word stand in for fences (ThreadSanitizer does
  ** not model atomic_thread_fence): two threads that both RMW it are
  ** ordered, the later one seeing what the earlier did before. */
  _Atomic uint64_t sync;
  _Atomic bool io_batch; /* the I/O thread was switched to SCHED_BATCH */
  /* A completion was delivered since the last on_batch_end, which then
  ** runs the deadlock check. Written by the thread that runs the callback
  ** (the I/O thread; hk_io_free's after joining it). */
  bool check_due;
};

enum { RQ_ARMED = 1u, RQ_DONE = 2u, RQ_ABANDONED = 4u };
/* Where a request's data is: malloc'd (or NULL), a block cache block
** (rq_data_size bytes), or the record's own inl. */
enum { RQ_DATA_MALLOC, RQ_DATA_CACHED, RQ_DATA_INLINE };
#define RQ_INLINE 64u

typedef struct rq {
  _Atomic uint32_t word; /* RQ_* */
  uint32_t builtin;      /* hk_builtin_id_t of the caller */
  uint32_t reason;       /* the wait's HK_WAIT_* */
  hk_io_op_t op;
  hk_proc_t *p;          /* the callback's reference */
  hk_rtio_t *rio;
  uint64_t token;
  char *path;            /* files: the resolved path (for messages) */
  /* The completion, written by the callback before DONE (release). */
  int64_t result;
  uint32_t flags;
  char *data;
  size_t len;
  char *msg;
  uint64_t t_done; /* HIKO_IO_LATENCY: when the callback started */
  uint8_t data_in;  /* where data is: RQ_DATA_* */
  /* A borrowed receive of up to RQ_INLINE bytes (an echo's or a short
  ** request's) is copied here (on_complete). Last: not zeroed (new_rq). */
  char inl[RQ_INLINE];
} rq_t;

static hk_pdata_t *pd_of(hk_proc_t *p) { return hk_pd_of(p); }
static hk_rtio_t *rio_of(hk_proc_t *p) { return hk_rt_of(p)->rio; }
static const char *bname(uint32_t id) {
  return id < HK_B__COUNT ? hk_builtin_table[id].name : "native";
}

/* ---- Counts ---------------------------------------------------------------- */

static shard_t *my_shard(hk_rtio_t *rio, bool *owned) {
  hk_worker_t *w = hk_sched_self();
  if (w && hk_sched_worker_sched(w) == rio->rt->sched) {
    *owned = true;
    return &rio->sh[hk_sched_worker_index(w)];
  }
  *owned = false;
  return &rio->sh[rio->nw + 1];
}

static void shard_add(shard_t *s, bool owned, uint64_t dp, uint64_t dops) {
  if (owned) {
    /* Relaxed load + store: one writer (this worker); readers only need
    ** values the field had. The epoch store is a release so that a reader
    ** that sees it (acquire) sees the count beside it. */
    atomic_store_explicit(&s->pending, atomic_load_explicit(&s->pending, memory_order_relaxed) + dp,
                          memory_order_relaxed);
    if (dops)
      atomic_store_explicit(&s->ops, atomic_load_explicit(&s->ops, memory_order_relaxed) + dops,
                            memory_order_relaxed);
    atomic_store_explicit(&s->epoch, atomic_load_explicit(&s->epoch, memory_order_relaxed) + 1,
                          memory_order_release);
  } else {
    /* Several writers: RMWs. Release on the epoch as above. */
    atomic_fetch_add_explicit(&s->pending, dp, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->ops, dops, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->epoch, 1, memory_order_release);
  }
}

static void count_submit(hk_rtio_t *rio) {
  bool owned;
  shard_t *s = my_shard(rio, &owned);
  shard_add(s, owned, 1, 1);
}

/* An operation tried on the worker (fast path): a statistic only. If it
** goes on through the I/O thread, new_rq counts it again as pending. */
static void count_direct(hk_rtio_t *rio) {
  bool owned;
  shard_t *s = my_shard(rio, &owned);
  /* Relaxed: a statistic (see shard_add). */
  if (owned)
    atomic_store_explicit(&s->ops, atomic_load_explicit(&s->ops, memory_order_relaxed) + 1,
                          memory_order_relaxed);
  else
    atomic_fetch_add_explicit(&s->ops, 1, memory_order_relaxed);
}

/* A request stopped pending on the calling thread ([io]: the callback). */
static void count_finish(hk_rtio_t *rio, bool io) {
  if (io) {
    /* Shard [nw] has one writer at a time, so the owner's load + store
    ** (shard_add's owned path) instead of three lock-prefixed RMWs per
    ** completion on the I/O thread. Only on_complete calls this with
    ** [io], and io/ runs the callback on the I/O thread only (completions
    ** of the fallback's helper threads are handed to it), except in
    ** hk_io_free, whose thread runs it after joining the I/O thread; a
    ** new I/O thread starts after that (pthread_create). So every write
    ** to the shard happens before the next one: no update is lost. */
    shard_add(&rio->sh[rio->nw], true, (uint64_t)-1, 0);
    return;
  }
  bool owned;
  shard_t *s = my_shard(rio, &owned);
  shard_add(s, owned, (uint64_t)-1, 0);
}

bool hk_rtio_quiet(hk_rtio_t *rio) {
  if (!rio) return true;
  uint64_t p[2] = {0, 0}, e[2] = {0, 0};
  for (int pass = 0; pass < 2; pass++) {
    for (uint32_t i = 0; i < rio->nw + 2; i++) {
      /* Acquire: pairs with shard_add's release of the epoch. */
      e[pass] += atomic_load_explicit(&rio->sh[i].epoch, memory_order_acquire);
      p[pass] += atomic_load_explicit(&rio->sh[i].pending, memory_order_relaxed);
    }
    /* Quiet needs p[0] == 0: a server with requests pending (the usual
    ** case: every completion asks when all workers are idle) is answered
    ** after one pass. */
    if (p[0] != 0) return false;
  }
  return e[0] == e[1] && p[1] == 0;
}

uint64_t hk_rtio_io_ops(hk_rtio_t *rio, uint32_t i) {
  /* Relaxed: a statistic. */
  return rio && i < rio->nw ? atomic_load_explicit(&rio->sh[i].ops, memory_order_relaxed) : 0;
}

/* ---- Requests: the two owners -------------------------------------------- */

/* The block cache size of a borrowed receive's copy (on_complete). */
static size_t rq_data_size(const rq_t *rq) { return rq->len ? rq->len : 1; }

static void rq_free(rq_t *rq) {
  if (rq->data_in == RQ_DATA_CACHED) hk_bcache_free(rq->data, rq_data_size(rq));
  else if (rq->data_in == RQ_DATA_MALLOC) free(rq->data);
  /* Tested first: only files and name resolution set them, and each
  ** free(NULL) is still a call into libc. */
  if (rq->msg) free(rq->msg);
  if (rq->path) free(rq->path);
  hk_bcache_free(rq, sizeof *rq);
}

/* A result nobody takes: release what it holds (SPEC §7.6). */
static void rq_discard(rq_t *rq) {
  if (rq->result > 0 && (rq->op == HK_IO_ACCEPT || rq->op == HK_IO_CONNECT)) {
    hk_io_t *io = atomic_load_explicit(&rq->rio->io, memory_order_acquire);
    if (io) hk_io_close_quiet(io, rq->result);
  }
  rq_free(rq);
}

static void lat_add(_Atomic uint64_t *h, uint64_t ns) {
  uint32_t b = 0;
  while (ns > 1 && b < 39) {
    ns >>= 1;
    b++;
  }
  /* Relaxed: a statistic. */
  atomic_fetch_add_explicit(&h[b], 1, memory_order_relaxed);
}

static void lat_print(const char *what, _Atomic uint64_t *h) {
  uint64_t n = 0, acc = 0;
  for (int i = 0; i < 40; i++) n += atomic_load_explicit(&h[i], memory_order_relaxed);
  if (!n) return;
  fprintf(stderr, "hiko io latency %s: n=%" PRIu64, what, n);
  const double qs[] = {0.5, 0.9, 0.99, 0.999};
  int q = 0;
  for (int i = 0; i < 40 && q < 4; i++) {
    acc += atomic_load_explicit(&h[i], memory_order_relaxed);
    while (q < 4 && (double)acc >= qs[q] * (double)n) {
      fprintf(stderr, " p%g<%" PRIu64 "ns", qs[q] * 100, (uint64_t)1 << (i + 1));
      q++;
    }
  }
  fputc('\n', stderr);
}

static void on_complete(void *user, hk_io_completion_t *c) {
  hk_rtio_t *rio = user;
  rq_t *rq = c->ctx;
  uint64_t t0 = rio->lat_on ? hk_sched_now_ns() : 0;
  rq->t_done = t0;
  hk_proc_t *p = rq->p;
  uint32_t reason = rq->reason;
  rq->result = c->result;
  rq->flags = c->flags;
  rq->data = c->data;
  rq->len = c->len;
  if (c->flags & HK_IO_F_BORROWED) {
    /* A receive's bytes, lent for this call (cfg.recv_borrow): up to
    ** RQ_INLINE bytes copied into the record itself, more into a block
    ** cache block, which the worker that consumes it frees (the cache is
    ** made for blocks freed on another thread; a malloc here and a free
    ** there cost ~250 instructions per receive, bench/README.md, "Echo,
    ** stop 14"). */
    rq->flags &= ~HK_IO_F_BORROWED;
    if (rq->len <= RQ_INLINE) {
      memcpy(rq->inl, c->data, rq->len);
      rq->data = rq->inl;
      rq->data_in = RQ_DATA_INLINE;
    } else if ((rq->data = hk_bcache_alloc(rq_data_size(rq)))) {
      memcpy(rq->data, c->data, rq->len);
      rq->data_in = RQ_DATA_CACHED;
    } else {
      rq->len = 0;
      rq->result = -ENOMEM;
    }
  }
  if (c->msg) rq->msg = strdup(c->msg);
  /* acq_rel: release publishes the result to the process's acquire of
  ** DONE; acquire pairs with its arm (release), so its BLOCKED|ARMING word
  ** is visible to our wake below, and with an abandon. */
  uint32_t old = atomic_fetch_or_explicit(&rq->word, RQ_DONE, memory_order_acq_rel);
  if (old & RQ_ABANDONED) {
    rq_discard(rq); /* the abandoner already stopped counting it */
  } else {
    if ((old & RQ_ARMED) && hk_proc_wake(p, reason, NULL) && t0)
      lat_add(rio->lat_cb, hk_sched_now_ns() - t0);
    /* After the wake: a deadlock check that sees this request finished
    ** sees the process runnable. */
    count_finish(rio, true);
  }
  hk_proc_unref(p);
  /* This thread may be the one that brings the counts to "nothing
  ** pending" while every worker is idle: on_batch_end looks, once for the
  ** whole run of completions. */
  rio->check_due = true;
}

/* hk_io_config_t.abandoned: the process gave [ctx] up (rq_abandon).
** Acquire: pairs with the abandoner's acq_rel RMW. */
static bool rq_abandoned(void *user, void *ctx) {
  (void)user;
  rq_t *rq = ctx;
  return (atomic_load_explicit(&rq->word, memory_order_acquire) & RQ_ABANDONED) != 0;
}

/* After each run of completions (I/O thread): the processes they made
** runnable go to the injection queue together, with at most one worker
** woken (hk_sched_defer_flush). Before, each completion injected its own
** process and woke a parked worker, which then preempted the I/O thread
** on this 2-CPU machine before it had delivered the rest of the batch
** (0.24 involuntary context switches per echo round trip). From the first
** call on, this thread's hk_sched_ready calls for our scheduler are
** collected (hk_sched_defer_begin); the I/O thread calls this again
** before it sleeps, so nothing stays collected while it waits. */
static void on_batch_end(void *user) {
  hk_rtio_t *rio = user;
  hk_sched_defer_begin(rio->rt->sched);
  hk_sched_defer_flush(rio->rt->sched);
  if (!rio->check_due) return;
  rio->check_due = false;
  /* A completion of this run may have brought the counts to "nothing
  ** pending" while every worker is idle (its woken process may even have
  ** ended already): evaluate SPEC §6.9 here (§10.8), after the last
  ** count_finish of the run and before this thread can sleep. Seq_cst
  ** fence: a worker that parks after our look at the workers sees our
  ** counts. Once per run, not per completion: the check cost ~100
  ** instructions per echo round trip (bench/README.md, "Echo hand-offs,
  ** stop 18"). */
  atomic_fetch_add_explicit(&rio->sync, 1, memory_order_seq_cst);
  if (hk_sched_all_idle(rio->rt->sched)) hk_rt_check_deadlock(rio->rt);
}

/* The process gives up [rq] (cancelled, or the wait ended otherwise). */
static void rq_abandon(hk_rtio_t *rio, rq_t *rq) {
  uint64_t token = rq->token; /* once ABANDONED is set the callback may free rq */
  /* acq_rel: acquire pairs with the callback's release of the result. */
  uint32_t old = atomic_fetch_or_explicit(&rq->word, RQ_ABANDONED, memory_order_acq_rel);
  if (old & RQ_DONE) {
    rq_discard(rq);
    return;
  }
  /* The callback frees it; it stops counting now (SPEC §10.8). */
  hk_io_t *io = atomic_load_explicit(&rio->io, memory_order_acquire);
  if (io) hk_io_cancel(io, token);
  count_finish(rio, false);
}

static bool arm_rq(hk_proc_t *p) {
  rq_t *rq = p->wait.arg;
  /* acq_rel: release pairs with the callback's acquire (it then sees our
  ** BLOCKED|ARMING state); acquire pairs with its release of the result. */
  uint32_t old = atomic_fetch_or_explicit(&rq->word, RQ_ARMED, memory_order_acq_rel);
  bool met = (old & RQ_DONE) != 0;
  if (!met && (p->wait.reason & HK_WAIT_RECV))
    met = hk_mailbox_mark_owner(&p->mbox, &p->mtail) == HK_MMARK_NONEMPTY;
  return met;
}

static bool rq_done(const rq_t *rq) {
  /* Acquire: pairs with the callback's release; the result is readable. */
  return (atomic_load_explicit(&((rq_t *)rq)->word, memory_order_acquire) & RQ_DONE) != 0;
}

static int block_on(hk_proc_t *p, rq_t *rq) {
  hk_proc_wait_custom(p, rq->reason, arm_rq, rq);
  return HK_RTIO_BLOCK;
}

/* ---- Creation -------------------------------------------------------------- */

static hk_io_t *get_io(hk_rtio_t *rio, int *err) {
  /* Acquire: pairs with the release below (the instance is initialised). */
  hk_io_t *io = atomic_load_explicit(&rio->io, memory_order_acquire);
  if (io) return io;
  pthread_mutex_lock(&rio->lock);
  io = atomic_load_explicit(&rio->io, memory_order_relaxed);
  if (!io && !rio->io_err) {
    hk_io_config_t cfg = {.callback = on_complete, .batch_end = on_batch_end, .user = rio,
                          .fsroot = rio->fsroot, .recv_borrow = true,
                          .abandoned = rq_abandoned};
    int rc = hk_io_new(&io, &cfg);
    if (rc) {
      rio->io_err = rc;
      io = NULL;
    } else {
      atomic_store_explicit(&rio->io, io, memory_order_release);
    }
  }
  *err = rio->io_err;
  pthread_mutex_unlock(&rio->lock);
  return io;
}

int hk_rtio_new(hiko_runtime_t *rt, bool eager, hk_rtio_t **out) {
  *out = NULL;
  hk_rtio_t *rio = calloc(1, sizeof *rio);
  if (!rio) return -ENOMEM;
  rio->rt = rt;
  rio->nw = rt->nworkers;
  rio->sh = aligned_alloc(64, (rio->nw + 2) * sizeof *rio->sh);
  if (!rio->sh) {
    free(rio);
    return -ENOMEM;
  }
  memset(rio->sh, 0, (rio->nw + 2) * sizeof *rio->sh);
  pthread_mutex_init(&rio->lock, NULL);
  pthread_rwlock_init(&rio->stop_lock, NULL);
  const char *lat = getenv("HIKO_IO_LATENCY");
  rio->lat_on = lat && *lat && *lat != '0';
  if (rt->cfg.fs_root) rio->fsroot_err = hk_fsroot_new(&rio->fsroot, rt->cfg.fs_root);
  if (eager) {
    int err;
    get_io(rio, &err);
  }
  *out = rio;
  return 0;
}

void hk_rtio_stop(hk_rtio_t *rio) {
  if (!rio) return;
  /* Every process has ended, so nothing submits; a terminating one may
  ** still be letting go of its request or sockets (hk_rtio_proc_end holds
  ** the read lock). Later readers of rio->io find NULL. */
  pthread_rwlock_wrlock(&rio->stop_lock);
  hk_io_t *io = atomic_exchange_explicit(&rio->io, NULL, memory_order_acq_rel);
  pthread_rwlock_unlock(&rio->stop_lock);
  hk_io_free(io);
}

void hk_rtio_free(hk_rtio_t *rio) {
  if (!rio) return;
  hk_rtio_stop(rio);
  if (rio->lat_on) {
    lat_print("completion->runnable", rio->lat_cb);
    lat_print("completion->running", rio->lat_run);
  }
  if (rio->fsroot) hk_fsroot_free(rio->fsroot);
  for (uint32_t i = 0; i < OWNER_BUCKETS; i++)
    for (owner_t *o = rio->owners[i], *n; o; o = n) {
      n = o->next;
      free(o);
    }
  pthread_mutex_destroy(&rio->lock);
  pthread_rwlock_destroy(&rio->stop_lock);
  free(rio->sh);
  free(rio);
}

const char *hk_rtio_backend(hk_rtio_t *rio) {
  hk_io_t *io = rio ? atomic_load_explicit(&rio->io, memory_order_acquire) : NULL;
  return io ? hk_io_backend_name(io) : "none";
}

/* ---- Socket owners ----------------------------------------------------------- */

static uint32_t owner_bucket(uint64_t pid) {
  return (uint32_t)(pid * 0x9e3779b97f4a7c15u >> 40) & (OWNER_BUCKETS - 1);
}

static void owners_add(hk_rtio_t *rio, uint64_t pid) {
  pthread_mutex_lock(&rio->lock);
  owner_t **b = &rio->owners[owner_bucket(pid)];
  owner_t *o = *b;
  while (o && o->pid != pid) o = o->next;
  if (!o && (o = malloc(sizeof *o))) {
    o->pid = pid;
    o->next = *b;
    *b = o;
    /* Relaxed: a hint read by terminating processes; see proc_end. */
    atomic_fetch_add_explicit(&rio->nowners, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&rio->lock);
}

static bool owners_remove(hk_rtio_t *rio, uint64_t pid) {
  bool found = false;
  pthread_mutex_lock(&rio->lock);
  for (owner_t **pp = &rio->owners[owner_bucket(pid)]; *pp; pp = &(*pp)->next)
    if ((*pp)->pid == pid) {
      owner_t *o = *pp;
      *pp = o->next;
      free(o);
      found = true;
      atomic_fetch_sub_explicit(&rio->nowners, 1, memory_order_relaxed);
      break;
    }
  pthread_mutex_unlock(&rio->lock);
  return found;
}

/* The calling process (owner-only flag) may own sockets from now on. */
static void register_owner(hk_proc_t *p) {
  if (p->rt_io_owner) return;
  owners_add(rio_of(p), hk_proc_pid(p));
  p->rt_io_owner = true;
}

void hk_rtio_proc_end(hk_proc_t *p) {
  hk_pdata_t *pd = pd_of(p);
  hk_rtio_t *rio = rio_of(p);
  if (!rio) return;
  /* Our state became TERMINATED by an exchange (acq_rel) before this. A
  ** socket_give to us RMWs that word after its owners_add: if its RMW came
  ** first, our exchange acquired it and the lookup below sees the entry;
  ** if ours came first, the giver reads TERMINATED and closes the socket. */
  bool owner = atomic_load_explicit(&rio->nowners, memory_order_relaxed) != 0;
  rq_t *rq = hk_pd_io(pd); /* not a native call (native.c's end) */
  if (!rq && !owner) return;
  /* Read lock: hk_rtio_stop (write lock) frees the instance only after
  ** the last ending process let go of it. */
  pthread_rwlock_rdlock(&rio->stop_lock);
  if (rq) {
    rq_abandon(rio, rq);
    pd->io = NULL;
  }
  if (owner && owners_remove(rio, hk_proc_pid(p))) {
    hk_io_t *io = atomic_load_explicit(&rio->io, memory_order_acquire);
    if (io) hk_io_close_owner(io, hk_proc_pid(p));
  }
  pthread_rwlock_unlock(&rio->stop_lock);
}

/* ---- Serving ------------------------------------------------------------------- */

#define fail(...) HK_RTIO_FAIL(__VA_ARGS__)

static int complete(hk_vm_t *vm, hk_value_t v) {
  hk_vm_complete(vm, v);
  return HK_RTIO_CONTINUE;
}

static int fail_code(hk_vm_t *vm, uint32_t id, int64_t code) {
  return fail(vm, "%s: %s", bname(id), hk_io_strerror(code));
}

static int io_unavailable(hk_vm_t *vm, uint32_t id, int err) {
  return fail(vm, "%s: I/O thread unavailable: %s", bname(id), hk_io_strerror(err ? err : -EIO));
}

/* A new request of builtin [id] for p, waiting with [reason]. The caller
** submits it (rq as ctx) and then calls submitted() or abort_rq(). */
static rq_t *new_rq(hk_proc_t *p, uint32_t id, hk_io_op_t op, uint32_t reason) {
  /* From the block cache, not calloc: glibc's calloc bypasses its
  ** per-thread cache, and a request lives for one wait (bench/README.md,
  ** "Echo, stop 14"). */
  rq_t *rq = hk_bcache_alloc(sizeof *rq);
  if (!rq) return NULL;
  memset(rq, 0, offsetof(rq_t, inl));
  atomic_init(&rq->word, 0);
  rq->builtin = id;
  rq->op = op;
  rq->reason = reason;
  rq->p = p;
  rq->rio = rio_of(p);
  hk_proc_ref(p); /* the callback's */
  count_submit(rq->rio);
  return rq;
}

/* [block] false (hk_rtio_serve_now): the request is left in pd->io and
** the process blocks on it only after its slice stopped (hk_rtio_serve
** resumes it: done, or block). Returns HK_RTIO_BLOCK then. */
static int submitted_to(hk_proc_t *p, hk_vm_t *vm, rq_t *rq, int rc, bool block) {
  if (rc < 0) {
    uint32_t id = rq->builtin;
    count_finish(rq->rio, false);
    hk_proc_unref(rq->p);
    rq_free(rq);
    return fail_code(vm, id, rc);
  }
  pd_of(p)->io = rq;
  return block ? block_on(p, rq) : HK_RTIO_BLOCK;
}

static int submitted(hk_proc_t *p, hk_vm_t *vm, rq_t *rq, int rc) {
  return submitted_to(p, vm, rq, rc, true);
}

/* Makes the completed [rq] the builtin's result. */
static int consume(hk_proc_t *p, hk_vm_t *vm, rq_t *rq) {
  hk_rtio_t *rio = rio_of(p);
  if (rq->t_done) lat_add(rio->lat_run, hk_sched_now_ns() - rq->t_done);
  pd_of(p)->io = NULL;
  uint32_t id = rq->builtin;
  int64_t r = rq->result;
  hk_value_t v = hk_unit();
  int out = HK_RTIO_CONTINUE;
  if (r < 0) {
    if (r == HK_IO_ERESOLVE && rq->msg) out = fail(vm, "%s: %s", bname(id), rq->msg);
    else if (r == HK_IO_EOUTSIDE)
      out = fail(vm, "%s: path '%s' is outside allowed root '%s'", bname(id),
                 rq->path ? rq->path : "", rio->fsroot ? hk_fsroot_dir(rio->fsroot) : "");
    else out = fail_code(vm, id, r);
    rq_free(rq);
    return out;
  }
  switch (rq->op) {
  case HK_IO_READ_FILE:
    if (id == HK_B_read_file) {
      if (!hk_io_utf8_valid(rq->data, rq->len)) {
        out = fail(vm, "read_file: invalid UTF-8 in file");
        break;
      }
      if (hk_alloc_string(vm, rq->data ? rq->data : "", rq->len, &v)) out = HK_RTIO_CONTINUE;
      else out = complete(vm, v);
    } else {
      if (hk_alloc_bytes(vm, rq->data ? rq->data : "", rq->len, &v)) out = HK_RTIO_CONTINUE;
      else out = complete(vm, v);
    }
    break;
  case HK_IO_READ_LINE:
    /* Strings are valid UTF-8 (SPEC §4.6): invalid input bytes become
    ** U+FFFD, as for getenv and args. */
    if (rq->data && !hk_io_utf8_valid(rq->data, rq->len)) {
      size_t n;
      char *fixed = hk_io_utf8_sanitize(rq->data, rq->len, &n);
      if (!fixed) {
        out = fail(vm, "out of memory");
        break;
      }
      free(rq->data);
      rq->data = fixed;
      rq->len = n;
    }
    if (!hk_alloc_string(vm, rq->data ? rq->data : "", rq->len, &v)) out = complete(vm, v);
    break;
  case HK_IO_RECV_TEXT:
    if (!hk_alloc_string(vm, rq->data ? rq->data : "", rq->len, &v)) out = complete(vm, v);
    break;
  case HK_IO_RECV:
    if (!hk_alloc_bytes(vm, rq->data ? rq->data : "", rq->len, &v)) out = complete(vm, v);
    break;
  case HK_IO_ACCEPT:
  case HK_IO_CONNECT: out = complete(vm, hk_socket((uint64_t)r)); break;
  default: out = complete(vm, hk_unit()); break;
  }
  rq_free(rq);
  return out;
}

/* A woken process runs its builtin again: its request is done (take the
** result) or not (a stale wake: block again). */
static int resume(hk_proc_t *p, hk_vm_t *vm, rq_t *rq) {
  if (rq_done(rq)) return consume(p, vm, rq);
  return block_on(p, rq);
}

static bool str_arg(hk_value_t v) { return hk_is_string(v) || hk_is_bytes(v); }

/* A NUL-terminated copy of a String argument (NULL if it holds a NUL or
** on no memory; *nul tells which). */
static char *cstr(hk_value_t s, bool *nul) {
  *nul = memchr(hk_str_data(s), 0, hk_str_len(s)) != NULL;
  return *nul ? NULL : strndup(hk_str_data(s), hk_str_len(s));
}

static int serve_sleep(hk_proc_t *p, hk_vm_t *vm, hk_value_t arg) {
  if (!hk_is_int(arg)) return fail(vm, "expected Int, got %s", hk_kind_name(arg));
  int64_t ms = hk_as_int(arg);
  if (ms < 0) return fail(vm, "sleep: expected non-negative Int (milliseconds)");
  if (ms == 0) {
    hk_vm_complete(vm, hk_unit());
    return HK_RTIO_YIELD; /* `sleep 0` ends the slice (SPEC §6.10) */
  }
  int err;
  hk_io_t *io = get_io(rio_of(p), &err);
  if (!io) return io_unavailable(vm, HK_B_sleep, err);
  rq_t *rq = new_rq(p, HK_B_sleep, HK_IO_TIMER, HK_WAIT_TIMER);
  if (!rq) return fail(vm, "out of memory");
  return submitted(p, vm, rq, hk_io_timer(io, ms, rq, &rq->token));
}

int hk_rtio_receive_timeout(hk_proc_t *p, hk_vm_t *vm, int64_t ms, hk_value_t dflt) {
  hk_pdata_t *pd = pd_of(p);
  rq_t *rq = hk_pd_io(pd);
  if (rq) {
    if (!rq_done(rq)) return block_on(p, rq); /* a stale wake */
    /* The timer fired: remove our mailbox mark (a message pushed since is
    ** taken by the next receive; its producer's wake is a stale one). */
    hk_mailbox_unmark_owner(&p->mbox, &p->mtail);
    pd->io = NULL;
    rq_free(rq);
    return complete(vm, dflt);
  }
  int err;
  hk_io_t *io = get_io(rio_of(p), &err);
  if (!io) return io_unavailable(vm, HK_B_receive_timeout, err);
  rq = new_rq(p, HK_B_receive_timeout, HK_IO_TIMER, HK_WAIT_RECV | HK_WAIT_TIMER);
  if (!rq) return fail(vm, "out of memory");
  return submitted(p, vm, rq, hk_io_timer(io, ms, rq, &rq->token));
}

void hk_rtio_drop_wait(hk_proc_t *p) {
  hk_pdata_t *pd = pd_of(p);
  rq_t *rq = hk_pd_io(pd);
  if (!rq) return;
  rq_abandon(rio_of(p), rq);
  pd->io = NULL;
}

/* Output written so far reaches stdout before the process waits for
** input or a connection (a prompt, a server's "listening on" line). */
static void flush_out(hk_proc_t *p) {
  if (!hk_rt_of(p)->cfg.out) fflush(stdout);
}

static int serve_read_line(hk_proc_t *p, hk_vm_t *vm) {
  flush_out(p);
  int err;
  hk_io_t *io = get_io(rio_of(p), &err);
  if (!io) return io_unavailable(vm, HK_B_read_line, err);
  rq_t *rq = new_rq(p, HK_B_read_line, HK_IO_READ_LINE, HK_WAIT_IO);
  if (!rq) return fail(vm, "out of memory");
  return submitted(p, vm, rq, hk_io_read_line(io, rq, &rq->token));
}

/* read_file, read_file_bytes, write_file. */
static int serve_file(hk_proc_t *p, hk_vm_t *vm, uint32_t id, hk_value_t arg) {
  hk_rtio_t *rio = rio_of(p);
  const char *name = bname(id);
  hk_value_t path = arg, text = hk_unit();
  if (id == HK_B_write_file) {
    if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2)
      return fail(vm, "expected Tuple, got %s", hk_kind_name(arg));
    path = hk_tuple_at(arg, 0);
    text = hk_tuple_at(arg, 1);
    if (!str_arg(text)) return fail(vm, "expected String, got %s", hk_kind_name(text));
  }
  if (!str_arg(path)) return fail(vm, "expected String, got %s", hk_kind_name(path));
  if (rio->fsroot_err) return fail_code(vm, id, rio->fsroot_err);
  bool nul;
  char *raw = cstr(path, &nul);
  if (!raw) return nul ? fail_code(vm, id, -EINVAL) : fail(vm, "out of memory");
  char *resolved = NULL, *errmsg = NULL;
  int rc = hk_fsroot_resolve(rio->fsroot, name, raw, &resolved, &errmsg);
  free(raw);
  if (rc) {
    if (errmsg) {
      fail(vm, "%s", errmsg);
      free(errmsg);
      return HK_RTIO_CONTINUE;
    }
    return fail_code(vm, id, rc);
  }
  int err;
  hk_io_t *io = get_io(rio, &err);
  if (!io) {
    free(resolved);
    return io_unavailable(vm, id, err);
  }
  rq_t *rq = new_rq(p, id, id == HK_B_write_file ? HK_IO_WRITE_FILE : HK_IO_READ_FILE, HK_WAIT_IO);
  if (!rq) {
    free(resolved);
    return fail(vm, "out of memory");
  }
  rq->path = resolved;
  if (id == HK_B_write_file)
    rc = hk_io_write_file(io, resolved, hk_str_data(text), hk_str_len(text), rq, &rq->token);
  else rc = hk_io_read_file(io, resolved, rq, &rq->token);
  return submitted(p, vm, rq, rc);
}

static bool sock_arg(hk_value_t v) { return v.tag == HK_T_SOCKET; }

/* A receive served on the worker (hk_io_recv_try returned 1). */
static int recv_direct(hk_vm_t *vm, hk_io_completion_t *c) {
  hk_value_t v;
  int bad = c->op == HK_IO_RECV_TEXT ? hk_alloc_string(vm, c->data, c->len, &v)
                                     : hk_alloc_bytes(vm, c->data, c->len, &v);
  free(c->data);
  return bad ? HK_RTIO_CONTINUE : complete(vm, v);
}

static int serve_listen(hk_proc_t *p, hk_vm_t *vm, hk_io_t *io, hk_value_t arg) {
  if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2)
    return fail(vm, "expected Tuple, got %s", hk_kind_name(arg));
  hk_value_t host = hk_tuple_at(arg, 0), port = hk_tuple_at(arg, 1);
  if (!str_arg(host) || !hk_is_int(port)) return fail(vm, "tcp_listen: bad argument");
  int64_t n = hk_as_int(port);
  if (n < 0 || n > 65535) return fail(vm, "tcp_listen: invalid port %" PRId64, n);
  bool nul;
  char *h = cstr(host, &nul);
  if (!h) return nul ? fail_code(vm, HK_B_tcp_listen, -EINVAL) : fail(vm, "out of memory");
  register_owner(p);
  int64_t s = hk_io_listen(io, h, n, hk_proc_pid(p));
  free(h);
  if (s < 0) return fail_code(vm, HK_B_tcp_listen, s);
  count_submit(rio_of(p)); /* counted as an operation, finished at once */
  count_finish(rio_of(p), false);
  return complete(vm, hk_socket((uint64_t)s));
}

static int serve_give(hk_proc_t *p, hk_vm_t *vm, hk_io_t *io, hk_value_t arg) {
  hk_rtio_t *rio = rio_of(p);
  if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2)
    return fail(vm, "expected Tuple, got %s", hk_kind_name(arg));
  hk_value_t s = hk_tuple_at(arg, 0), to = hk_tuple_at(arg, 1);
  if (!sock_arg(s) || to.tag != HK_T_PID) return fail(vm, "socket_give: bad argument");
  int64_t sock = (int64_t)s.as.u;
  uint64_t me = hk_proc_pid(p), pid = to.as.u;
  hk_proc_t *target = pid == me ? NULL : hk_proc_get(hk_rt_of(p)->procs, pid);
  if (target) owners_add(rio, pid);
  int rc = hk_io_socket_give(io, sock, me, target || pid == me ? pid : 0);
  if (rc == -EPERM) {
    if (target) hk_proc_unref(target);
    return fail(vm, "socket_give: not the owner of <socket %" PRId64 ">", sock);
  }
  if (rc != 0) {
    if (target) hk_proc_unref(target);
    return fail_code(vm, HK_B_socket_give, rc);
  }
  if (!target && pid != me) {
    hk_io_close_quiet(io, sock); /* to a terminated or unknown pid */
  } else if (target) {
    /* A no-op RMW on the target's state word (acq_rel), ordered with its
    ** termination's exchange: see hk_rtio_proc_end. */
    uint32_t st = atomic_fetch_or_explicit(&target->state, 0, memory_order_acq_rel);
    if ((st & HK_PS_MASK) == HK_PS_TERMINATED &&
        hk_io_socket_owner(io, sock) == pid)
      hk_io_close_quiet(io, sock);
    hk_proc_unref(target);
  }
  return complete(vm, hk_unit());
}

/* A worker that serves a socket builtin switches itself to SCHED_BATCH
** (once): a wake-up of a batch thread does not preempt the thread that
** woke it. On a network server the I/O thread wakes a worker for every
** batch of arrivals, and a worker that takes a batch wakes the other: each
** of those wake-ups used to preempt the waker on its CPU at once, a
** context switch there and another back (0.19 switches per echo round
** trip against 0.065 now; bench/README.md, "Echo, stop 14"). The I/O
** thread is switched too. Workloads without sockets keep the default
** policy. A refusal (a seccomp filter, say) is ignored: it only costs
** the switches. */
static _Thread_local bool batch_policy;

static void worker_batch_policy(hk_rtio_t *rio, hk_io_t *io) {
  if (batch_policy || !hk_sched_self()) return;
  batch_policy = true;
  struct sched_param sp = {0};
  (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
  /* The I/O thread too, whichever thread created it (it inherits its
  ** creator's policy): so it does not preempt a worker at every arrival,
  ** which is the configuration measured. Relaxed: once is enough, twice
  ** is harmless. */
  if (!atomic_exchange_explicit(&rio->io_batch, true, memory_order_relaxed))
    (void)hk_io_thread_batch(io);
}

/* socket_send(_bytes) of [d] on [s] (arguments checked): on this worker
** if nothing of the socket's sending is queued and the kernel takes it
** all at once (the fast path, docs/io.md), else through the I/O thread.
** [block]: see submitted_to. */
static int sock_send(hk_proc_t *p, hk_vm_t *vm, hk_io_t *io, uint32_t id, hk_value_t s,
                     hk_value_t d, bool block) {
  hk_io_claim_t cl;
  int rc = hk_io_send_try(io, (int64_t)s.as.u, hk_str_data(d), hk_str_len(d), &cl);
  if (rc != 0) count_direct(rio_of(p));
  if (rc == 1) return complete(vm, hk_unit());
  if (rc < 0) return fail_code(vm, id, rc);
  rq_t *rq = new_rq(p, id, HK_IO_SEND, HK_WAIT_IO);
  if (!rq) {
    hk_io_claim_drop(io, &cl);
    return fail(vm, "out of memory");
  }
  return submitted_to(p, vm, rq,
                      hk_io_send_finish(io, &cl, hk_str_data(d), hk_str_len(d), rq, &rq->token),
                      block);
}

/* socket_recv(_bytes) of at most [n] bytes from [s] (arguments checked),
** on this worker if bytes are there, else through the I/O thread. */
static int sock_recv(hk_proc_t *p, hk_vm_t *vm, hk_io_t *io, uint32_t id, hk_value_t s,
                     hk_value_t n, bool block) {
  bool text = id == HK_B_socket_recv;
  hk_io_claim_t cl;
  hk_io_completion_t c;
  int rc = hk_io_recv_try(io, (int64_t)s.as.u, hk_as_int(n), text, &cl, &c);
  if (rc != 0) count_direct(rio_of(p));
  if (rc == 1) return recv_direct(vm, &c);
  if (rc < 0) return fail_code(vm, id, rc);
  rq_t *rq = new_rq(p, id, text ? HK_IO_RECV_TEXT : HK_IO_RECV, HK_WAIT_IO);
  if (!rq) {
    hk_io_claim_drop(io, &cl);
    return fail(vm, "out of memory");
  }
  return submitted_to(p, vm, rq, hk_io_recv_finish(io, &cl, rq, &rq->token), block);
}

static int serve_socket(hk_proc_t *p, hk_vm_t *vm, uint32_t id, hk_value_t arg) {
  const char *name = bname(id);
  if (!hk_rt_of(p)->cfg.allow_net) return fail(vm, "%s: network access denied", name);
  int err;
  hk_io_t *io = get_io(rio_of(p), &err);
  if (!io) return io_unavailable(vm, id, err);
  worker_batch_policy(rio_of(p), io);
  switch (id) {
  case HK_B_tcp_listen: return serve_listen(p, vm, io, arg);
  case HK_B_socket_give: return serve_give(p, vm, io, arg);
  case HK_B_socket_port: {
    if (!sock_arg(arg)) return fail(vm, "expected Socket, got %s", hk_kind_name(arg));
    int64_t port = hk_io_socket_port(io, (int64_t)arg.as.u);
    return port < 0 ? fail_code(vm, id, port) : complete(vm, hk_int(port));
  }
  case HK_B_tcp_accept: {
    if (!sock_arg(arg)) return fail(vm, "expected Socket, got %s", hk_kind_name(arg));
    register_owner(p);
    flush_out(p);
    rq_t *rq = new_rq(p, id, HK_IO_ACCEPT, HK_WAIT_IO);
    if (!rq) return fail(vm, "out of memory");
    return submitted(p, vm, rq,
                     hk_io_accept(io, (int64_t)arg.as.u, hk_proc_pid(p), rq, &rq->token));
  }
  case HK_B_tcp_connect: {
    if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2)
      return fail(vm, "expected Tuple, got %s", hk_kind_name(arg));
    hk_value_t host = hk_tuple_at(arg, 0), port = hk_tuple_at(arg, 1);
    if (!str_arg(host) || !hk_is_int(port)) return fail(vm, "tcp_connect: bad argument");
    int64_t n = hk_as_int(port);
    if (n < 0 || n > 65535) return fail(vm, "tcp_connect: invalid port %" PRId64, n);
    bool nul;
    char *h = cstr(host, &nul);
    if (!h) return nul ? fail_code(vm, id, -EINVAL) : fail(vm, "out of memory");
    register_owner(p);
    rq_t *rq = new_rq(p, id, HK_IO_CONNECT, HK_WAIT_IO);
    if (!rq) {
      free(h);
      return fail(vm, "out of memory");
    }
    int rc = hk_io_connect(io, h, n, hk_proc_pid(p), rq, &rq->token);
    free(h);
    return submitted(p, vm, rq, rc);
  }
  case HK_B_socket_send:
  case HK_B_socket_send_bytes: {
    if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2)
      return fail(vm, "expected Tuple, got %s", hk_kind_name(arg));
    hk_value_t s = hk_tuple_at(arg, 0), d = hk_tuple_at(arg, 1);
    if (!sock_arg(s) || !str_arg(d)) return fail(vm, "%s: bad argument", name);
    return sock_send(p, vm, io, id, s, d, true);
  }
  case HK_B_socket_recv:
  case HK_B_socket_recv_bytes: {
    if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2)
      return fail(vm, "expected Tuple, got %s", hk_kind_name(arg));
    hk_value_t s = hk_tuple_at(arg, 0), n = hk_tuple_at(arg, 1);
    if (!sock_arg(s) || !hk_is_int(n)) return fail(vm, "%s: bad argument", name);
    if (hk_as_int(n) <= 0) return fail(vm, "%s: expected positive length", name);
    return sock_recv(p, vm, io, id, s, n, true);
  }
  case HK_B_socket_close: {
    if (!sock_arg(arg)) return fail(vm, "expected Socket, got %s", hk_kind_name(arg));
    rq_t *rq = new_rq(p, id, HK_IO_CLOSE, HK_WAIT_IO);
    if (!rq) return fail(vm, "out of memory");
    return submitted(p, vm, rq, hk_io_close(io, (int64_t)arg.as.u, rq, &rq->token));
  }
  default: break;
  }
  return fail(vm, "%s: not available in this build", name);
}

/* host.serve_now's socket sends and receives (vmproc.c): served inside the
** slice, without the slice's exit and re-entry and, for a builtin applied
** to a tuple expression, without the argument's heap tuple (a send of an
** echo loop completes on the worker; a receive after it goes to the I/O
** thread and blocks). Declines (false, nothing changed) whatever serve()
** reports as an error or needs the I/O thread's creation for. True: the
** request was completed, failed, or submitted and left in pd->io with the
** VM's request still pending, so the slice stops and hk_rtio_serve resumes
** it (blocks, or takes a result that came meanwhile) as after a stale
** wake; its argument is not used again. */
bool hk_rtio_serve_now(hk_proc_t *p, hk_vm_t *vm) {
  hk_rtio_t *rio = rio_of(p);
  if (!rio || hk_pd_io(pd_of(p)) || !hk_rt_of(p)->cfg.allow_net) return false;
  /* Acquire: pairs with get_io's release (the instance is initialised). */
  hk_io_t *io = atomic_load_explicit(&rio->io, memory_order_acquire);
  if (!io) return false;
  const hk_request_t *q = hk_vm_request(vm);
  uint32_t id = q->builtin;
  hk_value_t arg = q->arg;
  if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2) return false;
  hk_value_t s = hk_tuple_at(arg, 0), x = hk_tuple_at(arg, 1);
  if (!sock_arg(s)) return false;
  switch (id) {
  case HK_B_socket_send:
  case HK_B_socket_send_bytes:
    if (!str_arg(x)) return false;
    worker_batch_policy(rio, io);
    sock_send(p, vm, io, id, s, x, false);
    return true;
  case HK_B_socket_recv:
  case HK_B_socket_recv_bytes:
    if (!hk_is_int(x) || hk_as_int(x) <= 0) return false;
    worker_batch_policy(rio, io);
    sock_recv(p, vm, io, id, s, x, false);
    return true;
  default: return false;
  }
}

bool hk_rtio_serves(uint32_t id) {
  switch (id) {
  case HK_B_sleep:
  case HK_B_read_line:
  case HK_B_read_file:
  case HK_B_read_file_bytes:
  case HK_B_write_file:
  case HK_B_tcp_listen:
  case HK_B_socket_port:
  case HK_B_tcp_accept:
  case HK_B_tcp_connect:
  case HK_B_socket_send:
  case HK_B_socket_recv:
  case HK_B_socket_send_bytes:
  case HK_B_socket_recv_bytes:
  case HK_B_socket_close:
  case HK_B_socket_give: return true;
  default: return false;
  }
}

int hk_rtio_serve(hk_proc_t *p, hk_worker_t *w, hk_vm_t *vm) {
  (void)w;
  const hk_request_t *q = hk_vm_request(vm);
  rq_t *rq = hk_pd_io(pd_of(p));
  if (rq) return resume(p, vm, rq);
  switch (q->builtin) {
  case HK_B_sleep: return serve_sleep(p, vm, q->arg);
  case HK_B_read_line: return serve_read_line(p, vm);
  case HK_B_read_file:
  case HK_B_read_file_bytes:
  case HK_B_write_file: return serve_file(p, vm, q->builtin, q->arg);
  default: return serve_socket(p, vm, q->builtin, q->arg);
  }
}
