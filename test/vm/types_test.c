/* types_test.c — type representation, unification (innermost pair,
** orientation, occurs check, equality variables), generalisation and
** instantiation, the builtin type strings and printing (SPEC §3.5, §3.7,
** §3.10), including million-link types that must not touch the C stack. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vm/builtins.h"
#include "vm/check.h"
#include "vm/types.h"

static hk_arena_t arena;
static hk_types_t T;
static hk_tprinter_t P;

static void die(void *ctx) {
  (void)ctx;
  abort();
}

static void setup(void) {
  hk_arena_init(&arena);
  cr_assert_eq(hk_types_init(&T, &arena, die, NULL), 0);
  hk_tprinter_init(&P, &T);
}

static void teardown(void) {
  hk_tprinter_fini(&P);
  hk_types_fini(&T);
  hk_arena_free(&arena);
}

TestSuite(vm_types, .init = setup, .fini = teardown);

static hk_type_t *I(void) { return hk_types_prim(&T, HK_TC_INT); }
static hk_type_t *S(void) { return hk_types_prim(&T, HK_TC_STRING); }
static hk_type_t *B(void) { return hk_types_prim(&T, HK_TC_BOOL); }
static hk_type_t *V(void) { return hk_types_var(&T, false); }
static hk_type_t *A(hk_type_t *a, hk_type_t *b) { return hk_types_arrow(&T, a, b); }
static hk_type_t *L(hk_type_t *a) { return hk_types_list(&T, a); }
static hk_type_t *T2(hk_type_t *a, hk_type_t *b) {
  hk_type_t *items[2] = {a, b};
  return hk_types_tuple(&T, items, 2);
}
static const char *pr(hk_type_t *t) { return hk_tprinter_print(&P, t); }

/* A fresh printer per message, as the checker does. */
static const char *pr1(hk_type_t *t) {
  hk_tprinter_fini(&P);
  hk_tprinter_init(&P, &T);
  return pr(t);
}

Test(vm_types, print_parenthesisation) {
  cr_assert_str_eq(pr1(A(A(I(), I()), I())), "(Int -> Int) -> Int");
  cr_assert_str_eq(pr1(A(I(), A(I(), I()))), "Int -> Int -> Int");
  cr_assert_str_eq(pr1(T2(T2(I(), I()), B())), "(Int * Int) * Bool");
  cr_assert_str_eq(pr1(T2(A(I(), I()), B())), "(Int -> Int) * Bool");
  cr_assert_str_eq(pr1(A(T2(I(), S()), B())), "Int * String -> Bool");
  cr_assert_str_eq(pr1(L(L(I()))), "(Int list) list");
  cr_assert_str_eq(pr1(L(T2(I(), B()))), "(Int * Bool) list");
  cr_assert_str_eq(pr1(L(A(I(), B()))), "(Int -> Bool) list");
  cr_assert_str_eq(pr1(A(L(I()), L(I()))), "Int list -> Int list");
  cr_assert_str_eq(pr1(T2(L(I()), I())), "Int list * Int");
}

Test(vm_types, print_datatype_arguments) {
  hk_datatype_t dt = {.name = "either", .ntyvars = 2};
  hk_type_t *args[2] = {I(), L(S())};
  cr_assert_str_eq(pr1(hk_types_data(&T, &dt, args, 2)), "(Int, String list) either");
  hk_datatype_t box = {.name = "box", .ntyvars = 1};
  hk_type_t *one[1] = {hk_types_data(&T, &box, args, 1)};
  cr_assert_str_eq(pr1(hk_types_data(&T, &box, one, 1)), "(Int box) box");
  hk_datatype_t t0 = {.name = "t"};
  cr_assert_str_eq(pr1(hk_types_data(&T, &t0, NULL, 0)), "t");
}

Test(vm_types, print_variable_names_in_order_of_appearance) {
  hk_type_t *a = V(), *b = V(), *c = V();
  cr_assert_str_eq(pr1(A(T2(b, a), T2(a, c))), "'a * 'b -> 'b * 'c");
  /* Names are shared by every type printed with the same printer. */
  hk_tprinter_fini(&P);
  hk_tprinter_init(&P, &T);
  cr_assert_str_eq(pr(L(c)), "'a list");
  cr_assert_str_eq(pr(A(b, c)), "'b -> 'a");
  hk_type_t *e = hk_types_var(&T, true);
  cr_assert_str_eq(pr1(A(e, A(a, e))), "''a -> 'b -> ''a");
}

Test(vm_types, print_many_variables) {
  hk_type_t *t = I();
  hk_type_t *vs[30];
  for (int i = 0; i < 30; i++) vs[i] = V();
  for (int i = 29; i >= 0; i--) t = A(vs[i], t);
  const char *s = pr1(t);
  cr_assert(strstr(s, "'z -> 'a1 -> 'b1 -> 'c1 -> 'd1 -> Int") != NULL, "%s", s);
  cr_assert_eq(strncmp(s, "'a -> 'b -> ", 12), 0);
}

Test(vm_types, print_truncates_at_1000) {
  hk_type_t *t = I();
  for (int i = 0; i < 1000; i++) t = A(I(), t);
  const char *s = pr1(t);
  cr_assert_eq(strlen(s), 1003);
  cr_assert_str_eq(s + 1000, "...");
  cr_assert_eq(strncmp(s, "Int -> Int -> ", 14), 0);
  /* Exactly 1,000 characters are not cut. */
  hk_type_t *u = S();
  size_t len = 6;
  while (len + 10 <= 1000) {
    u = A(S(), u);
    len += 10; /* "String -> " */
  }
  cr_assert_eq(len, 996);
  cr_assert_eq(strlen(pr1(u)), 996);
}

Test(vm_types, unify_innermost_pair_and_orientation) {
  hk_tyerr_t err;
  cr_assert_eq(hk_types_unify(&T, A(I(), B()), A(I(), S()), &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_MISMATCH);
  cr_assert_str_eq(pr1(err.expected), "Bool");
  cr_assert_str_eq(pr1(err.found), "String");
  cr_assert_eq(hk_types_unify(&T, L(T2(I(), S())), L(T2(I(), B())), &err), -1);
  cr_assert_str_eq(pr1(err.expected), "String");
  cr_assert_str_eq(pr1(err.found), "Bool");
  /* Different shapes: the pair itself. */
  cr_assert_eq(hk_types_unify(&T, L(I()), A(I(), I()), &err), -1);
  cr_assert_str_eq(pr1(err.expected), "Int list");
  cr_assert_str_eq(pr1(err.found), "Int -> Int");
}

Test(vm_types, unify_binds_variables) {
  hk_tyerr_t err;
  hk_type_t *a = V(), *b = V();
  cr_assert_eq(hk_types_unify(&T, A(a, b), A(I(), L(a)), &err), 0);
  cr_assert_str_eq(pr1(A(a, b)), "Int -> Int list");
  cr_assert_eq(hk_type_resolve(b)->kind, HK_TYPE_CON);
}

Test(vm_types, occurs_check) {
  hk_tyerr_t err;
  hk_type_t *a = V();
  cr_assert_eq(hk_types_unify(&T, a, L(a), &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_OCCURS);
  hk_type_t *b = V();
  cr_assert_eq(hk_types_unify(&T, A(b, I()), A(A(b, I()), I()), &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_OCCURS);
}

Test(vm_types, equality_variables) {
  hk_tyerr_t err;
  hk_type_t *e = hk_types_var(&T, true);
  /* An equality variable unified with a list of a plain variable: the
  ** element becomes an equality variable. */
  hk_type_t *a = V();
  cr_assert_eq(hk_types_unify(&T, e, L(a), &err), 0);
  cr_assert(hk_type_resolve(a)->eq);
  /* ... and with a function it fails with the function type. */
  hk_type_t *e2 = hk_types_var(&T, true);
  cr_assert_eq(hk_types_unify(&T, e2, A(I(), I()), &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_EQ);
  cr_assert_str_eq(pr1(err.found), "Int -> Int");
  /* Variable to variable keeps the flag. */
  hk_type_t *e3 = hk_types_var(&T, true), *b = V();
  cr_assert_eq(hk_types_unify(&T, b, e3, &err), 0);
  cr_assert(hk_type_resolve(b)->eq);
  hk_type_t *c = V();
  cr_assert_eq(hk_types_unify(&T, c, hk_types_var(&T, true), &err), 0);
  cr_assert(hk_type_resolve(c)->eq);
}

Test(vm_types, make_eq) {
  cr_assert_eq(hk_types_make_eq(&T, T2(I(), L(S()))), 0);
  cr_assert_eq(hk_types_make_eq(&T, hk_types_prim(&T, HK_TC_PID)), 0);
  cr_assert_eq(hk_types_make_eq(&T, hk_types_prim(&T, HK_TC_RNG)), -1);
  cr_assert_eq(hk_types_make_eq(&T, hk_types_prim(&T, HK_TC_SOCKET)), -1);
  cr_assert_eq(hk_types_make_eq(&T, L(A(I(), I()))), -1);
  hk_datatype_t noeq = {.name = "f", .eq = false}, yes = {.name = "g", .eq = true};
  cr_assert_eq(hk_types_make_eq(&T, hk_types_data(&T, &noeq, NULL, 0)), -1);
  hk_type_t *arg[1] = {A(I(), I())};
  cr_assert_eq(hk_types_make_eq(&T, hk_types_data(&T, &yes, arg, 1)), -1);
  hk_type_t *v = V();
  cr_assert_eq(hk_types_make_eq(&T, L(v)), 0);
  cr_assert(v->eq);
}

Test(vm_types, generalize_and_instantiate) {
  T.level = 1;
  hk_type_t *a = V();
  T.level = 0;
  hk_type_t *outer = V();
  hk_type_t *t = A(a, T2(a, outer));
  cr_assert_eq(hk_types_generalize(&T, t), 1);
  cr_assert_eq(a->level, HK_LEVEL_GENERIC);
  cr_assert_neq(outer->level, HK_LEVEL_GENERIC);
  hk_type_t *i1 = hk_types_instantiate(&T, t), *i2 = hk_types_instantiate(&T, t);
  hk_tyerr_t err;
  cr_assert_eq(hk_types_unify(&T, i1, A(I(), T2(I(), B())), &err), 0);
  /* The second instance is independent; the shared outer variable is not. */
  cr_assert_eq(hk_types_unify(&T, i2, A(S(), T2(S(), S())), &err), -1);
  cr_assert_str_eq(pr1(err.expected), "Bool");
  cr_assert_str_eq(pr1(err.found), "String");
}

Test(vm_types, lower_prevents_generalisation) {
  T.level = 2;
  hk_type_t *a = V();
  T.level = 1;
  hk_types_lower(&T, L(a));
  cr_assert_eq(a->level, 1);
  cr_assert_eq(hk_types_generalize(&T, L(a)), 0);
}

Test(vm_types, subst_for_aliases) {
  hk_type_t *p = V();
  p->level = HK_LEVEL_GENERIC;
  hk_type_t *body = T2(p, L(p));
  hk_type_t *args[1] = {S()};
  cr_assert_str_eq(pr1(hk_types_subst(&T, body, &p, args, 1)), "String * String list");
}

Test(vm_types, every_builtin_type_parses) {
  hk_datatype_t outcome = {.name = "outcome", .ntyvars = 1, .eq = true};
  for (int i = 0; i < HK_B__COUNT; i++) {
    hk_type_t *t = hk_types_parse_builtin(&T, hk_builtin_table[i].type, &outcome);
    cr_assert_not_null(t, "%s", hk_builtin_table[i].name);
    cr_assert_str_eq(pr1(t), hk_builtin_table[i].type, "%s", hk_builtin_table[i].name);
  }
  cr_assert_null(hk_types_parse_builtin(&T, "Int ->", &outcome));
  cr_assert_null(hk_types_parse_builtin(&T, "Foo", &outcome));
}

Test(vm_types, builtin_scheme_instances_are_fresh) {
  hk_type_t *s = hk_types_parse_builtin(&T, "''a * ''a * String -> Unit", NULL);
  cr_assert_not_null(s);
  hk_type_t *x = hk_types_instantiate(&T, s), *y = hk_types_instantiate(&T, s);
  hk_tyerr_t err;
  hk_type_t *items[3] = {I(), I(), S()};
  cr_assert_eq(hk_types_unify(&T, x, A(hk_types_tuple(&T, items, 3), V()), &err), 0);
  hk_type_t *items2[3] = {S(), S(), S()};
  cr_assert_eq(hk_types_unify(&T, y, A(hk_types_tuple(&T, items2, 3), V()), &err), 0);
  hk_type_t *items3[3] = {A(I(), I()), A(I(), I()), S()};
  hk_type_t *z = hk_types_instantiate(&T, s);
  cr_assert_eq(hk_types_unify(&T, z, A(hk_types_tuple(&T, items3, 3), V()), &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_EQ);
}

/* Million-link types: unification, the occurs check, instantiation and
** printing are iterative. */
Test(vm_types, million_link_arrow_chain) {
  enum { N = 1000000 };
  hk_type_t *a = I(), *b = I();
  for (int i = 0; i < N; i++) {
    a = A(I(), a);
    b = A(I(), b);
  }
  hk_tyerr_t err;
  cr_assert_eq(hk_types_unify(&T, a, b, &err), 0);
  hk_type_t *v = V();
  cr_assert_eq(hk_types_unify(&T, v, a, &err), 0);
  hk_type_t *c = S();
  for (int i = 0; i < N; i++) c = A(I(), c);
  cr_assert_eq(hk_types_unify(&T, a, c, &err), -1);
  cr_assert_str_eq(pr1(err.expected), "Int");
  cr_assert_str_eq(pr1(err.found), "String");
  const char *s = pr1(a);
  cr_assert_eq(strlen(s), 1003);
  /* A generic variable at the bottom of the chain forces a full copy. */
  hk_type_t *g = V();
  g->level = HK_LEVEL_GENERIC;
  hk_type_t *d = g;
  for (int i = 0; i < N; i++) d = A(I(), d);
  hk_type_t *inst = hk_types_instantiate(&T, d);
  cr_assert_neq(inst, d);
  cr_assert_eq(hk_types_unify(&T, inst, a, &err), 0);
}

Test(vm_types, million_link_list_chain) {
  enum { N = 1000000 };
  hk_type_t *a = I(), *b = V();
  hk_type_t *bottom = b;
  for (int i = 0; i < N; i++) {
    a = L(a);
    b = L(b);
  }
  const char *s = pr1(a);
  cr_assert_eq(strlen(s), 1003);
  cr_assert_eq(s[0], '(');
  hk_tyerr_t err;
  cr_assert_eq(hk_types_unify(&T, a, b, &err), 0);
  cr_assert_eq(hk_type_resolve(bottom), I());
  /* Occurs check through a million links. */
  hk_type_t *v = V(), *w = v;
  for (int i = 0; i < N; i++) w = L(w);
  cr_assert_eq(hk_types_unify(&T, v, w, &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_OCCURS);
}

/* A DAG whose tree size is 2^60: traversals visit each node once. */
Test(vm_types, shared_dag_is_linear) {
  T.level = 5;
  hk_type_t *v = V();
  hk_type_t *t = v;
  for (int i = 0; i < 60; i++) t = T2(t, t);
  hk_type_t *u = V();
  hk_tyerr_t err;
  cr_assert_eq(hk_types_unify(&T, u, t, &err), 0);
  cr_assert_eq(hk_types_make_eq(&T, t), 0);
  cr_assert(v->eq);
  T.level = 0;
  cr_assert_eq(hk_types_generalize(&T, t), 1);
  hk_type_t *inst = hk_types_instantiate(&T, t);
  cr_assert_neq(inst, t);
  cr_assert_eq(strlen(pr1(t)), 1003);
  /* Two instances (distinct graphs of the same shape) unify in linear time. */
  hk_type_t *inst2 = hk_types_instantiate(&T, t);
  cr_assert_eq(hk_types_unify(&T, inst, inst2, &err), 0);
  /* And a mismatch at the bottom is still found. */
  hk_type_t *x = I(), *y = S();
  for (int i = 0; i < 60; i++) {
    x = T2(x, x);
    y = T2(y, y);
  }
  cr_assert_eq(hk_types_unify(&T, x, y, &err), -1);
  cr_assert_str_eq(pr1(err.expected), "Int");
  cr_assert_str_eq(pr1(err.found), "String");
}

/* What the checker does for `val a0 = 1` then 4,000 declarations
** `val aI = [[[[[[[[[[a(I-1)]]]]]]]]]]` (type depth 40,000): bind a fresh
** pattern variable to the new type, generalise it, and use it monomorphically
** (instantiate a ground type). The ground graph below each new type is never
** walked again, so the work is linear in N, not in N * depth
** (test/lang/pending/README: "Checker time is quadratic ..."). */
Test(vm_types, deep_ground_chain_is_linear) {
  enum { N = 4000, WRAP = 10 };
  hk_type_t *prev = I();
  hk_tyerr_t err;
  uint64_t before = T.visits;
  for (int i = 0; i < N; i++) {
    T.level = 1;
    hk_type_t *v = V();
    hk_type_t *t = hk_types_instantiate(&T, prev);
    cr_assert_eq(t, hk_type_resolve(prev));
    for (int k = 0; k < WRAP; k++) t = L(t);
    cr_assert(t->ground);
    cr_assert_eq(hk_types_unify(&T, v, t, &err), 0);
    T.level = 0;
    cr_assert_eq(hk_types_generalize(&T, v), 0);
    hk_types_lower(&T, v);
    prev = v;
  }
  /* Quadratic would be about N * N * WRAP / 2 = 8e7 visits. */
  cr_assert_lt(T.visits - before, (uint64_t)N * WRAP * 4);
  /* A variable inside is still found by the occurs check. */
  hk_type_t *w = V();
  hk_type_t *t = L(T2(prev, w));
  cr_assert(!t->ground);
  cr_assert_eq(hk_types_unify(&T, w, t, &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_OCCURS);
}

/* A variable bound to a ground type makes the nodes built on it ground;
** instances of a scheme share its ground parts. */
Test(vm_types, ground_flag) {
  hk_type_t *a = V();
  cr_assert(!L(a)->ground);
  hk_tyerr_t err;
  cr_assert_eq(hk_types_unify(&T, a, L(I()), &err), 0);
  cr_assert(L(a)->ground);
  cr_assert(A(I(), S())->ground);
  T.level = 1;
  hk_type_t *g = V();
  hk_type_t *ground = L(L(S()));
  hk_type_t *s = T2(g, ground);
  T.level = 0;
  cr_assert_eq(hk_types_generalize(&T, s), 1);
  hk_type_t *inst = hk_types_instantiate(&T, s);
  cr_assert_neq(inst, s);
  cr_assert_eq(hk_type_resolve(inst)->args[1], ground);
}

/* The same chain where every declaration also compares the previous value
** (`a(I-1) = a(I-1)` binds an equality variable to its type): a ground type
** found to admit equality is not walked again. */
Test(vm_types, deep_ground_chain_equality_is_linear) {
  enum { N = 4000, WRAP = 10 };
  hk_type_t *prev = I();
  hk_tyerr_t err;
  uint64_t before = T.visits;
  for (int i = 0; i < N; i++) {
    cr_assert_eq(hk_types_unify(&T, hk_types_var(&T, true), prev, &err), 0);
    cr_assert_eq(hk_types_make_eq(&T, prev), 0);
    for (int k = 0; k < WRAP; k++) prev = L(prev);
  }
  cr_assert_lt(T.visits - before, (uint64_t)N * WRAP * 4);
  /* A ground type holding a function still refuses equality, every time. */
  hk_type_t *f = L(L(A(I(), I())));
  cr_assert(f->ground);
  cr_assert_eq(hk_types_make_eq(&T, f), -1);
  cr_assert_eq(hk_types_unify(&T, hk_types_var(&T, true), f, &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_EQ);
  cr_assert_eq(hk_types_make_eq(&T, f), -1);
}

/* What the checker does for `fun f x = let val a1 = [x] val a2 = [a1] ...
** val a4000 = [a3999] in ... end` (types that bottom out in a variable of
** an outer level): each `val` binds a pattern variable of the inner level
** to the new type and generalises it, which finds nothing to quantify.
** Structured nodes carry a bound of their variables' levels, so neither the
** bind nor the generalisation walks the chain below the new node: linear
** work, not N * N / 2 = 8e6 visits. */
Test(vm_types, deep_chain_over_an_outer_variable_is_linear) {
  enum { N = 4000 };
  T.level = 1;
  hk_type_t *x = V();
  hk_type_t *prev = x;
  hk_tyerr_t err;
  uint64_t before = T.visits;
  for (int i = 0; i < N; i++) {
    T.level = 2;
    hk_type_t *v = V();
    hk_type_t *t = L(prev);
    cr_assert(!t->ground);
    cr_assert_eq(hk_types_unify(&T, v, t, &err), 0);
    T.level = 1;
    cr_assert_eq(hk_types_generalize(&T, v), 0);
    hk_types_lower(&T, v);
    prev = v;
  }
  cr_assert_lt(T.visits - before, (uint64_t)N * 8);
  cr_assert_eq(x->level, 1);
  /* The variable at the bottom is still found: by the occurs check, and by a
  ** generalisation one level further out. */
  cr_assert_eq(hk_types_unify(&T, x, prev, &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_OCCURS);
  T.level = 0;
  cr_assert_eq(hk_types_generalize(&T, prev), 1);
  cr_assert_eq(x->level, HK_LEVEL_GENERIC);
  hk_type_t *inst = hk_types_instantiate(&T, prev);
  cr_assert_neq(hk_type_resolve(inst), hk_type_resolve(prev));
}

/* What the checker does for `val a0 = []` then 4,000 declarations
** `val aI = [a(I-1)]` at top level, whose types are schemes: each use of
** a(I-1) instantiates it, binds a pattern variable to the list of that
** instance and generalises the result. The instance of a closed scheme is
** lazy (no copy until something looks inside), so the work is linear, not
** N * N / 2 = 8e6 visits (docs/frontend.md). */
Test(vm_types, poly_chain_is_linear) {
  enum { N = 4000 };
  hk_tyerr_t err;
  T.level = 1;
  hk_type_t *prev = L(V());
  T.level = 0;
  cr_assert_eq(hk_types_generalize(&T, prev), 1);
  uint64_t before = T.visits;
  for (int i = 0; i < N; i++) {
    T.level = 1;
    hk_type_t *v = V();
    cr_assert_eq(hk_types_unify(&T, v, L(hk_types_instantiate(&T, prev)), &err), 0);
    T.level = 0;
    cr_assert_gt(hk_types_generalize(&T, v), 0);
    prev = v;
  }
  cr_assert_lt(T.visits - before, (uint64_t)N * 8);
  /* Two instances are independent; each is the whole chain once looked into:
  ** unifying it with a chain of the same depth ending in Int succeeds, and
  ** with one a level shorter fails at the bottom (a list against Int). */
  hk_type_t *ints = I(), *strs = S();
  for (int i = 0; i <= N; i++) ints = L(ints), strs = L(strs);
  hk_type_t *a = hk_types_instantiate(&T, prev);
  hk_type_t *b = hk_types_instantiate(&T, prev);
  cr_assert_eq(hk_types_unify(&T, a, ints, &err), 0);
  cr_assert_eq(hk_types_unify(&T, b, strs, &err), 0);
  cr_assert_eq(hk_types_unify(&T, hk_types_instantiate(&T, prev), ints->args[0], &err), -1);
  cr_assert_eq(err.kind, HK_TYERR_MISMATCH);
  cr_assert_eq(hk_type_resolve(err.found), I());
  /* One instance used twice stays one instance: (x, x) for a lazy x. */
  T.level = 1;
  hk_type_t *x = hk_types_instantiate(&T, prev);
  hk_type_t *w = V();
  cr_assert_eq(hk_types_unify(&T, w, T2(x, x), &err), 0);
  T.level = 0;
  cr_assert_gt(hk_types_generalize(&T, w), 0);
  hk_type_t *pair = hk_type_resolve(hk_types_instantiate(&T, w));
  cr_assert_eq(hk_types_unify(&T, pair->args[0], ints, &err), 0);
  cr_assert_eq(hk_types_unify(&T, pair->args[1], strs, &err), -1);
  /* Printing looks inside (and is cut at 1,000 characters). */
  cr_assert(strncmp(pr1(hk_types_instantiate(&T, prev)), "((((", 4) == 0);
}

/* A variable lowered by a bind is found by a later generalisation at its new
** level even though the nodes above it still carry the old bound. */
Test(vm_types, levels_follow_binds) {
  T.level = 2;
  hk_type_t *inner = V();
  hk_type_t *t = L(T2(inner, I()));
  T.level = 1;
  hk_type_t *outer = V();
  hk_tyerr_t err;
  cr_assert_eq(hk_types_unify(&T, outer, L(inner), &err), 0);
  cr_assert_eq(inner->level, 1, "lowered by the bind");
  cr_assert_eq(hk_types_generalize(&T, t), 0, "level 1 is not above 1");
  T.level = 0;
  cr_assert_eq(hk_types_generalize(&T, t), 1);
  cr_assert_eq(hk_types_generalize(&T, outer), 1, "the same variable, already quantified");
}
