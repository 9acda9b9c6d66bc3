/* bi_fs_root.c — path resolution and --fs-root confinement (SPEC §7.5)
** for the filesystem builtins. The path is made canonical (base/fspath.c:
** links resolved, missing trailing components appended lexically, a
** dangling link followed) and must equal the root or lie below it; the
** access then opens relative to a descriptor of the root with openat2
** (RESOLVE_BENEATH), so a link swapped in after the check cannot escape
** (docs/builtins.md). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fspath.h"
#include "vm/bi_core.h"
#include "vm/bi_fs.h"

char *hk_fs_canonical(const char *path) {
  char *c;
  int rc = hk_fspath_canonical(path, &c);
  if (rc < 0) errno = -rc;
  return c;
}

bool hk_fs_inside(const char *path, const char *root) { return hk_fspath_inside(path, root); }

/* The canonical form of absolute [abs] whose last component, when it
** names an entry (not "", "." or ".."), is kept as it is, not followed:
** a symbolic link names itself. NULL (errno set) on failure. */
static char *canonical_entry(const char *abs) {
  const char *base = strrchr(abs, '/') + 1;
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) return hk_fs_canonical(abs);
  char *parent = strndup(abs, base - abs);
  char *dir = parent ? hk_fs_canonical(parent) : NULL;
  free(parent);
  if (!dir) return NULL;
  size_t n = strlen(dir) + strlen(base) + 2;
  char *c = malloc(n);
  if (c) snprintf(c, n, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", base);
  free(dir);
  return c;
}

static int resolve(hk_vm_t *vm, hk_builtin_id_t id, const char *s, size_t len, bool entry,
                   char **out) {
  if (strlen(s) != len) return hk_bi_fail_errno(vm, id, EINVAL);
  const hk_host_t *host = hk_vm_host(vm);
  if (!host || !host->fs_root) {
    *out = strdup(s);
    return *out ? 0 : hk_vm_fail(vm, "out of memory");
  }
  char root[PATH_MAX];
  if (!realpath(host->fs_root, root)) return hk_bi_fail_errno(vm, id, errno);
  char *abs;
  if (s[0] == '/') {
    abs = strdup(s);
  } else {
    abs = malloc(strlen(root) + len + 2);
    if (abs) {
      strcpy(abs, root);
      strcat(abs, "/");
      strcat(abs, s);
    }
  }
  char *canon = abs ? (entry ? canonical_entry(abs) : hk_fs_canonical(abs)) : NULL;
  free(abs);
  if (!canon) return errno == ENAMETOOLONG ? hk_bi_fail_errno(vm, id, errno)
                                          : hk_vm_fail(vm, "out of memory");
  if (!hk_fs_inside(canon, root)) {
    int rc = hk_vm_fail(vm, "%s: path '%s' is outside allowed root '%s'",
                        hk_builtin_table[id].name, canon, root);
    free(canon);
    return rc;
  }
  *out = canon;
  return 0;
}

int hk_fs_resolve(hk_vm_t *vm, hk_builtin_id_t id, const char *s, size_t len, char **out) {
  return resolve(vm, id, s, len, false, out);
}

int hk_fs_resolve_entry(hk_vm_t *vm, hk_builtin_id_t id, const char *s, size_t len,
                        char **out) {
  return resolve(vm, id, s, len, true, out);
}

char *hk_fs_shown(hk_vm_t *vm, const char *arg, const char *resolved) {
  const hk_host_t *host = hk_vm_host(vm);
  return strdup(host && host->fs_root ? resolved : arg);
}

/* ---- race-free access under --fs-root ------------------------------------ */

int hk_fs_open(hk_vm_t *vm, const char *path, int flags, mode_t mode) {
  const hk_host_t *host = hk_vm_host(vm);
  if (!host || !host->fs_root) {
    int fd = open(path, flags | O_CLOEXEC, mode);
    return fd < 0 ? -errno : fd;
  }
  char root[PATH_MAX];
  if (!realpath(host->fs_root, root)) return -errno;
  /* [path] is canonical and was checked by hk_fs_resolve; check again so a
  ** caller's mistake cannot reach outside. */
  const char *rel = hk_fspath_relative(path, root);
  if (!rel) return -EXDEV;
  int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return -errno;
  int fd = hk_fspath_open_beneath(rootfd, rel, flags, mode);
  if (fd == -ENOSYS || fd == -EPERM) { /* no openat2 here (old kernel, seccomp) */
    fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0) fd = -errno;
  }
  close(rootfd);
  return fd;
}

int hk_fs_open_parent(hk_vm_t *vm, const char *path, const char **base) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    *base = path;
    return hk_fs_open(vm, ".", O_PATH | O_DIRECTORY, 0);
  }
  *base = slash + 1;
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  char *parent = strndup(path, n);
  if (!parent) return -ENOMEM;
  int fd = hk_fs_open(vm, parent, O_PATH | O_DIRECTORY, 0);
  free(parent);
  return fd;
}

bool hk_fs_confined(hk_vm_t *vm, char *root) {
  const hk_host_t *host = hk_vm_host(vm);
  return host && host->fs_root && realpath(host->fs_root, root) != NULL;
}
