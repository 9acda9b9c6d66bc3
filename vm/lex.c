/* lex.c — the lexer of SPEC §1, see lex.h. */
#include "vm/lex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[HK_T__COUNT] = {
  [HK_T_EOF] = "end of input", [HK_T_ERROR] = "error", [HK_T_INT] = "INT",
  [HK_T_FLOAT] = "FLOAT", [HK_T_STRING] = "STRING", [HK_T_CHAR] = "CHAR",
  [HK_T_IDENT] = "IDENT", [HK_T_UIDENT] = "UIDENT", [HK_T_TYVAR] = "TYVAR",
  [HK_T_WILD] = "_",
  [HK_T_VAL] = "val", [HK_T_FUN] = "fun", [HK_T_FN] = "fn", [HK_T_LET] = "let",
  [HK_T_IN] = "in", [HK_T_END] = "end", [HK_T_IF] = "if", [HK_T_THEN] = "then",
  [HK_T_ELSE] = "else", [HK_T_CASE] = "case", [HK_T_OF] = "of",
  [HK_T_DATATYPE] = "datatype", [HK_T_TYPE] = "type", [HK_T_LOCAL] = "local",
  [HK_T_AND] = "and", [HK_T_REC] = "rec", [HK_T_USE] = "use",
  [HK_T_TRUE] = "true", [HK_T_FALSE] = "false", [HK_T_NOT] = "not",
  [HK_T_ANDALSO] = "andalso", [HK_T_ORELSE] = "orelse", [HK_T_MOD] = "mod",
  [HK_T_AS] = "as", [HK_T_EFFECT] = "effect", [HK_T_HANDLE] = "handle",
  [HK_T_WITH] = "with", [HK_T_PERFORM] = "perform", [HK_T_RESUME] = "resume",
  [HK_T_RETURN] = "return",
  [HK_T_PLUS] = "+", [HK_T_MINUS] = "-", [HK_T_STAR] = "*", [HK_T_SLASH] = "/",
  [HK_T_CARET] = "^", [HK_T_TILDE] = "~", [HK_T_CONS] = "::", [HK_T_EQ] = "=",
  [HK_T_NE] = "<>", [HK_T_LT] = "<", [HK_T_GT] = ">", [HK_T_LE] = "<=",
  [HK_T_GE] = ">=", [HK_T_ARROW] = "->", [HK_T_DARROW] = "=>", [HK_T_BAR] = "|",
  [HK_T_COLON] = ":", [HK_T_COMMA] = ",", [HK_T_LPAREN] = "(",
  [HK_T_RPAREN] = ")", [HK_T_LBRACKET] = "[", [HK_T_RBRACKET] = "]",
  [HK_T_SEMI] = ";", [HK_T_HASH] = "#", [HK_T_FPLUS] = "+.",
  [HK_T_FMINUS] = "-.", [HK_T_FSTAR] = "*.", [HK_T_FSLASH] = "/.",
  [HK_T_FLT] = "<.", [HK_T_FGT] = ">.", [HK_T_FLE] = "<=.", [HK_T_FGE] = ">=.",
};

const char *hk_lex_kind_name(hk_tok_kind_t k) {
  return (unsigned)k < HK_T__COUNT ? kind_names[k] : "?";
}

size_t hk_lex_utf8_valid_prefix(const char *text, size_t len) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c >= 0xE0 && c <= 0xEF) n = 2;
    else if (c >= 0xF0 && c <= 0xF4) n = 3;
    else return i;
    for (size_t k = 1; k <= n; k++) {
      /* An incomplete sequence is reported at its first byte (as the
      ** valid prefix ends there). */
      if (i + k >= len || (s[i + k] & 0xC0) != 0x80) return i;
      /* Reject overlong forms and surrogates at the second byte. */
      if (k == 1) {
        if (n == 2 && c == 0xE0 && s[i + 1] < 0xA0) return i;
        if (n == 2 && c == 0xED && s[i + 1] > 0x9F) return i;
        if (n == 3 && c == 0xF0 && s[i + 1] < 0x90) return i;
        if (n == 3 && c == 0xF4 && s[i + 1] > 0x8F) return i;
      }
    }
    i += n + 1;
  }
  return len;
}

/* ---- Helpers ---- */

static inline int peekc(const hk_lexer_t *lx, size_t k) {
  return lx->p + k < lx->end ? (unsigned char)lx->p[k] : -1;
}

/* Consumes one byte, keeping line/column (columns count scalars). */
static inline void bump(hk_lexer_t *lx) {
  unsigned char c = (unsigned char)*lx->p++;
  if (c == '\n') {
    lx->line++;
    lx->col = 1;
  } else if ((c & 0xC0) != 0x80) {
    lx->col++;
  }
}

/* Bytes of the UTF-8 sequence starting at [p] (text is valid UTF-8). */
static size_t seq_len(const char *p, const char *end) {
  unsigned char c = (unsigned char)*p;
  size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if ((size_t)(end - p) < n) n = (size_t)(end - p);
  return n;
}

static uint32_t decode_scalar(const char *p, size_t n) {
  const unsigned char *s = (const unsigned char *)p;
  if (n == 1) return s[0];
  uint32_t cp = s[0] & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < n; k++) cp = (cp << 6) | (s[k] & 0x3F);
  return cp;
}

static hk_pos_t here(const hk_lexer_t *lx) {
  return (hk_pos_t){ lx->file, lx->line, lx->col, 1 };
}

/* The length of the range from [start] to the current position: columns on
** the same line (>= 1), or "to the end of the line" when it continues on a
** later line. */
static uint32_t span_len(const hk_lexer_t *lx, hk_pos_t start) {
  if (lx->line != start.line) return HK_POS_TO_EOL;
  return lx->col > start.col ? lx->col - start.col : 1;
}

/* Makes [t] the sticky error token at [pos] with a formatted message. */
__attribute__((format(printf, 4, 5)))
static int lex_error(hk_lexer_t *lx, hk_token_t *t, hk_pos_t pos, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  char *msg = NULL;
  if (n >= 0 && (size_t)n < sizeof small) {
    msg = hk_arena_strdup(lx->arena, small, (size_t)n);
  } else if (n >= 0) {
    msg = hk_arena_alloc(lx->arena, (size_t)n + 1);
    if (msg) {
      va_start(ap, fmt);
      vsnprintf(msg, (size_t)n + 1, fmt, ap);
      va_end(ap);
    }
  }
  memset(t, 0, sizeof *t);
  t->kind = HK_T_ERROR;
  t->pos = pos;
  lx->msg = msg ? msg : "out of memory";
  lx->failed = true;
  lx->err = *t;
  return msg ? 0 : -ENOMEM;
}

static int oom(hk_lexer_t *lx, hk_token_t *t) {
  lex_error(lx, t, here(lx), "out of memory");
  lx->msg = "out of memory";
  return -ENOMEM;
}

static int buf_put(hk_lexer_t *lx, size_t *n, const char *bytes, size_t k) {
  if (*n + k > lx->buf_cap) {
    size_t cap = lx->buf_cap ? lx->buf_cap * 2 : 256;
    while (cap < *n + k) cap *= 2;
    char *b = realloc(lx->buf, cap);
    if (!b) return -1;
    lx->buf = b;
    lx->buf_cap = cap;
  }
  memcpy(lx->buf + *n, bytes, k);
  *n += k;
  return 0;
}

static bool is_ident_start(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_ident_char(int c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void hk_lex_init(hk_lexer_t *lx, hk_arena_t *arena, uint32_t file,
                 const char *text, size_t len) {
  memset(lx, 0, sizeof *lx);
  lx->src = lx->p = text;
  lx->end = text + len;
  lx->file = file;
  lx->line = 1;
  lx->col = 1;
  lx->arena = arena;
  size_t ok = hk_lex_utf8_valid_prefix(text, len);
  if (ok < len) {
    while (lx->p < text + ok) bump(lx);
    hk_token_t t;
    lex_error(lx, &t, here(lx), "invalid UTF-8 in source");
  }
}

void hk_lex_fini(hk_lexer_t *lx) {
  free(lx->buf);
  lx->buf = NULL;
  lx->buf_cap = 0;
}

/* ---- Whitespace and comments ---- */

/* Skips whitespace and comments. Returns 0, or 1 after recording the error
** of an unterminated comment in [t]. */
static int skip_space(hk_lexer_t *lx, hk_token_t *t) {
  for (;;) {
    int c = peekc(lx, 0);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r') {
      bump(lx);
      continue;
    }
    if (c == '(' && peekc(lx, 1) == '*') {
      hk_pos_t open = here(lx);
      open.len = 2;
      bump(lx);
      bump(lx);
      size_t depth = 1;
      while (depth > 0) {
        if (lx->p >= lx->end) {
          open.len = span_len(lx, open);
          lex_error(lx, t, open, "unterminated comment");
          return 1;
        }
        if (peekc(lx, 0) == '(' && peekc(lx, 1) == '*') {
          bump(lx); bump(lx); depth++;
        } else if (peekc(lx, 0) == '*' && peekc(lx, 1) == ')') {
          bump(lx); bump(lx); depth--;
        } else {
          bump(lx);
        }
      }
      continue;
    }
    return 0;
  }
}

/* ---- Literals ---- */

static int lex_number(hk_lexer_t *lx, hk_token_t *t) {
  hk_pos_t start = here(lx);
  const char *s = lx->p;
  while (is_digit(peekc(lx, 0))) bump(lx);
  bool is_float = false;
  if (peekc(lx, 0) == '.' && is_digit(peekc(lx, 1))) {
    is_float = true;
    bump(lx);
    while (is_digit(peekc(lx, 0))) bump(lx);
  }
  if (peekc(lx, 0) == 'e' || peekc(lx, 0) == 'E') {
    is_float = true;
    bump(lx);
    if (peekc(lx, 0) == '+' || peekc(lx, 0) == '-') bump(lx);
    if (!is_digit(peekc(lx, 0))) {
      start.len = span_len(lx, start);
      return lex_error(lx, t, start, "expected digits after exponent");
    }
    while (is_digit(peekc(lx, 0))) bump(lx);
  }
  size_t n = (size_t)(lx->p - s);
  start.len = span_len(lx, start);
  t->pos = start;
  if (is_float) {
    char small[64];
    char *text = n < sizeof small ? small : malloc(n + 1);
    if (!text) return oom(lx, t);
    memcpy(text, s, n);
    text[n] = '\0';
    t->kind = HK_T_FLOAT;
    t->v.f = strtod(text, NULL); /* correctly rounded; overflow gives inf */
    if (text != small) free(text);
    return 0;
  }
  uint64_t v = 0;
  for (size_t k = 0; k < n; k++) {
    unsigned d = (unsigned)(s[k] - '0');
    if (v > ((uint64_t)INT64_MAX - d) / 10)
      return lex_error(lx, t, start, "invalid integer literal: %.*s", (int)n, s);
    v = v * 10 + d;
  }
  t->kind = HK_T_INT;
  t->v.i = (int64_t)v;
  return 0;
}

/* Appends the UTF-8 encoding of U+00HH. */
static int put_latin1(hk_lexer_t *lx, size_t *n, unsigned v) {
  char b[2];
  if (v < 0x80) {
    b[0] = (char)v;
    return buf_put(lx, n, b, 1);
  }
  b[0] = (char)(0xC0 | (v >> 6));
  b[1] = (char)(0x80 | (v & 0x3F));
  return buf_put(lx, n, b, 2);
}

/* Reads one escape after the backslash at the current position into the
** scratch buffer. Errors are reported at the literal's start [lit] (range: up
** to where reading stopped), except an unknown escape, which is reported at
** its backslash (as hiko 0.5.1 does). Returns 0, 1 after an error recorded in
** [t], -ENOMEM. */
static int lex_escape(hk_lexer_t *lx, hk_token_t *t, size_t *n, hk_pos_t lit) {
  hk_pos_t at = here(lx);
  bump(lx); /* the backslash */
  int c = peekc(lx, 0);
  if (c < 0) {
    lit.len = span_len(lx, lit);
    return lex_error(lx, t, lit, "unterminated escape sequence"), 1;
  }
  char out;
  switch (c) {
  case 'n': out = '\n'; break;
  case 't': out = '\t'; break;
  case 'r': out = '\r'; break;
  case '0': out = '\0'; break;
  case '\\': out = '\\'; break;
  case '"': out = '"'; break;
  case 'x': {
    /* Exactly two bytes must follow the x, and both be hex digits. */
    int h1 = peekc(lx, 1), h2 = peekc(lx, 2);
    lit.len = span_len(lx, lit);
    if (h1 < 0 || h2 < 0) return lex_error(lx, t, lit, "incomplete \\x escape"), 1;
    if (hexval(h1) < 0 || hexval(h2) < 0)
      return lex_error(lx, t, lit, "invalid hex digit in \\x escape"), 1;
    bump(lx);
    bump(lx);
    bump(lx);
    return put_latin1(lx, n, (unsigned)(hexval(h1) * 16 + hexval(h2))) ? -ENOMEM : 0;
  }
  default: {
    size_t k = seq_len(lx->p, lx->end);
    at.len = 2;
    return lex_error(lx, t, at, "unknown escape sequence: \\%.*s", (int)k, lx->p), 1;
  }
  }
  bump(lx);
  return buf_put(lx, n, &out, 1) ? -ENOMEM : 0;
}

static int lex_string(hk_lexer_t *lx, hk_token_t *t) {
  hk_pos_t start = here(lx);
  bump(lx); /* the opening quote */
  size_t n = 0;
  for (;;) {
    int c = peekc(lx, 0);
    if (c < 0) {
      start.len = span_len(lx, start);
      return lex_error(lx, t, start, "unterminated string literal");
    }
    if (c == '"') break;
    if (c == '\\') {
      int rc = lex_escape(lx, t, &n, start);
      if (rc < 0) return oom(lx, t);
      if (rc > 0) return 0;
      continue;
    }
    const char *b = lx->p;
    size_t k = seq_len(lx->p, lx->end);
    for (size_t j = 0; j < k; j++) bump(lx);
    if (buf_put(lx, &n, b, k)) return oom(lx, t);
  }
  bump(lx); /* the closing quote */
  start.len = span_len(lx, start);
  char *s = hk_arena_strdup(lx->arena, n ? lx->buf : "", n);
  if (!s) return oom(lx, t);
  t->kind = HK_T_STRING;
  t->pos = start;
  t->str.s = s;
  t->str.len = n;
  return 0;
}

/* `#"c"` (the current character is '#', the next one '"'). */
static int lex_char(hk_lexer_t *lx, hk_token_t *t) {
  hk_pos_t start = here(lx);
  bump(lx);
  bump(lx);
  if (lx->p >= lx->end) {
    start.len = span_len(lx, start);
    return lex_error(lx, t, start, "unterminated character literal");
  }
  uint32_t ch;
  if (peekc(lx, 0) == '\\') {
    size_t n = 0;
    int rc = lex_escape(lx, t, &n, start);
    if (rc < 0) return oom(lx, t);
    if (rc > 0) return 0;
    ch = decode_scalar(lx->buf, n);
  } else {
    size_t k = seq_len(lx->p, lx->end);
    ch = decode_scalar(lx->p, k);
    for (size_t j = 0; j < k; j++) bump(lx);
  }
  /* After the character, anything but a quote (end of input included) is a
  ** missing closing quote (as in hiko 0.5.1). */
  if (peekc(lx, 0) != '"') {
    start.len = span_len(lx, start);
    return lex_error(lx, t, start, "unterminated character literal, expected closing \"");
  }
  bump(lx);
  start.len = span_len(lx, start);
  t->kind = HK_T_CHAR;
  t->pos = start;
  t->v.ch = ch;
  return 0;
}

/* ---- Names ---- */

/* Is [s, n] the keyword [w]? */
static inline bool is_kw(const char *s, size_t n, const char *w, size_t wn) {
  return n == wn && memcmp(s, w, n) == 0;
}
#define KW(w, k) if (is_kw(s, n, w, sizeof w - 1)) return k

/* The keyword kind of an identifier, or HK_T_IDENT (a switch on the first
** letter: this runs for every identifier). */
static hk_tok_kind_t keyword(const char *s, size_t n) {
  if (n < 2 || n > 8) return HK_T_IDENT;
  switch (s[0]) {
  case 'a': KW("and", HK_T_AND); KW("andalso", HK_T_ANDALSO); KW("as", HK_T_AS); break;
  case 'c': KW("case", HK_T_CASE); break;
  case 'd': KW("datatype", HK_T_DATATYPE); break;
  case 'e': KW("end", HK_T_END); KW("else", HK_T_ELSE); KW("effect", HK_T_EFFECT); break;
  case 'f': KW("fun", HK_T_FUN); KW("fn", HK_T_FN); KW("false", HK_T_FALSE); break;
  case 'h': KW("handle", HK_T_HANDLE); break;
  case 'i': KW("in", HK_T_IN); KW("if", HK_T_IF); break;
  case 'l': KW("let", HK_T_LET); KW("local", HK_T_LOCAL); break;
  case 'm': KW("mod", HK_T_MOD); break;
  case 'n': KW("not", HK_T_NOT); break;
  case 'o': KW("of", HK_T_OF); KW("orelse", HK_T_ORELSE); break;
  case 'p': KW("perform", HK_T_PERFORM); break;
  case 'r': KW("rec", HK_T_REC); KW("resume", HK_T_RESUME); KW("return", HK_T_RETURN); break;
  case 't': KW("then", HK_T_THEN); KW("type", HK_T_TYPE); KW("true", HK_T_TRUE); break;
  case 'u': KW("use", HK_T_USE); break;
  case 'v': KW("val", HK_T_VAL); break;
  case 'w': KW("with", HK_T_WITH); break;
  default: break;
  }
  return HK_T_IDENT;
}
#undef KW

bool hk_lex_is_keyword(const char *s, size_t n) { return keyword(s, n) != HK_T_IDENT; }

static int lex_name(hk_lexer_t *lx, hk_token_t *t, bool tyvar) {
  hk_pos_t start = here(lx);
  const char *s = lx->p;
  if (tyvar) bump(lx);
  while (is_ident_char(peekc(lx, 0))) bump(lx);
  size_t n = (size_t)(lx->p - s);
  start.len = (uint32_t)n;
  t->pos = start;
  if (tyvar) {
    t->kind = HK_T_TYVAR;
  } else if (n == 1 && s[0] == '_') {
    t->kind = HK_T_WILD;
    return 0;
  } else {
    t->kind = keyword(s, n);
    if (t->kind != HK_T_IDENT) return 0;
    if (s[0] >= 'A' && s[0] <= 'Z') t->kind = HK_T_UIDENT;
  }
  char *name = hk_arena_strdup(lx->arena, s, n);
  if (!name) return oom(lx, t);
  t->str.s = name;
  t->str.len = n;
  return 0;
}

/* ---- Operators ---- */

/* Consumes [n] bytes as token [k]. */
static int punct(hk_lexer_t *lx, hk_token_t *t, hk_tok_kind_t k, uint32_t n) {
  t->kind = k;
  t->pos = here(lx);
  t->pos.len = n;
  for (uint32_t i = 0; i < n; i++) bump(lx);
  return 0;
}

static int lex_op(hk_lexer_t *lx, hk_token_t *t, int c) {
  int d = peekc(lx, 1), e = peekc(lx, 2);
  switch (c) {
  case '+': return d == '.' ? punct(lx, t, HK_T_FPLUS, 2) : punct(lx, t, HK_T_PLUS, 1);
  case '-':
    if (d == '.') return punct(lx, t, HK_T_FMINUS, 2);
    return d == '>' ? punct(lx, t, HK_T_ARROW, 2) : punct(lx, t, HK_T_MINUS, 1);
  case '*': return d == '.' ? punct(lx, t, HK_T_FSTAR, 2) : punct(lx, t, HK_T_STAR, 1);
  case '/': return d == '.' ? punct(lx, t, HK_T_FSLASH, 2) : punct(lx, t, HK_T_SLASH, 1);
  case '^': return punct(lx, t, HK_T_CARET, 1);
  case '~': return punct(lx, t, HK_T_TILDE, 1);
  case ':': return d == ':' ? punct(lx, t, HK_T_CONS, 2) : punct(lx, t, HK_T_COLON, 1);
  case '=': return d == '>' ? punct(lx, t, HK_T_DARROW, 2) : punct(lx, t, HK_T_EQ, 1);
  case '<':
    if (d == '>') return punct(lx, t, HK_T_NE, 2);
    if (d == '=') return e == '.' ? punct(lx, t, HK_T_FLE, 3) : punct(lx, t, HK_T_LE, 2);
    return d == '.' ? punct(lx, t, HK_T_FLT, 2) : punct(lx, t, HK_T_LT, 1);
  case '>':
    if (d == '=') return e == '.' ? punct(lx, t, HK_T_FGE, 3) : punct(lx, t, HK_T_GE, 2);
    return d == '.' ? punct(lx, t, HK_T_FGT, 2) : punct(lx, t, HK_T_GT, 1);
  case '|': return punct(lx, t, HK_T_BAR, 1);
  case ',': return punct(lx, t, HK_T_COMMA, 1);
  case '(': return punct(lx, t, HK_T_LPAREN, 1);
  case ')': return punct(lx, t, HK_T_RPAREN, 1);
  case '[': return punct(lx, t, HK_T_LBRACKET, 1);
  case ']': return punct(lx, t, HK_T_RBRACKET, 1);
  case ';': return punct(lx, t, HK_T_SEMI, 1);
  case '#': return punct(lx, t, HK_T_HASH, 1);
  default: break;
  }
  size_t k = seq_len(lx->p, lx->end);
  return lex_error(lx, t, here(lx), "unexpected character: '%.*s'", (int)k, lx->p);
}

static int lex_next(hk_lexer_t *lx, hk_token_t *t) {
  if (lx->failed) {
    *t = lx->err;
    return 0;
  }
  memset(t, 0, sizeof *t);
  if (skip_space(lx, t)) return 0;
  int c = peekc(lx, 0);
  if (c < 0) {
    t->kind = HK_T_EOF;
    t->pos = here(lx);
    return 0;
  }
  if (is_digit(c)) return lex_number(lx, t);
  if (is_ident_start(c)) return lex_name(lx, t, false);
  if (c == '\'') {
    if (is_ident_start(peekc(lx, 1))) return lex_name(lx, t, true);
    return lex_error(lx, t, here(lx), "unexpected character: '''");
  }
  if (c == '"') return lex_string(lx, t);
  if (c == '#' && peekc(lx, 1) == '"') return lex_char(lx, t);
  return lex_op(lx, t, c);
}

int hk_lex_next(hk_lexer_t *lx, hk_token_t *t) {
  int rc = lex_next(lx, t);
  t->end_line = lx->line;
  t->end_col = lx->col;
  if (t->kind == HK_T_ERROR || t->kind == HK_T_EOF) {
    t->end_line = t->pos.line;
    t->end_col = t->pos.col;
  }
  return rc;
}
