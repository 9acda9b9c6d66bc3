/* bi_show.h — SPEC §5 value printing and SPEC §4.7 equality, without a VM
** instance (the VM entry points hk_value_show and hk_value_equal of vm/vm.h
** wrap these). Both walk values with an explicit work stack: no native
** recursion, whatever the depth or length. Thread: any (no shared state). */
#ifndef HK_BI_SHOW_H
#define HK_BI_SHOW_H

#include <stdint.h>

#include "vm/bi_text.h"
#include "vm/value.h"

/* Returns the name of program-wide constructor [ctor] (borrowed). */
typedef const char *(*hk_ctor_name_fn)(const void *ud, uint32_t ctor);

/* Returns the name of registered native [id] (>= HK_B__COUNT), or NULL if
** unknown (borrowed). */
typedef const char *(*hk_native_name_fn)(const void *ud, uint32_t id);

/* Appends the SPEC §5 text of [v] to [out]: an unapplied builtin prints
** <builtin:NAME>, a registered native too when [native_name] (may be NULL)
** knows it. Adds the work done (values
** visited plus bytes copied) to *work. Returns 0, or -ENOMEM (out->failed
** is then set, or the work stack could not grow). Ownership: borrows v. */
int hk_show_append(hk_value_t v, hk_ctor_name_fn ctor_name, hk_native_name_fn native_name,
                   const void *ud, hk_buf_t *out,
                   uint64_t *work);

/* SPEC §4.7 equality. Adds the work done (value pairs visited plus bytes
** compared) to *work. Returns 1 equal, 0 not equal, -ENOMEM. */
int hk_equal_values(hk_value_t a, hk_value_t b, uint64_t *work);

/* The two walks' work stacks (show's tasks, equality's pairs) start in
** [inl], room inside the stack's own record, and move to the heap when
** they first grow. Doubles the room of [items] (n used, *cap in all,
** items of [size] bytes): returns the new array (*cap updated; [items]
** freed or moved unless it is [inl]), or NULL when out of memory (nothing
** changed). Thread: any. */
void *hk_show_stack_grow(void *items, size_t n, size_t *cap, const void *inl, size_t size);

#endif
