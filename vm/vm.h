/* vm.h — a VM instance (one hiko process's machine: stack segments, heap,
** globals, handlers, limits) and the API that builtins and the host use.
**
** A VM instance runs a program image (vm/image.h, shared read-only by every
** instance of the program) in slices: hk_vm_run(vm, budget) executes at most
** [budget] reductions and returns with ALL state inside the instance (no C
** stack holds VM state between slices), so a scheduler can resume it later
** on any thread.
**
** ---- Builtins ----
** A synchronous builtin (class SYNC in vm/builtins.def) is
**     int fn(hk_vm_t *vm, hk_value_t arg, hk_value_t *out);
** It returns 0 with the result in *out, or a negative code after recording
** the failure with hk_vm_fail() (the process then fails; never longjmp).
** A negative code returned WITHOUT a recorded failure fails the process with
** "NAME: STRERROR(-code)". Several arguments arrive as one tuple.
** vm/bi_table.c (builtins engineer) defines hk_builtin_fns[HK_B__COUNT]; a
** NULL entry fails with "NAME: not available in this build". PROC and ASYNC
** builtins are never called through the table: see vm/host.h.
**
** ---- Allocation ----
** hk_alloc_* never collect garbage and never move objects: collection
** happens only at safe points of the interpreter between instructions. So a
** builtin may keep any values in C locals during its call; nothing needs
** rooting. A builtin that allocates a lot simply grows the heap; the heap
** limit (SPEC §6.11) is enforced at the next safe point after the call (a
** collection first, then HeapLimit if the live count still exceeds the
** limit). An allocation returns 0, or -ENOMEM after recording the failure
** "out of memory": the builtin must then return that code at once.
**
** ---- Reductions ----
** A builtin whose work grows with its operands calls hk_vm_charge(vm, work)
** (SPEC §6.10: it costs 1 + work/64; the 1 is charged by the interpreter).
**
** Thread: one thread at a time per instance (the worker running it). */
#ifndef HK_VM_H
#define HK_VM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/builtins.h"
#include "vm/host.h"
#include "vm/value.h"

typedef struct hk_vm hk_vm_t;
typedef struct hk_image hk_image_t;
typedef struct hk_msg hk_msg_t;

/* Returned by hk_vm_fail and friends: "the failure is recorded". */
#define HK_EFAIL (-10000)
/* Returned by hk_vm_exit: the program is ending with an exit status. */
#define HK_EEXIT (-10001)

typedef int (*hk_builtin_fn)(hk_vm_t *vm, hk_value_t arg, hk_value_t *out);

/* Defined by the builtins engineer in vm/bi_table.c. */
extern const hk_builtin_fn hk_builtin_fns[HK_B__COUNT];

/* ---- Creating and running ------------------------------------------------ */

typedef struct hk_vm_config {
  uint64_t max_heap;        /* live objects; 0: unlimited */
  uint32_t max_stack_depth; /* frames; 0: 1,000,000 */
  uint64_t fuel;            /* instruction budget when fuel_limited */
  bool fuel_limited;
} hk_vm_config_t;

/* Creates an instance of [img] with an empty stack and a fresh global store
** (every slot uninitialised). Returns 0 or -ENOMEM.
** Ownership: borrows img and host (they must outlive the instance); *out
** owned, free with hk_vm_free. Thread: any. */
int hk_vm_new(hk_vm_t **out, const hk_image_t *img, const hk_host_t *host,
              const hk_vm_config_t *cfg);
/* Frees an instance and everything it allocated (for a placed one, all
** but the caller's memory). */
void hk_vm_free(hk_vm_t *vm);

/* Bytes an instance placed with hk_vm_place needs: the instance, then
** room for the first [vals] stack slots and [frames] frames of its root
** segment and a first heap chunk of [heap] bytes (a process that needs more
** grows them as usual). */
size_t hk_vm_place_size(uint32_t vals, uint32_t frames, size_t heap);
/* The stack slots hk_vm_start_call(vm, fn) needs before [fn] calls
** anything but a tail call of a known function (a host sizes a placed
** instance's first stack with it), or 0 if [fn] is not a closure of [img].
** Thread: any. */
uint32_t hk_vm_call_slots(const hk_image_t *img, hk_value_t fn);
/* The bytes the object of closure [fn] itself takes in a heap (what
** hk_vm_copy_in places first), or 0 if [fn] is not a closure. Thread: any. */
size_t hk_vm_closure_bytes(hk_value_t fn);
/* As hk_vm_new, in [mem] (hk_vm_place_size(vals, frames, heap) bytes,
** aligned to 16), so that a host can keep a process's record, instance,
** first stack and first heap chunk in one allocation. Returns NULL only
** for a fuel-limited instance when out of memory (nothing to free).
** Ownership: borrows mem until hk_vm_free, which frees what the instance
** allocated but not mem. Thread: any. */
hk_vm_t *hk_vm_place(void *mem, uint32_t vals, uint32_t frames, size_t heap,
                     const hk_image_t *img, const hk_host_t *host, const hk_vm_config_t *cfg);

/* Prepares the instance to run the program's top level (a root process).
** Returns 0 or -ENOMEM. An entry function whose declared frame exceeds the
** stack limit returns 0: the first hk_vm_run fails with "stack overflow". */
int hk_vm_start_main(hk_vm_t *vm);
/* Prepares the instance to run [fn] () (a spawned process; fn must be in
** this instance's heap, e.g. adopted with hk_vm_adopt). Returns 0 or
** -ENOMEM. */
int hk_vm_start_call(hk_vm_t *vm, hk_value_t fn);

typedef enum hk_run {
  HK_RUN_YIELD,   /* budget used up, or `sleep 0`-style yield: run it again later */
  HK_RUN_DONE,    /* finished: hk_vm_result() */
  HK_RUN_FAILED,  /* failed: hk_vm_failure() */
  HK_RUN_REQUEST, /* a process/IO builtin: hk_vm_request(), then hk_vm_complete*() */
  HK_RUN_EXIT,    /* `exit n`: hk_vm_exit_code() */
} hk_run_t;

/* Runs at most [budget] reductions (budget >= 1). Returns the state.
** Thread: the one owning the instance now. */
hk_run_t hk_vm_run(hk_vm_t *vm, uint32_t budget);

/* After HK_RUN_DONE: the result value (in this heap; valid until the next
** call into the instance). */
hk_value_t hk_vm_result(const hk_vm_t *vm);
int hk_vm_exit_code(const hk_vm_t *vm);

/* ---- Failures ------------------------------------------------------------ */

typedef enum hk_fail_kind {
  HK_FAIL_RUNTIME,     /* RuntimeError MSG */
  HK_FAIL_CANCELLED,   /* Cancelled */
  HK_FAIL_FUEL,        /* FuelExhausted */
  HK_FAIL_HEAP_LIMIT,  /* HeapLimit (a, b) */
  HK_FAIL_CHILD,       /* ChildFailed f: set by the host with hk_vm_fail_child */
  HK_FAIL_ALREADY_JOINED,
} hk_fail_kind_t;

typedef struct hk_failure {
  hk_fail_kind_t kind;
  char *message; /* render of the failure (SPEC §6.3), malloc'ed */
  int64_t a, b;  /* HEAP_LIMIT: live, max */
  hk_msg_t *child; /* CHILD: the child's failure value as a message block (may be NULL) */
  /* Where the failing instruction came from (for "  at FILE:LINE:COL"), when
  ** the failure arose in hiko code; file NULL otherwise. */
  const char *file;
  uint32_t line, col;
} hk_failure_t;

/* Records a run-time error "MESSAGE" (RuntimeError). Returns HK_EFAIL.
** The first recorded failure wins. Thread: owner. */
int hk_vm_fail(hk_vm_t *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hk_vm_vfail(hk_vm_t *vm, const char *fmt, va_list ap);
/* Records a failure of another kind (the message is derived). Returns HK_EFAIL. */
int hk_vm_fail_kind(hk_vm_t *vm, hk_fail_kind_t kind, int64_t a, int64_t b);
/* After HK_RUN_FAILED: the failure. Returns borrowed (valid until hk_vm_free). */
const hk_failure_t *hk_vm_failure(const hk_vm_t *vm);
/* True once a failure was recorded during the current call. */
bool hk_vm_failed(const hk_vm_t *vm);

/* From a builtin: ends the program with [code] (SPEC §8.12). Returns HK_EEXIT,
** which the builtin returns. The builtin checks host->allow_exit itself. */
int hk_vm_exit(hk_vm_t *vm, int code);

/* ---- Services for builtins ---------------------------------------------- */

const hk_host_t *hk_vm_host(const hk_vm_t *vm);
const hk_image_t *hk_vm_image(const hk_vm_t *vm);
/* Writes through the host (stream 1 or 2). Returns 0 or -errno. */
int hk_vm_write(hk_vm_t *vm, int stream, const char *data, size_t len);
/* Charges the proportional cost of SPEC §6.10: work/64 reductions. Work
** under 64 adds nothing, so it makes no call (a small message, closure or
** string: the common case on the process paths). */
void hk_vm_charge_add(hk_vm_t *vm, uint64_t work);
static inline void hk_vm_charge(hk_vm_t *vm, uint64_t work) {
  if (work >= 64) hk_vm_charge_add(vm, work);
}

/* The last scalar position found in a long string: the next substring or
** string_length on the same object starts from it, so walking a string with
** substring (s, i, 1) costs O(1) a step, not O(i). A process keeps one cursor
** for each of the HK_STRPOS_WAYS long strings it indexed last, the most
** recently used first, so strings read in lockstep (a Hamming distance, a
** merge, a comparison) each keep theirs. Only the strings' own process reads
** or writes them; a collection forgets them (an address may then be reused). */
typedef struct hk_strpos {
  const void *obj; /* the string object; NULL: none */
  uint64_t scalar; /* a scalar index in it ... */
  uint64_t byte;   /* ... and that scalar's byte offset */
  uint64_t count;  /* its scalar count; UINT64_MAX: not known */
} hk_strpos_t;
#define HK_STRPOS_WAYS 4
/* [vm]'s HK_STRPOS_WAYS cursors, allocated (zeroed) by the first call; NULL
** when out of memory. */
hk_strpos_t *hk_vm_strpos(hk_vm_t *vm);
/* Name of the program-wide constructor [ctor] (for show). Returns borrowed. */
const char *hk_vm_ctor_name(const hk_vm_t *vm, uint32_t ctor);

/* ---- Allocation (see the top comment) ----------------------------------- */

/* A String from [len] bytes (the caller guarantees valid UTF-8) / Bytes. */
int hk_alloc_string(hk_vm_t *vm, const char *bytes, size_t len, hk_value_t *out);
int hk_alloc_bytes(hk_vm_t *vm, const void *bytes, size_t len, hk_value_t *out);
/* Uninitialised String/Bytes of [len] bytes: fill (*data)[0..len) before
** the value is used anywhere (the NUL after them is set). */
int hk_alloc_string_raw(hk_vm_t *vm, size_t len, hk_value_t *out, char **data);
int hk_alloc_bytes_raw(hk_vm_t *vm, size_t len, hk_value_t *out, char **data);
/* A tuple of [n] >= 2 components copied from [items] (items may be NULL:
** then every component is Unit; set them with hk_tuple_init before use). */
int hk_alloc_tuple(hk_vm_t *vm, uint32_t n, const hk_value_t *items, hk_value_t *out);
static inline void hk_tuple_init(hk_value_t t, uint32_t i, hk_value_t v) {
  hk_as_tuple(t)->items[i] = v;
}
int hk_alloc_cons(hk_vm_t *vm, hk_value_t head, hk_value_t tail, hk_value_t *out);
/* A constructor value with payload ([ctor] must have one). */
int hk_alloc_data(hk_vm_t *vm, uint32_t ctor, hk_value_t payload, hk_value_t *out);
int hk_alloc_rng(hk_vm_t *vm, uint64_t state, uint64_t inc, hk_value_t *out);

/* ---- Provided by the builtins engineer ------------------------------------ */

/* The SPEC §5 text of [v] (iterative, any depth). Returns 0 or -ENOMEM.
** Charges reductions itself. Ownership: *out malloc'ed (free), NUL-terminated,
** *len bytes. Defined in vm/bi_value.c. */
int hk_value_show(hk_vm_t *vm, hk_value_t v, char **out, size_t *len);
/* SPEC §4.7 equality (iterative, any depth). Returns 1 equal, 0 not equal,
** or -ENOMEM. Charges reductions itself. Defined in vm/bi_value.c. */
int hk_value_equal(hk_vm_t *vm, hk_value_t a, hk_value_t b);
/* The name lookups hk_show_append (vm/bi_show.h) takes, for an instance [vm]
** (a const hk_vm_t *, or NULL: "?" and unknown): constructor [ctor]'s name,
** and registered native [id]'s through the host. Defined in vm/bi_value.c. */
const char *hk_vm_show_ctor_name(const void *vm, uint32_t ctor);
const char *hk_vm_show_native_name(const void *vm, uint32_t id);

/* ---- Host side: requests, messages --------------------------------------- */

/* The fields the host reads per slice and per request, the first member
** of every instance (vm_int.h), so that their accessors are inline: an
** out-of-line call per request cost more than the read. Only the VM
** writes them. 24 bytes: the count of reductions fills what would be the
** request's padding. */
typedef struct hk_vm_head {
  /* The pending request: hk_builtin_id_t, or >= HK_B__COUNT for a
  ** registered native. */
  uint32_t builtin;
  /* Reductions used so far, modulo 2^32: a host takes the difference over
  ** one hk_vm_run (less than 2^31: a slice's budget plus charges that
  ** saturate at HK_CHARGE_MAX), a statistic reads it as it is. */
  uint32_t reductions;
  /* The pending request's argument, rooted by the VM until completion;
  ** once DONE the result, once EXIT an Int, the exit code (a request is
  ** never pending then). */
  hk_value_t arg;
} hk_vm_head_t;
/* A pending request is the head's builtin and arg. */
typedef hk_vm_head_t hk_request_t;
static inline const hk_vm_head_t *hk_vm_head(const hk_vm_t *vm) {
  return (const hk_vm_head_t *)(const void *)vm; /* its first member (C11 6.7.2.1) */
}
/* After HK_RUN_REQUEST: the pending request. Returns borrowed. */
static inline const hk_request_t *hk_vm_request(const hk_vm_t *vm) { return hk_vm_head(vm); }
/* Completes the pending request with [result] (in this heap). When the heap
** then holds more objects than its limit, it first collects (result rooted)
** and, if still over, fails the process with HeapLimit instead (SPEC
** §6.11.3): the caller must not use values of this heap afterwards. */
void hk_vm_complete(hk_vm_t *vm, hk_value_t result);
/* A safe point after a completion: collects when the heap's trigger was
** reached (adopted message blocks count toward it), so a process whose own
** code allocates nothing still frees the blocks it received (SPEC
** §10.6.4). hk_vm_run also collects on entry; a host that completes
** requests inside the slice (hk_host_t.serve_now) with adopted values calls
** this after hk_vm_complete. Out of memory or over the heap limit fails the
** process (the next hk_vm_run returns HK_RUN_FAILED). Thread: owner. */
void hk_vm_safepoint(hk_vm_t *vm);
/* Completes the pending request with a RuntimeError: the next hk_vm_run
** returns HK_RUN_FAILED at once. */
void hk_vm_complete_fail(hk_vm_t *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fails the process from outside (cancel: HK_FAIL_CANCELLED; a heap limit on
** an adopted message: HK_FAIL_HEAP_LIMIT). The next hk_vm_run returns
** HK_RUN_FAILED. */
void hk_vm_kill(hk_vm_t *vm, hk_fail_kind_t kind, int64_t a, int64_t b);

/* Deep-copies [v] into one self-contained block that any other instance of
** the same program can adopt (SPEC §6.12; iterative; sharing expanded).
** Returns 0, -EINVAL (a continuation: "cannot send continuations across
** processes"), -E2BIG (more than [max_objects] objects; 0 means 2^28),
** -ENOMEM. Ownership: *out owned (hk_msg_free or hk_vm_adopt).
** Thread: the owner of [vm] (any thread may free the block). */
int hk_value_copy_out(hk_vm_t *vm, hk_value_t v, uint64_t max_objects, hk_msg_t **out);
/* hk_value_copy_out that, when the copy fits one small block, also reserves
** [room] bytes (16-aligned) inside that block after the copied data and sets
** *roomp to them (else NULL): the sender's envelope, so a message is one
** allocation (runtime/proc.h HK_ENV_IN_PAYLOAD). The room lives and dies
** with the block (it is freed by hk_msg_free or with the adopting heap).
** A send's copy: it also charges [vm] for the objects copied
** (hk_vm_charge). */
int hk_value_copy_out_room(hk_vm_t *vm, hk_value_t v, uint64_t max_objects, size_t room,
                           hk_msg_t **out, void **roomp);
/* hk_value_copy_out_room of tuple [v] only when it is flat: not static
** (the copy shares a static tuple) and every component a scalar or a static
** object, so the block holds one object, written in one pass, and no charge
** is due (the message of fanin, most protocol messages). Returns 0 (*out
** and *roomp set as there), 1 (not such a tuple: nothing done), -ENOMEM.
** Ownership: *out owned. Thread: any. */
int hk_tuple_copy_out_room(hk_value_t v, size_t room, hk_msg_t **out, void **roomp);
/* hk_tuple_copy_out_room of the tuple of the [n] values [items] (n >= 1),
** written into the block without ever being a tuple on a heap (SENDT's
** message): 0 (*out and *roomp set), 1 (a component is neither a scalar
** nor a static object: nothing done), -ENOMEM. Ownership: *out owned.
** Thread: any. */
int hk_items_copy_out_room(const hk_value_t *items, uint32_t n, size_t room, hk_msg_t **out,
                           void **roomp);
/* hk_items_copy_out_room of the pair [items] (n = 2) with its block taken
** from the thread's block cache without a call (hk_bcache_alloc_cached):
** 0 (*out and *roomp set), 1 (nothing done: a component needs a copy, or
** the cache has no block of the class at hand; hk_items_copy_out_room
** does either). No call, so that a send with only tail calls besides
** needs no frame (runtime/vmproc.c). Thread: any. */
int hk_pair_copy_out_cached(const hk_value_t *items, size_t room, hk_msg_t **out, void **roomp);
/* Links [m] into [vm]'s heap as a fragment and returns its root value.
** Ownership: takes m. Returns 0 (the objects count against the heap limit
** when the value is delivered: hk_vm_complete). Thread: owner of vm. */
int hk_vm_adopt(hk_vm_t *vm, hk_msg_t *m, hk_value_t *out);
/* hk_value_copy_out of [v] (a value of another instance of the same
** program, whose owner is the calling thread) followed by hk_vm_adopt into
** [dst], with small values copied straight into dst's heap (no block).
** Returns the errors of hk_value_copy_out; *objects is the count copied
** (for hk_vm_charge). Thread: owner of both instances. */
int hk_vm_copy_in(hk_vm_t *dst, hk_value_t v, uint64_t max_objects, hk_value_t *out,
                  uint64_t *objects);
/* As hk_value_copy_out, for a process of another root's tree or for C (a
** port, a native builtin): the copy holds no pointer into the sender's
** global store or its program's constants (static objects are copied too),
** so it outlives the sender's tree. With [to] another program's image,
** every constructor becomes [to]'s (hk_image_ctor_map) and a function is
** refused. Returns 0, -EINVAL (a continuation), -E2BIG, -ENOMEM, -EXDEV (a
** function for another program), -ENOENT ([to] has no such constructor:
** *missing is its index in [vm]'s image). Ownership: *out owned.
** Thread: the owner of [vm]. */
int hk_value_copy_detached(hk_vm_t *vm, hk_value_t v, uint64_t max_objects, const hk_image_t *to,
                           hk_msg_t **out, uint32_t *missing);
void hk_msg_free(hk_msg_t *m);
/* A new block holding a copy of [m]'s value (for a value kept outside any
** process and delivered more than once, e.g. a function value held by C).
** Returns 0, -E2BIG or -ENOMEM. Ownership: borrows m; *out owned.
** Thread: any (m is only read, so several threads may copy it at once). */
int hk_msg_dup(const hk_msg_t *m, hk_msg_t **out);
/* True if [m]'s value contains a function (closure, partial application,
** builtin or constructor function): only a process of the same program may
** receive it (SPEC §6.12.5). Thread: any. */
bool hk_msg_has_function(const hk_msg_t *m);
/* Objects in the block. */
uint64_t hk_msg_objects(const hk_msg_t *m);

/* ---- The shared global store (SPEC §6.4, §10.6.5) ------------------------ */

typedef struct hk_globals hk_globals_t;
/* Copies every global slot of [root] initialised since the last export into
** the shared immutable store *g (created when *g is NULL), preserving
** sharing. Its objects are never moved or counted by any heap. A slot whose
** value holds a continuation is marked not sendable: a child reading it
** fails with "cannot access global 'NAME' from a child process: cannot send
** continuations across processes". Call it when [root] spawns, and when it
** hands a value to another process while hk_vm_globals_dirty (on root's
** thread, serialised with hk_vm_use_globals); earlier exports stay valid. Returns 0 or -ENOMEM.
** Ownership: *g owned (hk_globals_free after every instance using it). */
int hk_globals_export(hk_vm_t *root, hk_globals_t **g);
/* Gives [child] (a fresh instance of the same image) the globals exported so
** far, by pointer (no per-child copy; the child cannot set globals; it holds
** a reference to the array until hk_vm_free). Returns 0, -EINVAL (another
** program). Ownership: borrows g (it must outlive the child). Thread: the
** exporting root's (no lock: no export can run concurrently). */
int hk_vm_use_globals(hk_vm_t *child, const hk_globals_t *g);
/* Gives [child] the globals [parent] (a child itself) reads: the same
** array by another reference, taken without a lock (the parent's keeps it
** alive). It may be older than the store's current one; the child moves
** to a newer one when it reads a slot not exported yet, as any child does
** (hk_vm_globals_refresh). Returns 0, -EINVAL (parent is a root, or
** another program). Thread: the parent's owner. */
int hk_vm_share_globals(hk_vm_t *child, const hk_vm_t *parent);
/* Drops [vm]'s globals: its own slots, or its reference to the shared
** store's array (hk_vm_free does it). Thread: owner of vm. */
void hk_globals_unuse(hk_vm_t *vm);
void hk_globals_free(hk_globals_t *g);
/* true: the calling thread (a worker) may keep spare references to a
** global store's array across spawns and process ends (heap.c, gvals_ref);
** false (before it stops): returns them. Thread: the calling thread. */
void hk_globals_thread(bool on);
/* True when root [vm] set a global since its last hk_globals_export (the
** root then exports before handing any value to another process, so a child
** that receives a closure finds every global it can read). Thread: owner. */
bool hk_vm_globals_dirty(const hk_vm_t *vm);
/* A child whose global slot is not exported yet: moves it to the newest
** exported array. Returns true if that changed anything (read the slot
** again). Thread: owner of vm (takes the store's lock when it moves). */
bool hk_vm_globals_refresh(hk_vm_t *vm);

/* ---- Statistics ------------------------------------------------------------ */
typedef struct hk_vm_stats {
  uint64_t gc_runs, live_objects, heap_bytes;
  uint64_t reductions; /* modulo 2^32 */
} hk_vm_stats_t;
void hk_vm_get_stats(const hk_vm_t *vm, hk_vm_stats_t *out);
/* Collections of [vm] so far (hk_vm_stats_t.gc_runs) without the heap walk
** of hk_vm_get_stats: what the runtime adds up at every process end. */
uint64_t hk_vm_gc_runs(const hk_vm_t *vm);
/* Reductions used so far, modulo 2^32 (hk_vm_head_t.reductions). */
static inline uint32_t hk_vm_reductions(const hk_vm_t *vm) { return hk_vm_head(vm)->reductions; }
/* The fuel left between slices (what a spawned child receives, SPEC
** §6.11.1); meaningful only when the instance is fuel-limited. */
uint64_t hk_vm_fuel_left(const hk_vm_t *vm);

#endif
