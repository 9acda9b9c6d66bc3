/* bi_fs_root.c — path resolution and --fs-root confinement (SPEC §7.5).
**
** Confinement here is a canonical-path check: the path is made canonical
** (symbolic links resolved with realpath(3), missing trailing components
** appended lexically) and must equal the root or lie below it. This catches
** links that escape, but it is not race-free against a link swapped in
** between the check and the access (SPEC asks for openat2 RESOLVE_BENEATH;
** see docs/builtins.md). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vm/bi_core.h"
#include "vm/bi_fs.h"

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

static char *canonical_hops(const char *path, int hops);

/* [link] (canonical, a dangling symbolic link) followed: its target, taken
** relative to the link's directory unless absolute, then [rest] (the
** components after the link), made canonical. Returns malloc'ed text, or
** NULL with errno ENOMEM or ENAMETOOLONG, or ELOOP past MAX_LINK_HOPS. */
static char *follow_dangling(const char *link, const char *rest, int hops) {
  char target[PATH_MAX];
  ssize_t tn = readlink(link, target, sizeof target - 1);
  if (tn <= 0 || hops >= MAX_LINK_HOPS) {
    errno = ELOOP;
    return NULL;
  }
  target[tn] = 0;
  /* A relative target starts in the link's directory. */
  int dirlen = target[0] == '/' ? 0 : (int)(strrchr(link, '/') - link);
  size_t n = (size_t)dirlen + (size_t)tn + strlen(rest) + 3;
  char *next = malloc(n);
  if (!next) return NULL;
  snprintf(next, n, "%.*s/%s/%s", dirlen, link, target, rest);
  char *c = canonical_hops(next, hops + 1);
  free(next);
  return c;
}

char *hk_fs_canonical(const char *path) { return canonical_hops(path, 0); }

static char *canonical_hops(const char *path, int hops) {
  size_t cap = strlen(path) + PATH_MAX + 2;
  char *buf = malloc(cap);
  if (!buf) return NULL;
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
      errno = ENAMETOOLONG;
      return NULL;
    }
    push_component(buf, &len, start, n);
    if (missing) continue;
    struct stat st;
    if (lstat(buf, &st) != 0) {
      missing = true;
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      char real[PATH_MAX];
      if (!realpath(buf, real)) {
        /* A dangling link: the canonical path is where it points (SPEC
        ** §7.5.1 allows missing trailing components), so one that points
        ** outside the root is reported with its target. A loop of links
        ** keeps its name; the access then fails with ELOOP. */
        char *c = errno == ENOENT ? follow_dangling(buf, p, hops) : NULL;
        if (c || errno == ENOMEM || errno == ENAMETOOLONG) {
          free(buf);
          return c;
        }
        missing = true;
        continue;
      }
      size_t rn = strlen(real);
      if (rn + 1 >= cap) {
        free(buf);
        return NULL;
      }
      memcpy(buf, real, rn + 1);
      len = rn;
    }
  }
  return buf;
}

bool hk_fs_inside(const char *path, const char *root) {
  size_t rn = strlen(root);
  if (strcmp(root, "/") == 0) return true;
  return strncmp(path, root, rn) == 0 && (path[rn] == 0 || path[rn] == '/');
}

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

/* openat2(2) with RESOLVE_BENEATH; glibc 2.36 has no wrapper. Returns an fd
** or -errno. */
static int openat2_beneath(int dirfd, const char *rel, int flags, mode_t mode) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH;
  long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
  return fd < 0 ? -errno : (int)fd;
}

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
  if (!hk_fs_inside(path, root)) return -EXDEV;
  size_t rn = strcmp(root, "/") == 0 ? 0 : strlen(root);
  const char *rel = path + rn;
  while (*rel == '/') rel++;
  if (!*rel) rel = ".";
  int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return -errno;
  int fd = openat2_beneath(rootfd, rel, flags, mode);
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
