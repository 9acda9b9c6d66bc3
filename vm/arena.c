/* arena.c — bump allocator, see arena.h. */
#include "vm/arena.h"

#include <stdlib.h>
#include <string.h>

struct hk_arena_chunk {
  hk_arena_chunk_t *prev;
  size_t size;
  _Alignas(16) char data[];
};

enum { CHUNK_MIN = 64 * 1024 };

void hk_arena_init(hk_arena_t *a) { memset(a, 0, sizeof *a); }

static int grow(hk_arena_t *a, size_t need) {
  size_t size = need > CHUNK_MIN ? need : CHUNK_MIN;
  if (a->chunks && a->chunks->size * 2 > size && a->chunks->size < (64u << 20))
    size = a->chunks->size * 2;
  hk_arena_chunk_t *c = malloc(sizeof *c + size);
  if (!c) return -1;
  c->prev = a->chunks;
  c->size = size;
  a->chunks = c;
  a->next = c->data;
  a->end = c->data + size;
  return 0;
}

void *hk_arena_alloc(hk_arena_t *a, size_t size) {
  size = (size + 15) & ~(size_t)15;
  if (size == 0) size = 16;
  if ((size_t)(a->end - a->next) < size && grow(a, size) != 0) return NULL;
  void *p = a->next;
  a->next += size;
  a->total += size;
  memset(p, 0, size);
  return p;
}

char *hk_arena_strdup(hk_arena_t *a, const char *s, size_t len) {
  char *p = hk_arena_alloc(a, len + 1);
  if (!p) return NULL;
  if (len) memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

void hk_arena_free(hk_arena_t *a) {
  hk_arena_chunk_t *c = a->chunks;
  while (c) {
    hk_arena_chunk_t *prev = c->prev;
    free(c);
    c = prev;
  }
  hk_arena_init(a);
}
