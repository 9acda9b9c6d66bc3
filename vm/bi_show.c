/* bi_show.c — SPEC §5 value printing (see bi_show.h, vm/vm.h).
**
** The walk keeps an explicit stack of tasks: print a value, emit a fixed
** text, continue a list from a tail, or continue a tuple from a component.
** A list of any length uses one stack entry for its rest, so the stack grows
** only with nesting depth, never with length. */
#include "vm/bi_show.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_fmt.h"
#include "vm/builtins.h"
#include "vm/utf8.h"

typedef enum task_kind { T_VALUE, T_TEXT, T_LIST_REST, T_TUPLE_REST } task_kind_t;

typedef struct task {
  task_kind_t kind;
  uint32_t index;   /* T_TUPLE_REST: next component */
  hk_value_t v;     /* T_VALUE, T_LIST_REST (the tail), T_TUPLE_REST (the tuple) */
  const char *text; /* T_TEXT */
} task_t;

typedef struct tasks {
  task_t *items;
  size_t n, cap;
  task_t inline_items[32];
} tasks_t;

void *hk_show_stack_grow(void *items, size_t n, size_t *cap, const void *inl, size_t size) {
  size_t c = *cap * 2;
  void *p;
  if (items == inl) {
    p = malloc(c * size);
    if (p) memcpy(p, items, n * size);
  } else {
    p = realloc(items, c * size);
  }
  if (p) *cap = c;
  return p;
}

static bool push(tasks_t *s, task_t t) {
  if (s->n == s->cap) {
    task_t *p = hk_show_stack_grow(s->items, s->n, &s->cap, s->inline_items, sizeof *p);
    if (!p) return false;
    s->items = p;
  }
  s->items[s->n++] = t;
  return true;
}

static bool push_value(tasks_t *s, hk_value_t v) {
  return push(s, (task_t){.kind = T_VALUE, .v = v});
}
static bool push_text(tasks_t *s, const char *text) {
  return push(s, (task_t){.kind = T_TEXT, .text = text});
}

static void put_str(hk_buf_t *out, const char *s) { hk_buf_append(out, s, strlen(s)); }

static void put_number(hk_buf_t *out, const char *prefix, uint64_t n, const char *suffix) {
  char buf[64];
  int len = snprintf(buf, sizeof buf, "%s%llu%s", prefix, (unsigned long long)n, suffix);
  hk_buf_append(out, buf, (size_t)len);
}

static void put_builtin(hk_buf_t *out, uint64_t id, hk_native_name_fn native_name,
                        const void *ud) {
  const char *name = id < HK_B__COUNT ? hk_builtin_table[id].name
                     : native_name && id <= UINT32_MAX ? native_name(ud, (uint32_t)id)
                                                       : NULL;
  if (name) {
    put_str(out, "<builtin:");
    put_str(out, name);
    put_str(out, ">");
  } else {
    put_str(out, "<fn>"); /* a native of a registry that is not known here */
  }
}

/* Prints the scalar parts of [v] and pushes tasks for its components. */
static bool show_one(hk_value_t v, hk_ctor_name_fn ctor_name, hk_native_name_fn native_name,
                     const void *ud, hk_buf_t *out,
                     tasks_t *s, uint64_t *work) {
  char num[HK_FMT_FLOAT_MAX];
  switch ((hk_tag_t)v.tag) {
  case HK_T_INT: hk_buf_append(out, num, hk_fmt_int(v.as.i, num)); return true;
  case HK_T_FLOAT: hk_buf_append(out, num, hk_fmt_float(v.as.f, num)); return true;
  case HK_T_BOOL: put_str(out, v.as.u ? "true" : "false"); return true;
  case HK_T_CHAR: hk_buf_put_scalar(out, hk_utf8_is_scalar((int64_t)v.as.u) ? (uint32_t)v.as.u : HK_UTF8_REPLACEMENT); return true;
  case HK_T_UNIT: put_str(out, "()"); return true;
  case HK_T_NIL: put_str(out, "[]"); return true;
  case HK_T_DATA0: put_str(out, ctor_name(ud, (uint32_t)v.as.u)); return true;
  case HK_T_PID: put_number(out, "<pid ", v.as.u, ">"); return true;
  case HK_T_SOCKET: put_number(out, "<socket ", v.as.u, ">"); return true;
  case HK_T_BUILTIN: put_builtin(out, v.as.u, native_name, ud); return true;
  case HK_T_CTORFN:
  case HK_T_CLOSURE:
  case HK_T_PAP: put_str(out, "<fn>"); return true;
  case HK_T_CONT: put_str(out, "<continuation>"); return true;
  case HK_T_RNG: put_str(out, "<rng>"); return true;
  case HK_T_STRING:
    hk_buf_append(out, hk_str_data(v), hk_str_len(v));
    *work += hk_str_len(v);
    return true;
  case HK_T_BYTES: put_number(out, "<bytes:", hk_str_len(v), ">"); return true;
  case HK_T_TUPLE:
    put_str(out, "(");
    return push(s, (task_t){.kind = T_TUPLE_REST, .index = 1, .v = v}) &&
           push_value(s, hk_tuple_at(v, 0));
  case HK_T_CONS:
    put_str(out, "[");
    return push(s, (task_t){.kind = T_LIST_REST, .v = hk_tail(v)}) && push_value(s, hk_head(v));
  case HK_T_DATA: {
    put_str(out, ctor_name(ud, v.as.o->n));
    hk_value_t p = hk_as_data(v)->payload;
    if (p.tag == HK_T_DATA) {
      put_str(out, " (");
      return push_text(s, ")") && push_value(s, p);
    }
    put_str(out, " ");
    return push_value(s, p);
  }
  case HK_T_UNINIT:
  case HK_T__COUNT: break;
  }
  put_str(out, "<uninit>");
  return true;
}

/* Runs one task. Returns false when the stack could not grow. */
static bool step(task_t t, hk_ctor_name_fn ctor_name, hk_native_name_fn native_name,
                 const void *ud, hk_buf_t *out, tasks_t *s,
                 uint64_t *work) {
  switch (t.kind) {
  case T_VALUE: (*work)++; return show_one(t.v, ctor_name, native_name, ud, out, s, work);
  case T_TEXT: put_str(out, t.text); return true;
  case T_LIST_REST:
    if (t.v.tag != HK_T_CONS) {
      put_str(out, "]");
      return true;
    }
    put_str(out, ", ");
    return push(s, (task_t){.kind = T_LIST_REST, .v = hk_tail(t.v)}) &&
           push_value(s, hk_head(t.v));
  case T_TUPLE_REST:
    if (t.index >= hk_tuple_len(t.v)) {
      put_str(out, ")");
      return true;
    }
    put_str(out, ", ");
    return push(s, (task_t){.kind = T_TUPLE_REST, .index = t.index + 1, .v = t.v}) &&
           push_value(s, hk_tuple_at(t.v, t.index));
  }
  return true;
}

int hk_show_append(hk_value_t v, hk_ctor_name_fn ctor_name, hk_native_name_fn native_name,
                   const void *ud, hk_buf_t *out,
                   uint64_t *work) {
  tasks_t s;
  s.items = s.inline_items;
  s.n = 0;
  s.cap = sizeof s.inline_items / sizeof s.inline_items[0];
  bool ok = push_value(&s, v);
  while (ok && s.n > 0 && !out->failed) {
    task_t t = s.items[--s.n];
    ok = step(t, ctor_name, native_name, ud, out, &s, work);
  }
  if (s.items != s.inline_items) free(s.items);
  return ok && !out->failed ? 0 : -ENOMEM;
}
