/* opcodes.c — the instruction table generated from vm/opcodes.def. */
#include "vm/opcodes.h"

const hk_opinfo_t hk_opinfo[HK_I__COUNT] = {
#define HK_OP(name, fmt, pop, push, flags, doc) {#name, HK_FMT_##fmt, pop, push, flags, doc},
#include "vm/opcodes.def"
#undef HK_OP
};
