/* bi_hashline.c — read_file_tagged and edit_file_tagged (SPEC §8.7). Each
** line carries a two-character tag (FNV-1a of its bytes mod 3844 in base
** 62) so an editor can check that the file has not changed under it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm/bi_core.h"
#include "vm/bi_fs.h"
#include "vm/bi_hashline.h"
#include "vm/utf8.h"

void hk_hashline_tag(const char *s, size_t n, char out[3]) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) {
    h ^= (uint8_t)s[i];
    h *= 16777619u;
  }
  uint32_t t = h % 3844;
  out[0] = digits[t / 62];
  out[1] = digits[t % 62];
  out[2] = 0;
}

void hk_hashline_split(const char *s, size_t n, hk_hashline_lines_t *out) {
  out->n = 0;
  out->trailing_newline = n > 0 && s[n - 1] == '\n';
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != '\n') continue;
    if (i == n && start == n) break; /* nothing after the last newline */
    size_t len = i - start;
    if (len > 0 && s[start + len - 1] == '\r') len--;
    if (out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 64;
      hk_hashline_line_t *p = realloc(out->items, cap * sizeof *p);
      if (!p) {
        out->failed = true;
        return;
      }
      out->items = p;
      out->cap = cap;
    }
    out->items[out->n++] = (hk_hashline_line_t){s + start, len};
    start = i + 1;
  }
}

/* Reads a whole file. Returns 0 with *data malloc'ed (NUL-terminated), or
** -errno. */
static int read_all(hk_vm_t *vm, const char *path, char **data, size_t *len) {
  int fd = hk_fs_open(vm, path, O_RDONLY, 0);
  if (fd < 0) return fd;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  int rc = 0;
  while (buf) {
    if (n == cap) {
      char *p = realloc(buf, cap * 2 + 1);
      if (!p) break;
      buf = p;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = -errno;
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  if (!buf) return -ENOMEM;
  if (rc < 0) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  *data = buf;
  *len = n;
  return 0;
}

static int write_all(hk_vm_t *vm, const char *path, const char *data, size_t len) {
  int fd = hk_fs_open(vm, path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) return fd;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    off += (size_t)w;
  }
  return close(fd) == 0 ? 0 : -errno;
}

/* Reads [path_v] (a String) through --fs-root as valid UTF-8 (invalid
** sequences replaced). Returns 0 or a failure (recorded). */
static int load(hk_vm_t *vm, hk_builtin_id_t id, hk_value_t path_v, char **resolved,
                char **text, size_t *len) {
  int rc = hk_fs_resolve(vm, id, hk_str_data(path_v), hk_str_len(path_v), resolved);
  if (rc < 0) return rc;
  char *raw = NULL;
  size_t n = 0;
  rc = read_all(vm, *resolved, &raw, &n);
  if (rc == -ENOMEM) rc = hk_vm_fail(vm, "out of memory");
  else if (rc < 0) rc = hk_bi_fail_errno(vm, id, -rc);
  if (rc == 0 && !hk_utf8_valid((const uint8_t *)raw, n)) {
    size_t m = hk_utf8_sanitized_len((const uint8_t *)raw, n);
    char *fixed = malloc(m + 1);
    if (!fixed) {
      free(raw);
      rc = hk_vm_fail(vm, "out of memory");
    } else {
      hk_utf8_sanitize((const uint8_t *)raw, n, (uint8_t *)fixed);
      fixed[m] = 0;
      free(raw);
      raw = fixed;
      n = m;
    }
  }
  if (rc < 0) {
    free(*resolved);
    *resolved = NULL;
    return rc;
  }
  hk_vm_charge(vm, n);
  *text = raw;
  *len = n;
  return 0;
}

int hk_bi_read_file_tagged(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 3) || !hk_is_string(hk_tuple_at(arg, 0)) ||
      !hk_is_int(hk_tuple_at(arg, 1)) || !hk_is_int(hk_tuple_at(arg, 2)))
    return hk_bi_expected(vm, HK_B_read_file_tagged);
  int64_t offset = hk_as_int(hk_tuple_at(arg, 1)), limit = hk_as_int(hk_tuple_at(arg, 2));
  if (offset < 0)
    return hk_vm_fail(vm, "read_file_tagged: offset must be non-negative, got %lld",
                      (long long)offset);
  if (limit < 0)
    return hk_vm_fail(vm, "read_file_tagged: limit must be non-negative, got %lld",
                      (long long)limit);
  char *path, *text;
  size_t len;
  int rc = load(vm, HK_B_read_file_tagged, hk_tuple_at(arg, 0), &path, &text, &len);
  if (rc < 0) return rc;
  free(path);
  hk_hashline_lines_t lines = {0};
  hk_hashline_split(text, len, &lines);
  hk_buf_t b;
  hk_buf_init(&b);
  b.failed = lines.failed;
  for (size_t i = (size_t)offset; i < lines.n && (limit == 0 || i - (size_t)offset < (size_t)limit);
       i++) {
    char head[48], tag[3];
    hk_hashline_tag(lines.items[i].s, lines.items[i].len, tag);
    int hn = snprintf(head, sizeof head, "%zu:%s\t", i + 1, tag);
    hk_buf_append(&b, head, (size_t)hn);
    hk_buf_append(&b, lines.items[i].s, lines.items[i].len);
    hk_buf_putc(&b, '\n');
  }
  free(lines.items);
  free(text);
  return hk_bi_from_buf(vm, &b, false, out);
}

/* ---- edit_file_tagged ---------------------------------------------------- */

typedef struct edit {
  char action;
  uint64_t line;
  const char *tag;
  size_t tag_len;
  const char *content;
  size_t content_len;
  size_t order;
} edit_t;

typedef struct edits {
  edit_t *items;
  size_t n, cap;
} edits_t;

/* Parses one trimmed edit line. Returns NULL, or a static-format error
** written into [err]. */
static bool parse_edit(const char *s, size_t n, edit_t *e, hk_buf_t *err) {
  size_t i = 0;
  while (i < n && s[i] != ' ') i++;
  if (i != 1 || (s[0] != 'R' && s[0] != 'I' && s[0] != 'D')) {
    hk_buf_append(err, "unknown action '", 16);
    hk_buf_append(err, s, i);
    hk_buf_append(err, "' (expected R, I, or D)", 23);
    return false;
  }
  e->action = s[0];
  while (i < n && s[i] == ' ') i++;
  size_t a = i;
  while (i < n && s[i] != ' ') i++;
  const char *anchor = s + a;
  size_t an = i - a;
  const char *colon = memchr(anchor, ':', an);
  if (!colon || colon == anchor || colon == anchor + an - 1) {
    hk_buf_append(err, "invalid anchor '", 16);
    hk_buf_append(err, anchor, an);
    hk_buf_append(err, "' (expected LINE:HASH)", 22);
    return false;
  }
  size_t ln = (size_t)(colon - anchor);
  uint64_t line = 0;
  bool ok = true;
  for (size_t k = 0; k < ln && ok; k++) {
    ok = anchor[k] >= '0' && anchor[k] <= '9' && line <= (UINT64_MAX - 9) / 10;
    line = line * 10 + (uint64_t)(anchor[k] - '0');
  }
  if (!ok) {
    hk_buf_append(err, "invalid line number '", 21);
    hk_buf_append(err, anchor, ln);
    hk_buf_append(err, "'", 1);
    return false;
  }
  e->line = line;
  e->tag = colon + 1;
  e->tag_len = an - ln - 1;
  e->content = i < n ? s + i + 1 : s + n;
  e->content_len = i < n ? n - i - 1 : 0;
  return true;
}

static int cmp_edits(const void *x, const void *y) {
  const edit_t *a = x, *b = y;
  if (a->line != b->line) return a->line > b->line ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

/* Applies the sorted edits to [lines] into [out] (the new file text). */
static void apply(const hk_hashline_lines_t *lines, const edit_t *e, size_t ne,
                  bool trailing, hk_buf_t *out) {
  /* Build the result as a list of line references: per original line, the
  ** replacement (or deletion) and the insertions after it. */
  typedef struct { bool deleted, replaced; const char *rs; size_t rn; } slot_t;
  size_t n = lines->n;
  slot_t *slots = calloc(n ? n : 1, sizeof *slots);
  if (!slots) {
    out->failed = true;
    return;
  }
  /* Edits are sorted by line descending, then input order. Insertions after
  ** a line are written in input order. */
  for (size_t k = 0; k < ne; k++) {
    slot_t *s = &slots[e[k].line - 1];
    if (e[k].action == 'D') s->deleted = true;
    if (e[k].action == 'R') {
      s->replaced = true;
      s->rs = e[k].content;
      s->rn = e[k].content_len;
    }
  }
  bool first = true;
  size_t k = ne; /* walk the edits from the lowest line up */
  for (size_t i = 0; i < n; i++) {
    if (!slots[i].deleted) {
      if (!first) hk_buf_putc(out, '\n');
      first = false;
      if (slots[i].replaced) hk_buf_append(out, slots[i].rs, slots[i].rn);
      else hk_buf_append(out, lines->items[i].s, lines->items[i].len);
    }
    /* Insertions after line i + 1: the edits for that line are contiguous
    ** in [e]; within them, input order. */
    size_t hi = k;
    while (k > 0 && e[k - 1].line == i + 1) k--;
    for (size_t j = k; j < hi; j++) {
      if (e[j].action != 'I') continue;
      if (!first) hk_buf_putc(out, '\n');
      first = false;
      hk_buf_append(out, e[j].content, e[j].content_len);
    }
  }
  if (trailing && !first) hk_buf_putc(out, '\n');
  free(slots);
}

/* Parses every non-blank line of [edits_v] into [ed]; a syntax error fails
** the call. Returns 0 or a failure (recorded). */
static int parse_edits(hk_vm_t *vm, hk_value_t edits_v, edits_t *ed) {
  const char *src = hk_str_data(edits_v);
  size_t sn = hk_str_len(edits_v);
  hk_buf_t err;
  hk_buf_init(&err);
  int rc = 0;
  for (size_t start = 0; start <= sn && rc == 0;) {
    const char *nl = memchr(src + start, '\n', sn - start);
    size_t end = nl ? (size_t)(nl - src) : sn;
    size_t a, b;
    hk_text_trim((const uint8_t *)src + start, end - start, &a, &b);
    const char *line = src + start + a;
    start = end + 1;
    if (b == a) continue;
    if (ed->n == ed->cap) {
      size_t cap = ed->cap ? ed->cap * 2 : 16;
      edit_t *p = realloc(ed->items, cap * sizeof *p);
      if (!p) {
        rc = hk_vm_fail(vm, "out of memory");
        break;
      }
      ed->items = p;
      ed->cap = cap;
    }
    edit_t *e = &ed->items[ed->n];
    if (!parse_edit(line, b - a, e, &err))
      rc = hk_vm_fail(vm, "edit_file_tagged: %.*s", (int)err.len, (char *)err.data);
    else
      e->order = ed->n++;
  }
  hk_buf_free(&err);
  return rc;
}

/* Verifies every anchor against [lines]; appends "REJECTED: ..." with the
** problems joined by "; " to [problems] (nothing when all hold). */
static void verify(const edits_t *ed, const hk_hashline_lines_t *lines, hk_buf_t *problems) {
  for (size_t k = 0; k < ed->n; k++) {
    const edit_t *e = &ed->items[k];
    char msg[200], tag[3];
    int mn = 0;
    if (e->line < 1 || e->line > lines->n) {
      mn = snprintf(msg, sizeof msg, "line %llu out of range (file has %zu lines)",
                    (unsigned long long)e->line, lines->n);
    } else {
      hk_hashline_tag(lines->items[e->line - 1].s, lines->items[e->line - 1].len, tag);
      if (e->tag_len != 2 || memcmp(e->tag, tag, 2) != 0)
        mn = snprintf(msg, sizeof msg, "hash mismatch at line %llu: expected %.*s, got %s "
                      "(file changed since last read)", (unsigned long long)e->line,
                      (int)(e->tag_len < 64 ? e->tag_len : 64), e->tag, tag);
    }
    if (mn <= 0) continue;
    hk_buf_append(problems, problems->len ? "; " : "REJECTED: ", problems->len ? 2 : 10);
    hk_buf_append(problems, msg, (size_t)(mn < (int)sizeof msg ? mn : (int)sizeof msg - 1));
  }
}

/* Applies the verified edits, rewrites the file and builds the reply. */
static int rewrite(hk_vm_t *vm, const char *path, hk_value_t path_v, edits_t *ed,
                   const hk_hashline_lines_t *lines, hk_value_t *out) {
  if (ed->n > 1) qsort(ed->items, ed->n, sizeof *ed->items, cmp_edits);
  hk_buf_t result;
  hk_buf_init(&result);
  result.failed = lines->failed;
  apply(lines, ed->items, ed->n, lines->trailing_newline, &result);
  int rc;
  if (result.failed) {
    rc = hk_vm_fail(vm, "out of memory");
  } else {
    rc = write_all(vm, path, result.data ? (const char *)result.data : "", result.len);
    if (rc < 0) rc = hk_bi_fail_errno(vm, HK_B_edit_file_tagged, -rc);
  }
  hk_buf_free(&result);
  if (rc < 0) return rc;
  hk_buf_t msg;
  hk_buf_init(&msg);
  char head[64];
  int hn = snprintf(head, sizeof head, "Applied %zu edit(s) to ", ed->n);
  hk_buf_append(&msg, head, (size_t)hn);
  hk_buf_append(&msg, hk_str_data(path_v), hk_str_len(path_v));
  return hk_bi_from_buf(vm, &msg, false, out);
}

static int edit_file(hk_vm_t *vm, hk_value_t path_v, hk_value_t edits_v, hk_value_t *out) {
  edits_t ed = {0};
  char *path = NULL, *text = NULL;
  size_t len = 0;
  int rc = parse_edits(vm, edits_v, &ed);
  if (rc == 0) rc = load(vm, HK_B_edit_file_tagged, path_v, &path, &text, &len);
  if (rc < 0) {
    free(ed.items);
    return rc;
  }
  hk_hashline_lines_t lines = {0};
  hk_hashline_split(text, len, &lines);
  hk_buf_t problems;
  hk_buf_init(&problems);
  verify(&ed, &lines, &problems);
  if (problems.len > 0 || problems.failed) {
    rc = hk_bi_from_buf(vm, &problems, false, out);
  } else {
    hk_buf_free(&problems);
    rc = rewrite(vm, path, path_v, &ed, &lines, out);
  }
  free(lines.items);
  free(text);
  free(path);
  free(ed.items);
  return rc;
}

int hk_bi_edit_file_tagged(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 2) || !hk_is_string(hk_tuple_at(arg, 0)) ||
      !hk_is_string(hk_tuple_at(arg, 1)))
    return hk_bi_expected(vm, HK_B_edit_file_tagged);
  return edit_file(vm, hk_tuple_at(arg, 0), hk_tuple_at(arg, 1), out);
}
