/* diag_test.c — diagnostics rendering (SPEC §13.2) and the loader's `use`
** resolution (SPEC §2.7) through the front-end pipeline's load step. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/diag.h"
#include "vm/load.h"

static hk_sources_t src;
static hk_diags_list_t diags;
static char *text;
static char dir[64]; /* a temporary directory of the loader tests */

static void setup(void) {
  memset(&src, 0, sizeof src);
  memset(&diags, 0, sizeof diags);
  text = NULL;
}
static void teardown(void) {
  if (dir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) dir[0] = '\0';
    dir[0] = '\0';
  }
  free(text);
  hk_diags_list_free(&diags);
  hk_sources_free(&src);
}

TestSuite(vm_diag, .init = setup, .fini = teardown);

static uint32_t add_source(const char *path, const char *body) {
  size_t n = strlen(body);
  char *t = malloc(n + 1);
  memcpy(t, body, n + 1);
  int idx = hk_sources_add(&src, strdup(path), strdup(path), t, n);
  cr_assert_geq(idx, 0);
  return (uint32_t)idx;
}

static const char *render(void) {
  free(text);
  text = NULL;
  cr_assert_eq(hk_diags_render(&diags, &src, &text), 0);
  return text;
}

Test(vm_diag, caret_and_tildes) {
  uint32_t f = add_source("a.hml", "val x = foo bar\n");
  hk_diag_error(&diags, (hk_pos_t){ f, 1, 9, 3 }, "unbound variable: %s", "foo");
  cr_assert_str_eq(render(), "a.hml:1:9: error: unbound variable: foo\n"
                             "val x = foo bar\n"
                             "        ^~~\n");
  cr_assert_eq(diags.errors, 1);
}

Test(vm_diag, tabs_and_multibyte_prefix) {
  uint32_t f = add_source("t.hml", "\t\"\xc3\xa9\"\t x\r\nnext");
  hk_diag_error(&diags, (hk_pos_t){ f, 1, 7, 1 }, "m");
  cr_assert_str_eq(render(), "t.hml:1:7: error: m\n"
                             "\t\"\xc3\xa9\"\t x\n"
                             "\t   \t ^\n");
}

Test(vm_diag, range_clipped_at_end_of_line) {
  uint32_t f = add_source("r.hml", "ab cd\nef");
  hk_diag_error(&diags, (hk_pos_t){ f, 1, 4, HK_POS_TO_EOL }, "m");
  cr_assert_str_eq(render(), "r.hml:1:4: error: m\nab cd\n   ^~\n");
}

Test(vm_diag, position_after_last_character) {
  uint32_t f = add_source("e.hml", "val x =");
  hk_diag_error(&diags, (hk_pos_t){ f, 1, 8, 1 }, "expected expression");
  cr_assert_str_eq(render(), "e.hml:1:8: error: expected expression\nval x =\n       ^\n");
  hk_diags_list_free(&diags);
  memset(&diags, 0, sizeof diags);
  hk_diag_error(&diags, (hk_pos_t){ f, 2, 1, 1 }, "expected expression");
  cr_assert_str_eq(render(), "e.hml:2:1: error: expected expression\n");
}

Test(vm_diag, warnings_before_error_and_file_errors) {
  uint32_t f = add_source("w.hml", "a\nb\n");
  hk_diag_error(&diags, (hk_pos_t){ f, 2, 1, 1 }, "bad");
  hk_diag_warning(&diags, (hk_pos_t){ f, 1, 1, 1 }, "first");
  hk_diag_warning(&diags, (hk_pos_t){ f, 2, 1, 1 }, "second");
  cr_assert_eq(diags.errors, 1);
  cr_assert_str_eq(render(), "w.hml:1:1: warning: first\na\n^\n"
                             "w.hml:2:1: warning: second\nb\n^\n"
                             "w.hml:2:1: error: bad\nb\n^\n");
  hk_diags_list_free(&diags);
  memset(&diags, 0, sizeof diags);
  hk_diag_error_file(&diags, f, "cannot read '%s': %s", "w.hml", "Permission denied");
  cr_assert_str_eq(render(), "w.hml: error: cannot read 'w.hml': Permission denied\n");
}

/* ---- The loader ---- */

static void write_file(const char *rel, const char *body) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(body, f);
  fclose(f);
}

static int load(const char *main_rel, hk_arena_t *a, hk_program_ast_t **prog) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, main_rel);
  hk_load_opts_t opts = { .libdir = dir, .deny_files = false };
  return hk_load_program_file(a, &src, &diags, &opts, path, prog);
}

static void make_dir(void) {
  strcpy(dir, "/tmp/hk_diag_test_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  char sub[128];
  snprintf(sub, sizeof sub, "%s/sub", dir);
  mkdir(sub, 0700);
  snprintf(sub, sizeof sub, "%s/stdlib", dir);
  mkdir(sub, 0700);
}

Test(vm_diag, use_expansion_load_once_and_stdlib) {
  make_dir();
  write_file("main.hml", "use \"sub/a.hml\"\nuse \"sub/../sub/a.hml\"\nuse \"stdlib/s.hml\"\nval m = 1\n");
  write_file("sub/a.hml", "use \"b.hml\"\nval a = 1\n");
  write_file("sub/b.hml", "val b = 2\n");
  write_file("stdlib/s.hml", "val s = 3\n");
  hk_arena_t a;
  hk_arena_init(&a);
  hk_program_ast_t *prog = NULL;
  cr_assert_eq(load("main.hml", &a, &prog), 0, "%s", diags.n ? diags.items[0].message : "");
  cr_assert_eq(prog->ndecs, 4);
  hk_dec_t *u = prog->decs[0];
  cr_assert_eq(u->kind, HK_D_USE);
  cr_assert_eq(u->ndecs, 2);
  cr_assert_eq(u->decs[0]->kind, HK_D_USE);
  cr_assert_eq(u->decs[0]->ndecs, 1); /* sub/b.hml, relative to sub/ */
  cr_assert_eq(prog->decs[1]->ndecs, 0); /* loaded before */
  cr_assert_eq(prog->decs[1]->use_file, u->use_file);
  cr_assert_eq(prog->decs[2]->ndecs, 1); /* stdlib fallback */
  cr_assert_eq(src.n, 4);
  char want[256];
  snprintf(want, sizeof want, "%s/sub/b.hml", dir);
  cr_assert_str_eq(src.items[u->decs[0]->use_file].path, want);
  snprintf(want, sizeof want, "%s/stdlib/s.hml", dir);
  cr_assert_str_eq(src.items[prog->decs[2]->use_file].path, want);
  hk_arena_free(&a);
}

Test(vm_diag, use_errors) {
  make_dir();
  write_file("main.hml", "use \"sub/c.hml\"\n");
  write_file("sub/c.hml", "val c = 1\n  use \"../main.hml\"\n");
  hk_arena_t a;
  hk_arena_init(&a);
  hk_program_ast_t *prog = NULL;
  cr_assert_eq(load("main.hml", &a, &prog), -1);
  cr_assert_eq(diags.n, 1);
  char *real = realpath(dir, NULL);
  char want[300];
  snprintf(want, sizeof want, "circular import detected: '%s/main.hml'", real);
  free(real);
  cr_assert_str_eq(diags.items[0].message, want);
  cr_assert_eq(diags.items[0].pos.line, 2);
  cr_assert_eq(diags.items[0].pos.col, 3);
  cr_assert_eq(diags.items[0].pos.len, 17);
  hk_arena_free(&a);
  hk_diags_list_free(&diags);
  memset(&diags, 0, sizeof diags);
  hk_sources_free(&src);
  memset(&src, 0, sizeof src);

  write_file("m2.hml", "use \"nope.hml\"\n");
  hk_arena_init(&a);
  cr_assert_eq(load("m2.hml", &a, &prog), -1);
  snprintf(want, sizeof want, "cannot read '%s/nope.hml': No such file or directory", dir);
  cr_assert_str_eq(diags.items[0].message, want);
  hk_arena_free(&a);
  hk_diags_list_free(&diags);
  memset(&diags, 0, sizeof diags);
  hk_sources_free(&src);
  memset(&src, 0, sizeof src);

  hk_arena_init(&a);
  cr_assert_eq(load("missing.hml", &a, &prog), -1);
  cr_assert_eq(diags.items[0].has_pos, false);
  snprintf(want, sizeof want, "cannot read '%s/missing.hml': No such file or directory", dir);
  cr_assert_str_eq(diags.items[0].message, want);
  hk_arena_free(&a);
}

Test(vm_diag, string_main_and_denied_files) {
  hk_arena_t a;
  hk_arena_init(&a);
  hk_program_ast_t *prog = NULL;
  hk_load_opts_t opts = { .libdir = "/nonexistent", .deny_files = true };
  const char *s = "val x = 1\nuse \"x.hml\"\n";
  cr_assert_eq(hk_load_program_string(&a, &src, &diags, &opts, "str.hml", s, strlen(s), &prog), -1);
  cr_assert_str_eq(diags.items[0].message, "cannot read 'x.hml': Permission denied");
  cr_assert_str_eq(src.items[0].path, "str.hml");
  hk_arena_free(&a);
}
