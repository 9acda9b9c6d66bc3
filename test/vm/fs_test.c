/* fs_test.c — glob matching, glob expansion, directory walks and canonical
** paths (vm/bi_fs.h; SPEC §7.5, §8.6) on a scratch directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/bi_fs.h"

static char root[PATH_MAX];

static void touch(const char *rel) {
  char p[PATH_MAX * 2];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  cr_assert_geq(fd, 0, "%s", p);
  close(fd);
}

static void mkd(const char *rel) {
  char p[PATH_MAX * 2];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  cr_assert_eq(mkdir(p, 0755), 0, "%s", p);
}

/* root: a.txt b/ b/c.txt b/d/ b/d/e.md b/d/up -> .. .hidden.txt z.md lnk -> b */
static void setup(void) {
  char tmpl[] = "/tmp/hiko_fs_test_XXXXXX";
  cr_assert_not_null(mkdtemp(tmpl));
  cr_assert_not_null(realpath(tmpl, root));
  touch("a.txt");
  mkd("b");
  touch("b/c.txt");
  mkd("b/d");
  touch("b/d/e.md");
  touch(".hidden.txt");
  touch("z.md");
  char p[PATH_MAX * 2];
  snprintf(p, sizeof p, "%s/b/d/up", root);
  cr_assert_eq(symlink("..", p), 0);
  snprintf(p, sizeof p, "%s/lnk", root);
  cr_assert_eq(symlink("b", p), 0);
  cr_assert_eq(chdir(root), 0);
}

static void teardown(void) {
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0) cr_log_warn("could not remove %s", root);
}

TestSuite(vm_fs, .init = setup, .fini = teardown);

static void expect_names(hk_fs_names_t *n, const char *const *want, size_t count) {
  for (size_t i = 0; i < n->n && i < count; i++) cr_expect_str_eq(n->items[i], want[i]);
  cr_assert_eq(n->n, count, "got %zu names", n->n);
  hk_fs_names_free(n);
}

static void expect_glob(const char *pattern, const char *const *want, size_t count) {
  hk_fs_names_t n = {0};
  cr_assert_eq(hk_glob_run(pattern, NULL, NULL, &n), 0);
  expect_names(&n, want, count);
}

#define M(p, s) hk_glob_match(p, strlen(p), s, strlen(s))

Test(vm_fs, match_component) {
  cr_assert(M("*.txt", "a.txt"));
  cr_assert(M("*.txt", ".hidden.txt")); /* a leading dot is matched by wildcards */
  cr_assert_not(M("*.txt", "a.md"));
  cr_assert(M("a?c", "abc"));
  cr_assert(M("a?c", "a\xC3\xA9" "c")); /* ? is one character, not one byte */
  cr_assert_not(M("a?c", "ac"));
  cr_assert(M("[abc]x", "bx"));
  cr_assert_not(M("[abc]x", "dx"));
  cr_assert(M("[a-z]9", "q9"));
  cr_assert_not(M("[!a-z]9", "q9"));
  cr_assert(M("[!a-z]9", "Q9"));
  cr_assert(M("{a,b}", "{a,b}")); /* braces are literal */
  cr_assert(M("*a*b*", "xxaxxbxx"));
  cr_assert_not(M("*a*b", "xxaxxbxxc"));
  cr_assert(M("*", ""));
  cr_assert(M("[]]", "]"));
  cr_assert(M("x[", "x[")); /* an unclosed class is literal */
}

Test(vm_fs, glob_relative) {
  const char *txt[] = {".hidden.txt", "a.txt"};
  expect_glob("*.txt", txt, 2);
  const char *sub[] = {"b/c.txt", "lnk/c.txt"};
  expect_glob("*/c.txt", sub, 2);
  const char *md[] = {"b/d/e.md", "z.md"};
  expect_glob("**/*.md", md, 2);
  const char *lit[] = {"b/c.txt"};
  expect_glob("b/c.txt", lit, 1);
  expect_glob("nothing/*", NULL, 0);
  const char *dirs[] = {"b", "b/d"};
  expect_glob("b/**", dirs, 2);
}

Test(vm_fs, glob_absolute) {
  char pattern[PATH_MAX + 16], want[PATH_MAX + 16];
  snprintf(pattern, sizeof pattern, "%s/b/*.txt", root);
  snprintf(want, sizeof want, "%s/b/c.txt", root);
  const char *w[] = {want};
  expect_glob(pattern, w, 1);
}

Test(vm_fs, walk_sorted_depth_first_no_loops) {
  hk_fs_names_t n = {0};
  cr_assert_eq(hk_fs_walk("top", root, NULL, &n, NULL), 0);
  /* b/d/up -> .. is a directory being walked: not entered again. lnk -> b
  ** is followed (b is no longer being walked then). */
  const char *want[] = {"top/.hidden.txt", "top/a.txt",     "top/b/c.txt", "top/b/d/e.md",
                        "top/lnk/c.txt",   "top/lnk/d/e.md", "top/z.md"};
  expect_names(&n, want, 7);
  cr_assert_eq(hk_fs_walk("x", "/nonexistent/dir", NULL, &n, NULL), -ENOENT);
  char file[PATH_MAX + 8];
  snprintf(file, sizeof file, "%s/a.txt", root);
  cr_assert_eq(hk_fs_walk("x", file, NULL, &n, NULL), -ENOTDIR);
}

Test(vm_fs, list_sorted) {
  hk_fs_names_t n = {0};
  cr_assert_eq(hk_fs_list(root, &n), 0);
  const char *want[] = {".hidden.txt", "a.txt", "b", "lnk", "z.md"};
  expect_names(&n, want, 5);
  cr_assert_eq(hk_fs_list("/nonexistent", &n), -ENOENT);
}

Test(vm_fs, canonical) {
  char in[PATH_MAX + 64], want[PATH_MAX + 64];
  snprintf(in, sizeof in, "%s/lnk/./d/../missing/x/../y", root);
  snprintf(want, sizeof want, "%s/b/missing/y", root);
  char *c = hk_fs_canonical(in);
  cr_assert_str_eq(c, want);
  free(c);
  c = hk_fs_canonical("/../..");
  cr_assert_str_eq(c, "/");
  free(c);
  snprintf(in, sizeof in, "%s/b/d/up/d/up", root); /* each up -> .. resolves to root/b */
  c = hk_fs_canonical(in);
  snprintf(want, sizeof want, "%s/b", root);
  cr_assert_str_eq(c, want);
  free(c);
}

/* A dangling link is followed to where it points (SPEC §7.5.1: missing
** trailing components are allowed), relative to its own directory or
** absolute; a loop of links keeps its name. */
Test(vm_fs, canonical_follows_dangling_links) {
  char in[PATH_MAX + 64], want[PATH_MAX + 64], link[PATH_MAX + 16];
  snprintf(link, sizeof link, "%s/b/dang", root);
  cr_assert_eq(symlink("../../gone/x.txt", link), 0);
  snprintf(in, sizeof in, "%s/lnk/dang", root);
  char *c = hk_fs_canonical(in);
  snprintf(want, sizeof want, "%s", root);
  *strrchr(want, '/') = 0;
  strcat(want, "/gone/x.txt");
  cr_assert_str_eq(c, want);
  free(c);
  snprintf(link, sizeof link, "%s/abs", root);
  cr_assert_eq(symlink("/no_such_qa17_dir/y", link), 0);
  snprintf(in, sizeof in, "%s/abs/z/../w", root);
  c = hk_fs_canonical(in);
  cr_assert_str_eq(c, "/no_such_qa17_dir/y/w");
  free(c);
  snprintf(link, sizeof link, "%s/loop", root);
  cr_assert_eq(symlink("loop", link), 0);
  snprintf(in, sizeof in, "%s/loop", root);
  c = hk_fs_canonical(in);
  cr_assert_str_eq(c, in);
  free(c);
}

Test(vm_fs, walk_confined) {
  /* Inside the root: canonical paths; lnk -> b is reported as b. */
  hk_fs_names_t n = {0};
  char *outside = NULL;
  cr_assert_eq(hk_fs_walk(root, root, root, &n, &outside), 0);
  cr_assert_eq(n.n, 7);
  char want[PATH_MAX + 32];
  snprintf(want, sizeof want, "%s/b/c.txt", root);
  cr_assert_str_eq(n.items[4], want); /* lnk/c.txt, canonically */
  hk_fs_names_free(&n);
  /* Confined to c: the link c/esc -> ../a.txt escapes. */
  mkd("c");
  char sub[PATH_MAX + 8], link[PATH_MAX + 16], target[PATH_MAX + 16];
  snprintf(sub, sizeof sub, "%s/c", root);
  snprintf(link, sizeof link, "%s/c/esc", root);
  cr_assert_eq(symlink("../a.txt", link), 0);
  cr_assert_eq(hk_fs_walk(sub, sub, sub, &n, &outside), -EXDEV);
  snprintf(target, sizeof target, "%s/a.txt", root);
  cr_assert_str_eq(outside, target);
  free(outside);
  hk_fs_names_free(&n);
  cr_assert(hk_fs_inside("/a/b", "/a"));
  cr_assert(hk_fs_inside("/a", "/a"));
  cr_assert_not(hk_fs_inside("/ab", "/a"));
  cr_assert(hk_fs_inside("/x", "/"));
}
