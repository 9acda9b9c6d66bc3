/* match.h — exhaustiveness and redundancy of matches (SPEC §3.8.3–4) with
** Maranget's usefulness algorithm ("Warnings for pattern matching", 2007).
**
** A match is a matrix of typed patterns (after checking: constructors are
** resolved): nrows clauses of ncols columns each (a `case` or `fn` has one
** column; a one-clause `fun` has one column per parameter). Variables, `_`
** and their annotated / `as` forms are wildcards; Bool, Unit, tuples, lists
** and datatypes have finite signatures; Int, Float, String and Char literals
** never form a complete signature.
** Thread: any (no shared state). */
#ifndef HK_MATCH_H
#define HK_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/ast.h"

/* Work bounds (cells visited). Matches of at most 64 clauses nesting at most
** 8 levels (SPEC §3.8.4) get the large one, which no such match of
** realistic width reaches (a 64-clause match over 128 Bool columns needs
** about 10^7); other matches get the default, so a pathological match is
** reported in well under a second. */
#define HK_MATCH_BUDGET ((size_t)20000000)
#define HK_MATCH_BUDGET_SMALL ((size_t)400000000)

/* The bound for [rows] (as for hk_match_check) under the policy above.
** Thread: any. */
size_t hk_match_budget(hk_pat_t *const *rows, uint32_t nrows, uint32_t ncols);

/* Analyses [rows] (nrows * ncols cells, row-major). Sets redundant[i] for each
** clause i that can never be chosen and *exhaustive. [budget] bounds the work
** (cells visited).
** Returns 0, -E2BIG when the bound was exceeded ("pattern match too
** complex"), or -ENOMEM. Ownership: borrows everything. Thread: any. */
int hk_match_check(hk_pat_t *const *rows, uint32_t nrows, uint32_t ncols, size_t budget,
                   bool *redundant, bool *exhaustive);

#endif
