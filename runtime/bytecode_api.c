/* bytecode_api.c — hiko_program_dump (SPEC §11.4, §12.2) on top of
** vm/bytecode.h; hiko_program_load is in runtime/compile.c. */
#include "hiko.h"

#include <errno.h>

#include "runtime/value.h"
#include "vm/builtins.h"
#include "vm/bytecode.h"


int hiko_program_dump(const hiko_program_t *p, void **buf, size_t *len) {
  if (!buf || !len) return -EINVAL;
  *buf = NULL;
  *len = 0;
  const hk_image_t *img = hk_program_image(p);
  if (!img) return -EINVAL;
  /* Registered natives are written by name and type like builtins; loading
  ** resolves them against the loading runtime's registry (SPEC §11.2, §11.4). */
  const hk_builtin_info_t *natives;
  uint32_t n;
  hk_program_natives(p, &natives, &n);
  return hk_image_dump_natives(img, natives, n, buf, len);
}
