/* bytecode.h — the serialized program image and its verifier (SPEC §11.4;
** layout in docs/bytecode.md). No byte buffer, however malformed, may crash
** the loader, the verifier or a VM running a verified image.
** Thread: any (no shared state). */
#ifndef HK_BYTECODE_H
#define HK_BYTECODE_H

#include <stddef.h>

#include "vm/builtins.h"
#include "vm/image.h"

#define HK_BC_VERSION 1u

/* Serializes [img]. Returns 0 or -ENOMEM. Ownership: *buf malloc'ed. */
int hk_image_dump(const hk_image_t *img, void **buf, size_t *len);
/* The same for an image that may import registered natives: import id
** HK_B__COUNT + i is [natives][i], written by name and type like a builtin.
** Returns 0, -EINVAL (an import id beyond them), -ENOMEM. */
int hk_image_dump_natives(const hk_image_t *img, const hk_builtin_info_t *natives,
                          uint32_t nnatives, void **buf, size_t *len);

/* Loads and verifies [len] bytes. Returns 0 with *out (owned: free with
** hk_image_free), or -EINVAL with the reason written to [why] (the text
** after "invalid bytecode: "), or -ENOMEM. Ownership: borrows buf. */
int hk_image_load(const void *buf, size_t len, hk_image_t **out, char *why, size_t why_len);
/* The same, resolving imports against the builtins and then [natives] (the
** loading runtime's registry, ids HK_B__COUNT + i): an import must be known
** there with the same type (SPEC §11.4.2). */
int hk_image_load_natives(const void *buf, size_t len, const hk_builtin_info_t *natives,
                          uint32_t nnatives, hk_image_t **out, char *why, size_t why_len);

/* Verifies an image's tables and code (indices, jump targets, stack depth,
** capture counts, arities, termination). Returns 0 or -EINVAL with [why]. */
int hk_image_verify(const hk_image_t *img, char *why, size_t why_len);

#endif
