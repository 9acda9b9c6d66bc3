/* bi_core.c — helpers shared by the builtins (see bi_core.h). */
#include "vm/bi_core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_show.h"
#include "vm/utf8.h"

void hk_bi_shape(hk_builtin_id_t id, char *out, size_t cap) {
  const char *t = hk_builtin_table[id].type;
  int depth = 0;
  size_t end = strlen(t);
  for (size_t i = 0; t[i]; i++) {
    if (t[i] == '(') depth++;
    else if (t[i] == ')') depth--;
    else if (depth == 0 && t[i] == '-' && t[i + 1] == '>') {
      end = i;
      break;
    }
  }
  while (end > 0 && t[end - 1] == ' ') end--;
  if (end >= cap) end = cap - 1;
  memcpy(out, t, end);
  out[end] = 0;
}

int hk_bi_expected(hk_vm_t *vm, hk_builtin_id_t id) {
  char shape[128];
  hk_bi_shape(id, shape, sizeof shape);
  return hk_vm_fail(vm, "%s: expected %s", hk_builtin_table[id].name, shape);
}

int hk_bi_fail_errno(hk_vm_t *vm, hk_builtin_id_t id, int err) {
  return hk_vm_fail(vm, "%s: %s", hk_builtin_table[id].name, strerror(err));
}

int hk_bi_string_lossy(hk_vm_t *vm, const char *bytes, size_t len, hk_value_t *out) {
  const uint8_t *s = (const uint8_t *)bytes;
  if (hk_utf8_valid(s, len)) return hk_alloc_string(vm, bytes, len, out);
  size_t n = hk_utf8_sanitized_len(s, len);
  char *data;
  int rc = hk_alloc_string_raw(vm, n, out, &data);
  if (rc < 0) return rc;
  hk_utf8_sanitize(s, len, (uint8_t *)data);
  return 0;
}

int hk_bi_from_buf(hk_vm_t *vm, hk_buf_t *b, bool bytes, hk_value_t *out) {
  if (b->failed) {
    hk_buf_free(b);
    return hk_vm_fail(vm, "out of memory");
  }
  const char *data = b->data ? (const char *)b->data : "";
  int rc = bytes ? hk_alloc_bytes(vm, data, b->len, out) : hk_alloc_string(vm, data, b->len, out);
  hk_buf_free(b);
  return rc;
}

int hk_bi_string_list(hk_vm_t *vm, const char *base, const size_t *off, const size_t *len,
                      size_t n, hk_value_t *out) {
  hk_value_t list = hk_nil();
  for (size_t i = n; i-- > 0;) {
    hk_value_t s;
    int rc = hk_alloc_string(vm, base + off[i], len[i], &s);
    if (rc < 0) return rc;
    rc = hk_alloc_cons(vm, s, list, &list);
    if (rc < 0) return rc;
  }
  *out = list;
  return 0;
}

int hk_bi_show_into(hk_vm_t *vm, hk_value_t v, hk_buf_t *b) {
  uint64_t work = 0;
  int rc = hk_show_append(v, hk_vm_show_ctor_name, hk_vm_show_native_name, vm, b, &work);
  hk_vm_charge(vm, work);
  return rc;
}
