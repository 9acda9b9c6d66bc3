/* bytecode_test.c — serialized images and the verifier (SPEC §11.4):
** compiled programs round-trip and still run; every truncation and many
** corruptions of a buffer are rejected or run safely under fuel. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode.h"
#include "vm/front.h"
#include "vm/opcodes.h"
#include "vm/vm.h"

static const char *const programs[] = {
    "fun fib n = if n < 2 then n else fib (n - 1) + fib (n - 2)\nval _ = println (fib 15)\n",
    "effect Yield of Int\n"
    "fun collect gen = handle gen () with return _ => [] | Yield n k => n :: collect (fn () => resume k ())\n"
    "fun g () = let val _ = perform Yield 1 val _ = perform Yield 2 in () end\n"
    "val _ = println (collect g)\n",
    "datatype 'a option = None | Some of 'a\n"
    "fun f x = case x of Some (a, \"s\") => a + 1 | Some (_, _) => 2 | None => 0\n"
    "val _ = println (f (Some (3, \"s\")), f None, 2.5, #\"c\", [Some 1])\n",
    "datatype e = A of Int | B of e | C | D\n"
    "fun g x = case x of A n => n | B C => 10 | B y => g y + 1 | _ => 0\n"
    "val _ = println (g (B (B (A 5))), g (B C), g D)\n",
    "fun sum (n, acc) = if n = 0 then acc else sum (n - 1, acc + n)\n"
    "val p = (10, 0)\n"
    "val _ = println (sum (10, 0), sum p)\n",
};

typedef struct cap { char buf[4096]; size_t n; } cap_t;
static int cap_write(void *ud, int stream, const char *d, size_t len) {
  cap_t *c = ud;
  (void)stream;
  if (c->n + len >= sizeof c->buf) len = sizeof c->buf - 1 - c->n;
  memcpy(c->buf + c->n, d, len);
  c->n += len;
  c->buf[c->n] = 0;
  return 0;
}

/* Runs [img] with fuel; returns its output (static buffer). */
static const char *run(const hk_image_t *img, uint64_t fuel) {
  static cap_t c;
  c.n = 0;
  c.buf[0] = 0;
  hk_host_t host = {.ud = &c, .write = cap_write};
  hk_vm_config_t cfg = {.fuel = fuel, .fuel_limited = true, .max_heap = 100000, .max_stack_depth = 10000};
  hk_vm_t *vm;
  cr_assert_eq(hk_vm_new(&vm, img, &host, &cfg), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
  hk_run_t st;
  while ((st = hk_vm_run(vm, 1000)) == HK_RUN_YIELD) {}
  if (st == HK_RUN_REQUEST) hk_vm_complete_fail(vm, "no host");
  hk_vm_free(vm);
  return c.buf;
}

static void dump_program(const char *src, hk_front_t *f, void **buf, size_t *len) {
  hk_front_init(f);
  cr_assert_eq(hk_front_compile_string(f, "t.hml", src, strlen(src), NULL), 0);
  char why[256];
  cr_assert_eq(hk_image_verify(f->image, why, sizeof why), 0, "compiler output fails verification: %s", why);
  cr_assert_eq(hk_image_dump(f->image, buf, len), 0);
}

/* The verifier rejects img with a reason containing [what]. */
static void expect_rejected(const hk_image_t *img, const char *what) {
  char why[256];
  cr_assert_eq(hk_image_verify(img, why, sizeof why), -EINVAL);
  cr_assert_not_null(strstr(why, what), "%s", why);
}

Test(vm_bytecode, round_trip_runs_the_same) {
  for (size_t i = 0; i < sizeof programs / sizeof *programs; i++) {
    hk_front_t f;
    void *buf;
    size_t len;
    dump_program(programs[i], &f, &buf, &len);
    char expect[4096];
    snprintf(expect, sizeof expect, "%s", run(f.image, 1000000));
    hk_image_t *img;
    char why[256];
    cr_assert_eq(hk_image_load(buf, len, &img, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(run(img, 1000000), expect);
    cr_assert_gt(strlen(expect), 0);
    hk_image_free(img);
    free(buf);
    hk_front_free(&f);
  }
}

/* Every function's first stack for a call of its closures
** (hk_image_size_calls, read at every spawn by hk_vm_call_slots) is set
** when compiling and again when loading: at least its own frame, and a
** wrapper that ends by tail-calling a known function (fn () => big (1, 2))
** is sized for that function's frame. */
Test(vm_bytecode, call_slots_set_by_compile_and_load) {
  const char *src = "fun big (a, b) = let val c = a + b val d = c * 2 val e = d - 1 in c + d + e end\n"
                    "val g = fn () => big (1, 2)\n"
                    "val _ = println (g ())\n";
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program(src, &f, &buf, &len);
  hk_image_t *img;
  char why[256];
  cr_assert_eq(hk_image_load(buf, len, &img, why, sizeof why), 0, "%s", why);
  const hk_image_t *compiled = f.image;
  cr_assert_eq(img->nfuncs, compiled->nfuncs);
  bool wrapper = false;
  for (uint32_t i = 0; i < img->nfuncs; i++) {
    const hk_func_t *a = &compiled->funcs[i], *b = &img->funcs[i];
    uint32_t own = a->nlocals + a->maxstack;
    cr_assert_geq(a->call_slots, own, "%s", a->name);
    cr_assert_eq(b->call_slots, a->call_slots, "%s", a->name);
    if (a->call_slots > own) wrapper = true;
  }
  cr_assert(wrapper, "g's closure is sized for big's frame");
  hk_image_free(img);
  free(buf);
  hk_front_free(&f);
}

Test(vm_bytecode, header_checks) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program(programs[0], &f, &buf, &len);
  unsigned char *b = buf;
  hk_image_t *img;
  char why[256];
  cr_assert_eq(memcmp(b, "HIKOBC\0\1", 8), 0);
  b[0] = 'X';
  cr_assert_eq(hk_image_load(b, len, &img, why, sizeof why), -EINVAL);
  cr_assert_str_eq(why, "bad magic");
  b[0] = 'H';
  b[8] = 9;
  cr_assert_eq(hk_image_load(b, len, &img, why, sizeof why), -EINVAL);
  cr_assert_str_eq(why, "unsupported version 9");
  b[8] = 1;
  cr_assert_eq(hk_image_load(b, len - 1, &img, why, sizeof why), -EINVAL);
  cr_assert_not_null(strstr(why, "length"));
  free(buf);
  hk_front_free(&f);
}

Test(vm_bytecode, verifier_rejects_bad_code) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program(programs[0], &f, &buf, &len);
  hk_image_t *img = f.image;
  char why[256];
  hk_func_t *fn = &img->funcs[1];
  uint32_t saved = fn->code[0];
  fn->code[0] = hk_ins(HK_I_LOCAL, 99);
  expect_rejected(img, "local slot out of range");
  fn->code[0] = hk_ins(HK_I_LOCAL2, 0u | 99u << 12); /* the second slot out of range */
  expect_rejected(img, "local slot out of range");
  fn->code[0] = hk_ins(HK_I_LOCAL2, 99u); /* the first */
  expect_rejected(img, "local slot out of range");
  fn->code[0] = hk_ins(HK_I_TEE, 99);
  expect_rejected(img, "local slot out of range");
  fn->code[0] = hk_ins(HK_I_TEE, 0); /* pops the value it keeps: nothing to keep at entry */
  expect_rejected(img, "underflow");
  fn->code[0] = hk_ins(HK_I_JNEQLI, 99u | 5u << 12); /* the local tested is out of range */
  expect_rejected(img, "local slot out of range");
  fn->code[0] = hk_ins(HK_I_JMP, 5000);
  expect_rejected(img, "jump target");
  fn->code[0] = hk_ins(HK_I_POP, 0);
  expect_rejected(img, "underflow");
  fn->code[0] = 250;
  expect_rejected(img, "invalid opcode");
  fn->code[0] = saved;
  uint32_t last = fn->code[fn->ncode - 1];
  fn->code[fn->ncode - 1] = hk_ins(HK_I_NOP, 0);
  expect_rejected(img, "off its end");
  fn->code[fn->ncode - 1] = last;
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  free(buf);
  hk_front_free(&f);
}

/* A direct call passing the components of a tuple parameter is valid only
** into a function whose code starts with UNTUPLE of that many components. */
Test(vm_bytecode, verifier_checks_tupled_entries) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program(programs[4], &f, &buf, &len);
  hk_image_t *img = f.image;
  char why[256];
  hk_func_t *fn = &img->funcs[1];
  cr_assert_str_eq(fn->name, "sum");
  cr_assert_eq(fn->code[0], hk_ins(HK_I_UNTUPLE, 2));
  cr_assert_str_eq(run(img, 100000), "(55, 55)\n");
  fn->code[0] = hk_ins(HK_I_NOP, 0);
  expect_rejected(img, "direct call with a bad function");
  fn->code[0] = hk_ins(HK_I_UNTUPLE, fn->nlocals + 1);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), -EINVAL);
  /* the caller (function 0, checked first) or the callee's own operand */
  cr_assert(strstr(why, "untuple of a bad component count") || strstr(why, "direct call with a bad function"),
            "%s", why);
  fn->code[0] = hk_ins(HK_I_UNTUPLE, 2);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  free(buf);
  hk_front_free(&f);
}

/* Where the last instruction [op] of [fn] starts (there must be one). */
static uint32_t last_op(const hk_func_t *fn, uint32_t op) {
  uint32_t at = UINT32_MAX;
  for (uint32_t i = 0; i < fn->ncode; i += hk_ins_len(fn->code, i, fn->ncode))
    if (hk_ins_op(fn->code[i]) == op) at = i;
  cr_assert_neq(at, UINT32_MAX);
  return at;
}

/* A self tail call is TLOOP k<<16|mask: k must be a valid direct argument
** count of the function itself, the mask may name only arguments below k,
** and it pops one value per bit. */
Test(vm_bytecode, verifier_checks_self_tail_calls) {
  hk_front_t f;
  void *buf;
  size_t len;
  /* a + ~1, not a - 1: that would be one TLOOPRI (verifier_checks_fused_self_tail_calls) */
  dump_program("fun f (a, b) = if a = 0 then b else f (a + ~1, b)\nval _ = println (f (5, 7))\n", &f, &buf,
               &len);
  hk_image_t *img = f.image;
  char why[256];
  cr_assert_str_eq(run(img, 100000), "7\n");
  hk_func_t *fn = &img->funcs[1];
  uint32_t at = last_op(fn, HK_I_TLOOPR);
  /* compiled as TLOOPR (verifier_checks_straight_self_tail_calls); its
  ** general form TLOOP in the same word: */
  cr_assert_eq(fn->code[at], hk_ins(HK_I_TLOOPR, 1u << 4 | 2u << 9 | 1u << 15));
  fn->code[at] = hk_ins(HK_I_TLOOP, 2u << 16 | 1u); /* b is passed unchanged */
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  cr_assert_str_eq(run(img, 100000), "7\n");
  fn->code[at] = hk_ins(HK_I_TLOOP, 2u << 16 | 3u); /* pops two: only a - 1 is there */
  expect_rejected(img, "underflow");
  fn->code[at] = hk_ins(HK_I_TLOOP, 3u << 16 | 1u);
  expect_rejected(img, "self tail call with a bad arity");
  fn->code[at] = hk_ins(HK_I_TLOOP, 1u << 16 | 2u); /* argument 1 of 1 */
  expect_rejected(img, "argument mask");
  fn->code[at] = hk_ins(HK_I_TLOOP, 255u << 16 | 1u);
  expect_rejected(img, "self tail call with a bad arity");
  fn->code[at] = hk_ins(HK_I_TLOOP, 1u << 16 | 1u); /* the tuple itself, entering at UNTUPLE: valid */
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  fn->code[at] = hk_ins(HK_I_TLOOP, 2u << 16 | 1u);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  free(buf);
  hk_front_free(&f);
}

/* TLOOPI s|j<<12|k<<16 and TLOOPRI s|j<<6|k<<10|e<<16|z<<17, both with
** the immediate in B (LADDI s B and the TLOOP, TLOOPR, of the one changed
** argument j in one): s must be a local, j an argument below a valid direct
** argument count k; TLOOPRI's entry e and count z of locals to reset must
** be the function's own, as TLOOPR's. They pop nothing. */
Test(vm_bytecode, verifier_checks_fused_self_tail_calls) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program("fun f (a, b) = let val c = a + b in if a = 0 then c else f (a - 1, b) end\n"
               "val _ = println (f (5, 7))\n", &f, &buf, &len);
  hk_image_t *img = f.image;
  char why[256];
  cr_assert_str_eq(run(img, 100000), "7\n");
  hk_func_t *fn = &img->funcs[1];
  cr_assert_eq(fn->nlocals, 3);
  uint32_t at = last_op(fn, HK_I_TLOOPRI);
  /* local 0 - 1 into argument 0 of 2, entry after UNTUPLE 2, local 2 reset */
  const uint32_t good = 0u | 0u << 6 | 2u << 10 | 1u << 16 | 1u << 17;
  cr_assert_eq(fn->code[at], hk_ins(HK_I_TLOOPRI, good));
  cr_assert_eq((int32_t)fn->code[at + 1], -1);
  fn->code[at] = hk_ins(HK_I_TLOOPRI, good | 2u); /* c - 1 into a: valid (c is a local) */
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  fn->code[at] = hk_ins(HK_I_TLOOPRI, good | 3u); /* local 3 of 3 */
  expect_rejected(img, "local slot out of range");
  fn->code[at] = hk_ins(HK_I_TLOOPRI, good | 1u << 6); /* into b: valid */
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  fn->code[at] = hk_ins(HK_I_TLOOPRI, good | 2u << 6); /* into c: not an argument */
  expect_rejected(img, "bad arity or argument");
  fn->code[at] = hk_ins(HK_I_TLOOPRI, (good & ~(63u << 10)) | 3u << 10); /* 3 arguments */
  expect_rejected(img, "bad arity");
  fn->code[at] = hk_ins(HK_I_TLOOPRI, good & ~(1u << 16)); /* entering at the UNTUPLE with 2 values */
  expect_rejected(img, "bad entry");
  fn->code[at] = hk_ins(HK_I_TLOOPRI, good & ~(0x7fu << 17)); /* local 2 kept: a stale value */
  expect_rejected(img, "count of locals");
  fn->code[at] = hk_ins(HK_I_TLOOPRI, good + (1u << 17)); /* a slot past the frame's locals */
  expect_rejected(img, "count of locals");
  fn->code[at] = hk_ins(HK_I_TLOOPRI, good);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  /* its general form in the same words */
  const uint32_t gen = 0u | 0u << 12 | 2u << 16;
  fn->code[at] = hk_ins(HK_I_TLOOPI, gen);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  cr_assert_str_eq(run(img, 100000), "7\n");
  fn->code[at] = hk_ins(HK_I_TLOOPI, gen | 3u); /* local 3 of 3 */
  expect_rejected(img, "local slot out of range");
  fn->code[at] = hk_ins(HK_I_TLOOPI, gen | 2u << 12); /* into c */
  expect_rejected(img, "bad arity or argument");
  fn->code[at] = hk_ins(HK_I_TLOOPI, (gen & 0xffffu) | 3u << 16);
  expect_rejected(img, "bad arity");
  fn->code[at] = hk_ins(HK_I_TLOOPI, (gen & 0xffffu) | 1u << 16); /* the tuple itself, entering at UNTUPLE */
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0); /* valid: UNTUPLE checks what it gets */
  fn->code[at] = hk_ins(HK_I_TLOOPRI, good);
  cr_assert_str_eq(run(img, 100000), "7\n");
  free(buf);
  hk_front_free(&f);
}

/* TLOOPR j|r<<4|k<<9|e<<15|z<<16: TLOOP's checks of k and of the changed
** run j..j+r-1, and its entry e and count z of locals to reset must be the
** function's own (the interpreter reads neither the function's arity nor
** its locals); it pops r values. */
Test(vm_bytecode, verifier_checks_straight_self_tail_calls) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program("fun f (a, b) = let val c = a + b in if a = 0 then c else f (a + ~1, b) end\n"
               "val _ = println (f (5, 7))\n", &f, &buf, &len);
  hk_image_t *img = f.image;
  char why[256];
  cr_assert_str_eq(run(img, 100000), "7\n");
  hk_func_t *fn = &img->funcs[1];
  cr_assert_eq(fn->nlocals, 3);
  uint32_t at = last_op(fn, HK_I_TLOOPR);
  /* a - 1 into local 0, 2 arguments, entry after UNTUPLE 2, local 2 reset */
  const uint32_t good = 0u | 1u << 4 | 2u << 9 | 1u << 15 | 1u << 16;
  cr_assert_eq(fn->code[at], hk_ins(HK_I_TLOOPR, good));
  fn->code[at] = hk_ins(HK_I_TLOOPR, (good & ~(31u << 4)) | 2u << 4); /* pops two: only a - 1 is there */
  expect_rejected(img, "underflow");
  fn->code[at] = hk_ins(HK_I_TLOOPR, good | 1u); /* local 1 instead: valid, pops one */
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  fn->code[at] = hk_ins(HK_I_TLOOPR, good | 2u); /* local 2 is not an argument */
  expect_rejected(img, "argument run");
  fn->code[at] = hk_ins(HK_I_TLOOPR, (good & ~(31u << 4)) | 2u); /* no run, but j = 2 */
  expect_rejected(img, "argument run");
  fn->code[at] = hk_ins(HK_I_TLOOPR, (good & ~(63u << 9)) | 3u << 9); /* 3 arguments */
  expect_rejected(img, "bad arity");
  fn->code[at] = hk_ins(HK_I_TLOOPR, good & ~(1u << 15)); /* entering at the UNTUPLE with 2 values */
  expect_rejected(img, "bad entry");
  fn->code[at] = hk_ins(HK_I_TLOOPR, good & ~(0xffu << 16)); /* local 2 kept: a stale value */
  expect_rejected(img, "count of locals");
  fn->code[at] = hk_ins(HK_I_TLOOPR, good + (1u << 16)); /* a slot past the frame's locals */
  expect_rejected(img, "count of locals");
  fn->code[at] = hk_ins(HK_I_TLOOPR, (good & ~(63u << 9 | 0xffu << 16 | 1u << 15)) | 1u << 9 | 2u << 16);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0); /* the tuple itself (k 1, entry 0, 2 resets) */
  fn->code[at] = hk_ins(HK_I_TLOOPR, good);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  cr_assert_str_eq(run(img, 100000), "7\n");
  free(buf);
  hk_front_free(&f);
}

/* CALLG and TCALLG enter a function without a closure: the interpreter
** does not check that the target has no captures (a closure-less frame of
** one would read captures through NULL), the verifier does. */
Test(vm_bytecode, verifier_rejects_direct_calls_of_closures_without_one) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program("fun mk k = let fun add x = x + k in add 1 end\nval _ = println (mk 2)\n", &f, &buf, &len);
  hk_image_t *img = f.image;
  char why[256];
  cr_assert_str_eq(run(img, 100000), "3\n");
  hk_func_t *fn = &img->funcs[1];
  cr_assert_str_eq(fn->name, "mk");
  uint32_t at = last_op(fn, HK_I_TCALLF);
  cr_assert_neq(at, UINT32_MAX);
  uint32_t callee = hk_ins_a(fn->code[at]);
  cr_assert_gt(img->funcs[callee].ncaps, 0);
  fn->code[at] = hk_ins(HK_I_TCALLG, callee);
  expect_rejected(img, "direct call with a bad function, arity or captures");
  fn->code[at] = hk_ins(HK_I_CALLG, callee);
  expect_rejected(img, "direct call with a bad function, arity or captures");
  fn->code[at] = hk_ins(HK_I_TCALLF, callee);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  free(buf);
  hk_front_free(&f);
}

/* SPLIT s, t | n << 24 puts the n >= 2 components of local s in locals
** t..t+n-1: the verifier checks both locals and the count. */
Test(vm_bytecode, verifier_checks_tuple_splits) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program("fun f p = case p of (a, b) => a - b\nval _ = println (f (5, 7))\n", &f, &buf, &len);
  hk_image_t *img = f.image;
  char why[256];
  cr_assert_str_eq(run(img, 100000), "-2\n");
  hk_func_t *fn = &img->funcs[1];
  cr_assert_str_eq(fn->name, "f");
  cr_assert_eq(fn->nlocals, 3);
  cr_assert_eq(fn->code[0], hk_ins(HK_I_SPLIT, 0));
  cr_assert_eq(fn->code[1], 1u | 2u << 24);
  fn->code[1] = 2u | 2u << 24; /* locals 2 and 3 of 3 */
  expect_rejected(img, "local slot out of range");
  fn->code[1] = 1u | 1u << 24;
  expect_rejected(img, "tuple of fewer than 2 components");
  fn->code[0] = hk_ins(HK_I_SPLIT, 3);
  fn->code[1] = 1u | 2u << 24;
  expect_rejected(img, "local slot out of range");
  fn->code[0] = hk_ins(HK_I_SPLIT, 0);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  free(buf);
  hk_front_free(&f);
}

/* A builtin applied to a tuple expression is CALLBT import n (TUPLE n, CALLB
** in one): the verifier checks the import and a count of 2..HK_CALLBT_MAX. */
Test(vm_bytecode, verifier_checks_builtin_tuple_calls) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program("val s = \"hello\"\nval _ = println (substring (s, 1, 3), path_join (\"a\", s))\n", &f, &buf,
               &len);
  hk_image_t *img = f.image;
  char why[256];
  cr_assert_str_eq(run(img, 100000), "(ell, a/hello)\n");
  hk_func_t *fn = &img->funcs[img->entry];
  uint32_t at = 0, found = 0;
  for (uint32_t i = 0; i < fn->ncode; i += hk_ins_len(fn->code, i, fn->ncode))
    if (hk_ins_op(fn->code[i]) == HK_I_CALLBT && found++ == 0) at = i;
  cr_assert_eq(found, 3); /* substring, path_join, println */
  cr_assert_eq(fn->code[at + 1], 3);
  fn->code[at + 1] = 1;
  expect_rejected(img, "bad component count");
  fn->code[at + 1] = HK_CALLBT_MAX + 1;
  expect_rejected(img, "bad component count");
  fn->code[at + 1] = 3;
  uint32_t w = fn->code[at];
  fn->code[at] = hk_ins(HK_I_CALLBT, img->nimports);
  expect_rejected(img, "builtin import out of range");
  fn->code[at] = w;
  fn->code[at + 1] = 4; /* more than the stack holds */
  expect_rejected(img, "underflow");
  fn->code[at + 1] = 3;
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  free(buf);
  hk_front_free(&f);
}

/* The program [src] prints [printed]; its function 1, [name], ends in the
** instruction [op] with operand [good]: the verifier rejects [low] and
** [high] (a count out of its range, [why]) and good + 1 (one more value
** than the stack holds), and accepts [good] again. */
static void expect_count_checked(const char *src, const char *printed, const char *name, uint32_t op, uint32_t good,
                                 uint32_t low, uint32_t high, const char *why_bad) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program(src, &f, &buf, &len);
  hk_image_t *img = f.image;
  char why[256];
  cr_assert_str_eq(run(img, 100000), printed);
  hk_func_t *fn = &img->funcs[1];
  cr_assert_str_eq(fn->name, name);
  uint32_t at = last_op(fn, op);
  cr_assert_eq(fn->code[at], hk_ins(op, good));
  fn->code[at] = hk_ins(op, low);
  expect_rejected(img, why_bad);
  fn->code[at] = hk_ins(op, high);
  expect_rejected(img, why_bad);
  fn->code[at] = hk_ins(op, good + 1);
  expect_rejected(img, "underflow");
  fn->code[at] = hk_ins(op, good);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  free(buf);
  hk_front_free(&f);
}

/* An all-^ chain of three or more operands is CONCATN n: the verifier checks
** a count of 3..HK_CONCATN_MAX and the stack (n operands below it). */
Test(vm_bytecode, verifier_checks_concatenation_chains) {
  expect_count_checked("fun f a b = a ^ \"-\" ^ b ^ \"!\"\nval _ = println (f \"x\" \"y\")\n", "x-y!\n", "f",
                       HK_I_CONCATN, 4, 2, HK_CONCATN_MAX + 1, "bad operand count");
}

/* f (x, y) of an unknown f is CALLT 2 (TCALLT in tail position): the
** verifier checks a component count of 2..255 and the stack (f below them). */
Test(vm_bytecode, verifier_checks_tuple_calls) {
  expect_count_checked("fun app g = let val r = g (3, 4) in r + 1 end\nval _ = println (app (fn (a, b) => a * b))\n",
                       "13\n", "app", HK_I_CALLT, 2, 1, 256, "bad component count");
}

/* Compiles [src] into *f, dumps its image into *buf (free it) and checks
** that the dump loads back (and verifies). Returns the image. */
static hk_image_t *dump_loaded(const char *src, hk_front_t *f, void **buf) {
  size_t len;
  dump_program(src, f, buf, &len);
  char why[256];
  hk_image_t *back;
  cr_assert_eq(hk_image_load(*buf, len, &back, why, sizeof why), 0, "%s", why);
  hk_image_free(back);
  return f->image;
}

/* The function of [img] holding the one instruction [op], at *at. */
static hk_func_t *only_op(hk_image_t *img, uint32_t op, uint32_t *at) {
  hk_func_t *fn = NULL;
  uint32_t found = 0;
  for (uint32_t k = 0; k < img->nfuncs; k++)
    for (uint32_t i = 0; i < img->funcs[k].ncode; i += hk_ins_len(img->funcs[k].code, i, img->funcs[k].ncode))
      if (hk_ins_op(img->funcs[k].code[i]) == op && found++ == 0) fn = &img->funcs[k], *at = i;
  cr_assert_eq(found, 1);
  return fn;
}

/* send_message (p, (x, y)) is SENDT import n (TUPLE n, CALLBT in one): the
** verifier checks that the import is send_message, a count of
** 2..HK_CALLBT_MAX and the stack (the pid below the n components); the
** image round-trips. */
Test(vm_bytecode, verifier_checks_tuple_sends) {
  hk_front_t f;
  void *buf;
  hk_image_t *img =
      dump_loaded("fun f p = send_message (p, (1, \"a\", 2.5))\nval _ = println (substring (\"hello\", 1, 3))\n", &f, &buf);
  char why[256];
  uint32_t at;
  hk_func_t *fn = only_op(img, HK_I_SENDT, &at);
  for (uint32_t i = 0; i < fn->ncode; i += hk_ins_len(fn->code, i, fn->ncode))
    cr_assert_neq(hk_ins_op(fn->code[i]), HK_I_TUPLE, "no heap tuple for the message");
  cr_assert_eq(fn->code[at + 1], 3);
  uint32_t w = fn->code[at], other = img->nimports;
  for (uint32_t i = 0; i < img->nimports; i++)
    if (img->imports[i] != HK_B_send_message) other = i;
  cr_assert_lt(other, img->nimports);
  fn->code[at] = hk_ins(HK_I_SENDT, other);
  expect_rejected(img, "send of a bad builtin import");
  fn->code[at] = hk_ins(HK_I_SENDT, img->nimports);
  expect_rejected(img, "send of a bad builtin import");
  fn->code[at] = w;
  fn->code[at + 1] = 1;
  expect_rejected(img, "bad component count");
  fn->code[at + 1] = HK_CALLBT_MAX + 1;
  expect_rejected(img, "bad component count");
  fn->code[at + 1] = 4; /* the pid taken for a component: nothing below */
  expect_rejected(img, "underflow");
  fn->code[at + 1] = 3;
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  free(buf);
  hk_front_free(&f);
}

/* A send whose result `val _` drops is SENDP (SENDTP), which skips the POP
** after it when it sends at once: the verifier checks that a POP follows
** (also at the end of the code), the import as for SEND (SENDT), and the
** image round-trips. */
Test(vm_bytecode, verifier_checks_sends_that_drop_their_result) {
  hk_front_t f;
  void *buf;
  hk_image_t *img =
      dump_loaded("fun f (p, k) = if k = 0 then 0 else let val _ = send_message (p, k) in f (p, k - 1) end\n"
                  "fun g (p, k) = if k = 0 then 0 else let val _ = send_message (p, (k, 1)) in g (p, k - 1) end\n"
                  "val _ = println (substring (\"hello\", 1, 3))\n",
                  &f, &buf);
  char why[256];
  for (int t = 0; t < 2; t++) {
    uint32_t op = t ? HK_I_SENDTP : HK_I_SENDP, at;
    hk_func_t *fn = only_op(img, op, &at);
    uint32_t w = fn->code[at], next = at + hk_ins_len(fn->code, at, fn->ncode);
    cr_assert_eq(fn->code[next], hk_ins(HK_I_POP, 0));
    uint32_t other = img->nimports;
    for (uint32_t i = 0; i < img->nimports; i++)
      if (img->imports[i] != HK_B_send_message) other = i;
    cr_assert_lt(other, img->nimports);
    fn->code[at] = hk_ins(op, other);
    expect_rejected(img, "send of a bad builtin import");
    fn->code[at] = w;
    fn->code[next] = hk_ins(HK_I_NOP, 0); /* the stack as deep after it, but nothing to skip */
    expect_rejected(img, "send that drops its result not followed by POP");
    fn->code[next] = hk_ins(HK_I_POP, 0);
    cr_assert_eq(hk_image_verify(img, why, sizeof why), 0, "%s", why);
    /* At the end of the code: no POP at all. */
    uint32_t *code = fn->code, ncode = fn->ncode;
    fn->code = (uint32_t[]){hk_ins(HK_I_INT, 1), hk_ins(HK_I_INT, 2), hk_ins(HK_I_SENDP, hk_ins_a(w))};
    fn->ncode = 3;
    expect_rejected(img, "send that drops its result not followed by POP");
    fn->code = code;
    fn->ncode = ncode;
  }
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0);
  free(buf);
  hk_front_free(&f);
}

/* JNEQLG runs as the LOCAL, GLOBAL and JNEQ after it: the verifier checks
** its local and global and that those three follow, of its operands. */
Test(vm_bytecode, verifier_checks_fused_comparisons) {
  hk_front_t f;
  void *buf;
  hk_image_t *img =
      dump_loaded("val n = 10\nfun f (i, k) = if i = n then k else f (i + 1, k + i)\nval _ = println (f (0, 0))\n", &f, &buf);
  char why[256];
  uint32_t at;
  hk_func_t *fn = only_op(img, HK_I_JNEQLG, &at);
  uint32_t w = fn->code[at], a = hk_ins_a(w);
  cr_assert_eq(fn->code[at + 1], hk_ins(HK_I_LOCAL, a & 0xfffu));
  fn->code[at] = hk_ins(HK_I_JNEQLG, (a & ~0xfffu) | 99u);
  expect_rejected(img, "local slot out of range");
  fn->code[at] = hk_ins(HK_I_JNEQLG, (a & 0xfffu) | img->nglobals << 12);
  expect_rejected(img, "global slot out of range");
  fn->code[at] = hk_ins(HK_I_JNEQLG, a ^ 1u); /* another local than the LOCAL's */
  expect_rejected(img, "fused comparison not followed by its LOCAL, GLOBAL and JNEQ");
  fn->code[at] = w;
  uint32_t saved = fn->code[at + 3];
  fn->code[at + 3] = hk_ins(HK_I_JNNE, hk_ins_a(saved)); /* the opposite jump */
  expect_rejected(img, "fused comparison not followed by its LOCAL, GLOBAL and JNEQ");
  fn->code[at + 3] = saved;
  saved = fn->code[at + 2];
  fn->code[at + 2] = hk_ins(HK_I_LOCAL, 0); /* a local where the global was */
  expect_rejected(img, "fused comparison not followed by its LOCAL, GLOBAL and JNEQ");
  fn->code[at + 2] = saved;
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0, "%s", why);
  uint32_t *code = fn->code, ncode = fn->ncode; /* at the end of the code */
  fn->code = (uint32_t[]){fn->code[0], w, hk_ins(HK_I_LOCAL, a & 0xfffu), hk_ins(HK_I_GLOBAL, a >> 12)};
  fn->ncode = 4; /* its UNTUPLE kept: the call in main enters after it */
  expect_rejected(img, "fused comparison not followed by its LOCAL, GLOBAL and JNEQ");
  fn->code = code;
  fn->ncode = ncode;
  free(buf);
  hk_front_free(&f);
}

/* CAP2 runs as the CAP, CAP after it: the verifier checks its captures
** and that those two follow, of its operands. */
Test(vm_bytecode, verifier_checks_fused_captures) {
  hk_front_t f;
  void *buf;
  hk_image_t *img = dump_loaded("fun mk (a, b) = fn () => a - b\nval _ = println ((mk (3, 1)) ())\n", &f, &buf);
  char why[256];
  uint32_t at;
  hk_func_t *fn = only_op(img, HK_I_CAP2, &at);
  uint32_t w = fn->code[at];
  cr_assert_eq(w, hk_ins(HK_I_CAP2, 0u | 1u << 12));
  cr_assert_eq(fn->code[at + 1], hk_ins(HK_I_CAP, 0));
  cr_assert_eq(fn->code[at + 2], hk_ins(HK_I_CAP, 1));
  fn->code[at] = hk_ins(HK_I_CAP2, 2u | 1u << 12);
  expect_rejected(img, "capture index out of range");
  fn->code[at] = hk_ins(HK_I_CAP2, 0u | 2u << 12);
  expect_rejected(img, "capture index out of range");
  fn->code[at] = hk_ins(HK_I_CAP2, 1u | 0u << 12); /* the two swapped */
  expect_rejected(img, "fused captures not followed by their two CAPs");
  fn->code[at] = hk_ins(HK_I_CAP2, 0u | 0u << 12); /* another second capture than the CAP's */
  expect_rejected(img, "fused captures not followed by their two CAPs");
  fn->code[at] = w;
  fn->code[at + 2] = hk_ins(HK_I_LOCAL, 0); /* not a CAP */
  expect_rejected(img, "fused captures not followed by their two CAPs");
  fn->code[at + 2] = hk_ins(HK_I_CAP, 1);
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0, "%s", why);
  uint32_t *code = fn->code, ncode = fn->ncode; /* at the end of the code */
  fn->code = (uint32_t[]){w, hk_ins(HK_I_CAP, 0)};
  fn->ncode = 2;
  expect_rejected(img, "fused captures not followed by their two CAPs");
  fn->code = code;
  fn->ncode = ncode;
  free(buf);
  hk_front_free(&f);
}

Test(vm_bytecode, truncations_and_corruptions_never_crash) {
  for (size_t p = 0; p < sizeof programs / sizeof *programs; p++) {
    hk_front_t f;
    void *buf;
    size_t len;
    dump_program(programs[p], &f, &buf, &len);
    unsigned char *copy = malloc(len);
    char why[256];
    for (size_t cut = 0; cut < len; cut++) {
      hk_image_t *img;
      cr_assert_neq(hk_image_load(buf, cut, &img, why, sizeof why), 0);
    }
    unsigned seed = 12345;
    for (int round = 0; round < 1000; round++) {
      memcpy(copy, buf, len);
      int flips = 1 + round % 4;
      for (int k = 0; k < flips; k++) {
        seed = seed * 1103515245u + 12345u;
        size_t at = 16 + (seed >> 8) % (len - 16);
        copy[at] ^= (unsigned char)(1u << ((seed >> 4) % 8));
      }
      hk_image_t *img;
      if (hk_image_load(copy, len, &img, why, sizeof why) == 0) {
        (void)run(img, 20000);
        hk_image_free(img);
      }
    }
    free(copy);
    free(buf);
    hk_front_free(&f);
  }
}

/* A function whose one parameter is never read (fn () => e, fn _ => e) has
** no local for it (compile.c, fn_expr): the verifier accepts nlocals 0 <
** arity 1 only with a stack for the argument to land in (maxstack >= 1),
** still rejects every read of a local there, and rejects a self tail call
** (TLOOP would leave the argument above the frame's empty entry stack). */
Test(vm_bytecode, verifier_accepts_no_local_only_for_an_unread_parameter) {
  hk_front_t f;
  void *buf;
  size_t len;
  dump_program("val f = fn () => 40 + 2\n"
               "fun g x = f ()\n"
               "fun h (a, b) = let val k = fn _ => a + b in k () + k 1 end\n"
               "val _ = println (f (), g 0, h (1, 2), (fn (_ : Int) => 5) 3)\n",
               &f, &buf, &len);
  hk_image_t *img = f.image;
  char why[256];
  cr_assert_str_eq(run(img, 100000), "(42, 42, 6, 5)\n");
  uint32_t fi = UINT32_MAX, n = 0;
  for (uint32_t i = 0; i < img->nfuncs; i++)
    if (img->funcs[i].arity == 1 && img->funcs[i].nlocals == 0) {
      n++;
      if (fi == UINT32_MAX) fi = i;
    }
  cr_assert_eq(n, 3, "three functions with an unread parameter and no local");
  hk_func_t *fn = &img->funcs[fi];
  cr_assert_geq(fn->maxstack, 1);
  uint32_t maxstack = fn->maxstack, w0 = fn->code[0];
  fn->maxstack = 0;
  expect_rejected(img, "more parameters than locals");
  fn->maxstack = maxstack;
  fn->arity = 2;
  expect_rejected(img, "more parameters than locals");
  fn->arity = 1;
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0, "%s", why);
  fn->code[0] = hk_ins(HK_I_LOCAL, 0); /* pushes one, as the first instruction did */
  expect_rejected(img, "local slot out of range");
  fn->code[0] = hk_ins(HK_I_TLOOP, 1u << 16); /* itself, its one argument unchanged */
  expect_rejected(img, "self tail call with a bad arity");
  fn->code[0] = w0;
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0, "%s", why);
  free(buf);
  hk_front_free(&f);
}
