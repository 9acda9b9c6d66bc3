/* bi_fmt.h — number formatting shared by show (SPEC §5) and the JSON
** builtins (SPEC §8.9). Thread: any (no shared state). */
#ifndef HK_BI_FMT_H
#define HK_BI_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Longest text hk_fmt_float writes (the smallest subnormal needs 326
** characters), plus room for a NUL. */
#define HK_FMT_FLOAT_MAX 400
#define HK_FMT_INT_MAX 24

/* Finds the shortest decimal digits d1…dn (d1 ≠ 0, dn ≠ 0, n ≤ 17) and
** exponent e with 0.d1…dn × 10^e rounding to |x| (the closest such string
** when several qualify). x must be finite and non-zero. Writes the digits
** (ASCII, NUL-terminated) to [digits] and e to *e. Returns n. */
int hk_fmt_float_digits(double x, char digits[20], int *e);

/* Writes the SPEC §5 text of [x] (NaN, inf, -inf, 0, -0, or digits without
** exponent) to [out], NUL-terminated. Returns its length. */
size_t hk_fmt_float(double x, char out[HK_FMT_FLOAT_MAX]);

/* Writes the JSON number form of SPEC §8.9 (json_get) of finite [x].
** Returns its length. */
size_t hk_fmt_float_json(double x, char out[HK_FMT_FLOAT_MAX]);

/* Writes [v] in decimal, NUL-terminated. Returns its length. */
size_t hk_fmt_int(int64_t v, char out[HK_FMT_INT_MAX]);

#endif
