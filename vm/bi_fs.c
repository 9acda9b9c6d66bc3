/* bi_fs.c — the synchronous filesystem builtins (SPEC §8.6): file_exists,
** is_dir, is_file, list_dir, remove_file, create_dir, path_join, glob,
** walk_dir. Errors are "NAME: STRERROR". Directory walks keep an explicit
** stack (no native recursion per directory level). Paths pass through
** hk_fs_resolve (bi_fs_root.c), which applies --fs-root (SPEC §7.5). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/bi_core.h"
#include "vm/bi_fs.h"

/* ---- small helpers ----------------------------------------------------------- */

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void hk_fs_names_free(hk_fs_names_t *n) {
  for (size_t i = 0; i < n->n; i++) free(n->items[i]);
  free(n->items);
  n->items = NULL;
  n->n = n->cap = 0;
}

int hk_fs_names_add(hk_fs_names_t *n, const char *s, size_t len) {
  if (n->n == n->cap) {
    size_t cap = n->cap ? n->cap * 2 : 16;
    char **p = realloc(n->items, cap * sizeof *p);
    if (!p) return -ENOMEM;
    n->items = p;
    n->cap = cap;
  }
  char *c = malloc(len + 1);
  if (!c) return -ENOMEM;
  memcpy(c, s, len);
  c[len] = 0;
  n->items[n->n++] = c;
  return 0;
}

void hk_fs_names_sort(hk_fs_names_t *n) {
  if (n->n > 1) qsort(n->items, n->n, sizeof *n->items, cmp_names);
}

int hk_fs_list(const char *dir, hk_fs_names_t *out) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  return hk_fs_list_fd(fd, out);
}

int hk_fs_list_fd(int fd, hk_fs_names_t *out) {
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return -e;
  }
  int rc = 0;
  struct dirent *e;
  errno = 0;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    rc = hk_fs_names_add(out, e->d_name, strlen(e->d_name));
  }
  closedir(d);
  if (rc < 0) {
    hk_fs_names_free(out);
    return rc;
  }
  hk_fs_names_sort(out);
  return 0;
}

/* A String list from names (lossy UTF-8). */
static int names_to_list(hk_vm_t *vm, const hk_fs_names_t *n, hk_value_t *out) {
  hk_value_t list = hk_nil();
  for (size_t i = n->n; i-- > 0;) {
    hk_value_t s;
    int rc = hk_bi_string_lossy(vm, n->items[i], strlen(n->items[i]), &s);
    if (rc < 0) return rc;
    if ((rc = hk_alloc_cons(vm, s, list, &list)) < 0) return rc;
  }
  *out = list;
  return 0;
}

/* Resolves the String argument of builtin [id]. Returns 0 with *path
** malloc'ed, or a failure (recorded). */
static int path_arg(hk_vm_t *vm, hk_builtin_id_t id, hk_value_t arg, char **path) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, id);
  return hk_fs_resolve(vm, id, hk_str_data(arg), hk_str_len(arg), path);
}

/* A link swapped in after the check tried to leave the root. The message
** names the canonical root, as the check's does (SPEC §7.5.1: ROOT is the
** canonical DIR, not `--fs-root .` as given). Takes [path]. */
static int escaped(hk_vm_t *vm, hk_builtin_id_t id, char *path) {
  const hk_host_t *host = hk_vm_host(vm);
  const char *dir = host && host->fs_root ? host->fs_root : "";
  char root[PATH_MAX];
  int rc = hk_vm_fail(vm, "%s: path '%s' is outside allowed root '%s'",
                      hk_builtin_table[id].name, path, realpath(dir, root) ? root : dir);
  free(path);
  return rc;
}

/* ---- predicates ------------------------------------------------------------ */

static int stat_pred(hk_vm_t *vm, hk_builtin_id_t id, hk_value_t arg, hk_value_t *out) {
  if (!hk_is_string(arg)) return hk_bi_expected(vm, id);
  if (strlen(hk_str_data(arg)) != hk_str_len(arg)) { /* a NUL: no such file */
    *out = hk_bool(false);
    return 0;
  }
  char *path;
  int rc = path_arg(vm, id, arg, &path);
  if (rc < 0) return rc;
  struct stat st;
  int fd = hk_fs_open(vm, path, O_PATH, 0);
  bool ok = fd >= 0 && fstat(fd, &st) == 0;
  if (fd >= 0) close(fd);
  if (fd == -EXDEV) return escaped(vm, id, path);
  free(path);
  if (id == HK_B_is_dir) ok = ok && S_ISDIR(st.st_mode);
  if (id == HK_B_is_file) ok = ok && S_ISREG(st.st_mode);
  *out = hk_bool(ok);
  return 0;
}

int hk_bi_file_exists(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  return stat_pred(vm, HK_B_file_exists, arg, out);
}
int hk_bi_is_dir(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  return stat_pred(vm, HK_B_is_dir, arg, out);
}
int hk_bi_is_file(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  return stat_pred(vm, HK_B_is_file, arg, out);
}

/* ---- list_dir, remove_file, create_dir ------------------------------------ */

int hk_bi_list_dir(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  char *path;
  int rc = path_arg(vm, HK_B_list_dir, arg, &path);
  if (rc < 0) return rc;
  hk_fs_names_t names = {0};
  int fd = hk_fs_open(vm, path, O_RDONLY | O_DIRECTORY, 0);
  if (fd == -EXDEV) return escaped(vm, HK_B_list_dir, path);
  rc = fd < 0 ? fd : hk_fs_list_fd(fd, &names);
  free(path);
  if (rc == -ENOMEM) return hk_vm_fail(vm, "out of memory");
  if (rc < 0) return hk_bi_fail_errno(vm, HK_B_list_dir, -rc);
  hk_vm_charge(vm, names.n);
  rc = names_to_list(vm, &names, out);
  hk_fs_names_free(&names);
  return rc;
}

int hk_bi_remove_file(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  char *path;
  if (!hk_is_string(arg)) return hk_bi_expected(vm, HK_B_remove_file);
  int rc = hk_fs_resolve_entry(vm, HK_B_remove_file, hk_str_data(arg), hk_str_len(arg), &path);
  if (rc < 0) return rc;
  const char *base;
  int pfd = hk_fs_open_parent(vm, path, &base);
  if (pfd == -EXDEV) return escaped(vm, HK_B_remove_file, path);
  rc = pfd < 0 ? -pfd : unlinkat(pfd, base, 0) == 0 ? 0 : errno;
  if (pfd >= 0) close(pfd);
  free(path);
  if (rc) return hk_bi_fail_errno(vm, HK_B_remove_file, rc);
  *out = hk_unit();
  return 0;
}

/* mkdir -p: creates each missing component in turn, each relative to a
** descriptor of its parent. Returns 0 or an errno. */
static int mkdir_p(hk_vm_t *vm, char *path) {
  size_t n = strlen(path);
  char root[PATH_MAX];
  bool confined = hk_fs_confined(vm, root);
  for (size_t i = 1; i <= n; i++) {
    if (i < n && path[i] != '/') continue;
    if (path[i - 1] == '/') continue; /* "//" or a trailing slash */
    char saved = path[i];
    path[i] = 0;
    if (confined && (!hk_fs_inside(path, root) || strcmp(path, root) == 0)) { /* exist */
      path[i] = saved;
      continue;
    }
    const char *base;
    int pfd = hk_fs_open_parent(vm, path, &base);
    int rc = pfd < 0 ? -pfd : 0;
    if (pfd >= 0 && mkdirat(pfd, base, 0777) != 0 && errno != EEXIST) rc = errno;
    if (pfd >= 0) close(pfd);
    path[i] = saved;
    if (rc) return rc;
  }
  int fd = hk_fs_open(vm, path, O_PATH | O_DIRECTORY, 0);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  return fd == -ENOTDIR ? EEXIST : -fd;
}

int hk_bi_create_dir(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  char *path;
  int rc = path_arg(vm, HK_B_create_dir, arg, &path);
  if (rc < 0) return rc;
  rc = path[0] ? mkdir_p(vm, path) : ENOENT;
  if (rc == EXDEV) return escaped(vm, HK_B_create_dir, path);
  free(path);
  if (rc) return hk_bi_fail_errno(vm, HK_B_create_dir, rc);
  *out = hk_unit();
  return 0;
}

/* ---- path_join ---------------------------------------------------------------- */

int hk_bi_path_join(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  if (!hk_bi_is_tuple(arg, 2) || !hk_is_string(hk_tuple_at(arg, 0)) ||
      !hk_is_string(hk_tuple_at(arg, 1)))
    return hk_bi_expected(vm, HK_B_path_join);
  hk_value_t a = hk_tuple_at(arg, 0), b = hk_tuple_at(arg, 1);
  size_t an = hk_str_len(a), bn = hk_str_len(b);
  if (an == 0 || (bn > 0 && hk_str_data(b)[0] == '/')) {
    *out = b;
    return 0;
  }
  bool slash = hk_str_data(a)[an - 1] != '/';
  char *data;
  int rc = hk_alloc_string_raw(vm, an + slash + bn, out, &data);
  if (rc < 0) return rc;
  memcpy(data, hk_str_data(a), an);
  if (slash) data[an] = '/';
  memcpy(data + an + slash, hk_str_data(b), bn);
  return 0;
}

/* ---- walk_dir ------------------------------------------------------------------- */

typedef struct walk_frame {
  char *dir;           /* path of this directory as reported (argument-based) */
  char *real;          /* path used to open it */
  hk_fs_names_t names; /* sorted entries */
  size_t next;
  dev_t dev;
  ino_t ino;
} walk_frame_t;

static char *join(const char *a, const char *b) {
  size_t an = strlen(a), bn = strlen(b);
  bool slash = an > 0 && a[an - 1] != '/';
  char *p = malloc(an + slash + bn + 1);
  if (!p) return NULL;
  memcpy(p, a, an);
  if (slash) p[an] = '/';
  memcpy(p + an + slash, b, bn + 1);
  return p;
}

/* Pushes a frame for directory [shown] (opened as [real]). Takes both. */
static int walk_push(walk_frame_t **stack, size_t *n, size_t *cap, char *shown, char *real,
                     const struct stat *st) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    walk_frame_t *p = realloc(*stack, c * sizeof *p);
    if (!p) {
      free(shown);
      free(real);
      return -ENOMEM;
    }
    *stack = p;
    *cap = c;
  }
  walk_frame_t *f = &(*stack)[*n];
  memset(f, 0, sizeof *f);
  f->dir = shown;
  f->real = real;
  f->dev = st->st_dev;
  f->ino = st->st_ino;
  int rc = hk_fs_list(real, &f->names);
  (*n)++;
  return rc;
}

/* Under --fs-root: the canonical path of [real] (a dangling link followed,
** SPEC §7.5.1), or NULL (a link loop, no memory); sets *escaped when it lies
** outside [root]. */
static char *confined_entry(const char *real, const char *root, bool *escaped) {
  char *canon = hk_fs_canonical(real);
  *escaped = canon && !hk_fs_inside(canon, root);
  return canon;
}

int hk_fs_walk(const char *shown_root, const char *real_root, const char *confine,
               hk_fs_names_t *out, char **outside) {
  struct stat st;
  if (stat(real_root, &st) != 0) return -errno;
  if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
  walk_frame_t *stack = NULL;
  size_t n = 0, cap = 0;
  char *s = strdup(shown_root), *r = strdup(real_root);
  int rc = s && r ? walk_push(&stack, &n, &cap, s, r, &st) : -ENOMEM;
  if (!s || !r) {
    free(s);
    free(r);
  }
  while (rc == 0 && n > 0) {
    walk_frame_t *f = &stack[n - 1];
    if (f->next == f->names.n) {
      free(f->dir);
      free(f->real);
      hk_fs_names_free(&f->names);
      n--;
      continue;
    }
    const char *name = f->names.items[f->next++];
    char *shown = join(f->dir, name), *real = join(f->real, name);
    bool found = shown && real && stat(real, &st) == 0;
    if (!shown || !real || (!found && !confine)) {
      if (!shown || !real) rc = -ENOMEM;
      free(shown);
      free(real);
      continue;
    }
    if (confine) { /* every entry, a dangling link too, must resolve inside the root */
      bool escaped;
      char *canon = confined_entry(real, confine, &escaped);
      free(shown);
      free(real);
      if (!canon) continue;
      if (escaped) {
        *outside = canon;
        rc = -EXDEV;
        break;
      }
      if (!found) { /* dangling inside: no file to list */
        free(canon);
        continue;
      }
      shown = canon;
      real = strdup(canon);
      if (!real) {
        free(shown);
        rc = -ENOMEM;
        break;
      }
    }
    if (S_ISREG(st.st_mode)) {
      rc = hk_fs_names_add(out, shown, strlen(shown));
      free(shown);
      free(real);
    } else if (S_ISDIR(st.st_mode)) {
      bool active = false; /* a directory already being walked (a link loop) */
      for (size_t i = 0; i < n && !active; i++)
        active = stack[i].dev == st.st_dev && stack[i].ino == st.st_ino;
      if (active) {
        free(shown);
        free(real);
        continue;
      }
      int prc = walk_push(&stack, &n, &cap, shown, real, &st);
      if (prc == -ENOMEM) rc = prc; /* an unreadable subdirectory is skipped */
    } else {
      free(shown);
      free(real);
    }
  }
  while (n > 0) {
    walk_frame_t *f = &stack[--n];
    free(f->dir);
    free(f->real);
    hk_fs_names_free(&f->names);
  }
  free(stack);
  return rc;
}

int hk_bi_walk_dir(hk_vm_t *vm, hk_value_t arg, hk_value_t *out) {
  char *path;
  int rc = path_arg(vm, HK_B_walk_dir, arg, &path);
  if (rc < 0) return rc;
  hk_fs_names_t files = {0};
  char *shown = hk_fs_shown(vm, hk_str_data(arg), path), *outside = NULL;
  const hk_host_t *host = hk_vm_host(vm);
  char root[PATH_MAX];
  const char *confine = NULL;
  if (host && host->fs_root && realpath(host->fs_root, root)) confine = root;
  rc = shown ? hk_fs_walk(shown, path, confine, &files, &outside) : -ENOMEM;
  free(shown);
  free(path);
  if (rc == -EXDEV && outside) {
    rc = hk_vm_fail(vm, "walk_dir: path '%s' is outside allowed root '%s'", outside, root);
    free(outside);
    hk_fs_names_free(&files);
    return rc;
  }
  if (rc == -ENOMEM) {
    hk_fs_names_free(&files);
    return hk_vm_fail(vm, "out of memory");
  }
  if (rc < 0) {
    hk_fs_names_free(&files);
    return hk_bi_fail_errno(vm, HK_B_walk_dir, -rc);
  }
  hk_vm_charge(vm, files.n);
  rc = names_to_list(vm, &files, out);
  hk_fs_names_free(&files);
  return rc;
}
