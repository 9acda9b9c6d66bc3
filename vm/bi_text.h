/* bi_text.h — byte-string algorithms behind the string and conversion
** builtins (SPEC §8.3, §8.4), independent of the value representation.
** All strings are valid UTF-8 unless a function says otherwise.
** Thread: any (no shared state). */
#ifndef HK_BI_TEXT_H
#define HK_BI_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum hk_parse_int_err {
  HK_PARSE_INT_OK = 0,
  HK_PARSE_INT_EMPTY,     /* "cannot parse integer from empty string" */
  HK_PARSE_INT_INVALID,   /* "invalid digit found in string" */
  HK_PARSE_INT_TOO_LARGE, /* "number too large to fit in target type" */
  HK_PARSE_INT_TOO_SMALL, /* "number too small to fit in target type" */
} hk_parse_int_err_t;

/* Parses [s] as string_to_int does (SPEC §8.3): trims Unicode White_Space,
** then an optional sign and one or more ASCII digits, read left to right
** (an overflow is reported at the digit where it happens). Returns
** HK_PARSE_INT_OK and sets *out, or an error. */
hk_parse_int_err_t hk_text_parse_int(const uint8_t *s, size_t n, int64_t *out);

/* Returns the message text of a parse error (without "string_to_int: "). */
const char *hk_text_parse_int_message(hk_parse_int_err_t err);

/* Sets [*start, *end) to [s] without leading and trailing White_Space. */
void hk_text_trim(const uint8_t *s, size_t n, size_t *start, size_t *end);

/* Returns the byte offset of the first occurrence of [needle] in [hay] at
** or after byte [from], or -1. The empty needle is found at [from]. */
int64_t hk_text_find(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t nn,
                     size_t from);

/* A growable byte buffer for builtins that build text. */
typedef struct hk_buf {
  uint8_t *data;
  size_t len, cap;
  bool failed; /* an allocation failed; the contents are incomplete */
} hk_buf_t;

/* Buffer life cycle: init (no allocation), append (records failure in
** buf->failed instead of returning it), free. Ownership: the buffer owns
** data until hk_buf_free. */
void hk_buf_init(hk_buf_t *b);
void hk_buf_append(hk_buf_t *b, const void *p, size_t n);
void hk_buf_putc(hk_buf_t *b, uint8_t c);
void hk_buf_put_scalar(hk_buf_t *b, uint32_t cp);
void hk_buf_free(hk_buf_t *b);

/* Replaces every non-overlapping occurrence of [from] in [s], left to right,
** by [to]; an empty [from] inserts [to] before every scalar and at the end
** (SPEC §8.4 string_replace). Appends the result to [out]. */
void hk_text_replace(const uint8_t *s, size_t n, const uint8_t *from, size_t fn,
                     const uint8_t *to, size_t tn, hk_buf_t *out);

#endif
