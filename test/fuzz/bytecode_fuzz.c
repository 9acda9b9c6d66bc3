/* bytecode_fuzz.c — libFuzzer target for the loader, the verifier and the VM
** (SPEC §11.4, §14.5b): any bytes are rejected as invalid bytecode, or load
** and run within bounded fuel, heap and stack, never crashing, hanging or
** tripping a sanitizer. Host requests (process and I/O builtins) fail.
** Built and run by run_bytecode.sh; seeds are dumps of the language tests. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vm/bytecode.h"
#include "vm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int quiet(void *ud, int stream, const char *d, size_t len) {
  (void)ud; (void)stream; (void)d; (void)len;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hk_image_t *img;
  char why[256];
  if (hk_image_load(data, size, &img, why, sizeof why) != 0) return 0;
  /* Run only images with modest frames: a verified image may declare frames
  ** of millions of slots, which is correct but slow and memory-hungry. */
  for (uint32_t i = 0; i < img->nfuncs; i++)
    if (img->funcs[i].nlocals + img->funcs[i].maxstack > 4096) {
      hk_image_free(img);
      return 0;
    }
  hk_host_t host = {.write = quiet};
  hk_vm_config_t cfg = {.fuel = 50000, .fuel_limited = true, .max_heap = 20000, .max_stack_depth = 500};
  hk_vm_t *vm;
  if (hk_vm_new(&vm, img, &host, &cfg) == 0) {
    if (hk_vm_start_main(vm) == 0) {
      for (int i = 0; i < 10000; i++) {
        hk_run_t st = hk_vm_run(vm, 500);
        if (st == HK_RUN_REQUEST) hk_vm_complete_fail(vm, "not in the fuzzer");
        else if (st != HK_RUN_YIELD) break;
      }
    }
    hk_vm_free(vm);
  }
  hk_image_free(img);
  return 0;
}
