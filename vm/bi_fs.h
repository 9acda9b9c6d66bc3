/* bi_fs.h — helpers shared by the filesystem, glob and hashline builtins
** (SPEC §7.5, §8.6, §8.7). Thread: the owner of the VM instance. */
#ifndef HK_BI_FS_H
#define HK_BI_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vm/builtins.h"
#include "vm/vm.h"

/* A growable list of malloc'ed NUL-terminated names. */
typedef struct hk_fs_names {
  char **items;
  size_t n, cap;
} hk_fs_names_t;

/* Adds a copy of [s] (len bytes). Returns 0 or -ENOMEM. */
int hk_fs_names_add(hk_fs_names_t *n, const char *s, size_t len);
/* Sorts by byte order. */
void hk_fs_names_sort(hk_fs_names_t *n);
void hk_fs_names_free(hk_fs_names_t *n);

/* The entry names of directory [dir] without . and .., sorted. Returns 0 or
** -errno. */
int hk_fs_list(const char *dir, hk_fs_names_t *out);
/* The same for an open directory descriptor, which it takes (closes). */
int hk_fs_list_fd(int fd, hk_fs_names_t *out);

/* Every regular file below [real_root] (symbolic links followed, a
** directory already being walked not entered again), depth first in byte
** order, reported under [shown_root]. With [confine] (a canonical root),
** entries are reported by canonical path and one resolving outside it stops
** the walk with -EXDEV and *outside set (malloc'ed). Returns 0 or -errno. */
int hk_fs_walk(const char *shown_root, const char *real_root, const char *confine,
               hk_fs_names_t *out, char **outside);

/* Opens [path] (as returned by hk_fs_resolve) with open(2) [flags]. Under
** --fs-root the open is relative to a descriptor of the root with
** openat2(RESOLVE_BENEATH), so a symbolic link swapped in after the check
** cannot escape (-EXDEV); where openat2 is unavailable it falls back to a
** plain open of the checked path. Returns a descriptor or -errno. */
int hk_fs_open(hk_vm_t *vm, const char *path, int flags, mode_t mode);
/* Opens the parent directory of [path] (O_PATH) and points *base at the
** last component. Returns a descriptor or -errno. */
int hk_fs_open_parent(hk_vm_t *vm, const char *path, const char **base);

/* True under --fs-root, with the canonical root written to [root]
** (PATH_MAX bytes). */
bool hk_fs_confined(hk_vm_t *vm, char *root);

/* True when canonical [path] is [root] or lies below it. */
bool hk_fs_inside(const char *path, const char *root);

/* Resolves the path argument [s] (len bytes) of builtin [id]. Without
** --fs-root: a copy of s. With it: the canonical path (missing trailing
** components allowed), which must lie inside the root, else the failure
** "NAME: path 'PATH' is outside allowed root 'ROOT'" is recorded. A NUL in
** s records "NAME: Invalid argument". Returns 0 with *out malloc'ed, or a
** negative code (recorded). */
int hk_fs_resolve(hk_vm_t *vm, hk_builtin_id_t id, const char *s, size_t len, char **out);

/* hk_fs_resolve for a builtin that acts on a directory entry itself
** (remove_file): the last component is not followed, so a symbolic link
** names itself and removing one inside the root is allowed wherever it
** points, as unlink(2) does without --fs-root. Thread: the VM's owner. */
int hk_fs_resolve_entry(hk_vm_t *vm, hk_builtin_id_t id, const char *s, size_t len,
                        char **out);

/* The canonical form of absolute [path], allowing missing trailing
** components. Returns malloc'ed text or NULL (out of memory). Thread: any. */
char *hk_fs_canonical(const char *path);

/* How a walk reports paths: [arg] itself, or [resolved] under --fs-root.
** Returns malloc'ed text or NULL. */
char *hk_fs_shown(hk_vm_t *vm, const char *arg, const char *resolved);

/* Wildcard match of one path component (SPEC §8.6 glob syntax). */
bool hk_glob_match(const char *p, size_t pn, const char *s, size_t sn);
/* Called with each path glob is about to list or look at, and the number
** of pattern components it holds; a negative return stops the walk and is
** returned by hk_glob_run. */
typedef int (*hk_glob_check_fn)(void *ud, const char *path, size_t comps);
/* Every path matching [pattern], sorted, without duplicates. [check] (may
** be NULL) vets each path before it is touched. Returns 0, -ENOMEM or what
** [check] returned. */
int hk_glob_run(const char *pattern, hk_glob_check_fn check, void *ud, hk_fs_names_t *out);

#endif
