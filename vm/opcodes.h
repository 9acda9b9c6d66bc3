/* opcodes.h — the instruction set as C data, generated from vm/opcodes.def. */
#ifndef HK_OPCODES_H
#define HK_OPCODES_H

#include <stdint.h>

#define HK_VAR 255 /* stack effect given by an operand */
#define HK_CALLN_MAX 255u /* most arguments of a CALLP/CALLN chain */
#define HK_CALLBT_MAX 8u /* most components of a CALLBT argument */
#define HK_CONCATN_MAX 64u /* most operands of a CONCATN (a longer chain takes several) */
enum { HK_OPF_JUMP = 1, HK_OPF_END = 2, HK_OPF_ALLOC = 4, HK_OPF_CALL = 8 };
typedef enum hk_opfmt { HK_FMT_N, HK_FMT_A, HK_FMT_S, HK_FMT_AB, HK_FMT_AJ } hk_opfmt_t;

typedef enum hk_opcode {
#define HK_OP(name, fmt, pop, push, flags, doc) HK_I_##name,
#include "vm/opcodes.def"
#undef HK_OP
  HK_I__COUNT
} hk_opcode_t;

typedef struct hk_opinfo {
  const char *name;
  hk_opfmt_t fmt;
  uint8_t pop, push, flags;
  const char *doc;
} hk_opinfo_t;

/* Indexed by hk_opcode_t. Thread: any. */
extern const hk_opinfo_t hk_opinfo[HK_I__COUNT];

/* Words taken by an instruction of format [f]. */
static inline uint32_t hk_op_words(hk_opfmt_t f) { return (f == HK_FMT_AB || f == HK_FMT_AJ) ? 2 : 1; }
static inline uint32_t hk_ins_op(uint32_t w) { return w & 0xffu; }
static inline uint32_t hk_ins_a(uint32_t w) { return w >> 8; }
static inline int32_t hk_ins_s(uint32_t w) { return (int32_t)w >> 8; }
static inline uint32_t hk_ins(uint32_t op, uint32_t a) { return op | (a << 8); }

/* Words of the instruction at code[at] (SWITCH carries its jump table:
** A = local, B = n, then a datatype word and n entries; entry t targets
** its own word + 1 + its signed value). Returns UINT32_MAX when truncated. */
static inline uint32_t hk_ins_len(const uint32_t *code, uint32_t at, uint32_t ncode) {
  uint32_t op = hk_ins_op(code[at]);
  if (op >= HK_I__COUNT) return 1;
  if (op != HK_I_SWITCH) return hk_op_words(hk_opinfo[op].fmt);
  if (at + 1 >= ncode || code[at + 1] > ncode) return UINT32_MAX;
  return 3 + code[at + 1];
}

#endif
