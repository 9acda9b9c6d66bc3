/* ast.h — the syntax tree shared by the parser, the checker and the compiler.
**
** Produced by the parser (vm/parse.c) after desugaring and constant folding
** (SPEC §2.4, §2.6), annotated in place by the checker (vm/check.c: types,
** resolved variables, constructors, effects) and read by the compiler.
** All nodes live in the compilation's arena (vm/arena.h).
**
** Long chains (SPEC §2.3.2) are n-ary nodes, never nested ones, so that no
** phase needs native recursion proportional to a chain's length:
**   a + b - c          HK_E_BINOP   operands [a b c], ops [+ -]
**   a :: b :: t, [a,b] HK_E_LIST    items [a b], tail t (NULL means []); `cons` set
**                                   for a :: chain, whose tail is never merged into it
**                                   when it is a list literal (their typing differs)
**   a andalso b ...    HK_E_ANDALSO items [a b ...] (desugared meaning: nested ifs)
**   ~ not ~ x          HK_E_PREFIX  ops [~ not ~], operand x
**   f a b c            HK_E_APP     fn f, args [a b c]  (= ((f a) b) c)
**   t1 -> t2 -> r      HK_TY_ARROW  params [t1 t2], result r
**   x as y as p        HK_P_AS      names [x y], pat p
** Nesting that re-enters expr/pat/ty is bounded by the parser's limit of 256.
** A postfix type-application chain (`Int list list ...`) is one HK_TY_CON per
** link; consumers walk it iteratively.
**
** Desugared forms (SPEC §2.4): `not e`, `andalso`, `orelse` keep their own
** node kinds (their typing and evaluation are exactly those of the nested
** ifs); parentheses are gone; clausal functions with several clauses become
** one clause whose body is a HK_E_CASE over the tuple of fresh parameters
** (case_origin = HK_ORIGIN_FUN, pos = the `fun` keyword).
*/
#ifndef HK_AST_H
#define HK_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A source position. [file] indexes the compilation's source table
** (hk_sources_t in vm/diag.h); [line] and [col] start at 1 (col counts
** scalars, a tab is one column); [len] is the number of columns the reported
** range covers on that line (at least 1). */
typedef struct hk_pos {
  uint32_t file, line, col, len;
} hk_pos_t;

/* A [len] meaning "to the end of the line": the range continues on a later
** line (the diagnostic renderer stops the tildes at the line's end). */
#define HK_POS_TO_EOL (1u << 30)

/* A byte string from the source (string literals may contain NUL). */
typedef struct hk_str {
  const char *s; /* NUL-terminated copy in the arena */
  size_t len;
} hk_str_t;

typedef struct hk_expr hk_expr_t;
typedef struct hk_pat hk_pat_t;
typedef struct hk_ty hk_ty_t;
typedef struct hk_dec hk_dec_t;

/* Filled in by the checker (vm/check.h); opaque to the parser. */
typedef struct hk_type hk_type_t;   /* an inferred type */
typedef struct hk_var hk_var_t;     /* a value binding: local, global, builtin */
typedef struct hk_ctor hk_ctor_t;   /* a constructor */
typedef struct hk_effect hk_effect_t;

/* ---- Type expressions (syntax) ---- */

typedef enum hk_ty_kind {
  HK_TY_VAR,   /* 'a: name */
  HK_TY_CON,   /* name applied to args (nargs may be 0) */
  HK_TY_TUPLE, /* items (n >= 2) */
  HK_TY_ARROW, /* params -> ... -> result */
} hk_ty_kind_t;

struct hk_ty {
  hk_ty_kind_t kind;
  hk_pos_t pos;
  const char *name;   /* VAR (with the quote), CON */
  hk_ty_t **items;    /* CON: arguments; TUPLE: components; ARROW: params */
  uint32_t n;
  hk_ty_t *result;    /* ARROW */
};

/* ---- Patterns ---- */

typedef enum hk_pat_kind {
  HK_P_WILD,
  HK_P_VAR,    /* name; var filled by the checker */
  HK_P_INT, HK_P_FLOAT, HK_P_STRING, HK_P_CHAR, HK_P_BOOL,
  HK_P_UNIT,
  HK_P_TUPLE,  /* items, n >= 2 */
  HK_P_LIST,   /* items [p1..pn] then tail (NULL: []) ; [] is n = 0, tail NULL */
  HK_P_CON,    /* name, arg (NULL for a nullary use); ctor filled by the checker */
  HK_P_AS,     /* names/vars [n] bound to the value matched by pat */
  HK_P_ANNOT,  /* pat : ty */
} hk_pat_kind_t;

struct hk_pat {
  hk_pat_kind_t kind;
  hk_pos_t pos;
  union {
    int64_t i;       /* INT (folded ~ included) */
    double f;        /* FLOAT */
    hk_str_t str;    /* STRING */
    uint32_t ch;     /* CHAR (a scalar) */
    bool b;          /* BOOL */
  } lit;
  const char *name;  /* VAR, CON */
  hk_pat_t **items;  /* TUPLE, LIST */
  uint32_t n;
  hk_pat_t *tail;    /* LIST */
  hk_pat_t *arg;     /* CON payload; AS and ANNOT inner pattern */
  const char **names;/* AS */
  hk_ty_t *ty;       /* ANNOT */
  /* Checker output. */
  hk_type_t *type;
  hk_var_t *var;     /* VAR */
  hk_var_t **vars;   /* AS: one per name */
  const hk_ctor_t *ctor; /* CON */
};

/* ---- Expressions ---- */

typedef enum hk_expr_kind {
  HK_E_INT, HK_E_FLOAT, HK_E_STRING, HK_E_CHAR, HK_E_BOOL, HK_E_UNIT,
  HK_E_VAR,     /* name; var filled by the checker */
  HK_E_CON,     /* a constructor used as a value: name; ctor filled by checker */
  HK_E_TUPLE,   /* items, n >= 2 */
  HK_E_LIST,    /* items then tail (NULL: []); [] is n = 0 and tail NULL */
  HK_E_BINOP,   /* operands [n >= 2], ops [n - 1], left-associative */
  HK_E_ANDALSO, /* items [n >= 2] */
  HK_E_ORELSE,  /* items [n >= 2] */
  HK_E_PREFIX,  /* ops [n] applied right to left to operand (ops[0] outermost) */
  HK_E_APP,     /* fn applied to args [n >= 1], one at a time */
  HK_E_IF,      /* cond, then_, else_ */
  HK_E_LET,     /* decs [ndecs], body */
  HK_E_CASE,    /* scrut, arms [n] */
  HK_E_FN,      /* one clause: arms[0] (pattern and body); n = 1 */
  HK_E_HANDLE,  /* body, ret (binder + body), handlers [n] */
  HK_E_PERFORM, /* effect name, arg */
  HK_E_RESUME,  /* k = items[0], value = items[1] */
  HK_E_ANNOT,   /* operand : ty */
} hk_expr_kind_t;

typedef enum hk_op {
  HK_OP_ADD, HK_OP_SUB, HK_OP_MUL, HK_OP_DIV, HK_OP_MOD,
  HK_OP_FADD, HK_OP_FSUB, HK_OP_FMUL, HK_OP_FDIV,
  HK_OP_CONCAT,
  HK_OP_EQ, HK_OP_NE, HK_OP_LT, HK_OP_GT, HK_OP_LE, HK_OP_GE,
  HK_OP_FLT, HK_OP_FGT, HK_OP_FLE, HK_OP_FGE,
  HK_OP_NEG, HK_OP_NOT, /* prefix */
} hk_op_t;

typedef struct hk_arm {
  hk_pat_t *pat;
  hk_expr_t *body;
} hk_arm_t;

/* A handle clause `E p k => body`, or the return clause (effect NULL). A
** binder is an identifier or NULL for `_`. */
typedef struct hk_handler {
  hk_pos_t pos;
  const char *effect_name;
  const char *payload, *k;       /* binder names, NULL for _ */
  hk_pos_t payload_pos, k_pos;
  hk_expr_t *body;
  /* Checker output. */
  const hk_effect_t *effect;
  hk_var_t *payload_var, *k_var; /* NULL for _ */
} hk_handler_t;

typedef enum hk_case_origin {
  HK_ORIGIN_CASE, /* a `case` written by the programmer */
  HK_ORIGIN_FUN,  /* desugared clausal function (report at the `fun`) */
} hk_case_origin_t;

/* Fields used by one kind only share storage (the anonymous union below):
** read a member only for the kinds its comment names. About 1.5 KB of
** expressions per source line made this matter (docs/frontend.md). */
struct hk_expr {
  hk_expr_kind_t kind;
  bool tail;              /* set by the compiler's tail analysis, free for it to use */
  bool cons;              /* LIST: written with ::, items the left operands, a the last
                             right operand (SPEC §3.5.2 types it as nested operators) */
  hk_pos_t pos;
  union {
    int64_t i;
    double f;
    hk_str_t str;
    uint32_t ch;
    bool b;
  } lit;
  const char *name;       /* VAR, CON, PERFORM (effect) */
  hk_expr_t **items;      /* TUPLE, LIST, BINOP operands, ANDALSO, ORELSE, APP args, RESUME */
  uint32_t n;
  hk_expr_t *a;           /* LIST tail; PREFIX operand; APP fn; IF cond; LET body; CASE
                             scrut; HANDLE body; PERFORM arg; ANNOT operand */
  union {
    struct {              /* BINOP [n-1], PREFIX [n] */
      hk_op_t *ops;
      hk_pos_t *op_pos;   /* position of each operator token (same count as ops) */
    };
    struct {              /* IF */
      hk_expr_t *b, *c;   /* then, else */
    };
    struct {              /* CASE [n], FN [1] */
      hk_arm_t *arms;
      hk_case_origin_t origin; /* CASE */
    };
    struct {              /* LET */
      hk_dec_t **decs;
      uint32_t ndecs;
    };
    struct {              /* HANDLE */
      hk_handler_t *ret;      /* the return clause */
      hk_handler_t *handlers; /* effect clauses [n] */
    };
    hk_ty_t *ty;          /* ANNOT */
  };
  /* Checker output. */
  hk_type_t *type;
  hk_var_t *var;          /* VAR */
  const hk_ctor_t *ctor;  /* CON */
  const hk_effect_t *effect; /* PERFORM */
};

/* ---- Declarations ---- */

typedef enum hk_dec_kind {
  HK_D_VAL,      /* pat = expr */
  HK_D_VALREC,   /* name = fn-expr (expr->kind == HK_E_FN) */
  HK_D_FUN,      /* binds [n] (a group joined by `and`) */
  HK_D_DATATYPE, /* tyvars, name, ctors */
  HK_D_TYPE,     /* tyvars, name = ty */
  HK_D_LOCAL,    /* decs (private) in decs2 (exported) */
  HK_D_USE,      /* path; decs = the file's declarations (ndecs 0 if loaded before) */
  HK_D_EFFECT,   /* name [of ty] (ty NULL: Unit) */
} hk_dec_kind_t;

/* One function of a `fun` group after desugaring: `name p1 ... pn = body`
** with n >= 1. With several source clauses the params are fresh variables
** (names starting with a character no program can write) and body is the
** HK_E_CASE of SPEC §2.4.6. */
typedef struct hk_funbind {
  hk_pos_t pos;         /* the function name in its first clause */
  hk_pos_t kw;          /* the keyword introducing it: `fun`, or `and` in a group;
                           a non-exhaustive match is reported here (SPEC §3.8.3) */
  const char *name;
  hk_pat_t **params;
  uint32_t nparams;
  hk_expr_t *body;
  uint32_t nclauses;    /* source clauses (1: params are the source patterns) */
  /* Checker output. */
  hk_var_t *var;
} hk_funbind_t;

typedef struct hk_conbind {
  hk_pos_t pos;
  const char *name;
  hk_ty_t *ty;          /* payload type, NULL for a nullary constructor */
  const hk_ctor_t *ctor;/* checker output */
} hk_conbind_t;

struct hk_dec {
  hk_dec_kind_t kind;
  hk_pos_t pos;           /* the keyword */
  hk_pat_t *pat;          /* VAL */
  hk_expr_t *expr;        /* VAL, VALREC */
  const char *name;       /* VALREC, DATATYPE, TYPE, EFFECT */
  hk_pos_t name_pos;
  hk_funbind_t *binds;    /* FUN [n] */
  hk_conbind_t *ctors;    /* DATATYPE [n] */
  uint32_t n;
  const char **tyvars;    /* DATATYPE, TYPE */
  uint32_t ntyvars;
  hk_ty_t *ty;            /* TYPE, EFFECT */
  hk_dec_t **decs;        /* LOCAL (private part), USE (the used file) */
  uint32_t ndecs;
  hk_dec_t **decs2;       /* LOCAL (exported part) */
  uint32_t ndecs2;
  hk_str_t path;          /* USE, as written */
  uint32_t use_file;      /* USE: source index of the used file */
  /* Checker output. */
  hk_var_t *var;          /* VALREC */
};

/* A whole program after `use` expansion: the main file's declarations, with
** each first `use` of a file holding that file's declarations. */
typedef struct hk_program_ast {
  hk_dec_t **decs;
  uint32_t ndecs;
} hk_program_ast_t;

#endif
