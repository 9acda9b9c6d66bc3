/* load.h — reading source files and expanding `use` (SPEC §2.7, §13.3).
**
** The loader reads the main file, parses it (vm/parse.h), then expands each
** top-level `use` in program order: the path is resolved against the using
** file's directory (an absolute path as is; a missing `stdlib/...` path
** against the library directory), files are identified by realpath(3), the
** first `use` of a file gets that file's declarations (hk_dec_t.decs) and
** later ones nothing, and a `use` of a file that is still being loaded is
** "circular import detected: 'PATH'". Expansion keeps an explicit stack, so
** a long chain of files costs no native recursion.
** Thread: one (a compilation). */
#ifndef HK_LOAD_H
#define HK_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "vm/arena.h"
#include "vm/ast.h"
#include "vm/diag.h"

typedef struct hk_load_opts {
  const char *libdir; /* the directory holding stdlib/; NULL: hk_load_libdir() */
  bool deny_files;    /* every `use` fails with EACCES (fuzzing: no file I/O) */
} hk_load_opts_t;

/* The library directory: $HIKO_LIB if set and non-empty, else the source
** tree this binary was built from (if it has stdlib/), else the installed
** PREFIX/share/hiko. Returns borrowed (static or environment). Thread: any. */
const char *hk_load_libdir(void);

/* Reads the whole file [path] into *text (malloc'ed, NUL-terminated; the
** file may hold NULs: use *len). Returns 0 or -errno (-EFBIG past 1 GiB). */
int hk_load_read_file(const char *path, char **text, size_t *len);

/* Loads, parses and expands the program whose main file is [path] (or, for
** the _string variant, the [len] bytes of [text] named [name], whose `use`
** paths resolve against the working directory). [opts] may be NULL.
** Returns 0 with *out set, -1 when an error was recorded in [diags], or
** -ENOMEM. Ownership: the AST lives in [arena]; the sources are added to
** [src]; [text] is copied. */
int hk_load_program_file(hk_arena_t *arena, hk_sources_t *src, hk_diags_list_t *diags,
                         const hk_load_opts_t *opts, const char *path,
                         hk_program_ast_t **out);
int hk_load_program_string(hk_arena_t *arena, hk_sources_t *src, hk_diags_list_t *diags,
                           const hk_load_opts_t *opts, const char *name,
                           const char *text, size_t len, hk_program_ast_t **out);

#endif
