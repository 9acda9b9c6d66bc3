/* base/fspath.c: canonical paths and confined opens for --fs-root
** (SPEC §7.5.1). The check works on canonical paths (they are what the
** "outside allowed root" message shows); the access is race-free because
** it opens relative to a descriptor of the root with openat2
** (RESOLVE_BENEATH), so a symbolic link swapped in after the check still
** cannot escape. vm/bi_fs_root.c and io/fsroot.c both build on this file. */
#include "base/fspath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Appends component [c] (n bytes) to canonical [buf] (length *len >= 1). */
static void push_component(char *buf, size_t *len, const char *c, size_t n) {
  if (*len > 1) buf[(*len)++] = '/';
  memcpy(buf + *len, c, n);
  *len += n;
  buf[*len] = 0;
}

static void pop_component(char *buf, size_t *len) {
  while (*len > 1 && buf[*len - 1] != '/') (*len)--;
  if (*len > 1) (*len)--;
  buf[*len] = 0;
}

/* Links followed before giving up, as the kernel's ELOOP limit. */
enum { MAX_LINK_HOPS = 40 };

static int canonical_hops(const char *path, int hops, char **out);

/* [link] (canonical, a dangling symbolic link) followed: its target, taken
** relative to the link's directory unless absolute, then [rest] (the
** components after the link), made canonical. Returns 0 with an owned
** *out, -ELOOP (unreadable, or past MAX_LINK_HOPS), -ENOMEM or
** -ENAMETOOLONG. */
static int follow_dangling(const char *link, const char *rest, int hops, char **out) {
  char target[PATH_MAX];
  ssize_t tn = readlink(link, target, sizeof target - 1);
  if (tn <= 0 || hops >= MAX_LINK_HOPS) return -ELOOP;
  target[tn] = 0;
  /* A relative target starts in the link's directory. */
  int dirlen = target[0] == '/' ? 0 : (int)(strrchr(link, '/') - link);
  char *next;
  if (asprintf(&next, "%.*s/%s/%s", dirlen, link, target, rest) < 0) return -ENOMEM;
  int rc = canonical_hops(next, hops + 1, out);
  free(next);
  return rc;
}

int hk_fspath_canonical(const char *path, char **out) { return canonical_hops(path, 0, out); }

/* Walks [path] component by component: lstat until one is missing (the
** rest is then lexical), an existing link replaced by its realpath, a
** dangling one followed. */
static int canonical_hops(const char *path, int hops, char **out) {
  *out = NULL;
  size_t cap = strlen(path) + PATH_MAX + 2;
  char *buf = malloc(cap);
  if (!buf) return -ENOMEM;
  buf[0] = '/';
  buf[1] = 0;
  size_t len = 1;
  bool missing = false;
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    const char *start = p;
    while (*p && *p != '/') p++;
    size_t n = (size_t)(p - start);
    if (n == 0 || (n == 1 && start[0] == '.')) continue;
    if (n == 2 && start[0] == '.' && start[1] == '.') {
      pop_component(buf, &len);
      continue;
    }
    if (len + n + 2 >= cap) {
      free(buf);
      return -ENAMETOOLONG;
    }
    push_component(buf, &len, start, n);
    struct stat st;
    if (missing || lstat(buf, &st) != 0) {
      missing = true;
      continue;
    }
    if (!S_ISLNK(st.st_mode)) continue;
    char real[PATH_MAX]; /* shorter than cap */
    if (realpath(buf, real)) {
      len = strlen(real);
      memcpy(buf, real, len + 1);
      continue;
    }
    /* A dangling link: the canonical path is where it points (missing
    ** trailing components are allowed). A loop keeps its name. */
    int rc = errno == ENOENT ? follow_dangling(buf, p, hops, out) : -ELOOP;
    if (rc != -ELOOP) {
      free(buf);
      return rc;
    }
    missing = true;
  }
  *out = buf;
  return 0;
}

bool hk_fspath_inside(const char *path, const char *root) {
  if (strcmp(root, "/") == 0) return path[0] == '/';
  size_t rn = strlen(root);
  return strncmp(path, root, rn) == 0 && (path[rn] == 0 || path[rn] == '/');
}

const char *hk_fspath_relative(const char *path, const char *root) {
  if (!hk_fspath_inside(path, root)) return NULL;
  const char *rel = path + (strcmp(root, "/") == 0 ? 0 : strlen(root));
  while (*rel == '/') rel++;
  return *rel ? rel : ".";
}

int hk_fspath_open_beneath(int dirfd, const char *rel, int flags, unsigned mode) {
  /* glibc 2.36 has no openat2 wrapper. */
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                         .mode = (flags & O_CREAT) ? mode : 0,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
  return fd < 0 ? -errno : (int)fd;
}
