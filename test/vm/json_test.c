/* json_test.c — JSON parsing, writing and paths (vm/bi_json.h, SPEC §8.9). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_json.h"

static hk_arena_t arena;
static void setup(void) { hk_arena_init(&arena); }
static void teardown(void) { hk_arena_free(&arena); }
TestSuite(vm_json, .init = setup, .fini = teardown);

static hk_jnode_t *parse(const char *s) {
  hk_jnode_t *root = NULL;
  hk_json_error_t e = {0};
  int rc = hk_json_parse(&arena, s, strlen(s), &root, &e);
  cr_assert_eq(rc, 0, "%s: %s at %u:%u", s, e.text ? e.text : "", e.line, e.col);
  return root;
}

static hk_json_error_t parse_error(const char *s) {
  hk_jnode_t *root = NULL;
  hk_json_error_t e = {0};
  cr_assert_eq(hk_json_parse(&arena, s, strlen(s), &root, &e), -EINVAL, "accepted %s", s);
  cr_assert_not_null(e.text);
  return e;
}

/* Writes [node] compactly into a NUL-terminated malloc'ed string. */
static char *write(const hk_jnode_t *node) {
  hk_buf_t b;
  hk_buf_init(&b);
  hk_json_write(&b, node);
  hk_buf_putc(&b, 0);
  cr_assert_not(b.failed);
  return (char *)b.data;
}

static void round_trip(const char *in, const char *want) {
  char *got = write(parse(in));
  cr_assert_str_eq(got, want);
  free(got);
}

Test(vm_json, scalars) {
  cr_assert_eq(parse("null")->kind, HK_J_NULL);
  cr_assert(parse(" true ")->b);
  cr_assert_not(parse("false")->b);
  hk_jnode_t *n = parse("-42");
  cr_assert_eq(n->kind, HK_J_INT);
  cr_assert_eq(n->i, -42);
  n = parse("9223372036854775807");
  cr_assert_eq(n->kind, HK_J_INT);
  cr_assert_eq(n->i, INT64_MAX);
  n = parse("9223372036854775808"); /* does not fit: JFloat */
  cr_assert_eq(n->kind, HK_J_FLOAT);
  cr_assert_eq(n->f, 9223372036854775808.0);
  n = parse("1.5e2");
  cr_assert_eq(n->kind, HK_J_FLOAT);
  cr_assert_eq(n->f, 150.0);
  n = parse("3.0");
  cr_assert_eq(n->kind, HK_J_FLOAT);
  n = parse("1E3");
  cr_assert_eq(n->kind, HK_J_FLOAT);
  cr_assert_eq(n->f, 1000.0);
}

Test(vm_json, strings_and_escapes) {
  hk_jnode_t *n = parse("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\"");
  cr_assert_eq(n->kind, HK_J_STR);
  const char *want = "a\"b\\c/d\n\t\xC3\xA9\xF0\x9F\x98\x80";
  cr_assert_eq(n->slen, strlen(want));
  cr_assert(memcmp(n->s, want, n->slen) == 0);
  n = parse("\"\\u0000\"");
  cr_assert_eq(n->slen, 1);
  cr_assert_eq(n->s[0], 0);
}

Test(vm_json, containers_sorted_last_duplicate_wins) {
  round_trip("[1, [2, []], {}]", "[1,[2,[]],{}]");
  round_trip("{\"b\": 1, \"a\": 2, \"b\": 3}", "{\"a\":2,\"b\":3}");
  round_trip("{\"B\":1,\"a\":2,\"\":0,\"\xC3\xA9\":4,\"aa\":5}",
             "{\"\":0,\"B\":1,\"a\":2,\"aa\":5,\"\xC3\xA9\":4}");
  round_trip(" \n\t{ \"k\" : [ true , null ] } \r\n", "{\"k\":[true,null]}");
}

Test(vm_json, write_number_forms_and_escapes) {
  round_trip("[3.0, 1e21, 1.5e-7, 0.5, 100, 1e16, 0.00001, 0.000001, 0.0, -2.5]",
             "[3.0,1e21,1.5e-7,0.5,100,1e16,0.00001,1e-6,0.0,-2.5]");
  round_trip("\"q\\\" b\\\\ \\n\\r\\t\\b\\f \\u0001 \\u001f \\u007f \\u00e9\"",
             "\"q\\\" b\\\\ \\n\\r\\t\\b\\f \\u0001 \\u001f \x7f \xC3\xA9\"");
}

Test(vm_json, depth_limit) {
  char deep[300];
  for (int i = 0; i < 128; i++) deep[i] = '[';
  for (int i = 0; i < 128; i++) deep[128 + i] = ']';
  deep[256] = 0;
  parse(deep);
  char deeper[300];
  for (int i = 0; i < 129; i++) deeper[i] = '[';
  for (int i = 0; i < 129; i++) deeper[129 + i] = ']';
  deeper[258] = 0;
  hk_json_error_t e = parse_error(deeper);
  cr_assert_str_eq(e.text, "recursion limit exceeded");
}

Test(vm_json, errors_with_positions) {
  hk_json_error_t e = parse_error("");
  cr_assert_str_eq(e.text, "EOF while parsing a value");
  cr_assert_eq(e.line, 1);
  cr_assert_eq(e.col, 1);
  e = parse_error("[1,\n 2,\n x]");
  cr_assert_str_eq(e.text, "expected value");
  cr_assert_eq(e.line, 3);
  cr_assert_eq(e.col, 2);
  e = parse_error("{\"a\" 1}");
  cr_assert_str_eq(e.text, "expected `:`");
  e = parse_error("{1: 2}");
  cr_assert_str_eq(e.text, "key must be a string");
  e = parse_error("[1 2]");
  cr_assert_str_eq(e.text, "expected `,` or `]`");
  e = parse_error("1 2");
  cr_assert_str_eq(e.text, "trailing characters");
  cr_assert_eq(e.col, 3);
  e = parse_error("\"\xC3\xA9\xC3\xA9\\x\"");
  cr_assert_str_eq(e.text, "invalid escape");
  cr_assert_eq(e.col, 5); /* scalars: " é é \ then x */
  parse_error("01");
  parse_error("-");
  parse_error("1.");
  parse_error(".5");
  parse_error("1e");
  parse_error("+1");
  parse_error("[1,]");
  parse_error("{\"a\":1,}");
  parse_error("\"abc");
  parse_error("\"a\nb\"");
  parse_error("\"\\ud800\"");
  parse_error("\"\\udc00\"");
  parse_error("tru");
  parse_error("nul");
  parse_error("NaN");
  e = parse_error("1e400");
  cr_assert_str_eq(e.text, "number out of range");
}

Test(vm_json, paths) {
  hk_jnode_t *root = parse("{\"a\": {\"b\": [10, {\"c\": \"x\"}], \"0\": 5}, \"k.j\": 1}");
  const hk_jnode_t *n = hk_json_path(root, "a.b.1.c", 7);
  cr_assert_not_null(n);
  cr_assert_eq(n->kind, HK_J_STR);
  n = hk_json_path(root, "a.b.0", 5);
  cr_assert_eq(n->i, 10);
  cr_assert_null(hk_json_path(root, "a.0", 3)); /* digits never name object keys */
  cr_assert_null(hk_json_path(root, "a.b.2", 5));
  cr_assert_null(hk_json_path(root, "a.b.x", 5));
  cr_assert_null(hk_json_path(root, "zz", 2));
  cr_assert_null(hk_json_path(root, "a.b.1.c.d", 9));
  cr_assert_eq(hk_json_path(root, "", 0), root);
}
