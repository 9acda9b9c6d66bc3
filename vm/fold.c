/* fold.c — constant folding (SPEC §2.6), see fold.h. */
#include "vm/fold.h"

#include <string.h>

hk_pos_t hk_fold_merge_pos(hk_pos_t a, hk_pos_t b) {
  hk_pos_t r = a;
  if (b.line == a.line && b.file == a.file) {
    uint32_t end = b.len >= HK_POS_TO_EOL ? HK_POS_TO_EOL : b.col + b.len;
    r.len = end > a.col ? end - a.col : 1;
    if (b.len >= HK_POS_TO_EOL) r.len = HK_POS_TO_EOL;
  } else if (b.line > a.line) {
    r.len = HK_POS_TO_EOL;
  }
  return r;
}

static hk_expr_t *lit(hk_arena_t *a, hk_expr_kind_t k, hk_pos_t pos) {
  hk_expr_t *e = hk_arena_alloc(a, sizeof *e);
  if (!e) return NULL;
  e->kind = k;
  e->pos = pos;
  return e;
}

hk_expr_t *hk_fold_prefix(hk_arena_t *a, hk_op_t op, hk_expr_t *x, hk_pos_t pos) {
  hk_expr_t *e = NULL;
  if (op == HK_OP_NEG && x->kind == HK_E_INT && x->lit.i != INT64_MIN) {
    if ((e = lit(a, HK_E_INT, pos))) e->lit.i = -x->lit.i;
  } else if (op == HK_OP_NEG && x->kind == HK_E_FLOAT) {
    if ((e = lit(a, HK_E_FLOAT, pos))) e->lit.f = -x->lit.f;
  } else if (op == HK_OP_NOT && x->kind == HK_E_BOOL) {
    if ((e = lit(a, HK_E_BOOL, pos))) e->lit.b = !x->lit.b;
  }
  return e;
}

/* Folds `l op r` on two literals into *out (a fresh node at [pos]).
** Returns 1 when folded, 0 when the rule does not apply, -1 out of memory. */
static int fold2(hk_arena_t *a, hk_expr_t *l, hk_op_t op, hk_expr_t *r, hk_pos_t pos,
                 hk_expr_t **out) {
  if (l->kind == HK_E_INT && r->kind == HK_E_INT) {
    int64_t x = l->lit.i, y = r->lit.i, v = 0;
    bool b = false, is_bool = false;
    switch (op) {
    case HK_OP_ADD: if (__builtin_add_overflow(x, y, &v)) return 0; break;
    case HK_OP_SUB: if (__builtin_sub_overflow(x, y, &v)) return 0; break;
    case HK_OP_MUL: if (__builtin_mul_overflow(x, y, &v)) return 0; break;
    case HK_OP_DIV:
      if (y == 0 || (x == INT64_MIN && y == -1)) return 0;
      v = x / y;
      break;
    case HK_OP_MOD:
      if (y == 0) return 0;
      v = y == -1 ? 0 : x % y; /* INT64_MIN mod ~1 is 0 (SPEC §4.4.3) */
      break;
    case HK_OP_EQ: is_bool = true; b = x == y; break;
    case HK_OP_NE: is_bool = true; b = x != y; break;
    case HK_OP_LT: is_bool = true; b = x < y; break;
    case HK_OP_GT: is_bool = true; b = x > y; break;
    case HK_OP_LE: is_bool = true; b = x <= y; break;
    case HK_OP_GE: is_bool = true; b = x >= y; break;
    default: return 0;
    }
    if (!(*out = lit(a, is_bool ? HK_E_BOOL : HK_E_INT, pos))) return -1;
    if (is_bool) (*out)->lit.b = b;
    else (*out)->lit.i = v;
    return 1;
  }
  if (l->kind == HK_E_FLOAT && r->kind == HK_E_FLOAT) {
    double x = l->lit.f, y = r->lit.f, v;
    switch (op) {
    case HK_OP_FADD: v = x + y; break;
    case HK_OP_FSUB: v = x - y; break;
    case HK_OP_FMUL: v = x * y; break;
    case HK_OP_FDIV: v = x / y; break;
    default: return 0;
    }
    if (!(*out = lit(a, HK_E_FLOAT, pos))) return -1;
    (*out)->lit.f = v;
    return 1;
  }
  return 0;
}

/* Concatenates the run of string literals items[i..j] (ops between them all
** `^`) into one literal. */
static hk_expr_t *concat_run(hk_arena_t *a, hk_expr_t **items, uint32_t i, uint32_t j,
                             hk_pos_t pos) {
  size_t total = 0;
  for (uint32_t k = i; k <= j; k++) total += items[k]->lit.str.len;
  char *s = hk_arena_alloc(a, total + 1);
  hk_expr_t *e = s ? lit(a, HK_E_STRING, pos) : NULL;
  if (!e) return NULL;
  size_t at = 0;
  for (uint32_t k = i; k <= j; k++) {
    if (items[k]->lit.str.len) memcpy(s + at, items[k]->lit.str.s, items[k]->lit.str.len);
    at += items[k]->lit.str.len;
  }
  s[total] = '\0';
  e->lit.str.s = s;
  e->lit.str.len = total;
  return e;
}

hk_expr_t *hk_fold_binop(hk_arena_t *a, hk_expr_t *e) {
  hk_expr_t *acc = e->items[0];
  uint32_t i = 1; /* items[i] is the next right operand, ops[i-1] its operator */
  while (i < e->n) {
    hk_pos_t pos = hk_fold_merge_pos(e->items[0]->pos, e->items[i]->pos);
    if (e->ops[i - 1] == HK_OP_CONCAT && acc->kind == HK_E_STRING &&
        e->items[i]->kind == HK_E_STRING) {
      /* Fold the whole run at once: a long `^` chain stays linear. */
      uint32_t j = i;
      while (j + 1 < e->n && e->ops[j] == HK_OP_CONCAT && e->items[j + 1]->kind == HK_E_STRING)
        j++;
      e->items[i - 1] = acc;
      pos = hk_fold_merge_pos(e->items[0]->pos, e->items[j]->pos);
      if (!(acc = concat_run(a, e->items, i - 1, j, pos))) return NULL;
      i = j + 1;
      continue;
    }
    hk_expr_t *f = NULL;
    int rc = fold2(a, acc, e->ops[i - 1], e->items[i], pos, &f);
    if (rc < 0) return NULL;
    if (rc == 0) break;
    acc = f;
    i++;
  }
  if (i == e->n) return acc;
  if (i == 1) return e;
  /* Keep [acc, items[i..]] with ops[i-1..]. */
  uint32_t keep = e->n - i;
  e->items[0] = acc;
  memmove(e->items + 1, e->items + i, keep * sizeof *e->items);
  memmove(e->ops, e->ops + (i - 1), keep * sizeof *e->ops);
  memmove(e->op_pos, e->op_pos + (i - 1), keep * sizeof *e->op_pos);
  e->n = keep + 1;
  return e;
}

hk_expr_t *hk_fold_logic(hk_expr_t *e) {
  /* orelse: `true` absorbs (if it then true else ...), `false` vanishes;
  ** andalso: the other way round. The last item is never dropped. */
  bool absorb = e->kind == HK_E_ORELSE;
  uint32_t out = 0;
  for (uint32_t i = 0; i < e->n; i++) {
    hk_expr_t *it = e->items[i];
    if (i + 1 < e->n && it->kind == HK_E_BOOL) {
      if (it->lit.b != absorb) continue;
      e->items[out++] = it;
      break;
    }
    e->items[out++] = it;
  }
  e->n = out;
  return out == 1 ? e->items[0] : e;
}
