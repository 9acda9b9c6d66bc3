/* match_test.c — Maranget usefulness (SPEC §3.8.3–4): exhaustiveness and
** redundancy on hand-built patterns (booleans, tuples, lists, datatypes,
** literals, as/annotation wrappers), the work bound, and the guarantee that
** every match of 64 clauses nesting 8 levels is accepted. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/check.h"
#include "vm/match.h"

static hk_arena_t arena;

static void setup(void) { hk_arena_init(&arena); }
static void teardown(void) { hk_arena_free(&arena); }

TestSuite(vm_match, .init = setup, .fini = teardown);

static hk_pat_t *pat(hk_pat_kind_t k) {
  hk_pat_t *p = hk_arena_alloc(&arena, sizeof *p);
  p->kind = k;
  return p;
}
static hk_pat_t *W(void) { return pat(HK_P_WILD); }
static hk_pat_t *X(void) {
  hk_pat_t *p = pat(HK_P_VAR);
  p->name = "x";
  return p;
}
static hk_pat_t *Bo(bool b) {
  hk_pat_t *p = pat(HK_P_BOOL);
  p->lit.b = b;
  return p;
}
static hk_pat_t *In(int64_t i) {
  hk_pat_t *p = pat(HK_P_INT);
  p->lit.i = i;
  return p;
}
static hk_pat_t *Str(const char *s) {
  hk_pat_t *p = pat(HK_P_STRING);
  p->lit.str.s = s;
  p->lit.str.len = strlen(s);
  return p;
}
static hk_pat_t *Tup(uint32_t n, hk_pat_t **items) {
  hk_pat_t *p = pat(HK_P_TUPLE);
  p->items = hk_arena_alloc(&arena, n * sizeof *items);
  memcpy(p->items, items, n * sizeof *items);
  p->n = n;
  return p;
}
static hk_pat_t *T2(hk_pat_t *a, hk_pat_t *b) {
  hk_pat_t *items[2] = {a, b};
  return Tup(2, items);
}
/* [items...] with an optional tail: items :: tail. */
static hk_pat_t *Lst(uint32_t n, hk_pat_t **items, hk_pat_t *tail) {
  hk_pat_t *p = pat(HK_P_LIST);
  if (n) {
    p->items = hk_arena_alloc(&arena, n * sizeof *items);
    memcpy(p->items, items, n * sizeof *items);
  }
  p->n = n;
  p->tail = tail;
  return p;
}
static hk_pat_t *Nil(void) { return Lst(0, NULL, NULL); }
static hk_pat_t *Cons(hk_pat_t *h, hk_pat_t *t) { return Lst(1, &h, t); }
static hk_pat_t *As(hk_pat_t *inner) {
  hk_pat_t *p = pat(HK_P_AS);
  p->arg = inner;
  return p;
}

/* datatype t = A | B of t | C of t * t */
static hk_datatype_t dt;
static hk_ctor_t ctors[3];
static hk_ctor_t *ctor_ptrs[3];
static void init_dt(void) {
  static const char *names[3] = {"A", "B", "C"};
  for (int i = 0; i < 3; i++) {
    ctors[i] = (hk_ctor_t){.name = names[i], .tag = (uint32_t)i, .has_payload = i > 0,
                           .datatype = &dt};
    ctor_ptrs[i] = &ctors[i];
  }
  dt = (hk_datatype_t){.name = "t", .nctors = 3, .ctors = ctor_ptrs};
}
static hk_pat_t *Con(int tag, hk_pat_t *arg) {
  hk_pat_t *p = pat(HK_P_CON);
  p->ctor = &ctors[tag];
  p->name = ctors[tag].name;
  p->arg = arg;
  return p;
}

static int run(hk_pat_t **rows, uint32_t n, uint32_t cols, bool *red, bool *exh) {
  return hk_match_check(rows, n, cols, HK_MATCH_BUDGET, red, exh);
}

Test(vm_match, booleans) {
  bool red[3], exh;
  hk_pat_t *r1[] = {Bo(true)};
  cr_assert_eq(run(r1, 1, 1, red, &exh), 0);
  cr_assert(!exh);
  hk_pat_t *r2[] = {Bo(true), Bo(false), W()};
  cr_assert_eq(run(r2, 3, 1, red, &exh), 0);
  cr_assert(exh);
  cr_assert(!red[0] && !red[1] && red[2]);
}

Test(vm_match, tuples_of_booleans) {
  bool red[4], exh;
  hk_pat_t *rows[] = {T2(Bo(true), Bo(true)), T2(Bo(false), Bo(false)), T2(Bo(true), Bo(false))};
  cr_assert_eq(run(rows, 3, 1, red, &exh), 0);
  cr_assert(!exh);
  hk_pat_t *rows2[] = {T2(Bo(true), X()), T2(X(), Bo(true)), T2(Bo(false), Bo(false)),
                       T2(Bo(false), Bo(true))};
  cr_assert_eq(run(rows2, 4, 1, red, &exh), 0);
  cr_assert(exh);
  cr_assert(!red[0] && !red[1] && !red[2] && red[3]);
}

Test(vm_match, multi_column_rows) {
  /* fun f (x :: _) [] | f [] (y :: _) | f [] [] : misses (_ :: _, _ :: _). */
  bool red[3], exh;
  hk_pat_t *rows[] = {Cons(X(), W()), Nil(), Nil(), Cons(X(), W()), Nil(), Nil()};
  cr_assert_eq(run(rows, 3, 2, red, &exh), 0);
  cr_assert(!exh);
  hk_pat_t *rows2[] = {Cons(X(), W()), W(), Nil(), W()};
  cr_assert_eq(run(rows2, 2, 2, red, &exh), 0);
  cr_assert(exh);
}

Test(vm_match, lists) {
  bool red[4], exh;
  hk_pat_t *two[] = {X(), X()};
  hk_pat_t *one[] = {X()};
  /* [] | [x] | x :: y :: _ : exhaustive. */
  hk_pat_t *rows[] = {Nil(), Lst(1, one, NULL), Lst(2, two, W())};
  cr_assert_eq(run(rows, 3, 1, red, &exh), 0);
  cr_assert(exh);
  /* [] | [x] | [x, y] : not exhaustive. */
  hk_pat_t *rows2[] = {Nil(), Lst(1, one, NULL), Lst(2, two, NULL)};
  cr_assert_eq(run(rows2, 3, 1, red, &exh), 0);
  cr_assert(!exh);
  /* [] | _ :: _ | [x] : the last is redundant. */
  hk_pat_t *rows3[] = {Nil(), Cons(W(), W()), Lst(1, one, NULL)};
  cr_assert_eq(run(rows3, 3, 1, red, &exh), 0);
  cr_assert(exh);
  cr_assert(red[2] && !red[1]);
}

Test(vm_match, datatypes) {
  init_dt();
  bool red[4], exh;
  hk_pat_t *rows[] = {Con(0, NULL), Con(1, W()), Con(2, T2(Con(0, NULL), W()))};
  cr_assert_eq(run(rows, 3, 1, red, &exh), 0);
  cr_assert(!exh); /* C (B _, _) and C (C _, _) are missing */
  hk_pat_t *rows2[] = {Con(0, NULL), Con(1, W()), Con(2, T2(Con(0, NULL), W())),
                       Con(2, T2(W(), As(W())))};
  cr_assert_eq(run(rows2, 4, 1, red, &exh), 0);
  cr_assert(exh);
  cr_assert(!red[3]);
  hk_pat_t *rows3[] = {Con(1, Con(1, W())), Con(1, W()), Con(1, Con(0, NULL))};
  cr_assert_eq(run(rows3, 3, 1, red, &exh), 0);
  cr_assert(!exh);
  cr_assert(red[2] && !red[1]);
}

Test(vm_match, literals_are_infinite) {
  bool red[4], exh;
  hk_pat_t *rows[] = {In(0), In(1), In(0)};
  cr_assert_eq(run(rows, 3, 1, red, &exh), 0);
  cr_assert(!exh);
  cr_assert(red[2] && !red[1]);
  hk_pat_t *rows2[] = {Str("a"), Str("b"), X()};
  cr_assert_eq(run(rows2, 3, 1, red, &exh), 0);
  cr_assert(exh);
  cr_assert(!red[2]);
}

Test(vm_match, work_bound) {
  /* 20 columns of Bool where each column holds both constructors in
  ** different rows: the search is exponential without a bound. */
  enum { C = 20, R = 40 };
  static hk_pat_t *rows[R * C];
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++)
      rows[r * C + c] = (r / 2 == c) ? Bo(r % 2 == 0) : (c == (r + 7) % C ? Bo(r % 3 == 0) : W());
  bool red[R], exh;
  cr_assert_eq(hk_match_check(rows, R, C, 1000, red, &exh), -E2BIG);
}

/* A clausal function of two arguments, or a `case` on a pair, is one
** column of tuple patterns: its rows are bucketed by the tuple's first
** component, so 20,000 clauses on (Int, Bool) cost linear work. Before,
** every clause was checked against all earlier ones and 3,000 such clauses
** were already "pattern match too complex". */
Test(vm_match, many_tuple_clauses_are_linear) {
  enum { N = 20000 };
  static hk_pat_t *rows[N + 3];
  static bool red[N + 3];
  bool exh;
  for (int i = 0; i < N; i++) rows[i] = T2(In(i), Bo(i % 2 == 0));
  rows[N] = T2(In(7), Bo(false));      /* clause 8 already has (7, false): redundant */
  rows[N + 1] = As(T2(X(), Bo(true))); /* useful: (-1, true) */
  rows[N + 2] = W();                   /* useful: (-1, false) */
  cr_assert_eq(run(rows, N + 3, 1, red, &exh), 0);
  cr_assert(exh);
  for (int i = 0; i < N; i++) cr_assert(!red[i], "clause %d", i + 1);
  cr_assert(red[N] && !red[N + 1] && !red[N + 2]);
  cr_assert_eq(run(rows, N, 1, red, &exh), 0);
  cr_assert(!exh);
}

/* A chain of 8 nested constructors: B (B (... A)). */
static hk_pat_t *nest(int depth, unsigned bits) {
  if (depth == 0) return (bits & 1) ? Con(0, NULL) : W();
  int tag = 1 + (int)(bits & 1);
  hk_pat_t *inner = nest(depth - 1, bits >> 1);
  return Con(tag, tag == 1 ? inner : T2(inner, (bits & 2) ? Con(0, NULL) : W()));
}

Test(vm_match, sixty_four_clauses_eight_levels_are_accepted) {
  init_dt();
  enum { R = 64 };
  hk_pat_t *rows[R];
  bool red[R], exh;
  for (unsigned r = 0; r < R; r++) rows[r] = nest(8, r * 2654435761u);
  cr_assert_eq(run(rows, R, 1, red, &exh), 0);
  cr_assert(!exh);
  /* Tuples of eight Bool columns, eight levels of nesting through lists. */
  hk_pat_t *rows2[R];
  for (unsigned r = 0; r < R; r++) {
    hk_pat_t *items[8];
    for (unsigned c = 0; c < 8; c++) {
      hk_pat_t *p = ((r >> (c % 6)) & 1) ? Bo((r + c) & 1) : W();
      for (unsigned d = 0; d < c; d++) p = Cons(p, (d & 1) ? W() : Nil());
      items[c] = p;
    }
    rows2[r] = Tup(8, items);
  }
  cr_assert_eq(run(rows2, R, 1, red, &exh), 0);
}

Test(vm_match, million_element_list_pattern) {
  enum { N = 1000000 };
  hk_pat_t **items = malloc(N * sizeof *items);
  for (int i = 0; i < N; i++) items[i] = X();
  hk_pat_t *rows[] = {Lst(N, items, NULL), W()};
  bool red[2], exh;
  int rc = run(rows, 2, 1, red, &exh);
  /* Either answer is allowed by SPEC §3.8.4, but it must be an answer. */
  cr_assert(rc == 0 || rc == -E2BIG);
  if (rc == 0) cr_assert(exh);
  hk_pat_t *rows2[] = {Lst(N, items, NULL)};
  rc = run(rows2, 1, 1, red, &exh);
  cr_assert(rc == 0 || rc == -E2BIG);
  if (rc == 0) cr_assert(!exh);
  free(items);
}
