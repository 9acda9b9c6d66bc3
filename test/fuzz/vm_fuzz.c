/* vm_fuzz.c — libFuzzer target for the bytecode loader, the verifier and the
** VM (SPEC §11.4, §14.4, §14.5b): any bytes are rejected as invalid bytecode,
** or load, verify and run in a bounded way (fuel, heap limit, stack depth)
** and end done, failed with a message, or out of fuel. Never a crash, a hang
** or a sanitizer report.
**
** An accepted image is also disassembled, dumped and loaded again (the dump
** of a reload must be the same bytes), and a finished run's result is shown,
** deep-copied into a second instance and shown there, as a message would be.
**
** The host does no I/O: output is dropped, process and I/O requests fail,
** `exit` is not allowed, and the filesystem root does not exist, so every
** filesystem builtin fails instead of touching the disk.
**
** Built twice by run_vm.sh: as the fuzz target, and with -DHK_VM_FUZZ_SEEDS
** as a tool that writes the images of hiko programs (the seed corpus):
**     vm_seeds DIR FILE.hml...   writes DIR/NAME.hbc for each program that compiles */
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

/* Limits of one run. Frames of images above FRAME_SLOTS are not run: a
** verified image may declare frames of millions of slots, which is correct
** but makes every run slow and memory-hungry (memory, not safety). */
enum { FUEL = 100000, SLICE = 997, MAX_HEAP = 5000, MAX_DEPTH = 1000, FRAME_SLOTS = 1024 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int drop_output(void *ud, int stream, const char *d, size_t len) {
  (void)ud;
  (void)stream;
  (void)d;
  (void)len;
  return 0;
}

static const hk_host_t host = {
  .write = drop_output,
  .fs_root = "/nonexistent/hiko-vm-fuzz-root",
};

static const hk_vm_config_t config = {
  .fuel = FUEL, .fuel_limited = true, .max_heap = MAX_HEAP, .max_stack_depth = MAX_DEPTH,
};

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

/* Shows [v] of [vm]'s heap (as print would). */
static void show(hk_vm_t *vm, hk_value_t v) {
  char *text = NULL;
  size_t len;
  if (hk_value_show(vm, v, &text, &len) == 0) free(text);
}

/* Deep-copies a result into a fresh instance (a message or a process
** result) and shows it there. Continuations are refused with -EINVAL. */
static void copy_result(hk_vm_t *vm, const hk_image_t *img, hk_value_t v) {
  hk_msg_t *m;
  int rc = hk_value_copy_out(vm, v, MAX_HEAP, &m);
  check(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM, "copy_out: unexpected code");
  if (rc != 0) return;
  hk_vm_t *to;
  if (hk_vm_new(&to, img, &host, &config) != 0) {
    hk_msg_free(m);
    return;
  }
  hk_value_t copy;
  if (hk_vm_adopt(to, m, &copy) == 0) show(to, copy);
  hk_vm_free(to);
}

static void run(const hk_image_t *img) {
  hk_vm_t *vm;
  if (hk_vm_new(&vm, img, &host, &config) != 0) return;
  if (hk_vm_start_main(vm) != 0) {
    hk_vm_free(vm);
    return;
  }
  /* Every slice or request uses at least one reduction of the fuel, so the
  ** loop ends well before this bound unless the VM stops counting. */
  hk_run_t st = HK_RUN_YIELD;
  for (uint32_t i = 0; i < 4 * FUEL && (st == HK_RUN_YIELD || st == HK_RUN_REQUEST); i++) {
    st = hk_vm_run(vm, SLICE);
    if (st == HK_RUN_REQUEST) hk_vm_complete_fail(vm, "%s", "no host in the fuzzer");
  }
  check(st != HK_RUN_YIELD && st != HK_RUN_REQUEST, "the run does not end within its fuel");
  if (st == HK_RUN_FAILED) {
    const hk_failure_t *f = hk_vm_failure(vm);
    check(f && f->message, "failed without a message");
  } else if (st == HK_RUN_DONE) {
    hk_value_t v = hk_vm_result(vm);
    show(vm, v);
    copy_result(vm, img, v);
  }
  hk_vm_free(vm);
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
  bool small = true;
  for (uint32_t i = 0; i < img->nfuncs; i++)
    if ((uint64_t)img->funcs[i].nlocals + img->funcs[i].maxstack > FRAME_SLOTS) small = false;
  if (small) run(img);
  hk_image_free(img);
  return 0;
}

#else /* HK_VM_FUZZ_SEEDS */

#include "vm/front.h"

/* Writes the image of each program to DIR/BASENAME.hbc. */
int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR FILE.hml...\n", argv[0]);
    return 2;
  }
  int written = 0;
  for (int i = 2; i < argc; i++) {
    hk_front_t f;
    hk_front_init(&f);
    hk_load_opts_t opts = {.libdir = NULL, .deny_files = false};
    void *buf = NULL;
    size_t len = 0;
    if (hk_front_compile_file(&f, argv[i], &opts) == 0 && f.image &&
        hk_image_dump(f.image, &buf, &len) == 0) {
      const char *base = strrchr(argv[i], '/');
      base = base ? base + 1 : argv[i];
      char path[4096];
      snprintf(path, sizeof path, "%s/%.*s.hbc", argv[1], (int)strcspn(base, "."), base);
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
  printf("%d seed images from %d programs\n", written, argc - 2);
  return 0;
}

#endif
