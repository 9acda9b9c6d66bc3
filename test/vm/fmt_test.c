/* fmt_test.c — float and integer formatting (vm/bi_fmt.h, SPEC §5, §8.9). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "vm/bi_fmt.h"

static void expect_float(double x, const char *want) {
  char out[HK_FMT_FLOAT_MAX];
  size_t n = hk_fmt_float(x, out);
  cr_assert_eq(n, strlen(out));
  cr_assert_str_eq(out, want);
}

static void expect_json(double x, const char *want) {
  char out[HK_FMT_FLOAT_MAX];
  hk_fmt_float_json(x, out);
  cr_assert_str_eq(out, want);
}

static char *zeros(char *buf, const char *head, int count, const char *tail) {
  strcpy(buf, head);
  size_t n = strlen(buf);
  memset(buf + n, '0', (size_t)count);
  strcpy(buf + n + (size_t)count, tail);
  return buf;
}

Test(vm_fmt, spec_examples) {
  expect_float(3.0, "3");
  expect_float(0.1, "0.1");
  expect_float(123.456, "123.456");
  expect_float(1e21, "1000000000000000000000");
  expect_float(0.001, "0.001");
  expect_float(2.5e-7, "0.00000025");
}

Test(vm_fmt, special_values) {
  expect_float(NAN, "NaN");
  expect_float(-NAN, "NaN");
  expect_float(INFINITY, "inf");
  expect_float(-INFINITY, "-inf");
  expect_float(0.0, "0");
  expect_float(-0.0, "-0");
}

Test(vm_fmt, extremes) {
  char want[HK_FMT_FLOAT_MAX];
  expect_float(5e-324, zeros(want, "0.", 323, "5"));
  expect_float(-5e-324, zeros(want, "-0.", 323, "5"));
  expect_float(1.7976931348623157e308, zeros(want, "17976931348623157", 292, ""));
  expect_float(2.2250738585072014e-308, zeros(want, "0.", 307, "22250738585072014"));
}

Test(vm_fmt, shortest_round_trip) {
  expect_float(0.3, "0.3");
  expect_float(0.1 + 0.2, "0.30000000000000004");
  expect_float(1.0 / 3.0, "0.3333333333333333");
  expect_float(-1.5, "-1.5");
  expect_float(100.0, "100");
  expect_float(9007199254740992.0, "9007199254740992");
  expect_float(1e23, "100000000000000000000000");
  expect_float(123456789012345680.0, "123456789012345680");
  /* Every printed value reads back as the same double. */
  double xs[] = {0.1, 1e-10, 6.02214076e23, 2.718281828459045, 4.9406564584124654e-320};
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    char out[HK_FMT_FLOAT_MAX];
    hk_fmt_float(xs[i], out);
    cr_assert_eq(strtod(out, NULL), xs[i], "%s", out);
  }
}

Test(vm_fmt, digits_and_exponent) {
  char d[20];
  int e;
  cr_assert_eq(hk_fmt_float_digits(123.456, d, &e), 6);
  cr_assert_str_eq(d, "123456");
  cr_assert_eq(e, 3);
  cr_assert_eq(hk_fmt_float_digits(0.001, d, &e), 1);
  cr_assert_str_eq(d, "1");
  cr_assert_eq(e, -2);
  cr_assert_eq(hk_fmt_float_digits(5e-324, d, &e), 1);
  cr_assert_eq(e, -323);
}

Test(vm_fmt, json_number_form) {
  expect_json(3.0, "3.0");
  expect_json(0.0, "0.0");
  expect_json(1e21, "1e21");
  expect_json(1.5e-7, "1.5e-7");
  expect_json(123.456, "123.456");
  expect_json(1e15, "1000000000000000.0");
  expect_json(1e16, "1e16");
  expect_json(0.0001, "0.0001");
  expect_json(0.00001, "0.00001");
  expect_json(0.000001, "1e-6");
  expect_json(-2.5, "-2.5");
}

Test(vm_fmt, integers) {
  char out[HK_FMT_INT_MAX];
  cr_assert_eq(hk_fmt_int(0, out), 1);
  cr_assert_str_eq(out, "0");
  hk_fmt_int(-42, out);
  cr_assert_str_eq(out, "-42");
  hk_fmt_int(INT64_MIN, out);
  cr_assert_str_eq(out, "-9223372036854775808");
  hk_fmt_int(INT64_MAX, out);
  cr_assert_str_eq(out, "9223372036854775807");
}
