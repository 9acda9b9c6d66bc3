/* front.h — the compile pipeline of SPEC §11.1 up to the checked program:
** load + lex + parse + desugar + fold (vm/load.h, vm/parse.h), then type
** and exhaustiveness checking (vm/check.h), then (later) code generation.
**
** One hk_front_t is one compilation: it owns the arena (AST, types), the
** source table and the diagnostics. No code is generated after an error.
** Thread: one (a compilation). */
#ifndef HK_FRONT_H
#define HK_FRONT_H

#include <stddef.h>

#include "vm/arena.h"
#include "vm/ast.h"
#include "vm/builtins.h"
#include "vm/diag.h"
#include "vm/load.h"

typedef struct hk_front {
  hk_arena_t arena;        /* every AST node, type and name */
  hk_sources_t sources;    /* every file read, by index (hk_pos_t.file) */
  hk_diags_list_t diags;   /* warnings and at most one error */
  hk_program_ast_t *prog;  /* after loading; NULL if loading failed */
  void *checked;           /* hk_checked_t * once the checker ran */
  void *image;             /* the compiled program, once codegen exists */
  /* Embedder-registered builtins (ids HK_B__COUNT + i), set by the caller
  ** before compiling; borrowed, must outlive the compilation. */
  const hk_builtin_info_t *natives;
  uint32_t nnatives;
} hk_front_t;

/* Initialises an empty compilation. */
void hk_front_init(hk_front_t *f);

/* Runs the pipeline on the file [path] / on [len] bytes of [text] named
** [name] (`use` then resolves against the working directory). [opts] may be
** NULL. Returns 0, -1 when an error diagnostic was recorded, -ENOMEM.
** Ownership: results stay in [f] until hk_front_free. */
int hk_front_compile_file(hk_front_t *f, const char *path, const hk_load_opts_t *opts);
int hk_front_compile_string(hk_front_t *f, const char *name, const char *text,
                            size_t len, const hk_load_opts_t *opts);

/* Frees everything the compilation owns. */
void hk_front_free(hk_front_t *f);

#endif
