/* arena.h — bump allocation for compile-time data (AST, types, names).
** Everything allocated from an arena is freed at once by hk_arena_free.
** Thread: one (an arena belongs to one compilation). */
#ifndef HK_ARENA_H
#define HK_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct hk_arena_chunk hk_arena_chunk_t;
typedef struct hk_arena {
  hk_arena_chunk_t *chunks;
  char *next, *end;
  size_t total; /* bytes handed out, for statistics */
} hk_arena_t;

/* Initialises an empty arena (no allocation yet). */
void hk_arena_init(hk_arena_t *a);
/* Returns zeroed memory of [size] bytes aligned to 16, or NULL when out of
** memory. Ownership: valid until hk_arena_free. */
void *hk_arena_alloc(hk_arena_t *a, size_t size);
/* Copies [len] bytes and adds a NUL. Returns NULL when out of memory. */
char *hk_arena_strdup(hk_arena_t *a, const char *s, size_t len);
/* Frees every chunk; the arena is empty again afterwards. */
void hk_arena_free(hk_arena_t *a);

#endif
