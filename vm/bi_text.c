/* bi_text.c — byte-string algorithms for the string builtins (bi_text.h). */
#include "vm/bi_text.h"

#include <stdlib.h>
#include <string.h>

#include "vm/bi_unicode.h"
#include "vm/utf8.h"

void hk_text_trim(const uint8_t *s, size_t n, size_t *start, size_t *end) {
  size_t a = 0, b = n;
  while (a < b) {
    size_t len;
    uint32_t cp = hk_utf8_decode_valid(s + a, &len);
    if (!hk_unicode_is_white_space(cp)) break;
    a += len;
  }
  while (b > a) {
    size_t j = b - 1;
    while (j > a && (s[j] & 0xC0) == 0x80) j--;
    size_t len;
    uint32_t cp = hk_utf8_decode_valid(s + j, &len);
    if (!hk_unicode_is_white_space(cp)) break;
    b = j;
  }
  *start = a;
  *end = b;
}

hk_parse_int_err_t hk_text_parse_int(const uint8_t *s, size_t n, int64_t *out) {
  size_t a, b;
  hk_text_trim(s, n, &a, &b);
  if (a == b) return HK_PARSE_INT_EMPTY;
  bool neg = false;
  if (s[a] == '+' || s[a] == '-') {
    neg = s[a] == '-';
    a++;
    if (a == b) return HK_PARSE_INT_INVALID;
  }
  /* Accumulate negatively: the minimum integer has no positive twin. */
  int64_t acc = 0;
  for (size_t i = a; i < b; i++) {
    if (s[i] < '0' || s[i] > '9') return HK_PARSE_INT_INVALID;
    int d = s[i] - '0';
    if (__builtin_mul_overflow(acc, 10, &acc) || __builtin_sub_overflow(acc, d, &acc))
      return neg ? HK_PARSE_INT_TOO_SMALL : HK_PARSE_INT_TOO_LARGE;
  }
  if (!neg) {
    if (acc == INT64_MIN) return HK_PARSE_INT_TOO_LARGE;
    acc = -acc;
  }
  *out = acc;
  return HK_PARSE_INT_OK;
}

const char *hk_text_parse_int_message(hk_parse_int_err_t err) {
  switch (err) {
  case HK_PARSE_INT_EMPTY: return "cannot parse integer from empty string";
  case HK_PARSE_INT_INVALID: return "invalid digit found in string";
  case HK_PARSE_INT_TOO_LARGE: return "number too large to fit in target type";
  case HK_PARSE_INT_TOO_SMALL: return "number too small to fit in target type";
  case HK_PARSE_INT_OK: break;
  }
  return "";
}

int64_t hk_text_find(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t nn,
                     size_t from) {
  if (from > hn) return -1;
  if (nn == 0) return (int64_t)from;
  const uint8_t *p = memmem(hay + from, hn - from, needle, nn);
  return p ? (int64_t)(p - hay) : -1;
}

void hk_buf_init(hk_buf_t *b) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->failed = false;
}

static bool reserve(hk_buf_t *b, size_t extra) {
  if (b->failed) return false;
  if (extra <= b->cap - b->len) return true;
  size_t cap = b->cap ? b->cap : 64;
  while (cap - b->len < extra) {
    if (cap > SIZE_MAX / 2) {
      b->failed = true;
      return false;
    }
    cap *= 2;
  }
  uint8_t *d = realloc(b->data, cap);
  if (!d) {
    b->failed = true;
    return false;
  }
  b->data = d;
  b->cap = cap;
  return true;
}

void hk_buf_append(hk_buf_t *b, const void *p, size_t n) {
  if (n == 0 || !reserve(b, n)) return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void hk_buf_putc(hk_buf_t *b, uint8_t c) {
  if (!reserve(b, 1)) return;
  b->data[b->len++] = c;
}

void hk_buf_put_scalar(hk_buf_t *b, uint32_t cp) {
  uint8_t tmp[4];
  hk_buf_append(b, tmp, hk_utf8_encode(cp, tmp));
}

void hk_buf_free(hk_buf_t *b) {
  free(b->data);
  hk_buf_init(b);
}

void hk_text_replace(const uint8_t *s, size_t n, const uint8_t *from, size_t fn,
                     const uint8_t *to, size_t tn, hk_buf_t *out) {
  if (fn == 0) {
    for (size_t i = 0; i < n;) {
      size_t len;
      hk_utf8_decode_valid(s + i, &len);
      hk_buf_append(out, to, tn);
      hk_buf_append(out, s + i, len);
      i += len;
    }
    hk_buf_append(out, to, tn);
    return;
  }
  size_t i = 0;
  for (;;) {
    int64_t at = hk_text_find(s, n, from, fn, i);
    if (at < 0) break;
    hk_buf_append(out, s + i, (size_t)at - i);
    hk_buf_append(out, to, tn);
    i = (size_t)at + fn;
  }
  hk_buf_append(out, s + i, n - i);
}
