/* disasm.h — the listing of SPEC §11.5 (hiko disasm). Thread: any. */
#ifndef HK_DISASM_H
#define HK_DISASM_H

#include "vm/image.h"

/* Writes the listing of every function of [img]: a header per function
** (index, name, arity, captures, locals, max stack) and one line per
** instruction: offset, LINE:COL, mnemonic, operands, and the constant for
** constant operands. Returns 0 or -ENOMEM. Ownership: *out malloc'ed. */
int hk_disasm(const hk_image_t *img, char **out);

#endif
