/* value.h — conversions between the public hiko_value_t trees and VM values
** (internal to runtime/; value.c also implements the hiko_value_* API). */
#ifndef HK_RT_VALUE_H
#define HK_RT_VALUE_H

#include "hiko.h"
#include "vm/vm.h"

/* The image of a compiled program (runtime/compile.c). */
const hk_image_t *hk_program_image(const hiko_program_t *p);
/* Takes one more reference to [p] (dropped by hiko_program_release).
** Returns p. Thread: any. */
hiko_program_t *hk_program_retain(hiko_program_t *p);
/* The registered natives [p] was compiled or loaded with (import ids
** HK_B__COUNT + i). Ownership: *out borrowed from p (a copy of the
** runtime's names and types, valid until hiko_program_release). */
void hk_program_natives(const hiko_program_t *p, const hk_builtin_info_t **out, uint32_t *n);

/* Converts [x] (a value of [vm]'s heap, or of a block adopted into it) to
** an API value; [prog] (vm's program) names its constructors, and its data
** and function values keep a reference to it. Iterative. Functions and Rng
** values become opaque detached blocks (hk_value_copy_detached: nothing in
** them points into a tree's global store). Returns 0 or -ENOMEM.
** Ownership: borrows prog; *out owned (hiko_value_free). Thread: vm's owner. */
int hk_value_to_api(hk_vm_t *vm, hiko_program_t *prog, hk_value_t x, hiko_value_t **out);

/* Builds [v] in [vm]'s heap. Iterative. Function and Rng values are copied
** from their blocks (v stays usable). Returns 0, -ENOENT (a constructor the
** program does not have), -EINVAL (a function of another program, SPEC
** §6.12.5, or an opaque value without contents), -ENOMEM. Ownership:
** borrows v. Thread: vm's owner. */
int hk_value_from_api(hk_vm_t *vm, const hiko_value_t *v, hk_value_t *out);

/* The failure value of a root that failed with [message] (render of its
** failure). Returns 0 or -ENOMEM. Ownership: *out owned. */
int hk_value_failure_api(const char *message, hiko_value_t **out);

/* A copy of [s] without its items (slots NULL, fill them with
** hk_value_slot); an opaque block is copied. Returns 0 or -ENOMEM. */
int hk_value_clone_shallow(const hiko_value_t *s, hiko_value_t **out);
hiko_value_t **hk_value_slot(hiko_value_t *d, size_t i);
/* A deep copy of [v] (iterative; runtime/port.c). Returns 0 or -ENOMEM.
** Ownership: borrows v; *out owned (hiko_value_free). Thread: any. */
int hk_value_clone(const hiko_value_t *v, hiko_value_t **out);

#endif
