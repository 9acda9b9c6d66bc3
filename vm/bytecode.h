/* bytecode.h — the serialized program image and its verifier (SPEC §11.4;
** layout in docs/bytecode.md). No byte buffer, however malformed, may crash
** the loader, the verifier or a VM running a verified image.
** Thread: any (no shared state). */
#ifndef HK_BYTECODE_H
#define HK_BYTECODE_H

#include <stddef.h>

#include "vm/image.h"

#define HK_BC_VERSION 1u

/* Serializes [img]. Returns 0 or -ENOMEM. Ownership: *buf malloc'ed. */
int hk_image_dump(const hk_image_t *img, void **buf, size_t *len);

/* Loads and verifies [len] bytes. Returns 0 with *out (owned: free with
** hk_image_free), or -EINVAL with the reason written to [why] (the text
** after "invalid bytecode: "), or -ENOMEM. Ownership: borrows buf. */
int hk_image_load(const void *buf, size_t len, hk_image_t **out, char *why, size_t why_len);

/* Verifies an image's tables and code (indices, jump targets, stack depth,
** capture counts, arities, termination). Returns 0 or -EINVAL with [why]. */
int hk_image_verify(const hk_image_t *img, char *why, size_t why_len);

#endif
