/* front.c — the compile pipeline, see front.h. */
#include "vm/front.h"

#include <errno.h>
#include <string.h>

#include "vm/check.h"
#include "vm/compile.h"

/* The checker's entry point (vm/check.h) is called below once it exists. */

void hk_front_init(hk_front_t *f) {
  memset(f, 0, sizeof *f);
  hk_arena_init(&f->arena);
}

/* Everything after loading: checking, then (later) code generation. */
static int after_load(hk_front_t *f) {
  /* CHECK: when vm/check.c lands, replace the next line by
  **   int rc = hk_check_program(&f->arena, &f->sources, &f->diags, f->prog,
  **                             (hk_checked_t **)&f->checked);
  ** (and include "vm/check.h"). It returns 0, or -1 after recording an
  ** error diagnostic. */
  int rc = hk_check_program_natives(&f->arena, &f->sources, &f->diags, f->prog, f->natives,
                                    f->nnatives, (hk_checked_t **)&f->checked);
  if (rc != 0) return rc;
  /* CODEGEN: the compiler's call goes here, storing its result in
  ** f->image; it runs only when checking succeeded. */
  return hk_compile_program(&f->arena, &f->sources, &f->diags, f->checked, (hk_image_t **)&f->image);
}

int hk_front_compile_file(hk_front_t *f, const char *path, const hk_load_opts_t *opts) {
  int rc = hk_load_program_file(&f->arena, &f->sources, &f->diags, opts, path, &f->prog);
  return rc == 0 ? after_load(f) : rc;
}

int hk_front_compile_string(hk_front_t *f, const char *name, const char *text,
                            size_t len, const hk_load_opts_t *opts) {
  int rc = hk_load_program_string(&f->arena, &f->sources, &f->diags, opts, name, text,
                                  len, &f->prog);
  return rc == 0 ? after_load(f) : rc;
}

void hk_front_free(hk_front_t *f) {
  hk_arena_free(&f->arena);
  hk_sources_free(&f->sources);
  hk_diags_list_free(&f->diags);
  f->prog = NULL;
  f->checked = NULL;
  f->image = NULL;
}
