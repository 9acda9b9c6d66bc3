/* bi_equal.c — SPEC §4.7 run-time equality (see bi_show.h, vm/vm.h).
**
** An explicit stack of value pairs. A cons pair pushes its tails before its
** heads, so the heads are compared first and a list of any length keeps the
** stack small. No identity shortcut for containers: a NaN inside a tuple
** makes it unequal to itself. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_show.h"

typedef struct pair { hk_value_t a, b; } pair_t;

typedef struct pairs {
  pair_t *items;
  size_t n, cap;
  pair_t inline_items[32];
} pairs_t;

static bool push(pairs_t *s, hk_value_t a, hk_value_t b) {
  if (s->n == s->cap) {
    pair_t *p = hk_show_stack_grow(s->items, s->n, &s->cap, s->inline_items, sizeof *p);
    if (!p) return false;
    s->items = p;
  }
  s->items[s->n++] = (pair_t){a, b};
  return true;
}

/* Compares one pair. Returns 1 (equal so far: components pushed), 0 (not
** equal) or -ENOMEM. */
static int compare(pairs_t *s, hk_value_t a, hk_value_t b, uint64_t *work) {
  if (a.tag != b.tag) return 0;
  switch ((hk_tag_t)a.tag) {
  case HK_T_FLOAT: return a.as.f == b.as.f;
  case HK_T_UNIT: return 1;
  case HK_T_STRING:
  case HK_T_BYTES: {
    size_t n = hk_str_len(a);
    if (n != hk_str_len(b)) return 0;
    *work += n;
    return a.as.o == b.as.o || memcmp(hk_str_data(a), hk_str_data(b), n) == 0;
  }
  case HK_T_TUPLE: {
    uint32_t n = hk_tuple_len(a);
    if (n != hk_tuple_len(b)) return 0;
    for (uint32_t i = n; i-- > 0;)
      if (!push(s, hk_tuple_at(a, i), hk_tuple_at(b, i))) return -ENOMEM;
    return 1;
  }
  case HK_T_CONS:
    if (!push(s, hk_tail(a), hk_tail(b)) || !push(s, hk_head(a), hk_head(b))) return -ENOMEM;
    return 1;
  case HK_T_DATA:
    if (a.as.o->n != b.as.o->n) return 0;
    return push(s, hk_as_data(a)->payload, hk_as_data(b)->payload) ? 1 : -ENOMEM;
  default:
    /* Immediates by value; functions, continuations and Rng by identity. */
    return a.as.u == b.as.u;
  }
}

static int equal_deep(hk_value_t a, hk_value_t b, uint64_t *work);

int hk_equal_values(hk_value_t a, hk_value_t b, uint64_t *work) {
  /* A scalar or a string (most comparisons, e.g. a message field against
  ** a literal): compare pushes nothing, so no stack (and no stack frame:
  ** equal_deep has it); the same charge. */
  if (a.tag != HK_T_TUPLE && a.tag != HK_T_CONS && a.tag != HK_T_DATA) {
    (*work)++;
    return compare(NULL, a, b, work);
  }
  return equal_deep(a, b, work);
}

__attribute__((noinline)) static int equal_deep(hk_value_t a, hk_value_t b, uint64_t *work) {
  pairs_t s;
  s.items = s.inline_items;
  s.n = 0;
  s.cap = sizeof s.inline_items / sizeof s.inline_items[0];
  int rc = push(&s, a, b) ? 1 : -ENOMEM;
  while (rc == 1 && s.n > 0) {
    pair_t p = s.items[--s.n];
    (*work)++;
    rc = compare(&s, p.a, p.b, work);
  }
  if (s.items != s.inline_items) free(s.items);
  return rc;
}
