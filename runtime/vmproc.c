/* vmproc.c — a process running a VM instance, and the process builtins of
** SPEC §6 (spawn, spawn_detached, self, send_message, receive_message,
** receive_timeout, await_process, await_result, cancel, wait_any).
**
** The VM stops a slice with HK_RUN_REQUEST for every PROC/ASYNC builtin
** (vm/host.h); serve() answers it at once, or asks the process layer to block
** (the request stays pending and is served again when the process runs next:
** every wait re-checks its condition, see proc.h). Message, spawn and result
** values travel as VM message blocks (hk_value_copy_out / hk_vm_adopt);
** a failure travels as a block holding the `failure` value.
** Thread: a process's worker. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/native.h"
#include "runtime/rt.h"
#include "runtime/rtio.h"
#include "runtime/value.h"
#include "vm/builtins.h"
#include "vm/check.h"
#include "vm/image.h"

#define DEADLOCK_MSG "deadlock: process blocked with no possible waker"

enum { SERVE_CONTINUE, SERVE_BLOCK, SERVE_YIELD };

/* Right after its record, in the same allocation (alloc_proc); the record's
** body is the VM instance after it (vm_of). */
/* What only a process that waits for several children (wait_any) or was
** failed by a child needs: allocated then (join_room), kept with its table
** of children (hk_proc_kids_user: only a parent has one). */
typedef struct join {
  hk_msg_t *child_failure; /* the failure of a child that failed us (ChildFailed) */
  uint32_t cap;            /* of set */
  hk_child_t *set[];       /* links of the current join wait */
} join_t;

typedef struct vmproc {
  hk_pdata_t pd; /* first: hk_pd_of(p) points here */
  /* The last receiver: a record with our reference (repeated sends to the
  ** same receiver skip the pid-map lookup; dropped when it terminates), or
  ** (pid << 1) | 1 after a first send that took no reference (send_inline);
  ** 0 before any send. */
  uintptr_t last;
} vmproc_t;
static_assert(sizeof(vmproc_t) == 24, "runtime data of a process: 24 bytes");

/* The receiver vp->last holds a reference to, or NULL. */
static inline hk_proc_t *last_proc(const vmproc_t *vp) {
  return (vp->last & 1) ? NULL : (hk_proc_t *)vp->last;
}


/* The instance placed after [vp] (alloc_proc): the body. */
static hk_vm_t *vm_of(vmproc_t *vp);

/* [p]'s join record, or NULL. */
static join_t *join_of(hk_proc_t *p) {
  void **slot = hk_proc_kids_user(p);
  return slot ? *slot : NULL;
}

static uint32_t reductions(const hk_vm_t *vm) { return hk_vm_reductions(vm); }

static uint64_t copy_limit(const hiko_runtime_t *rt) { return rt->cfg.max_heap; }

static hk_pcounters_t *my_counters(hiko_runtime_t *rt) { return hk_procs_counters(rt->procs); }

/* ---- Failure values (SPEC §3.4, §6.3) ------------------------------------- */

/* Builds [f] as a `failure` value in [vm]'s heap. */
static int failure_value(vmproc_t *vp, const hk_failure_t *f, hk_value_t *out) {
  hk_vm_t *vm = vm_of(vp);
  switch (f->kind) {
  case HK_FAIL_CANCELLED: *out = hk_data0(HK_CTOR_CANCELLED); return 0;
  case HK_FAIL_FUEL: *out = hk_data0(HK_CTOR_FUEL_EXHAUSTED); return 0;
  case HK_FAIL_ALREADY_JOINED: *out = hk_data0(HK_CTOR_ALREADY_JOINED); return 0;
  case HK_FAIL_HEAP_LIMIT: {
    hk_value_t items[2] = {hk_int(f->a), hk_int(f->b)}, t;
    int rc = hk_alloc_tuple(vm, 2, items, &t);
    return rc ? rc : hk_alloc_data(vm, HK_CTOR_HEAP_LIMIT, t, out);
  }
  default: break;
  }
  join_t *j = join_of((hk_proc_t *)(void *)vp - 1);
  if (j && j->child_failure) { /* failed by await_process of a failed child */
    hk_value_t inner;
    hk_vm_adopt(vm, j->child_failure, &inner);
    j->child_failure = NULL;
    return hk_alloc_data(vm, HK_CTOR_CHILD_FAILED, inner, out);
  }
  const char *msg = f->message ? f->message : "failed";
  hk_value_t s;
  int rc = hk_alloc_string(vm, msg, strlen(msg), &s);
  return rc ? rc : hk_alloc_data(vm, HK_CTOR_RUNTIME_ERROR, s, out);
}

/* Appends render(v) of a failure value (SPEC §6.3.4) to a malloc'ed
** buffer. Iterative over ChildFailed chains. */
static char *render_failure(hk_value_t v) {
  size_t depth = 0;
  while (v.tag == HK_T_DATA && hk_data_ctor(v) == HK_CTOR_CHILD_FAILED) {
    depth++;
    v = hk_as_data(v)->payload;
  }
  char *tail = NULL;
  int n = -1;
  switch (v.tag == HK_T_DATA0 || v.tag == HK_T_DATA ? hk_data_ctor(v) : ~0u) {
  case HK_CTOR_RUNTIME_ERROR: {
    hk_value_t s = hk_as_data(v)->payload;
    n = s.tag == HK_T_STRING ? asprintf(&tail, "%.*s", (int)hk_str_len(s), hk_str_data(s)) : -1;
    break;
  }
  case HK_CTOR_CANCELLED: tail = strdup("cancelled"); break;
  case HK_CTOR_FUEL_EXHAUSTED: tail = strdup("fuel exhausted"); break;
  case HK_CTOR_ALREADY_JOINED: tail = strdup("already joined"); break;
  case HK_CTOR_HEAP_LIMIT: {
    hk_value_t t = hk_as_data(v)->payload;
    if (t.tag == HK_T_TUPLE && hk_tuple_len(t) == 2)
      n = asprintf(&tail, "heap limit exceeded: %" PRId64 " objects (max %" PRId64 ")",
                   hk_as_int(hk_tuple_at(t, 0)), hk_as_int(hk_tuple_at(t, 1)));
    break;
  }
  default: tail = strdup("failed"); break;
  }
  (void)n;
  if (!tail) return NULL;
  static const char prefix[] = "child process failed: ";
  size_t plen = sizeof prefix - 1, tlen = strlen(tail);
  char *out = malloc(depth * plen + tlen + 1);
  if (!out) { free(tail); return NULL; }
  for (size_t i = 0; i < depth; i++) memcpy(out + i * plen, prefix, plen);
  memcpy(out + depth * plen, tail, tlen + 1);
  free(tail);
  return out;
}

/* ---- Per-process data ------------------------------------------------------ */

/* Right after the control block (alloc_proc). */
static vmproc_t *vp_of(hk_proc_t *p) { return hk_proc_extra(p); }

/* p->rt_start (runtime/proc.h): bit 0, and above it the short slices
** still to run (HK_RT_BEHIND each). */
#define HK_RT_RECV_BLOCKED 1u
#define HK_RT_BEHIND 2u
/* The short slices a sender runs after it found its receiver behind
** (note_behind), unless a later slow path finds it behind again: a
** fan-in's sender takes the slow path every 16-32 of them. A sender that
** stops sending to it so returns to whole slices by itself. */
#define HK_RT_BEHIND_SLICES 127u
/* A sender's slice while its receiver is behind (note_behind): two of a
** fan-in's sends (9 reductions each), so that the receiver sharing the
** worker gets it (measured: bench/README.md, "Fan-in backlog, stop 18"). */
#define HK_RT_BEHIND_BUDGET 20

void hk_vmproc_free_body(hk_proc_t *p) {
  if (!hk_proc_has_body(p)) return; /* never started, or freed */
  vmproc_t *vp = vp_of(p);
  hiko_runtime_t *rt = vp->pd.root->rt;
  hk_rtio_proc_end(p); /* pending I/O cancelled, owned sockets closed */
  hk_native_proc_end(p); /* a blocking native call is abandoned */
  hk_vm_t *vm = vm_of(vp);
  uint64_t gc_runs = hk_vm_gc_runs(vm); /* not hk_vm_get_stats: it walks the heap */
  /* Relaxed RMW: a statistic; the shared shard has several writers.
  ** Most processes never collect: no locked RMW for them. */
  if (gc_runs) atomic_fetch_add_explicit(&my_counters(rt)->gc_runs, gc_runs, memory_order_relaxed);
  hk_vm_free(vm);
  join_t *j = join_of(p); /* before proc.c frees the table of children */
  if (j) {
    if (j->child_failure) hk_msg_free(j->child_failure);
    free(j);
    *hk_proc_kids_user(p) = NULL;
  }
  if (last_proc(vp)) hk_proc_unref(last_proc(vp));
  /* vp and the instance are in p's own allocation (alloc_proc). */
  hk_proc_clear_body(p);
  /* Last: the instance read the tree's store and image until freed. */
  hk_rt_tree_leave(rt, vp->pd.root);
}

void hk_vmproc_drop_payload(void *ud, void *payload) {
  (void)ud;
  hk_msg_free(payload);
}

static hk_task_result_t traced_run(hk_task_t *t, hk_worker_t *w, int32_t *budget);

/* A process is one allocation (docs/runtime.md, "Memory of a process"):
** the control block, then this file's vmproc_t, then the VM instance with
** the first stack slots and FIRST_FRAMES frames of its root segment and a
** first heap chunk, which receives the spawned closure. A child's first
** stack fits the spawned closure's frame, or the frame of the known
** function it ends by tail-calling (hk_vm_call_slots), and its first heap
** chunk the closure object and FIRST_HEAP_SPARE bytes; a root's has FIRST_VALS slots and FIRST_HEAP
** bytes. The bytes by which the record rounds up to its block-cache class
** go to the heap chunk too. Enough for a process that allocates a little
** and then blocks (a server waiting for its next message) or returns (a
** skynet leaf); beyond that it grows like any stack and heap. */
#define FIRST_VALS 10u
#define FIRST_FRAMES 1u
#define FIRST_HEAP 96u
/* Beyond a child's closure: nothing asked for. A builtin call's argument
** tuple (send_message (p, x)) is not allocated (vm CALLBT), and what the
** record's rounding to its block-cache class leaves (0 up to 768 bytes,
** 0-48 beyond) goes to the chunk: every spare byte is a byte of every such
** process. */
#define FIRST_HEAP_SPARE 0u
/* The instance starts 16-byte aligned in the 16-byte aligned record. */
#define VP_SIZE \
  (((sizeof(hk_proc_t) + sizeof(vmproc_t) + 15) & ~(size_t)15) - sizeof(hk_proc_t))

/* The record [vm] is placed in (alloc_proc): every instance of a process. */
static inline hk_proc_t *proc_of(hk_vm_t *vm) {
  return (hk_proc_t *)(void *)((char *)vm - VP_SIZE - sizeof(hk_proc_t));
}
hk_proc_t *hk_vmproc_of(hk_vm_t *vm) { return proc_of(vm); }
/* The instance placed after [vp] (alloc_proc): the body. */
static hk_vm_t *vm_of(vmproc_t *vp) { return (hk_vm_t *)(void *)((char *)vp + VP_SIZE); }

static hk_vm_config_t vm_config(const hiko_runtime_t *rt, uint64_t fuel) {
  hk_vm_config_t vc = {
      .max_heap = rt->cfg.max_heap,
      .max_stack_depth = rt->cfg.max_stack_depth,
      .fuel = fuel,
      .fuel_limited = rt->cfg.fuel_limited || rt->cfg.fuel != 0,
  };
  return vc;
}

/* A record with its body's memory: *vm is placed, not started. [vals]:
** the first stack slots (0: FIRST_VALS); [heap]: the first heap chunk's
** bytes at least (0: none). */
static hk_proc_t *alloc_proc(hiko_runtime_t *rt, const hk_image_t *img, uint64_t fuel,
                             uint32_t vals, size_t heap, hk_vm_t **vm) {
  if (!vals) vals = FIRST_VALS;
  size_t extra = VP_SIZE + hk_vm_place_size(vals, FIRST_FRAMES, heap);
  /* Up to the small classes' end a record of a multiple of 16 bytes is
  ** exactly its class: nothing to add (most processes). */
  static_assert((sizeof(hk_proc_t) + VP_SIZE) % HK_BCACHE_SMALL_STEP == 0, "the instance's offset");
  if (heap && sizeof(hk_proc_t) + extra > HK_BCACHE_SMALL_MAX) {
    /* a multiple of 16: the chunk grows by exactly that */
    size_t more = (hk_proc_room(extra) - extra) & ~(size_t)15;
    heap += more;
    extra += more;
  }
  hk_proc_t *p = hk_proc_alloc(extra);
  if (!p) return NULL;
  vmproc_t *vp = hk_proc_extra(p);
  memset(vp, 0, sizeof *vp);
  hk_vm_config_t vc = vm_config(rt, fuel);
  *vm = hk_vm_place((char *)vp + VP_SIZE, vals, FIRST_FRAMES, heap, img, &rt->host, &vc);
  if (!*vm) {
    hk_proc_dispose(p);
    return NULL;
  }
  assert(proc_of(*vm) == p);
  return p;
}

/* Undoes alloc_proc for a record that was never registered. */
static void dispose_proc(hk_proc_t *p, hk_vm_t *vm) {
  hk_vm_free(vm);
  hk_proc_dispose(p);
}

/* Registers a record from alloc_proc whose VM is ready to run. On failure
** the caller still owns p (dispose_proc). */
static int new_proc(hiko_runtime_t *rt, hk_proc_t *parent, bool detached, hk_root_t *root,
                    hk_proc_t *p, hk_vm_t *vm) {
  int rc = hk_proc_register(rt->procs, parent, detached, p);
  if (rc) return rc;
  vmproc_t *vp = hk_proc_extra(p);
  vp->pd.root = root;
  hk_rt_tree_enter(root);
  assert(vm == vm_of(vp));
  (void)vm;
  hk_proc_set_body(p);
  if (rt->trace_all) p->task.run = traced_run;
  return 0;
}

int hk_vmproc_new_root(hiko_runtime_t *rt, hk_root_t *root, hk_proc_t **out) {
  hk_vm_t *vm;
  hk_proc_t *p = alloc_proc(rt, root->img, rt->cfg.fuel, 0, FIRST_HEAP, &vm);
  if (!p) return -ENOMEM;
  int rc = hk_vm_start_main(vm);
  if (!rc) rc = new_proc(rt, NULL, false, root, p, vm);
  if (rc) dispose_proc(p, vm);
  else *out = p;
  return rc;
}

/* ---- Requests ------------------------------------------------------------------- */

#define fail(...) HK_RTIO_FAIL(__VA_ARGS__)

static int complete(hk_vm_t *vm, hk_value_t v) {
  hk_vm_complete(vm, v);
  return SERVE_CONTINUE;
}

static int copy_error(hk_vm_t *vm, const char *name, int rc, uint64_t limit) {
  if (rc == -EINVAL) return fail(vm, "%s: cannot send continuations across processes", name);
  if (rc == -E2BIG)
    return fail(vm, "%s: value too large (more than %" PRIu64 " objects)", name,
                limit ? limit : (uint64_t)1 << 28);
  return fail(vm, "out of memory");
}

static int serve_spawn(hk_proc_t *p, hk_worker_t *w, hk_vm_t *vm, hk_value_t fn, bool detached) {
  vmproc_t *vp = vp_of(p);
  hiko_runtime_t *rt = vp->pd.root->rt;
  /* The builtin's name is only for the failures (SPEC §8.1.3: wrong kinds
  ** fail "NAME: expected SHAPE"): not computed on the way that succeeds. */
#define SPAWN_NAME (detached ? "spawn_detached" : "spawn")
  if (!hk_is_function(fn)) return fail(vm, "%s: expected Unit -> 'a", SPAWN_NAME);
  hk_root_t *root = vp->pd.root;
  uint64_t fuel = hk_vm_fuel_left(vm); /* the child gets what is left (SPEC §6.11.1) */
  hk_vm_t *cvm;
  /* The first stack holds the closure's frame, the first heap chunk the
  ** closure (and what the record's rounding leaves): a child that
  ** calls deeper or allocates more grows them (bench/README.md, "Memory per
  ** process"). */
  const hk_image_t *img = hk_vm_image(vm);
  hk_proc_t *c = alloc_proc(rt, img, fuel, hk_vm_call_slots(img, fn),
                            hk_vm_closure_bytes(fn) + FIRST_HEAP_SPARE, &cvm);
  if (!c) return fail(vm, "out of memory");
  /* The closure goes straight into the child's heap (code is shared,
  ** captures are copied: SPEC §6.4.1). */
  hk_value_t cfn;
  uint64_t objects;
  int rc = hk_vm_copy_in(cvm, fn, copy_limit(rt), &cfn, &objects);
  if (rc) {
    dispose_proc(c, cvm);
    return copy_error(vm, SPAWN_NAME, rc, copy_limit(rt));
  }
#undef SPAWN_NAME
  hk_vm_charge(vm, objects); /* 1 + objects / 64 (SPEC §6.10.1; the 1 is the CALLB's) */
  /* The global store (SPEC §6.4.3, §10.6.5): the root exports what it
  ** initialised since its last spawn; every child reads the shared copy. */
  if (p->link) {
    /* A child spawning: its child gets the array it reads itself, by one
    ** more reference and without a lock (hk_vm_share_globals). */
    rc = hk_vm_share_globals(cvm, vm);
  } else {
    /* Only the root's thread writes root->globals (until its tree is gone)
    ** and exports into it: no lock. Nothing set since the last export
    ** (most spawns of a root that spawns many): no call, which saved
    ** registers for nothing (30 instructions a spawn, callgrind). */
    if (!root->globals || hk_vm_globals_dirty(vm)) rc = hk_globals_export(vm, &root->globals);
    if (rc == 0 && root->globals) rc = hk_vm_use_globals(cvm, root->globals);
  }
  if (rc) {
    dispose_proc(c, cvm);
    return fail(vm, "out of memory");
  }
  if ((rc = hk_vm_start_call(cvm, cfn)) == 0)
    rc = new_proc(rt, p, detached, vp->pd.root, c, cvm);
  if (rc) {
    dispose_proc(c, cvm);
    if (rc == -EAGAIN)
      return fail(vm, "spawn: process limit reached (%" PRIu64 ")", rt->cfg.max_processes);
    return fail(vm, "out of memory");
  }
  uint64_t pid = hk_proc_pid(c);
  hk_proc_start(c, w); /* run-next hand-off (SPEC §10.3.2); c is the child's now */
  return complete(vm, hk_pid(pid));
}

/* Fails the sender of a message that cannot leave its tree (rc from
** hk_value_copy_detached or cross_tree). */
static int cross_error(hk_vm_t *vm, int rc, const hk_image_t *img, uint32_t missing,
                       uint64_t limit) {
  if (rc == -EXDEV)
    return fail(vm, "send_message: cannot send functions to a process of another program");
  if (rc == -ENOENT) {
    const hk_ctor_info_t *k = &img->ctors[missing];
    const char *dt = k->datatype < img->ndatatypes ? img->datatypes[k->datatype] : "?";
    return fail(vm,
                "send_message: cannot send constructor %s of %s to a process of another "
                "program that does not define it",
                k->name, dt);
  }
  return copy_error(vm, "send_message", rc, limit);
}

/* The payload of a message for [target] in another root's tree (SPEC
** §6.1.3, §12): a detached copy, with no pointer into this tree's global
** store, whose life ends with this tree, and, for another program, with
** its constructors translated by name and datatype and functions refused
** (§6.12.1, §6.12.5; docs/runtime.md "Messages between programs"). The
** copy is charged like any send. Returns 0, or a code for cross_error with
** *missing set. For a target running [img]. */
static int cross_tree_copy(hk_proc_t *p, hk_vm_t *vm, const hk_image_t *img, hk_value_t v,
                           hk_envelope_t *env, uint32_t *missing) {
  if (!hk_is_obj(v)) {
    env->payload = NULL;
    env->aux[0] = v.tag;
    env->aux[1] = v.as.u;
    if (img == hk_vm_image(vm)) return 0;
    if (hk_is_function(v)) return -EXDEV;
    if (v.tag != HK_T_DATA0) return 0;
    int64_t c = hk_image_ctor_map(hk_vm_image(vm), (uint32_t)v.as.u, img);
    if (c < 0) *missing = (uint32_t)v.as.u;
    else env->aux[1] = (uint64_t)c;
    return c < 0 ? -ENOENT : 0;
  }
  hk_msg_t *m;
  int rc = hk_value_copy_detached(vm, v, copy_limit(hk_rt_of(p)), img, &m, missing);
  if (rc) return rc;
  hk_vm_charge(vm, hk_msg_objects(m));
  env->payload = m;
  return 0;
}

/* cross_tree_copy for [target]; -ESRCH when target's tree is gone (every
** process of it has terminated, target too: the message will be dropped). */
static int cross_tree(hk_proc_t *p, hk_vm_t *vm, hk_proc_t *target, hk_value_t v,
                      hk_envelope_t *env, uint32_t *missing) {
  hiko_program_t *prog = hk_rt_tree_program(hk_rt_of(p), target->root_pid);
  if (!prog) return -ESRCH; /* its tree is gone: target has terminated */
  int rc = cross_tree_copy(p, vm, hk_program_image(prog), v, env, missing);
  hiko_program_release(prog);
  return rc;
}

/* [env] holding the immediate [v]. */
static inline hk_envelope_t *immediate_in(hk_envelope_t *env, hk_value_t v) {
  env->payload = NULL;
  env->aux[0] = v.tag;
  env->aux[1] = v.as.u;
  return env;
}

/* The envelope placed in [room] of message block [m]. */
static inline hk_envelope_t *envelope_in(hk_msg_t *m, void *room) {
  hk_envelope_t *env = room;
  env->aux[0] = HK_ENV_IN_PAYLOAD;
  env->payload = m;
  return env;
}

static hk_envelope_t *envelope_or_fail(hk_vm_t *vm) {
  hk_envelope_t *env = hk_envelope_new();
  if (!env) fail(vm, "out of memory");
  else env->payload = NULL;
  return env;
}

/* The envelope carrying [v] to [target] (NULL: a pid that is unknown or has
** ended; the value is still copied, so an unsendable one fails the sender).
** A value copied into one small block carries its envelope inside that
** block (HK_ENV_IN_PAYLOAD): one allocation, one free with the receiver's
** heap, and one cache line fewer for the receiver to fetch. Returns NULL
** having failed the sender. */
static __attribute__((noinline)) hk_envelope_t *make_envelope_copy(hk_proc_t *p, hk_vm_t *vm,
                                                                    hk_proc_t *target,
                                                                    hk_value_t v) {
  hiko_runtime_t *rt = hk_rt_of(p);
  hk_envelope_t *env;
  hk_msg_t *m;
  void *room;
  int rc;
  if (v.tag == HK_T_TUPLE && target && target->root_pid == p->root_pid) {
    /* A tuple whose components need no copy (fanin's (i, literal), SENDT's
    ** message, most protocol messages): written into its block at once,
    ** the envelope inside, without the general copy's cases. */
    if ((rc = hk_tuple_copy_out_room(v, sizeof *env, &m, &room)) == 0)
      return envelope_in(m, room);
    if (rc < 0) {
      fail(vm, "out of memory");
      return NULL;
    }
  }
  if (target && target->root_pid != p->root_pid) {
    if (!(env = envelope_or_fail(vm))) return NULL;
    uint32_t missing = 0;
    if ((rc = cross_tree(p, vm, target, v, env, &missing)) == 0) return env;
    hk_envelope_free(env);
    if (rc != -ESRCH) {
      cross_error(vm, rc, hk_vm_image(vm), missing, copy_limit(rt));
      return NULL;
    }
    /* Target's tree is gone: copied as for an ended pid, then dropped. */
  }
  /* An immediate travels inside the envelope; anything else as a block. */
  if (!hk_is_obj(v)) {
    if (!(env = envelope_or_fail(vm))) return NULL;
    return immediate_in(env, v);
  }
  if ((rc = hk_value_copy_out_room(vm, v, copy_limit(rt), sizeof *env, &m, &room))) {
    copy_error(vm, "send_message", rc, copy_limit(rt));
    return NULL;
  }
  if ((env = room)) {
    env->aux[0] = HK_ENV_IN_PAYLOAD;
  } else if (!(env = envelope_or_fail(vm))) {
    hk_msg_free(m);
    return NULL;
  }
  env->payload = m;
  return env;
}

/* make_envelope_copy with its usual case inline: an immediate (Inc, an Int,
** a pid) for a process of our own tree needs no copy and no check, only an
** envelope from this thread's cache. */
static inline hk_envelope_t *make_envelope(hk_proc_t *p, hk_vm_t *vm, hk_proc_t *target,
                                           hk_value_t v) {
  if (hk_is_obj(v) || (target && target->root_pid != p->root_pid))
    return make_envelope_copy(p, vm, target, v);
  hk_envelope_t *env = envelope_or_fail(vm);
  return env ? immediate_in(env, v) : NULL;
}

/* The send's Unit result: completed for a request, or left to the
** interpreter for hk_host_t.send_now ([unit] false). */
static inline int sent(hk_vm_t *vm, bool unit) {
  return unit ? complete(vm, hk_unit()) : SERVE_CONTINUE;
}

/* send_inline's first send of immediate [v] to [to]: pushed without a
** reference, to the parent through its record (it stays allocated while we
** run, even if it ended: hk_proc_parent), to any other process under the
** pid map's lock (hk_proc_send_env_pid). Returns -EXDEV when [to] is a
** port or another tree's process (nothing done: the caller takes its
** reference path), else the request's outcome ([unit]: as send_inline's).
** send_inline calls send_first, its out-of-line copy: inlined it made every
** process loop's run function longer. */
static inline __attribute__((always_inline)) int send_first_inline(hk_proc_t *p, hk_worker_t *w,
                                                                   hk_vm_t *vm, uint64_t to,
                                                                   hk_value_t v, bool unit) {
  hk_envelope_t *env = envelope_or_fail(vm);
  if (!env) return SERVE_CONTINUE;
  immediate_in(env, v);
  hk_procs_t *P = p->procs;
  hk_proc_t *parent = hk_proc_parent(p);
  if (parent && hk_proc_pid(parent) == to) {
    hk_proc_send_env(P, parent, env, w); /* our tree's: an immediate needs no copy */
  } else if (hk_proc_send_env_pid(P, to, p->root_pid, env, w) == -EXDEV) {
    hk_envelope_free(env);
    return -EXDEV;
  }
  vmproc_t *vp = vp_of(p);
  hk_proc_t *last = last_proc(vp);
  if (last) hk_proc_unref(last);
  vp->last = ((uintptr_t)to << 1) | 1;
  return sent(vm, unit);
}
static __attribute__((noinline)) int send_first(hk_proc_t *p, hk_worker_t *w, hk_vm_t *vm,
                                                uint64_t to, hk_value_t v, bool unit) {
  return send_first_inline(p, w, vm, to, v, unit);
}

/* send_message (to, v), inline in hk_vmproc_send_now and in
** hk_vmproc_serve_now (every send of a process loop goes through one: no
** call, no saved registers); serve() calls the out-of-line copy. With
** [unit], the request is completed with Unit. */
static inline __attribute__((always_inline)) int send_inline(hk_proc_t *p, hk_worker_t *w,
                                                             hk_vm_t *vm, hk_value_t to,
                                                             hk_value_t v, bool unit) {
  hiko_runtime_t *rt = hk_rt_of(p);
  if (to.tag != HK_T_PID) return fail(vm, "send_message: expected Pid * 'a");
  /* Relaxed: a hint; a port opened concurrently with this send is found by
  ** the lookup below only if it already has the pid the program holds. */
  if (atomic_load_explicit(&rt->ports_open, memory_order_relaxed) != 0) {
    hk_pmentry_t *e = hk_pidmap_get(hk_procs_pidmap(rt->procs), to.as.u);
    if (e && e->kind != 0) {
      int rc = hk_port_send_value(rt, e, vm, v);
      hk_pmentry_unref(e);
      if (rc == -ENOMEM) return fail(vm, "out of memory");
      return sent(vm, unit);
    }
    if (e) hk_pmentry_unref(e);
  }
  vmproc_t *vp = vp_of(p);
  hk_envelope_t *env;
  hk_proc_t *last = last_proc(vp);
  if (last && hk_proc_pid(last) == to.as.u) {
    if (!(env = make_envelope(p, vm, last, v))) return SERVE_CONTINUE;
    if (hk_proc_send_env(rt->procs, last, env, w) != 0) { /* it ended: forget it */
      hk_proc_unref(last);
      vp->last = 0;
    }
    return sent(vm, unit);
  }
  uintptr_t hint = ((uintptr_t)to.as.u << 1) | 1;
  if (!hk_is_obj(v) && vp->last != hint) {
    /* A first send to this pid with an immediate (no copy, so nothing to
    ** do with the receiver before the push): pushed without a reference,
    ** to the parent directly, to any other process under the pid map's
    ** lock. A spawned child's one message to its parent then writes
    ** nothing on the parent's first cache line, which the parent's worker
    ** reads at its every spawn (bench/README.md, "Spawn path 4"). A second
    ** send in a row to the same pid takes the reference path below and
    ** keeps the record for the next ones. */
    int rc = send_first(p, w, vm, to.as.u, v, unit);
    if (rc != -EXDEV) return rc;
  }
  hk_proc_t *target = hk_proc_get(rt->procs, to.as.u);
  if (!(env = make_envelope(p, vm, target, v))) {
    if (target) hk_proc_unref(target);
    return SERVE_CONTINUE;
  }
  if (!target) {
    /* Unknown or ended: dropped and counted. */
    hk_msg_t *m = env->payload;
    hk_envelope_free(env);
    hk_proc_send(rt->procs, to.as.u, m, w);
    return sent(vm, unit);
  }
  if (hk_proc_send_env(rt->procs, target, env, w) == 0) {
    if (last) hk_proc_unref(last);
    vp->last = (uintptr_t)target; /* keeps our reference */
  } else {
    hk_proc_unref(target);
  }
  return sent(vm, unit);
}

/* send_inline for a request's argument [arg]. */
static inline __attribute__((always_inline)) int send_arg(hk_proc_t *p, hk_worker_t *w,
                                                          hk_vm_t *vm, hk_value_t arg) {
  if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2)
    return fail(vm, "send_message: expected Pid * 'a");
  return send_inline(p, w, vm, hk_tuple_at(arg, 0), hk_tuple_at(arg, 1), true);
}

static int serve_send(hk_proc_t *p, hk_worker_t *w, hk_vm_t *vm, hk_value_t arg) {
  return send_arg(p, w, vm, arg);
}

static __attribute__((noinline)) int drop_cancelled(hk_envelope_t *env) {
  /* Cancelled while running (a parent that ended, SPEC §6.8.1): a message
  ** sent after the cancel, e.g. by whoever joined that parent, is not
  ** acted on. Dropped, and the slice ends: end_slice terminates p. */
  hk_msg_t *m = env->payload;
  hk_envelope_free(env); /* before the payload: it may live inside it */
  if (m) hk_msg_free(m);
  return -1;
}

/* take_value's part after the pop of [env] (the same results). */
static inline __attribute__((always_inline)) int take_env(hk_proc_t *p, hk_vm_t *vm,
                                                          hk_envelope_t *env, hk_value_t *v) {
  /* After the pop (its acquire): a cancel made before the message was
  ** sent is seen. */
  if (__builtin_expect(hk_proc_cancel_requested(p), 0)) return drop_cancelled(env);
  if (!env->payload) {
    *v = hk_mk((hk_tag_t)env->aux[0], env->aux[1]);
    hk_envelope_free(env);
    return 1;
  }
  hk_vm_adopt(vm, env->payload, v);
  hk_envelope_free(env);
  return 2;
}

/* Takes a message if one is there: 2 (a block adopted, its value in *v), 1
** (an immediate in *v), 0 (none), -1 (a sender is mid-push, or a cancel
** dropped it: yield). */
static inline __attribute__((always_inline)) int take_value(hk_proc_t *p, hk_vm_t *vm,
                                                            hk_value_t *v) {
  hk_envelope_t *env;
  int rc = hk_proc_recv_env_owner(p, &env);
  if (rc == -EBUSY) return -1;
  if (rc != 0) return 0;
  return take_env(p, vm, env, v);
}

/* Takes a message if one is there: 1 (completed), 0 (none), -1 (a sender is
** mid-push: yield). Inline in the receives of a process loop (serve_now
** and serve_receive); try_take is the out-of-line copy. */
static inline __attribute__((always_inline)) int take_inline(hk_proc_t *p, hk_vm_t *vm) {
  hk_value_t v;
  int r = take_value(p, vm, &v);
  if (r <= 0) return r;
  hk_vm_complete(vm, v);
  /* A receive loop may allocate nothing else: without this safe point its
  ** heap would never reach a collection and keep every block it adopted. */
  if (r == 2) hk_vm_safepoint(vm);
  return 1;
}

static int try_take(hk_proc_t *p, hk_vm_t *vm) { return take_inline(p, vm); }

static int serve_receive(hk_proc_t *p, hk_vm_t *vm) {
  if (hk_proc_doomed(p)) return fail(vm, DEADLOCK_MSG);
  int r = 0;
  if (p->rt_recv_empty) p->rt_recv_empty = false; /* a message since: arm_recv sees it */
  else r = try_take(p, vm);
  if (r > 0) return SERVE_CONTINUE;
  if (r < 0) return SERVE_YIELD;
  hk_proc_wait_recv(p);
  p->rt_start |= HK_RT_RECV_BLOCKED;
  return SERVE_BLOCK;
}

/* A root that set globals since its last export exports them before it
** hands any value to another process (send, spawn, a native builtin, I/O),
** so a child that receives a closure reading a later global finds it in the
** store (SPEC §6.4.3, §10.6.5; hk_vm_globals_refresh). Before the first
** spawn there is no store and no child: nothing to do. root->globals is
** written only on the root's own thread, so the unlocked read is safe. */
static int export_globals(hk_proc_t *p, hk_vm_t *vm) {
  hk_root_t *root = vp_of(p)->pd.root;
  if (p->link || !root->globals || !hk_vm_globals_dirty(vm)) return 0;
  int rc = hk_globals_export(vm, &root->globals);
  return rc;
}

/* host.serve_now (vm/host.h): self, send_message, spawn (unless the fuel is
** limited), a receive_message that finds a message and an await_process of
** a child done with an immediate result never block, so they
** are served inside the slice
** without leaving the interpreter (no slice exit and re-entry per message);
** the same serve functions as below, so the semantics are the same. The
** socket sends and receives too (hk_rtio_serve_now): one that must wait
** for the I/O thread is submitted here and left pending, and the slice
** stops (serve() then blocks on it, host.h). Any
** other request, or a receive that must block or yield, returns false with
** nothing changed and goes through serve(). A VM not yet wrapped in a
** process (a spawned builtin applied at the child's start) has no body. */
/* serve_now's send: one function with serve_send inside. */
static __attribute__((noinline)) bool send_now(hk_proc_t *p, hk_vm_t *vm, hk_value_t arg) {
  /* a closure sent may read a global set since (SPEC §6.4.3) */
  if (export_globals(p, vm)) return false; /* serve() fails it */
  send_arg(p, hk_sched_self(), vm, arg);
  return true;
}

/* serve_now's spawn (a tail call from the dispatcher). */
static __attribute__((noinline)) bool spawn_now(hk_proc_t *p, hk_vm_t *vm, hk_value_t arg,
                                                bool detached) {
  serve_spawn(p, hk_sched_self(), vm, arg, detached);
  return true;
}

/* serve_now's receive of a message found in the mailbox. */
static __attribute__((noinline)) bool take_now(hk_proc_t *p, hk_vm_t *vm) {
  int r = take_inline(p, vm);
  p->rt_recv_empty = r == 0;
  return r > 0;
}

/* The target of the previous send that a send to pid [to] may reuse: a
** process of our own tree (so not a port, whose pid is no process's, and
** no copy across trees), with no global to export first (export_globals
** has nothing to do). NULL: take the general way. */
static inline __attribute__((always_inline)) hk_proc_t *last_target(hk_proc_t *p, hk_vm_t *vm,
                                                                    hk_value_t to) {
  if (!hk_proc_has_body(p)) return NULL; /* not yet a process */
  hk_proc_t *last = last_proc(vp_of(p));
  /* no target yet first: a spawned child's one send declines at once */
  if (!last || to.tag != HK_T_PID || hk_proc_pid(last) != to.as.u ||
      last->root_pid != p->root_pid)
    return NULL;
  if (!p->link && vp_of(p)->pd.root->globals && hk_vm_globals_dirty(vm)) return NULL;
  return last;
}

/* Pushes [env] to [last] (last_target's), forgetting it if it ended; true.
** The send's last call, so that the send needs no frame. */
static inline __attribute__((always_inline)) bool send_to_last(hk_proc_t *p, hk_proc_t *last,
                                                               hk_envelope_t *env) {
  return hk_proc_send_env_held(p->procs, last, env, hk_sched_self(), &vp_of(p)->last);
}

/* Back-pressure on a sender (bench/README.md, "Fan-in backlog, stop 18"):
** on the sends' slow paths (the thread's list of blocks ran out: on two
** workers every 32-64 sends of a fan-in, whose blocks are freed on the
** receiver's worker; on one, when the backlog outgrows the list), p's next
** slices are short while [last] is behind (hk_proc_behind) and not RUNNING:
** a receiver that runs while p runs is on another worker, which p's short
** slices would not give it (they only cost p's worker a switch every two
** sends: bench/README.md, "Fan-in, stop 22"). Only the slices' length
** changes: each instruction's charge is SPEC §6.10.1's, a short slice
** still runs HK_RT_BEHIND_BUDGET reductions (the sender always
** progresses), and a slice is never longer (§6.10.2). */
static inline void note_behind(hk_proc_t *p, hk_proc_t *last) {
  uint8_t keep = p->rt_start & HK_RT_RECV_BLOCKED;
  /* Relaxed: a hint, like the run; the send reads the word anyway. */
  bool elsewhere =
      (atomic_load_explicit(&last->state, memory_order_relaxed) & HK_PS_MASK) == HK_PS_RUNNING;
  p->rt_start = !elsewhere && hk_proc_behind(last)
                    ? (uint8_t)(keep | HK_RT_BEHIND_SLICES * HK_RT_BEHIND)
                    : keep;
}

/* host.send_now's general way: serve_now's send minus its dispatch and its
** completion. */
static __attribute__((noinline)) bool send_now_general(hk_proc_t *p, hk_vm_t *vm, hk_value_t to,
                                                       hk_value_t v) {
  if (!hk_proc_has_body(p)) return false; /* not yet a process (serve_now) */
  /* a closure sent may read a global set since (SPEC §6.4.3) */
  if (export_globals(p, vm)) return false; /* the request's serve() fails it */
  send_inline(p, hk_sched_self(), vm, to, v, false);
  return true;
}

/* host.send_now of immediate [v] to last_target's [last] when the thread's
** list has no envelope (the cache's slow way, a call: a frame here only). */
static __attribute__((noinline)) bool send_now_last(hk_proc_t *p, hk_vm_t *vm, hk_proc_t *last,
                                                    hk_value_t v) {
  hk_envelope_t *env = envelope_or_fail(vm);
  if (!env) return true; /* failed: out of memory */
  note_behind(p, last);
  return send_to_last(p, last, immediate_in(env, v));
}

/* host.send_now's first send of a process, of an immediate (a spawned
** child's one message to its parent): send_first without send_inline's
** port look-up first (send_first declines a port's pid, -EXDEV, and
** send_inline then sends to it) or its frame. send_first's body is inline
** here: a call of it from this frame saved and restored six registers
** twice (~25 instructions of every spawned child that sends, callgrind). */
static __attribute__((noinline)) bool send_now_first(hk_proc_t *p, hk_vm_t *vm, hk_value_t to,
                                                     hk_value_t v) {
  /* a closure sent may read a global set since (SPEC §6.4.3) */
  if (export_globals(p, vm)) return false; /* the request's serve() fails it */
  if (send_first_inline(p, hk_sched_self(), vm, to.as.u, v, false) == -EXDEV)
    send_inline(p, hk_sched_self(), vm, to, v, false);
  return true;
}

/* host.send_now (vm/host.h): send_message (to, v) of a CALLBT, without a
** request (the interpreter pushes the Unit). An immediate for the previous
** send's target (every send of counting's loop) is an envelope from the
** thread's list pushed, with no call but the last (no frame); anything
** else, or an empty list, goes the general way. */
bool hk_vmproc_send_now(void *ud, hk_vm_t *vm, hk_value_t to, hk_value_t v) {
  (void)ud;
  hk_proc_t *p = proc_of(vm);
  hk_proc_t *last = last_target(p, vm, to);
  hk_envelope_t *env;
  if (!last && hk_proc_has_body(p) && vp_of(p)->last == 0 && to.tag == HK_T_PID && !hk_is_obj(v))
    return send_now_first(p, vm, to, v);
  if (!last || hk_is_obj(v)) return send_now_general(p, vm, to, v);
  if (!(env = hk_bcache_alloc_cached(sizeof *env))) return send_now_last(p, vm, last, v);
  return send_to_last(p, last, immediate_in(env, v));
}

/* send_tuple_now past last_target, for any [n] (hk_items_copy_out_room,
** which may call out for its block): a pair whose block is on the
** thread's list takes send_tuple_now's inline way, with no frame. */
static __attribute__((noinline)) bool send_tuple_general(hk_proc_t *p, hk_vm_t *vm,
                                                         hk_proc_t *last,
                                                         const hk_value_t *items, uint32_t n) {
  hk_msg_t *m;
  void *room;
  int rc = hk_items_copy_out_room(items, n, sizeof(hk_envelope_t), &m, &room);
  if (rc > 0) return false; /* a component needs a copy: make_envelope_copy */
  if (rc < 0) {
    fail(vm, "out of memory");
    return true;
  }
  note_behind(p, last);
  return send_to_last(p, last, envelope_in(m, room));
}

/* host.send_tuple_now (vm/host.h): SENDT's send_message (to, (c1, .., cn))
** with the message tuple nowhere: its block is written from the
** components [items]. Only the usual case: the previous send's target
** (vp->last, a process of our own tree: no lookup, no reference taken,
** and not a port, whose pid is no process's) and components that need no
** copy (hk_items_copy_out_room). Anything else declines, and the
** interpreter sends through send_now, which records the target for the
** next sends. */
bool hk_vmproc_send_tuple_now(void *ud, hk_vm_t *vm, hk_value_t to, const hk_value_t *items,
                              uint32_t n) {
  (void)ud;
  hk_proc_t *p = proc_of(vm);
  hk_proc_t *last = last_target(p, vm, to);
  if (!last) return false; /* send_now exports the globals if need be */
  hk_msg_t *m;
  void *room;
  if (n != 2 || hk_pair_copy_out_cached(items, sizeof(hk_envelope_t), &m, &room) != 0)
    return send_tuple_general(p, vm, last, items, n);
  return send_to_last(p, last, envelope_in(m, room));
}

/* host.receive_now (vm/host.h): a receive_message that finds a message,
** without a request; anything else is serve_now's false (-1): the request
** is set up and served by serve(), which blocks, yields or fails. */
/* receive_now past a pop that declined (the last message of a run, a
** sender mid-push). */
static __attribute__((noinline)) int receive_now_slow(hk_proc_t *p, hk_vm_t *vm,
                                                      hk_value_t *out) {
  int r = take_value(p, vm, out);
  p->rt_recv_empty = r == 0;
  return r ? r : -1;
}

int hk_vmproc_receive_now(void *ud, hk_vm_t *vm, hk_value_t *out) {
  (void)ud;
  hk_proc_t *p = proc_of(vm);
  /* Not yet a process (serve_now), doomed or cancelled: serve() decides.
  ** The gate, not the body bit and the state word: a read per message of
  ** the line the senders exchange the tail in (hk_proc_gate). */
  if (hk_proc_gate(p)) return -1;
  if (hk_proc_recv_empty_owner(p)) { /* every receive of a ping-pong */
    p->rt_recv_empty = true;
    return -1;
  }
  /* A backlog's message (fanin, counting): the pop, the adoption and the
  ** envelope inline, without a call; the rest out of line. */
  hk_envelope_t *env = hk_proc_recv_next_owner(p);
  if (__builtin_expect(!env, 0)) return receive_now_slow(p, vm, out);
  /* No store of rt_recv_empty here: it is true only between a receive that
  ** found the mailbox empty and the serve_receive that follows at once,
  ** which clears it; the interpreter never runs in between. (A store per
  ** message was one more write beside the senders' fields.) */
#ifdef HK_DEBUG_CHECKS
  assert(!p->rt_recv_empty);
#endif
  return take_env(p, vm, env, out);
}

/* serve_now's await_process of a child that is done with an immediate
** result not yet consumed (every join of a skynet node whose child ended
** first): serve_await's success without its checks of misuse; it neither
** blocks, allocates nor fails. Anything else (a wrong pid, a child still
** running, detached, failed or consumed, a result in a block) goes through
** serve(). */
static __attribute__((noinline)) bool await_now(hk_proc_t *p, hk_vm_t *vm, hk_value_t arg) {
  if (arg.tag != HK_T_PID || hk_proc_doomed(p)) return false;
  hk_child_t *c = hk_proc_child(p, arg.as.u);
  if (!c || hk_child_detached(c) || !hk_child_done(c)) return false;
  if ((c->flags & HK_CHILD_CONSUMED) || c->outcome != HK_OUT_DONE || !c->imm_tag) return false;
  void *pl;
  hk_child_consume(c, &pl); /* DONE with an immediate: no payload */
  uint8_t tag;
  uint64_t bits;
  hk_child_imm(c, &tag, &bits);
  complete(vm, hk_mk((hk_tag_t)tag, bits));
  return true;
}

/* serve_now's socket send or receive (rtio.c): as serve() would, after
** the same export of the globals. */
static __attribute__((noinline)) bool io_now(hk_proc_t *p, hk_vm_t *vm) {
  if (export_globals(p, vm)) return false; /* serve() fails it */
  return hk_rtio_serve_now(p, vm);
}

/* A dispatcher that saves no registers: the receive that finds its mailbox
** empty (every receive of a ping-pong or a ring) returns from here, and a
** send or a take is a tail call. */
bool hk_vmproc_serve_now(void *ud, hk_vm_t *vm) {
  (void)ud;
  hk_proc_t *p = proc_of(vm);
  if (!hk_proc_has_body(p)) return false;
  const hk_request_t *q = hk_vm_request(vm);
  switch (q->builtin) {
  case HK_B_self: complete(vm, hk_pid(hk_proc_pid(p))); return true;
  case HK_B_send_message: return send_now(p, vm, q->arg);
  case HK_B_spawn:
  case HK_B_spawn_detached:
    /* A spawn never blocks and the caller goes on without yielding (SPEC
    ** §6.4.1). The child's fuel is the parent's remaining budget (§6.11),
    ** which inside the slice only the interpreter knows: a fuel-limited
    ** parent spawns through serve(). */
    if (hk_vm_fuel_left(vm) != UINT64_MAX) return false;
    return spawn_now(p, vm, q->arg, q->builtin == HK_B_spawn_detached);
  case HK_B_receive_message:
    if (hk_proc_doomed(p)) return false;
    /* Empty (every receive of a ping-pong): straight to serve() and block. */
    if (hk_proc_recv_empty_owner(p)) {
      p->rt_recv_empty = true;
      return false;
    }
    return take_now(p, vm);
  case HK_B_await_process: return await_now(p, vm, q->arg);
  case HK_B_socket_send:
  case HK_B_socket_send_bytes:
  case HK_B_socket_recv:
  case HK_B_socket_recv_bytes: return io_now(p, vm);
  default: return false;
  }
}

static int serve_receive_timeout(hk_proc_t *p, hk_vm_t *vm, hk_value_t arg) {
  if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2)
    return fail(vm, "receive_timeout: expected Int * 'a");
  hk_value_t ms = hk_tuple_at(arg, 0);
  if (!hk_is_int(ms) || hk_as_int(ms) < 0)
    return fail(vm, "receive_timeout: expected non-negative Int (milliseconds)");
  int r = try_take(p, vm);
  if (r > 0) {
    hk_rtio_drop_wait(p); /* the message won: cancel the timer */
    return SERVE_CONTINUE;
  }
  if (r < 0) return SERVE_YIELD;
  if (hk_as_int(ms) == 0) return complete(vm, hk_tuple_at(arg, 1));
  return hk_rtio_receive_timeout(p, vm, hk_as_int(ms), hk_tuple_at(arg, 1));
}

/* Finds [pid] among p's children for builtin [name]; on misuse returns
** NULL and sets *err to the SPEC §6.6.1 message (malloc'ed). */
static hk_child_t *find_child(hk_proc_t *p, const char *name, uint64_t pid, bool allow_detached,
                              char **err) {
  hiko_runtime_t *rt = hk_rt_of(p);
  hk_child_t *c = hk_proc_child(p, pid);
  *err = NULL;
  int n = 0;
  if (!c) {
    if (pid == 0 || pid > hk_pidmap_issued(hk_procs_pidmap(rt->procs)))
      n = asprintf(err, "%s: unknown process <pid %" PRIu64 ">", name, pid);
    else
      n = asprintf(err, "%s: <pid %" PRIu64 "> is not a child of <pid %" PRIu64 ">", name, pid,
                   hk_proc_pid(p));
  } else if (hk_child_detached(c) && !allow_detached) {
    n = asprintf(err, "%s: <pid %" PRIu64 "> is detached", name, pid);
    c = NULL;
  }
  if (n < 0) *err = NULL;
  return c;
}

/* p's join record with room for [n] links in its set, or NULL when out of
** memory (or, which find_child rules out, without a child). */
static join_t *join_room(hk_proc_t *p, uint32_t n) {
  void **slot = hk_proc_kids_user(p);
  if (!slot) return NULL;
  join_t *old = *slot, *j;
  if (old && old->cap >= n) return old;
  uint32_t cap = old && old->cap ? old->cap : 4;
  while (cap < n) cap *= 2;
  j = realloc(old, sizeof *j + cap * sizeof j->set[0]);
  if (!j) return NULL;
  if (!old) j->child_failure = NULL;
  j->cap = cap;
  *slot = j;
  return j;
}

static int wait_for(hk_proc_t *p, hk_child_t *c) {
  hk_proc_wait_child(p, c); /* no wait set: await_process of a skynet node allocates nothing */
  return SERVE_BLOCK;
}

/* Turns a consumed outcome into a value in vm: DONE -> the result; FAILED
** and CANCELLED -> the failure value (*failed = true). */
static void outcome_value(hk_vm_t *vm, hk_outcome_t o, void *pl, hk_value_t *out, bool *failed) {
  *failed = o != HK_OUT_DONE;
  if (pl) {
    hk_vm_adopt(vm, pl, out);
  } else {
    *out = o == HK_OUT_DONE ? hk_unit() : hk_data0(HK_CTOR_CANCELLED);
  }
}

/* await_result's misuse: it never fails its caller but returns
** Err (RuntimeError MSG) (SPEC §6.6.3). */
static int complete_misuse(hk_vm_t *vm, const char *msg) {
  hk_value_t s, f, v;
  int rc = hk_alloc_string(vm, msg, strlen(msg), &s);
  if (!rc) rc = hk_alloc_data(vm, HK_CTOR_RUNTIME_ERROR, s, &f);
  if (!rc) rc = hk_alloc_data(vm, HK_CTOR_ERR, f, &v);
  return rc ? SERVE_CONTINUE : complete(vm, v); /* rc: the VM failed (out of memory) */
}

static int serve_await(hk_proc_t *p, hk_vm_t *vm, hk_value_t arg, bool result) {
  const char *name = result ? "await_result" : "await_process";
  /* A wrong kind (SPEC §8.1.3's message; for await_result as an Err). */
  if (arg.tag != HK_T_PID)
    return result ? complete_misuse(vm, "await_result: expected Pid")
                  : fail(vm, "await_process: expected Pid");
  /* First: a deadlocked process must not observe another's deadlock
  ** failure (SPEC §6.9.1). */
  if (hk_proc_doomed(p)) return fail(vm, DEADLOCK_MSG);
  char *err;
  hk_child_t *c = find_child(p, name, arg.as.u, false, &err);
  if (!c) {
    const char *msg = err ? err : "out of memory";
    int r = result ? complete_misuse(vm, msg) : fail(vm, "%s", msg);
    free(err);
    return r;
  }
  if (!hk_child_done(c)) return wait_for(p, c);
  void *pl;
  hk_outcome_t o = hk_child_consume(c, &pl);
  if (o == HK_OUT_NONE) {
    if (!result) return fail(vm, "await_process: child result already consumed");
    hk_value_t v;
    if (hk_alloc_data(vm, HK_CTOR_ERR, hk_data0(HK_CTOR_ALREADY_JOINED), &v)) return SERVE_CONTINUE;
    return complete(vm, v);
  }
  hk_value_t v;
  bool failed;
  uint8_t tag;
  uint64_t bits;
  if (o == HK_OUT_DONE && hk_child_imm(c, &tag, &bits)) {
    v = hk_mk((hk_tag_t)tag, bits);
    failed = false;
  } else {
    outcome_value(vm, o, pl, &v, &failed);
  }
  if (result) {
    hk_value_t r;
    if (hk_alloc_data(vm, failed ? HK_CTOR_ERR : HK_CTOR_OK, v, &r)) return SERVE_CONTINUE;
    return complete(vm, r);
  }
  if (!failed) return complete(vm, v);
  /* ChildFailed f: keep f so the failure value can be built (failure_value). */
  char *text = render_failure(v);
  hk_msg_t *keep = NULL;
  if (hk_value_copy_out(vm, v, 0, &keep) == 0) {
    join_t *j = join_room(p, 0);
    if (!j) {
      hk_msg_free(keep); /* the failure value says RuntimeError instead */
    } else {
      if (j->child_failure) hk_msg_free(j->child_failure);
      j->child_failure = keep;
    }
  }
  fail(vm, "child process failed: %s", text ? text : "failed");
  free(text);
  return SERVE_CONTINUE;
}

static int serve_cancel(hk_proc_t *p, hk_worker_t *w, hk_vm_t *vm, hk_value_t arg) {
  hiko_runtime_t *rt = hk_rt_of(p);
  if (arg.tag != HK_T_PID) return fail(vm, "cancel: expected Pid");
  char *err;
  hk_child_t *c = find_child(p, "cancel", arg.as.u, true, &err);
  if (!c) {
    fail(vm, "%s", err ? err : "out of memory");
    free(err);
    return SERVE_CONTINUE;
  }
  if (!hk_child_done(c)) {
    hk_proc_t *kid = hk_proc_get(rt->procs, c->pid);
    if (kid) {
      hk_proc_cancel_child(kid, w);
      hk_proc_unref(kid);
    }
  }
  return complete(vm, hk_unit());
}

static int serve_wait_any(hk_proc_t *p, hk_vm_t *vm, hk_value_t list) {
  if (list.tag == HK_T_NIL) return fail(vm, "wait_any: expected non-empty pid list");
  if (list.tag != HK_T_CONS) return fail(vm, "wait_any: expected Pid list");
  if (hk_proc_doomed(p)) return fail(vm, DEADLOCK_MSG);
  uint32_t n = 0;
  for (hk_value_t l = list; l.tag == HK_T_CONS; l = hk_tail(l)) {
    hk_value_t h = hk_head(l);
    if (h.tag != HK_T_PID) return fail(vm, "wait_any: expected Pid list");
    char *err;
    hk_child_t *c = find_child(p, "wait_any", h.as.u, false, &err);
    if (!c) {
      fail(vm, "%s", err ? err : "out of memory");
      free(err);
      return SERVE_CONTINUE;
    }
    join_t *j = join_room(p, n + 1);
    if (!j) return fail(vm, "out of memory");
    j->set[n++] = c;
  }
  /* Every pid was validated above (SPEC §6.6.4: a bad pid anywhere in the
  ** list fails, whatever has ended); now the left-most ended child wins. */
  uint32_t i = 0;
  for (hk_value_t l = list; l.tag == HK_T_CONS; l = hk_tail(l), i++)
    if (hk_child_done(join_of(p)->set[i])) return complete(vm, hk_head(l));
  hk_proc_wait_children(p, join_of(p)->set, n);
  return SERVE_BLOCK;
}

/* exec (SPEC §8.12): the capability check of §7.5.2 here, the run on a
** native helper (native.c, hk_native_exec). */
static int serve_exec(hk_proc_t *p, hk_vm_t *vm, hk_value_t arg) {
  if (hk_pd_native(hk_pd_of(p))) return hk_native_exec(p, vm); /* woken: take the result */
  if (!hk_is_tuple(arg) || hk_tuple_len(arg) != 2 || !hk_is_string(hk_tuple_at(arg, 0)))
    return fail(vm, "exec: expected String * String list");
  hk_value_t cmd = hk_tuple_at(arg, 0);
  const hiko_config_t *cfg = &hk_rt_of(p)->cfg;
  for (size_t i = 0; i < cfg->n_allow_exec; i++)
    if (strlen(cfg->allow_exec[i]) == hk_str_len(cmd) &&
        memcmp(cfg->allow_exec[i], hk_str_data(cmd), hk_str_len(cmd)) == 0)
      return hk_native_exec(p, vm);
  size_t cap = 64, len = 0;
  for (size_t i = 0; i < cfg->n_allow_exec; i++) cap += strlen(cfg->allow_exec[i]) + 4;
  char *list = malloc(cap);
  if (!list) return fail(vm, "out of memory");
  list[0] = '\0';
  for (size_t i = 0; i < cfg->n_allow_exec; i++)
    len += (size_t)snprintf(list + len, cap - len, "%s\"%s\"", i ? ", " : "", cfg->allow_exec[i]);
  int rc = fail(vm, "exec: command '%.*s' is not in the allowed list: [%s]",
                (int)hk_str_len(cmd), hk_str_data(cmd), list);
  free(list);
  return rc;
}

/* Inline in run_slice, its one caller (gcc stopped inlining it when the
** short slice gave run_slice a second copy: pingpong +54 instructions a
** round trip). */
static inline __attribute__((always_inline)) int serve(hk_proc_t *p, hk_worker_t *w, hk_vm_t *vm) {
  const hk_request_t *q = hk_vm_request(vm);
  hk_value_t arg = q->arg;
  /* The process builtins first (the message path); of them only a send
  ** hands a value that may read a new global (a spawn exports itself). */
  switch (q->builtin) {
  case HK_B_self: return complete(vm, hk_pid(hk_proc_pid(p)));
  case HK_B_spawn: return serve_spawn(p, w, vm, arg, false);
  case HK_B_spawn_detached: return serve_spawn(p, w, vm, arg, true);
  case HK_B_send_message:
    if (export_globals(p, vm)) return fail(vm, "out of memory");
    return serve_send(p, w, vm, arg);
  case HK_B_receive_message: return serve_receive(p, vm);
  case HK_B_receive_timeout: return serve_receive_timeout(p, vm, arg);
  case HK_B_await_process: return serve_await(p, vm, arg, false);
  case HK_B_await_result: return serve_await(p, vm, arg, true);
  case HK_B_cancel: return serve_cancel(p, w, vm, arg);
  case HK_B_wait_any: return serve_wait_any(p, vm, arg);
  default: break;
  }
  if (export_globals(p, vm)) return fail(vm, "out of memory");
  if (hk_rtio_serves(q->builtin)) return hk_rtio_serve(p, w, vm); /* SPEC §7 */
  if (hk_native_serves(q->builtin)) return hk_native_serve(p, w, vm); /* SPEC §12 */
  const char *name = q->builtin < HK_B__COUNT ? hk_builtin_table[q->builtin].name : "native";
  switch (q->builtin) {
  case HK_B_exec: return serve_exec(p, vm, arg);
  case HK_B_http_get: case HK_B_http: case HK_B_http_json: case HK_B_http_msgpack:
  case HK_B_http_bytes: /* SPEC §8.14: not built yet; --no-net still denies first */
    if (!hk_rt_of(p)->cfg.allow_net) return fail(vm, "%s: network access denied", name);
    return fail(vm, "%s: HTTP support is not available in this build", name);
  default: break;
  }
  return fail(vm, "%s: not available in this build", name);
}

/* ---- Ending ---------------------------------------------------------------------- */

/* A child's failure travels to its parent as a block holding the value. */
static hk_slice_t end_failure(hk_proc_t *p, vmproc_t *vp, const hk_failure_t *f) {
  if (!p->link) { /* a root: its message and failure value (SPEC §6.8.2, §12.2) */
    hk_value_t v;
    hiko_value_t *fv = NULL;
    if (failure_value(vp, f, &v) == 0) hk_value_to_api(vm_of(vp), vp->pd.root->prog, v, &fv);
    hk_rt_root_failed(vp->pd.root->rt, hk_proc_pid(p), f->message ? f->message : "failed", fv);
    return HK_SLICE_FAILED;
  }
  hk_value_t v;
  hk_msg_t *m = NULL;
  if (failure_value(vp, f, &v) == 0) hk_value_copy_out(vm_of(vp), v, 0, &m);
  p->out_payload = m;
  return HK_SLICE_FAILED;
}

/* Inline in run_slice (a spawned child's end: spawn +19 instructions a
** child when gcc stopped inlining it, run_slice having two copies). */
static inline __attribute__((always_inline)) hk_slice_t end_done(hk_proc_t *p, vmproc_t *vp) {
  if (!p->link) return HK_SLICE_DONE; /* a root's value is never copied */
  hiko_runtime_t *rt = vp->pd.root->rt;
  hk_value_t res = hk_vm_result(vm_of(vp));
  if (!hk_is_obj(res)) {
    /* An Int, a pid, a nullary constructor...: no block to copy it into
    ** (parent and child share the program, so the bits mean the same). */
    hk_proc_result_imm(p, (uint8_t)res.tag, res.as.u);
    p->out_payload = NULL;
    return HK_SLICE_DONE;
  }
  hk_msg_t *m;
  int rc = hk_value_copy_out(vm_of(vp), res, copy_limit(rt), &m);
  if (rc == 0) {
    p->out_payload = m;
    return HK_SLICE_DONE;
  }
  /* SPEC §6.6.6: "child result not sendable: REASON". */
  char *msg = NULL;
  int n = -1;
  if (rc == -EINVAL)
    n = asprintf(&msg, "child result not sendable: cannot send continuations across processes");
  else if (rc == -E2BIG)
    n = asprintf(&msg, "child result not sendable: value too large (more than %" PRIu64 " objects)",
                 copy_limit(rt) ? copy_limit(rt) : (uint64_t)1 << 28);
  hk_failure_t f = {.kind = HK_FAIL_RUNTIME, .message = n < 0 ? NULL : msg};
  if (!f.message) f.message = "out of memory";
  hk_slice_t r = end_failure(p, vp, &f);
  free(msg);
  return r;
}

/* hk_vmproc_run's slice after its flags were read ([start], p->rt_start
** already cleared of HK_RT_RECV_BLOCKED). Inline in both callers. */
static inline __attribute__((always_inline)) hk_slice_t run_slice(hk_proc_t *p, hk_worker_t *w,
                                                                 int32_t *budget, uint8_t start) {
  hk_vm_t *vm = vm_of(hk_proc_extra(p)); /* only p stays live: the runtime data is for the ends */
  uint32_t before = reductions(vm); /* differences modulo 2^32 */
  if (start & HK_RT_RECV_BLOCKED) {
    /* Woken (or the mark found a message): hk_vm_run would only return
    ** the pending receive again, so serve it first. */
    switch (serve_receive(p, vm)) {
    case SERVE_BLOCK: return HK_SLICE_BLOCK;
    case SERVE_YIELD: return HK_SLICE_YIELD;
    default: break;
    }
  }
  for (;;) {
    hk_run_t st = hk_vm_run(vm, *budget > 0 ? (uint32_t)*budget : 1);
    uint32_t after = reductions(vm);
    *budget -= (int32_t)(after - before);
    before = after;
    switch (st) {
    case HK_RUN_YIELD:
      /* A slice spent: a process that runs for ever comes here. */
      hk_rt_tree_running(vp_of(p)->pd.root);
      return HK_SLICE_YIELD;
    case HK_RUN_DONE: return end_done(p, vp_of(p));
    case HK_RUN_FAILED: return end_failure(p, vp_of(p), hk_vm_failure(vm));
    case HK_RUN_EXIT:
      hk_rt_exit(hk_rt_of(p), hk_vm_exit_code(vm));
      return HK_SLICE_DONE;
    case HK_RUN_REQUEST:
      break;
    }
    switch (serve(p, w, vm)) {
    case SERVE_BLOCK: return HK_SLICE_BLOCK;
    case SERVE_YIELD: return HK_SLICE_YIELD;
    default: break;
    }
    if (*budget <= 0) return HK_SLICE_YIELD;
  }
}

/* A short slice (note_behind), out of line: HK_RT_BEHIND_BUDGET
** reductions at most; the budget held back is given back when it ends, so
** that the scheduler and the trace see the reductions used, and a
** receiver this slice readied to run-next continues the tick with the
** rest, as after any early end (SPEC §10.3.2). */
static __attribute__((noinline)) hk_slice_t run_short(hk_proc_t *p, hk_worker_t *w,
                                                      int32_t *budget, uint8_t start) {
  p->rt_start = (uint8_t)((start - HK_RT_BEHIND) & ~HK_RT_RECV_BLOCKED);
  int32_t held = 0;
  if (*budget > HK_RT_BEHIND_BUDGET) {
    held = *budget - HK_RT_BEHIND_BUDGET;
    *budget = HK_RT_BEHIND_BUDGET;
  }
  hk_slice_t r = run_slice(p, w, budget, start);
  *budget += held;
  return r;
}

hk_slice_t hk_vmproc_run(hk_proc_t *p, hk_worker_t *w, int32_t *budget) {
  uint8_t start = p->rt_start;
  if (start) {
    if (start >= HK_RT_BEHIND) return run_short(p, w, budget, start);
    p->rt_start = 0;
  }
  return run_slice(p, w, budget, start);
}

/* ---- Tracing wrapper ------------------------------------------------------------ */

static hk_task_result_t traced_run(hk_task_t *t, hk_worker_t *w, int32_t *budget) {
  hk_proc_t *p = hk_proc_of_task(t);
  hiko_runtime_t *rt = hk_rt_of(p);
  uint64_t pid = hk_proc_pid(p);
  int32_t b0 = *budget;
  uint64_t t0 = hk_sched_now_ns();
  int end;
  hk_task_result_t r = hk_proc_run_slice(t, w, budget, &end);
  hk_wstate_t *ws = hk_sched_worker_user(w);
  if (ws && ws->trace) hk_trace_slice(ws->trace, pid, t0, hk_sched_now_ns(), b0 - *budget, end);
  (void)rt;
  return r;
}
