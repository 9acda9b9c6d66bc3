/* show_test.c — SPEC §5 value printing and SPEC §4.7 equality on values
** built by hand (vm/bi_show.h), including very deep and very long values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_show.h"
#include "vm/builtins.h"

/* Objects for the tests: malloc'ed, marked static, each behind a link so
** the suite's fini frees them all. */
typedef struct link { struct link *next; max_align_t pad[]; } link_t;
static link_t *all;

static void free_all(void) {
  while (all) {
    link_t *next = all->next;
    free(all);
    all = next;
  }
}

TestSuite(vm_show, .fini = free_all);
TestSuite(vm_equal, .fini = free_all);

static hk_obj_t *obj(size_t size, hk_tag_t tag, uint32_t n) {
  link_t *l = calloc(1, sizeof(link_t) + size);
  cr_assert_not_null(l);
  l->next = all;
  all = l;
  hk_obj_t *o = (hk_obj_t *)l->pad;
  o->tag = (uint8_t)tag;
  o->flags = HK_OBJ_STATIC;
  o->n = n;
  return o;
}
static hk_value_t mk_str(hk_tag_t tag, const char *s, size_t len) {
  hk_string_t *o = (hk_string_t *)obj(sizeof(hk_string_t) + len + 1, tag, 0);
  o->len = len;
  memcpy(o->data, s, len);
  return hk_obj_value(&o->h);
}
static hk_value_t str(const char *s) { return mk_str(HK_T_STRING, s, strlen(s)); }
static hk_value_t bytes(size_t n) { return mk_str(HK_T_BYTES, "\0\1\2\3\4\5\6\7", n); }
static hk_value_t tuple(uint32_t n, const hk_value_t *items) {
  hk_tuple_t *o = (hk_tuple_t *)obj(sizeof(hk_tuple_t) + n * sizeof(hk_value_t), HK_T_TUPLE, n);
  memcpy(o->items, items, n * sizeof(hk_value_t));
  return hk_obj_value(&o->h);
}
static hk_value_t pair(hk_value_t a, hk_value_t b) {
  hk_value_t items[2] = {a, b};
  return tuple(2, items);
}
static hk_value_t cons(hk_value_t h, hk_value_t t) {
  hk_cons_t *o = (hk_cons_t *)obj(sizeof(hk_cons_t), HK_T_CONS, 0);
  o->head = h;
  o->tail = t;
  return hk_obj_value(&o->h);
}
static hk_value_t data(uint32_t ctor, hk_value_t payload) {
  hk_data_t *o = (hk_data_t *)obj(sizeof(hk_data_t), HK_T_DATA, ctor);
  o->payload = payload;
  return hk_obj_value(&o->h);
}
static hk_value_t other(hk_tag_t tag) { return hk_obj_value(obj(sizeof(hk_rng_t) + 64, tag, 0)); }

enum { C_NONE, C_SOME, C_BOX, C_NIL_LIKE };
static const char *names[] = {"None", "Some", "Box", "Leaf"};
static const char *ctor_name(const void *ud, uint32_t ctor) {
  (void)ud;
  return ctor < 4 ? names[ctor] : "?";
}

static char *show(hk_value_t v) {
  hk_buf_t b;
  hk_buf_init(&b);
  uint64_t work = 0;
  cr_assert_eq(hk_show_append(v, ctor_name, NULL, NULL, &b, &work), 0);
  cr_assert_gt(work, 0);
  hk_buf_putc(&b, 0);
  return (char *)b.data;
}

static void expect(hk_value_t v, const char *want) {
  char *got = show(v);
  cr_assert_str_eq(got, want);
  free(got);
}

Test(vm_show, scalars) {
  expect(hk_int(0), "0");
  expect(hk_int(-42), "-42");
  expect(hk_int(INT64_MIN), "-9223372036854775808");
  expect(hk_bool(true), "true");
  expect(hk_bool(false), "false");
  expect(hk_char('x'), "x");
  expect(hk_char(0xE9), "\xC3\xA9");
  expect(hk_char(0x1F600), "\xF0\x9F\x98\x80");
  expect(hk_unit(), "()");
  expect(hk_pid(7), "<pid 7>");
  expect(hk_socket(3), "<socket 3>");
}

Test(vm_show, floats) {
  expect(hk_float(3.0), "3");
  expect(hk_float(0.1), "0.1");
  expect(hk_float(123.456), "123.456");
  expect(hk_float(1e21), "1000000000000000000000");
  expect(hk_float(0.001), "0.001");
  expect(hk_float(2.5e-7), "0.00000025");
  expect(hk_float(-0.0), "-0");
  expect(hk_float(0.0), "0");
  expect(hk_float(NAN), "NaN");
  expect(hk_float(INFINITY), "inf");
  expect(hk_float(-INFINITY), "-inf");
  expect(hk_float(-2.5), "-2.5");
  char *s = show(hk_float(5e-324));
  cr_assert_eq(strlen(s), 2 + 323 + 1);
  cr_assert(strncmp(s, "0.000", 5) == 0 && s[strlen(s) - 1] == '5');
  free(s);
  s = show(hk_float(1.7976931348623157e308));
  cr_assert_eq(strlen(s), 309);
  cr_assert(strncmp(s, "17976931348623157000", 20) == 0);
  free(s);
}

Test(vm_show, strings_and_bytes) {
  expect(str("hello"), "hello");
  expect(str(""), "");
  expect(str("say \"hi\"\n"), "say \"hi\"\n");
  expect(bytes(0), "<bytes:0>");
  expect(bytes(5), "<bytes:5>");
  /* Strings inside structures are raw too. */
  expect(cons(str("a b"), cons(str("c"), hk_nil())), "[a b, c]");
}

Test(vm_show, tuples_and_lists) {
  expect(pair(hk_int(1), str("x")), "(1, x)");
  hk_value_t three[3] = {hk_int(1), hk_float(2.5), hk_bool(true)};
  expect(tuple(3, three), "(1, 2.5, true)");
  expect(hk_nil(), "[]");
  expect(cons(hk_int(1), hk_nil()), "[1]");
  expect(cons(hk_int(1), cons(hk_int(2), cons(hk_int(3), hk_nil()))), "[1, 2, 3]");
  expect(pair(cons(hk_int(1), hk_nil()), pair(hk_unit(), hk_nil())), "([1], ((), []))");
  expect(cons(hk_nil(), cons(cons(hk_char('a'), hk_nil()), hk_nil())), "[[], [a]]");
}

Test(vm_show, data) {
  expect(hk_data0(C_NONE), "None");
  expect(data(C_SOME, hk_int(3)), "Some 3");
  expect(data(C_BOX, pair(hk_int(2), hk_float(3.5))), "Box (2, 3.5)");
  expect(data(C_SOME, data(C_SOME, hk_int(3))), "Some (Some 3)");
  expect(data(C_SOME, hk_data0(C_NONE)), "Some None");
  expect(data(C_SOME, hk_int(-1)), "Some -1");
  expect(data(C_SOME, cons(data(C_SOME, hk_nil()), hk_nil())), "Some [Some []]");
  expect(data(C_SOME, data(C_SOME, data(C_SOME, hk_unit()))), "Some (Some (Some ()))");
  expect(pair(data(C_SOME, hk_int(1)), hk_data0(C_NONE)), "(Some 1, None)");
}

Test(vm_show, functions_and_others) {
  expect(other(HK_T_CLOSURE), "<fn>");
  expect(other(HK_T_PAP), "<fn>");
  expect(hk_mk(HK_T_CTORFN, C_SOME), "<fn>");
  expect(hk_builtin_ref(HK_B_print), "<builtin:print>");
  expect(hk_builtin_ref(HK_B_string_length), "<builtin:string_length>");
  expect(other(HK_T_CONT), "<continuation>");
  expect(other(HK_T_RNG), "<rng>");
}

Test(vm_show, deep_and_long_values) {
  /* 10^6 nested Some: no native recursion. */
  hk_value_t v = hk_int(0);
  const int depth = 1000000;
  for (int i = 0; i < depth; i++) v = data(C_SOME, v);
  char *s = show(v);
  cr_assert_eq(strlen(s), (size_t)depth * 7 - 1);
  cr_assert(strncmp(s, "Some (Some (", 12) == 0);
  free(s);
  /* A list of 10^6 elements. */
  hk_value_t l = hk_nil();
  for (int i = 0; i < depth; i++) l = cons(hk_int(7), l);
  s = show(l);
  cr_assert_eq(strlen(s), (size_t)depth * 3);
  free(s);
  /* Deeply nested lists [[[...]]]. */
  hk_value_t n = hk_nil();
  for (int i = 0; i < depth; i++) n = cons(n, hk_nil());
  s = show(n);
  cr_assert_eq(strlen(s), (size_t)depth * 2 + 2);
  free(s);
}

static int eq(hk_value_t a, hk_value_t b) {
  uint64_t work = 0;
  return hk_equal_values(a, b, &work);
}

Test(vm_equal, scalars) {
  cr_assert_eq(eq(hk_int(3), hk_int(3)), 1);
  cr_assert_eq(eq(hk_int(3), hk_int(4)), 0);
  cr_assert_eq(eq(hk_float(0.0), hk_float(-0.0)), 1);
  cr_assert_eq(eq(hk_float(NAN), hk_float(NAN)), 0);
  cr_assert_eq(eq(hk_bool(true), hk_bool(true)), 1);
  cr_assert_eq(eq(hk_char('a'), hk_char('b')), 0);
  cr_assert_eq(eq(hk_unit(), hk_unit()), 1);
  cr_assert_eq(eq(hk_pid(1), hk_pid(1)), 1);
  cr_assert_eq(eq(hk_pid(1), hk_pid(2)), 0);
  /* Different kinds are unequal. */
  cr_assert_eq(eq(hk_int(1), hk_float(1.0)), 0);
  cr_assert_eq(eq(hk_int(1), hk_bool(true)), 0);
}

Test(vm_equal, strings_bytes_structures) {
  cr_assert_eq(eq(str("abc"), str("abc")), 1);
  cr_assert_eq(eq(str("abc"), str("abd")), 0);
  cr_assert_eq(eq(str("abc"), str("ab")), 0);
  cr_assert_eq(eq(bytes(3), bytes(3)), 1);
  cr_assert_eq(eq(bytes(3), str("\0\1\2")), 0); /* Bytes vs String */
  cr_assert_eq(eq(pair(hk_int(1), str("x")), pair(hk_int(1), str("x"))), 1);
  cr_assert_eq(eq(pair(hk_int(1), str("x")), pair(hk_int(1), str("y"))), 0);
  hk_value_t t = pair(hk_float(NAN), hk_int(1));
  cr_assert_eq(eq(t, t), 0); /* a NaN inside: unequal even to itself */
  hk_value_t l1 = cons(hk_int(1), cons(hk_int(2), hk_nil()));
  hk_value_t l2 = cons(hk_int(1), cons(hk_int(2), hk_nil()));
  hk_value_t l3 = cons(hk_int(1), hk_nil());
  cr_assert_eq(eq(l1, l2), 1);
  cr_assert_eq(eq(l1, l3), 0);
  cr_assert_eq(eq(l3, l1), 0);
  cr_assert_eq(eq(hk_nil(), hk_nil()), 1);
  cr_assert_eq(eq(data(C_SOME, hk_int(1)), data(C_SOME, hk_int(1))), 1);
  cr_assert_eq(eq(data(C_SOME, hk_int(1)), data(C_BOX, hk_int(1))), 0);
  cr_assert_eq(eq(data(C_SOME, hk_int(1)), hk_data0(C_NONE)), 0);
  cr_assert_eq(eq(hk_data0(C_NONE), hk_data0(C_NONE)), 1);
}

Test(vm_equal, identity_for_functions) {
  hk_value_t f = other(HK_T_CLOSURE), g = other(HK_T_CLOSURE);
  cr_assert_eq(eq(f, f), 1);
  cr_assert_eq(eq(f, g), 0);
  cr_assert_eq(eq(hk_builtin_ref(1), hk_builtin_ref(1)), 1);
  cr_assert_eq(eq(hk_builtin_ref(1), hk_builtin_ref(2)), 0);
}

Test(vm_equal, deep_and_long) {
  const int depth = 1000000;
  hk_value_t a = hk_int(0), b = hk_int(0), c = hk_int(1);
  for (int i = 0; i < depth; i++) {
    a = data(C_SOME, a);
    b = data(C_SOME, b);
    c = data(C_SOME, c);
  }
  cr_assert_eq(eq(a, b), 1);
  cr_assert_eq(eq(a, c), 0);
  hk_value_t la = hk_nil(), lb = hk_nil();
  for (int i = 0; i < depth; i++) {
    la = cons(hk_int(i), la);
    lb = cons(hk_int(i), lb);
  }
  uint64_t work = 0;
  cr_assert_eq(hk_equal_values(la, lb, &work), 1);
  cr_assert_geq(work, (uint64_t)depth * 2);
  cr_assert_eq(eq(la, cons(hk_int(-1), lb)), 0);
}
