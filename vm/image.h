/* image.h — a compiled program (SPEC §11.2): functions with bytecode,
** constants, constructor/datatype/effect/global tables, builtin imports,
** source maps and the entry function. An image is immutable once built and
** shared read-only by every VM instance running it.
** All of an image's memory lives in one arena (its own, or the compilation's).
** Thread: building: one; reading: any. */
#ifndef HK_IMAGE_H
#define HK_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "vm/arena.h"
#include "vm/value.h"

typedef struct hk_srcpos {
  uint32_t file, line, col;
} hk_srcpos_t;

typedef struct hk_func {
  const char *name;
  uint32_t arity;    /* parameters (a fun with n patterns: n; fn: 1) */
  uint32_t ncaps;    /* captures of its closures */
  uint32_t nlocals;  /* local slots, parameters first */
  uint32_t maxstack; /* temporaries above the locals */
  uint32_t *code;
  uint32_t ncode;    /* words */
  /* Stack slots a call of its closures needs at first (hk_vm_call_slots),
  ** set for the whole table at once (hk_image_size_calls). */
  uint32_t call_slots;
  hk_srcpos_t *pos;  /* [ncode]: the source position of the instruction at each word */
} hk_func_t;

typedef struct hk_ctor_info {
  const char *name;
  uint32_t datatype, tag;
  bool has_payload;
} hk_ctor_info_t;

/* The effect clauses of one handle expression: HANDLE A uses handler A. */
typedef struct hk_handler_info {
  uint32_t n;
  uint32_t *effects; /* [n] effect indices, in clause order */
} hk_handler_info_t;

struct hk_image {
  hk_arena_t *mem;   /* where everything below lives: &own, or a compilation's arena */
  hk_arena_t own;
  hk_func_t *funcs;
  uint32_t nfuncs, entry;
  hk_value_t *consts;  /* Int, Float, or String (a static object) */
  uint32_t nconsts;
  hk_ctor_info_t *ctors;
  uint32_t nctors;
  const char **datatypes;
  uint32_t ndatatypes;
  const char **effects;
  uint32_t neffects;
  const char **globals; /* names, for diagnostics */
  uint32_t nglobals;
  uint32_t *imports;    /* builtin ids */
  uint32_t nimports;
  hk_handler_info_t *handlers;
  uint32_t nhandlers;
  const char **files;   /* source file names of hk_srcpos_t.file */
  uint32_t nfiles;
};
typedef struct hk_image hk_image_t;

/* Allocates a zeroed image in [arena] (NULL: the image gets its own arena,
** freed by hk_image_free). Returns 0 or -ENOMEM. */
int hk_image_new(hk_image_t **out, hk_arena_t *arena);
/* Sets every function's call_slots: its frame's slots (locals and
** temporaries), or those of the known function it ends by tail-calling if
** more (a spawned `fn () => worker (a, b)`, whose frame replaces it at the
** same base). Once the table is complete (a callee may come later in it):
** compiling and loading call it. Only the last instruction is looked at; an
** operand word that looks like TCALLG only mis-sizes a first stack, which
** grows as usual. */
void hk_image_size_calls(hk_image_t *img);
/* Frees an image that owns its arena (no-op for one living in a
** compilation's arena). Thread: no instance may use it. */
void hk_image_free(hk_image_t *img);
/* A static String object in the image's arena (never moved or counted).
** Returns 0 or -ENOMEM. */
int hk_image_string(hk_image_t *img, const char *s, size_t len, hk_value_t *out);

/* The constructor of [to] that stands for constructor [c] of [from] when a
** value crosses from one program to another (SPEC §4.1, §6.12.1): the
** prelude's constructors (§3.4) are the same in every program; any other
** is [to]'s constructor of the same name, of a datatype of the same name,
** with a payload exactly when [c] has one. Returns its index, or -ENOENT.
** Thread: any. */
int64_t hk_image_ctor_map(const hk_image_t *from, uint32_t c, const hk_image_t *to);
/* The constructor a host means by [name] (hiko_value_data): the last one
** declared, so a program's own constructor hides the prelude's of the same
** name (SPEC §3.1.2). Returns its index, or -ENOENT. Thread: any. */
int64_t hk_image_ctor_find(const hk_image_t *img, const char *name);

#endif
