/* diag.c — source table and diagnostics (SPEC §13.2), see diag.h. */
#include "vm/diag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hk_sources_add(hk_sources_t *s, char *path, char *realpath, char *text, size_t len) {
  if (s->n == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 8;
    hk_source_t *items = realloc(s->items, cap * sizeof *items);
    if (!items) {
      free(path);
      free(realpath);
      free(text);
      return -ENOMEM;
    }
    s->items = items;
    s->cap = cap;
  }
  s->items[s->n] = (hk_source_t){ path, realpath, text, len };
  return (int)s->n++;
}

void hk_sources_free(hk_sources_t *s) {
  for (uint32_t i = 0; i < s->n; i++) {
    free(s->items[i].path);
    free(s->items[i].realpath);
    free(s->items[i].text);
  }
  free(s->items);
  memset(s, 0, sizeof *s);
}

static int add(hk_diags_list_t *d, bool is_error, bool has_pos, hk_pos_t pos,
               const char *fmt, va_list ap) {
  if (is_error) d->errors++;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return -EINVAL;
  char *msg = malloc((size_t)n + 1);
  if (!msg) return -ENOMEM;
  vsnprintf(msg, (size_t)n + 1, fmt, ap);
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    hk_diag_entry_t *items = realloc(d->items, cap * sizeof *items);
    if (!items) {
      free(msg);
      return -ENOMEM;
    }
    d->items = items;
    d->cap = cap;
  }
  d->items[d->n++] = (hk_diag_entry_t){ is_error, has_pos, pos, msg };
  return 0;
}

int hk_diag_error(hk_diags_list_t *d, hk_pos_t pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = add(d, true, true, pos, fmt, ap);
  va_end(ap);
  return rc;
}

int hk_diag_warning(hk_diags_list_t *d, hk_pos_t pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = add(d, false, true, pos, fmt, ap);
  va_end(ap);
  return rc;
}

int hk_diag_error_file(hk_diags_list_t *d, uint32_t file, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hk_pos_t pos = { file, 0, 0, 0 };
  int rc = add(d, true, false, pos, fmt, ap);
  va_end(ap);
  return rc;
}

void hk_diags_list_free(hk_diags_list_t *d) {
  for (size_t i = 0; i < d->n; i++) free(d->items[i].message);
  free(d->items);
  memset(d, 0, sizeof *d);
}

/* ---- Rendering ---- */

typedef struct sbuf {
  char *s;
  size_t n, cap;
  bool oom;
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char *g = realloc(b->s, cap);
    if (!g) {
      b->oom = true;
      return;
    }
    b->s = g;
    b->cap = cap;
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = '\0';
}

static void puts_(sbuf_t *b, const char *s) { put(b, s, strlen(s)); }

static void putu(sbuf_t *b, uint32_t v) {
  char t[16];
  int n = snprintf(t, sizeof t, "%u", v);
  put(b, t, (size_t)n);
}

/* The bytes of line [line] (from 1) of [src], without its LF (and without a
** CR before it). Returns false when the file has no such line. */
static bool find_line(const hk_source_t *src, uint32_t line, const char **start,
                      size_t *len) {
  if (!src->text) return false;
  const char *p = src->text, *end = src->text + src->len;
  for (uint32_t l = 1; l < line; l++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return false;
    p = nl + 1;
  }
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  const char *e = nl ? nl : end;
  if (e > p && e[-1] == '\r') e--;
  *start = p;
  *len = (size_t)(e - p);
  return true;
}

/* The source line and the caret line under [pos] (SPEC §13.2). */
static void render_excerpt(sbuf_t *b, const hk_source_t *src, hk_pos_t pos) {
  const char *line;
  size_t len;
  if (!find_line(src, pos.line, &line, &len)) return;
  put(b, line, len);
  put(b, "\n", 1);
  /* Walk the scalars of the line: the prefix (columns before pos.col) keeps
  ** its tabs, every other scalar becomes a space. */
  uint32_t col = 1;
  size_t i = 0;
  while (col < pos.col && i < len) {
    put(b, line[i] == '\t' ? "\t" : " ", 1);
    i++;
    while (i < len && ((unsigned char)line[i] & 0xC0) == 0x80) i++;
    col++;
  }
  /* A position past the end of the line (e.g. end of input) still gets its
  ** caret, after the last character. */
  while (col < pos.col) {
    put(b, " ", 1);
    col++;
  }
  put(b, "^", 1);
  /* Scalars left on the line after the first one of the range. */
  size_t rest = 0;
  if (i < len) {
    size_t j = i + 1;
    while (j < len) {
      if (((unsigned char)line[j] & 0xC0) != 0x80) rest++;
      j++;
    }
  }
  uint32_t want = pos.len > 1 ? pos.len - 1 : 0;
  if (want > rest) want = (uint32_t)rest;
  for (uint32_t k = 0; k < want; k++) put(b, "~", 1);
  put(b, "\n", 1);
}

static void render_one(sbuf_t *b, const hk_diag_entry_t *e, const hk_sources_t *s) {
  const hk_source_t *src = e->pos.file < s->n ? &s->items[e->pos.file] : NULL;
  puts_(b, src && src->path ? src->path : "<unknown>");
  if (e->has_pos) {
    put(b, ":", 1);
    putu(b, e->pos.line);
    put(b, ":", 1);
    putu(b, e->pos.col);
  }
  puts_(b, e->is_error ? ": error: " : ": warning: ");
  puts_(b, e->message);
  put(b, "\n", 1);
  if (e->has_pos && src) render_excerpt(b, src, e->pos);
}

int hk_diags_render(const hk_diags_list_t *d, const hk_sources_t *s, char **out) {
  sbuf_t b = { 0 };
  put(&b, "", 0);
  /* Warnings first (in the order recorded), then errors. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < d->n; i++)
      if (d->items[i].is_error == (pass == 1)) render_one(&b, &d->items[i], s);
  if (b.oom) {
    free(b.s);
    *out = NULL;
    return -ENOMEM;
  }
  *out = b.s;
  return 0;
}
