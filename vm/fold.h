/* fold.h — constant folding of SPEC §2.6, applied by the parser as each
** node is built (children first, so the whole tree is folded bottom-up).
** Every function works on one node and loops over chains: no recursion.
** Thread: one (a compilation). */
#ifndef HK_FOLD_H
#define HK_FOLD_H

#include "vm/arena.h"
#include "vm/ast.h"

/* Folds prefix [op] (HK_OP_NEG or HK_OP_NOT) applied to [operand]: `~` on
** an INT literal (unless it is the minimum) or a FLOAT literal, `not` on a
** BOOL literal (`not e` means `if e then false else true`, §2.4.4).
** Returns a new literal at [pos], or NULL when nothing folds (or memory ran
** out: the caller then keeps the unfolded node, which is always correct). */
hk_expr_t *hk_fold_prefix(hk_arena_t *a, hk_op_t op, hk_expr_t *operand, hk_pos_t pos);

/* Folds the leading literals of a BINOP chain (rules 1–5: the chain is
** left-associative, so only a prefix of it can fold). Returns the literal,
** the (shortened) node, or NULL when out of memory. */
hk_expr_t *hk_fold_binop(hk_arena_t *a, hk_expr_t *e);

/* Folds an ANDALSO / ORELSE node through its desugared meaning (nested
** ifs, rule 7): `true andalso x` is x, `false andalso x` is false, `false
** orelse x` is x, `true orelse x` is true. Returns [e] or one of its items. */
hk_expr_t *hk_fold_logic(hk_expr_t *e);

/* The range from the start of [a] to the end of [b]. */
hk_pos_t hk_fold_merge_pos(hk_pos_t a, hk_pos_t b);

#endif
