/* bytecode_api.c — hiko_program_dump (SPEC §11.4, §12.2) on top of
** vm/bytecode.h. hiko_program_load needs a hiko_program_t that owns a loaded
** image (runtime/compile.c): see vm/bytecode.h hk_image_load. */
#include "hiko.h"

#include <errno.h>

#include "vm/builtins.h"
#include "vm/bytecode.h"

const hk_image_t *hk_program_image(const hiko_program_t *p); /* runtime/compile.c */

int hiko_program_dump(const hiko_program_t *p, void **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  const hk_image_t *img = hk_program_image(p);
  if (!img) return -EINVAL;
  /* The format names each import by its builtin-table entry: a program
  ** importing a registered native (hiko_register_builtin) cannot be
  ** serialized yet. */
  for (uint32_t i = 0; i < img->nimports; i++)
    if (img->imports[i] >= HK_B__COUNT) return -ENOTSUP;
  return hk_image_dump(img, buf, len);
}
