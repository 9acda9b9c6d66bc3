/* native.h — embedder-registered builtins (hiko_register_builtin, SPEC
** §12): the registry of a runtime, serving their calls for VM processes
** (synchronously on the worker, or on a helper thread with the caller
** blocked), and the helper threads. Internal to runtime/.
**
** A native has builtin id HK_B__COUNT + i (i: registration order). The
** checker types it from its type string (vm/check.h
** hk_check_program_natives); the VM stops with HK_RUN_REQUEST for it and
** vmproc.c's serve() hands the request to hk_native_serve.
**
** A blocking call is a job shared by the process and a helper thread, with
** one state word changed only by RMWs (as rtio's requests, docs/runtime.md):
** ARMED (the process blocked on it), DONE (fn returned; set by the helper),
** ABANDONED (the process terminated; set at its end). Whoever sets the
** second of DONE/ABANDONED frees the job; the helper wakes the process only
** if it saw ARMED. A pending job counts against deadlock detection. */
#ifndef HK_NATIVE_H
#define HK_NATIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "hiko.h"
#include "runtime/proc.h"
#include "vm/builtins.h"
#include "vm/vm.h"

typedef struct hk_natives hk_natives_t;

/* The name of registered native [id] (>= HK_B__COUNT), or NULL (host hook
** native_name of vm/host.h). Thread: any, once the registry is frozen. */
const char *hk_native_name(hiko_runtime_t *rt, uint32_t id);

/* The registered natives as builtin table entries for the checker, and
** freezes the registry (a later hiko_register_builtin gets HIKO_ESTATE).
** [rt] NULL gives none. Returns 0, -ENOMEM. Ownership: *out borrowed
** (valid until the runtime is destroyed). Thread: any. */
int hk_native_table(hiko_runtime_t *rt, const hk_builtin_info_t **out, uint32_t *n);

/* True if builtin [id] is a native (served by hk_native_serve). */
static inline bool hk_native_serves(uint32_t id) { return id >= HK_B__COUNT; }

/* Serves the pending native request of [vm] (p's VM): runs a SYNC native
** and completes the request, or starts / resumes a blocking one. Returns
** the HK_RTIO_* codes of rtio.h (0 continue, 1 block). Thread: p's worker. */
int hk_native_serve(hk_proc_t *p, hk_worker_t *w, hk_vm_t *vm);

/* exec (SPEC §8.12) after serve_exec's checks: runs the command as a
** blocking job on the native helpers (not a worker), so it counts as a
** pending possible waker (§6.9) and a cancel of p kills it (SIGKILL,
** noticed within 20 ms; §6.7.3). Starts or resumes, like hk_native_serve.
** Thread: p's worker. */
int hk_native_exec(hk_proc_t *p, hk_vm_t *vm);

/* p terminates: a blocking call it waits for is marked cancelled
** (hiko_call_cancelled) and abandoned (its result is freed when fn
** returns). Thread: p's worker. */
void hk_native_proc_end(hk_proc_t *p);

/* True when the calling thread is one of [rt]'s helper threads (it runs
** blocking natives: a runtime thread, SPEC §12.2). Thread: any. */
bool hk_native_on_helper(const hiko_runtime_t *rt);

/* True when no blocking native call is pending (SPEC §6.9: a possible
** waker). Thread: any. */
bool hk_native_quiet(hiko_runtime_t *rt);

/* Waits for the running (and queued) blocking calls and joins the helper
** threads. Call after every process ended and before the scheduler is
** freed (a finishing call may run the deadlock check). No registry: no-op.
** Thread: the one destroying the runtime. */
void hk_native_stop(hiko_runtime_t *rt);
/* Stops (if needed) and frees the registry. Call after the workers stopped
** (idle workers read the pending count). Thread: the one destroying the
** runtime. */
void hk_native_free(hiko_runtime_t *rt);

#endif
