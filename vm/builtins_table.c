/* builtins_table.c — the builtin table from vm/builtins.def. */
#include "vm/builtins.h"

#include <string.h>

const hk_builtin_info_t hk_builtin_table[HK_B__COUNT] = {
#define HK_BUILTIN(name, type, cls) {#name, type, HK_BC_##cls},
#include "vm/builtins.def"
#undef HK_BUILTIN
};

int hk_builtin_lookup(const char *name) {
  for (int i = 0; i < HK_B__COUNT; i++)
    if (strcmp(hk_builtin_table[i].name, name) == 0) return i;
  return -1;
}
