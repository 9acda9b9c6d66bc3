/* check.h — the static semantics of SPEC §3: scoping and resolution,
** type declarations, the prelude, Hindley–Milner inference with equality
** types and effects, and exhaustiveness/redundancy of matches.
**
** hk_check_program annotates the AST of vm/ast.h in place (types, resolved
** variables, constructors, effects) and returns the program-wide tables the
** compiler needs (hk_checked_t). Everything lives in the compilation's arena.
**
** Resolution contract for the compiler:
** - Every binding site (HK_P_VAR.var, HK_P_AS.vars[i], hk_funbind_t.var,
**   HK_D_VALREC dec->var, hk_handler_t.payload_var / k_var) and every use
**   (HK_E_VAR.var) of the same binding point to the same hk_var_t.
** - Builtins have one shared hk_var_t per builtin (kind HK_VAR_BUILTIN).
** - A top-level value binding (including those inside a top-level `local`,
**   in either part) is HK_VAR_GLOBAL with its own slot; a later binding of
**   the same name gets a new slot. Everything else is HK_VAR_LOCAL; the
**   compiler assigns frame slots and captures itself.
** Thread: one (a compilation). */
#ifndef HK_CHECK_H
#define HK_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "vm/arena.h"
#include "vm/ast.h"
#include "vm/builtins.h"
#include "vm/diag.h"

typedef struct hk_datatype hk_datatype_t;

typedef enum hk_var_kind {
  HK_VAR_LOCAL,   /* a parameter, pattern variable, handler binder, or a
                     binding inside let / fn / case bodies */
  HK_VAR_GLOBAL,  /* a top-level binding: slot `global` */
  HK_VAR_BUILTIN, /* a builtin of vm/builtins.def: `builtin` */
} hk_var_kind_t;

struct hk_var {
  const char *name;
  hk_var_kind_t kind;
  hk_pos_t pos;              /* the binding site (none for builtins) */
  uint32_t global;           /* GLOBAL: program-wide global slot index */
  hk_builtin_id_t builtin;   /* BUILTIN: index in hk_builtin_table */
  hk_funbind_t *fun;         /* bound by `fun` (top level or local): its
                                funbind, arity fun->nparams; else NULL */
  /* The type scheme: the type with its quantified variables marked generic
  ** (see vm/types.h); a monomorphic binding has none. */
  hk_type_t *type;
  bool poly;                 /* the scheme quantifies at least one variable */
  uint32_t id;               /* program-wide unique number (0, 1, ...) */
};

/* A datatype (prelude or program). */
struct hk_datatype {
  const char *name;
  uint32_t index;            /* program-wide, in declaration order (prelude first) */
  uint32_t ntyvars;
  uint32_t nctors;
  hk_ctor_t **ctors;         /* [nctors], by tag */
  bool eq;                   /* admits equality (SPEC §3.7.2) */
  hk_pos_t pos;              /* the name in its declaration (none for the prelude) */
};

struct hk_ctor {
  const char *name;
  uint32_t tag;              /* 0..n-1 in declaration order */
  bool has_payload;
  uint32_t index;            /* program-wide constructor index, prelude first */
  const hk_datatype_t *datatype;
  hk_type_t *payload;        /* payload type over the datatype's generic
                                variables, NULL when nullary */
  hk_type_t *type;           /* scheme: payload -> (tvs) t, or (tvs) t */
};

struct hk_effect {
  const char *name;
  uint32_t index;            /* program-wide, in declaration order */
  hk_type_t *payload;        /* closed payload type (Unit for `effect E`) */
  hk_pos_t pos;
};

/* Prelude constructor indices (SPEC §3.4): they come first, with these tags. */
enum {
  HK_CTOR_RUNTIME_ERROR = 0, /* failure, tag 0 */
  HK_CTOR_CANCELLED,         /* tag 1 */
  HK_CTOR_FUEL_EXHAUSTED,    /* tag 2 */
  HK_CTOR_HEAP_LIMIT,        /* tag 3 */
  HK_CTOR_ALREADY_JOINED,    /* tag 4 */
  HK_CTOR_CHILD_FAILED,      /* tag 5 */
  HK_CTOR_OK,                /* outcome, tag 0 */
  HK_CTOR_ERR,               /* outcome, tag 1 */
  HK_CTOR__PRELUDE_COUNT
};

/* The checked program: tables for the compiler. */
typedef struct hk_checked {
  hk_program_ast_t *prog;    /* the annotated AST (borrowed) */
  hk_ctor_t **ctors;         /* [nctors] by program-wide index */
  uint32_t nctors;
  hk_datatype_t **datatypes; /* [ndatatypes] by index (0 failure, 1 outcome) */
  uint32_t ndatatypes;
  hk_effect_t **effects;     /* [neffects] by index */
  uint32_t neffects;
  uint32_t nglobals;         /* global slots 0..nglobals-1 */
  hk_var_t **globals;        /* [nglobals]: the var of each slot (name = ->name) */
  const char **global_names; /* [nglobals] */
  uint32_t nvars;            /* hk_var_t ids are 0..nvars-1 */
  hk_var_t *builtins;        /* [nbuiltins], the shared builtin vars */
  uint32_t nbuiltins;        /* HK_B__COUNT + the registered natives */
  /* The datatype named `json` with JNull..JObject at tags 0..6 (SPEC §8.9),
  ** the last such declaration in program order, or NULL. */
  const hk_datatype_t *json;
} hk_checked_t;

/* Checks [prog] (SPEC §3). Records warnings and at most one error in
** [diags]. On success stores the tables in *out.
** Returns 0, or -1 when an error diagnostic was recorded (or memory ran
** out; then an error diagnostic without position is recorded).
** Ownership: everything is allocated in [arena]; the AST is annotated in
** place. [src] is borrowed (for file names). Thread: one. */
int hk_check_program(hk_arena_t *arena, hk_sources_t *src, hk_diags_list_t *diags,
                     hk_program_ast_t *prog, hk_checked_t **out);

/* As hk_check_program, with [nnatives] embedder-registered builtins
** (hiko_register_builtin) after the standard ones: natives[i] gets builtin
** id HK_B__COUNT + i. Each type string must parse (hk_types_parse_builtin)
** and no name may repeat a standard builtin's (the runtime checked both at
** registration); a bad one is an internal error diagnostic.
** Ownership: borrows natives (names are referenced by the result: they must
** outlive the compilation). Thread: one. */
int hk_check_program_natives(hk_arena_t *arena, hk_sources_t *src, hk_diags_list_t *diags,
                             hk_program_ast_t *prog, const hk_builtin_info_t *natives,
                             uint32_t nnatives, hk_checked_t **out);

#endif
