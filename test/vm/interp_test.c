/* interp_test.c — the interpreter on hand-built images: arithmetic and
** jumps, direct and generic calls, partial application, exact fuel,
** slices, run-time errors, stack overflow, tail calls, host requests. */
#include <criterion/criterion.h>

#include "test/vm/core_util.h"
#include "vm/bytecode.h"

/* main: i = 100; acc = 0; while (i > 0) { acc += i; i-- }; return acc */
static const uint32_t sum_code[] = {
    I(INT, 100), I(STORE, 0), I(INT, 0), I(STORE, 1),
    I(LOCAL, 0), I(INT, 0), I(JNGT, 8),
    I(LOCAL, 1), I(LOCAL, 0), I(ADD, 0), I(STORE, 1),
    I(LOCAL, 0), I(ADDI, -1), I(STORE, 0), I(JMP, -11),
    I(LOCAL, 1), I(RET, 0),
};
#define SUM_INSTRUCTIONS (4 + 100 * 11 + 3 + 2)

static hk_vm_t *run_main(hk_image_t *img, const hk_vm_config_t *cfg, hk_run_t *st, uint32_t budget) {
  hk_vm_t *vm;
  cr_assert_eq(hk_vm_new(&vm, img, NULL, cfg), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
  do *st = hk_vm_run(vm, budget);
  while (*st == HK_RUN_YIELD);
  return vm;
}

Test(vm_interp, loop_with_fused_compare) {
  hk_image_t *img = tc_image(1, 0);
  tc_func(img, 0, "main", 0, 2, 4, sum_code, sizeof sum_code / 4);
  hk_run_t st;
  hk_vm_t *vm = run_main(img, NULL, &st, 2000);
  cr_assert_eq(st, HK_RUN_DONE);
  cr_assert_eq(hk_as_int(hk_vm_result(vm)), 5050);
  hk_vm_stats_t s;
  hk_vm_get_stats(vm, &s);
  cr_assert_eq(s.reductions, SUM_INSTRUCTIONS, "one reduction per instruction");
  hk_vm_free(vm);
  hk_image_free(img);
}

Test(vm_interp, fuel_is_exact) {
  hk_image_t *img = tc_image(1, 0);
  tc_func(img, 0, "main", 0, 2, 4, sum_code, sizeof sum_code / 4);
  hk_vm_config_t cfg = {.fuel = SUM_INSTRUCTIONS, .fuel_limited = true};
  hk_run_t st;
  hk_vm_t *vm = run_main(img, &cfg, &st, 7);
  cr_assert_eq(st, HK_RUN_DONE);
  hk_vm_free(vm);
  cfg.fuel = SUM_INSTRUCTIONS - 1;
  vm = run_main(img, &cfg, &st, 7);
  cr_assert_eq(st, HK_RUN_FAILED);
  cr_assert_eq(hk_vm_failure(vm)->kind, HK_FAIL_FUEL);
  cr_assert_str_eq(hk_vm_failure(vm)->message, "fuel exhausted");
  hk_vm_free(vm);
  hk_image_free(img);
}

Test(vm_interp, slices_stop_and_resume_anywhere) {
  hk_image_t *img = tc_image(1, 0);
  tc_func(img, 0, "main", 0, 2, 4, sum_code, sizeof sum_code / 4);
  hk_vm_t *vm;
  cr_assert_eq(hk_vm_new(&vm, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
  int slices = 0;
  hk_run_t st;
  while ((st = hk_vm_run(vm, 1)) == HK_RUN_YIELD) slices++;
  cr_assert_eq(st, HK_RUN_DONE);
  cr_assert_eq(slices, SUM_INSTRUCTIONS - 1);
  cr_assert_eq(hk_as_int(hk_vm_result(vm)), 5050);
  hk_vm_free(vm);
  hk_image_free(img);
}

Test(vm_interp, direct_call_closure_call_and_partial_application) {
  hk_image_t *img = tc_image(3, 0);
  static const uint32_t main_code[] = {
      I(UNIT, 0), I(INT, 21), I(CALLF, 1), 1,          /* double 21 */
      I(CLOSURE, 2), 0, I(INT, 50), I(CALL, 0),        /* sub 50 -> pap */
      I(INT, 8), I(CALL, 0),                           /* pap 8 = 42 */
      I(ADD, 0), I(RET, 0)};
  static const uint32_t dbl[] = {I(LOCAL, 0), I(LOCAL, 0), I(ADD, 0), I(RET, 0)};
  static const uint32_t sub[] = {I(LOCAL, 0), I(LOCAL, 1), I(SUB, 0), I(RET, 0)};
  tc_func(img, 0, "main", 0, 0, 6, main_code, sizeof main_code / 4);
  tc_func(img, 1, "double", 1, 1, 3, dbl, 4);
  tc_func(img, 2, "sub", 2, 2, 3, sub, 4);
  hk_run_t st;
  hk_vm_t *vm = run_main(img, NULL, &st, 2000);
  cr_assert_eq(st, HK_RUN_DONE);
  cr_assert_eq(hk_as_int(hk_vm_result(vm)), 84);
  hk_vm_free(vm);
  hk_image_free(img);
}

/* The reductions [vm] used; frees it and [img]. */
static uint64_t reductions_and_free(hk_vm_t *vm, hk_image_t *img) {
  hk_vm_stats_t s;
  hk_vm_get_stats(vm, &s);
  hk_vm_free(vm);
  hk_image_free(img);
  return s.reductions;
}

/* Reductions of main: CONST 0; CONST 1; EQ; RET over two strings of [na]
** and [nb] bytes, the second differing in its last byte when [differ]. */
static uint64_t string_eq_reductions(size_t na, size_t nb, bool differ, bool *eq) {
  char a[256], b[256];
  memset(a, 'x', sizeof a);
  memset(b, 'x', sizeof b);
  if (differ) b[nb - 1] = 'y';
  hk_image_t *img = tc_image(1, 0);
  img->consts = hk_arena_alloc(img->mem, 2 * sizeof *img->consts);
  cr_assert_eq(hk_image_string(img, a, na, &img->consts[0]), 0);
  cr_assert_eq(hk_image_string(img, b, nb, &img->consts[1]), 0);
  img->nconsts = 2;
  static const uint32_t code[] = {I(CONST, 0), I(CONST, 1), I(EQ, 0), I(RET, 0)};
  tc_func(img, 0, "main", 0, 0, 2, code, 4);
  hk_run_t st;
  hk_vm_t *vm = run_main(img, NULL, &st, 2000);
  cr_assert_eq(st, HK_RUN_DONE);
  *eq = hk_vm_result(vm).as.u != 0;
  return reductions_and_free(vm, img);
}

/* SPEC 6.10.1: string equality costs 1 + (1 + n) / 64 reductions for equal
** lengths n (work: the pair and its bytes), 1 when the lengths differ. */
Test(vm_interp, string_equality_charges_its_bytes) {
  bool eq;
  cr_assert_eq(string_eq_reductions(62, 62, false, &eq), 4);
  cr_assert(eq);
  cr_assert_eq(string_eq_reductions(63, 63, false, &eq), 5);
  cr_assert(eq);
  cr_assert_eq(string_eq_reductions(63, 63, true, &eq), 5);
  cr_assert(!eq);
  cr_assert_eq(string_eq_reductions(200, 200, true, &eq), 4 + 201 / 64);
  cr_assert(!eq);
  cr_assert_eq(string_eq_reductions(200, 199, false, &eq), 4);
  cr_assert(!eq);
  cr_assert_eq(string_eq_reductions(16, 16, true, &eq), 4);
  cr_assert(!eq);
}

static void expect_failure(const uint32_t *code, uint32_t n, const char *msg) {
  hk_image_t *img = tc_image(1, 0);
  hk_value_t s;
  cr_assert_eq(hk_image_string(img, "str", 3, &s), 0);
  img->consts = hk_arena_alloc(img->mem, sizeof *img->consts);
  img->consts[0] = s;
  img->nconsts = 1;
  tc_func(img, 0, "main", 0, 1, 4, code, n);
  hk_run_t st;
  hk_vm_t *vm = run_main(img, NULL, &st, 2000);
  cr_assert_eq(st, HK_RUN_FAILED);
  cr_assert_str_eq(hk_vm_failure(vm)->message, msg);
  hk_vm_free(vm);
  hk_image_free(img);
}

Test(vm_interp, run_time_errors) {
  const uint32_t add_str[] = {I(INT, 1), I(CONST, 0), I(ADD, 0), I(RET, 0)};
  expect_failure(add_str, 4, "expected Int, got String");
  const uint32_t div0[] = {I(INT, 1), I(INT, 0), I(DIV, 0), I(RET, 0)};
  expect_failure(div0, 4, "division by zero");
  const uint32_t jf[] = {I(INT, 1), I(JF, 0), I(UNIT, 0), I(RET, 0)};
  expect_failure(jf, 4, "expected Bool, got Int");
  const uint32_t call_int[] = {I(INT, 1), I(INT, 2), I(CALL, 0), I(RET, 0)};
  expect_failure(call_int, 4, "expected Function, got Int");
  const uint32_t head_nil[] = {I(NIL, 0), I(HEAD, 0), I(RET, 0)};
  expect_failure(head_nil, 3, "expected List, got List");
  const uint32_t resume_int[] = {I(INT, 1), I(UNIT, 0), I(RESUME, 0), I(RET, 0)};
  expect_failure(resume_int, 4, "resume: expected continuation");
  const uint32_t mf[] = {I(MATCHFAIL, 0)};
  expect_failure(mf, 1, "non-exhaustive match");
  const uint32_t glob[] = {I(GLOBAL, 0), I(RET, 0)};
  hk_image_t *img = tc_image(1, 1);
  img->globals[0] = "answer";
  tc_func(img, 0, "main", 0, 0, 2, glob, 2);
  hk_run_t st;
  hk_vm_t *vm = run_main(img, NULL, &st, 100);
  cr_assert_eq(st, HK_RUN_FAILED);
  cr_assert_str_eq(hk_vm_failure(vm)->message, "global 'answer' is not initialised");
  hk_vm_free(vm);
  hk_image_free(img);
}

Test(vm_interp, stack_overflow_and_constant_space_tail_calls) {
  hk_image_t *img = tc_image(3, 0);
  static const uint32_t main_code[] = {I(UNIT, 0), I(INT, 0), I(CALLF, 1), 1, I(RET, 0)};
  /* f n = 1 + f n  (not a tail call) */
  static const uint32_t f[] = {I(INT, 1), I(UNIT, 0), I(LOCAL, 0), I(CALLF, 1), 1, I(ADD, 0), I(RET, 0)};
  tc_func(img, 0, "main", 0, 0, 4, main_code, 5);
  tc_func(img, 1, "f", 1, 1, 4, f, 7);
  hk_vm_config_t cfg = {.max_stack_depth = 1000};
  hk_run_t st;
  hk_vm_t *vm = run_main(img, &cfg, &st, 2000);
  cr_assert_eq(st, HK_RUN_FAILED);
  cr_assert_str_eq(hk_vm_failure(vm)->message, "stack overflow");
  hk_vm_free(vm);
  /* g n = g (n + 1) (tail call): runs out of fuel, never of stack */
  static const uint32_t main2[] = {I(UNIT, 0), I(INT, 0), I(CALLF, 2), 1, I(RET, 0)};
  static const uint32_t g[] = {I(UNIT, 0), I(LOCAL, 0), I(ADDI, 1), I(TCALLF, 2), 1};
  tc_func(img, 0, "main", 0, 0, 4, main2, 5);
  tc_func(img, 2, "g", 1, 1, 4, g, 5);
  hk_vm_config_t cfg2 = {.max_stack_depth = 3, .fuel = 100000, .fuel_limited = true};
  vm = run_main(img, &cfg2, &st, 2000);
  cr_assert_eq(st, HK_RUN_FAILED);
  cr_assert_str_eq(hk_vm_failure(vm)->message, "fuel exhausted");
  hk_vm_free(vm);
  hk_image_free(img);
}

/* main calls f once; f declares [maxstack] slots of stack (SPEC 11.2). */
static hk_vm_t *run_declared_stack(hk_image_t *img, uint32_t maxstack, const hk_vm_config_t *cfg,
                                   hk_run_t *st) {
  static const uint32_t main_code[] = {I(UNIT, 0), I(INT, 5), I(CALLF, 1), 1, I(RET, 0)};
  static const uint32_t f[] = {I(LOCAL, 0), I(RET, 0)};
  tc_func(img, 0, "main", 0, 0, 4, main_code, 5);
  tc_func(img, 1, "f", 1, 1, maxstack, f, 2);
  return run_main(img, cfg, st, 1000000);
}

Test(vm_interp, declared_stack_counts_against_the_stack_limit) {
  hk_image_t *img = tc_image(2, 0);
  hk_vm_config_t cfg = {.max_stack_depth = 1000};
  hk_run_t st;
  hk_vm_t *vm = run_declared_stack(img, 4, &cfg, &st);
  cr_assert_eq(st, HK_RUN_DONE);
  hk_vm_free(vm);
  vm = run_declared_stack(img, 60000, &cfg, &st);
  cr_assert_eq(st, HK_RUN_DONE, "64 slots per frame of the limit, at least 65536");
  hk_vm_free(vm);
  vm = run_declared_stack(img, 1u << 20, &cfg, &st);
  cr_assert_eq(st, HK_RUN_FAILED, "a 16 MiB frame is beyond 1000 frames' worth of slots");
  cr_assert_str_eq(hk_vm_failure(vm)->message, "stack overflow");
  hk_vm_free(vm);
  cfg.max_stack_depth = 100000;
  vm = run_declared_stack(img, 1u << 20, &cfg, &st);
  cr_assert_eq(st, HK_RUN_DONE);
  hk_vm_free(vm);
  hk_image_free(img);
}

Test(vm_interp, declared_stack_is_charged) {
  hk_image_t *img = tc_image(2, 0);
  hk_run_t st;
  hk_vm_stats_t small, big;
  hk_vm_t *vm = run_declared_stack(img, 4, NULL, &st);
  cr_assert_eq(st, HK_RUN_DONE);
  hk_vm_get_stats(vm, &small);
  hk_vm_free(vm);
  vm = run_declared_stack(img, 64 * 1000, NULL, &st);
  cr_assert_eq(st, HK_RUN_DONE);
  hk_vm_get_stats(vm, &big);
  hk_vm_free(vm);
  cr_assert_geq(big.reductions, small.reductions + 1000, "one reduction per 64 slots reserved");
  hk_image_free(img);
}

Test(vm_interp, process_builtins_become_host_requests) {
  hk_image_t *img = tc_image(1, 0);
  img->imports = hk_arena_alloc(img->mem, sizeof *img->imports);
  img->imports[0] = HK_B_self;
  img->nimports = 1;
  static const uint32_t code[] = {I(BUILTIN, 0), I(UNIT, 0), I(CALL, 0), I(RET, 0)};
  tc_func(img, 0, "main", 0, 0, 4, code, 4);
  hk_vm_t *vm;
  cr_assert_eq(hk_vm_new(&vm, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
  cr_assert_eq(hk_vm_run(vm, 100), HK_RUN_REQUEST);
  cr_assert_eq(hk_vm_request(vm)->builtin, HK_B_self);
  cr_assert_eq(hk_vm_request(vm)->arg.tag, HK_T_UNIT);
  cr_assert_eq(hk_vm_run(vm, 100), HK_RUN_REQUEST, "stays blocked until completed");
  hk_vm_complete(vm, hk_pid(9));
  cr_assert_eq(hk_vm_run(vm, 100), HK_RUN_DONE);
  cr_assert_eq(hk_vm_result(vm).tag, HK_T_PID);
  cr_assert_eq(hk_vm_result(vm).as.u, 9);
  hk_vm_free(vm);
  hk_image_free(img);
}

/* A host's send_now (host.h) as a test double: records what it was given
** (of a tuple message, during the call, its flags and first 3 Int
** components: SENDT's tuple lives on the interpreter's C stack only while
** it runs); [mode] 0 sends, 1 declines, 2 fails the sender. */
typedef struct send_log {
  int mode, calls;
  hk_value_t to, v;
  uint32_t n, flags;
  int64_t items[3];
} send_log_t;

static bool log_send_now(void *ud, hk_vm_t *vm, hk_value_t to, hk_value_t v) {
  send_log_t *l = ud;
  l->calls++;
  if (l->mode == 1) return false;
  l->to = to;
  l->v = v;
  if (v.tag == HK_T_TUPLE) {
    l->n = v.as.o->n;
    l->flags = v.as.o->flags;
    for (uint32_t i = 0; i < l->n && i < 3; i++) l->items[i] = hk_as_int(hk_tuple_at(v, i));
  }
  if (l->mode == 2) hk_vm_complete_fail(vm, "send refused");
  return true;
}

/* An image of [code] (its main's stack [stack] deep) importing send_message. */
static hk_image_t *send_image(const uint32_t *code, uint32_t ncode, uint32_t stack) {
  hk_image_t *img = tc_image(1, 0);
  img->imports = hk_arena_alloc(img->mem, sizeof *img->imports);
  img->imports[0] = HK_B_send_message;
  img->nimports = 1;
  tc_func(img, 0, "main", 0, 0, stack, code, ncode);
  return img;
}

/* Starts [img]'s main with [host] (log_send_now on [l]) and runs a slice. */
static hk_run_t send_run(const hk_image_t *img, send_log_t *l, hk_host_t *host, hk_vm_t **vm) {
  *host = (hk_host_t){.ud = l, .send_now = log_send_now};
  cr_assert_eq(hk_vm_new(vm, img, host, NULL), 0);
  cr_assert_eq(hk_vm_start_main(*vm), 0);
  return hk_vm_run(*vm, 100);
}

/* send_message (5, 42) as CALLBT, or SEND (the compiler's form): with the
** host's send_now no request (the interpreter pushes Unit, one reduction per
** instruction); declined, the usual request with a heap tuple (send_now
** asked once); failed, the VM fails with its message. */
Test(vm_interp, callbt_send_goes_to_host_send_now) {
  static const uint32_t callbt[] = {I(INT, 5), I(INT, 42), I(CALLBT, 0), 2, I(RET, 0)};
  static const uint32_t send[] = {I(INT, 5), I(INT, 42), I(SEND, 0), I(RET, 0)};
  for (int mode = 0; mode < 6; mode++) {
    hk_image_t *img = mode < 3 ? send_image(callbt, 5, 2) : send_image(send, 4, 2);
    char why[128];
    cr_assert_eq(hk_image_verify(img, why, sizeof why), 0, "%s", why);
    send_log_t l = {.mode = mode % 3};
    hk_host_t host;
    hk_vm_t *vm;
    hk_run_t st = send_run(img, &l, &host, &vm);
    cr_assert_eq(l.calls, 1);
    if (l.mode == 0) {
      cr_assert_eq(st, HK_RUN_DONE);
      cr_assert_eq(hk_vm_result(vm).tag, HK_T_UNIT);
      cr_assert_eq(hk_as_int(l.to), 5);
      cr_assert_eq(hk_as_int(l.v), 42);
      hk_vm_stats_t s;
      hk_vm_get_stats(vm, &s);
      cr_assert_eq(s.reductions, 4);
    } else if (l.mode == 1) {
      cr_assert_eq(st, HK_RUN_REQUEST);
      const hk_request_t *q = hk_vm_request(vm);
      cr_assert_eq(q->builtin, HK_B_send_message);
      cr_assert_eq(q->arg.tag, HK_T_TUPLE);
      cr_assert_eq(q->arg.as.o->flags & HK_OBJ_STATIC, 0, "a heap tuple");
      cr_assert_eq(hk_as_int(hk_tuple_at(q->arg, 1)), 42);
      hk_vm_complete(vm, hk_unit());
      cr_assert_eq(hk_vm_run(vm, 100), HK_RUN_DONE);
    } else {
      cr_assert_eq(st, HK_RUN_FAILED);
      cr_assert_str_eq(hk_vm_failure(vm)->message, "send refused");
    }
    hk_vm_free(vm);
    hk_image_free(img);
  }
}

/* send_message (5, (42, 7, 9)) as SENDT: send_now gets the message as a
** 3-tuple that is not STATIC (a copy shares STATIC objects by reference:
** this one must be copied), one instruction for the tuple and the send;
** declined, the usual request whose argument is a heap pair holding a heap
** tuple; failed, the VM fails with the host's message. */
Test(vm_interp, sendt_sends_a_tuple_without_a_heap_tuple) {
  static const uint32_t code[] = {I(INT, 5), I(INT, 42), I(INT, 7), I(INT, 9), I(SENDT, 0), 3, I(RET, 0)};
  hk_image_t *img = send_image(code, 7, 4);
  char why[256];
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0, "%s", why);
  for (int mode = 0; mode < 3; mode++) {
    send_log_t l = {.mode = mode};
    hk_host_t host;
    hk_vm_t *vm;
    hk_run_t st = send_run(img, &l, &host, &vm);
    if (mode == 0) {
      cr_assert_eq(l.calls, 1);
      cr_assert_eq(st, HK_RUN_DONE);
      cr_assert_eq(hk_vm_result(vm).tag, HK_T_UNIT);
      cr_assert_eq(hk_as_int(l.to), 5);
      cr_assert_eq(l.v.tag, HK_T_TUPLE);
      cr_assert_eq(l.n, 3);
      cr_assert_eq(l.flags & HK_OBJ_STATIC, 0, "a tuple the copy must copy");
      cr_assert_eq(l.items[0], 42);
      cr_assert_eq(l.items[1], 7);
      cr_assert_eq(l.items[2], 9);
      hk_vm_stats_t s;
      hk_vm_get_stats(vm, &s);
      cr_assert_eq(s.reductions, 6, "4 INT, SENDT, RET");
      cr_assert_eq(s.live_objects, 0, "no heap tuple");
    } else if (mode == 1) {
      cr_assert_eq(l.calls, 2, "SENDT's offer, then CALLBT's");
      cr_assert_eq(st, HK_RUN_REQUEST);
      const hk_request_t *q = hk_vm_request(vm);
      cr_assert_eq(q->builtin, HK_B_send_message);
      cr_assert_eq(q->arg.tag, HK_T_TUPLE);
      cr_assert_eq(q->arg.as.o->flags & HK_OBJ_STATIC, 0, "a heap tuple");
      cr_assert_eq(hk_as_int(hk_tuple_at(q->arg, 0)), 5);
      hk_value_t m = hk_tuple_at(q->arg, 1);
      cr_assert_eq(m.tag, HK_T_TUPLE);
      cr_assert_eq(m.as.o->flags & HK_OBJ_STATIC, 0, "a heap tuple");
      cr_assert_eq(m.as.o->n, 3);
      cr_assert_eq(hk_as_int(hk_tuple_at(m, 0)), 42);
      cr_assert_eq(hk_as_int(hk_tuple_at(m, 2)), 9);
      hk_vm_complete(vm, hk_unit());
      cr_assert_eq(hk_vm_run(vm, 100), HK_RUN_DONE);
      cr_assert_eq(hk_vm_result(vm).tag, HK_T_UNIT);
    } else {
      cr_assert_eq(l.calls, 1);
      cr_assert_eq(st, HK_RUN_FAILED);
      cr_assert_str_eq(hk_vm_failure(vm)->message, "send refused");
    }
    hk_vm_free(vm);
  }
  hk_image_free(img);
}

/* A host's send_tuple_now (host.h) as a test double on a send_log_t: the
** components (Ints, at most 3 logged) as they were offered; [mode] 0 sends,
** 1 declines, 2 fails the sender. */
static bool log_send_tuple_now(void *ud, hk_vm_t *vm, hk_value_t to, const hk_value_t *items,
                               uint32_t n) {
  send_log_t *l = ud;
  l->calls++;
  if (l->mode == 1) return false;
  l->to = to;
  l->n = n;
  for (uint32_t i = 0; i < n && i < 3; i++) l->items[i] = hk_as_int(items[i]);
  if (l->mode == 2) hk_vm_complete_fail(vm, "send refused");
  return true;
}

/* The host of the next test: send_tuple_now on [t], send_now on [l]. */
static bool both_send_tuple_now(void *ud, hk_vm_t *vm, hk_value_t to, const hk_value_t *items,
                                uint32_t n) {
  return log_send_tuple_now(((send_log_t **)ud)[0], vm, to, items, n);
}
static bool both_send_now(void *ud, hk_vm_t *vm, hk_value_t to, hk_value_t v) {
  return log_send_now(((send_log_t **)ud)[1], vm, to, v);
}

/* send_message (5, (42, 7, 9)) as SENDT with the host's send_tuple_now:
** it gets the pid and the 3 components, no tuple anywhere (no heap object,
** send_now not called); declined, send_now gets the C-stack tuple as
** without send_tuple_now; failed, the VM fails with the host's message. */
Test(vm_interp, sendt_offers_the_components_to_send_tuple_now) {
  static const uint32_t code[] = {I(INT, 5),   I(INT, 42), I(INT, 7), I(INT, 9),
                                  I(SENDT, 0), 3,          I(RET, 0)};
  hk_image_t *img = send_image(code, 7, 4);
  for (int mode = 0; mode < 3; mode++) {
    send_log_t t = {.mode = mode}, l = {0};
    send_log_t *logs[2] = {&t, &l};
    hk_host_t host = {.ud = logs, .send_now = both_send_now,
                      .send_tuple_now = both_send_tuple_now};
    hk_vm_t *vm;
    cr_assert_eq(hk_vm_new(&vm, img, &host, NULL), 0);
    cr_assert_eq(hk_vm_start_main(vm), 0);
    hk_run_t st = hk_vm_run(vm, 100);
    cr_assert_eq(t.calls, 1);
    hk_vm_stats_t s;
    hk_vm_get_stats(vm, &s);
    if (mode == 0) {
      cr_assert_eq(st, HK_RUN_DONE);
      cr_assert_eq(hk_vm_result(vm).tag, HK_T_UNIT);
      cr_assert_eq(l.calls, 0, "send_now not asked");
      cr_assert_eq(hk_as_int(t.to), 5);
      cr_assert_eq(t.n, 3);
      cr_assert_eq(t.items[0], 42);
      cr_assert_eq(t.items[1], 7);
      cr_assert_eq(t.items[2], 9);
      cr_assert_eq(s.reductions, 6, "4 INT, SENDT, RET");
      cr_assert_eq(s.live_objects, 0, "no heap tuple");
    } else if (mode == 1) {
      cr_assert_eq(st, HK_RUN_DONE);
      cr_assert_eq(hk_vm_result(vm).tag, HK_T_UNIT);
      cr_assert_eq(l.calls, 1, "declined: send_now's turn");
      cr_assert_eq(hk_as_int(l.to), 5);
      cr_assert_eq(l.n, 3);
      cr_assert_eq(l.flags & HK_OBJ_STATIC, 0, "a tuple the copy must copy");
      cr_assert_eq(l.items[0], 42);
      cr_assert_eq(l.items[2], 9);
      cr_assert_eq(s.live_objects, 0, "no heap tuple");
    } else {
      cr_assert_eq(l.calls, 0);
      cr_assert_eq(st, HK_RUN_FAILED);
      cr_assert_str_eq(hk_vm_failure(vm)->message, "send refused");
    }
    hk_vm_free(vm);
  }
  hk_image_free(img);
}

/* Runs [code] with send_now on a log of [mode] (0 sends, 1 declines: a
** request the test completes with Unit, 2 fails) in slices of [budget];
** returns the reductions, and the result (an Int) in *result (-1 when the
** VM failed). */
static uint64_t send_drop_run(const uint32_t *code, uint32_t ncode, int mode, uint32_t budget,
                              int64_t *result) {
  hk_image_t *img = send_image(code, ncode, 4);
  char why[256];
  cr_assert_eq(hk_image_verify(img, why, sizeof why), 0, "%s", why);
  send_log_t l = {.mode = mode};
  hk_host_t host = {.ud = &l, .send_now = log_send_now};
  hk_vm_t *vm;
  cr_assert_eq(hk_vm_new(&vm, img, &host, NULL), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
  hk_run_t st;
  int slices = 0;
  while ((st = hk_vm_run(vm, budget)) == HK_RUN_YIELD || st == HK_RUN_REQUEST) {
    cr_assert(slices++ < 1000);
    if (st == HK_RUN_REQUEST) {
      cr_assert_eq(hk_vm_request(vm)->builtin, HK_B_send_message);
      hk_vm_complete(vm, hk_unit());
    }
  }
  *result = st == HK_RUN_DONE ? hk_as_int(hk_vm_result(vm)) : -1;
  if (st == HK_RUN_FAILED) cr_assert_str_eq(hk_vm_failure(vm)->message, "send refused");
  else cr_assert_eq(st, HK_RUN_DONE);
  return reductions_and_free(vm, img);
}

/* SENDP and SENDTP (`let val _ = send_message ...`) skip the POP after them
** when the host sends at once: the same result and reductions as SEND, POP
** and SENDT, POP (SPEC 6.10.1) whether sent at once, declined (the request
** completes onto the stack and the POP runs) or failed, in slices of 100
** and of one reduction. */
Test(vm_interp, sends_that_drop_their_result_charge_as_send_and_pop) {
  static const uint32_t send[] = {I(INT, 5), I(INT, 42), I(SEND, 0), I(POP, 0), I(INT, 9), I(RET, 0)};
  static const uint32_t sendp[] = {I(INT, 5), I(INT, 42), I(SENDP, 0), I(POP, 0), I(INT, 9), I(RET, 0)};
  static const uint32_t sendt[] = {I(INT, 5), I(INT, 42), I(INT, 7), I(SENDT, 0), 2, I(POP, 0), I(INT, 9), I(RET, 0)};
  static const uint32_t sendtp[] = {I(INT, 5), I(INT, 42), I(INT, 7), I(SENDTP, 0), 2, I(POP, 0), I(INT, 9), I(RET, 0)};
  for (int mode = 0; mode < 3; mode++)
    for (uint32_t budget = 1; budget <= 100; budget += 99) {
      int64_t r1, r2;
      uint64_t n1 = send_drop_run(send, 6, mode, budget, &r1), n2 = send_drop_run(sendp, 6, mode, budget, &r2);
      cr_assert_eq(r1, mode == 2 ? -1 : 9);
      cr_assert_eq(r2, r1, "mode %d, budget %u", mode, budget);
      cr_assert_eq(n2, n1, "SENDP: mode %d, budget %u", mode, budget);
      cr_assert_eq(n1, mode == 2 ? 3 : 6);
      n1 = send_drop_run(sendt, 8, mode, budget, &r1);
      n2 = send_drop_run(sendtp, 8, mode, budget, &r2);
      cr_assert_eq(r1, mode == 2 ? -1 : 9);
      cr_assert_eq(r2, r1, "mode %d, budget %u", mode, budget);
      cr_assert_eq(n2, n1, "SENDTP: mode %d, budget %u", mode, budget);
    }
}

/* A host's receive_now (host.h) as a test double: answers [got] with an
** immediate 42 (1) or with a block holding [msg] (2), copied from [from]
** and adopted; counts its calls and serve_now's. */
typedef struct recv_log {
  int got, calls, served;
  hk_vm_t *from;
  hk_value_t msg;
} recv_log_t;

static int log_receive_now(void *ud, hk_vm_t *vm, hk_value_t *out) {
  recv_log_t *l = ud;
  l->calls++;
  if (l->got == 1) *out = hk_int(42);
  if (l->got == 2) {
    hk_msg_t *m;
    cr_assert_eq(hk_value_copy_out(l->from, l->msg, 0, &m), 0);
    cr_assert_eq(hk_vm_adopt(vm, m, out), 0);
  }
  return l->got;
}

static bool log_serve_now(void *ud, hk_vm_t *vm) {
  (void)vm;
  ((recv_log_t *)ud)->served++;
  return false;
}

static hk_vm_t *run_receive(hk_image_t *img, recv_log_t *l, const hk_vm_config_t *cfg,
                            hk_run_t *st) {
  static hk_host_t host;
  host = (hk_host_t){.ud = l, .receive_now = log_receive_now, .serve_now = log_serve_now};
  hk_vm_t *vm;
  cr_assert_eq(hk_vm_new(&vm, img, &host, cfg), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
  *st = hk_vm_run(vm, 100);
  return vm;
}

/* receive_message () through the host's receive_now: a value is pushed
** without a request; -1 makes the request and stops without serve_now, 0
** offers it to serve_now; an adopted block over the heap limit fails the
** receiver (SPEC 6.11.3) as a completion would. [op] is CALLBU or RECV
** (the compiler's form of receive_message (), its fast path in the handler). */
static void receive_through(uint32_t op) {
  hk_image_t *img = tc_image(1, 0);
  img->imports = hk_arena_alloc(img->mem, sizeof *img->imports);
  img->imports[0] = HK_B_receive_message;
  img->nimports = 1;
  const uint32_t code[] = {op, I(RET, 0)};
  tc_func(img, 0, "main", 0, 0, 1, code, 2);
  cr_assert_eq(hk_image_verify(img, (char[128]){0}, 128), 0);
  hk_vm_t *from;
  cr_assert_eq(hk_vm_new(&from, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(from), 0);
  hk_value_t str, items[2], t;
  cr_assert_eq(hk_alloc_string(from, "message", 7, &str), 0);
  items[0] = hk_int(1);
  items[1] = str;
  cr_assert_eq(hk_alloc_tuple(from, 2, items, &t), 0);
  hk_run_t st;

  recv_log_t l = {.got = 1};
  hk_vm_t *vm = run_receive(img, &l, NULL, &st);
  cr_assert_eq(st, HK_RUN_DONE);
  cr_assert_eq(hk_as_int(hk_vm_result(vm)), 42);
  cr_assert_eq(l.calls, 1);
  cr_assert_eq(l.served, 0);
  hk_vm_free(vm);

  l = (recv_log_t){.got = 2, .from = from, .msg = t};
  vm = run_receive(img, &l, NULL, &st);
  cr_assert_eq(st, HK_RUN_DONE);
  hk_value_t r = hk_vm_result(vm);
  cr_assert_eq(r.tag, HK_T_TUPLE);
  cr_assert_eq(memcmp(hk_str_data(hk_tuple_at(r, 1)), "message", 7), 0);
  hk_vm_free(vm);

  for (int got = -1; got <= 0; got++) {
    l = (recv_log_t){.got = got};
    vm = run_receive(img, &l, NULL, &st);
    cr_assert_eq(st, HK_RUN_REQUEST);
    cr_assert_eq(hk_vm_request(vm)->builtin, HK_B_receive_message);
    cr_assert_eq(l.served, got == 0 ? 1 : 0);
    hk_vm_complete(vm, hk_int(7));
    cr_assert_eq(hk_vm_run(vm, 100), HK_RUN_DONE);
    cr_assert_eq(hk_as_int(hk_vm_result(vm)), 7);
    hk_vm_free(vm);
  }

  hk_vm_config_t cfg = {.max_heap = 1};
  l = (recv_log_t){.got = 2, .from = from, .msg = t};
  vm = run_receive(img, &l, &cfg, &st);
  cr_assert_eq(st, HK_RUN_FAILED);
  cr_assert_eq(hk_vm_failure(vm)->kind, HK_FAIL_HEAP_LIMIT);
  hk_vm_free(vm);
  hk_vm_free(from);
  hk_image_free(img);
}

Test(vm_interp, receive_goes_to_host_receive_now) {
  receive_through(I(CALLBU, 0));
  receive_through(I(RECV, 0));
}

Test(vm_interp, heap_limit_counts_live_objects_after_collecting) {
  /* acc = []; loop: acc = 1 :: acc  (all live) */
  static const uint32_t code[] = {
      I(NIL, 0), I(STORE, 0),
      I(INT, 1), I(LOCAL, 0), I(CONS, 0), I(STORE, 0), I(JMP, -5),
  };
  hk_image_t *img = tc_image(1, 0);
  tc_func(img, 0, "main", 0, 1, 4, code, sizeof code / 4);
  hk_vm_config_t cfg = {.max_heap = 100};
  hk_run_t st;
  hk_vm_t *vm = run_main(img, &cfg, &st, 2000);
  cr_assert_eq(st, HK_RUN_FAILED);
  const hk_failure_t *f = hk_vm_failure(vm);
  cr_assert_eq(f->kind, HK_FAIL_HEAP_LIMIT);
  cr_assert_eq(f->a, 100);
  cr_assert_eq(f->b, 100);
  cr_assert_str_eq(f->message, "heap limit exceeded: 100 objects (max 100)");
  hk_vm_free(vm);
  /* The same loop dropping its list every time never exceeds the limit. */
  static const uint32_t code2[] = {
      I(INT, 1), I(NIL, 0), I(CONS, 0), I(STORE, 0), I(JMP, -5),
  };
  tc_func(img, 0, "main", 0, 1, 4, code2, sizeof code2 / 4);
  hk_vm_config_t cfg2 = {.max_heap = 3, .fuel = 100000, .fuel_limited = true};
  vm = run_main(img, &cfg2, &st, 2000);
  cr_assert_eq(st, HK_RUN_FAILED);
  cr_assert_eq(hk_vm_failure(vm)->kind, HK_FAIL_FUEL, "%s", hk_vm_failure(vm)->message);
  hk_vm_stats_t s;
  hk_vm_get_stats(vm, &s);
  cr_assert_gt(s.gc_runs, 1000);
  hk_vm_free(vm);
  hk_image_free(img);
}
