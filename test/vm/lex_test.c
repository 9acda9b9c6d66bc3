/* lex_test.c — the lexer of SPEC §1: tokens, positions, literals, errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "vm/lex.h"

static hk_arena_t arena;
static hk_lexer_t lx;

static void setup(void) { hk_arena_init(&arena); }
static void teardown(void) {
  hk_lex_fini(&lx);
  hk_arena_free(&arena);
}

TestSuite(vm_lex, .init = setup, .fini = teardown);

/* Lexes [src] and returns the n-th token (0-based). */
static hk_token_t nth(const char *src, size_t len, int n) {
  hk_lex_fini(&lx);
  hk_lex_init(&lx, &arena, 0, src, len);
  hk_token_t t;
  memset(&t, 0, sizeof t);
  for (int i = 0; i <= n; i++) cr_assert_eq(hk_lex_next(&lx, &t), 0);
  return t;
}
#define TOK(src, n) nth((src), strlen(src), (n))

/* The error message for [src] (the first error token), or NULL. */
static const char *lex_err(const char *src, size_t len, hk_pos_t *pos) {
  hk_lex_fini(&lx);
  hk_lex_init(&lx, &arena, 0, src, len);
  hk_token_t t;
  for (int i = 0; i < 100000; i++) {
    hk_lex_next(&lx, &t);
    if (t.kind == HK_T_ERROR) {
      if (pos) *pos = t.pos;
      return lx.msg;
    }
    if (t.kind == HK_T_EOF) return NULL;
  }
  return NULL;
}
#define ERR(src, pos) lex_err((src), strlen(src), (pos))

static void expect_kinds(const char *src, const hk_tok_kind_t *kinds, size_t n) {
  hk_lex_fini(&lx);
  hk_lex_init(&lx, &arena, 0, src, strlen(src));
  for (size_t i = 0; i < n; i++) {
    hk_token_t t;
    hk_lex_next(&lx, &t);
    cr_assert_eq(t.kind, kinds[i], "token %zu of '%s': got %s, want %s", i, src,
                 hk_lex_kind_name(t.kind), hk_lex_kind_name(kinds[i]));
  }
}

Test(vm_lex, keywords_and_identifiers) {
  static const char *kws[] = {"val", "fun", "fn", "let", "in", "end", "if", "then",
    "else", "case", "of", "datatype", "type", "local", "and", "rec", "use", "true",
    "false", "not", "andalso", "orelse", "mod", "as", "effect", "handle", "with",
    "perform", "resume", "return"};
  for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++) {
    hk_token_t t = TOK(kws[i], 0);
    cr_assert_eq(t.kind, HK_T_VAL + (int)i, "%s", kws[i]);
    cr_assert_str_eq(hk_lex_kind_name(t.kind), kws[i]);
  }
  cr_assert_eq(TOK("vals", 0).kind, HK_T_IDENT);
  cr_assert_eq(TOK("Val", 0).kind, HK_T_UIDENT);
  cr_assert_eq(TOK("_", 0).kind, HK_T_WILD);
  cr_assert_eq(TOK("_x", 0).kind, HK_T_IDENT);
  cr_assert_eq(TOK("x_1'", 0).kind, HK_T_IDENT);
  hk_token_t t = TOK("Cons_2", 0);
  cr_assert_eq(t.kind, HK_T_UIDENT);
  cr_assert_str_eq(t.str.s, "Cons_2");
  t = TOK("'elem", 0);
  cr_assert_eq(t.kind, HK_T_TYVAR);
  cr_assert_str_eq(t.str.s, "'elem");
  cr_assert_str_eq(TOK("'_x", 0).str.s, "'_x");
}

Test(vm_lex, operators_longest_match) {
  const hk_tok_kind_t k[] = {HK_T_PLUS, HK_T_MINUS, HK_T_STAR, HK_T_SLASH, HK_T_CARET,
    HK_T_TILDE, HK_T_CONS, HK_T_EQ, HK_T_NE, HK_T_LT, HK_T_GT, HK_T_LE, HK_T_GE,
    HK_T_ARROW, HK_T_DARROW, HK_T_BAR, HK_T_COLON, HK_T_COMMA, HK_T_LPAREN,
    HK_T_RPAREN, HK_T_LBRACKET, HK_T_RBRACKET, HK_T_SEMI, HK_T_HASH, HK_T_FPLUS,
    HK_T_FMINUS, HK_T_FSTAR, HK_T_FSLASH, HK_T_FLT, HK_T_FGT, HK_T_FLE, HK_T_FGE,
    HK_T_EOF};
  expect_kinds("+ - * / ^ ~ :: = <> < > <= >= -> => | : , ( ) [ ] ; # "
               "+. -. *. /. <. >. <=. >=.", k, sizeof k / sizeof k[0]);
  const hk_tok_kind_t k2[] = {HK_T_FLE, HK_T_INT, HK_T_CONS, HK_T_COLON, HK_T_EOF};
  expect_kinds("<=.1:::", k2, 5);
  const hk_tok_kind_t k3[] = {HK_T_IDENT, HK_T_MOD, HK_T_IDENT, HK_T_EOF};
  expect_kinds("a mod b", k3, 4);
}

Test(vm_lex, positions_count_scalars_and_tabs) {
  const char *src = "val x =\n\t\"\xc3\xa9t\xc3\xa9\" (* \xe2\x82\xac *) y\n";
  hk_token_t t = TOK(src, 0);
  cr_assert_eq(t.pos.line, 1);
  cr_assert_eq(t.pos.col, 1);
  cr_assert_eq(t.pos.len, 3);
  t = TOK(src, 3);
  cr_assert_eq(t.kind, HK_T_STRING);
  cr_assert_eq(t.pos.line, 2);
  cr_assert_eq(t.pos.col, 2); /* the tab is one column */
  cr_assert_eq(t.pos.len, 5); /* "été" is 5 scalars with its quotes */
  cr_assert_eq(t.str.len, 5);
  t = TOK(src, 4);
  cr_assert_eq(t.kind, HK_T_IDENT);
  cr_assert_eq(t.pos.col, 16);
  t = TOK(src, 5);
  cr_assert_eq(t.kind, HK_T_EOF);
  cr_assert_eq(t.pos.line, 3);
  cr_assert_eq(t.pos.col, 1);
}

Test(vm_lex, crlf_is_whitespace) {
  hk_token_t t = TOK("a\r\n  b", 1);
  cr_assert_eq(t.pos.line, 2);
  cr_assert_eq(t.pos.col, 3);
  t = TOK("a\f\tb", 1);
  cr_assert_eq(t.kind, HK_T_IDENT);
}

Test(vm_lex, nested_comments) {
  hk_token_t t = TOK("(* a (* b *) c *) x", 0);
  cr_assert_eq(t.kind, HK_T_IDENT);
  cr_assert_eq(t.pos.col, 19);
  /* Text inside a comment is not tokenised: a "*)" in a string ends it. */
  t = TOK("(* \"*) x", 0);
  cr_assert_eq(t.kind, HK_T_IDENT);
  hk_pos_t pos;
  cr_assert_str_eq(ERR("x (* a (* b *)", &pos), "unterminated comment");
  cr_assert_eq(pos.col, 3);
  cr_assert_eq(pos.len, 12); /* up to the end of input */
  cr_assert_str_eq(ERR("(* a\nb", &pos), "unterminated comment");
  cr_assert_eq(pos.len, HK_POS_TO_EOL);
}

Test(vm_lex, integers) {
  hk_token_t t = TOK("0 42 9223372036854775807", 2);
  cr_assert_eq(t.kind, HK_T_INT);
  cr_assert_eq(t.v.i, INT64_MAX);
  cr_assert_eq(TOK("42", 0).v.i, 42);
  hk_pos_t pos;
  cr_assert_str_eq(ERR("val x = 9223372036854775808", &pos),
                   "invalid integer literal: 9223372036854775808");
  cr_assert_eq(pos.col, 9);
  cr_assert_eq(pos.len, 19);
  /* `1.` is INT then an unexpected `.`. */
  const hk_tok_kind_t k[] = {HK_T_INT, HK_T_ERROR};
  expect_kinds("1.", k, 2);
  cr_assert_str_eq(ERR("1.", NULL), "unexpected character: '.'");
  cr_assert_str_eq(ERR(".5", NULL), "unexpected character: '.'");
  /* `123abc` is an INT followed by an IDENT. */
  const hk_tok_kind_t k2[] = {HK_T_INT, HK_T_IDENT, HK_T_EOF};
  expect_kinds("123abc", k2, 3);
}

Test(vm_lex, floats) {
  cr_assert_eq(TOK("1.5", 0).v.f, 1.5);
  cr_assert_eq(TOK("1e3", 0).v.f, 1000.0);
  cr_assert_eq(TOK("2.5E-2", 0).v.f, 0.025);
  cr_assert_eq(TOK("1e+2", 0).v.f, 100.0);
  cr_assert_eq(TOK("0.1", 0).v.f, 0.1); /* correctly rounded */
  hk_token_t t = TOK("1e999", 0);
  cr_assert_eq(t.kind, HK_T_FLOAT);
  cr_assert(isinf(t.v.f));
  cr_assert_eq(t.pos.len, 5);
  hk_pos_t pos;
  cr_assert_str_eq(ERR("x 1e", &pos), "expected digits after exponent");
  cr_assert_eq(pos.col, 3);
  cr_assert_str_eq(ERR("1.5e+x", NULL), "expected digits after exponent");
  cr_assert_str_eq(ERR("1E-", NULL), "expected digits after exponent");
}

Test(vm_lex, strings_and_escapes) {
  hk_token_t t = TOK("\"a\\n\\t\\r\\0\\\\\\\"\\x41\\x7e\\xE9\"", 0);
  cr_assert_eq(t.kind, HK_T_STRING);
  const char want[] = "a\n\t\r\0\\\"A~\xc3\xa9";
  cr_assert_eq(t.str.len, sizeof want - 1);
  cr_assert_eq(memcmp(t.str.s, want, sizeof want - 1), 0);
  t = TOK("\"line1\nline2\" x", 1);
  cr_assert_eq(t.pos.line, 2);
  cr_assert_eq(t.pos.col, 8);
  cr_assert_eq(TOK("\"\"", 0).str.len, 0);
}

Test(vm_lex, string_errors) {
  hk_pos_t pos;
  cr_assert_str_eq(ERR("val s = \"abc", &pos), "unterminated string literal");
  cr_assert_eq(pos.col, 9);
  /* Escape errors are reported at the literal's start (as hiko 0.5.1 does),
  ** with the range read so far; an unknown escape at its backslash. */
  cr_assert_str_eq(ERR("x \"abc\\", &pos), "unterminated escape sequence");
  cr_assert_eq(pos.col, 3);
  cr_assert_eq(pos.len, 5);
  /* \x needs two more bytes (else "incomplete"), both hex digits. */
  cr_assert_str_eq(ERR("\"\\x4", NULL), "incomplete \\x escape");
  cr_assert_str_eq(ERR("\"\\x\"", NULL), "incomplete \\x escape");
  cr_assert_str_eq(ERR("\"\\x", NULL), "incomplete \\x escape");
  cr_assert_str_eq(ERR(" \"\\x4\"", &pos), "invalid hex digit in \\x escape");
  cr_assert_eq(pos.col, 2);
  cr_assert_str_eq(ERR("\"\\xg0\"", NULL), "invalid hex digit in \\x escape");
  cr_assert_str_eq(ERR("\"\\x0g\"", NULL), "invalid hex digit in \\x escape");
  cr_assert_str_eq(ERR(" \"\\q\"", &pos), "unknown escape sequence: \\q");
  cr_assert_eq(pos.col, 3);
  cr_assert_str_eq(ERR("\"\\\xc3\xa9\"", NULL), "unknown escape sequence: \\\xc3\xa9");
}

Test(vm_lex, chars) {
  hk_token_t t = TOK("#\"a\"", 0);
  cr_assert_eq(t.kind, HK_T_CHAR);
  cr_assert_eq(t.v.ch, 'a');
  cr_assert_eq(t.pos.len, 4);
  cr_assert_eq(TOK("#\"\\n\"", 0).v.ch, '\n');
  cr_assert_eq(TOK("#\"\\x41\"", 0).v.ch, 'A');
  cr_assert_eq(TOK("#\"\\xff\"", 0).v.ch, 0xff);
  cr_assert_eq(TOK("#\"\xe2\x82\xac\"", 0).v.ch, 0x20ac);
  cr_assert_eq(TOK("#\"\\\"\"", 0).v.ch, '"');
  hk_pos_t pos;
  cr_assert_str_eq(ERR("x #\"ab\"", &pos), "unterminated character literal, expected closing \"");
  cr_assert_eq(pos.col, 3);
  cr_assert_str_eq(ERR("#\"a", NULL), "unterminated character literal, expected closing \"");
  cr_assert_str_eq(ERR("#\"", NULL), "unterminated character literal");
  cr_assert_str_eq(ERR("#\"\\", NULL), "unterminated escape sequence");
  cr_assert_str_eq(ERR("#\"\\q\"", NULL), "unknown escape sequence: \\q");
  /* A # not followed by a quote is a token of its own. */
  const hk_tok_kind_t k[] = {HK_T_HASH, HK_T_IDENT, HK_T_EOF};
  expect_kinds("# a", k, 3);
}

Test(vm_lex, unexpected_characters) {
  hk_pos_t pos;
  cr_assert_str_eq(ERR("val x = 1 @ 2", &pos), "unexpected character: '@'");
  cr_assert_eq(pos.col, 11);
  cr_assert_str_eq(ERR("val \xc3\xa9 = 1", &pos), "unexpected character: '\xc3\xa9'");
  cr_assert_eq(pos.col, 5);
  cr_assert_str_eq(ERR("' a", NULL), "unexpected character: '''");
  cr_assert_str_eq(ERR("'1", NULL), "unexpected character: '''");
  cr_assert_str_eq(ERR("a . b", NULL), "unexpected character: '.'");
  cr_assert_str_eq(ERR("{", NULL), "unexpected character: '{'");
  cr_assert_null(ERR("(* \xc3\xa9 *) \"\xe2\x82\xac\"", NULL));
}

Test(vm_lex, invalid_utf8) {
  hk_pos_t pos;
  cr_assert_str_eq(ERR("val x = 1\n  (* \xc3\xa9 *) \xff", &pos), "invalid UTF-8 in source");
  cr_assert_eq(pos.line, 2);
  cr_assert_eq(pos.col, 11);
  /* Reported before any other error, even a later one in the text. */
  cr_assert_str_eq(ERR("@ \"\xc3\x28\"", &pos), "invalid UTF-8 in source");
  cr_assert_eq(pos.col, 4);
  cr_assert_eq(hk_lex_utf8_valid_prefix("\xed\xa0\x80", 3), 0);     /* surrogate */
  cr_assert_eq(hk_lex_utf8_valid_prefix("a\xc0\x80", 3), 1);        /* overlong */
  cr_assert_eq(hk_lex_utf8_valid_prefix("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
  cr_assert_eq(hk_lex_utf8_valid_prefix("ab\xe2\x82", 4), 2);       /* truncated */
  cr_assert_eq(hk_lex_utf8_valid_prefix("\xf0\x9f\x98\x80", 4), 4);
}

Test(vm_lex, nul_bytes) {
  hk_token_t t = nth("\"a\0b\"", 5, 0);
  cr_assert_eq(t.kind, HK_T_STRING);
  cr_assert_eq(t.str.len, 3);
  cr_assert_eq(t.str.s[1], '\0');
  cr_assert_not_null(lex_err("a \0", 3, NULL));
}

Test(vm_lex, errors_are_sticky) {
  hk_lex_fini(&lx);
  hk_lex_init(&lx, &arena, 0, "a @ b", 5);
  hk_token_t t;
  hk_lex_next(&lx, &t);
  hk_lex_next(&lx, &t);
  cr_assert_eq(t.kind, HK_T_ERROR);
  hk_lex_next(&lx, &t);
  cr_assert_eq(t.kind, HK_T_ERROR);
  cr_assert_eq(t.pos.col, 3);
}
