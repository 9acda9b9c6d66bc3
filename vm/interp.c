/* interp.c — the interpreter and the VM-instance API (vm/vm.h).
**
** A stack machine over 32-bit code words (vm/opcodes.def) with
** computed-goto dispatch (switch fallback), integer fast paths, direct calls
** to known functions, proper tail calls, and no C recursion per hiko call:
** every call pushes a frame record in the current stack segment. All state
** lives in the instance, so a slice can stop at any instruction.
**
** Effect handlers (SPEC §4.9): see vm/vm_int.h for segments. HANDLE starts a
** segment and calls the body thunk in it; PERFORM detaches the segments down
** to the handler's into a continuation (O(1)) and calls the clause in the
** handler's parent; RESUME links them back on top of the current segment,
** keeping the handler active or not by the c0 rule of §4.9.3. A segment
** whose last frame returns delivers its value to its parent (through the
** return clause if it is an active handler segment). */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bcache.h"
#include "vm/opcodes.h"
#include "vm/vm_int.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define DEFAULT_MAX_DEPTH 1000000u
/* The root segment's arrays are allocated at the first call, as big as it
** needs: a process blocked early (a server waiting for its first message)
** holds little. */
#define FIRST_VALS 8u
#define FIRST_FRAMES 2u
#define SEG_VALS 16u
/* Stack slots (the value arrays of all the instance's segments, the ones
** held by continuations included) allowed per frame of the depth limit: the
** declared sizes of frames (locals plus maximum stack, SPEC 11.2) count
** against the stack limit (SPEC 4.3.3), so an image declaring huge frames
** overflows instead of allocating without bound. At least MIN_SLOTS (1 MiB
** of values), so a small depth limit does not also limit frame sizes. */
#define SLOTS_PER_FRAME 64u
#define MIN_SLOTS 65536u

enum { ST_CONTINUE = 0, ST_STOP = 1 };

/* ---- Failures -------------------------------------------------------------- */

/* The failure record is allocated when the first failure is recorded: most
** processes never fail. Without memory for it, hk_vm_failure reports
** "out of memory" (oom_failure). */
static const hk_failure_t no_failure = {.kind = HK_FAIL_RUNTIME, .message = NULL};
static const hk_failure_t oom_failure = {.kind = HK_FAIL_RUNTIME, .message = "out of memory"};

/* vm->x, allocated now if needed (not limited); NULL when out of memory. */
hk_vmx_t *hk_vm_x(hk_vm_t *vm) {
  if (!vm->x && (vm->x = calloc(1, sizeof *vm->x))) vm->x->fuel = UINT64_MAX;
  return vm->x;
}

hk_strpos_t *hk_vm_strpos(hk_vm_t *vm) {
  hk_vmx_t *x = hk_vm_x(vm);
  if (x && !x->strpos) x->strpos = calloc(HK_STRPOS_WAYS, sizeof *x->strpos);
  return x ? x->strpos : NULL;
}

static void record_failure(hk_vm_t *vm, hk_fail_kind_t kind, char *msg, int64_t a, int64_t b) {
  vm->failed = true;
  hk_vmx_t *x = hk_vm_x(vm);
  if (!x) {
    free(msg);
    return;
  }
  hk_failure_t *f = &x->fail;
  f->kind = kind;
  f->message = msg ? msg : strdup("out of memory");
  f->a = a;
  f->b = b;
}

int hk_vm_vfail(hk_vm_t *vm, const char *fmt, va_list ap) {
  if (vm->failed) return HK_EFAIL;
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  record_failure(vm, HK_FAIL_RUNTIME, msg, 0, 0);
  return HK_EFAIL;
}

int hk_vm_fail(hk_vm_t *vm, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = hk_vm_vfail(vm, fmt, ap);
  va_end(ap);
  return rc;
}

int hk_vm_fail_kind(hk_vm_t *vm, hk_fail_kind_t kind, int64_t a, int64_t b) {
  if (vm->failed) return HK_EFAIL;
  char *msg = NULL;
  int n = -1;
  switch (kind) {
  case HK_FAIL_CANCELLED: msg = strdup("cancelled"); break;
  case HK_FAIL_FUEL: msg = strdup("fuel exhausted"); break;
  case HK_FAIL_ALREADY_JOINED: msg = strdup("already joined"); break;
  case HK_FAIL_HEAP_LIMIT:
    n = asprintf(&msg, "heap limit exceeded: %lld objects (max %lld)", (long long)a, (long long)b);
    if (n < 0) msg = NULL;
    break;
  default: msg = strdup("failed"); break;
  }
  record_failure(vm, kind, msg, a, b);
  return HK_EFAIL;
}

const hk_failure_t *hk_vm_failure(const hk_vm_t *vm) {
  if (!vm->failed) return &no_failure;
  return vm->x ? &vm->x->fail : &oom_failure;
}
bool hk_vm_failed(const hk_vm_t *vm) { return vm->failed; }

int hk_vm_exit(hk_vm_t *vm, int code) {
  vm->h.arg = hk_int(code); /* no request is pending: exit is a pure builtin */
  vm->req_pending = false;
  vm->state = HK_VS_EXIT;
  return HK_EEXIT;
}

void hk_vm_kill(hk_vm_t *vm, hk_fail_kind_t kind, int64_t a, int64_t b) {
  hk_vm_fail_kind(vm, kind, a, b);
  vm->state = HK_VS_FAILED;
}

/* ---- Small accessors -------------------------------------------------------- */

const hk_host_t *hk_vm_host(const hk_vm_t *vm) { return vm->host; }
const hk_image_t *hk_vm_image(const hk_vm_t *vm) { return vm->img; }
void hk_vm_charge_add(hk_vm_t *vm, uint64_t work) {
  uint64_t c = (uint64_t)vm->charge + work / 64; /* charge >= 0: only ever added to */
  vm->charge = c < HK_CHARGE_MAX ? (int32_t)c : HK_CHARGE_MAX;
}
const char *hk_vm_ctor_name(const hk_vm_t *vm, uint32_t ctor) {
  return ctor < vm->img->nctors ? vm->img->ctors[ctor].name : "?";
}
/* Both kept in req.arg (vm_int.h). */
hk_value_t hk_vm_result(const hk_vm_t *vm) { return vm->h.arg; }
int hk_vm_exit_code(const hk_vm_t *vm) {
  return vm->state == HK_VS_EXIT ? (int)hk_as_int(vm->h.arg) : 0;
}

int hk_vm_write(hk_vm_t *vm, int stream, const char *data, size_t len) {
  if (vm->host && vm->host->write) return vm->host->write(vm->host->ud, stream, data, len);
  FILE *f = stream == 2 ? stderr : stdout;
  if (len && fwrite(data, 1, len, f) != len) return -EIO;
  return 0;
}

uint64_t hk_vm_fuel_left(const hk_vm_t *vm) { return hk_vm_fuel(vm); }

uint64_t hk_vm_gc_runs(const hk_vm_t *vm) { return vm->x ? vm->x->gc_runs : 0; }

void hk_vm_get_stats(const hk_vm_t *vm, hk_vm_stats_t *out) {
  out->gc_runs = hk_vm_gc_runs(vm);
  out->live_objects = hk_heap_objects(vm);
  uint64_t bytes = 0; /* the instance keeps no count: a statistic, not a hot path */
  for (const hk_chunk_t *c = vm->heap.chunks; c; c = c->next) bytes += c->size;
  out->heap_bytes = bytes;
  out->reductions = vm->h.reductions;
}

/* ---- Segments and frames ------------------------------------------------------ */

static hk_seg_t *seg_new(hk_vm_t *vm, uint32_t kind) {
  hk_hseg_t *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  hk_seg_t *s = &h->s;
  s->cap = SEG_VALS; /* the sizes hk_seg_free gives back */
  s->fcap = 4;
  s->vals = hk_bcache_alloc(SEG_VALS * sizeof *s->vals);
  s->frames = hk_bcache_alloc(4 * sizeof *s->frames);
  if (!s->vals || !s->frames) {
    hk_seg_free(NULL, s);
    return NULL;
  }
  s->kind = kind;
  vm->slots += SEG_VALS;
  return s;
}

/* The depth limit in frames: the configured one is in vm->x (only when not
** the default, which most instances have). */
static uint32_t max_depth(const hk_vm_t *vm) {
  return vm->x && vm->x->max_depth ? vm->x->max_depth : DEFAULT_MAX_DEPTH;
}

/* The stack limit in slots: SLOTS_PER_FRAME per frame of the depth limit. */
static uint64_t max_slots(const hk_vm_t *vm) {
  uint64_t n = (uint64_t)max_depth(vm) * SLOTS_PER_FRAME;
  if (n > (uint64_t)1 << 31) n = (uint64_t)1 << 31; /* 32 GiB of stack: vm->slots fits */
  return n < MIN_SLOTS ? MIN_SLOTS : n;
}

/* Grows array [old] of [n] elements of [size] bytes to [nc]. A segment's
** arrays come from the block cache (vm/bcache.h; above HK_BCACHE_MAX from
** malloc through it) and go back to it with their capacity's size: a
** process whose stack outgrows its placed slots (a skynet node) paid ~140
** instructions in malloc and ~130 in free per array (bench/README.md,
** "Spawn path 7"). An array placed after the instance (flag [bit] in
** s->inl) is only left behind. Returns the new array or NULL (the old one
** stays). */
static void *grow(hk_seg_t *s, void *old, size_t n, size_t nc, size_t size, uint16_t bit) {
  void *a = hk_bcache_alloc(nc * size);
  if (!a) return NULL;
  if (n) memcpy(a, old, n * size);
  if (s->inl & bit) s->inl &= (uint16_t)~bit;
  else hk_bcache_free(old, n * size);
  return a;
}

/* ensure_vals when [s] must grow. Out of line: inlined into ensure_vals,
** gcc saved six registers before the capacity test, 19 instructions for
** the common "there is room" (twice per spawned child: bench/README.md,
** "Spawn path 6, stop 15"). */
static __attribute__((noinline)) int grow_vals(hk_vm_t *vm, hk_seg_t *s, size_t need) {
  size_t nc = s->cap ? (size_t)s->cap * 2 : FIRST_VALS;
  while (nc < need) nc *= 2;
  if ((uint64_t)vm->slots - s->cap + need > max_slots(vm)) return -E2BIG;
  if (nc > UINT32_MAX) return -ENOMEM;
  hk_value_t *n = grow(s, s->vals, s->cap, nc, sizeof *n, HK_SEG_INL_VALS);
  if (!n) return -ENOMEM;
  vm->slots += nc - s->cap;
  vm->charge += (int32_t)((nc - s->cap) >> 6); /* nc <= 2^32: < 2^26 */
  s->vals = n;
  s->cap = (uint32_t)nc;
  return 0;
}

/* Makes room for [need] values in [s]. The growth counts against the stack
** limit and is charged (SPEC 6.10: one reduction per 64 slots), like the
** set-up of locals. Returns 0, -E2BIG (stack overflow) or -ENOMEM. */
static inline int ensure_vals(hk_vm_t *vm, hk_seg_t *s, size_t need) {
  return need <= s->cap ? 0 : grow_vals(vm, s, need);
}

/* Fails [vm] for a failed ensure_vals ([rc] < 0). Returns HK_EFAIL. */
static int grow_fail(hk_vm_t *vm, int rc) {
  return hk_vm_fail(vm, rc == -E2BIG ? "stack overflow" : "out of memory");
}

/* ensure_frames past its test, out of line: the test is all a frame push
** usually pays (a call of the whole function cost ~17 instructions). */
static __attribute__((noinline)) int grow_frames(hk_seg_t *s) {
  size_t nc = s->fcap ? (size_t)s->fcap * 2 : FIRST_FRAMES;
  if (nc > UINT32_MAX) return -ENOMEM;
  hk_frame_t *n = grow(s, s->frames, s->fcap, nc, sizeof *n, HK_SEG_INL_FRAMES);
  if (!n) return -ENOMEM;
  s->frames = n;
  s->fcap = (uint32_t)nc;
  return 0;
}

static inline int ensure_frames(hk_seg_t *s) {
  return s->nframes < s->fcap ? 0 : grow_frames(s);
}

/* Where a frame of [f] given [nargs] values starts: past the UNTUPLE of
** a function of one tuple parameter that receives the components. */
static uint32_t entry_pc(const hk_func_t *f, uint32_t nargs) { return nargs != f->arity; }

/* Pushes a frame of function [fi] on segment [s] whose [nargs] arguments
** are already at vals[base..) (its arity, or the components of its tuple
** parameter), with frame word [fc] (hk_fc). Returns 0 or HK_EFAIL (failure
** recorded). Inline only in hk_vm_start_call, which runs at every spawn:
** the call's prologue and epilogue and ensure_frames' call cost a spawned
** child ~31 instructions (callgrind). Every other site calls
** push_frame_fc. */
static inline __attribute__((always_inline)) int push_frame_inline(hk_vm_t *vm, hk_seg_t *s,
                                                                   uint32_t fi, uint32_t nargs,
                                                                   uint32_t base, uintptr_t fc) {
  const hk_func_t *f = &vm->img->funcs[fi];
  if (UNLIKELY(--vm->depth_left < 0)) {
    vm->depth_left++;
    return hk_vm_fail(vm, "stack overflow");
  }
  if (ensure_frames(s)) {
    vm->depth_left++;
    return hk_vm_fail(vm, "out of memory");
  }
  int rc = ensure_vals(vm, s, (size_t)base + f->nlocals + f->maxstack);
  if (rc) {
    vm->depth_left++;
    return grow_fail(vm, rc);
  }
  vm->charge += f->nlocals >> 6;
  hk_frame_t *fr = &s->frames[s->nframes++];
  fr->pc = entry_pc(f, nargs);
  fr->base = base;
  fr->fc = fc;
  for (uint32_t i = nargs; i < f->nlocals; i++) s->vals[base + i] = hk_unit();
  s->sp = base + f->nlocals;
  return 0;
}

/* Not inline: gcc then inlined this copy into hk_vm_run's calls, whose
** register allocation cost bench/vm fib +0.5 %, tak +0.4 % (callgrind). */
static __attribute__((noinline)) int push_frame_fc(hk_vm_t *vm, hk_seg_t *s, uint32_t fi,
                                                   uint32_t nargs, uint32_t base, uintptr_t fc) {
  return push_frame_inline(vm, s, fi, nargs, base, fc);
}

static int push_frame_n(hk_vm_t *vm, hk_seg_t *s, uint32_t fi, uint32_t nargs, uint32_t base,
                        uint32_t ret, hk_obj_t *clos) {
  return push_frame_fc(vm, s, fi, nargs, base, hk_fc(fi, clos, base, ret));
}

static int push_frame(hk_vm_t *vm, hk_seg_t *s, uint32_t fi, uint32_t base, uint32_t ret,
                      hk_obj_t *clos) {
  return push_frame_n(vm, s, fi, vm->img->funcs[fi].arity, base, ret, clos);
}

/* Re-targets the top frame of [s] (a tail call): the [nargs] arguments are
** already at vals[base..) (as push_frame_n); [fc] is the new frame word
** without HK_FC_AT_BASE (the result's slot stays). Returns 0 or HK_EFAIL. */
static int reuse_frame_fc(hk_vm_t *vm, hk_seg_t *s, uint32_t fi, uint32_t nargs, uintptr_t fc) {
  const hk_func_t *f = &vm->img->funcs[fi];
  hk_frame_t *fr = &s->frames[s->nframes - 1];
  int rc = ensure_vals(vm, s, (size_t)fr->base + f->nlocals + f->maxstack);
  if (rc) return grow_fail(vm, rc);
  fr = &s->frames[s->nframes - 1];
  vm->charge += f->nlocals >> 6;
  fr->pc = entry_pc(f, nargs);
  fr->fc = fc | (fr->fc & HK_FC_AT_BASE);
  for (uint32_t i = nargs; i < f->nlocals; i++) s->vals[fr->base + i] = hk_unit();
  s->sp = fr->base + f->nlocals;
  return 0;
}

static int reuse_frame(hk_vm_t *vm, hk_seg_t *s, uint32_t fi, hk_obj_t *clos) {
  return reuse_frame_fc(vm, s, fi, vm->img->funcs[fi].arity, hk_fc(fi, clos, 0, 1));
}

/* Fails [vm] for being over its heap limit (SPEC 6.11.3). */
static int heap_limit_fail(hk_vm_t *vm) {
  return hk_vm_fail_kind(vm, HK_FAIL_HEAP_LIMIT, (int64_t)hk_heap_objects(vm), hk_heap_limit(vm));
}

static int safepoint(hk_vm_t *vm, uint64_t need) {
  if (hk_heap_collect(vm)) return hk_vm_fail(vm, "out of memory");
  hk_heap_t *h = &vm->heap;
  if (h->objects_left < 0 || need > (uint64_t)h->objects_left) return heap_limit_fail(vm);
  return 0;
}

static int maybe_gc(hk_vm_t *vm, uint64_t need) {
  if (LIKELY(!hk_heap_wants_gc(&vm->heap))) return 0;
  return safepoint(vm, need);
}

/* CONCATN k: the chain v1 ^ v2 ^ .. ^ vk of the k values on top of the
** stack in one allocation of the summed length instead of k - 2 ever longer
** temporaries (bench/README.md, "Users' programs, stop 18"); the result
** replaces them. The kinds are checked first to last. The charge (in
** vm->charge, beyond the dispatch's reduction) is the chain's (SPEC
** 6.10.1): k - 2 more reductions and, per `^` it stands for, that `^`'s
** result length / 64, so fuel is what the binary chain used. Out of line
** (a second allocation site in hk_vm_run made LTO stop inlining CONCAT's:
** +29 instructions per `^` in bench/vm strings). Returns 0 or HK_EFAIL. */
__attribute__((noinline)) static int concat_n(hk_vm_t *vm, uint32_t k) {
  if (maybe_gc(vm, 1)) return HK_EFAIL;
  hk_seg_t *s = vm->seg;
  hk_value_t *v = s->vals + s->sp - k;
  size_t total = 0;
  int64_t c = (int64_t)k - 2;
  for (uint32_t i = 0; i < k; i++) {
    if (UNLIKELY(v[i].tag != HK_T_STRING)) return hk_vm_fail(vm, "expected String, got %s", hk_kind_name(v[i]));
    total += hk_str_len(v[i]);
    if (i) c += (int64_t)(total / 64);
  }
  hk_value_t r;
  char *d;
  if (hk_alloc_string_raw(vm, total, &r, &d)) return HK_EFAIL;
  for (uint32_t i = 0; i < k; i++) {
    size_t l = hk_str_len(v[i]);
    memcpy(d, hk_str_data(v[i]), l);
    d += l;
  }
  v[0] = r;
  s->sp -= k - 1;
  vm->charge += c;
  return 0;
}

/* Delivers [v] as the result awaited by the current segment's top frame
** (pushed on its stack), or, when the segment has no frame left, as the
** value of the whole segment: it is popped and the value goes to its parent,
** through the handler's return clause for an active handler segment.
** Returns ST_CONTINUE, or ST_STOP (done or failed). */
static int deliver(hk_vm_t *vm, hk_value_t v) {
  for (;;) {
    hk_seg_t *s = vm->seg;
    if (s->nframes > 0) {
      s->vals[s->sp++] = v; /* the frame reserved room for its result */
      return ST_CONTINUE;
    }
    if (s->kind == HK_SEG_ROOT) {
      vm->h.arg = v; /* the result (no request is pending) */
      vm->state = HK_VS_DONE;
      return ST_STOP;
    }
    hk_seg_t *p = hk_hseg(s)->parent; /* not the root */
    uint32_t kind = s->kind;
    hk_value_t hret = hk_hseg(s)->hret;
    vm->seg = p;
    hk_seg_free(vm, s);
    if (kind != HK_SEG_HANDLER) continue;
    if (hret.tag != HK_T_CLOSURE || vm->img->funcs[((hk_closure_t *)hret.as.o)->fn].arity != 1) {
      hk_vm_fail(vm, "expected Function, got %s", hk_kind_name(hret));
      return ST_STOP;
    }
    uint32_t ret = p->sp;
    int rc = ensure_vals(vm, p, (size_t)ret + 2);
    if (rc) {
      grow_fail(vm, rc);
      return ST_STOP;
    }
    p->vals[ret] = hret;
    p->vals[ret + 1] = v;
    p->sp = ret + 2;
    if (push_frame(vm, p, ((hk_closure_t *)hret.as.o)->fn, ret + 1, ret, hret.as.o)) return ST_STOP;
    return ST_CONTINUE;
  }
}

/* Pops the top frame of the current segment and delivers [v] to its caller. */
static int return_value(hk_vm_t *vm, hk_value_t v) {
  hk_seg_t *s = vm->seg;
  hk_frame_t *fr = &s->frames[--s->nframes];
  vm->depth_left++;
  s->sp = s->nframes ? hk_frame_ret(fr) : 0;
  return deliver(vm, v);
}

/* Discards the top frame of the current segment (tail position). */
static void discard_frame(hk_vm_t *vm) {
  hk_seg_t *s = vm->seg;
  hk_frame_t *fr = &s->frames[--s->nframes];
  vm->depth_left++;
  s->sp = s->nframes ? hk_frame_ret(fr) : 0;
}

/* ---- Effects ------------------------------------------------------------------ */

static int do_handle(hk_vm_t *vm, uint32_t h, bool tail) {
  hk_seg_t *cur = vm->seg;
  const hk_handler_info_t *hi = &vm->img->handlers[h];
  uint32_t n = hi->n;
  hk_value_t *args = &cur->vals[cur->sp - n - 2];
  hk_value_t body = args[0];
  if (body.tag != HK_T_CLOSURE || vm->img->funcs[((hk_closure_t *)body.as.o)->fn].arity != 1) {
    hk_vm_fail(vm, "expected Function, got %s", hk_kind_name(body));
    return ST_STOP;
  }
  hk_seg_t *s = seg_new(vm, HK_SEG_HANDLER);
  hk_hseg_t *hs = s ? hk_hseg(s) : NULL;
  if (!s || (n && !(hs->hclauses = malloc(n * sizeof(hk_value_t))))) {
    hk_seg_free(vm, s);
    hk_vm_fail(vm, "out of memory");
    return ST_STOP;
  }
  hs->parent = cur;
  s->nh = cur->nh + 1;
  hs->handler = h;
  hs->hret = args[1];
  hs->nclauses = n;
  for (uint32_t i = 0; i < n; i++) hs->hclauses[i] = args[2 + i];
  cur->sp -= n + 2;
  if (tail) discard_frame(vm); /* SPEC §4.3.1: a handle in tail position keeps no frame */
  s->vals[0] = body;
  s->vals[1] = hk_unit();
  s->sp = 2;
  vm->seg = s;
  if (push_frame(vm, s, ((hk_closure_t *)body.as.o)->fn, 1, 0, body.as.o)) return ST_STOP;
  return ST_CONTINUE;
}

/* The payload is on top of the current segment's stack. */
static int do_perform(hk_vm_t *vm, uint32_t e) {
  hk_seg_t *top = vm->seg, *hs = NULL;
  uint32_t clause = 0;
  for (hk_seg_t *s = top; s && !hs; s = hk_seg_parent(s)) {
    if (s->kind != HK_SEG_HANDLER) continue;
    const hk_handler_info_t *hi = &vm->img->handlers[hk_hseg(s)->handler];
    for (uint32_t i = 0; i < hi->n; i++)
      if (hi->effects[i] == e) {
        hs = s;
        clause = i;
        break;
      }
  }
  if (!hs) {
    hk_vm_fail(vm, "unhandled effect %s", e < vm->img->neffects ? vm->img->effects[e] : "?");
    return ST_STOP;
  }
  if (maybe_gc(vm, 1)) return ST_STOP;
  hk_cont_t *k = hk_vm_x(vm) ? (hk_cont_t *)hk_heap_alloc(vm, sizeof(hk_cont_t), HK_T_CONT) : NULL;
  if (!k) { /* vm->x keeps the list of live continuations */
    hk_vm_fail(vm, "out of memory");
    return ST_STOP;
  }
  hk_value_t payload = top->vals[--top->sp];
  uint32_t nframes = 0;
  for (hk_seg_t *s = top;; s = hk_hseg(s)->parent) { /* down to hs: never the root */
    nframes += s->nframes;
    if (s == hs) break;
  }
  k->top = top;
  k->bottom = hs;
  k->nframes = nframes;
  hk_seg_t *p = hk_hseg(hs)->parent;
  k->c0 = p->nh;
  k->next = vm->x->conts;
  vm->x->conts = k;
  vm->depth_left += (int32_t)nframes; /* nframes <= the depth limit <= INT32_MAX */
  hk_value_t c = hk_hseg(hs)->hclauses[clause];
  vm->seg = p;
  if (c.tag != HK_T_CLOSURE || vm->img->funcs[((hk_closure_t *)c.as.o)->fn].arity != 2) {
    hk_vm_fail(vm, "expected Function, got %s", hk_kind_name(c));
    return ST_STOP;
  }
  uint32_t ret = p->sp;
  int rc = ensure_vals(vm, p, (size_t)ret + 3);
  if (rc) {
    grow_fail(vm, rc);
    return ST_STOP;
  }
  p->vals[ret] = c;
  p->vals[ret + 1] = payload;
  p->vals[ret + 2] = hk_obj_value(&k->h);
  p->sp = ret + 3;
  if (push_frame(vm, p, ((hk_closure_t *)c.as.o)->fn, ret + 1, ret, c.as.o)) return ST_STOP;
  return ST_CONTINUE;
}

/* Reinstates continuation [kv] with value [w] on top of the current segment
** (whose top frame, if any, awaits the result). */
static int do_resume(hk_vm_t *vm, hk_value_t kv, hk_value_t w) {
  if (kv.tag != HK_T_CONT) {
    hk_vm_fail(vm, "resume: expected continuation");
    return ST_STOP;
  }
  hk_cont_t *k = (hk_cont_t *)kv.as.o;
  if ((k->h.flags & HK_OBJ_RESUMED) || !k->top) {
    hk_vm_fail(vm, "continuation already resumed");
    return ST_STOP;
  }
  k->h.flags |= HK_OBJ_RESUMED;
  hk_seg_t *cur = vm->seg, *top = k->top, *bottom = k->bottom;
  k->top = k->bottom = NULL;
  if (cur->nh > k->c0) {
    /* A handler installed by the clause is active: H is dropped (shallow). */
    bottom->kind = HK_SEG_PLAIN;
    if (bottom->nframes == 0 && bottom != top) {
      hk_seg_t *child = top;
      while (hk_hseg(child)->parent != bottom) child = hk_hseg(child)->parent;
      hk_seg_free(vm, bottom);
      bottom = child;
    }
  }
  hk_hseg(bottom)->parent = cur; /* a continuation's segments are never the root */
  uint32_t handlers = 0;
  for (hk_seg_t *s = top;; s = hk_hseg(s)->parent) {
    if (s->kind == HK_SEG_HANDLER) handlers++;
    if (s == bottom) break;
  }
  for (hk_seg_t *s = top;; s = hk_hseg(s)->parent) {
    s->nh = cur->nh + handlers;
    if (s->kind == HK_SEG_HANDLER) handlers--;
    if (s == bottom) break;
  }
  vm->depth_left -= (int32_t)k->nframes; /* >= -INT32_MAX: nframes <= the depth limit */
  vm->seg = top;
  if (vm->depth_left < 0) {
    hk_vm_fail(vm, "stack overflow");
    return ST_STOP;
  }
  top->vals[top->sp++] = w; /* PERFORM reserved this slot */
  return ST_CONTINUE;
}

/* ---- Generic application ----------------------------------------------------- */

static int make_request(hk_vm_t *vm, uint32_t id, hk_value_t arg) {
  vm->h.builtin = id;
  vm->h.arg = arg;
  vm->req_pending = true;
  vm->state = HK_VS_REQUEST;
  return ST_STOP;
}

/* Offers the request just made to the host's fast path (host.h): served
** there, the slice goes on unless the completion ended or failed the VM. */
static int serve_now(hk_vm_t *vm) {
  const hk_host_t *h = vm->host;
  if (!h || !h->serve_now || !h->serve_now(h->ud, vm)) return ST_STOP;
  return vm->state == HK_VS_READY ? ST_CONTINUE : ST_STOP;
}

static int call_builtin(hk_vm_t *vm, uint32_t id, hk_value_t arg, hk_value_t *out) {
  const char *name = id < HK_B__COUNT ? hk_builtin_table[id].name : "native";
  hk_builtin_fn fn = id < HK_B__COUNT ? hk_builtin_fns[id] : NULL;
  if (!fn) return hk_vm_fail(vm, "%s: not available in this build", name);
  int rc = fn(vm, arg, out);
  if (rc == HK_EEXIT) return rc;
  if (rc < 0) {
    if (!vm->failed) hk_vm_fail(vm, "%s: %s", name, strerror(rc > -4096 ? -rc : EINVAL));
    return HK_EFAIL;
  }
  return 0;
}

static bool is_request_builtin(uint32_t id) {
  return id >= HK_B__COUNT || hk_builtin_table[id].cls != HK_BC_SYNC;
}

/* A value [v] that the host's receive_now (host.h) returned ([got] 2: an
** adopted block) for CALLB receive_message: pushed here, without a request
** or hk_vm_complete; the heap limit's case (SPEC §6.11.3: collect, or fail)
** goes through the request's completion. Out of line: hk_vm_run keeps its
** registers. Returns ST_CONTINUE or ST_STOP. */
static __attribute__((noinline)) int received(hk_vm_t *vm, hk_value_t v, int got, uint32_t id,
                                              hk_value_t arg) {
  const hk_heap_t *hp = &vm->heap;
  if (UNLIKELY(hp->objects_left < 0)) {
    make_request(vm, id, arg);
    hk_vm_complete(vm, v);
  } else {
    hk_seg_t *s = vm->seg;
    s->vals[s->sp++] = v;
  }
  /* A receive loop may allocate nothing else: without this safe point its
  ** heap would never reach a collection and keep every block it adopted. */
  if (got == 2 && UNLIKELY(hk_heap_wants_gc(&vm->heap))) hk_vm_safepoint(vm); /* no call below */
  return vm->state == HK_VS_READY ? ST_CONTINUE : ST_STOP;
}

/* The argument of CALLBT: a tuple object on the C stack holding copies of
** the components, which stay on the VM stack (rooted) until it is gone. It
** is STATIC (never moved nor counted) and lives only during the builtin's
** call or the host's serve_now: neither collects nor keeps the argument
** itself (the builtins of builtins.def return or store its components, never
** the tuple), so no program value can reach it. */
typedef struct argtuple {
  hk_obj_t h;
  hk_value_t items[HK_CALLBT_MAX];
} argtuple_t;
static_assert(offsetof(argtuple_t, items) == offsetof(hk_tuple_t, items), "argtuple_t is a tuple");

/* CALLBT: builtin [id] applied to the tuple of the [n] values on top of the
** current segment, whose top frame has its pc saved after the call. A
** synchronous builtin, or a request the host serves at once (send_message),
** sees the components as an argtuple_t: no heap tuple (SPEC 6.11.2 counts
** only what is allocated, so nothing observable changes). A request left
** pending outlives this call, so it gets a heap tuple as through CALLB.
** Returns ST_CONTINUE (the result pushed in place of the components) or
** ST_STOP. */
static inline __attribute__((always_inline)) int tuple_call(hk_vm_t *vm, uint32_t id, uint32_t n, bool offer) {
  hk_seg_t *s = vm->seg;
  const hk_host_t *h = vm->host;
  if (offer && id == HK_B_send_message && n == 2 && h && h->send_now) {
    /* The send's own entry: no request set up, no completion; its Unit is
    ** pushed here. The components stay rooted on the stack meanwhile. */
    const hk_value_t *c = s->vals + s->sp - 2;
    if (h->send_now(h->ud, vm, c[0], c[1])) {
      if (vm->state != HK_VS_READY) return ST_STOP; /* it failed the sender */
      s->vals[--s->sp - 1] = hk_unit();
      return ST_CONTINUE;
    }
  }
  argtuple_t t;
  t.h = (hk_obj_t){.tag = HK_T_TUPLE, .n = n};
  const hk_value_t *c = s->vals + s->sp - n;
  for (uint32_t i = 0; i < n; i++) t.items[i] = c[i]; /* n is 2..8: no call to memcpy */
  hk_value_t a = hk_obj_value(&t.h), r;
  if (!is_request_builtin(id)) {
    if (call_builtin(vm, id, a, &r)) return ST_STOP;
    s->sp -= n - 1;
    s->vals[s->sp - 1] = r;
    return ST_CONTINUE;
  }
  if (h && h->serve_now) {
    s->sp -= n;
    make_request(vm, id, a);
    bool served = h->serve_now(h->ud, vm);
    if (vm->h.arg.tag == HK_T_TUPLE && vm->h.arg.as.o == &t.h) vm->h.arg = hk_unit();
    if (served) return vm->state == HK_VS_READY ? ST_CONTINUE : ST_STOP;
    s->sp += n; /* declined, nothing changed: undo and go out of the slice */
    vm->req_pending = false;
    vm->state = HK_VS_READY;
  }
  if (maybe_gc(vm, 1)) return ST_STOP;
  s = vm->seg;
  if (hk_alloc_tuple(vm, n, s->vals + s->sp - n, &a)) return ST_STOP;
  s->sp -= n;
  return make_request(vm, id, a);
}
static inline __attribute__((always_inline)) int call_tuple(hk_vm_t *vm, uint32_t id, uint32_t n) {
  return tuple_call(vm, id, n, true);
}

/* SENDT: send_message (p, (v1, .., vn)) with the pid and the n components
** on top of the current segment, whose top frame has its pc saved after the
** instruction. The host's send_now (host.h) gets the message as a tuple on
** the C stack (unless send_tuple_now, tried first by the handler, writes the
** message from the components): it only copies the message (vm/heap.c reads the source and
** never writes it, never keeps it, and does not collect), so no heap tuple
** is made; it is not flagged STATIC, or the copy would share it by
** reference. Declined, the tuple goes to the heap and the send is CALLBT's
** (send_heap_tuple, out of line: call_tuple stays inline in hk_vm_run's
** CALLBT, whose every send it is). Returns ST_CONTINUE (Unit pushed in place of the pid and the components)
** or ST_STOP. */
static __attribute__((noinline)) int send_heap_tuple(hk_vm_t *vm, uint32_t id, uint32_t n) {
  if (maybe_gc(vm, 1)) return ST_STOP;
  hk_seg_t *s = vm->seg;
  hk_value_t a;
  if (hk_alloc_tuple(vm, n, s->vals + s->sp - n, &a)) return ST_STOP;
  s->sp -= n - 1;
  s->vals[s->sp - 1] = a;
  return call_tuple(vm, id, 2);
}

/* SEND's send that send_now declined (or no send_now): CALLBT's after its
** offer to send_now, out of line. */
static __attribute__((noinline)) int send_pair(hk_vm_t *vm, uint32_t id) { return tuple_call(vm, id, 2, false); }

/* SENDT's send that send_tuple_now declined (or no send_tuple_now; the
** usual send, the host writing the message from the components with no
** tuple anywhere, is tried in the handler): send_now with the tuple on the
** C stack, else a heap tuple. Out of line. */
static __attribute__((noinline)) int send_tuple(hk_vm_t *vm, uint32_t id, uint32_t n) {
  hk_seg_t *s = vm->seg;
  const hk_host_t *h = vm->host;
  const hk_value_t *c = s->vals + s->sp - n;
  bool done = false;
  if (h && h->send_now) {
    argtuple_t t;
    t.h = (hk_obj_t){.tag = HK_T_TUPLE, .n = n};
    for (uint32_t i = 0; i < n; i++) t.items[i] = c[i]; /* n is 2..8: no call to memcpy */
    done = h->send_now(h->ud, vm, c[-1], hk_obj_value(&t.h));
  }
  if (!done) return send_heap_tuple(vm, id, n);
  if (vm->state != HK_VS_READY) return ST_STOP; /* it failed the sender */
  s->sp -= n;
  s->vals[s->sp - 1] = hk_unit();
  return ST_CONTINUE;
}

/* Applies f = vals[sp-2] to a = vals[sp-1] of the current segment, whose top
** frame (if any) has its pc saved after the call. With [tail], the top frame
** is replaced. Returns ST_CONTINUE or ST_STOP. */
static int apply(hk_vm_t *vm, bool tail) {
  hk_seg_t *s = vm->seg;
  hk_value_t f = s->vals[s->sp - 2], a = s->vals[s->sp - 1];
  hk_value_t result;
  switch (f.tag) {
  case HK_T_CLOSURE: {
    hk_closure_t *cl = (hk_closure_t *)f.as.o;
    const hk_func_t *fn = &vm->img->funcs[cl->fn];
    if (fn->arity == 1) {
      if (tail) {
        s->vals[s->frames[s->nframes - 1].base] = a;
        return reuse_frame(vm, s, cl->fn, &cl->h) ? ST_STOP : ST_CONTINUE;
      }
      return push_frame(vm, s, cl->fn, s->sp - 1, s->sp - 2, &cl->h) ? ST_STOP : ST_CONTINUE;
    }
    if (maybe_gc(vm, 1)) return ST_STOP;
    f = s->vals[s->sp - 2];
    a = s->vals[s->sp - 1];
    hk_pap_t *p = (hk_pap_t *)hk_heap_alloc(vm, sizeof(hk_pap_t) + sizeof(hk_value_t), HK_T_PAP);
    if (!p) return hk_vm_fail(vm, "out of memory"), ST_STOP;
    p->h.n = 1;
    p->fn = f;
    p->args[0] = a;
    result = hk_obj_value(&p->h);
    break;
  }
  case HK_T_PAP: {
    hk_pap_t *p = (hk_pap_t *)f.as.o;
    hk_closure_t *cl = (hk_closure_t *)p->fn.as.o;
    const hk_func_t *fn = &vm->img->funcs[cl->fn];
    uint32_t n = p->h.n;
    if (n + 1 == fn->arity) {
      uint32_t base = tail ? s->frames[s->nframes - 1].base : s->sp - 2;
      int rc = ensure_vals(vm, s, (size_t)base + n + 1);
      if (rc) return grow_fail(vm, rc), ST_STOP;
      for (uint32_t i = 0; i < n; i++) s->vals[base + i] = p->args[i];
      s->vals[base + n] = a;
      if (tail) return reuse_frame(vm, s, cl->fn, &cl->h) ? ST_STOP : ST_CONTINUE;
      return push_frame(vm, s, cl->fn, base, base, &cl->h) ? ST_STOP : ST_CONTINUE;
    }
    if (maybe_gc(vm, 1)) return ST_STOP;
    p = (hk_pap_t *)s->vals[s->sp - 2].as.o;
    a = s->vals[s->sp - 1];
    hk_pap_t *q = (hk_pap_t *)hk_heap_alloc(vm, sizeof(hk_pap_t) + (n + 1) * sizeof(hk_value_t),
                                            HK_T_PAP);
    if (!q) return hk_vm_fail(vm, "out of memory"), ST_STOP;
    q->h.n = n + 1;
    q->fn = p->fn;
    for (uint32_t i = 0; i < n; i++) q->args[i] = p->args[i];
    q->args[n] = a;
    result = hk_obj_value(&q->h);
    break;
  }
  case HK_T_BUILTIN: {
    uint32_t id = (uint32_t)f.as.u;
    if (is_request_builtin(id)) {
      s->sp -= 2;
      if (tail) discard_frame(vm);
      make_request(vm, id, a);
      return serve_now(vm);
    }
    int rc = call_builtin(vm, id, a, &result);
    if (rc == HK_EEXIT) return ST_STOP;
    if (rc) return ST_STOP;
    break;
  }
  case HK_T_CTORFN: {
    if (maybe_gc(vm, 1)) return ST_STOP;
    a = s->vals[s->sp - 1];
    if (hk_alloc_data(vm, (uint32_t)f.as.u, a, &result)) return ST_STOP;
    break;
  }
  case HK_T_CONT:
    s->sp -= 2;
    if (tail) discard_frame(vm);
    return do_resume(vm, f, a);
  default:
    hk_vm_fail(vm, "expected Function, got %s", hk_kind_name(f));
    return ST_STOP;
  }
  if (tail) {
    s->sp -= 2;
    return return_value(vm, result);
  }
  s->sp -= 2;
  if (deliver(vm, result) == ST_STOP) return ST_STOP;
  if (hk_heap_wants_gc(&vm->heap) && safepoint(vm, 0)) return ST_STOP;
  return ST_CONTINUE;
}

/* CALLT n / TCALLT n: f (x1, .., xn) of an unknown f = vals[sp-n-1], the
** components on top. A closure whose function takes one tuple pattern of n
** components (compile.c, tuple_param: it starts with UNTUPLE n) gets them
** as its locals 0..n-1 and is entered after the UNTUPLE, as a direct call
** with a tuple expression is (CALLG): foldl's f (acc, x), a sort's
** le (x, y). Anything else gets the tuple, built now, through apply. Out of
** line (as apply is): entering through the handlers' shared enter: cost
** bench/vm list +0.8 % (another way into that join changed gcc's register
** choices in CALL, RET and TCALLN). Returns ST_CONTINUE or ST_STOP. */
static int call_tupled(hk_vm_t *vm, uint32_t n, bool tail) {
  hk_seg_t *s = vm->seg;
  hk_value_t *v = s->vals + s->sp - n, f = v[-1];
  if (f.tag == HK_T_CLOSURE) {
    hk_closure_t *cl = (hk_closure_t *)f.as.o;
    const hk_func_t *fn = &vm->img->funcs[cl->fn];
    if (fn->arity == 1 && fn->code[0] == hk_ins(HK_I_UNTUPLE, n)) {
      if (!tail) return push_frame_n(vm, s, cl->fn, n, s->sp - n, s->sp - n - 1, &cl->h) ? ST_STOP : ST_CONTINUE;
      memmove(s->vals + s->frames[s->nframes - 1].base, v, n * sizeof *v);
      return reuse_frame_fc(vm, s, cl->fn, n, hk_fc(cl->fn, &cl->h, 0, 1)) ? ST_STOP : ST_CONTINUE;
    }
  }
  hk_value_t r;
  if (maybe_gc(vm, 1) || hk_alloc_tuple(vm, n, v, &r)) return ST_STOP;
  v[0] = r;
  s->sp -= n - 1;
  return apply(vm, tail);
}

/* ---- Creating ------------------------------------------------------------------ */

/* Stores every member of [vm] once, with no memset first: a new member
** must be initialised here (HK_DEBUG_CHECKS builds fill the instance with
** garbage first, so that a forgotten one shows in the tests). A memset of
** the instance (then 160 bytes) was gcc's `rep stosq`, 29 instructions of
** every spawn, before most members were stored over it. All but vm->root,
** the bottom segment, which the caller stores after this (hk_vm_place lays
** out its arrays, with [slots] slots): a segment built apart and passed in
** went through two copies on the stack (~15 instructions of every spawn).
** Returns 0 or -ENOMEM (a limited instance's vm->x). */
static int vm_init(hk_vm_t *vm, const hk_image_t *img, const hk_host_t *host,
                   const hk_vm_config_t *cfg, uint32_t slots) {
#ifdef HK_DEBUG_CHECKS
  memset(vm, 0xa5, sizeof *vm);
#endif
  uint64_t mh = cfg ? cfg->max_heap : 0;
  if (mh >= (uint64_t)HK_HEAP_UNLIMITED) mh = 0; /* no program reaches it */
  uint32_t md = cfg && cfg->max_stack_depth ? cfg->max_stack_depth : DEFAULT_MAX_DEPTH;
  if (md > INT32_MAX) md = INT32_MAX; /* depth_left minus a continuation's frames fits */
  vm->h = (hk_vm_head_t){.arg = hk_unit()};
  vm->img = img;
  vm->host = host;
  hk_heap_init(&vm->heap, mh);
  vm->seg = NULL;
  vm->globals = NULL;
  vm->depth_left = (int32_t)md;
  vm->slots = slots;
  vm->x = NULL;
  vm->charge = 0;
  vm->state = HK_VS_NEW;
  vm->globals_shared = vm->req_pending = vm->failed = false;
  if (md != DEFAULT_MAX_DEPTH) { /* a configured limit lives in vm->x */
    if (!hk_vm_x(vm)) return -ENOMEM;
    vm->x->max_depth = md;
  }
  if (mh) { /* a heap limit lives in vm->x */
    if (!hk_vm_x(vm)) return -ENOMEM;
    vm->x->max_objects = mh;
  }
  if (cfg && cfg->fuel_limited && cfg->fuel != UINT64_MAX) {
    if (!hk_vm_x(vm)) return -ENOMEM;
    vm->x->fuel = cfg->fuel;
  }
  return 0;
}

int hk_vm_new(hk_vm_t **out, const hk_image_t *img, const hk_host_t *host,
              const hk_vm_config_t *cfg) {
  hk_vm_t *vm = malloc(sizeof *vm);
  if (!vm) return -ENOMEM;
  if (vm_init(vm, img, host, cfg, 0)) {
    free(vm);
    return -ENOMEM;
  }
  vm->root = (hk_seg_t){0};
  *out = vm;
  return 0;
}

static size_t round16(size_t n) { return (n + 15u) & ~(size_t)15u; }

/* docs/runtime.md, "Memory of a process": every process places one. */
_Static_assert(sizeof(hk_vm_t) == 144, "a VM instance is 144 bytes");
_Static_assert(sizeof(hk_frame_t) == 16, "a frame is 16 bytes");

/* The stack slots follow the instance at once (8-byte aligned, like the
** instance's size); the heap chunk starts 16-byte aligned. */
_Static_assert(sizeof(hk_vm_t) % _Alignof(hk_value_t) == 0, "the slots follow the instance");

size_t hk_vm_place_size(uint32_t vals, uint32_t frames, size_t heap) {
  size_t n = sizeof(hk_vm_t) + (size_t)vals * sizeof(hk_value_t);
  n = round16(n + (size_t)frames * sizeof(hk_frame_t));
  return heap ? n + sizeof(hk_chunk_t) + round16(heap) : n;
}

/* Computed once per function when the image was made: the look at the
** closure's last instruction and the two frame sizes were ~20
** instructions of every spawn (callgrind). */
uint32_t hk_vm_call_slots(const hk_image_t *img, hk_value_t fn) {
  if (fn.tag != HK_T_CLOSURE) return 0;
  return img->funcs[((hk_closure_t *)fn.as.o)->fn].call_slots;
}

size_t hk_vm_closure_bytes(hk_value_t fn) {
  if (fn.tag != HK_T_CLOSURE) return 0;
  return sizeof(hk_closure_t) + (size_t)fn.as.o->n * sizeof(hk_value_t);
}

hk_vm_t *hk_vm_place(void *mem, uint32_t vals, uint32_t frames, size_t heap,
                     const hk_image_t *img, const hk_host_t *host, const hk_vm_config_t *cfg) {
  hk_vm_t *vm = mem;
  unsigned char *at = (unsigned char *)mem + sizeof *vm;
  /* The slots count against the stack limit like any. */
  if (vm_init(vm, img, host, cfg, vals)) return NULL;
  /* One store of each member, in place (vm_init). */
  vm->root = (hk_seg_t){
      .vals = vals ? (hk_value_t *)(void *)at : NULL,
      .cap = vals,
      .frames = frames ? (hk_frame_t *)(void *)(at + (size_t)vals * sizeof(hk_value_t)) : NULL,
      .fcap = frames,
      .inl = (uint16_t)(HK_SEG_INL_VM | (vals ? HK_SEG_INL_VALS : 0) |
                        (frames ? HK_SEG_INL_FRAMES : 0) | (heap ? HK_SEG_INL_HEAP : 0)),
  };
  if (heap) {
    size_t off = hk_vm_place_size(vals, frames, 0);
    hk_heap_place(&vm->heap, (unsigned char *)mem + off, sizeof(hk_chunk_t) + round16(heap));
  }
  return vm;
}

/* The root segment's arrays that grew out of the instance. Out of line: a
** process that ends in its placed stack (every spawn child) frees nothing
** here, and the inline frees cost it 6 instructions (callgrind). */
#define ROOT_INL (HK_SEG_INL_VALS | HK_SEG_INL_FRAMES)
static __attribute__((noinline)) void root_arrays_free(hk_seg_t *s) {
  if (!(s->inl & HK_SEG_INL_VALS)) hk_bcache_free(s->vals, (size_t)s->cap * sizeof *s->vals);
  if (!(s->inl & HK_SEG_INL_FRAMES)) hk_bcache_free(s->frames, (size_t)s->fcap * sizeof *s->frames);
}

#define PLACED_ALL (ROOT_INL | HK_SEG_INL_VM | HK_SEG_INL_HEAP)
void hk_vm_free(hk_vm_t *vm) {
  if (!vm) return;
  /* An instance that never grew (every spawn child that returns from its
  ** placed stack and chunk): one segment, its arrays and its only chunk
  ** placed with it, no extension (no continuation, no failure). Nothing
  ** to free but its hold on the globals: the walks below cost such a
  ** child 25 instructions (callgrind). */
  if (vm->seg == &vm->root && (vm->root.inl & PLACED_ALL) == PLACED_ALL && !vm->x &&
      !vm->heap.chunks->next) {
    vm->heap.chunks = NULL;
    hk_globals_unuse(vm);
    return;
  }
  hk_seg_t *s = vm->seg;
  while (s) {
    hk_seg_t *p = hk_seg_parent(s);
    if (s == &vm->root) {
      if ((s->inl & ROOT_INL) != ROOT_INL) root_arrays_free(s);
    } else {
      hk_seg_free(NULL, s);
    }
    s = p;
  }
  hk_conts_free(vm); /* continuations are heap objects */
  hk_heap_free(vm);
  hk_globals_unuse(vm);
  if (vm->x) {
    free(vm->x->fail.message);
    if (vm->x->fail.child) hk_msg_free(vm->x->fail.child);
    free(vm->x->strpos);
    free(vm->x);
  }
  if (!(vm->root.inl & HK_SEG_INL_VM)) free(vm);
}

/* The root segment lives in the instance; its arrays come with the first
** frame, unless hk_vm_place put them after the instance. A child's globals are the shared store's (hk_vm_use_globals, before
** this): only an instance without them gets its own slots. */
static int start(hk_vm_t *vm) {
  if (!vm->globals && vm->img->nglobals) {
    hk_rglobals_t *r = malloc(sizeof *r + vm->img->nglobals * sizeof *r->vals);
    if (!r) return -ENOMEM;
    r->gset_lo = r->gset_hi = 0;
    for (uint32_t i = 0; i < vm->img->nglobals; i++) r->vals[i] = hk_mk(HK_T_UNINIT, 0);
    vm->globals = r->vals;
  }
  vm->root.kind = HK_SEG_ROOT;
  vm->seg = &vm->root;
  return 0;
}

int hk_vm_start_main(hk_vm_t *vm) {
  if (start(vm)) return -ENOMEM;
  hk_seg_t *s = vm->seg;
  vm->state = HK_VS_READY;
  /* An entry frame beyond the stack limit is the program's failure (the
  ** first run reports it), not the caller's. */
  if (push_frame(vm, s, vm->img->entry, 0, 0, NULL) &&
      (!hk_vm_failure(vm)->message || strcmp(hk_vm_failure(vm)->message, "stack overflow") != 0))
    return -ENOMEM;
  return 0;
}

int hk_vm_start_call(hk_vm_t *vm, hk_value_t fn) {
  if (start(vm)) return -ENOMEM;
  hk_seg_t *s = vm->seg;
  int st;
  if (fn.tag == HK_T_CLOSURE && vm->img->funcs[((hk_closure_t *)fn.as.o)->fn].arity == 1) {
    /* The usual entry, a closure of one parameter (fn () => ...): its frame
    ** directly at base 0, the argument in slot 0. Not as apply would push
    ** it (the closure at 0, the argument at 1, the result to 0): the bottom
    ** frame's result goes to the instance, not to a slot (return_value), and
    ** the frame roots its closure, so slot 0 would only hold it twice (16
    ** bytes of every process, bench/README.md "Memory per process 7"). */
    if (ensure_vals(vm, s, 1)) return -ENOMEM;
    vm->state = HK_VS_READY;
    hk_closure_t *cl = (hk_closure_t *)fn.as.o;
    s->vals[0] = hk_unit();
    s->sp = 1;
    st = push_frame_inline(vm, s, cl->fn, 1, 0, hk_fc(cl->fn, &cl->h, 0, 0)) ? ST_STOP : ST_CONTINUE;
  } else {
    if (ensure_vals(vm, s, 2)) return -ENOMEM;
    s->vals[0] = fn;
    s->vals[1] = hk_unit();
    s->sp = 2;
    vm->state = HK_VS_READY;
    st = apply(vm, false);
  }
  if (st == ST_STOP && vm->state == HK_VS_READY) {
    if (vm->failed) vm->state = HK_VS_FAILED;
  }
  return 0;
}

/* What a host request delivers (an adopted message, spawn argument or
** joined result, an I/O completion, a native result) counts against the
** heap limit at once (SPEC §6.11.3, §10.6.3): over the limit, collect with
** [*result] rooted (in req.arg, a root) and fail if still over. Returns 0 or
** HK_EFAIL. */
static int check_delivery(hk_vm_t *vm, hk_value_t *result) {
  hk_heap_t *h = &vm->heap;
  if (LIKELY(h->objects_left >= 0)) return 0;
  vm->h.arg = *result;
  if (hk_heap_collect(vm)) return hk_vm_fail(vm, "out of memory");
  *result = vm->h.arg;
  if (h->objects_left < 0) return heap_limit_fail(vm);
  return 0;
}

/* hk_vm_complete beyond its usual case: the heap over its limit, or no
** frame waiting (the result ends a handler or the program). Out of line so
** the usual case saves no registers. */
static __attribute__((noinline)) void complete_slow(hk_vm_t *vm, hk_value_t result) {
  if (check_delivery(vm, &result)) {
    vm->req_pending = false;
    vm->h.arg = hk_unit();
    vm->state = HK_VS_FAILED;
    return;
  }
  vm->req_pending = false;
  vm->h.arg = hk_unit();
  vm->state = HK_VS_READY;
  deliver(vm, result);
  if (vm->failed) vm->state = HK_VS_FAILED;
}

void hk_vm_complete(hk_vm_t *vm, hk_value_t result) {
  if (!vm->req_pending) return;
  /* The usual case, deliver's first step without the call: a frame waits
  ** for the result (it reserved the room) and the heap is within its limit
  ** (check_delivery has nothing to do). */
  hk_seg_t *s = vm->seg;
  const hk_heap_t *h = &vm->heap;
  if (UNLIKELY(s->nframes == 0 || h->objects_left < 0)) {
    complete_slow(vm, result);
    return;
  }
  s->vals[s->sp++] = result;
  vm->req_pending = false;
  vm->h.arg = hk_unit();
  vm->state = vm->failed ? HK_VS_FAILED : HK_VS_READY;
}

void hk_vm_safepoint(hk_vm_t *vm) {
  if (vm->state != HK_VS_READY || !hk_heap_wants_gc(&vm->heap)) return;
  if (safepoint(vm, 0)) vm->state = HK_VS_FAILED;
}

void hk_vm_complete_fail(hk_vm_t *vm, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hk_vm_vfail(vm, fmt, ap);
  va_end(ap);
  vm->req_pending = false;
  vm->state = HK_VS_FAILED;
}

/* ---- The interpreter ------------------------------------------------------------ */

/* Records the source position of the instruction that failed. */
static void note_position(hk_vm_t *vm) {
  hk_seg_t *s = vm->seg;
  hk_failure_t *fl = &vm->x->fail; /* finish: vm->failed && vm->x */
  if (fl->file || !s || s->nframes == 0) return;
  const hk_frame_t *fr = &s->frames[s->nframes - 1];
  const hk_func_t *f = &vm->img->funcs[hk_frame_fn(fr)];
  uint32_t at = fr->pc ? fr->pc - 1 : 0; /* both words of an instruction share its position */
  if (!f->pos || at >= f->ncode || f->pos[at].line == 0) return;
  uint32_t file = f->pos[at].file;
  fl->file = file < vm->img->nfiles ? vm->img->files[file] : NULL;
  fl->line = f->pos[at].line;
  fl->col = f->pos[at].col;
}

/* The end of every slice (a blocked receive ends one per message of a
** ping-pong or a ring): inline in hk_vm_run's two exits, no call. */
static inline __attribute__((always_inline)) hk_run_t finish(hk_vm_t *vm, uint64_t slice, int64_t left) {
  left -= vm->charge; /* what a helper charged before it stopped the slice */
  vm->charge = 0;
  uint64_t used = left >= 0 ? slice - (uint64_t)left : slice + (uint64_t)(-left);
  vm->h.reductions += (uint32_t)used; /* modulo 2^32 (vm.h) */
  hk_vmx_t *x = vm->x; /* NULL: neither failed with a record nor fuel-limited */
  if (UNLIKELY(x != NULL)) {
    if (vm->failed && x->fail.kind == HK_FAIL_RUNTIME) note_position(vm);
    if (x->fuel != UINT64_MAX) x->fuel = used >= x->fuel ? 0 : x->fuel - used;
  }
  if (vm->failed && vm->state != HK_VS_EXIT) vm->state = HK_VS_FAILED;
  switch (vm->state) {
  case HK_VS_DONE: return HK_RUN_DONE;
  case HK_VS_FAILED: return HK_RUN_FAILED;
  case HK_VS_REQUEST: return HK_RUN_REQUEST;
  case HK_VS_EXIT: return HK_RUN_EXIT;
  default: return HK_RUN_YIELD;
  }
}

static bool num_const_eq(hk_value_t c, hk_value_t v) {
  if (c.tag != v.tag) return false;
  if (c.tag == HK_T_FLOAT) return c.as.f == v.as.f;
  if (c.tag == HK_T_STRING || c.tag == HK_T_BYTES)
    return hk_str_len(c) == hk_str_len(v) && memcmp(hk_str_data(c), hk_str_data(v), hk_str_len(c)) == 0;
  return c.as.u == v.as.u;
}

/* gcc: without GCSE and cross-jumping, every handler keeps its own dispatch
** (gcc merged the identical dispatch tails into one shared indirect jump and
** hoisted loads across them; see docs/vm.md). Other compilers: nothing. */
#if defined(__GNUC__) && !defined(__clang__)
#define HK_DISPATCH_FN __attribute__((optimize("no-gcse", "no-crossjumping")))
#else
#define HK_DISPATCH_FN
#endif

HK_DISPATCH_FN hk_run_t hk_vm_run(hk_vm_t *vm, uint32_t budget) {
  switch (vm->state) {
  case HK_VS_DONE: return HK_RUN_DONE;
  case HK_VS_FAILED: return HK_RUN_FAILED;
  case HK_VS_EXIT: return HK_RUN_EXIT;
  case HK_VS_REQUEST: return HK_RUN_REQUEST;
  case HK_VS_NEW: return HK_RUN_FAILED;
  default: break;
  }
  if (vm->failed) {
    vm->state = HK_VS_FAILED;
    return HK_RUN_FAILED;
  }
  uint64_t slice = budget ? budget : 1;
  bool fuel_cap = false;
  uint64_t fuel = hk_vm_fuel(vm);
  if (fuel < slice) { /* never when not limited (UINT64_MAX) */
    slice = fuel;
    fuel_cap = true;
  }
  /* A charge the host made between slices (the copy of a spawn served
  ** outside the slice, SPEC 6.10.1) counts against this slice. */
  int64_t left = (int64_t)slice - vm->charge;
  vm->charge = 0;

  /* The image and its constants are read through vm (not kept in locals of
  ** their own): fewer live values leave the registers to pc, sp, locals and
  ** the budget. */
#define IMG (vm->img)
  hk_seg_t *seg;
  hk_value_t *vals, *sp;
  /* locals and the label table's address (tbl) are named in PIN at every
  ** dispatch. As plain variables, gcc 12 moved each through a scratch
  ** register and back there (mov %r15,%rdx ... mov %rdx,%r15: 4 needless
  ** instructions in a dispatch of 10); bound to a register of their own,
  ** they stay in it and the dispatch is its 6 instructions again. The
  ** binding only chooses the register at the asm statements (GCC manual,
  ** "Local Register Variables"); elsewhere they are ordinary variables. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(HK_NO_COMPUTED_GOTO)
#define HK_REG(r) __asm__(r)
#else
#define HK_REG(r)
#endif
  __extension__ register hk_value_t *locals HK_REG("r15");
  hk_frame_t *fr;
  const uint32_t *code;
  /* pc too (r12, where gcc 12 had put it): with two more opcodes (TLOOPI,
  ** TLOOPRI) and even with their handlers empty, gcc kept pc in a stack
  ** slot between a jump's test and its dispatch (JNLTI 3 instructions
  ** longer, bench/vm +0.3 to +4 %); bound, the dispatches are as before. */
  __extension__ register const uint32_t *pc HK_REG("r12");
  uint32_t ins;
  /* A direct call being entered (enter:, tail_enter:): function, argument
  ** count, first argument, and the frame word (hk_fc), built by the opcode
  ** that knows its form (no HK_FC_AT_BASE for tail_enter: the slot stays). */
  const hk_func_t *nf;
  uint32_t cfi, cn, cbase;
  uintptr_t cfc;

#define SAVE() (seg->sp = (uint32_t)(sp - vals), fr->pc = (uint32_t)(pc - code))
#define LOAD()                                                                     \
  do {                                                                             \
    seg = vm->seg;                                                                 \
    vals = seg->vals;                                                              \
    sp = vals + seg->sp;                                                           \
    fr = &seg->frames[seg->nframes - 1];                                           \
    code = IMG->funcs[hk_frame_fn(fr)].code;                                       \
    pc = code + fr->pc;                                                            \
    locals = vals + fr->base;                                                      \
  } while (0)
/* Debug builds check at every dispatch that the operand stack is within the
** frame's verified room, nlocals + maxstack slots from its base: frames get
** exactly that (no slack), and a child's first stack is sized to it
** (hk_vm_call_slots; bench/README.md, "Memory per process 4"). Not in
** release builds, which the benchmarks use (asserts are on there too). */
#ifdef HK_DEBUG_CHECKS
#define SP_AUDIT()                                                                 \
  assert(sp <= locals + IMG->funcs[hk_frame_fn(fr)].nlocals + IMG->funcs[hk_frame_fn(fr)].maxstack)
#else
#define SP_AUDIT() ((void)0)
#endif
#define A() (ins >> 8)
#define SA() ((int32_t)ins >> 8)
#define FAIL(...)                                                                  \
  do {                                                                             \
    SAVE();                                                                        \
    hk_vm_fail(vm, __VA_ARGS__);                                                   \
    goto stop;                                                                     \
  } while (0)
#define KIND_FAIL(want, v) FAIL("expected %s, got %s", want, hk_kind_name(v))
/* After a helper changed segments or frames. */
#define AFTER(call)                                                                \
  do {                                                                             \
    if ((call) == ST_STOP) goto stop;                                              \
    left -= vm->charge;                                                            \
    vm->charge = 0;                                                                \
    LOAD();                                                                        \
  } while (0)
#define GC_POINT(need)                                                             \
  do {                                                                             \
    if (UNLIKELY(hk_heap_wants_gc(&vm->heap))) {                                   \
      SAVE();                                                                      \
      if (safepoint(vm, need)) goto stop;                                          \
    }                                                                              \
  } while (0)

/* fr, seg, vals and code live in stack slots, and gcc 12 weighs every use
** of them in placing them and their reloads: one more handler reading fr
** (CAP2's fr->fc) moved RET's copy of fr to another register (2 more
** instructions per return, bench/vm +0.1 to +0.5 %; bench/README.md,
** "Register placement, stop 22"). A handler added since reads them through
** HIDDEN: a copy that an empty asm makes opaque, so its uses are not theirs
** and the rest of hk_vm_run compiles as before (CAP2: bench/vm unchanged).
** Not a cure for all: a handler storing SAVE's two words through HIDDEN
** seg and fr still moved RET's copy (fib +0.48 %). */
#if defined(__GNUC__)
#define HIDDEN(v) __extension__({                                                  \
    __typeof__(v) hidden_ = (v);                                                   \
    __asm__("" : "+r"(hidden_));                                                   \
    hidden_;                                                                       \
  })
#else
#define HIDDEN(v) (v)
#endif

  LOAD();
  /* A safe point: the host may have completed a request since the last
  ** slice with a value it adopted or allocated (hk_vm_safepoint). */
  GC_POINT(0);

#if defined(__GNUC__) && !defined(HK_NO_COMPUTED_GOTO)
  __extension__ static const void *const labels[HK_I__COUNT] = {
#define HK_OP(name, fmt, pop, push, flags, doc) &&L_##name,
#include "vm/opcodes.def"
#undef HK_OP
  };
#define CASE(name) L_##name:
  /* The table's address in a register too: otherwise every dispatch
  ** recomputes it (a rip-relative lea, one instruction in 7). */
  __extension__ register const void *const *tbl HK_REG("r14") = labels;
/* Every dispatch wants these in registers: saying so keeps gcc from spilling
** them to the stack for the sake of the cold paths (calls, failures). */
#define PIN() __asm__("" : "+r"(locals), "+r"(pc), "+r"(left), "+r"(tbl))
#define NEXT()                                                                     \
  do {                                                                             \
    SP_AUDIT();                                                                    \
    if (UNLIKELY(--left < 0)) goto out_of_budget;                                  \
    ins = *pc++;                                                                   \
    PIN();                                                                         \
    __extension__({ goto *tbl[ins & 0xffu]; });                                    \
  } while (0)
  NEXT();
#else
#define CASE(name) case HK_I_##name:
#define NEXT() goto dispatch
dispatch:
  SP_AUDIT();
  if (UNLIKELY(--left < 0)) goto out_of_budget;
  ins = *pc++;
  switch ((hk_opcode_t)(ins & 0xffu)) {
#endif

  CASE(NOP) NEXT();
  CASE(CONST) *sp++ = IMG->consts[A()]; NEXT();
  CASE(INT) *sp++ = hk_int(SA()); NEXT();
  CASE(UNIT) *sp++ = hk_unit(); NEXT();
  CASE(BOOL) *sp++ = hk_bool(A() != 0); NEXT();
  CASE(CHAR) *sp++ = hk_char(A()); NEXT();
  CASE(NIL) *sp++ = hk_nil(); NEXT();
  CASE(DATA0) *sp++ = hk_data0(A()); NEXT();
  CASE(CTORFN) *sp++ = hk_mk(HK_T_CTORFN, A()); NEXT();
  CASE(BUILTIN) *sp++ = hk_builtin_ref(IMG->imports[A()]); NEXT();
  CASE(LOCAL) *sp++ = locals[A()]; NEXT();
  CASE(LOCAL2) {
    sp[0] = locals[A() & 0xfffu];
    sp[1] = locals[A() >> 12];
    sp += 2;
    NEXT();
  }
  CASE(STORE) locals[A()] = *--sp; NEXT();
  CASE(TEE) locals[A()] = sp[-1]; NEXT();
  CASE(CAP) *sp++ = ((hk_closure_t *)hk_fc_clos(fr->fc))->caps[A()]; NEXT();
  /* The CAP a and CAP b after it (the verifier checks them) in one when
  ** the slice has the second's reduction: both pushed, the two skipped.
  ** Otherwise it gives its own reduction back and they run, so charges and
  ** slice boundaries are theirs (SPEC 6.10.1). The frame is read through
  ** HIDDEN (see there). */
  CASE(CAP2) {
    if (UNLIKELY(left < 1)) {
      left++;
      NEXT();
    }
    left--;
    const hk_closure_t *clos = (const hk_closure_t *)hk_fc_clos(HIDDEN(fr)->fc);
    sp[0] = clos->caps[A() & 0xfffu];
    sp[1] = clos->caps[A() >> 12];
    sp += 2;
    pc += 2;
    NEXT();
  }
  /* The slot is copied to the stack as it is in memory: read into a local
  ** that the slow path may replace, gcc 12 rebuilt its first word from the
  ** tested tag (and, or: 24 machine instructions, a LOCAL's 15). */
  CASE(GLOBAL) {
    const hk_value_t *g = &vm->globals[A()];
    if (UNLIKELY(g->tag == HK_T_UNINIT)) {
      /* A child: the root may have exported it since (SPEC §6.4.3). */
      if (g->as.u == 0 && hk_vm_globals_refresh(vm)) g = &vm->globals[A()];
      if (g->tag == HK_T_UNINIT && g->as.u == 1)
        FAIL("cannot access global '%s' from a child process: cannot send continuations across processes",
             IMG->globals[A()]);
      if (g->tag == HK_T_UNINIT) FAIL("global '%s' is not initialised", IMG->globals[A()]);
    }
    *sp++ = *g;
    NEXT();
  }
  CASE(SETGLOBAL) {
    if (UNLIKELY(vm->globals_shared)) FAIL("global '%s' cannot be set in a child process", IMG->globals[A()]);
    vm->globals[A()] = *--sp;
    hk_vm_global_set(vm, A());
    NEXT();
  }
  CASE(POP) sp--; NEXT();

#define INT_OPERANDS()                                                             \
  hk_value_t b = sp[-1], a = sp[-2];                                               \
  if (UNLIKELY(a.tag != HK_T_INT)) KIND_FAIL("Int", a);                            \
  if (UNLIKELY(b.tag != HK_T_INT)) KIND_FAIL("Int", b);
  CASE(ADD) {
    INT_OPERANDS();
    int64_t r;
    if (UNLIKELY(__builtin_add_overflow(a.as.i, b.as.i, &r))) FAIL("integer overflow (addition)");
    sp--;
    sp[-1].as.i = r;
    NEXT();
  }
  CASE(SUB) {
    INT_OPERANDS();
    int64_t r;
    if (UNLIKELY(__builtin_sub_overflow(a.as.i, b.as.i, &r))) FAIL("integer overflow (subtraction)");
    sp--;
    sp[-1].as.i = r;
    NEXT();
  }
  CASE(MUL) {
    INT_OPERANDS();
    int64_t r;
    if (UNLIKELY(__builtin_mul_overflow(a.as.i, b.as.i, &r))) FAIL("integer overflow (multiplication)");
    sp--;
    sp[-1].as.i = r;
    NEXT();
  }
  CASE(DIV) {
    INT_OPERANDS();
    if (UNLIKELY(b.as.i == 0)) FAIL("division by zero");
    if (UNLIKELY(b.as.i == -1 && a.as.i == INT64_MIN)) FAIL("integer overflow (division)");
    sp--;
    sp[-1].as.i = a.as.i / b.as.i;
    NEXT();
  }
  CASE(MOD) {
    INT_OPERANDS();
    if (UNLIKELY(b.as.i == 0)) FAIL("division by zero");
    sp--;
    sp[-1].as.i = b.as.i == -1 ? 0 : a.as.i % b.as.i;
    NEXT();
  }
  CASE(NEG) {
    hk_value_t a = sp[-1];
    if (UNLIKELY(a.tag != HK_T_INT)) KIND_FAIL("Int", a);
    if (UNLIKELY(a.as.i == INT64_MIN)) FAIL("integer overflow (negation)");
    sp[-1].as.i = -a.as.i;
    NEXT();
  }
  CASE(FNEG) {
    hk_value_t a = sp[-1];
    if (UNLIKELY(a.tag != HK_T_FLOAT)) KIND_FAIL("Float", a);
    sp[-1].as.f = -a.as.f;
    NEXT();
  }
  CASE(NOT) {
    hk_value_t a = sp[-1];
    if (UNLIKELY(a.tag != HK_T_BOOL)) KIND_FAIL("Bool", a);
    sp[-1] = hk_bool(!a.as.u);
    NEXT();
  }
  CASE(ADDI) {
    hk_value_t a = sp[-1];
    if (UNLIKELY(a.tag != HK_T_INT)) KIND_FAIL("Int", a);
    int64_t r;
    if (UNLIKELY(__builtin_add_overflow(a.as.i, (int64_t)SA(), &r)))
      FAIL(SA() >= 0 ? "integer overflow (addition)" : "integer overflow (subtraction)");
    sp[-1].as.i = r;
    NEXT();
  }
  /* MUL, DIV, MOD by a literal (the same checks and messages). */
  CASE(MULI) {
    hk_value_t a = sp[-1];
    if (UNLIKELY(a.tag != HK_T_INT)) KIND_FAIL("Int", a);
    int64_t r;
    if (UNLIKELY(__builtin_mul_overflow(a.as.i, (int64_t)SA(), &r))) FAIL("integer overflow (multiplication)");
    sp[-1].as.i = r;
    NEXT();
  }
  CASE(DIVI)
  CASE(MODI) {
    hk_value_t a = sp[-1];
    int64_t k = SA();
    bool div = (ins & 0xffu) == HK_I_DIVI;
    if (UNLIKELY(a.tag != HK_T_INT)) KIND_FAIL("Int", a);
    if (UNLIKELY(k == 0)) FAIL("division by zero");
    if (k == -1) {
      if (UNLIKELY(div && a.as.i == INT64_MIN)) FAIL("integer overflow (division)");
      sp[-1].as.i = div ? -a.as.i : 0;
    } else {
      sp[-1].as.i = div ? a.as.i / k : a.as.i % k;
    }
    NEXT();
  }
#define INT_CMP(op)                                                                \
  {                                                                                \
    INT_OPERANDS();                                                                \
    sp--;                                                                          \
    sp[-1] = hk_bool(a.as.i op b.as.i);                                            \
    NEXT();                                                                        \
  }
  CASE(LADDI) {
    hk_value_t a = locals[A()];
    int32_t k = (int32_t)*pc++;
    if (UNLIKELY(a.tag != HK_T_INT)) KIND_FAIL("Int", a);
    int64_t r;
    if (UNLIKELY(__builtin_add_overflow(a.as.i, (int64_t)k, &r)))
      FAIL(k >= 0 ? "integer overflow (addition)" : "integer overflow (subtraction)");
    *sp++ = hk_int(r);
    NEXT();
  }
  /* LADDI and the TLOOP (TLOOPI) or TLOOPR (TLOOPRI) of its one changed
** argument in one (compile.c, self_tail_call): `counter (c + 1)`. Two
** reductions, its parts' charge (SPEC 6.11.1): the second is taken like a
** builtin's charge, even from an empty budget (a slice of 1 still makes
** progress), and the next dispatch then stops the slice, or fails for
** fuel where the TLOOP would have: the program that had fuel for both
** parts has it for this one, and one short fails before its next step. */
#define LOOP_ADD(s)                                                                \
  hk_value_t x = locals[s];                                                        \
  int32_t i = (int32_t)*pc++;                                                      \
  int64_t r;                                                                       \
  if (UNLIKELY(x.tag != HK_T_INT)) KIND_FAIL("Int", x);                            \
  if (UNLIKELY(__builtin_add_overflow(x.as.i, (int64_t)i, &r)))                    \
    FAIL(i >= 0 ? "integer overflow (addition)" : "integer overflow (subtraction)"); \
  left--;
/* The z locals from sp up to () (a straight loop's locals after its
** arguments): straight stores for one or two, the usual loops (counting's,
** ring's, fanin's), a loop for the rest (a counted loop costs ~20). */
#define RESET_LOCALS(z)                                                            \
  do {                                                                             \
    if (z) {                                                                       \
      sp[0] = hk_unit();                                                           \
      if (z > 1) {                                                                 \
        sp[1] = hk_unit();                                                         \
        if (z > 2) {                                                               \
          sp[2] = hk_unit();                                                       \
          for (uint32_t i_ = 3; i_ < z; i_++) sp[i_] = hk_unit();                  \
        }                                                                          \
      }                                                                            \
      sp += z;                                                                     \
    }                                                                              \
  } while (0)
  CASE(TLOOPI) { /* the rare form (64 locals or more): the sum goes on as TLOOP's one changed argument */
    uint32_t a = A();
    LOOP_ADD(a & 0xfffu);
    *sp++ = hk_int(r);
    ins = (1u << (a >> 12 & 15u) | (a >> 16) << 16) << 8;
    goto tloop;
  }
  CASE(TLOOPRI) {
    uint32_t a = A(), z = a >> 17;
    LOOP_ADD(a & 63u);
    locals[a >> 6 & 15u] = hk_int(r);
    sp = locals + (a >> 10 & 63u);
    RESET_LOCALS(z);
    pc = code + (a >> 16 & 1u);
    NEXT();
  }
#undef LOOP_ADD
  CASE(LT) INT_CMP(<)
  CASE(GT) INT_CMP(>)
  CASE(LE) INT_CMP(<=)
  CASE(GE) INT_CMP(>=)
#define FLOAT_OPERANDS()                                                           \
  hk_value_t b = sp[-1], a = sp[-2];                                               \
  if (UNLIKELY(a.tag != HK_T_FLOAT)) KIND_FAIL("Float", a);                        \
  if (UNLIKELY(b.tag != HK_T_FLOAT)) KIND_FAIL("Float", b);
#define FLOAT_OP(op)                                                               \
  {                                                                                \
    FLOAT_OPERANDS();                                                              \
    sp--;                                                                          \
    sp[-1].as.f = a.as.f op b.as.f;                                                \
    NEXT();                                                                        \
  }
#define FLOAT_CMP(op)                                                              \
  {                                                                                \
    FLOAT_OPERANDS();                                                              \
    sp--;                                                                          \
    sp[-1] = hk_bool(a.as.f op b.as.f);                                            \
    NEXT();                                                                        \
  }
  CASE(FADD) FLOAT_OP(+)
  CASE(FSUB) FLOAT_OP(-)
  CASE(FMUL) FLOAT_OP(*)
  CASE(FDIV) FLOAT_OP(/)
  CASE(FLT) FLOAT_CMP(<)
  CASE(FGT) FLOAT_CMP(>)
  CASE(FLE) FLOAT_CMP(<=)
  CASE(FGE) FLOAT_CMP(>=)

  CASE(CONCAT) {
    GC_POINT(1);
    hk_value_t b = sp[-1], a = sp[-2];
    if (UNLIKELY(a.tag != HK_T_STRING)) KIND_FAIL("String", a);
    if (UNLIKELY(b.tag != HK_T_STRING)) KIND_FAIL("String", b);
    size_t la = hk_str_len(a), lb = hk_str_len(b);
    hk_value_t r;
    char *d;
    SAVE();
    if (hk_alloc_string_raw(vm, la + lb, &r, &d)) goto stop;
    memcpy(d, hk_str_data(a), la);
    memcpy(d + la, hk_str_data(b), lb);
    left -= (int64_t)((la + lb) / 64);
    sp--;
    sp[-1] = r;
    NEXT();
  }
  CASE(CONCATN)
    SAVE();
    if (concat_n(vm, A())) goto stop;
    left -= vm->charge;
    vm->charge = 0;
    sp = vals + seg->sp;
    NEXT();
/* eq = a = b (SPEC 4.7) through hk_value_equal, charging its work. */
#define VALUE_EQUAL(eq, a, b)                                                      \
  do {                                                                             \
    SAVE();                                                                        \
    eq = hk_value_equal(vm, a, b);                                                 \
    if (eq < 0) FAIL("out of memory");                                             \
    left -= vm->charge;                                                            \
    vm->charge = 0;                                                                \
  } while (0)
  CASE(EQ)
  CASE(NE) {
    hk_value_t b = sp[-1], a = sp[-2];
    int eq;
    if (a.tag == HK_T_INT && b.tag == HK_T_INT) {
      eq = a.as.i == b.as.i;
    } else {
      VALUE_EQUAL(eq, a, b);
    }
    sp--;
    sp[-1] = hk_bool((ins & 0xffu) == HK_I_EQ ? eq != 0 : eq == 0);
    NEXT();
  }

  CASE(JMP) pc += SA(); NEXT();
  CASE(JF) {
    hk_value_t v = *--sp;
    if (UNLIKELY(v.tag != HK_T_BOOL)) KIND_FAIL("Bool", v);
    if (!v.as.u) pc += SA();
    NEXT();
  }
  CASE(JT) {
    hk_value_t v = *--sp;
    if (UNLIKELY(v.tag != HK_T_BOOL)) KIND_FAIL("Bool", v);
    if (v.as.u) pc += SA();
    NEXT();
  }
#define JCMP(op)                                                                   \
  {                                                                                \
    INT_OPERANDS();                                                                \
    sp -= 2;                                                                       \
    if (!(a.as.i op b.as.i)) pc += SA();                                           \
    NEXT();                                                                        \
  }
  CASE(JNLT) JCMP(<)
  CASE(JNLE) JCMP(<=)
  CASE(JNGT) JCMP(>)
  CASE(JNGE) JCMP(>=)
/* The equality jumps have one handler per sense, [jeq] the outcome that
** jumps (0: JNEQ's "unless a = b", 1: JNNE's), not one testing its opcode
** at run time; the Int case laid out first (gcc had put JNEQLI's out of
** line, behind two jumps). */
#define JEQ(jeq)                                                                   \
  {                                                                                \
    hk_value_t b = sp[-1], a = sp[-2];                                             \
    int eq;                                                                        \
    if (LIKELY(a.tag == HK_T_INT && b.tag == HK_T_INT)) {                          \
      eq = a.as.i == b.as.i;                                                       \
    } else {                                                                       \
      VALUE_EQUAL(eq, a, b);                                                       \
    }                                                                              \
    sp -= 2;                                                                       \
    if (eq == jeq) pc += SA();                                                     \
    NEXT();                                                                        \
  }
  CASE(JNEQ) JEQ(0)
  CASE(JNNE) JEQ(1)
  /* The LOCAL, GLOBAL and JNEQ after it (the verifier checks them) in one
  ** when both are Ints and the budget has their three reductions: it jumps
  ** as the JNEQ would, after them. Otherwise it gives its own reduction
  ** back and they run (a global a child must refresh, SPEC 6.4.3, another
  ** kind, a slice or fuel ending among them): the same charges either
  ** way (SPEC 6.10.1). */
  CASE(JNEQLG) {
    const hk_value_t *g = &vm->globals[A() >> 12], *x = &locals[A() & 0xfffu];
    if (LIKELY(x->tag == HK_T_INT && g->tag == HK_T_INT && left >= 2)) {
      left -= 2;
      int32_t off = (int32_t)pc[2] >> 8;
      pc += 3;
      if (x->as.i != g->as.i) pc += off;
      NEXT();
    }
    left++;
    NEXT();
  }
  /* JNEQ/JNNE of operands the checker typed String: two strings under 63
  ** bytes (hk_value_equal would charge nothing) are compared here, without
  ** its call; anything else (a longer string, another kind that an
  ** ill-typed message brought) as JNEQ does. */
  CASE(JNEQS)
  CASE(JNNES) {
    hk_value_t b = sp[-1], a = sp[-2];
    int eq;
    if (LIKELY(a.tag == HK_T_STRING && b.tag == HK_T_STRING && hk_str_len(a) < 63)) {
      size_t n = hk_str_len(a);
      eq = n == hk_str_len(b) && (a.as.o == b.as.o || memcmp(hk_str_data(a), hk_str_data(b), n) == 0);
    } else {
      VALUE_EQUAL(eq, a, b);
    }
    sp -= 2;
    if ((ins & 0xffu) == HK_I_JNEQS ? !eq : eq) pc += SA();
    NEXT();
  }
#define JCMPI(op)                                                                  \
  {                                                                                \
    hk_value_t a = *--sp;                                                          \
    int32_t off = (int32_t)*pc++;                                                  \
    if (UNLIKELY(a.tag != HK_T_INT)) KIND_FAIL("Int", a);                          \
    if (!(a.as.i op (int64_t)SA())) pc += off;                                     \
    NEXT();                                                                        \
  }
  CASE(JNLTI) JCMPI(<)
  CASE(JNLEI) JCMPI(<=)
  CASE(JNGTI) JCMPI(>)
  CASE(JNGEI) JCMPI(>=)
/* JNEQI/JNNEI of value a, JNEQLI/JNNELI of a local a: a against the Int
** k; other kinds are never equal. */
#define JEQI(a, k, jeq)                                                            \
  {                                                                                \
    int32_t off = (int32_t)*pc++;                                                  \
    if (LIKELY(a.tag == HK_T_INT)) {                                               \
      if ((a.as.i == (int64_t)(k)) == jeq) pc += off;                              \
    } else if (!jeq) {                                                             \
      pc += off;                                                                   \
    }                                                                              \
    NEXT();                                                                        \
  }
  CASE(JNEQI) {
    hk_value_t a = *--sp;
    JEQI(a, SA(), 0)
  }
  CASE(JNNEI) {
    hk_value_t a = *--sp;
    JEQI(a, SA(), 1)
  }
  /* LOCAL a, JNEQI/JNNEI k in one: a local compared with a 12-bit Int
  ** literal (if k = 0 then ...), which never fails. */
  CASE(JNEQLI) {
    hk_value_t a = locals[A() & 0xfffu];
    JEQI(a, (int32_t)ins >> 20, 0)
  }
  CASE(JNNELI) {
    hk_value_t a = locals[A() & 0xfffu];
    JEQI(a, (int32_t)ins >> 20, 1)
  }
#undef JEQI
#undef JEQ
  CASE(MATCHFAIL) FAIL("non-exhaustive match");

  CASE(TUPLE) {
    GC_POINT(1);
    uint32_t n = A();
    hk_value_t r;
    SAVE();
    if (hk_alloc_tuple(vm, n, sp - n, &r)) goto stop;
    sp -= n;
    *sp++ = r;
    NEXT();
  }
  CASE(CONS) {
    GC_POINT(1);
    hk_value_t b = sp[-1];
    if (UNLIKELY(b.tag != HK_T_NIL && b.tag != HK_T_CONS)) KIND_FAIL("List", b);
    hk_cons_t *c = (hk_cons_t *)hk_heap_alloc(vm, sizeof(hk_cons_t), HK_T_CONS);
    if (UNLIKELY(!c)) FAIL("out of memory");
    c->head = sp[-2];
    c->tail = b;
    sp--;
    sp[-1] = hk_obj_value(&c->h);
    NEXT();
  }
  CASE(DATA) {
    GC_POINT(1);
    hk_data_t *d = (hk_data_t *)hk_heap_alloc(vm, sizeof(hk_data_t), HK_T_DATA);
    if (UNLIKELY(!d)) FAIL("out of memory");
    d->h.n = A();
    d->payload = sp[-1];
    sp[-1] = hk_obj_value(&d->h);
    NEXT();
  }
  CASE(FIELD) {
    hk_value_t v = sp[-1];
    uint32_t arity = *pc++;
    if (UNLIKELY(v.tag != HK_T_TUPLE)) KIND_FAIL("Tuple", v);
    /* Same kind, other arity (an unsound resume, a message): not a kind
    ** mismatch of SPEC 4.10.2, so the message names both arities. */
    if (UNLIKELY(v.as.o->n != arity || A() >= arity))
      FAIL("expected Tuple of %u components, got Tuple of %u components", arity, v.as.o->n);
    sp[-1] = ((hk_tuple_t *)v.as.o)->items[A()];
    NEXT();
  }
  CASE(UNTUPLE) {
    hk_value_t v = locals[0];
    uint32_t n = A();
    if (UNLIKELY(v.tag != HK_T_TUPLE)) KIND_FAIL("Tuple", v);
    if (UNLIKELY(v.as.o->n != n))
      FAIL("expected Tuple of %u components, got Tuple of %u components", n, v.as.o->n);
    const hk_value_t *items = ((hk_tuple_t *)v.as.o)->items;
    for (uint32_t i = 0; i < n; i++) locals[i] = items[i];
    NEXT();
  }
  /* A tuple pattern whose every component binds or tests something: the
  ** components to their consecutive slots, with FIELD's checks. */
  CASE(SPLIT) {
    hk_value_t v = locals[A()];
    uint32_t b = *pc++, n = b >> 24;
    if (UNLIKELY(v.tag != HK_T_TUPLE)) KIND_FAIL("Tuple", v);
    if (UNLIKELY(v.as.o->n != n))
      FAIL("expected Tuple of %u components, got Tuple of %u components", n, v.as.o->n);
    const hk_value_t *items = ((hk_tuple_t *)v.as.o)->items;
    hk_value_t *d = locals + (b & 0xffffffu);
    d[0] = items[0]; /* n >= 2 (verified): a pair's straight, no loop */
    d[1] = items[1];
    for (uint32_t i = 2; i < n; i++) d[i] = items[i];
    NEXT();
  }
  CASE(HEAD) {
    hk_value_t v = sp[-1];
    if (UNLIKELY(v.tag != HK_T_CONS)) KIND_FAIL("List", v);
    sp[-1] = ((hk_cons_t *)v.as.o)->head;
    NEXT();
  }
  CASE(TAIL) {
    hk_value_t v = sp[-1];
    if (UNLIKELY(v.tag != HK_T_CONS)) KIND_FAIL("List", v);
    sp[-1] = ((hk_cons_t *)v.as.o)->tail;
    NEXT();
  }
  CASE(PAYLOAD) {
    hk_value_t v = sp[-1];
    if (UNLIKELY(v.tag != HK_T_DATA)) KIND_FAIL("Data", v);
    sp[-1] = ((hk_data_t *)v.as.o)->payload;
    NEXT();
  }
  CASE(JNCONS) {
    hk_value_t v = *--sp;
    if (v.tag == HK_T_NIL) pc += SA();
    else if (UNLIKELY(v.tag != HK_T_CONS)) KIND_FAIL("List", v);
    NEXT();
  }
  CASE(JNNIL) {
    hk_value_t v = *--sp;
    if (v.tag == HK_T_CONS) pc += SA();
    else if (UNLIKELY(v.tag != HK_T_NIL)) KIND_FAIL("List", v);
    NEXT();
  }
  CASE(JNCONSL) {
    hk_value_t v = locals[A()];
    int32_t off = (int32_t)*pc++;
    if (v.tag == HK_T_NIL) pc += off;
    else if (UNLIKELY(v.tag != HK_T_CONS)) KIND_FAIL("List", v);
    NEXT();
  }
  CASE(JNNILL) {
    hk_value_t v = locals[A()];
    int32_t off = (int32_t)*pc++;
    if (v.tag == HK_T_CONS) pc += off;
    else if (UNLIKELY(v.tag != HK_T_NIL)) KIND_FAIL("List", v);
    NEXT();
  }
  CASE(UNCONS) {
    hk_value_t v = locals[A()];
    uint32_t b = *pc++;
    if (UNLIKELY(v.tag != HK_T_CONS)) KIND_FAIL("List", v);
    locals[b] = ((hk_cons_t *)v.as.o)->head;
    locals[b + 1] = ((hk_cons_t *)v.as.o)->tail;
    NEXT();
  }
  CASE(SWITCH) {
    hk_value_t v = locals[A()];
    uint32_t n = pc[0], dt = pc[1];
    const uint32_t *table = pc + 2;
    pc = table + n;
    uint32_t ctor = v.tag == HK_T_DATA0 ? (uint32_t)v.as.u : v.tag == HK_T_DATA ? v.as.o->n : UINT32_MAX;
    if (ctor < IMG->nctors && IMG->ctors[ctor].datatype == dt) {
      uint32_t t = IMG->ctors[ctor].tag;
      if (t < n) pc = table + t + 1 + (int32_t)table[t];
    }
    NEXT();
  }
  CASE(JNCTOR) {
    hk_value_t v = *--sp;
    int32_t off = (int32_t)*pc++;
    if (v.tag == HK_T_DATA0) {
      if (v.as.u != A()) pc += off;
    } else if (v.tag == HK_T_DATA) {
      if (v.as.o->n != A()) pc += off;
    } else {
      KIND_FAIL("Data", v);
    }
    NEXT();
  }
  CASE(JNCONST) {
    hk_value_t v = *--sp;
    int32_t off = (int32_t)*pc++;
    hk_value_t c = IMG->consts[A()];
    if (UNLIKELY(v.tag != c.tag)) KIND_FAIL(hk_kind_name(c), v);
    if (!num_const_eq(c, v)) pc += off;
    NEXT();
  }
  CASE(JNINT) {
    hk_value_t v = *--sp;
    int32_t off = (int32_t)*pc++;
    if (UNLIKELY(v.tag != HK_T_INT)) KIND_FAIL("Int", v);
    if (v.as.i != SA()) pc += off;
    NEXT();
  }
  CASE(JNCHAR) {
    hk_value_t v = *--sp;
    int32_t off = (int32_t)*pc++;
    if (UNLIKELY(v.tag != HK_T_CHAR)) KIND_FAIL("Char", v);
    if (v.as.u != A()) pc += off;
    NEXT();
  }
  CASE(JNBOOL) {
    hk_value_t v = *--sp;
    int32_t off = (int32_t)*pc++;
    if (UNLIKELY(v.tag != HK_T_BOOL)) KIND_FAIL("Bool", v);
    if (v.as.u != A()) pc += off;
    NEXT();
  }

  CASE(CLOSURE) {
    GC_POINT(1);
    uint32_t fi = A(), n = *pc++;
    hk_closure_t *c = (hk_closure_t *)hk_heap_alloc(vm, sizeof(hk_closure_t) + n * sizeof(hk_value_t),
                                                    HK_T_CLOSURE);
    if (UNLIKELY(!c)) FAIL("out of memory");
    c->h.n = n;
    c->fn = fi;
    c->spare = 0;
    sp -= n;
    for (uint32_t i = 0; i < n; i++) c->caps[i] = sp[i];
    *sp++ = hk_obj_value(&c->h);
    NEXT();
  }
  CASE(SETCAP) {
    hk_value_t v = *--sp, c = sp[-1];
    if (UNLIKELY(c.tag != HK_T_CLOSURE || A() >= c.as.o->n)) KIND_FAIL("Function", c);
    ((hk_closure_t *)c.as.o)->caps[A()] = v;
    NEXT();
  }

  CASE(CALL)
  do_call : {
    hk_value_t f = sp[-2];
    if (LIKELY(f.tag == HK_T_CLOSURE)) {
      hk_closure_t *cl = (hk_closure_t *)f.as.o;
      nf = &IMG->funcs[cl->fn];
      uint32_t base = (uint32_t)(sp - 1 - vals);
      if (LIKELY(nf->arity == 1 && seg->nframes < seg->fcap &&
                 (size_t)base + nf->nlocals + nf->maxstack <= seg->cap &&
                 vm->depth_left > 0)) {
        fr->pc = (uint32_t)(pc - code);
        vm->depth_left--;
        fr = &seg->frames[seg->nframes++];
        fr->pc = 0;
        fr->base = base;
        fr->fc = (uintptr_t)cl; /* the result to base - 1 (hk_fc) */
        code = pc = nf->code;
        left -= nf->nlocals >> 6;
        locals = vals + base;
        /* The argument is local 0, or, with no local for it (nlocals 0:
        ** compile.c, fn_expr), the first slot of the frame's stack. */
        sp = locals + nf->nlocals;
        for (hk_value_t *l = locals + 1; l < sp; l++) *l = hk_unit();
        NEXT();
      }
    }
    SAVE();
    AFTER(apply(vm, false));
    NEXT();
  }
  /* BUILTIN A, arg, CALL in one (SPEC 11.2: resolved at compile time). A
  ** request (process or I/O builtin) goes to the host as apply makes it; a
  ** synchronous builtin is called here with its argument still on the stack
  ** (a root), and the collection it may ask for follows its result. */
  /* f () of a builtin (receive_message (), self ()): UNIT, CALLB A in one. */
  CASE(CALLBU)
    *sp++ = hk_unit();
    /* on to CALLB, the argument on the stack as it expects (a goto, not a
    ** fall-through comment: gcc does not see one before a macro's case) */
    goto callb;
  CASE(CALLB) callb: {
    uint32_t id = IMG->imports[A()];
    hk_value_t a = sp[-1];
    if (UNLIKELY(is_request_builtin(id))) {
      sp--;
      SAVE();
      int got = 0;
      if (id == HK_B_receive_message && vm->host && vm->host->receive_now) {
        hk_value_t v;
        got = vm->host->receive_now(vm->host->ud, vm, &v);
        if (got > 0 && received(vm, v, got, id, a) == ST_STOP) goto stop;
      }
      if (got <= 0) {
        make_request(vm, id, a);
        if (got < 0 || serve_now(vm) == ST_STOP) goto stop;
      }
      /* Served in the slice: the result was pushed on this frame's stack
      ** (deliver), nothing else moved, so only sp is reloaded. */
      left -= vm->charge;
      vm->charge = 0;
      sp = vals + seg->sp;
      NEXT();
    }
    SAVE();
    hk_value_t r;
    if (UNLIKELY(call_builtin(vm, id, a, &r))) goto stop;
    sp[-1] = r;
    left -= vm->charge;
    vm->charge = 0;
    GC_POINT(0);
    NEXT();
  }
  /* receive_message (): CALLBU's receive with the host's receive_now called
  ** first and a message it took pushed here, unless the heap limit or a
  ** collection is due after an adoption (received). receive_now reads
  ** neither the stack nor the frames (host.h), so nothing is saved before
  ** it; what it charged (nothing so far) is taken at the slice's end. */
  CASE(RECV) {
    const hk_host_t *h = vm->host;
    hk_value_t v;
    int got = LIKELY(h && h->receive_now) ? h->receive_now(h->ud, vm, &v) : 0;
    if (LIKELY(got > 0 && vm->heap.objects_left >= 0 &&
               (got == 1 || !hk_heap_wants_gc(&vm->heap)))) {
      *sp++ = v;
      NEXT();
    }
    SAVE();
    uint32_t id = IMG->imports[A()];
    if (got > 0) {
      if (received(vm, v, got, id, hk_unit()) == ST_STOP) goto stop;
    } else {
      make_request(vm, id, hk_unit());
      if (got < 0 || serve_now(vm) == ST_STOP) goto stop;
    }
    left -= vm->charge;
    vm->charge = 0;
    sp = vals + seg->sp;
    NEXT();
  }
  /* TUPLE B, CALLB A in one: the builtin gets the components without a
  ** heap tuple (call_tuple). */
  CASE(CALLBT) {
    uint32_t id = IMG->imports[A()], n = *pc++;
    SAVE();
    if (call_tuple(vm, id, n) == ST_STOP) goto stop;
    left -= vm->charge;
    vm->charge = 0;
    sp = vals + seg->sp; /* the result replaced the operands; nothing else moved */
    GC_POINT(0);
    NEXT();
  }
  /* send_message (p, v): CALLBT's send with the host's send_now called at
  ** once, without the import lookup and the tests of the builtin and the
  ** count; declined, CALLBT's way (send_pair). SENDP (compile.c,
  ** pop_value) is SEND followed by the POP of its Unit: sent at once, it
  ** pops both operands, skips the POP and takes its reduction as TLOOPI
  ** takes its second (SPEC 6.10.1: the pair's charge); declined, it is
  ** SEND and the POP runs (a request that stops the slice completes onto
  ** the stack, so the POP must stay in the code). */
  CASE(SEND)
  CASE(SENDP) {
    const hk_host_t *h = vm->host;
    SAVE();
    if (LIKELY(h && h->send_now) && LIKELY(h->send_now(h->ud, vm, sp[-2], sp[-1]))) {
      if (UNLIKELY(vm->state != HK_VS_READY)) goto stop; /* it failed the sender */
      if ((ins & 0xffu) == HK_I_SENDP) {
        sp -= 2;
        pc++;
        left--;
      } else {
        sp--;
        sp[-1] = hk_unit();
      }
      left -= vm->charge;
      vm->charge = 0;
      NEXT();
    }
    if (send_pair(vm, IMG->imports[A()]) == ST_STOP) goto stop;
    left -= vm->charge;
    vm->charge = 0;
    sp = vals + seg->sp;
    GC_POINT(0);
    NEXT();
  }
  /* send_message (p, (x, y)): TUPLE n, CALLBT in one, the host's
  ** send_tuple_now called here as SEND calls send_now (no import lookup,
  ** sp not reloaded, no safe point: nothing was allocated); declined, the
  ** other ways out of line (send_tuple). SENDTP is SENDT and its POP as
  ** SENDP is SEND and its POP. */
  CASE(SENDT)
  CASE(SENDTP) {
    const hk_host_t *h = vm->host;
    uint32_t n = *pc++;
    SAVE();
    if (LIKELY(h && h->send_tuple_now) && LIKELY(h->send_tuple_now(h->ud, vm, sp[-(ptrdiff_t)n - 1], sp - n, n))) {
      if (UNLIKELY(vm->state != HK_VS_READY)) goto stop; /* it failed the sender */
      if ((ins & 0xffu) == HK_I_SENDTP) {
        sp -= n + 1;
        pc++;
        left--;
      } else {
        sp -= n;
        sp[-1] = hk_unit();
      }
      left -= vm->charge;
      vm->charge = 0;
      NEXT();
    }
    if (send_tuple(vm, IMG->imports[A()], n) == ST_STOP) goto stop;
    left -= vm->charge;
    vm->charge = 0;
    sp = vals + seg->sp;
    GC_POINT(0);
    NEXT();
  }
  CASE(TCALL)
  do_tcall:
    SAVE();
    AFTER(apply(vm, true));
    NEXT();
  /* f a1 .. an of an unknown f (SPEC 4.2.2: each application completes
  ** before the next argument is evaluated). CALLP j n after argument j < n
  ** keeps f and the arguments when f is a closure of arity n: applying it to
  ** fewer would only build a partial application, which nobody can observe,
  ** so CALLN n then enters its frame directly. Otherwise it applies the value
  ** below argument j to it now, leaving a filler (UNINIT, never a program
  ** value) in f's slot so the stack depth is the same on both paths. */
  CASE(CALLP) {
    uint32_t j = A(), n = *pc++;
    hk_value_t x = sp[-(int32_t)j - 1];
    if (LIKELY(x.tag == HK_T_CLOSURE && IMG->funcs[((hk_closure_t *)x.as.o)->fn].arity == n)) NEXT();
    sp[0] = sp[-1];
    sp[-1] = sp[-2];
    sp[-2] = hk_mk(HK_T_UNINIT, 0);
    sp++; /* within the frame: the verifier keeps the depth <= maxstack */
    goto do_call;
  }
  CASE(CALLN)
  CASE(TCALLN) {
    cn = A();
    bool tail = (ins & 0xffu) == HK_I_TCALLN;
    hk_value_t x = sp[-(int32_t)cn - 1];
    if (LIKELY(x.tag == HK_T_CLOSURE && IMG->funcs[((hk_closure_t *)x.as.o)->fn].arity == cn)) {
      cfi = ((hk_closure_t *)x.as.o)->fn;
      cfc = (uintptr_t)x.as.o; /* the result to base - 1 */
      if (tail) goto tail_enter;
      cbase = (uint32_t)(sp - cn - vals);
      goto enter;
    }
    sp[-(int32_t)cn - 1] = sp[-2]; /* fillers below: apply the last result */
    sp[-(int32_t)cn] = sp[-1];
    sp -= cn - 1;
    if (tail) goto do_tcall;
    goto do_call;
  }
  /* f (x1, .., xn) of an unknown f (call_tupled). */
  CASE(CALLT)
  CASE(TCALLT)
    SAVE();
    AFTER(call_tupled(vm, A(), (ins & 0xffu) == HK_I_TCALLT));
    NEXT();
  CASE(CALLF)
  CASE(TCALLF) {
    cfi = A();
    cn = *pc++;
    hk_value_t c = sp[-(int32_t)cn - 1];
    cfc = (uintptr_t)cfi << 2 | HK_FC_FN; /* the result to base - 1 */
    if (IMG->funcs[cfi].ncaps) {
      if (UNLIKELY(c.tag != HK_T_CLOSURE || ((hk_closure_t *)c.as.o)->fn != cfi)) KIND_FAIL("Function", c);
      cfc = (uintptr_t)c.as.o;
    }
    if ((ins & 0xffu) == HK_I_TCALLF) goto tail_enter;
    cbase = (uint32_t)(sp - cn - vals);
    goto enter;
  }
  /* The verifier rejects a CALLG or TCALLG of a function with captures
  ** (hk_image_verify), as it does every out-of-range operand the handlers
  ** read unchecked. */
  CASE(TCALLG) {
    cfi = A();
    cn = *pc++;
    cfc = (uintptr_t)cfi << 2 | HK_FC_FN;
    goto tail_enter;
  }
  CASE(CALLG) {
    cfi = A();
    cn = *pc++;
    cfc = (uintptr_t)cfi << 2 | HK_FC_FN | HK_FC_AT_BASE; /* the result to base */
    cbase = (uint32_t)(sp - cn - vals);
  }
  /* Pushes a frame of cfi whose cn arguments are at vals[cbase..]. */
  enter:
    nf = &IMG->funcs[cfi];
    if (LIKELY(seg->nframes < seg->fcap && (size_t)cbase + nf->nlocals + nf->maxstack <= seg->cap &&
               vm->depth_left > 0)) {
      fr->pc = (uint32_t)(pc - code);
      vm->depth_left--;
      fr = &seg->frames[seg->nframes++];
      fr->pc = 0;
      fr->base = cbase;
      fr->fc = cfc;
      code = nf->code;
      pc = code + entry_pc(nf, cn);
      left -= nf->nlocals >> 6; /* frame set-up grows with the frame (SPEC 6.10) */
      locals = vals + cbase;
      for (uint32_t i = cn; i < nf->nlocals; i++) *sp++ = hk_unit();
      sp = locals + nf->nlocals; /* below the argument with no local (as CALL) */
      NEXT();
    }
    SAVE();
    if (push_frame_fc(vm, seg, cfi, cn, cbase, cfc)) goto stop;
    left -= vm->charge;
    vm->charge = 0;
    LOAD();
    NEXT();
  /* Replaces the current frame by one of cfi whose cn arguments are on top. */
  tail_enter:
    nf = &IMG->funcs[cfi];
    {
      const hk_value_t *src = sp - cn;
      sp = locals;
      for (const hk_value_t *end = src + cn; src < end;) *sp++ = *src++; /* cn is small */
    }
    if (LIKELY((size_t)fr->base + nf->nlocals + nf->maxstack <= seg->cap)) {
      fr->fc = cfc | (fr->fc & HK_FC_AT_BASE); /* the result's slot stays */
      code = nf->code;
      pc = code + entry_pc(nf, cn);
      left -= nf->nlocals >> 6; /* frame set-up grows with the frame (SPEC 6.10) */
      for (uint32_t i = cn; i < nf->nlocals; i++) *sp++ = hk_unit();
      sp = locals + nf->nlocals; /* below the argument with no local (as CALL) */
      NEXT();
    }
    SAVE();
    if (reuse_frame_fc(vm, seg, cfi, cn, cfc)) goto stop;
    left -= vm->charge;
    vm->charge = 0;
    LOAD();
    NEXT();
  /* A self tail call (compile.c, self_tail_call): the frame, its closure
  ** and its function stay; the changed arguments go to their slots in
  ** place, and the other locals are reset as tail_enter does, so no stale
  ** value stays reachable (SPEC 6.11.3). */
  CASE(TLOOP) tloop: {
    uint32_t m = A() & 0xffffu, k = A() >> 16;
    nf = &IMG->funcs[hk_frame_fn(fr)];
    for (; m; m &= ~(0x80000000u >> __builtin_clz(m))) /* the last changed one is on top */
      locals[31 - __builtin_clz(m)] = *--sp;
    sp = locals + k;
    for (uint32_t i = k; i < nf->nlocals; i++) *sp++ = hk_unit();
    left -= nf->nlocals >> 6; /* frame set-up grows with the frame (SPEC 6.10) */
    pc = code + entry_pc(nf, k);
    NEXT();
  }
  /* TLOOP whose changed arguments are one run j..j+r-1 (or none), of a
  ** function of under 64 locals (compile.c, straight_loops): the run, the
  ** argument count, the count of locals to reset and the entry are in the
  ** operand, checked against the function by the verifier, so no function
  ** lookup and no bit loop; the same effect and charge as its TLOOP. */
  CASE(TLOOPR) {
    uint32_t a = A(), r = a >> 4 & 31u, z = a >> 16;
    hk_value_t *d = locals + (a & 15u);
    /* Runs of one or two and resets of up to two are the usual loops
    ** (counting's two, ring's, fanin's): straight stores for those, a loop
    ** for the rest (the counted loops cost ~20 instructions each). */
    if (r) {
      sp -= r; /* the first changed one is deepest */
      d[0] = sp[0];
      if (r > 1) {
        d[1] = sp[1];
        for (uint32_t i = 2; i < r; i++) d[i] = sp[i];
      }
    }
    sp = locals + (a >> 9 & 63u);
    RESET_LOCALS(z);
    pc = code + (a >> 15 & 1u);
    NEXT();
  }
#undef RESET_LOCALS
  CASE(RET) {
    hk_value_t v = sp[-1];
    if (LIKELY(seg->nframes > 1)) {
      seg->nframes--;
      vm->depth_left++;
      sp = vals + hk_frame_ret(fr);
      *sp++ = v;
      fr--;
      code = IMG->funcs[hk_frame_fn(fr)].code;
      pc = code + fr->pc;
      locals = vals + fr->base;
      NEXT();
    }
    SAVE();
    AFTER(return_value(vm, v));
    NEXT();
  }

  CASE(HANDLE) {
    fr->pc = (uint32_t)(pc - code);
    seg->sp = (uint32_t)(sp - vals);
    AFTER(do_handle(vm, A(), false));
    NEXT();
  }
  CASE(THANDLE) {
    SAVE();
    AFTER(do_handle(vm, A(), true));
    NEXT();
  }
  CASE(PERFORM) {
    SAVE();
    AFTER(do_perform(vm, A()));
    NEXT();
  }
  CASE(RESUME) {
    hk_value_t w = sp[-1], k = sp[-2];
    sp -= 2;
    SAVE();
    AFTER(do_resume(vm, k, w));
    NEXT();
  }
  CASE(TRESUME) {
    hk_value_t w = sp[-1], k = sp[-2];
    sp -= 2;
    SAVE();
    if (k.tag != HK_T_CONT) FAIL("resume: expected continuation");
    discard_frame(vm);
    AFTER(do_resume(vm, k, w));
    NEXT();
  }

#if !(defined(__GNUC__) && !defined(HK_NO_COMPUTED_GOTO))
  default: FAIL("invalid instruction");
  }
#endif

out_of_budget:
  left++; /* the dispatch that found no budget left executed nothing */
  SAVE();
  if (fuel_cap) {
    hk_vm_fail_kind(vm, HK_FAIL_FUEL, 0, 0);
    vm->state = HK_VS_FAILED;
  }
  return finish(vm, slice, left);

stop:
  return finish(vm, slice, left);
#undef IMG
}
