/* lex.h — the lexer of SPEC §1: bytes to tokens, one at a time.
**
** The lexer is pulled by the parser (no token array, so a 64 MiB file costs
** no more than its AST). Every token carries its position (hk_pos_t: file,
** line, column counting scalars, len = columns of the token). Literal values
** are decoded; strings and names are copied into the compilation's arena.
** Thread: one (a compilation). */
#ifndef HK_LEX_H
#define HK_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/arena.h"
#include "vm/ast.h"

typedef enum hk_tok_kind {
  HK_T_EOF,
  HK_T_ERROR, /* a lexical error: message in hk_lexer_t.msg */
  HK_T_INT, HK_T_FLOAT, HK_T_STRING, HK_T_CHAR,
  HK_T_IDENT, HK_T_UIDENT, HK_T_TYVAR, HK_T_WILD,
  /* Keywords (SPEC §1.3.2), in this order. */
  HK_T_VAL, HK_T_FUN, HK_T_FN, HK_T_LET, HK_T_IN, HK_T_END, HK_T_IF, HK_T_THEN,
  HK_T_ELSE, HK_T_CASE, HK_T_OF, HK_T_DATATYPE, HK_T_TYPE, HK_T_LOCAL, HK_T_AND,
  HK_T_REC, HK_T_USE, HK_T_TRUE, HK_T_FALSE, HK_T_NOT, HK_T_ANDALSO, HK_T_ORELSE,
  HK_T_MOD, HK_T_AS, HK_T_EFFECT, HK_T_HANDLE, HK_T_WITH, HK_T_PERFORM,
  HK_T_RESUME, HK_T_RETURN,
  /* Operators and punctuation (SPEC §1.5). */
  HK_T_PLUS, HK_T_MINUS, HK_T_STAR, HK_T_SLASH, HK_T_CARET, HK_T_TILDE,
  HK_T_CONS, HK_T_EQ, HK_T_NE, HK_T_LT, HK_T_GT, HK_T_LE, HK_T_GE,
  HK_T_ARROW,   /* -> */
  HK_T_DARROW,  /* => */
  HK_T_BAR, HK_T_COLON, HK_T_COMMA, HK_T_LPAREN, HK_T_RPAREN, HK_T_LBRACKET,
  HK_T_RBRACKET, HK_T_SEMI, HK_T_HASH,
  HK_T_FPLUS, HK_T_FMINUS, HK_T_FSTAR, HK_T_FSLASH, HK_T_FLT, HK_T_FGT,
  HK_T_FLE, HK_T_FGE,
  HK_T__COUNT
} hk_tok_kind_t;

typedef struct hk_token {
  hk_tok_kind_t kind;
  hk_pos_t pos;
  union {
    int64_t i;   /* INT */
    double f;    /* FLOAT */
    uint32_t ch; /* CHAR: a scalar */
  } v;
  hk_str_t str;  /* STRING: decoded bytes; IDENT/UIDENT/TYVAR: the name */
  uint32_t end_line, end_col; /* the position just after the token */
} hk_token_t;

typedef struct hk_lexer {
  const char *src, *p, *end;
  uint32_t file, line, col;
  hk_arena_t *arena;
  char *buf;          /* scratch for decoding strings (malloc'ed) */
  size_t buf_cap;
  const char *msg;    /* the error of the last HK_T_ERROR token (arena) */
  bool failed;        /* an error token was produced: only errors follow */
  hk_token_t err;     /* that error token, repeated by later calls */
} hk_lexer_t;

/* Prepares to lex [len] bytes of [text] (borrowed until hk_lex_fini) as
** source file [file]. Names, strings and messages go to [arena].
** The whole text is checked for valid UTF-8 first: if invalid, the first
** token returned is the error "invalid UTF-8 in source" at the first bad
** byte. Thread: one. */
void hk_lex_init(hk_lexer_t *lx, hk_arena_t *arena, uint32_t file,
                 const char *text, size_t len);
/* Frees the scratch buffer. */
void hk_lex_fini(hk_lexer_t *lx);

/* Produces the next token into *t. After an HK_T_ERROR or HK_T_EOF, every
** later call returns the same token again.
** Returns 0, or -ENOMEM (then *t is an HK_T_ERROR "out of memory"). */
int hk_lex_next(hk_lexer_t *lx, hk_token_t *t);

/* Returns the byte offset of the first byte of [s] that is not part of valid
** UTF-8 (overlong forms, surrogates and values above U+10FFFF are invalid),
** or [len] when all of it is valid. */
size_t hk_lex_utf8_valid_prefix(const char *s, size_t len);

/* True if the [n] bytes at [s] are a keyword of SPEC §1.3.2. Thread: any. */
bool hk_lex_is_keyword(const char *s, size_t n);

/* The spelling of a token kind for messages and tests ("val", "=>", "INT"). */
const char *hk_lex_kind_name(hk_tok_kind_t k);

#endif
