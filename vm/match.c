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

enum { MAX_DEPTH = 1000 }; /* about 0.5 MB of C stack at most */

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
  uint32_t *u32; /* scratch: constructor counts, row orders */
  size_t nu32, capu32;
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

/* [v] (room for *cap items of [size] bytes) reallocated to hold [need]
** items, its room doubled from 1024: the new array (*cap updated), or
** NULL when out of memory (m->err set; [v] unchanged). */
static void *grow(mx_t *m, void *v, size_t *cap, size_t need, size_t size) {
  size_t nc = *cap ? *cap * 2 : 1024;
  while (nc < need) nc *= 2;
  void *r = realloc(v, nc * size);
  if (!r) {
    m->err = -ENOMEM;
    return NULL;
  }
  *cap = nc;
  return r;
}

static size_t alloc_cells(mx_t *m, size_t n) {
  if (m->n + n > m->cap) {
    cell_t *v = grow(m, m->v, &m->cap, m->n + n, sizeof *v);
    if (!v) return SIZE_MAX;
    m->v = v;
  }
  size_t at = m->n;
  m->n += n;
  return at;
}

static size_t alloc_u32(mx_t *m, size_t n) {
  if (m->nu32 + n > m->capu32) {
    uint32_t *v = grow(m, m->u32, &m->capu32, m->nu32 + n, sizeof *v);
    if (!v) return SIZE_MAX;
    m->u32 = v;
  }
  size_t at = m->nu32;
  memset(m->u32 + at, 0, n * sizeof *m->u32);
  m->nu32 += n;
  return at;
}

static bool useful(mx_t *m, size_t P, size_t rows, size_t cols, size_t q, unsigned depth);

/* Copies row [src] (cols cells) without column [j] to [dst]. */
static void copy_without(mx_t *m, size_t dst, size_t src, size_t cols, size_t j) {
  memmove(&m->v[dst], &m->v[src], j * sizeof(cell_t));
  memmove(&m->v[dst + j], &m->v[src + j + 1], (cols - j - 1) * sizeof(cell_t));
}

/* A matrix and its vector q, all on the scratch stack. */
typedef struct sub {
  size_t P, rows, cols, q;
} sub_t;

/* Replaces [s] by S(c, P), S(c, q) on column [j] for the constructor of head
** [c]: the sub-patterns come first, then the other columns. The new matrix is
** pushed on the scratch stack; the caller pops it. False when out of memory. */
static bool build_specialised(mx_t *m, const head_t *c, sub_t *s, size_t j) {
  size_t P = s->P, rows = s->rows, cols = s->cols, q = s->q;
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
  *s = (sub_t){NP, nrows, ncols, NQ};
  return true;
}

/* Replaces [s] by D(P), q without column j, for a wildcard q[j]. */
static bool build_default(mx_t *m, sub_t *s, size_t j) {
  size_t P = s->P, rows = s->rows, cols = s->cols, q = s->q;
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
  *s = (sub_t){NP, nrows, cols - 1, NQ};
  return true;
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
  m->work += n; /* the flags below cost as much as n cells */
  size_t fsave = m->nu32;
  size_t F = alloc_u32(m, n);
  if (F == SIZE_MAX) return 0;
  uint32_t seen = 0;
  for (size_t r = 0; r < rows && seen < n; r++) {
    head_t h = head_of(m->v[P + r * cols + j]);
    if (h.kind == H_WILD) continue;
    uint32_t k = h.kind == H_NIL ? 0 : h.kind == H_CONS ? 1 : h.tag;
    if (k < n && !m->u32[F + k]) {
      m->u32[F + k] = 1;
      seen++;
    }
  }
  m->nu32 = fsave;
  return seen == n;
}

/* U(S(c, P'), S(c, q)) on column [j] where P' is the rows of P listed in
** m->u32[a0..a1) and m->u32[b0..b1) (all of them match c or are wildcards). */
static bool specialise_listed(mx_t *m, const head_t *c, size_t P, size_t cols, size_t q,
                              size_t j, size_t a0, size_t a1, size_t b0, size_t b1,
                              unsigned depth) {
  size_t save = m->n;
  size_t ncols = cols - 1 + c->arity;
  size_t nrows = (a1 - a0) + (b1 - b0);
  m->work += nrows * (ncols + 1);
  size_t NP = alloc_cells(m, nrows * ncols + ncols);
  if (NP == SIZE_MAX) return false;
  size_t at = NP;
  for (int part = 0; part < 2; part++) {
    size_t lo = part ? b0 : a0, hi = part ? b1 : a1;
    for (size_t i = lo; i < hi; i++) {
      size_t r = m->u32[i];
      head_t h = head_of(m->v[P + r * cols + j]);
      sub_cells(c, &h, &m->v[at]);
      copy_without(m, at + c->arity, P + r * cols, cols, j);
      at += ncols;
    }
  }
  size_t NQ = at;
  head_t hq = head_of(m->v[q + j]);
  sub_cells(c, &hq, &m->v[NQ]);
  copy_without(m, NQ + c->arity, q, cols, j);
  bool u = useful(m, NP, nrows, ncols, NQ, depth + 1);
  m->n = save;
  return u;
}

/* The index of head [h] in its finite signature of [n] constructors, or n
** for a wildcard. */
static uint32_t sig_index(const head_t *h, uint32_t n) {
  switch (h->kind) {
  case H_WILD: return n;
  case H_NIL: return 0;
  case H_CONS: return 1;
  default: return h->tag < n ? h->tag : n;
  }
}

/* Tries every constructor of the complete column [j] ([nctors] >= 2; one
** constructor is a specialisation, done in useful's loop). The rows are first
** sorted by constructor (counting sort), so each specialisation touches only
** its own rows and the wildcard rows: a datatype with many constructors
** costs linear, not quadratic, work. */
static bool split_complete(mx_t *m, const head_t *first, uint32_t nctors, size_t P,
                           size_t rows, size_t cols, size_t q, size_t j, unsigned depth) {
  size_t usave = m->nu32;
  size_t START = alloc_u32(m, (size_t)nctors + 2);
  size_t ORD = START == SIZE_MAX ? SIZE_MAX : alloc_u32(m, rows);
  if (ORD == SIZE_MAX) return false;
  m->work += rows + nctors;
  /* START[k + 1] counts the rows of constructor k (k = nctors: wildcards). */
  for (size_t r = 0; r < rows; r++) {
    head_t h = head_of(m->v[P + r * cols + j]);
    m->u32[START + sig_index(&h, nctors) + 1]++;
  }
  for (uint32_t k = 0; k <= nctors; k++) m->u32[START + k + 1] += m->u32[START + k];
  /* Place the rows; START[k] advances to the end of bucket k meanwhile. */
  for (size_t r = 0; r < rows; r++) {
    head_t h = head_of(m->v[P + r * cols + j]);
    uint32_t k = sig_index(&h, nctors);
    m->u32[ORD + m->u32[START + k]++] = (uint32_t)r;
  }
  /* Now bucket k is ORD[end(k-1), end(k)) with end(-1) = 0. */
  bool u = false;
  size_t wild0 = ORD + (nctors ? m->u32[START + nctors - 1] : 0);
  size_t wild1 = ORD + m->u32[START + nctors];
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
    size_t a0 = ORD + (k ? m->u32[START + k - 1] : 0), a1 = ORD + m->u32[START + k];
    u = specialise_listed(m, &c, P, cols, q, j, a0, a1, wild0, wild1, depth);
  }
  m->nu32 = usave;
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
** constructor patterns. Columns of wildcards only are dropped.
**
** The first two cases, and a split of a one-constructor type (tuples, Unit,
** one-constructor datatypes), are U of one smaller problem: they loop here
** instead of recursing, so a wide pattern (a 200-tuple of constructor
** chains, a tree of triples eight deep) costs no C stack per constructor.
** Only a split of a type with two or more constructors recurses, and every
** branch of it drops the rows of the other constructors (all of which occur,
** or the signature would not be complete), so the depth is at most the
** number of rows. MAX_DEPTH stays as a guard. */
static bool useful(mx_t *m, size_t P, size_t rows, size_t cols, size_t q, unsigned depth) {
  if (m->err) return false;
  if (depth > MAX_DEPTH) {
    m->err = -E2BIG;
    return false;
  }
  size_t save = m->n;
  sub_t s = {P, rows, cols, q};
  bool u = false;
  for (;;) {
    if (m->err) break;
    m->work += (s.rows + 1) * (s.cols + 1);
    if (m->work > m->budget) {
      m->err = -E2BIG;
      break;
    }
    if (s.rows == 0) {
      u = true;
      break;
    }
    if (s.cols == 0) break;
    bool wild_row = false;
    for (size_t r = 0; r < s.rows && !wild_row; r++)
      wild_row = is_wild_row(m, s.P + r * s.cols, s.cols);
    if (wild_row) break;
    bool next = false;
    for (size_t j = 0; j < s.cols && !next; j++) {
      head_t hq = head_of(m->v[s.q + j]);
      if (hq.kind != H_WILD) {
        if (!build_specialised(m, &hq, &s, j)) goto out;
        next = true;
      }
    }
    if (next) continue;
    size_t best = SIZE_MAX, best_count = 0;
    head_t best_first = {H_WILD, 0, 0, {NULL, 0}};
    uint32_t best_n = 0;
    for (size_t j = 0; j < s.cols && !next; j++) {
      head_t first;
      uint32_t n = 0;
      int sig = column_signature(m, s.P, s.rows, s.cols, j, &first, &n);
      if (m->err) goto out;
      if (sig <= 0) {
        if (!build_default(m, &s, j)) goto out;
        next = true;
        break;
      }
      size_t count = 0;
      for (size_t r = 0; r < s.rows; r++)
        if (head_of(m->v[s.P + r * s.cols + j]).kind != H_WILD) count++;
      if (count > best_count) {
        best = j;
        best_count = count;
        best_first = first;
        best_n = n;
      }
    }
    if (next) continue;
    if (best_n == 1) {
      if (!build_specialised(m, &best_first, &s, best)) goto out;
      continue;
    }
    u = split_complete(m, &best_first, best_n, s.P, s.rows, s.cols, s.q, best, depth);
    break;
  }
out:
  m->n = save;
  return u;
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

/* ---- Buckets of earlier clauses by the head of their first column ----
** For clause i, U(clauses before i, clause i) only needs the earlier rows
** whose first pattern has the same head constructor as clause i's, or is a
** wildcard: so a long `case` on literals or constructors costs linear work. */

typedef struct bucket {
  uint64_t hash; /* 0: empty slot */
  uint32_t rep;  /* a row with this head */
  uint32_t first, last;
} bucket_t;

typedef struct buckets {
  bucket_t *b;
  size_t cap;
  uint32_t *next;             /* per row: the next row of its bucket, or UINT32_MAX */
  uint32_t wfirst, wlast;     /* rows whose first column is a wildcard */
} buckets_t;

static uint64_t head_hash(const head_t *h) {
  uint64_t x = (uint64_t)h->kind * 0x9e3779b97f4a7c15ull;
  if (h->kind == H_LIT) {
    const hk_pat_t *p = h->c.p;
    uint64_t v = 0;
    switch (p->kind) {
    case HK_P_INT: v = (uint64_t)p->lit.i; break;
    case HK_P_CHAR: v = p->lit.ch; break;
    case HK_P_FLOAT: {
      double f = p->lit.f == 0.0 ? 0.0 : p->lit.f; /* 0.0 and ~0.0 are equal */
      memcpy(&v, &f, sizeof v);
      break;
    }
    case HK_P_STRING:
      v = 1469598103934665603ull;
      for (size_t i = 0; i < p->lit.str.len; i++)
        v = (v ^ (unsigned char)p->lit.str.s[i]) * 1099511628211ull;
      break;
    default: break;
    }
    x ^= v + (x << 6) + (x >> 2);
    x *= 0xff51afd7ed558ccdull;
  } else if (h->kind == H_DATA || h->kind == H_BOOL) {
    x ^= (uint64_t)h->tag * 0xc4ceb9fe1a85ec53ull + 1;
  }
  return x | 1;
}

/* The bucket of head [h] (row [row] has it), created if new; NULL when out
** of memory. */
static bucket_t *bucket_of(mx_t *m, buckets_t *B, const head_t *h, size_t P, size_t cols,
                           uint32_t row) {
  uint64_t hash = head_hash(h);
  size_t i = hash & (B->cap - 1);
  for (;;) {
    bucket_t *b = &B->b[i];
    if (!b->hash) {
      b->hash = hash;
      b->rep = row;
      b->first = b->last = UINT32_MAX;
      return b;
    }
    if (b->hash == hash) {
      head_t r = head_of(m->v[P + (size_t)b->rep * cols]);
      if (same_ctor(h, &r)) return b;
    }
    i = (i + 1) & (B->cap - 1);
  }
}

static void append_row(buckets_t *B, uint32_t *first, uint32_t *last, uint32_t row) {
  B->next[row] = UINT32_MAX;
  if (*last == UINT32_MAX)
    *first = row;
  else
    B->next[*last] = row;
  *last = row;
}

/* Is clause [i] useful against the earlier clauses? */
static bool clause_useful(mx_t *m, buckets_t *B, size_t P, uint32_t i, uint32_t ncols) {
  size_t q = P + (size_t)i * ncols;
  head_t hq = head_of(m->v[q]);
  if (hq.kind == H_WILD) {
    bool u = useful(m, P, i, ncols, q, 0);
    append_row(B, &B->wfirst, &B->wlast, i);
    return u;
  }
  bucket_t *b = bucket_of(m, B, &hq, P, ncols, i);
  size_t save = m->n, k = 0;
  for (uint32_t r = b->first; r != UINT32_MAX; r = B->next[r]) k++;
  for (uint32_t r = B->wfirst; r != UINT32_MAX; r = B->next[r]) k++;
  m->work += k * ncols;
  size_t NP = alloc_cells(m, k * ncols);
  if (NP == SIZE_MAX) return false;
  size_t at = NP;
  for (int part = 0; part < 2; part++)
    for (uint32_t r = part ? B->wfirst : b->first; r != UINT32_MAX; r = B->next[r]) {
      memcpy(&m->v[at], &m->v[P + (size_t)r * ncols], ncols * sizeof(cell_t));
      at += ncols;
    }
  bool u = useful(m, NP, k, ncols, q, 0);
  m->n = save;
  append_row(B, &b->first, &b->last, i);
  return u;
}

/* The arity of the tuples of a one-column matrix whose cells are all tuples
** of that arity or wildcards (at least one tuple), else 0. */
static uint32_t tuple_column(mx_t *m, size_t P, uint32_t nrows, uint32_t ncols) {
  if (ncols != 1) return 0;
  uint32_t k = 0;
  for (uint32_t r = 0; r < nrows; r++) {
    head_t h = head_of(m->v[P + r]);
    if (h.kind == H_WILD) continue;
    if (h.kind != H_TUPLE || (k && h.arity != k)) return 0;
    k = h.arity;
  }
  return k;
}

int hk_match_check(hk_pat_t *const *rows, uint32_t nrows, uint32_t ncols, size_t budget,
                   bool *redundant, bool *exhaustive) {
  mx_t m;
  memset(&m, 0, sizeof m);
  m.budget = budget;
  size_t total = (size_t)nrows * ncols;
  buckets_t B = {0};
  B.cap = 16;
  while (B.cap < (size_t)nrows * 2) B.cap *= 2;
  B.b = calloc(B.cap, sizeof *B.b);
  B.next = malloc(((size_t)nrows + 1) * sizeof *B.next);
  B.wfirst = B.wlast = UINT32_MAX;
  size_t P = alloc_cells(&m, total + ncols);
  if (P == SIZE_MAX || !B.b || !B.next || ncols == 0) {
    free(m.v);
    free(B.b);
    free(B.next);
    return ncols == 0 ? -EINVAL : -ENOMEM;
  }
  for (size_t i = 0; i < total; i++) m.v[P + i] = normalise((cell_t){rows[i], 0});
  uint32_t k = tuple_column(&m, P, nrows, ncols);
  if (k) {
    /* One column of k-tuples (a clausal function of k arguments, a `case`
    ** on a tuple) is the same match as k columns of their components: the
    ** tuple is its type's only constructor. Flat, the rows are bucketed by
    ** their first component, not all by the one tuple head. */
    size_t F = alloc_cells(&m, (size_t)nrows * k + k);
    if (F == SIZE_MAX) {
      free(m.v);
      free(m.u32);
      free(B.b);
      free(B.next);
      return -ENOMEM;
    }
    for (uint32_t r = 0; r < nrows; r++) {
      head_t h = head_of(m.v[P + r]);
      head_t c = {H_TUPLE, 0, k, {NULL, 0}};
      sub_cells(&c, &h, &m.v[F + (size_t)r * k]);
    }
    P = F;
    ncols = k;
    total = (size_t)nrows * k;
  }
  for (uint32_t i = 0; i < nrows && !m.err; i++) redundant[i] = !clause_useful(&m, &B, P, i, ncols);
  size_t Q = P + total;
  for (uint32_t j = 0; j < ncols; j++) m.v[Q + j] = (cell_t){NULL, 0};
  bool u = m.err ? false : useful(&m, P, nrows, ncols, Q, 0);
  *exhaustive = !u;
  int err = m.err;
  free(m.v);
  free(m.u32);
  free(B.b);
  free(B.next);
  return err;
}
