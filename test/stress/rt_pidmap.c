/* rt_pidmap.c — stress test of runtime/pidmap.c under ThreadSanitizer
** (and AddressSanitizer in the asan build): lookups racing removal.
**
** OWNERS threads create records, insert them, publish their pids in a small
** shared window (LIVE slots per owner) and, for each new one, remove the
** oldest of their window, checking that a removed pid is never found again.
** READERS threads look up pids taken from the window (live when read, often
** being removed at that moment), hold the reference for a while, and check
** the record's canary and payload both after the lookup and just before the
** unref. A record is released only when its last reference goes: release
** poisons the canary (plain writes, so ThreadSanitizer also reports a release
** that is not ordered after a reader's use) and keeps the memory in a
** quarantine for a while, so a record released under a reader shows as a
** poisoned canary in every build. Every record must be released exactly
** once. The run prints how many lookups hit and how many records a reader's
** unref released (the lookup-vs-remove race the test is for); it fails if
** no reader ever dropped a last reference. Before the threads, one thread
** checks the shards' open addressing against a model with pids that collide
** (same home slot, clusters that wrap around the table's end, removals from
** the middle of a cluster, growth). Exit 0 pass, 1 fail. */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime/pidmap.h"

#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif
#define OWNERS 2
#define READERS 3
#define PER_OWNER (100000u * STRESS_SCALE)
#define LIVE 4 /* pids each owner keeps in the map and in the window */
#define DEADLINE_S (120 * STRESS_SCALE)
#define ALIVE 0x5ca1ab1eu
#define DEAD 0xdeadbeefu
#define QUARANTINE 4096

typedef struct rec {
  hk_pmentry_t e; /* first */
  uint32_t canary;  /* ALIVE from insert to release, then DEAD */
  uint64_t payload; /* pid * 3, then 0 */
} rec_t;

static hk_pidmap_t *map;
/* The window: pids of live records (0: none yet), written by their owner. */
static _Atomic uint64_t window[OWNERS][LIVE];
/* Per owner: the pid it removes next (0: none yet). */
static _Atomic uint64_t doomed[OWNERS];
static _Atomic uint64_t created, released, hits, misses, late, lookups;
static _Atomic int owners_done;
static _Atomic int fail;
static _Thread_local int in_reader;

/* Released records, freed QUARANTINE releases later (a record released
** while a reader still uses it keeps its poisoned canary meanwhile). */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static rec_t *quarantine[QUARANTINE];
static size_t qnext;

static void on_alarm(int sig) {
  (void)sig;
  static const char text[] = "rt_pidmap: deadline exceeded\n";
  if (write(2, text, sizeof text - 1) < 0) { /* nothing to do */ }
  _exit(1);
}

static void release(hk_pmentry_t *e) {
  rec_t *r = (rec_t *)e;
  if (r->canary != ALIVE || r->payload != r->e.pid * 3) {
    fprintf(stderr, "pid %" PRIu64 " released twice or corrupted\n", r->e.pid);
    atomic_store(&fail, 1);
  }
  r->canary = DEAD;
  r->payload = 0;
  atomic_fetch_add_explicit(&released, 1, memory_order_relaxed);
  if (in_reader) atomic_fetch_add_explicit(&late, 1, memory_order_relaxed);
  pthread_mutex_lock(&qlock);
  rec_t *old = quarantine[qnext];
  quarantine[qnext] = r;
  qnext = (qnext + 1) % QUARANTINE;
  pthread_mutex_unlock(&qlock);
  free(old);
}

static void *owner(void *arg) {
  unsigned me = (unsigned)(uintptr_t)arg;
  rec_t *win[LIVE] = {0};
  for (uint32_t i = 0; i < PER_OWNER; i++) {
    /* Paced by the readers (a lookup per step of each owner), so that they
    ** race the removals however the threads are scheduled. */
    while (atomic_load_explicit(&lookups, memory_order_relaxed) < i) sched_yield();
    rec_t *r = malloc(sizeof *r);
    if (!r) abort();
    uint64_t pid = hk_pidmap_alloc(map);
    hk_pmentry_init(&r->e, pid, 0);
    r->canary = ALIVE;
    r->payload = pid * 3;
    hk_pidmap_insert(map, &r->e);
    atomic_fetch_add_explicit(&created, 1, memory_order_relaxed);
    rec_t *old = win[i % LIVE];
    win[i % LIVE] = r;
    /* Readers that loaded the old pid may be looking it up right now. */
    atomic_store_explicit(&window[me][i % LIVE], pid, memory_order_relaxed);
    rec_t *next = win[(i + 1) % LIVE];
    atomic_store_explicit(&doomed[me], next ? next->e.pid : 0, memory_order_relaxed);
    if (old) {
      uint64_t opid = old->e.pid;
      if (!hk_pidmap_remove(map, &old->e)) atomic_store(&fail, 1);
      hk_pmentry_unref(&old->e); /* may release it now or after a reader */
      hk_pmentry_t *again = hk_pidmap_get(map, opid);
      if (again) {
        fprintf(stderr, "removed pid %" PRIu64 " found again\n", opid);
        atomic_store(&fail, 1);
        hk_pmentry_unref(again);
      }
    }
  }
  for (int i = 0; i < LIVE; i++)
    if (win[i]) {
      hk_pidmap_remove(map, &win[i]->e);
      hk_pmentry_unref(&win[i]->e);
    }
  atomic_fetch_add(&owners_done, 1);
  return NULL;
}

static int check(const rec_t *r, uint64_t pid, const char *when) {
  if (r->e.pid == pid && r->canary == ALIVE && r->payload == pid * 3) return 0;
  fprintf(stderr, "lookup of %" PRIu64 ": wrong or released record %s\n", pid, when);
  atomic_store(&fail, 1);
  return 1;
}

static void *reader(void *arg) {
  uint64_t x = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15u + 1;
  in_reader = 1;
  while (atomic_load(&owners_done) < OWNERS) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    /* Half the lookups ask for the pid its owner removes next. */
    uint64_t pid = (x >> 6) & 1
        ? atomic_load_explicit(&doomed[x % OWNERS], memory_order_relaxed)
        : atomic_load_explicit(&window[x % OWNERS][(x >> 8) % LIVE], memory_order_relaxed);
    if (!pid) continue;
    atomic_fetch_add_explicit(&lookups, 1, memory_order_relaxed);
    hk_pmentry_t *e = hk_pidmap_get(map, pid);
    if (!e) { atomic_fetch_add_explicit(&misses, 1, memory_order_relaxed); continue; }
    rec_t *r = (rec_t *)e;
    if (!check(r, pid, "after the lookup")) {
      /* Hold it while its owner removes it and drops the other references. */
      if ((x >> 16) % 4 == 0) sched_yield();
      else for (volatile unsigned k = 0; k < (x >> 20) % 64; k++) { /* spin */ }
      check(r, pid, "while a reference is held");
    }
    hk_pmentry_unref(e);
    atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed);
  }
  return NULL;
}

/* Random inserts and removals of pids that fall in one shard and share few
** home slots (pid / 64 modulo 16, 32, ...: multiples of 64 * 16 apart),
** checked after every step against the set that should be in the map. */
#define MODEL 40
static int collisions(void) {
  rec_t *in[MODEL] = {0};
  uint64_t x = 0x2545f4914f6cdd1du;
  const uint64_t base = (uint64_t)1 << 40; /* far above the threads' pids */
  for (int step = 0; step < 20000; step++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    unsigned k = (unsigned)(x % MODEL);
    if (!in[k]) {
      rec_t *r = malloc(sizeof *r);
      if (!r) abort();
      /* homes 15, 0 and 1 of a 16-slot table: the cluster wraps around */
      uint64_t pid = base + 64u * ((15u + k % 3u) % 16u) + 64u * 16u * (k / 3u);
      hk_pmentry_init(&r->e, pid, 0);
      r->canary = ALIVE;
      r->payload = pid * 3;
      hk_pidmap_insert(map, &r->e);
      atomic_fetch_add_explicit(&created, 1, memory_order_relaxed);
      in[k] = r;
    } else {
      if (!hk_pidmap_remove(map, &in[k]->e)) return 1;
      hk_pmentry_unref(&in[k]->e);
      in[k] = NULL;
    }
    size_t live = 0;
    for (unsigned j = 0; j < MODEL; j++) {
      uint64_t pid = base + 64u * ((15u + j % 3u) % 16u) + 64u * 16u * (j / 3u);
      hk_pmentry_t *e = hk_pidmap_get(map, pid);
      if (e != (in[j] ? &in[j]->e : NULL)) {
        fprintf(stderr, "step %d: pid %" PRIu64 " %s\n", step, pid,
                in[j] ? "not found or another record" : "found after its removal");
        if (e) hk_pmentry_unref(e);
        return 1;
      }
      if (e) {
        live++;
        hk_pmentry_unref(e);
      }
    }
    if (hk_pidmap_count(map) != live) return 1;
  }
  for (unsigned j = 0; j < MODEL; j++)
    if (in[j]) {
      hk_pidmap_remove(map, &in[j]->e);
      hk_pmentry_unref(&in[j]->e);
    }
  return hk_pidmap_count(map) != 0;
}

int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(DEADLINE_S);
  hk_pmentry_set_release(0, release);
  if (hk_pidmap_new(&map) != 0) return 1;
  if (collisions()) {
    fprintf(stderr, "rt_pidmap: open addressing disagrees with the model\n");
    return 1;
  }
  pthread_t o[OWNERS], r[READERS];
  for (uintptr_t i = 0; i < READERS; i++)
    if (pthread_create(&r[i], NULL, reader, (void *)(i + 1))) return 1;
  for (uintptr_t i = 0; i < OWNERS; i++)
    if (pthread_create(&o[i], NULL, owner, (void *)i)) return 1;
  for (int i = 0; i < OWNERS; i++) pthread_join(o[i], NULL);
  for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);
  size_t left = hk_pidmap_count(map);
  uint64_t issued = hk_pidmap_issued(map);
  hk_pidmap_free(map);
  uint64_t c = atomic_load(&created), rel = atomic_load(&released);
  for (size_t i = 0; i < QUARANTINE; i++) free(quarantine[i]);
  printf("rt_pidmap: created %" PRIu64 ", released %" PRIu64 ", issued %" PRIu64
         ", hits %" PRIu64 ", misses %" PRIu64 ", released by a reader %" PRIu64 "\n",
         c, rel, issued, atomic_load(&hits), atomic_load(&misses), atomic_load(&late));
  if (left != 0 || c != rel || issued != (uint64_t)OWNERS * PER_OWNER) {
    fprintf(stderr, "left %zu, created %" PRIu64 " released %" PRIu64 "\n", left, c, rel);
    return 1;
  }
  if (atomic_load(&late) == 0) {
    fprintf(stderr, "rt_pidmap: no reader ever held the last reference: the race was not run\n");
    return 1;
  }
  return atomic_load(&fail);
}
