/* core_util.h — helpers for the execution-core tests: hand-built images. */
#ifndef HK_TEST_CORE_UTIL_H
#define HK_TEST_CORE_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/image.h"
#include "vm/opcodes.h"
#include "vm/vm_int.h"

/* An image with [nfuncs] empty functions and [nglobals] globals. */
static inline hk_image_t *tc_image(uint32_t nfuncs, uint32_t nglobals) {
  hk_image_t *img;
  if (hk_image_new(&img, NULL)) return NULL;
  img->nfuncs = nfuncs;
  img->funcs = hk_arena_alloc(img->mem, (nfuncs + 1) * sizeof *img->funcs);
  img->nglobals = nglobals;
  img->globals = hk_arena_alloc(img->mem, (nglobals + 1) * sizeof *img->globals);
  for (uint32_t i = 0; i < nglobals; i++) img->globals[i] = "g";
  img->ctors = hk_arena_alloc(img->mem, 4 * sizeof *img->ctors);
  img->ctors[0] = (hk_ctor_info_t){"Some", 0, 0, true};
  img->nctors = 1;
  return img;
}

/* Sets function [i]: code copied from [code] ([n] words). */
static inline void tc_func(hk_image_t *img, uint32_t i, const char *name, uint32_t arity,
                           uint32_t nlocals, uint32_t maxstack, const uint32_t *code, uint32_t n) {
  hk_func_t *f = &img->funcs[i];
  f->name = name;
  f->arity = arity;
  f->nlocals = nlocals;
  f->maxstack = maxstack;
  f->code = hk_arena_alloc(img->mem, n * sizeof *code);
  memcpy(f->code, code, n * sizeof *code);
  f->ncode = n;
  f->pos = hk_arena_alloc(img->mem, n * sizeof *f->pos);
}

#define I(op, a) ((uint32_t)HK_I_##op | (((uint32_t)(a) & 0xffffffu) << 8))

#endif
