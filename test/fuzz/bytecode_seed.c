/* bytecode_seed.c — writes the serialized image of each hiko program given
** on the command line to DIR/N.hbc (seeds for bytecode_fuzz.c).
** Usage: bytecode_seed DIR FILE.hml... */
#include <stdio.h>
#include <stdlib.h>

#include "vm/bytecode.h"
#include "vm/front.h"

int main(int argc, char **argv) {
  int n = 0;
  for (int i = 2; i < argc; i++) {
    hk_front_t f;
    hk_front_init(&f);
    hk_load_opts_t opts = {.libdir = "/nonexistent", .deny_files = false};
    if (hk_front_compile_file(&f, argv[i], &opts) == 0 && f.image) {
      void *buf;
      size_t len;
      if (hk_image_dump(f.image, &buf, &len) == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%d.hbc", argv[1], n++);
        FILE *o = fopen(path, "wb");
        if (o) {
          fwrite(buf, 1, len, o);
          fclose(o);
        }
        free(buf);
      }
    }
    hk_front_free(&f);
  }
  printf("%d seeds\n", n);
  return 0;
}
