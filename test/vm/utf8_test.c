/* utf8_test.c — UTF-8 decoding, counting, indexing and repair (vm/utf8.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "vm/utf8.h"

#define U(s) ((const uint8_t *)(s))

static void expect_sanitized(const char *in, size_t n, const char *want) {
  size_t len = hk_utf8_sanitized_len(U(in), n);
  cr_assert_eq(len, strlen(want), "length %zu, want %zu", len, strlen(want));
  uint8_t out[256];
  size_t w = hk_utf8_sanitize(U(in), n, out);
  cr_assert_eq(w, len);
  cr_assert(memcmp(out, want, len) == 0);
}

Test(vm_utf8, decode_valid_lengths) {
  size_t len;
  cr_assert_eq(hk_utf8_decode(U("A"), 1, &len), 'A');
  cr_assert_eq(len, 1);
  cr_assert_eq(hk_utf8_decode(U("\xC3\xA9"), 2, &len), 0xE9);
  cr_assert_eq(len, 2);
  cr_assert_eq(hk_utf8_decode(U("\xE2\x82\xAC"), 3, &len), 0x20AC);
  cr_assert_eq(len, 3);
  cr_assert_eq(hk_utf8_decode(U("\xF0\x9F\x98\x80"), 4, &len), 0x1F600);
  cr_assert_eq(len, 4);
  cr_assert_eq(hk_utf8_decode(U("\xF4\x8F\xBF\xBF"), 4, &len), 0x10FFFF);
}

Test(vm_utf8, decode_rejects_overlong_surrogate_and_too_large) {
  size_t len;
  cr_assert_eq(hk_utf8_decode(U("\xC0\xAF"), 2, &len), -1);
  cr_assert_eq(len, 1);
  cr_assert_eq(hk_utf8_decode(U("\xE0\x80\xAF"), 3, &len), -1);
  cr_assert_eq(len, 1);
  cr_assert_eq(hk_utf8_decode(U("\xED\xA0\x80"), 3, &len), -1); /* U+D800 */
  cr_assert_eq(len, 1);
  cr_assert_eq(hk_utf8_decode(U("\xF4\x90\x80\x80"), 4, &len), -1);
  cr_assert_eq(len, 1);
  cr_assert_eq(hk_utf8_decode(U("\xE2\x82"), 2, &len), -1); /* truncated */
  cr_assert_eq(len, 2);
  cr_assert_eq(hk_utf8_decode(U("\xF0\x9F\x98" "A"), 4, &len), -1);
  cr_assert_eq(len, 3);
  cr_assert_eq(hk_utf8_decode(U("\x80"), 1, &len), -1);
  cr_assert_eq(len, 1);
}

Test(vm_utf8, valid) {
  cr_assert(hk_utf8_valid(U(""), 0));
  cr_assert(hk_utf8_valid(U("h\xC3\xA9llo \xF0\x9F\x98\x80"), 11));
  cr_assert_not(hk_utf8_valid(U("\xFF"), 1));
  cr_assert_not(hk_utf8_valid(U("ab\xC3"), 3));
  cr_assert_not(hk_utf8_valid(U("\xED\xBF\xBF"), 3));
}

Test(vm_utf8, encode_round_trip) {
  uint32_t cps[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF};
  for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
    uint8_t buf[4];
    size_t n = hk_utf8_encode(cps[i], buf), len;
    cr_assert_eq(hk_utf8_decode(buf, n, &len), (int32_t)cps[i]);
    cr_assert_eq(len, n);
  }
  cr_assert(hk_utf8_is_scalar(0xD7FF));
  cr_assert_not(hk_utf8_is_scalar(0xD800));
  cr_assert_not(hk_utf8_is_scalar(0xDFFF));
  cr_assert_not(hk_utf8_is_scalar(0x110000));
  cr_assert_not(hk_utf8_is_scalar(-1));
}

Test(vm_utf8, count_and_offset) {
  const char *s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z"; /* a é € 😀 z */
  size_t n = strlen(s);
  cr_assert_eq(hk_utf8_count(U(s), n), 5);
  cr_assert_eq(hk_utf8_offset(U(s), n, 0), 0);
  cr_assert_eq(hk_utf8_offset(U(s), n, 1), 1);
  cr_assert_eq(hk_utf8_offset(U(s), n, 2), 3);
  cr_assert_eq(hk_utf8_offset(U(s), n, 3), 6);
  cr_assert_eq(hk_utf8_offset(U(s), n, 4), 10);
  cr_assert_eq(hk_utf8_offset(U(s), n, 5), n);
  cr_assert_eq(hk_utf8_offset(U(s), n, 6), SIZE_MAX);
  cr_assert_eq(hk_utf8_offset(U(""), 0, 0), 0);
}

/* Unicode §3.9, "U+FFFD substitution of maximal subparts" examples. */
Test(vm_utf8, sanitize_maximal_subparts) {
  expect_sanitized("abc", 3, "abc");
  expect_sanitized("\xFF", 1, "\xEF\xBF\xBD");
  /* 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d */
  expect_sanitized("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", 13,
                   "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD"
                   "c\xEF\xBF\xBD\xEF\xBF\xBD" "d");
  /* Overlong C0 AF: two replacement characters. */
  expect_sanitized("\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD");
  /* Surrogate ED A0 80: three. */
  expect_sanitized("\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  /* Truncated four-byte sequence at the end: one. */
  expect_sanitized("x\xF0\x9F\x98", 4, "x\xEF\xBF\xBD");
  expect_sanitized("", 0, "");
}
