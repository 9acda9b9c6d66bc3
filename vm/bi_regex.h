/* bi_regex.h — the regular expressions of SPEC §8.8: the RE2 dialect,
** leftmost-first (Perl) semantics, matched by a Pike VM in time linear in
** the input (O(input × program)). No backreferences or lookaround.
** Thread: any (a compiled regex is read-only while matching). */
#ifndef HK_BI_REGEX_H
#define HK_BI_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hk_regex hk_regex_t;

/* Compiles [pattern] (valid UTF-8, n bytes). Returns 0 with *out, -EINVAL
** with *err set to a static description, or -ENOMEM. Ownership: *out owned,
** free with hk_regex_free. */
int hk_regex_compile(const char *pattern, size_t n, hk_regex_t **out, const char **err);
void hk_regex_free(hk_regex_t *re);

/* Capture groups, counting group 0 (the whole match). */
uint32_t hk_regex_groups(const hk_regex_t *re);
/* The index of the group named [name] (len bytes), or -1. */
int hk_regex_group_index(const hk_regex_t *re, const char *name, size_t len);

/* Finds the leftmost-first match in [s] (valid UTF-8, n bytes) starting at
** byte [from]; assertions see the text before [from]. Writes 2 × groups
** byte offsets to [caps] (-1 for a group that did not take part). Returns
** 1 (match), 0 (none) or -ENOMEM. */
int hk_regex_search(const hk_regex_t *re, const char *s, size_t n, size_t from, int64_t *caps);

#endif
