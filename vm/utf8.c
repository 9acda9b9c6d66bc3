/* utf8.c — UTF-8 decoding and repair (see utf8.h). The decoder follows the
** well-formed byte sequences table of Unicode §3.9 (Table 3-7): the range
** allowed for the second byte depends on the lead byte, which excludes
** overlong forms, surrogates and values above U+10FFFF. */
#include "vm/utf8.h"

#include <string.h>

/* Bounds of the second byte for lead byte [b0], and the sequence length.
** Returns 0 for a byte that cannot start a sequence. */
static int lead_info(uint8_t b0, uint8_t *lo, uint8_t *hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) return 2;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (b0 == 0xE0) *lo = 0xA0;
    if (b0 == 0xED) *hi = 0x9F;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (b0 == 0xF0) *lo = 0x90;
    if (b0 == 0xF4) *hi = 0x8F;
    return 4;
  }
  return 0;
}

int32_t hk_utf8_decode(const uint8_t *s, size_t n, size_t *len) {
  uint8_t b0 = s[0];
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  uint8_t lo, hi;
  int need = lead_info(b0, &lo, &hi);
  if (need == 0) {
    *len = 1;
    return -1;
  }
  uint32_t cp = b0 & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
  for (int i = 1; i < need; i++) {
    if ((size_t)i >= n || s[i] < lo || s[i] > hi) {
      *len = (size_t)i;
      return -1;
    }
    cp = (cp << 6) | (s[i] & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  *len = (size_t)need;
  return (int32_t)cp;
}

uint32_t hk_utf8_decode_valid(const uint8_t *s, size_t *len) {
  uint8_t b0 = s[0];
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    *len = 2;
    return ((uint32_t)(b0 & 0x1F) << 6) | (s[1] & 0x3F);
  }
  if (b0 < 0xF0) {
    *len = 3;
    return ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
  }
  *len = 4;
  return ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
         ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

bool hk_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t len;
    if (hk_utf8_decode(s + i, n - i, &len) < 0) return false;
    i += len;
  }
  return true;
}

size_t hk_utf8_encode(uint32_t cp, uint8_t out[4]) {
  if (cp < 0x80) {
    out[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (uint8_t)(0xC0 | (cp >> 6));
    out[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (uint8_t)(0xE0 | (cp >> 12));
    out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (uint8_t)(0xF0 | (cp >> 18));
  out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

size_t hk_utf8_count(const uint8_t *s, size_t n) {
  /* Every byte that is not a continuation byte starts a scalar. */
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += (s[i] & 0xC0) != 0x80;
  return count;
}

size_t hk_utf8_offset(const uint8_t *s, size_t n, size_t index) {
  size_t seen = 0;
  for (size_t i = 0; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      if (seen == index) return i;
      seen++;
    }
  }
  return seen == index ? n : SIZE_MAX;
}

size_t hk_utf8_sanitized_len(const uint8_t *s, size_t n) {
  size_t i = 0, out = 0;
  while (i < n) {
    size_t len;
    out += hk_utf8_decode(s + i, n - i, &len) < 0 ? 3 : len;
    i += len;
  }
  return out;
}

size_t hk_utf8_sanitize(const uint8_t *s, size_t n, uint8_t *out) {
  size_t i = 0, o = 0;
  while (i < n) {
    size_t len;
    if (hk_utf8_decode(s + i, n - i, &len) < 0) {
      o += hk_utf8_encode(HK_UTF8_REPLACEMENT, out + o);
    } else {
      memcpy(out + o, s + i, len);
      o += len;
    }
    i += len;
  }
  return o;
}
