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

#include <stddef.h>

/* Largest size served from the cache (larger ones are plain malloc). */
#define HK_BCACHE_MAX 2048u

/* The size a request of [size] bytes really gets (its class): 16-byte
** steps up to 256, then 64-byte steps. */
size_t hk_bcache_class_size(size_t size);
/* A block of at least [size] bytes, aligned to 16, and to 64 when its
** class size is a multiple of 64. Returns NULL when out of
** memory. Ownership: owned (hk_bcache_free with the same size). */
void *hk_bcache_alloc(size_t size);
/* Frees [p] (NULL is ignored), allocated with [size]. */
void hk_bcache_free(void *p, size_t size);

#endif
