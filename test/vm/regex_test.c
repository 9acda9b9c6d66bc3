/* regex_test.c — the regex engine (vm/bi_regex.h, SPEC §8.8): syntax,
** leftmost-first semantics, captures, Unicode classes, flags, errors, and
** linear time on patterns that make backtracking engines explode. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vm/bi_regex.h"

/* Returns "START-END" of the match of group [g], "none" (no match) or "-"
** (group did not take part), in a static buffer. */
static const char *find_from(const char *pat, const char *s, size_t from, int g) {
  static char out[64];
  hk_regex_t *re;
  const char *err = NULL;
  int rc = hk_regex_compile(pat, strlen(pat), &re, &err);
  cr_assert_eq(rc, 0, "compile %s: %s", pat, err ? err : "");
  int64_t caps[64];
  cr_assert_lt(2 * hk_regex_groups(re), 64u);
  rc = hk_regex_search(re, s, strlen(s), from, caps);
  cr_assert_geq(rc, 0);
  if (rc == 0) snprintf(out, sizeof out, "none");
  else if (caps[2 * g] < 0) snprintf(out, sizeof out, "-");
  else snprintf(out, sizeof out, "%lld-%lld", (long long)caps[2 * g], (long long)caps[2 * g + 1]);
  hk_regex_free(re);
  return out;
}

static const char *find(const char *pat, const char *s) { return find_from(pat, s, 0, 0); }

static const char *compile_error(const char *pat) {
  hk_regex_t *re = NULL;
  const char *err = NULL;
  int rc = hk_regex_compile(pat, strlen(pat), &re, &err);
  cr_assert_eq(rc, -EINVAL, "accepted %s", pat);
  cr_assert_not_null(err);
  return err;
}

Test(vm_regex, literals_dot_classes) {
  cr_assert_str_eq(find("bc", "abcd"), "1-3");
  cr_assert_str_eq(find("x", "abc"), "none");
  cr_assert_str_eq(find("", "abc"), "0-0");
  cr_assert_str_eq(find("a.c", "xa\xC3\xA9" "c"), "1-5"); /* . is one scalar */
  cr_assert_str_eq(find("a.c", "a\nc"), "none");
  cr_assert_str_eq(find("(?s)a.c", "a\nc"), "0-3");
  cr_assert_str_eq(find("[b-d]+", "abcde"), "1-4");
  cr_assert_str_eq(find("[^a-c]", "abcd"), "3-4");
  cr_assert_str_eq(find("[]a]+", "x]a]"), "1-4");
  cr_assert_str_eq(find("[a-]+", "x-a-"), "1-4");
  cr_assert_str_eq(find("[[:digit:]]+", "ab123"), "2-5");
  cr_assert_str_eq(find("[[:^alpha:]]", "ab1"), "2-3");
  cr_assert_str_eq(find("\\.\\*\\+", "a.*+"), "1-4");
  cr_assert_str_eq(find("\\x41\\x{e9}", "A\xC3\xA9"), "0-3");
  cr_assert_str_eq(find("a\\tb", "a\tb"), "0-3");
}

Test(vm_regex, unicode_perl_classes) {
  cr_assert_str_eq(find("\\d+", "x\xD9\xA3\xD9\xA4y"), "1-5"); /* Arabic-Indic digits */
  cr_assert_str_eq(find("\\w+", " h\xC3\xA9llo!"), "1-7");
  cr_assert_str_eq(find("\\s+", "a\xE3\x80\x80 b"), "1-5");    /* U+3000 */
  cr_assert_str_eq(find("\\D", "12a"), "2-3");
  cr_assert_str_eq(find("\\W", "ab_c-"), "4-5");
  cr_assert_str_eq(find("\\S+", "  ab "), "2-4");
  cr_assert_str_eq(find("[\\d_]+", "a1_2b"), "1-4");
}

Test(vm_regex, anchors_and_boundaries) {
  cr_assert_str_eq(find("^a", "ba"), "none");
  cr_assert_str_eq(find("a$", "a\n"), "none"); /* $ without (?m) is the end of text */
  cr_assert_str_eq(find("(?m)a$", "a\nb"), "0-1");
  cr_assert_str_eq(find("(?m)^b", "a\nb"), "2-3");
  cr_assert_str_eq(find("\\Ab", "a\nb"), "none");
  cr_assert_str_eq(find("a\\z", "ba"), "1-2");
  cr_assert_str_eq(find("\\bfoo\\b", "a foo b"), "2-5");
  cr_assert_str_eq(find("\\bfoo\\b", "afoob"), "none");
  cr_assert_str_eq(find("\\Boo\\B", "afoob"), "2-4");
  cr_assert_str_eq(find("\\b\xC3\xA9t\xC3\xA9\\b", "un \xC3\xA9t\xC3\xA9 ici"), "3-8");
  /* A search from an offset sees the text before it. */
  cr_assert_str_eq(find_from("\\bb", "ab b", 1, 0), "3-4");
  cr_assert_str_eq(find_from("^b", "ab", 1, 0), "none");
}

Test(vm_regex, leftmost_first) {
  cr_assert_str_eq(find("a|ab", "ab"), "0-1");
  cr_assert_str_eq(find("ab|a", "ab"), "0-2");
  cr_assert_str_eq(find("a+", "baaa"), "1-4");
  cr_assert_str_eq(find("a+?", "baaa"), "1-2");
  cr_assert_str_eq(find("a*", "baaa"), "0-0");
  cr_assert_str_eq(find("a{2,3}", "aaaa"), "0-3");
  cr_assert_str_eq(find("a{2,3}?", "aaaa"), "0-2");
  cr_assert_str_eq(find("a{2}", "aaaa"), "0-2");
  cr_assert_str_eq(find("a{2,}", "aaaa"), "0-4");
  cr_assert_str_eq(find("x{0}y", "xy"), "1-2");
  cr_assert_str_eq(find("(a|ab)(c|bcd)", "abcd"), "0-4");
  cr_assert_str_eq(find("a{,2}", "a{,2}"), "0-5"); /* not a repetition: literal */
}

Test(vm_regex, captures) {
  cr_assert_str_eq(find_from("(a)(b)?", "a", 0, 1), "0-1");
  cr_assert_str_eq(find_from("(a)(b)?", "a", 0, 2), "-");
  cr_assert_str_eq(find_from("(a|b)+", "abab", 0, 1), "3-4"); /* the last iteration */
  cr_assert_str_eq(find_from("(?:x)(y)", "xy", 0, 1), "1-2");
  hk_regex_t *re;
  const char *err;
  cr_assert_eq(hk_regex_compile("(?P<year>\\d+)-(?<m>\\d+)", 23, &re, &err), 0);
  cr_assert_eq(hk_regex_groups(re), 3);
  cr_assert_eq(hk_regex_group_index(re, "year", 4), 1);
  cr_assert_eq(hk_regex_group_index(re, "m", 1), 2);
  cr_assert_eq(hk_regex_group_index(re, "x", 1), -1);
  hk_regex_free(re);
}

Test(vm_regex, flags) {
  cr_assert_str_eq(find("(?i)hello", "say HeLLo"), "4-9");
  cr_assert_str_eq(find("(?i)[a-c]+", "xABCd"), "1-4");
  cr_assert_str_eq(find("(?i)\xC3\xA9", "\xC3\x89"), "0-2"); /* é / É */
  cr_assert_str_eq(find("a(?i:b)c", "aBc"), "0-3");
  cr_assert_str_eq(find("a(?i:b)c", "aBC"), "none");
  cr_assert_str_eq(find("(?i)a(?-i)b", "Ab"), "0-2");
  cr_assert_str_eq(find("(?i)a(?-i)b", "AB"), "none");
}

Test(vm_regex, errors) {
  compile_error("(");
  compile_error("a)");
  compile_error("[a");
  compile_error("*a");
  compile_error("a**");
  compile_error("a{1001}");
  compile_error("a{2,1}");
  compile_error("\\q");
  compile_error("a\\");
  compile_error("(?P<1a");
  compile_error("(?P<a>x)(?P<a>y)");
  compile_error("[z-a]");
  compile_error("(?x)a");
  compile_error("\\1"); /* no backreferences */
  compile_error("(?=a)"); /* no lookaround */
  cr_assert_str_eq(compile_error("(a"), "missing closing )");
  char deep[1200];
  memset(deep, '(', 600);
  memset(deep + 600, ')', 600);
  deep[1200 - 1] = 0;
  deep[1199] = 0;
  compile_error(deep);
}

Test(vm_regex, linear_time) {
  size_t n = 20000;
  char *s = malloc(n + 1);
  memset(s, 'a', n);
  s[n] = 0;
  clock_t t0 = clock();
  cr_assert_str_eq(find("(a*)*b", s), "none");
  cr_assert_str_eq(find("(a|a)*c", s), "none");
  cr_assert_str_eq(find("(x+x+)+y", s), "none");
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  cr_assert_lt(secs, 5.0, "took %.2fs", secs);
  free(s);
}
