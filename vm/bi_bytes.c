/* bi_bytes.c — bytes, randomness (SPEC §8.10). */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "vm/bi_blake3.h"
#include "vm/bi_core.h"

int hk_bi_bytes_length(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_bytes(arg)) return hk_bi_expected(vm, HK_B_bytes_length);
  *out = hk_int((int64_t)hk_str_len(arg));
  return 0;
}

int hk_bi_string_to_bytes(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_string_to_bytes);
  hk_vm_charge(vm, hk_str_len(arg));
  return hk_alloc_bytes(vm, hk_str_data(arg), hk_str_len(arg), out);
}

int hk_bi_bytes_to_string(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_bytes(arg)) return hk_bi_expected(vm, HK_B_bytes_to_string);
  hk_vm_charge(vm, hk_str_len(arg));
  return hk_bi_string_lossy(vm, hk_str_data(arg), hk_str_len(arg), out);
}

int hk_bi_bytes_get(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 2) || !hk_is_bytes(hk_tuple_at(arg, 0)) ||
      !hk_is_int(hk_tuple_at(arg, 1)))
    return hk_bi_expected(vm, HK_B_bytes_get);
  hk_value_t b = hk_tuple_at(arg, 0);
  int64_t i = hk_as_int(hk_tuple_at(arg, 1));
  if (i < 0) return hk_vm_fail(vm, "bytes_get: index must be non-negative, got %lld", (long long)i);
  if ((uint64_t)i >= hk_str_len(b))
    return hk_vm_fail(vm, "bytes_get: index %lld out of bounds (length %llu)", (long long)i,
                      (unsigned long long)hk_str_len(b));
  *out = hk_int((uint8_t)hk_str_data(b)[i]);
  return 0;
}

int hk_bi_bytes_slice(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 3) || !hk_is_bytes(hk_tuple_at(arg, 0)) ||
      !hk_is_int(hk_tuple_at(arg, 1)) || !hk_is_int(hk_tuple_at(arg, 2)))
    return hk_bi_expected(vm, HK_B_bytes_slice);
  hk_value_t b = hk_tuple_at(arg, 0);
  int64_t start = hk_as_int(hk_tuple_at(arg, 1)), len = hk_as_int(hk_tuple_at(arg, 2));
  if (start < 0)
    return hk_vm_fail(vm, "bytes_slice: start must be non-negative, got %lld", (long long)start);
  if (len < 0)
    return hk_vm_fail(vm, "bytes_slice: length must be non-negative, got %lld", (long long)len);
  uint64_t n = hk_str_len(b);
  uint64_t a = (uint64_t)start < n ? (uint64_t)start : n;
  uint64_t e = (uint64_t)len < n - a ? a + (uint64_t)len : n;
  hk_vm_charge(vm, e - a);
  return hk_alloc_bytes(vm, hk_str_data(b) + a, (size_t)(e - a), out);
}

int hk_bi_random_bytes(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_int(arg)) return hk_bi_expected(vm, HK_B_random_bytes);
  int64_t n = hk_as_int(arg);
  if (n < 0) return hk_vm_fail(vm, "random_bytes: length must be non-negative");
  char *data;
  int rc = hk_alloc_bytes_raw(vm, (size_t)n, out, &data);
  if (rc < 0) return rc;
  hk_vm_charge(vm, (uint64_t)n);
  for (size_t got = 0; got < (size_t)n;) {
    ssize_t r = getrandom(data + got, (size_t)n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return hk_bi_fail_errno(vm, HK_B_random_bytes, errno);
    }
    got += (size_t)r;
  }
  return 0;
}

/* ---- PCG32 ----------------------------------------------------------------- */

int hk_bi_rng_seed(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_bytes(arg)) return hk_bi_expected(vm, HK_B_rng_seed);
  hk_pcg32_t g;
  hk_pcg32_seed(&g, (const uint8_t *)hk_str_data(arg), hk_str_len(arg));
  hk_vm_charge(vm, hk_str_len(arg));
  return hk_alloc_rng(vm, g.state, g.inc, out);
}

static bool rng_arg(hk_value_t arg) {
  return hk_bi_is_tuple(arg, 2) && hk_tuple_at(arg, 0).tag == HK_T_RNG &&
         hk_is_int(hk_tuple_at(arg, 1));
}

/* Returns (first, the advanced generator) as a pair. */
static int pair_with_rng(hk_vm_t *vm, hk_value_t first, const hk_pcg32_t *g, hk_value_t *out) {
  hk_value_t items[2] = {first, hk_unit()};
  int rc = hk_alloc_rng(vm, g->state, g->inc, &items[1]);
  if (rc < 0) return rc;
  return hk_alloc_tuple(vm, 2, items, out);
}

int hk_bi_rng_bytes(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!rng_arg(arg)) return hk_bi_expected(vm, HK_B_rng_bytes);
  hk_rng_t *r = hk_as_rng(hk_tuple_at(arg, 0));
  int64_t n = hk_as_int(hk_tuple_at(arg, 1));
  if (n < 0) return hk_vm_fail(vm, "rng_bytes: expected non-negative Int");
  hk_pcg32_t g = {r->state, r->inc};
  hk_value_t b;
  char *data;
  int rc = hk_alloc_bytes_raw(vm, (size_t)n, &b, &data);
  if (rc < 0) return rc;
  hk_vm_charge(vm, (uint64_t)n);
  for (size_t i = 0; i < (size_t)n; i += 4) {
    uint32_t x = hk_pcg32_next(&g);
    for (size_t k = 0; k < 4 && i + k < (size_t)n; k++) data[i + k] = (char)(x >> (8 * k));
  }
  return pair_with_rng(vm, b, &g, out);
}

int hk_bi_rng_int(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!rng_arg(arg)) return hk_bi_expected(vm, HK_B_rng_int);
  hk_rng_t *r = hk_as_rng(hk_tuple_at(arg, 0));
  int64_t bound = hk_as_int(hk_tuple_at(arg, 1));
  if (bound <= 0) return hk_vm_fail(vm, "rng_int: bound must be positive");
  hk_pcg32_t g = {r->state, r->inc};
  uint32_t x = hk_pcg32_next(&g);
  return pair_with_rng(vm, hk_int((int64_t)x % bound), &g, out);
}

int hk_bi_blake3(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_bytes(arg)) return hk_bi_expected(vm, HK_B_blake3);
  static const char hex[] = "0123456789abcdef";
  uint8_t h[32];
  hk_blake3(hk_str_data(arg), hk_str_len(arg), h);
  hk_vm_charge(vm, hk_str_len(arg));
  char text[64];
  for (int i = 0; i < 32; i++) {
    text[2 * i] = hex[h[i] >> 4];
    text[2 * i + 1] = hex[h[i] & 15];
  }
  return hk_alloc_string(vm, text, sizeof text, out);
}
