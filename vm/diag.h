/* diag.h — source files and compile-time diagnostics (SPEC §13.2, §14.1).
**
** A compilation owns one hk_sources_t (every file read, by index, with the
** path used to open it and its bytes) and one hk_diags_list_t. Warnings and
** errors are recorded in order; the front end stops at its first error.
** Thread: one (a compilation). */
#ifndef HK_DIAG_H
#define HK_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/ast.h"

typedef struct hk_source {
  char *path;      /* as used to open it (the main path, or dir-of-user + use path) */
  char *realpath;  /* canonical, for load-once and circular-import checks */
  char *text;      /* bytes, NUL-terminated (the file may contain NULs: use len) */
  size_t len;
} hk_source_t;

typedef struct hk_sources {
  hk_source_t *items;
  uint32_t n, cap;
} hk_sources_t;

typedef struct hk_diag_entry {
  bool is_error;
  bool has_pos;
  hk_pos_t pos;
  char *message;
} hk_diag_entry_t;

typedef struct hk_diags_list {
  hk_diag_entry_t *items;
  size_t n, cap;
  size_t errors;
} hk_diags_list_t;

/* Adds a source; takes [path], [realpath] and [text] (malloc'ed).
** Returns its index, or -ENOMEM. */
int hk_sources_add(hk_sources_t *s, char *path, char *realpath, char *text, size_t len);
void hk_sources_free(hk_sources_t *s);

/* Records an error / warning at [pos] with a printf-style message.
** Returns 0, or -ENOMEM (the diagnostic is then lost but counted). */
int hk_diag_error(hk_diags_list_t *d, hk_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int hk_diag_warning(hk_diags_list_t *d, hk_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error about a whole file (no position): "FILE: error: MESSAGE". */
int hk_diag_error_file(hk_diags_list_t *d, uint32_t file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hk_diags_list_free(hk_diags_list_t *d);

/* Renders every diagnostic in the SPEC §13.2 format into a malloc'ed string.
** Returns 0 or -ENOMEM. Ownership: *out owned (free). */
int hk_diags_render(const hk_diags_list_t *d, const hk_sources_t *s, char **out);

#endif
