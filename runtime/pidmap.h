/* pidmap.h — the pid -> record map (SPEC §6.2, §10.2.4).
**
** Pids are allocated from 1 by one atomic counter and never reused. Records
** (processes and ports) embed an hk_pmentry_t and are reference counted: a
** record is in the map only while its owner holds its own reference (the
** owner removes it before dropping that one), so the map needs none of its
** own, and a lookup under the shard lock finds only a record that is alive;
** a lookup returns a new reference, so a sender that found a record can use
** it even if the record is removed and its owner finishes meanwhile; memory
** is freed by whoever drops the last reference. The map is split into 64 shards by pid,
** each an open-addressing table (no link in the record) under its own
** spin lock held only for the few
** instructions of a lookup, insert or remove (consecutive pids fall in
** different shards, so senders to different processes do not contend).
** Chosen over ck_epoch because records also carry in-flight I/O and results
** whose lifetime a count expresses directly (PLATFORM.md), and
** ThreadSanitizer sees every synchronisation.
**
** Thread: every function is safe from any thread unless noted. */
#ifndef HK_PIDMAP_H
#define HK_PIDMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hk_pmentry hk_pmentry_t;
/* Called once when the last reference is dropped, on the dropping thread. */
typedef void (*hk_pmentry_release_fn)(hk_pmentry_t *e);

struct hk_pmentry {
  uint64_t pid;                  /* immutable once inserted */
  uint8_t kind;                  /* the user's record type (< HK_PM_KINDS); immutable */
  /* The record type's own flags, written only by the record's owner (a
  ** process: HK_PROC_BODY); hk_pmentry_init zeroes them. */
  uint8_t owner_bits;
  _Atomic uint32_t refs;         /* see hk_pmentry_ref/unref */
};

/* Record types: each has one release function for every record of it, in
** a table rather than in every record (8 bytes of every process). */
#define HK_PM_KINDS 4u
extern _Atomic(hk_pmentry_release_fn) hk_pm_release_[HK_PM_KINDS];
/* Sets the release function of [kind]'s records: before the first record
** of that kind is made, always the same one (a runtime sets it at every
** creation: relaxed stores of the same value). */
void hk_pmentry_set_release(uint32_t kind, hk_pmentry_release_fn release);

typedef struct hk_pidmap hk_pidmap_t;

/* Returns 0 or -ENOMEM. Ownership: *out owned (hk_pidmap_free). */
int hk_pidmap_new(hk_pidmap_t **out);
/* Frees the map (a record still in it is its owner's to release).
** Thread: no concurrent call on m. */
void hk_pidmap_free(hk_pidmap_t *m);

/* A fresh pid (1, 2, ...; never reused). */
uint64_t hk_pidmap_alloc(hk_pidmap_t *m);
/* The highest pid issued so far (a pid above it was never issued). */
uint64_t hk_pidmap_issued(const hk_pidmap_t *m);

/* Initialises [e] with [pid], one reference (the caller's) and [kind]
** (its release function set before: hk_pmentry_set_release). */
void hk_pmentry_init(hk_pmentry_t *e, uint64_t pid, uint32_t kind);

/* Inserts [e] (its pid not yet in the map). The map takes no reference:
** the caller holds one until it removes [e] (hk_pidmap_remove). Never fails: a shard whose table is full and cannot grow stops the
** runtime (SPEC §14, status 70). */
void hk_pidmap_insert(hk_pidmap_t *m, hk_pmentry_t *e);

/* Looks up [pid]. Returns the record with a new reference (drop it with
** hk_pmentry_unref), or NULL if no record with that pid is in the map. */
hk_pmentry_t *hk_pidmap_get(hk_pidmap_t *m, uint64_t pid);

/* Looks up [pid] and leaves its shard locked: returns the record (without a
** new reference: its owner's keeps it alive until the unlock, since the
** owner's removal waits for the lock) or NULL. The
** caller must call hk_pidmap_unlock(m, pid) soon after, taking no other
** lock and not blocking meanwhile (the shard's lock is a spin lock that
** every spawn, termination and lookup of a pid in the shard takes). What
** the caller writes meanwhile goes to the record's own lines only: no
** reference count is written, so a sender that finds its receiver this way
** leaves the line holding the record's pid and count to the receiver's
** worker (bench/README.md, "Spawn path 4"). */
hk_pmentry_t *hk_pidmap_get_locked(hk_pidmap_t *m, uint64_t pid);
void hk_pidmap_unlock(hk_pidmap_t *m, uint64_t pid);

/* Removes [e] if it is in the map. Returns true if this call removed it.
** The caller holds its own reference (the one that kept [e] alive while
** in the map) and drops it after this call. */
bool hk_pidmap_remove(hk_pidmap_t *m, hk_pmentry_t *e);

/* Records in the map now. */
size_t hk_pidmap_count(hk_pidmap_t *m);

/* Every record in the map at the moment of the call, each with a new
** reference. Returns the count, or -ENOMEM. Ownership: *out malloc'ed
** (free it after unref'ing each entry). */
long hk_pidmap_snapshot(hk_pidmap_t *m, hk_pmentry_t ***out);

static inline void hk_pmentry_ref(hk_pmentry_t *e) {
  /* Relaxed: the caller already holds a reference, so the count cannot
  ** reach zero concurrently; nothing is published by taking one. */
  atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

static inline void hk_pmentry_unref(hk_pmentry_t *e) {
  /* acq_rel: release orders our uses of the record before the decrement;
  ** the thread that reaches zero acquires every other holder's releases
  ** before freeing (the usual reference-count pairing). */
  if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
    atomic_load_explicit(&hk_pm_release_[e->kind], memory_order_relaxed)(e);
}

#endif
