/* bi_sys.c — output and environment (SPEC §8.2), time (§8.11), system and
** testing (§8.12). */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vm/bi_core.h"
#include "vm/bi_show.h"

/* print and println: show(v) (plus "\n") written as one unit. A String is
** written without copying. */
static int print_value(hk_vm_t *vm, hk_builtin_id_t id, hk_value_t v, bool newline,
                       hk_value_t *out) {
  int rc;
  if (v.tag == HK_T_STRING && !newline) {
    hk_vm_charge(vm, hk_str_len(v));
    rc = hk_vm_write(vm, 1, hk_str_data(v), hk_str_len(v));
  } else {
    hk_buf_t b;
    hk_buf_init(&b);
    if (hk_bi_show_into(vm, v, &b) < 0 || (newline && (hk_buf_putc(&b, '\n'), b.failed))) {
      hk_buf_free(&b);
      return hk_vm_fail(vm, "out of memory");
    }
    rc = hk_vm_write(vm, 1, b.data ? (const char *)b.data : "", b.len);
    hk_buf_free(&b);
  }
  if (rc < 0) return hk_bi_fail_errno(vm, id, -rc);
  *out = hk_unit();
  return 0;
}

int hk_bi_print(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  return print_value(vm, HK_B_print, arg, false, out);
}

int hk_bi_println(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  return print_value(vm, HK_B_println, arg, true, out);
}

int hk_bi_getenv(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_getenv);
  const char *name = hk_str_data(arg);
  size_t n = hk_str_len(arg);
  /* Empty, containing '=' or a NUL: unset. */
  const char *value = NULL;
  if (n > 0 && !memchr(name, '=', n) && strlen(name) == n) value = getenv(name);
  if (!value) value = "";
  return hk_bi_string_lossy(vm, value, strlen(value), out);
}

int hk_bi_args(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_unit(arg)) return hk_bi_expected(vm, HK_B_args);
  const hk_host_t *host = hk_vm_host(vm);
  hk_value_t list = hk_nil();
  for (size_t i = host ? host->argc : 0; i-- > 0;) {
    hk_value_t s;
    const char *a = host->argv[i] ? host->argv[i] : "";
    int rc = hk_bi_string_lossy(vm, a, strlen(a), &s);
    if (rc < 0) return rc;
    if ((rc = hk_alloc_cons(vm, s, list, &list)) < 0) return rc;
  }
  *out = list;
  return 0;
}

/* ---- §8.11 time ---------------------------------------------------------- */

static int64_t clock_ms(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hk_bi_epoch(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_unit(arg)) return hk_bi_expected(vm, HK_B_epoch);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  *out = hk_int((int64_t)ts.tv_sec);
  return 0;
}

int hk_bi_epoch_ms(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_unit(arg)) return hk_bi_expected(vm, HK_B_epoch_ms);
  *out = hk_int(clock_ms(CLOCK_REALTIME));
  return 0;
}

/* The process-wide base of monotonic_ms when the host has no clock: set by
** the first call (compare-exchange; relaxed is enough, the value is the
** only data shared). */
static _Atomic int64_t mono_base = -1;

int hk_bi_monotonic_ms(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_unit(arg)) return hk_bi_expected(vm, HK_B_monotonic_ms);
  const hk_host_t *host = hk_vm_host(vm);
  if (host && host->monotonic_ms) {
    *out = hk_int(host->monotonic_ms(host->ud));
    return 0;
  }
  int64_t now = clock_ms(CLOCK_MONOTONIC), expected = -1;
  if (atomic_compare_exchange_strong_explicit(&mono_base, &expected, now, memory_order_relaxed,
                                              memory_order_relaxed))
    expected = now;
  *out = hk_int(now - expected);
  return 0;
}

/* ---- §8.12 system and testing --------------------------------------------- */

int hk_bi_exit(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  (void)out;
  if (!hk_is_int(arg)) return hk_bi_expected(vm, HK_B_exit);
  const hk_host_t *host = hk_vm_host(vm);
  if (!host || !host->allow_exit) return hk_vm_fail(vm, "exit: not allowed");
  int64_t n = hk_as_int(arg);
  return hk_vm_exit(vm, n >= INT_MIN && n <= INT_MAX ? (int)n : (int)(n & 255));
}

int hk_bi_panic(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  (void)out;
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_panic);
  return hk_vm_fail(vm, "%s", hk_str_data(arg));
}

int hk_bi_assert(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 2) || !hk_is_bool(hk_tuple_at(arg, 0)) ||
      !hk_is_string(hk_tuple_at(arg, 1)))
    return hk_bi_expected(vm, HK_B_assert);
  if (!hk_as_bool(hk_tuple_at(arg, 0)))
    return hk_vm_fail(vm, "assertion failed: %s", hk_str_data(hk_tuple_at(arg, 1)));
  *out = hk_unit();
  return 0;
}

int hk_bi_assert_eq(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 3) || !hk_is_string(hk_tuple_at(arg, 2)))
    return hk_bi_expected(vm, HK_B_assert_eq);
  hk_value_t actual = hk_tuple_at(arg, 0), expected = hk_tuple_at(arg, 1);
  int eq = hk_value_equal(vm, actual, expected);
  if (eq < 0) return hk_vm_fail(vm, "out of memory");
  if (eq) {
    *out = hk_unit();
    return 0;
  }
  hk_buf_t e, a;
  hk_buf_init(&e);
  hk_buf_init(&a);
  int rc;
  if (hk_bi_show_into(vm, expected, &e) < 0 || hk_bi_show_into(vm, actual, &a) < 0) {
    rc = hk_vm_fail(vm, "out of memory");
  } else {
    rc = hk_vm_fail(vm, "assertion failed: %s: expected %.*s, got %.*s",
                    hk_str_data(hk_tuple_at(arg, 2)), (int)e.len, e.data ? (char *)e.data : "",
                    (int)a.len, a.data ? (char *)a.data : "");
  }
  hk_buf_free(&e);
  hk_buf_free(&a);
  return rc;
}
