/* bi_json.c — JSON parsing and writing (see bi_json.h). The parser is
** recursive descent; its depth is bounded by HK_JSON_MAX_DEPTH, so native
** recursion stays small whatever the input. */
#include "vm/bi_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_fmt.h"
#include "vm/utf8.h"

typedef struct parser {
  hk_arena_t *arena;
  const char *src;
  size_t len, pos;
  const char *error; /* first error; pos marks it */
  bool nomem;
} parser_t;

static bool fail(parser_t *p, const char *text) {
  if (!p->error) p->error = text;
  return false;
}

static void skip_ws(parser_t *p) {
  while (p->pos < p->len) {
    char c = p->src[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static void *arena_alloc(parser_t *p, size_t size) {
  void *m = hk_arena_alloc(p->arena, size ? size : 1);
  if (!m) p->nomem = true;
  return m;
}

static bool parse_value(parser_t *p, hk_jnode_t *out, int depth);

static int hex4(const char *s) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Reads \uXXXX (after the backslash and 'u') with surrogate pairs. */
static bool parse_u_escape(parser_t *p, uint32_t *cp) {
  if (p->len - p->pos < 4) return fail(p, "EOF while parsing a string");
  int hi = hex4(p->src + p->pos);
  if (hi < 0) return fail(p, "invalid escape");
  p->pos += 4;
  if (hi >= 0xDC00 && hi <= 0xDFFF) return fail(p, "lone trailing surrogate in hex escape");
  if (hi >= 0xD800 && hi <= 0xDBFF) {
    if (p->len - p->pos < 6 || p->src[p->pos] != '\\' || p->src[p->pos + 1] != 'u')
      return fail(p, "lone leading surrogate in hex escape");
    int lo = hex4(p->src + p->pos + 2);
    if (lo < 0) return fail(p, "invalid escape");
    if (lo < 0xDC00 || lo > 0xDFFF) return fail(p, "lone leading surrogate in hex escape");
    p->pos += 6;
    *cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    return true;
  }
  *cp = (uint32_t)hi;
  return true;
}

/* Parses a string at the opening quote into arena memory. */
static bool parse_string(parser_t *p, const char **s, size_t *n) {
  p->pos++; /* the quote */
  hk_buf_t b;
  hk_buf_init(&b);
  for (;;) {
    if (p->pos >= p->len) {
      hk_buf_free(&b);
      return fail(p, "EOF while parsing a string");
    }
    unsigned char c = (unsigned char)p->src[p->pos];
    if (c == '"') break;
    if (c < 0x20) {
      hk_buf_free(&b);
      return fail(p, "control character (\\u0000-\\u001F) found while parsing a string");
    }
    if (c != '\\') {
      size_t start = p->pos;
      while (p->pos < p->len && p->src[p->pos] != '"' && p->src[p->pos] != '\\' &&
             (unsigned char)p->src[p->pos] >= 0x20)
        p->pos++;
      hk_buf_append(&b, p->src + start, p->pos - start);
      continue;
    }
    p->pos++;
    if (p->pos >= p->len) {
      hk_buf_free(&b);
      return fail(p, "EOF while parsing a string");
    }
    char e = p->src[p->pos++];
    uint32_t cp = 0;
    switch (e) {
    case '"': cp = '"'; break;
    case '\\': cp = '\\'; break;
    case '/': cp = '/'; break;
    case 'b': cp = '\b'; break;
    case 'f': cp = '\f'; break;
    case 'n': cp = '\n'; break;
    case 'r': cp = '\r'; break;
    case 't': cp = '\t'; break;
    case 'u':
      if (!parse_u_escape(p, &cp)) {
        hk_buf_free(&b);
        return false;
      }
      break;
    default:
      p->pos--;
      hk_buf_free(&b);
      return fail(p, "invalid escape");
    }
    hk_buf_put_scalar(&b, cp);
  }
  p->pos++; /* the closing quote */
  char *m = arena_alloc(p, b.len + 1);
  if (m && b.len) memcpy(m, b.data, b.len);
  if (b.failed) p->nomem = true;
  *s = m;
  *n = b.len;
  hk_buf_free(&b);
  return m != NULL && !p->nomem;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool parse_number(parser_t *p, hk_jnode_t *out) {
  size_t start = p->pos;
  bool integral = true;
  if (p->pos < p->len && p->src[p->pos] == '-') p->pos++;
  if (p->pos >= p->len) return fail(p, "EOF while parsing a value");
  if (p->src[p->pos] == '0') {
    p->pos++;
  } else if (is_digit(p->src[p->pos])) {
    while (p->pos < p->len && is_digit(p->src[p->pos])) p->pos++;
  } else {
    return fail(p, "invalid number");
  }
  if (p->pos < p->len && p->src[p->pos] == '.') {
    integral = false;
    p->pos++;
    if (p->pos >= p->len || !is_digit(p->src[p->pos])) return fail(p, "invalid number");
    while (p->pos < p->len && is_digit(p->src[p->pos])) p->pos++;
  }
  if (p->pos < p->len && (p->src[p->pos] == 'e' || p->src[p->pos] == 'E')) {
    integral = false;
    p->pos++;
    if (p->pos < p->len && (p->src[p->pos] == '+' || p->src[p->pos] == '-')) p->pos++;
    if (p->pos >= p->len || !is_digit(p->src[p->pos])) return fail(p, "invalid number");
    while (p->pos < p->len && is_digit(p->src[p->pos])) p->pos++;
  }
  size_t n = p->pos - start;
  char small[64], *text = n < sizeof small ? small : malloc(n + 1);
  if (!text) {
    p->nomem = true;
    return false;
  }
  memcpy(text, p->src + start, n);
  text[n] = 0;
  bool ok = true;
  if (integral) {
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == 0) {
      out->kind = HK_J_INT;
      out->i = v;
    } else {
      integral = false;
    }
  }
  if (!integral) {
    out->kind = HK_J_FLOAT;
    out->f = strtod(text, NULL);
    if (isinf(out->f)) {
      p->pos = start;
      ok = fail(p, "number out of range");
    }
  }
  if (text != small) free(text);
  return ok;
}

static bool parse_literal(parser_t *p, const char *word, hk_jnode_t *out, hk_jkind_t kind,
                          bool b) {
  size_t n = strlen(word);
  for (size_t i = 0; i < n; i++) {
    if (p->pos >= p->len) return fail(p, "EOF while parsing a value");
    if (p->src[p->pos] != word[i]) return fail(p, "expected value");
    p->pos++;
  }
  out->kind = kind;
  out->b = b;
  return true;
}

/* A growable vector of nodes (and keys) while a container is parsed. */
typedef struct vec {
  hk_jnode_t *items;
  const char **keys;
  size_t *klens;
  size_t n, cap;
} vec_t;

static bool vec_push(parser_t *p, vec_t *v) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    hk_jnode_t *it = realloc(v->items, cap * sizeof *it);
    if (it) v->items = it;
    const char **k = realloc(v->keys, cap * sizeof *k);
    if (k) v->keys = k;
    size_t *kl = realloc(v->klens, cap * sizeof *kl);
    if (kl) v->klens = kl;
    if (!it || !k || !kl) {
      p->nomem = true;
      return false;
    }
    v->cap = cap;
  }
  memset(&v->items[v->n], 0, sizeof v->items[0]);
  v->keys[v->n] = NULL;
  v->klens[v->n] = 0;
  v->n++;
  return true;
}

static void vec_free(vec_t *v) {
  free(v->items);
  free(v->keys);
  free(v->klens);
}

typedef struct member_ref {
  const vec_t *v;
  size_t index;
} member_ref_t;

static int key_cmp(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  if (c) return c;
  return an < bn ? -1 : an > bn;
}

static int member_cmp(const void *x, const void *y) {
  const member_ref_t *a = x, *b = y;
  int c = key_cmp(a->v->keys[a->index], a->v->klens[a->index], b->v->keys[b->index],
                  b->v->klens[b->index]);
  if (c) return c;
  return a->index < b->index ? -1 : a->index > b->index;
}

/* Moves a parsed container into the arena: sorted unique keys for objects. */
static bool finish(parser_t *p, vec_t *v, hk_jnode_t *out, bool object) {
  member_ref_t *refs = malloc((v->n ? v->n : 1) * sizeof *refs);
  if (!refs) {
    p->nomem = true;
    return false;
  }
  for (size_t i = 0; i < v->n; i++) refs[i] = (member_ref_t){v, i};
  size_t n = v->n;
  if (object) {
    qsort(refs, v->n, sizeof *refs, member_cmp);
    /* Of equal keys (adjacent, in input order) keep the last. */
    n = 0;
    for (size_t i = 0; i < v->n; i++) {
      bool last = i + 1 == v->n || key_cmp(v->keys[refs[i].index], v->klens[refs[i].index],
                                           v->keys[refs[i + 1].index],
                                           v->klens[refs[i + 1].index]) != 0;
      if (last) refs[n++] = refs[i];
    }
  }
  out->n = n;
  out->items = arena_alloc(p, n * sizeof *out->items);
  if (object) {
    out->keys = arena_alloc(p, n * sizeof *out->keys);
    out->klens = arena_alloc(p, n * sizeof *out->klens);
  }
  if (p->nomem) {
    free(refs);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    out->items[i] = v->items[refs[i].index];
    if (object) {
      out->keys[i] = v->keys[refs[i].index];
      out->klens[i] = v->klens[refs[i].index];
    }
  }
  free(refs);
  return true;
}

static bool parse_container(parser_t *p, hk_jnode_t *out, int depth, bool object) {
  char close = object ? '}' : ']';
  if (depth >= HK_JSON_MAX_DEPTH) return fail(p, "recursion limit exceeded");
  p->pos++;
  out->kind = object ? HK_J_OBJECT : HK_J_ARRAY;
  vec_t v = {0};
  bool ok = true;
  skip_ws(p);
  if (p->pos < p->len && p->src[p->pos] == close) {
    p->pos++;
  } else {
    for (;;) {
      skip_ws(p);
      if (!vec_push(p, &v)) {
        ok = false;
        break;
      }
      if (object) {
        if (p->pos >= p->len) {
          ok = fail(p, "EOF while parsing an object");
          break;
        }
        if (p->src[p->pos] != '"') {
          ok = fail(p, "key must be a string");
          break;
        }
        if (!parse_string(p, &v.keys[v.n - 1], &v.klens[v.n - 1])) {
          ok = false;
          break;
        }
        skip_ws(p);
        if (p->pos >= p->len || p->src[p->pos] != ':') {
          ok = fail(p, p->pos >= p->len ? "EOF while parsing an object" : "expected `:`");
          break;
        }
        p->pos++;
      }
      if (!parse_value(p, &v.items[v.n - 1], depth + 1)) {
        ok = false;
        break;
      }
      skip_ws(p);
      if (p->pos >= p->len) {
        ok = fail(p, object ? "EOF while parsing an object" : "EOF while parsing a list");
        break;
      }
      char c = p->src[p->pos];
      if (c == ',') {
        p->pos++;
        continue;
      }
      if (c == close) {
        p->pos++;
        break;
      }
      ok = fail(p, object ? "expected `,` or `}`" : "expected `,` or `]`");
      break;
    }
  }
  ok = ok && finish(p, &v, out, object);
  vec_free(&v);
  return ok;
}

static bool parse_value(parser_t *p, hk_jnode_t *out, int depth) {
  skip_ws(p);
  if (p->pos >= p->len) return fail(p, "EOF while parsing a value");
  switch (p->src[p->pos]) {
  case 'n': return parse_literal(p, "null", out, HK_J_NULL, false);
  case 't': return parse_literal(p, "true", out, HK_J_BOOL, true);
  case 'f': return parse_literal(p, "false", out, HK_J_BOOL, false);
  case '"':
    out->kind = HK_J_STR;
    return parse_string(p, &out->s, &out->slen);
  case '[': return parse_container(p, out, depth, false);
  case '{': return parse_container(p, out, depth, true);
  default:
    if (p->src[p->pos] == '-' || is_digit(p->src[p->pos])) return parse_number(p, out);
    return fail(p, "expected value");
  }
}

static void position(const char *src, size_t len, size_t pos, hk_json_error_t *err) {
  if (pos > len) pos = len;
  uint32_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < pos; i++)
    if (src[i] == '\n') {
      line++;
      line_start = i + 1;
    }
  err->line = line;
  err->col = (uint32_t)hk_utf8_count((const uint8_t *)src + line_start, pos - line_start) + 1;
}

int hk_json_parse(hk_arena_t *arena, const char *src, size_t len, hk_jnode_t **out,
                  hk_json_error_t *err) {
  parser_t p = {.arena = arena, .src = src, .len = len};
  hk_jnode_t *root = arena_alloc(&p, sizeof *root);
  if (!root) return -ENOMEM;
  bool ok = parse_value(&p, root, 0);
  if (ok) {
    skip_ws(&p);
    if (p.pos < p.len) ok = fail(&p, "trailing characters");
  }
  if (p.nomem) return -ENOMEM;
  if (!ok) {
    err->text = p.error;
    position(src, len, p.pos, err);
    return -EINVAL;
  }
  *out = root;
  return 0;
}

void hk_json_write_string(hk_buf_t *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  hk_buf_putc(b, '"');
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[7];
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    default:
      if (c < 0x20) {
        memcpy(u, "\\u00", 4);
        u[4] = hex[c >> 4];
        u[5] = hex[c & 15];
        u[6] = 0;
        esc = u;
      }
    }
    if (!esc) continue;
    hk_buf_append(b, s + run, i - run);
    hk_buf_append(b, esc, strlen(esc));
    run = i + 1;
  }
  hk_buf_append(b, s + run, n - run);
  hk_buf_putc(b, '"');
}

void hk_json_write(hk_buf_t *b, const hk_jnode_t *node) {
  char num[HK_FMT_FLOAT_MAX];
  switch (node->kind) {
  case HK_J_NULL: hk_buf_append(b, "null", 4); return;
  case HK_J_BOOL: hk_buf_append(b, node->b ? "true" : "false", node->b ? 4 : 5); return;
  case HK_J_INT: hk_buf_append(b, num, hk_fmt_int(node->i, num)); return;
  case HK_J_FLOAT: hk_buf_append(b, num, hk_fmt_float_json(node->f, num)); return;
  case HK_J_STR: hk_json_write_string(b, node->s, node->slen); return;
  case HK_J_ARRAY:
  case HK_J_OBJECT: {
    bool object = node->kind == HK_J_OBJECT;
    hk_buf_putc(b, object ? '{' : '[');
    for (size_t i = 0; i < node->n; i++) {
      if (i) hk_buf_putc(b, ',');
      if (object) {
        hk_json_write_string(b, node->keys[i], node->klens[i]);
        hk_buf_putc(b, ':');
      }
      hk_json_write(b, &node->items[i]); /* depth ≤ HK_JSON_MAX_DEPTH */
    }
    hk_buf_putc(b, object ? '}' : ']');
    return;
  }
  }
}

static const hk_jnode_t *step(const hk_jnode_t *node, const char *seg, size_t n) {
  bool digits = n > 0;
  for (size_t i = 0; i < n && digits; i++) digits = is_digit(seg[i]);
  if (digits) {
    if (node->kind != HK_J_ARRAY) return NULL;
    uint64_t idx = 0;
    for (size_t i = 0; i < n; i++) {
      if (idx > (UINT64_MAX - 9) / 10) return NULL;
      idx = idx * 10 + (uint64_t)(seg[i] - '0');
    }
    return idx < node->n ? &node->items[idx] : NULL;
  }
  if (node->kind != HK_J_OBJECT) return NULL;
  size_t lo = 0, hi = node->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = key_cmp(node->keys[mid], node->klens[mid], seg, n);
    if (c == 0) return &node->items[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

const hk_jnode_t *hk_json_path(const hk_jnode_t *root, const char *path, size_t len) {
  if (len == 0) return root;
  const hk_jnode_t *node = root;
  size_t start = 0;
  for (size_t i = 0; i <= len && node; i++) {
    if (i == len || path[i] == '.') {
      node = step(node, path + start, i - start);
      start = i + 1;
    }
  }
  return node;
}
