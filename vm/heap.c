/* heap.c — the per-process heap and its copying collector (SPEC §10.6),
** allocation for builtins, and message blocks (deep copies, SPEC §6.12).
**
** Objects are bump-allocated in chunks (the first one is small: a fresh
** process costs little); chunks grow ×2. Collection is Cheney's algorithm:
** roots are copied into fresh to-space chunks, then to-space is scanned
** object by object, copying what each object references. It needs no
** recursion and costs only the live data. Objects flagged HK_OBJ_STATIC
** (literals, shared data) are never moved. Continuations own malloc'ed stack
** segments: the heap keeps a list of live continuations and frees the
** segments of those that die. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bcache.h"
#include "vm/vm_int.h"

#define FIRST_CHUNK 128u
/* The least chunk that follows a placed first chunk (chunk_take): 256 bytes
** with its header. */
#define AFTER_PLACED (256u - sizeof(hk_chunk_t))
#define MAX_CHUNK (4u << 20)
#define MIN_TRIGGER (256u << 10)

static size_t align8(size_t n) { return (n + 7u) & ~(size_t)7u; }

static size_t obj_size(const hk_obj_t *o) {
  switch (o->tag) {
  case HK_T_STRING:
  case HK_T_BYTES: return align8(sizeof(hk_string_t) + ((const hk_string_t *)o)->len + 1);
  case HK_T_TUPLE: return sizeof(hk_tuple_t) + (size_t)o->n * sizeof(hk_value_t);
  case HK_T_CONS: return sizeof(hk_cons_t);
  case HK_T_DATA: return sizeof(hk_data_t);
  case HK_T_CLOSURE: return sizeof(hk_closure_t) + (size_t)o->n * sizeof(hk_value_t);
  case HK_T_PAP: return sizeof(hk_pap_t) + (size_t)o->n * sizeof(hk_value_t);
  case HK_T_CONT: return align8(sizeof(hk_cont_t));
  case HK_T_RNG: return sizeof(hk_rng_t);
  default: return 0;
  }
}

static const char *const kind_names[HK_T__COUNT] = {
    [HK_T_UNINIT] = "Unit", [HK_T_INT] = "Int", [HK_T_FLOAT] = "Float",
    [HK_T_BOOL] = "Bool", [HK_T_CHAR] = "Char", [HK_T_UNIT] = "Unit",
    [HK_T_NIL] = "List", [HK_T_DATA0] = "Data", [HK_T_PID] = "Pid",
    [HK_T_SOCKET] = "Socket", [HK_T_BUILTIN] = "Function", [HK_T_CTORFN] = "Function",
    [HK_T_STRING] = "String", [HK_T_BYTES] = "Bytes", [HK_T_TUPLE] = "Tuple",
    [HK_T_CONS] = "List", [HK_T_DATA] = "Data", [HK_T_CLOSURE] = "Function",
    [HK_T_PAP] = "Function", [HK_T_CONT] = "Continuation", [HK_T_RNG] = "Rng",
};

const char *hk_tag_kind_name(uint32_t tag) {
  return tag < HK_T__COUNT ? kind_names[tag] : "?";
}
const char *hk_kind_name(hk_value_t v) { return hk_tag_kind_name(v.tag); }

/* ---- Chunks ------------------------------------------------------------- */

/* A heap chunk of at least [size] bytes. Up to HK_BCACHE_MAX with its
** header it comes from the per-thread block cache (vm/bcache.h), larger
** ones from malloc through it: a process that grows its heap a little (a
** skynet node's ten closures and list cells: chunks of 256, 512 and 1,024
** bytes) paid ~145 instructions per chunk in malloc and ~130 in free
** (bench/README.md, "Spawn path 7"). What the class rounds up goes to
** the chunk. */
static hk_chunk_t *chunk_new(size_t size) {
  if (size > HK_CHUNK_MAX - HK_BCACHE_MAX) return NULL;
  size_t total = hk_bcache_class_size(sizeof(hk_chunk_t) + size);
  hk_chunk_t *c = hk_bcache_alloc(total);
  if (!c) return NULL;
  c->next = NULL;
  c->size = (uint32_t)(total - sizeof *c);
  c->used = 0;
  return c;
}


/* A message block's object count, kept in its root value's `aux` (a
** block's root is read as a value only by hk_vm_adopt, which clears it, and
** by copies of it, which set their own): saturated at UINT32_MAX, and then
** counted along the chain (msg_count). A chunk has no room of its own for
** it (16-byte headers, hk_chunk_t). */
static inline void msg_set_objects(hk_chunk_t *c, uint64_t n) {
  ((hk_value_t *)(void *)c->data)->aux = n < UINT32_MAX ? (uint32_t)n : UINT32_MAX;
}

/* ---- Message blocks' memory ---------------------------------------------- */
/* Small blocks (a spawn closure, a tuple) are the common case and are
** usually freed on another thread than the one that made them (the
** receiver's): they come from the per-thread cache of vm/bcache.h. */

/* block_alloc_inline, or with [cached] only from the thread's list
** (hk_bcache_alloc_cached: NULL when it is empty, no call). */
static inline __attribute__((always_inline)) hk_chunk_t *block_alloc_how(size_t size,
                                                                         bool cached) {
  if (__builtin_expect(size > HK_CHUNK_MAX - HK_BCACHE_MAX, 0)) return NULL;
  size_t total = hk_bcache_class_size(sizeof(hk_chunk_t) + size);
  hk_chunk_t *c = cached ? hk_bcache_alloc_cached(total) : hk_bcache_alloc(total);
  if (!c) return NULL;
  c->next = NULL;
  c->size = (uint32_t)(total - sizeof *c);
  c->used = 0;
  return c;
}

static inline __attribute__((always_inline)) hk_chunk_t *block_alloc_inline(size_t size) {
  return block_alloc_how(size, false);
}

static hk_chunk_t *block_alloc(size_t size) { return block_alloc_inline(size); }

static void block_free(hk_chunk_t *c) { hk_bcache_free(c, sizeof *c + c->size); }

/* A chain of blocks, freed by runs of one size class (up to a batch): the
** chain is linked through the blocks' first word as the cache's lists are,
** so a run goes to the cache whole (hk_bcache_free_run). A receiver's
** adopted message blocks are mostly of one class: ~20 instructions a block
** one by one (bench/README.md, "Message path 7"). */
/* With [placed], the chain's last chunk is the one placed with the
** instance (HK_SEG_INL_HEAP), which stays. */
static inline __attribute__((always_inline)) void blocks_free_how(hk_chunk_t *c, bool placed) {
  _Static_assert(offsetof(hk_chunk_t, next) == 0, "a chunk links where a free block does");
  while (c) {
    if (placed && !c->next) return;
    size_t size = sizeof *c + c->size;
    if (size > HK_BCACHE_MAX) {
      hk_chunk_t *n = c->next;
      block_free(c);
      c = n;
      continue;
    }
    hk_chunk_t *head = c, *tail = c;
    uint32_t count = 1;
    for (c = c->next; c && (!placed || c->next) && c->size == head->size && count < HK_BCACHE_BATCH;
         c = c->next) {
      tail = c;
      count++;
    }
    hk_bcache_free_run(head, tail, count, size);
  }
}

static void blocks_free(hk_chunk_t *c) { blocks_free_how(c, false); }

/* Frees a heap's chunk list (its own chunks and the blocks it adopted, all
** of the block cache's format); with [placed], the last one stays. */
static void chunks_free(hk_chunk_t *c, bool placed) { blocks_free_how(c, placed); }

__attribute__((noinline)) void hk_seg_free(hk_vm_t *vm, hk_seg_t *s) {
  if (!s) return;
  if (vm) vm->slots -= s->cap;
  hk_bcache_free(s->vals, (size_t)s->cap * sizeof *s->vals); /* interp.c's seg_new, grow */
  hk_bcache_free(s->frames, (size_t)s->fcap * sizeof *s->frames);
  free(hk_hseg(s)->hclauses); /* never the root (hk_vm_free frees its arrays) */
  free(s);
}

/* Frees the segments a continuation holds (top down to bottom). */
static void cont_release(hk_vm_t *vm, hk_cont_t *k) {
  hk_seg_t *s = k->top;
  while (s) {
    hk_seg_t *p = hk_seg_parent(s);
    bool last = s == k->bottom;
    hk_seg_free(vm, s);
    if (last) break;
    s = p;
  }
  k->top = k->bottom = NULL;
}

void hk_heap_init(hk_heap_t *h, uint64_t max_objects) {
  *h = (hk_heap_t){.objects_left = max_objects ? (int64_t)max_objects : HK_HEAP_UNLIMITED,
                   .gc_left = MIN_TRIGGER};
}

void hk_heap_place(hk_heap_t *h, void *mem, size_t size) {
  hk_chunk_t *c = mem;
  c->next = NULL;
  c->size = (uint32_t)(size - sizeof *c);
  c->used = 0;
  h->chunks = c;
}

void hk_heap_free(hk_vm_t *vm) {
  hk_heap_t *h = &vm->heap;
  chunks_free(h->chunks, vm->root.inl & HK_SEG_INL_HEAP);
  h->chunks = NULL;
}

void hk_conts_free(hk_vm_t *vm) {
  if (!vm->x) return;
  for (hk_cont_t *k = vm->x->conts; k; k = k->next) cont_release(NULL, k);
  vm->x->conts = NULL;
}

static void *chunk_take(hk_vm_t *vm, size_t size) {
  hk_heap_t *h = &vm->heap;
  hk_chunk_t *c = h->chunks;
  if (!c || c->size - c->used < size) {
    size_t want = c ? (size_t)c->size * 2 : FIRST_CHUNK;
    /* A child's placed chunk fits its closure only (runtime/vmproc.c): it
    ** says nothing of what the process allocates once it grows (nor does a
    ** small block it adopted, put in front of the placed chunk). */
    if (want < AFTER_PLACED && (vm->root.inl & HK_SEG_INL_HEAP)) want = AFTER_PLACED;
    if (want > MAX_CHUNK) want = MAX_CHUNK;
    if (want < size) want = size;
    hk_chunk_t *n = chunk_new(want);
    if (!n) return NULL;
    n->next = c;
    h->chunks = n;
    c = n;
  }
  void *p = c->data + c->used;
  c->used += (uint32_t)size;
  return p;
}

hk_obj_t *hk_heap_alloc_grow(hk_vm_t *vm, size_t size, uint32_t tag) {
  hk_heap_t *h = &vm->heap;
  hk_obj_t *o = chunk_take(vm, size);
  if (!o) return NULL;
  o->tag = (uint8_t)tag;
  o->flags = 0;
  o->spare = 0;
  o->n = 0;
  h->objects_left--;
  h->gc_left -= (int64_t)size;
  return o;
}

/* ---- Collection -------------------------------------------------------- */

typedef struct gc {
  hk_chunk_t *first, *last; /* to-space in allocation order */
  hk_chunk_t *scan;         /* the scan cursor: chunk and offset */
  size_t off;
  uint64_t objects;
  size_t next_size;
  bool oom;
} gc_t;

static void *to_alloc(gc_t *g, size_t size) {
  hk_chunk_t *c = g->last;
  if (!c || c->size - c->used < size) {
    size_t want = g->next_size;
    if (want < size) want = size;
    if (g->next_size < MAX_CHUNK) g->next_size *= 2;
    hk_chunk_t *n = chunk_new(want);
    if (!n) { g->oom = true; return NULL; }
    if (g->last) g->last->next = n;
    else g->first = n;
    g->last = n;
    c = n;
  }
  void *p = c->data + c->used;
  c->used += (uint32_t)size;
  return p;
}

static void forward(gc_t *g, hk_value_t *v) {
  if (v->tag < HK_T__OBJ) return;
  hk_obj_t *o = v->as.o;
  if (o->flags & HK_OBJ_STATIC) return;
  hk_obj_t **fwd = (hk_obj_t **)(o + 1);
  if (o->flags & HK_OBJ_FORWARDED) { v->as.o = *fwd; return; }
  bool cons = o->tag == HK_T_CONS;
  size_t size = cons ? sizeof(hk_cons_t) : obj_size(o);
  hk_obj_t *n = to_alloc(g, size);
  if (!n) return; /* out of memory: the old object stays; the collection fails */
  if (cons) *(hk_cons_t *)(void *)n = *(const hk_cons_t *)(const void *)o;
  else memcpy(n, o, size);
  g->objects++;
  o->flags |= HK_OBJ_FORWARDED;
  *fwd = n;
  v->as.o = n;
}

/* A list's spine, as copy_spine does for messages: [cell] (in to-space,
** head forwarded) was just scanned and the scan has caught up with to-space,
** so each tail cell whose head needs no forwarding is copied, forwarded and
** scanned at once. Returns the last cell copied (its tail not forwarded
** yet), or [cell]. */
static hk_cons_t *gc_spine(gc_t *g, hk_cons_t *cell) {
  hk_chunk_t *c = g->last;
  uint32_t used = c->used, size = c->size;
  uint64_t copied = 0;
  for (;;) {
    hk_value_t t = cell->tail;
    if (t.tag != HK_T_CONS) break;
    hk_obj_t *o = t.as.o;
    if (o->flags & (HK_OBJ_STATIC | HK_OBJ_FORWARDED)) break;
    const hk_cons_t *src = (const hk_cons_t *)(const void *)o;
    if (src->head.tag >= HK_T__OBJ || size - used < sizeof *cell) break;
    hk_cons_t *n = (hk_cons_t *)(void *)(c->data + used);
    *n = *src;
    o->flags |= HK_OBJ_FORWARDED;
    *(hk_obj_t **)(o + 1) = &n->h;
    cell->tail.as.o = &n->h;
    used += sizeof *cell;
    copied++;
    cell = n;
  }
  c->used = used;
  g->objects += copied;
  return cell;
}

static void forward_obj(gc_t *g, hk_obj_t **p) {
  if (!*p) return;
  hk_value_t v = hk_obj_value(*p);
  forward(g, &v);
  *p = v.as.o;
}

/* A segment's roots but its stack values: frames' closures, handlers. */
static void scan_seg_rest(gc_t *g, hk_seg_t *s) {
  for (uint32_t i = 0; i < s->nframes; i++) {
    uintptr_t fc = s->frames[i].fc;
    hk_obj_t *clos = hk_fc_clos(fc);
    if (!clos) continue;
    forward_obj(g, &clos);
    s->frames[i].fc = (uintptr_t)clos | (fc & HK_FC_AT_BASE);
  }
  if (s->kind == HK_SEG_ROOT) return;
  hk_hseg_t *h = hk_hseg(s);
  if (s->kind == HK_SEG_HANDLER || h->hclauses) {
    forward(g, &h->hret);
    for (uint32_t i = 0; i < h->nclauses; i++) forward(g, &h->hclauses[i]);
  }
}

static void scan_seg(gc_t *g, hk_seg_t *s) {
  for (uint32_t i = 0; i < s->sp; i++) forward(g, &s->vals[i]);
  scan_seg_rest(g, s);
}

static void scan_obj(gc_t *g, hk_obj_t *o) {
  switch (o->tag) {
  case HK_T_TUPLE: {
    hk_tuple_t *t = (hk_tuple_t *)o;
    for (uint32_t i = 0; i < o->n; i++) forward(g, &t->items[i]);
    break;
  }
  case HK_T_CONS: {
    hk_cons_t *c = (hk_cons_t *)o;
    forward(g, &c->head);
    forward(g, &c->tail);
    break;
  }
  case HK_T_DATA: forward(g, &((hk_data_t *)o)->payload); break;
  case HK_T_CLOSURE: {
    hk_closure_t *c = (hk_closure_t *)o;
    for (uint32_t i = 0; i < o->n; i++) forward(g, &c->caps[i]);
    break;
  }
  case HK_T_PAP: {
    hk_pap_t *p = (hk_pap_t *)o;
    forward(g, &p->fn);
    for (uint32_t i = 0; i < o->n; i++) forward(g, &p->args[i]);
    break;
  }
  case HK_T_CONT: {
    hk_cont_t *k = (hk_cont_t *)o;
    for (hk_seg_t *s = k->top; s; s = hk_seg_parent(s)) {
      scan_seg(g, s);
      if (s == k->bottom) break;
    }
    break;
  }
  default: break;
  }
}

/* Scans to-space from the cursor to its end (Cheney), fixing each object's
** fields, which copies what they reference. */
static void gc_drain(gc_t *g) {
  if (!g->scan) {
    if (!g->first) return;
    g->scan = g->first;
    g->off = 0;
  }
  hk_chunk_t *c = g->scan;
  size_t off = g->off;
  while (!g->oom) {
    if (off >= c->used) {
      if (!c->next) break;
      c = c->next;
      off = 0;
      continue;
    }
    hk_obj_t *o = (hk_obj_t *)(void *)(c->data + off);
    if (o->tag == HK_T_CONS) { /* the common case, without the switches */
      hk_cons_t *cell = (hk_cons_t *)(void *)o;
      off += sizeof *cell;
      forward(g, &cell->head);
      if (c == g->last && off == c->used) {
        cell = gc_spine(g, cell);
        off = c->used;
      }
      forward(g, &cell->tail);
      continue;
    }
    off += obj_size(o);
    scan_obj(g, o);
  }
  g->scan = c;
  g->off = off;
}

/* A root: copied, then everything it reaches, before the next root. The
** order does not matter to correctness; root by root, a list held by a
** root is copied while the scan has caught up, so gc_spine takes it whole. */
static void gc_root(gc_t *g, hk_value_t *v) {
  if (v->tag < HK_T__OBJ) return;
  forward(g, v);
  gc_drain(g);
}

static void gc_root_seg(gc_t *g, hk_seg_t *s) {
  for (uint32_t i = 0; i < s->sp; i++) gc_root(g, &s->vals[i]);
  scan_seg_rest(g, s);
  gc_drain(g);
}

int hk_heap_collect(hk_vm_t *vm) {
  hk_heap_t *h = &vm->heap;
  gc_t g = {0};
  /* To-space starts at the size of the chunk allocated from: chunks double,
  ** so it is about half of the heap's own (what the list's walk found when
  ** it held no adopted block; now that walk would count every message). */
  g.next_size = FIRST_CHUNK;
  size_t cur = h->chunks ? h->chunks->size : 0;
  while (g.next_size < cur && g.next_size < MAX_CHUNK) g.next_size *= 2;

  for (hk_seg_t *s = vm->seg; s; s = hk_seg_parent(s)) gc_root_seg(&g, s);
  if (!vm->globals_shared && vm->globals)
    for (uint32_t i = 0; i < vm->img->nglobals; i++) gc_root(&g, &vm->globals[i]);
  gc_root(&g, &vm->h.arg);
  gc_drain(&g);
  if (g.oom) {
    /* Give up: the from-space stays valid only if nothing was forwarded,
    ** which we cannot undo; report out of memory (the process fails). */
    chunks_free(g.first, false);
    return -ENOMEM;
  }

  hk_cont_t *live = NULL;
  for (hk_cont_t *k = vm->x ? vm->x->conts : NULL; k;) {
    hk_cont_t *next = k->next;
    if (k->h.flags & HK_OBJ_FORWARDED) {
      hk_cont_t *n = *(hk_cont_t **)(&k->h + 1);
      n->next = live;
      live = n;
    } else {
      cont_release(vm, k);
    }
    k = next;
  }
  if (vm->x) vm->x->conts = live;

  chunks_free(h->chunks, vm->root.inl & HK_SEG_INL_HEAP);
  vm->root.inl &= (uint16_t)~HK_SEG_INL_HEAP; /* to-space is malloc's */
  /* Current chunk (the last one filled) first. */
  if (g.last && g.last != g.first) {
    hk_chunk_t *prev = g.first;
    while (prev->next != g.last) prev = prev->next;
    prev->next = NULL;
    g.last->next = g.first;
    h->chunks = g.last;
  } else {
    h->chunks = g.first;
  }
  uint64_t live_bytes = 0;
  for (hk_chunk_t *k = h->chunks; k; k = k->next) live_bytes += k->used;
  h->objects_left = hk_heap_limit(vm) - (int64_t)g.objects;
  h->gc_left = live_bytes * 2 > MIN_TRIGGER ? (int64_t)(live_bytes * 2) : MIN_TRIGGER;
  hk_vmx_t *x = hk_vm_x(vm); /* a statistic: not counted when out of memory */
  if (x) x->gc_runs++;
  if (x && x->strpos) /* objects may have moved or died */
    for (int i = 0; i < HK_STRPOS_WAYS; i++) x->strpos[i].obj = NULL;
  return 0;
}

/* ---- Allocation API for builtins --------------------------------------- */

static int oom(hk_vm_t *vm) {
  hk_vm_fail(vm, "out of memory");
  return -ENOMEM;
}

static int alloc_str(hk_vm_t *vm, uint32_t tag, size_t len, hk_value_t *out, char **data) {
  if (len > (SIZE_MAX >> 2)) return oom(vm);
  hk_string_t *s = (hk_string_t *)hk_heap_alloc(vm, sizeof(hk_string_t) + len + 1, tag);
  if (!s) return oom(vm);
  s->len = len;
  s->data[len] = '\0';
  *data = s->data;
  *out = hk_obj_value(&s->h);
  return 0;
}

int hk_alloc_string_raw(hk_vm_t *vm, size_t len, hk_value_t *out, char **data) {
  return alloc_str(vm, HK_T_STRING, len, out, data);
}
int hk_alloc_bytes_raw(hk_vm_t *vm, size_t len, hk_value_t *out, char **data) {
  return alloc_str(vm, HK_T_BYTES, len, out, data);
}
int hk_alloc_string(hk_vm_t *vm, const char *bytes, size_t len, hk_value_t *out) {
  char *d;
  int rc = alloc_str(vm, HK_T_STRING, len, out, &d);
  if (rc == 0 && len) memcpy(d, bytes, len);
  return rc;
}
int hk_alloc_bytes(hk_vm_t *vm, const void *bytes, size_t len, hk_value_t *out) {
  char *d;
  int rc = alloc_str(vm, HK_T_BYTES, len, out, &d);
  if (rc == 0 && len) memcpy(d, bytes, len);
  return rc;
}

int hk_alloc_tuple(hk_vm_t *vm, uint32_t n, const hk_value_t *items, hk_value_t *out) {
  hk_tuple_t *t = (hk_tuple_t *)hk_heap_alloc(vm, sizeof(hk_tuple_t) + (size_t)n * sizeof(hk_value_t),
                                              HK_T_TUPLE);
  if (!t) return oom(vm);
  t->h.n = n;
  for (uint32_t i = 0; i < n; i++) t->items[i] = items ? items[i] : hk_unit();
  *out = hk_obj_value(&t->h);
  return 0;
}

int hk_alloc_cons(hk_vm_t *vm, hk_value_t head, hk_value_t tail, hk_value_t *out) {
  hk_cons_t *c = (hk_cons_t *)hk_heap_alloc(vm, sizeof(hk_cons_t), HK_T_CONS);
  if (!c) return oom(vm);
  c->head = head;
  c->tail = tail;
  *out = hk_obj_value(&c->h);
  return 0;
}

int hk_alloc_data(hk_vm_t *vm, uint32_t ctor, hk_value_t payload, hk_value_t *out) {
  hk_data_t *d = (hk_data_t *)hk_heap_alloc(vm, sizeof(hk_data_t), HK_T_DATA);
  if (!d) return oom(vm);
  d->h.n = ctor;
  d->payload = payload;
  *out = hk_obj_value(&d->h);
  return 0;
}

int hk_alloc_rng(hk_vm_t *vm, uint64_t state, uint64_t inc, hk_value_t *out) {
  hk_rng_t *r = (hk_rng_t *)hk_heap_alloc(vm, sizeof(hk_rng_t), HK_T_RNG);
  if (!r) return oom(vm);
  r->state = state;
  r->inc = inc;
  *out = hk_obj_value(&r->h);
  return 0;
}

/* ---- Message blocks ------------------------------------------------------ */
/* A block is a chain of chunks (one chunk for small values): the first
** chunk's data[0..16) holds the root value, then come the objects.
** Sharing is expanded (SPEC §6.12.3) except for closures, which are copied
** once each (a recursive closure captures itself: a cycle). */

/* hk_msg_t is an hk_chunk_t (cast). */
#define MSG_CHUNK(m) ((hk_chunk_t *)(void *)(m))

typedef struct memo {
  hk_obj_t **keys, **vals;
  size_t cap, n;
} memo_t;

static size_t memo_hash(const hk_obj_t *o, size_t cap) {
  return (size_t)(((uintptr_t)o >> 3) * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static hk_obj_t **memo_slot(memo_t *m, hk_obj_t *key, bool *found) {
  size_t i = memo_hash(key, m->cap);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  *found = m->keys[i] == key;
  m->keys[i] = key;
  return &m->vals[i];
}

static int memo_grow(memo_t *m) {
  if (m->n * 2 < m->cap) return 0;
  memo_t nm = {0};
  nm.cap = m->cap ? m->cap * 2 : 64;
  nm.keys = calloc(nm.cap, sizeof *nm.keys);
  nm.vals = calloc(nm.cap, sizeof *nm.vals);
  if (!nm.keys || !nm.vals) {
    free(nm.keys);
    free(nm.vals);
    return -ENOMEM;
  }
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i]) {
      bool f;
      *memo_slot(&nm, m->keys[i], &f) = m->vals[i];
    }
  nm.n = m->n;
  free(m->keys);
  free(m->vals);
  *m = nm;
  return 0;
}

/* The walk stack starts in the struct (on the C stack of the caller) and
** moves to the heap only for wide or deep values. */
#define WALK_SMALL 64u

typedef struct walk {
  hk_value_t *stack;
  size_t n, cap;
  hk_value_t small[WALK_SMALL];
} walk_t;

static void walk_init(walk_t *w) {
  w->stack = w->small;
  w->n = 0;
  w->cap = WALK_SMALL;
}

static void walk_free(walk_t *w) {
  if (w->stack != w->small) free(w->stack);
}

static int walk_push(walk_t *w, hk_value_t v) {
  if (v.tag < HK_T__OBJ || (v.as.o->flags & HK_OBJ_STATIC)) return 0;
  if (w->n == w->cap) {
    size_t nc = w->cap * 2;
    hk_value_t *ns = w->stack == w->small ? malloc(nc * sizeof *ns)
                                          : realloc(w->stack, nc * sizeof *ns);
    if (!ns) return -ENOMEM;
    if (w->stack == w->small) memcpy(ns, w->small, sizeof w->small);
    w->stack = ns;
    w->cap = nc;
  }
  w->stack[w->n++] = v;
  return 0;
}

/* Pushes the children of [o]. */
static int walk_children(walk_t *w, hk_obj_t *o) {
  int rc = 0;
  switch (o->tag) {
  case HK_T_TUPLE:
    for (uint32_t i = 0; i < o->n && !rc; i++) rc = walk_push(w, ((hk_tuple_t *)o)->items[i]);
    break;
  case HK_T_CONS:
    rc = walk_push(w, ((hk_cons_t *)o)->head);
    if (!rc) rc = walk_push(w, ((hk_cons_t *)o)->tail);
    break;
  case HK_T_DATA: rc = walk_push(w, ((hk_data_t *)o)->payload); break;
  case HK_T_CLOSURE:
    for (uint32_t i = 0; i < o->n && !rc; i++) rc = walk_push(w, ((hk_closure_t *)o)->caps[i]);
    break;
  case HK_T_PAP:
    rc = walk_push(w, ((hk_pap_t *)o)->fn);
    for (uint32_t i = 0; i < o->n && !rc; i++) rc = walk_push(w, ((hk_pap_t *)o)->args[i]);
    break;
  default: break;
  }
  return rc;
}

/* share_all: preserve all sharing (the global store); otherwise only
** closures are copied once each (messages). */
static bool memoized(const hk_obj_t *o, bool share_all) { return share_all || o->tag == HK_T_CLOSURE; }

/* Sizing pass over [n] roots: bytes and objects of the copy (the global
** store uses it to find the globals that hold a continuation). */
static int msg_measure(const hk_value_t *v, uint32_t nroots, uint64_t max, bool share_all,
                       size_t *bytes, uint64_t *objects) {
  walk_t w;
  walk_init(&w);
  memo_t seen = {0};
  int rc = 0;
  for (uint32_t i = 0; i < nroots && !rc; i++) rc = walk_push(&w, v[i]);
  size_t b = 0;
  uint64_t n = 0;
  while (!rc && w.n) {
    hk_obj_t *o = w.stack[--w.n].as.o;
    if (o->tag == HK_T_CONT) { rc = -EINVAL; break; }
    if (memoized(o, share_all)) {
      if ((rc = memo_grow(&seen))) break;
      bool found;
      memo_slot(&seen, o, &found);
      if (found) continue;
      seen.n++;
    }
    if (++n > max) { rc = -E2BIG; break; }
    b += obj_size(o);
    rc = walk_children(&w, o);
  }
  walk_free(&w);
  free(seen.keys);
  free(seen.vals);
  *bytes = b;
  *objects = n;
  return rc;
}

_Static_assert(offsetof(hk_cons_t, tail) == offsetof(hk_cons_t, head) + sizeof(hk_value_t),
               "cons fields are an array");
_Static_assert(offsetof(hk_pap_t, args) == offsetof(hk_pap_t, fn) + sizeof(hk_value_t),
               "pap fields are an array");

/* The values [o] holds, as one array: *n of them. */
static hk_value_t *obj_vals(hk_obj_t *o, uint32_t *n) {
  switch (o->tag) {
  case HK_T_TUPLE: *n = o->n; return ((hk_tuple_t *)o)->items;
  case HK_T_CONS: *n = 2; return &((hk_cons_t *)o)->head;
  case HK_T_DATA: *n = 1; return &((hk_data_t *)o)->payload;
  case HK_T_CLOSURE: *n = o->n; return ((hk_closure_t *)o)->caps;
  case HK_T_PAP: *n = o->n + 1; return &((hk_pap_t *)o)->fn;
  default: *n = 0; return NULL;
  }
}

/* The general copy is one pass, Cheney-style: objects are copied into a
** chain of chunks (each twice the size of the previous one, from
** BIG_FIRST bytes) and the chain is scanned in allocation order, fixing
** each copied object's fields, which copies what they reference. No sizing
** walk: a message block is a chain linked by `next` (adopted and freed
** whole). Errors (a continuation, too many objects, no memory) are found
** during the copy, which is then freed. */
#define BIG_FIRST 4096u

typedef struct copier {
  hk_chunk_t *first, *last;
  memo_t memo;
  uint64_t objects, max;
  bool share_all;
  bool copy_static; /* copy static objects too (hk_value_copy_detached) */
  uint8_t flags; /* flags of every copy (HK_OBJ_STATIC for the global store) */
  int err;
} copier_t;

static void *copier_take(copier_t *k, size_t size) {
  hk_chunk_t *c = k->last;
  if (c->size - c->used < size) {
    size_t want = c->size < MAX_CHUNK ? c->size * 2 : MAX_CHUNK;
    if (want < size) want = size;
    hk_chunk_t *n = block_alloc(want);
    if (!n) return NULL;
    c->next = n;
    k->last = c = n;
  }
  void *p = c->data + c->used;
  c->used += (uint32_t)size;
  return p;
}

static hk_obj_t *msg_put(copier_t *k, hk_obj_t *o) {
  hk_obj_t **slot = NULL;
  if (o->tag == HK_T_CONT) {
    k->err = -EINVAL;
    return NULL;
  }
  if (memoized(o, k->share_all)) {
    if ((k->err = memo_grow(&k->memo))) return NULL;
    bool found;
    slot = memo_slot(&k->memo, o, &found);
    if (found) return *slot;
    k->memo.n++;
  }
  if (++k->objects > k->max) {
    k->err = -E2BIG;
    return NULL;
  }
  size_t size = obj_size(o);
  hk_obj_t *n = copier_take(k, size);
  if (!n) {
    k->err = -ENOMEM;
    return NULL;
  }
  memcpy(n, o, size);
  n->flags = k->flags;
  if (slot) *slot = n;
  return n;
}

/* True if [v] is an object the copy must copy (static objects are shared,
** unless the copy leaves the program: copy_static). */
static inline bool needs_copy(const copier_t *k, hk_value_t v) {
  return v.tag >= HK_T__OBJ && (!(v.as.o->flags & HK_OBJ_STATIC) || k->copy_static);
}

/* Room for [size] bytes in the current chunk, else copier_take. */
static inline void *copier_bump(copier_t *k, size_t size) {
  hk_chunk_t *c = k->last;
  if (__builtin_expect(c->size - c->used < size, 0)) return copier_take(k, size);
  void *p = c->data + c->used;
  c->used += (uint32_t)size;
  return p;
}

/* The copy of [o], a cons cell of a message (not memoized): the cells of a
** long list are most of what a big message holds, so they skip msg_put's
** size switch and library memcpy (about a quarter of the instructions). */
static hk_obj_t *msg_put_cons(copier_t *k, const hk_obj_t *o) {
  if (++k->objects > k->max) {
    k->err = -E2BIG;
    return NULL;
  }
  hk_cons_t *n = copier_bump(k, sizeof *n);
  if (!n) {
    k->err = -ENOMEM;
    return NULL;
  }
  *n = *(const hk_cons_t *)(const void *)o;
  n->h.flags = k->flags;
  return &n->h;
}

/* A list's spine in one loop. [cell] was just scanned (its head fixed) and
** the scan has caught up with the copy, so the next cell copied is the next
** one scanned: while the cells' heads need no copy, each tail cell is copied
** and is at once fixed, with the cursor in registers. Cheney order is kept.
** Returns the last cell copied (its tail still the original's, for
** msg_fix, which also reports the object limit), or [cell]. */
static hk_cons_t *copy_spine(copier_t *k, hk_cons_t *cell) {
  hk_chunk_t *c = k->last;
  uint32_t used = c->used, size = c->size;
  uint64_t objects = k->objects, max = k->max;
  uint8_t flags = k->flags;
  for (;;) {
    hk_value_t t = cell->tail;
    if (t.tag != HK_T_CONS || (t.as.o->flags & HK_OBJ_STATIC)) break; /* for msg_fix */
    const hk_cons_t *src = (const hk_cons_t *)(const void *)t.as.o;
    if (needs_copy(k, src->head)) break;
    if (size - used < sizeof *cell || objects >= max) break;
    hk_cons_t *n = (hk_cons_t *)(void *)(c->data + used);
    *n = *src;
    n->h.flags = flags;
    cell->tail.as.o = &n->h;
    used += sizeof *cell;
    objects++;
    cell = n;
  }
  c->used = used;
  k->objects = objects;
  return cell;
}

static inline int msg_fix(copier_t *k, hk_value_t *v) {
  if (!needs_copy(k, *v)) return 0;
  hk_obj_t *o = v->as.o;
  hk_obj_t *n = o->tag == HK_T_CONS && !k->share_all ? msg_put_cons(k, o) : msg_put(k, o);
  if (!n) return k->err;
  v->as.o = n;
  return 0;
}

/* How block_copy copies. */
typedef struct copy_how {
  uint64_t max;     /* objects at most (-E2BIG beyond) */
  bool share_all;   /* preserve all sharing (else only closures'), see memoized */
  bool copy_static; /* copy static objects too (hk_value_copy_detached) */
  uint8_t flags;    /* flags of every copy (HK_OBJ_STATIC for the global store) */
  bool measured;    /* the objects need at most [bytes] (the global store) */
  size_t bytes;
} copy_how_t;

/* A copy that has made this many objects and may make more (its limit is
** higher) first counts what it would make without allocating (msg_measure,
** which counts as the copy does, or fewer with copy_static): a small DAG
** whose expansion exceeds the limit (SPEC §6.11.4: 2^28 objects without a
** heap limit, gigabytes) then fails in a walk instead of after filling
** memory. Values this large are rare and costly anyway. */
#define COPY_MEASURE_AT ((uint64_t)1 << 22)

/* Copies [nroots] values into a new block: the roots first (16 bytes each,
** in the first chunk), then the objects (*objects of them). Returns 0 or a
** negative errno. */
static int block_copy(const hk_value_t *roots, uint32_t nroots, const copy_how_t *how,
                      hk_chunk_t **out, uint64_t *objects) {
  size_t head = (size_t)nroots * sizeof(hk_value_t);
  size_t first = how->measured ? head + how->bytes : head > BIG_FIRST ? head * 2 : BIG_FIRST;
  hk_chunk_t *c = block_alloc(first);
  if (!c) return -ENOMEM;
  c->used = (uint32_t)head; /* <= the block's size */
  copier_t k = {.first = c, .last = c, .max = how->max, .share_all = how->share_all,
               .copy_static = how->copy_static, .flags = how->flags};
  hk_value_t *root = (hk_value_t *)c->data;
  int rc = 0;
  for (uint32_t i = 0; i < nroots && !rc; i++) {
    root[i] = roots[i];
    rc = msg_fix(&k, &root[i]);
  }
  /* Scan the chain in allocation order: fix each copied object's fields. */
  size_t off = head;
  bool measured = how->measured || how->max <= COPY_MEASURE_AT;
  while (!rc && (c != k.last || off < c->used)) {
    if (off >= c->used) {
      c = c->next;
      off = 0;
      if (!measured && k.objects >= COPY_MEASURE_AT) {
        measured = true;
        size_t b;
        uint64_t n;
        if (msg_measure(roots, nroots, how->max, how->share_all, &b, &n) == -E2BIG) rc = -E2BIG;
      }
      continue;
    }
    hk_obj_t *o = (hk_obj_t *)(c->data + off);
    if (o->tag == HK_T_CONS) { /* the common case, without the switches */
      hk_cons_t *cell = (hk_cons_t *)o;
      off += sizeof *cell;
      rc = msg_fix(&k, &cell->head);
      if (!rc && !how->share_all && c == k.last && off == c->used) {
        cell = copy_spine(&k, cell);
        off = c->used;
      }
      if (!rc) rc = msg_fix(&k, &cell->tail);
      continue;
    }
    off += obj_size(o);
    uint32_t n;
    hk_value_t *vals = obj_vals(o, &n);
    for (uint32_t i = 0; i < n && !rc; i++) rc = msg_fix(&k, &vals[i]);
  }
  free(k.memo.keys);
  free(k.memo.vals);
  if (rc) {
    blocks_free(k.first);
    return rc;
  }
  *out = k.first;
  *objects = k.objects;
  return 0;
}

/* ---- Small values: one pass, no malloc but the block ---------------------- */
/* Most messages and spawn closures are a few objects. They are copied
** Cheney-style into a buffer on the C stack (the buffer is its own queue: no
** walk stack), closures memoized in a short array (a recursive local closure
** captures itself, so without the memo the copy would not end), then moved
** into a block of the exact size. A value too big, with a continuation, over
** the object limit or with more than FAST_CLOS closures takes the general
** path, which reports the errors. */
#define FAST_BYTES 1024u
#define FAST_CLOS 8u

typedef struct fast {
  unsigned char *buf;
  size_t used;
  uint64_t objects, max;
  uint32_t nclos;
  bool copy_static; /* copy static objects too (hk_value_copy_detached) */
  hk_obj_t *from[FAST_CLOS], *to[FAST_CLOS];
} fast_t;

/* Copies what [v] points to into the buffer; false: too big for it. */
static bool fast_fix(fast_t *f, hk_value_t *v) {
  if (v->tag < HK_T__OBJ) return true;
  hk_obj_t *o = v->as.o;
  if ((o->flags & HK_OBJ_STATIC) && !f->copy_static) return true;
  if (o->tag == HK_T_CLOSURE) {
    for (uint32_t i = 0; i < f->nclos; i++)
      if (f->from[i] == o) {
        v->as.o = f->to[i];
        return true;
      }
    if (f->nclos == FAST_CLOS) return false;
  } else if (o->tag == HK_T_CONT) {
    return false;
  }
  size_t size = obj_size(o);
  if (size > FAST_BYTES - f->used || ++f->objects > f->max) return false;
  hk_obj_t *n = (hk_obj_t *)(f->buf + f->used);
  f->used += size;
  memcpy(n, o, size);
  n->flags = 0;
  if (o->tag == HK_T_CLOSURE) {
    f->from[f->nclos] = o;
    f->to[f->nclos++] = n;
  }
  v->as.o = n;
  return true;
}

/* Moves a pointer into the buffer [lo, hi) by [delta]. */
static void fast_move(hk_value_t *v, uintptr_t lo, uintptr_t hi, uintptr_t delta) {
  if (v->tag < HK_T__OBJ) return;
  uintptr_t p = (uintptr_t)v->as.o;
  if (p >= lo && p < hi) v->as.o = (hk_obj_t *)(p + delta);
}

/* Copies [v] into f->buf: its root value first, then the objects. Returns
** true, or false when [v] is not small (use the general path). */
static bool fast_gather(fast_t *f, hk_value_t v) {
  hk_value_t *root = (hk_value_t *)(void *)f->buf;
  f->used = sizeof(hk_value_t);
  *root = v;
  if (!fast_fix(f, root)) return false;
  for (size_t off = sizeof(hk_value_t); off < f->used;) {
    hk_obj_t *o = (hk_obj_t *)(f->buf + off);
    off += obj_size(o);
    uint32_t n;
    hk_value_t *vals = obj_vals(o, &n);
    for (uint32_t i = 0; i < n; i++)
      if (!fast_fix(f, &vals[i])) return false;
  }
  return true;
}

/* Moves the gathered objects to [to] (f->used - 16 bytes) and the root
** value to *root, fixing the pointers between them. */
static void fast_place(const fast_t *f, unsigned char *to, hk_value_t *root) {
  size_t bytes = f->used - sizeof(hk_value_t);
  const unsigned char *from = f->buf + sizeof(hk_value_t);
  memcpy(to, from, bytes);
  *root = *(const hk_value_t *)(const void *)f->buf;
  uintptr_t lo = (uintptr_t)from, hi = lo + bytes, delta = (uintptr_t)to - lo;
  fast_move(root, lo, hi, delta);
  for (size_t off = 0; off < bytes;) {
    hk_obj_t *o = (hk_obj_t *)(to + off);
    off += obj_size(o);
    uint32_t n;
    hk_value_t *vals = obj_vals(o, &n);
    for (uint32_t i = 0; i < n; i++) fast_move(&vals[i], lo, hi, delta);
  }
}

/* Where [room] bytes of the caller's (hk_value_copy_out_room) start in a
** block whose data uses [used] bytes: 16-aligned, after the data. */
static size_t room_at(size_t used, size_t room) { return room ? (used + 15u) & ~(size_t)15u : used; }

/* True if [v] is one object (not a continuation) whose fields are
** scalars or static objects that the copy shares. */
static bool flat_object(hk_value_t v, bool copy_static) {
  if (v.tag < HK_T__OBJ || v.tag == HK_T_CONT) return false;
  hk_obj_t *o = v.as.o;
  if ((o->flags & HK_OBJ_STATIC) && !copy_static) return false;
  uint32_t n;
  const hk_value_t *vals = obj_vals(o, &n);
  for (uint32_t i = 0; i < n; i++)
    if (vals[i].tag >= HK_T__OBJ && (!(vals[i].as.o->flags & HK_OBJ_STATIC) || copy_static))
      return false;
  return true;
}

/* One object whose fields need no copy (a tuple of scalars and literals, a
** string, a constructor of an Int: most messages) goes straight into its
** block, without fast_gather's buffer and second pass. Returns 0 (*out
** set), 1 (not such a value), -ENOMEM. */
static int flat_copy(hk_value_t v, uint64_t max, bool copy_static, size_t room, hk_chunk_t **out) {
  if (v.tag == HK_T_CLOSURE || max < 1 || !flat_object(v, copy_static)) return 1;
  hk_obj_t *o = v.as.o;
  size_t size = obj_size(o);
  hk_chunk_t *c = block_alloc(room_at(sizeof(hk_value_t) + size, room) + room);
  if (!c) return -ENOMEM;
  hk_obj_t *copy = (hk_obj_t *)(void *)(c->data + sizeof(hk_value_t));
  memcpy(copy, o, size);
  copy->flags = 0;
  *(hk_value_t *)(void *)c->data = hk_obj_value(copy);
  c->used = (uint32_t)(sizeof(hk_value_t) + size);
  msg_set_objects(c, 1);
  *out = c;
  return 0;
}

/* True if [v] is a list whose spine alone would overflow fast_copy's
** buffer: such a message goes to the general copy at once instead of after
** gathering a buffer's worth (2,000 instructions per message). */
static bool long_list(hk_value_t v) {
  uint32_t n = 0;
  for (; v.tag == HK_T_CONS && !(v.as.o->flags & HK_OBJ_STATIC); v = hk_tail(v))
    if (++n > FAST_BYTES / sizeof(hk_cons_t)) return true;
  return false;
}

/* fast_copy past flat_copy, out of line: its 1 KiB buffer's frame is not
** paid by the one-object messages that flat_copy handles. */
__attribute__((noinline)) static int gather_copy(hk_value_t v, uint64_t max, bool copy_static,
                                                 size_t room, hk_chunk_t **out) {
  if (long_list(v)) return 1;
  _Alignas(16) unsigned char buf[FAST_BYTES];
  fast_t f = {.buf = buf, .max = max, .copy_static = copy_static};
  if (!fast_gather(&f, v)) return 1;
  hk_chunk_t *c = block_alloc(room_at(f.used, room) + room);
  if (!c) return -ENOMEM;
  fast_place(&f, c->data + sizeof(hk_value_t), (hk_value_t *)(void *)c->data);
  c->used = (uint32_t)f.used;
  msg_set_objects(c, f.objects);
  *out = c;
  return 0;
}

/* Returns 0 (*out set), 1 (not small: use the general path), -ENOMEM. */
static inline int fast_copy(hk_value_t v, uint64_t max, bool copy_static, size_t room,
                            hk_chunk_t **out) {
  int rc = flat_copy(v, max, copy_static, room, out);
  return rc <= 0 ? rc : gather_copy(v, max, copy_static, room, out);
}

/* hk_vm_copy_in of anything but a closure whose captures need no copy:
** out of line, so that the spawn of such a closure (every child of a spawn
** loop or a skynet node) saves no registers for fast_gather's buffer. */
static __attribute__((noinline)) int copy_in_gather(hk_vm_t *dst, hk_value_t v,
                                                    uint64_t max_objects, hk_value_t *out,
                                                    uint64_t *objects) {
  if (flat_object(v, false)) {
    /* One object whose fields need no copy: one copy, no buffer. */
    hk_obj_t *o = v.as.o;
    size_t size = obj_size(o);
    hk_heap_t *h = &dst->heap;
    hk_obj_t *n = chunk_take(dst, size);
    if (!n) return -ENOMEM;
    memcpy(n, o, size);
    n->flags = 0;
    *out = hk_obj_value(n);
    h->objects_left -= 1;
    h->gc_left -= (int64_t)size;
    *objects = 1;
    return 0;
  }
  _Alignas(16) unsigned char buf[FAST_BYTES];
  fast_t f = {.buf = buf, .max = max_objects};
  if (fast_gather(&f, v)) {
    hk_heap_t *h = &dst->heap;
    size_t bytes = f.used - sizeof(hk_value_t);
    unsigned char *to = bytes ? chunk_take(dst, bytes) : buf;
    if (!to) return -ENOMEM;
    fast_place(&f, to, out);
    h->objects_left -= (int64_t)f.objects;
    h->gc_left -= (int64_t)bytes;
    *objects = f.objects;
    return 0;
  }
  hk_msg_t *m;
  int rc = hk_value_copy_out(dst, v, max_objects, &m);
  if (rc) return rc;
  *objects = hk_msg_objects(m);
  return hk_vm_adopt(dst, m, out);
}

int hk_vm_copy_in(hk_vm_t *dst, hk_value_t v, uint64_t max_objects, hk_value_t *out,
                  uint64_t *objects) {
  if (max_objects == 0) max_objects = (uint64_t)1 << 28;
  /* A spawned closure that captures only scalars, pids and static objects
  ** (SPEC §6.4.1), into the room its child's placed chunk has for it
  ** (runtime/vmproc.c): the captures copied as they are, without
  ** flat_object's and chunk_take's calls (bench/README.md, "Spawn path 7"). */
  if (v.tag == HK_T_CLOSURE && !(v.as.o->flags & HK_OBJ_STATIC)) {
    const hk_closure_t *o = (const hk_closure_t *)v.as.o;
    uint32_t n = o->h.n;
    size_t size = sizeof(hk_closure_t) + (size_t)n * sizeof(hk_value_t);
    hk_heap_t *h = &dst->heap;
    hk_chunk_t *c = h->chunks;
    if (c && c->size - c->used >= size) {
      hk_closure_t *to = (hk_closure_t *)(void *)(c->data + c->used);
      /* One loop copies the captures into the chunk's free end and checks
      ** them: two loops were a check and a memcpy call, 11 instructions
      ** of every spawn for two captures (callgrind). A capture to copy
      ** leaves what was written unclaimed (c->used unchanged). */
      bool flat = true;
      for (uint32_t i = 0; i < n; i++) {
        hk_value_t x = o->caps[i];
        flat &= x.tag < HK_T__OBJ || (x.as.o->flags & HK_OBJ_STATIC);
        to->caps[i] = x;
      }
      if (!flat) return copy_in_gather(dst, v, max_objects, out, objects);
      c->used += (uint32_t)size;
      to->h = o->h;
      to->h.flags = 0;
      to->fn = o->fn;
      to->spare = o->spare;
      *out = hk_obj_value(&to->h);
      h->objects_left -= 1;
      h->gc_left -= (int64_t)size;
      *objects = 1;
      return 0;
    }
  }
  return copy_in_gather(dst, v, max_objects, out, objects);
}

/* hk_value_copy_out_room, charging [vm] for the objects copied when
** [charge] (SPEC §6.10: work/64 reductions, so a copy of fewer than 64
** objects, every small message, costs nothing and makes no call). */
static int copy_out(hk_vm_t *vm, hk_value_t v, uint64_t max_objects, size_t room,
                    hk_msg_t **out, void **roomp, bool charge) {
  if (max_objects == 0) max_objects = (uint64_t)1 << 28;
  if (roomp) *roomp = NULL;
  hk_chunk_t *c;
  int rc = fast_copy(v, max_objects, false, room, &c);
  if (rc <= 0) {
    if (rc == 0) {
      *out = (hk_msg_t *)(void *)c;
      if (roomp && room) *roomp = c->data + room_at(c->used, room);
      uint32_t objects = ((const hk_value_t *)(const void *)c->data)->aux; /* < 1024 */
      if (charge) hk_vm_charge(vm, objects); /* one chunk */
    }
    return rc;
  }
  uint64_t objects;
  rc = block_copy(&v, 1, &(copy_how_t){.max = max_objects}, &c, &objects);
  if (rc == 0) {
    msg_set_objects(c, objects);
    *out = (hk_msg_t *)(void *)c;
    if (charge) hk_vm_charge(vm, objects);
  }
  return rc;
}

int hk_value_copy_out(hk_vm_t *vm, hk_value_t v, uint64_t max_objects, hk_msg_t **out) {
  return copy_out(vm, v, max_objects, 0, out, NULL, false);
}

/* The block of a tuple of the [n] components [items] when each is a
** scalar or a static object (fanin's (i, literal), most protocol
** messages): flat_copy's result without its generic object walk (obj_vals,
** obj_size) or copy_out's cases: one object, so never over a limit (>= 1)
** and no charge. Returns 0 (*out, *roomp set), 1 (a component needs a
** copy; with [cached], also no block on the thread's list: see
** block_alloc_how), -ENOMEM. */
static inline __attribute__((always_inline)) int flat_items_copy(const hk_value_t *items,
                                                                 uint32_t n, size_t room,
                                                                 hk_chunk_t **out,
                                                                 void **roomp, bool cached) {
  for (uint32_t i = 0; i < n; i++)
    if (items[i].tag >= HK_T__OBJ && !(items[i].as.o->flags & HK_OBJ_STATIC)) return 1;
  size_t used = sizeof(hk_value_t) + sizeof(hk_tuple_t) + (size_t)n * sizeof(hk_value_t);
  size_t at = room_at(used, room);
  hk_chunk_t *c = block_alloc_how(at + room, cached);
  if (!c) return cached ? 1 : -ENOMEM;
  hk_tuple_t *copy = (hk_tuple_t *)(void *)(c->data + sizeof(hk_value_t));
  copy->h = (hk_obj_t){.tag = HK_T_TUPLE, .n = n};
  for (uint32_t i = 0; i < n; i++) copy->items[i] = items[i];
  *(hk_value_t *)(void *)c->data = hk_obj_value(&copy->h);
  c->used = (uint32_t)used;
  msg_set_objects(c, 1);
  *out = c;
  *roomp = room ? c->data + at : NULL;
  return 0;
}

/* flat_items_copy of tuple [v]; a static tuple is shared by a copy, not
** copied: 1 (copy_out's). */
static inline int flat_tuple_copy(hk_value_t v, size_t room, hk_chunk_t **out, void **roomp) {
  const hk_tuple_t *t = (const hk_tuple_t *)(const void *)v.as.o;
  if (t->h.flags & HK_OBJ_STATIC) return 1;
  return flat_items_copy(t->items, t->h.n, room, out, roomp, false);
}

int hk_tuple_copy_out_room(hk_value_t v, size_t room, hk_msg_t **out, void **roomp) {
  hk_chunk_t *c;
  int rc = flat_tuple_copy(v, room, &c, roomp);
  if (rc == 0) *out = (hk_msg_t *)(void *)c;
  return rc;
}

int hk_items_copy_out_room(const hk_value_t *items, uint32_t n, size_t room, hk_msg_t **out,
                           void **roomp) {
  hk_chunk_t *c;
  /* A pair (fanin's (i, s), most protocol messages) has its own copy: its
  ** block's size and class fold to constants and the loops unroll. */
  int rc = n == 2 ? flat_items_copy(items, 2, room, &c, roomp, false)
                  : flat_items_copy(items, n, room, &c, roomp, false);
  if (rc == 0) *out = (hk_msg_t *)(void *)c;
  return rc;
}

int hk_pair_copy_out_cached(const hk_value_t *items, size_t room, hk_msg_t **out, void **roomp) {
  hk_chunk_t *c;
  int rc = flat_items_copy(items, 2, room, &c, roomp, true);
  if (rc == 0) *out = (hk_msg_t *)(void *)c;
  return rc;
}

int hk_value_copy_out_room(hk_vm_t *vm, hk_value_t v, uint64_t max_objects, size_t room,
                           hk_msg_t **out, void **roomp) {
  if (v.tag == HK_T_TUPLE) {
    hk_chunk_t *c;
    int rc = flat_tuple_copy(v, room, &c, roomp);
    if (rc == 0) *out = (hk_msg_t *)(void *)c;
    if (rc <= 0) return rc;
  }
  return copy_out(vm, v, max_objects, room, out, roomp, true);
}

/* ---- Copies that leave the tree ----------------------------------------------- */

/* Translates the constructors of a block for another program: map[c]
** caches hk_image_ctor_map (0: not looked up yet, else index + 1). A
** constructor [to] lacks is noted (the first in *missing) and the walk goes
** on: a function anywhere is the error reported first (SPEC §6.12.5). */
typedef struct xlate {
  const hk_image_t *from, *to;
  uint32_t *map;
  bool lacks;
  uint32_t missing;
} xlate_t;

static void xlate_ctor(xlate_t *x, uint32_t *c) {
  if (*c >= x->from->nctors || !x->map[*c]) {
    int64_t to = hk_image_ctor_map(x->from, *c, x->to);
    if (to < 0) {
      if (!x->lacks) x->missing = *c;
      x->lacks = true;
      return;
    }
    x->map[*c] = (uint32_t)to + 1;
  }
  *c = x->map[*c] - 1;
}

static int xlate_value(xlate_t *x, hk_value_t *v) {
  if (hk_is_function(*v)) return -EXDEV;
  if (v->tag != HK_T_DATA0) return 0;
  uint32_t c = (uint32_t)v->as.u;
  xlate_ctor(x, &c);
  v->as.u = c;
  return 0;
}

/* Rewrites every constructor of block [c] (its root, then its objects back
** to back along the chain) for x->to. Returns 0, -EXDEV (a function),
** -ENOENT (x->missing). */
static int xlate_block(xlate_t *x, hk_chunk_t *c) {
  if (xlate_value(x, (hk_value_t *)(void *)c->data)) return -EXDEV;
  for (size_t off = sizeof(hk_value_t); c; c = c->next, off = 0)
    while (off < c->used) {
      hk_obj_t *o = (hk_obj_t *)(void *)(c->data + off);
      off += obj_size(o);
      if (o->tag == HK_T_CLOSURE || o->tag == HK_T_PAP) return -EXDEV;
      if (o->tag == HK_T_DATA) xlate_ctor(x, &o->n);
      uint32_t n;
      hk_value_t *vals = obj_vals(o, &n);
      for (uint32_t i = 0; i < n; i++)
        if (xlate_value(x, &vals[i])) return -EXDEV;
    }
  return x->lacks ? -ENOENT : 0;
}

int hk_value_copy_detached(hk_vm_t *vm, hk_value_t v, uint64_t max_objects, const hk_image_t *to,
                           hk_msg_t **out, uint32_t *missing) {
  if (max_objects == 0) max_objects = (uint64_t)1 << 28;
  hk_chunk_t *c;
  int rc = fast_copy(v, max_objects, true, 0, &c);
  if (rc > 0) {
    uint64_t objects;
    rc = block_copy(&v, 1, &(copy_how_t){.max = max_objects, .copy_static = true}, &c, &objects);
    if (rc == 0) msg_set_objects(c, objects);
  }
  if (rc) return rc;
  if (to && to != vm->img) {
    xlate_t x = {.from = vm->img, .to = to, .map = calloc(vm->img->nctors + 1, sizeof *x.map)};
    rc = x.map ? xlate_block(&x, c) : -ENOMEM;
    free(x.map);
    if (rc == -ENOENT && missing) *missing = x.missing;
    if (rc) {
      blocks_free(c);
      return rc;
    }
  }
  *out = (hk_msg_t *)(void *)c;
  return 0;
}

/* ---- The shared global store ------------------------------------------------ */

/* Each export that adds slots makes a new immutable array of values, so a
** child can point at the array current at its spawn while later exports
** (on the root's thread) never write memory a child reads. A child that
** finds a slot not exported yet moves to the newest array (hk_vm_globals_
** refresh): the root exports every global it initialised before it hands
** any value to another process (spawn, send, a native call), so a closure
** that reaches a child and reads a later global finds it there.
**
** An array is reference-counted: one reference for the store while it is
** the current one, one per child whose slots point into it. So an array
** that no child uses any more is freed when the next export replaces it,
** and a root that alternates "set a global" and "send" keeps one array, not
** one per export (memory linear in the number of globals). References are
** taken only on the current array, under the store's lock (a spawn, a
** refresh), and the store drops its own under the same lock when it
** replaces the array: nobody can take a reference to an array once it is
** no longer current, so the last release (any thread) may free it. Workers
** take and drop them in batches (gvals_ref below): the count is then an
** upper bound of the users, which is all the two uses above need. */
typedef struct gvals {
  _Atomic uint64_t refs;
  const struct hk_globals *store; /* whose array: a child finds its store here */
  hk_value_t vals[];
} gvals_t;

struct hk_globals {
  uint32_t n;
  /* [n]: UNINIT (payload 0) not exported yet; UNINIT (payload 1) not
  ** sendable; else a static value. Written by the exporting root only
  ** (under the runtime's lock), read by any process of the tree. */
  _Atomic(gvals_t *) cur;
  pthread_mutex_t lock; /* taking a reference to cur; replacing cur */
  bool *done;
  hk_chunk_t *blocks; /* every exported block, freed with the store */
};

static gvals_t *gvals_new(const struct hk_globals *g, uint32_t n, const gvals_t *from) {
  gvals_t *v = malloc(sizeof *v + ((size_t)n + 1) * sizeof(hk_value_t));
  if (!v) return NULL;
  atomic_init(&v->refs, 1); /* the store's */
  v->store = g;
  for (uint32_t i = 0; i < n; i++) v->vals[i] = from ? from->vals[i] : hk_mk(HK_T_UNINIT, 0);
  return v;
}

static gvals_t *gvals_of(hk_value_t *vals) {
  return (gvals_t *)(void *)((char *)vals - offsetof(gvals_t, vals));
}

static void gvals_sub(gvals_t *v, uint64_t n) {
  /* Acq_rel: the last release frees; every earlier one happens before it. */
  if (atomic_fetch_sub_explicit(&v->refs, n, memory_order_acq_rel) == n) free(v);
}

static void gvals_release(gvals_t *v) { gvals_sub(v, 1); }

/* A worker thread's spare references to one array. Every spawn takes a
** reference on the array its child will read and every process's end drops
** one: with one shared count, a spawning worker and the worker where its
** children end wrote the same cache line once per child each
** (bench/README.md, "Last measured": a slow 2-worker spawn run). A worker
** instead takes GSPARE_BATCH references at once and hands them out, and a
** process that ends on it gives its reference to the worker's spare
** (returning all but GSPARE_BATCH once it holds GSPARE_MAX), so the count
** is written about once per GSPARE_BATCH spawns or ends. The shared count
** is then at least the number of users, never less, so an array is never
** freed early; an array stays alive, and an export copies the current one
** rather than write it in place, while some worker holds spare references
** to it: at most one array per worker, returned when that worker next
** takes or drops a reference to another array, at an export of the
** store's (on its thread), or when it stops (hk_globals_thread). Threads
** that are not workers count directly. */
#define GSPARE_BATCH 64u
#define GSPARE_MAX 256u
typedef struct gspare {
  gvals_t *v;     /* NULL when spare is 0 */
  uint64_t spare; /* references to v this thread holds for nobody */
  uint32_t on;    /* hk_globals_thread(true) calls not yet undone */
} gspare_t;
static _Thread_local gspare_t gspare;

static void gspare_flush(void) {
  if (gspare.spare) gvals_sub(gspare.v, gspare.spare);
  gspare.v = NULL;
  gspare.spare = 0;
}

void hk_globals_thread(bool on) {
  gspare_flush();
  if (on) gspare.on++;
  else if (gspare.on) gspare.on--;
}

static __attribute__((noinline)) void gvals_ref_slow(gvals_t *v) {
  if (!gspare.on) {
    /* Relaxed: the caller's reference (or the store's) keeps v alive. */
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    return;
  }
  gspare_flush();
  /* Relaxed: as above; the extra ones are this thread's until handed out. */
  atomic_fetch_add_explicit(&v->refs, GSPARE_BATCH, memory_order_relaxed);
  gspare.v = v;
  gspare.spare = GSPARE_BATCH - 1;
}

/* One more reference to [v], which the caller can reach alive (it holds
** one, or it is the store's current array on the exporting thread). */
static inline void gvals_ref(gvals_t *v) {
  if (gspare.v != v) {
    gvals_ref_slow(v);
  } else if (--gspare.spare == 0) { /* gspare.v is set only with spare > 0 */
    gspare.v = NULL;
  }
}

static __attribute__((noinline)) void gvals_unref_slow(gvals_t *v) {
  if (gspare.v == v) { /* GSPARE_MAX: keep GSPARE_BATCH, so never the last */
    gvals_sub(v, gspare.spare - GSPARE_BATCH);
    gspare.spare = GSPARE_BATCH;
  } else if (!gspare.on) {
    gvals_release(v);
  } else {
    gspare_flush();
    gspare.v = v;
    gspare.spare = 1;
  }
}

/* Drops a reference to [v]. */
static inline void gvals_unref(gvals_t *v) {
  if (gspare.v != v || ++gspare.spare > GSPARE_MAX) gvals_unref_slow(v);
}

/* A new reference to the current array. Caller holds g->lock. */
static gvals_t *gvals_take(const hk_globals_t *g) {
  /* Acquire: pairs with the release in hk_globals_export (the array's
  ** contents and the copied objects). */
  gvals_t *v = atomic_load_explicit(&g->cur, memory_order_acquire);
  /* Relaxed: the store's reference keeps v alive under the lock. */
  atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
  return v;
}

/* Makes the exported slots visible: slots[0..k) get copied[0..k),
** slots[cap - nbad..cap) the "not sendable" mark. In place when no child uses
** the current array (only the store's reference: a child takes one only
** under the lock held here), else in a new array that replaces it. Returns
** 0 or -ENOMEM (nothing changed). Thread: the exporting root's. */
static int publish(hk_globals_t *g, const uint32_t *slots, uint32_t cap, const hk_value_t *copied,
                   uint32_t k, uint32_t nbad) {
  uint32_t n = g->n;
  pthread_mutex_lock(&g->lock);
  /* Relaxed: only the exporting thread stores cur. */
  gvals_t *cur = atomic_load_explicit(&g->cur, memory_order_relaxed);
  if (gspare.v == cur) gspare_flush(); /* the store's keeps cur alive */
  /* Acquire: pairs with the acq_rel release of the last child that used
  ** cur (its reads happen before our writes). */
  bool alone = atomic_load_explicit(&cur->refs, memory_order_acquire) == 1;
  gvals_t *next = alone ? cur : gvals_new(g, n, cur);
  if (!next) {
    pthread_mutex_unlock(&g->lock);
    return -ENOMEM;
  }
  for (uint32_t j = 0; j < k; j++) next->vals[slots[j]] = copied[j];
  for (uint32_t j = cap - nbad; j < cap; j++) next->vals[slots[j]] = hk_mk(HK_T_UNINIT, 1);
  for (uint32_t j = 0; j < k; j++) g->done[slots[j]] = true;
  for (uint32_t j = cap - nbad; j < cap; j++) g->done[slots[j]] = true;
  /* Release: pairs with the acquire in gvals_take (a reader sees the
  ** array's contents and the copied objects). */
  atomic_store_explicit(&g->cur, next, memory_order_release);
  pthread_mutex_unlock(&g->lock);
  if (next != cur) gvals_release(cur); /* the store's reference: freed unless a child uses it */
  return 0;
}

int hk_globals_export(hk_vm_t *root, hk_globals_t **gp) {
  uint32_t n = root->img->nglobals;
  /* NULL: no global slot (n 0), or not started (none set) */
  hk_rglobals_t *rg = root->globals ? hk_vm_rglobals(root) : NULL;
  hk_globals_t *g = *gp;
  if (!g) {
    g = calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    g->n = n;
    gvals_t *first = gvals_new(g, n, NULL);
    g->done = calloc(n + 1, sizeof *g->done);
    if (!first || !g->done) {
      free(first);
      free(g->done);
      free(g);
      return -ENOMEM;
    }
    atomic_init(&g->cur, first);
    pthread_mutex_init(&g->lock, NULL);
    *gp = g;
    if (rg) { /* the first export looks at every slot */
      rg->gset_lo = 0;
      rg->gset_hi = n;
    }
  }
  if (!rg || rg->gset_hi == 0) return 0;
  /* The slots to export, among those set since the last export: k
  ** sendable ones (their values copied into one block below), then, from
  ** the end of [slots], nbad ones holding a continuation. */
  uint32_t cap = rg->gset_hi - rg->gset_lo;
  hk_value_t *roots = malloc(cap * sizeof *roots);
  uint32_t *slots = malloc(cap * sizeof *slots);
  if (!roots || !slots) {
    free(roots);
    free(slots);
    return -ENOMEM;
  }
  uint32_t k = 0, nbad = 0;
  size_t bytes = 0; /* of the copy: its block is made to measure */
  int rc = 0;
  for (uint32_t i = rg->gset_lo; i < rg->gset_hi && !rc; i++) {
    if (g->done[i] || root->globals[i].tag == HK_T_UNINIT) continue;
    size_t b;
    uint64_t objects;
    rc = msg_measure(&root->globals[i], 1, UINT64_MAX, true, &b, &objects);
    if (rc == -EINVAL) { /* holds a continuation */
      slots[cap - ++nbad] = i;
      rc = 0;
    } else if (rc == 0) {
      roots[k] = root->globals[i];
      slots[k++] = i;
      bytes += b;
    }
  }
  const hk_value_t *copied = NULL;
  if (!rc && k) {
    hk_chunk_t *c;
    copy_how_t how = {.max = UINT64_MAX, .share_all = true, .flags = HK_OBJ_STATIC,
                      .measured = true, .bytes = bytes};
    uint64_t objects; /* the globals' values are roots: no count in them */
    rc = block_copy(roots, k, &how, &c, &objects);
    if (!rc) {
      hk_chunk_t *tail = c;
      while (tail->next) tail = tail->next;
      tail->next = g->blocks;
      g->blocks = c;
      copied = (const hk_value_t *)c->data;
    }
  }
  if (!rc && (k || nbad)) rc = publish(g, slots, cap, copied, k, nbad);
  free(roots);
  free(slots);
  if (rc == 0) rg->gset_hi = 0;
  return rc;
}

int hk_vm_use_globals(hk_vm_t *child, const hk_globals_t *g) {
  if (g->n != child->img->nglobals) return -EINVAL;
  if (child->globals) hk_globals_unuse(child);
  /* No lock: only this thread (the exporting root's) replaces cur or
  ** drops the store's reference to it, so cur stays alive under us.
  ** Acquire: as gvals_take (trivially ours here: we published it). */
  gvals_t *v = atomic_load_explicit(&g->cur, memory_order_acquire);
  /* The store's reference keeps v alive; publish (on this thread) reads the
  ** count after it. */
  gvals_ref(v);
  child->globals = v->vals;
  child->globals_shared = true;
  return 0;
}

int hk_vm_share_globals(hk_vm_t *child, const hk_vm_t *parent) {
  if (!parent->globals_shared) return -EINVAL;
  if (parent->img != child->img) return -EINVAL;
  if (child->globals) hk_globals_unuse(child);
  gvals_t *v = gvals_of(parent->globals);
  /* The parent's own reference keeps v alive (and, while it is the
  ** current array, at 2 or more, so publish never writes it in place); its
  ** contents were visible to the parent, whose thread this is. */
  gvals_ref(v);
  child->globals = parent->globals;
  child->globals_shared = true;
  return 0;
}

void hk_globals_unuse(hk_vm_t *vm) {
  if (!vm->globals_shared) {
    if (vm->globals) free(hk_vm_rglobals(vm));
  } else if (vm->globals) {
    gvals_unref(gvals_of(vm->globals));
  }
  vm->globals = NULL;
  vm->globals_shared = false;
}

const hk_globals_t *hk_vm_gstore(const hk_vm_t *vm) {
  return vm->globals_shared && vm->globals ? gvals_of(vm->globals)->store : NULL;
}

bool hk_vm_globals_refresh(hk_vm_t *child) {
  const hk_globals_t *g = hk_vm_gstore(child);
  if (!g) return false; /* a root */
  /* Relaxed: a hint; the array is taken under the lock below. */
  if (atomic_load_explicit(&g->cur, memory_order_relaxed)->vals == child->globals) return false;
  pthread_mutex_lock((pthread_mutex_t *)&g->lock);
  gvals_t *v = gvals_take(g);
  pthread_mutex_unlock((pthread_mutex_t *)&g->lock);
  gvals_unref(gvals_of(child->globals));
  child->globals = v->vals;
  return true;
}

/* A root's send asks this (runtime/vmproc.c): its record of the slots set
** since the last export is in front of its own slots (hk_rglobals_t); a
** child's slots are the store's (globals_shared), none set. */
bool hk_vm_globals_dirty(const hk_vm_t *root) {
  return !root->globals_shared && root->globals && hk_vm_rglobals(root)->gset_hi != 0;
}

void hk_globals_free(hk_globals_t *g) {
  if (!g) return;
  blocks_free(g->blocks);
  /* Every instance using the store is gone: only the store's reference is
  ** left, and workers' spare ones (gvals_ref), which free it later. */
  gvals_release(atomic_load_explicit(&g->cur, memory_order_relaxed));
  pthread_mutex_destroy(&g->lock);
  free(g->done);
  free(g);
}

/* hk_vm_adopt of a block of [objects] objects. */
static inline __attribute__((always_inline)) int adopt_counted(hk_vm_t *vm, hk_msg_t *m,
                                                               hk_value_t *out, uint64_t objects) {
  hk_chunk_t *c = MSG_CHUNK(m);
  hk_value_t *root = (hk_value_t *)(void *)c->data;
  vm->heap.objects_left -= (int64_t)objects;
  *out = *root;
  out->aux = 0; /* the count (msg_set_objects) */
  for (;;) { /* every chunk of the chain joins the heap's */
    vm->heap.gc_left -= (int64_t)c->used;
    if (!c->next) break;
    c = c->next;
  }
  /* After the current chunk, which stays the one allocated from; before
  ** the placed chunk, which stays last (chunks_free). The block's first
  ** chunk then is the current one, marked full: its spare room may hold
  ** the envelope the block came in (hk_value_copy_out_room). */
  hk_chunk_t *first = MSG_CHUNK(m), *cur = vm->heap.chunks;
  if (cur && cur->next) {
    c->next = cur->next;
    cur->next = first;
  } else if (cur && !(vm->root.inl & HK_SEG_INL_HEAP)) {
    c->next = NULL;
    cur->next = first;
  } else {
    c->next = cur;
    first->used = first->size;
    vm->heap.chunks = first;
  }
  return 0;
}

/* A block whose count saturated (msg_set_objects) is counted along its
** chain: out of line, so that the usual adoption (every received message
** in a block) makes no call and saves no register (-6 instructions a
** fanin message, callgrind; bench/README.md, "Fan-in lines, stop 20"). */
static __attribute__((noinline)) int adopt_saturated(hk_vm_t *vm, hk_msg_t *m, hk_value_t *out) {
  return adopt_counted(vm, m, out, hk_msg_objects(m));
}

int hk_vm_adopt(hk_vm_t *vm, hk_msg_t *m, hk_value_t *out) {
  uint32_t n = ((const hk_value_t *)(const void *)MSG_CHUNK(m)->data)->aux;
  if (__builtin_expect(n == UINT32_MAX, 0)) return adopt_saturated(vm, m, out);
  return adopt_counted(vm, m, out, n);
}

void hk_msg_free(hk_msg_t *m) { blocks_free(MSG_CHUNK(m)); }

uint64_t hk_msg_objects(const hk_msg_t *m) {
  const hk_chunk_t *c = (const hk_chunk_t *)(const void *)m;
  uint32_t n = ((const hk_value_t *)(const void *)c->data)->aux;
  if (n < UINT32_MAX) return n;
  uint64_t count = 0; /* saturated (msg_set_objects): count the chain's objects */
  for (size_t off = sizeof(hk_value_t); c; c = c->next, off = 0)
    for (; off < c->used; count++) off += obj_size((const hk_obj_t *)(const void *)(c->data + off));
  return count;
}

int hk_msg_dup(const hk_msg_t *m, hk_msg_t **out) {
  const hk_chunk_t *c = (const hk_chunk_t *)(const void *)m;
  return hk_value_copy_out(NULL, *(const hk_value_t *)(const void *)c->data, 0, out);
}

bool hk_msg_has_function(const hk_msg_t *m) {
  const hk_chunk_t *c = (const hk_chunk_t *)(const void *)m;
  if (hk_is_function(*(const hk_value_t *)(const void *)c->data)) return true;
  /* The root, then the objects back to back along the chain. */
  for (size_t off = sizeof(hk_value_t); c; c = c->next, off = 0)
    while (off < c->used) {
      hk_obj_t *o = (hk_obj_t *)(void *)(c->data + off);
      off += obj_size(o);
      if (o->tag == HK_T_CLOSURE || o->tag == HK_T_PAP) return true;
      uint32_t n;
      const hk_value_t *vals = obj_vals(o, &n);
      for (uint32_t i = 0; i < n; i++)
        if (hk_is_function(vals[i])) return true;
    }
  return false;
}
