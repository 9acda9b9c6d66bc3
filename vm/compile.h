/* compile.h — code generation: the checked AST (vm/ast.h annotated by
** vm/check.h) to a program image (vm/image.h), SPEC §11.1–§11.2.
** Thread: one (a compilation). */
#ifndef HK_COMPILE_H
#define HK_COMPILE_H

#include "vm/arena.h"
#include "vm/check.h"
#include "vm/diag.h"
#include "vm/image.h"

/* Compiles [checked] into an image allocated in [arena] (it lives as long as
** the compilation). Returns 0, -1 after recording an error diagnostic
** ("program too large: TEXT"), or -ENOMEM.
** Ownership: *out lives in arena; [src] and [checked] are borrowed. */
int hk_compile_program(hk_arena_t *arena, const hk_sources_t *src, hk_diags_list_t *diags,
                       const hk_checked_t *checked, hk_image_t **out);

#endif
