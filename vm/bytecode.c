/* bytecode.c — serialization, loading and verification of program images.
** Layout (docs/bytecode.md): all integers little-endian u32 unless said;
** strings are referenced by index into one string table. */
#include "vm/bytecode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/builtins.h"
#include "vm/opcodes.h"
#include "vm/utf8.h"

static const unsigned char magic[8] = {'H', 'I', 'K', 'O', 'B', 'C', 0, 1};

/* ---- Writing ----------------------------------------------------------------- */

typedef struct wbuf {
  unsigned char *p;
  size_t n, cap;
  bool oom;
  /* string table being built: strings by first occurrence */
  const char **strs;
  size_t *lens;
  uint32_t nstrs, capstrs;
} wbuf_t;

static void wbytes(wbuf_t *w, const void *d, size_t n) {
  if (w->oom) return;
  if (w->n + n > w->cap) {
    size_t nc = w->cap ? w->cap * 2 : 4096;
    while (nc < w->n + n) nc *= 2;
    unsigned char *q = realloc(w->p, nc);
    if (!q) { w->oom = true; return; }
    w->p = q;
    w->cap = nc;
  }
  memcpy(w->p + w->n, d, n);
  w->n += n;
}

static void w32(wbuf_t *w, uint32_t v) {
  unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 24)};
  wbytes(w, b, 4);
}
static void w64(wbuf_t *w, uint64_t v) {
  w32(w, (uint32_t)v);
  w32(w, (uint32_t)(v >> 32));
}

/* Index of string [s] ([len] bytes) in the table (linear for names is too
** slow for big programs: names are mostly distinct, so append). */
static uint32_t wstr(wbuf_t *w, const char *s, size_t len) {
  if (w->nstrs == w->capstrs) {
    uint32_t nc = w->capstrs ? w->capstrs * 2 : 256;
    const char **a = realloc(w->strs, nc * sizeof *a);
    size_t *b = a ? realloc(w->lens, nc * sizeof *b) : NULL;
    if (a) w->strs = a;
    if (!a || !b) { w->oom = true; return 0; }
    w->lens = b;
    w->capstrs = nc;
  }
  w->strs[w->nstrs] = s ? s : "";
  w->lens[w->nstrs] = s ? len : 0;
  return w->nstrs++;
}
static uint32_t wname(wbuf_t *w, const char *s) { return wstr(w, s, s ? strlen(s) : 0); }

/* The name and type of import id [id]: a builtin of the table, or a
** registered native (ids from HK_B__COUNT on, in [nat]); NULL if neither. */
static const hk_builtin_info_t *import_info(uint32_t id, const hk_builtin_info_t *nat,
                                            uint32_t nnat) {
  if (id < HK_B__COUNT) return &hk_builtin_table[id];
  return id - HK_B__COUNT < nnat ? &nat[id - HK_B__COUNT] : NULL;
}

/* The body (everything after the string table) goes to [b]; names to [w].
** Returns false if an import is neither a builtin nor one of [nat]. */
static bool dump_body(wbuf_t *w, wbuf_t *b, const hk_image_t *img, const hk_builtin_info_t *nat,
                      uint32_t nnat) {
  w32(b, img->nconsts);
  for (uint32_t i = 0; i < img->nconsts; i++) {
    hk_value_t v = img->consts[i];
    if (v.tag == HK_T_INT) { w32(b, 0); w64(b, (uint64_t)v.as.i); }
    else if (v.tag == HK_T_FLOAT) { w32(b, 1); w64(b, v.as.u); }
    else { w32(b, 2); w64(b, wstr(w, hk_str_data(v), hk_str_len(v))); }
  }
  w32(b, img->nctors);
  for (uint32_t i = 0; i < img->nctors; i++) {
    const hk_ctor_info_t *c = &img->ctors[i];
    w32(b, wname(w, c->name));
    w32(b, c->datatype);
    w32(b, c->tag);
    w32(b, c->has_payload);
  }
  w32(b, img->ndatatypes);
  for (uint32_t i = 0; i < img->ndatatypes; i++) w32(b, wname(w, img->datatypes[i]));
  w32(b, img->neffects);
  for (uint32_t i = 0; i < img->neffects; i++) w32(b, wname(w, img->effects[i]));
  w32(b, img->nglobals);
  for (uint32_t i = 0; i < img->nglobals; i++) w32(b, wname(w, img->globals[i]));
  w32(b, img->nimports);
  for (uint32_t i = 0; i < img->nimports; i++) {
    const hk_builtin_info_t *bi = import_info(img->imports[i], nat, nnat);
    if (!bi) return false;
    w32(b, wname(w, bi->name));
    w32(b, wname(w, bi->type));
  }
  w32(b, img->nhandlers);
  for (uint32_t i = 0; i < img->nhandlers; i++) {
    w32(b, img->handlers[i].n);
    for (uint32_t j = 0; j < img->handlers[i].n; j++) w32(b, img->handlers[i].effects[j]);
  }
  w32(b, img->nfiles);
  for (uint32_t i = 0; i < img->nfiles; i++) w32(b, wname(w, img->files[i]));
  w32(b, img->nfuncs);
  w32(b, img->entry);
  for (uint32_t i = 0; i < img->nfuncs; i++) {
    const hk_func_t *f = &img->funcs[i];
    w32(b, wname(w, f->name));
    w32(b, f->arity);
    w32(b, f->ncaps);
    w32(b, f->nlocals);
    w32(b, f->maxstack);
    w32(b, f->ncode);
    for (uint32_t j = 0; j < f->ncode; j++) w32(b, f->code[j]);
    for (uint32_t j = 0; j < f->ncode; j++) {
      w32(b, f->pos ? f->pos[j].file : 0);
      w32(b, f->pos ? f->pos[j].line : 0);
      w32(b, f->pos ? f->pos[j].col : 0);
    }
  }
  return true;
}

int hk_image_dump(const hk_image_t *img, void **buf, size_t *len) {
  return hk_image_dump_natives(img, NULL, 0, buf, len);
}

int hk_image_dump_natives(const hk_image_t *img, const hk_builtin_info_t *natives,
                          uint32_t nnatives, void **buf, size_t *len) {
  wbuf_t w = {0}, b = {0};
  if (!dump_body(&w, &b, img, natives, nnatives)) {
    free(w.strs);
    free(w.lens);
    free(b.p);
    return -EINVAL;
  }
  wbuf_t out = {0};
  wbytes(&out, magic, 8);
  w32(&out, HK_BC_VERSION);
  w32(&out, 0); /* total length, patched below */
  w32(&out, w.nstrs);
  for (uint32_t i = 0; i < w.nstrs; i++) {
    w32(&out, (uint32_t)w.lens[i]);
    wbytes(&out, w.strs[i], w.lens[i]);
  }
  wbytes(&out, b.p, b.n);
  bool oom = w.oom || b.oom || out.oom || out.n > UINT32_MAX;
  free(w.strs);
  free(w.lens);
  free(b.p);
  if (oom) {
    free(out.p);
    return -ENOMEM;
  }
  uint32_t total = (uint32_t)out.n;
  for (int i = 0; i < 4; i++) out.p[12 + i] = (unsigned char)(total >> (8 * i));
  *buf = out.p;
  *len = out.n;
  return 0;
}

/* ---- Reading ----------------------------------------------------------------- */

typedef struct rbuf {
  const unsigned char *p;
  size_t n, at;
  bool bad;
  char *why;
  size_t why_len;
  hk_image_t *img;
  const char **strs;
  uint32_t *slens;
  uint32_t nstrs;
  const hk_builtin_info_t *natives; /* registered natives (ids HK_B__COUNT + i) */
  uint32_t nnatives;
} rbuf_t;

/* The import id of builtin or native [name], or -1. */
static int64_t import_lookup(const rbuf_t *r, const char *name) {
  int id = hk_builtin_lookup(name);
  if (id >= 0) return id;
  for (uint32_t i = 0; i < r->nnatives; i++)
    if (strcmp(r->natives[i].name, name) == 0) return (int64_t)HK_B__COUNT + i;
  return -1;
}

static void bad(rbuf_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(rbuf_t *r, const char *fmt, ...) {
  if (r->bad) return;
  r->bad = true;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->why, r->why_len, fmt, ap);
  va_end(ap);
}

static uint32_t r32(rbuf_t *r) {
  if (r->bad) return 0;
  if (r->n - r->at < 4) { bad(r, "truncated at byte %zu", r->at); return 0; }
  const unsigned char *q = r->p + r->at;
  r->at += 4;
  return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}
static uint64_t r64(rbuf_t *r) {
  uint64_t lo = r32(r);
  return lo | (uint64_t)r32(r) << 32;
}

/* A count of items of at least [min_bytes] each that must fit in the rest. */
static uint32_t rcount(rbuf_t *r, size_t min_bytes, const char *what) {
  uint32_t n = r32(r);
  if (!r->bad && (size_t)n * min_bytes > r->n - r->at) bad(r, "%s count %u exceeds the buffer", what, n);
  return r->bad ? 0 : n;
}

static const char *rname(rbuf_t *r) {
  uint32_t i = r32(r);
  if (r->bad) return "";
  if (i >= r->nstrs) { bad(r, "string index %u out of range", i); return ""; }
  return r->strs[i];
}

static void *ralloc(rbuf_t *r, size_t n) {
  if (r->bad) return NULL;
  void *p = hk_arena_alloc(r->img->mem, n ? n : 1);
  if (!p) bad(r, "out of memory");
  return p;
}

static void read_strings(rbuf_t *r) {
  r->nstrs = rcount(r, 4, "string");
  r->strs = calloc(r->nstrs + 1, sizeof *r->strs);
  r->slens = calloc(r->nstrs + 1, sizeof *r->slens);
  if (!r->strs || !r->slens) { bad(r, "out of memory"); return; }
  for (uint32_t i = 0; i < r->nstrs && !r->bad; i++) {
    uint32_t len = r32(r);
    if (r->bad) return;
    if (len > r->n - r->at) { bad(r, "string %u truncated", i); return; }
    if (!hk_utf8_valid(r->p + r->at, len)) { bad(r, "string %u is not valid UTF-8", i); return; }
    char *s = ralloc(r, (size_t)len + 1);
    if (!s) return;
    memcpy(s, r->p + r->at, len);
    s[len] = '\0';
    r->strs[i] = s;
    r->slens[i] = len;
    r->at += len;
  }
}

static void read_tables(rbuf_t *r) {
  hk_image_t *img = r->img;
  img->nconsts = rcount(r, 12, "constant");
  img->consts = ralloc(r, (size_t)img->nconsts * sizeof *img->consts);
  for (uint32_t i = 0; i < img->nconsts && !r->bad; i++) {
    uint32_t kind = r32(r);
    uint64_t v = r64(r);
    if (kind == 0) img->consts[i] = hk_mk(HK_T_INT, v);
    else if (kind == 1) img->consts[i] = hk_mk(HK_T_FLOAT, v);
    else if (kind == 2 && v < r->nstrs) {
      if (hk_image_string(img, r->strs[v], r->slens[v], &img->consts[i])) bad(r, "out of memory");
    } else bad(r, "constant %u is malformed", i);
  }
  img->nctors = rcount(r, 16, "constructor");
  img->ctors = ralloc(r, (size_t)img->nctors * sizeof *img->ctors);
  for (uint32_t i = 0; i < img->nctors && !r->bad; i++) {
    img->ctors[i].name = rname(r);
    img->ctors[i].datatype = r32(r);
    img->ctors[i].tag = r32(r);
    uint32_t p = r32(r);
    if (p > 1) bad(r, "constructor %u: bad payload flag", i);
    img->ctors[i].has_payload = p == 1;
  }
  img->ndatatypes = rcount(r, 4, "datatype");
  img->datatypes = ralloc(r, (size_t)img->ndatatypes * sizeof *img->datatypes);
  for (uint32_t i = 0; i < img->ndatatypes && !r->bad; i++) img->datatypes[i] = rname(r);
  for (uint32_t i = 0; i < img->nctors && !r->bad; i++)
    if (img->ctors[i].datatype >= img->ndatatypes) bad(r, "constructor %u: datatype out of range", i);
  img->neffects = rcount(r, 4, "effect");
  img->effects = ralloc(r, (size_t)img->neffects * sizeof *img->effects);
  for (uint32_t i = 0; i < img->neffects && !r->bad; i++) img->effects[i] = rname(r);
  img->nglobals = rcount(r, 4, "global");
  img->globals = ralloc(r, (size_t)img->nglobals * sizeof *img->globals);
  for (uint32_t i = 0; i < img->nglobals && !r->bad; i++) img->globals[i] = rname(r);
  img->nimports = rcount(r, 8, "import");
  img->imports = ralloc(r, (size_t)img->nimports * sizeof *img->imports);
  for (uint32_t i = 0; i < img->nimports && !r->bad; i++) {
    const char *name = rname(r), *type = rname(r);
    int64_t id = r->bad ? -1 : import_lookup(r, name);
    if (r->bad) break;
    if (id < 0) { bad(r, "unknown builtin '%s'", name); break; }
    const hk_builtin_info_t *bi = import_info((uint32_t)id, r->natives, r->nnatives);
    if (strcmp(bi->type, type) != 0) {
      bad(r, "builtin '%s' has type %s here, not %s", name, bi->type, type);
      break;
    }
    img->imports[i] = (uint32_t)id;
  }
  img->nhandlers = rcount(r, 4, "handler");
  img->handlers = ralloc(r, (size_t)img->nhandlers * sizeof *img->handlers);
  for (uint32_t i = 0; i < img->nhandlers && !r->bad; i++) {
    uint32_t n = rcount(r, 4, "handler clause");
    img->handlers[i].n = n;
    img->handlers[i].effects = ralloc(r, (size_t)n * sizeof(uint32_t));
    for (uint32_t j = 0; j < n && !r->bad; j++) {
      uint32_t e = r32(r);
      if (e >= img->neffects) bad(r, "handler %u: effect %u out of range", i, e);
      img->handlers[i].effects[j] = e;
    }
  }
  img->nfiles = rcount(r, 4, "file");
  img->files = ralloc(r, (size_t)img->nfiles * sizeof *img->files);
  for (uint32_t i = 0; i < img->nfiles && !r->bad; i++) img->files[i] = rname(r);
}

static void read_funcs(rbuf_t *r) {
  hk_image_t *img = r->img;
  img->nfuncs = rcount(r, 24, "function");
  img->entry = r32(r);
  img->funcs = ralloc(r, (size_t)img->nfuncs * sizeof *img->funcs);
  for (uint32_t i = 0; i < img->nfuncs && !r->bad; i++) {
    hk_func_t *f = &img->funcs[i];
    f->name = rname(r);
    f->arity = r32(r);
    f->ncaps = r32(r);
    f->nlocals = r32(r);
    f->maxstack = r32(r);
    f->ncode = rcount(r, 16, "code word");
    f->code = ralloc(r, (size_t)f->ncode * 4);
    f->pos = ralloc(r, (size_t)f->ncode * sizeof *f->pos);
    for (uint32_t j = 0; j < f->ncode && !r->bad; j++) f->code[j] = r32(r);
    for (uint32_t j = 0; j < f->ncode && !r->bad; j++) {
      f->pos[j].file = r32(r);
      f->pos[j].line = r32(r);
      f->pos[j].col = r32(r);
      if (f->pos[j].file >= img->nfiles && (f->pos[j].file || img->nfiles)) {
        bad(r, "function %u: source file index out of range", i);
      }
    }
  }
}

int hk_image_load(const void *buf, size_t len, hk_image_t **out, char *why, size_t why_len) {
  return hk_image_load_natives(buf, len, NULL, 0, out, why, why_len);
}

static int verify(const hk_image_t *img, uint32_t nimportable, char *why, size_t why_len);

int hk_image_load_natives(const void *buf, size_t len, const hk_builtin_info_t *natives,
                          uint32_t nnatives, hk_image_t **out, char *why, size_t why_len) {
  *out = NULL;
  if (why_len) why[0] = '\0';
  rbuf_t r = {.p = buf, .n = len, .why = why, .why_len = why_len, .natives = natives,
              .nnatives = nnatives};
  if (len < 16 || memcmp(buf, magic, 8) != 0) {
    snprintf(why, why_len, "bad magic");
    return -EINVAL;
  }
  r.at = 8;
  uint32_t version = r32(&r), total = r32(&r);
  if (version != HK_BC_VERSION) {
    snprintf(why, why_len, "unsupported version %u", version);
    return -EINVAL;
  }
  if (total != len) {
    snprintf(why, why_len, "length %u recorded, %zu given", total, len);
    return -EINVAL;
  }
  if (hk_image_new(&r.img, NULL)) return -ENOMEM;
  read_strings(&r);
  read_tables(&r);
  read_funcs(&r);
  if (!r.bad && r.at != len) bad(&r, "%zu trailing bytes", len - r.at);
  free(r.strs);
  free(r.slens);
  if (!r.bad && verify(r.img, HK_B__COUNT + nnatives, why, why_len) != 0) r.bad = true;
  if (!r.bad) hk_image_size_calls(r.img);
  if (r.bad) {
    bool oom = strcmp(why, "out of memory") == 0;
    hk_image_free(r.img);
    return oom ? -ENOMEM : -EINVAL;
  }
  *out = r.img;
  return 0;
}

/* ---- Verification -------------------------------------------------------------- */

#define UNSEEN (-2)      /* a boundary not reached yet */
#define NOT_BOUNDARY (-3)

static int vfail(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int vfail(char *why, size_t why_len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, why_len, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

/* A direct call may pass [n] values to [f]: its arity, or the n >= 2
** components of its tuple parameter when its code starts with UNTUPLE n
** (a one-word instruction the call skips: the entry is a boundary of
** depth 0, like pc 0). */
static bool direct_args_ok(const hk_func_t *f, uint32_t n) {
  if (n == f->arity) return true;
  return f->arity == 1 && n >= 2 && f->ncode > 0 && hk_ins_op(f->code[0]) == HK_I_UNTUPLE &&
         hk_ins_a(f->code[0]) == n;
}

/* Checks one instruction's operands; sets *pop, *push. Returns NULL or the reason. */
static const char *check_operands(const hk_image_t *img, const hk_func_t *f, uint32_t op, uint32_t w,
                                  uint32_t b, int *pop, int *push) {
  const hk_opinfo_t *in = &hk_opinfo[op];
  uint32_t a = hk_ins_a(w);
  *pop = in->pop == HK_VAR ? 0 : in->pop;
  *push = in->push;
  switch (op) {
  case HK_I_CONST: case HK_I_JNCONST:
    if (a >= img->nconsts) return "constant index out of range";
    break;
  case HK_I_CHAR: case HK_I_JNCHAR:
    if (a > 0x10FFFF || (a >= 0xD800 && a <= 0xDFFF)) return "invalid character";
    break;
  case HK_I_BOOL: case HK_I_JNBOOL:
    if (a > 1) return "invalid boolean";
    break;
  case HK_I_DATA0:
    if (a >= img->nctors || img->ctors[a].has_payload) return "constructor index out of range or of the wrong kind";
    break;
  case HK_I_DATA: case HK_I_CTORFN:
    if (a >= img->nctors || !img->ctors[a].has_payload) return "constructor index out of range or of the wrong kind";
    break;
  case HK_I_JNCTOR:
    if (a >= img->nctors) return "constructor index out of range";
    break;
  case HK_I_BUILTIN: case HK_I_CALLB: case HK_I_CALLBU:
    if (a >= img->nimports) return "builtin import out of range";
    break;
  case HK_I_LOCAL: case HK_I_STORE: case HK_I_TEE: case HK_I_LADDI: case HK_I_JNCONSL: case HK_I_JNNILL:
    if (a >= f->nlocals) return "local slot out of range";
    break;
  case HK_I_LOCAL2:
    if ((a & 0xfffu) >= f->nlocals || (a >> 12) >= f->nlocals) return "local slot out of range";
    break;
  case HK_I_JNEQLI: case HK_I_JNNELI:
    if ((a & 0xfffu) >= f->nlocals) return "local slot out of range";
    break;
  case HK_I_JNEQLG: /* it reads them itself: its LOCAL's and GLOBAL's checks */
    if ((a & 0xfffu) >= f->nlocals) return "local slot out of range";
    if ((a >> 12) >= img->nglobals) return "global slot out of range";
    break;
  case HK_I_UNCONS:
    if (a >= f->nlocals || b >= f->nlocals || b + 1 >= f->nlocals) return "local slot out of range";
    break;
  case HK_I_SPLIT:
    if ((b >> 24) < 2) return "tuple of fewer than 2 components";
    if (a >= f->nlocals || (b & 0xffffffu) + (b >> 24) > f->nlocals) return "local slot out of range";
    break;
  case HK_I_CAP:
    if (a >= f->ncaps) return "capture index out of range";
    break;
  case HK_I_CAP2: /* it reads them itself: its CAPs' checks */
    if ((a & 0xfffu) >= f->ncaps || (a >> 12) >= f->ncaps) return "capture index out of range";
    break;
  case HK_I_GLOBAL: case HK_I_SETGLOBAL:
    if (a >= img->nglobals) return "global slot out of range";
    break;
  case HK_I_TUPLE:
    if (a < 2) return "tuple of fewer than 2 components";
    *pop = (int)a;
    break;
  case HK_I_CONCATN:
    if (a < 3 || a > HK_CONCATN_MAX) return "concatenation of a bad operand count";
    *pop = (int)a;
    break;
  case HK_I_CALLBT:
    if (a >= img->nimports) return "builtin import out of range";
    if (b < 2 || b > HK_CALLBT_MAX) return "builtin argument of a bad component count";
    *pop = (int)b;
    break;
  case HK_I_SENDT: case HK_I_SENDTP: /* send_message (p, (v1, .., vB)) */
    if (a >= img->nimports || img->imports[a] != HK_B_send_message) return "send of a bad builtin import";
    if (b < 2 || b > HK_CALLBT_MAX) return "builtin argument of a bad component count";
    *pop = (int)b + 1;
    break;
  case HK_I_SEND: case HK_I_SENDP: /* send_message (p, v) */
    if (a >= img->nimports || img->imports[a] != HK_B_send_message) return "send of a bad builtin import";
    break;
  case HK_I_RECV: /* receive_message () */
    if (a >= img->nimports || img->imports[a] != HK_B_receive_message) return "receive of a bad builtin import";
    break;
  case HK_I_CLOSURE:
    if (a >= img->nfuncs || b != img->funcs[a].ncaps) return "closure of a bad function or capture count";
    *pop = (int)b;
    break;
  case HK_I_CALLF: case HK_I_TCALLF:
    if (a >= img->nfuncs || !direct_args_ok(&img->funcs[a], b)) return "direct call with a bad function or arity";
    *pop = (int)b + 1;
    break;
  case HK_I_CALLG: case HK_I_TCALLG:
    if (a >= img->nfuncs || !direct_args_ok(&img->funcs[a], b) || img->funcs[a].ncaps)
      return "direct call with a bad function, arity or captures";
    *pop = (int)b;
    break;
  case HK_I_UNTUPLE:
    if (a < 2 || a > f->nlocals) return "untuple of a bad component count";
    break;
  case HK_I_TLOOP: { /* its own function's arguments, as a direct call to it */
    uint32_t k = a >> 16, m = a & 0xffffu;
    if (!direct_args_ok(f, k) || (k < 16 && m >> k) || k > f->nlocals)
      return "self tail call with a bad arity or argument mask";
    *pop = __builtin_popcount(m);
    break;
  }
  case HK_I_TLOOPR: { /* TLOOP's checks, and the operand's other fields are the function's own */
    uint32_t j = a & 15u, r = a >> 4 & 31u, k = a >> 9 & 63u, e = a >> 15 & 1u, z = a >> 16;
    if (!direct_args_ok(f, k) || (r ? j + r > k || j + r > 16 : j != 0))
      return "self tail call with a bad arity or argument run";
    if (e != (k != f->arity) || k + z != f->nlocals || f->nlocals >= 64) /* TLOOP's charge, nlocals >> 6, is 0 */
      return "self tail call with a bad entry or count of locals";
    *pop = (int)r;
    break;
  }
  case HK_I_TLOOPI: { /* LADDI's local, and TLOOP's checks for one changed argument j */
    uint32_t j = a >> 12 & 15u, k = a >> 16;
    if ((a & 0xfffu) >= f->nlocals) return "local slot out of range";
    if (!direct_args_ok(f, k) || j >= k || k > f->nlocals) return "self tail call with a bad arity or argument";
    *push = 1; /* the interpreter pushes the sum, as LADDI did, and goes on as TLOOP: room for it */
    break;
  }
  case HK_I_TLOOPRI: { /* TLOOPI's checks, and the operand's other fields are the function's own as TLOOPR's */
    uint32_t j = a >> 6 & 15u, k = a >> 10 & 63u, e = a >> 16 & 1u, z = a >> 17;
    if ((a & 63u) >= f->nlocals) return "local slot out of range";
    if (!direct_args_ok(f, k) || j >= k) return "self tail call with a bad arity or argument";
    if (e != (k != f->arity) || k + z != f->nlocals || f->nlocals >= 64) /* TLOOP's charge, nlocals >> 6, is 0 */
      return "self tail call with a bad entry or count of locals";
    break;
  }
  case HK_I_CALLP:
    if (a < 1 || a >= b || b > HK_CALLN_MAX) return "bad argument count of a call chain";
    *pop = *push = (int)a + 1;
    break;
  case HK_I_CALLN: case HK_I_TCALLN:
    if (a < 2 || a > HK_CALLN_MAX) return "bad argument count of a call chain";
    *pop = (int)a + 1;
    break;
  case HK_I_CALLT: case HK_I_TCALLT: /* f (x1, .., xA) */
    if (a < 2 || a > 255) return "tuple of a bad component count";
    *pop = (int)a + 1;
    break;
  case HK_I_HANDLE: case HK_I_THANDLE:
    if (a >= img->nhandlers) return "handler index out of range";
    *pop = (int)img->handlers[a].n + 2;
    break;
  case HK_I_PERFORM:
    if (a >= img->neffects) return "effect index out of range";
    break;
  default: break;
  }
  return NULL;
}

static int verify_func(const hk_image_t *img, uint32_t fi, int32_t *depth, char *why, size_t why_len) {
  const hk_func_t *f = &img->funcs[fi];
  uint32_t n = f->ncode;
  /* A function whose one parameter is never read (fn () => e, fn _ => e:
  ** compile.c, fn_expr) may have no local for it: its argument is then the
  ** first slot of its stack, in the frame's room (maxstack >= 1), and the
  ** frame starts with an empty stack. No self tail call there (TLOOP). */
  if (f->arity > f->nlocals && !(f->arity == 1 && f->nlocals == 0 && f->maxstack >= 1))
    return vfail(why, why_len, "function %u: more parameters than locals", fi);
  if (f->nlocals > (1u << 24) || f->maxstack > (1u << 26) || f->ncaps > (1u << 24))
    return vfail(why, why_len, "function %u: frame too large", fi);
  if (n == 0) return vfail(why, why_len, "function %u: no code", fi);
  /* Instruction boundaries. */
  for (uint32_t i = 0; i < n; i++) depth[i] = NOT_BOUNDARY;
  for (uint32_t at = 0; at < n;) {
    uint32_t op = hk_ins_op(f->code[at]);
    if (op >= HK_I__COUNT) return vfail(why, why_len, "function %u: invalid opcode %u at %u", fi, op, at);
    uint32_t words = hk_ins_len(f->code, at, n);
    if (words == UINT32_MAX || at + (uint64_t)words > n)
      return vfail(why, why_len, "function %u: truncated instruction at %u", fi, at);
    depth[at] = UNSEEN;
    at += words;
  }
  /* Data flow over the stack depth, in code order with a work list. */
  uint32_t *work = malloc((size_t)n * sizeof *work);
  if (!work) return -ENOMEM;
  size_t nw = 0;
  depth[0] = 0;
  work[nw++] = 0;
  int rc = 0;
  while (nw && !rc) {
    uint32_t at = work[--nw];
    uint32_t w = f->code[at], op = hk_ins_op(w);
    const hk_opinfo_t *in = &hk_opinfo[op];
    uint32_t words = hk_ins_len(f->code, at, n);
    uint32_t b = words >= 2 ? f->code[at + 1] : 0;
    int pop, push;
    const char *err = check_operands(img, f, op, w, b, &pop, &push);
    if (err) { rc = vfail(why, why_len, "function %u at %u: %s", fi, at, err); break; }
    int32_t d = depth[at];
    if (d < pop) { rc = vfail(why, why_len, "function %u at %u: stack underflow", fi, at); break; }
    int64_t nd = (int64_t)d - pop + push;
    if (nd > (int64_t)f->maxstack) { rc = vfail(why, why_len, "function %u at %u: stack above its maximum", fi, at); break; }
    if (op == HK_I_SWITCH) { /* fall-through plus one target per table entry */
      if (hk_ins_a(w) >= f->nlocals || f->code[at + 2] >= img->ndatatypes) {
        rc = vfail(why, why_len, "function %u at %u: bad switch", fi, at);
        break;
      }
      for (uint32_t t = 0; t <= b && !rc; t++) {
        int64_t tgt = t == b ? (int64_t)at + words
                             : (int64_t)at + 3 + t + 1 + (int32_t)f->code[at + 3 + t];
        if (tgt < 0 || tgt >= n || depth[tgt] == NOT_BOUNDARY) {
          rc = vfail(why, why_len, "function %u at %u: jump target not an instruction", fi, at);
        } else if (depth[tgt] == UNSEEN) {
          depth[tgt] = (int32_t)nd;
          work[nw++] = (uint32_t)tgt;
        } else if (depth[tgt] != nd) {
          rc = vfail(why, why_len, "function %u at %u: inconsistent stack depth", fi, (uint32_t)tgt);
        }
      }
      continue;
    }
    /* SENDP, SENDTP skip the POP after them when they send at once: it
    ** must be there (as a separate instruction, a jump may land on it). */
    if ((op == HK_I_SENDP || op == HK_I_SENDTP) && (at + words >= n || hk_ins_op(f->code[at + words]) != HK_I_POP)) {
      rc = vfail(why, why_len, "function %u at %u: send that drops its result not followed by POP", fi, at);
      break;
    }
    /* JNEQLG runs as the LOCAL, GLOBAL and JNEQ that follow it (it skips
    ** them or falls into them): they must be those, of its operands. */
    if (op == HK_I_JNEQLG &&
        (at + 3 >= n || f->code[at + 1] != hk_ins(HK_I_LOCAL, hk_ins_a(w) & 0xfffu) ||
         f->code[at + 2] != hk_ins(HK_I_GLOBAL, hk_ins_a(w) >> 12) || hk_ins_op(f->code[at + 3]) != HK_I_JNEQ)) {
      rc = vfail(why, why_len, "function %u at %u: fused comparison not followed by its LOCAL, GLOBAL and JNEQ", fi, at);
      break;
    }
    /* CAP2 runs as the CAP, CAP that follow it (it skips them or falls
    ** into them): they must be those, of its operands. */
    if (op == HK_I_CAP2 && (at + 2 >= n || f->code[at + 1] != hk_ins(HK_I_CAP, hk_ins_a(w) & 0xfffu) ||
                            f->code[at + 2] != hk_ins(HK_I_CAP, hk_ins_a(w) >> 12))) {
      rc = vfail(why, why_len, "function %u at %u: fused captures not followed by their two CAPs", fi, at);
      break;
    }
    uint32_t succ[2];
    int ns = 0;
    if (!(in->flags & HK_OPF_END)) {
      if (at + words >= n) { rc = vfail(why, why_len, "function %u: code runs off its end", fi); break; }
      succ[ns++] = at + words;
    }
    if (in->flags & HK_OPF_JUMP) {
      int64_t off = in->fmt == HK_FMT_S ? hk_ins_s(w) : (int32_t)b;
      int64_t t = (int64_t)at + words + off;
      if (t < 0 || t >= n || depth[t] == NOT_BOUNDARY) {
        rc = vfail(why, why_len, "function %u at %u: jump target not an instruction", fi, at);
        break;
      }
      succ[ns++] = (uint32_t)t;
    }
    for (int i = 0; i < ns; i++) {
      uint32_t s = succ[i];
      if (depth[s] == UNSEEN) {
        depth[s] = (int32_t)nd;
        work[nw++] = s;
      } else if (depth[s] != nd) {
        rc = vfail(why, why_len, "function %u at %u: inconsistent stack depth", fi, s);
        break;
      }
    }
  }
  free(work);
  return rc;
}

int hk_image_verify(const hk_image_t *img, char *why, size_t why_len) {
  return verify(img, HK_B__COUNT, why, why_len);
}

/* Import ids below [nimportable] are known (builtins, then natives). */
static int verify(const hk_image_t *img, uint32_t nimportable, char *why, size_t why_len) {
  if (img->nfuncs == 0 || img->entry >= img->nfuncs) return vfail(why, why_len, "no entry function");
  const hk_func_t *e = &img->funcs[img->entry];
  if (e->arity != 0 || e->ncaps != 0) return vfail(why, why_len, "entry function takes arguments or captures");
  for (uint32_t i = 0; i < img->nimports; i++)
    if (img->imports[i] >= nimportable) return vfail(why, why_len, "builtin import out of range");
  uint32_t maxn = 0;
  for (uint32_t i = 0; i < img->nfuncs; i++)
    if (img->funcs[i].ncode > maxn) maxn = img->funcs[i].ncode;
  int32_t *depth = malloc(((size_t)maxn + 1) * sizeof *depth);
  if (!depth) return vfail(why, why_len, "out of memory");
  int rc = 0;
  for (uint32_t i = 0; i < img->nfuncs && !rc; i++) rc = verify_func(img, i, depth, why, why_len);
  free(depth);
  if (rc == -ENOMEM) vfail(why, why_len, "out of memory");
  return rc ? -EINVAL : 0;
}
