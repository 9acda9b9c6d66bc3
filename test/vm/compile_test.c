/* compile_test.c — the compiler (vm/compile.c) through the front end:
** programs compile and run with the expected output, known calls are
** direct, tail calls keep the stack flat, long chains compile without
** recursion, and the listing names functions and constants. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/disasm.h"
#include "vm/front.h"
#include "vm/image.h"
#include "vm/vm.h"

typedef struct cap {
  char buf[1 << 16];
  size_t n;
} cap_t;

static int cap_write(void *ud, int stream, const char *data, size_t len) {
  cap_t *c = ud;
  (void)stream;
  if (c->n + len >= sizeof c->buf) len = sizeof c->buf - 1 - c->n;
  memcpy(c->buf + c->n, data, len);
  c->n += len;
  c->buf[c->n] = '\0';
  return 0;
}

static hk_front_t front;
static bool front_live;
static cap_t out;

/* Compiles [src]; a test may compile several programs, each replacing the
** previous one (freed here, the last one by the suite's fini). */
static const hk_image_t *compile(const char *src) {
  if (front_live) hk_front_free(&front);
  hk_front_init(&front);
  front_live = true;
  int rc = hk_front_compile_string(&front, "t.hml", src, strlen(src), NULL);
  if (rc != 0) {
    char *text = NULL;
    hk_diags_render(&front.diags, &front.sources, &text);
    cr_log_error("%s", text ? text : "?");
    free(text);
  }
  cr_assert_eq(rc, 0);
  cr_assert_not_null(front.image);
  return front.image;
}

/* Runs [src]; returns the final state; output in out.buf. */
static hk_run_t run(const char *src, const hk_vm_config_t *cfg, hk_vm_t **keep) {
  const hk_image_t *img = compile(src);
  hk_host_t host = {.ud = &out, .write = cap_write};
  out.n = 0;
  out.buf[0] = '\0';
  hk_vm_t *vm;
  cr_assert_eq(hk_vm_new(&vm, img, &host, cfg), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
  hk_run_t st;
  while ((st = hk_vm_run(vm, 2000)) == HK_RUN_YIELD) {}
  if (keep) *keep = vm;
  else hk_vm_free(vm);
  return st;
}

static void fini(void) {
  if (front_live) hk_front_free(&front);
  front_live = false;
}
TestSuite(vm_compile, .fini = fini);

Test(vm_compile, small_program_output) {
  cr_assert_eq(run("fun sq x = x * x\n"
                   "val xs = [sq 3, sq 4]\n"
                   "val _ = println xs\n"
                   "val _ = case xs of [a, b] => println (a + b) | _ => println 0\n",
                   NULL, NULL),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "[9, 16]\n25\n");
}

Test(vm_compile, known_calls_are_direct_and_tail_calls_are_marked) {
  const hk_image_t *img = compile("fun f x y = if x = 0 then y else f (x - 1) (y + 1)\n"
                                  "val _ = println (f 3 4)\n"
                                  "fun g h = h 1\n"
                                  "fun k x = f x 0\n");
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  cr_assert_not_null(strstr(text, "TCALLG    1 2"), "a tail call of another function: %s", text);
  cr_assert_not_null(strstr(text, "TLOOPR    2 0x3 0"), "a self tail call, both arguments changed: %s", text);
  cr_assert_not_null(strstr(text, "CALLG     1 2"), "%s", text);
  cr_assert_not_null(strstr(text, "TCALL "), "unknown call in tail position");
  cr_assert_not_null(strstr(text, "function 1 f  arity 2"));
  cr_assert_not_null(strstr(text, "CALLB"), "a builtin applied is one instruction: %s", text);
  free(text);
  img = compile("fun f (a, b) = if a = 0 then b else f (a - 1, b + 1)\n"
                "val t = (3, 4)\n"
                "val _ = println (f (3, 4), f t)\n");
  cr_assert_eq(hk_disasm(img, &text), 0);
  cr_assert_not_null(strstr(text, "UNTUPLE   2"), "one tuple parameter: %s", text);
  cr_assert_not_null(strstr(text, "TLOOPR    2 0x3 0"), "self tail call with the components: %s", text);
  cr_assert_not_null(strstr(text, "CALLG     1 1"), "a tuple value is passed as it is: %s", text);
  cr_assert_null(strstr(text, "BUILTIN "), "no builtin is used as a value here: %s", text);
  free(text);
  /* Arguments that are their own parameters are not pushed; the others are
  ** (the swapped pair changes both slots; the 17th parameter changing
  ** leaves a TCALLG). */
  img = compile("fun f (a, b, c) = if a = 0 then b else f (a - 1, b, c)\n"
                "fun g (a, b) = if a = 0 then b else g (b, a)\n"
                "fun h (a, b, c) = if a = 0 then b else h (a, b + 1, c)\n"
                "fun w a b c d e f g h i j k l m n o p q = if a = 0 then q else w (a - 1) b c d e f g h i j k l m n o p (q + 1)\n"
                "val _ = println (f (3, 4, 5), g (0, 1), h (0, 1, 2), w 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17)\n");
  cr_assert_eq(hk_disasm(img, &text), 0);
  /* (a - 1 and b + 1 alone: LADDI and the loop in one, TLOOPRI) */
  cr_assert_not_null(strstr(text, "TLOOPRI   0 -1 3 0x1 0  ; changed: 0\n"), "only a changes: %s", text);
  cr_assert_not_null(strstr(text, "TLOOPR    2 0x3 0"), "a swap changes both: %s", text);
  cr_assert_not_null(strstr(text, "TLOOPRI   1 1 3 0x2 0  ; changed: 1\n"), "only b changes: %s", text);
  cr_assert_not_null(strstr(text, "TCALLG    4 17"), "parameter 17 changes: %s", text);
  free(text);
  /* `val _ = e` right before a TLOOP that changes nothing: TLOOP drops the
  ** value, no POP; before one that changes an argument the POP stays. */
  img = compile("fun spin (p, k) = if k = 0 then 0 else let val _ = println k in spin (p, k) end\n"
                "fun down (p, k) = if k = 0 then 0 else let val _ = println k in down (p, k - 1) end\n"
                "val _ = println (down (1, 2))\n");
  cr_assert_eq(hk_disasm(img, &text), 0);
  const char *f1 = strstr(text, "function 1 spin"), *f2 = strstr(text, "function 2 down");
  cr_assert(f1 && f2 && f1 < f2, "%s", text);
  const char *pop = strstr(f1, "POP");
  cr_assert(pop && pop > f2, "spin pops nothing, down does: %s", text);
  free(text);
}

/* A send whose value `val _` drops is SENDP (SENDTP for a tuple message),
** the POP after it kept; before a TLOOP that changes nothing the POP goes
** (TLOOP drops the value) and the send stays SEND (SENDT); a kept value
** is a plain send (test/lang/proc/sends_dropping_their_result runs them). */
Test(vm_compile, sends_that_drop_their_result_are_one_instruction) {
  const char *src = "fun a (p, k) = if k = 0 then 0 else let val _ = send_message (p, k) in a (p, k - 1) end\n"
                    "fun b (p, k) = if k = 0 then 0 else let val _ = send_message (p, (k, k)) in b (p, k - 1) end\n"
                    "fun c (p, k) = if k = 0 then 0 else let val _ = send_message (p, k) in c (p, k) end\n"
                    "fun d (p, k) = if k = 0 then 0 else let val _ = send_message (p, (k, k)) in d (p, k) end\n"
                    "fun e (p, k) = let val u = send_message (p, k) in u end\n";
  const hk_image_t *img = compile(src);
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  const char *fa = strstr(text, "function 1 a"), *fb = strstr(text, "function 2 b"), *fc = strstr(text, "function 3 c"),
             *fd = strstr(text, "function 4 d"), *fe = strstr(text, "function 5 e");
  cr_assert(fa && fb && fc && fd && fe, "%s", text);
  const char *s = strstr(fa, "SENDP     0  ; send_message\n");
  cr_assert(s && s < fb && strstr(s, "POP") < fb, "a: %s", text);
  s = strstr(fb, "SENDTP    0 2  ; send_message\n");
  cr_assert(s && s < fc && strstr(s, "POP") < fc, "b: %s", text);
  s = strstr(fc, "SEND      0  ; send_message\n");
  const char *pop = strstr(fc, "POP");
  cr_assert(s && s < fd && (!pop || pop > fd), "c: %s", text);
  s = strstr(fd, "SENDT     0 2  ; send_message\n");
  pop = strstr(fd, "POP");
  cr_assert(s && s < fe && (!pop || pop > fe), "d: %s", text);
  cr_assert(strstr(fe, "SEND      0  ; send_message\n") && !strstr(fe, "SENDP"), "e: %s", text);
  free(text);
}

/* Runs [img] in slices of [budget] with [fuel] (0: none): the reductions
** used when it printed [want], 0 when the fuel ran out. */
static uint64_t reductions_and_free(hk_vm_t *vm);
static uint64_t sliced_run(const hk_image_t *img, uint32_t budget, uint64_t fuel, const char *want) {
  hk_host_t host = {.ud = &out, .write = cap_write};
  out.n = 0;
  out.buf[0] = '\0';
  hk_vm_config_t cfg = {.fuel = fuel, .fuel_limited = fuel > 0};
  hk_vm_t *vm;
  cr_assert_eq(hk_vm_new(&vm, img, &host, fuel ? &cfg : NULL), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
  hk_run_t st;
  int slices = 0;
  while ((st = hk_vm_run(vm, budget)) == HK_RUN_YIELD) cr_assert(slices++ < 100000);
  if (st == HK_RUN_FAILED) {
    cr_assert_str_eq(hk_vm_failure(vm)->message, "fuel exhausted");
    hk_vm_free(vm);
    return 0;
  }
  cr_assert_eq(st, HK_RUN_DONE);
  cr_assert_str_eq(out.buf, want);
  return reductions_and_free(vm);
}

/* `i = n` of a local and a top-level value is JNEQLG before its LOCAL,
** GLOBAL and JNEQ (not `n = i`, not a String, not two locals). The loop
** with `i = n` charges what the loop with `n = i` (the same three
** instructions unfused) does, in slices of 1 to 4 reductions (where the
** fused one falls into its three) and with just enough fuel; one less
** fails both. */
static uint64_t fused_cmp_loop(const char *cond, uint32_t budget, uint64_t fuel, bool fused) {
  char src[300];
  snprintf(src, sizeof src,
           "val n = 300\nval s = \"a\"\nfun loop (i, t) = if %s then i else loop (i + 1, t)\n"
           "fun str (t : String) = if t = s then 1 else 0\nval _ = println (loop (0, 0) + str \"b\")\n",
           cond);
  const hk_image_t *img = compile(src);
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  const char *f = strstr(text, "JNEQLG");
  cr_assert_eq(f != NULL, fused, "%s", text);
  cr_assert(!f || strncmp(f, "JNEQLG    0 0  ; n\n", 19) == 0, "local 0, global 0: %s", text);
  const char *str = strstr(text, "function 2 str");
  cr_assert(str && !strstr(str, "JNEQLG"), "no String: %s", text);
  free(text);
  return sliced_run(img, budget, fuel, "300\n");
}

Test(vm_compile, comparisons_of_a_local_and_a_global_are_fused) {
  uint64_t r = fused_cmp_loop("i = n", 2000, 0, true);
  cr_assert_eq(fused_cmp_loop("n = i", 2000, 0, false), r);
  for (uint32_t b = 1; b <= 4; b++) cr_assert_eq(fused_cmp_loop("i = n", b, 0, true), r, "slices of %u", b);
  cr_assert_eq(fused_cmp_loop("i = n", 2000, r, true), r);
  cr_assert_eq(fused_cmp_loop("n = i", 2000, r, false), r);
  for (uint64_t short_by = 1; short_by <= 3; short_by++) {
    cr_assert_eq(fused_cmp_loop("i = n", 2000, r - short_by, true), 0, "fuel short by %llu", (unsigned long long)short_by);
    cr_assert_eq(fused_cmp_loop("n = i", 2000, r - short_by, false), 0);
  }
}

/* CAP a right after CAP b is CAP2 a b before the two (a closure of two
** captures; of three, the third stays alone). It charges what the two
** do: the same reductions in slices of 2000 (where it skips them) as in
** slices of 1 to 3 (where it falls into them at a slice's end), and the
** program runs with just that much fuel and fails with less. */
static uint64_t fused_caps_loop(uint32_t budget, uint64_t fuel) {
  const hk_image_t *img = compile("fun mk (a, b) = fn () => a - b\nfun mk3 (a, b, c) = fn () => a + b * c\n"
                                  "fun loop (i, acc) = if i = 0 then acc else loop (i - 1, acc + (mk (i, 1)) () + (mk3 (i, 2, 3)) ())\n"
                                  "val _ = println (loop (300, 0))\n");
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  const char *two = strstr(text, "captures 2");
  cr_assert(two && strstr(two, "CAP2      0 1\n"), "%s", text);
  const char *three = strstr(text, "captures 3");
  cr_assert(three && strstr(three, "CAP2      0 1\n") && !strstr(strstr(three, "CAP2") + 4, "CAP2"), "one CAP2: %s", text);
  free(text);
  return sliced_run(img, budget, fuel, "91800\n");
}

Test(vm_compile, pairs_of_captures_are_fused) {
  uint64_t r = fused_caps_loop(2000, 0);
  for (uint32_t b = 1; b <= 3; b++) cr_assert_eq(fused_caps_loop(b, 0), r, "slices of %u", b);
  cr_assert_eq(fused_caps_loop(2000, r), r);
  cr_assert_eq(fused_caps_loop(2000, r - 1), 0);
}

/* receive_message () is RECV (the host's receive_now in the handler), in
** and out of tail position; another builtin applied to () stays CALLBU. */
Test(vm_compile, receives_are_one_instruction) {
  const hk_image_t *img = compile("fun r () = receive_message ()\n"
                                  "fun s () = let val m = receive_message () in (m, self ()) end\n");
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  const char *f1 = strstr(text, "function 1 r"), *f2 = strstr(text, "function 2 s");
  cr_assert(f1 && f2, "%s", text);
  const char *r1 = strstr(f1, "RECV"), *r2 = r1 ? strstr(r1 + 1, "RECV") : NULL;
  cr_assert(r1 && r1 < f2 && r2 && r2 > f2, "both receives: %s", text);
  cr_assert(strstr(r1, "; receive_message"), "%s", text);
  cr_assert_not_null(strstr(f2, "CALLBU"), "self (): %s", text);
  free(text);
}

/* send_message (p, v) is SEND; with a tuple expression as the message it
** stays SENDT, and another builtin of two arguments CALLBT (a send whose
** value is dropped: sends_that_drop_their_result_are_one_instruction). */
Test(vm_compile, sends_are_one_instruction) {
  const hk_image_t *img = compile("fun s (p, v) = let val u = send_message (p, v) in send_message (p, (v, u)) end\n"
                                  "fun t (a, b) = string_contains (a, b)\n");
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  cr_assert_not_null(strstr(text, "SEND      "), "%s", text);
  cr_assert_not_null(strstr(text, "SENDT     "), "%s", text);
  cr_assert_not_null(strstr(text, "CALLBT    "), "%s", text);
  for (const char *l = strstr(text, "CALLBT"); l; l = strstr(l + 1, "CALLBT"))
    cr_assert(strncmp(strchr(l, ';'), "; string_contains", 17) == 0, "%s", text);
  free(text);
}

/* A self tail call whose changed arguments are one run (or none) in a
** function of under 64 locals is TLOOPR (its operand carries the run, the
** argument count and the locals to reset); a mask with a gap, or a function
** of 64 locals or more (whose frame set-up charges), keeps TLOOP. */
Test(vm_compile, self_tail_calls_of_one_run_are_straight) {
  const hk_image_t *img = compile("fun gap (a, b, c) = if a = 0 then c else gap (a - 1, b, c + 1)\n"
                                  "fun two (a, b) = let val x = a + b in if a = 0 then x else two (a - 1, x) end\n"
                                  "fun none (a, b) = let val _ = println a in none (a, b) end\n");
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  cr_assert_not_null(strstr(text, "TLOOP     3 0x5  ; changed: 0 2"), "a gap: %s", text);
  cr_assert_not_null(strstr(text, "TLOOPR    2 0x3 1  ; changed: 0 1"), "a run, one local to reset: %s", text);
  cr_assert_not_null(strstr(text, "TLOOPR    2 0x0 0  ; changed:\n"), "nothing changed: %s", text);
  free(text);
  char src[2048];
  size_t at = (size_t)snprintf(src, sizeof src, "fun big n = let");
  for (int i = 0; i < 70; i++) at += (size_t)snprintf(src + at, sizeof src - at, " val x%d = n + %d", i, i);
  /* n * 1 - 1: not a LADDI, which would make it TLOOPI (self_tail_calls_adding_to_one_argument_are_fused) */
  snprintf(src + at, sizeof src - at, " in if n = 0 then x69 + x0 else big (n * 1 - 1) end\n");
  img = compile(src);
  cr_assert_eq(hk_disasm(img, &text), 0);
  cr_assert_not_null(strstr(text, "TLOOP     1 0x1"), "71 locals: %s", text);
  cr_assert_null(strstr(text, "TLOOPR"), "%s", text);
  free(text);
}

/* A self tail call whose one changed argument is a LADDI (`f (n - 1)`) is
** one TLOOPI, TLOOPRI in a function of under 64 locals; not when a jump
** lands between the LADDI and the call (an `if` as the argument). It
** charges its two parts: an iteration of loop is JNEQLI, LADDI, TLOOPR's
** three reductions still. A slice of one reduction still makes progress
** through it. */
/* The reductions [vm] used; frees it. */
static uint64_t reductions_and_free(hk_vm_t *vm) {
  hk_vm_stats_t st;
  hk_vm_get_stats(vm, &st);
  hk_vm_free(vm);
  return st.reductions;
}

static uint64_t loop_reductions(int n) {
  char src[200];
  snprintf(src, sizeof src, "fun loop (k, m) = if k = 0 then m else loop (k - 1, m)\nval _ = println (loop (%d, 5))\n", n);
  hk_vm_t *vm;
  cr_assert_eq(run(src, NULL, &vm), HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "5\n");
  return reductions_and_free(vm);
}

Test(vm_compile, self_tail_calls_adding_to_one_argument_are_fused) {
  const hk_image_t *img = compile("fun up (a, b) = if a > b then a else up (a + 2, b)\n"
                                  "fun join (a, c) = if a > 9 then a else join (if c then a + 1 else a + 3, c)\n"
                                  "fun last a b = if b = 0 then a else last a (b - 1)\n");
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  cr_assert_not_null(strstr(text, "TLOOPRI   0 2 2 0x1 0  ; changed: 0"), "a + 2 into local 0: %s", text);
  cr_assert_not_null(strstr(text, "TLOOPRI   1 -1 2 0x2 0  ; changed: 1"), "b - 1, curried: %s", text);
  const char *j = strstr(text, "function 2 join");
  cr_assert(j && strstr(j, "LADDI     0 3") && strstr(j, "TLOOPR    2 0x1 0"), "a jump lands at the call: %s", text);
  free(text);
  char src[2048];
  size_t at = (size_t)snprintf(src, sizeof src, "fun big n = let");
  for (int i = 0; i < 70; i++) at += (size_t)snprintf(src + at, sizeof src - at, " val x%d = n + %d", i, i);
  snprintf(src + at, sizeof src - at, " in if n = 0 then x69 + x0 else big (n - 1) end\nval _ = println (big 3)\n");
  hk_vm_t *vm;
  cr_assert_eq(run(src, NULL, &vm), HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "69\n");
  hk_vm_free(vm);
  img = compile(src);
  cr_assert_eq(hk_disasm(img, &text), 0);
  cr_assert_not_null(strstr(text, "TLOOPI    0 -1 1 0x1  ; changed: 0"), "71 locals: %s", text);
  cr_assert_null(strstr(text, "TLOOPRI"), "%s", text);
  free(text);
  cr_assert_eq(loop_reductions(200) - loop_reductions(100), 300, "three reductions per iteration");
  img = compile("fun loop (k, m) = if k = 0 then m else loop (k - 1, m)\nval _ = println (loop (10, 5))\n");
  hk_host_t host = {.ud = &out, .write = cap_write};
  out.n = 0;
  cr_assert_eq(hk_vm_new(&vm, img, &host, NULL), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
  hk_run_t st;
  int slices = 0;
  while ((st = hk_vm_run(vm, 1)) == HK_RUN_YIELD && slices < 100000) slices++;
  cr_assert_eq(st, HK_RUN_DONE, "slices of one reduction: %d", slices);
  cr_assert_str_eq(out.buf, "5\n");
  hk_vm_free(vm);
}

/* [vm] (freed here) never collected ([why] otherwise), and the listing of
** the program last compiled holds [a] and [b]. */
static void no_collection_and_listed(hk_vm_t *vm, const char *why, const char *a, const char *b) {
  hk_vm_stats_t st;
  hk_vm_get_stats(vm, &st);
  hk_vm_free(vm);
  cr_assert_eq(st.gc_runs, 0, "%s", why);
  char *text;
  cr_assert_eq(hk_disasm(front.image, &text), 0);
  cr_assert_not_null(strstr(text, a), "%s", text);
  cr_assert_not_null(strstr(text, b), "%s", text);
  free(text);
}

Test(vm_compile, unknown_closures_of_their_arity_are_called_without_allocating) {
  hk_vm_t *vm;
  cr_assert_eq(run("fun iterate f k acc = if k = 0 then acc else iterate f (k - 1) (f acc k)\n"
                   "fun apply2 f a b = f a b\n"
                   "fun step acc k = acc + k\n"
                   "fun loop k acc = if k = 0 then acc else loop (k - 1) (apply2 step acc k)\n"
                   "fun run m = let fun mix acc k = acc + k * m in iterate mix 100000 0 end\n"
                   "val _ = println (iterate step 100000 0, loop 100000 0, run 3)\n",
                   NULL, &vm),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "(5000050000, 5000050000, 15000150000)\n");
  no_collection_and_listed(vm, "300000 calls of f a b built partial applications", "TCALLN    2", "CALLP     1 2");
}

Test(vm_compile, clauses_of_several_parameters_match_without_a_tuple) {
  /* A clausal fun of several parameters is a case on the tuple of its
  ** parameters (parse.c); so is `case (xs, ys) of`: neither builds it. */
  hk_vm_t *vm;
  cr_assert_eq(run("fun count 0 acc = acc\n"
                   "  | count n acc = count (n - 1) (acc + 1)\n"
                   "fun merge [] ys acc = acc + length0 ys 0\n"
                   "  | merge xs [] acc = acc + length0 xs 0\n"
                   "  | merge (x :: xs) (y :: ys) acc =\n"
                   "      if x <= y then merge xs (y :: ys) (acc + 1) else merge (x :: xs) ys (acc + 1)\n"
                   "and length0 xs n = case (xs, n) of ([], _) => n | (_ :: r, (k : Int)) => length0 r (k + 1)\n"
                   "fun upto i n acc = if i = n then acc else upto (i + 1) n (i :: acc)\n"
                   "fun swap 0 a b = (a, b)\n"
                   "  | swap n a b = swap (n - 1) b a\n"
                   "val _ = println (count 100000 0, merge (upto 0 1000 []) (upto 0 1000 []) 0, swap 100001 1 2)\n",
                   NULL, &vm),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "(100000, 2000, (2, 1))\n");
  hk_vm_stats_t st;
  hk_vm_get_stats(vm, &st);
  cr_assert_eq(st.gc_runs, 0, "the loops built argument tuples");
  hk_vm_free(vm);
  /* The items are evaluated once, in order, before any arm; `_` and an
  ** annotated tuple match columns too; `as` on the whole tuple still gets it. */
  cr_assert_eq(run("fun pr s = let val _ = print s in s end\n"
                   "val r = case (pr \"a\", pr \"b\", pr \"c\") of\n"
                   "    (\"x\", _, _) => 1\n"
                   "  | ((_, \"y\", _) : String * String * String) => 2\n"
                   "  | (_, _, \"c\") => 3\n"
                   "  | _ => 4\n"
                   "val t = case (1, pr \"d\") of p as (1, _) => p | (_, s) => (0, s)\n"
                   "val u = case (r, 5) of (3, k) => k | _ => 0\n"
                   "val _ = println (r, t, u)\n",
                   NULL, NULL),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "abcd(3, (1, d), 5)\n");
}

/* f (x, y) of an unknown f is CALLT 2: a closure whose function takes one
** tuple pattern (a fun's, and now a fn's: UNTUPLE first) gets the two
** values without a tuple; anything else gets the tuple and is applied. */
Test(vm_compile, unknown_calls_with_a_tuple_argument_build_no_tuple) {
  hk_vm_t *vm;
  hk_vm_config_t cfg = {.max_stack_depth = 20};
  cr_assert_eq(run("fun fold f acc [] = acc\n"
                   "  | fold f acc (x :: xs) = fold f (f (acc, x)) xs\n"
                   "fun upto i n acc = if i = n then acc else upto (i + 1) n (i :: acc)\n"
                   "val xs = upto 0 1000 []\n"
                   "fun add (a, x) = a + x\n"
                   "fun run m = fold (fn (a, x) => a + x * m) 0 xs\n"
                   "fun rep k acc = if k = 0 then acc else rep (k - 1) (acc + fold add 0 xs + run k)\n"
                   "fun bounce (k, acc) = if k = 0 then acc else (if k > 0 then bounce else add) (k - 1, acc + 1)\n"
                   "val _ = println (rep 150 0, fold (fn (a, (b, c)) => a + b * c) 0 [(1, 2), (3, 4)],\n"
                   "  bounce (300000, 0))\n",
                   &cfg, &vm),
               HK_RUN_DONE);
  /* 150 * 499500 + 499500 * (1 + .. + 150) */
  cr_assert_str_eq(out.buf, "(5731762500, 14, 300000)\n");
  no_collection_and_listed(vm, "the calls built argument tuples", "CALLT     2", "TCALLT    2");
  /* Callees that take the tuple whole: a fn of a variable, a partial
  ** application, a builtin, a constructor; and a 3-tuple. */
  cr_assert_eq(run("datatype t = P of Int * Int\n"
                   "fun app g = g (3, 4)\n"
                   "fun add3 k (a, b) = k + a + b\n"
                   "fun sw (a, b, c) = (c, b, a)\n"
                   "fun app3 g = let val r = g (1, \"x\", 2.5) in r end\n"
                   "val _ = println (app (fn p => p), app (add3 10), app P, app (fn (a, _) => a), app3 sw, app3 (fn t => t))\n"
                   "val _ = println ((fn (a, b) => a ^ b) (\"x\", \"y\"), string_contains (\"abc\", \"b\"))\n",
                   NULL, NULL),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "((3, 4), 17, P (3, 4), 3, (2.5, x, 1), (1, x, 2.5))\n(xy, true)\n");
}

Test(vm_compile, unknown_calls_apply_one_argument_at_a_time) {
  /* SPEC 4.2.2: f a completes before b is evaluated, whatever f is. */
  cr_assert_eq(run("fun pr s = let val _ = print s in s end\n"
                   "fun app3 f = f (pr \"a\") (pr \"b\") (pr \"c\")\n"
                   "fun cat3 x y z = x ^ y ^ z\n"
                   "val _ = println (app3 cat3)\n"
                   "val _ = println (app3 (fn x => let val _ = print \"!\" in cat3 x end))\n"
                   "val _ = println (app3 (fn x => fn y => let val _ = print \"?\" in fn z => z ^ y ^ x end))\n"
                   "fun cat4 w x y z = w ^ x ^ y ^ z\n"
                   "val _ = println (app3 (cat4 \"x\"))\n",
                   NULL, NULL),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "abcabc\na!bcabc\nab?ccba\nabcxabc\n");
}

Test(vm_compile, tail_calls_run_in_constant_stack) {
  hk_vm_config_t cfg = {.max_stack_depth = 20};
  cr_assert_eq(run("fun loop i acc = if i = 0 then acc else loop (i - 1) (acc + 2)\n"
                   "fun apply f x = f x\n"
                   "fun bounce n = if n = 0 then 0 else apply bounce (n - 1)\n"
                   "val _ = println (loop 100000 0, bounce 100000)\n",
                   &cfg, NULL),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "(200000, 0)\n");
  hk_vm_t *vm;
  cr_assert_eq(run("fun f n = if n = 0 then 0 else 1 + f (n - 1)\nval _ = f 100\n", &cfg, &vm),
               HK_RUN_FAILED);
  cr_assert_str_eq(hk_vm_failure(vm)->message, "stack overflow");
  hk_vm_free(vm);
}

Test(vm_compile, million_element_list_literal) {
  size_t n = 1000000;
  char *src = malloc(n * 2 + 256);
  char *p = src + sprintf(src, "val xs = [");
  for (size_t i = 0; i < n; i++) {
    *p++ = i ? ',' : ' ';
    *p++ = '1';
  }
  strcpy(p, "]\nfun len l a = case l of [] => a | _ :: t => len t (a + 1)\n"
            "val _ = println (len xs 0)\n");
  cr_assert_eq(run(src, NULL, NULL), HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "1000000\n");
  free(src);
}

/* A case over a datatype of N constructors with N arms compiles its tag
** table in O(N + arms), not O(N * arms): 65,000 arms took ~4 * 10^9 steps
** (a 10,000-arm match 1.1 * 10^9 instructions, 20,000 arms 2.9 s). The
** table still sends each tag to the first arm that can match it: the
** last constructor's arm comes first, a wildcard stands before the
** middle constructor's own (redundant) arm. */
Test(vm_compile, constructor_switch_of_many_arms_is_linear, .timeout = 60) {
  size_t n = 65000, mid = n / 2;
  char *src = malloc(n * 48 + 256);
  char *p = src + sprintf(src, "datatype c = C0");
  for (size_t i = 1; i < n; i++) p += sprintf(p, " | C%zu", i);
  p += sprintf(p, "\nfun g x = case x of C%zu => %zu", n - 1, n - 1);
  for (size_t i = 0; i + 1 < n; i++)
    if (i != mid) p += sprintf(p, "\n  | C%zu => %zu", i, i);
  p += sprintf(p, "\n  | _ => ~1\n  | C%zu => 0\n", mid);
  sprintf(p, "val _ = println (g C%zu, g C0, g C%zu, g C7, g C%zu)\n", n - 1, mid, mid + 1);
  cr_assert_eq(run(src, NULL, NULL), HK_RUN_DONE);
  char want[96];
  snprintf(want, sizeof want, "(%zu, 0, -1, 7, %zu)\n", n - 1, mid + 1);
  cr_assert_str_eq(out.buf, want);
  free(src);
}

/* Joins n copies of [item] with [sep] between [head] and [tail]. */
static char *chain(const char *head, const char *item, const char *sep, size_t n, const char *tail) {
  size_t li = strlen(item), ls = strlen(sep);
  char *src = malloc(strlen(head) + n * (li + ls) + strlen(tail) + 1);
  char *p = src + sprintf(src, "%s", head);
  for (size_t i = 0; i < n; i++) {
    if (i) p += sprintf(p, "%s", sep);
    p += sprintf(p, "%s", item);
  }
  strcpy(p, tail);
  return src;
}

/* SPEC 2.3.2: chains of a million links of variables (not folded away)
** through the whole pipeline: `not` and `andalso` desugar to a million
** nested ifs, `~` to a million negations, `-` and `::` to a million
** operators; none may use native recursion per link, and each must run. */
Test(vm_compile, million_link_chains_of_variables_run, .timeout = 240) {
  enum { N = 1000000 };
  static const struct {
    const char *head, *item, *sep, *tail, *want;
  } cases[] = {
    {"val t = true\nval b = ", "not", " ", " t\nval _ = println b\n", "true\n"},
    {"val t = true\nval b = ", "t", " andalso ", "\nval _ = println b\n", "true\n"},
    {"val t = false\nval b = ", "t", " orelse ", "\nval _ = println (not b)\n", "true\n"},
    {"val y = 5\nval b = ", "~", " ", " y\nval _ = println b\n", "5\n"},
    {"val y = 1\nval b = 0 - ", "y", " - ", "\nval _ = println b\n", "-1000000\n"},
    {"val y = 1\nval b = ", "y", " :: ", " :: []\nfun len l a = case l of [] => a | _ :: t => "
     "len t (a + 1)\nval _ = println (len b 0)\n", "1000000\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *src = chain(cases[i].head, cases[i].item, cases[i].sep, N, cases[i].tail);
    cr_assert_eq(run(src, NULL, NULL), HK_RUN_DONE, "case %zu", i);
    cr_assert_str_eq(out.buf, cases[i].want, "case %zu", i);
    free(src);
  }
}

/* SPEC 11.5: at least 65,535 constructors per datatype, 65,535 constants
** per function, tuples of 255 components and source files of 64 MiB. Past 65,536 the tags and the
** constant indices must stay distinct (no 16-bit wrap: C65536 is not C0,
** the 65,537th constant is not the first), and a 300-component tuple is
** built, printed and matched. */
Test(vm_compile, implementation_limits_of_spec_11_5, .timeout = 120) {
  enum { N = 70000 };
  char *src = chain("datatype big = ", "C%", " | ", N, "");
  size_t len = strlen(src);
  char *num = malloc(len + (size_t)N * 8 + 1024), *p = num;
  for (size_t i = 0, k = 0; i < len; i++)
    if (src[i] == '%') p += sprintf(p, "%zu", k++);
    else *p++ = src[i];
  sprintf(p, "\nfun name C0 = \"c0\" | name C65536 = \"c65536\" | name C69999 = \"last\""
             " | name _ = \"other\"\n"
             "val _ = println (C65536 = C0, C69999 = C4463, name C65536, name C0, name C69999,"
             " name C4463, [C65536, C0])\n");
  cr_assert_eq(run(num, NULL, NULL), HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "(false, false, c65536, c0, last, other, [C65536, C0])\n");
  free(src);
  free(num);

  src = chain("fun f () = [", "\"s%\"", ", ", N, "]\n");
  len = strlen(src);
  num = malloc(len + (size_t)N * 8 + 1024);
  p = num;
  for (size_t i = 0, k = 0; i < len; i++)
    if (src[i] == '%') p += sprintf(p, "%zu", k++);
    else *p++ = src[i];
  sprintf(p, "fun nth (x :: r) 0 = x | nth (_ :: r) n = nth r (n - 1) | nth [] _ = \"none\"\n"
             "val l = f ()\nval _ = println (nth l 0, nth l 65535, nth l 65536, nth l 69999)\n");
  cr_assert_eq(run(num, NULL, NULL), HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "(s0, s65535, s65536, s69999)\n");
  free(src);
  free(num);

  src = chain("val t = (", "7", ", ", 300, ")\nval (a, ");
  char *src2 = chain(src, "_", ", ", 298, ", z) = t\nval _ = println (a + z)\n");
  cr_assert_eq(run(src2, NULL, NULL), HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "14\n");
  free(src);
  free(src2);

  /* A 64 MiB source file (SPEC 11.5), nearly all of it one comment. */
  size_t big = (size_t)64 << 20;
  src = malloc(big + 1);
  const char *prog = "\nval _ = println \"ok\"\n";
  memcpy(src, "(* ", 3);
  memset(src + 3, 'x', big - 3);
  memcpy(src + big - strlen(prog) - 3, " *)", 3);
  memcpy(src + big - strlen(prog), prog, strlen(prog) + 1);
  cr_assert_eq(strlen(src), big);
  cr_assert_eq(run(src, NULL, NULL), HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "ok\n");
  free(src);
}

Test(vm_compile, closures_capture_through_several_levels) {
  cr_assert_eq(run("fun outer a = let val b = a * 2 in fn c => fn d => a + b + c + d end\n"
                   "val _ = println (outer 1 10 100)\n"
                   "fun mk n = let fun go i = if i = n then [] else i :: go (i + 1) in go end\n"
                   "val _ = println (mk 4 1)\n",
                   NULL, NULL),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "113\n[1, 2, 3]\n");
}

Test(vm_compile, handlers_compile_to_closures) {
  cr_assert_eq(run("effect E of Int\n"
                   "fun f base = handle perform E 1 + base with return x => x * 2 | E n k => resume k (n + base)\n"
                   "val _ = println (f 10)\n",
                   NULL, NULL),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "42\n");
}

/* A tuple pattern binding or testing every component is one SPLIT into
** consecutive slots; one with a wildcard reads only the components it uses
** (FIELD), so no slot is spent on the wildcard. */
Test(vm_compile, tuple_patterns_split_in_one_instruction) {
  const hk_image_t *img = compile("fun f p = case p of (a, b) => a + b\n"
                                  "fun g p = case p of (a, _, c) => a + c\n"
                                  "val _ = println (f (1, 2), g (1, 2, 3))\n");
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  const char *f = strstr(text, "function 1 f"), *g = strstr(text, "function 2 g");
  cr_assert(f && g && f < g, "%s", text);
  const char *split = strstr(f, "SPLIT     0 1 2");
  cr_assert(split && split < g, "the pair to locals 1 and 2: %s", text);
  const char *field = strstr(f, "FIELD");
  cr_assert(!field || field > g, "f reads no single component: %s", text);
  cr_assert_not_null(strstr(g, "FIELD     0 3"), "%s", text);
  cr_assert_not_null(strstr(g, "FIELD     2 3"), "%s", text);
  cr_assert_null(strstr(g, "SPLIT"), "%s", text);
  cr_assert_not_null(strstr(g, "locals 3 "), "g: its parameter, a and c: %s", text);
  free(text);
}

/* send_message applied to a pid and a tuple expression of 2..8 components
** is one SENDT (no TUPLE); any other message, or a tuple of more
** components, is built as it is and sent by SEND. */
Test(vm_compile, tuple_sends_build_no_tuple) {
  const hk_image_t *img = compile("fun f (p, x) = send_message (p, (x, \"s\"))\n"
                                  "fun g (p, x) = send_message (p, x)\n"
                                  "fun h (p, x) = send_message (p, (x, 1, 2, 3, 4, 5, 6, 7, 8))\n"
                                  "val _ = println 0\n");
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  const char *f = strstr(text, "function 1 f"), *g = strstr(text, "function 2 g"),
             *h = strstr(text, "function 3 h");
  cr_assert(f && g && h && f < g && g < h, "%s", text);
  const char *sendt = strstr(f, "SENDT"), *tuple = strstr(f, " TUPLE ");
  cr_assert(sendt && sendt < g, "%s", text);
  cr_assert(strstr(sendt, "SENDT     0 2  ; send_message") == sendt, "%s", text);
  cr_assert(!tuple || tuple > g, "f allocates no tuple: %s", text);
  const char *send = strstr(g, "SEND      0  ; send_message");
  cr_assert(send && send < h, "%s", text);
  cr_assert(strstr(h, " TUPLE     9") && strstr(h, "SEND      0") && !strstr(h, "SENDT"), "%s", text);
  cr_assert_null(strstr(g, "SENDT"), "%s", text);
  free(text);
}

/* if a = b / a <> b of operands typed String is JNEQS/JNNES; of Ints or
** of a type variable it stays JNEQ/JNNE. The two forms charge the same
** (SPEC 6.11.1): a loop comparing strings of 10 or 100 bytes uses as many
** reductions with either. */
static uint64_t eq_loop_reductions(const char *param, uint32_t len) {
  char src[600];
  snprintf(src, sizeof src,
           "fun rep (s, k) = if k = 0 then \"\" else s ^ rep (s, k - 1)\n"
           "fun f (a %s, b, i, n) = if i = 0 then n else f (a, b, i - 1, if a = b then n + 1 else if a <> b then n else 0)\n"
           "val a = rep (\"x\", %u)\nval _ = println (f (a, rep (\"x\", %u), 300, 0))\n",
           param, len, len);
  hk_vm_t *vm;
  cr_assert_eq(run(src, NULL, &vm), HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "300\n");
  const hk_image_t *img = hk_vm_image(vm);
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  bool typed = strcmp(param, ": String") == 0;
  cr_assert_eq(strstr(text, "JNEQS") != NULL, typed, "%s", text);
  cr_assert_eq(strstr(text, "JNNES") != NULL, typed, "%s", text);
  free(text);
  return reductions_and_free(vm);
}

Test(vm_compile, string_comparisons_jump_in_place) {
  const hk_image_t *img = compile("fun f (s, t) = if s = \"a\" then 1 else if s <> t then 2 else 3\n"
                                  "fun g (x, y) = if x = y then 1 else if x <> y then 2 else 3\n"
                                  "val _ = println (f (\"a\", \"b\"), g (1, 2))\n");
  char *text;
  cr_assert_eq(hk_disasm(img, &text), 0);
  const char *f = strstr(text, "function 1 f"), *g = strstr(text, "function 2 g");
  cr_assert(f && g && f < g, "%s", text);
  const char *eqs = strstr(f, "JNEQS"), *nes = strstr(f, "JNNES");
  cr_assert(eqs && eqs < g && nes && nes < g, "%s", text);
  cr_assert(strstr(g, "JNEQ ") && strstr(g, "JNNE ") && !strstr(g, "JNEQS") && !strstr(g, "JNNES"), "%s", text);
  free(text);
  cr_assert_eq(eq_loop_reductions(": String", 10), eq_loop_reductions("", 10));
  cr_assert_eq(eq_loop_reductions(": String", 100), eq_loop_reductions("", 100));
  cr_assert_gt(eq_loop_reductions("", 100), eq_loop_reductions("", 10), "a long compare is charged");
}

/* [expr] (of the globals a, b, c, d, p: strings of 70, 50, 128, 1 and 1,000
** bytes) concatenated [k] times in a loop; returns the reductions used, and
** the collections in [gc]. Output "k * length" checked. */
static uint64_t concat_loop(const char *expr, uint32_t k, uint64_t len, uint64_t *gc, const char *want) {
  char src[4096];
  snprintf(src, sizeof src,
           "fun rep (s, k) = if k = 0 then \"\" else s ^ rep (s, k - 1)\n"
           "val a = rep (\"ab\", 35)\nval b = rep (\"c\", 50)\nval c = rep (\"de\", 64)\nval d = \"!\"\n"
           "val p = rep (\"0123456789\", 100)\n"
           "fun loop (k, n) = if k = 0 then n else loop (k - 1, n + string_length (%s))\n"
           "val _ = println (loop (%u, 0))\n",
           expr, k);
  hk_vm_t *vm;
  cr_assert_eq(run(src, NULL, &vm), HK_RUN_DONE, "%s", expr);
  char line[64];
  snprintf(line, sizeof line, "%llu\n", (unsigned long long)(k * len));
  cr_assert_str_eq(out.buf, line, "%s", expr);
  char *text;
  cr_assert_eq(hk_disasm(hk_vm_image(vm), &text), 0);
  cr_assert(want ? strstr(text, want) != NULL : strstr(text, "CONCATN") == NULL, "%s\n%s", expr, text);
  free(text);
  hk_vm_stats_t st;
  hk_vm_get_stats(vm, &st);
  *gc = st.gc_runs;
  hk_vm_free(vm);
  return st.reductions;
}

/* An all-^ chain of k >= 3 operands is CONCATN k: one string of the summed
** length instead of k - 1 ever longer temporaries, charged as the chain of
** CONCATs (SPEC 6.10.1: a reduction per ^ and each result's length / 64),
** so the parenthesized chain, which stays binary, uses as much fuel. */
Test(vm_compile, concatenation_chains_are_one_allocation) {
  uint64_t gc1, gc2;
  uint64_t r1 = concat_loop("a ^ b ^ c ^ d ^ a", 100, 319, &gc1, "CONCATN   5");
  uint64_t r2 = concat_loop("(((a ^ b) ^ c) ^ d) ^ a", 100, 319, &gc2, NULL);
  cr_assert_eq(r1, r2, "the chain and its binary form charge alike");
  cr_assert_eq(concat_loop("a ^ c ^ a", 100, 268, &gc1, "CONCATN   3"),
               concat_loop("(a ^ c) ^ a", 100, 268, &gc2, NULL));
  cr_assert_gt(concat_loop("c ^ c ^ c", 100, 384, &gc1, "CONCATN   3"),
               concat_loop("d ^ d ^ d", 100, 3, &gc2, "CONCATN   3"), "long operands are charged");
  /* 40 pieces of 1,000 bytes, 100 times: 4 MB in strings of 40 kB, where
  ** the binary chain allocated 82 MB of temporaries. */
  char chain[400] = "p", paren[400] = "p";
  for (int i = 1; i < 40; i++) {
    memmove(paren + 1, paren, strlen(paren) + 1);
    paren[0] = '(';
    strcat(chain, " ^ p");
    strcat(paren, " ^ p)");
  }
  r1 = concat_loop(chain, 100, 40000, &gc1, "CONCATN   40");
  r2 = concat_loop(paren, 100, 40000, &gc2, NULL);
  cr_assert_eq(r1, r2);
  cr_assert_lt(gc1 * 8, gc2, "collections: chain %llu, binary %llu", (unsigned long long)gc1,
               (unsigned long long)gc2);
  /* 70 operands: CONCATN 64, then its result and the 6 left. */
  char longer[400] = "d";
  for (int i = 1; i < 70; i++) strcat(longer, " ^ d");
  concat_loop(longer, 10, 70, &gc1, "CONCATN   64");
  concat_loop(longer, 10, 70, &gc1, "CONCATN   7");
  /* Operands are evaluated left to right, each once, before the one
  ** allocation. */
  hk_vm_t *vm;
  cr_assert_eq(run("fun pr s = let val _ = print s in s end\n"
                   "val _ = println (pr \"a\" ^ pr \"b\" ^ \"\" ^ pr \"c\")\n",
                   NULL, &vm),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "abcabc\n");
  hk_vm_free(vm);
}

Test(vm_compile, failure_records_its_source_position) {
  hk_vm_t *vm;
  cr_assert_eq(run("fun f x = x + 1\n"
                   "val z = 0\n"
                   "val _ = println (f 2)\n"
                   "val _ = println (10 / z)\n",
                   NULL, &vm),
               HK_RUN_FAILED);
  const hk_failure_t *fl = hk_vm_failure(vm);
  cr_assert_str_eq(fl->message, "division by zero");
  cr_assert_str_eq(fl->file, "t.hml");
  cr_assert_eq(fl->line, 4);
  cr_assert_eq(fl->col, 21);
  hk_vm_free(vm);
}

/* Frames carry no slack (bench/README.md, "Memory per process 4"): `val _`
** takes no local slot, and maxstack is the verified depth (debug builds
** check it at every dispatch). A blocked process's first stack is this. */
Test(vm_compile, frames_are_exactly_their_locals_and_depth) {
  cr_assert_eq(run("fun body () = let val _ = print \"a\" val _ = print \"b\" in 7 end\n"
                   "val _ = println (body ())\n",
                   NULL, NULL),
               HK_RUN_DONE);
  cr_assert_str_eq(out.buf, "ab7\n", "each `val _` is still evaluated, in order");
  const hk_image_t *img = front.image;
  const hk_func_t *f = NULL;
  for (uint32_t i = 0; i < img->nfuncs; i++)
    if (strcmp(img->funcs[i].name, "body") == 0) f = &img->funcs[i];
  cr_assert_not_null(f);
  cr_assert_eq(f->nlocals, 1, "only the unit parameter: %u", f->nlocals);
  cr_assert_eq(f->maxstack, 1, "one temporary at a time: %u", f->maxstack);
}
