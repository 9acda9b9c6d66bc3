/* hashline_test.c — line tags and splitting (vm/bi_hashline.h, SPEC §8.7).
** Expected tags computed by hand with FNV-1a (offset 2166136261, prime
** 16777619) mod 3844 in base 62. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_hashline.h"

static void expect_tag(const char *line, const char *want) {
  char tag[3];
  hk_hashline_tag(line, strlen(line), tag);
  cr_assert_str_eq(tag, want, "tag of '%s'", line);
}

Test(vm_hashline, tags) {
  expect_tag("", "ZD"); /* 2166136261 mod 3844 = 3795 = 61 * 62 + 13 */
  expect_tag("a", "Xe");
  expect_tag("hello", "QX");
  expect_tag("line two", "xj");
  expect_tag("  indented", "3c");
  expect_tag("fn main() {", "Ty");
}

static hk_hashline_lines_t split(const char *s) {
  hk_hashline_lines_t l = {0};
  hk_hashline_split(s, strlen(s), &l);
  cr_assert_not(l.failed);
  return l;
}

static void expect_line(const hk_hashline_lines_t *l, size_t i, const char *want) {
  cr_assert_eq(l->items[i].len, strlen(want));
  cr_assert(memcmp(l->items[i].s, want, l->items[i].len) == 0);
}

Test(vm_hashline, split_rules) {
  hk_hashline_lines_t l = split("a\nb\r\n\nc\n");
  cr_assert_eq(l.n, 4);
  cr_assert(l.trailing_newline);
  expect_line(&l, 0, "a");
  expect_line(&l, 1, "b"); /* the \r is removed */
  expect_line(&l, 2, "");
  expect_line(&l, 3, "c");
  free(l.items);
  l = split("a\nb");
  cr_assert_eq(l.n, 2);
  cr_assert_not(l.trailing_newline);
  free(l.items);
  l = split("");
  cr_assert_eq(l.n, 0);
  free(l.items);
  l = split("\n");
  cr_assert_eq(l.n, 1);
  expect_line(&l, 0, "");
  free(l.items);
  l = split("x\r\r\n");
  cr_assert_eq(l.n, 1);
  expect_line(&l, 0, "x\r"); /* only one trailing \r is removed */
  free(l.items);
}
