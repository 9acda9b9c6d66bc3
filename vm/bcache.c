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

/* At thread exit the lists go to the shared stack (a shorter batch only
** runs out sooner): blocks carved from one slab cannot be freed one by
** one, so cached memory stays for the next thread that needs it. */
static void tcache_flush(void *p) {
  tcache_t *t = p;
  for (uint32_t k = 0; k < NCLASSES; k++) {
    if (t->list[k]) push_batch(k, t->list[k]);
    if (t->spare[k]) push_batch(k, t->spare[k]);
    t->list[k] = t->spare[k] = NULL;
    t->n[k] = 0;
  }
}

/* A fresh block of class k: SLAB of them are carved from one allocation,
** the rest going to the thread's list (one malloc instead of SLAB, and no
** per-block header or alignment padding: a process record costs its size). */
#define SLAB 32u
/* A slab is never freed (see above), so it is malloc'd with room to align
** it by hand: aligned_alloc (glibc's memalign) cost ~770 instructions a
** slab, ~24 per block, for the 64-byte classes (fanin's message block, 128
** bytes), where malloc costs a fraction (bench/README.md, "Message path 7"). */
static void *carve(tcache_t *t, uint32_t k) {
  size_t bytes = class_bytes(k);
  size_t align = bytes % LARGE_STEP == 0 ? LARGE_STEP : SMALL_STEP;
  _Static_assert(_Alignof(max_align_t) >= SMALL_STEP, "malloc aligns to a small step");
  unsigned char *raw = malloc(SLAB * bytes + align - SMALL_STEP);
  if (!raw) return fresh(bytes);
  unsigned char *slab = (unsigned char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
  for (uint32_t i = SLAB - 1; i >= 1; i--) {
    fblock_t *b = (fblock_t *)(void *)(slab + (size_t)i * bytes);
    b->next = t->list[k];
    t->list[k] = b;
  }
  t->n[k] = SLAB - 1;
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
