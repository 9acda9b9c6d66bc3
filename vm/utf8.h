/* utf8.h — UTF-8 validation, decoding, scalar counting and indexing, and
** U+FFFD replacement of invalid input (SPEC §4.6, §8.4, §8.10).
**
** Pure functions over byte strings; no allocation except where a function
** says so. Thread: any (no shared state). */
#ifndef HK_UTF8_H
#define HK_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HK_UTF8_REPLACEMENT 0xFFFDu

/* Decodes the scalar that starts at [s] (n bytes available, n ≥ 1).
** Returns the scalar and sets *len to its encoded length (1–4). For an
** invalid sequence returns -1 and sets *len to the length of its maximal
** subpart (Unicode §3.9 "maximal subpart of an ill-formed subsequence",
** ≥ 1): the lead byte plus the continuation bytes that were still
** acceptable. Ownership: borrows s. */
int32_t hk_utf8_decode(const uint8_t *s, size_t n, size_t *len);

/* Decodes the scalar at [s] of a string already known to be valid UTF-8.
** Sets *len to its length. Returns the scalar. */
uint32_t hk_utf8_decode_valid(const uint8_t *s, size_t *len);

/* Returns true when the n bytes at [s] are well-formed UTF-8. */
bool hk_utf8_valid(const uint8_t *s, size_t n);

/* Writes the UTF-8 encoding of scalar [cp] (must be a scalar: ≤ 0x10FFFF,
** not a surrogate) to [out]. Returns its length (1–4). */
size_t hk_utf8_encode(uint32_t cp, uint8_t out[4]);

/* Returns true when [cp] is a Unicode scalar value. */
static inline bool hk_utf8_is_scalar(int64_t cp) {
  return cp >= 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

/* Returns the number of scalars of valid UTF-8 [s] (n bytes). */
size_t hk_utf8_count(const uint8_t *s, size_t n);

/* Returns the byte offset at which scalar number [index] (from 0) of valid
** UTF-8 [s] starts; n when index equals the scalar count; SIZE_MAX when
** index is beyond the count. */
size_t hk_utf8_offset(const uint8_t *s, size_t n, size_t index);

/* Returns the length of [s] (n bytes, any content) after replacing each
** maximal invalid subpart with U+FFFD (3 bytes). */
size_t hk_utf8_sanitized_len(const uint8_t *s, size_t n);

/* Writes [s] with each maximal invalid subpart replaced by U+FFFD to [out],
** which must hold hk_utf8_sanitized_len(s, n) bytes. Returns the bytes
** written. Ownership: borrows s and out. */
size_t hk_utf8_sanitize(const uint8_t *s, size_t n, uint8_t *out);

#endif
