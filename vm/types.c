/* types.c — type representation, unification, generalisation, printing.
** See types.h. Every traversal is iterative (explicit stacks). */
#include "vm/types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/check.h"

/* ---- Allocation ---- */

static void *talloc(hk_types_t *T, size_t size) {
  void *p = hk_arena_alloc(T->arena, size);
  if (!p) T->oom(T->oom_ctx);
  return p;
}

static void grow_vec(hk_types_t *T, hk_type_t ***v, size_t *cap, size_t need) {
  if (need <= *cap) return;
  size_t nc = *cap ? *cap * 2 : 256;
  while (nc < need) nc *= 2;
  hk_type_t **p = realloc(*v, nc * sizeof *p);
  if (!p) T->oom(T->oom_ctx);
  *v = p;
  *cap = nc;
}

static inline void spush(hk_types_t *T, hk_type_t *t) {
  if (T->nstk == T->capstk) grow_vec(T, &T->stk, &T->capstk, T->nstk + 1);
  T->stk[T->nstk++] = t;
}

static hk_type_t *new_type(hk_types_t *T, hk_type_kind_t kind, uint32_t n) {
  hk_type_t *t = talloc(T, sizeof *t);
  t->kind = (uint8_t)kind;
  t->n = n;
  if (n) t->args = talloc(T, n * sizeof *t->args);
  return t;
}

/* A lazy instance (hk_types_instantiate): the closed scheme it copies and
** the type context that will copy it (NULL once that context is gone). */
struct hk_lazy {
  hk_types_t **T;
  hk_type_t *scheme;
};

/* Follows links (with path compression) without expanding a lazy node. */
static hk_type_t *find(hk_type_t *t) {
  hk_type_t *r = t;
  while (r->link) r = r->link;
  while (t->link && t->link != r) {
    hk_type_t *next = t->link;
    t->link = r;
    t = next;
  }
  return r;
}

static hk_type_t *expand(hk_type_t *l);

/* The level bound a parent takes from its (resolved) argument [x]: none
** (0) for a ground node. */
static uint32_t arg_level(const hk_type_t *x) { return x->kind != HK_TYPE_VAR && x->ground ? 0 : x->level; }

/* Sets [t]'s ground flag and level from its (filled) args, resolved now (a
** variable already bound to a ground type counts as ground). The level of
** a structured node is an upper bound of the levels of the variables below
** it (HK_LEVEL_GENERIC, the highest, when one may be quantified): variables
** are only lowered, except by hk_types_generalize, which recomputes the
** bounds of the nodes it visits. So a walk looking for variables above a
** level skips a node whose bound is not above it. */
static hk_type_t *set_ground(hk_type_t *t) {
  bool g = true;
  uint32_t level = 0;
  for (uint32_t i = 0; i < t->n; i++) {
    hk_type_t *a = find(t->args[i]);
    g = g && a->ground;
    uint32_t l = arg_level(a);
    if (l > level) level = l;
  }
  t->ground = g;
  t->level = level;
  return t;
}

int hk_types_init(hk_types_t *T, hk_arena_t *arena, void (*oom)(void *), void *oom_ctx) {
  memset(T, 0, sizeof *T);
  T->arena = arena;
  T->oom = oom;
  T->oom_ctx = oom_ctx;
  T->self = hk_arena_alloc(arena, sizeof *T->self);
  if (!T->self) return -ENOMEM;
  *T->self = T;
  for (int c = 0; c < HK_TC__NPRIM; c++) {
    hk_type_t *t = hk_arena_alloc(arena, sizeof *t);
    if (!t) return -ENOMEM;
    t->kind = HK_TYPE_CON;
    t->con = (uint8_t)c;
    t->ground = true;
    T->prim[c] = t;
  }
  return 0;
}

void hk_types_fini(hk_types_t *T) {
  if (T->self) *T->self = NULL;
  free(T->stk);
  free(T->post);
  free(T->pairs);
  T->stk = T->post = T->pairs = NULL;
  T->capstk = T->cappost = T->cappairs = 0;
}

hk_type_t *hk_types_var(hk_types_t *T, bool eq) {
  hk_type_t *t = new_type(T, HK_TYPE_VAR, 0);
  t->eq = eq;
  t->level = T->level;
  return t;
}

hk_type_t *hk_types_prim(hk_types_t *T, hk_tcon_t c) { return T->prim[c]; }

hk_type_t *hk_types_list(hk_types_t *T, hk_type_t *elem) {
  hk_type_t *t = new_type(T, HK_TYPE_CON, 1);
  t->con = HK_TC_LIST;
  t->args[0] = elem;
  return set_ground(t);
}

hk_type_t *hk_types_arrow(hk_types_t *T, hk_type_t *a, hk_type_t *b) {
  hk_type_t *t = new_type(T, HK_TYPE_ARROW, 2);
  t->args[0] = a;
  t->args[1] = b;
  return set_ground(t);
}

hk_type_t *hk_types_tuple(hk_types_t *T, hk_type_t *const *items, uint32_t n) {
  hk_type_t *t = new_type(T, HK_TYPE_TUPLE, n);
  memcpy(t->args, items, n * sizeof *items);
  return set_ground(t);
}

hk_type_t *hk_types_data(hk_types_t *T, const hk_datatype_t *dt, hk_type_t *const *args,
                         uint32_t n) {
  hk_type_t *t = new_type(T, HK_TYPE_CON, n);
  t->con = HK_TC_DATA;
  t->dt = dt;
  if (n) memcpy(t->args, args, n * sizeof *args);
  return set_ground(t);
}

hk_type_t *hk_type_resolve(hk_type_t *t) {
  hk_type_t *r = find(t);
  return r->lazy ? expand(r) : r;
}

typedef struct bind_ctx {
  hk_type_t *v;
  uint32_t level;
  bool eq;
  int err; /* HK_TYERR_* */
} bind_ctx_t;

static int visit_bind(hk_types_t *T, hk_type_t *x, void *vctx);

/* ---- Generic traversal ----
** Visits every node reachable from [t] once (resolved); [visit] returns
** 1 to descend into the node's args, 0 to skip them, -1 to stop (walk then
** returns -1). */
typedef int (*visit_fn)(hk_types_t *T, hk_type_t *t, void *ctx);

static int walk(hk_types_t *T, hk_type_t *t, visit_fn visit, void *ctx) {
  uint32_t stamp = ++T->stamp;
  size_t base = T->nstk;
  spush(T, t);
  while (T->nstk > base) {
    hk_type_t *x = find(T->stk[--T->nstk]);
    /* Only a variable's binding without equality can leave a lazy instance
    ** unexpanded; the other walks need its contents. */
    if (x->lazy && (visit != visit_bind || ((bind_ctx_t *)ctx)->eq)) x = expand(x);
    if (x->mark == stamp) continue;
    x->mark = stamp;
    T->visits++;
    int r = visit(T, x, ctx);
    if (r < 0) {
      T->nstk = base;
      return -1;
    }
    if (r > 0)
      for (uint32_t i = x->n; i-- > 0;) spush(T, x->args[i]);
  }
  return 0;
}

/* ---- Equality ---- */

static inline void postpush(hk_types_t *T, hk_type_t *t);

/* With [collect], the ground nodes visited are listed on T->post (from a
** base the caller keeps) so that a successful walk can cache their eqok. */
static int visit_make_eq(hk_types_t *T, hk_type_t *x, void *collect) {
  if (x->eqok) return 0;
  if (collect && x->ground) postpush(T, x);
  switch (x->kind) {
  case HK_TYPE_VAR:
    x->eq = true;
    return 0;
  case HK_TYPE_ARROW:
    return -1;
  case HK_TYPE_TUPLE:
    return 1;
  default:
    if (x->con == HK_TC_RNG || x->con == HK_TC_SOCKET) return -1;
    if (x->con == HK_TC_DATA && !x->dt->eq) return -1;
    return 1;
  }
}

/* Marks the ground nodes listed on T->post from [pbase] as admitting
** equality (every one was walked to its leaves without failure), or just
** drops them when [ok] is false. */
static void finish_eq(hk_types_t *T, size_t pbase, bool ok) {
  if (ok)
    for (size_t i = pbase; i < T->npost; i++) T->post[i]->eqok = true;
  T->npost = pbase;
}

int hk_types_make_eq(hk_types_t *T, hk_type_t *t) {
  size_t pbase = T->npost;
  int r = walk(T, t, visit_make_eq, T);
  finish_eq(T, pbase, r == 0);
  return r;
}

static int visit_admits_decl(hk_types_t *T, hk_type_t *x, void *ctx) {
  (void)T;
  const hk_datatype_t *self = ctx;
  switch (x->kind) {
  case HK_TYPE_VAR:
    return 0;
  case HK_TYPE_ARROW:
    return -1;
  case HK_TYPE_TUPLE:
    return 1;
  default:
    if (x->con == HK_TC_RNG || x->con == HK_TC_SOCKET) return -1;
    if (x->con == HK_TC_DATA && x->dt != self && !x->dt->eq) return -1;
    return 1;
  }
}

bool hk_types_admits_eq_decl(hk_types_t *T, hk_type_t *t, const hk_datatype_t *self) {
  return walk(T, t, visit_admits_decl, (void *)self) == 0;
}

/* ---- Unification ---- */

static int visit_bind(hk_types_t *T, hk_type_t *x, void *vctx) {
  (void)T;
  bind_ctx_t *b = vctx;
  if (x->lazy) { /* no variable yet (walk expanded it if b->eq) */
    if (x->level > b->level) x->level = b->level;
    return 0;
  }
  if (x->kind == HK_TYPE_VAR) {
    if (x == b->v) {
      b->err = HK_TYERR_OCCURS;
      return -1;
    }
    if (x->level > b->level && x->level != HK_LEVEL_GENERIC) x->level = b->level;
    if (b->eq) x->eq = true;
    return 0;
  }
  if (x->ground && (!b->eq || x->eqok)) return 0; /* no variable: neither v nor a level */
  if (x->level < b->level && !b->eq) return 0;     /* below: neither v nor a level to lower */
  if (b->eq && visit_make_eq(T, x, T) < 0) {
    b->err = HK_TYERR_EQ;
    return -1;
  }
  return 1;
}

/* Binds variable [v] (not lazy) to [t] (t found, t != v). A lazy [t] holds
** no variable yet (its scheme is closed), so there is nothing to check: it
** takes the lower level; an equality variable needs its contents, so the
** instance is expanded first. */
static int bind(hk_types_t *T, hk_type_t *v, hk_type_t *t, hk_tyerr_t *err, bool v_expected) {
  if (t->lazy && v->eq) t = expand(t);
  if (t->lazy) {
    if (v->level < t->level) t->level = v->level;
    v->link = t;
    return 0;
  }
  if (t->kind == HK_TYPE_VAR) {
    /* Variable to variable: keep the lower level and the equality flag. */
    if (v->level < t->level) t->level = v->level;
    if (v->eq) t->eq = true;
    v->link = t;
    return 0;
  }
  bind_ctx_t b = {v, v->level, v->eq, HK_TYERR_NONE};
  size_t pbase = T->npost;
  int r = walk(T, t, visit_bind, &b);
  finish_eq(T, pbase, r == 0);
  if (r < 0) {
    err->kind = (hk_tyerr_kind_t)b.err;
    err->expected = v_expected ? v : t;
    err->found = v_expected ? t : v;
    if (b.err == HK_TYERR_EQ) err->expected = NULL, err->found = t;
    return -1;
  }
  v->link = t;
  return 0;
}

static inline void ppush(hk_types_t *T, hk_type_t *a, hk_type_t *b) {
  if (T->npairs + 2 > T->cappairs) grow_vec(T, &T->pairs, &T->cappairs, T->npairs + 2);
  T->pairs[T->npairs++] = a;
  T->pairs[T->npairs++] = b;
}

/* Forwarding a structured node to its partner (see hk_types_unify) waits
** until every pair of their arguments has been unified: a link made earlier
** could close a cycle through a variable that the occurs check then no
** longer sees (unifying `'v st` with `('b -> 'x) st` where 'x is bound to
** `'v st` must fail), and would leave a cyclic type for the error message.
** On the pairs stack, the marker pair (NULL, NULL) says that the pair below
** it is such a link; the argument pairs are pushed above it, so the stack's
** depth-first order links a node as soon as its sub-graph is done. */
static void forward(hk_type_t *a, hk_type_t *b) {
  a = hk_type_resolve(a);
  b = hk_type_resolve(b);
  if (a == b) return;
  if (a->ground && !b->ground)
    b->link = a; /* keep the node known to be ground */
  else
    a->link = b;
}

int hk_types_unify(hk_types_t *T, hk_type_t *expected, hk_type_t *found, hk_tyerr_t *err) {
  size_t base = T->npairs;
  ppush(T, expected, found);
  while (T->npairs > base) {
    hk_type_t *pb = T->pairs[--T->npairs];
    hk_type_t *pa = T->pairs[--T->npairs];
    if (!pa) { /* marker: the pair below is a finished pair of nodes */
      pb = T->pairs[--T->npairs];
      pa = T->pairs[--T->npairs];
      forward(pa, pb);
      continue;
    }
    hk_type_t *b = find(pb);
    hk_type_t *a = find(pa);
    /* A lazy instance is looked into only when met by a structure (or by
    ** another lazy instance); a variable is simply bound to it. */
    if (a->lazy && b->lazy && a != b && a->lz->scheme == b->lz->scheme) {
      /* two copies of one scheme, neither looked into: made one */
      if (a->level < b->level) b->level = a->level;
      a->link = b;
      continue;
    }
    if (a->lazy && b->lazy && a != b) a = expand(a);
    if (a->lazy && b->kind != HK_TYPE_VAR) a = expand(a);
    if (b->lazy && a->kind != HK_TYPE_VAR) b = expand(b);
    if (a == b) continue;
    int r = 0;
    if (a->kind == HK_TYPE_VAR && !a->lazy)
      r = bind(T, a, b, err, true);
    else if (b->kind == HK_TYPE_VAR && !b->lazy)
      r = bind(T, b, a, err, false);
    else if (a->kind != b->kind || a->n != b->n ||
             (a->kind == HK_TYPE_CON && (a->con != b->con || a->dt != b->dt))) {
      err->kind = HK_TYERR_MISMATCH;
      err->expected = a;
      err->found = b;
      r = -1;
    } else if (a->n) {
      /* Once their argument pairs are unified, a and b are equal: forwarding
      ** one to the other makes a shared sub-graph met again be skipped
      ** (a == b), so unifying two DAG-shaped types costs their graph size,
      ** not their tree size. */
      ppush(T, a, b);
      ppush(T, NULL, NULL);
      for (uint32_t i = a->n; i-- > 0;) ppush(T, a->args[i], b->args[i]);
    }
    if (r < 0) {
      T->npairs = base;
      return -1;
    }
  }
  return 0;
}

/* ---- Levels ----
** Generalisation and lowering change variables' levels above T->level:
** they walk only nodes whose bound is above it, in post-order, and give
** each the exact bound of its args afterwards. */

typedef struct gen_ctx {
  uint32_t level;
  size_t count;
  bool gen;  /* generalise (else lower to level) */
  bool open; /* a variable (or lazy instance) stays at or below the level */
} gen_ctx_t;

/* A lazy instance behaves like a variable standing for all the variables
** its copy would have: generalised, it becomes a generic lazy node, which
** instantiation replaces by a fresh lazy instance of the same scheme (as it
** replaces a generic variable by a fresh one, so an instance that occurs
** twice stays one instance); lowered, it lowers the level they will get. */
static void relevel_lazy(hk_type_t *x, gen_ctx_t *g) {
  if (x->level == HK_LEVEL_GENERIC) {
    if (g->gen) g->count++;
  } else if (x->level <= g->level) {
    g->open = true;
  } else if (g->gen) {
    x->level = HK_LEVEL_GENERIC;
    g->count++;
  } else {
    x->level = g->level;
  }
}

static void relevel_var(hk_type_t *x, gen_ctx_t *g) {
  if (x->level == HK_LEVEL_GENERIC) {
    if (g->gen) g->count++;
  } else if (x->level > g->level) {
    x->level = g->gen ? HK_LEVEL_GENERIC : g->level;
    if (g->gen) g->count++;
  }
}

static void relevel(hk_types_t *T, hk_type_t *t, gen_ctx_t *g) {
  uint32_t stamp = ++T->stamp;
  size_t base = T->nstk;
  spush(T, t);
  while (T->nstk > base) {
    hk_type_t *e = T->stk[--T->nstk];
    hk_type_t *x = (hk_type_t *)((uintptr_t)e & ~(uintptr_t)1);
    if ((uintptr_t)e & 1u) { /* its args are done */
      set_ground(x);
      continue;
    }
    x = find(x);
    if (x->mark == stamp) continue;
    x->mark = stamp;
    T->visits++;
    if (x->lazy) {
      relevel_lazy(x, g);
      continue;
    }
    if (x->kind == HK_TYPE_VAR) {
      relevel_var(x, g);
      if (x->level != HK_LEVEL_GENERIC) g->open = true;
      continue;
    }
    if (x->closed) { /* an earlier scheme: every variable already quantified */
      if (g->gen) g->count++;
      continue;
    }
    if (x->ground) continue;
    if (x->level <= g->level) { /* nothing above the level below */
      g->open = true;
      continue;
    }
    spush(T, (hk_type_t *)((uintptr_t)x | 1u));
    for (uint32_t i = x->n; i-- > 0;) spush(T, x->args[i]);
  }
}

size_t hk_types_generalize(hk_types_t *T, hk_type_t *t) {
  gen_ctx_t g = {T->level, 0, true, false};
  relevel(T, t, &g);
  hk_type_t *r = find(t);
  if (!g.open && g.count && r->kind != HK_TYPE_VAR && !r->ground) r->closed = true;
  return g.count;
}

void hk_types_lower(hk_types_t *T, hk_type_t *t) {
  gen_ctx_t g = {T->level, 0, false, false};
  relevel(T, t, &g);
}

/* ---- Instantiation ----
** Phase 1 lists the structured nodes reachable from t in post-order and
** gives each generic variable its copy; phase 2 rebuilds, bottom-up, the
** nodes that contain a copied variable and shares the others. */

static inline void postpush(hk_types_t *T, hk_type_t *t) {
  if (T->npost == T->cappost) grow_vec(T, &T->post, &T->cappost, T->npost + 1);
  T->post[T->npost++] = t;
}

/* A lazy instance of closed scheme [scheme] at T->level. */
static hk_type_t *new_lazy(hk_types_t *T, hk_type_t *scheme) {
  hk_type_t *l = hk_types_var(T, false);
  l->lazy = true;
  l->lz = talloc(T, sizeof *l->lz);
  l->lz->T = T->self;
  l->lz->scheme = scheme;
  return l;
}

/* Marks on the stack: an entry with its low bit set is "finish this node". */
static hk_type_t *copy_of(hk_type_t *x, uint32_t stamp) {
  x = find(x);
  return x->mark == stamp && x->copy ? x->copy : x;
}

static hk_type_t *instantiate_stamped(hk_types_t *T, hk_type_t *t, uint32_t stamp) {
  size_t base = T->nstk, pbase = T->npost;
  spush(T, t);
  while (T->nstk > base) {
    hk_type_t *e = T->stk[--T->nstk];
    bool finish = ((uintptr_t)e & 1u) != 0;
    hk_type_t *x = (hk_type_t *)((uintptr_t)e & ~(uintptr_t)1);
    if (finish) {
      postpush(T, x);
      continue;
    }
    x = find(x);
    if (x->mark == stamp) continue;
    x->mark = stamp;
    x->copy = NULL;
    T->visits++;
    if (x->lazy) {
      if (x->level == HK_LEVEL_GENERIC) x->copy = new_lazy(T, x->lz->scheme);
      continue;
    }
    if (x->kind == HK_TYPE_VAR) {
      if (x->level == HK_LEVEL_GENERIC) x->copy = hk_types_var(T, x->eq);
      continue;
    }
    if (x->ground) continue; /* nothing to copy: shared */
    spush(T, (hk_type_t *)((uintptr_t)x | 1u));
    for (uint32_t i = x->n; i-- > 0;) spush(T, x->args[i]);
  }
  for (size_t i = pbase; i < T->npost; i++) {
    hk_type_t *x = T->post[i];
    bool changed = false;
    for (uint32_t j = 0; j < x->n && !changed; j++)
      if (copy_of(x->args[j], stamp) != find(x->args[j])) changed = true;
    if (!changed) continue;
    hk_type_t *c = new_type(T, (hk_type_kind_t)x->kind, x->n);
    c->con = x->con;
    c->dt = x->dt;
    for (uint32_t j = 0; j < x->n; j++) c->args[j] = copy_of(x->args[j], stamp);
    x->copy = set_ground(c);
  }
  T->npost = pbase;
  return copy_of(t, stamp);
}

hk_type_t *hk_types_instantiate(hk_types_t *T, hk_type_t *t) {
  hk_type_t *r = find(t);
  if (r->closed) return new_lazy(T, r);
  return instantiate_stamped(T, t, ++T->stamp);
}

/* Replaces lazy instance [l] by a copy of its scheme, with variables at
** [l]'s level; returns the copy (or [l] once its context is gone). */
static hk_type_t *expand(hk_type_t *l) {
  hk_types_t *T = *l->lz->T;
  if (!T) return l;
  uint32_t saved = T->level;
  T->level = l->level;
  hk_type_t *c = instantiate_stamped(T, l->lz->scheme, ++T->stamp);
  T->level = saved;
  l->lazy = false;
  l->link = c;
  return find(c);
}

hk_type_t *hk_types_subst(hk_types_t *T, hk_type_t *t, hk_type_t *const *params,
                          hk_type_t *const *args, uint32_t n) {
  uint32_t stamp = ++T->stamp;
  for (uint32_t i = 0; i < n; i++) {
    params[i]->mark = stamp;
    params[i]->copy = args[i];
  }
  return instantiate_stamped(T, t, stamp);
}

/* ---- Builtin type strings ---- */

/* A type variable of the string being parsed: its spelling and its type. */
typedef struct bvar {
  const char *name;
  size_t len;
  hk_type_t *type;
} bvar_t;

typedef struct bparse {
  hk_types_t *T;
  const char *s;
  const hk_datatype_t *outcome;
  bvar_t *vars; /* in the arena, grown by doubling: no limit on their number */
  uint32_t nv, capv;
  bool bad;
} bparse_t;

/* Appends [t] to the list [*items] of [*n] types with room for [*cap],
** moving it to a twice larger array in the arena when full, so a type
** string may have as many tuple components as a program (SPEC §11.5). */
static void bpush(bparse_t *p, hk_type_t ***items, uint32_t *n, uint32_t *cap, hk_type_t *t) {
  if (*n == *cap) {
    hk_type_t **g = talloc(p->T, 2 * *cap * sizeof *g);
    memcpy(g, *items, *n * sizeof *g);
    *items = g;
    *cap *= 2;
  }
  (*items)[(*n)++] = t;
}

static void bskip(bparse_t *p) {
  while (*p->s == ' ') p->s++;
}

static bool bident(const char *s, size_t *len) {
  size_t n = 0;
  while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || s[n] == '_' ||
         (n > 0 && s[n] >= '0' && s[n] <= '9'))
    n++;
  *len = n;
  return n > 0;
}

static hk_type_t *bty(bparse_t *p);

static hk_type_t *bapply(bparse_t *p, hk_type_t **args, uint32_t n) {
  static const char *prims[HK_TC__NPRIM] = {"Int", "Float", "Bool", "String", "Char",
                                            "Unit", "Bytes", "Rng", "Pid", "Socket"};
  size_t len;
  if (!bident(p->s, &len)) {
    p->bad = true;
    return NULL;
  }
  const char *name = p->s;
  p->s += len;
  for (int c = 0; c < HK_TC__NPRIM; c++)
    if (strlen(prims[c]) == len && memcmp(prims[c], name, len) == 0 && n == 0)
      return p->T->prim[c];
  if (len == 4 && memcmp(name, "list", 4) == 0 && n == 1) return hk_types_list(p->T, args[0]);
  if (len == 7 && memcmp(name, "outcome", 7) == 0 && n == 1 && p->outcome)
    return hk_types_data(p->T, p->outcome, args, 1);
  p->bad = true;
  return NULL;
}

static hk_type_t *batom(bparse_t *p) {
  bskip(p);
  hk_type_t *t;
  if (*p->s == '\'') {
    const char *start = p->s;
    bool eq = p->s[1] == '\'';
    p->s += eq ? 2 : 1;
    size_t len;
    if (!bident(p->s, &len)) {
      p->bad = true;
      return NULL;
    }
    p->s += len;
    size_t full = (size_t)(p->s - start);
    uint32_t i;
    for (i = 0; i < p->nv; i++)
      if (p->vars[i].len == full && memcmp(p->vars[i].name, start, full) == 0) break;
    if (i == p->nv) {
      if (p->nv == p->capv) {
        bvar_t *g = talloc(p->T, (p->capv ? 2 * p->capv : 8) * sizeof *g);
        if (p->nv) memcpy(g, p->vars, p->nv * sizeof *g);
        p->vars = g;
        p->capv = p->capv ? 2 * p->capv : 8;
      }
      hk_type_t *v = hk_types_var(p->T, eq);
      v->level = HK_LEVEL_GENERIC;
      p->vars[p->nv++] = (bvar_t){start, full, v};
    }
    t = p->vars[i].type;
  } else if (*p->s == '(') {
    p->s++;
    hk_type_t *items[8];
    uint32_t n = 0;
    for (;;) {
      if (n == 8) {
        p->bad = true;
        return NULL;
      }
      items[n++] = bty(p);
      if (p->bad) return NULL;
      bskip(p);
      if (*p->s == ',') {
        p->s++;
        continue;
      }
      if (*p->s != ')') {
        p->bad = true;
        return NULL;
      }
      p->s++;
      break;
    }
    if (n > 1) {
      bskip(p);
      t = bapply(p, items, n);
    } else {
      t = items[0];
    }
  } else {
    t = bapply(p, NULL, 0);
  }
  /* Postfix applications. */
  for (;;) {
    if (p->bad) return NULL;
    bskip(p);
    size_t len;
    if (!bident(p->s, &len)) break;
    t = bapply(p, &t, 1);
  }
  return t;
}

static hk_type_t *bty(bparse_t *p) {
  hk_type_t *small[8], **items = small;
  uint32_t n = 0, cap = 8;
  items[n++] = batom(p);
  for (;;) {
    if (p->bad) return NULL;
    bskip(p);
    if (*p->s != '*') break;
    p->s++;
    hk_type_t *t = batom(p);
    bpush(p, &items, &n, &cap, t);
  }
  hk_type_t *t = n == 1 ? items[0] : hk_types_tuple(p->T, items, n);
  bskip(p);
  if (p->s[0] == '-' && p->s[1] == '>') {
    p->s += 2;
    hk_type_t *r = bty(p);
    if (p->bad) return NULL;
    t = hk_types_arrow(p->T, t, r);
  }
  return t;
}

hk_type_t *hk_types_parse_builtin(hk_types_t *T, const char *s, const hk_datatype_t *outcome) {
  bparse_t p;
  memset(&p, 0, sizeof p);
  p.T = T;
  p.s = s;
  p.outcome = outcome;
  hk_type_t *t = bty(&p);
  bskip(&p);
  if (p.bad || *p.s != '\0') return NULL;
  return t;
}

/* ---- Printing ---- */

enum { PRINT_MAX = 1000 };

typedef enum pctx { C_TOP, C_PARAM, C_ITEM, C_ARG } pctx_t;

typedef struct pbuf {
  char *s;
  size_t len, cap;
  bool oom;
} pbuf_t;

static void pb_add(pbuf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 128;
    while (nc < b->len + n + 1) nc *= 2;
    char *p = realloc(b->s, nc);
    if (!p) {
      b->oom = true;
      return;
    }
    b->s = p;
    b->cap = nc;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void pb_str(pbuf_t *b, const char *s) { pb_add(b, s, strlen(s)); }

void hk_tprinter_init(hk_tprinter_t *P, hk_types_t *T) {
  memset(P, 0, sizeof *P);
  P->T = T;
}

void hk_tprinter_fini(hk_tprinter_t *P) {
  free(P->vars);
  P->vars = NULL;
  P->nvars = P->capvars = 0;
}

static void print_var(hk_tprinter_t *P, hk_type_t *v, pbuf_t *b) {
  size_t i;
  for (i = 0; i < P->nvars; i++)
    if (P->vars[i] == v) break;
  if (i == P->nvars) {
    if (P->nvars == P->capvars) {
      size_t nc = P->capvars ? P->capvars * 2 : 16;
      hk_type_t **p = realloc(P->vars, nc * sizeof *p);
      if (!p) {
        b->oom = true;
        return;
      }
      P->vars = p;
      P->capvars = nc;
    }
    P->vars[P->nvars++] = v;
  }
  char name[32];
  size_t round = i / 26;
  if (round)
    snprintf(name, sizeof name, "%s%c%zu", v->eq ? "''" : "'", (char)('a' + i % 26), round);
  else
    snprintf(name, sizeof name, "%s%c", v->eq ? "''" : "'", (char)('a' + i % 26));
  pb_str(b, name);
}

static const char *con_name(hk_type_t *t) {
  static const char *names[] = {"Int", "Float", "Bool", "String", "Char", "Unit",
                                "Bytes", "Rng", "Pid", "Socket", "list"};
  if (t->con == HK_TC_DATA) return t->dt->name;
  return names[t->con];
}

/* Stack entries: a type with its context, or a literal string. */
typedef struct pitem {
  hk_type_t *t; /* NULL: the literal s */
  const char *s;
  pctx_t ctx;
} pitem_t;

typedef struct pstack {
  pitem_t *v;
  size_t n, cap;
  bool oom;
} pstack_t;

static void ps_push(pstack_t *s, hk_type_t *t, const char *str, pctx_t ctx) {
  if (s->oom) return;
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 64;
    pitem_t *p = realloc(s->v, nc * sizeof *p);
    if (!p) {
      s->oom = true;
      return;
    }
    s->v = p;
    s->cap = nc;
  }
  s->v[s->n++] = (pitem_t){t, str, ctx};
}

/* Pushes the parts of [t] (in reverse) after writing what can be written. */
static void print_node(hk_tprinter_t *P, hk_type_t *t, pctx_t ctx, pbuf_t *b, pstack_t *st) {
  t = hk_type_resolve(t);
  switch (t->kind) {
  case HK_TYPE_VAR:
    print_var(P, t, b);
    return;
  case HK_TYPE_CON: {
    if (t->n == 0) {
      pb_str(b, con_name(t));
      return;
    }
    bool paren = ctx == C_ARG;
    if (paren) pb_str(b, "(");
    if (paren) ps_push(st, NULL, ")", C_TOP);
    ps_push(st, NULL, con_name(t), C_TOP);
    if (t->n == 1) {
      ps_push(st, NULL, " ", C_TOP);
      ps_push(st, t->args[0], NULL, C_ARG);
    } else {
      ps_push(st, NULL, ") ", C_TOP);
      for (uint32_t i = t->n; i-- > 0;) {
        ps_push(st, t->args[i], NULL, C_TOP);
        if (i) ps_push(st, NULL, ", ", C_TOP);
      }
      pb_str(b, "(");
    }
    return;
  }
  case HK_TYPE_TUPLE: {
    bool paren = ctx == C_ITEM || ctx == C_ARG;
    if (paren) pb_str(b, "(");
    if (paren) ps_push(st, NULL, ")", C_TOP);
    for (uint32_t i = t->n; i-- > 0;) {
      ps_push(st, t->args[i], NULL, C_ITEM);
      if (i) ps_push(st, NULL, " * ", C_TOP);
    }
    return;
  }
  default: {
    bool paren = ctx != C_TOP;
    if (paren) pb_str(b, "(");
    if (paren) ps_push(st, NULL, ")", C_TOP);
    ps_push(st, t->args[1], NULL, C_TOP);
    ps_push(st, NULL, " -> ", C_TOP);
    ps_push(st, t->args[0], NULL, C_PARAM);
    return;
  }
  }
}

const char *hk_tprinter_print(hk_tprinter_t *P, hk_type_t *t) {
  pbuf_t b = {0};
  pstack_t st = {0};
  ps_push(&st, t, NULL, C_TOP);
  while (st.n > 0 && !st.oom && !b.oom && b.len <= PRINT_MAX) {
    pitem_t it = st.v[--st.n];
    if (it.t)
      print_node(P, it.t, it.ctx, &b, &st);
    else
      pb_str(&b, it.s);
  }
  free(st.v);
  char *out;
  if (b.oom || st.oom) {
    out = hk_arena_strdup(P->T->arena, "?", 1);
  } else if (b.len > PRINT_MAX) {
    b.len = PRINT_MAX;
    b.s[b.len] = '\0';
    pb_str(&b, "...");
    out = hk_arena_strdup(P->T->arena, b.s, b.len);
  } else {
    out = hk_arena_strdup(P->T->arena, b.s ? b.s : "", b.len);
  }
  free(b.s);
  if (!out) P->T->oom(P->T->oom_ctx);
  return out;
}
