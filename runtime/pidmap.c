/* pidmap.c — sharded, reference-counted pid map (see pidmap.h). */
#include "runtime/pidmap.h"

#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

#define SHARDS 64u
#define FIRST_BUCKETS 16u

/* A shard's lock is a test-and-test-and-set spin lock: every spawn,
** termination and uncached send takes one for a few dozen instructions,
** where a pthread mutex cost ~55 instructions per lock/unlock pair
** (callgrind). A waiter spins briefly, then yields its CPU, so a holder
** that was preempted (or is growing the bucket array) is not starved. */
typedef struct shard {
  alignas(64) _Atomic uint32_t lock;
  hk_pmentry_t **buckets; /* power-of-two count */
  size_t nbuckets, count;
} shard_t;

struct hk_pidmap {
  alignas(64) _Atomic uint64_t next_pid; /* the last pid issued */
  alignas(64) shard_t shards[SHARDS];
};

static void shard_lock(shard_t *s) {
  for (unsigned i = 0;; i++) {
    /* Acquire: pairs with shard_unlock's release (the previous holder's
    ** changes to the buckets are visible). */
    if (!atomic_load_explicit(&s->lock, memory_order_relaxed) &&
        !atomic_exchange_explicit(&s->lock, 1, memory_order_acquire))
      return;
    if (i < 100) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      sched_yield();
    }
  }
}

static void shard_unlock(shard_t *s) { atomic_store_explicit(&s->lock, 0, memory_order_release); }

static shard_t *shard_of(hk_pidmap_t *m, uint64_t pid) { return &m->shards[pid % SHARDS]; }
static size_t bucket_of(const shard_t *s, uint64_t pid) {
  return (size_t)(pid / SHARDS) & (s->nbuckets - 1);
}

int hk_pidmap_new(hk_pidmap_t **out) {
  hk_pidmap_t *m = aligned_alloc(64, sizeof *m);
  if (!m) return -ENOMEM;
  atomic_init(&m->next_pid, 0);
  for (unsigned i = 0; i < SHARDS; i++) {
    shard_t *s = &m->shards[i];
    s->buckets = calloc(FIRST_BUCKETS, sizeof *s->buckets);
    s->nbuckets = FIRST_BUCKETS;
    s->count = 0;
    atomic_init(&s->lock, 0);
    if (!s->buckets) {
      for (unsigned j = 0; j < i; j++) free(m->shards[j].buckets);
      free(m);
      return -ENOMEM;
    }
  }
  *out = m;
  return 0;
}

void hk_pidmap_free(hk_pidmap_t *m) {
  if (!m) return;
  for (unsigned i = 0; i < SHARDS; i++) {
    shard_t *s = &m->shards[i];
    for (size_t b = 0; b < s->nbuckets; b++) {
      hk_pmentry_t *e = s->buckets[b];
      while (e) {
        hk_pmentry_t *next = e->chain;
        e->chain = NULL;
        hk_pmentry_unref(e);
        e = next;
      }
    }
    free(s->buckets);
  }
  free(m);
}

uint64_t hk_pidmap_alloc(hk_pidmap_t *m) {
  /* Relaxed: only uniqueness matters; the record is published by the
  ** shard mutex at insert. */
  return atomic_fetch_add_explicit(&m->next_pid, 1, memory_order_relaxed) + 1;
}

uint64_t hk_pidmap_issued(const hk_pidmap_t *m) {
  /* Relaxed: a pid the caller holds was obtained through some
  ** synchronising path (a message, a spawn), which also orders its
  ** allocation before this load. */
  return atomic_load_explicit(&m->next_pid, memory_order_relaxed);
}

_Atomic(hk_pmentry_release_fn) hk_pm_release_[HK_PM_KINDS];

void hk_pmentry_set_release(uint32_t kind, hk_pmentry_release_fn release) {
  atomic_store_explicit(&hk_pm_release_[kind], release, memory_order_relaxed);
}

void hk_pmentry_init(hk_pmentry_t *e, uint64_t pid, uint32_t kind) {
  e->pid = pid;
  e->kind = kind;
  atomic_init(&e->refs, 1);
  e->chain = NULL;
}

/* Doubles the bucket array; on allocation failure keeps the old one. */
static void grow(shard_t *s) {
  size_t n = s->nbuckets * 2;
  hk_pmentry_t **nb = calloc(n, sizeof *nb);
  if (!nb) return;
  for (size_t b = 0; b < s->nbuckets; b++) {
    hk_pmentry_t *e = s->buckets[b];
    while (e) {
      hk_pmentry_t *next = e->chain;
      size_t i = (size_t)(e->pid / SHARDS) & (n - 1);
      e->chain = nb[i];
      nb[i] = e;
      e = next;
    }
  }
  free(s->buckets);
  s->buckets = nb;
  s->nbuckets = n;
}

void hk_pidmap_insert(hk_pidmap_t *m, hk_pmentry_t *e) {
  hk_pmentry_ref(e);
  shard_t *s = shard_of(m, e->pid);
  shard_lock(s);
  if (s->count >= s->nbuckets) grow(s);
  size_t b = bucket_of(s, e->pid);
  e->chain = s->buckets[b];
  s->buckets[b] = e;
  s->count++;
  shard_unlock(s);
}

/* [pid]'s record in [s], whose lock the caller holds, or NULL. */
static inline hk_pmentry_t *find(shard_t *s, uint64_t pid) {
  hk_pmentry_t *e = s->buckets[bucket_of(s, pid)];
  while (e && e->pid != pid) e = e->chain;
  return e;
}

hk_pmentry_t *hk_pidmap_get_locked(hk_pidmap_t *m, uint64_t pid) {
  shard_t *s = shard_of(m, pid);
  shard_lock(s);
  return find(s, pid);
}

void hk_pidmap_unlock(hk_pidmap_t *m, uint64_t pid) { shard_unlock(shard_of(m, pid)); }

hk_pmentry_t *hk_pidmap_get(hk_pidmap_t *m, uint64_t pid) {
  shard_t *s = shard_of(m, pid);
  shard_lock(s);
  hk_pmentry_t *e = find(s, pid);
  /* The map's own reference keeps e alive while the lock is held. */
  if (e) hk_pmentry_ref(e);
  shard_unlock(s);
  return e;
}

bool hk_pidmap_remove(hk_pidmap_t *m, hk_pmentry_t *e) {
  shard_t *s = shard_of(m, e->pid);
  shard_lock(s);
  hk_pmentry_t **pp = &s->buckets[bucket_of(s, e->pid)];
  while (*pp && *pp != e) pp = &(*pp)->chain;
  bool found = *pp != NULL;
  if (found) {
    *pp = e->chain;
    e->chain = NULL;
    s->count--;
  }
  shard_unlock(s);
  /* The caller holds its own reference, so this never frees e under it. */
  if (found) hk_pmentry_unref(e);
  return found;
}

size_t hk_pidmap_count(hk_pidmap_t *m) {
  size_t n = 0;
  for (unsigned i = 0; i < SHARDS; i++) {
    shard_lock(&m->shards[i]);
    n += m->shards[i].count;
    shard_unlock(&m->shards[i]);
  }
  return n;
}

long hk_pidmap_snapshot(hk_pidmap_t *m, hk_pmentry_t ***out) {
  size_t cap = 64, n = 0;
  hk_pmentry_t **v = malloc(cap * sizeof *v);
  if (!v) return -ENOMEM;
  for (unsigned i = 0; i < SHARDS; i++) {
    shard_t *s = &m->shards[i];
    shard_lock(s);
    if (n + s->count > cap) {
      size_t ncap = (n + s->count) * 2;
      hk_pmentry_t **nv = realloc(v, ncap * sizeof *nv);
      if (!nv) {
        shard_unlock(s);
        for (size_t k = 0; k < n; k++) hk_pmentry_unref(v[k]);
        free(v);
        return -ENOMEM;
      }
      v = nv;
      cap = ncap;
    }
    for (size_t b = 0; b < s->nbuckets; b++)
      for (hk_pmentry_t *e = s->buckets[b]; e; e = e->chain) {
        hk_pmentry_ref(e);
        v[n++] = e;
      }
    shard_unlock(s);
  }
  *out = v;
  return (long)n;
}
