/* bcache.c — per-thread block cache by size class (see bcache.h). */
#include "vm/bcache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define SMALL_STEP HK_BCACHE_SMALL_STEP
#define SMALL_MAX HK_BCACHE_SMALL_MAX
#define LARGE_STEP HK_BCACHE_LARGE_STEP
#define NSMALL HK_BCACHE_NSMALL
#define NCLASSES HK_BCACHE_NCLASSES
#define BATCH HK_BCACHE_BATCH
#define class_of hk_bcache_class

#define class_bytes hk_bcache_class_bytes

/* Blocks of a multiple of 64 bytes are 64-byte aligned, the others
** 16-byte (a process record needs 16: runtime/proc.h). */
static void *aligned(size_t bytes) {
  if (bytes % LARGE_STEP == 0) return aligned_alloc(LARGE_STEP, bytes);
  return malloc(bytes);
}

static void *fresh(size_t bytes) { return aligned(bytes); }

#if HK_BCACHE_ON
typedef hk_bfree_t fblock_t;
typedef hk_btcache_t tcache_t;

_Thread_local hk_btcache_t hk_btcache;
static pthread_key_t tcache_key;
static bool tcache_key_ok;
static pthread_once_t tcache_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t batches_lock = PTHREAD_MUTEX_INITIALIZER;
static fblock_t *batches[NCLASSES];

static void push_batch(uint32_t k, fblock_t *b) {
  pthread_mutex_lock(&batches_lock);
  b->batch = batches[k];
  batches[k] = b;
  pthread_mutex_unlock(&batches_lock);
}

/* Fresh blocks are cut from a thread's current region, a REGION-byte
** malloc shared by every class: SLAB blocks of class k at a time (fewer
** when the region's rest holds fewer), the rest going to the thread's list
** (no per-block header or alignment padding: a process record costs its
** size). One malloc per REGION bytes, not per SLAB blocks: a 32-byte child
** record or envelope paid ~1/16 of a malloc (~20 instructions) per spawn
** child when slabs were SLAB blocks each (bench/README.md, "Spawn path 8").
** A region is never freed (see above): what a thread leaves of its region
** at its exit goes to a shared stack of leftovers for the next thread, as
** its lists do, and a region's tail too short for the block asked (< 2 KiB)
** is lost. malloc'd, aligned by hand: aligned_alloc (glibc's memalign)
** cost ~770 instructions (bench/README.md, "Message path 7"). */
#define SLAB 32u
#define REGION (64u * 1024u)
_Static_assert(REGION >= HK_BCACHE_MAX + LARGE_STEP, "a region holds the largest class");
typedef struct leftover {
  struct leftover *next;
  unsigned char *end;
} leftover_t;
static _Thread_local unsigned char *region_at, *region_end;
static leftover_t *leftovers; /* under batches_lock */

static inline uintptr_t align_up(const unsigned char *at, uintptr_t align) {
  return ((uintptr_t)at + align - 1) & ~(align - 1);
}

/* Gives the rest of this thread's region, if any, to the shared stack. */
static void region_leave(void) {
  uintptr_t at = align_up(region_at, SMALL_STEP);
  if (region_at && at + sizeof(leftover_t) <= (uintptr_t)region_end) {
    leftover_t *l = (leftover_t *)at;
    l->end = region_end;
    pthread_mutex_lock(&batches_lock);
    l->next = leftovers;
    leftovers = l;
    pthread_mutex_unlock(&batches_lock);
  }
  region_at = region_end = NULL;
}

/* A leftover as the current region; false when there is none. */
static bool region_reuse(void) {
  pthread_mutex_lock(&batches_lock);
  leftover_t *l = leftovers;
  if (l) leftovers = l->next;
  pthread_mutex_unlock(&batches_lock);
  if (!l) return false;
  region_at = (unsigned char *)l;
  region_end = l->end;
  return true;
}

/* A fresh malloc as the current region; false when out of memory. */
static bool region_malloc(void) {
  _Static_assert(_Alignof(max_align_t) >= SMALL_STEP, "malloc aligns to a small step");
  unsigned char *raw = malloc(REGION);
  if (!raw) return false;
  region_at = raw;
  region_end = raw + REGION;
  return true;
}

/* At thread exit the lists go to the shared stack (a shorter batch only
** runs out sooner): blocks carved from one slab cannot be freed one by
** one, so cached memory stays for the next thread that needs it. */
static void tcache_flush(void *p) {
  tcache_t *t = p;
  region_leave();
  for (uint32_t k = 0; k < NCLASSES; k++) {
    if (t->list[k]) push_batch(k, t->list[k]);
    if (t->spare[k]) push_batch(k, t->spare[k]);
    t->list[k] = t->spare[k] = NULL;
    t->n[k] = 0;
  }
}

static void *carve(tcache_t *t, uint32_t k) {
  size_t bytes = class_bytes(k);
  uintptr_t align = bytes % LARGE_STEP == 0 ? LARGE_STEP : SMALL_STEP;
  uintptr_t at = align_up(region_at, align);
  if (!region_at || at + bytes > (uintptr_t)region_end) {
    /* A leftover too short for this class is dropped: a malloc'd region
    ** holds any. */
    if (!region_reuse() || (at = align_up(region_at, align)) + bytes > (uintptr_t)region_end) {
      if (!region_malloc()) return fresh(bytes);
      at = align_up(region_at, align);
    }
  }
  size_t m = ((uintptr_t)region_end - at) / bytes;
  if (m > SLAB) m = SLAB;
  unsigned char *slab = (unsigned char *)at;
  region_at = slab + m * bytes;
  /* The list is empty (the slow path carves only then): linked in a local,
  ** not through t->list[k], which each block's store might alias. */
  fblock_t *head = NULL;
  for (size_t i = m - 1; i >= 1; i--) {
    fblock_t *b = (fblock_t *)(void *)(slab + i * bytes);
    b->next = head;
    head = b;
  }
  t->list[k] = head;
  t->n[k] = (uint8_t)(m - 1);
  return slab;
}

static void tcache_key_make(void) {
  tcache_key_ok = pthread_key_create(&tcache_key, tcache_flush) == 0;
}

static tcache_t *tcache_get(void) {
  tcache_t *t = &hk_btcache;
  if (!t->keyed) {
    pthread_once(&tcache_once, tcache_key_make);
    if (tcache_key_ok) pthread_setspecific(tcache_key, t); /* else: kept until exit */
    t->keyed = true;
  }
  return t;
}

void *hk_bcache_alloc_slow(size_t size) {
  if (size > HK_BCACHE_MAX) return malloc(size);
  uint32_t k = class_of(size);
  tcache_t *t = tcache_get();
  fblock_t *b = t->list[k];
  if (!b) {
    if ((b = t->spare[k])) {
      t->spare[k] = NULL;
    } else {
      pthread_mutex_lock(&batches_lock);
      b = batches[k];
      if (b) batches[k] = b->batch;
      pthread_mutex_unlock(&batches_lock);
      if (!b) return carve(t, k);
    }
    t->n[k] = BATCH;
  }
  t->list[k] = b->next;
  t->n[k]--;
  return b;
}

/* Never inlined (the link step would): the inline free's callers, a VM
** receive among them, then save no registers for its calls. */
__attribute__((noinline)) void hk_bcache_free_slow(void *p, size_t size) {
  if (!p) return;
  if (size > HK_BCACHE_MAX) {
    free(p);
    return;
  }
  uint32_t k = class_of(size);
  tcache_t *t = tcache_get();
  fblock_t *b = p;
  if (t->n[k] < BATCH) {
    b->next = t->list[k];
    t->list[k] = b;
    t->n[k]++;
    return;
  }
  /* The list is a full batch: it becomes the spare (a full spare goes to
  ** the shared stack) and b starts a new list. Keeping b, rather than
  ** leaving the list empty, gives hysteresis: a thread that allocates and
  ** frees one block at a time stays on the inline paths of bcache.h
  ** instead of moving a whole batch between list and spare each time. */
  fblock_t *full = t->spare[k];
  t->spare[k] = t->list[k];
  b->next = NULL;
  t->list[k] = b;
  t->n[k] = 1;
  if (full) push_batch(k, full);
}

void hk_bcache_free_run(void *head, void *tail, uint32_t count, size_t size) {
  uint32_t k = class_of(size);
  tcache_t *t = tcache_get();
  fblock_t *first = head, *last = tail;
  if (t->n[k] + count <= BATCH) {
    last->next = t->list[k];
    t->list[k] = first;
    t->n[k] = (uint8_t)(t->n[k] + count);
    return;
  }
  /* The list is (nearly) full: the run is a batch of its own, the spare if
  ** there is none (a shorter batch only runs out sooner), else shared. */
  last->next = NULL;
  if (!t->spare[k] && count == BATCH) t->spare[k] = first;
  else push_batch(k, first);
}
#else
void hk_bcache_free_run(void *head, void *tail, uint32_t count, size_t size) {
  (void)tail;
  void *b = head;
  for (uint32_t i = 0; i < count; i++) {
    void *next = *(void **)b; /* the link in the first word */
    hk_bcache_free_slow(b, size);
    b = next;
  }
}
void *hk_bcache_alloc_slow(size_t size) {
  return size > HK_BCACHE_MAX ? malloc(size) : fresh(class_bytes(class_of(size)));
}
void hk_bcache_free_slow(void *p, size_t size) {
  (void)size;
  free(p);
}
#endif
