/* image.c — program image memory. */
#include "vm/image.h"

#include "vm/check.h"
#include "vm/opcodes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int hk_image_new(hk_image_t **out, hk_arena_t *arena) {
  hk_image_t *img;
  if (arena) {
    img = hk_arena_alloc(arena, sizeof *img);
    if (!img) return -ENOMEM;
    img->mem = arena;
  } else {
    img = calloc(1, sizeof *img);
    if (!img) return -ENOMEM;
    hk_arena_init(&img->own);
    img->mem = &img->own;
  }
  *out = img;
  return 0;
}

static uint32_t frame_slots(const hk_func_t *f) { return f->nlocals + f->maxstack; }

void hk_image_size_calls(hk_image_t *img) {
  for (uint32_t i = 0; i < img->nfuncs; i++) {
    hk_func_t *f = &img->funcs[i];
    uint32_t need = frame_slots(f);
    if (f->ncode >= 2) {
      uint32_t w = f->code[f->ncode - 2], op = hk_ins_op(w), callee = hk_ins_a(w);
      if ((op == HK_I_TCALLG || op == HK_I_TCALLF) && callee < img->nfuncs) {
        uint32_t n = frame_slots(&img->funcs[callee]);
        if (n > need) need = n;
      }
    }
    f->call_slots = need;
  }
}

void hk_image_free(hk_image_t *img) {
  if (!img || img->mem != &img->own) return;
  hk_arena_free(&img->own);
  free(img);
}

int hk_image_string(hk_image_t *img, const char *s, size_t len, hk_value_t *out) {
  hk_string_t *str = hk_arena_alloc(img->mem, sizeof *str + len + 1);
  if (!str) return -ENOMEM;
  str->h.tag = HK_T_STRING;
  str->h.flags = HK_OBJ_STATIC;
  str->len = len;
  if (len) memcpy(str->data, s, len);
  str->data[len] = '\0';
  *out = hk_obj_value(&str->h);
  return 0;
}

/* The datatype name of constructor [c] of [img]. */
static const char *datatype_of(const hk_image_t *img, uint32_t c) {
  uint32_t d = img->ctors[c].datatype;
  return d < img->ndatatypes && img->datatypes[d] ? img->datatypes[d] : "";
}

int64_t hk_image_ctor_map(const hk_image_t *from, uint32_t c, const hk_image_t *to) {
  if (c >= from->nctors) return -ENOENT;
  const hk_ctor_info_t *k = &from->ctors[c];
  if (from == to) return c;
  if (c < HK_CTOR__PRELUDE_COUNT && c < to->nctors && strcmp(to->ctors[c].name, k->name) == 0)
    return c;
  const char *dt = datatype_of(from, c);
  for (uint32_t i = HK_CTOR__PRELUDE_COUNT; i < to->nctors; i++)
    if (strcmp(to->ctors[i].name, k->name) == 0 && to->ctors[i].has_payload == k->has_payload &&
        strcmp(datatype_of(to, i), dt) == 0)
      return i;
  return -ENOENT;
}

int64_t hk_image_ctor_find(const hk_image_t *img, const char *name) {
  for (uint32_t i = img->nctors; i-- > 0;)
    if (strcmp(img->ctors[i].name, name) == 0) return i;
  return -ENOENT;
}
