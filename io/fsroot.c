/* io/fsroot.c: --fs-root (SPEC §7.5.1) for the I/O thread's file
** requests: the root's canonical path and descriptor, kept for the
** instance's life. The canonical paths, the inside check and the openat2
** (RESOLVE_BENEATH) open are base/fspath.c's, which vm/ uses too. */
#include "io_internal.h"

#include "base/fspath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hk_fsroot {
  char *dir; /* canonical, no trailing slash unless "/" */
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
  int rc = hk_fspath_canonical(full, &canon);
  free(full);
  if (rc < 0) return rc;
  if (hk_fspath_inside(canon, r->dir)) {
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
  return hk_fspath_relative(resolved, r->dir);
}

int hk_fsroot_open(const hk_fsroot_t *r, const char *resolved, int flags,
                   unsigned mode) {
  if (!r) {
    int fd = open(resolved, flags | O_CLOEXEC, mode);
    return fd < 0 ? -errno : fd;
  }
  const char *rel = hk_fsroot_relative(r, resolved);
  if (!rel) return HK_IO_EOUTSIDE;
  int fd = hk_fspath_open_beneath(r->fd, rel, flags, mode);
  return fd == -EXDEV ? HK_IO_EOUTSIDE : fd;
}
