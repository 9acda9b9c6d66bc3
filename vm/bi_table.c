/* bi_table.c — the builtin function table (vm/vm.h): one entry per
** hk_builtin_id_t; NULL where the builtin is not implemented here (the VM
** then fails the call with "NAME: not available in this build") and for
** PROC and ASYNC builtins, which the host serves. */
#include "vm/bi_core.h"

#define HK_BI_ENTRY(name) [HK_B_##name] = hk_bi_##name,
const hk_builtin_fn hk_builtin_fns[HK_B__COUNT] = {HK_BI_IMPLEMENTED(HK_BI_ENTRY)};
#undef HK_BI_ENTRY
