/* bi_blake3.h — BLAKE3 (hash mode, 32-byte output), written from the
** published specification (O'Connor, Aumasson, Neves, Wilcox-O'Hearn,
** 2020), for the blake3 builtin (SPEC §8.10). Portable, no SIMD.
** Thread: any (no shared state). */
#ifndef HK_BI_BLAKE3_H
#define HK_BI_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 32-byte BLAKE3 hash of [len] bytes at [data] to [out]. */
void hk_blake3(const void *data, size_t len, uint8_t out[32]);

#endif
