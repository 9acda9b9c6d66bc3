/* io/fsroot.c: --fs-root (SPEC §7.5.1). The check works on canonical
** paths (for the message); the access is race-free because it opens
** relative to a descriptor of the root with openat2(RESOLVE_BENEATH), so a
** symbolic link swapped in after the check still cannot escape.
*/
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct hk_fsroot {
  char *dir; /* canonical, no trailing slash unless "/" */
  size_t dirlen;
  int fd;    /* O_PATH | O_DIRECTORY */
};

int hk_fsroot_new(hk_fsroot_t **out, const char *dir) {
  *out = NULL;
  char *canon = realpath(dir, NULL);
  if (!canon) return -errno;
  int fd = open(canon, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int e = -errno;
    free(canon);
    return e;
  }
  hk_fsroot_t *r = malloc(sizeof *r);
  if (!r) {
    close(fd);
    free(canon);
    return -ENOMEM;
  }
  r->dir = canon;
  r->dirlen = strlen(canon);
  r->fd = fd;
  *out = r;
  return 0;
}

void hk_fsroot_free(hk_fsroot_t *r) {
  if (!r) return;
  close(r->fd);
  free(r->dir);
  free(r);
}

const char *hk_fsroot_dir(const hk_fsroot_t *r) { return r->dir; }
int hk_fsroot_fd(const hk_fsroot_t *r) { return r->fd; }

/* Append component [c] (length n) to canonical [p] lexically. */
static void push_component(char *p, const char *c, size_t n) {
  if (n == 0 || (n == 1 && c[0] == '.')) return;
  size_t len = strlen(p);
  if (n == 2 && c[0] == '.' && c[1] == '.') {
    char *slash = strrchr(p, '/');
    if (slash == p) p[1] = 0;
    else if (slash) *slash = 0;
    return;
  }
  if (len > 1) p[len++] = '/';
  memcpy(p + len, c, n);
  p[len + n] = 0;
}

/* Links followed before giving up, as the kernel's ELOOP limit. */
enum { MAX_LINK_HOPS = 40 };

static int canonical_hops(const char *path, char **out, int hops);

/* The canonical form of [link] (a dangling symbolic link) followed by
** [rest]: its target, relative to the link's directory unless absolute.
** Returns 0 and an owned *out, -ELOOP past MAX_LINK_HOPS, or -errno. */
static int follow_dangling(const char *link, const char *rest, char **out, int hops) {
  char target[PATH_MAX];
  ssize_t tn = readlink(link, target, sizeof target - 1);
  if (tn < 0) return -errno;
  if (tn == 0 || hops >= MAX_LINK_HOPS) return -ELOOP;
  target[tn] = 0;
  int dirlen = target[0] == '/' ? 0 : (int)(strrchr(link, '/') - link);
  char *next;
  if (asprintf(&next, "%.*s/%s/%s", dirlen, link, target, rest) < 0) return -ENOMEM;
  int rc = canonical_hops(next, out, hops + 1);
  free(next);
  return rc;
}

/* realpath(3) that allows missing trailing components: the longest
** existing prefix is resolved, the rest appended lexically. A dangling
** link in the path is followed (its target may be missing), so a link that
** points outside the root is reported with where it points. Returns 0 and
** an owned *out, or -errno. */
static int canonical(const char *path, char **out) { return canonical_hops(path, out, 0); }

static int canonical_hops(const char *path, char **out, int hops) {
  size_t n = strlen(path);
  char *work = strdup(path);
  char *res = malloc(n + PATH_MAX + 2);
  if (!work || !res) {
    free(work);
    free(res);
    return -ENOMEM;
  }
  size_t cut = n; /* work[0..cut) is the prefix tried */
  for (;;) {
    work[cut] = 0;
    if (realpath(cut ? work : "/", res)) break;
    if (errno != ENOENT || cut <= 1) {
      int e = -errno;
      free(work);
      free(res);
      return e;
    }
    struct stat st;
    if (lstat(work, &st) == 0 && S_ISLNK(st.st_mode)) {
      int rc = follow_dangling(work, path + cut, out, hops);
      if (rc != -ELOOP) {
        free(work);
        free(res);
        return rc;
      }
    }
    while (cut > 1 && work[cut - 1] == '/') cut--;
    while (cut > 1 && work[cut - 1] != '/') cut--;
  }
  /* Append the missing components from the original path. */
  const char *rest = path + cut;
  while (*rest) {
    while (*rest == '/') rest++;
    size_t len = strcspn(rest, "/");
    push_component(res, rest, len);
    rest += len;
  }
  free(work);
  *out = res;
  return 0;
}

static bool inside(const hk_fsroot_t *r, const char *p) {
  if (strcmp(r->dir, "/") == 0) return p[0] == '/';
  return strncmp(p, r->dir, r->dirlen) == 0 &&
         (p[r->dirlen] == 0 || p[r->dirlen] == '/');
}

int hk_fsroot_resolve(const hk_fsroot_t *r, const char *name,
                      const char *path, char **resolved, char **errmsg) {
  *resolved = NULL;
  if (errmsg) *errmsg = NULL;
  if (!r) return (*resolved = strdup(path)) ? 0 : -ENOMEM;
  char *full;
  if (path[0] == '/') full = strdup(path);
  else if (asprintf(&full, "%s/%s", r->dir, path) < 0) full = NULL;
  if (!full) return -ENOMEM;
  char *canon = NULL;
  int rc = canonical(full, &canon);
  free(full);
  if (rc < 0) return rc;
  if (inside(r, canon)) {
    *resolved = canon;
    return 0;
  }
  if (errmsg &&
      asprintf(errmsg, "%s: path '%s' is outside allowed root '%s'", name,
               canon, r->dir) < 0)
    *errmsg = NULL;
  free(canon);
  return -EACCES;
}

const char *hk_fsroot_relative(const hk_fsroot_t *r, const char *resolved) {
  if (!inside(r, resolved)) return NULL;
  const char *rel = resolved + (strcmp(r->dir, "/") == 0 ? 0 : r->dirlen);
  while (*rel == '/') rel++;
  return *rel ? rel : ".";
}

int hk_fsroot_open(const hk_fsroot_t *r, const char *resolved, int flags,
                   unsigned mode) {
  if (!r) {
    int fd = open(resolved, flags | O_CLOEXEC, mode);
    return fd < 0 ? -errno : fd;
  }
  const char *rel = hk_fsroot_relative(r, resolved);
  if (!rel) return HK_IO_EOUTSIDE;
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                         .mode = (flags & O_CREAT) ? mode : 0,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  long fd = syscall(SYS_openat2, r->fd, rel, &how, sizeof how);
  if (fd >= 0) return (int)fd;
  return errno == EXDEV ? HK_IO_EOUTSIDE : -errno;
}
