/* compile_host.c — compiling as an embedder does (SPEC §12.2, §13.2):
** from a string and from a file (with `use` beside it), errors and warnings
** as diagnostics and as rendered text, a file that does not exist, source
** that is not UTF-8, a serialized program loaded into a second runtime, a
** corrupt buffer refused, and two threads compiling at once. */
#include <errno.h>
#include <unistd.h>

#include "host.h"

static hiko_runtime_t *make_runtime(host_out_t *out) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = 2;
  cfg.out = host_out_write;
  cfg.io_ud = out;
  hiko_runtime_t *rt = NULL;
  CHECK_RC(hiko_runtime_create(&rt, &cfg), 0);
  CHECK(rt != NULL);
  return rt;
}

/* A type error: HIKO_ECOMPILE, one error on line 2, rendered as
** "FILE:LINE:COL: error: MESSAGE", the source line, a caret line. */
static void type_error(hiko_runtime_t *rt) {
  const char *src = "val a = 1\nval b = a + \"one\"\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  CHECK_RC(hiko_compile_string(rt, "bad.hml", src, strlen(src), &p, &d), HIKO_ECOMPILE);
  CHECK(p == NULL);
  CHECK(d != NULL);
  CHECK(hiko_diags_count(d) == 1);
  CHECK(hiko_diags_errors(d) == 1);
  const hiko_diag_t *g = hiko_diags_get(d, 0);
  CHECK(g != NULL && g->is_error);
  CHECK_STR(g->file, "bad.hml");
  CHECK(g->line == 2 && g->col >= 9 && g->col <= 15);
  CHECK(g->message && *g->message);
  CHECK(hiko_diags_get(d, 1) == NULL);
  char *text = NULL;
  CHECK_RC(hiko_diags_render(d, &text), 0);
  char head[128];
  snprintf(head, sizeof head, "bad.hml:2:%u: error: %s\nval b = a + \"one\"\n", g->col, g->message);
  CHECK(strncmp(text, head, strlen(head)) == 0);
  const char *caret = text + strlen(head);
  for (uint32_t i = 1; i < g->col; i++) CHECK(caret[i - 1] == ' ');
  CHECK(caret[g->col - 1] == '^');
  hiko_free(text);
  hiko_diags_free(d);
}

/* Warnings only: the program compiles, *diags holds them (is_error false,
** errors 0), and rendering says "warning:". A clean program: diags NULL. */
static void warnings(hiko_runtime_t *rt) {
  const char *src = "fun f x = case x of 1 => \"one\" | _ => \"many\" | 2 => \"two\"\n"
                    "val _ = println (f 2)\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  CHECK_RC(hiko_compile_string(rt, "warn.hml", src, strlen(src), &p, &d), 0);
  CHECK(p != NULL && d != NULL);
  CHECK(hiko_diags_count(d) >= 1 && hiko_diags_errors(d) == 0);
  CHECK(!hiko_diags_get(d, 0)->is_error && hiko_diags_get(d, 0)->line == 1);
  char *text = NULL;
  CHECK_RC(hiko_diags_render(d, &text), 0);
  CHECK(strncmp(text, "warn.hml:1:", 11) == 0 && strstr(text, ": warning: "));
  hiko_free(text);
  hiko_diags_free(d);
  hiko_program_release(p);

  d = (hiko_diags_t *)&d; /* must be overwritten */
  CHECK_RC(hiko_compile_string(rt, "ok.hml", "val x = 1\n", 10, &p, &d), 0);
  CHECK(d == NULL && hiko_diags_count(NULL) == 0);
  hiko_program_release(p);
}

/* Bytes that are not UTF-8 in the source: an error with a position. A
** string with a NUL inside is text of the given length, not cut short. */
static void odd_source(hiko_runtime_t *rt) {
  const char bad[] = "val s = \"a\xff\"\n";
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  CHECK_RC(hiko_compile_string(rt, "utf.hml", bad, sizeof bad - 1, &p, &d), HIKO_ECOMPILE);
  CHECK(hiko_diags_errors(d) == 1 && hiko_diags_get(d, 0)->line == 1 &&
        hiko_diags_get(d, 0)->col >= 1);
  hiko_diags_free(d);
  /* Only the first len bytes count: the rest of the buffer is never read. */
  const char cut[] = "val x = 1\nthis is not hiko";
  CHECK_RC(hiko_compile_string(rt, "cut.hml", cut, 10, &p, &d), 0);
  hiko_diags_free(d);
  hiko_program_release(p);
}

/* From a file: `use` resolves against the file's directory, diagnostics
** name the path as given; a missing file is an error about the whole file
** (SPEC §14.1): a negative code, and no program. */
static void from_file(hiko_runtime_t *rt, host_out_t *out) {
  char dir[] = "/tmp/hiko-embed-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char main_path[256], mod_path[256], bad_path[256];
  snprintf(main_path, sizeof main_path, "%s/main.hml", dir);
  snprintf(mod_path, sizeof mod_path, "%s/_greet.hml", dir);
  snprintf(bad_path, sizeof bad_path, "%s/bad.hml", dir);
  FILE *f = fopen(mod_path, "w");
  CHECK(f);
  fputs("fun greet n = \"hello \" ^ n\n", f);
  fclose(f);
  f = fopen(main_path, "w");
  CHECK(f);
  fputs("use \"_greet.hml\"\nval _ = println (greet \"file\")\n", f);
  fclose(f);
  f = fopen(bad_path, "w");
  CHECK(f);
  fputs("val x =\n", f);
  fclose(f);

  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  CHECK_RC(hiko_compile_file(rt, main_path, &p, &d), 0);
  hiko_diags_free(d);
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt, p, &root), 0);
  hiko_program_release(p); /* the root keeps it alive */
  CHECK_RC(hiko_run(rt), 0);
  host_expect(rt, root, HIKO_DONE, NULL);
  CHECK(strstr(out->buf, "hello file\n"));

  CHECK_RC(hiko_compile_file(rt, bad_path, &p, &d), HIKO_ECOMPILE);
  CHECK(hiko_diags_errors(d) == 1);
  CHECK_STR(hiko_diags_get(d, 0)->file, bad_path);
  hiko_diags_free(d);

  char missing[300];
  snprintf(missing, sizeof missing, "%s/missing.hml", dir);
  p = NULL;
  d = NULL;
  int rc = hiko_compile_file(rt, missing, &p, &d);
  CHECK(rc < 0 && p == NULL);
  if (rc == HIKO_ECOMPILE) { /* reported as a diagnostic without a position */
    CHECK(hiko_diags_errors(d) == 1 && hiko_diags_get(d, 0)->line == 0);
  } else {
    CHECK_RC(rc, -ENOENT);
  }
  hiko_diags_free(d);
  unlink(main_path);
  unlink(mod_path);
  unlink(bad_path);
  rmdir(dir);
}

/* A program dumped by one runtime runs in another; a damaged buffer is
** refused with one "invalid bytecode: REASON" diagnostic and never runs. */
static void dump_and_load(hiko_runtime_t *rt) {
  hiko_program_t *p = host_compile(rt, "dump.hml",
      "fun sq x = x * x\nval _ = println (sq 12, [self ()])\n");
  void *buf = NULL;
  size_t len = 0;
  CHECK_RC(hiko_program_dump(p, &buf, &len), 0);
  CHECK(buf != NULL && len > 16);
  hiko_program_release(p);

  host_out_t out2;
  host_out_init(&out2);
  hiko_runtime_t *rt2 = make_runtime(&out2);
  hiko_program_t *q = NULL;
  hiko_diags_t *d = NULL;
  CHECK_RC(hiko_program_load(rt2, buf, len, &q, &d), 0);
  hiko_diags_free(d);
  hiko_pid_t root;
  CHECK_RC(hiko_spawn_main(rt2, q, &root), 0);
  CHECK(root == 1); /* the first pid of a runtime (SPEC §6.2) */
  CHECK_RC(hiko_run(rt2), 0);
  host_expect(rt2, root, HIKO_DONE, NULL);
  CHECK_STR(out2.buf, "(144, [<pid 1>])\n");
  hiko_program_release(q);

  /* Every truncation of the buffer is refused, cleanly. */
  for (size_t cut = 0; cut < len; cut += 1 + cut / 8) {
    q = NULL;
    d = NULL;
    CHECK_RC(hiko_program_load(rt2, buf, cut, &q, &d), HIKO_EBYTECODE);
    CHECK(q == NULL && hiko_diags_count(d) == 1);
    const hiko_diag_t *g = hiko_diags_get(d, 0);
    CHECK(g->is_error && strncmp(g->message, "invalid bytecode: ", 18) == 0);
    hiko_diags_free(d);
  }
  hiko_free(buf);
  CHECK_RC(hiko_runtime_destroy(rt2), 0);
}

typedef struct compiler_job {
  hiko_runtime_t *rt;
  int n;
  int failures;
} compiler_job_t;

static void *compile_many(void *arg) {
  compiler_job_t *j = arg;
  for (int i = 0; i < 20; i++) {
    char src[128];
    snprintf(src, sizeof src, "fun f x = x + %d\nval _ = f %d\n", j->n, i);
    hiko_program_t *p = NULL;
    hiko_diags_t *d = NULL;
    if (hiko_compile_string(j->rt, "t.hml", src, strlen(src), &p, &d) != 0) j->failures++;
    hiko_diags_free(d);
    hiko_program_release(p);
  }
  return NULL;
}

int main(void) {
  host_out_t out;
  host_out_init(&out);
  hiko_runtime_t *rt = make_runtime(&out);
  type_error(rt);
  warnings(rt);
  odd_source(rt);
  from_file(rt, &out);
  dump_and_load(rt);

  /* Compiling is allowed from any thread, concurrently (SPEC §12.2). */
  pthread_t th[3];
  compiler_job_t jobs[3];
  for (int i = 0; i < 3; i++) {
    jobs[i] = (compiler_job_t){rt, i, 0};
    CHECK(pthread_create(&th[i], NULL, compile_many, &jobs[i]) == 0);
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    CHECK(jobs[i].failures == 0);
  }
  /* Without a runtime (as `hiko check`): the standard builtins only. */
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  CHECK_RC(hiko_compile_string(NULL, "x.hml", "val _ = println 1\n", 18, &p, &d), 0);
  hiko_program_release(p);
  CHECK_RC(hiko_runtime_destroy(rt), 0);
  puts("compile_host: ok");
  return 0;
}
