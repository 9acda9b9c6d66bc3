/* api_check.h — Criterion helpers shared by the embedding API tests
** (api_test.c, qa_api_test.c): compile a program that must compile, show a
** value. Include after criterion.h and hiko.h. */
#ifndef HIKO_TEST_API_CHECK_H
#define HIKO_TEST_API_CHECK_H

#include <string.h>

/* Compiles [src] as "test.hml"; fails the test (logging the diagnostics)
** unless it compiles. */
static hiko_program_t *compile(hiko_runtime_t *rt, const char *src) {
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  int rc = hiko_compile_string(rt, "test.hml", src, strlen(src), &p, &d);
  if (rc) {
    char *text = NULL;
    if (d) hiko_diags_render(d, &text);
    cr_log_error("%s", text ? text : "(no diagnostics)");
    hiko_free(text);
  }
  hiko_diags_free(d);
  cr_assert_eq(rc, 0);
  return p;
}

/* The §5 text of [v]; owned (hiko_free). */
static char *show(const hiko_value_t *v) {
  char *s = NULL;
  cr_assert_eq(hiko_value_show(v, &s), 0);
  cr_assert_not_null(s);
  return s;
}

#endif
