/* host.h — what a VM instance needs from its host (the process runtime).
**
** vm/ never includes runtime/ or sched/ headers. Two channels:
**
** 1. Services called synchronously from inside a slice (output, clock,
**    configuration): the function pointers and fields of hk_host_t. One
**    hk_host_t is shared by every VM instance of a runtime (read-only after
**    creation); the callbacks may be called from any worker thread.
**
** 2. Process and I/O operations (builtins of class PROC and ASYNC in
**    vm/builtins.def, and embedder-registered natives): the interpreter does
**    NOT call them. It stops the slice with hk_vm_run() returning
**    HK_RUN_REQUEST and the request in hk_vm_request(vm): the builtin id and
**    its argument (a value of this VM's heap, rooted by the VM until the
**    request is completed). The host serves it — at once (self, spawn,
**    send_message, cancel) or later (receive_message, await_process, sleep,
**    read_line ...) — and completes it with hk_vm_complete() (the builtin's
**    result) or hk_vm_complete_fail() (the caller fails), then runs the VM
**    again. The result value must be in this VM's heap: build it with the
**    allocation functions of vm/vm.h or adopt a message block
**    (hk_vm_adopt). The cost of the call (one reduction) is already charged.
**    A host may also serve some requests without the slice stopping
**    (hk_host_t.serve_now): the same completion calls, made from inside.
**
** Thread: a VM instance is used by one thread at a time (the worker running
** it); the host must not touch it while hk_vm_run runs. */
#ifndef HK_HOST_H
#define HK_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/value.h"

struct hk_vm;

typedef struct hk_host {
  void *ud; /* passed to every callback */
  /* Optional fast path of channel 2: called by the interpreter inside the
  ** slice, on the VM's thread, right after it set up a request (hk_vm_request
  ** is valid). The host may serve it at once - complete it with
  ** hk_vm_complete or hk_vm_complete_fail (and charge with hk_vm_charge) -
  ** and return true: the slice then goes on without leaving hk_vm_run. It
  ** must not block or run the VM. Returning false, having changed nothing,
  ** leaves the request pending: hk_vm_run returns HK_RUN_REQUEST as usual.
  ** So does returning true without completing it (the host started work
  ** that it will finish outside the slice): then the request's argument is
  ** Unit if it was such a tuple, and the host must not need it again.
  ** The argument of a builtin applied to a tuple expression (send_message
  ** (p, x)) is here a tuple outside the heap that lives only during this
  ** call: read its components, copy or complete with them, but never keep
  ** the tuple itself (a request left pending gets a heap tuple).
  ** NULL: every request ends hk_vm_run. Thread: the VM's. */
  bool (*serve_now)(void *ud, struct hk_vm *vm);
  /* Optional: send_message (to, v) applied to a tuple expression, served
  ** inside the slice without a request (no hk_vm_request, no completion:
  ** the interpreter pushes the Unit result). The host sends [v] to [to]
  ** and returns true, or fails the sender (hk_vm_complete_fail, the state
  ** is then not READY) and returns true; false, having changed nothing,
  ** declines: the send goes the serve_now / request way. [to] and [v] are
  ** rooted on the VM's stack during the call; copy, never keep them.
  ** NULL: sends take serve_now. Thread: the VM's. */
  bool (*send_now)(void *ud, struct hk_vm *vm, hk_value_t to, hk_value_t v);
  /* Optional: send_message (to, (c1, .., cn)) with the message a tuple
  ** expression of n (2..HK_CALLBT_MAX) components [items] (vm SENDT): as
  ** send_now, but the message tuple exists nowhere: the host writes its
  ** copy from the components. False, having changed nothing, declines:
  ** the send goes the send_now way. [to] and [items] are rooted on the
  ** VM's stack during the call; copy, never keep them. NULL: SENDT takes
  ** send_now. Thread: the VM's. */
  bool (*send_tuple_now)(void *ud, struct hk_vm *vm, hk_value_t to, const hk_value_t *items,
                         uint32_t n);
  /* Optional: receive_message () inside the slice without a request.
  ** Returns 2 (a message block adopted into the VM's heap, hk_vm_adopt;
  ** its value in *out), 1 (an immediate in *out), 0 (declined, nothing
  ** changed: the request goes to serve_now) or -1 (not now: the request is
  ** set up and the slice stops, as when serve_now returns false). The
  ** interpreter pushes *out (checking the heap limit, SPEC §6.11.3) and,
  ** after an adoption, collects if the trigger was reached. It is called
  ** before the interpreter saves its stack pointer and pc (RECV), so it
  ** reads neither the VM's stack nor its frames, and it neither collects
  ** nor fails the VM when it returns 1 or 2. NULL: receives take
  ** serve_now. Thread: the VM's. */
  int (*receive_now)(void *ud, struct hk_vm *vm, hk_value_t *out);
  /* Writes [len] bytes to stream 1 (stdout) or 2 (stderr) as one unit
  ** (SPEC §6.13). Returns 0 or -errno. Thread: any. */
  int (*write)(void *ud, int stream, const char *data, size_t len);
  /* Milliseconds of the monotonic clock since the runtime's first call
  ** (SPEC §8.11). NULL: the builtin uses its own clock. Thread: any. */
  int64_t (*monotonic_ms)(void *ud);
  /* The name of registered native [id] (>= HK_B__COUNT), for show's
  ** <builtin:NAME> (SPEC §5); NULL if unknown. NULL: natives print <fn>.
  ** Thread: any. */
  const char *(*native_name)(void *ud, uint32_t id);
  /* Program arguments (args ()), capabilities (SPEC §7.5). */
  const char *const *argv;
  size_t argc;
  bool allow_exit, allow_net;
  const char *fs_root;            /* NULL: unconfined */
  const char *const *allow_exec;
  size_t n_allow_exec;
} hk_host_t;

#endif
