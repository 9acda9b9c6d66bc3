/* vm_fuzz.c — libFuzzer target for the bytecode loader, the verifier and the
** VM (SPEC §11.4, §14.4, §14.5b): any bytes are rejected as invalid bytecode,
** or load, verify and run in a bounded way (fuel, heap limit, stack depth)
** and end done, failed with a message, or out of fuel. Never a crash, a hang
** or a sanitizer report.
**
** An accepted image is also disassembled, dumped and loaded again (the dump
** of a reload must be the same bytes), and run twice: in one long slice and
** in slices of 1 to 13 reductions, which must end the same way (state,
** output, reductions, message or result). A finished run's result is shown,
** deep-copied into a second instance and shown there, as a message would be;
** the first two globals holding functions are spawned as children (globals
** exported to the shared store, the function copied, f () run with fuel).
**
** The host does no I/O: output is hashed, the clock is fixed, process and
** I/O requests fail, `exit` is not allowed, and the filesystem root does not
** exist, so every filesystem builtin fails instead of touching the disk.
**
** Built twice by run_vm.sh: as the fuzz target, and with -DHK_VM_FUZZ_SEEDS
** as a tool that writes the images of hiko programs (the seed corpus, and
** the reproducers kept as programs in test/fuzz/regress):
**     vm_seeds [-l EXTRA_LOCALS] DIR FILE.hml...
** writes DIR/NAME.hbc for each program that compiles. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode.h"
#include "vm/vm.h"

#ifndef HK_VM_FUZZ_SEEDS

#include "vm/disasm.h"
#include "vm/vm_int.h"

/* Limits of one run. Memory grows with the frame sizes an image declares
** (a verified image may declare millions of slots) times the segments alive
** (one per handler and one per continuation). The VM counts every segment's
** slots against the stack limit (64 per frame of it, at least 65536) and
** charges one reduction per 64 slots it reserves, so with the limits below
** any image runs in bounded time and memory; an image with a frame above
** SMALL_FRAME slots gets the tighter ones. */
enum { FUEL = 100000, BIG_SLICE = 1000000, SMALL_FRAME = 1024 };

static hk_vm_config_t config = {.fuel = FUEL, .fuel_limited = true};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a run did: everything that must not depend on how it was sliced. */
typedef struct outcome {
  hk_run_t state;
  uint64_t out_hash, out_len; /* FNV-1a of everything written, both streams */
  uint64_t reductions;
  char *text; /* failure message, or the result shown; malloc'ed or NULL */
  bool deterministic; /* false once a builtin whose result varies ran */
} outcome_t;

static int capture_output(void *ud, int stream, const char *d, size_t len) {
  outcome_t *o = ud;
  o->out_hash ^= (uint64_t)stream;
  for (size_t i = 0; i < len; i++) o->out_hash = (o->out_hash ^ (uint8_t)d[i]) * 0x100000001b3u;
  o->out_len += len;
  return 0;
}

static int64_t fixed_clock(void *ud) {
  (void)ud;
  return 0;
}

static hk_host_t make_host(outcome_t *o) {
  return (hk_host_t){
    .ud = o,
    .write = capture_output,
    .monotonic_ms = fixed_clock,
    .fs_root = "/nonexistent/hiko-vm-fuzz-root",
  };
}

static void check(bool ok, const char *what) {
  if (ok) return;
  fprintf(stderr, "vm_fuzz: %s\n", what);
  abort();
}

/* Dumps [img], loads the dump, dumps again: both dumps must be equal. */
static void check_round_trip(const hk_image_t *img) {
  void *a = NULL, *b = NULL;
  size_t na, nb;
  if (hk_image_dump(img, &a, &na) != 0) return;
  hk_image_t *again;
  char why[256];
  int rc = hk_image_load(a, na, &again, why, sizeof why);
  if (rc == -ENOMEM) {
    free(a);
    return;
  }
  if (rc != 0) fprintf(stderr, "vm_fuzz: reload rejected: %s\n", why);
  check(rc == 0, "the dump of an accepted image is rejected");
  if (hk_image_dump(again, &b, &nb) == 0) {
    check(na == nb && memcmp(a, b, na) == 0, "dump, load, dump changes the bytes");
    free(b);
  }
  hk_image_free(again);
  free(a);
}

/* Shows [v] of [vm]'s heap (as print would). Returns the text (malloc'ed) or NULL. */
static char *show(hk_vm_t *vm, hk_value_t v) {
  char *text = NULL;
  size_t len;
  if (hk_value_show(vm, v, &text, &len) != 0) return NULL;
  return text;
}

/* Deep-copies a result into a fresh instance (a message or a process
** result) and shows it there: the text must be the same. Continuations are
** refused with -EINVAL. */
static void copy_result(hk_vm_t *vm, const hk_image_t *img, const hk_host_t *host, hk_value_t v,
                        const char *shown) {
  hk_msg_t *m;
  int rc = hk_value_copy_out(vm, v, config.max_heap, &m);
  check(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM, "copy_out: unexpected code");
  if (rc != 0) return;
  hk_vm_t *to;
  if (hk_vm_new(&to, img, host, &config) != 0) {
    hk_msg_free(m);
    return;
  }
  hk_value_t copy;
  if (hk_vm_adopt(to, m, &copy) == 0) {
    char *again = show(to, copy);
    if (shown && again && strcmp(shown, again) != 0)
      fprintf(stderr, "vm_fuzz: shown %s\ncopy shown %s\n", shown, again);
    check(!shown || !again || strcmp(shown, again) == 0, "a deep copy shows differently");
    free(again);
  }
  hk_vm_free(to);
}

/* Builtins whose results vary from run to run (the clock is fixed). */
static bool varies(const hk_image_t *img) {
  for (uint32_t i = 0; i < img->nimports; i++) {
    uint32_t b = img->imports[i];
    if (b == HK_B_epoch || b == HK_B_epoch_ms || b == HK_B_random_bytes) return true;
  }
  return false;
}

/* Runs [vm] (started) in slices of [slice] reductions until it ends; every
** request fails. Returns the final state. */
static hk_run_t run_to_end(hk_vm_t *vm, uint32_t slice) {
  /* Every slice or request uses at least one reduction of the fuel, so the
  ** loop ends well before this bound unless the VM stops counting. */
  hk_run_t st = HK_RUN_YIELD;
  for (uint32_t i = 0; i < 4 * FUEL && (st == HK_RUN_YIELD || st == HK_RUN_REQUEST); i++) {
    st = hk_vm_run(vm, slice);
    if (st == HK_RUN_REQUEST) hk_vm_complete_fail(vm, "%s", "no host in the fuzzer");
  }
  check(st != HK_RUN_YIELD && st != HK_RUN_REQUEST, "the run does not end within its fuel");
  if (st == HK_RUN_FAILED) check(hk_vm_failure(vm)->message != NULL, "failed without a message");
  return st;
}

/* Spawns children as `spawn f` would for the first two globals of [root]
** that hold functions: the globals are exported to the shared store, f is
** deep-copied into a fresh instance that uses them, and f () runs there. */
static void spawn_children(hk_vm_t *root, const hk_image_t *img, const hk_host_t *host) {
  hk_globals_t *g = NULL;
  if (hk_globals_export(root, &g) != 0) {
    hk_globals_free(g);
    return;
  }
  int spawned = 0;
  for (uint32_t i = 0; i < img->nglobals && spawned < 2; i++) {
    hk_value_t f = root->globals[i];
    if (f.tag != HK_T_CLOSURE && f.tag != HK_T_PAP) continue;
    spawned++;
    hk_msg_t *m;
    if (hk_value_copy_out(root, f, config.max_heap, &m) != 0) continue;
    hk_vm_t *child;
    if (hk_vm_new(&child, img, host, &config) != 0) {
      hk_msg_free(m);
      continue;
    }
    hk_value_t fn;
    check(hk_vm_use_globals(child, g) == 0, "a child cannot use its root's globals");
    if (hk_vm_adopt(child, m, &fn) == 0 && hk_vm_start_call(child, fn) == 0) run_to_end(child, 61);
    hk_vm_free(child);
  }
  hk_globals_free(g);
}

/* Runs [img]'s top level in slices of [slice] reductions; requests fail.
** With [children], also spawns children from its globals. */
static void run(const hk_image_t *img, uint32_t slice, bool children, outcome_t *o) {
  *o = (outcome_t){.state = HK_RUN_FAILED, .out_hash = 0xcbf29ce484222325u};
  hk_host_t host = make_host(o);
  hk_vm_t *vm;
  if (hk_vm_new(&vm, img, &host, &config) != 0) return;
  if (hk_vm_start_main(vm) != 0) {
    hk_vm_free(vm);
    return;
  }
  hk_run_t st = run_to_end(vm, slice);
  o->state = st;
  hk_vm_stats_t stats;
  hk_vm_get_stats(vm, &stats);
  o->reductions = stats.reductions;
  if (st == HK_RUN_FAILED) {
    o->text = strdup(hk_vm_failure(vm)->message);
  } else if (st == HK_RUN_DONE) {
    hk_value_t v = hk_vm_result(vm);
    o->text = show(vm, v);
    copy_result(vm, img, &host, v, o->text);
  }
  if (children) { /* their output is not the root's */
    outcome_t theirs = {0};
    hk_host_t host2 = make_host(&theirs);
    spawn_children(vm, img, &host2);
  }
  hk_vm_free(vm);
}

/* Runs [img] in one long slice and in slices of [slice] reductions: a
** process stops at any instruction with all its state saved, and fuel
** accounting is exact (SPEC 6.11), so both runs must agree exactly. */
static void run_twice(const hk_image_t *img, uint32_t slice) {
  outcome_t a, b;
  run(img, BIG_SLICE, true, &a);
  run(img, slice, false, &b);
  if (!varies(img)) {
    bool same = a.state == b.state && a.out_hash == b.out_hash && a.out_len == b.out_len &&
                a.reductions == b.reductions &&
                (a.text && b.text ? strcmp(a.text, b.text) == 0 : a.text == b.text);
    if (!same)
      fprintf(stderr,
              "vm_fuzz: one slice: state %d, %llu reductions, %llu bytes out, \"%s\"\n"
              "vm_fuzz: slices of %u: state %d, %llu reductions, %llu bytes out, \"%s\"\n",
              (int)a.state, (unsigned long long)a.reductions, (unsigned long long)a.out_len,
              a.text ? a.text : "(none)", slice, (int)b.state, (unsigned long long)b.reductions,
              (unsigned long long)b.out_len, b.text ? b.text : "(none)");
    check(same, "the outcome depends on the slice size");
  }
  free(a.text);
  free(b.text);
}

/* The header records the buffer's length (bytes 12..15): mutations that
** insert or erase bytes would almost all stop at that one comparison, so the
** target loads a copy whose recorded length is the real one. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hk_image_t *img;
  char why[256];
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  if (size >= 16 && size <= UINT32_MAX)
    for (int i = 0; i < 4; i++) copy[12 + i] = (uint8_t)(size >> (8 * i));
  int rc = hk_image_load(copy, size, &img, why, sizeof why);
  free(copy);
  check(rc == 0 || rc == -EINVAL || rc == -ENOMEM, "load: unexpected code");
  if (rc != 0) {
    check(rc != -EINVAL || why[0] != '\0', "rejected without a reason");
    return 0;
  }
  check(hk_image_verify(img, why, sizeof why) == 0, "a loaded image fails verification");
  char *listing = NULL;
  if (hk_disasm(img, &listing) == 0) free(listing);
  check_round_trip(img);
  uint64_t frame = 0;
  for (uint32_t i = 0; i < img->nfuncs; i++) {
    uint64_t slots = (uint64_t)img->funcs[i].nlocals + img->funcs[i].maxstack;
    if (slots > frame) frame = slots;
  }
  config.max_heap = frame <= SMALL_FRAME ? 5000 : 64;
  config.max_stack_depth = frame <= SMALL_FRAME ? 1000 : 16;
  run_twice(img, 1 + (uint32_t)(size % 13));
  hk_image_free(img);
  return 0;
}

#else /* HK_VM_FUZZ_SEEDS */

#include "vm/front.h"
#include "vm/opcodes.h"

/* Writes the image of each program to DIR/BASENAME.hbc. With -l N, every
** function gets N more local slots, with -s N a maximum stack N slots
** higher (frames far larger than the compiler makes: their set-up must
** still be charged, SPEC 6.10, and bounded by the stack limit). */
int main(int argc, char **argv) {
  int first = 1;
  uint32_t extra = 0, extra_stack = 0;
  while (argc > first + 1 && (strcmp(argv[first], "-l") == 0 || strcmp(argv[first], "-s") == 0)) {
    uint32_t n = (uint32_t)strtoul(argv[first + 1], NULL, 10);
    if (argv[first][1] == 'l') extra = n;
    else extra_stack = n;
    first += 2;
  }
  if (argc < first + 1) {
    fprintf(stderr, "usage: %s [-l EXTRA_LOCALS] [-s EXTRA_STACK] DIR FILE.hml...\n", argv[0]);
    return 2;
  }
  const char *dir = argv[first];
  int written = 0;
  for (int i = first + 1; i < argc; i++) {
    hk_front_t f;
    hk_front_init(&f);
    hk_load_opts_t opts = {.libdir = NULL, .deny_files = false};
    void *buf = NULL;
    size_t len = 0;
    bool compiled = hk_front_compile_file(&f, argv[i], &opts) == 0 && f.image;
    hk_image_t *img = f.image;
    if (compiled)
      for (uint32_t k = 0; k < img->nfuncs; k++) {
        hk_func_t *fn = &img->funcs[k];
        fn->nlocals += extra;
        fn->maxstack += extra_stack;
        /* A TLOOPR (TLOOPRI) names its function's count of locals: with
        ** more, its general form TLOOP (TLOOPI), which charges the larger
        ** frame's set-up. */
        for (uint32_t at = 0; extra && at < fn->ncode; at += hk_ins_len(fn->code, at, fn->ncode)) {
          uint32_t a = hk_ins_a(fn->code[at]);
          if (hk_ins_op(fn->code[at]) == HK_I_TLOOPR)
            fn->code[at] = hk_ins(HK_I_TLOOP, (a >> 9 & 63u) << 16 | ((1u << (a >> 4 & 31u)) - 1u) << (a & 15u));
          else if (hk_ins_op(fn->code[at]) == HK_I_TLOOPRI) /* likewise TLOOPI */
            fn->code[at] = hk_ins(HK_I_TLOOPI, (a & 63u) | (a >> 6 & 15u) << 12 | (a >> 10 & 63u) << 16);
        }
      }
    if (compiled && hk_image_dump(img, &buf, &len) == 0) {
      const char *base = strrchr(argv[i], '/');
      base = base ? base + 1 : argv[i];
      char path[4096];
      snprintf(path, sizeof path, "%s/%.*s.hbc", dir, (int)strcspn(base, "."), base);
      FILE *o = fopen(path, "wb");
      bool ok = o && fwrite(buf, 1, len, o) == len;
      if (o && fclose(o) != 0) ok = false;
      free(buf);
      if (!ok) {
        fprintf(stderr, "vm_seeds: cannot write %s\n", path);
        hk_front_free(&f);
        return 1;
      }
      written++;
    }
    hk_front_free(&f);
  }
  printf("%d images from %d programs\n", written, argc - first - 1);
  return 0;
}

#endif
