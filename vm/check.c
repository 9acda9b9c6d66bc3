/* check.c — scoping, declarations, the prelude and type inference
** (SPEC §3). See check.h.
**
** One pass over the program in program order. Value names live in one hash
** table (name -> current binding) with an undo log, so entering and leaving
** scopes costs the bindings made, and lookups are O(1). Constructor, type and
** effect names are global (SPEC §3.1.2) and only ever added. Inference is
** Algorithm W with levels for generalisation (vm/types.h). The first error
** ends the check: it is recorded and we longjmp back to hk_check_program
** (all memory is in the arena or in vectors freed there). Chains (n-ary AST
** nodes) are walked by loops; the remaining recursion follows the parser's
** nesting limit. */
#include "vm/check.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/fold.h"
#include "vm/match.h"
#include "vm/types.h"

/* ---- String-keyed hash table ---- */

typedef struct sent {
  const char *key;
  uint64_t hash;
  void *val;
  uint32_t aux;  /* tables: prelude flag / pattern stamp */
  uint32_t kind; /* type table: TE_* */
} sent_t;

typedef struct stab {
  sent_t *e;
  size_t cap, n;
} stab_t;

static uint64_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h | 1; /* 0 marks an empty slot */
}

typedef struct ck ck_t;
static void oom(void *ctx);

static sent_t *st_find(stab_t *t, const char *key, uint64_t h) {
  if (!t->cap) return NULL;
  size_t i = h & (t->cap - 1);
  for (;;) {
    sent_t *e = &t->e[i];
    if (!e->hash) return NULL;
    if (e->hash == h && strcmp(e->key, key) == 0) return e;
    i = (i + 1) & (t->cap - 1);
  }
}

static sent_t *st_get(stab_t *t, const char *key) { return st_find(t, key, str_hash(key)); }

static int st_grow(stab_t *t) {
  size_t nc = t->cap ? t->cap * 2 : 64;
  sent_t *ne = calloc(nc, sizeof *ne);
  if (!ne) return -ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->e[i].hash) continue;
    size_t j = t->e[i].hash & (nc - 1);
    while (ne[j].hash) j = (j + 1) & (nc - 1);
    ne[j] = t->e[i];
  }
  free(t->e);
  t->e = ne;
  t->cap = nc;
  return 0;
}

/* Returns the entry for [key], creating an empty one; NULL when out of memory.
** Entries move when the table grows: never keep a pointer across st_put. */
static sent_t *st_put(stab_t *t, const char *key) {
  uint64_t h = str_hash(key);
  sent_t *e = st_find(t, key, h);
  if (e) return e;
  if ((t->n + 1) * 2 > t->cap && st_grow(t) < 0) return NULL;
  size_t i = h & (t->cap - 1);
  while (t->e[i].hash) i = (i + 1) & (t->cap - 1);
  e = &t->e[i];
  e->key = key;
  e->hash = h;
  t->n++;
  return e;
}

static void st_free(stab_t *t) {
  free(t->e);
  t->e = NULL;
  t->cap = t->n = 0;
}

/* ---- Growable vectors of pointers ---- */

typedef struct pvec {
  void **v;
  size_t n, cap;
} pvec_t;

static int pv_push(pvec_t *p, void *x) {
  if (p->n == p->cap) {
    size_t nc = p->cap ? p->cap * 2 : 64;
    void **nv = realloc(p->v, nc * sizeof *nv);
    if (!nv) return -ENOMEM;
    p->v = nv;
    p->cap = nc;
  }
  p->v[p->n++] = x;
  return 0;
}

/* ---- The checker ---- */

enum { TE_ALIAS = 1, TE_DATA };

typedef struct tyent {
  uint32_t arity;
  hk_type_t **params; /* generic variables */
  hk_type_t *body;    /* alias */
  hk_datatype_t *dt;  /* datatype */
} tyent_t;

typedef struct undo {
  const char *name;
  hk_var_t *prev;
} undo_t;

struct ck {
  hk_arena_t *arena;
  hk_sources_t *src;
  hk_diags_list_t *diags;
  hk_types_t T;
  jmp_buf jb;
  stab_t vals, ctors, types, effects, patvars, tyvars;
  uint32_t tvstamp;
  undo_t *undo;
  size_t nundo, capundo;
  pvec_t ctor_list, dt_list, eff_list, globals;
  pvec_t pv; /* pattern variables being collected */
  uint32_t patstamp;
  uint32_t nvars;
  hk_var_t *builtins;
  uint32_t nbuiltins;
  hk_datatype_t *failure, *outcome;
  const hk_datatype_t *json;
  /* Redundancy warnings of the current top-level declaration, flushed in
  ** source order (an inner match is analysed before the enclosing one). */
  struct pending_warn { hk_pos_t pos; uint32_t clause; } *warns;
  size_t nwarns, capwarns;
};

static void flush_warnings(ck_t *c) {
  /* Insertion sort: the buffer is nearly sorted and usually tiny. */
  for (size_t i = 1; i < c->nwarns; i++) {
    struct pending_warn w = c->warns[i];
    size_t j = i;
    while (j > 0 && c->warns[j - 1].pos.file == w.pos.file &&
           (c->warns[j - 1].pos.line > w.pos.line ||
            (c->warns[j - 1].pos.line == w.pos.line && c->warns[j - 1].pos.col > w.pos.col))) {
      c->warns[j] = c->warns[j - 1];
      j--;
    }
    c->warns[j] = w;
  }
  for (size_t i = 0; i < c->nwarns; i++)
    hk_diag_warning(c->diags, c->warns[i].pos, "redundant match clause (clause %u)",
                    c->warns[i].clause);
  c->nwarns = 0;
}

static _Noreturn void bail(ck_t *c) { longjmp(c->jb, 1); }

static void oom(void *ctx) {
  ck_t *c = ctx;
  hk_diag_error_file(c->diags, 0, "out of memory");
  bail(c);
}

static void *alloc(ck_t *c, size_t size) {
  void *p = hk_arena_alloc(c->arena, size);
  if (!p) oom(c);
  return p;
}

static void push(ck_t *c, pvec_t *p, void *x) {
  if (pv_push(p, x) < 0) oom(c);
}

static sent_t *put(ck_t *c, stab_t *t, const char *key) {
  sent_t *e = st_put(t, key);
  if (!e) oom(c);
  return e;
}

__attribute__((format(printf, 3, 4))) static _Noreturn void fail(ck_t *c, hk_pos_t pos,
                                                                  const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (buf) vsnprintf(buf, (size_t)len + 1, fmt, ap2);
  va_end(ap2);
  flush_warnings(c);
  hk_diag_error(c->diags, pos, "%s", buf ? buf : "out of memory");
  free(buf);
  bail(c);
}

static hk_type_t *fresh(ck_t *c) { return hk_types_var(&c->T, false); }
static hk_type_t *prim(ck_t *c, hk_tcon_t k) { return hk_types_prim(&c->T, k); }

/* True when [a] and [b] are headed by different datatypes of one name. */
static bool same_name_datatypes(hk_type_t *a, hk_type_t *b) {
  a = hk_type_resolve(a);
  b = hk_type_resolve(b);
  return a->kind == HK_TYPE_CON && a->con == HK_TC_DATA && b->kind == HK_TYPE_CON &&
         b->con == HK_TC_DATA && a->dt != b->dt && strcmp(a->dt->name, b->dt->name) == 0;
}

/* Writes to [buf] " (the prelude's)" or " (declared at FILE:LINE:COL)" for
** a datatype-headed [t], "" otherwise. */
static void whose_type(ck_t *c, hk_type_t *t, char *buf, size_t size) {
  t = hk_type_resolve(t);
  buf[0] = '\0';
  if (t->kind != HK_TYPE_CON || t->con != HK_TC_DATA) return;
  hk_pos_t p = t->dt->pos;
  if (p.line == 0)
    snprintf(buf, size, " (the prelude's)");
  else if (c->src && p.file < c->src->n)
    snprintf(buf, size, " (declared at %.256s:%u:%u)", c->src->items[p.file].path, p.line, p.col);
  else
    snprintf(buf, size, " (declared at %u:%u)", p.line, p.col);
}

static _Noreturn void report_tyerr(ck_t *c, const hk_tyerr_t *err, hk_pos_t pos) {
  hk_tprinter_t P;
  hk_tprinter_init(&P, &c->T);
  if (err->kind == HK_TYERR_OCCURS) {
    hk_tprinter_fini(&P);
    fail(c, pos, "infinite type (occurs check failed)");
  }
  if (err->kind == HK_TYERR_EQ) {
    const char *f = hk_tprinter_print(&P, err->found);
    hk_tprinter_fini(&P);
    fail(c, pos, "= and <> require equality types, found %s", f);
  }
  const char *a = hk_tprinter_print(&P, err->expected);
  const char *b = hk_tprinter_print(&P, err->found);
  hk_tprinter_fini(&P);
  if (same_name_datatypes(err->expected, err->found)) {
    /* Two datatypes of one name: a prelude type and the program's
    ** declaration that hides it (SPEC §3.1.2: no other name can be
    ** declared twice). "expected failure, found failure" would not say
    ** which is which. */
    char wa[320], wb[320];
    whose_type(c, err->expected, wa, sizeof wa);
    whose_type(c, err->found, wb, sizeof wb);
    fail(c, pos, "type mismatch: expected %s%s, found %s%s", a, wa, b, wb);
  }
  fail(c, pos, "type mismatch: expected %s, found %s", a, b);
}

/* Unifies [expected] (from the context) with [found] (from the expression or
** pattern at [pos]); reports a failure at [pos]. */
static void unify(ck_t *c, hk_type_t *expected, hk_type_t *found, hk_pos_t pos) {
  hk_tyerr_t err;
  if (hk_types_unify(&c->T, expected, found, &err) < 0) report_tyerr(c, &err, pos);
}

/* Makes [t] an equality type. Whether it can be is decided first, so that a
** failure prints [t] as it was, not with the variables before the offending
** component already made equality variables. */
static void require_eq(ck_t *c, hk_type_t *t, hk_pos_t pos) {
  if (!hk_types_admits_eq_decl(&c->T, t, NULL) || hk_types_make_eq(&c->T, t) < 0) {
    hk_tyerr_t err = {HK_TYERR_EQ, NULL, t};
    report_tyerr(c, &err, pos);
  }
}

/* ---- Value scopes ---- */

static size_t scope_mark(ck_t *c) { return c->nundo; }

static void scope_pop(ck_t *c, size_t mark) {
  while (c->nundo > mark) {
    undo_t *u = &c->undo[--c->nundo];
    sent_t *e = st_get(&c->vals, u->name);
    e->val = u->prev;
  }
}

static void bind_var(ck_t *c, hk_var_t *v) {
  if (c->nundo == c->capundo) {
    size_t nc = c->capundo ? c->capundo * 2 : 256;
    undo_t *nu = realloc(c->undo, nc * sizeof *nu);
    if (!nu) oom(c);
    c->undo = nu;
    c->capundo = nc;
  }
  sent_t *e = put(c, &c->vals, v->name);
  c->undo[c->nundo++] = (undo_t){v->name, e->val};
  e->val = v;
}

static hk_var_t *new_var(ck_t *c, const char *name, hk_pos_t pos, bool global) {
  hk_var_t *v = alloc(c, sizeof *v);
  v->name = name;
  v->pos = pos;
  v->id = c->nvars++;
  if (global) {
    v->kind = HK_VAR_GLOBAL;
    v->global = (uint32_t)c->globals.n;
    push(c, &c->globals, v);
  } else {
    v->kind = HK_VAR_LOCAL;
  }
  return v;
}

/* ---- Type expressions ---- */

/* Type variables allowed in a type expression: the entries of c->tyvars
** whose stamp is this environment's (so lookups are O(1) however many
** parameters a declaration has). */
typedef struct tvenv {
  uint32_t stamp;
  bool flexible;      /* annotations: unknown names become fresh variables */
  hk_type_t **params; /* declarations: the parameters in order */
} tvenv_t;

static void tv_begin(ck_t *c, tvenv_t *tv, bool flexible) {
  tv->stamp = ++c->tvstamp;
  tv->flexible = flexible;
  tv->params = NULL;
}

static void tv_add(ck_t *c, tvenv_t *tv, const char *name, hk_type_t *v) {
  sent_t *e = put(c, &c->tyvars, name);
  e->aux = tv->stamp;
  e->val = v;
}

static hk_type_t *tv_lookup(ck_t *c, tvenv_t *tv, const hk_ty_t *ty) {
  sent_t *e = st_get(&c->tyvars, ty->name);
  if (e && e->aux == tv->stamp) return e->val;
  if (!tv->flexible) fail(c, ty->pos, "unbound type variable: %s", ty->name);
  bool eq = ty->name[0] == '\'' && ty->name[1] == '\'';
  hk_type_t *v = hk_types_var(&c->T, eq);
  tv_add(c, tv, ty->name, v);
  return v;
}

static const char *const prim_names[HK_TC__NPRIM] = {
    "Int", "Float", "Bool", "String", "Char", "Unit", "Bytes", "Rng", "Pid", "Socket"};

static int builtin_type_name(const char *name) {
  for (int k = 0; k < HK_TC__NPRIM; k++)
    if (strcmp(prim_names[k], name) == 0) return k;
  if (strcmp(name, "list") == 0) return HK_TC_LIST;
  return -1;
}

/* The type `name` applied to args[n] (n = 0: a bare name). */
static hk_type_t *apply_tycon(ck_t *c, const char *name, hk_type_t **args, uint32_t n,
                              hk_pos_t pos) {
  int b = builtin_type_name(name);
  uint32_t arity;
  if (b >= 0) {
    arity = b == HK_TC_LIST ? 1 : 0;
  } else {
    sent_t *e = st_get(&c->types, name);
    if (!e || !e->val) {
      if (n == 0) fail(c, pos, "unknown type: %s", name);
      fail(c, pos, "unknown type constructor: %s", name);
    }
    arity = ((tyent_t *)e->val)->arity;
  }
  if (n != arity) {
    if (n == 0) fail(c, pos, "type %s expects %u argument(s)", name, arity);
    fail(c, pos, "type %s expects %u argument(s), got %u", name, arity, n);
  }
  if (b >= 0) return b == HK_TC_LIST ? hk_types_list(&c->T, args[0]) : prim(c, (hk_tcon_t)b);
  sent_t *e = st_get(&c->types, name);
  tyent_t *te = e->val;
  if (e->kind == TE_ALIAS) return hk_types_subst(&c->T, te->body, te->params, args, n);
  return hk_types_data(&c->T, te->dt, args, n);
}

static hk_type_t *resolve_ty(ck_t *c, const hk_ty_t *ty, tvenv_t *tv) {
  switch (ty->kind) {
  case HK_TY_VAR:
    return tv_lookup(c, tv, ty);
  case HK_TY_TUPLE: {
    hk_type_t **items = alloc(c, ty->n * sizeof *items);
    for (uint32_t i = 0; i < ty->n; i++) items[i] = resolve_ty(c, ty->items[i], tv);
    return hk_types_tuple(&c->T, items, ty->n);
  }
  case HK_TY_ARROW: {
    hk_type_t **ps = alloc(c, ty->n * sizeof *ps);
    for (uint32_t i = 0; i < ty->n; i++) ps[i] = resolve_ty(c, ty->items[i], tv);
    hk_type_t *t = resolve_ty(c, ty->result, tv);
    for (uint32_t i = ty->n; i-- > 0;) t = hk_types_arrow(&c->T, ps[i], t);
    return t;
  }
  case HK_TY_CON:
  default: {
    /* A postfix chain `T a b c` is one node per link: walk it with a loop. */
    size_t nlinks = 0;
    const hk_ty_t *x = ty;
    while (x->kind == HK_TY_CON && x->n == 1) {
      nlinks++;
      x = x->items[0];
    }
    const hk_ty_t **links = nlinks ? alloc(c, nlinks * sizeof *links) : NULL;
    x = ty;
    for (size_t i = 0; i < nlinks; i++) {
      links[i] = x;
      x = x->items[0];
    }
    hk_type_t *t;
    if (x->kind == HK_TY_CON) {
      hk_type_t **args = x->n ? alloc(c, x->n * sizeof *args) : NULL;
      for (uint32_t i = 0; i < x->n; i++) args[i] = resolve_ty(c, x->items[i], tv);
      t = apply_tycon(c, x->name, args, x->n, x->pos);
    } else {
      t = resolve_ty(c, x, tv);
    }
    for (size_t i = nlinks; i-- > 0;) {
      hk_type_t *arg[1] = {t};
      t = apply_tycon(c, links[i]->name, arg, 1, links[i]->pos);
    }
    return t;
  }
  }
}

static hk_type_t *resolve_annot(ck_t *c, const hk_ty_t *ty) {
  tvenv_t tv;
  tv_begin(c, &tv, true);
  return resolve_ty(c, ty, &tv);
}

/* ---- Declarations of types, constructors, effects ---- */

static bool is_prelude_entry(sent_t *e) { return e && e->val && e->aux; }

/* The position of type variable [k] (from 0) of declaration [d]: the AST
** keeps none, so the source between the keyword and the type name is
** scanned (it holds only the type variable sequence, blanks and comments).
** Falls back to the keyword's position. */
static hk_pos_t tyvar_pos(ck_t *c, const hk_dec_t *d, uint32_t k) {
  if (!c->src || d->pos.file >= c->src->n) return d->pos;
  const hk_source_t *f = &c->src->items[d->pos.file];
  const char *t = f->text;
  size_t n = f->len, i = 0;
  uint32_t line = 1, col = 1;
  while (i < n && !(line == d->pos.line && col == d->pos.col)) {
    if (t[i] == '\n') {
      line++;
      col = 1;
      i++;
      continue;
    }
    i++; /* one scalar: its lead byte and continuation bytes */
    while (i < n && ((unsigned char)t[i] & 0xc0) == 0x80) i++;
    col++;
    if (line > d->pos.line) break;
  }
  if (line != d->pos.line || col != d->pos.col) return d->pos;
  /* Now at the keyword: skip it. */
  while (i < n && ((t[i] >= 'a' && t[i] <= 'z'))) i++, col++;
  uint32_t seen = 0, depth = 0;
  while (i < n) {
    char ch = t[i];
    if (depth) {
      if (ch == '(' && i + 1 < n && t[i + 1] == '*') depth++, i += 2, col += 2;
      else if (ch == '*' && i + 1 < n && t[i + 1] == ')') depth--, i += 2, col += 2;
      else if (ch == '\n') line++, col = 1, i++;
      else col += ((unsigned char)ch & 0xc0) != 0x80, i++;
      continue;
    }
    if (ch == '(' && i + 1 < n && t[i + 1] == '*') {
      depth = 1, i += 2, col += 2;
    } else if (ch == '\n') {
      line++, col = 1, i++;
    } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '(' || ch == ',' ||
               ch == ')') {
      col++, i++;
    } else if (ch == '\'') {
      size_t j = i + 1;
      while (j < n && (t[j] == '_' || t[j] == '\'' || (t[j] >= 'a' && t[j] <= 'z') ||
                       (t[j] >= 'A' && t[j] <= 'Z') || (t[j] >= '0' && t[j] <= '9')))
        j++;
      if (seen++ == k) return (hk_pos_t){d->pos.file, line, col, (uint32_t)(j - i)};
      col += (uint32_t)(j - i);
      i = j;
    } else {
      break;
    }
  }
  return d->pos;
}

/* Declares the type parameters of [d] in a fresh environment [tv]. */
static void check_tyvars(ck_t *c, const hk_dec_t *d, tvenv_t *tv) {
  tv_begin(c, tv, false);
  tv->params = alloc(c, (d->ntyvars + 1) * sizeof *tv->params);
  for (uint32_t i = 0; i < d->ntyvars; i++) {
    sent_t *e = st_get(&c->tyvars, d->tyvars[i]);
    if (e && e->aux == tv->stamp)
      fail(c, tyvar_pos(c, d, i), "duplicate type variable: %s", d->tyvars[i]);
    hk_type_t *v = hk_types_var(&c->T, false);
    v->level = HK_LEVEL_GENERIC;
    tv->params[i] = v;
    tv_add(c, tv, d->tyvars[i], v);
  }
}

static void check_type_name(ck_t *c, const char *name, hk_pos_t pos) {
  if (builtin_type_name(name) >= 0) fail(c, pos, "duplicate type name: %s", name);
  sent_t *e = st_get(&c->types, name);
  if (e && e->val && !e->aux) fail(c, pos, "duplicate type name: %s", name);
}

static hk_datatype_t *new_datatype(ck_t *c, const char *name, uint32_t ntyvars,
                                   uint32_t nctors, hk_pos_t pos) {
  hk_datatype_t *dt = alloc(c, sizeof *dt);
  dt->name = name;
  dt->index = (uint32_t)c->dt_list.n;
  dt->ntyvars = ntyvars;
  dt->nctors = nctors;
  dt->ctors = alloc(c, (nctors + 1) * sizeof *dt->ctors);
  dt->pos = pos;
  push(c, &c->dt_list, dt);
  return dt;
}

static void register_type(ck_t *c, const char *name, uint32_t kind, tyent_t *te,
                          bool prelude) {
  sent_t *e = put(c, &c->types, name);
  e->val = te;
  e->kind = kind;
  e->aux = prelude;
}

static hk_ctor_t *add_ctor(ck_t *c, hk_datatype_t *dt, uint32_t tag, const char *name,
                           hk_type_t *payload, hk_type_t *self, bool prelude) {
  hk_ctor_t *k = alloc(c, sizeof *k);
  k->name = name;
  k->tag = tag;
  k->has_payload = payload != NULL;
  k->index = (uint32_t)c->ctor_list.n;
  k->datatype = dt;
  k->payload = payload;
  k->type = payload ? hk_types_arrow(&c->T, payload, self) : self;
  dt->ctors[tag] = k;
  push(c, &c->ctor_list, k);
  sent_t *e = put(c, &c->ctors, name);
  e->val = k;
  e->aux = prelude;
  return k;
}

static void check_datatype(ck_t *c, hk_dec_t *d) {
  tvenv_t tv;
  check_tyvars(c, d, &tv);
  check_type_name(c, d->name, d->name_pos);
  hk_datatype_t *dt = new_datatype(c, d->name, d->ntyvars, d->n, d->name_pos);
  tyent_t *te = alloc(c, sizeof *te);
  te->arity = d->ntyvars;
  te->params = tv.params;
  te->dt = dt;
  register_type(c, d->name, TE_DATA, te, false);
  hk_type_t *self = hk_types_data(&c->T, dt, tv.params, d->ntyvars);
  for (uint32_t i = 0; i < d->n; i++) {
    hk_conbind_t *cb = &d->ctors[i];
    sent_t *e = st_get(&c->ctors, cb->name);
    if (e && e->val && !is_prelude_entry(e))
      fail(c, cb->pos, "duplicate constructor name: %s", cb->name);
    hk_type_t *payload = cb->ty ? resolve_ty(c, cb->ty, &tv) : NULL;
    cb->ctor = add_ctor(c, dt, i, cb->name, payload, self, false);
  }
  dt->eq = true;
  for (uint32_t i = 0; i < d->n && dt->eq; i++)
    if (dt->ctors[i]->payload && !hk_types_admits_eq_decl(&c->T, dt->ctors[i]->payload, dt))
      dt->eq = false;
  static const char *const json_ctors[7] = {"JNull", "JBool", "JInt", "JFloat",
                                            "JStr", "JArray", "JObject"};
  if (strcmp(d->name, "json") == 0 && d->n == 7) {
    bool ok = true;
    for (int i = 0; i < 7; i++) ok = ok && strcmp(d->ctors[i].name, json_ctors[i]) == 0;
    if (ok) c->json = dt;
  }
}

static void check_alias(ck_t *c, hk_dec_t *d) {
  tvenv_t tv;
  check_tyvars(c, d, &tv);
  check_type_name(c, d->name, d->name_pos);
  hk_type_t *body = resolve_ty(c, d->ty, &tv);
  tyent_t *te = alloc(c, sizeof *te);
  te->arity = d->ntyvars;
  te->params = tv.params;
  te->body = body;
  register_type(c, d->name, TE_ALIAS, te, false);
}

static void check_effect(ck_t *c, hk_dec_t *d) {
  sent_t *e = st_get(&c->effects, d->name);
  if (e && e->val) fail(c, d->name_pos, "duplicate effect name: %s", d->name);
  tvenv_t tv;
  tv_begin(c, &tv, false);
  hk_type_t *payload = d->ty ? resolve_ty(c, d->ty, &tv) : prim(c, HK_TC_UNIT);
  hk_effect_t *ef = alloc(c, sizeof *ef);
  ef->name = d->name;
  ef->index = (uint32_t)c->eff_list.n;
  ef->payload = payload;
  ef->pos = d->name_pos;
  push(c, &c->eff_list, ef);
  e = put(c, &c->effects, d->name);
  e->val = ef;
}

static const hk_effect_t *lookup_effect(ck_t *c, const char *name, hk_pos_t pos) {
  sent_t *e = st_get(&c->effects, name);
  if (!e || !e->val) fail(c, pos, "undeclared effect: %s", name);
  return e->val;
}

static const hk_ctor_t *lookup_ctor(ck_t *c, const char *name, hk_pos_t pos) {
  sent_t *e = st_get(&c->ctors, name);
  if (!e || !e->val) fail(c, pos, "unknown constructor: %s", name);
  return e->val;
}

/* ---- Patterns ---- */

static void new_pattern_group(ck_t *c) { c->patstamp++; }

static hk_var_t *pat_var(ck_t *c, const char *name, hk_pos_t pos, bool global) {
  sent_t *e = put(c, &c->patvars, name);
  if (e->aux == c->patstamp) fail(c, pos, "duplicate variable in pattern: %s", name);
  e->aux = c->patstamp;
  hk_var_t *v = new_var(c, name, pos, global);
  push(c, &c->pv, v);
  return v;
}

static hk_type_t *infer_pat(ck_t *c, hk_pat_t *p, bool global) {
  hk_type_t *t;
  switch (p->kind) {
  case HK_P_WILD:
    t = fresh(c);
    break;
  case HK_P_VAR:
    t = fresh(c);
    p->var = pat_var(c, p->name, p->pos, global);
    p->var->type = t;
    break;
  case HK_P_INT:
    t = prim(c, HK_TC_INT);
    break;
  case HK_P_FLOAT:
    t = prim(c, HK_TC_FLOAT);
    break;
  case HK_P_STRING:
    t = prim(c, HK_TC_STRING);
    break;
  case HK_P_CHAR:
    t = prim(c, HK_TC_CHAR);
    break;
  case HK_P_BOOL:
    t = prim(c, HK_TC_BOOL);
    break;
  case HK_P_UNIT:
    t = prim(c, HK_TC_UNIT);
    break;
  case HK_P_TUPLE: {
    hk_type_t **items = alloc(c, p->n * sizeof *items);
    for (uint32_t i = 0; i < p->n; i++) items[i] = infer_pat(c, p->items[i], global);
    t = hk_types_tuple(&c->T, items, p->n);
    break;
  }
  case HK_P_LIST: {
    hk_type_t *elem = NULL;
    for (uint32_t i = 0; i < p->n; i++) {
      hk_type_t *ti = infer_pat(c, p->items[i], global);
      if (i == 0)
        elem = ti;
      else
        unify(c, elem, ti, p->items[i]->pos);
    }
    if (!elem) elem = fresh(c);
    t = hk_types_list(&c->T, elem);
    if (p->tail) unify(c, t, infer_pat(c, p->tail, global), p->tail->pos);
    break;
  }
  case HK_P_CON: {
    const hk_ctor_t *k = lookup_ctor(c, p->name, p->pos);
    p->ctor = k;
    hk_type_t *kt = hk_types_instantiate(&c->T, k->type);
    if (p->arg) {
      hk_type_t *ta = infer_pat(c, p->arg, global);
      if (!k->has_payload) {
        unify(c, kt, hk_types_arrow(&c->T, ta, fresh(c)), p->pos);
        t = kt;
      } else {
        kt = hk_type_resolve(kt);
        unify(c, kt->args[0], ta, p->arg->pos);
        t = kt->args[1];
      }
    } else {
      if (k->has_payload) {
        hk_type_t *self = hk_type_resolve(kt)->args[1];
        unify(c, self, kt, p->pos);
      }
      t = kt;
    }
    break;
  }
  case HK_P_AS: {
    p->vars = alloc(c, (p->n + 1) * sizeof *p->vars);
    for (uint32_t i = 0; i < p->n; i++) p->vars[i] = pat_var(c, p->names[i], p->pos, global);
    t = infer_pat(c, p->arg, global);
    for (uint32_t i = 0; i < p->n; i++) p->vars[i]->type = t;
    break;
  }
  case HK_P_ANNOT:
  default: {
    t = infer_pat(c, p->arg, global);
    unify(c, resolve_annot(c, p->ty), t, p->arg->pos);
    break;
  }
  }
  p->type = t;
  return t;
}

/* Binds the pattern variables collected since [base]. */
static void bind_pattern_vars(ck_t *c, size_t base) {
  for (size_t i = base; i < c->pv.n; i++) bind_var(c, c->pv.v[i]);
  c->pv.n = base;
}

/* ---- Exhaustiveness ---- */

static void check_match(ck_t *c, hk_pat_t *const *rows, uint32_t nrows, uint32_t ncols,
                        hk_pos_t pos) {
  bool *red = calloc(nrows ? nrows : 1, sizeof *red);
  if (!red) oom(c);
  bool exhaustive = true;
  int r = hk_match_check(rows, nrows, ncols, hk_match_budget(rows, nrows, ncols), red,
                         &exhaustive);
  if (r == -ENOMEM) {
    free(red);
    oom(c);
  }
  if (r < 0) {
    free(red);
    fail(c, pos, "pattern match too complex");
  }
  for (uint32_t i = 0; i < nrows; i++) {
    if (!red[i]) continue;
    if (c->nwarns == c->capwarns) {
      size_t nc = c->capwarns ? c->capwarns * 2 : 16;
      struct pending_warn *nw = realloc(c->warns, nc * sizeof *nw);
      if (!nw) {
        free(red);
        oom(c);
      }
      c->warns = nw;
      c->capwarns = nc;
    }
    c->warns[c->nwarns++] = (struct pending_warn){rows[(size_t)i * ncols]->pos, i + 1};
  }
  free(red);
  if (!exhaustive) fail(c, pos, "non-exhaustive match");
}

/* ---- Expressions ---- */

static hk_type_t *infer(ck_t *c, hk_expr_t *e);
static void check_dec(ck_t *c, hk_dec_t *d, bool toplevel);

/* Applies binary operator [op] to operand types; [lpos] is the whole left
** operand (in a flattened chain `a * b * c`, all of `a * b` for the second
** `*`), [rpos] the right one. */
static hk_type_t *binop(ck_t *c, hk_op_t op, hk_pos_t cmp_pos, hk_type_t *tl, hk_pos_t lpos,
                        hk_type_t *tr, hk_pos_t rpos) {
  hk_tcon_t operand, result;
  switch (op) {
  case HK_OP_ADD: case HK_OP_SUB: case HK_OP_MUL: case HK_OP_DIV: case HK_OP_MOD:
    operand = result = HK_TC_INT;
    break;
  case HK_OP_LT: case HK_OP_GT: case HK_OP_LE: case HK_OP_GE:
    operand = HK_TC_INT;
    result = HK_TC_BOOL;
    break;
  case HK_OP_FADD: case HK_OP_FSUB: case HK_OP_FMUL: case HK_OP_FDIV:
    operand = result = HK_TC_FLOAT;
    break;
  case HK_OP_FLT: case HK_OP_FGT: case HK_OP_FLE: case HK_OP_FGE:
    operand = HK_TC_FLOAT;
    result = HK_TC_BOOL;
    break;
  case HK_OP_CONCAT:
    operand = result = HK_TC_STRING;
    break;
  case HK_OP_EQ: case HK_OP_NE:
  default:
    /* SPEC §3.5.2/§3.6/§3.7.3: the operator rule meets ''a with the left
    ** operand before the right one. The left operand's type must admit
    ** equality (`(fn x => x) = 1` is an equality error, not a mismatch with
    ** Int) and its variables become equality variables, so a mismatch with
    ** the right operand prints them as ''a. An equality error met while
    ** unifying the right operand is reported at the comparison with the
    ** right operand's type (§3.7.4). */
    require_eq(c, tl, cmp_pos);
    hk_tyerr_t err;
    if (hk_types_unify(&c->T, tl, tr, &err) < 0) {
      if (err.kind == HK_TYERR_EQ) err.found = tr;
      report_tyerr(c, &err, err.kind == HK_TYERR_EQ ? cmp_pos : rpos);
    }
    return prim(c, HK_TC_BOOL);
  }
  unify(c, prim(c, operand), tl, lpos);
  unify(c, prim(c, operand), tr, rpos);
  return prim(c, result);
}

static hk_type_t *infer_binop(ck_t *c, hk_expr_t *e) {
  hk_type_t *t = infer(c, e->items[0]);
  for (uint32_t i = 1; i < e->n; i++) {
    hk_type_t *tr = infer(c, e->items[i]);
    /* An equality error is reported at the comparison (SPEC §3.7.4): the
    ** whole expression `a = b` (comparisons do not chain). */
    hk_pos_t lpos = hk_fold_merge_pos(e->items[0]->pos, e->items[i - 1]->pos);
    t = binop(c, e->ops[i - 1], e->pos, t, lpos, tr, e->items[i]->pos);
  }
  return t;
}

static hk_type_t *infer_prefix(ck_t *c, hk_expr_t *e) {
  hk_type_t *t = infer(c, e->a);
  for (uint32_t i = e->n; i-- > 0;) {
    hk_pos_t op_pos = e->op_pos ? e->op_pos[i] : e->pos;
    if (e->ops[i] == HK_OP_NOT) {
      unify(c, prim(c, HK_TC_BOOL), t, e->a->pos);
      t = prim(c, HK_TC_BOOL);
      continue;
    }
    hk_type_t *r = hk_type_resolve(t);
    if (r->kind == HK_TYPE_VAR) fail(c, op_pos, "~ requires Int or Float, but type is unconstrained");
    if (r->kind != HK_TYPE_CON || (r->con != HK_TC_INT && r->con != HK_TC_FLOAT)) {
      hk_tprinter_t P;
      hk_tprinter_init(&P, &c->T);
      const char *s = hk_tprinter_print(&P, r);
      hk_tprinter_fini(&P);
      fail(c, op_pos, "~ requires Int or Float, found %s", s);
    }
    t = r;
  }
  return t;
}

static hk_type_t *infer_app(ck_t *c, hk_expr_t *e) {
  hk_type_t *tf = infer(c, e->a);
  for (uint32_t i = 0; i < e->n; i++) {
    hk_expr_t *arg = e->items[i];
    hk_type_t *ta = infer(c, arg);
    hk_type_t *f = hk_type_resolve(tf);
    if (f->kind == HK_TYPE_ARROW) {
      unify(c, f->args[0], ta, arg->pos);
      tf = f->args[1];
    } else {
      /* The function applied is the head with the arguments before this
      ** one (`f 1` in `f 1 2`), so the mismatch covers all of it. */
      hk_pos_t fpos = i ? hk_fold_merge_pos(e->a->pos, e->items[i - 1]->pos) : e->a->pos;
      hk_type_t *res = fresh(c);
      unify(c, hk_types_arrow(&c->T, ta, res), f, fpos);
      tf = res;
    }
  }
  return tf;
}

/* e1 :: .. :: en :: t is e1 :: (.. :: (en :: t)): every operand is inferred,
** left to right, before the operator rule of the innermost `::` and then of
** each enclosing one (SPEC §3.5.2): the rule of ei unifies `ti list` with
** the type of its right operand, which starts at e(i+1) (or is t). */
static hk_type_t *infer_cons(ck_t *c, hk_expr_t *e) {
  hk_type_t **ts = alloc(c, e->n * sizeof *ts);
  for (uint32_t i = 0; i < e->n; i++) ts[i] = infer(c, e->items[i]);
  hk_type_t *right = infer(c, e->a);
  for (uint32_t i = e->n; i-- > 0;) {
    hk_pos_t rpos = i + 1 < e->n ? hk_fold_merge_pos(e->items[i + 1]->pos, e->a->pos) : e->a->pos;
    /* Against a list type, `ti list` vs `u list` fails exactly where ti vs
    ** u does: no list node per link (a 10^6-link chain). */
    hk_type_t *r = hk_type_resolve(right);
    if (r->kind == HK_TYPE_CON && r->con == HK_TC_LIST) {
      unify(c, ts[i], r->args[0], rpos);
      right = r;
    } else {
      hk_type_t *t = hk_types_list(&c->T, ts[i]);
      unify(c, t, right, rpos);
      right = t;
    }
  }
  return right;
}

static hk_type_t *infer_list(ck_t *c, hk_expr_t *e) {
  if (e->cons) return infer_cons(c, e);
  hk_type_t *elem = NULL;
  for (uint32_t i = 0; i < e->n; i++) {
    hk_type_t *ti = infer(c, e->items[i]);
    if (i == 0)
      elem = ti;
    else
      unify(c, elem, ti, e->items[i]->pos);
  }
  if (!elem) elem = fresh(c);
  hk_type_t *t = hk_types_list(&c->T, elem);
  if (e->a) unify(c, t, infer(c, e->a), e->a->pos);
  return t;
}

static hk_type_t *infer_case(ck_t *c, hk_expr_t *e) {
  hk_type_t *ts = infer(c, e->a);
  hk_type_t *result = NULL;
  hk_pat_t **rows = alloc(c, (e->n + 1) * sizeof *rows);
  for (uint32_t i = 0; i < e->n; i++) {
    hk_arm_t *arm = &e->arms[i];
    size_t mark = scope_mark(c), base = c->pv.n;
    new_pattern_group(c);
    hk_type_t *tp = infer_pat(c, arm->pat, false);
    unify(c, ts, tp, arm->pat->pos);
    bind_pattern_vars(c, base);
    hk_type_t *tb = infer(c, arm->body);
    if (i == 0)
      result = tb;
    else
      unify(c, result, tb, arm->body->pos);
    scope_pop(c, mark);
    rows[i] = arm->pat;
  }
  check_match(c, rows, e->n, 1, e->pos);
  return result ? result : fresh(c);
}

static hk_type_t *infer_fn(ck_t *c, hk_expr_t *e) {
  hk_arm_t *arm = &e->arms[0];
  size_t mark = scope_mark(c), base = c->pv.n;
  new_pattern_group(c);
  hk_type_t *tp = infer_pat(c, arm->pat, false);
  bind_pattern_vars(c, base);
  hk_type_t *tb = infer(c, arm->body);
  scope_pop(c, mark);
  check_match(c, &arm->pat, 1, 1, e->pos);
  return hk_types_arrow(&c->T, tp, tb);
}

static hk_var_t *binder(ck_t *c, const char *name, hk_pos_t pos, hk_type_t *t) {
  if (!name) return NULL;
  hk_var_t *v = new_var(c, name, pos, false);
  v->type = t;
  bind_var(c, v);
  return v;
}

static hk_type_t *infer_handle(ck_t *c, hk_expr_t *e) {
  hk_type_t *tau = infer(c, e->a);
  size_t mark = scope_mark(c);
  e->ret->payload_var = binder(c, e->ret->payload, e->ret->payload_pos, tau);
  hk_type_t *rho = infer(c, e->ret->body);
  scope_pop(c, mark);
  /* The effects handled so far, as a hash set of pointers (a handler may
  ** have any number of clauses). */
  size_t cap = 8;
  while (cap < (size_t)e->n * 2) cap *= 2;
  const hk_effect_t **seen = alloc(c, cap * sizeof *seen);
  for (uint32_t i = 0; i < e->n; i++) {
    hk_handler_t *h = &e->handlers[i];
    const hk_effect_t *ef = lookup_effect(c, h->effect_name, h->pos);
    size_t slot = ((uintptr_t)ef >> 4) * 0x9e3779b97f4a7c15ull & (cap - 1);
    while (seen[slot] && seen[slot] != ef) slot = (slot + 1) & (cap - 1);
    if (seen[slot]) fail(c, h->pos, "duplicate handler for effect %s", h->effect_name);
    seen[slot] = ef;
    h->effect = ef;
    mark = scope_mark(c);
    h->payload_var = binder(c, h->payload, h->payload_pos, ef->payload);
    h->k_var = binder(c, h->k, h->k_pos, hk_types_arrow(&c->T, fresh(c), rho));
    hk_type_t *tc = infer(c, h->body);
    unify(c, rho, tc, h->body->pos);
    scope_pop(c, mark);
  }
  return rho;
}

static hk_type_t *infer_var(ck_t *c, hk_expr_t *e) {
  sent_t *s = st_get(&c->vals, e->name);
  if (!s || !s->val) fail(c, e->pos, "unbound variable: %s", e->name);
  hk_var_t *v = s->val;
  e->var = v;
  if (v->kind == HK_VAR_BUILTIN || v->poly) return hk_types_instantiate(&c->T, v->type);
  return v->type;
}

static hk_type_t *infer(ck_t *c, hk_expr_t *e) {
  hk_type_t *t;
  switch (e->kind) {
  case HK_E_INT: t = prim(c, HK_TC_INT); break;
  case HK_E_FLOAT: t = prim(c, HK_TC_FLOAT); break;
  case HK_E_STRING: t = prim(c, HK_TC_STRING); break;
  case HK_E_CHAR: t = prim(c, HK_TC_CHAR); break;
  case HK_E_BOOL: t = prim(c, HK_TC_BOOL); break;
  case HK_E_UNIT: t = prim(c, HK_TC_UNIT); break;
  case HK_E_VAR: t = infer_var(c, e); break;
  case HK_E_CON: {
    const hk_ctor_t *k = lookup_ctor(c, e->name, e->pos);
    e->ctor = k;
    t = hk_types_instantiate(&c->T, k->type);
    break;
  }
  case HK_E_TUPLE: {
    hk_type_t **items = alloc(c, e->n * sizeof *items);
    for (uint32_t i = 0; i < e->n; i++) items[i] = infer(c, e->items[i]);
    t = hk_types_tuple(&c->T, items, e->n);
    break;
  }
  case HK_E_LIST: t = infer_list(c, e); break;
  case HK_E_BINOP: t = infer_binop(c, e); break;
  case HK_E_ANDALSO:
  case HK_E_ORELSE:
    for (uint32_t i = 0; i < e->n; i++) {
      hk_type_t *ti = infer(c, e->items[i]);
      if (i + 1 < e->n || e->kind == HK_E_ORELSE)
        unify(c, prim(c, HK_TC_BOOL), ti, e->items[i]->pos);
      else
        unify(c, ti, prim(c, HK_TC_BOOL), e->items[i]->pos);
    }
    t = prim(c, HK_TC_BOOL);
    break;
  case HK_E_PREFIX: t = infer_prefix(c, e); break;
  case HK_E_APP: t = infer_app(c, e); break;
  case HK_E_IF: {
    unify(c, prim(c, HK_TC_BOOL), infer(c, e->a), e->a->pos);
    t = infer(c, e->b);
    unify(c, t, infer(c, e->c), e->c->pos);
    break;
  }
  case HK_E_LET: {
    size_t mark = scope_mark(c);
    for (uint32_t i = 0; i < e->ndecs; i++) check_dec(c, e->decs[i], false);
    t = infer(c, e->a);
    scope_pop(c, mark);
    break;
  }
  case HK_E_CASE: t = infer_case(c, e); break;
  case HK_E_FN: t = infer_fn(c, e); break;
  case HK_E_HANDLE: t = infer_handle(c, e); break;
  case HK_E_PERFORM: {
    const hk_effect_t *ef = lookup_effect(c, e->name, e->pos);
    e->effect = ef;
    unify(c, ef->payload, infer(c, e->a), e->a->pos);
    t = fresh(c);
    break;
  }
  case HK_E_RESUME:
    infer(c, e->items[0]);
    infer(c, e->items[1]);
    t = fresh(c);
    break;
  case HK_E_ANNOT:
  default: {
    hk_type_t *te = infer(c, e->a);
    t = resolve_annot(c, e->ty);
    unify(c, t, te, e->a->pos);
    break;
  }
  }
  e->type = t;
  return t;
}

/* ---- Value declarations ---- */

/* A syntactic value (SPEC §3.5.3). */
static bool is_value(const hk_expr_t *e) {
  switch (e->kind) {
  case HK_E_INT: case HK_E_FLOAT: case HK_E_STRING: case HK_E_CHAR: case HK_E_BOOL:
  case HK_E_UNIT: case HK_E_VAR: case HK_E_CON: case HK_E_FN:
    return true;
  case HK_E_TUPLE:
    for (uint32_t i = 0; i < e->n; i++)
      if (!is_value(e->items[i])) return false;
    return true;
  case HK_E_LIST:
    for (uint32_t i = 0; i < e->n; i++)
      if (!is_value(e->items[i])) return false;
    return !e->a || is_value(e->a);
  case HK_E_APP:
    return e->a->kind == HK_E_CON && e->n == 1 && is_value(e->items[0]);
  case HK_E_ANNOT:
    return is_value(e->a);
  default:
    return false;
  }
}

static void finish_binding(ck_t *c, hk_var_t *v, bool gen) {
  if (gen)
    v->poly = hk_types_generalize(&c->T, v->type) > 0;
  else
    hk_types_lower(&c->T, v->type);
}

static void check_val(ck_t *c, hk_dec_t *d, bool toplevel) {
  size_t base = c->pv.n;
  new_pattern_group(c);
  c->T.level++;
  hk_type_t *tp = infer_pat(c, d->pat, toplevel);
  hk_type_t *te = infer(c, d->expr);
  unify(c, tp, te, d->expr->pos);
  c->T.level--;
  bool gen = is_value(d->expr);
  for (size_t i = base; i < c->pv.n; i++) finish_binding(c, c->pv.v[i], gen);
  bind_pattern_vars(c, base);
}

static void check_valrec(ck_t *c, hk_dec_t *d, bool toplevel) {
  c->T.level++;
  hk_var_t *v = new_var(c, d->name, d->name_pos, toplevel);
  v->type = fresh(c);
  d->var = v;
  bind_var(c, v);
  hk_type_t *te = infer(c, d->expr);
  unify(c, v->type, te, d->expr->pos);
  c->T.level--;
  finish_binding(c, v, true);
}

static void check_fun(ck_t *c, hk_dec_t *d, bool toplevel) {
  c->T.level++;
  for (uint32_t i = 0; i < d->n; i++) {
    hk_funbind_t *fb = &d->binds[i];
    hk_var_t *v = new_var(c, fb->name, fb->pos, toplevel);
    v->fun = fb;
    v->type = fresh(c);
    fb->var = v;
    bind_var(c, v);
  }
  for (uint32_t i = 0; i < d->n; i++) {
    hk_funbind_t *fb = &d->binds[i];
    size_t mark = scope_mark(c), base = c->pv.n;
    new_pattern_group(c);
    hk_type_t **tps = alloc(c, (fb->nparams + 1) * sizeof *tps);
    for (uint32_t j = 0; j < fb->nparams; j++) tps[j] = infer_pat(c, fb->params[j], false);
    bind_pattern_vars(c, base);
    hk_type_t *res = fresh(c);
    hk_type_t *ft = res;
    for (uint32_t j = fb->nparams; j-- > 0;) ft = hk_types_arrow(&c->T, tps[j], ft);
    unify(c, fb->var->type, ft, fb->pos);
    hk_type_t *tb = infer(c, fb->body);
    unify(c, res, tb, fb->body->pos);
    scope_pop(c, mark);
    if (fb->nclauses <= 1 && fb->nparams > 0) check_match(c, fb->params, 1, fb->nparams, fb->kw);
  }
  c->T.level--;
  for (uint32_t i = 0; i < d->n; i++) finish_binding(c, d->binds[i].var, true);
}

static void check_local(ck_t *c, hk_dec_t *d, bool toplevel) {
  size_t mark = scope_mark(c);
  for (uint32_t i = 0; i < d->ndecs; i++) check_dec(c, d->decs[i], toplevel);
  size_t mid = scope_mark(c);
  for (uint32_t i = 0; i < d->ndecs2; i++) check_dec(c, d->decs2[i], toplevel);
  /* Keep the exported bindings: undo everything, then bind them again. */
  size_t n = c->nundo - mid;
  hk_var_t **keep = malloc((n + 1) * sizeof *keep);
  if (!keep) oom(c);
  /* Undo the exported part step by step, recording the binding of each step. */
  for (size_t i = n; i-- > 0;) {
    undo_t *u = &c->undo[mid + i];
    sent_t *e = st_get(&c->vals, u->name);
    keep[i] = e->val;
    e->val = u->prev;
  }
  c->nundo = mid;
  scope_pop(c, mark);
  for (size_t i = 0; i < n; i++) bind_var(c, keep[i]);
  free(keep);
}

static void check_dec(ck_t *c, hk_dec_t *d, bool toplevel) {
  switch (d->kind) {
  case HK_D_VAL: check_val(c, d, toplevel); break;
  case HK_D_VALREC: check_valrec(c, d, toplevel); break;
  case HK_D_FUN: check_fun(c, d, toplevel); break;
  case HK_D_DATATYPE: check_datatype(c, d); break;
  case HK_D_TYPE: check_alias(c, d); break;
  case HK_D_EFFECT: check_effect(c, d); break;
  case HK_D_LOCAL: check_local(c, d, toplevel); break;
  case HK_D_USE:
  default:
    for (uint32_t i = 0; i < d->ndecs; i++) {
      check_dec(c, d->decs[i], toplevel);
      flush_warnings(c);
    }
    break;
  }
}

/* ---- Prelude and builtins ---- */

static void prelude(ck_t *c) {
  hk_pos_t none = {0, 0, 0, 0};
  /* datatype failure = RuntimeError of String | Cancelled | FuelExhausted
  **                  | HeapLimit of Int * Int | AlreadyJoined | ChildFailed of failure */
  hk_datatype_t *f = new_datatype(c, "failure", 0, 6, none);
  tyent_t *te = alloc(c, sizeof *te);
  te->dt = f;
  register_type(c, "failure", TE_DATA, te, true);
  hk_type_t *ft = hk_types_data(&c->T, f, NULL, 0);
  hk_type_t *ii[2] = {prim(c, HK_TC_INT), prim(c, HK_TC_INT)};
  add_ctor(c, f, 0, "RuntimeError", prim(c, HK_TC_STRING), ft, true);
  add_ctor(c, f, 1, "Cancelled", NULL, ft, true);
  add_ctor(c, f, 2, "FuelExhausted", NULL, ft, true);
  add_ctor(c, f, 3, "HeapLimit", hk_types_tuple(&c->T, ii, 2), ft, true);
  add_ctor(c, f, 4, "AlreadyJoined", NULL, ft, true);
  add_ctor(c, f, 5, "ChildFailed", ft, ft, true);
  f->eq = true;
  c->failure = f;
  /* datatype 'a outcome = Ok of 'a | Err of failure */
  hk_datatype_t *o = new_datatype(c, "outcome", 1, 2, none);
  hk_type_t *a = hk_types_var(&c->T, false);
  a->level = HK_LEVEL_GENERIC;
  te = alloc(c, sizeof *te);
  te->dt = o;
  te->arity = 1;
  te->params = alloc(c, sizeof *te->params);
  te->params[0] = a;
  register_type(c, "outcome", TE_DATA, te, true);
  hk_type_t *ot = hk_types_data(&c->T, o, &a, 1);
  add_ctor(c, o, 0, "Ok", a, ot, true);
  add_ctor(c, o, 1, "Err", ft, ot, true);
  o->eq = true;
  c->outcome = o;
}

static void builtins(ck_t *c, const hk_builtin_info_t *natives, uint32_t nnatives) {
  uint32_t n = HK_B__COUNT + nnatives;
  c->builtins = alloc(c, n * sizeof *c->builtins);
  c->nbuiltins = n;
  for (uint32_t i = 0; i < n; i++) {
    const hk_builtin_info_t *bi = i < HK_B__COUNT ? &hk_builtin_table[i] : &natives[i - HK_B__COUNT];
    hk_var_t *v = &c->builtins[i];
    v->name = bi->name;
    v->kind = HK_VAR_BUILTIN;
    v->builtin = (hk_builtin_id_t)i;
    v->id = c->nvars++;
    v->type = hk_types_parse_builtin(&c->T, bi->type, c->outcome);
    if (!v->type) {
      hk_diag_error_file(c->diags, 0, "internal error: bad type for builtin %s", v->name);
      bail(c);
    }
    v->poly = true;
    sent_t *e = put(c, &c->vals, v->name);
    e->val = v;
  }
}

/* ---- Entry ---- */

static void **vec_to_arena(ck_t *c, pvec_t *p) {
  void **v = alloc(c, (p->n + 1) * sizeof *v);
  if (p->n) memcpy(v, p->v, p->n * sizeof *v);
  return v;
}

static void ck_free(ck_t *c) {
  st_free(&c->vals);
  st_free(&c->ctors);
  st_free(&c->types);
  st_free(&c->effects);
  st_free(&c->patvars);
  st_free(&c->tyvars);
  free(c->undo);
  free(c->ctor_list.v);
  free(c->dt_list.v);
  free(c->eff_list.v);
  free(c->globals.v);
  free(c->pv.v);
  free(c->warns);
  hk_types_fini(&c->T);
}

int hk_check_program(hk_arena_t *arena, hk_sources_t *src, hk_diags_list_t *diags,
                     hk_program_ast_t *prog, hk_checked_t **out) {
  return hk_check_program_natives(arena, src, diags, prog, NULL, 0, out);
}

int hk_check_program_natives(hk_arena_t *arena, hk_sources_t *src, hk_diags_list_t *diags,
                             hk_program_ast_t *prog, const hk_builtin_info_t *natives,
                             uint32_t nnatives, hk_checked_t **out) {
  ck_t *c = calloc(1, sizeof *c);
  if (!c) {
    hk_diag_error_file(diags, 0, "out of memory");
    return -1;
  }
  c->arena = arena;
  c->src = src;
  c->diags = diags;
  *out = NULL;
  if (hk_types_init(&c->T, arena, oom, c) < 0) {
    hk_diag_error_file(diags, 0, "out of memory");
    free(c);
    return -1;
  }
  if (setjmp(c->jb) != 0) {
    ck_free(c);
    free(c);
    return -1;
  }
  prelude(c);
  builtins(c, natives, nnatives);
  for (uint32_t i = 0; i < prog->ndecs; i++) {
    check_dec(c, prog->decs[i], true);
    flush_warnings(c);
  }
  hk_checked_t *k = alloc(c, sizeof *k);
  k->prog = prog;
  k->nctors = (uint32_t)c->ctor_list.n;
  k->ctors = (hk_ctor_t **)vec_to_arena(c, &c->ctor_list);
  k->ndatatypes = (uint32_t)c->dt_list.n;
  k->datatypes = (hk_datatype_t **)vec_to_arena(c, &c->dt_list);
  k->neffects = (uint32_t)c->eff_list.n;
  k->effects = (hk_effect_t **)vec_to_arena(c, &c->eff_list);
  k->nglobals = (uint32_t)c->globals.n;
  k->globals = (hk_var_t **)vec_to_arena(c, &c->globals);
  k->global_names = alloc(c, (k->nglobals + 1) * sizeof *k->global_names);
  for (uint32_t i = 0; i < k->nglobals; i++) k->global_names[i] = k->globals[i]->name;
  k->nvars = c->nvars;
  k->builtins = c->builtins;
  k->nbuiltins = c->nbuiltins;
  k->json = c->json;
  *out = k;
  ck_free(c);
  free(c);
  return 0;
}
