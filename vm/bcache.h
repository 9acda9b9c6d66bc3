/* bcache.h — a per-thread cache of small memory blocks by size class, for
** memory that is usually freed on another thread than the one that
** allocated it: message blocks (vm/heap.c) and process records
** (runtime/proc.c).
**
** Each thread keeps, per size class, a free list of up to a batch of blocks
** and one full spare batch; when both are full the spare goes to a shared
** stack of batches, which a thread whose lists are empty takes from. So
** memory freed anywhere is reused, no block is walked, and the cache holds
** at most the peak of blocks in flight. Fresh blocks are carved 32 at a
** time from one allocation (no per-block header or padding), so cached
** memory is never given back: a thread's lists go to the shared stack when
** it exits, for the next thread (of this or a later runtime) to reuse.
** Under AddressSanitizer every call goes straight to malloc/free so that a
** use after free is seen.
**
** Thread: any; a block may be freed on any thread. */
#ifndef HK_BCACHE_H
#define HK_BCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest size served from the cache (larger ones are plain malloc). */
#define HK_BCACHE_MAX 2048u

/* The out-of-line halves of hk_bcache_alloc and hk_bcache_free below (any
** size; the inline functions handle a thread's own list and come here when
** it is empty or full). */
void *hk_bcache_alloc_slow(size_t size);
void hk_bcache_free_slow(void *p, size_t size);

/* Frees [count] (1..HK_BCACHE_BATCH) blocks of [size] <= HK_BCACHE_MAX
** bytes (one class) at once: a run already linked through each block's
** first word from [head] to [tail] (tail's link is overwritten). The run
** goes onto this thread's list whole, or becomes a batch: no per-block
** work (a receiver's collection frees its adopted message blocks so). */
void hk_bcache_free_run(void *head, void *tail, uint32_t count, size_t size);

#if defined(__SANITIZE_ADDRESS__)
#define HK_BCACHE_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HK_BCACHE_ON 0
#endif
#endif
#ifndef HK_BCACHE_ON
#define HK_BCACHE_ON 1
#endif

/* Size classes: 16-byte steps up to 768, then 64-byte steps. The small
** steps reach 768 so that a process record (runtime/proc.c: 560-768 bytes
** for most processes) costs its size rounded to 16, not to 64
** (bench/README.md, "Memory per process 6"). */
#define HK_BCACHE_SMALL_STEP 16u
#define HK_BCACHE_SMALL_MAX 768u
#define HK_BCACHE_LARGE_STEP 64u
#define HK_BCACHE_NSMALL (HK_BCACHE_SMALL_MAX / HK_BCACHE_SMALL_STEP)
#define HK_BCACHE_NCLASSES \
  (HK_BCACHE_NSMALL + (HK_BCACHE_MAX - HK_BCACHE_SMALL_MAX) / HK_BCACHE_LARGE_STEP)
#define HK_BCACHE_BATCH 64u
_Static_assert(HK_BCACHE_BATCH <= UINT8_MAX, "a class's count is a byte");

/* Size class of [size] <= HK_BCACHE_MAX (folds to a constant for a
** constant size). */
static inline uint32_t hk_bcache_class(size_t size) {
  if (size <= HK_BCACHE_SMALL_MAX) return size ? (uint32_t)((size - 1) / HK_BCACHE_SMALL_STEP) : 0;
  return HK_BCACHE_NSMALL + (uint32_t)((size - HK_BCACHE_SMALL_MAX - 1) / HK_BCACHE_LARGE_STEP);
}

/* The bytes of a block of class [k] < HK_BCACHE_NCLASSES. */
static inline size_t hk_bcache_class_bytes(uint32_t k) {
  if (k < HK_BCACHE_NSMALL) return (size_t)(k + 1) * HK_BCACHE_SMALL_STEP;
  return HK_BCACHE_SMALL_MAX + (size_t)(k - HK_BCACHE_NSMALL + 1) * HK_BCACHE_LARGE_STEP;
}

/* The size a request of [size] bytes really gets (its class): 16-byte
** steps up to 768, then 64-byte steps (768 is a multiple of 64); above
** HK_BCACHE_MAX, [size]. Inline: every message block asks it. */
static inline size_t hk_bcache_class_size(size_t size) {
  if (size > HK_BCACHE_MAX) return size;
  _Static_assert(HK_BCACHE_SMALL_MAX % HK_BCACHE_LARGE_STEP == 0, "large classes start aligned");
  size_t step = size <= HK_BCACHE_SMALL_MAX ? HK_BCACHE_SMALL_STEP : HK_BCACHE_LARGE_STEP;
  return size ? (size + step - 1) & ~(step - 1) : HK_BCACHE_SMALL_STEP;
}

#if HK_BCACHE_ON

/* A free block: its first word links the list; the first block of a batch
** on the shared stack links the next batch with its second word. */
typedef struct hk_bfree {
  struct hk_bfree *next;
  struct hk_bfree *batch;
} hk_bfree_t;

/* A thread's cache (bcache.c). The inline free below needs [keyed]: a
** thread that never allocated goes through the slow path once, which
** registers the thread-exit flush. */
typedef struct hk_btcache {
  hk_bfree_t *list[HK_BCACHE_NCLASSES];  /* n[k] blocks */
  hk_bfree_t *spare[HK_BCACHE_NCLASSES]; /* NULL or BATCH blocks */
  uint8_t n[HK_BCACHE_NCLASSES]; /* <= HK_BCACHE_BATCH: a byte keeps the TLS small */
  bool keyed; /* the thread-exit flush is registered */
} hk_btcache_t;

extern _Thread_local hk_btcache_t hk_btcache;
#endif

/* hk_bcache_alloc's inline half alone: a block from this thread's list, or
** NULL when the list is empty (or the cache is off), where hk_bcache_alloc
** would call out. For a caller that declines to a general path rather than
** make a call that needs a frame (the sends of runtime/vmproc.c). */
static inline void *hk_bcache_alloc_cached(size_t size) {
#if HK_BCACHE_ON
  if (size <= HK_BCACHE_MAX) {
    uint32_t k = hk_bcache_class(size);
    hk_btcache_t *t = &hk_btcache;
    hk_bfree_t *b = t->list[k];
    if (__builtin_expect(b != NULL, 1)) {
      t->list[k] = b->next;
      t->n[k]--;
      return b;
    }
  }
#else
  (void)size;
#endif
  return NULL;
}

/* A block of at least [size] bytes, aligned to 16, and to 64 when its
** class size is a multiple of 64. Returns NULL when out of
** memory. Ownership: owned (hk_bcache_free with the same size). Inline:
** the message path allocates an envelope per send (bench/README.md,
** "Message path 3"). */
static inline void *hk_bcache_alloc(size_t size) {
  void *b = hk_bcache_alloc_cached(size);
  if (__builtin_expect(b != NULL, 1)) return b;
  return hk_bcache_alloc_slow(size);
}

/* Frees [p] (NULL is ignored), allocated with [size]. */
static inline void hk_bcache_free(void *p, size_t size) {
#if HK_BCACHE_ON
  if (p && size <= HK_BCACHE_MAX) {
    uint32_t k = hk_bcache_class(size);
    hk_btcache_t *t = &hk_btcache;
    if (__builtin_expect(t->keyed && t->n[k] < HK_BCACHE_BATCH, 1)) {
      hk_bfree_t *b = p;
      b->next = t->list[k];
      t->list[k] = b;
      t->n[k]++;
      return;
    }
  }
#endif
  hk_bcache_free_slow(p, size);
}

#endif
