/* parse.c — recursive-descent parser with desugaring and folding, see
** parse.h. Grammar: SPEC §2.1; precedence §2.2; limits §2.3.
**
** Every parse function returns the node, or NULL once the parser has failed
** (p->failed; the first error is kept in p->err_*). Chains are collected on
** a scratch stack (p->stk) and copied into the arena when complete, so a
** 10^6-element list costs one arena array and no recursion. */
#include "vm/parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/fold.h"
#include "vm/lex.h"

typedef struct opent {
  hk_op_t op;
  hk_pos_t pos;
} opent_t;

typedef struct parser {
  hk_lexer_t lx;
  hk_token_t tok, next;
  bool has_next;
  uint32_t end_line, end_col; /* just after the last consumed token */
  hk_arena_t *A;
  hk_diags_list_t *diags;
  uint32_t file;
  uint32_t depth;
  bool failed, nomem;
  hk_pos_t err_pos;
  const char *err_msg;
  void **stk;
  size_t nstk, capstk;
  opent_t *ops;
  size_t nops, capops;
  uint32_t fresh;
} parser_t;

/* ---- Tokens ---- */

static void advance(parser_t *p) {
  p->end_line = p->tok.end_line;
  p->end_col = p->tok.end_col;
  if (p->has_next) {
    p->tok = p->next;
    p->has_next = false;
  } else if (hk_lex_next(&p->lx, &p->tok) < 0) {
    p->nomem = true;
  }
}

static hk_tok_kind_t peek2(parser_t *p) {
  if (!p->has_next) {
    if (hk_lex_next(&p->lx, &p->next) < 0) p->nomem = true;
    p->has_next = true;
  }
  return p->next.kind;
}

static inline bool at(const parser_t *p, hk_tok_kind_t k) { return p->tok.kind == k; }

/* ---- Errors ---- */

__attribute__((format(printf, 3, 4)))
static void *fail_at(parser_t *p, hk_pos_t pos, const char *fmt, ...) {
  if (p->failed) return NULL;
  p->failed = true;
  if (p->tok.kind == HK_T_ERROR) {
    /* The lexer failed at the current token: its error wins. */
    p->err_pos = p->tok.pos;
    p->err_msg = p->lx.msg;
    return NULL;
  }
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
  p->err_msg = hk_arena_strdup(p->A, buf, (size_t)n);
  if (!p->err_msg) {
    p->nomem = true;
    p->err_msg = "out of memory";
  }
  p->err_pos = pos;
  return NULL;
}

#define fail(p, ...) fail_at((p), (p)->tok.pos, __VA_ARGS__)

static void *nomem(parser_t *p) {
  p->nomem = true;
  return fail(p, "out of memory");
}

/* Consumes a token of kind [k] or fails with "expected X". */
static bool expect(parser_t *p, hk_tok_kind_t k) {
  if (at(p, k)) {
    advance(p);
    return true;
  }
  fail(p, "expected %s", hk_lex_kind_name(k));
  return false;
}

/* ---- Nesting ---- */

static bool enter(parser_t *p) {
  if (p->depth >= HK_PARSE_MAX_DEPTH) {
    fail(p, "expression nesting limit exceeded");
    return false;
  }
  p->depth++;
  return true;
}
static void leave(parser_t *p) { p->depth--; }

/* ---- Positions ---- */

/* The range from [start] to the end of the last consumed token. A range
** that continues on a later line runs to the end of [start]'s line. */
static hk_pos_t span_from(const parser_t *p, hk_pos_t start) {
  hk_pos_t r = start;
  if (p->end_line == start.line) {
    r.len = p->end_col > start.col ? p->end_col - start.col : 1;
  } else if (p->end_line > start.line) {
    r.len = HK_POS_TO_EOL;
  }
  return r;
}

/* ---- Scratch stacks ---- */

static bool push(parser_t *p, void *x) {
  if (p->nstk == p->capstk) {
    size_t cap = p->capstk ? p->capstk * 2 : 256;
    void **s = realloc(p->stk, cap * sizeof *s);
    if (!s) {
      nomem(p);
      return false;
    }
    p->stk = s;
    p->capstk = cap;
  }
  p->stk[p->nstk++] = x;
  return true;
}

/* Moves stk[base..] into a new arena array; the stack shrinks to [base]. */
static void **take(parser_t *p, size_t base, uint32_t *n) {
  size_t k = p->nstk - base;
  /* Written on every path: callers store the count before testing the
  ** result (an out-of-memory failure reads 0, not an uninitialised word). */
  *n = 0;
  void **a = hk_arena_alloc(p->A, (k ? k : 1) * sizeof *a);
  if (!a) return nomem(p);
  if (k) memcpy(a, p->stk + base, k * sizeof *a);
  p->nstk = base;
  *n = (uint32_t)k;
  return a;
}

static bool push_op(parser_t *p, hk_op_t op, hk_pos_t pos) {
  if (p->nops == p->capops) {
    size_t cap = p->capops ? p->capops * 2 : 64;
    opent_t *s = realloc(p->ops, cap * sizeof *s);
    if (!s) {
      nomem(p);
      return false;
    }
    p->ops = s;
    p->capops = cap;
  }
  p->ops[p->nops++] = (opent_t){ op, pos };
  return true;
}

/* Moves ops[base..] into two arena arrays. */
static bool take_ops(parser_t *p, size_t base, hk_op_t **ops, hk_pos_t **pos) {
  size_t k = p->nops - base;
  *ops = hk_arena_alloc(p->A, (k ? k : 1) * sizeof **ops);
  *pos = hk_arena_alloc(p->A, (k ? k : 1) * sizeof **pos);
  if (!*ops || !*pos) {
    nomem(p);
    return false;
  }
  for (size_t i = 0; i < k; i++) {
    (*ops)[i] = p->ops[base + i].op;
    (*pos)[i] = p->ops[base + i].pos;
  }
  p->nops = base;
  return true;
}

/* ---- Node constructors ---- */

static hk_expr_t *new_expr(parser_t *p, hk_expr_kind_t k, hk_pos_t pos) {
  hk_expr_t *e = hk_arena_alloc(p->A, sizeof *e);
  if (!e) return nomem(p);
  e->kind = k;
  e->pos = pos;
  return e;
}

static hk_pat_t *new_pat(parser_t *p, hk_pat_kind_t k, hk_pos_t pos) {
  hk_pat_t *x = hk_arena_alloc(p->A, sizeof *x);
  if (!x) return nomem(p);
  x->kind = k;
  x->pos = pos;
  return x;
}

static hk_ty_t *new_ty(parser_t *p, hk_ty_kind_t k, hk_pos_t pos) {
  hk_ty_t *t = hk_arena_alloc(p->A, sizeof *t);
  if (!t) return nomem(p);
  t->kind = k;
  t->pos = pos;
  return t;
}

static hk_dec_t *new_dec(parser_t *p, hk_dec_kind_t k, hk_pos_t pos) {
  hk_dec_t *d = hk_arena_alloc(p->A, sizeof *d);
  if (!d) return nomem(p);
  d->kind = k;
  d->pos = pos;
  return d;
}

/* The name of the current IDENT/UIDENT/TYVAR token. */
static const char *tok_name(const parser_t *p) { return p->tok.str.s; }

static hk_expr_t *parse_expr(parser_t *p);
static hk_pat_t *parse_pat(parser_t *p);
static hk_ty_t *parse_ty(parser_t *p);
static hk_dec_t *parse_dec(parser_t *p, bool top);
static hk_expr_t *parse_atom(parser_t *p);

/* ---- Types ---- */

/* atty; *is_list is set for a parenthesised list `(t1, ..., tn)`, which is
** returned as a TUPLE node (a type application's arguments, or else the
** tuple type of SPEC §2.1 note 6). */
static hk_ty_t *parse_atty(parser_t *p, bool *is_list) {
  hk_pos_t start = p->tok.pos;
  *is_list = false;
  switch (p->tok.kind) {
  case HK_T_TYVAR: {
    hk_ty_t *t = new_ty(p, HK_TY_VAR, start);
    if (t) t->name = tok_name(p);
    advance(p);
    return t;
  }
  case HK_T_IDENT:
  case HK_T_UIDENT: {
    hk_ty_t *t = new_ty(p, HK_TY_CON, start);
    if (t) t->name = tok_name(p);
    advance(p);
    return t;
  }
  case HK_T_LPAREN: {
    advance(p);
    hk_ty_t *first = parse_ty(p);
    if (!first) return NULL;
    if (!at(p, HK_T_COMMA)) {
      if (!expect(p, HK_T_RPAREN)) return NULL;
      return first;
    }
    size_t base = p->nstk;
    if (!push(p, first)) return NULL;
    while (at(p, HK_T_COMMA)) {
      advance(p);
      hk_ty_t *t = parse_ty(p);
      if (!t || !push(p, t)) return NULL;
    }
    if (!expect(p, HK_T_RPAREN)) return NULL;
    hk_ty_t *t = new_ty(p, HK_TY_TUPLE, span_from(p, start));
    if (!t) return NULL;
    t->items = (hk_ty_t **)take(p, base, &t->n);
    *is_list = true;
    return t->items ? t : NULL;
  }
  default:
    return fail(p, "expected type");
  }
}

static hk_ty_t *parse_appty(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  bool is_list;
  hk_ty_t *t = parse_atty(p, &is_list);
  while (t && (at(p, HK_T_IDENT) || at(p, HK_T_UIDENT))) {
    hk_ty_t *app = new_ty(p, HK_TY_CON, start);
    if (!app) return NULL;
    app->name = tok_name(p);
    advance(p);
    app->pos = span_from(p, start);
    if (is_list) {
      app->items = t->items;
      app->n = t->n;
    } else {
      app->items = hk_arena_alloc(p->A, sizeof *app->items);
      if (!app->items) return nomem(p);
      app->items[0] = t;
      app->n = 1;
    }
    is_list = false;
    t = app;
  }
  return t;
}

static hk_ty_t *parse_tuplety(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  hk_ty_t *first = parse_appty(p);
  if (!first || !at(p, HK_T_STAR)) return first;
  size_t base = p->nstk;
  if (!push(p, first)) return NULL;
  while (at(p, HK_T_STAR)) {
    advance(p);
    hk_ty_t *t = parse_appty(p);
    if (!t || !push(p, t)) return NULL;
  }
  hk_ty_t *t = new_ty(p, HK_TY_TUPLE, span_from(p, start));
  if (!t) return NULL;
  t->items = (hk_ty_t **)take(p, base, &t->n);
  return t->items ? t : NULL;
}

static hk_ty_t *parse_ty(parser_t *p) {
  if (!enter(p)) return NULL;
  hk_pos_t start = p->tok.pos;
  hk_ty_t *first = parse_tuplety(p);
  if (first && at(p, HK_T_ARROW)) {
    size_t base = p->nstk;
    if (!push(p, first)) return NULL;
    while (at(p, HK_T_ARROW)) {
      advance(p);
      hk_ty_t *t = parse_tuplety(p);
      if (!t || !push(p, t)) return NULL;
    }
    hk_ty_t *t = new_ty(p, HK_TY_ARROW, span_from(p, start));
    if (!t) return NULL;
    t->result = p->stk[--p->nstk];
    t->items = (hk_ty_t **)take(p, base, &t->n);
    first = t->items ? t : NULL;
  }
  leave(p);
  return first;
}

/* ---- Patterns ---- */

static bool starts_atpat(hk_tok_kind_t k) {
  switch (k) {
  case HK_T_WILD: case HK_T_IDENT: case HK_T_UIDENT: case HK_T_INT:
  case HK_T_FLOAT: case HK_T_STRING: case HK_T_CHAR: case HK_T_TRUE:
  case HK_T_FALSE: case HK_T_TILDE: case HK_T_LPAREN: case HK_T_LBRACKET:
    return true;
  default:
    return false;
  }
}

static hk_pat_t *parse_atpat(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  hk_pat_t *x;
  switch (p->tok.kind) {
  case HK_T_WILD: x = new_pat(p, HK_P_WILD, start); break;
  case HK_T_IDENT:
    if ((x = new_pat(p, HK_P_VAR, start))) x->name = tok_name(p);
    break;
  case HK_T_UIDENT:
    if ((x = new_pat(p, HK_P_CON, start))) x->name = tok_name(p);
    break;
  case HK_T_INT:
    if ((x = new_pat(p, HK_P_INT, start))) x->lit.i = p->tok.v.i;
    break;
  case HK_T_FLOAT:
    if ((x = new_pat(p, HK_P_FLOAT, start))) x->lit.f = p->tok.v.f;
    break;
  case HK_T_STRING:
    if ((x = new_pat(p, HK_P_STRING, start))) x->lit.str = p->tok.str;
    break;
  case HK_T_CHAR:
    if ((x = new_pat(p, HK_P_CHAR, start))) x->lit.ch = p->tok.v.ch;
    break;
  case HK_T_TRUE:
  case HK_T_FALSE:
    if ((x = new_pat(p, HK_P_BOOL, start))) x->lit.b = at(p, HK_T_TRUE);
    break;
  case HK_T_TILDE:
    advance(p);
    if (at(p, HK_T_INT)) {
      if ((x = new_pat(p, HK_P_INT, start))) x->lit.i = -p->tok.v.i;
    } else if (at(p, HK_T_FLOAT)) {
      if ((x = new_pat(p, HK_P_FLOAT, start))) x->lit.f = -p->tok.v.f;
    } else {
      return fail(p, "expected number after ~ in pattern");
    }
    break;
  case HK_T_LPAREN: {
    advance(p);
    if (at(p, HK_T_RPAREN)) {
      advance(p);
      return new_pat(p, HK_P_UNIT, span_from(p, start));
    }
    hk_pat_t *first = parse_pat(p);
    if (!first) return NULL;
    if (!at(p, HK_T_COMMA)) return expect(p, HK_T_RPAREN) ? first : NULL;
    size_t base = p->nstk;
    if (!push(p, first)) return NULL;
    while (at(p, HK_T_COMMA)) {
      advance(p);
      hk_pat_t *q = parse_pat(p);
      if (!q || !push(p, q)) return NULL;
    }
    if (!expect(p, HK_T_RPAREN)) return NULL;
    if (!(x = new_pat(p, HK_P_TUPLE, span_from(p, start)))) return NULL;
    x->items = (hk_pat_t **)take(p, base, &x->n);
    return x->items ? x : NULL;
  }
  case HK_T_LBRACKET: {
    advance(p);
    size_t base = p->nstk;
    if (!at(p, HK_T_RBRACKET)) {
      for (;;) {
        hk_pat_t *q = parse_pat(p);
        if (!q || !push(p, q)) return NULL;
        if (!at(p, HK_T_COMMA)) break;
        advance(p);
      }
    }
    if (!expect(p, HK_T_RBRACKET)) return NULL;
    if (!(x = new_pat(p, HK_P_LIST, span_from(p, start)))) return NULL;
    x->items = (hk_pat_t **)take(p, base, &x->n);
    return x->items ? x : NULL;
  }
  default:
    return fail(p, "expected pattern");
  }
  if (!x) return NULL;
  advance(p);
  x->pos = span_from(p, start);
  return x;
}

static hk_pat_t *parse_apppat(parser_t *p) {
  if (!at(p, HK_T_UIDENT)) return parse_atpat(p);
  hk_pos_t start = p->tok.pos;
  hk_pat_t *x = new_pat(p, HK_P_CON, start);
  if (!x) return NULL;
  x->name = tok_name(p);
  advance(p);
  if (starts_atpat(p->tok.kind)) {
    if (!(x->arg = parse_atpat(p))) return NULL;
    x->pos = span_from(p, start);
  }
  return x;
}

static hk_pat_t *parse_conspat(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  hk_pat_t *first = parse_apppat(p);
  if (!first || !at(p, HK_T_CONS)) return first;
  size_t base = p->nstk;
  if (!push(p, first)) return NULL;
  while (at(p, HK_T_CONS)) {
    advance(p);
    hk_pat_t *q = parse_apppat(p);
    if (!q || !push(p, q)) return NULL;
  }
  hk_pat_t *tail = p->stk[--p->nstk];
  hk_pat_t *x = new_pat(p, HK_P_LIST, span_from(p, start));
  if (!x) return NULL;
  if (tail->kind == HK_P_LIST) {
    /* p1 :: [q1, q2] is [p1, q1, q2]; p1 :: (q :: t) flattens likewise. */
    for (uint32_t i = 0; i < tail->n; i++)
      if (!push(p, tail->items[i])) return NULL;
    x->tail = tail->tail;
  } else {
    x->tail = tail;
  }
  x->items = (hk_pat_t **)take(p, base, &x->n);
  return x->items ? x : NULL;
}

static hk_pat_t *parse_aspat(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  size_t base = p->nstk;
  while (at(p, HK_T_IDENT) && peek2(p) == HK_T_AS) {
    if (!push(p, (void *)tok_name(p))) return NULL;
    advance(p);
    advance(p);
  }
  hk_pat_t *inner = parse_conspat(p);
  if (!inner || p->nstk == base) return inner;
  hk_pat_t *x = new_pat(p, HK_P_AS, span_from(p, start));
  if (!x) return NULL;
  x->arg = inner;
  uint32_t n;
  x->names = (const char **)take(p, base, &n);
  x->n = n;
  return x->names ? x : NULL;
}

static hk_pat_t *parse_pat(parser_t *p) {
  if (!enter(p)) return NULL;
  hk_pos_t start = p->tok.pos;
  hk_pat_t *x = parse_aspat(p);
  if (x && at(p, HK_T_COLON)) {
    advance(p);
    hk_ty_t *t = parse_ty(p);
    if (!t) return NULL;
    hk_pat_t *a = new_pat(p, HK_P_ANNOT, span_from(p, start));
    if (!a) return NULL;
    a->arg = x;
    a->ty = t;
    x = a;
  }
  leave(p);
  return x;
}

/* ---- Expressions ---- */

static hk_expr_t *lit_expr(parser_t *p) {
  hk_pos_t pos = p->tok.pos;
  hk_expr_t *e = NULL;
  switch (p->tok.kind) {
  case HK_T_INT:
    if ((e = new_expr(p, HK_E_INT, pos))) e->lit.i = p->tok.v.i;
    break;
  case HK_T_FLOAT:
    if ((e = new_expr(p, HK_E_FLOAT, pos))) e->lit.f = p->tok.v.f;
    break;
  case HK_T_STRING:
    if ((e = new_expr(p, HK_E_STRING, pos))) e->lit.str = p->tok.str;
    break;
  case HK_T_CHAR:
    if ((e = new_expr(p, HK_E_CHAR, pos))) e->lit.ch = p->tok.v.ch;
    break;
  case HK_T_TRUE:
  case HK_T_FALSE:
    if ((e = new_expr(p, HK_E_BOOL, pos))) e->lit.b = at(p, HK_T_TRUE);
    break;
  case HK_T_IDENT:
    if ((e = new_expr(p, HK_E_VAR, pos))) e->name = tok_name(p);
    break;
  case HK_T_UIDENT:
    if ((e = new_expr(p, HK_E_CON, pos))) e->name = tok_name(p);
    break;
  default:
    break;
  }
  if (e) advance(p);
  return e;
}

static hk_expr_t *parse_paren(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  advance(p);
  if (at(p, HK_T_RPAREN)) {
    advance(p);
    return new_expr(p, HK_E_UNIT, span_from(p, start));
  }
  hk_expr_t *first = parse_expr(p);
  if (!first) return NULL;
  if (!at(p, HK_T_COMMA)) return expect(p, HK_T_RPAREN) ? first : NULL;
  size_t base = p->nstk;
  if (!push(p, first)) return NULL;
  while (at(p, HK_T_COMMA)) {
    advance(p);
    hk_expr_t *e = parse_expr(p);
    if (!e || !push(p, e)) return NULL;
  }
  if (!expect(p, HK_T_RPAREN)) return NULL;
  hk_expr_t *t = new_expr(p, HK_E_TUPLE, span_from(p, start));
  if (!t) return NULL;
  t->items = (hk_expr_t **)take(p, base, &t->n);
  return t->items ? t : NULL;
}

static hk_expr_t *parse_list(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  advance(p);
  size_t base = p->nstk;
  if (!at(p, HK_T_RBRACKET)) {
    for (;;) {
      hk_expr_t *e = parse_expr(p);
      if (!e || !push(p, e)) return NULL;
      if (!at(p, HK_T_COMMA)) break;
      advance(p);
    }
  }
  if (!expect(p, HK_T_RBRACKET)) return NULL;
  hk_expr_t *l = new_expr(p, HK_E_LIST, span_from(p, start));
  if (!l) return NULL;
  l->items = (hk_expr_t **)take(p, base, &l->n);
  return l->items ? l : NULL;
}

static hk_expr_t *parse_if(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  advance(p);
  hk_expr_t *c = parse_expr(p);
  if (!c || !expect(p, HK_T_THEN)) return NULL;
  hk_expr_t *a = parse_expr(p);
  if (!a || !expect(p, HK_T_ELSE)) return NULL;
  hk_expr_t *b = parse_expr(p);
  if (!b) return NULL;
  if (c->kind == HK_E_BOOL) return c->lit.b ? a : b; /* SPEC §2.6.7 */
  hk_expr_t *e = new_expr(p, HK_E_IF, span_from(p, start));
  if (!e) return NULL;
  e->a = c;
  e->b = a;
  e->c = b;
  return e;
}

/* Parses declarations until [stop] (or end of input) into an arena array. */
static hk_dec_t **parse_decs_until(parser_t *p, hk_tok_kind_t stop, uint32_t *n) {
  size_t base = p->nstk;
  while (!at(p, stop) && !at(p, HK_T_EOF)) {
    hk_dec_t *d = parse_dec(p, false);
    if (!d || !push(p, d)) return NULL;
  }
  return (hk_dec_t **)take(p, base, n);
}

static hk_expr_t *parse_let(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  advance(p);
  uint32_t n;
  hk_dec_t **decs = parse_decs_until(p, HK_T_IN, &n);
  if (!decs || !expect(p, HK_T_IN)) return NULL;
  hk_expr_t *body = parse_expr(p);
  if (!body || !expect(p, HK_T_END)) return NULL;
  hk_expr_t *e = new_expr(p, HK_E_LET, span_from(p, start));
  if (!e) return NULL;
  e->decs = decs;
  e->ndecs = n;
  e->a = body;
  return e;
}

static hk_expr_t *parse_case(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  advance(p);
  hk_expr_t *scrut = parse_expr(p);
  if (!scrut || !expect(p, HK_T_OF)) return NULL;
  if (at(p, HK_T_BAR)) advance(p);
  size_t base = p->nstk;
  for (;;) {
    hk_pat_t *pat = parse_pat(p);
    if (!pat || !expect(p, HK_T_DARROW)) return NULL;
    hk_expr_t *body = parse_expr(p);
    if (!body || !push(p, pat) || !push(p, body)) return NULL;
    if (!at(p, HK_T_BAR)) break;
    advance(p);
  }
  hk_expr_t *e = new_expr(p, HK_E_CASE, span_from(p, start));
  if (!e) return NULL;
  size_t k = (p->nstk - base) / 2;
  e->arms = hk_arena_alloc(p->A, k * sizeof *e->arms);
  if (!e->arms) return nomem(p);
  for (size_t i = 0; i < k; i++) {
    e->arms[i].pat = p->stk[base + 2 * i];
    e->arms[i].body = p->stk[base + 2 * i + 1];
  }
  p->nstk = base;
  e->n = (uint32_t)k;
  e->a = scrut;
  e->origin = HK_ORIGIN_CASE;
  return e;
}

static hk_expr_t *parse_fn(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  advance(p);
  hk_pat_t *pat = parse_pat(p);
  if (!pat || !expect(p, HK_T_DARROW)) return NULL;
  hk_expr_t *body = parse_expr(p);
  if (!body) return NULL;
  hk_expr_t *e = new_expr(p, HK_E_FN, span_from(p, start));
  if (!e) return NULL;
  e->arms = hk_arena_alloc(p->A, sizeof *e->arms);
  if (!e->arms) return nomem(p);
  e->arms[0].pat = pat;
  e->arms[0].body = body;
  e->n = 1;
  return e;
}

/* binder ::= IDENT | "_" ; *name NULL for `_`. */
static bool parse_binder(parser_t *p, const char **name, hk_pos_t *pos) {
  *pos = p->tok.pos;
  if (at(p, HK_T_IDENT)) *name = tok_name(p);
  else if (at(p, HK_T_WILD)) *name = NULL;
  else return fail(p, "expected identifier or _"), false;
  advance(p);
  return true;
}

static hk_expr_t *parse_handle(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  advance(p);
  hk_expr_t *body = parse_expr(p);
  if (!body || !expect(p, HK_T_WITH)) return NULL;
  hk_handler_t ret;
  memset(&ret, 0, sizeof ret);
  ret.pos = p->tok.pos;
  if (!expect(p, HK_T_RETURN)) return NULL;
  if (!parse_binder(p, &ret.payload, &ret.payload_pos)) return NULL;
  if (!expect(p, HK_T_DARROW)) return NULL;
  if (!(ret.body = parse_expr(p))) return NULL;
  hk_handler_t *hs = NULL;
  size_t n = 0, cap = 0;
  while (at(p, HK_T_BAR)) {
    advance(p);
    if (n == cap) {
      cap = cap ? cap * 2 : 4;
      hk_handler_t *g = realloc(hs, cap * sizeof *g);
      if (!g) { free(hs); return nomem(p); }
      hs = g;
    }
    hk_handler_t *h = &hs[n];
    memset(h, 0, sizeof *h);
    h->pos = p->tok.pos;
    if (!at(p, HK_T_UIDENT)) { free(hs); return fail(p, "expected constructor name"); }
    h->effect_name = tok_name(p);
    advance(p);
    if (!parse_binder(p, &h->payload, &h->payload_pos) ||
        !parse_binder(p, &h->k, &h->k_pos) || !expect(p, HK_T_DARROW) ||
        !(h->body = parse_expr(p))) {
      free(hs);
      return NULL;
    }
    n++;
  }
  hk_expr_t *e = new_expr(p, HK_E_HANDLE, span_from(p, start));
  hk_handler_t *all = e ? hk_arena_alloc(p->A, (n + 1) * sizeof *hs) : NULL; /* clauses, return */
  if (e && !all) e = nomem(p);
  if (all) {
    if (n) memcpy(all, hs, n * sizeof *hs);
    all[n] = ret;
  }
  free(hs);
  if (!e) return NULL;
  e->a = body;
  e->handlers = all;
  e->ret = &all[n];
  e->n = (uint32_t)n;
  return e;
}

static hk_expr_t *parse_perform(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  advance(p);
  if (!at(p, HK_T_UIDENT)) return fail(p, "expected constructor name");
  const char *name = tok_name(p);
  advance(p);
  hk_expr_t *arg = parse_atom(p);
  if (!arg) return NULL;
  hk_expr_t *e = new_expr(p, HK_E_PERFORM, span_from(p, start));
  if (!e) return NULL;
  e->name = name;
  e->a = arg;
  return e;
}

static hk_expr_t *parse_resume(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  advance(p);
  hk_expr_t *k = parse_atom(p);
  if (!k) return NULL;
  hk_expr_t *v = parse_atom(p);
  if (!v) return NULL;
  hk_expr_t *e = new_expr(p, HK_E_RESUME, span_from(p, start));
  if (!e) return NULL;
  e->items = hk_arena_alloc(p->A, 2 * sizeof *e->items);
  if (!e->items) return nomem(p);
  e->items[0] = k;
  e->items[1] = v;
  e->n = 2;
  return e;
}

/* atom ::= simple | kwexpr */
static hk_expr_t *parse_atom(parser_t *p) {
  switch (p->tok.kind) {
  case HK_T_INT: case HK_T_FLOAT: case HK_T_STRING: case HK_T_CHAR:
  case HK_T_TRUE: case HK_T_FALSE: case HK_T_IDENT: case HK_T_UIDENT:
    return lit_expr(p);
  case HK_T_LPAREN: return parse_paren(p);
  case HK_T_LBRACKET: return parse_list(p);
  case HK_T_IF: return parse_if(p);
  case HK_T_LET: return parse_let(p);
  case HK_T_CASE: return parse_case(p);
  case HK_T_FN: return parse_fn(p);
  case HK_T_HANDLE: return parse_handle(p);
  case HK_T_PERFORM: return parse_perform(p);
  case HK_T_RESUME: return parse_resume(p);
  default: return fail(p, "expected expression");
  }
}

static bool starts_apparg(hk_tok_kind_t k) {
  switch (k) {
  case HK_T_INT: case HK_T_FLOAT: case HK_T_STRING: case HK_T_CHAR:
  case HK_T_TRUE: case HK_T_FALSE: case HK_T_IDENT: case HK_T_UIDENT:
  case HK_T_LPAREN: case HK_T_LBRACKET: case HK_T_TILDE: case HK_T_NOT:
    return true;
  default:
    return false;
  }
}

/* Builds a PREFIX node of ops[base..] over [operand], folding (§2.6.6). */
static hk_expr_t *make_prefix(parser_t *p, size_t base, hk_expr_t *operand, hk_pos_t start) {
  hk_pos_t whole = span_from(p, start);
  /* Fold from the innermost operator outwards while the operand is a literal. */
  while (p->nops > base) {
    hk_expr_t *f = hk_fold_prefix(p->A, p->ops[p->nops - 1].op, operand,
                                  p->nops - 1 == base ? whole : operand->pos);
    if (!f) break;
    operand = f;
    p->nops--;
  }
  if (p->nops == base) return operand;
  hk_expr_t *e = new_expr(p, HK_E_PREFIX, whole);
  if (!e) return NULL;
  e->n = (uint32_t)(p->nops - base);
  if (!take_ops(p, base, &e->ops, &e->op_pos)) return NULL;
  e->a = operand;
  return e;
}

static hk_expr_t *parse_apparg(parser_t *p) {
  if (!at(p, HK_T_TILDE) && !at(p, HK_T_NOT)) return parse_atom(p);
  hk_pos_t start = p->tok.pos;
  size_t base = p->nops;
  if (!push_op(p, at(p, HK_T_TILDE) ? HK_OP_NEG : HK_OP_NOT, p->tok.pos)) return NULL;
  advance(p);
  hk_expr_t *operand = parse_atom(p);
  if (!operand) return NULL;
  return make_prefix(p, base, operand, start);
}

static hk_expr_t *parse_appexpr(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  hk_expr_t *head = parse_atom(p);
  if (!head || !starts_apparg(p->tok.kind)) return head;
  size_t base = p->nstk;
  while (starts_apparg(p->tok.kind)) {
    hk_expr_t *a = parse_apparg(p);
    if (!a || !push(p, a)) return NULL;
  }
  hk_expr_t *e = new_expr(p, HK_E_APP, span_from(p, start));
  if (!e) return NULL;
  e->a = head;
  e->items = (hk_expr_t **)take(p, base, &e->n);
  return e->items ? e : NULL;
}

static hk_expr_t *parse_unexpr(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  size_t base = p->nops;
  while (at(p, HK_T_TILDE) || at(p, HK_T_NOT)) {
    if (!push_op(p, at(p, HK_T_TILDE) ? HK_OP_NEG : HK_OP_NOT, p->tok.pos)) return NULL;
    advance(p);
  }
  hk_expr_t *operand = parse_appexpr(p);
  if (!operand) return NULL;
  return make_prefix(p, base, operand, start);
}

static bool binop_of(hk_tok_kind_t k, int level, hk_op_t *op) {
  if (level == 5) {
    switch (k) {
    case HK_T_PLUS: *op = HK_OP_ADD; return true;
    case HK_T_MINUS: *op = HK_OP_SUB; return true;
    case HK_T_FPLUS: *op = HK_OP_FADD; return true;
    case HK_T_FMINUS: *op = HK_OP_FSUB; return true;
    case HK_T_CARET: *op = HK_OP_CONCAT; return true;
    default: return false;
    }
  }
  if (level == 6) {
    switch (k) {
    case HK_T_STAR: *op = HK_OP_MUL; return true;
    case HK_T_SLASH: *op = HK_OP_DIV; return true;
    case HK_T_MOD: *op = HK_OP_MOD; return true;
    case HK_T_FSTAR: *op = HK_OP_FMUL; return true;
    case HK_T_FSLASH: *op = HK_OP_FDIV; return true;
    default: return false;
    }
  }
  switch (k) { /* level 3 */
  case HK_T_EQ: *op = HK_OP_EQ; return true;
  case HK_T_NE: *op = HK_OP_NE; return true;
  case HK_T_LT: *op = HK_OP_LT; return true;
  case HK_T_GT: *op = HK_OP_GT; return true;
  case HK_T_LE: *op = HK_OP_LE; return true;
  case HK_T_GE: *op = HK_OP_GE; return true;
  case HK_T_FLT: *op = HK_OP_FLT; return true;
  case HK_T_FGT: *op = HK_OP_FGT; return true;
  case HK_T_FLE: *op = HK_OP_FLE; return true;
  case HK_T_FGE: *op = HK_OP_FGE; return true;
  default: return false;
  }
}

/* A left-associative chain of level 5 (additive) or 6 (multiplicative). */
static hk_expr_t *parse_chain(parser_t *p, int level) {
  hk_pos_t start = p->tok.pos;
  hk_expr_t *first = level == 5 ? parse_chain(p, 6) : parse_unexpr(p);
  hk_op_t op;
  if (!first || !binop_of(p->tok.kind, level, &op)) return first;
  size_t base = p->nstk, obase = p->nops;
  if (!push(p, first)) return NULL;
  while (binop_of(p->tok.kind, level, &op)) {
    if (!push_op(p, op, p->tok.pos)) return NULL;
    advance(p);
    hk_expr_t *e = level == 5 ? parse_chain(p, 6) : parse_unexpr(p);
    if (!e || !push(p, e)) return NULL;
  }
  hk_expr_t *e = new_expr(p, HK_E_BINOP, span_from(p, start));
  if (!e) return NULL;
  e->items = (hk_expr_t **)take(p, base, &e->n);
  if (!e->items || !take_ops(p, obase, &e->ops, &e->op_pos)) return NULL;
  hk_expr_t *f = hk_fold_binop(p->A, e);
  return f ? f : nomem(p);
}

static hk_expr_t *parse_consexpr(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  hk_expr_t *first = parse_chain(p, 5);
  if (!first || !at(p, HK_T_CONS)) return first;
  size_t base = p->nstk;
  if (!push(p, first)) return NULL;
  while (at(p, HK_T_CONS)) {
    advance(p);
    hk_expr_t *e = parse_chain(p, 5);
    if (!e || !push(p, e)) return NULL;
  }
  hk_expr_t *tail = p->stk[--p->nstk];
  hk_expr_t *l = new_expr(p, HK_E_LIST, span_from(p, start));
  if (!l) return NULL;
  l->cons = true;
  /* A parenthesised chain as the last operand, `a :: (b :: t)`, is the same
  ** chain; a list literal there stays the tail, typed as a literal. */
  if (tail->kind == HK_E_LIST && tail->cons) {
    for (uint32_t i = 0; i < tail->n; i++)
      if (!push(p, tail->items[i])) return NULL;
    l->a = tail->a;
  } else {
    l->a = tail;
  }
  l->items = (hk_expr_t **)take(p, base, &l->n);
  return l->items ? l : NULL;
}

static hk_expr_t *parse_cmpexpr(parser_t *p) {
  hk_pos_t start = p->tok.pos;
  hk_expr_t *l = parse_consexpr(p);
  hk_op_t op;
  if (!l || !binop_of(p->tok.kind, 3, &op)) return l;
  hk_pos_t op_pos = p->tok.pos;
  advance(p);
  hk_expr_t *r = parse_consexpr(p);
  if (!r) return NULL;
  hk_expr_t *e = new_expr(p, HK_E_BINOP, span_from(p, start));
  if (!e) return NULL;
  e->items = hk_arena_alloc(p->A, 2 * sizeof *e->items);
  e->ops = hk_arena_alloc(p->A, sizeof *e->ops);
  e->op_pos = hk_arena_alloc(p->A, sizeof *e->op_pos);
  if (!e->items || !e->ops || !e->op_pos) return nomem(p);
  e->items[0] = l;
  e->items[1] = r;
  e->n = 2;
  e->ops[0] = op;
  e->op_pos[0] = op_pos;
  hk_expr_t *f = hk_fold_binop(p->A, e);
  return f ? f : nomem(p);
}

/* andexpr / orexpr: right-associative chains of andalso / orelse. */
static hk_expr_t *parse_logic(parser_t *p, bool is_or) {
  hk_pos_t start = p->tok.pos;
  hk_tok_kind_t kw = is_or ? HK_T_ORELSE : HK_T_ANDALSO;
  hk_expr_t *first = is_or ? parse_logic(p, false) : parse_cmpexpr(p);
  if (!first || !at(p, kw)) return first;
  size_t base = p->nstk;
  if (!push(p, first)) return NULL;
  while (at(p, kw)) {
    advance(p);
    hk_expr_t *e = is_or ? parse_logic(p, false) : parse_cmpexpr(p);
    if (!e || !push(p, e)) return NULL;
  }
  hk_expr_t *e = new_expr(p, is_or ? HK_E_ORELSE : HK_E_ANDALSO, span_from(p, start));
  if (!e) return NULL;
  e->items = (hk_expr_t **)take(p, base, &e->n);
  if (!e->items) return NULL;
  return hk_fold_logic(e);
}

static hk_expr_t *parse_expr(parser_t *p) {
  if (!enter(p)) return NULL;
  hk_pos_t start = p->tok.pos;
  hk_expr_t *e = parse_logic(p, true);
  if (e && at(p, HK_T_COLON)) {
    advance(p);
    hk_ty_t *t = parse_ty(p);
    if (!t) return NULL;
    hk_expr_t *a = new_expr(p, HK_E_ANNOT, span_from(p, start));
    if (!a) return NULL;
    a->a = e;
    a->ty = t;
    e = a;
  }
  leave(p);
  return e;
}

/* ---- Declarations ---- */

/* SPEC §2.5.1: only variables, _, tuples and annotations. Returns the first
** offending sub-pattern, or NULL. Depth is bounded by the nesting limit. */
static const hk_pat_t *bad_val_pat(const hk_pat_t *x) {
  switch (x->kind) {
  case HK_P_WILD: case HK_P_VAR: return NULL;
  case HK_P_ANNOT: return bad_val_pat(x->arg);
  case HK_P_TUPLE:
    for (uint32_t i = 0; i < x->n; i++) {
      const hk_pat_t *b = bad_val_pat(x->items[i]);
      if (b) return b;
    }
    return NULL;
  default: return x;
  }
}

static bool parse_tyvarseq(parser_t *p, hk_dec_t *d) {
  size_t base = p->nstk;
  if (at(p, HK_T_TYVAR)) {
    if (!push(p, (void *)tok_name(p))) return false;
    advance(p);
  } else if (at(p, HK_T_LPAREN)) {
    advance(p);
    for (;;) {
      if (!at(p, HK_T_TYVAR)) return fail(p, "expected type variable"), false;
      if (!push(p, (void *)tok_name(p))) return false;
      advance(p);
      if (!at(p, HK_T_COMMA)) break;
      advance(p);
    }
    if (!expect(p, HK_T_RPAREN)) return false;
  }
  d->tyvars = (const char **)take(p, base, &d->ntyvars);
  return d->tyvars != NULL;
}

static bool parse_tyname(parser_t *p, hk_dec_t *d) {
  if (!at(p, HK_T_IDENT) && !at(p, HK_T_UIDENT)) return fail(p, "expected name"), false;
  d->name = tok_name(p);
  d->name_pos = p->tok.pos;
  advance(p);
  return true;
}

static hk_dec_t *parse_val(parser_t *p, hk_pos_t kw) {
  advance(p);
  if (at(p, HK_T_REC)) {
    advance(p);
    hk_dec_t *d = new_dec(p, HK_D_VALREC, kw);
    if (!d) return NULL;
    if (!at(p, HK_T_IDENT)) return fail(p, "expected identifier");
    d->name = tok_name(p);
    d->name_pos = p->tok.pos;
    advance(p);
    if (!expect(p, HK_T_EQ)) return NULL;
    if (!at(p, HK_T_FN)) return fail(p, "val rec requires fn on the right-hand side");
    if (!(d->expr = parse_expr(p))) return NULL;
    return d;
  }
  hk_dec_t *d = new_dec(p, HK_D_VAL, kw);
  if (!d || !(d->pat = parse_pat(p)) || !expect(p, HK_T_EQ)) return NULL;
  if (!(d->expr = parse_expr(p))) return NULL;
  const hk_pat_t *bad = bad_val_pat(d->pat);
  if (bad) return fail_at(p, bad->pos, "unsupported pattern in val binding");
  return d;
}

typedef struct clause {
  hk_pos_t span; /* from the first pattern to the end of the body */
  hk_pat_t **pats;
  uint32_t npats;
  hk_expr_t *body;
} clause_t;

/* Builds the funbind of SPEC §2.4.6 from [n] clauses. */
static bool desugar_fun(parser_t *p, hk_pos_t kw, hk_funbind_t *fb, clause_t *cs, size_t n) {
  fb->nclauses = (uint32_t)n;
  if (n == 1) {
    fb->params = cs[0].pats;
    fb->nparams = cs[0].npats;
    fb->body = cs[0].body;
    return true;
  }
  uint32_t arity = cs[0].npats;
  fb->nparams = arity;
  fb->params = hk_arena_alloc(p->A, arity * sizeof *fb->params);
  hk_expr_t **vars = hk_arena_alloc(p->A, arity * sizeof *vars);
  hk_expr_t *c = new_expr(p, HK_E_CASE, kw);
  if (!fb->params || !vars || !c) return nomem(p), false;
  for (uint32_t i = 0; i < arity; i++) {
    char name[24];
    int len = snprintf(name, sizeof name, "%c%u", HK_PARSE_FRESH_PREFIX, ++p->fresh);
    const char *s = hk_arena_strdup(p->A, name, (size_t)len);
    hk_pat_t *v = s ? new_pat(p, HK_P_VAR, fb->pos) : NULL;
    vars[i] = v ? new_expr(p, HK_E_VAR, fb->pos) : NULL;
    if (!vars[i]) return nomem(p), false;
    v->name = vars[i]->name = s;
    fb->params[i] = v;
  }
  if (arity == 1) {
    c->a = vars[0];
  } else {
    hk_expr_t *t = new_expr(p, HK_E_TUPLE, fb->pos);
    if (!t) return false;
    t->items = vars;
    t->n = arity;
    c->a = t;
  }
  c->arms = hk_arena_alloc(p->A, n * sizeof *c->arms);
  if (!c->arms) return nomem(p), false;
  for (size_t i = 0; i < n; i++) {
    hk_pat_t *pat = cs[i].pats[0];
    if (arity > 1) {
      /* The tuple's range is the clause's (patterns and body), as in hiko
      ** 0.5.1: a redundancy warning points at the whole clause. */
      pat = new_pat(p, HK_P_TUPLE, cs[i].span);
      if (!pat) return false;
      pat->items = cs[i].pats;
      pat->n = arity;
    }
    c->arms[i].pat = pat;
    c->arms[i].body = cs[i].body;
  }
  c->n = (uint32_t)n;
  c->origin = HK_ORIGIN_FUN;
  fb->body = c;
  return true;
}

/* Parses one binding of a `fun` group; [kw] is its keyword (`fun` or `and`). */
static bool parse_funbind(parser_t *p, hk_pos_t kw, hk_funbind_t *fb) {
  if (!at(p, HK_T_IDENT)) return fail(p, "expected identifier"), false;
  fb->kw = kw;
  fb->name = tok_name(p);
  fb->pos = p->tok.pos;
  advance(p);
  clause_t *cs = NULL;
  size_t n = 0, cap = 0;
  bool ok = false;
  for (;;) {
    size_t base = p->nstk;
    while (starts_atpat(p->tok.kind)) {
      hk_pat_t *x = parse_atpat(p);
      if (!x || !push(p, x)) goto out;
    }
    if (p->nstk == base) {
      fail(p, "expected at least one parameter pattern");
      goto out;
    }
    uint32_t np;
    hk_pat_t **pats = (hk_pat_t **)take(p, base, &np);
    if (!pats || !expect(p, HK_T_EQ)) goto out;
    hk_expr_t *body = parse_expr(p);
    if (!body) goto out;
    if (n == cap) {
      cap = cap ? cap * 2 : 4;
      clause_t *g = realloc(cs, cap * sizeof *g);
      if (!g) { nomem(p); goto out; }
      cs = g;
    }
    cs[n++] = (clause_t){ span_from(p, pats[0]->pos), pats, np, body };
    if (!at(p, HK_T_BAR)) break;
    advance(p);
    if (!at(p, HK_T_IDENT)) { fail(p, "expected identifier"); goto out; }
    const char *other = tok_name(p);
    advance(p);
    if (strcmp(other, fb->name) != 0) {
      /* Reported at the token after the wrong name, where hiko 0.5.1's
      ** parser stands when it notices. */
      fail(p, "clausal function name mismatch: expected '%s', found '%s'", fb->name, other);
      goto out;
    }
  }
  for (size_t i = 1; i < n; i++) {
    if (cs[i].npats != cs[0].npats) {
      fail_at(p, cs[i].span, "clauses have different arities");
      goto out;
    }
  }
  ok = desugar_fun(p, kw, fb, cs, n);
out:
  free(cs);
  return ok;
}

static hk_dec_t *parse_fun(parser_t *p, hk_pos_t kw) {
  advance(p);
  hk_pos_t bkw = kw; /* the current binding's keyword */
  hk_funbind_t *bs = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 2;
      hk_funbind_t *g = realloc(bs, cap * sizeof *g);
      if (!g) { free(bs); return nomem(p); }
      bs = g;
    }
    memset(&bs[n], 0, sizeof bs[n]);
    if (!parse_funbind(p, bkw, &bs[n])) { free(bs); return NULL; }
    n++;
    if (!at(p, HK_T_AND)) break;
    bkw = p->tok.pos;
    advance(p);
  }
  hk_dec_t *d = new_dec(p, HK_D_FUN, kw);
  if (d) {
    d->binds = hk_arena_alloc(p->A, n * sizeof *bs);
    if (d->binds) memcpy(d->binds, bs, n * sizeof *bs);
    else d = nomem(p);
  }
  free(bs);
  if (d) d->n = (uint32_t)n;
  return d;
}

static hk_dec_t *parse_datatype(parser_t *p, hk_pos_t kw) {
  advance(p);
  hk_dec_t *d = new_dec(p, HK_D_DATATYPE, kw);
  if (!d || !parse_tyvarseq(p, d) || !parse_tyname(p, d) || !expect(p, HK_T_EQ))
    return NULL;
  if (at(p, HK_T_BAR)) advance(p);
  hk_conbind_t *cs = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (!at(p, HK_T_UIDENT)) { free(cs); return fail(p, "expected constructor name"); }
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      hk_conbind_t *g = realloc(cs, cap * sizeof *g);
      if (!g) { free(cs); return nomem(p); }
      cs = g;
    }
    hk_conbind_t *c = &cs[n++];
    memset(c, 0, sizeof *c);
    c->pos = p->tok.pos;
    c->name = tok_name(p);
    advance(p);
    if (at(p, HK_T_OF)) {
      advance(p);
      if (!(c->ty = parse_ty(p))) { free(cs); return NULL; }
    }
    if (!at(p, HK_T_BAR)) break;
    advance(p);
  }
  d->ctors = hk_arena_alloc(p->A, n * sizeof *cs);
  if (d->ctors) memcpy(d->ctors, cs, n * sizeof *cs);
  free(cs);
  if (!d->ctors) return nomem(p);
  d->n = (uint32_t)n;
  return d;
}

static hk_dec_t *parse_dec(parser_t *p, bool top) {
  hk_pos_t kw = p->tok.pos;
  switch (p->tok.kind) {
  case HK_T_VAL: return parse_val(p, kw);
  case HK_T_FUN: return parse_fun(p, kw);
  case HK_T_DATATYPE: return parse_datatype(p, kw);
  case HK_T_TYPE: {
    advance(p);
    hk_dec_t *d = new_dec(p, HK_D_TYPE, kw);
    if (!d || !parse_tyvarseq(p, d) || !parse_tyname(p, d) || !expect(p, HK_T_EQ))
      return NULL;
    return (d->ty = parse_ty(p)) ? d : NULL;
  }
  case HK_T_LOCAL: {
    /* A `local` inside a `local` nests without an expression: count it
    ** too, so that no input can recurse without bound. */
    if (!enter(p)) return NULL;
    advance(p);
    hk_dec_t *d = new_dec(p, HK_D_LOCAL, kw);
    if (!d || !(d->decs = parse_decs_until(p, HK_T_IN, &d->ndecs)) || !expect(p, HK_T_IN))
      return NULL;
    if (!(d->decs2 = parse_decs_until(p, HK_T_END, &d->ndecs2)) || !expect(p, HK_T_END))
      return NULL;
    leave(p);
    return d;
  }
  case HK_T_USE: {
    if (!top) return fail(p, "use is only allowed at top level");
    advance(p);
    if (!at(p, HK_T_STRING)) return fail(p, "expected string literal after 'use'");
    hk_dec_t *d = new_dec(p, HK_D_USE, kw);
    if (!d) return NULL;
    d->path = p->tok.str;
    d->name_pos = p->tok.pos;
    advance(p);
    return d;
  }
  case HK_T_EFFECT: {
    advance(p);
    hk_dec_t *d = new_dec(p, HK_D_EFFECT, kw);
    if (!d) return NULL;
    if (!at(p, HK_T_UIDENT)) return fail(p, "expected constructor name");
    d->name = tok_name(p);
    d->name_pos = p->tok.pos;
    advance(p);
    if (at(p, HK_T_OF)) {
      advance(p);
      if (!(d->ty = parse_ty(p))) return NULL;
    }
    return d;
  }
  default:
    return fail(p, "expected declaration (val, fun, datatype, type, local, use, or effect)");
  }
}

/* ---- Entry points ---- */

static void parser_init(parser_t *p, hk_arena_t *arena, hk_diags_list_t *diags,
                        uint32_t file, const char *text, size_t len) {
  memset(p, 0, sizeof *p);
  p->A = arena;
  p->diags = diags;
  p->file = file;
  hk_lex_init(&p->lx, arena, file, text, len);
  p->end_line = 1;
  p->end_col = 1;
  if (hk_lex_next(&p->lx, &p->tok) < 0) p->nomem = true;
}

/* Records the parser's error (a lexical error later in the file wins, as
** the file would have been tokenised first) and frees the scratch. */
static int parser_finish(parser_t *p) {
  int rc = 0;
  if (p->failed || p->nomem) {
    if (!p->nomem && p->tok.kind != HK_T_ERROR) {
      hk_token_t t = p->has_next ? p->next : p->tok;
      while (t.kind != HK_T_EOF && t.kind != HK_T_ERROR) {
        if (hk_lex_next(&p->lx, &t) < 0) break;
      }
      if (t.kind == HK_T_ERROR) {
        p->err_pos = t.pos;
        p->err_msg = p->lx.msg;
      }
    }
    if (p->nomem) {
      hk_diag_error_file(p->diags, p->file, "out of memory");
      rc = -ENOMEM;
    } else {
      hk_diag_error(p->diags, p->err_pos, "%s", p->err_msg ? p->err_msg : "syntax error");
      rc = -1;
    }
  }
  hk_lex_fini(&p->lx);
  free(p->stk);
  free(p->ops);
  return rc;
}

int hk_parse_file(hk_arena_t *arena, hk_diags_list_t *diags, uint32_t file,
                  const char *text, size_t len, hk_dec_t ***decs, uint32_t *ndecs) {
  parser_t p;
  parser_init(&p, arena, diags, file, text, len);
  *decs = NULL;
  *ndecs = 0;
  while (!p.failed && !p.nomem && !at(&p, HK_T_EOF)) {
    hk_dec_t *d = parse_dec(&p, true);
    if (!d || !push(&p, d)) break;
  }
  if (!p.failed && !p.nomem) *decs = (hk_dec_t **)take(&p, 0, ndecs);
  return parser_finish(&p);
}

hk_expr_t *hk_parse_expr_string(hk_arena_t *arena, hk_diags_list_t *diags,
                                uint32_t file, const char *text, size_t len) {
  parser_t p;
  parser_init(&p, arena, diags, file, text, len);
  hk_expr_t *e = p.nomem ? NULL : parse_expr(&p);
  if (e && !at(&p, HK_T_EOF)) e = fail(&p, "expected end of input");
  if (p.failed || p.nomem) e = NULL;
  parser_finish(&p);
  return e;
}
