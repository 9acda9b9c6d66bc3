/* parse.h — the parser of SPEC §2: tokens to the AST of vm/ast.h.
**
** One call parses one source file. Desugaring (§2.4), the declaration
** restrictions (§2.5) and constant folding (§2.6) happen while the tree is
** built (children are complete before their parent is made, so building is
** a bottom-up pass). Long chains become the n-ary nodes of ast.h and are
** built by loops; native recursion is bounded by the nesting limit (§2.3).
** `use` declarations are left with ndecs = 0: the loader (vm/load.h) fills
** them in.
** Thread: one (a compilation). */
#ifndef HK_PARSE_H
#define HK_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "vm/arena.h"
#include "vm/ast.h"
#include "vm/diag.h"

/* The nesting limit of SPEC §2.3.1. */
#define HK_PARSE_MAX_DEPTH 256

/* Parses [len] bytes of [text] (source file [file] of the compilation) into
** *decs / *ndecs. Records at most one error in [diags]: a lexical error
** anywhere in the file takes precedence over a syntax error (as if the file
** were tokenised first), then the first syntax or restriction error.
** Returns 0, -1 when an error was recorded, or -ENOMEM (an error without a
** position is then recorded too).
** Ownership: the AST lives in [arena]; [text] is borrowed for the call. */
int hk_parse_file(hk_arena_t *arena, hk_diags_list_t *diags, uint32_t file,
                  const char *text, size_t len, hk_dec_t ***decs, uint32_t *ndecs);

/* Parses one expression (the whole text) — for tests and tools.
** Returns the expression, or NULL after recording an error. */
hk_expr_t *hk_parse_expr_string(hk_arena_t *arena, hk_diags_list_t *diags,
                                uint32_t file, const char *text, size_t len);

/* The name of the fresh parameter [i] (from 1) of a desugared clausal
** function: "$1", "$2", ... (no program can write a `$`). */
#define HK_PARSE_FRESH_PREFIX '$'

#endif
