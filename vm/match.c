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
static void sub_cells(const head_t *ctor, const head_t *h, cell_t *out) {
  if (h->kind == H_WILD) {
    for (uint32_t i = 0; i < ctor->arity; i++) out[i] = (cell_t){NULL, 0};
    return;
  }
  hk_pat_t *p = h->c.p;
  switch (h->kind) {
  case H_TUPLE:
    for (uint32_t i = 0; i < ctor->arity; i++) out[i] = (cell_t){p->items[i], 0};
    break;
  case H_CONS:
    out[0] = (cell_t){p->items[h->c.off], 0};
    out[1] = (cell_t){p, h->c.off + 1};
    break;
  case H_DATA:
    if (ctor->arity) out[0] = (cell_t){p->arg, 0};
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

/* U(S(c, P), S(c, q)) for the constructor of head [c]. */
static bool specialise(mx_t *m, const head_t *c, size_t P, size_t rows, size_t cols, size_t q,
                       unsigned depth) {
  size_t save = m->n;
  size_t ncols = cols - 1 + c->arity;
  /* Count rows first so the new matrix is one block. */
  size_t nrows = 0;
  for (size_t r = 0; r < rows; r++) {
    head_t h = head_of(m->v[P + r * cols]);
    if (h.kind == H_WILD || same_ctor(c, &h)) nrows++;
  }
  size_t NP = alloc_cells(m, nrows * ncols + ncols);
  if (NP == SIZE_MAX) return false;
  size_t NQ = NP + nrows * ncols;
  size_t at = NP;
  for (size_t r = 0; r < rows; r++) {
    head_t h = head_of(m->v[P + r * cols]);
    if (h.kind != H_WILD && !same_ctor(c, &h)) continue;
    sub_cells(c, &h, &m->v[at]);
    memcpy(&m->v[at + c->arity], &m->v[P + r * cols + 1], (cols - 1) * sizeof(cell_t));
    at += ncols;
  }
  head_t hq = head_of(m->v[q]);
  sub_cells(c, &hq, &m->v[NQ]);
  memcpy(&m->v[NQ + c->arity], &m->v[q + 1], (cols - 1) * sizeof(cell_t));
  bool u = useful(m, NP, nrows, ncols, NQ, depth + 1);
  m->n = save;
  return u;
}

/* U(D(P), q[1..]) for a wildcard q[0]. */
static bool default_matrix(mx_t *m, size_t P, size_t rows, size_t cols, size_t q,
                           unsigned depth) {
  size_t save = m->n;
  size_t nrows = 0;
  for (size_t r = 0; r < rows; r++)
    if (head_of(m->v[P + r * cols]).kind == H_WILD) nrows++;
  size_t NP = alloc_cells(m, nrows * (cols - 1) + cols);
  if (NP == SIZE_MAX) return false;
  size_t at = NP;
  for (size_t r = 0; r < rows; r++) {
    if (head_of(m->v[P + r * cols]).kind != H_WILD) continue;
    memcpy(&m->v[at], &m->v[P + r * cols + 1], (cols - 1) * sizeof(cell_t));
    at += cols - 1;
  }
  size_t NQ = at;
  memcpy(&m->v[NQ], &m->v[q + 1], (cols - 1) * sizeof(cell_t));
  bool u = useful(m, NP, nrows, cols - 1, NQ, depth + 1);
  m->n = save;
  return u;
}

/* With q[0] a wildcard: is the set of head constructors of column 0
** complete? If so, tries each constructor. Returns -1 when incomplete. */
static int complete_case(mx_t *m, size_t P, size_t rows, size_t cols, size_t q,
                         unsigned depth) {
  head_t first = {H_WILD, 0, 0, {NULL, 0}};
  for (size_t r = 0; r < rows; r++) {
    head_t h = head_of(m->v[P + r * cols]);
    if (h.kind != H_WILD) {
      first = h;
      break;
    }
  }
  switch (first.kind) {
  case H_WILD:
  case H_LIT:
    return -1;
  case H_UNIT:
  case H_TUPLE:
    return specialise(m, &first, P, rows, cols, q, depth);
  default:
    break;
  }
  /* Bool, list, datatype: collect the constructors present. */
  uint32_t nctors = first.kind == H_DATA ? first.c.p->ctor->datatype->nctors : 2;
  size_t fsave = m->nflags;
  size_t F = alloc_flags(m, nctors);
  if (F == SIZE_MAX) return 0;
  uint32_t seen = 0;
  head_t reps[2];
  for (size_t r = 0; r < rows; r++) {
    head_t h = head_of(m->v[P + r * cols]);
    if (h.kind == H_WILD) continue;
    uint32_t k = h.kind == H_NIL ? 0 : h.kind == H_CONS ? 1 : h.tag;
    if (k < nctors && !m->flags[F + k]) {
      m->flags[F + k] = 1;
      seen++;
      if (nctors == 2) reps[k] = h;
    }
  }
  if (seen < nctors) {
    m->nflags = fsave;
    return -1;
  }
  bool u = false;
  for (uint32_t k = 0; k < nctors && !u && !m->err; k++) {
    head_t c;
    if (first.kind == H_DATA) {
      const hk_ctor_t *ctor = first.c.p->ctor->datatype->ctors[k];
      c = (head_t){H_DATA, k, ctor->has_payload ? 1 : 0, {NULL, 0}};
    } else {
      c = reps[k];
    }
    u = specialise(m, &c, P, rows, cols, q, depth);
  }
  m->nflags = fsave;
  return u;
}

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
  /* A row of wildcards matches everything q could. */
  for (size_t r = 0; r < rows; r++) {
    size_t j;
    for (j = 0; j < cols; j++)
      if (normalise(m->v[P + r * cols + j]).p) break;
    if (j == cols) return false;
  }
  head_t hq = head_of(m->v[q]);
  if (hq.kind != H_WILD) return specialise(m, &hq, P, rows, cols, q, depth);
  int r = complete_case(m, P, rows, cols, q, depth);
  if (r >= 0) return r != 0;
  return default_matrix(m, P, rows, cols, q, depth);
}

int hk_match_check(hk_pat_t *const *rows, uint32_t nrows, uint32_t ncols, size_t budget,
                   bool *redundant, bool *exhaustive) {
  mx_t m;
  memset(&m, 0, sizeof m);
  m.budget = budget;
  size_t total = (size_t)nrows * ncols;
  size_t P = alloc_cells(&m, total + ncols);
  if (P == SIZE_MAX) return -ENOMEM;
  for (size_t i = 0; i < total; i++) m.v[P + i] = (cell_t){rows[i], 0};
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
