/* load.c — source files and `use` expansion, see load.h. */
#include "vm/load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hiko_config.h"
#include "vm/fold.h"
#include "vm/parse.h"

enum { MAX_FILE = 1 << 30 };

const char *hk_load_libdir(void) {
  const char *env = getenv("HIKO_LIB");
  if (env && *env) return env;
  static char probe[PATH_MAX];
  int n = snprintf(probe, sizeof probe, "%s/stdlib", HIKO_SOURCE_LIB_DIR);
  struct stat st;
  if (n > 0 && (size_t)n < sizeof probe && stat(probe, &st) == 0 && S_ISDIR(st.st_mode))
    return HIKO_SOURCE_LIB_DIR;
  return HIKO_INSTALL_LIB_DIR;
}

int hk_load_read_file(const char *path, char **text, size_t *len) {
  *text = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  size_t cap = 4096;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      (uint64_t)st.st_size < MAX_FILE)
    cap = (size_t)st.st_size + 1;
  char *buf = malloc(cap);
  size_t n = 0;
  int rc = buf ? 0 : -ENOMEM;
  while (rc == 0) {
    if (n + 1 >= cap) {
      if (cap >= MAX_FILE) { rc = -EFBIG; break; }
      char *g = realloc(buf, cap * 2);
      if (!g) { rc = -ENOMEM; break; }
      buf = g;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n - 1);
    if (r < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
    } else if (r == 0) {
      break;
    } else {
      n += (size_t)r;
    }
  }
  close(fd);
  if (rc < 0) {
    free(buf);
    return rc;
  }
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return 0;
}

static char *dupstr(const char *s) {
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

/* "dir/rel", or rel when dir is empty. Returns malloc'ed or NULL. */
static char *join(const char *dir, size_t dirlen, const char *rel) {
  size_t rl = strlen(rel);
  char *s = malloc(dirlen + 1 + rl + 1);
  if (!s) return NULL;
  size_t at = 0;
  if (dirlen) {
    memcpy(s, dir, dirlen);
    at = dirlen;
    if (s[at - 1] != '/') s[at++] = '/';
  }
  memcpy(s + at, rel, rl + 1);
  return s;
}

/* Length of the directory part of [path] ("" for a bare name; "/" kept). */
static size_t dir_len(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return 0;
  return slash == path ? 1 : (size_t)(slash - path);
}

typedef struct frame {
  uint32_t file;
  hk_dec_t **decs;
  uint32_t ndecs, next;
} frame_t;

typedef struct loader {
  hk_arena_t *A;
  hk_sources_t *src;
  hk_diags_list_t *diags;
  const char *libdir;
  bool deny;
  bool main_is_string;
  uint32_t main;
  frame_t *stack;
  size_t depth, cap;
} loader_t;

static int push_frame(loader_t *L, uint32_t file, hk_dec_t **decs, uint32_t n) {
  if (L->depth == L->cap) {
    size_t cap = L->cap ? L->cap * 2 : 8;
    frame_t *g = realloc(L->stack, cap * sizeof *g);
    if (!g) return -ENOMEM;
    L->stack = g;
    L->cap = cap;
  }
  L->stack[L->depth++] = (frame_t){ file, decs, n, 0 };
  return 0;
}

/* The source whose realpath is [real], or -1. */
static int find_loaded(const loader_t *L, const char *real) {
  for (uint32_t i = 0; i < L->src->n; i++)
    if (L->src->items[i].realpath && strcmp(L->src->items[i].realpath, real) == 0)
      return (int)i;
  return -1;
}

static bool is_loading(const loader_t *L, uint32_t file) {
  for (size_t i = 0; i < L->depth; i++)
    if (L->stack[i].file == file) return true;
  return false;
}

/* First component of [p] is "stdlib". */
static bool starts_stdlib(const char *p) {
  return strncmp(p, "stdlib", 6) == 0 && (p[6] == '/' || p[6] == '\0');
}

/* Reads and parses the file of `use` [d] in file [from]; pushes its frame.
** Returns 0, -1 after an error diagnostic, -ENOMEM. */
static int expand_use(loader_t *L, uint32_t from, hk_dec_t *d) {
  hk_pos_t at = hk_fold_merge_pos(d->pos, d->name_pos);
  const char *upath = d->path.s;
  if (strlen(upath) != d->path.len) {
    hk_diag_error(L->diags, at, "cannot read '%s': %s", upath, strerror(EINVAL));
    return -1;
  }
  char *path;
  if (upath[0] == '/') {
    path = dupstr(upath);
  } else {
    const char *fp = L->src->items[from].path;
    size_t dl = (from == L->main && L->main_is_string) ? 0 : dir_len(fp);
    path = join(fp, dl, upath);
  }
  if (!path) return -ENOMEM;
  struct stat st;
  if (!L->deny && upath[0] != '/' && stat(path, &st) != 0 && starts_stdlib(upath)) {
    char *lib = join(L->libdir, strlen(L->libdir), upath);
    if (!lib) { free(path); return -ENOMEM; }
    free(path);
    path = lib;
  }
  char *text = NULL;
  size_t len = 0;
  int rc = L->deny ? -EACCES : hk_load_read_file(path, &text, &len);
  if (rc == -ENOMEM) { free(path); return rc; }
  if (rc < 0) {
    hk_diag_error(L->diags, at, "cannot read '%s': %s", path, strerror(-rc));
    free(path);
    return -1;
  }
  char *real = realpath(path, NULL);
  if (!real && !(real = dupstr(path))) { free(path); free(text); return -ENOMEM; }
  int prev = find_loaded(L, real);
  if (prev >= 0) {
    free(path);
    free(text);
    free(real);
    if (is_loading(L, (uint32_t)prev)) {
      hk_diag_error(L->diags, at, "circular import detected: '%s'",
                    L->src->items[prev].realpath);
      return -1;
    }
    d->use_file = (uint32_t)prev;
    return 0; /* loaded before: nothing to insert */
  }
  int idx = hk_sources_add(L->src, path, real, text, len);
  if (idx < 0) return idx;
  d->use_file = (uint32_t)idx;
  const hk_source_t *s = &L->src->items[idx];
  rc = hk_parse_file(L->A, L->diags, (uint32_t)idx, s->text, s->len, &d->decs, &d->ndecs);
  if (rc < 0) return rc;
  return push_frame(L, (uint32_t)idx, d->decs, d->ndecs);
}

/* Expands every `use` reachable from the main file. */
static int expand_all(loader_t *L, hk_dec_t **decs, uint32_t n) {
  int rc = push_frame(L, L->main, decs, n);
  while (rc == 0 && L->depth > 0) {
    frame_t *f = &L->stack[L->depth - 1];
    if (f->next == f->ndecs) {
      L->depth--;
      continue;
    }
    hk_dec_t *d = f->decs[f->next++];
    if (d->kind == HK_D_USE) rc = expand_use(L, f->file, d);
  }
  return rc;
}

static int load_main(loader_t *L, uint32_t main, hk_program_ast_t **out) {
  L->main = main;
  const hk_source_t *s = &L->src->items[main];
  hk_program_ast_t *prog = hk_arena_alloc(L->A, sizeof *prog);
  if (!prog) return -ENOMEM;
  int rc = hk_parse_file(L->A, L->diags, main, s->text, s->len, &prog->decs, &prog->ndecs);
  if (rc == 0) rc = expand_all(L, prog->decs, prog->ndecs);
  free(L->stack);
  if (rc == 0) *out = prog;
  return rc;
}

static void loader_init(loader_t *L, hk_arena_t *arena, hk_sources_t *src,
                        hk_diags_list_t *diags, const hk_load_opts_t *opts) {
  memset(L, 0, sizeof *L);
  L->A = arena;
  L->src = src;
  L->diags = diags;
  L->libdir = opts && opts->libdir ? opts->libdir : hk_load_libdir();
  L->deny = opts && opts->deny_files;
}

int hk_load_program_file(hk_arena_t *arena, hk_sources_t *src, hk_diags_list_t *diags,
                         const hk_load_opts_t *opts, const char *path,
                         hk_program_ast_t **out) {
  loader_t L;
  loader_init(&L, arena, src, diags, opts);
  *out = NULL;
  char *text = NULL, *p = dupstr(path);
  size_t len = 0;
  if (!p) return -ENOMEM;
  int rc = hk_load_read_file(path, &text, &len);
  if (rc == -ENOMEM) { free(p); return rc; }
  char *real = rc == 0 ? realpath(path, NULL) : NULL;
  if (rc == 0 && !real && !(real = dupstr(path))) { free(p); free(text); return -ENOMEM; }
  int idx = hk_sources_add(src, p, real, text, len);
  if (idx < 0) return idx;
  if (rc < 0) {
    hk_diag_error_file(diags, (uint32_t)idx, "cannot read '%s': %s", path, strerror(-rc));
    return -1;
  }
  return load_main(&L, (uint32_t)idx, out);
}

int hk_load_program_string(hk_arena_t *arena, hk_sources_t *src, hk_diags_list_t *diags,
                           const hk_load_opts_t *opts, const char *name,
                           const char *text, size_t len, hk_program_ast_t **out) {
  loader_t L;
  loader_init(&L, arena, src, diags, opts);
  L.main_is_string = true;
  *out = NULL;
  char *p = dupstr(name);
  char *copy = malloc(len + 1);
  char *real = p ? realpath(name, NULL) : NULL;
  if (p && !real) real = dupstr(name);
  if (!p || !copy || !real) {
    free(p); free(copy); free(real);
    return -ENOMEM;
  }
  if (len) memcpy(copy, text, len);
  copy[len] = '\0';
  int idx = hk_sources_add(src, p, real, copy, len);
  if (idx < 0) return idx;
  return load_main(&L, (uint32_t)idx, out);
}
