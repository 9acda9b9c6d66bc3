/* bi_hashline.h — line tags and line splitting of SPEC §8.7. Thread: any. */
#ifndef HK_BI_HASHLINE_H
#define HK_BI_HASHLINE_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the tag of a line (FNV-1a 32 of its bytes mod 3844, two base-62
** digits 0-9a-zA-Z, high first) and a NUL to [out]. */
void hk_hashline_tag(const char *s, size_t n, char out[3]);

typedef struct hk_hashline_line { const char *s; size_t len; } hk_hashline_line_t;
typedef struct hk_hashline_lines {
  hk_hashline_line_t *items; /* malloc'ed; free(items) */
  size_t n, cap;
  bool trailing_newline;
  bool failed; /* out of memory: the list is incomplete */
} hk_hashline_lines_t;

/* Splits [s] into lines at "\n", removing one trailing "\r" from each; a
** final empty line after a trailing newline is not a line. Ownership: the
** lines borrow s. */
void hk_hashline_split(const char *s, size_t n, hk_hashline_lines_t *out);

#endif
