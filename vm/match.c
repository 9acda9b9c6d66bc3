/* match.c — Maranget's usefulness algorithm for exhaustiveness and
** redundancy (SPEC §3.8.3–4). See match.h.
**
** U(P, q): is the vector q useful with respect to the matrix P, i.e. does q
** match some value that no row of P matches? Clause i is redundant when
** U(rows 0..i-1, row i) is false; the match is exhaustive when U(all rows,
** wildcards) is false. Matrices live on one scratch stack of cells (indices,
** not pointers, because it may move when it grows). A list pattern
** [p1, ..., pn | tail] is viewed as nested conses by an offset into its items,
** so no pattern is rebuilt. Recursion depth grows with the pattern size
** consumed, so it is bounded (MAX_DEPTH), as is the total work (cells
** visited): exceeding either is "pattern match too complex". */
#include "vm/match.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/check.h"

enum { MAX_DEPTH = 4000 };

typedef struct cell {
  hk_pat_t *p;  /* NULL: wildcard */
  uint32_t off; /* HK_P_LIST: first item not yet matched */
} cell_t;

typedef enum hkind { H_WILD, H_BOOL, H_UNIT, H_TUPLE, H_NIL, H_CONS, H_DATA, H_LIT } hkind_t;

typedef struct head {
  hkind_t kind;
  uint32_t tag;   /* BOOL: 0/1; DATA: constructor tag */
  uint32_t arity;
  cell_t c;       /* the normalised cell */
} head_t;

typedef struct mx {
  cell_t *v;
  size_t n, cap;
  uint8_t *flags;
  size_t nflags, capflags;
  size_t work, budget;
  int err; /* 0, -E2BIG, -ENOMEM */
} mx_t;

static cell_t normalise(cell_t c) {
  for (;;) {
    hk_pat_t *p = c.p;
    if (!p) return c;
    switch (p->kind) {
    case HK_P_WILD:
    case HK_P_VAR:
      return (cell_t){NULL, 0};
    case HK_P_AS:
    case HK_P_ANNOT:
      c = (cell_t){p->arg, 0};
      continue;
    case HK_P_LIST:
      if (c.off >= p->n && p->tail) {
        c = (cell_t){p->tail, 0};
        continue;
      }
      return c;
    default:
      return c;
    }
  }
}

static head_t head_of(cell_t c) {
  head_t h = {H_WILD, 0, 0, normalise(c)};
  hk_pat_t *p = h.c.p;
  if (!p) return h;
  switch (p->kind) {
  case HK_P_BOOL:
    h.kind = H_BOOL;
    h.tag = p->lit.b ? 1 : 0;
    break;
  case HK_P_UNIT:
    h.kind = H_UNIT;
    break;
  case HK_P_TUPLE:
    h.kind = H_TUPLE;
    h.arity = p->n;
    break;
  case HK_P_LIST:
    if (h.c.off >= p->n) {
      h.kind = H_NIL;
    } else {
      h.kind = H_CONS;
      h.arity = 2;
    }
    break;
  case HK_P_CON:
    h.kind = H_DATA;
    h.tag = p->ctor ? p->ctor->tag : 0;
    h.arity = p->ctor && p->ctor->has_payload ? 1 : 0;
    break;
  default:
    h.kind = H_LIT;
    break;
  }
  return h;
}

static bool lit_equal(const hk_pat_t *a, const hk_pat_t *b) {
  if (a->kind != b->kind) return false;
  switch (a->kind) {
  case HK_P_INT: return a->lit.i == b->lit.i;
  case HK_P_FLOAT: return a->lit.f == b->lit.f;
  case HK_P_CHAR: return a->lit.ch == b->lit.ch;
  case HK_P_STRING:
    return a->lit.str.len == b->lit.str.len &&
           memcmp(a->lit.str.s, b->lit.str.s, a->lit.str.len) == 0;
  default: return false;
  }
}

/* Whether heads [a] (a constructor) and [b] name the same constructor. */
static bool same_ctor(const head_t *a, const head_t *b) {
  if (a->kind != b->kind) return false;
  if (a->kind == H_LIT) return lit_equal(a->c.p, b->c.p);
  return a->tag == b->tag;
}

/* Writes the [arity] sub-cells of [h] (a wildcard gives wildcards). */
/* Cells stored in a matrix are always normalised, so a wildcard is p == NULL. */
static void sub_cells(const head_t *ctor, const head_t *h, cell_t *out) {
  if (h->kind == H_WILD) {
    for (uint32_t i = 0; i < ctor->arity; i++) out[i] = (cell_t){NULL, 0};
    return;
  }
  hk_pat_t *p = h->c.p;
  switch (h->kind) {
  case H_TUPLE:
    for (uint32_t i = 0; i < ctor->arity; i++) out[i] = normalise((cell_t){p->items[i], 0});
    break;
  case H_CONS:
    out[0] = normalise((cell_t){p->items[h->c.off], 0});
    out[1] = normalise((cell_t){p, h->c.off + 1});
    break;
  case H_DATA:
    if (ctor->arity) out[0] = normalise((cell_t){p->arg, 0});
    break;
  default:
    break;
  }
}

static size_t alloc_cells(mx_t *m, size_t n) {
  if (m->n + n > m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 1024;
    while (nc < m->n + n) nc *= 2;
    cell_t *v = realloc(m->v, nc * sizeof *v);
    if (!v) {
      m->err = -ENOMEM;
      return SIZE_MAX;
    }
    m->v = v;
    m->cap = nc;
  }
  size_t at = m->n;
  m->n += n;
  return at;
}

static size_t alloc_flags(mx_t *m, size_t n) {
  if (m->nflags + n > m->capflags) {
    size_t nc = m->capflags ? m->capflags * 2 : 1024;
    while (nc < m->nflags + n) nc *= 2;
    uint8_t *v = realloc(m->flags, nc);
    if (!v) {
      m->err = -ENOMEM;
      return SIZE_MAX;
    }
    m->flags = v;
    m->capflags = nc;
  }
  size_t at = m->nflags;
  memset(m->flags + at, 0, n);
  m->nflags += n;
  return at;
}

static bool useful(mx_t *m, size_t P, size_t rows, size_t cols, size_t q, unsigned depth);

/* Copies row [src] (cols cells) without column [j] to [dst]. */
static void copy_without(mx_t *m, size_t dst, size_t src, size_t cols, size_t j) {
  memmove(&m->v[dst], &m->v[src], j * sizeof(cell_t));
  memmove(&m->v[dst + j], &m->v[src + j + 1], (cols - j - 1) * sizeof(cell_t));
}

/* U(S(c, P), S(c, q)) on column [j] for the constructor of head [c]: the
** sub-patterns come first, then the other columns. */
static bool specialise(mx_t *m, const head_t *c, size_t P, size_t rows, size_t cols, size_t q,
                       size_t j, unsigned depth) {
  size_t save = m->n;
  size_t ncols = cols - 1 + c->arity;
  /* Count rows first so the new matrix is one block. */
  size_t nrows = 0;
  for (size_t r = 0; r < rows; r++) {
    head_t h = head_of(m->v[P + r * cols + j]);
    if (h.kind == H_WILD || same_ctor(c, &h)) nrows++;
  }
  size_t NP = alloc_cells(m, nrows * ncols + ncols);
  if (NP == SIZE_MAX) return false;
  size_t NQ = NP + nrows * ncols;
  size_t at = NP;
  for (size_t r = 0; r < rows; r++) {
    head_t h = head_of(m->v[P + r * cols + j]);
    if (h.kind != H_WILD && !same_ctor(c, &h)) continue;
    sub_cells(c, &h, &m->v[at]);
    copy_without(m, at + c->arity, P + r * cols, cols, j);
    at += ncols;
  }
  head_t hq = head_of(m->v[q + j]);
  sub_cells(c, &hq, &m->v[NQ]);
  copy_without(m, NQ + c->arity, q, cols, j);
  bool u = useful(m, NP, nrows, ncols, NQ, depth + 1);
  m->n = save;
  return u;
}

/* U(D(P), q without column j) for a wildcard q[j]. */
static bool default_matrix(mx_t *m, size_t P, size_t rows, size_t cols, size_t q, size_t j,
                           unsigned depth) {
  size_t save = m->n;
  size_t nrows = 0;
  for (size_t r = 0; r < rows; r++)
    if (head_of(m->v[P + r * cols + j]).kind == H_WILD) nrows++;
  size_t NP = alloc_cells(m, nrows * (cols - 1) + cols);
  if (NP == SIZE_MAX) return false;
  size_t at = NP;
  for (size_t r = 0; r < rows; r++) {
    if (head_of(m->v[P + r * cols + j]).kind != H_WILD) continue;
    copy_without(m, at, P + r * cols, cols, j);
    at += cols - 1;
  }
  size_t NQ = at;
  copy_without(m, NQ, q, cols, j);
  bool u = useful(m, NP, nrows, cols - 1, NQ, depth + 1);
  m->n = save;
  return u;
}

/* Column [j] of P, with q[j] a wildcard: is the set of head constructors
** complete? Returns 1 if so (then *first is one of them and *nctors their
** number), 0 if not, -1 if the column holds only wildcards. */
static int column_signature(mx_t *m, size_t P, size_t rows, size_t cols, size_t j,
                            head_t *first, uint32_t *nctors) {
  first->kind = H_WILD;
  for (size_t r = 0; r < rows; r++) {
    head_t h = head_of(m->v[P + r * cols + j]);
    if (h.kind != H_WILD) {
      *first = h;
      break;
    }
  }
  switch (first->kind) {
  case H_WILD:
    return -1;
  case H_LIT:
    return 0;
  case H_UNIT:
  case H_TUPLE:
    *nctors = 1;
    return 1;
  default:
    break;
  }
  uint32_t n = first->kind == H_DATA ? first->c.p->ctor->datatype->nctors : 2;
  *nctors = n;
  size_t fsave = m->nflags;
  size_t F = alloc_flags(m, n);
  if (F == SIZE_MAX) return 0;
  uint32_t seen = 0;
  for (size_t r = 0; r < rows && seen < n; r++) {
    head_t h = head_of(m->v[P + r * cols + j]);
    if (h.kind == H_WILD) continue;
    uint32_t k = h.kind == H_NIL ? 0 : h.kind == H_CONS ? 1 : h.tag;
    if (k < n && !m->flags[F + k]) {
      m->flags[F + k] = 1;
      seen++;
    }
  }
  m->nflags = fsave;
  return seen == n;
}

/* Tries every constructor of the complete column [j]. */
static bool split_complete(mx_t *m, const head_t *first, uint32_t nctors, size_t P,
                           size_t rows, size_t cols, size_t q, size_t j, unsigned depth) {
  if (nctors == 1) return specialise(m, first, P, rows, cols, q, j, depth);
  bool u = false;
  for (uint32_t k = 0; k < nctors && !u && !m->err; k++) {
    head_t c;
    if (first->kind == H_DATA) {
      const hk_ctor_t *ctor = first->c.p->ctor->datatype->ctors[k];
      c = (head_t){H_DATA, k, ctor->has_payload ? 1 : 0, {NULL, 0}};
    } else if (first->kind == H_BOOL) {
      c = (head_t){H_BOOL, k, 0, {NULL, 0}};
    } else {
      c = (head_t){k ? H_CONS : H_NIL, 0, k ? 2 : 0, {NULL, 0}};
    }
    u = specialise(m, &c, P, rows, cols, q, j, depth);
  }
  return u;
}

static bool is_wild_row(mx_t *m, size_t row, size_t cols) {
  for (size_t j = 0; j < cols; j++)
    if (m->v[row + j].p) return false;
  return true;
}

/* Column choice (none changes the answer, only the work): a column where q
** has a constructor needs no split; a column whose signature is incomplete
** reduces to the default matrix; otherwise split the column with the most
** constructor patterns. Columns of wildcards only are dropped. */
static bool useful(mx_t *m, size_t P, size_t rows, size_t cols, size_t q, unsigned depth) {
  if (m->err) return false;
  if (depth > MAX_DEPTH) {
    m->err = -E2BIG;
    return false;
  }
  m->work += (rows + 1) * (cols + 1);
  if (m->work > m->budget) {
    m->err = -E2BIG;
    return false;
  }
  if (rows == 0) return true;
  if (cols == 0) return false;
  for (size_t r = 0; r < rows; r++)
    if (is_wild_row(m, P + r * cols, cols)) return false;
  for (size_t j = 0; j < cols; j++) {
    head_t hq = head_of(m->v[q + j]);
    if (hq.kind != H_WILD) return specialise(m, &hq, P, rows, cols, q, j, depth);
  }
  size_t best = SIZE_MAX, best_count = 0;
  head_t best_first = {H_WILD, 0, 0, {NULL, 0}};
  uint32_t best_n = 0;
  for (size_t j = 0; j < cols; j++) {
    head_t first;
    uint32_t n = 0;
    int sig = column_signature(m, P, rows, cols, j, &first, &n);
    if (m->err) return false;
    if (sig <= 0) return default_matrix(m, P, rows, cols, q, j, depth);
    size_t count = 0;
    for (size_t r = 0; r < rows; r++)
      if (head_of(m->v[P + r * cols + j]).kind != H_WILD) count++;
    if (count > best_count) {
      best = j;
      best_count = count;
      best_first = first;
      best_n = n;
    }
  }
  return split_complete(m, &best_first, best_n, P, rows, cols, q, best, depth);
}

/* Nesting depth of [p] (a list pattern's items and tail are one level down,
** whatever the list's length). Recursion follows the parser's nesting limit. */
static unsigned pat_depth(const hk_pat_t *p) {
  unsigned d = 0;
  switch (p->kind) {
  case HK_P_TUPLE:
  case HK_P_LIST:
    for (uint32_t i = 0; i < p->n; i++) {
      unsigned x = pat_depth(p->items[i]);
      if (x > d) d = x;
    }
    if (p->kind == HK_P_LIST && p->tail) {
      unsigned x = pat_depth(p->tail);
      if (x > d) d = x;
    }
    return d + 1;
  case HK_P_CON:
    return p->arg ? pat_depth(p->arg) + 1 : 1;
  case HK_P_AS:
  case HK_P_ANNOT:
    return pat_depth(p->arg);
  default:
    return 1;
  }
}

size_t hk_match_budget(hk_pat_t *const *rows, uint32_t nrows, uint32_t ncols) {
  if (nrows > 64) return HK_MATCH_BUDGET;
  size_t total = (size_t)nrows * ncols;
  for (size_t i = 0; i < total; i++)
    if (pat_depth(rows[i]) > 8) return HK_MATCH_BUDGET;
  return HK_MATCH_BUDGET_SMALL;
}

int hk_match_check(hk_pat_t *const *rows, uint32_t nrows, uint32_t ncols, size_t budget,
                   bool *redundant, bool *exhaustive) {
  mx_t m;
  memset(&m, 0, sizeof m);
  m.budget = budget;
  size_t total = (size_t)nrows * ncols;
  size_t P = alloc_cells(&m, total + ncols);
  if (P == SIZE_MAX) return -ENOMEM;
  for (size_t i = 0; i < total; i++) m.v[P + i] = normalise((cell_t){rows[i], 0});
  /* Clause i against the clauses before it: the matrix is a prefix. */
  for (uint32_t i = 0; i < nrows && !m.err; i++)
    redundant[i] = !useful(&m, P, i, ncols, P + (size_t)i * ncols, 0);
  size_t Q = P + total;
  for (uint32_t j = 0; j < ncols; j++) m.v[Q + j] = (cell_t){NULL, 0};
  bool u = m.err ? false : useful(&m, P, nrows, ncols, Q, 0);
  *exhaustive = !u;
  int err = m.err;
  free(m.v);
  free(m.flags);
  return err;
}
