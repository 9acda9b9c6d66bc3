/* io/utf8.c: the UTF-8 hold-back of socket_recv (SPEC §7.4.7): find the
** end of the last complete character, and replace invalid bytes with
** U+FFFD (one per invalid byte; one for an incomplete tail).
*/
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

/* The sequence at s[0..len): its length if complete and valid, 1 if s[0]
** starts no valid sequence (*bad set), 0 if it is the valid beginning of
** a sequence cut off at len. */
static size_t seq(const unsigned char *s, size_t len, bool *bad) {
  unsigned c = s[0];
  size_t need;
  unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  *bad = false;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) need = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    *bad = true;
    return 1;
  }
  for (size_t i = 1; i < need; i++) {
    if (i >= len) return 0;
    unsigned b = s[i];
    bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) {
      *bad = true;
      return 1;
    }
  }
  return need;
}

size_t hk_io_utf8_first(const char *s, size_t len) {
  bool bad;
  return len ? seq((const unsigned char *)s, len, &bad) : 0;
}

size_t hk_io_utf8_complete(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  bool bad;
  while (i < len) {
    size_t k = seq(u + i, len - i, &bad);
    if (k == 0) break;
    i += k;
  }
  return i;
}

bool hk_io_utf8_valid(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  bool bad;
  while (i < len) {
    if (u[i] < 0x80) { /* ASCII run: the common case */
      i++;
      continue;
    }
    size_t k = seq(u + i, len - i, &bad);
    if (k == 0 || bad) return false;
    i += k;
  }
  return true;
}

char *hk_io_utf8_sanitize(const char *s, size_t len, size_t *out_len) {
  const unsigned char *u = (const unsigned char *)s;
  char *out = malloc(len * 3 + 1);
  if (!out) return NULL;
  size_t i = 0, o = 0;
  bool bad;
  while (i < len) {
    size_t k = seq(u + i, len - i, &bad);
    if (k == 0 || bad) {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i += k == 0 ? len - i : 1;
      continue;
    }
    memcpy(out + o, u + i, k);
    o += k;
    i += k;
  }
  out[o] = 0;
  *out_len = o;
  return out;
}
