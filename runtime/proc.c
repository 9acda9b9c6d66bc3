/* proc.c — process control blocks: the state word protocol, blocking and
** waking, cancellation, children and termination (SPEC §6.3-§6.8, §10.2).
** proc.h explains the state word; docs/runtime.md has the full argument.
**
** Child record word: LIVE 0, LIVE|WAITING 1, DONE 2. The parent arms a wait
** by CAS LIVE -> WAITING after its own state says BLOCKED|ARMING; the child
** ends with an exchange to DONE and wakes the parent if it saw WAITING. Both
** are RMWs on the same word, so exactly one of "the parent sees DONE while
** arming" and "the child sees WAITING" happens (or both, which only costs a
** stale wake that the parent's re-check absorbs). A WAITING word carries a
** reference on the parent's record, so the child wakes it through its
** pointer, without a lookup (arm_children). */
#include "runtime/proc.h"

#include "vm/bcache.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* A child record's word: LIVE or WAITING (the parent armed a join on it),
** LINK_GONE once the parent ended first while the word was LIVE, or DONE
** (the child published; never with GONE). WAITING and GONE each mean one
** reference on the parent's record that the parent took for the child
** (arm_children, leave_child): the child drops it when it publishes, or
** the parent when it disarms (WAITING -> LIVE). */
enum { LINK_LIVE = 0, LINK_WAITING = 1, LINK_DONE = 2, LINK_GONE = 4 };

/* docs/runtime.md, "Memory of a process": sizes that hold measures. */
static_assert(sizeof(hk_proc_t) == 136, "a process control block is 136 bytes");
static_assert(HK_BCACHE_NCLASSES < HK_PROC_MALLOCED, "a class fits bclass");
static_assert(sizeof(hk_proc_t) % 8 == 0, "the body after it is 8-byte aligned");
static_assert(offsetof(hk_proc_t, procs) >= offsetof(hk_proc_t, rt_io_owner) + 1 + 64 &&
                  offsetof(hk_proc_t, procs) >= offsetof(hk_proc_t, mtail) + sizeof(hk_mtail_t) + 64 &&
                  offsetof(hk_proc_t, mbox) > offsetof(hk_proc_t, procs),
              "the receiver's per-message fields are a cache line away from the senders' ones");
static_assert(sizeof(hk_child_t) == 32, "a child record is a 32-byte block");
#define KIDS_FIRST 8u
#define KIDS_LOAD 4u
#define BUSY_SPINS 64

struct hk_procs {
  const hk_procs_ops_t *ops;
  hk_procs_config_t cfg;
  hk_pidmap_t *map;
  /* Processes that exist, with a process limit only (reserve_slot);
  ** without one, shards count them (hk_procs_live). */
  alignas(64) _Atomic uint64_t live;
  alignas(64) hk_pcounters_t shared; /* RMW by any thread without a shard */
};

/* ---- Counters ---------------------------------------------------------- */

static _Thread_local hk_pcounters_t *tls_counters; /* this thread's shard */

void hk_procs_bind_thread(hk_pcounters_t *c) { tls_counters = c; }

hk_pcounters_t *hk_procs_counters(hk_procs_t *P) {
  return tls_counters ? tls_counters : &P->shared;
}

/* Adds [n] to a field of this thread's own shard: relaxed load + store (one
** writer; readers only need each field to be a value it had). */
static inline void bump_own(_Atomic uint64_t *f, uint64_t n) {
  atomic_store_explicit(f, atomic_load_explicit(f, memory_order_relaxed) + n,
                        memory_order_relaxed);
}

/* Adds [n] to a field of [c], this thread's shard (tls_counters, read once
** by a caller that counts several fields of one event), or of the shared
** counters when the thread has none. */
static inline void count_in(hk_pcounters_t *c, hk_procs_t *P, size_t field, uint64_t n) {
  if (c) {
    bump_own((_Atomic uint64_t *)((char *)c + field), n);
  } else {
    _Atomic uint64_t *f = (_Atomic uint64_t *)((char *)&P->shared + field);
    /* Relaxed RMW: a statistic shared by several writers. */
    atomic_fetch_add_explicit(f, n, memory_order_relaxed);
  }
}
#define COUNT_IN(c, P, name, n) count_in((c), (P), offsetof(hk_pcounters_t, name), (n))
#define COUNT(P, name, n) COUNT_IN(tls_counters, (P), name, (n))

void hk_procs_count_msgs(hk_procs_t *P, uint64_t sent, uint64_t received, uint64_t dropped) {
  if (sent) COUNT(P, sent, sent);
  if (received) COUNT(P, received, received);
  if (dropped) COUNT(P, dropped, dropped);
}

/* Quiescence accounting (proc.h, hk_pcounters_t.up/down): a block or a
** wake is one add, COUNT(P, up or down, quiet_unit(state)). */
static inline uint64_t quiet_unit(uint32_t state) {
  return (state & (HK_WAIT_RECV | HK_WAIT_CHILD)) ? 1 + HK_QUIET_JOIN : 1;
}

static void sum_shard(hk_pcounters_t *c, uint64_t *up, uint64_t *down) {
  /* Acquire, like the epoch these two replaced; the two-pass comparison
  ** is what detects a change. */
  *up += atomic_load_explicit(&c->up, memory_order_acquire);
  *down += atomic_load_explicit(&c->down, memory_order_acquire);
}

bool hk_procs_quiescence(hk_procs_t *P, hk_pcounters_t *const *shards, size_t n,
                         uint64_t *runnable, uint64_t *waiting) {
  uint64_t up[2] = {0, 0}, down[2] = {0, 0};
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) sum_shard(shards[i], &up[pass], &down[pass]);
    sum_shard(&P->shared, &up[pass], &down[pass]);
  }
  /* d = runnable - waiting * HK_QUIET_JOIN (mod 2^64), and both counts
  ** are below 2^32 (processes that exist). */
  uint64_t d = up[1] - down[1];
  *runnable = d & (HK_QUIET_JOIN - 1);
  *waiting = (uint32_t)(0u - (uint32_t)(d >> 32));
  /* Every shard's fields only grow (by at least 1 per event), so equal
  ** sums mean no shard changed between its two reads: the reads share an
  ** instant. Coming back to a sum takes over 2^31 events between passes. */
  return up[0] == up[1] && down[0] == down[1];
}

static void count_max(hk_procs_t *P, uint64_t v) {
  hk_pcounters_t *c = hk_procs_counters(P);
  uint64_t cur = atomic_load_explicit(&c->mailbox_high, memory_order_relaxed);
  /* Relaxed CAS: a statistic; the loop only keeps the maximum. */
  while (v > cur && !atomic_compare_exchange_weak_explicit(
                        &c->mailbox_high, &cur, v, memory_order_relaxed,
                        memory_order_relaxed)) {
  }
}

/* ---- The table ----------------------------------------------------------- */

static void proc_release(hk_pmentry_t *e);

int hk_procs_new(hk_procs_t **out, const hk_procs_ops_t *ops, const hk_procs_config_t *cfg) {
  hk_pmentry_set_release(0, proc_release); /* a process record is kind 0 */
  hk_procs_t *P = aligned_alloc(64, sizeof *P);
  if (!P) return -ENOMEM;
  memset(P, 0, sizeof *P);
  P->ops = ops;
  if (cfg) P->cfg = *cfg;
  atomic_init(&P->live, 0);
  if (hk_pidmap_new(&P->map) != 0) {
    free(P);
    return -ENOMEM;
  }
  *out = P;
  return 0;
}

void hk_procs_free(hk_procs_t *P) {
  if (!P) return;
  hk_pidmap_free(P->map);
  free(P);
}

hk_pidmap_t *hk_procs_pidmap(hk_procs_t *P) { return P->map; }
hk_pcounters_t *hk_procs_shared_counters(hk_procs_t *P) { return &P->shared; }

/* A process finished terminating. Release: pairs with sum_live's acquire,
** so a reader that sees this end also sees every creation that happened
** before it (the children this process spawned, on any shard). */
static void count_ended(hk_pcounters_t *c, hk_procs_t *P) {
  if (c)
    atomic_store_explicit(&c->ended, atomic_load_explicit(&c->ended, memory_order_relaxed) + 1,
                          memory_order_release);
  else
    atomic_fetch_add_explicit(&P->shared.ended, 1, memory_order_release);
}

/* One pass of hk_procs_live: every shard's ended, then every shard's
** created, so a process counted as ended is counted as created. */
static void sum_live(hk_procs_t *P, hk_pcounters_t *const *shards, size_t n, uint64_t *created,
                     uint64_t *ended) {
  for (size_t i = 0; i <= n; i++) {
    hk_pcounters_t *c = i < n ? shards[i] : &P->shared;
    /* Acquire: pairs with count_ended's release. */
    *ended += atomic_load_explicit(&c->ended, memory_order_acquire);
  }
  for (size_t i = 0; i <= n; i++) {
    hk_pcounters_t *c = i < n ? shards[i] : &P->shared;
    /* Relaxed: ordered after the acquires above. */
    *created += atomic_load_explicit(&c->created, memory_order_relaxed);
  }
}

uint64_t hk_procs_live(hk_procs_t *P, hk_pcounters_t *const *shards, size_t n) {
  /* Relaxed: a snapshot for the limit's count. */
  if (P->cfg.max_processes) return atomic_load_explicit(&P->live, memory_order_relaxed);
  for (int tries = 0; tries < 64; tries++) {
    uint64_t c[2] = {0, 0}, e[2] = {0, 0};
    sum_live(P, shards, n, &c[0], &e[0]);
    sum_live(P, shards, n, &c[1], &e[1]);
    /* Both counts only grow: equal sums mean no shard changed between its
    ** two reads, and all those intervals contain the end of pass 1. */
    if (c[0] == c[1] && e[0] == e[1]) return c[1] - e[1];
  }
  return 1; /* still changing: processes exist */
}

/* ---- Payloads and mailboxes --------------------------------------------- */

static void drop_payload(hk_procs_t *P, void *payload) {
  if (payload && P->ops->drop_payload) P->ops->drop_payload(P->ops->ud, payload);
}

/* Empties p's mailbox, counting the messages as dropped (SPEC §6.5.5).
** Called by p's terminating worker, or by the last unref (nobody else
** holds p then), so it is the only consumer. */
static __attribute__((noinline)) void drain_slow(hk_proc_t *p) {
  hk_procs_t *P = p->procs;
  uint64_t n = 0;
  for (;;) {
    hk_mnode_t *node;
    hk_mpop_t r = hk_mailbox_pop_owner(&p->mbox, &p->mtail, &node);
    if (r == HK_MPOP_EMPTY) break;
    if (r == HK_MPOP_BUSY) {
      /* A sender still holds a reference (we are not the last unref), so
      ** the final release drains its message later. */
      break;
    }
    hk_envelope_t *env = (hk_envelope_t *)node;
    void *payload = env->payload;
    hk_envelope_free(env); /* before the payload: it may live inside it */
    drop_payload(P, payload);
    n++;
  }
  if (n) COUNT(P, dropped, n);
}

static inline void drain(hk_proc_t *p) {
  /* Usually empty (termination drains, then the last unref again): the
  ** inline look reports what a pop would, without a call, so an ending
  ** process saves no registers for the loop (31 -> ~10 instructions a
  ** drain, callgrind). */
  if (!hk_mailbox_empty_owner(&p->mbox, &p->mtail)) drain_slow(p);
}

/* ---- Child records ------------------------------------------------------- */

static void link_unref(hk_procs_t *P, hk_child_t *c) {
  /* acq_rel: the usual reference-count pairing (pidmap.h). */
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
    if (!c->imm_tag) drop_payload(P, c->payload);
    hk_bcache_free(c, sizeof *c);
  }
}

/* A parent's table of children (p->kids, NULL until its first spawn): a
** chained hash table by pid, with its counts in the same allocation so a
** process that never spawns pays one pointer. Tables up to HK_BCACHE_MAX
** bytes come from the block cache. */
struct hk_kids {
  void *user;         /* first: the body's (hk_proc_kids_user, inline) */
  uint32_t nbuckets, n;
  uint32_t full_at;   /* nbuckets * KIDS_LOAD: kids_reserve's one test */
  uint32_t ndetached; /* detached children in the table */
  hk_child_t *b[];
};
static_assert(offsetof(hk_kids_t, user) == 0, "hk_proc_kids_user reads it first");

static size_t kids_bytes(uint32_t nb) { return sizeof(hk_kids_t) + nb * sizeof(hk_child_t *); }

static hk_kids_t *kids_alloc(uint32_t nb) {
  size_t bytes = kids_bytes(nb);
  hk_kids_t *k = bytes <= HK_BCACHE_MAX ? hk_bcache_alloc(bytes) : malloc(bytes);
  if (k) memset(k, 0, bytes);
  if (k) {
    k->nbuckets = nb;
    k->full_at = nb * KIDS_LOAD;
  }
  return k;
}

static void kids_free(hk_kids_t *k) {
  if (!k) return;
  size_t bytes = kids_bytes(k->nbuckets);
  if (bytes <= HK_BCACHE_MAX) hk_bcache_free(k, bytes);
  else free(k);
}

/* A parent's children have increasing pids, so the low bits spread them
** over the buckets and a spawn loop fills the table in address order (a
** multiplicative hash made every insert a cache miss). */
static uint32_t kid_bucket(const hk_kids_t *k, uint64_t pid) {
  return (uint32_t)pid & (k->nbuckets - 1);
}

static void kids_rehash(hk_proc_t *p, uint32_t nb) {
  hk_kids_t *o = p->kids, *k = kids_alloc(nb);
  if (!k) return; /* keep the old table: longer chains */
  k->n = o->n;
  k->ndetached = o->ndetached;
  k->user = o->user;
  for (uint32_t i = 0; i < o->nbuckets; i++)
    for (hk_child_t *c = o->b[i], *next; c; c = next) {
      next = c->chain;
      uint32_t j = kid_bucket(k, c->pid);
      c->chain = k->b[j];
      k->b[j] = c;
    }
  p->kids = k;
  kids_free(o);
}

/* Forgets detached children that ended (SPEC §6.4.4: nothing of them is
** kept). Amortised: runs when the table is full (kids_full). */
static void kids_purge(hk_procs_t *P, hk_kids_t *k) {
  for (uint32_t i = 0; i < k->nbuckets; i++) {
    hk_child_t **pp = &k->b[i];
    while (*pp) {
      hk_child_t *c = *pp;
      if (hk_child_detached(c) && hk_child_done(c)) {
        *pp = c->chain;
        k->n--;
        k->ndetached--;
        link_unref(P, c);
      } else {
        pp = &c->chain;
      }
    }
  }
}

/* A full table (an average chain of KIDS_LOAD children): ended detached
** children are forgotten, and the table doubles unless that left it at
** most half full, so that the next purge or growth is at least
** full_at / 2 spawns away (amortised, however many stay). */
static __attribute__((noinline)) void kids_full(hk_proc_t *p) {
  hk_kids_t *k = p->kids;
  /* Only detached children are purged: without any, skip the walk. */
  if (k->ndetached) kids_purge(p->procs, k);
  if (k->n > k->full_at / 2) kids_rehash(p, k->nbuckets * 2);
}

/* Makes room for one more child (the table is made or grown). Chains
** average up to KIDS_LOAD records before the table doubles: a skynet node's
** 10 children fit the first table. One test of a spawn (a purge point and
** a growth point were two, with the detached count: 9 instructions). */
static int kids_reserve(hk_proc_t *p) {
  hk_kids_t *k = p->kids;
  if (!k && !(k = p->kids = kids_alloc(KIDS_FIRST))) return -ENOMEM;
  if (__builtin_expect(k->n >= k->full_at, 0)) kids_full(p);
  return 0;
}

/* Links [c] (its pid set) after kids_reserve made room. */
static void kids_link(hk_proc_t *p, hk_child_t *c) {
  hk_kids_t *k = p->kids;
  uint32_t j = kid_bucket(k, c->pid);
  c->chain = k->b[j];
  k->b[j] = c;
  k->n++;
  k->ndetached += hk_child_detached(c);
}

hk_child_t *hk_proc_child(hk_proc_t *p, uint64_t pid) {
  hk_kids_t *k = p->kids;
  if (!k) return NULL;
  hk_child_t *c = k->b[kid_bucket(k, pid)];
  while (c && c->pid != pid) c = c->chain;
  return c;
}

bool hk_child_done(const hk_child_t *c) {
  /* Acquire: pairs with the child's exchange to DONE (release) in
  ** publish_outcome, so its outcome and payload are visible (SPEC §6.13.1). */
  return atomic_load_explicit(&((hk_child_t *)c)->word, memory_order_acquire) == LINK_DONE;
}

hk_outcome_t hk_child_consume(hk_child_t *c, void **payload) {
  assert(hk_child_done(c));
  *payload = NULL;
  if (c->flags & HK_CHILD_CONSUMED) return HK_OUT_NONE;
  c->flags |= HK_CHILD_CONSUMED;
  if (!c->imm_tag) { /* an immediate stays for hk_child_imm */
    *payload = c->payload;
    c->payload = NULL;
  }
  return (hk_outcome_t)c->outcome;
}

/* ---- Creation and release ------------------------------------------------ */


static void proc_release(hk_pmentry_t *e) {
  hk_proc_t *p = (hk_proc_t *)e;
  drain(p); /* messages sent after termination's drain */
  if (hk_proc_has_body(p) && p->procs->ops->free_body) p->procs->ops->free_body(p);
  kids_free(p->kids);
  hk_proc_dispose(p);
}

/* A process limit counts processes in one shared word (checked and
** raised by one CAS); without one, nothing is shared: COUNT(created) and
** COUNT(ended) in the creator's and the terminator's shards. */
static int reserve_slot(hk_procs_t *P) {
  if (P->cfg.max_processes == 0) return 0;
  uint64_t cur = atomic_load_explicit(&P->live, memory_order_relaxed);
  do {
    if (cur >= P->cfg.max_processes) return -EAGAIN;
  } while (!atomic_compare_exchange_weak_explicit(&P->live, &cur, cur + 1,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed));
  return 0;
}

static void release_slot(hk_procs_t *P) {
  /* Relaxed: a count; nothing is published through it. */
  if (P->cfg.max_processes) atomic_fetch_sub_explicit(&P->live, 1, memory_order_relaxed);
}

/* Records and child records come from the per-thread block cache: a
** record is usually freed on another worker than its creator's. Only the
** class and the no-body flag are set here: hk_proc_register stores every
** other field once. A memset of the record first was gcc's `rep stosq`
** for 136 bytes, 26 instructions of every spawn before the fields were
** stored over it. */
hk_proc_t *hk_proc_alloc(size_t extra) {
  size_t size = sizeof(hk_proc_t) + hk_proc_room(extra);
  hk_proc_t *p = size <= HK_BCACHE_MAX ? hk_bcache_alloc(size) : aligned_alloc(64, size);
  if (!p) return NULL;
#ifdef HK_DEBUG_CHECKS
  /* Garbage, so that a field hk_proc_register forgets shows in the tests. */
  memset(p, 0xa5, sizeof *p);
#endif
  p->bclass = size <= HK_BCACHE_MAX ? (uint8_t)hk_bcache_class(size) : HK_PROC_MALLOCED;
  /* No body yet: the body's host calls look (hk_proc_has_body) before
  ** hk_proc_register, e.g. a builtin spawned as the entry (spawn self) runs
  ** in hk_vm_start_call and must leave its request for the first slice. */
  p->e.owner_bits = 0;
  atomic_init(&p->mbox.user, HK_GATE_NOBODY); /* hk_mailbox_init leaves it */
  return p;
}

void hk_proc_dispose(hk_proc_t *p) {
  if (p->bclass != HK_PROC_MALLOCED) hk_bcache_free(p, hk_bcache_class_bytes(p->bclass));
  else free(p);
}

int hk_proc_register(hk_procs_t *P, hk_proc_t *parent, bool detached, hk_proc_t *p) {
  int rc = reserve_slot(P);
  if (rc) return rc;
  hk_child_t *c = NULL;
  if (parent) {
    c = hk_bcache_alloc(sizeof *c);
    if (!c || kids_reserve(parent) != 0) {
      hk_bcache_free(c, sizeof *c);
      release_slot(P);
      return -ENOMEM;
    }
  }
  uint64_t pid = hk_pidmap_alloc(P->map);
  /* Every field of the record once (hk_proc_alloc set only bclass). */
  hk_pmentry_init(&p->e, pid, 0); /* the "live" reference; kind 0: proc_release */
  p->procs = P;
  p->link = c;
  p->parent = parent;
  p->root_pid = parent ? parent->root_pid : pid;
  p->task = (hk_task_t){.run = hk_proc_task_run};
  p->wait = (hk_wait_t){0};
  p->kids = NULL;
  p->rt_recv_empty = p->rt_io_owner = false;
  p->rt_start = 0;
  atomic_init(&p->state, HK_PS_RUNNABLE);
  hk_mailbox_init(&p->mbox, &p->mtail);
  if (c) {
    *c = (hk_child_t){.pid = pid,
                      .word = LINK_LIVE,
                      .refs = 2,
                      .flags = detached ? HK_CHILD_DETACHED : 0};
    kids_link(parent, c);
  }
  hk_pidmap_insert(P->map, &p->e);
  hk_pcounters_t *own = tls_counters; /* one TLS load for both counts */
  COUNT_IN(own, P, created, 1);
  if (parent) COUNT_IN(own, P, spawns, 1);
  return 0;
}

int hk_proc_new(hk_procs_t *P, hk_proc_t *parent, bool detached, hk_proc_t **out) {
  hk_proc_t *p = hk_proc_alloc(0);
  if (!p) return -ENOMEM;
  int rc = hk_proc_register(P, parent, detached, p);
  if (rc) {
    hk_proc_dispose(p);
    return rc;
  }
  *out = p;
  return 0;
}

void hk_proc_start(hk_proc_t *p, hk_worker_t *w) {
  COUNT(p->procs, up, 1);
  p->procs->ops->ready(p->procs->ops->ud, p, w);
}

hk_proc_t *hk_proc_get(hk_procs_t *P, uint64_t pid) {
  hk_pmentry_t *e = hk_pidmap_get(P->map, pid);
  if (e && e->kind != 0) {
    hk_pmentry_unref(e);
    return NULL;
  }
  return (hk_proc_t *)e;
}

/* ---- Waking and cancelling ----------------------------------------------- */

/* The CAS out of BLOCKED for a waker: true when this call won it (then *s
** is the BLOCKED word it replaced, and the caller readies p). */
static inline bool wake_cas(hk_proc_t *p, uint32_t reasons, uint32_t *s) {
  /* Acquire: pairs with the blocker's release CASes, so we see a current
  ** BLOCKED word before trying ours. */
  *s = atomic_load_explicit(&p->state, memory_order_acquire);
  for (;;) {
    if ((*s & HK_PS_MASK) != HK_PS_BLOCKED || !(*s & reasons)) return false;
    if (*s & HK_PS_ARMING) {
      if (*s & HK_PS_WOKEN) return false;
      /* Leave a note; the arming worker's final CAS fails and it resumes
      ** the process itself. Release: publishes what we did before waking
      ** (acq_rel for the same reason as below). */
      if (atomic_compare_exchange_weak_explicit(&p->state, s, *s | HK_PS_WOKEN,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return false;
      continue;
    }
    /* BLOCKED -> RUNNABLE. Acquire: pairs with the blocker's final release
    ** CAS, so everything its worker wrote into p happens before the next
    ** run (which may be on our worker). Release: pairs with proc_run's
    ** acq_rel RUNNABLE -> RUNNING, publishing what we did before the wake. */
    if (atomic_compare_exchange_weak_explicit(&p->state, s, HK_PS_RUNNABLE | (*s & HK_PS_DOOMED),
                                              memory_order_acq_rel,
                                              memory_order_acquire))
      return true;
  }
}

/* A won wake: counted, and p to its worker. */
static inline void readied(hk_proc_t *p, uint32_t s, hk_worker_t *w) {
  COUNT(p->procs, up, quiet_unit(s));
  p->procs->ops->ready(p->procs->ops->ud, p, w);
}

bool hk_proc_wake(hk_proc_t *p, uint32_t reasons, hk_worker_t *w) {
  uint32_t s;
  if (!wake_cas(p, reasons, &s)) return false;
  readied(p, s, w);
  return true;
}

/* hk_proc_wake for a sender, which needs no result: the ready is a tail
** call, so the usual wake saves no registers (-10 instructions per wake). */
static __attribute__((noinline)) void wake_receiver(hk_proc_t *p, hk_worker_t *w) {
  uint32_t s;
  /* A receive wait: the count's weight is known (quiet_unit). */
  if (wake_cas(p, HK_WAIT_RECV, &s)) readied(p, HK_WAIT_RECV, w);
}

bool hk_proc_doom(hk_proc_t *p, uint32_t reasons) {
  uint32_t s = atomic_load_explicit(&p->state, memory_order_acquire);
  for (;;) {
    if ((s & HK_PS_MASK) != HK_PS_BLOCKED || (s & (HK_PS_ARMING | HK_PS_DOOMED)) ||
        !(s & reasons))
      return false;
    /* Relaxed would do for the mark (the wake that follows is an RMW on
    ** the same word); acq_rel keeps all state-word RMWs uniform. */
    if (atomic_compare_exchange_weak_explicit(&p->state, &s, s | HK_PS_DOOMED,
                                              memory_order_acq_rel,
                                              memory_order_acquire)) {
      /* The receive gate's copy (proc.h): p runs only after a wake, an
      ** RMW of the state word after this. */
      atomic_fetch_or_explicit(&p->mbox.user, HK_PS_DOOMED, memory_order_relaxed);
      return true;
    }
  }
}

void hk_proc_cancel(hk_proc_t *p, hk_worker_t *w) {
  uint32_t s = atomic_load_explicit(&p->state, memory_order_acquire);
  for (;;) {
    if ((s & HK_PS_MASK) == HK_PS_TERMINATED || (s & HK_PS_CANCEL)) return;
    if ((s & HK_PS_MASK) == HK_PS_BLOCKED && !(s & HK_PS_ARMING)) {
      /* A blocked process is cancelled at once: we win the CAS out of
      ** BLOCKED like any waker (same orderings as hk_proc_wake) and ready
      ** it; it terminates before running hiko code (SPEC §6.7.2). */
      if (atomic_compare_exchange_weak_explicit(&p->state, &s,
                                                HK_PS_RUNNABLE | HK_PS_CANCEL | (s & HK_PS_DOOMED),
                                                memory_order_acq_rel,
                                                memory_order_acquire)) {
        COUNT(p->procs, up, quiet_unit(s));
        p->procs->ops->ready(p->procs->ops->ud, p, w);
        return;
      }
      continue;
    }
    /* Runnable, running or arming: its own worker sees the bit at the next
    ** slice boundary or block attempt. Relaxed would do for the flag
    ** itself; acq_rel keeps all state-word RMWs uniform. */
    if (atomic_compare_exchange_weak_explicit(&p->state, &s, s | HK_PS_CANCEL,
                                              memory_order_acq_rel,
                                              memory_order_acquire)) {
      /* The receive gate's copy (proc.h), before we return: a message sent
      ** after this cancel is dropped by the take (hk_proc_cancel_requested). */
      atomic_fetch_or_explicit(&p->mbox.user, HK_PS_CANCEL, memory_order_relaxed);
      return;
    }
  }
}

/* ---- Messages ------------------------------------------------------------- */

static int dropped(hk_procs_t *P, void *payload) {
  /* Unknown, terminated (or no memory for the envelope): dropped
  ** (SPEC §6.5.1). */
  drop_payload(P, payload);
  COUNT(P, dropped, 1);
  return -ESRCH;
}


/* A send to a process that terminated: the envelope and the payload are
** dropped. Out of line, so that the send (a push) saves no registers. */
static __attribute__((noinline)) int dropped_env(hk_procs_t *P, hk_envelope_t *env) {
  void *payload = env->payload;
  hk_envelope_free(env);
  return dropped(P, payload);
}

/* A send whose push consumed the receiver's mark: it wakes the receiver.
** Out of line, as dropped_env. */
static __attribute__((noinline)) int sent_wake(hk_procs_t *P, hk_proc_t *p, hk_worker_t *w) {
  wake_receiver(p, w);
  COUNT(P, sent, 1);
  return 0;
}

int hk_proc_send_env(hk_procs_t *P, hk_proc_t *p, hk_envelope_t *env, hk_worker_t *w) {
  if ((hk_proc_state(p) & HK_PS_MASK) == HK_PS_TERMINATED) return dropped_env(P, env);
  if (hk_mailbox_push(&p->mtail, &env->node)) return sent_wake(P, p, w);
  COUNT(P, sent, 1);
  return 0;
}

/* hk_proc_send_env_held's rare cases, out of line. */
static __attribute__((noinline)) bool dropped_held(hk_procs_t *P, hk_proc_t *p,
                                                   hk_envelope_t *env, uintptr_t *held) {
  dropped_env(P, env);
  hk_proc_unref(p);
  *held = 0;
  return true;
}

static __attribute__((noinline)) bool sent_wake_held(hk_procs_t *P, hk_proc_t *p,
                                                     hk_worker_t *w) {
  wake_receiver(p, w);
  COUNT(P, sent, 1);
  return true;
}

bool hk_proc_send_env_held(hk_procs_t *P, hk_proc_t *p, hk_envelope_t *env, hk_worker_t *w,
                           uintptr_t *held) {
  if ((hk_proc_state(p) & HK_PS_MASK) == HK_PS_TERMINATED) return dropped_held(P, p, env, held);
  if (hk_mailbox_push(&p->mtail, &env->node)) return sent_wake_held(P, p, w);
  COUNT(P, sent, 1);
  return true;
}

int hk_proc_send_env_pid(hk_procs_t *P, uint64_t pid, uint64_t root_pid, hk_envelope_t *env,
                         hk_worker_t *w) {
  hk_pmentry_t *e = hk_pidmap_get_locked(P->map, pid);
  hk_proc_t *p = (hk_proc_t *)e;
  if (e && (e->kind != 0 || p->root_pid != root_pid)) {
    hk_pidmap_unlock(P->map, pid);
    return -EXDEV;
  }
  /* p's live reference keeps it alive until the unlock (stop_proc
  ** removes p under this lock before release_proc drops it); after it, a
  ** message pushed here is p's, drained by its end if it terminates. */
  bool wake = false;
  if (e && (hk_proc_state(p) & HK_PS_MASK) != HK_PS_TERMINATED) {
    wake = hk_mailbox_push(&p->mtail, &env->node);
    /* Waking readies p (scheduler queues, maybe a futex): not under the
    ** spin lock, so the waker holds a reference (p was blocked: its
    ** worker is not reading its first line now). */
    if (wake) hk_proc_ref(p);
    env = NULL;
  }
  hk_pidmap_unlock(P->map, pid);
  if (env) {
    void *payload = env->payload;
    hk_envelope_free(env);
    return dropped(P, payload);
  }
  if (wake) {
    wake_receiver(p, w);
    hk_proc_unref(p);
  }
  COUNT(P, sent, 1);
  return 0;
}

int hk_proc_send_ref(hk_procs_t *P, hk_proc_t *p, void *payload, hk_worker_t *w) {
  hk_envelope_t *env = hk_envelope_new();
  if (!env) return dropped(P, payload);
  env->payload = payload;
  return hk_proc_send_env(P, p, env, w);
}

int hk_proc_send(hk_procs_t *P, uint64_t pid, void *payload, hk_worker_t *w) {
  hk_pmentry_t *e = hk_pidmap_get(P->map, pid);
  if (e && e->kind != 0) {
    int rc = P->ops->send_other ? P->ops->send_other(P->ops->ud, e, payload) : -ESRCH;
    hk_pmentry_unref(e);
    if (rc == 0) {
      COUNT(P, sent, 1);
      return 0;
    }
    e = NULL;
  }
  if (!e) return dropped(P, payload);
  int rc = hk_proc_send_ref(P, (hk_proc_t *)e, payload, w);
  hk_pmentry_unref(e);
  return rc;
}

int hk_proc_recv_owner(hk_proc_t *p, void **payload) {
  hk_envelope_t *env;
  int rc = hk_proc_recv_env_owner(p, &env);
  if (rc == 0) {
    *payload = env->payload;
    hk_envelope_free(env);
  }
  return rc;
}

void hk_proc_note_run_owner(hk_proc_t *p, uint32_t run) { count_max(p->procs, run); }

/* hk_proc_recv_env_owner past a first pop that found [r] (EMPTY or BUSY):
** out of line, so the usual take saves no registers for the spin. */
static __attribute__((noinline)) int recv_env_retry(hk_proc_t *p, hk_envelope_t **out,
                                                    hk_mpop_t r) {
  for (int spin = 1;; spin++) {
    if (r == HK_MPOP_EMPTY) {
      hk_proc_run_end_owner(p);
      return -EAGAIN;
    }
    if (spin > BUSY_SPINS) return -EBUSY;
    hk_mnode_t *node;
    r = hk_mailbox_pop_owner(&p->mbox, &p->mtail, &node);
    if (r == HK_MPOP_OK) {
      *out = (hk_envelope_t *)node;
      COUNT(p->procs, received, 1);
      return 0;
    }
  }
}

/* hk_proc_recv_env_owner when the inline pop declined: the whole pop. */
static __attribute__((noinline)) int recv_env_slow(hk_proc_t *p, hk_envelope_t **out) {
  hk_mnode_t *node;
  hk_mpop_t r = hk_mailbox_pop_owner(&p->mbox, &p->mtail, &node);
  if (r != HK_MPOP_OK) return recv_env_retry(p, out, r);
  *out = (hk_envelope_t *)node;
  COUNT(p->procs, received, 1);
  return 0;
}

hk_envelope_t *hk_proc_recv_next_owner(hk_proc_t *p) {
  hk_mnode_t *node = hk_mailbox_pop_next_owner(&p->mbox);
  if (node) COUNT(p->procs, received, 1);
  return (hk_envelope_t *)node;
}

int hk_proc_recv_env_owner(hk_proc_t *p, hk_envelope_t **out) {
  /* A backlog's message (fanin's receiver, counting's counter) is taken
  ** without a call; the last of a run, an empty mailbox and a sender
  ** mid-push go out of line. */
  hk_envelope_t *env = hk_proc_recv_next_owner(p);
  if (__builtin_expect(!env, 0)) return recv_env_slow(p, out);
  *out = env;
  return 0;
}

/* ---- Blocking --------------------------------------------------------------- */

static bool arm_recv(hk_proc_t *p) {
  return hk_mailbox_mark_owner(&p->mbox, &p->mtail) == HK_MMARK_NONEMPTY;
}

/* Every LIVE -> WAITING gives the child one reference on our record: the
** child wakes us through its pointer (publish_outcome), without looking us
** up by pid, and our record stays allocated until it did, however soon we
** end after another waker or a canceller. The references are taken before
** the CASes, one per link, and those not handed over are dropped after
** (never our last: the live one is held): a child may drop its reference
** as soon as our CAS made it WAITING, and two children that did so before
** a later add took our count from 2 (the live and the pid map's) to zero
** while we were still arming (rt_proc under TSan, stop 18). Out of line,
** as disarm_children: inlined into block(), and so into
** hk_proc_run_slice, the join's code made every slice save more registers
** (pingpong +2.1 instructions per round trip, callgrind), joins or not. */
static __attribute__((noinline)) bool arm_children(hk_proc_t *p) {
  bool met = false;
  uint32_t n = p->wait.nlinks, armed = 0;
  /* Relaxed, as any new reference from one we hold (hk_pmentry_ref). */
  atomic_fetch_add_explicit(&p->e.refs, n, memory_order_relaxed);
  for (uint32_t i = 0; i < n && !met; i++) {
    hk_child_t *c = p->wait.links[i];
    uint32_t expect = LINK_LIVE;
    /* acq_rel: release pairs with the child's exchange to DONE (acquire),
    ** so our BLOCKED|ARMING state happens before its wake CAS; acquire on
    ** failure pairs with that exchange's release (its outcome). */
    if (atomic_compare_exchange_strong_explicit(&c->word, &expect, LINK_WAITING,
                                                memory_order_acq_rel, memory_order_acquire))
      armed++;
    else
      met = expect == LINK_DONE;
  }
  /* Release, as any unref: our uses of the record come before a later
  ** last drop. */
  if (armed < n) atomic_fetch_sub_explicit(&p->e.refs, n - armed, memory_order_release);
  return met;
}

static __attribute__((noinline)) void disarm_children(hk_proc_t *p) {
  for (uint32_t i = 0; i < p->wait.nlinks; i++) {
    uint32_t expect = LINK_WAITING;
    /* Relaxed: only avoids a later stale wake; publishes nothing. A won
    ** CAS takes the child's reference back (never our last: the live one
    ** is held). */
    if (atomic_compare_exchange_strong_explicit(&p->wait.links[i]->word, &expect, LINK_LIVE,
                                                memory_order_relaxed, memory_order_relaxed))
      hk_proc_unref(p);
  }
}

static void disarm(hk_proc_t *p) {
  if (p->wait.reason & HK_WAIT_RECV) hk_mailbox_unmark_owner(&p->mbox, &p->mtail);
  if (p->wait.reason & HK_WAIT_CHILD) disarm_children(p);
}

void hk_proc_wait_recv(hk_proc_t *p) {
  p->wait.reason = HK_WAIT_RECV;
  p->wait.custom = 0;
  p->wait.nlinks = 0;
}

void hk_proc_wait_children(hk_proc_t *p, hk_child_t **links, uint32_t n) {
  p->wait.reason = HK_WAIT_CHILD;
  p->wait.custom = 0;
  p->wait.links = links;
  p->wait.nlinks = n;
}

void hk_proc_wait_child(hk_proc_t *p, hk_child_t *c) {
  p->wait.one = c;
  hk_proc_wait_children(p, &p->wait.one, 1);
}

void hk_proc_wait_custom(hk_proc_t *p, uint32_t reason, hk_arm_fn arm, void *arg) {
  assert(!(reason & HK_WAIT_CHILD) && reason <= UINT16_MAX);
  p->wait.reason = (uint16_t)reason;
  p->wait.custom = 1;
  p->wait.arm = arm;
  p->wait.nlinks = 0;
  p->wait.arg = arg;
}

/* Arms p's wait: true if its condition already holds. */
static bool arm(hk_proc_t *p) {
  if (p->wait.custom) return p->wait.arm(p);
  return p->wait.reason == HK_WAIT_RECV ? arm_recv(p) : arm_children(p);
}

typedef enum { BLOCK_SLEEP, BLOCK_CONTINUE, BLOCK_CANCEL } block_t;

/* The blocking protocol (SPEC §10.5.2). After BLOCK_SLEEP the caller must
** not touch p again. */
static block_t block(hk_proc_t *p) {
  uint32_t reason = p->wait.reason;
  uint32_t cur = HK_PS_RUNNING;
  /* RUNNING -> BLOCKED|ARMING. Fails only if CANCEL was set: "cancelled
  ** when it next tries to block". Release is not needed yet (nobody may
  ** ready p while ARMING); acquire pairs with the canceller's CAS. */
  if (!atomic_compare_exchange_strong_explicit(&p->state, &cur,
                                               HK_PS_BLOCKED | HK_PS_ARMING | reason,
                                               memory_order_acquire,
                                               memory_order_acquire))
    return BLOCK_CANCEL;
  cur = HK_PS_BLOCKED | HK_PS_ARMING | reason;
  if (!arm(p)) {
    /* Armed and nothing happened yet: BLOCKED. Release: pairs with the
    ** winning waker's acquire CAS, so every write of this slice into p
    ** happens before p runs again on any worker. */
    /* Account first: after the CAS p belongs to its waker, whose +1 must
    ** not be seen before our -1 in the same shard sum. */
    COUNT(p->procs, down, quiet_unit(reason));
    if (atomic_compare_exchange_strong_explicit(&p->state, &cur, HK_PS_BLOCKED | reason,
                                                memory_order_release,
                                                memory_order_acquire))
      return BLOCK_SLEEP;
    COUNT(p->procs, up, quiet_unit(reason));
    /* A waker (WOKEN) or a canceller (CANCEL) came while we armed. */
  }
  /* Condition met or woken while arming: RUNNING again, keeping CANCEL.
  ** Acquire: the note's writer published what it did. */
  while (!atomic_compare_exchange_weak_explicit(&p->state, &cur,
                                                HK_PS_RUNNING | (cur & HK_PS_CANCEL),
                                                memory_order_acquire,
                                                memory_order_acquire)) {
  }
  disarm(p);
  return (cur & HK_PS_CANCEL) ? BLOCK_CANCEL : BLOCK_CONTINUE;
}

/* ---- Termination ------------------------------------------------------------ */

static void publish_outcome(hk_proc_t *p, hk_outcome_t out, void *payload, hk_worker_t *w) {
  hk_procs_t *P = p->procs;
  hk_child_t *c = p->link;
  if (!c) {
    if (P->ops->root_done) P->ops->root_done(P->ops->ud, p, out, payload);
    else drop_payload(P, payload);
    return;
  }
  bool detached = hk_child_detached(c);
  if (detached || out != HK_OUT_DONE) c->imm_tag = 0;
  if (detached) {
    /* Nothing of a detached child is kept (SPEC §6.4.4). */
    if (out == HK_OUT_FAILED) COUNT(P, detached_failed, 1);
    drop_payload(P, payload);
    payload = NULL;
  }
  c->outcome = (uint8_t)out;
  if (!c->imm_tag) c->payload = payload;
  else drop_payload(P, payload); /* NULL: the body set an immediate */
  /* The parent's record is allocated until our exchange below; after it
  ** only if the word held a reference for us (WAITING or GONE). */
  hk_proc_t *parent = p->parent;
  /* acq_rel: release publishes the outcome and everything this process did
  ** (SPEC §6.13.1) to the parent's acquire of DONE; acquire pairs with the
  ** parent's arm CAS (release), so its BLOCKED word is visible to the wake,
  ** and with its CAS to GONE, so its reference for us is ours to drop. */
  uint32_t old = atomic_exchange_explicit(&c->word, LINK_DONE, memory_order_acq_rel);
  if (old != LINK_LIVE) {
    /* A parent that ended (GONE, or a WAITING one that ended since) is not
    ** BLOCKED: the wake does nothing. */
    if (old == LINK_WAITING) hk_proc_wake(parent, HK_WAIT_CHILD, w);
    hk_proc_unref(parent);
  }
  link_unref(P, c);
}

/* Takes over a child that is BLOCKED (not arming, not doomed by the
** deadlock check, not already cancelled) so that its canceller can end it
** at once: true when we won it from its wakers, leaving it RUNNING|CANCEL
** and ours. Same orderings as hk_proc_cancel's CAS out of BLOCKED. */
static bool take_blocked(hk_proc_t *p) {
  uint32_t s = atomic_load_explicit(&p->state, memory_order_acquire);
  while ((s & HK_PS_MASK) == HK_PS_BLOCKED &&
         !(s & (HK_PS_ARMING | HK_PS_DOOMED | HK_PS_CANCEL))) {
    if (atomic_compare_exchange_weak_explicit(&p->state, &s, HK_PS_RUNNING | HK_PS_CANCEL,
                                              memory_order_acq_rel,
                                              memory_order_acquire)) {
      COUNT(p->procs, up, quiet_unit(s));
      return true;
    }
  }
  return false;
}

/* A child that has not published its outcome may still run its body, and
** send to us through its borrowed pointer (hk_proc_parent), after we end:
** it gets a reference on our record, handed over by marking its record's
** word GONE, and drops it when it publishes (publish_outcome). A child
** that published meanwhile gets nothing, and one whose word is WAITING
** already has its reference (arm_children): only the child changes the
** word now (to DONE), since we no longer arm or disarm. */
static void leave_child(hk_proc_t *p, hk_child_t *c) {
  uint32_t w = atomic_load_explicit(&c->word, memory_order_relaxed);
  if (w != LINK_LIVE) return; /* DONE, or WAITING */
  hk_proc_ref(p);
  /* Release: our reference (taken above) happens before the child's
  ** unref, which follows its acquire exchange that reads GONE. */
  if (!atomic_compare_exchange_strong_explicit(&c->word, &w, LINK_GONE, memory_order_release,
                                               memory_order_relaxed))
    hk_proc_unref(p); /* DONE first; not the last: our live reference is still held */
}

/* Cancels every live child (SPEC §6.8.1) and drops our child records (the
** table itself stays for the body's join record until free_proc). A
** blocked child is taken over and pushed on [*todo] (with its lookup
** reference) for terminate() to end on this worker; any other child is
** cancelled as by `cancel`, at its next slice boundary. */
static __attribute__((noinline)) void end_children_slow(hk_proc_t *p, hk_worker_t *w,
                                                        hk_task_t **todo) {
  hk_kids_t *k = p->kids;
  for (uint32_t i = 0; i < k->nbuckets; i++)
    for (hk_child_t *c = k->b[i], *next; c; c = next) {
      next = c->chain;
      if (!hk_child_done(c)) {
        leave_child(p, c);
        hk_proc_t *kid = hk_proc_get(p->procs, c->pid);
        if (kid && take_blocked(kid)) {
          kid->task.next = *todo; /* not in any queue while blocked */
          *todo = &kid->task;
        } else if (kid) {
          hk_proc_cancel(kid, w);
          hk_proc_unref(kid);
        }
      }
      link_unref(p->procs, c);
    }
}

/* end_children_slow for a process that has a table of children: most
** processes (every spawn child) never spawned, and the loop's saved
** registers cost an ending leaf ~45 instructions (callgrind). */
static inline void end_children(hk_proc_t *p, hk_worker_t *w, hk_task_t **todo) {
  if (p->kids) end_children_slow(p, w, todo);
}

/* First half of a termination: p is TERMINATED for senders, its children
** cancelled (blocked ones onto [*todo]); its body is still there. Its
** outcome is counted in release_proc. */
static void stop_proc(hk_proc_t *p, hk_worker_t *w, hk_task_t **todo) {
  hk_procs_t *P = p->procs;
  /* We own p (RUNNING, or RUNNABLE with CANCEL that we just took). The
  ** exchange wins over a canceller's concurrent CAS. Release: pairs with
  ** hk_proc_state's acquire (a sender that sees TERMINATED drops). */
  atomic_exchange_explicit(&p->state, HK_PS_TERMINATED, memory_order_acq_rel);
  hk_pidmap_remove(P->map, &p->e); /* later sends find nothing */
  end_children(p, w, todo);
}

/* Frees a stopped process's body (heap, stack; its pending I/O is cancelled
** and its sockets close) and its table of children. */
static void free_proc(hk_proc_t *p) {
  hk_procs_t *P = p->procs;
  if (P->ops->free_body && hk_proc_has_body(p)) P->ops->free_body(p);
  hk_proc_clear_body(p);
  if (p->kids) {
    kids_free(p->kids);
    p->kids = NULL;
  }
}

/* Second half: the outcome goes to the parent (or host), p is gone. */
static void release_proc(hk_proc_t *p, hk_worker_t *w, hk_outcome_t out, void *payload) {
  hk_procs_t *P = p->procs;
  /* The outcome, down and ended counts of one termination: one TLS load.
  ** The outcome is counted before it is published (a parent that sees a
  ** child's result sees it counted). */
  hk_pcounters_t *own = tls_counters;
  if (out == HK_OUT_DONE) COUNT_IN(own, P, done, 1);
  else if (out == HK_OUT_FAILED) COUNT_IN(own, P, failed, 1);
  else COUNT_IN(own, P, cancelled, 1);
  publish_outcome(p, out, payload, w);
  drain(p);
  /* The high-water mark is noted when a receive finds the mailbox empty;
  ** a process that took its messages and ended never did (SPEC §10.9: a
  ** child that drained 40 queued messages left the mark at 0). */
  hk_proc_run_end_owner(p);
  COUNT_IN(own, P, down, 1);
  release_slot(P);
  count_ended(own, P);
  hk_proc_unref(p); /* the live reference */
}

/* Ends the blocked descendants that stop_proc(p) put on [todo], and p's
** body. Every one of them is stopped (cancelled, its children taken or
** flagged) before any body is freed: freeing a body closes the sockets it
** owns, and a close would otherwise wake a descendant blocked on one of
** them that is not cancelled yet, which then failed with "NAME: socket is
** closed" instead of ending Cancelled (SPEC §6.8.1, §7.4.1). */
static __attribute__((noinline)) void end_blocked(hk_proc_t *p, hk_worker_t *w,
                                                  hk_task_t *todo) {
  hk_task_t *stopped = NULL, **tail = &stopped;
  while (todo) {
    hk_proc_t *k = hk_proc_of_task(todo);
    todo = todo->next;
    stop_proc(k, w, &todo);
    k->task.next = NULL;
    *tail = &k->task;
    tail = &k->task.next;
  }
  free_proc(p);
  while (stopped) {
    hk_proc_t *k = hk_proc_of_task(stopped);
    stopped = stopped->next;
    free_proc(k);
    release_proc(k, w, HK_OUT_CANCELLED, NULL);
    hk_proc_unref(k); /* end_children's lookup */
  }
}

/* Ends p and, before p's parent can see p's outcome, every descendant that
** was blocked: no process outlives its parent (SPEC §6.8.1), so a parent's
** join never returns while a blocked grandchild could still receive a
** message or hold a process slot. Iterative: trees of any depth. */
static void terminate(hk_proc_t *p, hk_worker_t *w, hk_outcome_t out, void *payload) {
  hk_task_t *todo = NULL;
  stop_proc(p, w, &todo);
  if (todo) end_blocked(p, w, todo);
  else free_proc(p);
  release_proc(p, w, out, payload);
}

void hk_proc_cancel_child(hk_proc_t *p, hk_worker_t *w) {
  /* Blocked: ended here and now, as end_children ends a blocked child, so
  ** that it has terminated when `cancel` returns (wait_any sees it). */
  if (w && take_blocked(p)) {
    terminate(p, w, HK_OUT_CANCELLED, NULL);
    return;
  }
  hk_proc_cancel(p, w);
}

/* ---- The task ------------------------------------------------------------- */

/* RUNNING -> RUNNABLE at the end of a slice, unless cancellation was
** requested. Returns false when the process must terminate instead. */
static bool end_slice(hk_proc_t *p) {
  uint32_t s = atomic_load_explicit(&p->state, memory_order_relaxed);
  for (;;) {
    if (s & HK_PS_CANCEL) return false;
    /* Release: the scheduler's queue publishes p to the next worker too,
    ** but a waker never reads RUNNABLE as BLOCKED; this keeps the word's
    ** history ordered with our writes for the canceller's acquire. */
    if (atomic_compare_exchange_weak_explicit(&p->state, &s, HK_PS_RUNNABLE,
                                              memory_order_release,
                                              memory_order_relaxed))
      return true;
  }
}

static hk_task_result_t finish(hk_proc_t *p, hk_worker_t *w, hk_outcome_t out,
                               void *payload, int *end) {
  *end = out == HK_OUT_DONE ? HK_END_DONE : out == HK_OUT_FAILED ? HK_END_FAIL : HK_END_CANCEL;
  terminate(p, w, out, payload);
  return HK_TASK_DONE;
}

static hk_task_result_t yield(hk_proc_t *p, hk_worker_t *w, int *end) {
  if (!end_slice(p)) return finish(p, w, HK_OUT_CANCELLED, NULL, end);
  *end = HK_END_YIELD;
  return HK_TASK_YIELD;
}

hk_task_result_t hk_proc_run_slice(hk_task_t *t, hk_worker_t *w, int32_t *budget, int *end) {
  hk_proc_t *p = hk_proc_of_task(t);
  /* RUNNABLE -> RUNNING, keeping CANCEL and DOOMED: RUNNABLE is 0, so
  ** adding RUNNING is OR-ing it, and an add is one instruction where a
  ** fetch-or that returns the old word is a CAS loop (-5 per switch).
  ** Acquire: pairs with the release of the CAS that readied p. */
  static_assert(HK_PS_RUNNABLE == 0, "RUNNING is added to a RUNNABLE word");
  uint32_t s = atomic_fetch_add_explicit(&p->state, HK_PS_RUNNING, memory_order_acq_rel);
  assert((s & HK_PS_MASK) == HK_PS_RUNNABLE);
  for (;;) {
    /* A doomed process runs anyway: it fails with the deadlock at once. */
    if ((s & (HK_PS_CANCEL | HK_PS_DOOMED)) == HK_PS_CANCEL)
      return finish(p, w, HK_OUT_CANCELLED, NULL, end);
    /* The last wait is over (p was woken or never blocked): its room is
    ** the result's, NULL unless the body sets it with DONE/FAILED. */
    p->out_payload = NULL;
    hk_slice_t r = p->procs->ops->run(p, w, budget);
    switch (r) {
    case HK_SLICE_DONE:
    case HK_SLICE_FAILED: {
      void *payload = p->out_payload;
      p->out_payload = NULL;
      return finish(p, w, r == HK_SLICE_DONE ? HK_OUT_DONE : HK_OUT_FAILED, payload, end);
    }
    case HK_SLICE_YIELD:
      return yield(p, w, end);
    case HK_SLICE_BLOCK:
      switch (block(p)) {
      case BLOCK_SLEEP:
        *end = HK_END_BLOCK;
        return HK_TASK_BLOCKED; /* p may already run elsewhere: hands off */
      case BLOCK_CANCEL:
        return finish(p, w, HK_OUT_CANCELLED, NULL, end);
      case BLOCK_CONTINUE:
        if (*budget <= 0) return yield(p, w, end);
        s = atomic_load_explicit(&p->state, memory_order_acquire);
        break;
      }
      break;
    }
  }
}

hk_task_result_t hk_proc_task_run(hk_task_t *t, hk_worker_t *w, int32_t *budget) {
  int end;
  return hk_proc_run_slice(t, w, budget, &end);
}
