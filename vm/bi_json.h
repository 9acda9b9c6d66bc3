/* bi_json.h — a JSON document model for the JSON builtins (SPEC §8.9):
** an RFC 8259 parser (nesting limited to 128) and the compact writers.
** Independent of the value representation. Thread: any (no shared state). */
#ifndef HK_BI_JSON_H
#define HK_BI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/arena.h"
#include "vm/bi_text.h"

#define HK_JSON_MAX_DEPTH 128

typedef enum hk_jkind { HK_J_NULL, HK_J_BOOL, HK_J_INT, HK_J_FLOAT, HK_J_STR, HK_J_ARRAY, HK_J_OBJECT } hk_jkind_t;

typedef struct hk_jnode hk_jnode_t;
struct hk_jnode {
  hk_jkind_t kind;
  bool b;
  int64_t i;
  double f;
  const char *s; /* HK_J_STR: decoded UTF-8 (len slen) */
  size_t slen;
  size_t n;                 /* array items / object members */
  hk_jnode_t *items;        /* [n] */
  const char **keys;        /* object: [n], sorted by bytes, unique */
  size_t *klens;
};

typedef struct hk_json_error {
  const char *text; /* static */
  uint32_t line, col;
} hk_json_error_t;

/* Parses [len] bytes of UTF-8 [src] as one JSON value with optional
** surrounding white space. Object members are sorted by key bytes; of
** duplicate keys the last wins. Returns 0 with *out in [arena], -EINVAL
** with *err set (line and column from 1; the column counts scalars), or
** -ENOMEM. Ownership: *out lives until hk_arena_free(arena). */
int hk_json_parse(hk_arena_t *arena, const char *src, size_t len, hk_jnode_t **out,
                  hk_json_error_t *err);

/* Appends [s] as a JSON string literal (quotes included, escapes of SPEC
** §8.9) to [b]. */
void hk_json_write_string(hk_buf_t *b, const char *s, size_t n);

/* Appends compact JSON of [node] to [b]: floats in the JSON number form of
** SPEC §8.9 (json_get). */
void hk_json_write(hk_buf_t *b, const hk_jnode_t *node);

/* Follows a json_get path ('.'-separated segments; an all-digit segment
** indexes an array only). Returns the node or NULL when a step does not
** apply. The empty path selects [root]. */
const hk_jnode_t *hk_json_path(const hk_jnode_t *root, const char *path, size_t len);

#endif
