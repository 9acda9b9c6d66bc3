/* bi_json_vm.c — the JSON builtins (SPEC §8.9) over VM values. json_parse
** and json_to_string use the program's `json` datatype, found by name in
** the image's constructor table (JNull..JObject at tags 0..6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_core.h"
#include "vm/bi_fmt.h"
#include "vm/bi_json.h"
#include "vm/image.h"

/* Constructor indices of the json datatype, by tag. */
typedef struct json_ctors { uint32_t c[7]; } json_ctors_t;

static const char *const json_names[7] = {"JNull", "JBool", "JInt", "JFloat",
                                          "JStr", "JArray", "JObject"};

static bool find_json(const hk_image_t *img, json_ctors_t *out) {
  if (!img) return false;
  for (uint32_t d = img->ndatatypes; d-- > 0;) {
    if (strcmp(img->datatypes[d], "json") != 0) continue;
    unsigned found = 0;
    for (uint32_t i = 0; i < img->nctors; i++) {
      const hk_ctor_info_t *c = &img->ctors[i];
      if (c->datatype != d || c->tag >= 7) continue;
      if (strcmp(c->name, json_names[c->tag]) != 0 || c->has_payload != (c->tag != 0)) continue;
      out->c[c->tag] = i;
      found |= 1u << c->tag;
    }
    if (found == 0x7F) return true;
  }
  return false;
}

static int no_json(hk_vm_t *vm, hk_builtin_id_t id) {
  return hk_vm_fail(vm, "%s: datatype json is not declared (use stdlib/json.hml)",
                    hk_builtin_table[id].name);
}

static int parse_error(hk_vm_t *vm, hk_builtin_id_t id, const hk_json_error_t *e) {
  return hk_vm_fail(vm, "%s: %s at line %u column %u", hk_builtin_table[id].name, e->text,
                    e->line, e->col);
}

/* Parses the String argument [text] into [arena]. Returns 0 or a failure. */
static int parse_arg(hk_vm_t *vm, hk_builtin_id_t id, hk_value_t text, hk_arena_t *arena,
                     hk_jnode_t **root) {
  hk_json_error_t e;
  hk_vm_charge(vm, hk_str_len(text));
  int rc = hk_json_parse(arena, hk_str_data(text), hk_str_len(text), root, &e);
  if (rc == -EINVAL) return parse_error(vm, id, &e);
  if (rc < 0) return hk_vm_fail(vm, "out of memory");
  return 0;
}

/* ---- json_parse: document -> json values (depth ≤ 128, so recursion is
** bounded) ------------------------------------------------------------------ */

static int build(hk_vm_t *vm, const json_ctors_t *jc, const hk_jnode_t *n, hk_value_t *out) {
  hk_value_t payload;
  int rc = 0;
  switch (n->kind) {
  case HK_J_NULL: *out = hk_data0(jc->c[0]); return 0;
  case HK_J_BOOL: payload = hk_bool(n->b); break;
  case HK_J_INT: payload = hk_int(n->i); break;
  case HK_J_FLOAT: payload = hk_float(n->f); break;
  case HK_J_STR: rc = hk_alloc_string(vm, n->s, n->slen, &payload); break;
  case HK_J_ARRAY:
  case HK_J_OBJECT:
    payload = hk_nil();
    for (size_t i = n->n; rc == 0 && i-- > 0;) {
      hk_value_t item;
      rc = build(vm, jc, &n->items[i], &item);
      if (rc == 0 && n->kind == HK_J_OBJECT) {
        hk_value_t kv[2];
        rc = hk_alloc_string(vm, n->keys[i], n->klens[i], &kv[0]);
        kv[1] = item;
        if (rc == 0) rc = hk_alloc_tuple(vm, 2, kv, &item);
      }
      if (rc == 0) rc = hk_alloc_cons(vm, item, payload, &payload);
    }
    break;
  }
  if (rc < 0) return rc;
  return hk_alloc_data(vm, jc->c[n->kind], payload, out);
}

int hk_bi_json_parse(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_json_parse);
  json_ctors_t jc;
  if (!find_json(hk_vm_image(vm), &jc)) return no_json(vm, HK_B_json_parse);
  hk_arena_t arena;
  hk_arena_init(&arena);
  hk_jnode_t *root;
  int rc = parse_arg(vm, HK_B_json_parse, arg, &arena, &root);
  if (rc == 0) rc = build(vm, &jc, root, out);
  hk_arena_free(&arena);
  return rc;
}

/* ---- json_to_string: json values -> text, iteratively -------------------- */

typedef enum { W_VALUE, W_ARRAY_REST, W_OBJECT_REST } wkind_t;
typedef struct wtask {
  wkind_t kind;
  bool first; /* REST: no comma before the next item */
  hk_value_t v;
} wtask_t;

typedef struct wstack {
  wtask_t *items;
  size_t n, cap;
} wstack_t;

static bool wpush(wstack_t *s, wkind_t kind, bool first, hk_value_t v) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 32;
    wtask_t *p = realloc(s->items, cap * sizeof *p);
    if (!p) return false;
    s->items = p;
    s->cap = cap;
  }
  s->items[s->n++] = (wtask_t){kind, first, v};
  return true;
}

/* The constructor tag of json value [v], or -1. */
static int json_tag(const json_ctors_t *jc, hk_value_t v) {
  if (!hk_is_data(v)) return -1;
  uint32_t c = hk_data_ctor(v);
  for (int t = 0; t < 7; t++)
    if (jc->c[t] == c) return (v.tag == HK_T_DATA0) == (t == 0) ? t : -1;
  return -1;
}

/* Continues an array or object from the list [t.v]. Returns 1, 0
** (malformed) or -1 (out of memory). */
static int wrest(wtask_t t, hk_buf_t *b, wstack_t *s) {
  bool object = t.kind == W_OBJECT_REST;
  if (t.v.tag == HK_T_NIL) {
    hk_buf_putc(b, object ? '}' : ']');
    return 1;
  }
  if (t.v.tag != HK_T_CONS) return 0;
  if (!t.first) hk_buf_putc(b, ',');
  hk_value_t item = hk_head(t.v);
  if (object) {
    if (!hk_bi_is_tuple(item, 2) || !hk_is_string(hk_tuple_at(item, 0))) return 0;
    hk_value_t key = hk_tuple_at(item, 0);
    hk_json_write_string(b, hk_str_data(key), hk_str_len(key));
    hk_buf_putc(b, ':');
    item = hk_tuple_at(item, 1);
  }
  return wpush(s, t.kind, false, hk_tail(t.v)) && wpush(s, W_VALUE, false, item) ? 1 : -1;
}

/* Writes one json value. Returns 1, 0 (malformed) or -1 (out of memory). */
static int wvalue(const json_ctors_t *jc, hk_value_t v, hk_buf_t *b, wstack_t *s) {
  char num[HK_FMT_FLOAT_MAX];
  int tag = json_tag(jc, v);
  if (tag < 0) return 0;
  if (tag == 0) {
    hk_buf_append(b, "null", 4);
    return 1;
  }
  hk_value_t p = hk_as_data(v)->payload;
  switch (tag) {
  case 1:
    if (!hk_is_bool(p)) return 0;
    hk_buf_append(b, hk_as_bool(p) ? "true" : "false", hk_as_bool(p) ? 4 : 5);
    return 1;
  case 2:
    if (!hk_is_int(p)) return 0;
    hk_buf_append(b, num, hk_fmt_int(hk_as_int(p), num));
    return 1;
  case 3:
    if (!hk_is_float(p)) return 0;
    hk_buf_append(b, num, hk_fmt_float(hk_as_float(p), num));
    return 1;
  case 4:
    if (!hk_is_string(p)) return 0;
    hk_json_write_string(b, hk_str_data(p), hk_str_len(p));
    return 1;
  default:
    if (!hk_is_list(p)) return 0;
    hk_buf_putc(b, tag == 5 ? '[' : '{');
    return wpush(s, tag == 5 ? W_ARRAY_REST : W_OBJECT_REST, true, p) ? 1 : -1;
  }
}

int hk_bi_json_to_string(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  json_ctors_t jc;
  if (!find_json(hk_vm_image(vm), &jc)) return no_json(vm, HK_B_json_to_string);
  hk_buf_t b;
  hk_buf_init(&b);
  wstack_t s = {0};
  int rc = wpush(&s, W_VALUE, false, arg) ? 1 : -1;
  uint64_t work = 0;
  while (rc == 1 && s.n > 0 && !b.failed) {
    wtask_t t = s.items[--s.n];
    work++;
    rc = t.kind == W_VALUE ? wvalue(&jc, t.v, &b, &s) : wrest(t, &b, &s);
  }
  free(s.items);
  hk_vm_charge(vm, work + b.len);
  if (rc == 0) {
    hk_buf_free(&b);
    return hk_vm_fail(vm, "json_to_string: expected json value");
  }
  if (rc < 0) b.failed = true;
  return hk_bi_from_buf(vm, &b, false, out);
}

/* ---- json_get, json_keys, json_length: text in, text out ------------------ */

int hk_bi_json_get(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 2) || !hk_is_string(hk_tuple_at(arg, 0)) ||
      !hk_is_string(hk_tuple_at(arg, 1)))
    return hk_bi_expected(vm, HK_B_json_get);
  hk_arena_t arena;
  hk_arena_init(&arena);
  hk_jnode_t *root;
  int rc = parse_arg(vm, HK_B_json_get, hk_tuple_at(arg, 0), &arena, &root);
  if (rc == 0) {
    hk_value_t path = hk_tuple_at(arg, 1);
    const hk_jnode_t *n = hk_json_path(root, hk_str_data(path), hk_str_len(path));
    if (!n || n->kind == HK_J_NULL) {
      rc = hk_alloc_string(vm, "", 0, out);
    } else if (n->kind == HK_J_STR) {
      rc = hk_alloc_string(vm, n->s, n->slen, out);
    } else {
      hk_buf_t b;
      hk_buf_init(&b);
      hk_json_write(&b, n);
      hk_vm_charge(vm, b.len);
      rc = hk_bi_from_buf(vm, &b, false, out);
    }
  }
  hk_arena_free(&arena);
  return rc;
}

int hk_bi_json_keys(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_json_keys);
  hk_arena_t arena;
  hk_arena_init(&arena);
  hk_jnode_t *root;
  int rc = parse_arg(vm, HK_B_json_keys, arg, &arena, &root);
  if (rc == 0) {
    hk_value_t list = hk_nil();
    for (size_t i = root->kind == HK_J_OBJECT ? root->n : 0; rc == 0 && i-- > 0;) {
      hk_value_t k;
      rc = hk_alloc_string(vm, root->keys[i], root->klens[i], &k);
      if (rc == 0) rc = hk_alloc_cons(vm, k, list, &list);
    }
    *out = list;
  }
  hk_arena_free(&arena);
  return rc;
}

int hk_bi_json_length(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_json_length);
  hk_arena_t arena;
  hk_arena_init(&arena);
  hk_jnode_t *root;
  int rc = parse_arg(vm, HK_B_json_length, arg, &arena, &root);
  if (rc == 0) {
    int64_t n = root->kind == HK_J_ARRAY || root->kind == HK_J_OBJECT ? (int64_t)root->n
              : root->kind == HK_J_STR ? (int64_t)root->slen : 0;
    *out = hk_int(n);
  }
  hk_arena_free(&arena);
  return rc;
}
