/* value.c — the public values API of include/hiko.h (SPEC §12.2): immutable
** trees independent of any process heap, and their conversion to and from
** VM values (for hiko_send, ports and results).
**
** Every walk is iterative (explicit stacks), so values of any depth and
** length work (SPEC §6.12.3). Lists are stored flat (an item array).
** Function and Rng values from a process are kept as a message block and
** are opaque (SPEC §12.3.1).
** Thread: a value is immutable once built; any thread may read it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/value.h"
#include "vm/bi_fmt.h"
#include "vm/bi_show.h"
#include "vm/check.h"
#include "vm/image.h"
#include "vm/utf8.h"

struct hiko_value {
  hiko_kind_t kind;
  uint32_t ctor_index;   /* DATA: constructor index in img */
  size_t n;              /* TUPLE/LIST items; DATA: 0 or 1 */
  union {
    int64_t i;
    double f;
    uint64_t u;
    struct {
      char *p;
      size_t len;
    } s;
  } as;
  hiko_value_t **items;
  char *ctor;            /* DATA: constructor name */
  /* DATA, FUNCTION: the program they belong to, with a reference (so the
  ** image that numbers the constructor or holds the code cannot go away and
  ** be mistaken for another); NULL for a prelude constructor built by the
  ** runtime (ctor_index is then the prelude's). img is prog's image. */
  hiko_program_t *prog;
  const hk_image_t *img;
  hk_msg_t *opaque;      /* FUNCTION, RNG: the value as a block */
};

/* Sets [v]'s program (a new reference). */
static void set_prog(hiko_value_t *v, hiko_program_t *prog) {
  v->prog = prog ? hk_program_retain(prog) : NULL;
  v->img = prog ? hk_program_image(prog) : NULL;
}

/* ---- A growable stack of pointers ------------------------------------------- */

typedef struct stack {
  void **v;
  size_t n, cap;
} stack_t_;

static int push(stack_t_ *s, void *p) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    void **v = realloc(s->v, cap * sizeof *v);
    if (!v) return -ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = p;
  return 0;
}

/* ---- Constructors -------------------------------------------------------------- */

static hiko_value_t *node(hiko_kind_t k) {
  hiko_value_t *v = calloc(1, sizeof *v);
  if (v) v->kind = k;
  return v;
}

static int scalar(hiko_kind_t k, uint64_t bits, hiko_value_t **out) {
  if (!out) return -EINVAL;
  hiko_value_t *v = node(k);
  if (!v) return -ENOMEM;
  v->as.u = bits;
  *out = v;
  return 0;
}

int hiko_value_int(int64_t i, hiko_value_t **out) { return scalar(HIKO_INT, (uint64_t)i, out); }
int hiko_value_float(double f, hiko_value_t **out) {
  uint64_t bits;
  memcpy(&bits, &f, sizeof bits);
  return scalar(HIKO_FLOAT, bits, out);
}
int hiko_value_bool(bool b, hiko_value_t **out) { return scalar(HIKO_BOOL, b, out); }
int hiko_value_char(uint32_t c, hiko_value_t **out) {
  if (!hk_utf8_is_scalar(c)) return -EINVAL;
  return scalar(HIKO_CHAR, c, out);
}
int hiko_value_unit(hiko_value_t **out) { return scalar(HIKO_UNIT, 0, out); }
int hiko_value_pid(hiko_pid_t pid, hiko_value_t **out) { return scalar(HIKO_PID, pid, out); }

static int bytes_like(hiko_kind_t k, const void *b, size_t len, hiko_value_t **out) {
  hiko_value_t *v = node(k);
  char *p = malloc(len + 1);
  if (!v || !p) {
    free(v);
    free(p);
    return -ENOMEM;
  }
  if (len) memcpy(p, b, len);
  p[len] = '\0';
  v->as.s.p = p;
  v->as.s.len = len;
  *out = v;
  return 0;
}

int hiko_value_string(const char *s, size_t len, hiko_value_t **out) {
  if (!out || (len && !s)) return -EINVAL;
  if (!hk_utf8_valid((const uint8_t *)s, len)) return -EILSEQ;
  return bytes_like(HIKO_STRING, s, len, out);
}
int hiko_value_bytes(const void *b, size_t len, hiko_value_t **out) {
  if (!out || (len && !b)) return -EINVAL;
  return bytes_like(HIKO_BYTES, b, len, out);
}

static int composite(hiko_kind_t k, hiko_value_t *const *items, size_t n, hiko_value_t **out) {
  if (!out || (n && !items) || (k == HIKO_TUPLE && n < 2)) return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!items[i]) return -EINVAL;
  hiko_value_t *v = node(k);
  hiko_value_t **it = n ? malloc(n * sizeof *it) : NULL;
  if (!v || (n && !it)) {
    free(v);
    free(it);
    return -ENOMEM;
  }
  if (n) memcpy(it, items, n * sizeof *it);
  v->items = it;
  v->n = n;
  *out = v;
  return 0;
}

int hiko_value_tuple(hiko_value_t *const *items, size_t n, hiko_value_t **out) {
  return composite(HIKO_TUPLE, items, n, out);
}
int hiko_value_list(hiko_value_t *const *items, size_t n, hiko_value_t **out) {
  return composite(HIKO_LIST, items, n, out);
}

/* The prelude's constructors (SPEC §3.4) in index order (HK_CTOR_*), for a
** data value built without a program. */
static const struct {
  const char *name;
  bool has_payload;
} prelude_ctors[HK_CTOR__PRELUDE_COUNT] = {
    {"RuntimeError", true},  {"Cancelled", false}, {"FuelExhausted", false},
    {"HeapLimit", true},     {"AlreadyJoined", false}, {"ChildFailed", true},
    {"Ok", true},            {"Err", true},
};

/* Finds [ctor] in [p]'s image, or among the prelude's when p is NULL (a
** native builtin has no program at hand). Returns its index, -ENOENT, or
** -EINVAL when its payload does not match [has_payload]. */
static int64_t data_ctor(const hiko_program_t *p, const char *ctor, bool has_payload) {
  if (!p) {
    for (uint32_t i = 0; i < HK_CTOR__PRELUDE_COUNT; i++)
      if (strcmp(prelude_ctors[i].name, ctor) == 0)
        return prelude_ctors[i].has_payload == has_payload ? (int64_t)i : -EINVAL;
    return -ENOENT;
  }
  const hk_image_t *img = hk_program_image(p);
  if (!img) return -EINVAL;
  int64_t found = hk_image_ctor_find(img, ctor);
  if (found < 0) return -ENOENT;
  return img->ctors[found].has_payload == has_payload ? found : -EINVAL;
}

int hiko_value_data(const hiko_program_t *p, const char *ctor, hiko_value_t *payload,
                    hiko_value_t **out) {
  if (!ctor || !out) return -EINVAL;
  int64_t found = data_ctor(p, ctor, payload != NULL);
  if (found < 0) return (int)found;
  uint32_t i = (uint32_t)found;
  hiko_value_t *v = node(HIKO_DATA);
  char *name = strdup(ctor);
  hiko_value_t **it = payload ? malloc(sizeof *it) : NULL;
  if (!v || !name || (payload && !it)) {
    free(v);
    free(name);
    free(it);
    return -ENOMEM;
  }
  v->ctor = name;
  v->ctor_index = i;
  set_prog(v, (hiko_program_t *)p); /* the reference count is not part of p's contents */
  if (payload) {
    it[0] = payload;
    v->items = it;
    v->n = 1;
  }
  *out = v;
  return 0;
}

/* ---- Accessors ------------------------------------------------------------------ */

hiko_kind_t hiko_value_kind(const hiko_value_t *v) { return v->kind; }
int64_t hiko_value_get_int(const hiko_value_t *v) { return v->kind == HIKO_INT ? v->as.i : 0; }
double hiko_value_get_float(const hiko_value_t *v) {
  double f = 0;
  if (v->kind == HIKO_FLOAT) memcpy(&f, &v->as.u, sizeof f);
  return f;
}
bool hiko_value_get_bool(const hiko_value_t *v) { return v->kind == HIKO_BOOL && v->as.u; }
uint32_t hiko_value_get_char(const hiko_value_t *v) {
  return v->kind == HIKO_CHAR ? (uint32_t)v->as.u : 0;
}
hiko_pid_t hiko_value_get_pid(const hiko_value_t *v) { return v->kind == HIKO_PID ? v->as.u : 0; }

const char *hiko_value_get_string(const hiko_value_t *v, size_t *len) {
  if (v->kind != HIKO_STRING && v->kind != HIKO_BYTES) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = v->as.s.len;
  return v->as.s.p;
}

size_t hiko_value_count(const hiko_value_t *v) {
  return v->kind == HIKO_TUPLE || v->kind == HIKO_LIST || v->kind == HIKO_DATA ? v->n : 0;
}

const hiko_value_t *hiko_value_at(const hiko_value_t *v, size_t i) {
  return i < hiko_value_count(v) ? v->items[i] : NULL;
}

const char *hiko_value_ctor(const hiko_value_t *v) { return v->kind == HIKO_DATA ? v->ctor : NULL; }

void hiko_value_free(hiko_value_t *v) {
  if (!v) return;
  stack_t_ s = {0};
  hiko_value_t *cur = v;
  for (;;) {
    for (size_t i = 0; i < cur->n; i++)
      if (cur->items[i] && push(&s, cur->items[i])) {
        /* Cannot grow the stack: free this subtree's items one by one
        ** with the (bounded) recursion of a last resort. */
        hiko_value_free(cur->items[i]);
      }
    free(cur->items);
    free(cur->ctor);
    if (cur->kind == HIKO_STRING || cur->kind == HIKO_BYTES) free(cur->as.s.p);
    if (cur->opaque) hk_msg_free(cur->opaque);
    if (cur->prog) hiko_program_release(cur->prog);
    free(cur);
    if (s.n == 0) break;
    cur = s.v[--s.n];
  }
  free(s.v);
}

/* ---- show (SPEC §5) ------------------------------------------------------------- */

typedef struct buf {
  char *p;
  size_t n, cap;
  int err;
} buf_t;

static void put(buf_t *b, const char *s, size_t len) {
  if (b->err) return;
  if (b->n + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + len + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->err = -ENOMEM;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = '\0';
}
static void puts_(buf_t *b, const char *s) { put(b, s, strlen(s)); }

/* Stack entries: a value to render, or a literal. Literals are marked by
** pushing a sentinel after them (string literals need not be aligned, so
** pointer tagging is not an option). */
static const char lit_mark;
static int push_lit(stack_t_ *s, const char *lit) {
  int rc = push(s, (void *)lit);
  return rc ? rc : push(s, (void *)&lit_mark);
}

static int show_one(buf_t *b, stack_t_ *s, const hiko_value_t *v) {
  char tmp[HK_FMT_FLOAT_MAX > 64 ? HK_FMT_FLOAT_MAX : 64];
  switch (v->kind) {
  case HIKO_INT: put(b, tmp, hk_fmt_int(v->as.i, tmp)); return 0;
  case HIKO_FLOAT: put(b, tmp, hk_fmt_float(hiko_value_get_float(v), tmp)); return 0;
  case HIKO_BOOL: puts_(b, v->as.u ? "true" : "false"); return 0;
  case HIKO_CHAR: {
    uint8_t u[4];
    put(b, (const char *)u, hk_utf8_encode((uint32_t)v->as.u, u));
    return 0;
  }
  case HIKO_UNIT: puts_(b, "()"); return 0;
  case HIKO_STRING: put(b, v->as.s.p, v->as.s.len); return 0;
  case HIKO_BYTES:
    snprintf(tmp, sizeof tmp, "<bytes:%zu>", v->as.s.len);
    puts_(b, tmp);
    return 0;
  case HIKO_PID:
    snprintf(tmp, sizeof tmp, "<pid %" PRIu64 ">", v->as.u);
    puts_(b, tmp);
    return 0;
  case HIKO_SOCKET:
    snprintf(tmp, sizeof tmp, "<socket %" PRIu64 ">", v->as.u);
    puts_(b, tmp);
    return 0;
  case HIKO_RNG: puts_(b, "<rng>"); return 0;
  case HIKO_FUNCTION: puts_(b, v->ctor ? v->ctor : "<fn>"); return 0;
  case HIKO_DATA: {
    puts_(b, v->ctor ? v->ctor : "?");
    if (v->n == 0) return 0;
    const hiko_value_t *pl = v->items[0];
    bool paren = pl->kind == HIKO_DATA && pl->n > 0;
    puts_(b, paren ? " (" : " ");
    int rc = paren ? push_lit(s, ")") : 0;
    return rc ? rc : push(s, (void *)pl);
  }
  case HIKO_TUPLE:
  case HIKO_LIST: {
    bool tuple = v->kind == HIKO_TUPLE;
    puts_(b, tuple ? "(" : "[");
    int rc = push_lit(s, tuple ? ")" : "]");
    for (size_t i = v->n; i-- > 0 && !rc;) {
      rc = push(s, v->items[i]);
      if (!rc && i > 0) rc = push_lit(s, ", ");
    }
    return rc;
  }
  }
  return 0;
}

int hiko_value_show(const hiko_value_t *v, char **out) {
  if (!v || !out) return -EINVAL;
  buf_t b = {0};
  stack_t_ s = {0};
  int rc = push(&s, (void *)v);
  puts_(&b, "");
  while (!rc && s.n) {
    void *top = s.v[--s.n];
    if (top == &lit_mark) puts_(&b, (const char *)s.v[--s.n]);
    else rc = show_one(&b, &s, top);
  }
  free(s.v);
  if (!rc) rc = b.err;
  if (rc) {
    free(b.p);
    *out = NULL;
    return rc;
  }
  *out = b.p;
  return 0;
}

/* ---- Conversion: VM value -> API value ------------------------------------------ */

typedef struct pend {
  hk_value_t src;
  hiko_value_t **dst;
} pend_t;

typedef struct pstack {
  pend_t *v;
  size_t n, cap;
} pstack_t;

static int ppush(pstack_t *s, hk_value_t src, hiko_value_t **dst) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    pend_t *v = realloc(s->v, cap * sizeof *v);
    if (!v) return -ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = (pend_t){src, dst};
  return 0;
}

static int items_for(hiko_value_t *v, size_t n) {
  v->n = n;
  if (!n) return 0;
  v->items = calloc(n, sizeof *v->items);
  return v->items ? 0 : -ENOMEM;
}

/* *text = "<builtin:NAME>" (owned) when function [x] is an unapplied
** builtin (SPEC §5), else NULL, for hiko_value_show. Charges nothing: the
** conversion is not the program's work. Returns 0 or -ENOMEM. */
static int builtin_text(hk_vm_t *vm, hk_value_t x, char **text) {
  hk_buf_t b;
  hk_buf_init(&b);
  uint64_t work = 0;
  int rc = hk_show_append(x, hk_vm_show_ctor_name, hk_vm_show_native_name, vm, &b, &work);
  hk_buf_putc(&b, 0);
  *text = NULL;
  if (rc < 0 || b.failed) rc = -ENOMEM;
  else if (strncmp((const char *)b.data, "<builtin:", 9) == 0) {
    *text = (char *)b.data;
    return 0;
  }
  hk_buf_free(&b);
  return rc;
}

/* Converts one node; pushes its children. */
static int from_one(hk_vm_t *vm, hiko_program_t *prog, hk_value_t x, hiko_value_t **dst,
                    pstack_t *s) {
  const hk_image_t *img = hk_program_image(prog);
  hiko_value_t *v = NULL;
  int rc = 0;
  switch (x.tag) {
  case HK_T_INT: rc = hiko_value_int(x.as.i, &v); break;
  case HK_T_FLOAT: rc = hiko_value_float(x.as.f, &v); break;
  case HK_T_BOOL: rc = hiko_value_bool(x.as.u != 0, &v); break;
  case HK_T_CHAR: rc = scalar(HIKO_CHAR, x.as.u, &v); break;
  case HK_T_UNIT: rc = hiko_value_unit(&v); break;
  case HK_T_PID: rc = hiko_value_pid(x.as.u, &v); break;
  case HK_T_SOCKET: rc = scalar(HIKO_SOCKET, x.as.u, &v); break;
  case HK_T_STRING: rc = hiko_value_string(hk_str_data(x), hk_str_len(x), &v); break;
  case HK_T_BYTES: rc = hiko_value_bytes(hk_str_data(x), hk_str_len(x), &v); break;
  case HK_T_NIL: rc = (v = node(HIKO_LIST)) ? 0 : -ENOMEM; break;
  case HK_T_CONS: {
    size_t n = 0;
    for (hk_value_t l = x; l.tag == HK_T_CONS; l = hk_tail(l)) n++;
    if (!(v = node(HIKO_LIST)) || (rc = items_for(v, n))) break;
    size_t i = 0;
    for (hk_value_t l = x; l.tag == HK_T_CONS && !rc; l = hk_tail(l)) rc = ppush(s, hk_head(l), &v->items[i++]);
    break;
  }
  case HK_T_TUPLE:
    if (!(v = node(HIKO_TUPLE)) || (rc = items_for(v, hk_tuple_len(x)))) break;
    for (uint32_t i = 0; i < hk_tuple_len(x) && !rc; i++) rc = ppush(s, hk_tuple_at(x, i), &v->items[i]);
    break;
  case HK_T_DATA0:
  case HK_T_DATA: {
    uint32_t c = hk_data_ctor(x);
    if (!(v = node(HIKO_DATA))) break;
    v->ctor_index = c;
    set_prog(v, prog);
    v->ctor = strdup(img && c < img->nctors ? img->ctors[c].name : "?");
    if (!v->ctor) rc = -ENOMEM;
    if (!rc && x.tag == HK_T_DATA && !(rc = items_for(v, 1)))
      rc = ppush(s, hk_as_data(x)->payload, &v->items[0]);
    break;
  }
  default: /* functions, Rng, continuations: opaque, kept as a block */
    v = node(x.tag == HK_T_RNG ? HIKO_RNG : HIKO_FUNCTION);
    if (!v) break;
    if (v->kind == HIKO_FUNCTION) {
      set_prog(v, prog);
      rc = builtin_text(vm, x, &v->ctor);
    }
    /* Detached: C may keep it longer than the tree's global store lives. */
    if (vm && hk_value_copy_detached(vm, x, 0, NULL, &v->opaque, NULL) != 0) v->opaque = NULL;
    break;
  }
  if (!v && !rc) rc = -ENOMEM;
  if (rc) {
    hiko_value_free(v);
    return rc;
  }
  *dst = v;
  return 0;
}

int hk_value_to_api(hk_vm_t *vm, hiko_program_t *prog, hk_value_t x, hiko_value_t **out) {
  pstack_t s = {0};
  hiko_value_t *root = NULL;
  int rc = ppush(&s, x, &root);
  while (!rc && s.n) {
    pend_t p = s.v[--s.n];
    rc = from_one(vm, prog, p.src, p.dst, &s);
  }
  free(s.v);
  if (rc) {
    hiko_value_free(root); /* unfilled slots are NULL (calloc) */
    return rc;
  }
  *out = root;
  return 0;
}

/* ---- Conversion: API value -> VM value ------------------------------------------- */

typedef struct qend {
  const hiko_value_t *src;
  hk_value_t *dst;
} qend_t;

/* Finds constructor [v] in [img]: by index for the same program and for
** the prelude's, by name and datatype for another program (as a message
** between programs, hk_image_ctor_map). Returns the index or -ENOENT. */
static int64_t ctor_in(const hk_image_t *img, const hiko_value_t *v) {
  if (!v->img) return v->ctor_index < img->nctors ? (int64_t)v->ctor_index : -ENOENT;
  return hk_image_ctor_map(v->img, v->ctor_index, img);
}

static int to_one(hk_vm_t *vm, const hiko_value_t *v, hk_value_t *dst, qend_t **st, size_t *n,
                  size_t *cap) {
#define QPUSH(S, D)                                                      \
  do {                                                                   \
    if (*n == *cap) {                                                    \
      size_t c2 = *cap ? *cap * 2 : 64;                                  \
      qend_t *q2 = realloc(*st, c2 * sizeof *q2);                        \
      if (!q2) return -ENOMEM;                                           \
      *st = q2;                                                          \
      *cap = c2;                                                         \
    }                                                                    \
    (*st)[(*n)++] = (qend_t){(S), (D)};                                  \
  } while (0)
  const hk_image_t *img = hk_vm_image(vm);
  int rc = 0;
  switch (v->kind) {
  case HIKO_INT: *dst = hk_int(v->as.i); return 0;
  case HIKO_FLOAT: *dst = hk_float(hiko_value_get_float(v)); return 0;
  case HIKO_BOOL: *dst = hk_bool(v->as.u != 0); return 0;
  case HIKO_CHAR: *dst = hk_char((uint32_t)v->as.u); return 0;
  case HIKO_UNIT: *dst = hk_unit(); return 0;
  case HIKO_PID: *dst = hk_pid(v->as.u); return 0;
  case HIKO_SOCKET: *dst = hk_socket(v->as.u); return 0;
  case HIKO_STRING: return hk_alloc_string(vm, v->as.s.p, v->as.s.len, dst);
  case HIKO_BYTES: return hk_alloc_bytes(vm, v->as.s.p, v->as.s.len, dst);
  case HIKO_TUPLE:
    if ((rc = hk_alloc_tuple(vm, (uint32_t)v->n, NULL, dst))) return rc;
    for (size_t i = 0; i < v->n; i++) QPUSH(v->items[i], &hk_as_tuple(*dst)->items[i]);
    return 0;
  case HIKO_LIST: {
    hk_value_t *slot = dst;
    for (size_t i = 0; i < v->n; i++) {
      hk_value_t c;
      if ((rc = hk_alloc_cons(vm, hk_unit(), hk_nil(), &c))) return rc;
      *slot = c;
      QPUSH(v->items[i], &hk_as_cons(c)->head);
      slot = &hk_as_cons(c)->tail;
    }
    *slot = hk_nil();
    return 0;
  }
  case HIKO_DATA: {
    int64_t c = ctor_in(img, v);
    if (c < 0) return -ENOENT;
    if (v->n == 0) {
      *dst = hk_data0((uint32_t)c);
      return 0;
    }
    if ((rc = hk_alloc_data(vm, (uint32_t)c, hk_unit(), dst))) return rc;
    QPUSH(v->items[0], &hk_as_data(*dst)->payload);
    return 0;
  }
  default: { /* FUNCTION, RNG: a copy of the block (the value may be sent again) */
    /* A function only to its own program (SPEC §6.12.5, §12.3.1). */
    if (!v->opaque || (v->kind == HIKO_FUNCTION && v->img != img)) return -EINVAL;
    hk_msg_t *m;
    if ((rc = hk_msg_dup(v->opaque, &m))) return rc;
    return hk_vm_adopt(vm, m, dst);
  }
  }
#undef QPUSH
}

int hk_value_from_api(hk_vm_t *vm, const hiko_value_t *v, hk_value_t *out) {
  qend_t *st = NULL;
  size_t n = 0, cap = 0;
  int rc = to_one(vm, v, out, &st, &n, &cap);
  while (!rc && n) {
    qend_t q = st[--n];
    rc = to_one(vm, q.src, q.dst, &st, &n, &cap);
  }
  free(st);
  return rc;
}

/* ---- Failure values ------------------------------------------------------------ */

int hk_value_failure_api(const char *message, hiko_value_t **out) {
  /* The root's failure as RuntimeError MESSAGE, or Cancelled / FuelExhausted
  ** when the message is exactly theirs (SPEC §6.3.4). */
  hiko_value_t *v = node(HIKO_DATA);
  if (!v) return -ENOMEM;
  const char *name = "RuntimeError";
  v->ctor_index = HK_CTOR_RUNTIME_ERROR; /* the prelude's (img NULL) */
  if (strcmp(message, "cancelled") == 0) {
    name = "Cancelled";
    v->ctor_index = HK_CTOR_CANCELLED;
  } else if (strcmp(message, "fuel exhausted") == 0) {
    name = "FuelExhausted";
    v->ctor_index = HK_CTOR_FUEL_EXHAUSTED;
  }
  v->ctor = strdup(name);
  if (!v->ctor) {
    free(v);
    return -ENOMEM;
  }
  if (name[0] == 'R') {
    hiko_value_t *s;
    if (hiko_value_string(message, strlen(message), &s) || !(v->items = malloc(sizeof *v->items))) {
      hiko_value_free(v);
      return -ENOMEM;
    }
    v->items[0] = s;
    v->n = 1;
  }
  *out = v;
  return 0;
}

int hk_value_clone_shallow(const hiko_value_t *s, hiko_value_t **out) {
  hiko_value_t *d = node(s->kind);
  if (!d) return -ENOMEM;
  d->as = s->as;
  d->ctor_index = s->ctor_index;
  set_prog(d, s->prog);
  if (s->opaque && hk_msg_dup(s->opaque, &d->opaque)) {
    free(d);
    return -ENOMEM;
  }
  if (s->ctor && !(d->ctor = strdup(s->ctor))) {
    hiko_value_free(d);
    return -ENOMEM;
  }
  if (items_for(d, s->n)) {
    hiko_value_free(d);
    return -ENOMEM;
  }
  *out = d;
  return 0;
}

hiko_value_t **hk_value_slot(hiko_value_t *d, size_t i) { return &d->items[i]; }
