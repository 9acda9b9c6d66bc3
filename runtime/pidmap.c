/* pidmap.c — sharded, reference-counted pid map (see pidmap.h). */
#include "runtime/pidmap.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SHARDS 64u
#define FIRST_SLOTS 16u

/* A shard's lock is a test-and-test-and-set spin lock: every spawn,
** termination and uncached send takes one for a few dozen instructions,
** where a pthread mutex cost ~55 instructions per lock/unlock pair
** (callgrind). A waiter spins briefly, then yields its CPU, so a holder
** that was preempted (or is growing the slot array) is not starved.
**
** A shard is an open-addressing table (linear probing with Robin Hood
** insertion, removal by backward shift, no tombstones): a record has no chain pointer (8 bytes of every
** process, bench/README.md "Memory per process 7"). A record's home slot is
** its pid / SHARDS modulo the table's size: a shard's pids are consecutive
** numbers, so records that live at the same time (pids within a window
** narrower than the table) never collide, and the table can run 7/8 full,
** which costs about what the chained buckets cost (one pointer per 1-2
** records). */
typedef struct shard {
  alignas(64) _Atomic uint32_t lock;
  /* Power-of-two count; 0: free; else a record's address with its distance
  ** from its home slot in the low bits (DIST_MAX: that or more), so that a
  ** removal tells a record at its home without reading the record. */
  uintptr_t *slots;
  size_t mask, count; /* slots - 1; records */
} shard_t;

#define DIST_MAX ((uintptr_t)7)
static_assert(alignof(hk_pmentry_t) > DIST_MAX, "a record's address has room for the distance");
static hk_pmentry_t *rec_of(uintptr_t w) { return (hk_pmentry_t *)(w & ~DIST_MAX); }
static uintptr_t slot_word(hk_pmentry_t *e, size_t d) {
  return (uintptr_t)e | (d < DIST_MAX ? (uintptr_t)d : DIST_MAX);
}

struct hk_pidmap {
  alignas(64) _Atomic uint64_t next_pid; /* the last pid issued */
  alignas(64) shard_t shards[SHARDS];
};

static void shard_lock(shard_t *s) {
  for (unsigned i = 0;; i++) {
    /* Acquire: pairs with shard_unlock's release (the previous holder's
    ** changes to the slots are visible). */
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
static size_t home_of(uint64_t pid, size_t mask) { return (size_t)(pid / SHARDS) & mask; }
/* The distance from its home of the record in slot [i] (word [w]). */
static size_t dist_of(uintptr_t w, size_t i, size_t mask) {
  if ((w & DIST_MAX) < DIST_MAX) return w & DIST_MAX;
  return (i - home_of(rec_of(w)->pid, mask)) & mask;
}

int hk_pidmap_new(hk_pidmap_t **out) {
  hk_pidmap_t *m = aligned_alloc(64, sizeof *m);
  if (!m) return -ENOMEM;
  atomic_init(&m->next_pid, 0);
  for (unsigned i = 0; i < SHARDS; i++) {
    shard_t *s = &m->shards[i];
    s->slots = calloc(FIRST_SLOTS, sizeof *s->slots);
    s->mask = FIRST_SLOTS - 1;
    s->count = 0;
    atomic_init(&s->lock, 0);
    if (!s->slots) {
      for (unsigned j = 0; j < i; j++) free(m->shards[j].slots);
      free(m);
      return -ENOMEM;
    }
  }
  *out = m;
  return 0;
}

void hk_pidmap_free(hk_pidmap_t *m) {
  if (!m) return;
  for (unsigned i = 0; i < SHARDS; i++) free(m->shards[i].slots);
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
  e->kind = (uint8_t)kind; /* < HK_PM_KINDS */
  e->owner_bits = 0;
  atomic_init(&e->refs, 1);
}

/* Puts [e] in the table, which has a free slot (its load stays below 7/8),
** and returns the slots it probed past,
** Robin Hood style: a record that is further from its home than the one
** in a slot takes that slot, and the other moves on. So the records after
** a slot are ordered by their distance from home, and a removal stops
** shifting at the first record that is at its home (take_out): when live
** pids are consecutive, every record is at its home and a removal moves
** nothing. */
static size_t place(uintptr_t *slots, size_t mask, hk_pmentry_t *e) {
  size_t i = home_of(e->pid, mask), d = 0, steps = 0;
  for (uintptr_t w; (w = slots[i]); i = (i + 1) & mask, d++, steps++) {
    size_t fd = dist_of(w, i, mask);
    if (fd < d) {
      slots[i] = slot_word(e, d);
      e = rec_of(w);
      d = fd;
    }
  }
  slots[i] = slot_word(e, d);
  return steps;
}

/* Doubles the table; on allocation failure keeps the old one, which still
** has a free slot (the caller grows before the last one is taken). */
static void grow(shard_t *s) {
  size_t n = (s->mask + 1) * 2;
  uintptr_t *ns = calloc(n, sizeof *ns);
  if (!ns) return;
  for (size_t b = 0; b <= s->mask; b++)
    if (s->slots[b]) place(ns, n - 1, rec_of(s->slots[b]));
  free(s->slots);
  s->slots = ns;
  s->mask = n - 1;
}

/* No reference of the map's own (pidmap.h): one locked add at every insert
** and a locked subtraction with its test at every removal fewer (7
** instructions of every spawn, callgrind), and a lookup still finds only
** records whose owner's reference is held: the owner removes a record under
** the shard's lock before dropping it. */
void hk_pidmap_insert(hk_pidmap_t *m, hk_pmentry_t *e) {
  shard_t *s = shard_of(m, e->pid);
  shard_lock(s);
  size_t n = s->mask + 1;
  /* Grow at 7/8. A table that cannot grow takes records until one slot is
  ** left (every probe ends at a free slot); then the runtime's bookkeeping
  ** cannot allocate (SPEC §14: a message and status 70). */
  if (s->count + 1 >= n - n / 8) {
    grow(s);
    if (s->count + 1 >= s->mask + 1) {
      fputs("hiko: out of memory in the pid map\n", stderr);
      exit(70);
    }
  }
  /* It also doubles when an insert probed more than 2 slots and the table is
  ** at least a quarter full: live pids spread wider than the table (a
  ** tree's old ancestors among its new leaves, as in skynet) collide at
  ** their homes, and a larger table separates them (at most 4 slots per
  ** record this way; a failed growth just keeps the longer probes). */
  if (place(s->slots, s->mask, e) > 2 && s->count * 4 >= s->mask) grow(s);
  s->count++;
  shard_unlock(s);
}

/* [pid]'s record in [s], whose lock the caller holds, or NULL. */
static inline hk_pmentry_t *find(shard_t *s, uint64_t pid) {
  size_t i = home_of(pid, s->mask);
  for (uintptr_t w; (w = s->slots[i]); i = (i + 1) & s->mask)
    if (rec_of(w)->pid == pid) return rec_of(w);
  return NULL;
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
  /* The owner's reference keeps e alive while the lock is held: its
  ** removal, before it drops that reference, waits for the lock. */
  if (e) hk_pmentry_ref(e);
  shard_unlock(s);
  return e;
}

/* Empties slot [i] of [s] and moves each following record that is not at
** its home back by one, up to a free slot or a record at its home (backward
** shift: no tombstones, and the Robin Hood order of place is kept). */
static void take_out(shard_t *s, size_t i) {
  size_t mask = s->mask;
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    uintptr_t w = s->slots[j];
    if (!w || (w & DIST_MAX) == 0) break;
    s->slots[i] = slot_word(rec_of(w), dist_of(w, j, mask) - 1);
    i = j;
  }
  s->slots[i] = 0;
}

bool hk_pidmap_remove(hk_pidmap_t *m, hk_pmentry_t *e) {
  shard_t *s = shard_of(m, e->pid);
  shard_lock(s);
  size_t i = home_of(e->pid, s->mask);
  uintptr_t w;
  while ((w = s->slots[i]) && rec_of(w) != e) i = (i + 1) & s->mask;
  bool found = w != 0;
  if (found) {
    take_out(s, i);
    s->count--;
  }
  shard_unlock(s);
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
    for (size_t b = 0; b <= s->mask; b++)
      if (s->slots[b]) {
        hk_pmentry_ref(rec_of(s->slots[b]));
        v[n++] = rec_of(s->slots[b]);
      }
    shard_unlock(s);
  }
  *out = v;
  return (long)n;
}
