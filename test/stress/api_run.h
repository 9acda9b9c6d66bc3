/* api_run.h — shared by the stress programs that drive whole hiko programs
** through the embedding API (rt_programs.c, rt_io_race.c): a deadline that
** fails instead of hanging CI, output capture, running one program and
** checking its output, and template substitution. Define STRESS_NAME before
** including it. Everything is static: each program includes it once. */
#ifndef HK_STRESS_API_RUN_H
#define HK_STRESS_API_RUN_H

#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hiko.h"

#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#else
#define TSAN 0
#endif
#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif
/* A guard against a hang only; meson's own timeout is 300 s per program,
** x3 under ASan (scripts/test.sh). ASan at -O0 at load 45 ran rt_io_race's
** "timeouts" part in 102 s (1 worker) and 67 s (2 workers) where the
** debugoptimized build took 8-11 s, and the whole program passed 240 s. */
#if defined(__SANITIZE_ADDRESS__)
#define DEADLINE_S (720 * STRESS_SCALE)
#else
#define DEADLINE_S (240 * STRESS_SCALE)
#endif

static void on_alarm(int sig) {
  (void)sig;
  static const char text[] = STRESS_NAME ": deadline exceeded\n";
  if (write(2, text, sizeof text - 1) < 0) { /* nothing to do */ }
  _exit(1);
}

static char outbuf[1 << 16];
static size_t outlen;
static void collect(void *ud, const char *d, size_t n) {
  (void)ud;
  if (outlen + n < sizeof outbuf) {
    memcpy(outbuf + outlen, d, n);
    outlen += n;
    outbuf[outlen] = '\0';
  }
}

/* Runs [src] as a root on [workers] workers with deadlock detection on;
** returns 0 if it finished and printed exactly [want]. */
static int run(const char *name, const char *src, unsigned workers, const char *want) {
  hiko_config_t cfg;
  hiko_config_init(&cfg);
  cfg.workers = workers;
  cfg.detect_deadlock = true;
  cfg.out = collect;
  outlen = 0;
  outbuf[0] = '\0';
  hiko_runtime_t *rt;
  if (hiko_runtime_create(&rt, &cfg)) return 1;
  hiko_program_t *p;
  hiko_diags_t *d;
  int rc = hiko_compile_string(rt, name, src, strlen(src), &p, &d);
  if (rc) {
    char *text = NULL;
    if (d) hiko_diags_render(d, &text);
    fprintf(stderr, "%s: compile failed:\n%s", name, text ? text : "");
    hiko_free(text);
    hiko_diags_free(d);
    hiko_runtime_destroy(rt);
    return 1;
  }
  hiko_diags_free(d);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hiko_pid_t root;
  hiko_result_t res;
  int fail = hiko_spawn_main(rt, p, &root) || hiko_run(rt) || hiko_join(rt, root, &res, -1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (!fail && res.status != HIKO_DONE) {
    fprintf(stderr, "%s: root failed: %s\n", name, res.message ? res.message : "?");
    fail = 1;
  }
  if (!fail && strcmp(outbuf, want) != 0) {
    fprintf(stderr, "%s: printed '%s', want '%s'\n", name, outbuf, want);
    fail = 1;
  }
  hiko_stats_t st;
  if (!fail && hiko_stats_get(rt, &st) == 0) {
    printf("%s: %u workers, %.0f ms, processes %" PRIu64 ", sent %" PRIu64 ", received %" PRIu64
           ", steals %" PRIu64 "\n",
           name, workers, (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
           st.processes, st.total.sent, st.total.received, st.total.steals);
    hiko_stats_clear(&st);
  }
  if (!fail) hiko_result_clear(&res);
  hiko_runtime_destroy(rt);
  hiko_program_release(p);
  return fail;
}

/* Replaces each whole-word key of [tmpl] by its value. Returns malloc'ed text. */
static char *subst(const char *tmpl, const char *const *keys, const long *vals, int n) {
  size_t cap = strlen(tmpl) * 2 + 256;
  char *out = malloc(cap), *o = out;
  if (!out) abort();
  for (const char *s = tmpl; *s;) {
    int k = 0;
    for (; k < n; k++) {
      size_t kl = strlen(keys[k]);
      /* Compare first: s[kl] is only readable once s starts with the key. */
      if (strncmp(s, keys[k], kl) != 0) continue;
      bool word = (s == tmpl || !isalnum((unsigned char)s[-1])) && !isalnum((unsigned char)s[kl]);
      if (word) break;
    }
    if (k < n) {
      o += sprintf(o, "%ld", vals[k]);
      s += strlen(keys[k]);
    } else {
      *o++ = *s++;
    }
  }
  *o = '\0';
  return out;
}

#endif
