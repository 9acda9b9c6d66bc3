/* parse_test.c — the parser of SPEC §2: precedence, associativity, n-ary
** chains, desugaring, folding, restrictions, error messages and positions,
** the nesting limit and million-link chains. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/diag.h"
#include "vm/parse.h"

static hk_arena_t arena;
static hk_diags_list_t diags;

static void setup(void) {
  hk_arena_init(&arena);
  memset(&diags, 0, sizeof diags);
}
static void teardown(void) {
  hk_diags_list_free(&diags);
  hk_arena_free(&arena);
}

TestSuite(vm_parse, .init = setup, .fini = teardown);

/* ---- A small printer of the AST (tests only: recursion is fine here) ---- */

static char out[1 << 16];
static size_t outn;

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out + outn, sizeof out - outn, fmt, ap);
  va_end(ap);
  if (n > 0) outn += (size_t)n;
  if (outn >= sizeof out) outn = sizeof out - 1;
}

static const char *opname(hk_op_t op) {
  static const char *n[] = {"+", "-", "*", "/", "mod", "+.", "-.", "*.", "/.", "^",
    "=", "<>", "<", ">", "<=", ">=", "<.", ">.", "<=.", ">=.", "~", "not"};
  return n[op];
}

static void pr_pat(const hk_pat_t *p);
static void pr_ty(const hk_ty_t *t) {
  switch (t->kind) {
  case HK_TY_VAR: emit("%s", t->name); break;
  case HK_TY_CON:
    if (!t->n) { emit("%s", t->name); break; }
    emit("(%s", t->name);
    for (uint32_t i = 0; i < t->n; i++) { emit(" "); pr_ty(t->items[i]); }
    emit(")");
    break;
  case HK_TY_TUPLE:
    emit("(*");
    for (uint32_t i = 0; i < t->n; i++) { emit(" "); pr_ty(t->items[i]); }
    emit(")");
    break;
  case HK_TY_ARROW:
    emit("(->");
    for (uint32_t i = 0; i < t->n; i++) { emit(" "); pr_ty(t->items[i]); }
    emit(" ");
    pr_ty(t->result);
    emit(")");
    break;
  }
}

static void pr_pat(const hk_pat_t *p) {
  switch (p->kind) {
  case HK_P_WILD: emit("_"); break;
  case HK_P_VAR: emit("%s", p->name); break;
  case HK_P_INT: emit("%lld", (long long)p->lit.i); break;
  case HK_P_FLOAT: emit("%g", p->lit.f); break;
  case HK_P_STRING: emit("\"%s\"", p->lit.str.s); break;
  case HK_P_CHAR: emit("#%u", p->lit.ch); break;
  case HK_P_BOOL: emit(p->lit.b ? "true" : "false"); break;
  case HK_P_UNIT: emit("()"); break;
  case HK_P_TUPLE:
    emit("(tuple");
    for (uint32_t i = 0; i < p->n; i++) { emit(" "); pr_pat(p->items[i]); }
    emit(")");
    break;
  case HK_P_LIST:
    emit("(list");
    for (uint32_t i = 0; i < p->n; i++) { emit(" "); pr_pat(p->items[i]); }
    if (p->tail) { emit(" . "); pr_pat(p->tail); }
    emit(")");
    break;
  case HK_P_CON:
    if (!p->arg) { emit("%s", p->name); break; }
    emit("(%s ", p->name);
    pr_pat(p->arg);
    emit(")");
    break;
  case HK_P_AS:
    emit("(as");
    for (uint32_t i = 0; i < p->n; i++) emit(" %s", p->names[i]);
    emit(" ");
    pr_pat(p->arg);
    emit(")");
    break;
  case HK_P_ANNOT:
    emit("(: ");
    pr_pat(p->arg);
    emit(" ");
    pr_ty(p->ty);
    emit(")");
    break;
  }
}

static void pr_expr(const hk_expr_t *e);
static void pr_items(const char *tag, hk_expr_t *const *items, uint32_t n) {
  emit("(%s", tag);
  for (uint32_t i = 0; i < n; i++) { emit(" "); pr_expr(items[i]); }
  emit(")");
}

static void pr_expr(const hk_expr_t *e) {
  switch (e->kind) {
  case HK_E_INT: emit("%lld", (long long)e->lit.i); break;
  case HK_E_FLOAT: emit("%g", e->lit.f); break;
  case HK_E_STRING: emit("\"%s\"", e->lit.str.s); break;
  case HK_E_CHAR: emit("#%u", e->lit.ch); break;
  case HK_E_BOOL: emit(e->lit.b ? "true" : "false"); break;
  case HK_E_UNIT: emit("()"); break;
  case HK_E_VAR: case HK_E_CON: emit("%s", e->name); break;
  case HK_E_TUPLE: pr_items("tuple", e->items, e->n); break;
  case HK_E_LIST:
    emit("(list");
    for (uint32_t i = 0; i < e->n; i++) { emit(" "); pr_expr(e->items[i]); }
    if (e->a) { emit(" . "); pr_expr(e->a); }
    emit(")");
    break;
  case HK_E_BINOP:
    emit("(");
    pr_expr(e->items[0]);
    for (uint32_t i = 1; i < e->n; i++) {
      emit(" %s ", opname(e->ops[i - 1]));
      pr_expr(e->items[i]);
    }
    emit(")");
    break;
  case HK_E_ANDALSO: pr_items("andalso", e->items, e->n); break;
  case HK_E_ORELSE: pr_items("orelse", e->items, e->n); break;
  case HK_E_PREFIX:
    emit("(");
    for (uint32_t i = 0; i < e->n; i++) emit("%s ", opname(e->ops[i]));
    pr_expr(e->a);
    emit(")");
    break;
  case HK_E_APP:
    emit("(app ");
    pr_expr(e->a);
    for (uint32_t i = 0; i < e->n; i++) { emit(" "); pr_expr(e->items[i]); }
    emit(")");
    break;
  case HK_E_IF:
    emit("(if ");
    pr_expr(e->a); emit(" "); pr_expr(e->b); emit(" "); pr_expr(e->c);
    emit(")");
    break;
  case HK_E_LET:
    emit("(let %u ", e->ndecs);
    pr_expr(e->a);
    emit(")");
    break;
  case HK_E_CASE:
  case HK_E_FN:
    emit(e->kind == HK_E_FN ? "(fn" : "(case ");
    if (e->kind == HK_E_CASE) pr_expr(e->a);
    for (uint32_t i = 0; i < e->n; i++) {
      emit(" [");
      pr_pat(e->arms[i].pat);
      emit(" => ");
      pr_expr(e->arms[i].body);
      emit("]");
    }
    emit(")");
    break;
  case HK_E_HANDLE:
    emit("(handle ");
    pr_expr(e->a);
    emit(" [return %s => ", e->ret->payload ? e->ret->payload : "_");
    pr_expr(e->ret->body);
    emit("]");
    for (uint32_t i = 0; i < e->n; i++) {
      const hk_handler_t *h = &e->handlers[i];
      emit(" [%s %s %s => ", h->effect_name, h->payload ? h->payload : "_", h->k ? h->k : "_");
      pr_expr(h->body);
      emit("]");
    }
    emit(")");
    break;
  case HK_E_PERFORM:
    emit("(perform %s ", e->name);
    pr_expr(e->a);
    emit(")");
    break;
  case HK_E_RESUME: pr_items("resume", e->items, 2); break;
  case HK_E_ANNOT:
    emit("(: ");
    pr_expr(e->a);
    emit(" ");
    pr_ty(e->ty);
    emit(")");
    break;
  }
}

/* Parses [src] as one expression and prints it. */
static const char *ex(const char *src) {
  hk_expr_t *e = hk_parse_expr_string(&arena, &diags, 0, src, strlen(src));
  cr_assert_not_null(e, "parse failed: %s", diags.n ? diags.items[0].message : "?");
  outn = 0;
  out[0] = '\0';
  pr_expr(e);
  return out;
}

/* Parses a program; returns its declarations or NULL. */
static hk_dec_t **prog(const char *src, uint32_t *n) {
  hk_dec_t **d = NULL;
  int rc = hk_parse_file(&arena, &diags, 0, src, strlen(src), &d, n);
  return rc == 0 ? d : NULL;
}

/* The error of parsing program [src] as "LINE:COL: MESSAGE". */
static const char *perr(const char *src) {
  uint32_t n;
  cr_assert_null(prog(src, &n), "'%s' parsed", src);
  cr_assert_eq(diags.n, 1);
  const hk_diag_entry_t *d = &diags.items[diags.n - 1];
  snprintf(out, sizeof out, "%u:%u: %s", d->pos.line, d->pos.col, d->message);
  hk_diags_list_free(&diags);
  memset(&diags, 0, sizeof diags);
  return out;
}

/* ---- Precedence and associativity ---- */

Test(vm_parse, precedence_levels) {
  cr_assert_str_eq(ex("a + b * c"), "(a + (b * c))");
  cr_assert_str_eq(ex("a * b + c"), "((a * b) + c)");
  cr_assert_str_eq(ex("a + b :: c"), "(list (a + b) . c)");
  cr_assert_str_eq(ex("a :: b = c"), "((list a . b) = c)");
  cr_assert_str_eq(ex("a = b andalso c"), "(andalso (a = b) c)");
  cr_assert_str_eq(ex("a andalso b orelse c"), "(orelse (andalso a b) c)");
  cr_assert_str_eq(ex("a orelse b : Bool"), "(: (orelse a b) Bool)");
  cr_assert_str_eq(ex("~ f x"), "(~ (app f x))");
  cr_assert_str_eq(ex("not f x * 2"), "((not (app f x)) * 2)");
  cr_assert_str_eq(ex("f x ^ g y"), "((app f x) ^ (app g y))");
  cr_assert_str_eq(ex("a <=. b"), "(a <=. b)");
  cr_assert_str_eq(ex("a mod b /. c *. d"), "(a mod b /. c *. d)");
}

Test(vm_parse, associativity_and_nary_nodes) {
  cr_assert_str_eq(ex("a - b - c + d"), "(a - b - c + d)");
  cr_assert_str_eq(ex("a :: b :: c"), "(list a b . c)");
  /* A list literal stays the tail of a :: chain (typed as a literal, SPEC
  ** §3.5.1-2); a parenthesised chain there is the same chain. */
  cr_assert_str_eq(ex("a :: b :: []"), "(list a b . (list))");
  cr_assert_str_eq(ex("a :: [b, c]"), "(list a . (list b c))");
  cr_assert_str_eq(ex("a :: (b :: c)"), "(list a b . c)");
  cr_assert_str_eq(ex("a orelse b orelse c"), "(orelse a b c)");
  cr_assert_str_eq(ex("a andalso b andalso c"), "(andalso a b c)");
  cr_assert_str_eq(ex("f a b c"), "(app f a b c)");
  cr_assert_str_eq(ex("~ ~ not x"), "(~ ~ not x)");
  cr_assert_str_eq(ex("f ~x not y"), "(app f (~ x) (not y))");
  cr_assert_str_eq(ex("f (g x) [1, y]"), "(app f (app g x) (list 1 y))");
}

Test(vm_parse, keyword_expressions_extend_right) {
  cr_assert_str_eq(ex("fn x => x + 1"), "(fn [x => (x + 1)])");
  cr_assert_str_eq(ex("if a then b else c + 1"), "(if a b (c + 1))");
  cr_assert_str_eq(ex("let in f end x"), "(app (let 0 f) x)");
  cr_assert_str_eq(ex("case x of 1 => a | _ => b"), "(case x [1 => a] [_ => b])");
  cr_assert_str_eq(ex("case x of | y => y"), "(case x [y => y])");
  cr_assert_str_eq(ex("perform Log (\"x\" ^ s)"), "(perform Log (\"x\" ^ s))");
  cr_assert_str_eq(ex("resume k ()"), "(resume k ())");
  cr_assert_str_eq(ex("handle f () with return x => x | Yield n k => resume k n | E _ _ => 0"),
                   "(handle (app f ()) [return x => x] [Yield n k => (resume k n)] [E _ _ => 0])");
  cr_assert_str_eq(ex("(a, b, (c))"), "(tuple a b c)");
  cr_assert_str_eq(ex("()"), "()");
  cr_assert_str_eq(ex("[]"), "(list)");
  cr_assert_str_eq(ex("f #\"a\" \"s\" 1.5 true C"), "(app f #97 \"s\" 1.5 true C)");
}

Test(vm_parse, patterns) {
  cr_assert_str_eq(ex("fn x as y as (a, _) => 0"), "(fn [(as x y (tuple a _)) => 0])");
  cr_assert_str_eq(ex("fn C x :: D :: t => 0"), "(fn [(list (C x) D . t) => 0])");
  cr_assert_str_eq(ex("fn [~1, ~2.5, #\"c\", \"s\", true] => 0"),
                   "(fn [(list -1 -2.5 #99 \"s\" true) => 0])");
  cr_assert_str_eq(ex("fn (x : Int) :: [] => 0"), "(fn [(list (: x Int)) => 0])");
  cr_assert_str_eq(ex("fn x : 'a list => 0"), "(fn [(: x (list 'a)) => 0])");
  cr_assert_str_eq(ex("fn C ~3 => 0"), "(fn [(C -3) => 0])");
  cr_assert_str_eq(ex("fn () => 0"), "(fn [() => 0])");
}

Test(vm_parse, types) {
  cr_assert_str_eq(ex("x : Int -> Int -> Bool"), "(: x (-> Int Int Bool))");
  cr_assert_str_eq(ex("x : (Int -> Int) -> Bool"), "(: x (-> (-> Int Int) Bool))");
  cr_assert_str_eq(ex("x : Int * Bool * String"), "(: x (* Int Bool String))");
  cr_assert_str_eq(ex("x : Int list list"), "(: x (list (list Int)))");
  cr_assert_str_eq(ex("x : (Int, String) pair option"), "(: x (option (pair Int String)))");
  cr_assert_str_eq(ex("x : (Int, String)"), "(: x (* Int String))");
  cr_assert_str_eq(ex("x : 'a * 'b -> ('a, 'b) t"), "(: x (-> (* 'a 'b) (t 'a 'b)))");
}

/* ---- Folding (SPEC §2.6) ---- */

Test(vm_parse, folding) {
  cr_assert_str_eq(ex("1 + 2 * 3"), "7");
  cr_assert_str_eq(ex("~5"), "-5");
  cr_assert_str_eq(ex("~ ~5"), "5");
  cr_assert_str_eq(ex("x + 1 + 2"), "(x + 1 + 2)");
  cr_assert_str_eq(ex("1 + 2 + x"), "(3 + x)");
  cr_assert_str_eq(ex("7 / 2 - 7 mod 2"), "2");
  cr_assert_str_eq(ex("~7 / 2"), "-3");
  cr_assert_str_eq(ex("~7 mod 2"), "-1");
  cr_assert_str_eq(ex("7 mod ~2"), "1");
  cr_assert_str_eq(ex("1 / 0"), "(1 / 0)");
  cr_assert_str_eq(ex("1 mod 0"), "(1 mod 0)");
  cr_assert_str_eq(ex("9223372036854775807 + 1"), "(9223372036854775807 + 1)");
  cr_assert_str_eq(ex("~9223372036854775807 - 1"), "-9223372036854775808");
  cr_assert_str_eq(ex("~(~9223372036854775807 - 1)"), "(~ -9223372036854775808)");
  cr_assert_str_eq(ex("(~9223372036854775807 - 1) / ~1"), "(-9223372036854775808 / -1)");
  cr_assert_str_eq(ex("(~9223372036854775807 - 1) mod ~1"), "0");
  cr_assert_str_eq(ex("3037000500 * 3037000500"), "(3037000500 * 3037000500)");
  cr_assert_str_eq(ex("1.5 +. 2.0 *. 2.0"), "5.5");
  cr_assert_str_eq(ex("~1.5"), "-1.5");
  cr_assert_str_eq(ex("1.0 /. 0.0"), "inf");
  cr_assert_str_eq(ex("1 + 1.0"), "(1 + 1)");
  cr_assert_str_eq(ex("\"a\" ^ \"b\" ^ \"c\""), "\"abc\"");
  cr_assert_str_eq(ex("\"a\" ^ \"b\" ^ x ^ \"c\""), "(\"ab\" ^ x ^ \"c\")");
  cr_assert_str_eq(ex("1 < 2"), "true");
  cr_assert_str_eq(ex("2 <= 1"), "false");
  cr_assert_str_eq(ex("1 = 1"), "true");
  cr_assert_str_eq(ex("1 <> 1"), "false");
  cr_assert_str_eq(ex("1.0 <. 2.0"), "(1 <. 2)");
  cr_assert_str_eq(ex("\"a\" = \"a\""), "(\"a\" = \"a\")");
  cr_assert_str_eq(ex("if true then 1 else \"x\""), "1");
  cr_assert_str_eq(ex("if 1 > 2 then a else b"), "b");
  cr_assert_str_eq(ex("if x then a else b"), "(if x a b)");
  cr_assert_str_eq(ex("f (2 * 3) (~1)"), "(app f 6 -1)");
  /* not / andalso / orelse fold through their desugared ifs. */
  cr_assert_str_eq(ex("not true"), "false");
  cr_assert_str_eq(ex("true andalso x"), "x");
  cr_assert_str_eq(ex("false andalso x"), "false");
  cr_assert_str_eq(ex("x andalso false andalso y"), "(andalso x false)");
  cr_assert_str_eq(ex("x andalso true andalso y"), "(andalso x y)");
  cr_assert_str_eq(ex("false orelse x"), "x");
  cr_assert_str_eq(ex("true orelse x"), "true");
  cr_assert_str_eq(ex("x orelse false"), "(orelse x false)");
}

/* ---- Declarations and desugaring ---- */

Test(vm_parse, declarations) {
  uint32_t n;
  hk_dec_t **d = prog("val x = 1\n"
                      "val rec f = fn x => f x\n"
                      "fun g x = x and h y = y\n"
                      "datatype ('a, 'b) t = | A | B of 'a * 'b\n"
                      "type 'a u = 'a list\n"
                      "local val p = 1 in val q = p end\n"
                      "use \"lib.hml\"\n"
                      "effect E of Int\n"
                      "effect F\n", &n);
  cr_assert_not_null(d);
  cr_assert_eq(n, 9);
  cr_assert_eq(d[0]->kind, HK_D_VAL);
  cr_assert_eq(d[1]->kind, HK_D_VALREC);
  cr_assert_str_eq(d[1]->name, "f");
  cr_assert_eq(d[1]->expr->kind, HK_E_FN);
  cr_assert_eq(d[2]->kind, HK_D_FUN);
  cr_assert_eq(d[2]->n, 2);
  cr_assert_str_eq(d[2]->binds[1].name, "h");
  cr_assert_eq(d[3]->kind, HK_D_DATATYPE);
  cr_assert_eq(d[3]->ntyvars, 2);
  cr_assert_str_eq(d[3]->tyvars[1], "'b");
  cr_assert_eq(d[3]->n, 2);
  cr_assert_null(d[3]->ctors[0].ty);
  cr_assert_not_null(d[3]->ctors[1].ty);
  cr_assert_eq(d[4]->kind, HK_D_TYPE);
  cr_assert_str_eq(d[4]->name, "u");
  cr_assert_eq(d[5]->kind, HK_D_LOCAL);
  cr_assert_eq(d[5]->ndecs, 1);
  cr_assert_eq(d[5]->ndecs2, 1);
  cr_assert_eq(d[6]->kind, HK_D_USE);
  cr_assert_str_eq(d[6]->path.s, "lib.hml");
  cr_assert_eq(d[6]->ndecs, 0);
  cr_assert_eq(d[7]->kind, HK_D_EFFECT);
  cr_assert_not_null(d[7]->ty);
  cr_assert_null(d[8]->ty);
  cr_assert_eq(d[0]->pos.line, 1);
  cr_assert_eq(d[8]->pos.line, 9);
}

/* Each binding of a `fun ... and ...` group keeps its own keyword, where a
** non-exhaustive match is reported (SPEC §3.8.3; check/qa_nonex_and_group_1). */
Test(vm_parse, fun_group_keywords) {
  uint32_t n;
  hk_dec_t **d = prog("fun f 0 = 1\n  | f _ = 2\nand g true = 1\n  | g true = 2\nand h x = x", &n);
  cr_assert_not_null(d);
  cr_assert_eq(d[0]->n, 3);
  hk_funbind_t *b = d[0]->binds;
  cr_assert_eq(b[0].kw.line, 1);
  cr_assert_eq(b[0].kw.col, 1);
  cr_assert_eq(b[1].kw.line, 3);
  cr_assert_eq(b[1].kw.col, 1);
  cr_assert_eq(b[1].body->pos.line, 3); /* the desugared case */
  cr_assert_eq(b[2].kw.line, 5);
  cr_assert_eq(b[2].kw.col, 1);
  cr_assert_eq(d[0]->pos.line, 1);
}

Test(vm_parse, clausal_functions) {
  uint32_t n;
  hk_dec_t **d = prog("fun f 0 y = y\n  | f x y = x", &n);
  cr_assert_not_null(d);
  hk_funbind_t *fb = &d[0]->binds[0];
  cr_assert_eq(fb->nclauses, 2);
  cr_assert_eq(fb->nparams, 2);
  cr_assert_eq(fb->params[0]->kind, HK_P_VAR);
  cr_assert_eq(fb->params[0]->name[0], '$');
  cr_assert_str_neq(fb->params[0]->name, fb->params[1]->name);
  hk_expr_t *c = fb->body;
  cr_assert_eq(c->kind, HK_E_CASE);
  cr_assert_eq(c->origin, HK_ORIGIN_FUN);
  cr_assert_eq(c->pos.line, 1);
  cr_assert_eq(c->pos.col, 1); /* the `fun` keyword */
  cr_assert_eq(c->a->kind, HK_E_TUPLE);
  cr_assert_str_eq(c->a->items[1]->name, fb->params[1]->name);
  cr_assert_eq(c->n, 2);
  cr_assert_eq(c->arms[1].pat->kind, HK_P_TUPLE);
  cr_assert_eq(c->arms[1].pat->pos.line, 2);
  cr_assert_eq(c->arms[1].pat->pos.col, 7);
  /* One parameter: the scrutinee is the fresh variable itself. */
  d = prog("fun g [] = 0 | g (x :: _) = x", &n);
  fb = &d[0]->binds[0];
  cr_assert_eq(fb->body->a->kind, HK_E_VAR);
  cr_assert_eq(fb->body->arms[0].pat->kind, HK_P_LIST);
  /* One clause: the patterns stay the parameters. */
  d = prog("fun h (a, b) c = a", &n);
  fb = &d[0]->binds[0];
  cr_assert_eq(fb->nclauses, 1);
  cr_assert_eq(fb->params[0]->kind, HK_P_TUPLE);
  cr_assert_eq(fb->body->kind, HK_E_VAR);
}

/* ---- Errors ---- */

Test(vm_parse, error_messages) {
  cr_assert_str_eq(perr("x"), "1:1: expected declaration (val, fun, datatype, type, local, use, or effect)");
  cr_assert_str_eq(perr("val x = )"), "1:9: expected expression");
  cr_assert_str_eq(perr("val x =\n"), "2:1: expected expression");
  cr_assert_str_eq(perr("val = 1"), "1:5: expected pattern");
  cr_assert_str_eq(perr("val x : = 1"), "1:9: expected type");
  cr_assert_str_eq(perr("val rec 1 = fn x => x"), "1:9: expected identifier");
  cr_assert_str_eq(perr("fun 1 = 2"), "1:5: expected identifier");
  cr_assert_str_eq(perr("val x = handle 1 with return 2 => 3"), "1:30: expected identifier or _");
  cr_assert_str_eq(perr("datatype t = a"), "1:14: expected constructor name");
  cr_assert_str_eq(perr("effect e"), "1:8: expected constructor name");
  cr_assert_str_eq(perr("val x = perform e 1"), "1:17: expected constructor name");
  cr_assert_str_eq(perr("datatype = A"), "1:10: expected name");
  cr_assert_str_eq(perr("type ('a, b) t = Int"), "1:11: expected type variable");
  cr_assert_str_eq(perr("val f = fn ~x => 1"), "1:13: expected number after ~ in pattern");
  cr_assert_str_eq(perr("use x"), "1:5: expected string literal after 'use'");
  cr_assert_str_eq(perr("fun f = 1"), "1:7: expected at least one parameter pattern");
  cr_assert_str_eq(perr("val rec f = 1"), "1:13: val rec requires fn on the right-hand side");
  cr_assert_str_eq(perr("val rec f = (fn x => x)"), "1:13: val rec requires fn on the right-hand side");
  cr_assert_str_eq(perr("fun f 0 = 1\n  | g n = 2"),
                   "2:7: clausal function name mismatch: expected 'f', found 'g'");
  cr_assert_str_eq(perr("val x 1"), "1:7: expected =");
  cr_assert_str_eq(perr("val f = fn x x"), "1:14: expected =>");
  cr_assert_str_eq(perr("val x = (1"), "1:11: expected )");
  cr_assert_str_eq(perr("val x = [1, 2"), "1:14: expected ]");
  cr_assert_str_eq(perr("val x = let 5 in 1 end"), "1:13: expected declaration (val, fun, datatype, type, local, use, or effect)");
  cr_assert_str_eq(perr("val x = let val y = 1"), "1:22: expected in");
  cr_assert_str_eq(perr("val x = let in 1"), "1:17: expected end");
  cr_assert_str_eq(perr("local val y = 1 in val z = 2"), "1:29: expected end");
  cr_assert_str_eq(perr("val x = if a b"), "1:15: expected then");
  cr_assert_str_eq(perr("val x = if a then b"), "1:20: expected else");
  cr_assert_str_eq(perr("val x = case a with"), "1:16: expected of");
  cr_assert_str_eq(perr("val x = handle a return"), "1:18: expected with");
  cr_assert_str_eq(perr("val x = handle a with x"), "1:23: expected return");
  cr_assert_str_eq(perr("val x = a < b < c"), "1:15: expected declaration (val, fun, datatype, type, local, use, or effect)");
  cr_assert_str_eq(perr("val x = f (fn x => x) ; 1"), "1:23: expected declaration (val, fun, datatype, type, local, use, or effect)");
  cr_assert_str_eq(perr("val x = # 1"), "1:9: expected expression");
  cr_assert_str_eq(perr("val x = f fn y => y"), "1:11: expected declaration (val, fun, datatype, type, local, use, or effect)");
}

Test(vm_parse, restrictions) {
  cr_assert_str_eq(perr("val (x, 1) = (1, 2)"), "1:9: unsupported pattern in val binding");
  cr_assert_str_eq(perr("val [x] = [1]"), "1:5: unsupported pattern in val binding");
  cr_assert_str_eq(perr("val x as y = 1"), "1:5: unsupported pattern in val binding");
  cr_assert_str_eq(perr("val () = f ()"), "1:5: unsupported pattern in val binding");
  uint32_t n;
  cr_assert_not_null(prog("val ((a, _), b : Int) = x", &n));
  cr_assert_str_eq(perr("val x = let use \"a.hml\" in 1 end"), "1:13: use is only allowed at top level");
  cr_assert_str_eq(perr("local use \"a.hml\" in end"), "1:7: use is only allowed at top level");
  cr_assert_str_eq(perr("fun f 0 = 1\n  | f a b = 2"), "2:7: clauses have different arities");
}

Test(vm_parse, lexical_error_wins_over_syntax_error) {
  /* As if the file were tokenised first. */
  cr_assert_str_eq(perr("val x = )\nval y = \"abc"), "2:9: unterminated string literal");
  cr_assert_str_eq(perr("val x = 1 @"), "1:11: unexpected character: '@'");
}

Test(vm_parse, error_ranges) {
  uint32_t n;
  cr_assert_null(prog("val x = if a then b then c", &n));
  cr_assert_eq(diags.items[0].pos.col, 21);
  cr_assert_eq(diags.items[0].pos.len, 4);
}

Test(vm_parse, expression_spans) {
  hk_expr_t *e = hk_parse_expr_string(&arena, &diags, 0, "f  x (y, z)", 11);
  cr_assert_eq(e->kind, HK_E_APP);
  cr_assert_eq(e->pos.col, 1);
  cr_assert_eq(e->pos.len, 11);
  cr_assert_eq(e->items[1]->pos.col, 6);
  cr_assert_eq(e->items[1]->pos.len, 6);
  e = hk_parse_expr_string(&arena, &diags, 0, "a +\n b", 6);
  cr_assert_eq(e->pos.len, HK_POS_TO_EOL);
  cr_assert_eq(e->op_pos[0].col, 3);
}

/* ---- Nesting limit and long chains (SPEC §2.3) ---- */

static char *repeat3(const char *pre, const char *rep, size_t n, const char *mid,
                     const char *rep2, const char *post) {
  size_t len = strlen(pre) + n * (strlen(rep) + strlen(rep2)) + strlen(mid) + strlen(post) + 1;
  char *s = malloc(len), *p = s;
  p = stpcpy(p, pre);
  for (size_t i = 0; i < n; i++) p = stpcpy(p, rep);
  p = stpcpy(p, mid);
  for (size_t i = 0; i < n; i++) p = stpcpy(p, rep2);
  stpcpy(p, post);
  return s;
}

Test(vm_parse, nesting_limit) {
  uint32_t n;
  /* `val x = e`: the right-hand side is depth 1, each ( adds one. */
  char *ok = repeat3("val x = ", "(", 255, "1", ")", "");
  cr_assert_not_null(prog(ok, &n));
  free(ok);
  char *bad = repeat3("val x = ", "(", 256, "1", ")", "");
  cr_assert_str_eq(perr(bad), "1:265: expression nesting limit exceeded");
  free(bad);
  bad = repeat3("val x = ", "[", 100000, "1", "]", "");
  cr_assert_str_eq(perr(bad), "1:265: expression nesting limit exceeded");
  free(bad);
  bad = repeat3("val x = ", "if a then b else ", 100000, "1", "", "");
  cr_assert_str_eq(strstr(perr(bad), " "), " expression nesting limit exceeded");
  free(bad);
  bad = repeat3("val ", "(", 100000, "x", ")", " = 1");
  cr_assert_str_eq(perr(bad), "1:261: expression nesting limit exceeded");
  free(bad);
  bad = repeat3("type t = ", "(", 100000, "Int", ")", "");
  cr_assert_str_eq(perr(bad), "1:266: expression nesting limit exceeded");
  free(bad);
  bad = repeat3("", "local ", 100000, "", "", "");
  cr_assert_str_eq(strstr(perr(bad), " "), " expression nesting limit exceeded");
  free(bad);
}

static char *chain(const char *pre, const char *item, const char *sep, size_t n,
                   const char *post) {
  size_t len = strlen(pre) + n * (strlen(item) + strlen(sep)) + strlen(post) + 1;
  char *s = malloc(len), *p = s;
  p = stpcpy(p, pre);
  for (size_t i = 0; i < n; i++) {
    if (i) p = stpcpy(p, sep);
    p = stpcpy(p, item);
  }
  stpcpy(p, post);
  return s;
}

static hk_expr_t *rhs(const char *src) {
  uint32_t n;
  hk_dec_t **d = prog(src, &n);
  cr_assert_not_null(d, "%s", diags.n ? diags.items[0].message : "?");
  return d[0]->expr;
}

Test(vm_parse, million_link_chains, .timeout = 120) {
  enum { N = 1000000 };
  char *s = chain("val x = [", "1", ",", N, "]");
  hk_expr_t *e = rhs(s);
  cr_assert_eq(e->kind, HK_E_LIST);
  cr_assert_eq(e->n, N);
  cr_assert_null(e->a);
  free(s);
  s = chain("val x = ", "y", " :: ", N, "");
  e = rhs(s);
  cr_assert_eq(e->kind, HK_E_LIST);
  cr_assert_eq(e->n, N - 1);
  cr_assert_eq(e->a->kind, HK_E_VAR);
  free(s);
  s = chain("val x = ", "y", " + ", N, "");
  e = rhs(s);
  cr_assert_eq(e->kind, HK_E_BINOP);
  cr_assert_eq(e->n, N);
  free(s);
  s = chain("val x = ", "1", " + ", N, "");
  e = rhs(s);
  cr_assert_eq(e->kind, HK_E_INT);
  cr_assert_eq(e->lit.i, N);
  free(s);
  s = chain("val x = ", "\"a\"", " ^ ", N, "");
  e = rhs(s);
  cr_assert_eq(e->kind, HK_E_STRING);
  cr_assert_eq(e->lit.str.len, N);
  free(s);
  s = chain("val x = f ", "y", " ", N, "");
  e = rhs(s);
  cr_assert_eq(e->kind, HK_E_APP);
  cr_assert_eq(e->n, N);
  free(s);
  s = chain("val x = ", "y", " orelse ", N, "");
  cr_assert_eq(rhs(s)->n, N);
  free(s);
  s = chain("val x = ", "~", " ", N, " y");
  e = rhs(s);
  cr_assert_eq(e->kind, HK_E_PREFIX);
  cr_assert_eq(e->n, N);
  free(s);
  s = chain("val x = ", "~", " ", N, " 5");
  cr_assert_eq(rhs(s)->lit.i, 5);
  free(s);
  s = chain("type t = ", "Int", " -> ", N, "");
  uint32_t n;
  hk_dec_t **d = prog(s, &n);
  cr_assert_eq(d[0]->ty->kind, HK_TY_ARROW);
  cr_assert_eq(d[0]->ty->n, N - 1);
  free(s);
  s = chain("val f = fn ", "x", " :: ", N, " => 0");
  e = rhs(s);
  cr_assert_eq(e->arms[0].pat->n, N - 1);
  free(s);
  s = chain("val x = case y of ", "1 => 2", " | ", 100000, "");
  e = rhs(s);
  cr_assert_eq(e->n, 100000);
  free(s);
}

/* The C stack the parser needs is bounded by the nesting limit: at the limit,
** in every kind of nesting, it fits in a 1 MiB thread stack. */
static void *parse_deep(void *arg) {
  const char *src = arg;
  hk_arena_t a;
  hk_diags_list_t d;
  hk_arena_init(&a);
  memset(&d, 0, sizeof d);
  hk_dec_t **decs;
  uint32_t n;
  intptr_t rc = hk_parse_file(&a, &d, 0, src, strlen(src), &decs, &n);
  hk_diags_list_free(&d);
  hk_arena_free(&a);
  return (void *)rc;
}

Test(vm_parse, bounded_stack_at_the_nesting_limit) {
  const char *shapes[][3] = {
    {"val x = ", "(", ")"},
    {"val x = ", "[f (if a then ~(", ") else b)]"},
    {"val x = ", "let val y = case z of _ => fn w => (", ") in y end"},
    {"val ", "(", ")"},
    {"type t = ", "(", ") list"},
  };
  const int levels[] = {1, 4, 4, 1, 1}; /* expr/pat/ty levels per repetition */
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    for (int bad = 0; bad <= 1; bad++) {
      size_t reps = (size_t)((bad ? 300 : 255) / levels[k]);
      char *src = k == 3 ? repeat3("val ", "(", reps, "q", ")", " = 1")
                         : repeat3(shapes[k][0], shapes[k][1], reps, k == 4 ? "Int" : "1",
                                   shapes[k][2], "");
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setstacksize(&attr, 1 << 20);
      pthread_t th;
      cr_assert_eq(pthread_create(&th, &attr, parse_deep, src), 0);
      void *rc;
      pthread_join(th, &rc);
      pthread_attr_destroy(&attr);
      cr_assert_eq((intptr_t)rc, bad ? -1 : 0, "shape %zu, %zu repetitions", k, reps);
      free(src);
    }
  }
}
