/* base/fspath.h: canonical paths and confined opens for --fs-root
** (SPEC §7.5.1), shared by vm/ (the filesystem builtins) and io/ (read_file,
** write_file). Stateless; includes only the C library and Linux headers. */
#ifndef HK_BASE_FSPATH_H
#define HK_BASE_FSPATH_H

#include <stdbool.h>

/* The canonical form of absolute [path]: symbolic links resolved, "." and
** ".." applied, components that do not exist (or cannot be looked up)
** appended lexically. A dangling link is followed to where it points, so
** one pointing outside a root is reported with its target; a loop of links
** keeps its name (the access then fails with ELOOP). Returns 0 with an
** owned *out (free with free), -ENOMEM or -ENAMETOOLONG. Thread: any. */
int hk_fspath_canonical(const char *path, char **out);

/* True when canonical [path] is canonical [root] or lies below it,
** component-wise ("/ab" is not below "/a"). Thread: any. */
bool hk_fspath_inside(const char *path, const char *root);

/* The part of canonical [path] below canonical [root], "." for the root
** itself; a pointer into [path] (borrowed). NULL when [path] is outside.
** Thread: any. */
const char *hk_fspath_relative(const char *path, const char *root);

/* openat2(2) of [rel] beneath directory [dirfd] with RESOLVE_BENEATH |
** RESOLVE_NO_MAGICLINKS and O_CLOEXEC added to [flags] ([mode] only with
** O_CREAT), so a symbolic link swapped in after a check cannot leave the
** directory. Returns a descriptor or -errno: -EXDEV when the path would
** leave it, -ENOSYS where the kernel has no openat2. Thread: any. */
int hk_fspath_open_beneath(int dirfd, const char *rel, int flags, unsigned mode);

#endif
