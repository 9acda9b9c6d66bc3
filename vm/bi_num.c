/* bi_num.c — conversions (SPEC §8.3) and math (§8.5). */
#include <math.h>

#include "vm/bi_core.h"
#include "vm/bi_fmt.h"
#include "vm/utf8.h"

int hk_bi_int_to_string(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_int(arg)) return hk_bi_expected(vm, HK_B_int_to_string);
  char buf[HK_FMT_INT_MAX];
  return hk_alloc_string(vm, buf, hk_fmt_int(hk_as_int(arg), buf), out);
}

int hk_bi_float_to_string(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_float(arg)) return hk_bi_expected(vm, HK_B_float_to_string);
  char buf[HK_FMT_FLOAT_MAX];
  return hk_alloc_string(vm, buf, hk_fmt_float(hk_as_float(arg), buf), out);
}

int hk_bi_string_to_int(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_string_to_int);
  hk_vm_charge(vm, hk_str_len(arg));
  int64_t v;
  hk_parse_int_err_t err =
      hk_text_parse_int((const uint8_t *)hk_str_data(arg), hk_str_len(arg), &v);
  if (err != HK_PARSE_INT_OK)
    return hk_vm_fail(vm, "string_to_int: %s", hk_text_parse_int_message(err));
  *out = hk_int(v);
  return 0;
}

int hk_bi_char_to_int(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_char(arg)) return hk_bi_expected(vm, HK_B_char_to_int);
  *out = hk_int((int64_t)hk_as_char(arg));
  return 0;
}

int hk_bi_int_to_char(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_int(arg)) return hk_bi_expected(vm, HK_B_int_to_char);
  int64_t n = hk_as_int(arg);
  if (!hk_utf8_is_scalar(n)) return hk_vm_fail(vm, "int_to_char: invalid codepoint %lld", (long long)n);
  *out = hk_char((uint32_t)n);
  return 0;
}

int hk_bi_int_to_float(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_int(arg)) return hk_bi_expected(vm, HK_B_int_to_float);
  *out = hk_float((double)hk_as_int(arg));
  return 0;
}

/* ---- §8.5 math ------------------------------------------------------------ */

int hk_bi_sqrt(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_float(arg)) return hk_bi_expected(vm, HK_B_sqrt);
  *out = hk_float(sqrt(hk_as_float(arg)));
  return 0;
}

int hk_bi_abs_float(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_float(arg)) return hk_bi_expected(vm, HK_B_abs_float);
  *out = hk_float(fabs(hk_as_float(arg)));
  return 0;
}

int hk_bi_abs_int(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_int(arg)) return hk_bi_expected(vm, HK_B_abs_int);
  int64_t n = hk_as_int(arg);
  if (n == INT64_MIN) return hk_vm_fail(vm, "integer overflow (negation)");
  *out = hk_int(n < 0 ? -n : n);
  return 0;
}

/* Converts an integral double with saturation; NaN gives 0. */
static int64_t saturate(double f) {
  if (isnan(f)) return 0;
  if (f >= 9223372036854775808.0) return INT64_MAX;
  if (f < -9223372036854775808.0) return INT64_MIN;
  return (int64_t)f;
}

int hk_bi_floor(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_float(arg)) return hk_bi_expected(vm, HK_B_floor);
  *out = hk_int(saturate(floor(hk_as_float(arg))));
  return 0;
}

int hk_bi_ceil(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_float(arg)) return hk_bi_expected(vm, HK_B_ceil);
  *out = hk_int(saturate(ceil(hk_as_float(arg))));
  return 0;
}
