/* host.h — what every test host of test/embed shares: a check that names
** the failing line and exits 1, a program that must compile, an output
** callback that collects print's text, and a join with an expected outcome.
** The hosts are written as an outside embedder would write them, from SPEC
** §12 and include/hiko.h only. */
#ifndef HIKO_TEST_EMBED_HOST_H
#define HIKO_TEST_EMBED_HOST_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hiko.h"

#define CHECK(c)                                                                 \
  do {                                                                           \
    if (!(c)) {                                                                  \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);     \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* [call] must return [want]; otherwise both codes and their text are shown. */
#define CHECK_RC(call, want)                                                     \
  do {                                                                           \
    int rc_ = (call), want_ = (want);                                            \
    if (rc_ != want_) {                                                          \
      fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n", __FILE__, \
              __LINE__, #call, rc_, hiko_strerror(rc_), want_, hiko_strerror(want_)); \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

#define CHECK_STR(got, want)                                                     \
  do {                                                                           \
    const char *g_ = (got), *w_ = (want);                                        \
    if (!g_ || strcmp(g_, w_) != 0) {                                            \
      fprintf(stderr, "%s:%d: got \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
              g_ ? g_ : "(null)", w_);                                           \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Text written by print, collected under a lock (the runtime calls the
** callback from worker threads, serialised, SPEC §12.3.3). */
typedef struct host_out {
  pthread_mutex_t lock;
  char buf[1 << 16];
  size_t len;
  size_t calls;
} host_out_t;

static inline void host_out_write(void *ud, const char *data, size_t len) {
  host_out_t *o = ud;
  pthread_mutex_lock(&o->lock);
  if (o->len + len < sizeof o->buf) {
    memcpy(o->buf + o->len, data, len);
    o->len += len;
    o->buf[o->len] = '\0';
  }
  o->calls++;
  pthread_mutex_unlock(&o->lock);
}

static inline void host_out_init(host_out_t *o) {
  memset(o, 0, sizeof *o);
  pthread_mutex_init(&o->lock, NULL);
}

/* Compiles [src] as [name] with [rt]; exits 1 with the rendered
** diagnostics unless it compiles. */
static inline hiko_program_t *host_compile(hiko_runtime_t *rt, const char *name, const char *src) {
  hiko_program_t *p = NULL;
  hiko_diags_t *d = NULL;
  int rc = hiko_compile_string(rt, name, src, strlen(src), &p, &d);
  if (rc) {
    char *text = NULL;
    if (d) hiko_diags_render(d, &text);
    fprintf(stderr, "%s does not compile (%s):\n%s", name, hiko_strerror(rc), text ? text : "");
    hiko_free(text);
    exit(1);
  }
  hiko_diags_free(d);
  CHECK(p != NULL);
  return p;
}

/* Joins root [pid] within 20 s and checks its status and, unless NULL, its
** message (a prefix when [msg] ends with '*'). */
static inline void host_expect(hiko_runtime_t *rt, hiko_pid_t pid, int status, const char *msg) {
  hiko_result_t r;
  memset(&r, 0, sizeof r);
  CHECK_RC(hiko_join(rt, pid, &r, 20000), 0);
  if (r.status != status) {
    fprintf(stderr, "root <pid %llu>: status %d (%s), expected %d\n", (unsigned long long)pid,
            r.status, r.message ? r.message : "", status);
    exit(1);
  }
  size_t n = msg ? strlen(msg) : 0;
  if (n && msg[n - 1] == '*') {
    if (!r.message || strncmp(r.message, msg, n - 1) != 0) {
      fprintf(stderr, "root <pid %llu>: message \"%s\", expected \"%s\"\n",
              (unsigned long long)pid, r.message ? r.message : "(null)", msg);
      exit(1);
    }
  } else if (msg) {
    CHECK_STR(r.message, msg);
  }
  hiko_result_clear(&r);
}

/* The SPEC §5 text of [v], owned (hiko_free). */
static inline char *host_show(const hiko_value_t *v) {
  char *s = NULL;
  CHECK_RC(hiko_value_show(v, &s), 0);
  CHECK(s != NULL);
  return s;
}

/* Sends an Int / a Pid from C to [to] (hiko_send borrows the value). */
static inline void host_send_int(hiko_runtime_t *rt, hiko_pid_t to, int64_t n) {
  hiko_value_t *v;
  CHECK_RC(hiko_value_int(n, &v), 0);
  CHECK_RC(hiko_send(rt, to, v), 0);
  hiko_value_free(v);
}

static inline void host_send_pid(hiko_runtime_t *rt, hiko_pid_t to, hiko_pid_t pid) {
  hiko_value_t *v;
  CHECK_RC(hiko_value_pid(pid, &v), 0);
  CHECK_RC(hiko_send(rt, to, v), 0);
  hiko_value_free(v);
}

#endif
