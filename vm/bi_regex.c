/* bi_regex.c — regular expressions (see bi_regex.h) and the regex_match /
** regex_replace builtins (SPEC §8.8).
**
** Pattern → syntax tree (recursive descent, nesting bounded) → program of
** a few instructions → Pike VM: all threads advance together over the
** input, kept in priority order, so the first thread to reach MATCH is the
** leftmost-first match, and no input position is visited twice per thread
** state. Epsilon closures use an explicit stack. */
#include "vm/bi_regex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_core.h"
#include "vm/bi_unicode.h"
#include "vm/utf8.h"

#define MAX_DEPTH 250        /* nesting of groups (bounds the parser's recursion) */
#define MAX_REPEAT 1000      /* {n,m} bounds, as RE2 */
#define MAX_PROGRAM 200000   /* instructions */
#define MAX_THREAD_CAPS (1u << 21) /* instructions × capture slots: 16 MiB per thread list */

/* ---- classes ------------------------------------------------------------ */

typedef enum { CK_RANGE, CK_DIGIT, CK_WORD, CK_SPACE } class_kind_t;
typedef struct citem { class_kind_t kind; bool neg; uint32_t lo, hi; } citem_t;
typedef struct cls { citem_t *items; size_t n, cap; bool neg, fold; } cls_t;

static bool is_word(uint32_t c) { return hk_unicode_is_word(c); }

static bool item_has(const citem_t *it, uint32_t c) {
  bool r;
  switch (it->kind) {
  case CK_DIGIT: r = hk_unicode_is_digit(c); break;
  case CK_WORD: r = is_word(c); break;
  case CK_SPACE: r = hk_unicode_is_white_space(c); break;
  default: r = c >= it->lo && c <= it->hi; break;
  }
  return r != it->neg;
}

static bool class_has(const cls_t *k, uint32_t c) {
  bool in = false;
  for (size_t i = 0; i < k->n && !in; i++) {
    in = item_has(&k->items[i], c);
    if (!in && k->fold) {
      uint32_t u = hk_unicode_simple_upper(c), l = hk_unicode_simple_lower(c);
      in = (u != c && item_has(&k->items[i], u)) || (l != c && item_has(&k->items[i], l));
    }
  }
  return in != k->neg;
}

/* ---- program -------------------------------------------------------------- */

typedef enum {
  I_CHAR, I_ANY, I_ANYNL, I_CLASS, I_SPLIT, I_JMP, I_SAVE, I_ASSERT, I_MATCH
} op_t;
typedef enum { A_BOT, A_EOT, A_BOL, A_EOL, A_WORDB, A_NWORDB } assert_t;

typedef struct inst {
  uint8_t op;
  bool fold;     /* I_CHAR: case-insensitive */
  uint8_t loop;  /* I_SPLIT heading a * or + loop: 1 greedy (exit is y), 2 lazy (exit is x) */
  uint32_t x, y; /* CHAR: scalar; CLASS: class; SPLIT: x preferred, y; JMP: x; SAVE: slot; ASSERT: kind */
} inst_t;

struct hk_regex {
  inst_t *prog;
  size_t nprog, capprog;
  cls_t *classes;
  size_t nclasses, capclasses;
  uint32_t ngroups; /* including group 0 */
  char **names;     /* [ngroups], NULL for unnamed */
};

/* ---- syntax tree ---------------------------------------------------------- */

typedef enum { N_EMPTY, N_CHAR, N_ANY, N_CLASS, N_CAT, N_ALT, N_REPEAT, N_GROUP, N_ASSERT } nkind_t;

typedef struct node node_t;
struct node {
  nkind_t kind;
  bool fold, dotnl, greedy;
  uint32_t c;          /* CHAR scalar, CLASS index, ASSERT kind, GROUP capture (or UINT32_MAX) */
  int min, max;        /* REPEAT: max -1 = unbounded */
  node_t **kids;       /* CAT, ALT: children; REPEAT, GROUP: kids[0] */
  size_t nkids, capkids;
};

typedef struct parser {
  const char *p;
  size_t n, i;
  hk_regex_t *re;
  const char *err;
  bool nomem;
  node_t **all; /* every node, for freeing */
  size_t nall, capall;
  int depth;
} parser_t;

typedef struct flags { bool i, m, s; } flags_t;

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap * 2 : 8;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * size);
  if (!q) return false;
  *p = q;
  *cap = c;
  return true;
}

static node_t *mk(parser_t *ps, nkind_t kind) {
  if (!grow((void **)&ps->all, &ps->capall, ps->nall + 1, sizeof *ps->all)) {
    ps->nomem = true;
    return NULL;
  }
  node_t *nd = calloc(1, sizeof *nd);
  if (!nd) {
    ps->nomem = true;
    return NULL;
  }
  nd->kind = kind;
  ps->all[ps->nall++] = nd;
  return nd;
}

static bool add_kid(parser_t *ps, node_t *parent, node_t *kid) {
  if (!grow((void **)&parent->kids, &parent->capkids, parent->nkids + 1, sizeof *parent->kids)) {
    ps->nomem = true;
    return false;
  }
  parent->kids[parent->nkids++] = kid;
  return true;
}

static bool fail(parser_t *ps, const char *msg) {
  if (!ps->err) ps->err = msg;
  return false;
}

static bool at_end(const parser_t *ps) { return ps->i >= ps->n; }

static uint32_t next_scalar(parser_t *ps) {
  size_t len;
  uint32_t c = hk_utf8_decode_valid((const uint8_t *)ps->p + ps->i, &len);
  ps->i += len;
  return c;
}

static int new_class(parser_t *ps, bool fold) {
  hk_regex_t *re = ps->re;
  if (!grow((void **)&re->classes, &re->capclasses, re->nclasses + 1, sizeof *re->classes)) {
    ps->nomem = true;
    return -1;
  }
  memset(&re->classes[re->nclasses], 0, sizeof re->classes[0]);
  re->classes[re->nclasses].fold = fold;
  return (int)re->nclasses++;
}

static bool class_add(parser_t *ps, int k, citem_t it) {
  cls_t *c = &ps->re->classes[k];
  if (!grow((void **)&c->items, &c->cap, c->n + 1, sizeof *c->items)) {
    ps->nomem = true;
    return false;
  }
  c->items[c->n++] = it;
  return true;
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Parses an escape after the backslash. Sets *cp for a literal scalar, or
** *perl (d w s D W S) for a Perl class, or *assertion (A z b B), one of
** them. Returns false on error. */
static bool parse_escape(parser_t *ps, uint32_t *cp, char *perl, int *assertion, bool in_class) {
  *perl = 0;
  *assertion = -1;
  if (at_end(ps)) return fail(ps, "trailing backslash at end of expression");
  char e = ps->p[ps->i];
  if ((unsigned char)e >= 0x80) return fail(ps, "invalid escape sequence");
  ps->i++;
  switch (e) {
  case 'd': case 'w': case 's': case 'D': case 'W': case 'S': *perl = e; return true;
  case 'A': case 'z': case 'b': case 'B':
    if (in_class) return fail(ps, "invalid escape sequence");
    *assertion = e == 'A' ? A_BOT : e == 'z' ? A_EOT : e == 'b' ? A_WORDB : A_NWORDB;
    return true;
  case 'n': *cp = '\n'; return true;
  case 't': *cp = '\t'; return true;
  case 'r': *cp = '\r'; return true;
  case 'f': *cp = '\f'; return true;
  case 'v': *cp = '\v'; return true;
  case 'a': *cp = 7; return true;
  case 'x': {
    uint32_t v = 0;
    if (!at_end(ps) && ps->p[ps->i] == '{') {
      ps->i++;
      int digits = 0;
      while (!at_end(ps) && hexval(ps->p[ps->i]) >= 0 && digits < 8) {
        v = v * 16 + (uint32_t)hexval(ps->p[ps->i++]);
        digits++;
      }
      if (digits == 0 || at_end(ps) || ps->p[ps->i] != '}' || !hk_utf8_is_scalar(v))
        return fail(ps, "invalid escape sequence: \\x");
      ps->i++;
    } else {
      for (int k = 0; k < 2; k++) {
        if (at_end(ps) || hexval(ps->p[ps->i]) < 0) return fail(ps, "invalid escape sequence: \\x");
        v = v * 16 + (uint32_t)hexval(ps->p[ps->i++]);
      }
    }
    *cp = v;
    return true;
  }
  default:
    /* Any ASCII punctuation may be escaped to stand for itself. */
    if ((e >= '!' && e <= '/') || (e >= ':' && e <= '@') || (e >= '[' && e <= '`') ||
        (e >= '{' && e <= '~')) {
      *cp = (uint32_t)e;
      return true;
    }
    return fail(ps, "invalid escape sequence");
  }
}

static bool add_perl(parser_t *ps, int k, char perl) {
  citem_t it = {CK_DIGIT, false, 0, 0};
  switch (perl) {
  case 'd': case 'D': it.kind = CK_DIGIT; break;
  case 'w': case 'W': it.kind = CK_WORD; break;
  default: it.kind = CK_SPACE; break;
  }
  it.neg = perl >= 'A' && perl <= 'Z';
  return class_add(ps, k, it);
}

/* POSIX classes inside brackets, ASCII only (as RE2). */
static bool add_posix(parser_t *ps, int k, bool *done) {
  static const struct { const char *name; const char *ranges; } posix[] = {
      {"alpha", "AZaz"}, {"digit", "09"}, {"alnum", "09AZaz"}, {"upper", "AZ"},
      {"lower", "az"}, {"space", "\t\r  "}, {"blank", "\t\t  "}, {"xdigit", "09AFaf"},
      {"word", "09AZ__az"}, {"punct", "!/:@[`{~"}, {"cntrl", "\x01\x1f\x7f\x7f"},
      {"print", " ~"}, {"graph", "!~"}, {"ascii", "\x01\x7f"},
  };
  *done = false;
  if (ps->n - ps->i < 2 || ps->p[ps->i] != '[' || ps->p[ps->i + 1] != ':') return true;
  const char *end = memchr(ps->p + ps->i + 2, ']', ps->n - ps->i - 2);
  if (!end || end[-1] != ':') return true;
  const char *name = ps->p + ps->i + 2;
  size_t len = (size_t)(end - 1 - name);
  bool neg = len > 0 && name[0] == '^';
  if (neg) {
    name++;
    len--;
  }
  for (size_t j = 0; j < sizeof posix / sizeof posix[0]; j++) {
    if (strlen(posix[j].name) != len || memcmp(posix[j].name, name, len) != 0) continue;
    /* A negated POSIX class becomes its complement ranges. */
    const char *r = posix[j].ranges;
    size_t nr = strlen(r);
    if (!neg) {
      for (size_t q = 0; q + 1 < nr; q += 2)
        if (!class_add(ps, k, (citem_t){CK_RANGE, false, (uint8_t)r[q], (uint8_t)r[q + 1]}))
          return false;
    } else {
      uint32_t lo = 0;
      for (size_t q = 0; q + 1 < nr; q += 2) {
        if ((uint8_t)r[q] > lo &&
            !class_add(ps, k, (citem_t){CK_RANGE, false, lo, (uint8_t)r[q] - 1u}))
          return false;
        lo = (uint8_t)r[q + 1] + 1u;
      }
      if (!class_add(ps, k, (citem_t){CK_RANGE, false, lo, 0x10FFFF})) return false;
    }
    ps->i = (size_t)(end - ps->p) + 1;
    *done = true;
    return true;
  }
  return fail(ps, "invalid character class range");
}

/* Parses [...] after the '['. */
static node_t *parse_class(parser_t *ps, flags_t f) {
  int k = new_class(ps, f.i);
  if (k < 0) return NULL;
  if (!at_end(ps) && ps->p[ps->i] == '^') {
    ps->re->classes[k].neg = true;
    ps->i++;
  }
  bool first = true;
  for (;;) {
    if (at_end(ps)) {
      fail(ps, "missing closing ]");
      return NULL;
    }
    if (ps->p[ps->i] == ']' && !first) {
      ps->i++;
      break;
    }
    first = false;
    bool done;
    if (!add_posix(ps, k, &done)) return NULL;
    if (done) continue;
    uint32_t lo;
    if (ps->p[ps->i] == '\\') {
      ps->i++;
      char perl;
      int as;
      if (!parse_escape(ps, &lo, &perl, &as, true)) return NULL;
      if (perl) {
        if (!add_perl(ps, k, perl)) return NULL;
        continue;
      }
    } else {
      lo = next_scalar(ps);
    }
    uint32_t hi = lo;
    if (ps->n - ps->i >= 2 && ps->p[ps->i] == '-' && ps->p[ps->i + 1] != ']') {
      ps->i++;
      if (ps->p[ps->i] == '\\') {
        ps->i++;
        char perl;
        int as;
        if (!parse_escape(ps, &hi, &perl, &as, true)) return NULL;
        if (perl) {
          fail(ps, "invalid character class range");
          return NULL;
        }
      } else {
        hi = next_scalar(ps);
      }
      if (hi < lo) {
        fail(ps, "invalid character class range");
        return NULL;
      }
    }
    if (!class_add(ps, k, (citem_t){CK_RANGE, false, lo, hi})) return NULL;
  }
  node_t *nd = mk(ps, N_CLASS);
  if (nd) nd->c = (uint32_t)k;
  return nd;
}

static node_t *parse_alt(parser_t *ps, flags_t *f);

/* Parses the flags of "(?flags)" or "(?flags:"; ps->i is after "(?". */
static bool parse_flags(parser_t *ps, flags_t *f) {
  bool neg = false, any = false;
  while (!at_end(ps)) {
    char c = ps->p[ps->i];
    if (c == ':') return true; /* (?:...) or (?flags:...) */
    if (c == ')') return any || fail(ps, "missing flags");
    ps->i++;
    if (c == '-' && !neg) {
      neg = true;
      continue;
    }
    if (c == 'i') f->i = !neg;
    else if (c == 'm') f->m = !neg;
    else if (c == 's') f->s = !neg;
    else if (c == 'U') return fail(ps, "invalid or unsupported Perl syntax");
    else return fail(ps, "invalid or unsupported Perl syntax");
    any = true;
  }
  return fail(ps, "missing closing )");
}

static bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Parses a group after '('. */
static node_t *parse_group(parser_t *ps, flags_t *outer) {
  if (++ps->depth > MAX_DEPTH) {
    fail(ps, "expression nests too deeply");
    return NULL;
  }
  flags_t f = *outer;
  uint32_t cap = UINT32_MAX;
  char *name = NULL;
  if (ps->n - ps->i >= 1 && ps->p[ps->i] == '?') {
    ps->i++;
    bool named = false;
    if (ps->n - ps->i >= 2 && ps->p[ps->i] == 'P' && ps->p[ps->i + 1] == '<') {
      ps->i += 2;
      named = true;
    } else if (ps->n - ps->i >= 1 && ps->p[ps->i] == '<') {
      ps->i += 1;
      named = true;
    }
    if (named) {
      size_t start = ps->i;
      while (!at_end(ps) && is_name_char(ps->p[ps->i])) ps->i++;
      if (ps->i == start || at_end(ps) || ps->p[ps->i] != '>') {
        fail(ps, "invalid named capture group");
        return NULL;
      }
      name = strndup(ps->p + start, ps->i - start);
      if (!name) {
        ps->nomem = true;
        return NULL;
      }
      for (uint32_t g = 0; g < ps->re->ngroups; g++)
        if (ps->re->names[g] && strcmp(ps->re->names[g], name) == 0) {
          free(name);
          fail(ps, "duplicate capture group name");
          return NULL;
        }
      ps->i++;
    } else {
      if (!parse_flags(ps, &f)) return NULL;
      if (ps->p[ps->i] == ')') { /* (?flags): applies to the rest of the group */
        ps->i++;
        *outer = f;
        ps->depth--;
        return mk(ps, N_EMPTY);
      }
      ps->i++; /* ':' */
      goto body;
    }
  }
  cap = ps->re->ngroups;
  if (!grow((void **)&ps->re->names, &(size_t){ps->re->ngroups}, ps->re->ngroups + 1,
            sizeof *ps->re->names)) {
    free(name);
    ps->nomem = true;
    return NULL;
  }
  ps->re->names[ps->re->ngroups++] = name;
body:;
  node_t *inner = parse_alt(ps, &f);
  if (!inner) return NULL;
  if (at_end(ps) || ps->p[ps->i] != ')') {
    fail(ps, "missing closing )");
    return NULL;
  }
  ps->i++;
  ps->depth--;
  node_t *g = mk(ps, N_GROUP);
  if (!g || !add_kid(ps, g, inner)) return NULL;
  g->c = cap;
  return g;
}

/* Parses {n}, {n,}, {n,m} after '{'. Returns false (no error) when the text
** is not a repetition, so the '{' is literal. */
static bool parse_counts(parser_t *ps, int *min, int *max, bool *is_rep) {
  size_t save = ps->i;
  *is_rep = false;
  long a = -1, b = -1;
  bool comma = false;
  size_t i = ps->i;
  while (i < ps->n && ps->p[i] >= '0' && ps->p[i] <= '9') {
    a = (a < 0 ? 0 : a) * 10 + (ps->p[i++] - '0');
    if (a > 100000) a = 100000;
  }
  if (a < 0) return true;
  if (i < ps->n && ps->p[i] == ',') {
    comma = true;
    i++;
    while (i < ps->n && ps->p[i] >= '0' && ps->p[i] <= '9') {
      b = (b < 0 ? 0 : b) * 10 + (ps->p[i++] - '0');
      if (b > 100000) b = 100000;
    }
  }
  if (i >= ps->n || ps->p[i] != '}') {
    ps->i = save;
    return true;
  }
  ps->i = i + 1;
  *is_rep = true;
  *min = (int)a;
  *max = comma ? (int)b : (int)a;
  if (a > MAX_REPEAT || b > MAX_REPEAT || (*max >= 0 && *max < *min))
    return fail(ps, "invalid repeat count");
  return true;
}

static node_t *parse_atom(parser_t *ps, flags_t *f) {
  char c = ps->p[ps->i];
  node_t *nd;
  switch (c) {
  case '(':
    ps->i++;
    return parse_group(ps, f);
  case '[':
    ps->i++;
    return parse_class(ps, *f);
  case '.':
    ps->i++;
    nd = mk(ps, N_ANY);
    if (nd) nd->dotnl = f->s;
    return nd;
  case '^':
  case '$':
    ps->i++;
    nd = mk(ps, N_ASSERT);
    if (nd) nd->c = c == '^' ? (f->m ? A_BOL : A_BOT) : (f->m ? A_EOL : A_EOT);
    return nd;
  case '\\': {
    ps->i++;
    uint32_t cp;
    char perl;
    int as;
    if (!parse_escape(ps, &cp, &perl, &as, false)) return NULL;
    if (as >= 0) {
      nd = mk(ps, N_ASSERT);
      if (nd) nd->c = (uint32_t)as;
      return nd;
    }
    if (perl) {
      int k = new_class(ps, false);
      if (k < 0 || !add_perl(ps, k, perl)) return NULL;
      nd = mk(ps, N_CLASS);
      if (nd) nd->c = (uint32_t)k;
      return nd;
    }
    nd = mk(ps, N_CHAR);
    if (nd) {
      nd->c = cp;
      nd->fold = f->i;
    }
    return nd;
  }
  default:
    nd = mk(ps, N_CHAR);
    if (nd) {
      nd->c = next_scalar(ps);
      nd->fold = f->i;
    }
    return nd;
  }
}

static node_t *parse_cat(parser_t *ps, flags_t *f) {
  node_t *cat = mk(ps, N_CAT);
  if (!cat) return NULL;
  while (!at_end(ps) && ps->p[ps->i] != '|' && ps->p[ps->i] != ')') {
    char c = ps->p[ps->i];
    if (c == '*' || c == '+' || c == '?') {
      fail(ps, "missing argument to repetition operator");
      return NULL;
    }
    if (c == '{') {
      int mn, mx;
      bool rep;
      if (!parse_counts(ps, &mn, &mx, &rep)) return NULL;
      if (rep) {
        fail(ps, "missing argument to repetition operator");
        return NULL;
      }
    }
    node_t *atom = parse_atom(ps, f);
    if (!atom) return NULL;
    /* One postfix operator (plus an optional lazy '?'); a second one is an
    ** error, as in RE2, which also keeps the tree shallow. */
    for (bool repeated = false;; repeated = true) {
      if (at_end(ps)) break;
      char q = ps->p[ps->i];
      int mn = 0, mx = -1;
      if (q == '*' || q == '+' || q == '?') {
        ps->i++;
        mn = q == '+' ? 1 : 0;
        mx = q == '?' ? 1 : -1;
      } else if (q == '{') {
        bool rep;
        ps->i++;
        if (!parse_counts(ps, &mn, &mx, &rep)) return NULL;
        if (!rep) {
          ps->i--;
          break;
        }
      } else {
        break;
      }
      if (repeated) {
        fail(ps, "bad repetition operator");
        return NULL;
      }
      node_t *r = mk(ps, N_REPEAT);
      if (!r || !add_kid(ps, r, atom)) return NULL;
      r->min = mn;
      r->max = mx;
      r->greedy = true;
      if (!at_end(ps) && ps->p[ps->i] == '?') {
        r->greedy = false;
        ps->i++;
      }
      atom = r;
    }
    if (!add_kid(ps, cat, atom)) return NULL;
  }
  return cat;
}

static node_t *parse_alt(parser_t *ps, flags_t *f) {
  node_t *first = parse_cat(ps, f);
  if (!first) return NULL;
  if (at_end(ps) || ps->p[ps->i] != '|') return first;
  node_t *alt = mk(ps, N_ALT);
  if (!alt || !add_kid(ps, alt, first)) return NULL;
  while (!at_end(ps) && ps->p[ps->i] == '|') {
    ps->i++;
    flags_t g = *f;
    node_t *next = parse_cat(ps, &g);
    if (!next || !add_kid(ps, alt, next)) return NULL;
  }
  return alt;
}

/* ---- compiler --------------------------------------------------------------- */

typedef struct compiler { hk_regex_t *re; bool too_big, nomem; } compiler_t;

static size_t emit(compiler_t *cc, inst_t in) {
  hk_regex_t *re = cc->re;
  if (re->nprog >= MAX_PROGRAM) {
    cc->too_big = true;
    return re->nprog;
  }
  if (!grow((void **)&re->prog, &re->capprog, re->nprog + 1, sizeof *re->prog)) {
    cc->nomem = true;
    return re->nprog;
  }
  re->prog[re->nprog] = in;
  return re->nprog++;
}

static void patch(compiler_t *cc, size_t at, int which, size_t target) {
  if (cc->too_big || cc->nomem || at >= cc->re->nprog) return;
  if (which == 0) cc->re->prog[at].x = (uint32_t)target;
  else cc->re->prog[at].y = (uint32_t)target;
}

/* Recursion follows the tree, whose depth the parser bounds. */
static void compile(compiler_t *cc, const node_t *nd) {
  if (cc->too_big || cc->nomem) return;
  switch (nd->kind) {
  case N_EMPTY: return;
  case N_CHAR: emit(cc, (inst_t){I_CHAR, nd->fold, 0, nd->c, 0}); return;
  case N_ANY: emit(cc, (inst_t){nd->dotnl ? I_ANYNL : I_ANY, false, 0, 0, 0}); return;
  case N_CLASS: emit(cc, (inst_t){I_CLASS, false, 0, nd->c, 0}); return;
  case N_ASSERT: emit(cc, (inst_t){I_ASSERT, false, 0, nd->c, 0}); return;
  case N_CAT:
    for (size_t i = 0; i < nd->nkids; i++) compile(cc, nd->kids[i]);
    return;
  case N_GROUP:
    if (nd->c != UINT32_MAX) emit(cc, (inst_t){I_SAVE, false, 0, 2 * nd->c, 0});
    compile(cc, nd->kids[0]);
    if (nd->c != UINT32_MAX) emit(cc, (inst_t){I_SAVE, false, 0, 2 * nd->c + 1, 0});
    return;
  case N_ALT: {
    size_t *jumps = malloc(nd->nkids * sizeof *jumps), nj = 0;
    if (!jumps) {
      cc->nomem = true;
      return;
    }
    for (size_t i = 0; i < nd->nkids; i++) {
      size_t split = SIZE_MAX;
      if (i + 1 < nd->nkids) split = emit(cc, (inst_t){I_SPLIT, false, 0, 0, 0});
      if (split != SIZE_MAX) patch(cc, split, 0, cc->re->nprog);
      compile(cc, nd->kids[i]);
      if (i + 1 < nd->nkids) {
        jumps[nj++] = emit(cc, (inst_t){I_JMP, false, 0, 0, 0});
        patch(cc, split, 1, cc->re->nprog);
      }
    }
    for (size_t j = 0; j < nj; j++) patch(cc, jumps[j], 0, cc->re->nprog);
    free(jumps);
    return;
  }
  case N_REPEAT: {
    const node_t *body = nd->kids[0];
    for (int i = 0; i < nd->min; i++) compile(cc, body);
    if (nd->max < 0) {
      size_t loop = emit(cc, (inst_t){I_SPLIT, false, 0, 0, 0});
      compile(cc, body);
      emit(cc, (inst_t){I_JMP, false, 0, (uint32_t)loop, 0});
      if (!cc->too_big && !cc->nomem) cc->re->prog[loop].loop = nd->greedy ? 1 : 2;
      patch(cc, loop, nd->greedy ? 0 : 1, loop + 1);
      patch(cc, loop, nd->greedy ? 1 : 0, cc->re->nprog);
      return;
    }
    size_t opt = (size_t)(nd->max - nd->min), n = 0;
    size_t *splits = malloc((opt ? opt : 1) * sizeof *splits);
    if (!splits) {
      cc->nomem = true;
      return;
    }
    for (size_t i = 0; i < opt && !cc->too_big && !cc->nomem; i++) {
      splits[n++] = emit(cc, (inst_t){I_SPLIT, false, 0, 0, 0});
      patch(cc, splits[n - 1], nd->greedy ? 0 : 1, cc->re->nprog);
      compile(cc, body);
    }
    for (size_t i = 0; i < n; i++) patch(cc, splits[i], nd->greedy ? 1 : 0, cc->re->nprog);
    free(splits);
    return;
  }
  }
}

void hk_regex_free(hk_regex_t *re) {
  if (!re) return;
  free(re->prog);
  for (size_t i = 0; i < re->nclasses; i++) free(re->classes[i].items);
  free(re->classes);
  for (uint32_t g = 0; g < re->ngroups; g++) free(re->names[g]);
  free(re->names);
  free(re);
}

int hk_regex_compile(const char *pattern, size_t n, hk_regex_t **out, const char **err) {
  hk_regex_t *re = calloc(1, sizeof *re);
  if (!re) return -ENOMEM;
  re->names = calloc(1, sizeof *re->names);
  if (!re->names) {
    free(re);
    return -ENOMEM;
  }
  re->ngroups = 1; /* group 0 */
  parser_t ps = {.p = pattern, .n = n, .re = re};
  flags_t f = {false, false, false};
  node_t *root = parse_alt(&ps, &f);
  if (root && !at_end(&ps)) fail(&ps, "unexpected )");
  int rc = 0;
  if (ps.nomem) rc = -ENOMEM;
  else if (!root || ps.err) rc = -EINVAL;
  if (rc == 0) {
    compiler_t cc = {re, false, false};
    emit(&cc, (inst_t){I_SAVE, false, 0, 0, 0});
    compile(&cc, root);
    emit(&cc, (inst_t){I_SAVE, false, 0, 1, 0});
    emit(&cc, (inst_t){I_MATCH, false, 0, 0, 0});
    /* The Pike VM keeps captures per thread: bound program × captures. */
    if (!cc.too_big && re->nprog * 2 * (size_t)re->ngroups > MAX_THREAD_CAPS) cc.too_big = true;
    if (cc.nomem) rc = -ENOMEM;
    else if (cc.too_big) {
      ps.err = "pattern too large - compile failed";
      rc = -EINVAL;
    }
  }
  for (size_t i = 0; i < ps.nall; i++) {
    free(ps.all[i]->kids);
    free(ps.all[i]);
  }
  free(ps.all);
  if (rc < 0) {
    if (rc == -EINVAL) *err = ps.err ? ps.err : "invalid pattern";
    hk_regex_free(re);
    return rc;
  }
  *out = re;
  return 0;
}

uint32_t hk_regex_groups(const hk_regex_t *re) { return re->ngroups; }

int hk_regex_group_index(const hk_regex_t *re, const char *name, size_t len) {
  for (uint32_t g = 0; g < re->ngroups; g++)
    if (re->names[g] && strlen(re->names[g]) == len && memcmp(re->names[g], name, len) == 0)
      return (int)g;
  return -1;
}

/* ---- Pike VM ------------------------------------------------------------------- */

typedef struct tlist {
  uint32_t *pc;  /* threads in priority order */
  int64_t *caps; /* [n * ncap] */
  size_t n;
} tlist_t;

typedef struct frame { uint32_t pc; int32_t slot; int64_t old; } frame_t; /* slot >= 0: restore */

typedef struct vmstate {
  const hk_regex_t *re;
  const char *s;
  size_t n;
  size_t ncap;
  uint32_t *mark; /* generation per pc */
  uint32_t gen;
  frame_t *stack;
  size_t nstack, capstack;
} vmstate_t;

static uint32_t prev_char(const char *s, size_t pos, bool *has) {
  *has = pos > 0;
  if (!*has) return 0;
  size_t j = pos - 1;
  while (j > 0 && ((uint8_t)s[j] & 0xC0) == 0x80) j--;
  size_t len;
  return hk_utf8_decode_valid((const uint8_t *)s + j, &len);
}

static bool assertion(const vmstate_t *st, uint32_t kind, size_t pos) {
  switch (kind) {
  case A_BOT: return pos == 0;
  case A_EOT: return pos == st->n;
  case A_BOL: return pos == 0 || st->s[pos - 1] == '\n';
  case A_EOL: return pos == st->n || st->s[pos] == '\n';
  default: {
    bool hp, hn = pos < st->n;
    uint32_t p = prev_char(st->s, pos, &hp);
    size_t len;
    uint32_t c = hn ? hk_utf8_decode_valid((const uint8_t *)st->s + pos, &len) : 0;
    bool wb = (hp && is_word(p)) != (hn && is_word(c));
    return kind == A_WORDB ? wb : !wb;
  }
  }
}

static bool spush(vmstate_t *st, frame_t f) {
  if (!grow((void **)&st->stack, &st->capstack, st->nstack + 1, sizeof *st->stack)) return false;
  st->stack[st->nstack++] = f;
  return true;
}

/* Adds the thread at [pc0] with captures [caps] (modified and restored) and
** everything reachable by empty moves, in priority order. */
static bool addthread(vmstate_t *st, tlist_t *l, uint32_t pc0, int64_t *caps, size_t pos) {
  if (!spush(st, (frame_t){pc0, -1, 0})) return false;
  while (st->nstack > 0) {
    frame_t f = st->stack[--st->nstack];
    if (f.slot >= 0) {
      caps[f.slot] = f.old;
      continue;
    }
    uint32_t pc = f.pc;
    if (st->mark[pc] == st->gen) continue;
    st->mark[pc] = st->gen;
    const inst_t *in = &st->re->prog[pc];
    switch (in->op) {
    case I_JMP: {
      /* Back to the head of a loop already entered in this closure: the
      ** iteration matched nothing, so (as in Perl) the loop ends here and
      ** the thread goes on after it, with this iteration's priority. */
      const inst_t *head = &st->re->prog[in->x];
      uint32_t to = in->x;
      if (head->loop && st->mark[in->x] == st->gen) to = head->loop == 1 ? head->y : head->x;
      if (!spush(st, (frame_t){to, -1, 0})) return false;
      break;
    }
    case I_SPLIT:
      if (!spush(st, (frame_t){in->y, -1, 0}) || !spush(st, (frame_t){in->x, -1, 0})) return false;
      break;
    case I_SAVE:
      if (!spush(st, (frame_t){0, (int32_t)in->x, caps[in->x]})) return false;
      caps[in->x] = (int64_t)pos;
      if (!spush(st, (frame_t){pc + 1, -1, 0})) return false;
      break;
    case I_ASSERT:
      if (assertion(st, in->x, pos) && !spush(st, (frame_t){pc + 1, -1, 0})) return false;
      break;
    default:
      l->pc[l->n] = pc;
      memcpy(l->caps + l->n * st->ncap, caps, st->ncap * sizeof *caps);
      l->n++;
      break;
    }
  }
  return true;
}

static bool char_matches(const hk_regex_t *re, const inst_t *in, uint32_t c) {
  switch (in->op) {
  case I_CHAR:
    if (c == in->x) return true;
    return in->fold && (hk_unicode_simple_lower(c) == hk_unicode_simple_lower(in->x) ||
                        hk_unicode_simple_upper(c) == hk_unicode_simple_upper(in->x));
  case I_ANY: return c != '\n';
  case I_ANYNL: return true;
  case I_CLASS: return class_has(&re->classes[in->x], c);
  default: return false;
  }
}

int hk_regex_search(const hk_regex_t *re, const char *s, size_t n, size_t from, int64_t *caps) {
  vmstate_t st = {.re = re, .s = s, .n = n, .ncap = 2 * (size_t)re->ngroups};
  size_t np = re->nprog;
  tlist_t a = {0}, b = {0};
  int64_t *tmp = malloc(st.ncap * sizeof *tmp);
  st.mark = calloc(np, sizeof *st.mark);
  a.pc = malloc(np * sizeof *a.pc);
  b.pc = malloc(np * sizeof *b.pc);
  a.caps = malloc(np * st.ncap * sizeof *a.caps);
  b.caps = malloc(np * st.ncap * sizeof *b.caps);
  int result = 0;
  if (!tmp || !st.mark || !a.pc || !b.pc || !a.caps || !b.caps) {
    result = -ENOMEM;
    goto done;
  }
  tlist_t *cl = &a, *nl = &b;
  st.gen = 1;
  for (size_t pos = from;;) {
    if (result == 0) { /* no match yet: a new thread starts here, lowest priority */
      for (size_t k = 0; k < st.ncap; k++) tmp[k] = -1;
      if (!addthread(&st, cl, 0, tmp, pos)) {
        result = -ENOMEM;
        break;
      }
    }
    size_t len = 0;
    uint32_t c = pos < n ? hk_utf8_decode_valid((const uint8_t *)s + pos, &len) : 0;
    if (cl->n == 0) { /* no thread alive: done after a match, else try the next start */
      if (result == 1 || pos >= n) break;
      pos += len;
      st.gen++; /* the empty list starts afresh */
      continue;
    }
    st.gen++;
    nl->n = 0;
    for (size_t t = 0; t < cl->n; t++) {
      const inst_t *in = &re->prog[cl->pc[t]];
      int64_t *tc = cl->caps + t * st.ncap;
      if (in->op == I_MATCH) {
        memcpy(caps, tc, st.ncap * sizeof *caps);
        result = 1;
        break; /* lower-priority threads are cut */
      }
      if (pos < n && char_matches(re, in, c) &&
          !addthread(&st, nl, cl->pc[t] + 1, tc, pos + len)) {
        result = -ENOMEM;
        break;
      }
    }
    if (result < 0) break;
    tlist_t *sw = cl;
    cl = nl;
    nl = sw;
    if (pos >= n) break;
    pos += len;
  }
done:
  free(tmp);
  free(st.mark);
  free(st.stack);
  free(a.pc);
  free(b.pc);
  free(a.caps);
  free(b.caps);
  return result;
}

/* ---- builtins ------------------------------------------------------------------- */

static int compile_arg(hk_vm_t *vm, hk_builtin_id_t id, hk_value_t pattern, hk_regex_t **re) {
  const char *err = NULL;
  int rc = hk_regex_compile(hk_str_data(pattern), hk_str_len(pattern), re, &err);
  if (rc == -EINVAL) return hk_vm_fail(vm, "%s: %s", hk_builtin_table[id].name, err);
  if (rc < 0) return hk_vm_fail(vm, "out of memory");
  return 0;
}

int hk_bi_regex_match(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 2) || !hk_is_string(hk_tuple_at(arg, 0)) ||
      !hk_is_string(hk_tuple_at(arg, 1)))
    return hk_bi_expected(vm, HK_B_regex_match);
  hk_regex_t *re;
  int rc = compile_arg(vm, HK_B_regex_match, hk_tuple_at(arg, 1), &re);
  if (rc < 0) return rc;
  hk_value_t s = hk_tuple_at(arg, 0);
  int64_t *caps = malloc(2 * hk_regex_groups(re) * sizeof *caps);
  rc = caps ? hk_regex_search(re, hk_str_data(s), hk_str_len(s), 0, caps) : -ENOMEM;
  free(caps);
  hk_vm_charge(vm, hk_str_len(s) + hk_str_len(hk_tuple_at(arg, 1)));
  hk_regex_free(re);
  if (rc < 0) return hk_vm_fail(vm, "out of memory");
  *out = hk_bool(rc == 1);
  return 0;
}

/* Appends the expansion of [repl] for one match (SPEC §8.8 references). */
static void expand(const hk_regex_t *re, const char *s, const int64_t *caps, const char *repl,
                   size_t rn, hk_buf_t *b) {
  for (size_t i = 0; i < rn;) {
    if (repl[i] != '$' || i + 1 >= rn) {
      hk_buf_putc(b, (uint8_t)repl[i++]);
      continue;
    }
    if (repl[i + 1] == '$') {
      hk_buf_putc(b, '$');
      i += 2;
      continue;
    }
    size_t start, end, next;
    if (repl[i + 1] == '{') {
      start = i + 2;
      end = start;
      while (end < rn && is_name_char(repl[end])) end++;
      if (end == start || end >= rn || repl[end] != '}') {
        hk_buf_putc(b, '$'); /* not a reference: the text stays */
        i++;
        continue;
      }
      next = end + 1;
    } else {
      start = i + 1;
      end = start;
      while (end < rn && is_name_char(repl[end])) end++;
      if (end == start) {
        hk_buf_putc(b, '$');
        i++;
        continue;
      }
      next = end;
    }
    int64_t g = -1;
    bool digits = true;
    for (size_t k = start; k < end; k++) digits = digits && repl[k] >= '0' && repl[k] <= '9';
    if (digits) {
      g = 0;
      for (size_t k = start; k < end && g <= (int64_t)re->ngroups; k++) g = g * 10 + (repl[k] - '0');
    } else {
      g = hk_regex_group_index(re, repl + start, end - start);
    }
    if (g >= 0 && g < (int64_t)re->ngroups && caps[2 * g] >= 0 && caps[2 * g + 1] >= 0)
      hk_buf_append(b, s + caps[2 * g], (size_t)(caps[2 * g + 1] - caps[2 * g]));
    i = next;
  }
}

/* Every non-overlapping match, left to right; an empty match right where
** the previous match ended is skipped (as RE2 and Go do). */
static int replace_all(const hk_regex_t *re, const char *s, size_t n, const char *repl, size_t rn,
                       hk_buf_t *b) {
  int64_t *caps = malloc(2 * re->ngroups * sizeof *caps);
  if (!caps) return -ENOMEM;
  size_t pos = 0, copied = 0;
  int64_t last_end = -1;
  int rc = 0;
  while (pos <= n) {
    rc = hk_regex_search(re, s, n, pos, caps);
    if (rc <= 0) break;
    size_t ms = (size_t)caps[0], me = (size_t)caps[1];
    if (ms == me && (int64_t)ms == last_end) {
      if (ms >= n) break;
      size_t len;
      hk_utf8_decode_valid((const uint8_t *)s + ms, &len);
      pos = ms + len;
      continue;
    }
    hk_buf_append(b, s + copied, ms - copied);
    expand(re, s, caps, repl, rn, b);
    copied = me;
    last_end = (int64_t)me;
    pos = me;
  }
  free(caps);
  if (rc < 0) return rc;
  hk_buf_append(b, s + copied, n - copied);
  return 0;
}

int hk_bi_regex_replace(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 3) || !hk_is_string(hk_tuple_at(arg, 0)) ||
      !hk_is_string(hk_tuple_at(arg, 1)) || !hk_is_string(hk_tuple_at(arg, 2)))
    return hk_bi_expected(vm, HK_B_regex_replace);
  hk_regex_t *re;
  int rc = compile_arg(vm, HK_B_regex_replace, hk_tuple_at(arg, 1), &re);
  if (rc < 0) return rc;
  hk_value_t s = hk_tuple_at(arg, 0), r = hk_tuple_at(arg, 2);
  hk_buf_t b;
  hk_buf_init(&b);
  rc = replace_all(re, hk_str_data(s), hk_str_len(s), hk_str_data(r), hk_str_len(r), &b);
  hk_regex_free(re);
  hk_vm_charge(vm, hk_str_len(s) + b.len);
  if (rc < 0) b.failed = true;
  return hk_bi_from_buf(vm, &b, false, out);
}
