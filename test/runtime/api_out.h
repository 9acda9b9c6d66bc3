/* api_out.h — output capture shared by the embedding API tests that read a
** program's printed text as one string (api_test.c, native_test.c; SPEC
** §12.3.3: one callback call per print). qa_api_test.c counts calls and
** locks, so it keeps its own. Include after criterion.h and hiko.h. */
#ifndef HIKO_TEST_API_OUT_H
#define HIKO_TEST_API_OUT_H

#include <string.h>

typedef struct outbuf {
  char data[4096];
  size_t n;
} outbuf_t;

static outbuf_t out;

static inline void collect(void *ud, const char *data, size_t len) {
  outbuf_t *o = ud;
  if (o->n + len < sizeof o->data) {
    memcpy(o->data + o->n, data, len);
    o->n += len;
    o->data[o->n] = '\0';
  }
}

/* A default configuration of [workers] workers printing into `out`
** (emptied). */
static inline void out_config(hiko_config_t *cfg, unsigned workers) {
  hiko_config_init(cfg);
  cfg->workers = workers;
  cfg->out = collect;
  cfg->io_ud = &out;
  memset(&out, 0, sizeof out);
}

/* Creates a runtime from [cfg]; fails the test if it cannot. */
static inline hiko_runtime_t *create_rt(const hiko_config_t *cfg) {
  hiko_runtime_t *rt;
  cr_assert_eq(hiko_runtime_create(&rt, cfg), 0);
  return rt;
}

#endif
