/* bi_unicode.c — lookups in the generated Unicode tables (see bi_unicode.h). */
#include "vm/bi_unicode.h"

#include "vm/utf8.h"

bool hk_unicode_in(const hk_uni_range_t *r, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < r[mid].lo) hi = mid;
    else if (cp > r[mid].hi) lo = mid + 1;
    else return true;
  }
  return false;
}

bool hk_unicode_is_white_space(uint32_t cp) {
  return hk_unicode_in(hk_uni_white_space, hk_uni_white_space_len, cp);
}
bool hk_unicode_is_cased(uint32_t cp) {
  return hk_unicode_in(hk_uni_cased, hk_uni_cased_len, cp);
}
bool hk_unicode_is_case_ignorable(uint32_t cp) {
  return hk_unicode_in(hk_uni_case_ignorable, hk_uni_case_ignorable_len, cp);
}
bool hk_unicode_is_digit(uint32_t cp) {
  return hk_unicode_in(hk_uni_digit, hk_uni_digit_len, cp);
}
bool hk_unicode_is_word(uint32_t cp) {
  return hk_unicode_in(hk_uni_word, hk_uni_word_len, cp);
}

static const hk_uni_map_t *find_map(const hk_uni_map_t *m, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < m[mid].cp) hi = mid;
    else if (cp > m[mid].cp) lo = mid + 1;
    else return &m[mid];
  }
  return NULL;
}

static const hk_uni_special_t *find_special(const hk_uni_special_t *m, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < m[mid].cp) hi = mid;
    else if (cp > m[mid].cp) lo = mid + 1;
    else return &m[mid];
  }
  return NULL;
}

static size_t full_map(const hk_uni_special_t *sp, size_t nsp, const hk_uni_map_t *m,
                       size_t nm, uint32_t cp, uint32_t out[3]) {
  const hk_uni_special_t *s = find_special(sp, nsp, cp);
  if (s) {
    for (size_t i = 0; i < s->n; i++) out[i] = s->to[i];
    return s->n;
  }
  const hk_uni_map_t *e = find_map(m, nm, cp);
  out[0] = e ? e->to : cp;
  return 1;
}

size_t hk_unicode_to_upper(uint32_t cp, uint32_t out[3]) {
  return full_map(hk_uni_special_upper, hk_uni_special_upper_len, hk_uni_upper,
                  hk_uni_upper_len, cp, out);
}

size_t hk_unicode_to_lower(uint32_t cp, uint32_t out[3]) {
  return full_map(hk_uni_special_lower, hk_uni_special_lower_len, hk_uni_lower,
                  hk_uni_lower_len, cp, out);
}

uint32_t hk_unicode_simple_upper(uint32_t cp) {
  const hk_uni_map_t *e = find_map(hk_uni_upper, hk_uni_upper_len, cp);
  return e ? e->to : cp;
}

uint32_t hk_unicode_simple_lower(uint32_t cp) {
  const hk_uni_map_t *e = find_map(hk_uni_lower, hk_uni_lower_len, cp);
  return e ? e->to : cp;
}

/* Final_Sigma (Unicode §3.13): the sigma at byte [at] is preceded by a cased
** letter and zero or more case-ignorable characters, and is not followed by
** zero or more case-ignorable characters and then a cased letter. */
static bool final_sigma(const uint8_t *s, size_t n, size_t at, size_t len) {
  bool before = false;
  size_t i = at;
  while (i > 0) {
    size_t j = i - 1;
    while (j > 0 && (s[j] & 0xC0) == 0x80) j--;
    size_t l;
    uint32_t cp = hk_utf8_decode_valid(s + j, &l);
    i = j;
    if (hk_unicode_is_case_ignorable(cp)) continue;
    before = hk_unicode_is_cased(cp);
    break;
  }
  if (!before) return false;
  for (i = at + len; i < n;) {
    size_t l;
    uint32_t cp = hk_utf8_decode_valid(s + i, &l);
    i += l;
    if (hk_unicode_is_case_ignorable(cp)) continue;
    return !hk_unicode_is_cased(cp);
  }
  return true;
}

size_t hk_unicode_case_string(const uint8_t *s, size_t n, bool upper, uint8_t *out) {
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t len;
    uint32_t cp = hk_utf8_decode_valid(s + i, &len);
    uint32_t to[3];
    size_t k;
    if (cp < 0x80) {
      to[0] = upper ? (cp >= 'a' && cp <= 'z' ? cp - 32 : cp)
                    : (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
      k = 1;
    } else if (!upper && cp == 0x03A3) {
      to[0] = final_sigma(s, n, i, len) ? 0x03C2 : 0x03C3;
      k = 1;
    } else {
      k = upper ? hk_unicode_to_upper(cp, to) : hk_unicode_to_lower(cp, to);
    }
    for (size_t j = 0; j < k; j++) {
      uint8_t buf[4];
      size_t bl = hk_utf8_encode(to[j], buf);
      if (out)
        for (size_t b = 0; b < bl; b++) out[o + b] = buf[b];
      o += bl;
    }
    i += len;
  }
  return o;
}
