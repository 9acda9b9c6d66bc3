/* check_test.c — the checker through the real parser: inferred type schemes
** (let-polymorphism, value restriction, equality variables, the stdlib
** signatures of SPEC §9), the resolution contract of vm/check.h (global
** slots, shared hk_var_t between binding and use, builtins, funbinds,
** constructor tags and indices, effects), and error messages with positions. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/check.h"
#include "vm/diag.h"
#include "vm/load.h"
#include "vm/types.h"

static hk_arena_t arena;
static hk_sources_t sources;
static hk_diags_list_t diags;
static hk_program_ast_t *prog;
static hk_checked_t *checked;

static void setup(void) {
  hk_arena_init(&arena);
  memset(&sources, 0, sizeof sources);
  memset(&diags, 0, sizeof diags);
  prog = NULL;
  checked = NULL;
}

static void teardown(void) {
  hk_diags_list_free(&diags);
  hk_sources_free(&sources);
  hk_arena_free(&arena);
}

TestSuite(vm_check, .init = setup, .fini = teardown);

static int check(const char *text) {
  int rc = hk_load_program_string(&arena, &sources, &diags, NULL, "t.hml", text,
                                  strlen(text), &prog);
  cr_assert_eq(rc, 0, "parse failed: %s", diags.n ? diags.items[diags.n - 1].message : "?");
  return hk_check_program(&arena, &sources, &diags, prog, &checked);
}

static void ok(const char *text) {
  int rc = check(text);
  cr_assert_eq(rc, 0, "check failed: %s", diags.n ? diags.items[diags.n - 1].message : "?");
}

/* The message of the error, which must be at LINE:COL. */
static const char *error_at(const char *text, uint32_t line, uint32_t col) {
  cr_assert_eq(check(text), -1, "expected an error");
  const hk_diag_entry_t *e = &diags.items[diags.n - 1];
  cr_assert(e->is_error);
  cr_assert_eq(e->pos.line, line, "line %u, message %s", e->pos.line, e->message);
  cr_assert_eq(e->pos.col, col, "col %u, message %s", e->pos.col, e->message);
  return e->message;
}

static hk_var_t *global(const char *name) {
  for (uint32_t i = checked->nglobals; i-- > 0;)
    if (strcmp(checked->global_names[i], name) == 0) return checked->globals[i];
  cr_assert_fail("no global %s", name);
  return NULL;
}

static const char *type_of(const char *name) {
  hk_types_t T;
  memset(&T, 0, sizeof T);
  T.arena = &arena;
  hk_tprinter_t P;
  hk_tprinter_init(&P, &T);
  const char *s = hk_tprinter_print(&P, global(name)->type);
  hk_tprinter_fini(&P);
  return s;
}

Test(vm_check, let_polymorphism_and_schemes) {
  ok("fun id x = x\n"
     "fun compose f g x = f (g x)\n"
     "fun pair x y = (x, y)\n"
     "val p = let val f = fn x => x in (f 1, f \"s\") end\n"
     "fun eq x y = x = y\n"
     "fun member x [] = false | member x (y :: ys) = x = y orelse member x ys\n"
     "val nil_ = []\n"
     "val e = eq\n");
  cr_assert_str_eq(type_of("id"), "'a -> 'a");
  cr_assert_str_eq(type_of("compose"), "('a -> 'b) -> ('c -> 'a) -> 'c -> 'b");
  cr_assert_str_eq(type_of("pair"), "'a -> 'b -> 'a * 'b");
  cr_assert_str_eq(type_of("p"), "Int * String");
  cr_assert_str_eq(type_of("eq"), "''a -> ''a -> Bool");
  cr_assert_str_eq(type_of("member"), "''a -> ''a list -> Bool");
  cr_assert_str_eq(type_of("nil_"), "'a list");
  cr_assert(global("nil_")->poly);
  cr_assert(global("e")->poly);
}

Test(vm_check, value_restriction) {
  ok("fun id x = x\nval f = id id\nval g = fn x => id x\nval n = f 3\n");
  cr_assert(!global("f")->poly);
  cr_assert_str_eq(type_of("f"), "Int -> Int");
  cr_assert(global("g")->poly);
}

Test(vm_check, stdlib_signatures) {
  ok("use \"stdlib/list.hml\"\nuse \"stdlib/option.hml\"\nuse \"stdlib/either.hml\"\n"
     "use \"stdlib/json.hml\"\n");
  static const char *const sig[][2] = {
      {"map", "('a -> 'b) -> 'a list -> 'b list"},
      {"filter", "('a -> Bool) -> 'a list -> 'a list"},
      {"foldl", "('a * 'b -> 'a) -> 'a -> 'b list -> 'a"},
      {"foldr", "('a * 'b -> 'b) -> 'b -> 'a list -> 'b"},
      {"length", "'a list -> Int"},
      {"reverse", "'a list -> 'a list"},
      {"append", "'a list -> 'a list -> 'a list"},
      {"nth", "'a list -> Int -> 'a"},
      {"last", "'a list -> 'a"},
      {"take", "Int -> 'a list -> 'a list"},
      {"drop", "Int -> 'a list -> 'a list"},
      {"zip", "'a list -> 'b list -> ('a * 'b) list"},
      {"all", "('a -> Bool) -> 'a list -> Bool"},
      {"any", "('a -> Bool) -> 'a list -> Bool"},
      {"find", "('a -> Bool) -> 'a list -> 'a"},
      {"is_some", "'a option -> Bool"},
      {"is_none", "'a option -> Bool"},
      {"map_option", "('a -> 'b) -> 'a option -> 'b option"},
      {"get_or", "'a option -> 'a -> 'a"},
      {"flat_map_option", "('a -> 'b option) -> 'a option -> 'b option"},
      {"map_right", "('a -> 'b) -> ('c, 'a) either -> ('c, 'b) either"},
      {"map_left", "('a -> 'b) -> ('a, 'c) either -> ('b, 'c) either"},
      {"is_left", "('a, 'b) either -> Bool"},
      {"is_right", "('a, 'b) either -> Bool"},
      {"from_left", "'a -> ('a, 'b) either -> 'a"},
      {"from_right", "'a -> ('b, 'a) either -> 'a"},
  };
  for (size_t i = 0; i < sizeof sig / sizeof sig[0]; i++)
    cr_expect_str_eq(type_of(sig[i][0]), sig[i][1], "%s", sig[i][0]);
  cr_assert_not_null(checked->json);
  cr_assert_str_eq(checked->json->name, "json");
  cr_assert(checked->json->eq);
  cr_assert_eq(checked->json->nctors, 7);
  cr_assert_str_eq(checked->json->ctors[6]->name, "JObject");
}

Test(vm_check, resolution_contract) {
  ok("val a = 1\n"
     "fun f x = x + a\n"
     "val a = \"s\"\n"
     "local val hidden = 2 in val shown = hidden end\n"
     "val (p, q) = (1, 2)\n"
     "val r = f p + q\n");
  /* Each top-level binding has its own slot, in order; shadowing makes a new one. */
  cr_assert_eq(checked->nglobals, 8);
  const char *names[] = {"a", "f", "a", "hidden", "shown", "p", "q", "r"};
  for (uint32_t i = 0; i < 8; i++) {
    cr_assert_str_eq(checked->global_names[i], names[i]);
    cr_assert_eq(checked->globals[i]->global, i);
    cr_assert_eq(checked->globals[i]->kind, HK_VAR_GLOBAL);
  }
  cr_assert_str_eq(type_of("a"), "String");
  cr_assert_eq(checked->nvars, (uint32_t)HK_B__COUNT + 9);
}

Test(vm_check, resolution_uses_point_to_bindings) {
  ok("val a = 1\n"
     "fun f x = let fun g y = y + x + a in g end\n"
     "val a = 2\n"
     "val b = f a 3\n"
     "val c = print b\n");
  hk_dec_t *df = prog->decs[1];
  hk_funbind_t *fb = &df->binds[0];
  cr_assert_eq(fb->var->fun, fb);
  cr_assert_eq(fb->var->kind, HK_VAR_GLOBAL);
  hk_var_t *x = fb->params[0]->var;
  cr_assert_eq(x->kind, HK_VAR_LOCAL);
  /* Body: let fun g y = (y + x) + a in g end */
  hk_expr_t *let = fb->body;
  cr_assert_eq(let->kind, HK_E_LET);
  hk_funbind_t *gb = &let->decs[0]->binds[0];
  cr_assert_eq(gb->var->kind, HK_VAR_LOCAL);
  cr_assert_eq(gb->var->fun, gb);
  cr_assert_eq(let->a->var, gb->var);
  hk_expr_t *sum = gb->body;
  cr_assert_eq(sum->kind, HK_E_BINOP);
  cr_assert_eq(sum->items[0]->var, gb->params[0]->var);
  cr_assert_eq(sum->items[1]->var, x);
  /* `a` in f is the first a (slot 0), not the later one. */
  cr_assert_eq(sum->items[2]->var, prog->decs[0]->pat->var);
  cr_assert_eq(sum->items[2]->var->global, 0);
  /* val b = f a 3: f is the funbind's var; a is the second a. */
  hk_expr_t *app = prog->decs[3]->expr;
  cr_assert_eq(app->a->var, fb->var);
  cr_assert_eq(app->items[0]->var, prog->decs[2]->pat->var);
  /* print is the shared builtin var. */
  hk_expr_t *pr = prog->decs[4]->expr->a;
  cr_assert_eq(pr->var->kind, HK_VAR_BUILTIN);
  cr_assert_eq(pr->var->builtin, HK_B_print);
  cr_assert_eq(pr->var, &checked->builtins[HK_B_print]);
}

Test(vm_check, parameter_shadows_global_function) {
  ok("fun double x = x * 2\nfun apply double x = double x\n");
  hk_funbind_t *fb = &prog->decs[1]->binds[0];
  hk_expr_t *body = fb->body;
  cr_assert_eq(body->kind, HK_E_APP);
  cr_assert_eq(body->a->var, fb->params[0]->var);
  cr_assert_eq(body->a->var->kind, HK_VAR_LOCAL);
}

Test(vm_check, constructors_and_prelude) {
  ok("datatype c = R | G of Int | B\ndatatype failure = Mine\nval x = (G 1, Ok R, Mine)\n");
  cr_assert_geq(checked->nctors, HK_CTOR__PRELUDE_COUNT + 4);
  cr_assert_str_eq(checked->ctors[HK_CTOR_RUNTIME_ERROR]->name, "RuntimeError");
  cr_assert_eq(checked->ctors[HK_CTOR_HEAP_LIMIT]->tag, 3);
  cr_assert_str_eq(checked->ctors[HK_CTOR_CHILD_FAILED]->name, "ChildFailed");
  cr_assert_eq(checked->ctors[HK_CTOR_CHILD_FAILED]->tag, 5);
  cr_assert_str_eq(checked->ctors[HK_CTOR_ERR]->name, "Err");
  cr_assert_eq(checked->ctors[HK_CTOR_ERR]->tag, 1);
  cr_assert_str_eq(checked->ctors[HK_CTOR_OK]->datatype->name, "outcome");
  for (uint32_t i = 0; i < checked->nctors; i++) cr_assert_eq(checked->ctors[i]->index, i);
  const hk_ctor_t *g = checked->ctors[HK_CTOR__PRELUDE_COUNT + 1];
  cr_assert_str_eq(g->name, "G");
  cr_assert_eq(g->tag, 1);
  cr_assert(g->has_payload);
  cr_assert_eq(g->datatype->nctors, 3);
  cr_assert(g->datatype->eq);
  cr_assert_eq(prog->decs[0]->ctors[1].ctor, g);
  hk_expr_t *tup = prog->decs[2]->expr;
  cr_assert_eq(tup->items[0]->a->ctor, g);
  cr_assert_str_eq(tup->items[2]->ctor->name, "Mine");
  cr_assert_str_eq(tup->items[2]->ctor->datatype->name, "failure");
  cr_assert_eq(checked->ndatatypes, 4);
  cr_assert_eq(checked->datatypes[0]->nctors, 6);
}

Test(vm_check, datatype_equality_flag) {
  ok("datatype a = A of Int -> Int\n"
     "datatype 'x b = B of 'x * 'x b list | E\n"
     "datatype c = C of a | D\n"
     "datatype d = R of Rng\n");
  cr_assert(!checked->datatypes[2]->eq);
  cr_assert(checked->datatypes[3]->eq);
  cr_assert(!checked->datatypes[4]->eq);
  cr_assert(!checked->datatypes[5]->eq);
}

Test(vm_check, effects_and_handlers) {
  ok("effect Ask\neffect Yield of Int\n"
     "val v = handle perform Yield 1 + 1 with return x => x | Yield n k => resume k n | Ask _ k => k 0\n");
  cr_assert_eq(checked->neffects, 2);
  cr_assert_str_eq(checked->effects[1]->name, "Yield");
  cr_assert_eq(checked->effects[1]->index, 1);
  hk_expr_t *h = prog->decs[2]->expr;
  cr_assert_eq(h->kind, HK_E_HANDLE);
  cr_assert_eq(h->handlers[0].effect, checked->effects[1]);
  cr_assert_eq(h->handlers[1].effect, checked->effects[0]);
  cr_assert_null(h->handlers[1].payload_var);
  cr_assert_not_null(h->handlers[0].k_var);
  cr_assert_eq(h->a->items[0]->effect, checked->effects[1]);
  hk_expr_t *res = h->handlers[0].body;
  cr_assert_eq(res->items[0]->var, h->handlers[0].k_var);
  cr_assert_eq(h->ret->payload_var, h->ret->body->var);
}

Test(vm_check, error_messages_and_positions) {
  cr_assert_str_eq(error_at("val x = 1\nval y = if x then 1 else 2\n", 2, 12),
                   "type mismatch: expected Bool, found Int");
  teardown();
  setup();
  cr_assert_str_eq(error_at("fun f x = x x\n", 1, 11), "infinite type (occurs check failed)");
  teardown();
  setup();
  cr_assert_str_eq(error_at("fun neg x = ~x\n", 1, 13),
                   "~ requires Int or Float, but type is unconstrained");
  teardown();
  setup();
  cr_assert_str_eq(error_at("val b = print = print\n", 1, 9),
                   "= and <> require equality types, found 'a -> Unit");
  teardown();
  setup();
  cr_assert_str_eq(error_at("fun f x = case x of 0 => 1\n", 1, 11), "non-exhaustive match");
  teardown();
  setup();
  cr_assert_str_eq(error_at("datatype t = A\nval y = let datatype u = A in 1 end\n", 2, 26),
                   "duplicate constructor name: A");
}

Test(vm_check, redundancy_warnings_in_source_order) {
  ok("fun f x = case x of\n"
     "    _ => (case x of _ => 1 | 2 => 3)\n"
     "  | 1 => 2\n");
  cr_assert_eq(diags.n, 2);
  cr_assert(!diags.items[0].is_error);
  cr_assert_str_eq(diags.items[0].message, "redundant match clause (clause 2)");
  cr_assert_eq(diags.items[0].pos.line, 2);
  cr_assert_eq(diags.items[1].pos.line, 3);
}

Test(vm_check, generator_idiom) {
  ok("effect Yield of Int\n"
     "fun collect gen = handle gen () with return _ => [] | Yield n k => n :: collect (fn () => resume k ())\n"
     "val xs = collect (fn () => perform Yield 1)\n");
  cr_assert_str_eq(type_of("collect"), "(Unit -> 'a) -> Int list");
}

Test(vm_check, million_element_list_and_long_chains) {
  size_t n = 1000000;
  char *src = malloc(n * 3 + 64);
  char *p = src + sprintf(src, "val l = [");
  for (size_t i = 0; i < n; i++) {
    memcpy(p, i ? ",1" : "1", i ? 2 : 1);
    p += i ? 2 : 1;
  }
  strcpy(p, "]\n");
  ok(src);
  cr_assert_str_eq(type_of("l"), "Int list");
  free(src);
}
