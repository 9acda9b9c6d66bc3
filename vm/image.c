/* image.c — program image memory. */
#include "vm/image.h"

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
