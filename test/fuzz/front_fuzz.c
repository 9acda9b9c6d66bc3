/* front_fuzz.c — libFuzzer target for the front end (SPEC §14.2, §14.5a):
** any bytes become diagnostics or a checked program, never a crash, a hang
** or a sanitizer report. `use` is denied (no file I/O while fuzzing).
** Built and run by run_front.sh with clang -fsanitize=fuzzer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vm/front.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hk_front_t f;
  hk_front_init(&f);
  hk_load_opts_t opts = { .libdir = "/nonexistent", .deny_files = true };
  int rc = hk_front_compile_string(&f, "fuzz.hml", (const char *)data, size, &opts);
  /* Every failure must come with a diagnostic; render them all. */
  if (rc == -1 && f.diags.errors == 0) abort();
  char *text = NULL;
  if (hk_diags_render(&f.diags, &f.sources, &text) == 0) free(text);
  hk_front_free(&f);
  return 0;
}
