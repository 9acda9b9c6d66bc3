/* compile.c — checked AST → program image (SPEC §11.2).
**
** A one-pass code generator for the stack machine of vm/opcodes.def.
** - Locals live in frame slots; a pattern variable simply names the slot
**   its value was matched in. Variables of enclosing functions become
**   captures (flat closures, discovered while compiling the inner body;
**   the closure is built right after, loading each captured variable in the
**   enclosing function, which may capture it in turn).
** - Globals are slots of the global store; builtins are imports.
** - Calls of a `fun` by name with at least its arity of arguments are
**   direct (CALLF/TCALLF); other applications go one argument at a time.
** - Patterns compile to backtracking tests on tags (jump to the next arm).
** - `handle` compiles its body, return clause and effect clauses to
**   closures (the body a thunk, clauses of 1 and 2 arguments), so that they
**   run on whatever stack segment the handler machinery puts them.
** - Long chains (binary operators, list literals, application spines,
**   andalso/orelse, prefix operators) are loops; recursion follows only the
**   nesting that the parser bounds (SPEC §2.3).
** Thread: one. */
#include "vm/compile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode.h"
#include "vm/opcodes.h"
#include "vm/types.h"

#define INT24_MIN (-(1 << 23))
#define INT24_MAX ((1 << 23) - 1)
#define MAX_FUNCS (1u << 22)
#define MAX_CODE (1u << 24)

typedef struct label {
  uint32_t *sites; /* word index of each jump operand to patch */
  uint32_t n, cap;
  int64_t at;      /* defined position, or -1 */
} label_t;

typedef struct cfn {
  struct cfn *parent;
  uint32_t index;
  const char *name;
  uint32_t arity, nlocals;
  uint32_t *code;
  hk_srcpos_t *pos;
  uint32_t n, cap;
  int depth, maxdepth;
  uint32_t last;  /* where the last instruction starts */
  uint32_t prev;  /* where the one before it starts */
  uint32_t label; /* where the last label was placed (a jump target) */
  uint32_t cap2_end; /* where the code ended after the last CAP2 and its two CAPs */
  const hk_var_t **caps;
  uint32_t ncaps, capcap;
} cfn_t;

typedef struct comp {
  hk_arena_t *arena;
  const hk_checked_t *ck;
  hk_diags_list_t *diags;
  hk_image_t *img;
  cfn_t *fn;          /* the function being compiled */
  hk_pos_t cur;       /* position recorded for emitted code */
  /* per variable id */
  cfn_t **owner;
  uint32_t *slot;
  int64_t *funidx;    /* function index of a `fun`-bound variable, or -1 */
  /* results */
  hk_func_t *funcs;
  uint32_t nfuncs, funcap;
  hk_value_t *consts;
  uint32_t nconsts, constcap;
  hk_handler_info_t *handlers;
  uint32_t nhandlers, hcap;
  int32_t *import_of; /* builtin id -> import index or -1 */
  uint32_t *imports;
  uint32_t nimports;
  int err;            /* 0, -1 (diagnostic), -ENOMEM */
} comp_t;

static bool failed(comp_t *c) { return c->err != 0; }
static void oom(comp_t *c) { if (!c->err) c->err = -ENOMEM; }
static void too_large(comp_t *c, const char *what) {
  if (c->err) return;
  hk_diag_error(c->diags, c->cur, "program too large: %s", what);
  c->err = -1;
}

static void *grow(comp_t *c, void *p, uint32_t *cap, uint32_t need, size_t elem) {
  if (need <= *cap) return p;
  uint32_t nc = *cap ? *cap : 8;
  while (nc < need) nc *= 2;
  void *q = realloc(p, (size_t)nc * elem);
  if (!q) {
    oom(c);
    return NULL;
  }
  *cap = nc;
  return q;
}

/* ---- Emitting ----------------------------------------------------------------- */

static void word(comp_t *c, uint32_t w) {
  cfn_t *f = c->fn;
  if (f->n >= MAX_CODE) { too_large(c, "more than 16M words of code in one function"); return; }
  uint32_t cap = f->cap;
  uint32_t *code = grow(c, f->code, &cap, f->n + 1, sizeof *code);
  if (!code) return;
  f->code = code;
  uint32_t cap2 = f->cap;
  hk_srcpos_t *pos = grow(c, f->pos, &cap2, f->n + 1, sizeof *pos);
  if (!pos) return;
  f->pos = pos;
  f->cap = cap;
  f->code[f->n] = w;
  f->pos[f->n] = (hk_srcpos_t){c->cur.file, c->cur.line, c->cur.col};
  f->n++;
}

static void adjust(comp_t *c, int pop, int push) {
  cfn_t *f = c->fn;
  f->depth -= pop;
  f->depth += push;
  if (f->depth > f->maxdepth) f->maxdepth = f->depth;
}

/* LOCAL b right after LOCAL a becomes LOCAL2 a b (argument lists, operands:
** the most frequent pair of instructions), unless a jump targets LOCAL b. */
static bool fuse_local(comp_t *c, uint32_t b) {
  cfn_t *f = c->fn;
  if (f->n == 0 || f->last != f->n - 1 || f->label == f->n || b > 0xfffu) return false;
  uint32_t w = f->code[f->last];
  if (hk_ins_op(w) != HK_I_LOCAL || hk_ins_a(w) > 0xfffu) return false;
  f->code[f->last] = hk_ins(HK_I_LOCAL2, hk_ins_a(w) | b << 12);
  adjust(c, 0, 1);
  return true;
}

/* LOCAL a right after STORE a becomes TEE a (`let val x = e in x ...`, the
** scrutinee of a case stored and tested at once), unless a jump targets
** LOCAL a. */
static bool fuse_tee(comp_t *c, uint32_t a) {
  cfn_t *f = c->fn;
  if (f->n == 0 || f->last != f->n - 1 || f->label == f->n) return false;
  if (f->code[f->last] != hk_ins(HK_I_STORE, a)) return false;
  f->code[f->last] = hk_ins(HK_I_TEE, a);
  adjust(c, 0, 1);
  return true;
}

/* CAP b right after CAP a becomes CAP2 a b before the two, which stay
** (interp.c runs them when the slice cannot charge both; a spawned closure
** of two captures, `fn () => send_message (me, i)`), unless a jump targets
** CAP b or CAP a is already the second of a CAP2's pair. */
static bool fuse_cap(comp_t *c, uint32_t b) {
  cfn_t *f = c->fn;
  if (f->n == 0 || f->last != f->n - 1 || f->label == f->n || f->cap2_end == f->n || b > 0xfffu) return false;
  uint32_t w = f->code[f->last];
  if (hk_ins_op(w) != HK_I_CAP || hk_ins_a(w) > 0xfffu) return false;
  uint32_t at = f->last;
  f->code[at] = hk_ins(HK_I_CAP2, hk_ins_a(w) | b << 12);
  word(c, w);
  word(c, hk_ins(HK_I_CAP, b));
  if (failed(c)) return true;
  f->pos[at + 1] = f->pos[at];
  f->prev = at + 1;
  f->last = at + 2;
  f->cap2_end = f->n;
  adjust(c, 0, 1);
  return true;
}

/* Emits [op] with operand [a]; stack effect from the table unless variable. */
static void emit(comp_t *c, hk_opcode_t op, uint32_t a) {
  const hk_opinfo_t *in = &hk_opinfo[op];
  if (op == HK_I_LOCAL && (fuse_tee(c, a) || fuse_local(c, a))) return;
  if (op == HK_I_CAP && fuse_cap(c, a)) return;
  bool signed_a = in->fmt == HK_FMT_S || op == HK_I_JNINT || (op >= HK_I_JNLTI && op <= HK_I_JNNEI);
  if (!signed_a && a > 0xffffffu) {
    too_large(c, "an index (local, capture, global, constant or function) above 16M");
    return;
  }
  c->fn->prev = c->fn->last;
  c->fn->last = c->fn->n;
  word(c, hk_ins(op, a & 0xffffffu));
  if (in->pop != HK_VAR) adjust(c, in->pop, in->push);
}
static void emit0(comp_t *c, hk_opcode_t op) { emit(c, op, 0); }
static void emit2(comp_t *c, hk_opcode_t op, uint32_t a, uint32_t b) {
  emit(c, op, a);
  word(c, b);
}

/* The POP of a value nobody uses (`val _ = e`). A send just emitted
** (`let val _ = send_message (p, v) in ...`) becomes SENDP (SENDTP), which
** skips this POP when it sends at once (interp.c); the POP stays for its
** other ways, and a jump landing on it is no matter (SENDP skipping it is
** the same as running it). */
static void emit_pop(comp_t *c) {
  cfn_t *f = c->fn;
  if (f->n && f->last == f->n - 1 && hk_ins_op(f->code[f->last]) == HK_I_SEND)
    f->code[f->last] = hk_ins(HK_I_SENDP, hk_ins_a(f->code[f->last]));
  else if (f->n >= 2 && f->last == f->n - 2 && hk_ins_op(f->code[f->last]) == HK_I_SENDT)
    f->code[f->last] = hk_ins(HK_I_SENDTP, hk_ins_a(f->code[f->last]));
  emit0(c, HK_I_POP);
}

static void label_init(label_t *l) { memset(l, 0, sizeof *l); l->at = -1; }
static void label_free(label_t *l) { free(l->sites); }

/* A jump to [l]: [op] with its offset in the operand (S) or second word (AJ). */
static void jump(comp_t *c, hk_opcode_t op, uint32_t a, label_t *l) {
  const hk_opinfo_t *in = &hk_opinfo[op];
  uint32_t site;
  if (in->fmt == HK_FMT_AJ) {
    emit(c, op, a);
    site = c->fn->n;
    word(c, 0);
  } else {
    site = c->fn->n;
    emit(c, op, 0);
  }
  if (l->at >= 0) {
    int64_t off = l->at - (int64_t)c->fn->n;
    if (in->fmt == HK_FMT_AJ) c->fn->code[site] = (uint32_t)(int32_t)off;
    else c->fn->code[site] = hk_ins(op, (uint32_t)off & 0xffffffu);
    return;
  }
  l->sites = grow(c, l->sites, &l->cap, l->n + 1, sizeof *l->sites);
  if (l->sites) l->sites[l->n++] = site << 1 | (in->fmt == HK_FMT_AJ);
}

/* A jump-table word targeting [l], relative to the word after it (patched
** like the second word of an AJ instruction). */
static void table_entry(comp_t *c, label_t *l) {
  uint32_t site = c->fn->n;
  word(c, 0);
  if (failed(c)) return;
  if (l->at >= 0) {
    c->fn->code[site] = (uint32_t)(int32_t)(l->at - (int64_t)(site + 1));
    return;
  }
  l->sites = grow(c, l->sites, &l->cap, l->n + 1, sizeof *l->sites);
  if (l->sites) l->sites[l->n++] = site << 1 | 1;
}

static void place(comp_t *c, label_t *l) {
  cfn_t *f = c->fn;
  l->at = f->n;
  f->label = f->n;
  if (failed(c)) return;
  for (uint32_t i = 0; i < l->n; i++) {
    uint32_t site = l->sites[i] >> 1;
    uint32_t op = hk_ins_op(f->code[site]);
    if (l->sites[i] & 1) {
      int64_t off = (int64_t)f->n - (int64_t)(site + 1);
      f->code[site] = (uint32_t)(int32_t)off;
    } else {
      int64_t off = (int64_t)f->n - (int64_t)(site + 1);
      if (off > INT24_MAX) { too_large(c, "jump too long"); return; }
      f->code[site] = hk_ins(op, (uint32_t)off & 0xffffffu);
    }
  }
}

static uint32_t new_slot(comp_t *c) { return c->fn->nlocals++; }

/* Resets the local slots from [mark] up, allocated by a `let` (or a top-level
** declaration) that has ended, to (): the collector scans whole frames, and
** their values are garbage now (SPEC §6.11.3 counts live objects). Slots are
** never reused, so nothing reads them again. */
static void clear_slots(comp_t *c, uint32_t mark) {
  for (uint32_t s = mark; s < c->fn->nlocals && !failed(c); s++) {
    emit0(c, HK_I_UNIT);
    emit(c, HK_I_STORE, s);
  }
}

static uint32_t add_const(comp_t *c, hk_value_t v) {
  for (uint32_t i = c->nconsts > 64 ? c->nconsts - 64 : 0; i < c->nconsts; i++)
    if (c->consts[i].tag == v.tag && c->consts[i].as.u == v.as.u && v.tag != HK_T_STRING) return i;
  c->consts = grow(c, c->consts, &c->constcap, c->nconsts + 1, sizeof *c->consts);
  if (!c->consts) return 0;
  if (c->nconsts >= (1u << 24)) { too_large(c, "more than 16M constants"); return 0; }
  c->consts[c->nconsts] = v;
  return c->nconsts++;
}

static void emit_int(comp_t *c, int64_t i) {
  if (i >= INT24_MIN && i <= INT24_MAX) emit(c, HK_I_INT, (uint32_t)i);
  else emit(c, HK_I_CONST, add_const(c, hk_int(i)));
}

static uint32_t string_const(comp_t *c, hk_str_t s) {
  hk_value_t v;
  if (hk_image_string(c->img, s.s, s.len, &v)) { oom(c); return 0; }
  return add_const(c, v);
}

static uint32_t import_index(comp_t *c, uint32_t id) {
  if (c->import_of[id] < 0) {
    c->imports[c->nimports] = id;
    c->import_of[id] = (int32_t)c->nimports++;
  }
  return (uint32_t)c->import_of[id];
}

/* ---- Functions ------------------------------------------------------------------ */

static uint32_t reserve_func(comp_t *c) {
  if (c->nfuncs >= MAX_FUNCS) { too_large(c, "too many functions"); return 0; }
  c->funcs = grow(c, c->funcs, &c->funcap, c->nfuncs + 1, sizeof *c->funcs);
  if (!c->funcs) return 0;
  memset(&c->funcs[c->nfuncs], 0, sizeof c->funcs[0]);
  return c->nfuncs++;
}

static void fn_begin(comp_t *c, cfn_t *f, uint32_t index, const char *name, uint32_t arity) {
  memset(f, 0, sizeof *f);
  f->parent = c->fn;
  f->index = index;
  f->name = name;
  f->arity = arity;
  f->nlocals = arity;
  c->fn = f;
}

/* Once a function's locals are counted: each TLOOP whose changed
** arguments are one run j..j+r-1 (or none), in a function of under 64
** locals (so its charge, nlocals >> 6, is 0), becomes TLOOPR, the same
** word with the run, the argument count, the locals to reset and the entry
** in its operand: no function lookup and no bit loop in the interpreter.
** Each TLOOPI (a TLOOP fused with the LADDI of its one changed argument)
** becomes TLOOPRI likewise. */
static void straight_loops(cfn_t *f) {
  if (f->nlocals >= 64) return;
  for (uint32_t at = 0; at < f->n;) {
    uint32_t w = f->code[at], len = hk_ins_len(f->code, at, f->n);
    if (len == UINT32_MAX) return;
    if (hk_ins_op(w) == HK_I_TLOOP) {
      uint32_t m = hk_ins_a(w) & 0xffffu, k = hk_ins_a(w) >> 16;
      uint32_t j = m ? (uint32_t)__builtin_ctz(m) : 0, r = (uint32_t)__builtin_popcount(m);
      if (m >> j == (1u << r) - 1u) /* k <= nlocals < 64 */
        f->code[at] = hk_ins(HK_I_TLOOPR, j | r << 4 | k << 9 | (uint32_t)(k != f->arity) << 15 |
                                               (f->nlocals - k) << 16);
    } else if (hk_ins_op(w) == HK_I_TLOOPI) { /* its local below nlocals < 64, so 6 bits */
      uint32_t a = hk_ins_a(w), k = a >> 16;
      f->code[at] = hk_ins(HK_I_TLOOPRI, (a & 63u) | (a >> 12 & 15u) << 6 | k << 10 |
                                             (uint32_t)(k != f->arity) << 16 | (f->nlocals - k) << 17);
    }
    at += len;
  }
}

/* Finishes the current function into the image table; restores the parent. */
static void fn_end(comp_t *c) {
  cfn_t *f = c->fn;
  c->fn = f->parent;
  if (!failed(c)) straight_loops(f);
  if (failed(c)) {
    free(f->code);
    free(f->pos);
    free(f->caps);
    return;
  }
  hk_func_t *out = &c->funcs[f->index];
  out->name = f->name ? f->name : "<fn>";
  out->arity = f->arity;
  out->ncaps = f->ncaps;
  out->nlocals = f->nlocals;
  out->maxstack = (uint32_t)f->maxdepth;
  out->ncode = f->n;
  out->code = hk_arena_alloc(c->arena, (size_t)f->n * sizeof *out->code + 4);
  out->pos = hk_arena_alloc(c->arena, (size_t)f->n * sizeof *out->pos + 4);
  if (!out->code || !out->pos) oom(c);
  else {
    memcpy(out->code, f->code, (size_t)f->n * sizeof *out->code);
    memcpy(out->pos, f->pos, (size_t)f->n * sizeof *out->pos);
  }
  free(f->code);
  free(f->pos);
}

/* Pushes variable [v] in the current function. */
static void load_var(comp_t *c, const hk_var_t *v);

static uint32_t capture_index(comp_t *c, cfn_t *f, const hk_var_t *v) {
  if (!f->parent) { /* a variable with no binding site seen: a checker/compiler mismatch */
    if (!c->err) {
      hk_diag_error(c->diags, c->cur, "internal error: unresolved variable '%s'", v->name);
      c->err = -1;
    }
    return 0;
  }
  for (uint32_t i = 0; i < f->ncaps; i++)
    if (f->caps[i] == v) return i;
  f->caps = grow(c, f->caps, &f->capcap, f->ncaps + 1, sizeof *f->caps);
  if (!f->caps) return 0;
  f->caps[f->ncaps] = v;
  return f->ncaps++;
}

static void load_var(comp_t *c, const hk_var_t *v) {
  switch (v->kind) {
  case HK_VAR_GLOBAL: emit(c, HK_I_GLOBAL, v->global); return;
  case HK_VAR_BUILTIN: emit(c, HK_I_BUILTIN, import_index(c, v->builtin)); return;
  case HK_VAR_LOCAL:
    if (c->owner[v->id] == c->fn) emit(c, HK_I_LOCAL, c->slot[v->id]);
    else emit(c, HK_I_CAP, capture_index(c, c->fn, v));
    return;
  }
}

/* Binds [v] to the value in local slot [s] of the current function. */
static void bind(comp_t *c, const hk_var_t *v, uint32_t s) {
  if (!v) return;
  if (v->kind == HK_VAR_GLOBAL) {
    emit(c, HK_I_LOCAL, s);
    emit(c, HK_I_SETGLOBAL, v->global);
    return;
  }
  c->owner[v->id] = c->fn;
  c->slot[v->id] = s;
}

/* After compiling function [f] (its captures known), builds its closure in
** the current function. Captures that are in [pending] (a recursive group
** being built) are pushed as () and patched later by the caller. */
static void make_closure(comp_t *c, const cfn_t *f, const hk_var_t *const *pending, uint32_t npending) {
  for (uint32_t i = 0; i < f->ncaps; i++) {
    bool later = false;
    for (uint32_t j = 0; j < npending; j++) later |= f->caps[i] == pending[j];
    if (later) emit0(c, HK_I_UNIT);
    else load_var(c, f->caps[i]);
  }
  emit2(c, HK_I_CLOSURE, f->index, f->ncaps);
  adjust(c, (int)f->ncaps, 1);
}

/* ---- Expressions and patterns --------------------------------------------------- */

static void expr(comp_t *c, hk_expr_t *e, bool tail);
static void decs(comp_t *c, hk_dec_t **d, uint32_t n, bool top);

/* Matches the value in slot [s] against [p]; jumps to [fail] on mismatch. */
static void pat(comp_t *c, hk_pat_t *p, uint32_t s, label_t *fail) {
  for (;;) {
    if (failed(c)) return;
    c->cur = p->pos;
    switch (p->kind) {
    case HK_P_WILD:
    case HK_P_UNIT: return;
    case HK_P_VAR: bind(c, p->var, s); return;
    case HK_P_INT:
      emit(c, HK_I_LOCAL, s);
      if (p->lit.i >= INT24_MIN && p->lit.i <= INT24_MAX) jump(c, HK_I_JNINT, (uint32_t)p->lit.i, fail);
      else jump(c, HK_I_JNCONST, add_const(c, hk_int(p->lit.i)), fail);
      return;
    case HK_P_FLOAT:
      emit(c, HK_I_LOCAL, s);
      jump(c, HK_I_JNCONST, add_const(c, hk_float(p->lit.f)), fail);
      return;
    case HK_P_STRING:
      emit(c, HK_I_LOCAL, s);
      jump(c, HK_I_JNCONST, string_const(c, p->lit.str), fail);
      return;
    case HK_P_CHAR:
      emit(c, HK_I_LOCAL, s);
      jump(c, HK_I_JNCHAR, p->lit.ch, fail);
      return;
    case HK_P_BOOL:
      emit(c, HK_I_LOCAL, s);
      jump(c, HK_I_JNBOOL, p->lit.b ? 1 : 0, fail);
      return;
    case HK_P_TUPLE: {
      /* Every component binds or tests something: SPLIT puts them all in
      ** consecutive new slots in one instruction (new_slot never reuses). */
      bool all = p->n <= 255 && c->fn->nlocals + p->n <= 0xffffffu;
      for (uint32_t i = 0; i < p->n && all; i++) {
        hk_pat_t *q = p->items[i];
        while (q->kind == HK_P_ANNOT) q = q->arg;
        all = q->kind != HK_P_WILD && q->kind != HK_P_UNIT;
      }
      if (all) {
        uint32_t t0 = new_slot(c);
        for (uint32_t i = 1; i < p->n; i++) new_slot(c);
        emit2(c, HK_I_SPLIT, s, t0 | p->n << 24);
        for (uint32_t i = 0; i < p->n; i++) pat(c, p->items[i], t0 + i, fail);
        return;
      }
      for (uint32_t i = 0; i < p->n; i++) {
        hk_pat_t *q = p->items[i];
        while (q->kind == HK_P_ANNOT) q = q->arg;
        if (q->kind == HK_P_WILD || q->kind == HK_P_UNIT) continue;
        emit(c, HK_I_LOCAL, s);
        emit2(c, HK_I_FIELD, i, p->n); /* the arity too: SPEC 4.10, docs/vm.md */
        uint32_t t = new_slot(c);
        emit(c, HK_I_STORE, t);
        pat(c, q, t, fail);
      }
      return;
    }
    case HK_P_LIST: {
      uint32_t cur = s;
      for (uint32_t i = 0; i < p->n && !failed(c); i++) {
        jump(c, HK_I_JNCONSL, cur, fail);
        uint32_t h = new_slot(c), t = new_slot(c); /* consecutive */
        emit2(c, HK_I_UNCONS, cur, h);
        pat(c, p->items[i], h, fail);
        cur = t;
      }
      if (!p->tail) {
        jump(c, HK_I_JNNILL, cur, fail);
        return;
      }
      p = p->tail;
      s = cur;
      continue;
    }
    case HK_P_CON:
      emit(c, HK_I_LOCAL, s);
      jump(c, HK_I_JNCTOR, p->ctor->index, fail);
      if (!p->arg) return;
      {
        uint32_t t = new_slot(c);
        emit(c, HK_I_LOCAL, s);
        emit0(c, HK_I_PAYLOAD);
        emit(c, HK_I_STORE, t);
        p = p->arg;
        s = t;
      }
      continue;
    case HK_P_AS:
      for (uint32_t i = 0; i < p->n; i++) bind(c, p->vars ? p->vars[i] : NULL, s);
      p = p->arg;
      continue;
    case HK_P_ANNOT: p = p->arg; continue;
    }
    return;
  }
}

/* Matches irrefutable-by-typing patterns [ps] against slots s0..s0+n-1: a
** mismatch is MATCHFAIL. */
static void pats_or_fail(comp_t *c, hk_pat_t *const *ps, uint32_t n, uint32_t s0) {
  label_t fail, ok;
  label_init(&fail);
  label_init(&ok);
  for (uint32_t i = 0; i < n; i++) pat(c, ps[i], s0 + i, &fail);
  if (fail.n) {
    jump(c, HK_I_JMP, 0, &ok);
    place(c, &fail);
    emit0(c, HK_I_MATCHFAIL);
    place(c, &ok);
  }
  label_free(&fail);
  label_free(&ok);
}

static void pat_or_fail(comp_t *c, hk_pat_t *p, uint32_t s) { pats_or_fail(c, &p, 1, s); }

static void ret_if(comp_t *c, bool tail) {
  if (tail) emit0(c, HK_I_RET);
}

static hk_opcode_t binop_code(hk_op_t op) {
  switch (op) {
  case HK_OP_ADD: return HK_I_ADD;
  case HK_OP_SUB: return HK_I_SUB;
  case HK_OP_MUL: return HK_I_MUL;
  case HK_OP_DIV: return HK_I_DIV;
  case HK_OP_MOD: return HK_I_MOD;
  case HK_OP_FADD: return HK_I_FADD;
  case HK_OP_FSUB: return HK_I_FSUB;
  case HK_OP_FMUL: return HK_I_FMUL;
  case HK_OP_FDIV: return HK_I_FDIV;
  case HK_OP_CONCAT: return HK_I_CONCAT;
  case HK_OP_EQ: return HK_I_EQ;
  case HK_OP_NE: return HK_I_NE;
  case HK_OP_LT: return HK_I_LT;
  case HK_OP_GT: return HK_I_GT;
  case HK_OP_LE: return HK_I_LE;
  case HK_OP_GE: return HK_I_GE;
  case HK_OP_FLT: return HK_I_FLT;
  case HK_OP_FGT: return HK_I_FGT;
  case HK_OP_FLE: return HK_I_FLE;
  case HK_OP_FGE: return HK_I_FGE;
  default: return HK_I_NOP;
  }
}

static hk_expr_t *strip(hk_expr_t *e) {
  while (e->kind == HK_E_ANNOT) e = e->a;
  return e;
}

static bool small_int(hk_expr_t *e, int64_t *v) {
  e = strip(e);
  if (e->kind != HK_E_INT || e->lit.i < INT24_MIN + 1 || e->lit.i > INT24_MAX) return false;
  *v = e->lit.i;
  return true;
}

/* An all-`^` chain of three or more operands: the operands in order, then
** CONCATN (up to HK_CONCATN_MAX at a time, the previous group's result the
** next one's first operand), so the chain is one allocation, not n - 1 ever
** longer temporaries. Returns false (nothing emitted) for another chain. */
static bool concat_chain(comp_t *c, hk_expr_t *e) {
  if (e->n < 3) return false;
  for (uint32_t i = 0; i + 1 < e->n; i++)
    if (e->ops[i] != HK_OP_CONCAT) return false;
  uint32_t have = 0; /* operands of the next CONCATN on the stack */
  for (uint32_t i = 0; i < e->n && !failed(c); i++) {
    expr(c, e->items[i], false);
    if (++have < HK_CONCATN_MAX && i + 1 < e->n) continue;
    c->cur = e->op_pos ? e->op_pos[i - 1] : e->pos;
    if (have == 2) {
      emit0(c, HK_I_CONCAT);
    } else {
      emit(c, HK_I_CONCATN, have);
      adjust(c, (int)have, 1);
    }
    have = 1;
  }
  return true;
}

static void binop(comp_t *c, hk_expr_t *e) {
  if (concat_chain(c, e)) return;
  uint32_t before = c->fn->n;
  expr(c, e->items[0], false);
  bool first_local = c->fn->n == before + 1 && hk_ins_op(c->fn->code[before]) == HK_I_LOCAL;
  for (uint32_t i = 1; i < e->n && !failed(c); i++) {
    hk_op_t op = e->ops[i - 1];
    int64_t k;
    /* Only a non-negative literal: ADDI's overflow message follows the sign
    ** of its immediate (SPEC §4.4.1 names the source operator, and x - ~1
    ** must say "subtraction"), so a negative one takes ADD/SUB below. */
    if ((op == HK_OP_ADD || op == HK_OP_SUB) && small_int(e->items[i], &k) && k >= 0) {
      c->cur = e->op_pos ? e->op_pos[i - 1] : e->pos;
      if (i == 1 && first_local) { /* LOCAL a; ADDI k => LADDI a k */
        uint32_t a = hk_ins_a(c->fn->code[before]);
        c->fn->n = before;
        adjust(c, 1, 0);
        emit2(c, HK_I_LADDI, a, (uint32_t)(int32_t)(op == HK_OP_ADD ? k : -k));
        continue;
      }
      emit(c, HK_I_ADDI, (uint32_t)(op == HK_OP_ADD ? k : -k));
      continue;
    }
    if ((op == HK_OP_MUL || op == HK_OP_DIV || op == HK_OP_MOD) && small_int(e->items[i], &k)) {
      c->cur = e->op_pos ? e->op_pos[i - 1] : e->pos;
      emit(c, op == HK_OP_MUL ? HK_I_MULI : op == HK_OP_DIV ? HK_I_DIVI : HK_I_MODI, (uint32_t)k);
      continue;
    }
    expr(c, e->items[i], false);
    c->cur = e->op_pos ? e->op_pos[i - 1] : e->pos;
    emit0(c, binop_code(op));
  }
}

/* The slot of [e] when it is a local variable of the current function, else -1. */
static int32_t local_slot(comp_t *c, hk_expr_t *e) {
  e = strip(e);
  if (e->kind != HK_E_VAR || !e->var || e->var->kind != HK_VAR_LOCAL || c->owner[e->var->id] != c->fn)
    return -1;
  return (int32_t)c->slot[e->var->id];
}

/* True if the checker gave [e] the type String. */
static bool is_string(const hk_expr_t *e) {
  hk_type_t *t = e->type ? hk_type_resolve(e->type) : NULL;
  return t && t->kind == HK_TYPE_CON && t->con == HK_TC_STRING;
}

/* Emits a conditional jump to [l] taken when [cond] is false. */
static void branch_false(comp_t *c, hk_expr_t *cond, label_t *l) {
  cond = strip(cond);
  if (cond->kind == HK_E_BINOP && cond->n == 2) {
    hk_opcode_t j = HK_I_NOP;
    switch (cond->ops[0]) {
    case HK_OP_LT: j = HK_I_JNLT; break;
    case HK_OP_LE: j = HK_I_JNLE; break;
    case HK_OP_GT: j = HK_I_JNGT; break;
    case HK_OP_GE: j = HK_I_JNGE; break;
    case HK_OP_EQ: j = HK_I_JNEQ; break;
    case HK_OP_NE: j = HK_I_JNNE; break;
    default: break;
    }
    int64_t k;
    int32_t s = (j == HK_I_JNEQ || j == HK_I_JNNE) ? local_slot(c, cond->items[0]) : -1;
    if (s >= 0 && s <= 0xfff && small_int(cond->items[1], &k) && k >= -2048 && k <= 2047) {
      /* x = k, x <> k of a local: the local is tested in place */
      c->cur = cond->op_pos ? cond->op_pos[0] : cond->pos;
      jump(c, j == HK_I_JNEQ ? HK_I_JNEQLI : HK_I_JNNELI, (uint32_t)s | ((uint32_t)k & 0xfffu) << 12, l);
      return;
    }
    if (j != HK_I_NOP && small_int(cond->items[1], &k)) {
      expr(c, cond->items[0], false);
      c->cur = cond->op_pos ? cond->op_pos[0] : cond->pos;
      jump(c, (hk_opcode_t)(j - HK_I_JNLT + HK_I_JNLTI), (uint32_t)k, l);
      return;
    }
    if (j != HK_I_NOP) {
      hk_expr_t *g = strip(cond->items[1]);
      if (j == HK_I_JNEQ && s >= 0 && s <= 0xfff && g->kind == HK_E_VAR && g->var &&
          g->var->kind == HK_VAR_GLOBAL && g->var->global <= 0xfff && !is_string(cond->items[0])) {
        /* x = g of a local and a top-level value (fanin's `i = n`): JNEQLG
        ** before the three instructions, which it runs in one when both
        ** are Ints (interp.c) */
        c->cur = cond->op_pos ? cond->op_pos[0] : cond->pos;
        emit(c, HK_I_JNEQLG, (uint32_t)s | g->var->global << 12);
      }
      expr(c, cond->items[0], false);
      expr(c, cond->items[1], false);
      c->cur = cond->op_pos ? cond->op_pos[0] : cond->pos;
      if ((j == HK_I_JNEQ || j == HK_I_JNNE) && is_string(cond->items[0]))
        j = j == HK_I_JNEQ ? HK_I_JNEQS : HK_I_JNNES; /* s = "literal", no call */
      jump(c, j, 0, l);
      return;
    }
  }
  expr(c, cond, false);
  jump(c, HK_I_JF, 0, l);
}

static void if_expr(comp_t *c, hk_expr_t *e, bool tail) {
  label_t els, end;
  label_init(&els);
  label_init(&end);
  branch_false(c, e->a, &els);
  int d0 = c->fn->depth;
  expr(c, e->b, tail);
  if (!tail) jump(c, HK_I_JMP, 0, &end);
  c->fn->depth = d0;
  place(c, &els);
  expr(c, e->c, tail);
  place(c, &end);
  label_free(&els);
  label_free(&end);
}

/* andalso (is_and) / orelse chains: nested ifs. */
static void logic_chain(comp_t *c, hk_expr_t *e, bool is_and, bool tail) {
  label_t shortc, end;
  label_init(&shortc);
  label_init(&end);
  int d0 = c->fn->depth;
  for (uint32_t i = 0; i + 1 < e->n && !failed(c); i++) {
    if (is_and) branch_false(c, e->items[i], &shortc);
    else {
      expr(c, e->items[i], false);
      jump(c, HK_I_JT, 0, &shortc);
    }
  }
  expr(c, e->items[e->n - 1], tail);
  if (!tail) jump(c, HK_I_JMP, 0, &end);
  c->fn->depth = d0;
  place(c, &shortc);
  emit(c, HK_I_BOOL, is_and ? 0 : 1);
  ret_if(c, tail);
  place(c, &end);
  label_free(&shortc);
  label_free(&end);
}

static void list_expr(comp_t *c, hk_expr_t *e, bool tail) {
  for (uint32_t i = 0; i < e->n && !failed(c); i++) expr(c, e->items[i], false);
  if (e->a) expr(c, e->a, false);
  else emit0(c, HK_I_NIL);
  c->cur = e->pos;
  for (uint32_t i = 0; i < e->n && !failed(c); i++) emit0(c, HK_I_CONS);
  ret_if(c, tail);
}

/* f a1 .. an (n >= 2) of an unknown f: CALLP after each argument but the
** last, then CALLN, so a closure of arity n gets one frame and no partial
** application (vm/interp.c). */
static void unknown_call(comp_t *c, hk_expr_t *e, bool tail) {
  uint32_t n = e->n;
  expr(c, e->a, false);
  for (uint32_t i = 0; i < n && !failed(c); i++) {
    expr(c, e->items[i], false);
    c->cur = e->pos;
    if (i + 1 < n) {
      emit2(c, HK_I_CALLP, i + 1, n);
      adjust(c, 0, 1); /* the generic path needs a slot above the top */
      adjust(c, 1, 0);
    } else {
      emit(c, tail ? HK_I_TCALLN : HK_I_CALLN, n);
      adjust(c, (int)n + 1, tail ? 0 : 1);
    }
  }
}

/* The tuple pattern of a `fun` whose only parameter is one (annotations
** aside), of 2..255 components, or NULL. Such a function takes its tuple in
** local 0 and begins with UNTUPLE n, which puts the components in locals
** 0..n-1; a direct call with a tuple expression as its argument pushes the
** components instead and enters after the UNTUPLE, so no tuple is built. */
static hk_pat_t *tuple_param(const hk_funbind_t *b) {
  if (b->nparams != 1) return NULL;
  hk_pat_t *p = b->params[0];
  while (p->kind == HK_P_ANNOT) p = p->arg;
  return p->kind == HK_P_TUPLE && p->n >= 2 && p->n <= 255 ? p : NULL;
}

/* A call in tail position of the function being compiled to itself, with
** [n] arguments [args] (as many as its parameters, or the components of its
** tuple parameter, locals 0..n-1 either way), becomes TLOOP: an argument
** that is parameter i itself, passed as argument i, is not pushed (its slot
** already holds it), the others are evaluated in order and stored into their
** slots, and the function restarts in the same frame. Slots are never
** reused (new_slot), so a variable naming slot i < n is parameter i. Only
** the first 16 arguments can change; calls changing others use TCALLG or
** TCALLF. Returns false, emitting nothing, when it does not apply. */
static bool self_tail_call(comp_t *c, const hk_expr_t *e, hk_expr_t *const *args, uint32_t n) {
  if (n > 255) return false;
  uint32_t mask = 0;
  for (uint32_t i = 0; i < n; i++) {
    hk_expr_t *a = strip(args[i]);
    if (a->kind == HK_E_VAR && a->var && a->var->kind == HK_VAR_LOCAL && c->owner[a->var->id] == c->fn &&
        c->slot[a->var->id] == i)
      continue;
    if (i >= 16) return false;
    mask |= 1u << i;
  }
  for (uint32_t i = 0; i < n; i++)
    if (mask >> i & 1u) expr(c, args[i], false);
  c->cur = e->pos;
  cfn_t *f = c->fn;
  if (!mask && f->n && f->last == f->n - 1 && f->label != f->n && f->code[f->last] == hk_ins(HK_I_POP, 0)) {
    /* `let val _ = send_message (next, x) in loop (a, b) end`: TLOOP drops
    ** the value itself (it resets the stack), so the POP goes; the depth
    ** does not grow, nothing being pushed after it. */
    f->n--;
    f->last = f->prev;
    adjust(c, 0, 1);
    /* A SENDP (SENDTP) needs its POP: a plain send again. */
    uint32_t op = f->n ? hk_ins_op(f->code[f->last]) : HK_I_NOP;
    if (op == HK_I_SENDP || op == HK_I_SENDTP)
      f->code[f->last] = hk_ins(op == HK_I_SENDP ? HK_I_SEND : HK_I_SENDT, hk_ins_a(f->code[f->last]));
  }
  uint32_t j = mask ? (uint32_t)__builtin_ctz(mask) : 0;
  if (mask == 1u << j && f->n >= 2 && f->last == f->n - 2 && f->label != f->n &&
      hk_ins_op(f->code[f->last]) == HK_I_LADDI && hk_ins_a(f->code[f->last]) <= 0xfffu) {
    /* `counter (c + 1)`, `incs (p, k - 1)`: the one changed argument is
    ** the LADDI just emitted (no jump lands after it), so LADDI and TLOOP
    ** become one TLOOPI in LADDI's two words, its immediate kept. */
    f->code[f->last] = hk_ins(HK_I_TLOOPI, hk_ins_a(f->code[f->last]) | j << 12 | n << 16);
    adjust(c, 1, 0);
    return true;
  }
  emit(c, HK_I_TLOOP, mask | n << 16);
  adjust(c, __builtin_popcount(mask), 0);
  return true;
}

static void app_expr(comp_t *c, hk_expr_t *e, bool tail) {
  hk_expr_t *f = strip(e->a);
  uint32_t done = 0;
  if (f->kind == HK_E_VAR && f->var && f->var->fun && c->funidx[f->var->id] >= 0 &&
      f->var->kind != HK_VAR_BUILTIN) {
    uint32_t k = f->var->fun->nparams;
    if (tail && k == e->n && (uint32_t)c->funidx[f->var->id] == c->fn->index) {
      hk_pat_t *tp = tuple_param(f->var->fun);
      hk_expr_t *a0 = strip(e->items[0]);
      if (!tp && self_tail_call(c, e, e->items, k)) return;
      if (tp && a0->kind == HK_E_TUPLE && a0->n == tp->n && self_tail_call(c, e, a0->items, a0->n)) return;
    }
    if (k <= e->n) {
      bool global = f->var->kind == HK_VAR_GLOBAL;
      if (!global) load_var(c, f->var);
      hk_pat_t *tp = tuple_param(f->var->fun);
      hk_expr_t *a0 = strip(e->items[0]);
      uint32_t nargs = k;
      if (tp && a0->kind == HK_E_TUPLE && a0->n == tp->n) {
        nargs = a0->n; /* the components, no tuple (tuple_param) */
        for (uint32_t i = 0; i < nargs; i++) expr(c, a0->items[i], false);
      } else {
        for (uint32_t i = 0; i < k; i++) expr(c, e->items[i], false);
      }
      c->cur = e->pos;
      bool t = tail && k == e->n;
      hk_opcode_t op = global ? (t ? HK_I_TCALLG : HK_I_CALLG) : (t ? HK_I_TCALLF : HK_I_CALLF);
      emit2(c, op, (uint32_t)c->funidx[f->var->id], nargs);
      adjust(c, (int)nargs + (global ? 0 : 1), t ? 0 : 1);
      if (t) return;
      done = k;
    }
  }
  if (!done && f->kind == HK_E_VAR && f->var && f->var->kind == HK_VAR_BUILTIN) {
    /* A builtin applied: CALLB instead of BUILTIN, arg, CALL (and in tail
    ** position CALLB, RET: the builtin adds no frame of its own). Applied
    ** to a tuple expression (send_message (p, x), every builtin of several
    ** arguments, SPEC 8.1.1), CALLBT passes the components and the builtin
    ** sees them as a tuple that is never allocated (interp.c). */
    hk_expr_t *a0 = strip(e->items[0]);
    hk_expr_t *msg = a0->kind == HK_E_TUPLE && a0->n == 2 ? strip(a0->items[1]) : NULL;
    if (f->var->builtin == HK_B_send_message && msg && msg->kind == HK_E_TUPLE && msg->n >= 2 &&
        msg->n <= HK_CALLBT_MAX) {
      /* send_message (p, (x, y)): SENDT sends the components as a tuple
      ** the interpreter builds on its C stack (TUPLE, CALLBT in one). */
      expr(c, a0->items[0], false);
      for (uint32_t i = 0; i < msg->n; i++) expr(c, msg->items[i], false);
      c->cur = e->pos;
      emit2(c, HK_I_SENDT, import_index(c, f->var->builtin), msg->n);
      adjust(c, (int)msg->n + 1, 1);
    } else if (a0->kind == HK_E_TUPLE && a0->n >= 2 && a0->n <= HK_CALLBT_MAX) {
      for (uint32_t i = 0; i < a0->n; i++) expr(c, a0->items[i], false);
      c->cur = e->pos;
      if (f->var->builtin == HK_B_send_message && a0->n == 2) {
        emit(c, HK_I_SEND, import_index(c, f->var->builtin)); /* send_message (p, v) */
      } else {
        emit2(c, HK_I_CALLBT, import_index(c, f->var->builtin), a0->n);
        adjust(c, (int)a0->n, 1);
      }
    } else if (a0->kind == HK_E_UNIT) { /* receive_message (), self () */
      c->cur = e->pos;
      emit(c, f->var->builtin == HK_B_receive_message ? HK_I_RECV : HK_I_CALLBU, import_index(c, f->var->builtin));
    } else {
      expr(c, e->items[0], false);
      c->cur = e->pos;
      emit(c, HK_I_CALLB, import_index(c, f->var->builtin));
    }
    done = 1;
    if (e->n == 1) {
      ret_if(c, tail);
      return;
    }
  }
  if (!done && e->n >= 2 && e->n <= HK_CALLN_MAX) {
    unknown_call(c, e, tail);
    return;
  }
  hk_expr_t *a0 = strip(e->items[0]);
  if (!done && e->n == 1 && a0->kind == HK_E_TUPLE && a0->n >= 2 && a0->n <= 255) {
    /* f (x, y) of an unknown f: CALLT passes the components, which a
    ** function of one tuple pattern takes without the tuple (interp.c). */
    expr(c, e->a, false);
    for (uint32_t i = 0; i < a0->n; i++) expr(c, a0->items[i], false);
    c->cur = e->pos;
    emit(c, tail ? HK_I_TCALLT : HK_I_CALLT, a0->n);
    adjust(c, (int)a0->n + 1, tail ? 0 : 1);
    return;
  }
  if (!done) expr(c, e->a, false);
  for (uint32_t i = done; i < e->n && !failed(c); i++) {
    expr(c, e->items[i], false);
    c->cur = e->pos;
    if (tail && i + 1 == e->n) emit0(c, HK_I_TCALL);
    else emit0(c, HK_I_CALL);
  }
}

/* The pattern without its `as` names and annotations. */
static hk_pat_t *top_pat(hk_pat_t *p) {
  while (p->kind == HK_P_AS || p->kind == HK_P_ANNOT) p = p->arg;
  return p;
}

/* A local variable of the function being compiled: its own slot, or
** UINT32_MAX. */
static uint32_t own_slot(const comp_t *c, const hk_expr_t *e) {
  if (e->kind == HK_E_VAR && e->var && e->var->kind == HK_VAR_LOCAL && c->owner[e->var->id] == c->fn)
    return c->slot[e->var->id];
  return UINT32_MAX;
}

/* The arm's pattern without annotations if it is a tuple of [n] or `_`
** (both match without the tuple itself), else NULL. */
static hk_pat_t *column_pat(hk_pat_t *p, uint32_t n) {
  while (p->kind == HK_P_ANNOT) p = p->arg;
  if (p->kind == HK_P_WILD || (p->kind == HK_P_TUPLE && p->n == n)) return p;
  return NULL;
}

/* The arms of case [e] after its scrutinee: each arm matches slot [s], or
** the columns [cols] (case_columns), entered by [arm]'s labels if any
** (a SWITCH), then MATCHFAIL; the slots from [mark] up are cleared after a
** case that is not in tail position. */
static void case_arms(comp_t *c, hk_expr_t *e, bool tail, int d0, uint32_t mark, uint32_t s,
                      const uint32_t *cols, label_t *arm) {
  label_t end;
  label_init(&end);
  for (uint32_t i = 0; i < e->n && !failed(c); i++) {
    label_t next;
    label_init(&next);
    c->fn->depth = d0;
    if (arm) place(c, &arm[i]);
    hk_pat_t *p = e->arms[i].pat;
    while (cols && p->kind == HK_P_ANNOT) p = p->arg;
    if (!cols) pat(c, p, s, &next);
    else if (p->kind == HK_P_TUPLE) /* else `_` (column_pat) */
      for (uint32_t j = 0; j < p->n && !failed(c); j++) pat(c, p->items[j], cols[j], &next);
    expr(c, e->arms[i].body, tail);
    if (!tail) jump(c, HK_I_JMP, 0, &end);
    place(c, &next);
    label_free(&next);
  }
  c->fn->depth = d0;
  c->cur = e->pos;
  if (arm) place(c, &arm[e->n]);
  emit0(c, HK_I_MATCHFAIL);
  if (!tail) adjust(c, 0, 1);
  place(c, &end);
  label_free(&end);
  if (!tail) clear_slots(c, mark); /* the scrutinee or items and the arms' variables */
}

/* `case (e1, ..., en) of (p1, ..., pn) => ... | ...`, when every arm is a
** tuple pattern or `_`: a clausal `fun` of several parameters (the parser
** makes it a case on the tuple of its parameters) and the usual way to
** match two lists at once. The items go to slots of their own (a local
** variable's own slot) in order, and each arm matches them column by
** column: no tuple is built, so a call of such a function allocates
** nothing for its arguments. Returns false (nothing emitted) otherwise. */
static bool case_columns(comp_t *c, hk_expr_t *e, bool tail) {
  hk_expr_t *sc = strip(e->a);
  if (sc->kind != HK_E_TUPLE || sc->n < 2 || sc->n > 255) return false;
  for (uint32_t i = 0; i < e->n; i++)
    if (!column_pat(e->arms[i].pat, sc->n)) return false;
  uint32_t mark = c->fn->nlocals;
  uint32_t *cols = malloc(sc->n * sizeof *cols);
  if (!cols) return oom(c), true;
  for (uint32_t i = 0; i < sc->n && !failed(c); i++) {
    cols[i] = own_slot(c, strip(sc->items[i]));
    if (cols[i] != UINT32_MAX) continue;
    expr(c, sc->items[i], false);
    cols[i] = new_slot(c);
    emit(c, HK_I_STORE, cols[i]);
  }
  case_arms(c, e, tail, c->fn->depth, mark, 0, cols, NULL);
  free(cols);
  return true;
}

static void case_expr(comp_t *c, hk_expr_t *e, bool tail) {
  if (case_columns(c, e, tail)) return;
  uint32_t mark = c->fn->nlocals;
  uint32_t s = own_slot(c, strip(e->a)); /* match a variable's own slot */
  if (s == UINT32_MAX) {
    expr(c, e->a, false);
    s = new_slot(c);
    emit(c, HK_I_STORE, s);
  }
  int d0 = c->fn->depth;
  /* A match on a datatype with several constructors first jumps, by the
  ** value's tag, to the first arm that can match it (a decision on tags);
  ** the usual tests of that arm and the arms after it still run, so the
  ** result is exactly the one of trying the arms in order. */
  label_t *arm = NULL;
  const hk_datatype_t *dt = NULL;
  hk_pat_t *p0 = top_pat(e->arms[0].pat);
  if (e->n >= 3 && p0->kind == HK_P_CON && p0->ctor && p0->ctor->datatype &&
      p0->ctor->datatype->nctors >= 3)
    dt = p0->ctor->datatype;
  /* first[t]: the first arm that can match tag t, found in one pass over
  ** the arms (an arm that is not one of dt's constructors matches every tag
  ** and ends the pass), so a large match costs O(arms + constructors). */
  uint32_t *first = NULL;
  if (dt && (first = malloc(dt->nctors * sizeof *first)) &&
      (arm = calloc(e->n + 1, sizeof *arm))) {
    uint32_t any = e->n;
    for (uint32_t t = 0; t < dt->nctors; t++) first[t] = e->n;
    for (uint32_t i = 0; i < e->n && any == e->n; i++) {
      hk_pat_t *q = top_pat(e->arms[i].pat);
      if (q->kind != HK_P_CON || !q->ctor || q->ctor->datatype != dt) any = i;
      else if (q->ctor->tag < dt->nctors && first[q->ctor->tag] == e->n) first[q->ctor->tag] = i;
    }
    for (uint32_t i = 0; i <= e->n; i++) label_init(&arm[i]);
    c->cur = e->pos;
    emit(c, HK_I_SWITCH, s);
    word(c, dt->nctors);
    word(c, dt->index);
    for (uint32_t t = 0; t < dt->nctors; t++) table_entry(c, &arm[first[t] < any ? first[t] : any]);
  }
  free(first);
  case_arms(c, e, tail, d0, mark, s, NULL, arm);
  if (arm) {
    for (uint32_t i = 0; i <= e->n; i++) label_free(&arm[i]);
    free(arm);
  }
}

static void fn_expr(comp_t *c, hk_expr_t *e) {
  uint32_t idx = reserve_func(c);
  if (failed(c)) return;
  cfn_t f;
  fn_begin(c, &f, idx, "<fn>", 1);
  hk_pat_t *p = e->arms[0].pat;
  while (p->kind == HK_P_ANNOT) p = p->arg;
  /* A parameter never read (fn () => e: every spawned closure) gets no
  ** local: the argument lands in the first stack slot (bytecode.c,
  ** verify_func), 16 bytes less of every process's first stack. */
  if (p->kind == HK_P_UNIT || p->kind == HK_P_WILD) {
    f.nlocals = 0;
  } else if (p->kind == HK_P_TUPLE && p->n <= 255) {
    /* fn (acc, x) => ..: UNTUPLE, as a fun of one tuple pattern (fun_body),
    ** so CALLT can pass the components without the tuple. */
    emit(c, HK_I_UNTUPLE, p->n);
    for (uint32_t i = 1; i < p->n; i++) new_slot(c); /* locals 1..n-1 */
    pats_or_fail(c, p->items, p->n, 0);
  } else {
    pat_or_fail(c, e->arms[0].pat, 0);
  }
  expr(c, e->arms[0].body, true);
  fn_end(c);
  if (failed(c)) { free(f.caps); return; }
  make_closure(c, &f, NULL, 0);
  free(f.caps);
}

/* A clause function of [arity] (1 or 2) binding [v0], [v1] to its
** parameters, evaluating [body]; leaves its closure on the stack. */
static void clause_fn(comp_t *c, const char *name, uint32_t arity, const hk_var_t *v0,
                      const hk_var_t *v1, hk_expr_t *body) {
  uint32_t idx = reserve_func(c);
  if (failed(c)) return;
  cfn_t f;
  fn_begin(c, &f, idx, name, arity);
  if (v0) bind(c, v0, 0);
  if (v1) bind(c, v1, 1);
  expr(c, body, true);
  fn_end(c);
  if (failed(c)) { free(f.caps); return; }
  make_closure(c, &f, NULL, 0);
  free(f.caps);
}

static void handle_expr(comp_t *c, hk_expr_t *e, bool tail) {
  clause_fn(c, "<handle>", 1, NULL, NULL, e->a);
  clause_fn(c, "<return>", 1, e->ret->payload_var, NULL, e->ret->body);
  c->handlers = grow(c, c->handlers, &c->hcap, c->nhandlers + 1, sizeof *c->handlers);
  if (failed(c)) return;
  hk_handler_info_t *hi = &c->handlers[c->nhandlers];
  hi->n = e->n;
  hi->effects = hk_arena_alloc(c->arena, (e->n + 1) * sizeof *hi->effects);
  if (!hi->effects) { oom(c); return; }
  uint32_t h = c->nhandlers++;
  for (uint32_t i = 0; i < e->n && !failed(c); i++) {
    hk_handler_t *cl = &e->handlers[i];
    c->handlers[h].effects[i] = cl->effect->index;
    clause_fn(c, cl->effect_name, 2, cl->payload_var, cl->k_var, cl->body);
  }
  c->cur = e->pos;
  emit(c, tail ? HK_I_THANDLE : HK_I_HANDLE, h);
  adjust(c, (int)e->n + 2, tail ? 0 : 1);
}

static void expr(comp_t *c, hk_expr_t *e, bool tail) {
  if (failed(c)) return;
  c->cur = e->pos;
  switch (e->kind) {
  case HK_E_INT: emit_int(c, e->lit.i); break;
  case HK_E_FLOAT: emit(c, HK_I_CONST, add_const(c, hk_float(e->lit.f))); break;
  case HK_E_STRING: emit(c, HK_I_CONST, string_const(c, e->lit.str)); break;
  case HK_E_CHAR: emit(c, HK_I_CHAR, e->lit.ch); break;
  case HK_E_BOOL: emit(c, HK_I_BOOL, e->lit.b); break;
  case HK_E_UNIT: emit0(c, HK_I_UNIT); break;
  case HK_E_VAR: load_var(c, e->var); break;
  case HK_E_CON:
    emit(c, e->ctor->has_payload ? HK_I_CTORFN : HK_I_DATA0, e->ctor->index);
    break;
  case HK_E_TUPLE:
    if (e->n > 255 * 256) { too_large(c, "tuple too large"); return; }
    for (uint32_t i = 0; i < e->n; i++) expr(c, e->items[i], false);
    c->cur = e->pos;
    emit(c, HK_I_TUPLE, e->n);
    adjust(c, (int)e->n, 1);
    break;
  case HK_E_LIST: list_expr(c, e, tail); return;
  case HK_E_BINOP: binop(c, e); break;
  case HK_E_ANDALSO: logic_chain(c, e, true, tail); return;
  case HK_E_ORELSE: logic_chain(c, e, false, tail); return;
  case HK_E_PREFIX: {
    expr(c, e->a, false);
    /* ~ has its operand's static type (SPEC 3.6): check that kind at run time. */
    hk_type_t *t = e->a->type ? hk_type_resolve(e->a->type) : NULL;
    bool is_float = t && t->kind == HK_TYPE_CON && t->con == HK_TC_FLOAT;
    for (uint32_t i = e->n; i-- > 0;) {
      c->cur = e->op_pos ? e->op_pos[i] : e->pos;
      emit0(c, e->ops[i] == HK_OP_NOT ? HK_I_NOT : is_float ? HK_I_FNEG : HK_I_NEG);
    }
    break;
  }
  case HK_E_APP: app_expr(c, e, tail); return;
  case HK_E_IF: if_expr(c, e, tail); return;
  case HK_E_LET: {
    uint32_t mark = c->fn->nlocals;
    decs(c, e->decs, e->ndecs, false);
    expr(c, e->a, tail);
    if (tail) return;
    clear_slots(c, mark);
    return;
  }
  case HK_E_CASE: case_expr(c, e, tail); return;
  case HK_E_FN: fn_expr(c, e); break;
  case HK_E_HANDLE: handle_expr(c, e, tail); return;
  case HK_E_PERFORM:
    expr(c, e->a, false);
    c->cur = e->pos;
    emit(c, HK_I_PERFORM, e->effect->index);
    break;
  case HK_E_RESUME:
    expr(c, e->items[0], false);
    expr(c, e->items[1], false);
    c->cur = e->pos;
    if (tail) { emit0(c, HK_I_TRESUME); return; }
    emit0(c, HK_I_RESUME);
    break;
  case HK_E_ANNOT: expr(c, e->a, tail); return;
  }
  ret_if(c, tail);
}

/* ---- Declarations ----------------------------------------------------------------- */

/* Compiles the function of funbind [b] (index already reserved). A
** function of one tuple pattern starts with UNTUPLE (tupled_arity). */
static void fun_body(comp_t *c, hk_funbind_t *b, cfn_t *f) {
  fn_begin(c, f, (uint32_t)c->funidx[b->var->id], b->name, b->nparams);
  c->cur = b->pos;
  hk_pat_t *tp = tuple_param(b);
  if (tp) {
    emit(c, HK_I_UNTUPLE, tp->n);
    for (uint32_t i = 1; i < tp->n; i++) new_slot(c); /* locals 1..n-1 */
    pats_or_fail(c, tp->items, tp->n, 0);
  } else {
    pats_or_fail(c, b->params, b->nparams, 0);
  }
  expr(c, b->body, true);
  fn_end(c);
}

static void fun_group(comp_t *c, hk_dec_t *d, bool top) {
  uint32_t n = d->n;
  for (uint32_t i = 0; i < n; i++) c->funidx[d->binds[i].var->id] = reserve_func(c);
  if (failed(c)) return;
  cfn_t *fs = calloc(n, sizeof *fs);
  const hk_var_t **group = calloc(n, sizeof *group);
  if (!fs || !group) { free(fs); free(group); oom(c); return; }
  for (uint32_t i = 0; i < n; i++) group[i] = d->binds[i].var;
  /* Local functions get their slots first: bodies may refer to each other. */
  uint32_t *slots = calloc(n, sizeof *slots);
  if (!slots) { free(fs); free(group); oom(c); return; }
  for (uint32_t i = 0; i < n; i++) {
    if (!top && group[i]->kind == HK_VAR_LOCAL) {
      slots[i] = new_slot(c);
      c->owner[group[i]->id] = c->fn;
      c->slot[group[i]->id] = slots[i];
    }
  }
  for (uint32_t i = 0; i < n && !failed(c); i++) fun_body(c, &d->binds[i], &fs[i]);
  for (uint32_t i = 0; i < n && !failed(c); i++) {
    c->cur = d->binds[i].pos;
    make_closure(c, &fs[i], group, n);
    if (group[i]->kind == HK_VAR_GLOBAL) emit(c, HK_I_SETGLOBAL, group[i]->global);
    else emit(c, HK_I_STORE, slots[i]);
  }
  /* Patch captures of the group's own closures (recursion). */
  for (uint32_t i = 0; i < n && !failed(c); i++) {
    if (group[i]->kind != HK_VAR_LOCAL) continue;
    for (uint32_t j = 0; j < fs[i].ncaps; j++)
      for (uint32_t k = 0; k < n; k++)
        if (fs[i].caps[j] == group[k]) {
          emit(c, HK_I_LOCAL, slots[i]);
          load_var(c, group[k]);
          emit(c, HK_I_SETCAP, j);
          emit0(c, HK_I_POP);
        }
  }
  for (uint32_t i = 0; i < n; i++) free(fs[i].caps);
  free(fs);
  free(group);
  free(slots);
}

static void val_rec(comp_t *c, hk_dec_t *d) {
  hk_var_t *v = d->var;
  hk_expr_t *fe = strip(d->expr);
  uint32_t slot = 0;
  if (v->kind == HK_VAR_LOCAL) {
    slot = new_slot(c);
    c->owner[v->id] = c->fn;
    c->slot[v->id] = slot;
  }
  uint32_t idx = reserve_func(c);
  if (failed(c)) return;
  cfn_t f;
  fn_begin(c, &f, idx, v->name, 1);
  pat_or_fail(c, fe->arms[0].pat, 0);
  expr(c, fe->arms[0].body, true);
  fn_end(c);
  if (failed(c)) { free(f.caps); return; }
  const hk_var_t *self = v;
  make_closure(c, &f, &self, 1);
  if (v->kind == HK_VAR_GLOBAL) emit(c, HK_I_SETGLOBAL, v->global);
  else {
    emit(c, HK_I_STORE, slot);
    for (uint32_t j = 0; j < f.ncaps; j++)
      if (f.caps[j] == v) {
        emit(c, HK_I_LOCAL, slot);
        emit(c, HK_I_LOCAL, slot);
        emit(c, HK_I_SETCAP, j);
        emit0(c, HK_I_POP);
      }
  }
  free(f.caps);
}

static void dec(comp_t *c, hk_dec_t *d, bool top) {
  if (failed(c)) return;
  c->cur = d->pos;
  switch (d->kind) {
  case HK_D_VAL: {
    expr(c, d->expr, false);
    hk_pat_t *p = d->pat;
    while (p->kind == HK_P_ANNOT) p = p->arg;
    if (p->kind == HK_P_VAR && p->var && p->var->kind == HK_VAR_GLOBAL) {
      emit(c, HK_I_SETGLOBAL, p->var->global);
      return;
    }
    if (p->kind == HK_P_WILD || p->kind == HK_P_UNIT) {
      /* `val _ = e` and `val () = e` bind nothing and cannot fail: the value
      ** is dropped instead of kept in a local slot of its own (a slot is
      ** 16 bytes of every frame of the function: bench/README.md, "Memory
      ** per process 4"). */
      emit_pop(c);
      return;
    }
    uint32_t s = new_slot(c);
    emit(c, HK_I_STORE, s);
    pat_or_fail(c, d->pat, s);
    return;
  }
  case HK_D_VALREC: val_rec(c, d); return;
  case HK_D_FUN: fun_group(c, d, top); return;
  case HK_D_LOCAL:
    decs(c, d->decs, d->ndecs, top);
    decs(c, d->decs2, d->ndecs2, top);
    return;
  case HK_D_USE: decs(c, d->decs, d->ndecs, top); return;
  case HK_D_DATATYPE:
  case HK_D_TYPE:
  case HK_D_EFFECT: return;
  }
}

static void decs(comp_t *c, hk_dec_t **d, uint32_t n, bool top) {
  for (uint32_t i = 0; i < n && !failed(c); i++) dec(c, d[i], top);
}

/* The program's top level. Its bindings are globals, so the local slots a
** declaration uses (`let` and `case` inside `val _ = ...`, the value of a
** tuple pattern) are dead once it has run; they are reset to () so the
** collector does not keep their values for the rest of the program (SPEC
** §6.11.3 counts live objects: `val _ = let val big = ... in ... end`
** declared twice must not need room for both). */
static void top_decs(comp_t *c, hk_dec_t **d, uint32_t n) {
  for (uint32_t i = 0; i < n && !failed(c); i++) {
    if (d[i]->kind == HK_D_USE) {
      top_decs(c, d[i]->decs, d[i]->ndecs);
      continue;
    }
    uint32_t mark = c->fn->nlocals;
    dec(c, d[i], true);
    clear_slots(c, mark);
  }
}

/* ---- The image -------------------------------------------------------------------- */

static int build_tables(comp_t *c, const hk_sources_t *src) {
  const hk_checked_t *ck = c->ck;
  hk_image_t *img = c->img;
  hk_arena_t *a = c->arena;
  img->nctors = ck->nctors;
  img->ctors = hk_arena_alloc(a, (ck->nctors + 1) * sizeof *img->ctors);
  img->ndatatypes = ck->ndatatypes;
  img->datatypes = hk_arena_alloc(a, (ck->ndatatypes + 1) * sizeof *img->datatypes);
  img->neffects = ck->neffects;
  img->effects = hk_arena_alloc(a, (ck->neffects + 1) * sizeof *img->effects);
  img->nglobals = ck->nglobals;
  img->globals = hk_arena_alloc(a, (ck->nglobals + 1) * sizeof *img->globals);
  img->nfiles = src ? src->n : 0;
  img->files = hk_arena_alloc(a, (img->nfiles + 1) * sizeof *img->files);
  if (!img->ctors || !img->datatypes || !img->effects || !img->globals || !img->files) return -ENOMEM;
  for (uint32_t i = 0; i < ck->nctors; i++) {
    const hk_ctor_t *k = ck->ctors[i];
    img->ctors[i] = (hk_ctor_info_t){k->name, k->datatype ? k->datatype->index : 0, k->tag,
                                     k->has_payload};
  }
  for (uint32_t i = 0; i < ck->ndatatypes; i++) img->datatypes[i] = ck->datatypes[i]->name;
  for (uint32_t i = 0; i < ck->neffects; i++) img->effects[i] = ck->effects[i]->name;
  for (uint32_t i = 0; i < ck->nglobals; i++)
    img->globals[i] = ck->global_names ? ck->global_names[i] : ck->globals[i]->name;
  for (uint32_t i = 0; i < img->nfiles; i++) img->files[i] = src->items[i].path;
  return 0;
}

/* hk_image_verify knows only the standard builtins: registered natives
** (ids from HK_B__COUNT, checked by the compiler's own table) are verified
** as if they were builtin 0, on a copy of the import table. */
static int verify_generated(hk_image_t *img, char *why, size_t why_len) {
  uint32_t *orig = img->imports, *tmp = NULL;
  for (uint32_t i = 0; i < img->nimports; i++) {
    if (orig[i] < HK_B__COUNT) continue;
    if (!tmp) {
      tmp = malloc(img->nimports * sizeof *tmp);
      if (!tmp) return 0; /* skip the cheap check rather than fail */
      memcpy(tmp, orig, img->nimports * sizeof *tmp);
    }
    tmp[i] = 0;
  }
  if (tmp) img->imports = tmp;
  int rc = hk_image_verify(img, why, why_len);
  img->imports = orig;
  free(tmp);
  return rc;
}

int hk_compile_program(hk_arena_t *arena, const hk_sources_t *src, hk_diags_list_t *diags,
                       const hk_checked_t *checked, hk_image_t **out) {
  comp_t c;
  memset(&c, 0, sizeof c);
  c.arena = arena;
  c.ck = checked;
  c.diags = diags;
  int rc = hk_image_new(&c.img, arena);
  if (rc) return rc;
  uint32_t nv = checked->nvars + 1;
  c.owner = calloc(nv, sizeof *c.owner);
  c.slot = calloc(nv, sizeof *c.slot);
  c.funidx = malloc(nv * sizeof *c.funidx);
  uint32_t nb = checked->nbuiltins ? checked->nbuiltins : HK_B__COUNT; /* + natives */
  c.import_of = malloc(nb * sizeof *c.import_of);
  c.imports = hk_arena_alloc(arena, (nb + 1) * sizeof *c.imports);
  if (!c.owner || !c.slot || !c.funidx || !c.import_of || !c.imports) {
    rc = -ENOMEM;
    goto out;
  }
  for (uint32_t i = 0; i < nv; i++) c.funidx[i] = -1;
  for (uint32_t i = 0; i < nb; i++) c.import_of[i] = -1;

  cfn_t entry;
  uint32_t ei = reserve_func(&c);
  fn_begin(&c, &entry, ei, "<main>", 0);
  top_decs(&c, checked->prog->decs, checked->prog->ndecs);
  emit0(&c, HK_I_UNIT);
  emit0(&c, HK_I_RET);
  fn_end(&c);
  free(entry.caps);
  if (c.err) {
    rc = c.err;
    goto out;
  }
  hk_image_t *img = c.img;
  img->entry = ei;
  img->nfuncs = c.nfuncs;
  img->funcs = hk_arena_alloc(arena, (c.nfuncs + 1) * sizeof *img->funcs);
  img->nconsts = c.nconsts;
  img->consts = hk_arena_alloc(arena, (c.nconsts + 1) * sizeof *img->consts);
  img->nhandlers = c.nhandlers;
  img->handlers = hk_arena_alloc(arena, (c.nhandlers + 1) * sizeof *img->handlers);
  if (!img->funcs || !img->consts || !img->handlers) {
    rc = -ENOMEM;
    goto out;
  }
  memcpy(img->funcs, c.funcs, c.nfuncs * sizeof *img->funcs);
  hk_image_size_calls(img);
  if (c.nconsts) memcpy(img->consts, c.consts, c.nconsts * sizeof *img->consts);
  if (c.nhandlers) memcpy(img->handlers, c.handlers, c.nhandlers * sizeof *img->handlers);
  img->imports = c.imports;
  img->nimports = c.nimports;
  rc = build_tables(&c, src);
  if (rc == 0) {
    /* Cheap, and turns a code-generation bug into a diagnostic instead of
    ** undefined behaviour at run time. */
    char why[200];
    if (verify_generated(img, why, sizeof why) != 0) {
      hk_diag_error(diags, (hk_pos_t){0, 0, 0, 0}, "internal error: generated code fails verification: %s", why);
      rc = -1;
    }
  }
  if (rc == 0) *out = img;
out:
  if (rc == -ENOMEM && diags) hk_diag_error(diags, (hk_pos_t){0, 0, 0, 0}, "out of memory");
  free(c.owner);
  free(c.slot);
  free(c.funidx);
  free(c.import_of);
  free(c.funcs);
  free(c.consts);
  free(c.handlers);
  return rc;
}
