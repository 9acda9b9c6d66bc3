/* compile.c — hiko_compile_file / hiko_compile_string, hiko_program_t and
** the hiko_diags_* functions of include/hiko.h, on top of vm/front.h. */
#include "hiko.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/native.h"
#include "runtime/rt.h"
#include "runtime/value.h"
#include "vm/bytecode.h"
#include "vm/front.h"

/* hiko_program_t: a compiled program. This is its only definition.
** It owns the whole compilation (vm/front.h: the arena with the AST and
** types, the source table, the checked program and — once code generation
** lands — the program image in front.image). It is reference-counted: the
** host holds one reference, each root spawned from it another (SPEC §12.2
** "roots keep p alive"), dropped when the runtime frees the root. */
struct hiko_program {
  hk_front_t front;
  hk_image_t *loaded; /* hiko_program_load: the verified image (owned), else NULL */
  atomic_uint refs;
  /* A copy of the runtime's registered natives (names and types), so that
  ** hiko_program_dump works after the runtime is gone; front.natives. */
  hk_builtin_info_t *natives;
};

static void program_free(hiko_program_t *p) {
  hk_image_free(p->loaded);
  hk_front_free(&p->front);
  for (uint32_t i = 0; p->natives && i < p->front.nnatives; i++) {
    free((char *)p->natives[i].name);
    free((char *)p->natives[i].type);
  }
  free(p->natives);
  free(p);
}

/* hiko_diags_t: a snapshot of a compilation's diagnostics, independent of
** the program (it stays valid after hiko_program_release): the public
** entries (file names and messages copied) and the rendered text. */
struct hiko_diags {
  hiko_diag_t *items;
  size_t n, errors;
  char *rendered;
};

static void diags_destroy(hiko_diags_t *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n; i++) {
    free((char *)d->items[i].file);
    free((char *)d->items[i].message);
  }
  free(d->items);
  free(d->rendered);
  free(d);
}

static char *dup_or_empty(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s);
  char *c = malloc(n + 1);
  if (c) memcpy(c, s, n + 1);
  return c;
}

/* Builds the public snapshot of [f]'s diagnostics (NULL when there are
** none). Returns 0 or -ENOMEM. */
static int make_diags(const hk_front_t *f, hiko_diags_t **out) {
  *out = NULL;
  const hk_diags_list_t *l = &f->diags;
  if (l->n == 0) return 0;
  hiko_diags_t *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  d->items = calloc(l->n, sizeof *d->items);
  if (!d->items) { free(d); return -ENOMEM; }
  d->errors = l->errors;
  for (size_t i = 0; i < l->n; i++) {
    const hk_diag_entry_t *e = &l->items[i];
    hiko_diag_t *p = &d->items[i];
    const hk_source_t *src = e->pos.file < f->sources.n ? &f->sources.items[e->pos.file] : NULL;
    p->is_error = e->is_error;
    p->line = e->has_pos ? e->pos.line : 0;
    p->col = e->has_pos ? e->pos.col : 0;
    p->file = dup_or_empty(src ? src->path : NULL);
    p->message = dup_or_empty(e->message);
    d->n = i + 1;
    if (!p->file || !p->message) { diags_destroy(d); return -ENOMEM; }
  }
  if (hk_diags_render(l, &f->sources, &d->rendered) != 0) {
    diags_destroy(d);
    return -ENOMEM;
  }
  *out = d;
  return 0;
}

/* Finishes a compilation: the snapshot of diagnostics, then the program
** or HIKO_ECOMPILE. */
static int finish(hiko_program_t *p, int rc, hiko_program_t **out, hiko_diags_t **diags) {
  int drc = make_diags(&p->front, diags);
  if (rc == 0 && drc == 0) {
    *out = p;
    return 0;
  }
  program_free(p);
  if (rc == -ENOMEM || drc == -ENOMEM) return -ENOMEM;
  return HIKO_ECOMPILE;
}

/* A program about to be compiled with [rt]'s registered builtins (none for
** NULL); from now on rt accepts no more registrations. Returns 0, -ENOMEM. */
static int new_program(hiko_runtime_t *rt, hiko_program_t **out) {
  hiko_program_t *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  atomic_init(&p->refs, 1);
  hk_front_init(&p->front);
  const hk_builtin_info_t *nat;
  uint32_t n;
  int rc = hk_native_table(rt, &nat, &n);
  if (rc) {
    free(p);
    return rc;
  }
  if (n && !(p->natives = calloc(n, sizeof *p->natives))) {
    free(p);
    return -ENOMEM;
  }
  p->front.natives = p->natives;
  p->front.nnatives = n;
  for (uint32_t i = 0; i < n; i++) {
    p->natives[i] = nat[i];
    p->natives[i].name = strdup(nat[i].name);
    p->natives[i].type = strdup(nat[i].type);
    if (!p->natives[i].name || !p->natives[i].type) {
      program_free(p); /* entries past i are zeroed (calloc) */
      return -ENOMEM;
    }
  }
  *out = p;
  return 0;
}

/* One run of the front end: a file (path) or a string (name, src, len). */
typedef struct front_job {
  hk_front_t *front;
  const char *path, *name, *src;
  size_t len;
  hk_load_opts_t opts;
  int rc;
} front_job_t;

static void *front_main(void *arg) {
  front_job_t *j = arg;
  j->rc = j->path ? hk_front_compile_file(j->front, j->path, &j->opts)
                  : hk_front_compile_string(j->front, j->name, j->src, j->len, &j->opts);
  return NULL;
}

/* The front end recurses natively as deep as the nesting limit allows
** (SPEC §2.3: 256 levels of expr, pat or ty, each several C frames): about
** 400 KiB of stack in an optimised build. The caller's thread may have less
** (`ulimit -s`, a host's small thread stacks), and hiko check of a program
** nested to the limit then died of SIGSEGV (§14.2: no input may crash the
** compiler). So it runs on a thread of its own with a stack of known size;
** if that thread cannot be created, on the caller's. A caller with room
** enough (hiko run's main thread under the usual 8 MiB) compiles on its own
** stack: the thread's arena then held the image and the global store, and
** spawn 10^6 on 2 workers lost 8 % of its wall clock (quiet machine, stop 18). */
#define HK_FRONT_STACK ((size_t)16 << 20)
#define HK_FRONT_NEED ((size_t)4 << 20)

/* Bytes of stack left below this frame on the calling thread, 0 if unknown. */
static size_t stack_left(void) {
  pthread_attr_t attr;
  void *lo;
  size_t size, left = 0;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
  if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
    char here;
    uintptr_t at = (uintptr_t)&here, base = (uintptr_t)lo;
    if (at > base && at - base <= size) left = at - base;
  }
  pthread_attr_destroy(&attr);
  return left;
}

static int run_front(front_job_t *j) {
  if (stack_left() >= HK_FRONT_NEED) {
    front_main(j);
    return j->rc;
  }
  pthread_attr_t attr;
  pthread_t t;
  int e = pthread_attr_init(&attr);
  if (e == 0) {
    e = pthread_attr_setstacksize(&attr, HK_FRONT_STACK);
    if (e == 0) e = pthread_create(&t, &attr, front_main, j);
    pthread_attr_destroy(&attr);
  }
  if (e == 0) pthread_join(t, NULL);
  else front_main(j);
  return j->rc;
}

int hiko_compile_file(hiko_runtime_t *rt, const char *path, hiko_program_t **out,
                      hiko_diags_t **diags) {
  if (!out || !diags) return -EINVAL;
  *out = NULL;
  *diags = NULL;
  if (!path) return -EINVAL;
  hiko_program_t *p;
  int rc = new_program(rt, &p);
  if (rc) return rc;
  front_job_t j = {.front = &p->front, .path = path,
                   .opts = {.libdir = rt ? rt->cfg.lib_dir : NULL}};
  return finish(p, run_front(&j), out, diags);
}

int hiko_compile_string(hiko_runtime_t *rt, const char *name, const char *src,
                        size_t len, hiko_program_t **out, hiko_diags_t **diags) {
  if (!out || !diags) return -EINVAL;
  *out = NULL;
  *diags = NULL;
  if (!name || (!src && len)) return -EINVAL;
  hiko_program_t *p;
  int rc = new_program(rt, &p);
  if (rc) return rc;
  front_job_t j = {.front = &p->front, .name = name, .src = src ? src : "", .len = len,
                   .opts = {.libdir = rt ? rt->cfg.lib_dir : NULL}};
  return finish(p, run_front(&j), out, diags);
}

/* The diagnostics of a rejected buffer: one error without a position. */
static int load_diag(const char *why, hiko_diags_t **out) {
  static const char file[] = "<bytecode>";
  hiko_diags_t *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  d->items = calloc(1, sizeof *d->items);
  char *msg = NULL, *text = NULL;
  if (asprintf(&msg, "invalid bytecode: %s", why) < 0) msg = NULL;
  if (msg && asprintf(&text, "%s: error: %s\n", file, msg) < 0) text = NULL;
  if (!d->items || !msg || !text) {
    free(msg);
    free(text);
    diags_destroy(d);
    return -ENOMEM;
  }
  d->items[0] = (hiko_diag_t){.is_error = true, .file = dup_or_empty(file), .message = msg};
  d->n = 1;
  d->errors = 1;
  d->rendered = text;
  if (!d->items[0].file) {
    diags_destroy(d);
    return -ENOMEM;
  }
  *out = d;
  return 0;
}

int hiko_program_load(hiko_runtime_t *rt, const void *buf, size_t len, hiko_program_t **out,
                      hiko_diags_t **diags) {
  if (!out || !diags) return -EINVAL;
  *out = NULL;
  *diags = NULL;
  if (!buf && len) return -EINVAL;
  hiko_program_t *p;
  int rc = new_program(rt, &p);
  if (rc) return rc;
  char why[256] = "";
  rc = hk_image_load_natives(buf ? buf : "", len, p->front.natives, p->front.nnatives, &p->loaded,
                             why, sizeof why);
  if (rc == 0) {
    *out = p;
    return 0;
  }
  program_free(p);
  if (rc == -ENOMEM) return -ENOMEM;
  rc = load_diag(why[0] ? why : "rejected", diags);
  return rc ? rc : HIKO_EBYTECODE;
}

hiko_program_t *hk_program_retain(hiko_program_t *p) {
  /* Relaxed: the caller already holds a reference. */
  atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  return p;
}

void hiko_program_release(hiko_program_t *p) {
  if (!p) return;
  /* Release/acquire: every use through another reference happens-before
  ** the free. Acq_rel on the RMW, not release and an acquire fence:
  ** ThreadSanitizer does not model fences and reported the free as a race
  ** with a worker's release (a root failing with a blocked child under
  ** --max-processes, the CLI releasing before the runtime is destroyed). */
  if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
  program_free(p);
}

size_t hiko_diags_count(const hiko_diags_t *d) { return d ? d->n : 0; }

size_t hiko_diags_errors(const hiko_diags_t *d) { return d ? d->errors : 0; }

const hiko_diag_t *hiko_diags_get(const hiko_diags_t *d, size_t i) {
  return d && i < d->n ? &d->items[i] : NULL;
}

int hiko_diags_render(const hiko_diags_t *d, char **out) {
  if (!out) return -EINVAL;
  *out = dup_or_empty(d ? d->rendered : "");
  return *out ? 0 : -ENOMEM;
}

void hiko_diags_free(hiko_diags_t *d) { diags_destroy(d); }

/* The program image of [p] (vm/image.h) for the runtime (runtime/run.c).
** Returns borrowed (valid until hiko_program_release), NULL if none. */
const struct hk_image *hk_program_image(const hiko_program_t *p);
const struct hk_image *hk_program_image(const hiko_program_t *p) {
  if (!p) return NULL;
  return p->loaded ? p->loaded : (const struct hk_image *)p->front.image;
}

void hk_program_natives(const hiko_program_t *p, const hk_builtin_info_t **out, uint32_t *n) {
  *out = p ? p->front.natives : NULL;
  *n = p ? p->front.nnatives : 0;
}
