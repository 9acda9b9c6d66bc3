/* rt_proc.c — stress test of runtime/proc.c under ThreadSanitizer:
** cancellation racing with sends, completion and awaits; spawn storms;
** structured lifetime.
**
** A small scheduler (one mutex-protected queue, WORKERS threads) runs
** processes whose bodies are C state machines:
**   root     spawns MANAGERS managers, awaits them one by one
**   manager  ROUNDS times: spawns KIDS children of random kinds, sends the
**            counted ones their messages (half of them after a yield),
**            cancels some at random, then
**            waits for all of them (wait on every record, consume each) and
**            checks each outcome
**   counted  receives exactly N messages from its manager, returns N*10+1
**   forever  receives forever (ends only by cancellation); may itself spawn
**            a forever grandchild, cancelled when it ends (SPEC §6.8.1)
**   compute  yields a few slices, returns 7
** Meanwhile SENDERS threads send to random pids (live, dead and never
** issued) and cancel random processes, managers included.
**
** Checked: a body never runs on two workers at once; a process is never
** readied while it is already queued (a wake that two threads both won);
** every outcome is one its kind allows (counted: DONE with N*10+1 or
** CANCELLED; forever: CANCELLED; compute: DONE 7 or CANCELLED; never
** FAILED); every process terminates; every payload is freed exactly once;
** every record released. A lost wake-up fails within STALL_MS: while the
** root lives some process always runs (every wait here is ended by a
** message already sent, a child that ends, or the manager's cancel), so
** no process starting, ending or receiving for that long means one sleeps
** with its condition met. Half the counted children receive through a
** custom wait whose arm yields after setting the mailbox mark, which
** widens the window in which a sender's wake meets the ARMING state. The
** sender threads cancel no counted child (they send to it instead): their
** cancels would end a child that sleeps with its messages in the mailbox
** and so hide a lost wake-up (they did: 16,000 WOKEN notes a run, every
** one dropped, and the old test passed).
** Exit 0 pass, 1 fail. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/proc.h"

#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif
#define WORKERS 3
#define SENDERS 2
#define MANAGERS 4
#ifdef __SANITIZE_THREAD__
#define ROUNDS (1200 * STRESS_SCALE)
#else
#define ROUNDS (6000 * STRESS_SCALE)
#endif
#define KIDS 6
#define DEADLINE_S (150 * STRESS_SCALE)
#define STALL_MS 3000

struct hk_worker { int index; };

enum kind { ROOT, MANAGER, COUNTED, FOREVER, COMPUTE };

typedef struct body {
  enum kind kind;
  int pc;
  _Atomic int oncpu;
  uint64_t rng;
  _Atomic int queued;       /* in the run queue: ready() sets, worker clears */
  int n, got;               /* counted */
  bool noisy;               /* counted: receives through noisy_arm */
  int spins;                /* compute */
  int round, k;             /* manager and root */
  hk_child_t *links[KIDS > MANAGERS ? KIDS : MANAGERS];
  enum kind kinds[KIDS];
  int expect[KIDS];
  int late[KIDS];           /* messages sent after the yield (pc 1) */
  int nlinks;
} body_t;

static hk_procs_t *procs;
static _Atomic int fail;
static _Atomic uint64_t payloads_made, payloads_freed, bodies_made, bodies_freed;
static _Atomic uint64_t outcomes[4];
static _Atomic int root_ended, stop;
static _Atomic int rounds_total, managers_cancelled;

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static hk_task_t *qhead, *qtail;
/* The kind of each pid below MAXPID, set before the process starts. */
#define MAXPID (1u << 20)
static _Atomic uint8_t pid_kind[MAXPID];

static void note_kind(uint64_t pid, enum kind k) {
  if (pid < MAXPID) atomic_store_explicit(&pid_kind[pid], (uint8_t)(k + 1), memory_order_relaxed);
}
/* Whether a sender may cancel [pid]: known, and not a counted child. */
static bool cancellable(uint64_t pid) {
  if (pid >= MAXPID) return false;
  int k = atomic_load_explicit(&pid_kind[pid], memory_order_relaxed);
  return k != 0 && k != COUNTED + 1;
}
static struct hk_worker wk[WORKERS];

#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); atomic_store(&fail, 1); } } while (0)
/* For a corruption the run cannot survive (a task queued twice makes the
** queue a cycle): report and end now. */
#define FATAL(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); _exit(1); } while (0)

static void on_alarm(int sig) {
  (void)sig;
  static const char text[] = "rt_proc: deadline exceeded (lost wake-up or hang)\n";
  if (write(2, text, sizeof text - 1) < 0) { /* nothing to do */ }
  _exit(1);
}

static uint64_t rnd(uint64_t *x) {
  *x ^= *x << 13; *x ^= *x >> 7; *x ^= *x << 17;
  return *x;
}

/* ---- payloads ---- */
static void *make_payload(int64_t v) {
  int64_t *m = malloc(sizeof *m);
  if (!m) abort();
  *m = v;
  atomic_fetch_add_explicit(&payloads_made, 1, memory_order_relaxed);
  return m;
}
static int64_t take_payload(void *pl) {
  int64_t v = *(int64_t *)pl;
  free(pl);
  atomic_fetch_add_explicit(&payloads_freed, 1, memory_order_relaxed);
  return v;
}
static void drop_payload(void *ud, void *pl) { (void)ud; take_payload(pl); }

/* ---- scheduler ---- */
/* A body lives behind its record's pointer in the record's extra bytes. */
static body_t *body_of(hk_proc_t *p) { return *(body_t **)hk_proc_extra(p); }
static hk_proc_t *proc_of(hk_task_t *t) {
  return (hk_proc_t *)(void *)((char *)t - offsetof(hk_proc_t, task));
}

/* Marks p queued; it must not be already. */
static void enqueue_check(hk_proc_t *p) {
  if (atomic_exchange(&body_of(p)->queued, 1) != 0)
    FATAL("rt_proc: process %" PRIu64 " readied while already queued", hk_proc_pid(p));
}

static void ready(void *ud, hk_proc_t *p, hk_worker_t *w) {
  (void)ud; (void)w;
  enqueue_check(p);
  pthread_mutex_lock(&qlock);
  p->task.next = NULL;
  if (qtail) qtail->next = &p->task; else qhead = &p->task;
  qtail = &p->task;
  pthread_cond_signal(&qcond);
  pthread_mutex_unlock(&qlock);
}

static void *worker(void *arg) {
  struct hk_worker *w = arg;
  for (;;) {
    pthread_mutex_lock(&qlock);
    while (!qhead && !atomic_load(&stop)) pthread_cond_wait(&qcond, &qlock);
    hk_task_t *t = qhead;
    if (t) { qhead = t->next; if (!qhead) qtail = NULL; }
    pthread_mutex_unlock(&qlock);
    if (!t) return NULL;
    atomic_store(&body_of(proc_of(t))->queued, 0);
    int32_t budget = 50;
    hk_task_result_t r = t->run(t, w, &budget);
    if (r == HK_TASK_YIELD) {
      enqueue_check(proc_of(t));
      pthread_mutex_lock(&qlock);
      t->next = NULL;
      if (qtail) qtail->next = t; else qhead = t;
      qtail = t;
      pthread_mutex_unlock(&qlock);
    }
  }
}

/* ---- bodies ---- */
static body_t *new_body(enum kind k, uint64_t seed) {
  body_t *b = calloc(1, sizeof *b);
  if (!b) abort();
  b->kind = k;
  b->rng = seed | 1;
  atomic_fetch_add(&bodies_made, 1);
  return b;
}
static hk_proc_t *new_proc(hk_proc_t *parent, body_t *b) {
  hk_proc_t *c = hk_proc_alloc(sizeof b);
  if (!c || hk_proc_register(procs, parent, false, c) != 0) abort();
  *(body_t **)hk_proc_extra(c) = b;
  hk_proc_set_body(c);
  return c;
}
static void free_body(hk_proc_t *p) {
  free(body_of(p));
  atomic_fetch_add(&bodies_freed, 1);
}

static hk_proc_t *spawn(hk_proc_t *parent, enum kind k, uint64_t seed, hk_worker_t *w) {
  hk_proc_t *c = new_proc(parent, new_body(k, seed));
  note_kind(hk_proc_pid(c), k);
  hk_proc_start(c, w);
  return c;
}

/* A receive wait's arm, as proc.c's, but with the process BLOCKED|ARMING
** and the mark set it yields before the final CAS, so a sender's wake
** often finds ARMING and must leave its note (WOKEN). */
static bool noisy_arm(hk_proc_t *p) {
  if (hk_mailbox_mark_owner(&p->mbox, &p->mtail) == HK_MMARK_NONEMPTY) return true;
  sched_yield();
  return false;
}

/* Receives one message into *v; returns 1, or 0 to block/yield (*r set). */
static int recv1(hk_proc_t *p, int64_t *v, hk_slice_t *r) {
  void *pl;
  int rc = hk_proc_recv_owner(p, &pl);
  if (rc == 0) { *v = take_payload(pl); return 1; }
  if (rc == -EBUSY) { *r = HK_SLICE_YIELD; return 0; }
  if (body_of(p)->noisy) hk_proc_wait_custom(p, HK_WAIT_RECV, noisy_arm, NULL);
  else hk_proc_wait_recv(p);
  *r = HK_SLICE_BLOCK;
  return 0;
}

/* Waits until every link is done. Returns 1 when all are, else 0 (*r):
** blocks on all records at once (as wait_any does); any one ending wakes
** us and we re-check. */
static int await_all(hk_proc_t *p, body_t *b, hk_slice_t *r) {
  int pending = 0;
  for (int i = 0; i < b->nlinks; i++)
    if (!hk_child_done(b->links[i])) pending++;
  if (pending == 0) return 1;
  hk_proc_wait_children(p, b->links, (uint32_t)b->nlinks);
  *r = HK_SLICE_BLOCK;
  return 0;
}

static hk_slice_t run_counted(hk_proc_t *p, body_t *b) {
  hk_slice_t r;
  int64_t v;
  while (b->got < b->n) {
    if (!recv1(p, &v, &r)) return r;
    CHECK(v == 1, "counted: message %" PRId64, v);
    b->got++;
  }
  p->out_payload = make_payload(b->n * 10 + 1);
  return HK_SLICE_DONE;
}

static hk_slice_t run_forever(hk_proc_t *p, body_t *b, hk_worker_t *w) {
  if (b->pc == 0) {
    b->pc = 1;
    if (rnd(&b->rng) % 3 == 0) spawn(p, FOREVER, rnd(&b->rng) | 2, w);
  }
  hk_slice_t r;
  int64_t v;
  for (;;)
    if (!recv1(p, &v, &r)) return r;
}

static void check_outcome(body_t *b, int i, hk_outcome_t o, void *pl) {
  int64_t v = pl ? take_payload(pl) : -1;
  atomic_fetch_add(&outcomes[o], 1);
  CHECK(o != HK_OUT_FAILED && o != HK_OUT_NONE, "outcome %d", (int)o);
  if (o != HK_OUT_DONE) return;
  if (b->kinds[i] == COUNTED) CHECK(v == b->expect[i], "counted %" PRId64 " != %d", v, b->expect[i]);
  else if (b->kinds[i] == COMPUTE) CHECK(v == 7, "compute %" PRId64, v);
  else CHECK(0, "forever child ended DONE");
}

static hk_slice_t run_manager(hk_proc_t *p, body_t *b, hk_worker_t *w) {
  hk_slice_t r;
  for (;;) {
    if (b->pc == 0) {
      if (b->round == ROUNDS) { p->out_payload = make_payload(1); return HK_SLICE_DONE; }
      b->nlinks = 0;
      for (int i = 0; i < KIDS; i++) {
        enum kind k = (enum kind)(COUNTED + rnd(&b->rng) % 3);
        body_t *cb = new_body(k, rnd(&b->rng));
        cb->n = (int)(rnd(&b->rng) % 4);
        cb->spins = (int)(rnd(&b->rng) % 3);
        cb->noisy = rnd(&b->rng) % 2 == 0;
        hk_proc_t *c = new_proc(p, cb);
        b->kinds[i] = k;
        b->expect[i] = cb->n * 10 + 1;
        b->links[b->nlinks++] = hk_proc_child(p, hk_proc_pid(c));
        uint64_t pid = hk_proc_pid(c);
        note_kind(pid, k);
        int n = cb->n;
        /* Half the counted children get their messages after the yield,
        ** when they have likely blocked: each message is then a wake. */
        b->late[i] = k == COUNTED && rnd(&b->rng) % 2 == 0 ? n : 0;
        hk_proc_start(c, w); /* from here c and cb belong to the child */
        if (k == COUNTED)
          for (int j = b->late[i]; j < n; j++) hk_proc_send(procs, pid, make_payload(1), w);
        if (rnd(&b->rng) % 4 == 0) {
          hk_proc_t *cc = hk_proc_get(procs, pid);
          if (cc) { hk_proc_cancel(cc, w); hk_proc_unref(cc); }
        }
      }
      b->pc = 1;
      return HK_SLICE_YIELD; /* let the children run (and spawn) first */
    }
    if (b->pc == 1) {
      for (int i = 0; i < KIDS; i++)
        for (int j = 0; j < b->late[i]; j++)
          hk_proc_send(procs, b->links[i]->pid, make_payload(1), w);
      /* forever children only end by cancellation. */
      for (int i = 0; i < KIDS; i++)
        if (b->kinds[i] == FOREVER) {
          hk_proc_t *cc = hk_proc_get(procs, b->links[i]->pid);
          if (cc) { hk_proc_cancel(cc, w); hk_proc_unref(cc); }
        }
      b->pc = 2;
    }
    if (!await_all(p, b, &r)) return r;
    for (int i = 0; i < b->nlinks; i++) {
      void *pl;
      hk_outcome_t o = hk_child_consume(b->links[i], &pl);
      check_outcome(b, i, o, pl);
      void *again;
      CHECK(hk_child_consume(b->links[i], &again) == HK_OUT_NONE && !again,
            "second consume returned an outcome");
    }
    b->round++;
    atomic_fetch_add(&rounds_total, 1);
    b->pc = 0;
    return HK_SLICE_YIELD;
  }
}

static hk_slice_t run_root(hk_proc_t *p, body_t *b, hk_worker_t *w) {
  hk_slice_t r;
  if (b->pc == 0) {
    for (int i = 0; i < MANAGERS; i++) {
      hk_proc_t *m = spawn(p, MANAGER, rnd(&b->rng), w);
      b->links[b->nlinks++] = hk_proc_child(p, hk_proc_pid(m));
    }
    b->pc = 1;
  }
  if (!await_all(p, b, &r)) return r;
  for (int i = 0; i < b->nlinks; i++) {
    void *pl;
    hk_outcome_t o = hk_child_consume(b->links[i], &pl);
    CHECK(o == HK_OUT_DONE || o == HK_OUT_CANCELLED, "manager outcome %d", (int)o);
    if (pl) take_payload(pl);
  }
  p->out_payload = make_payload(42);
  return HK_SLICE_DONE;
}

static hk_slice_t body_run(hk_proc_t *p, hk_worker_t *w, int32_t *budget) {
  body_t *b = body_of(p);
  CHECK(atomic_exchange(&b->oncpu, 1) == 0, "process %" PRIu64 " runs on two workers", hk_proc_pid(p));
  *budget -= 10;
  hk_slice_t r;
  switch (b->kind) {
  case ROOT: r = run_root(p, b, w); break;
  case MANAGER: r = run_manager(p, b, w); break;
  case COUNTED: r = run_counted(p, b); break;
  case FOREVER: r = run_forever(p, b, w); break;
  default:
    if (b->spins-- > 0) r = HK_SLICE_YIELD;
    else { p->out_payload = make_payload(7); r = HK_SLICE_DONE; }
    break;
  }
  atomic_store(&b->oncpu, 0);
  return r;
}

static void root_done(void *ud, hk_proc_t *p, hk_outcome_t o, void *pl) {
  (void)ud; (void)p;
  CHECK(o == HK_OUT_DONE, "root outcome %d", (int)o);
  CHECK(pl && take_payload(pl) == 42, "root result");
  atomic_store(&root_ended, 1);
}

static void *sender(void *arg) {
  uint64_t x = (uint64_t)(uintptr_t)arg * 0x2545f4914f6cdd1du + 7;
  uint64_t sends = 0, cancels = 0;
  while (!atomic_load(&root_ended)) {
    uint64_t top = hk_pidmap_issued(hk_procs_pidmap(procs));
    uint64_t pid = top + 2 - rnd(&x) % 40; /* mostly recent, some never issued */
    if (rnd(&x) % 32 == 0 && cancellable(pid)) {
      hk_proc_t *p = hk_proc_get(procs, pid);
      if (p) {
        /* Leave the root alone so the run ends; cancel one manager (likely
        ** blocked in its await) once a quarter of the work is done. */
        bool manager = pid >= 2 && pid <= 1 + MANAGERS;
        if (pid != 1 && (!manager || (atomic_load(&rounds_total) > ROUNDS &&
                                      atomic_fetch_add(&managers_cancelled, 1) == 0))) {
          hk_proc_cancel(p, NULL);
          cancels++;
        }
        hk_proc_unref(p);
      }
    } else {
      /* Counted children check v == 1: one that gets foreign messages just
      ** finishes earlier with the same result N*10+1. */
      hk_proc_send(procs, pid, make_payload(1), NULL);
      sends++;
    }
    if ((sends & 63) == 0) sched_yield();
  }
  (void)cancels;
  return NULL;
}

/* Events that only grow while processes run: starts, ends, receipts,
** finished rounds. */
static uint64_t progress(void) {
  hk_pcounters_t *c = hk_procs_shared_counters(procs);
  return atomic_load(&c->created) + atomic_load(&c->done) + atomic_load(&c->cancelled) +
         atomic_load(&c->received) + (uint64_t)atomic_load(&rounds_total);
}

int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(DEADLINE_S);
  static const hk_procs_ops_t ops = {
    .run = body_run, .free_body = free_body, .drop_payload = drop_payload,
    .ready = ready, .root_done = root_done,
  };
  if (hk_procs_new(&procs, &ops, NULL) != 0) return 1;
  pthread_t th[WORKERS], se[SENDERS];
  for (int i = 0; i < WORKERS; i++) {
    wk[i].index = i;
    if (pthread_create(&th[i], NULL, worker, &wk[i])) return 1;
  }
  spawn(NULL, ROOT, 12345, NULL);
  for (uintptr_t i = 0; i < SENDERS; i++)
    if (pthread_create(&se[i], NULL, sender, (void *)(i + 1))) return 1;
  /* Lost wake-up watch (see the header): no process started, ended or
  ** received a message for STALL_MS while the root lives. */
  int stalled_ms = 0;
  uint64_t last = 0;
  while (!atomic_load(&root_ended)) {
    usleep(10000);
    uint64_t now = progress();
    stalled_ms = now == last ? stalled_ms + 10 : 0;
    last = now;
    if (stalled_ms >= STALL_MS && !atomic_load(&root_ended)) {
      uint64_t runnable = 0, waiting = 0;
      hk_procs_quiescence(procs, NULL, 0, &runnable, &waiting);
      FATAL("rt_proc: no progress for %d ms while the root lives (lost wake-up): %" PRIu64
            " live, quiescence counts runnable %" PRIu64 " waiting %" PRIu64 ", rounds %d",
            STALL_MS, hk_procs_live(procs, NULL, 0), runnable, waiting,
            atomic_load(&rounds_total));
    }
  }
  for (int i = 0; i < SENDERS; i++) pthread_join(se[i], NULL);
  /* The root ended; its descendants are being cancelled. */
  while (hk_procs_live(procs, NULL, 0) != 0) usleep(1000);
  atomic_store(&stop, 1);
  pthread_mutex_lock(&qlock);
  pthread_cond_broadcast(&qcond);
  pthread_mutex_unlock(&qlock);
  for (int i = 0; i < WORKERS; i++) pthread_join(th[i], NULL);
  size_t left = hk_pidmap_count(hk_procs_pidmap(procs));
  hk_pcounters_t *c = hk_procs_shared_counters(procs);
  printf("rt_proc: processes %" PRIu64 " (done %" PRIu64 ", cancelled %" PRIu64
         "), sent %" PRIu64 ", received %" PRIu64 ", dropped %" PRIu64
         "; child outcomes done %" PRIu64 " cancelled %" PRIu64 "\n",
         atomic_load(&c->created), atomic_load(&c->done), atomic_load(&c->cancelled),
         atomic_load(&c->sent), atomic_load(&c->received), atomic_load(&c->dropped),
         atomic_load(&outcomes[HK_OUT_DONE]), atomic_load(&outcomes[HK_OUT_CANCELLED]));
  CHECK(left == 0, "%zu records left in the pid map", left);
  uint64_t runnable, waiting;
  CHECK(hk_procs_quiescence(procs, NULL, 0, &runnable, &waiting) && runnable == 0 && waiting == 0,
        "quiescence counts: runnable %" PRIu64 " waiting %" PRIu64, runnable, waiting);
  CHECK(atomic_load(&payloads_made) == atomic_load(&payloads_freed),
        "payloads made %" PRIu64 " freed %" PRIu64, atomic_load(&payloads_made),
        atomic_load(&payloads_freed));
  CHECK(atomic_load(&bodies_made) == atomic_load(&bodies_freed), "bodies made %" PRIu64 " freed %" PRIu64,
        atomic_load(&bodies_made), atomic_load(&bodies_freed));
  CHECK(atomic_load(&c->created) == atomic_load(&c->done) + atomic_load(&c->cancelled) + atomic_load(&c->failed),
        "created != ended");
  hk_procs_free(procs);
  return atomic_load(&fail);
}
