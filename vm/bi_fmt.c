/* bi_fmt.c — shortest round-trip float formatting (see bi_fmt.h).
**
** The C library's printf rounds correctly and strtod reads correctly, so the
** shortest digit string is found by trying precisions. With at most 15
** significant digits, the precision step (≥ 5e-15 relative) exceeds a
** double's rounding interval (≤ 1.2e-16 relative), so if any string of
** ≤ 15 digits reads back as x it is the 15-digit rounding with its trailing
** zeros stripped. At 16 digits the rounding interval can be asymmetric (x a
** power of two), so the correctly rounded string and its two neighbours are
** tried, closest first. 17 digits always read back. */
#include "vm/bi_fmt.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits "d.ddde±X" (from %.*e) into digits and the exponent of 0.ddd form. */
static int split_sci(const char *buf, char digits[20], int *e) {
  int n = 0;
  const char *p = buf;
  for (; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9') digits[n++] = *p;
  digits[n] = 0;
  *e = atoi(p + 1) + 1;
  while (n > 1 && digits[n - 1] == '0') digits[--n] = 0;
  return n;
}

static double read_back(const char *digits, int e) {
  char buf[48];
  size_t n = strlen(digits), o = 0;
  buf[o++] = '0';
  buf[o++] = '.';
  memcpy(buf + o, digits, n);
  o += n;
  buf[o++] = 'e';
  if (e < 0) {
    buf[o++] = '-';
    e = -e;
  }
  char rev[8];
  int k = 0;
  do rev[k++] = (char)('0' + e % 10), e /= 10; while (e > 0);
  while (k > 0) buf[o++] = rev[--k];
  buf[o] = 0;
  return strtod(buf, NULL);
}

/* Adds [delta] (±1) to the last of the 16 digits of [d]; returns false when
** the result changes the digit count (carry out or leading zero). */
static bool bump16(char d[20], int delta) {
  int i = 15;
  if (delta > 0) {
    while (i >= 0 && d[i] == '9') d[i--] = '0';
    if (i < 0) return false;
    d[i]++;
  } else {
    while (i >= 0 && d[i] == '0') d[i--] = '9';
    if (i < 0) return false;
    d[i]--;
    if (d[0] == '0') return false;
  }
  return true;
}

static int try16(double x, char digits[20], int *e) {
  char buf[48], base[20];
  snprintf(buf, sizeof buf, "%.15e", x);
  int n = 0;
  for (const char *p = buf; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9') base[n++] = *p;
  base[n] = 0;
  int ex = atoi(strchr(buf, 'e') + 1) + 1;
  if (read_back(base, ex) == x) {
    memcpy(digits, base, 17);
    *e = ex;
    return 16;
  }
  /* The neighbours: the closer one first. */
  char up[20], down[20];
  memcpy(up, base, 17);
  memcpy(down, base, 17);
  bool up_ok = bump16(up, +1), down_ok = bump16(down, -1);
  double vu = up_ok ? read_back(up, ex) : 0, vd = down_ok ? read_back(down, ex) : 0;
  bool u = up_ok && vu == x, d = down_ok && vd == x;
  if (!u && !d) return 0;
  char tmp[48];
  snprintf(tmp, sizeof tmp, "0.%se%d", up, ex);
  long double du = fabsl(strtold(tmp, NULL) - (long double)x);
  snprintf(tmp, sizeof tmp, "0.%se%d", down, ex);
  long double dd = fabsl(strtold(tmp, NULL) - (long double)x);
  const char *pick = (u && (!d || du <= dd)) ? up : down;
  memcpy(digits, pick, 17);
  *e = ex;
  return 16;
}

/* Subnormals have a fixed absolute spacing, so their rounding interval is
** symmetric and wide: take the first precision whose correctly rounded
** string reads back (a closer string of the same length cannot exist). */
static int subnormal_digits(double x, char digits[20], int *e) {
  char buf[48];
  int n = 0;
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*e", p - 1, x);
    n = split_sci(buf, digits, e);
    if (read_back(digits, *e) == x) break;
  }
  return n;
}

/* Integers below 2^53 are exact: their decimal digits are the answer. */
static int integer_digits(double x, char digits[20], int *e) {
  char buf[24];
  uint64_t v = (uint64_t)x;
  int n = 0;
  do buf[n++] = (char)('0' + v % 10), v /= 10; while (v > 0);
  *e = n;
  int k = 0;
  while (k < n && buf[k] == '0') k++; /* trailing zeros of the number */
  int len = 0;
  for (int i = n - 1; i >= k; i--) digits[len++] = buf[i];
  digits[len] = 0;
  return len;
}

int hk_fmt_float_digits(double x, char digits[20], int *e) {
  char buf[48];
  x = fabs(x);
  if (x < 9007199254740992.0 && x >= 1.0 && x == (double)(uint64_t)x)
    return integer_digits(x, digits, e);
  if (x < DBL_MIN) return subnormal_digits(x, digits, e);
  snprintf(buf, sizeof buf, "%.14e", x);
  int n = split_sci(buf, digits, e);
  if (read_back(digits, *e) == x) return n;
  n = try16(x, digits, e);
  if (n) {
    while (n > 1 && digits[n - 1] == '0') digits[--n] = 0;
    return n;
  }
  snprintf(buf, sizeof buf, "%.16e", x);
  return split_sci(buf, digits, e);
}

size_t hk_fmt_float(double x, char out[HK_FMT_FLOAT_MAX]) {
  if (isnan(x)) return (size_t)snprintf(out, HK_FMT_FLOAT_MAX, "NaN");
  if (isinf(x)) return (size_t)snprintf(out, HK_FMT_FLOAT_MAX, x > 0 ? "inf" : "-inf");
  if (x == 0) return (size_t)snprintf(out, HK_FMT_FLOAT_MAX, signbit(x) ? "-0" : "0");
  char d[20];
  int e;
  int n = hk_fmt_float_digits(x, d, &e);
  size_t o = 0;
  if (x < 0) out[o++] = '-';
  if (e <= 0) {
    out[o++] = '0';
    out[o++] = '.';
    for (int i = 0; i < -e; i++) out[o++] = '0';
    for (int i = 0; i < n; i++) out[o++] = d[i];
  } else if (e < n) {
    for (int i = 0; i < e; i++) out[o++] = d[i];
    out[o++] = '.';
    for (int i = e; i < n; i++) out[o++] = d[i];
  } else {
    for (int i = 0; i < n; i++) out[o++] = d[i];
    for (int i = n; i < e; i++) out[o++] = '0';
  }
  out[o] = 0;
  return o;
}

size_t hk_fmt_float_json(double x, char out[HK_FMT_FLOAT_MAX]) {
  if (x == 0) return (size_t)snprintf(out, HK_FMT_FLOAT_MAX, signbit(x) ? "-0.0" : "0.0");
  char d[20];
  int e;
  int n = hk_fmt_float_digits(x, d, &e);
  size_t o = 0;
  if (x < 0) out[o++] = '-';
  if (n <= e && e <= 16) {
    for (int i = 0; i < n; i++) out[o++] = d[i];
    for (int i = n; i < e; i++) out[o++] = '0';
    out[o++] = '.';
    out[o++] = '0';
  } else if (0 < e && e <= 16) {
    for (int i = 0; i < e; i++) out[o++] = d[i];
    out[o++] = '.';
    for (int i = e; i < n; i++) out[o++] = d[i];
  } else if (-5 < e && e <= 0) {
    out[o++] = '0';
    out[o++] = '.';
    for (int i = 0; i < -e; i++) out[o++] = '0';
    for (int i = 0; i < n; i++) out[o++] = d[i];
  } else {
    out[o++] = d[0];
    if (n > 1) {
      out[o++] = '.';
      for (int i = 1; i < n; i++) out[o++] = d[i];
    }
    o += (size_t)snprintf(out + o, HK_FMT_FLOAT_MAX - o, "e%d", e - 1);
  }
  out[o] = 0;
  return o;
}

size_t hk_fmt_int(int64_t v, char out[HK_FMT_INT_MAX]) {
  return (size_t)snprintf(out, HK_FMT_INT_MAX, "%lld", (long long)v);
}
