/* builtins_test.c — the builtins called directly on a VM instance of an
** empty image (vm/bi_core.h): results, exact failure messages (SPEC §8),
** the "NAME: expected SHAPE" kind checks that typed programs cannot reach,
** and output through the host. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_core.h"
#include "vm/image.h"

static hk_image_t *img;
static hk_vm_t *vm;
static hk_host_t host;
static char written[4096];
static size_t nwritten;
static int writes;

static int host_write(void *ud, int stream, const char *data, size_t len) {
  (void)ud;
  cr_assert_eq(stream, 1);
  cr_assert_lt(nwritten + len, sizeof written);
  memcpy(written + nwritten, data, len);
  nwritten += len;
  writes++;
  return 0;
}

static const char *const argv[] = {"one", "two"};

static void fresh(void) {
  if (vm) hk_vm_free(vm);
  cr_assert_eq(hk_vm_new(&vm, img, &host, NULL), 0);
}

static const char *datatypes[1] = {"json"};
static hk_ctor_info_t ctors[7];

static void setup(void) {
  cr_assert_eq(hk_image_new(&img, NULL), 0);
  /* The json datatype of stdlib/json.hml, so the JSON builtins find it. */
  static const char *const names[7] = {"JNull", "JBool", "JInt", "JFloat",
                                       "JStr", "JArray", "JObject"};
  for (uint32_t i = 0; i < 7; i++) ctors[i] = (hk_ctor_info_t){names[i], 0, i, i != 0};
  img->datatypes = datatypes;
  img->ndatatypes = 1;
  img->ctors = ctors;
  img->nctors = 7;
  memset(&host, 0, sizeof host);
  host.write = host_write;
  host.argv = argv;
  host.argc = 2;
  host.allow_exit = true;
  fresh();
}

static void teardown(void) {
  hk_vm_free(vm);
  vm = NULL;
  hk_image_free(img);
}

TestSuite(vm_builtins, .init = setup, .fini = teardown);

static hk_value_t str(const char *s) {
  hk_value_t v;
  cr_assert_eq(hk_alloc_string(vm, s, strlen(s), &v), 0);
  return v;
}
static hk_value_t bytes(const char *s, size_t n) {
  hk_value_t v;
  cr_assert_eq(hk_alloc_bytes(vm, s, n, &v), 0);
  return v;
}
static hk_value_t tup(uint32_t n, hk_value_t a, hk_value_t b, hk_value_t c) {
  hk_value_t items[3] = {a, b, c}, v;
  cr_assert_eq(hk_alloc_tuple(vm, n, items, &v), 0);
  return v;
}

/* Calls builtin [id]; expects success. */
static hk_value_t ok(hk_builtin_id_t id, hk_value_t arg) {
  hk_value_t out = hk_unit();
  int rc = hk_builtin_fns[id](vm, arg, &out);
  cr_assert_eq(rc, 0, "%s failed: %s", hk_builtin_table[id].name,
               hk_vm_failed(vm) ? hk_vm_failure(vm)->message : "(none)");
  return out;
}

/* Calls builtin [id]; expects the failure [msg], then starts a fresh VM. */
static void fails(hk_builtin_id_t id, hk_value_t arg, const char *msg) {
  hk_value_t out;
  int rc = hk_builtin_fns[id](vm, arg, &out);
  cr_assert_lt(rc, 0, "%s succeeded", hk_builtin_table[id].name);
  cr_assert(hk_vm_failed(vm));
  cr_assert_str_eq(hk_vm_failure(vm)->message, msg);
  fresh();
}

static void expect_str(hk_value_t v, const char *want) {
  cr_assert(hk_is_string(v));
  cr_assert_eq(hk_str_len(v), strlen(want), "got '%s' want '%s'", hk_str_data(v), want);
  cr_assert(memcmp(hk_str_data(v), want, strlen(want)) == 0);
}

Test(vm_builtins, print_one_write_per_call) {
  ok(HK_B_print, str("ab"));
  ok(HK_B_println, tup(2, hk_int(1), str("x"), hk_unit()));
  ok(HK_B_print, hk_float(2.5));
  written[nwritten] = 0;
  cr_assert_str_eq(written, "ab(1, x)\n2.5");
  cr_assert_eq(writes, 3);
}

Test(vm_builtins, args_and_getenv) {
  hk_value_t l = ok(HK_B_args, hk_unit());
  expect_str(hk_head(l), "one");
  expect_str(hk_head(hk_tail(l)), "two");
  cr_assert_eq(hk_tail(hk_tail(l)).tag, HK_T_NIL);
  setenv("HIKO_BI_TEST", "v\xFFz", 1);
  expect_str(ok(HK_B_getenv, str("HIKO_BI_TEST")), "v\xEF\xBF\xBDz");
  expect_str(ok(HK_B_getenv, str("")), "");
  expect_str(ok(HK_B_getenv, str("HIKO_BI_TEST=")), "");
}

Test(vm_builtins, conversions) {
  expect_str(ok(HK_B_int_to_string, hk_int(-12)), "-12");
  expect_str(ok(HK_B_float_to_string, hk_float(1e21)), "1000000000000000000000");
  cr_assert_eq(hk_as_int(ok(HK_B_string_to_int, str(" 42 "))), 42);
  fails(HK_B_string_to_int, str(""), "string_to_int: cannot parse integer from empty string");
  fails(HK_B_string_to_int, str("4x"), "string_to_int: invalid digit found in string");
  fails(HK_B_string_to_int, str("99999999999999999999"),
        "string_to_int: number too large to fit in target type");
  fails(HK_B_string_to_int, str("-99999999999999999999"),
        "string_to_int: number too small to fit in target type");
  cr_assert_eq(hk_as_char(ok(HK_B_int_to_char, hk_int(0x10FFFF))), 0x10FFFF);
  fails(HK_B_int_to_char, hk_int(0xD800), "int_to_char: invalid codepoint 55296");
  fails(HK_B_int_to_char, hk_int(-5), "int_to_char: invalid codepoint -5");
  cr_assert_eq(hk_as_int(ok(HK_B_char_to_int, hk_char(0xE9))), 0xE9);
  cr_assert_eq(hk_as_float(ok(HK_B_int_to_float, hk_int(3))), 3.0);
}

Test(vm_builtins, strings) {
  cr_assert_eq(hk_as_int(ok(HK_B_string_length, str("h\xC3\xA9llo"))), 5);
  expect_str(ok(HK_B_substring, tup(3, str("h\xC3\xA9llo"), hk_int(1), hk_int(2))),
             "\xC3\xA9l");
  expect_str(ok(HK_B_substring, tup(3, str("abc"), hk_int(9), hk_int(0))), "");
  fails(HK_B_substring, tup(3, str("abc"), hk_int(-1), hk_int(0)),
        "substring: negative start index");
  fails(HK_B_substring, tup(3, str("abc"), hk_int(0), hk_int(-1)), "substring: negative length");
  fails(HK_B_substring, tup(3, str("abc"), hk_int(1), hk_int(3)), "substring: out of bounds");
  hk_value_t parts = ok(HK_B_split, tup(2, str("ab"), str(""), hk_unit()));
  const char *want[] = {"", "a", "b", ""};
  for (int i = 0; i < 4; i++, parts = hk_tail(parts)) expect_str(hk_head(parts), want[i]);
  cr_assert_eq(parts.tag, HK_T_NIL);
  expect_str(ok(HK_B_string_replace, tup(3, str("ab"), str(""), str("-"))), "-a-b-");
  expect_str(ok(HK_B_trim, str("\xE2\x80\x83 x \n")), "x");
  expect_str(ok(HK_B_to_upper, str("stra\xC3\x9F" "e")), "STRASSE");
  expect_str(ok(HK_B_to_lower, str("\xCE\x9F\xCE\xA3")), "\xCE\xBF\xCF\x82");
  cr_assert(hk_as_bool(ok(HK_B_string_contains, tup(2, str("abc"), str(""), hk_unit()))));
  cr_assert(hk_as_bool(ok(HK_B_starts_with, tup(2, str("abc"), str("ab"), hk_unit()))));
  cr_assert_not(hk_as_bool(ok(HK_B_ends_with, tup(2, str("abc"), str("ab"), hk_unit()))));
  hk_value_t list;
  cr_assert_eq(hk_alloc_cons(vm, str("b"), hk_nil(), &list), 0);
  cr_assert_eq(hk_alloc_cons(vm, str("a"), list, &list), 0);
  expect_str(ok(HK_B_string_join, tup(2, list, str(", "), hk_unit())), "a, b");
  fails(HK_B_string_join, tup(2, hk_nil(), hk_int(1), hk_unit()),
        "string_join: expected String list * String");
}

Test(vm_builtins, math) {
  cr_assert_eq(hk_as_int(ok(HK_B_floor, hk_float(-2.5))), -3);
  cr_assert_eq(hk_as_int(ok(HK_B_ceil, hk_float(-2.5))), -2);
  cr_assert_eq(hk_as_int(ok(HK_B_floor, hk_float(1e300))), INT64_MAX);
  cr_assert_eq(hk_as_int(ok(HK_B_ceil, hk_float(-1e300))), INT64_MIN);
  cr_assert_eq(hk_as_int(ok(HK_B_floor, hk_float(0.0 / 0.0))), 0);
  cr_assert_eq(hk_as_int(ok(HK_B_abs_int, hk_int(-4))), 4);
  fails(HK_B_abs_int, hk_int(INT64_MIN), "integer overflow (negation)");
}

Test(vm_builtins, bytes_and_rng) {
  hk_value_t b = bytes("\xC3\xA9z", 3);
  cr_assert_eq(hk_as_int(ok(HK_B_bytes_get, tup(2, b, hk_int(0), hk_unit()))), 0xC3);
  fails(HK_B_bytes_get, tup(2, bytes("ab", 2), hk_int(2), hk_unit()),
        "bytes_get: index 2 out of bounds (length 2)");
  fails(HK_B_bytes_get, tup(2, bytes("ab", 2), hk_int(-1), hk_unit()),
        "bytes_get: index must be non-negative, got -1");
  b = bytes("\xC3\xA9z", 3);
  hk_value_t s = ok(HK_B_bytes_slice, tup(3, b, hk_int(1), hk_int(100)));
  cr_assert_eq(hk_str_len(s), 2);
  expect_str(ok(HK_B_bytes_to_string, s), "\xEF\xBF\xBDz");
  fails(HK_B_bytes_slice, tup(3, bytes("a", 1), hk_int(-3), hk_int(0)),
        "bytes_slice: start must be non-negative, got -3");
  fails(HK_B_bytes_slice, tup(3, bytes("a", 1), hk_int(0), hk_int(-4)),
        "bytes_slice: length must be non-negative, got -4");
  fails(HK_B_random_bytes, hk_int(-1), "random_bytes: length must be non-negative");
  cr_assert_eq(hk_str_len(ok(HK_B_random_bytes, hk_int(33))), 33);
  hk_value_t r = ok(HK_B_rng_seed, bytes("abc", 3));
  hk_value_t pair = ok(HK_B_rng_int, tup(2, r, hk_int(100), hk_unit()));
  cr_assert_eq(hk_as_int(hk_tuple_at(pair, 0)), 51);
  pair = ok(HK_B_rng_int, tup(2, hk_tuple_at(pair, 1), hk_int(100), hk_unit()));
  cr_assert_eq(hk_as_int(hk_tuple_at(pair, 0)), 7);
  pair = ok(HK_B_rng_bytes, tup(2, r, hk_int(5), hk_unit()));
  hk_value_t bs = hk_tuple_at(pair, 0);
  cr_assert_eq(hk_str_len(bs), 5);
  cr_assert_eq((uint8_t)hk_str_data(bs)[0], 59);
  cr_assert_eq((uint8_t)hk_str_data(bs)[4], 67);
  fails(HK_B_rng_int, tup(2, ok(HK_B_rng_seed, bytes("", 0)), hk_int(0), hk_unit()),
        "rng_int: bound must be positive");
  fails(HK_B_rng_bytes, tup(2, ok(HK_B_rng_seed, bytes("", 0)), hk_int(-1), hk_unit()),
        "rng_bytes: expected non-negative Int");
}

Test(vm_builtins, system) {
  ok(HK_B_assert, tup(2, hk_bool(true), str("m"), hk_unit()));
  fails(HK_B_assert, tup(2, hk_bool(false), str("it broke"), hk_unit()),
        "assertion failed: it broke");
  ok(HK_B_assert_eq, tup(3, str("x"), str("x"), str("m")));
  hk_value_t l;
  cr_assert_eq(hk_alloc_cons(vm, hk_int(1), hk_nil(), &l), 0);
  fails(HK_B_assert_eq, tup(3, l, hk_nil(), str("lists")),
        "assertion failed: lists: expected [], got [1]");
  fails(HK_B_panic, str("boom"), "boom");
  hk_value_t out;
  cr_assert_eq(hk_builtin_fns[HK_B_exit](vm, hk_int(3), &out), HK_EEXIT);
  cr_assert_eq(hk_vm_exit_code(vm), 3);
  fresh();
  host.allow_exit = false;
  fails(HK_B_exit, hk_int(3), "exit: not allowed");
}

Test(vm_builtins, monotonic_starts_at_zero) {
  cr_assert_eq(hk_as_int(ok(HK_B_monotonic_ms, hk_unit())), 0);
  cr_assert_geq(hk_as_int(ok(HK_B_monotonic_ms, hk_unit())), 0);
  cr_assert_gt(hk_as_int(ok(HK_B_epoch, hk_unit())), 1600000000);
}

Test(vm_builtins, json) {
  hk_value_t v = ok(HK_B_json_parse, str("{\"b\": [1, 2.5], \"a\": null}"));
  cr_assert_eq(v.tag, HK_T_DATA);
  cr_assert_eq(hk_data_ctor(v), 6);
  expect_str(ok(HK_B_json_to_string, v), "{\"a\":null,\"b\":[1,2.5]}");
  fails(HK_B_json_parse, str("[1,"), "json_parse: EOF while parsing a value at line 1 column 4");
  fails(HK_B_json_to_string, hk_int(1), "json_to_string: expected json value");
  expect_str(ok(HK_B_json_get, tup(2, str("{\"a\": [1.0]}"), str("a"), hk_unit())), "[1.0]");
  cr_assert_eq(hk_as_int(ok(HK_B_json_length, str("\"h\xC3\xA9\""))), 3);
  img->ndatatypes = 0; /* no json datatype any more */
  fails(HK_B_json_parse, str("1"), "json_parse: datatype json is not declared (use stdlib/json.hml)");
}

/* SPEC §8.1.3: a wrong kind fails with "NAME: expected SHAPE". */
Test(vm_builtins, wrong_kinds) {
  fails(HK_B_string_length, hk_int(1), "string_length: expected String");
  fails(HK_B_substring, str("x"), "substring: expected String * Int * Int");
  fails(HK_B_substring, tup(3, str("x"), hk_int(1), str("y")),
        "substring: expected String * Int * Int");
  fails(HK_B_int_to_char, hk_float(1.0), "int_to_char: expected Int");
  fails(HK_B_rng_int, tup(2, hk_int(1), hk_int(1), hk_unit()), "rng_int: expected Rng * Int");
  fails(HK_B_bytes_length, str("x"), "bytes_length: expected Bytes");
  fails(HK_B_args, hk_int(0), "args: expected Unit");
  fails(HK_B_exit, str("x"), "exit: expected Int");
  fails(HK_B_assert, tup(2, hk_int(1), str("m"), hk_unit()), "assert: expected Bool * String");
  fails(HK_B_path_join, str("a"), "path_join: expected String * String");
  fails(HK_B_read_file_tagged, str("a"), "read_file_tagged: expected String * Int * Int");
}
