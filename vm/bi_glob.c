/* bi_glob.c — glob (SPEC §8.6): `*` any run of characters within one path
** component, `?` one character, `[abc]` `[a-z]` `[!abc]` classes, `**` as a
** whole component any number of directories (real directories only: links
** are not descended by `**`, so a link loop cannot make it endless). A
** leading `.` is matched by wildcards. Results sorted by byte order, without
** duplicates. A worklist replaces recursion. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vm/bi_core.h"
#include "vm/bi_fs.h"
#include "vm/utf8.h"

/* Decodes one scalar of [s] at *i (the pattern and names may be any bytes:
** an invalid byte counts as one character). */
static int32_t next_char(const char *s, size_t n, size_t *i) {
  size_t len;
  int32_t cp = hk_utf8_decode((const uint8_t *)s + *i, n - *i, &len);
  if (cp < 0) cp = 0x110000 + (uint8_t)s[*i], len = 1;
  *i += len;
  return cp;
}

/* Matches the class starting after '[' at p[*pi]. Returns 1 match, 0 no
** match, -1 when the class is not closed (then '[' is literal). Advances
** *pi past the ']' when closed. */
static int match_class(const char *p, size_t pn, size_t *pi, int32_t c) {
  size_t i = *pi;
  bool negate = i < pn && p[i] == '!';
  if (negate) i++;
  bool matched = false, first = true;
  while (i < pn && (p[i] != ']' || first)) {
    first = false;
    int32_t lo = next_char(p, pn, &i), hi = lo;
    if (i + 1 < pn && p[i] == '-' && p[i + 1] != ']') {
      i++;
      hi = next_char(p, pn, &i);
    }
    if (c >= lo && c <= hi) matched = true;
  }
  if (i >= pn) return -1;
  *pi = i + 1;
  return matched != negate;
}

/* Wildcard match of one component. Classic backtracking over the last `*`
** only: linear in practice, never recursive. */
bool hk_glob_match(const char *p, size_t pn, const char *s, size_t sn) {
  size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
  while (si < sn) {
    if (pi < pn && p[pi] == '*') {
      star_p = ++pi;
      star_s = si;
      continue;
    }
    if (pi < pn) {
      size_t save_pi = pi, save_si = si;
      int32_t c = next_char(s, sn, &si);
      bool ok;
      if (p[pi] == '?') {
        pi++;
        ok = true;
      } else if (p[pi] == '[') {
        size_t ci = pi + 1;
        int m = match_class(p, pn, &ci, c);
        if (m < 0) {
          pi++;
          ok = c == '[';
        } else {
          pi = ci;
          ok = m == 1;
        }
      } else {
        ok = next_char(p, pn, &pi) == c;
      }
      if (ok) continue;
      pi = save_pi;
      si = save_si;
    }
    if (star_p == SIZE_MAX) return false;
    pi = star_p;
    next_char(s, sn, &star_s);
    si = star_s;
  }
  while (pi < pn && p[pi] == '*') pi++;
  return pi == pn;
}

static bool has_wildcard(const char *c, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (c[i] == '*' || c[i] == '?' || c[i] == '[') return true;
  return false;
}

typedef struct work { char *prefix; size_t comp; } work_t;
typedef struct worklist { work_t *items; size_t n, cap; } worklist_t;

static int wl_push(worklist_t *w, const char *prefix, const char *name, size_t comp) {
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 16;
    work_t *p = realloc(w->items, cap * sizeof *p);
    if (!p) return -ENOMEM;
    w->items = p;
    w->cap = cap;
  }
  size_t an = strlen(prefix), bn = name ? strlen(name) : 0;
  bool slash = name && an > 0 && prefix[an - 1] != '/';
  char *s = malloc(an + slash + bn + 1);
  if (!s) return -ENOMEM;
  memcpy(s, prefix, an);
  if (slash) s[an] = '/';
  if (name) memcpy(s + an + slash, name, bn);
  s[an + slash + bn] = 0;
  w->items[w->n++] = (work_t){s, comp};
  return 0;
}

typedef struct comp { const char *s; size_t n; } comp_t;

/* Expands one work item. Returns 0, -ENOMEM or what [check] returned. */
static int expand(worklist_t *w, work_t it, const comp_t *comps, size_t ncomps,
                  hk_glob_check_fn check, void *ud, hk_fs_names_t *out) {
  struct stat st;
  if (check && it.prefix[0]) {
    int rc = check(ud, it.prefix, it.comp);
    if (rc < 0) return rc;
  }
  if (it.comp == ncomps) {
    if (it.prefix[0] && lstat(it.prefix, &st) == 0)
      return hk_fs_names_add(out, it.prefix, strlen(it.prefix));
    return 0;
  }
  comp_t c = comps[it.comp];
  const char *dir = it.prefix[0] ? it.prefix : ".";
  int rc = 0;
  if (!has_wildcard(c.s, c.n)) {
    char *name = strndup(c.s, c.n);
    rc = name ? wl_push(w, it.prefix, name, it.comp + 1) : -ENOMEM;
    free(name);
    return rc;
  }
  bool globstar = c.n == 2 && c.s[0] == '*' && c.s[1] == '*';
  if (globstar) rc = wl_push(w, it.prefix, NULL, it.comp + 1);
  hk_fs_names_t names = {0};
  if (rc == 0 && hk_fs_list(dir, &names) == 0) {
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
      const char *e = names.items[i];
      if (globstar) {
        /* Push first, then keep the item only if it is a real directory. */
        rc = wl_push(w, it.prefix, e, it.comp);
        if (rc == 0 && !(lstat(w->items[w->n - 1].prefix, &st) == 0 && S_ISDIR(st.st_mode)))
          free(w->items[--w->n].prefix);
      } else if (hk_glob_match(c.s, c.n, e, strlen(e))) {
        rc = wl_push(w, it.prefix, e, it.comp + 1);
      }
    }
  }
  hk_fs_names_free(&names);
  return rc;
}

/* Sorts [n] by bytes and drops duplicates. */
static void sort_unique(hk_fs_names_t *n) {
  hk_fs_names_sort(n);
  size_t k = 0;
  for (size_t i = 0; i < n->n; i++) {
    if (k > 0 && strcmp(n->items[k - 1], n->items[i]) == 0) {
      free(n->items[i]);
      continue;
    }
    n->items[k++] = n->items[i];
  }
  n->n = k;
}

/* Runs [pattern] from [base] ("" relative, or a directory prefix). */
int hk_glob_run(const char *pattern, hk_glob_check_fn check, void *ud, hk_fs_names_t *out) {
  size_t ncomps = 0, plen = strlen(pattern);
  comp_t *comps = malloc((plen / 2 + 2) * sizeof *comps);
  if (!comps) return -ENOMEM;
  for (size_t i = 0; i < plen;) {
    while (i < plen && pattern[i] == '/') i++;
    size_t start = i;
    while (i < plen && pattern[i] != '/') i++;
    if (i > start) comps[ncomps++] = (comp_t){pattern + start, i - start};
  }
  worklist_t w = {0};
  int rc = wl_push(&w, pattern[0] == '/' ? "/" : "", NULL, 0);
  while (rc == 0 && w.n > 0) {
    work_t it = w.items[--w.n];
    rc = expand(&w, it, comps, ncomps, check, ud, out);
    free(it.prefix);
  }
  while (w.n > 0) free(w.items[--w.n].prefix);
  free(w.items);
  free(comps);
  if (rc < 0) return rc;
  sort_unique(out); /* several `**` can reach one path */
  return 0;
}

/* The literal directory prefix of a pattern (the components before the
** first one with a wildcard), as a malloc'ed string. */
static char *literal_prefix(const char *pattern) {
  size_t n = strlen(pattern), end = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || pattern[i] == '/') {
      size_t start = end ? end + 1 : 0;
      if (has_wildcard(pattern + start, i - start)) break;
      end = i;
    }
  }
  char *p = malloc(end + 1);
  if (p) {
    memcpy(p, pattern, end);
    p[end] = 0;
  }
  return p;
}

/* Under --fs-root every path the walk reaches (a `..` after a wildcard, a
** link to a directory) must lie inside the root before glob lists or
** probes it, or the call fails naming it: matches alone would leave the
** walk free to list directories outside, and an outside name would show in
** the result (absent) or in the message (present). */
typedef struct confine { hk_vm_t *vm; size_t from; } confine_t;

static int check_inside(void *ud, const char *path, size_t comps) {
  confine_t *c = ud;
  if (comps < c->from) return 0; /* the root and the literal prefix: checked */
  char *resolved = NULL;
  int rc = hk_fs_resolve(c->vm, HK_B_glob, path, strlen(path), &resolved);
  free(resolved);
  return rc;
}

static size_t count_comps(const char *path) {
  size_t n = 0;
  for (size_t i = 0; path[i];) {
    while (path[i] == '/') i++;
    if (path[i]) n++;
    while (path[i] && path[i] != '/') i++;
  }
  return n;
}

int hk_bi_glob(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_glob);
  const char *pattern = hk_str_data(arg);
  if (strlen(pattern) != hk_str_len(arg)) return hk_bi_fail_errno(vm, HK_B_glob, EINVAL);
  const hk_host_t *host = hk_vm_host(vm);
  bool confined = host && host->fs_root;
  char *full = NULL;
  if (confined) {
    /* Check the literal prefix, then run the pattern from the canonical root. */
    char *prefix = literal_prefix(pattern), *resolved = NULL;
    if (!prefix) return hk_vm_fail(vm, "out of memory");
    int rc = hk_fs_resolve(vm, HK_B_glob, prefix, strlen(prefix), &resolved);
    free(prefix);
    if (rc < 0) return rc;
    free(resolved);
    char root[PATH_MAX];
    if (!realpath(host->fs_root, root)) return hk_bi_fail_errno(vm, HK_B_glob, errno);
    full = malloc(strlen(root) + strlen(pattern) + 2);
    if (!full) return hk_vm_fail(vm, "out of memory");
    sprintf(full, "%s/%s", pattern[0] == '/' ? "" : root, pattern);
  }
  hk_fs_names_t found = {0};
  confine_t confine = {vm, 0};
  if (full) {
    char *prefix = literal_prefix(full);
    if (!prefix) {
      free(full);
      return hk_vm_fail(vm, "out of memory");
    }
    confine.from = count_comps(prefix);
    free(prefix);
  }
  int rc = hk_glob_run(full ? full : pattern, full ? check_inside : NULL, &confine, &found);
  free(full);
  if (rc < 0) {
    hk_fs_names_free(&found);
    return rc == -ENOMEM ? hk_vm_fail(vm, "out of memory") : rc;
  }
  hk_vm_charge(vm, found.n);
  if (confined) { /* canonical absolute results, each inside the root */
    hk_fs_names_t canon = {0};
    for (size_t i = 0; rc == 0 && i < found.n; i++) {
      char *c = NULL;
      rc = hk_fs_resolve(vm, HK_B_glob, found.items[i], strlen(found.items[i]), &c);
      if (rc == 0) {
        rc = hk_fs_names_add(&canon, c, strlen(c)) < 0 ? hk_vm_fail(vm, "out of memory") : 0;
        free(c);
      }
    }
    hk_fs_names_free(&found);
    found = canon;
    sort_unique(&found); /* links can lead two matches to one canonical path */
  }
  hk_value_t list = hk_nil();
  for (size_t i = found.n; rc == 0 && i-- > 0;) {
    hk_value_t s;
    rc = hk_bi_string_lossy(vm, found.items[i], strlen(found.items[i]), &s);
    if (rc == 0) rc = hk_alloc_cons(vm, s, list, &list);
  }
  hk_fs_names_free(&found);
  if (rc == 0) *out = list;
  return rc;
}
