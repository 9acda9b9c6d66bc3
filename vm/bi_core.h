/* bi_core.h — shared helpers and the entry points of the builtins of
** SPEC §8 implemented in vm/bi_*.c. Each builtin has the signature
** hk_builtin_fn of vm/vm.h and is listed in hk_builtin_fns (bi_table.c).
** Thread: the owner of [vm] (the worker running the process). */
#ifndef HK_BI_CORE_H
#define HK_BI_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/bi_text.h"
#include "vm/builtins.h"
#include "vm/vm.h"

/* Records "NAME: expected SHAPE" (SPEC §8.1.3; SHAPE is the argument type of
** vm/builtins.def, e.g. "String * Int * Int"). Returns HK_EFAIL. */
int hk_bi_expected(hk_vm_t *vm, hk_builtin_id_t id);
/* Records "NAME: STRERROR" for errno value [err] (positive). Returns HK_EFAIL. */
int hk_bi_fail_errno(hk_vm_t *vm, hk_builtin_id_t id, int err);
/* Writes the argument part of builtin [id]'s type into [out] (cap bytes). */
void hk_bi_shape(hk_builtin_id_t id, char *out, size_t cap);

/* A String from [len] bytes of any content, each maximal invalid UTF-8
** subpart replaced with U+FFFD. Returns 0 or -ENOMEM (recorded). */
int hk_bi_string_lossy(hk_vm_t *vm, const char *bytes, size_t len, hk_value_t *out);
/* A String (or Bytes when [bytes]) from a buffer; frees the buffer. A failed
** buffer records "out of memory". Returns 0 or a negative code. */
int hk_bi_from_buf(hk_vm_t *vm, hk_buf_t *b, bool bytes, hk_value_t *out);

/* A list of Strings from [n] byte ranges of [base]: piece i is
** base[off[i] .. off[i] + len[i]). Returns 0 or -ENOMEM (recorded). */
int hk_bi_string_list(hk_vm_t *vm, const char *base, const size_t *off, const size_t *len,
                      size_t n, hk_value_t *out);

/* Tests: a tuple of exactly [n] components. */
static inline bool hk_bi_is_tuple(hk_value_t v, uint32_t n) {
  return v.tag == HK_T_TUPLE && hk_tuple_len(v) == n;
}

/* The show text of a value, appended to [b], charging the work. Returns 0 or
** -ENOMEM. */
int hk_bi_show_into(hk_vm_t *vm, hk_value_t v, hk_buf_t *b);

/* Entry points, by builtin name. */
#define HK_BI_IMPLEMENTED(X) \
  X(print) X(println) X(getenv) X(args) \
  X(int_to_string) X(float_to_string) X(string_to_int) X(char_to_int) X(int_to_char) \
  X(int_to_float) \
  X(string_length) X(substring) X(string_contains) X(trim) X(split) X(string_replace) \
  X(starts_with) X(ends_with) X(to_upper) X(to_lower) X(string_join) \
  X(sqrt) X(abs_float) X(abs_int) X(floor) X(ceil) \
  X(bytes_length) X(string_to_bytes) X(bytes_to_string) X(bytes_get) X(bytes_slice) \
  X(blake3) X(random_bytes) X(rng_seed) X(rng_bytes) X(rng_int) \
  X(json_parse) X(json_to_string) X(json_get) X(json_keys) X(json_length) \
  X(file_exists) X(is_dir) X(is_file) X(list_dir) X(remove_file) X(create_dir) X(path_join) \
  X(glob) X(walk_dir) X(read_file_tagged) X(edit_file_tagged) X(regex_match) X(regex_replace) \
  X(epoch) X(epoch_ms) X(monotonic_ms) \
  X(exit) X(panic) X(assert) X(assert_eq)

#define HK_BI_DECLARE(name) int hk_bi_##name(hk_vm_t *vm, hk_value_t arg, hk_value_t *out);
HK_BI_IMPLEMENTED(HK_BI_DECLARE)
#undef HK_BI_DECLARE

/* PCG32 (SPEC §8.10), exposed for tests. */
typedef struct hk_pcg32 { uint64_t state, inc; } hk_pcg32_t;
void hk_pcg32_seed(hk_pcg32_t *g, const uint8_t *seed, size_t n);
uint32_t hk_pcg32_next(hk_pcg32_t *g);

#endif
