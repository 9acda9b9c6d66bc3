/* trace.c — Chrome/Perfetto trace-event output (SPEC §10.10).
**
** Each worker buffers its own slices (owner-only, no atomics); at exit the
** buffers are written as one JSON file: a complete event ("ph":"X") per
** slice with times in microseconds since the runtime started, thread-name
** metadata per worker, and a metadata event with the number of events
** dropped when a buffer hit its limit. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/rt.h"

#define TRACE_LIMIT (1u << 20) /* events per worker */

typedef struct event {
  uint64_t pid, t0, t1;
  int64_t reductions;
  int end;
} event_t;

struct hk_trace {
  event_t *ev;
  size_t n, cap;
  uint64_t dropped;
};

int hk_trace_new(hk_trace_t **out) {
  hk_trace_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  *out = t;
  return 0;
}

void hk_trace_free(hk_trace_t *t) {
  if (!t) return;
  free(t->ev);
  free(t);
}

void hk_trace_slice(hk_trace_t *t, uint64_t pid, uint64_t t0, uint64_t t1, int64_t reductions,
                    int end) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 4096;
    event_t *ev = cap <= TRACE_LIMIT ? realloc(t->ev, cap * sizeof *ev) : NULL;
    if (!ev) {
      t->dropped++;
      return;
    }
    t->ev = ev;
    t->cap = cap;
  }
  t->ev[t->n++] = (event_t){pid, t0, t1, reductions, end};
}

static const char *end_name(int end) {
  switch (end) {
  case HK_END_YIELD: return "yield";
  case HK_END_BLOCK: return "block";
  case HK_END_DONE: return "done";
  case HK_END_FAIL: return "fail";
  default: return "cancel";
  }
}

int hk_trace_write(const char *path, hk_trace_t *const *per_worker, uint32_t n, uint64_t base) {
  FILE *f = fopen(path, "w");
  if (!f) return -errno;
  fputs("{\"traceEvents\":[\n", f);
  uint64_t dropped = 0;
  bool first = true;
  for (uint32_t w = 0; w < n; w++) {
    fprintf(f, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,"
               "\"args\":{\"name\":\"worker %u\"}}",
            first ? "" : ",\n", w, w);
    first = false;
    const hk_trace_t *t = per_worker[w];
    if (!t) continue;
    dropped += t->dropped;
    for (size_t i = 0; i < t->n; i++) {
      const event_t *e = &t->ev[i];
      double ts = (double)(e->t0 - base) / 1000.0, dur = (double)(e->t1 - e->t0) / 1000.0;
      fprintf(f,
              ",\n{\"name\":\"pid %" PRIu64 "\",\"cat\":\"slice\",\"ph\":\"X\",\"ts\":%.1f,"
              "\"dur\":%.1f,\"pid\":1,\"tid\":%u,\"args\":{\"pid\":%" PRIu64
              ",\"reductions\":%" PRId64 ",\"end\":\"%s\"}}",
              e->pid, ts, dur, w, e->pid, e->reductions, end_name(e->end));
    }
  }
  /* The I/O thread (SPEC §10.10) has no slices; it is named after the workers. */
  fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,"
             "\"args\":{\"name\":\"io\"}}", n);
  fprintf(f, ",\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"hiko\"}}");
  fprintf(f, ",\n{\"name\":\"dropped_events\",\"ph\":\"M\",\"pid\":1,\"args\":{\"count\":%" PRIu64 "}}",
          dropped);
  fputs("\n],\"displayTimeUnit\":\"ms\"}\n", f);
  int rc = ferror(f) ? -EIO : 0;
  if (fclose(f) != 0 && rc == 0) rc = -errno;
  return rc;
}
