/* disasm.c — the bytecode listing, driven by vm/opcodes.def. */
#include "vm/disasm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/builtins.h"
#include "vm/opcodes.h"

typedef struct out {
  char *p;
  size_t n, cap;
  bool oom;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...) {
  if (o->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p ? o->p + o->n : NULL, o->p ? o->cap - o->n : 0, fmt, ap);
    va_end(ap);
    if (n < 0) { o->oom = true; return; }
    if (o->p && o->n + (size_t)n < o->cap) { o->n += (size_t)n; return; }
    size_t nc = o->cap ? o->cap * 2 : 4096;
    while (nc < o->n + (size_t)n + 1) nc *= 2;
    char *q = realloc(o->p, nc);
    if (!q) { o->oom = true; return; }
    o->p = q;
    o->cap = nc;
  }
}

/* A constant, shown briefly (strings quoted, cut after 40 bytes). */
static void put_const(out_t *o, hk_value_t v) {
  switch (v.tag) {
  case HK_T_INT: put(o, "%lld", (long long)v.as.i); break;
  case HK_T_FLOAT: put(o, "%.17g", v.as.f); break;
  case HK_T_STRING: {
    size_t len = hk_str_len(v);
    put(o, "\"");
    for (size_t i = 0; i < len && i < 40; i++) {
      unsigned char ch = (unsigned char)hk_str_data(v)[i];
      if (ch == '"' || ch == '\\') put(o, "\\%c", ch);
      else if (ch < 32) put(o, "\\x%02x", ch);
      else put(o, "%c", ch);
    }
    put(o, len > 40 ? "\"..." : "\"");
    break;
  }
  default: put(o, "<%s>", hk_kind_name(v)); break;
  }
}

static void put_ins(out_t *o, const hk_image_t *img, const hk_func_t *f, uint32_t at) {
  uint32_t w = f->code[at], op = hk_ins_op(w);
  const hk_opinfo_t *in = &hk_opinfo[op];
  uint32_t words = hk_ins_len(f->code, at, f->ncode);
  if (op == HK_I_SWITCH && words != UINT32_MAX && at + words <= f->ncode) {
    put(o, "  %06u  %4u:%-3u  %-9s %u %u %u", at, f->pos ? f->pos[at].line : 0,
        f->pos ? f->pos[at].col : 0, in->name, hk_ins_a(w), f->code[at + 1], f->code[at + 2]);
    for (uint32_t t = 0; t < f->code[at + 1]; t++)
      put(o, " %u->%06d", t, (int32_t)(at + 3 + t + 1) + (int32_t)f->code[at + 3 + t]);
    put(o, "\n");
    return;
  }
  put(o, "  %06u  %4u:%-3u  %-9s", at, f->pos ? f->pos[at].line : 0, f->pos ? f->pos[at].col : 0,
      in->name);
  uint32_t next = at + words;
  int32_t b = at + 1 < f->ncode ? (int32_t)f->code[at + 1] : 0;
  switch (in->fmt) {
  case HK_FMT_N: break;
  case HK_FMT_A:
    if (op == HK_I_LOCAL2 || op == HK_I_JNEQLG || op == HK_I_CAP2) put(o, " %u %u", hk_ins_a(w) & 0xfffu, hk_ins_a(w) >> 12);
    else if (op == HK_I_TLOOP) put(o, " %u 0x%x", hk_ins_a(w) >> 16, hk_ins_a(w) & 0xffffu);
    else if (op == HK_I_TLOOPR) /* as TLOOP's k and mask, then the locals it resets */
      put(o, " %u 0x%x %u", hk_ins_a(w) >> 9 & 63u, ((1u << (hk_ins_a(w) >> 4 & 31u)) - 1u) << (hk_ins_a(w) & 15u),
          hk_ins_a(w) >> 16);
    else put(o, " %u", hk_ins_a(w));
    break;
  case HK_FMT_S:
    if (in->flags & HK_OPF_JUMP) put(o, " -> %06d", (int32_t)next + hk_ins_s(w));
    else put(o, " %d", hk_ins_s(w));
    break;
  case HK_FMT_AB:
    if (op == HK_I_LADDI) put(o, " %u %d", hk_ins_a(w), b);
    else if (op == HK_I_TLOOPI) /* as LADDI's local and immediate, then TLOOP's k and mask */
      put(o, " %u %d %u 0x%x", hk_ins_a(w) & 0xfffu, b, hk_ins_a(w) >> 16, 1u << (hk_ins_a(w) >> 12 & 15u));
    else if (op == HK_I_TLOOPRI) /* the same, then the locals it resets, as TLOOPR's */
      put(o, " %u %d %u 0x%x %u", hk_ins_a(w) & 63u, b, hk_ins_a(w) >> 10 & 63u, 1u << (hk_ins_a(w) >> 6 & 15u),
          hk_ins_a(w) >> 17);
    else if (op == HK_I_SPLIT) put(o, " %u %u %u", hk_ins_a(w), (uint32_t)b & 0xffffffu, (uint32_t)b >> 24);
    else put(o, " %u %u", hk_ins_a(w), (uint32_t)b);
    break;
  case HK_FMT_AJ:
    if (op == HK_I_JNEQLI || op == HK_I_JNNELI) {
      put(o, " %u %d -> %06d", hk_ins_a(w) & 0xfffu, (int32_t)w >> 20, (int32_t)next + b);
      break;
    }
    put(o, " %d -> %06d", (op == HK_I_JNINT || (op >= HK_I_JNLTI && op <= HK_I_JNNEI)) ? hk_ins_s(w) : (int32_t)hk_ins_a(w),
                      (int32_t)next + b); break;
  }
  uint32_t a = hk_ins_a(w);
  if ((op == HK_I_CONST || op == HK_I_JNCONST) && a < img->nconsts) {
    put(o, "  ; ");
    put_const(o, img->consts[a]);
  } else if ((op == HK_I_DATA0 || op == HK_I_DATA || op == HK_I_CTORFN || op == HK_I_JNCTOR) &&
             a < img->nctors) {
    put(o, "  ; %s", img->ctors[a].name);
  } else if ((op == HK_I_GLOBAL || op == HK_I_SETGLOBAL) && a < img->nglobals) {
    put(o, "  ; %s", img->globals[a]);
  } else if (op == HK_I_JNEQLG && (a >> 12) < img->nglobals) {
    put(o, "  ; %s", img->globals[a >> 12]);
  } else if ((op == HK_I_BUILTIN || op == HK_I_CALLB || op == HK_I_CALLBT || op == HK_I_CALLBU ||
              op == HK_I_SENDT || op == HK_I_RECV || op == HK_I_SEND || op == HK_I_SENDP || op == HK_I_SENDTP) && a < img->nimports && img->imports[a] < HK_B__COUNT) {
    put(o, "  ; %s", hk_builtin_table[img->imports[a]].name);
  } else if ((op == HK_I_CALLF || op == HK_I_TCALLF || op == HK_I_CALLG || op == HK_I_TCALLG || op == HK_I_CLOSURE) && a < img->nfuncs) {
    put(o, "  ; %s", img->funcs[a].name);
  } else if (op == HK_I_TLOOP) {
    put(o, "  ; changed:");
    for (uint32_t i = 0; i < 16; i++)
      if (a >> i & 1u) put(o, " %u", i);
  } else if (op == HK_I_TLOOPR) {
    put(o, "  ; changed:");
    for (uint32_t i = 0; i < (a >> 4 & 31u); i++) put(o, " %u", (a & 15u) + i);
  } else if (op == HK_I_TLOOPI || op == HK_I_TLOOPRI) {
    put(o, "  ; changed: %u", op == HK_I_TLOOPI ? a >> 12 & 15u : a >> 6 & 15u);
  } else if (op == HK_I_PERFORM && a < img->neffects) {
    put(o, "  ; %s", img->effects[a]);
  }
  put(o, "\n");
}

int hk_disasm(const hk_image_t *img, char **outp) {
  out_t o = {0};
  put(&o, "entry %u\n", img->entry);
  for (uint32_t i = 0; i < img->nfuncs; i++) {
    const hk_func_t *f = &img->funcs[i];
    put(&o, "\nfunction %u %s  arity %u  captures %u  locals %u  stack %u\n", i, f->name, f->arity,
        f->ncaps, f->nlocals, f->maxstack);
    for (uint32_t at = 0; at < f->ncode;) {
      uint32_t op = hk_ins_op(f->code[at]);
      if (op >= HK_I__COUNT) {
        put(&o, "  %06u  <invalid %u>\n", at, op);
        break;
      }
      put_ins(&o, img, f, at);
      uint32_t len = hk_ins_len(f->code, at, f->ncode);
      if (len == UINT32_MAX) break;
      at += len;
    }
  }
  if (o.oom) {
    free(o.p);
    return -ENOMEM;
  }
  *outp = o.p;
  return 0;
}
