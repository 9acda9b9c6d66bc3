/* text_test.c — string algorithms and Unicode tables (vm/bi_text.h,
** vm/bi_unicode.h; SPEC §8.3, §8.4). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "vm/bi_text.h"
#include "vm/bi_unicode.h"

#define U(s) ((const uint8_t *)(s))

static hk_parse_int_err_t parse(const char *s, int64_t *v) {
  return hk_text_parse_int(U(s), strlen(s), v);
}

Test(vm_text, parse_int_accepts) {
  int64_t v;
  cr_assert_eq(parse("42", &v), HK_PARSE_INT_OK);
  cr_assert_eq(v, 42);
  cr_assert_eq(parse("  -17\n", &v), HK_PARSE_INT_OK);
  cr_assert_eq(v, -17);
  cr_assert_eq(parse("+5", &v), HK_PARSE_INT_OK);
  cr_assert_eq(v, 5);
  cr_assert_eq(parse("\xE3\x80\x80" "7\xC2\xA0", &v), HK_PARSE_INT_OK); /* U+3000, U+00A0 */
  cr_assert_eq(v, 7);
  cr_assert_eq(parse("9223372036854775807", &v), HK_PARSE_INT_OK);
  cr_assert_eq(v, INT64_MAX);
  cr_assert_eq(parse("-9223372036854775808", &v), HK_PARSE_INT_OK);
  cr_assert_eq(v, INT64_MIN);
  cr_assert_eq(parse("007", &v), HK_PARSE_INT_OK);
  cr_assert_eq(v, 7);
}

Test(vm_text, parse_int_errors) {
  int64_t v;
  cr_assert_eq(parse("", &v), HK_PARSE_INT_EMPTY);
  cr_assert_eq(parse(" \t\n", &v), HK_PARSE_INT_EMPTY);
  cr_assert_eq(parse("-", &v), HK_PARSE_INT_INVALID);
  cr_assert_eq(parse("+", &v), HK_PARSE_INT_INVALID);
  cr_assert_eq(parse("1 2", &v), HK_PARSE_INT_INVALID);
  cr_assert_eq(parse("12a", &v), HK_PARSE_INT_INVALID);
  cr_assert_eq(parse("--1", &v), HK_PARSE_INT_INVALID);
  cr_assert_eq(parse("1.0", &v), HK_PARSE_INT_INVALID);
  cr_assert_eq(parse("\xD9\xA3", &v), HK_PARSE_INT_INVALID); /* Arabic-Indic 3 */
  cr_assert_eq(parse("9223372036854775808", &v), HK_PARSE_INT_TOO_LARGE);
  cr_assert_eq(parse("-9223372036854775809", &v), HK_PARSE_INT_TOO_SMALL);
  cr_assert_eq(parse("99999999999999999999", &v), HK_PARSE_INT_TOO_LARGE);
  cr_assert_str_eq(hk_text_parse_int_message(HK_PARSE_INT_EMPTY),
                   "cannot parse integer from empty string");
  cr_assert_str_eq(hk_text_parse_int_message(HK_PARSE_INT_INVALID),
                   "invalid digit found in string");
  cr_assert_str_eq(hk_text_parse_int_message(HK_PARSE_INT_TOO_LARGE),
                   "number too large to fit in target type");
  cr_assert_str_eq(hk_text_parse_int_message(HK_PARSE_INT_TOO_SMALL),
                   "number too small to fit in target type");
}

Test(vm_text, trim_unicode_white_space) {
  const char *s = "\xE2\x80\x83 \t hi there\r\n\xE2\x80\xA8";
  size_t a, b;
  hk_text_trim(U(s), strlen(s), &a, &b);
  cr_assert_eq(b - a, 8);
  cr_assert(memcmp(s + a, "hi there", 8) == 0);
  hk_text_trim(U("   "), 3, &a, &b);
  cr_assert_eq(a, b);
  /* U+200B ZERO WIDTH SPACE is not White_Space. */
  hk_text_trim(U("\xE2\x80\x8B"), 3, &a, &b);
  cr_assert_eq(b - a, 3);
}

Test(vm_text, find) {
  cr_assert_eq(hk_text_find(U("hello"), 5, U("ll"), 2, 0), 2);
  cr_assert_eq(hk_text_find(U("hello"), 5, U("ll"), 2, 3), -1);
  cr_assert_eq(hk_text_find(U("hello"), 5, U(""), 0, 5), 5);
  cr_assert_eq(hk_text_find(U("hello"), 5, U("x"), 1, 0), -1);
}

static void expect_replace(const char *s, const char *from, const char *to, const char *want) {
  hk_buf_t b;
  hk_buf_init(&b);
  hk_text_replace(U(s), strlen(s), U(from), strlen(from), U(to), strlen(to), &b);
  cr_assert_not(b.failed);
  cr_assert_eq(b.len, strlen(want), "got %.*s", (int)b.len, (char *)b.data);
  cr_assert(b.len == 0 || memcmp(b.data, want, b.len) == 0);
  hk_buf_free(&b);
}

Test(vm_text, replace) {
  expect_replace("ab", "", "-", "-a-b-");
  expect_replace("", "", "-", "-");
  expect_replace("\xC3\xA9x", "", "|", "|\xC3\xA9|x|");
  expect_replace("aaa", "aa", "b", "ba");
  expect_replace("a.b.c", ".", "::", "a::b::c");
  expect_replace("abc", "x", "y", "abc");
  expect_replace("abab", "ab", "", "");
}

static void expect_case(const char *s, bool upper, const char *want) {
  size_t n = strlen(s);
  size_t len = hk_unicode_case_string(U(s), n, upper, NULL);
  uint8_t out[128];
  cr_assert_lt(len, sizeof out);
  cr_assert_eq(hk_unicode_case_string(U(s), n, upper, out), len);
  out[len] = 0;
  cr_assert_str_eq((char *)out, want);
}

Test(vm_text, case_mapping) {
  expect_case("Hello, World!", true, "HELLO, WORLD!");
  expect_case("Hello, World!", false, "hello, world!");
  expect_case("stra\xC3\x9F" "e", true, "STRASSE");           /* ß -> SS */
  expect_case("\xEF\xAC\x81", true, "FI");                     /* ﬁ ligature */
  expect_case("\xC3\xA9t\xC3\xA9", true, "\xC3\x89T\xC3\x89"); /* été -> ÉTÉ */
  expect_case("\xC4\xB0", false, "i\xCC\x87");                 /* İ -> i̇ */
  expect_case("\xD0\x9F\xD0\xA0\xD0\x98", false, "\xD0\xBF\xD1\x80\xD0\xB8"); /* ПРИ */
}

Test(vm_text, final_sigma) {
  /* ΟΔΟΣ -> οδος with a final ς. */
  expect_case("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", false, "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82");
  /* ΣΑ: sigma not final -> σα. */
  expect_case("\xCE\xA3\xCE\x91", false, "\xCF\x83\xCE\xB1");
  /* A lone Σ is not preceded by a cased letter -> σ. */
  expect_case("\xCE\xA3", false, "\xCF\x83");
  /* ΟΣ. followed by punctuation and a space: final. */
  expect_case("\xCE\x9F\xCE\xA3. x", false, "\xCE\xBF\xCF\x82. x");
  /* ΟΣ'Α: the apostrophe is case-ignorable, a cased letter follows -> σ. */
  expect_case("\xCE\x9F\xCE\xA3'\xCE\x91", false, "\xCE\xBF\xCF\x83'\xCE\xB1");
}

Test(vm_text, properties) {
  cr_assert(hk_unicode_is_white_space(' '));
  cr_assert(hk_unicode_is_white_space(0x85));
  cr_assert(hk_unicode_is_white_space(0x3000));
  cr_assert_not(hk_unicode_is_white_space(0x200B));
  cr_assert_not(hk_unicode_is_white_space('a'));
  cr_assert(hk_unicode_is_cased('a'));
  cr_assert_not(hk_unicode_is_cased('1'));
  cr_assert(hk_unicode_is_case_ignorable('\''));
  cr_assert(hk_unicode_is_digit(0x663));
  cr_assert(hk_unicode_is_word('_'));
  cr_assert(hk_unicode_is_word(0x4E2D));
  cr_assert_not(hk_unicode_is_word('-'));
  cr_assert_eq(hk_unicode_simple_upper(0xE9), 0xC9);
  cr_assert_eq(hk_unicode_simple_lower(0x3A3), 0x3C3);
}
