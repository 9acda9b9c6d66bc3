/* types.h — inferred types: representation, unification with the occurs
** check and equality variables, levels for generalisation, instantiation and
** printing (SPEC §3.2, §3.5, §3.7, §3.10).
**
** Types are graphs in the compilation's arena. A type variable is bound by
** setting its link (union-find with path compression, hk_type_resolve).
** Quantified variables of a type scheme have level HK_LEVEL_GENERIC; a
** scheme is just a type whose generic variables are copied afresh by
** hk_types_instantiate. Every traversal (unify, occurs check, levels,
** instantiation, printing) uses an explicit stack, so arbitrarily deep types
** (a 10^6-link `->` chain) never recurse on the C stack; shared sub-graphs
** are visited once per traversal (stamps), so DAG-shaped types of
** exponential tree size cost their graph size.
** Thread: one (a compilation). */
#ifndef HK_TYPES_H
#define HK_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/arena.h"
#include "vm/ast.h"

typedef struct hk_datatype hk_datatype_t; /* vm/check.h */

typedef enum hk_type_kind {
  HK_TYPE_VAR,
  HK_TYPE_CON,   /* con (and dt for HK_TC_DATA) applied to args[n] */
  HK_TYPE_TUPLE, /* args[n], n >= 2 */
  HK_TYPE_ARROW, /* args[0] -> args[1] */
} hk_type_kind_t;

typedef enum hk_tcon {
  HK_TC_INT, HK_TC_FLOAT, HK_TC_BOOL, HK_TC_STRING, HK_TC_CHAR, HK_TC_UNIT,
  HK_TC_BYTES, HK_TC_RNG, HK_TC_PID, HK_TC_SOCKET,
  HK_TC__NPRIM,          /* the arity-0 built-in types come first */
  HK_TC_LIST = HK_TC__NPRIM,
  HK_TC_DATA,
} hk_tcon_t;

#define HK_LEVEL_GENERIC UINT32_MAX

struct hk_type {
  uint8_t kind;            /* hk_type_kind_t */
  uint8_t con;             /* CON: hk_tcon_t */
  bool eq;                 /* VAR: an equality variable (''a) */
  bool ground;             /* structured: no variable inside (set at construction,
                              conservative); such a graph never changes, so the
                              occurs check, levels, generalisation and instantiation
                              skip it (a chain of declarations each wrapping the
                              previous type costs its new nodes, not its depth) */
  bool eqok;               /* ground and known to admit equality (cached by
                              make_eq and equality binds once they succeed) */
  bool lazy;               /* VAR: a deferred instance of the closed scheme lz->scheme
                              (see hk_types_instantiate); hk_type_resolve expands it */
  bool closed;             /* a generalised binding's type whose variables are all
                              quantified: its instances are made lazily */
  uint32_t n;              /* number of args */
  uint32_t level;          /* VAR: binding level, HK_LEVEL_GENERIC if quantified */
  uint32_t mark;           /* traversal stamp (internal) */
  hk_type_t *link;         /* VAR: the type it is bound to; a structured node
                              unified with an equal one forwards to it; or NULL */
  hk_type_t *copy;         /* traversal scratch (internal) */
  hk_type_t **args;
  union {
    const hk_datatype_t *dt; /* CON HK_TC_DATA */
    struct hk_lazy *lz;      /* VAR with lazy set */
  };
};

typedef enum hk_tyerr_kind {
  HK_TYERR_NONE,
  HK_TYERR_MISMATCH, /* expected, found: the innermost failing pair */
  HK_TYERR_OCCURS,
  HK_TYERR_EQ,       /* found: the type that must admit equality */
} hk_tyerr_kind_t;

typedef struct hk_tyerr {
  hk_tyerr_kind_t kind;
  hk_type_t *expected, *found;
} hk_tyerr_t;

/* The type context of one compilation. */
typedef struct hk_types {
  hk_arena_t *arena;
  uint32_t level;          /* current level for new variables */
  uint32_t stamp;
  void (*oom)(void *ctx);  /* called when the arena is exhausted; must not return */
  void *oom_ctx;
  hk_type_t *prim[HK_TC__NPRIM]; /* shared Int, Float, ... */
  uint64_t visits;         /* nodes visited by traversals so far (a work counter
                              for tests; never reset) */
  struct hk_types **self;  /* in the arena: points back here until hk_types_fini
                              (a lazy instance met later is left unexpanded) */
  /* Scratch stacks (malloc'ed, reused). */
  hk_type_t **stk; size_t nstk, capstk;
  hk_type_t **post; size_t npost, cappost;
  hk_type_t **pairs; size_t npairs, cappairs;
} hk_types_t;

/* Initialises [T] over [arena]; [oom] is called (and must not return) when
** memory runs out. Returns 0 or -ENOMEM. Thread: one. */
int hk_types_init(hk_types_t *T, hk_arena_t *arena, void (*oom)(void *), void *oom_ctx);
/* Frees the scratch stacks (types stay in the arena). */
void hk_types_fini(hk_types_t *T);

/* Constructors. Returns types allocated in the arena (never NULL). */
hk_type_t *hk_types_var(hk_types_t *T, bool eq);          /* at T->level */
hk_type_t *hk_types_prim(hk_types_t *T, hk_tcon_t c);     /* Int ... Socket */
hk_type_t *hk_types_list(hk_types_t *T, hk_type_t *elem);
hk_type_t *hk_types_arrow(hk_types_t *T, hk_type_t *a, hk_type_t *b);
/* [items] is copied. */
hk_type_t *hk_types_tuple(hk_types_t *T, hk_type_t *const *items, uint32_t n);
hk_type_t *hk_types_data(hk_types_t *T, const hk_datatype_t *dt, hk_type_t *const *args,
                         uint32_t n);

/* Follows links (with path compression) and expands a lazy instance.
** Always resolve before reading kind or args. */
hk_type_t *hk_type_resolve(hk_type_t *t);

/* Unifies [expected] with [found]. Returns 0, or -1 with *err filled (for
** a mismatch, the innermost failing pair, expected side first). */
int hk_types_unify(hk_types_t *T, hk_type_t *expected, hk_type_t *found, hk_tyerr_t *err);
/* Forces [t] to admit equality (SPEC §3.7): its variables become equality
** variables. Returns 0, or -1 when it cannot (function, Rng, Socket, or a
** datatype without equality inside). */
int hk_types_make_eq(hk_types_t *T, hk_type_t *t);
/* Whether [t] admits equality assuming variables do and [self] does
** (the datatype-declaration rule of SPEC §3.7.2). */
bool hk_types_admits_eq_decl(hk_types_t *T, hk_type_t *t, const hk_datatype_t *self);

/* Quantifies the variables of [t] whose level exceeds T->level.
** Returns how many were quantified (0: the type is monomorphic). */
size_t hk_types_generalize(hk_types_t *T, hk_type_t *t);
/* Lowers every variable of [t] above T->level to T->level (a monomorphic
** binding must not be generalised later). */
void hk_types_lower(hk_types_t *T, hk_type_t *t);
/* A fresh instance of scheme [t] (generic variables copied at T->level).
** The instance of a closed scheme (see hk_types_generalize) is a lazy node
** that stands for the copy until something looks inside it: binding a
** variable to it, lowering its level, or generalising it again (which gives
** back the scheme itself) cost O(1), so a chain of declarations each using
** the previous one's polymorphic value stays linear. */
hk_type_t *hk_types_instantiate(hk_types_t *T, hk_type_t *t);
/* [t] with generic variables params[i] replaced by args[i] (alias expansion);
** other generic variables are copied fresh. */
hk_type_t *hk_types_subst(hk_types_t *T, hk_type_t *t, hk_type_t *const *params,
                          hk_type_t *const *args, uint32_t n);

/* Parses a type string of vm/builtins.def: Int Float Bool String Char Unit
** Bytes Rng Pid Socket, `list`, [outcome] for `outcome`, 'a / ''a (generic),
** `*`, `->`, parentheses and `(A, B) t`. Returns the scheme or NULL on a
** syntax error (a bug in the table). */
hk_type_t *hk_types_parse_builtin(hk_types_t *T, const char *s, const hk_datatype_t *outcome);

/* A printer: variable names are shared by every type printed with it, in
** order of first appearance (SPEC §3.10). */
typedef struct hk_tprinter {
  hk_types_t *T;
  hk_type_t **vars; size_t nvars, capvars;
} hk_tprinter_t;

void hk_tprinter_init(hk_tprinter_t *P, hk_types_t *T);
void hk_tprinter_fini(hk_tprinter_t *P);
/* Prints [t]; cut after 1,000 characters with "..." appended.
** Returns a NUL-terminated string in the arena. */
const char *hk_tprinter_print(hk_tprinter_t *P, hk_type_t *t);

#endif
