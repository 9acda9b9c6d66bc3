/* builtins.h — the builtin table (vm/builtins.def) as C data. */
#ifndef HK_BUILTINS_H
#define HK_BUILTINS_H

#include <stdint.h>

typedef enum hk_builtin_class {
  HK_BC_SYNC,  /* runs on the worker inside the caller's slice */
  HK_BC_ASYNC, /* blocks the caller on an I/O token */
  HK_BC_PROC,  /* process builtin served by the runtime */
} hk_builtin_class_t;

typedef enum hk_builtin_id {
#define HK_BUILTIN(name, type, cls) HK_B_##name,
#include "vm/builtins.def"
#undef HK_BUILTIN
  HK_B__COUNT
} hk_builtin_id_t;

typedef struct hk_builtin_info {
  const char *name;
  const char *type; /* hiko type expression */
  hk_builtin_class_t cls;
} hk_builtin_info_t;

/* Indexed by hk_builtin_id_t. Thread: any (read-only). */
extern const hk_builtin_info_t hk_builtin_table[HK_B__COUNT];

/* Returns the id of builtin [name], or -1. Thread: any. */
int hk_builtin_lookup(const char *name);

#endif
