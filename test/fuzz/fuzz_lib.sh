# fuzz_lib.sh — sourced by run_front.sh and run_vm.sh: builds every vm source
# (as vm/meson.build lists them) and base/ (which vm uses) with clang, libFuzzer instrumentation, ASan
# and UBSan into $out/libvm.a, so only what a target needs is linked, and
# provides fuzz_link TARGET (test/fuzz/TARGET.c -> $out/TARGET).
# Needs: src, out, cc. Sets: flags. Exits 1 on a build failure, 77 when the
# libFuzzer runtime is missing.

files="$src/vm/arena.c $src/vm/builtins_table.c $(ls "$src"/base/*.c)"
for part in front check core builtins compile; do
  list="$src/vm/sources-$part.txt"
  [ -f "$list" ] || continue
  # shellcheck disable=SC2013
  for f in $(grep -v '^ *#' "$list"); do files="$files $src/vm/$f"; done
done

mkdir -p "$out/inc"
cat > "$out/inc/hiko_config.h" <<CONF
#define HIKO_VERSION "fuzz"
#define HIKO_SOURCE_LIB_DIR "$src"
#define HIKO_INSTALL_LIB_DIR "/nonexistent"
CONF

flags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -I$src -I$src/include -I$out/inc"
rm -rf "$out/obj" && mkdir -p "$out/obj"
: > "$out/build.log"
for f in $files; do
  # shellcheck disable=SC2086
  "$cc" $flags -c "$f" -o "$out/obj/$(basename "$f" .c).o" >> "$out/build.log" 2>&1 || {
    echo "compiling $f for fuzzing failed:"; cat "$out/build.log"; exit 1; }
done
rm -f "$out/libvm.a"
ar rcs "$out/libvm.a" "$out"/obj/*.o || exit 1

fuzz_link() {
  # shellcheck disable=SC2086
  if ! "$cc" $flags -fsanitize=fuzzer "$src/test/fuzz/$1.c" "$out/libvm.a" -lm \
      -o "$out/$1" >> "$out/build.log" 2>&1; then
    if grep -q "libclang_rt.fuzzer" "$out/build.log"; then
      echo "libFuzzer runtime missing: skipping"; cat "$out/build.log"; exit 77
    fi
    echo "linking the fuzz target failed:"; cat "$out/build.log"; exit 1
  fi
}
