/*
** hiko.h — the public embedding API of the hiko runtime (SPEC §12).
**
** This is the only public header: embedders and the `hiko` command-line tool
** use nothing else. Handles are opaque. Functions that can fail return an
** int: 0 (or a non-negative count) on success, a negative errno value on
** failure; codes specific to hiko are below -1000. Constructors have the form
** int f(T **out, ...); NULL is never an error indicator. A call that
** returns int and is given NULL for a handle, an out pointer or a buffer it
** needs returns -EINVAL (the free, clear, close and destroy functions accept
** NULL and do nothing).
**
** Contract words in the comments:
**   Returns    what the call returns, and its errors.
**   Ownership  borrows / takes / returns owned (free with ...) / returns
**              borrowed (valid until ...). On failure the caller keeps what
**              it passed.
**   Thread     any | init (before the runtime is started, not concurrently
**              with other calls) | one (one thread at a time per handle).
*/
#ifndef HIKO_H
#define HIKO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HIKO_ECOMPILE (-1001)  /* compilation failed: see the diagnostics */
#define HIKO_EBYTECODE (-1002) /* a bytecode buffer failed verification */
#define HIKO_ESTATE (-1003)    /* call not valid in the runtime's current state */

typedef struct hiko_runtime hiko_runtime_t;
typedef struct hiko_program hiko_program_t;
typedef struct hiko_diags hiko_diags_t;
typedef struct hiko_value hiko_value_t;
typedef struct hiko_port hiko_port_t;
typedef struct hiko_call hiko_call_t;
typedef uint64_t hiko_pid_t;
typedef void (*hiko_write_fn)(void *ud, const char *data, size_t len);

/* The version string, e.g. "0.1.0". Returns borrowed (static). Thread: any. */
const char *hiko_version(void);

/* ---- Configuration and runtime ---------------------------------------- */

typedef struct hiko_config {
  size_t size;              /* sizeof(hiko_config_t); set by hiko_config_init */
  unsigned workers;         /* 0: CPUs available */
  uint32_t reductions;      /* slice budget; 0: 2000 */
  uint64_t fuel, max_heap;  /* root fuel, live objects per process; 0: unlimited */
  bool fuel_limited;        /* true: fuel is the budget even when it is 0 */
  uint64_t max_processes;   /* live processes; 0: unlimited */
  unsigned helpers;         /* helper threads for blocking work; 0: 64 */
  uint32_t max_stack_depth; /* frames per process; 0: 1000000 */
  const char *fs_root;      /* NULL: unconfined */
  const char *const *allow_exec;
  size_t n_allow_exec;
  bool allow_net, allow_exit, detect_deadlock; /* defaults: true, false, false */
  const char *const *argv;                     /* what args () returns */
  size_t argc;
  hiko_write_fn out, err; /* NULL: file descriptors 1 and 2 */
  void *io_ud;
  const char *lib_dir;    /* NULL: $HIKO_LIB or the default library directory */
  const char *trace_path; /* NULL: no trace */
  bool stats;             /* print statistics to err at runtime destruction */
} hiko_config_t;

/* Fills [cfg] with the defaults. Thread: any. */
void hiko_config_init(hiko_config_t *cfg);

/* Creates a runtime (no thread starts before hiko_run or hiko_start).
** Returns 0, -EINVAL for a bad configuration, -ENOMEM.
** Ownership: borrows cfg (strings are copied); *out owned, free with
** hiko_runtime_destroy. Thread: any. */
int hiko_runtime_create(hiko_runtime_t **out, const hiko_config_t *cfg);

/* Cancels every process, stops all threads, closes sockets, frees everything.
** Returns 0, -EBUSY when called on a runtime thread. Ownership: takes rt.
** Thread: no concurrent call on rt. */
int hiko_runtime_destroy(hiko_runtime_t *rt);

/* ---- Native builtins -------------------------------------------------- */

#define HIKO_NATIVE_BLOCKING 1u

typedef int (*hiko_native_fn)(hiko_call_t *call, const hiko_value_t *arg,
                              hiko_value_t **result, void *ud);

/* Registers builtin [name] of hiko type [type] ("Int * String -> Bool"; type
** variables are generalised). With HIKO_NATIVE_BLOCKING fn runs on a helper
** thread with the caller blocked; otherwise on the worker, for one reduction.
** fn borrows arg and returns an owned *result.
** Returns 0, -EEXIST for a duplicate name, HIKO_ECOMPILE for a bad type,
** HIKO_ESTATE once a program was compiled. Thread: init. */
int hiko_register_builtin(hiko_runtime_t *rt, const char *name, const char *type,
                          hiko_native_fn fn, void *ud, unsigned flags);

/* From inside fn: the caller fails with "NAME: MESSAGE". Returns the value fn
** should return. Thread: the one running fn. */
int hiko_call_fail(hiko_call_t *call, const char *message);

/* True once the caller of a running blocking builtin was cancelled. */
bool hiko_call_cancelled(const hiko_call_t *call);

/* ---- Programs and diagnostics ----------------------------------------- */

/* Compiles a program from a file or from a string ([name] is the file name
** shown in diagnostics; `use` paths resolve against the working directory).
** Returns 0, HIKO_ECOMPILE on errors, -ENOMEM.
** Ownership: *out owned (hiko_program_release); *diags owned (hiko_diags_free,
** NULL when empty), set on success and failure. Thread: any. */
/* [rt] may be NULL (as for `hiko check`): only the standard builtins are
** then known. */
int hiko_compile_file(hiko_runtime_t *rt, const char *path, hiko_program_t **out,
                      hiko_diags_t **diags);
int hiko_compile_string(hiko_runtime_t *rt, const char *name, const char *src,
                        size_t len, hiko_program_t **out, hiko_diags_t **diags);

/* Loads a serialized program after verifying it (SPEC §11.4).
** Returns 0, HIKO_EBYTECODE (with a diagnostic "invalid bytecode: REASON").
** Ownership: borrows buf; *out and *diags as for hiko_compile_file. */
int hiko_program_load(hiko_runtime_t *rt, const void *buf, size_t len,
                      hiko_program_t **out, hiko_diags_t **diags);

/* Serializes [p]. Returns 0, -ENOMEM. Ownership: *buf owned (hiko_free). */
int hiko_program_dump(const hiko_program_t *p, void **buf, size_t *len);

/* Writes the disassembly of [p] (SPEC §11.5) as text.
** Returns 0, -ENOMEM. Ownership: *out owned (hiko_free). Thread: any. */
int hiko_program_disasm(const hiko_program_t *p, char **out);

/* Drops a reference; roots keep their program alive. Thread: any. */
void hiko_program_release(hiko_program_t *p);

typedef struct hiko_diag {
  bool is_error;
  const char *file;
  uint32_t line, col; /* 0 when the diagnostic has no position */
  const char *message;
} hiko_diag_t;

size_t hiko_diags_count(const hiko_diags_t *d);
/* Returns borrowed (valid until hiko_diags_free), NULL when out of range. */
const hiko_diag_t *hiko_diags_get(const hiko_diags_t *d, size_t i);
/* Renders every diagnostic in the SPEC §13.2 format.
** Returns 0, -ENOMEM. Ownership: *out owned (hiko_free). */
int hiko_diags_render(const hiko_diags_t *d, char **out);
/* Returns the number of errors (warnings not counted). */
size_t hiko_diags_errors(const hiko_diags_t *d);
void hiko_diags_free(hiko_diags_t *d);

/* ---- Running ---------------------------------------------------------- */

#define HIKO_DONE 0
#define HIKO_FAILED 1
#define HIKO_EXITED 2

/* A new root running p's top level with its own global store.
** Returns 0, -ENOMEM, HIKO_ESTATE after shutdown. Thread: any. */
int hiko_spawn_main(hiko_runtime_t *rt, hiko_program_t *p, hiko_pid_t *root);

/* Runs until every root has ended. Returns 0. Thread: one caller. */
int hiko_run(hiko_runtime_t *rt);
/* Starts the workers in the background. Returns 0, HIKO_ESTATE if running. */
int hiko_start(hiko_runtime_t *rt);

typedef struct hiko_result {
  int status;            /* HIKO_DONE, HIKO_FAILED or HIKO_EXITED */
  int exit_code;         /* HIKO_EXITED only */
  char *message;         /* render of the failure (SPEC §6.3); owned */
  hiko_value_t *failure; /* the failure value; owned */
} hiko_result_t;

/* Waits for a root to end. Returns 0, -ETIMEDOUT, -ENOENT for an unknown
** root or one already joined, -EBUSY on a runtime thread (inside a native
** builtin, SPEC §12.3.5); timeout_ms -1 waits forever. A join that
** returns 0 releases the root (docs/embedding.md, "Lifetime of a root"):
** its outcome is reported once. Thread: any. */
int hiko_join(hiko_runtime_t *rt, hiko_pid_t root, hiko_result_t *out, int timeout_ms);
void hiko_result_clear(hiko_result_t *r);
/* Cancels every root, waits for them, stops the workers. Returns 0. */
int hiko_shutdown(hiko_runtime_t *rt);

/* ---- Messages and ports ----------------------------------------------- */

/* As send_message: deep copy, never blocks, dropped if `to` has ended.
** Function and Rng values received from hiko may be sent back (any number
** of times); a function only to a process of the program it came from.
** Returns 0, -EINVAL for an unsendable value (a function of another
** program, a constructor the receiver's program lacks) or a NULL rt or msg. Ownership: borrows
** msg. Thread: any. */
int hiko_send(hiko_runtime_t *rt, hiko_pid_t to, const hiko_value_t *msg);

/* A fresh pid whose mailbox is read by C. Returns 0, -ENOMEM.
** Ownership: *out owned (hiko_port_close). Thread: any. */
int hiko_port_open(hiko_runtime_t *rt, hiko_port_t **out);
hiko_pid_t hiko_port_pid(const hiko_port_t *port);
/* Next message; timeout 0 polls (-EAGAIN), -1 waits; -ETIMEDOUT; -EBUSY
** on a runtime thread (inside a native builtin, SPEC §12.3.5).
** Ownership: *out owned (hiko_value_free). Thread: one. */
int hiko_port_recv(hiko_port_t *port, hiko_value_t **out, int timeout_ms);
/* Closes the port; later messages to its pid are dropped. Takes port. */
int hiko_port_close(hiko_port_t *port);

/* ---- Values ------------------------------------------------------------ */
/* Immutable trees independent of any process heap; readable from several
** threads at once; freed exactly once. Composite constructors take their
** items on success. */

typedef enum {
  HIKO_INT, HIKO_FLOAT, HIKO_BOOL, HIKO_CHAR, HIKO_UNIT, HIKO_STRING, HIKO_BYTES,
  HIKO_TUPLE, HIKO_LIST, HIKO_DATA, HIKO_PID, HIKO_SOCKET, HIKO_RNG, HIKO_FUNCTION
} hiko_kind_t;

int hiko_value_int(int64_t v, hiko_value_t **out);
int hiko_value_float(double v, hiko_value_t **out);
int hiko_value_bool(bool v, hiko_value_t **out);
int hiko_value_char(uint32_t scalar, hiko_value_t **out); /* -EINVAL not a scalar */
int hiko_value_unit(hiko_value_t **out);
int hiko_value_pid(hiko_pid_t pid, hiko_value_t **out);
int hiko_value_string(const char *s, size_t len, hiko_value_t **out); /* -EILSEQ */
int hiko_value_bytes(const void *b, size_t len, hiko_value_t **out);
int hiko_value_tuple(hiko_value_t *const *items, size_t n, hiko_value_t **out);
int hiko_value_list(hiko_value_t *const *items, size_t n, hiko_value_t **out);
/* A constructor of [p], or with p NULL one of the prelude's (SPEC §3.4:
** RuntimeError ... ChildFailed, Ok, Err), so a native builtin can return an
** outcome or a failure. -ENOENT unknown constructor, -EINVAL payload given to
** a nullary one or missing for one with a payload. */
int hiko_value_data(const hiko_program_t *p, const char *ctor, hiko_value_t *payload,
                    hiko_value_t **out);

hiko_kind_t hiko_value_kind(const hiko_value_t *v);
int64_t hiko_value_get_int(const hiko_value_t *v);
double hiko_value_get_float(const hiko_value_t *v);
bool hiko_value_get_bool(const hiko_value_t *v);
uint32_t hiko_value_get_char(const hiko_value_t *v);
hiko_pid_t hiko_value_get_pid(const hiko_value_t *v);
/* Strings and bytes. Returns borrowed (valid until the value is freed). */
const char *hiko_value_get_string(const hiko_value_t *v, size_t *len);
/* Tuple or list length; data: 0 or 1. */
size_t hiko_value_count(const hiko_value_t *v);
/* Returns borrowed (valid until the value is freed). */
const hiko_value_t *hiko_value_at(const hiko_value_t *v, size_t i);
/* Constructor name of a data value. Returns borrowed. */
const char *hiko_value_ctor(const hiko_value_t *v);
/* The SPEC §5 text. Returns 0, -ENOMEM. Ownership: *out owned (hiko_free). */
int hiko_value_show(const hiko_value_t *v, char **out);
void hiko_value_free(hiko_value_t *v);

/* ---- Statistics -------------------------------------------------------- */

typedef struct hiko_counters {
  uint64_t slices, steals, stolen, parks, sent, received, dropped, spawns, io_ops,
      gc_runs;
} hiko_counters_t; /* SPEC §10.9 */

typedef struct hiko_stats {
  unsigned workers;
  hiko_counters_t total, *per_worker;
  uint64_t processes, done, failed, cancelled;
  /* Approximate (SPEC §10.8): the longest run of messages one process
  ** received without finding its mailbox empty in between, among runs that
  ** ended before the snapshot and were longer than 1 (docs/runtime.md). */
  uint64_t mailbox_high_water;
  const char *io_backend;
} hiko_stats_t;

/* A snapshot. Returns 0, -ENOMEM. Ownership: free with hiko_stats_clear. */
int hiko_stats_get(hiko_runtime_t *rt, hiko_stats_t *out);
void hiko_stats_clear(hiko_stats_t *s);

/* Text for any code returned by this API. Returns borrowed (static). */
const char *hiko_strerror(int err);
void hiko_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* HIKO_H */
