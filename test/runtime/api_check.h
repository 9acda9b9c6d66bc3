/* api_check.h — Criterion helpers shared by the embedding API tests
** (api_test.c, qa_api_test.c): compile a program that must compile, show a
** value, join a root expecting an outcome, end a test. Include after criterion.h and hiko.h. */
#ifndef HIKO_TEST_API_CHECK_H
#define HIKO_TEST_API_CHECK_H

#include <string.h>

/* Compiles [src] as "test.hml"; fails the test (logging the diagnostics)
** unless it compiles. */
static inline hiko_program_t *compile(hiko_runtime_t *rt, const char *src) {
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
static inline char *show(const hiko_value_t *v) {
  char *s = NULL;
  cr_assert_eq(hiko_value_show(v, &s), 0);
  cr_assert_not_null(s);
  return s;
}

/* Joins root [pid] (10 s at most) and checks its status and, unless NULL,
** its message. */
static inline void expect_end(hiko_runtime_t *rt, hiko_pid_t pid, int status, const char *message) {
  hiko_result_t r;
  cr_assert_eq(hiko_join(rt, pid, &r, 10000), 0);
  cr_assert_eq(r.status, status, "status %d, message %s", r.status, r.message ? r.message : "");
  if (message) cr_assert_str_eq(r.message, message);
  hiko_result_clear(&r);
}

/* Ends a test: closes [port], destroys [rt], releases [p1] and [p2] (each
** may be NULL). */
static inline void teardown(hiko_runtime_t *rt, hiko_port_t *port, hiko_program_t *p1, hiko_program_t *p2) {
  if (port) cr_assert_eq(hiko_port_close(port), 0);
  cr_assert_eq(hiko_runtime_destroy(rt), 0);
  if (p1) hiko_program_release(p1);
  if (p2) hiko_program_release(p2);
}

#endif
