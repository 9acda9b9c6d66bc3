/* vm_int.h — the inside of a VM instance, shared by interp.c and heap.c
** only (builtins and the host use vm/vm.h).
**
** Stack: a chain of segments (DESIGN-NOTES "effect handlers without the C
** stack"). The root segment holds the process's first frames; every
** `handle` starts a new segment whose header records the handler. A
** `perform` detaches the segments from the top down to the handler's in O(1)
** into a continuation; `resume` links them back on top of the current one.
** Each segment has its own growable value array and frame array; frames
** refer to slots by index, so arrays may move when they grow.
** Thread: owner. */
#ifndef HK_VM_INT_H
#define HK_VM_INT_H

#include "vm/image.h"
#include "vm/vm.h"

/* 16 bytes (docs/runtime.md, "Memory of a process": every process has
** one). The function, the closure and the result's slot share one word:
** the running closure (captures, whose fn is the frame's function: an
** object is 8-byte aligned, so its low bits are 0), or, for a function run
** without one, (fn << 2) | 1; with bit 1 set the caller's slot receiving
** the result is base, else base - 1 (every call puts it at one of the two:
** the callee's closure slot, or the first argument's of a known function).
** A segment's bottom frame's result slot is never read. */
typedef struct hk_frame {
  uint32_t pc;   /* next instruction (word offset), saved when the frame is left */
  uint32_t base; /* first local in seg->vals */
  uintptr_t fc;  /* HK_FC_*: see above (hk_fc, hk_frame_fn, _clos, _ret) */
} hk_frame_t;
enum { HK_FC_FN = 1, HK_FC_AT_BASE = 2 };

/* The frame word of function [fn] run with closure [clos] (NULL: none),
** its result going to slot [ret] of its caller, [base] or base - 1. */
static inline uintptr_t hk_fc(uint32_t fn, hk_obj_t *clos, uint32_t base, uint32_t ret) {
  uintptr_t at = ret == base ? HK_FC_AT_BASE : 0;
  return (clos ? (uintptr_t)clos : ((uintptr_t)fn << 2 | HK_FC_FN)) | at;
}
/* The running closure of a frame whose word is [fc], or NULL. */
static inline hk_obj_t *hk_fc_clos(uintptr_t fc) {
  return fc & HK_FC_FN ? NULL : (hk_obj_t *)(fc & ~(uintptr_t)3);
}
static inline uint32_t hk_fc_fn(uintptr_t fc) {
  return fc & HK_FC_FN ? (uint32_t)(fc >> 2)
                       : ((const hk_closure_t *)(const void *)(fc & ~(uintptr_t)3))->fn;
}
static inline uint32_t hk_frame_fn(const hk_frame_t *fr) { return hk_fc_fn(fr->fc); }
/* The caller's slot receiving [fr]'s result (not for a bottom frame). */
static inline uint32_t hk_frame_ret(const hk_frame_t *fr) {
  return fr->base - 1 + (uint32_t)(fr->fc >> 1 & 1);
}

enum { HK_SEG_ROOT, HK_SEG_HANDLER, HK_SEG_PLAIN };
/* HK_SEG_INL_HEAP: the heap's last chunk is the one hk_vm_place put after
** the instance (never freed); the first collection frees it from the list. */
enum { HK_SEG_INL_VALS = 1, HK_SEG_INL_FRAMES = 2, HK_SEG_INL_VM = 4, HK_SEG_INL_HEAP = 8 };

/* 40 bytes: the root, in every instance, has no parent (hk_seg_parent). */
typedef struct hk_seg {
  hk_value_t *vals;
  uint32_t sp, cap;
  hk_frame_t *frames;
  uint32_t nframes, fcap;
  uint16_t kind;     /* HK_SEG_* */
  uint16_t inl;      /* HK_SEG_INL_*: ROOT arrays placed after the instance */
  uint32_t nh;       /* active handler segments in the chain from here down */
} hk_seg_t;

/* Every segment but the root (kind HANDLER, or PLAIN once its handler was
** removed) is one of these, so the root in the instance carries no handler
** fields and no parent (40 bytes of every process). */
typedef struct hk_hseg {
  hk_seg_t s;           /* first */
  hk_seg_t *parent;     /* the segment below (never NULL) */
  uint32_t handler;     /* HANDLER: image handler-table index */
  uint32_t nclauses;
  hk_value_t hret;      /* HANDLER: the return clause (a closure of 1 argument) */
  hk_value_t *hclauses; /* HANDLER: [nclauses] closures of 2 arguments */
} hk_hseg_t;

/* The handler fields of [s], which is not a ROOT segment. */
static inline hk_hseg_t *hk_hseg(hk_seg_t *s) { return (hk_hseg_t *)(void *)s; }
/* The segment below [s]: NULL for the root (the chain's end). */
static inline hk_seg_t *hk_seg_parent(hk_seg_t *s) {
  return s->kind == HK_SEG_ROOT ? NULL : hk_hseg(s)->parent;
}

/* 16 bytes of header (docs/runtime.md, "Memory of a process": every process
** places one). A message block's object count is in its root value
** (heap.c, msg_set_objects); a placed chunk is marked in the root segment
** (HK_SEG_INL_HEAP). */
typedef struct hk_chunk {
  struct hk_chunk *next;
  uint32_t size, used; /* bytes of data[]: HK_CHUNK_MAX at most */
  _Alignas(16) unsigned char data[];
} hk_chunk_t;
/* The largest chunk's data: one object larger than this (a string of ~4 GiB)
** cannot be allocated (out of memory). */
#define HK_CHUNK_MAX ((size_t)UINT32_MAX - 4095u)

typedef struct hk_heap {
  /* The heap limit (hk_heap_limit) minus the objects allocated (live
  ** after a collection), one word where the count and the limit were two
  ** (hk_heap_objects): a collection runs when it reaches 0, and a limited
  ** instance (--max-heap) fails if it stays below 0 (SPEC 6.11.3). Not
  ** beside gc_left: gcc made an allocation's two decrements of adjacent
  ** words one SSE add (an instruction more, bench/README.md "Memory per
  ** process 10"). */
  int64_t objects_left;
  /* The current chunk first; the chunks of adopted message blocks are in
  ** the list too (hk_vm_adopt), and the placed chunk, while
  ** HK_SEG_INL_HEAP holds, is its last. */
  hk_chunk_t *chunks;
  /* Bytes left to allocate before the next collection (the last one's
  ** trigger minus what was allocated since): collect when <= 0. */
  int64_t gc_left;
} hk_heap_t;

/* 144 bytes (docs/runtime.md, "Memory of a process": every process has
** one, placed in its record): fields only some processes use share room.
** No pointer to its host's record of it: a host that places instances
** finds that from the address (runtime/vmproc.c, hk_vmproc_of). */
struct hk_vm {
  hk_vm_head_t h; /* first: the request and the reductions (vm.h) */
  const hk_image_t *img;
  const hk_host_t *host;
  hk_heap_t heap;
  hk_seg_t *seg;          /* the current (top) segment */
  hk_seg_t root;          /* the bottom segment (kind ROOT), once started; its
                          ** inl has HK_SEG_INL_VM when the instance is placed */
  /* [img->nglobals]: a root's own (the vals of an hk_rglobals_t), or a
  ** child's in the shared store (those of a gvals_t, heap.c, which names
  ** the store): what a root or child keeps beside them lives in front. */
  hk_value_t *globals;
  /* Frames that may still be pushed: the depth limit (interp.c, max_depth:
  ** <= INT32_MAX) minus the frames of the chain; below 0 only while a
  ** resume checks it. */
  int32_t depth_left;
  uint32_t slots;         /* stack slots of all segments (limit: max_slots in interp.c, <= 2^31) */
  /* What most instances never need: allocated by the first failure,
  ** collection or continuation, or at the start of an instance with limited
  ** fuel or a depth limit other than the default. */
  struct hk_vmx *x;
  /* budget */
  int32_t charge;         /* extra reductions charged by builtins, or by the host between
                          ** slices (hk_vm_charge saturates at HK_CHARGE_MAX) */
  uint8_t state;          /* HK_VS_* */
  bool globals_shared;    /* globals point into a shared store (a child): read-only */
  bool req_pending;
  bool failed;
};
/* What most instances never need (vm->x). */
typedef struct hk_vmx {
  hk_failure_t fail; /* meaningful once vm->failed */
  uint64_t fuel;     /* instructions left; UINT64_MAX: not limited */
  hk_cont_t *conts;  /* live continuations (their segments are freed with them) */
  uint32_t gc_runs;  /* collections of this instance (a statistic) */
  uint32_t max_depth; /* the depth limit; 0: DEFAULT_MAX_DEPTH (interp.c) */
  uint64_t max_objects; /* the heap limit, live objects (--max-heap); 0: none */
  struct hk_strpos *strpos; /* substring's HK_STRPOS_WAYS cursors (bi_string.c); NULL: none yet */
} hk_vmx_t;

/* The heap's limit in objects: HK_HEAP_UNLIMITED without one. */
#define HK_HEAP_UNLIMITED INT64_MAX
static inline int64_t hk_heap_limit(const hk_vm_t *vm) {
  return vm->x && vm->x->max_objects ? (int64_t)vm->x->max_objects : HK_HEAP_UNLIMITED;
}
/* The objects of [vm]'s heap (live after a collection). */
static inline uint64_t hk_heap_objects(const hk_vm_t *vm) {
  return (uint64_t)(hk_heap_limit(vm) - vm->heap.objects_left);
}

/* The fuel left: UINT64_MAX when not limited. */
static inline uint64_t hk_vm_fuel(const hk_vm_t *vm) { return vm->x ? vm->x->fuel : UINT64_MAX; }
/* vm->x, allocated by the first call (fuel unlimited); NULL when out of
** memory. */
hk_vmx_t *hk_vm_x(hk_vm_t *vm);

/* hk_vm_charge's bound: far from INT32_MAX, so the interpreter's own small
** charges (locals, stack growth) between two resets never overflow. */
#define HK_CHARGE_MAX (INT32_MAX / 2)

enum { HK_VS_NEW, HK_VS_READY, HK_VS_REQUEST, HK_VS_DONE, HK_VS_FAILED, HK_VS_EXIT };

/* heap.c */
/* [max_objects]: the limit (below HK_HEAP_UNLIMITED, also in vm->x), or 0. */
void hk_heap_init(hk_heap_t *h, uint64_t max_objects);
/* Frees [vm]'s chunks (adopted blocks' too) but a placed chunk (HK_SEG_INL_HEAP). */
void hk_heap_free(hk_vm_t *vm);
/* Releases [vm]'s live continuations (vm->x->conts), before hk_heap_free. */
void hk_conts_free(hk_vm_t *vm);
/* Makes [size] bytes at [mem] (aligned to 16) the heap's first chunk. */
void hk_heap_place(hk_heap_t *h, void *mem, size_t size);
/* hk_heap_alloc when the current chunk lacks room for [size] (a multiple
** of 8): takes a new chunk. Returns NULL when out of memory. */
hk_obj_t *hk_heap_alloc_grow(hk_vm_t *vm, size_t size, uint32_t tag);
/* Allocates an object of [size] bytes with tag [tag] (counted). Never
** collects. Returns NULL when out of memory. Inline: the bump in the
** current chunk is most of a tuple or cons cell's cost in the interpreter. */
static inline hk_obj_t *hk_heap_alloc(hk_vm_t *vm, size_t size, uint32_t tag) {
  hk_heap_t *h = &vm->heap;
  size = (size + 7u) & ~(size_t)7u;
  hk_chunk_t *c = h->chunks;
  if (__builtin_expect(!c || c->size - c->used < size, 0)) return hk_heap_alloc_grow(vm, size, tag);
  hk_obj_t *o = (hk_obj_t *)(void *)(c->data + c->used);
  c->used += (uint32_t)size; /* < c->size - c->used */
  h->objects_left--;
  h->gc_left -= (int64_t)size;
  *o = (hk_obj_t){.tag = (uint8_t)tag};
  return o;
}
/* Collects [vm]'s heap: roots are the segment chain, globals, the pending
** request, the result. Returns 0 or -ENOMEM. */
int hk_heap_collect(hk_vm_t *vm);
static inline bool hk_heap_wants_gc(const hk_heap_t *h) {
  return h->gc_left <= 0 || h->objects_left <= 0;
}
/* Frees segment [s] (NULL: nothing); its slots leave [vm]'s count unless
** [vm] is NULL (the instance is being freed). */
void hk_seg_free(hk_vm_t *vm, hk_seg_t *s);

/* A root's own global slots (interp.c, start; vm->globals is vals): the
** slots set since the last export lie in [gset_lo, gset_hi), none when
** gset_hi is 0. In front of the slots, not in the instance: only a root has
** them (8 bytes of every process). */
typedef struct hk_rglobals {
  uint32_t gset_lo, gset_hi;
  hk_value_t vals[];
} hk_rglobals_t;
/* The record of a root [vm] whose globals are allocated (not shared). */
static inline hk_rglobals_t *hk_vm_rglobals(const hk_vm_t *vm) {
  return (hk_rglobals_t *)(void *)((char *)vm->globals - offsetof(hk_rglobals_t, vals));
}

/* The shared store a child's globals are in (heap.c), or NULL: a root. */
const struct hk_globals *hk_vm_gstore(const hk_vm_t *vm);

/* A root set global slot [g] (SETGLOBAL): the next export looks at it. */
static inline void hk_vm_global_set(hk_vm_t *vm, uint32_t g) {
  /* Never a child: SETGLOBAL fails there first (its slots are the store's). */
  hk_rglobals_t *r = hk_vm_rglobals(vm);
  if (r->gset_hi == 0 || g < r->gset_lo) r->gset_lo = g;
  if (g >= r->gset_hi) r->gset_hi = g + 1;
}

#endif
