/* bi_string.c — string builtins (SPEC §8.4). Lengths and indices count
** scalars; every result is valid UTF-8 because every input is and every cut
** falls on a scalar boundary. Work charged: the bytes scanned. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_core.h"
#include "vm/bi_unicode.h"
#include "vm/utf8.h"

#define S(v) ((const uint8_t *)hk_str_data(v))

/* Checks a tuple of Strings (and Ints where [ints] has a 1 bit). */
static bool tuple_of(hk_value_t v, uint32_t n, unsigned ints) {
  if (!hk_bi_is_tuple(v, n)) return false;
  for (uint32_t i = 0; i < n; i++) {
    hk_value_t c = hk_tuple_at(v, i);
    if ((ints >> i) & 1 ? !hk_is_int(c) : !hk_is_string(c)) return false;
  }
  return true;
}

/* Strings shorter than this are scanned from their start; longer ones use
** the process's cursor (hk_strpos_t). */
#define STRPOS_MIN 64

/* Moves the cursor of [obj] to the front of [c] (HK_STRPOS_WAYS entries, most
** recently used first); without one, the least recently used is set to
** [obj]'s start and moved there. Out of line: a hit at the front is usual. */
static __attribute__((noinline)) hk_strpos_t *strpos_miss(hk_strpos_t *c, const void *obj) {
  int i = 1;
  while (i < HK_STRPOS_WAYS - 1 && c[i].obj != obj) i++;
  hk_strpos_t found = c[i];
  if (found.obj != obj) found = (hk_strpos_t){obj, 0, 0, UINT64_MAX};
  memmove(c + 1, c, (size_t)i * sizeof *c);
  c[0] = found;
  return c;
}

/* [vm]'s cursor for string [str] of [n] bytes, or NULL (short string, out of
** memory). */
static inline hk_strpos_t *strpos_for(hk_vm_t *vm, hk_value_t str, size_t n) {
  if (n < STRPOS_MIN) return NULL;
  hk_strpos_t *c = hk_vm_strpos(vm);
  if (!c) return NULL;
  const void *obj = hk_as_string(str);
  return c[0].obj == obj ? c : strpos_miss(c, obj);
}

int hk_bi_string_length(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_string_length);
  size_t n = hk_str_len(arg);
  hk_vm_charge(vm, n);
  hk_strpos_t *c = strpos_for(vm, arg, n);
  uint64_t count = c && c->count != UINT64_MAX ? c->count : hk_utf8_count(S(arg), n);
  if (c) c->count = count;
  *out = hk_int((int64_t)count);
  return 0;
}

/* Advances over up to [count] scalars from byte [i]; returns the new byte
** offset and sets *got to the scalars passed. */
static size_t skip_scalars(const uint8_t *s, size_t n, size_t i, uint64_t count, uint64_t *got) {
  uint64_t k = 0;
  while (k < count && i < n) {
    i++;
    while (i < n && (s[i] & 0xC0) == 0x80) i++;
    k++;
  }
  *got = k;
  return i;
}

/* The byte offset of scalar [start] (or of the end, with *got < start),
** from the cursor [c] when it is nearer than the string's start. */
static size_t scalar_offset(const hk_strpos_t *c, const uint8_t *s, size_t n, uint64_t start,
                            uint64_t *got) {
  if (c && start >= c->scalar) {
    size_t i = skip_scalars(s, n, (size_t)c->byte, start - c->scalar, got);
    *got += c->scalar;
    return i;
  }
  if (c && c->scalar - start < start) { /* back from the cursor */
    size_t i = (size_t)c->byte;
    for (uint64_t k = c->scalar; k > start; k--) {
      i--;
      while ((s[i] & 0xC0) == 0x80) i--;
    }
    *got = start;
    return i;
  }
  return skip_scalars(s, n, 0, start, got);
}

int hk_bi_substring(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!tuple_of(arg, 3, 6)) return hk_bi_expected(vm, HK_B_substring);
  hk_value_t str = hk_tuple_at(arg, 0);
  int64_t start = hk_as_int(hk_tuple_at(arg, 1)), len = hk_as_int(hk_tuple_at(arg, 2));
  if (start < 0) return hk_vm_fail(vm, "substring: negative start index");
  if (len < 0) return hk_vm_fail(vm, "substring: negative length");
  const uint8_t *s = S(str);
  size_t n = hk_str_len(str);
  hk_strpos_t *c = strpos_for(vm, str, n);
  uint64_t got;
  size_t a = scalar_offset(c, s, n, (uint64_t)start, &got);
  if (len == 0) return hk_alloc_string(vm, "", 0, out);
  if (got < (uint64_t)start) return hk_vm_fail(vm, "substring: out of bounds");
  size_t b = skip_scalars(s, n, a, (uint64_t)len, &got);
  /* Charged as a scan from the start, with or without the cursor, so the
  ** reductions (and fuel) do not depend on it. */
  hk_vm_charge(vm, b);
  if (got < (uint64_t)len) return hk_vm_fail(vm, "substring: out of bounds");
  if (c) {
    c->scalar = (uint64_t)start + (uint64_t)len;
    c->byte = b;
  }
  return hk_alloc_string(vm, (const char *)s + a, b - a, out);
}

int hk_bi_string_contains(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!tuple_of(arg, 2, 0)) return hk_bi_expected(vm, HK_B_string_contains);
  hk_value_t h = hk_tuple_at(arg, 0), nd = hk_tuple_at(arg, 1);
  hk_vm_charge(vm, hk_str_len(h));
  *out = hk_bool(hk_text_find(S(h), hk_str_len(h), S(nd), hk_str_len(nd), 0) >= 0);
  return 0;
}

int hk_bi_trim(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_trim);
  size_t a, b;
  hk_text_trim(S(arg), hk_str_len(arg), &a, &b);
  hk_vm_charge(vm, hk_str_len(arg));
  if (a == 0 && b == hk_str_len(arg)) {
    *out = arg;
    return 0;
  }
  return hk_alloc_string(vm, hk_str_data(arg) + a, b - a, out);
}

/* Growable arrays of piece offsets and lengths. */
typedef struct pieces {
  size_t *off, *len;
  size_t n, cap;
} pieces_t;

static bool add_piece(pieces_t *p, size_t off, size_t len) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    size_t *o = realloc(p->off, cap * sizeof *o);
    if (!o) return false;
    p->off = o;
    size_t *l = realloc(p->len, cap * sizeof *l);
    if (!l) return false;
    p->len = l;
    p->cap = cap;
  }
  p->off[p->n] = off;
  p->len[p->n++] = len;
  return true;
}

static bool split_pieces(const uint8_t *s, size_t n, const uint8_t *sep, size_t sn, pieces_t *p) {
  if (sn == 0) {
    if (!add_piece(p, 0, 0)) return false;
    for (size_t i = 0; i < n;) {
      size_t len;
      hk_utf8_decode_valid(s + i, &len);
      if (!add_piece(p, i, len)) return false;
      i += len;
    }
    return add_piece(p, n, 0);
  }
  size_t i = 0;
  for (;;) {
    int64_t at = hk_text_find(s, n, sep, sn, i);
    if (at < 0) break;
    if (!add_piece(p, i, (size_t)at - i)) return false;
    i = (size_t)at + sn;
  }
  return add_piece(p, i, n - i);
}

int hk_bi_split(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!tuple_of(arg, 2, 0)) return hk_bi_expected(vm, HK_B_split);
  hk_value_t str = hk_tuple_at(arg, 0), sep = hk_tuple_at(arg, 1);
  pieces_t p = {0};
  int rc;
  if (!split_pieces(S(str), hk_str_len(str), S(sep), hk_str_len(sep), &p)) {
    rc = hk_vm_fail(vm, "out of memory");
  } else {
    hk_vm_charge(vm, hk_str_len(str) + p.n);
    rc = hk_bi_string_list(vm, hk_str_data(str), p.off, p.len, p.n, out);
  }
  free(p.off);
  free(p.len);
  return rc;
}

int hk_bi_string_replace(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!tuple_of(arg, 3, 0)) return hk_bi_expected(vm, HK_B_string_replace);
  hk_value_t s = hk_tuple_at(arg, 0), from = hk_tuple_at(arg, 1), to = hk_tuple_at(arg, 2);
  hk_buf_t b;
  hk_buf_init(&b);
  hk_text_replace(S(s), hk_str_len(s), S(from), hk_str_len(from), S(to), hk_str_len(to), &b);
  hk_vm_charge(vm, hk_str_len(s) + b.len);
  return hk_bi_from_buf(vm, &b, false, out);
}

int hk_bi_starts_with(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!tuple_of(arg, 2, 0)) return hk_bi_expected(vm, HK_B_starts_with);
  hk_value_t s = hk_tuple_at(arg, 0), p = hk_tuple_at(arg, 1);
  size_t n = hk_str_len(s), pn = hk_str_len(p);
  hk_vm_charge(vm, pn);
  *out = hk_bool(pn <= n && memcmp(hk_str_data(s), hk_str_data(p), pn) == 0);
  return 0;
}

int hk_bi_ends_with(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!tuple_of(arg, 2, 0)) return hk_bi_expected(vm, HK_B_ends_with);
  hk_value_t s = hk_tuple_at(arg, 0), p = hk_tuple_at(arg, 1);
  size_t n = hk_str_len(s), pn = hk_str_len(p);
  hk_vm_charge(vm, pn);
  *out = hk_bool(pn <= n && memcmp(hk_str_data(s) + n - pn, hk_str_data(p), pn) == 0);
  return 0;
}

static int case_map(hk_vm_t *vm, hk_value_t arg, bool upper, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, upper ? HK_B_to_upper : HK_B_to_lower);
  size_t n = hk_str_len(arg);
  size_t len = hk_unicode_case_string(S(arg), n, upper, NULL);
  hk_vm_charge(vm, n + len);
  char *data;
  int rc = hk_alloc_string_raw(vm, len, out, &data);
  if (rc < 0) return rc;
  hk_unicode_case_string(S(arg), n, upper, (uint8_t *)data);
  return 0;
}

int hk_bi_to_upper(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  return case_map(vm, arg, true, out);
}

int hk_bi_to_lower(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  return case_map(vm, arg, false, out);
}

int hk_bi_string_join(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 2) || !hk_is_list(hk_tuple_at(arg, 0)) ||
      !hk_is_string(hk_tuple_at(arg, 1)))
    return hk_bi_expected(vm, HK_B_string_join);
  hk_value_t list = hk_tuple_at(arg, 0), sep = hk_tuple_at(arg, 1);
  size_t sn = hk_str_len(sep), total = 0, count = 0;
  for (hk_value_t l = list; l.tag == HK_T_CONS; l = hk_tail(l)) {
    if (!hk_is_string(hk_head(l))) return hk_bi_expected(vm, HK_B_string_join);
    total += hk_str_len(hk_head(l)) + (count ? sn : 0);
    count++;
  }
  hk_vm_charge(vm, total + count);
  char *data;
  int rc = hk_alloc_string_raw(vm, total, out, &data);
  if (rc < 0) return rc;
  size_t o = 0;
  bool first = true;
  for (hk_value_t l = list; l.tag == HK_T_CONS; l = hk_tail(l)) {
    if (!first) {
      memcpy(data + o, hk_str_data(sep), sn);
      o += sn;
    }
    first = false;
    memcpy(data + o, hk_str_data(hk_head(l)), hk_str_len(hk_head(l)));
    o += hk_str_len(hk_head(l));
  }
  return 0;
}
